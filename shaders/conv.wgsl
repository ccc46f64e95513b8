// Convolution as matrix products: `unfold` (im2col) copies each receptive field of the
// input into a column matrix that the matmul kernel multiplies by the weights; `fold`
// (col2im) is its adjoint, written as a gather: each input element sums the column
// entries that read it, so the result is deterministic and needs no atomics.
// 1-D and 2-D convolutions arrive as 3-D ones with leading spatial sizes of 1.
// Images are contiguous (n, c, d, h, w) from md[21]; columns are addressed by the
// strides md[23..27] of their (n, c, k, l) axes, with k the kernel tap (kd, kh, kw) and
// l the output position (od, oh, ow), so the caller picks the layout its product needs.
// md: [count, nb, C, ID, IH, IW, OD, OH, OW, KD, KH, KW, SD, SH, SW, PD, PH, PW,
//      DD, DH, DW, image_offset, cols_offset, sN, sC, sK, sL]
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<storage, read> src: array<f32>;

fn taps() -> u32 {
    return md[9] * md[10] * md[11];
}

fn positions() -> u32 {
    return md[6] * md[7] * md[8];
}

fn col_at(n: u32, c: u32, k: u32, l: u32) -> u32 {
    return md[22] + n * md[23] + c * md[24] + k * md[25] + l * md[26];
}

// The input coordinate read by output position `o` through tap `k` along one axis
// (axis 0, 1, 2 = D, H, W), or -1 when it falls into the padding.
fn source_coord(axis: u32, o: u32, k: u32) -> i32 {
    let x = i32(o * md[12u + axis] + k * md[18u + axis]) - i32(md[15u + axis]);
    if (x < 0 || x >= i32(md[3u + axis])) {
        return -1;
    }
    return x;
}

// One invocation per column entry (n, c, k, l).
@compute @workgroup_size(256)
fn unfold(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_id(gid, nwg);
    if (i >= md[0]) {
        return;
    }
    let nl = positions();
    let nk = taps();
    let l = i % nl;
    let k = (i / nl) % nk;
    let nc = i / (nl * nk);
    let c = nc % md[2];
    let n = nc / md[2];
    let ow = l % md[8];
    let oh = (l / md[8]) % md[7];
    let od = l / (md[8] * md[7]);
    let kw = k % md[11];
    let kh = (k / md[11]) % md[10];
    let kd = k / (md[11] * md[10]);
    let d = source_coord(0u, od, kd);
    let h = source_coord(1u, oh, kh);
    let w = source_coord(2u, ow, kw);
    var v = 0.0;
    if (d >= 0 && h >= 0 && w >= 0) {
        let at = ((nc * md[3] + u32(d)) * md[4] + u32(h)) * md[5] + u32(w);
        v = src[md[21] + at];
    }
    dst[col_at(n, c, k, l)] = v;
}

// The output position along one axis that reads input coordinate `x` through tap `k`,
// or -1 when none does (off the stride grid, or outside the output).
fn target_coord(axis: u32, x: u32, k: u32) -> i32 {
    let t = i32(x + md[15u + axis]) - i32(k * md[18u + axis]);
    let s = i32(md[12u + axis]);
    if (t < 0 || t % s != 0 || t / s >= i32(md[6u + axis])) {
        return -1;
    }
    return t / s;
}

// One invocation per image element (n, c, d, h, w): the sum over the kernel taps.
@compute @workgroup_size(256)
fn fold(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_id(gid, nwg);
    if (i >= md[0]) {
        return;
    }
    let w = i % md[5];
    let h = (i / md[5]) % md[4];
    let d = (i / (md[5] * md[4])) % md[3];
    let nc = i / (md[5] * md[4] * md[3]);
    let c = nc % md[2];
    let n = nc / md[2];
    var acc = 0.0;
    for (var kd = 0u; kd < md[9]; kd = kd + 1u) {
        let od = target_coord(0u, d, kd);
        if (od < 0) {
            continue;
        }
        for (var kh = 0u; kh < md[10]; kh = kh + 1u) {
            let oh = target_coord(1u, h, kh);
            if (oh < 0) {
                continue;
            }
            for (var kw = 0u; kw < md[11]; kw = kw + 1u) {
                let ow = target_coord(2u, w, kw);
                if (ow < 0) {
                    continue;
                }
                let k = (kd * md[10] + kh) * md[11] + kw;
                let l = (u32(od) * md[7] + u32(oh)) * md[8] + u32(ow);
                acc = acc + src[col_at(n, c, k, l)];
            }
        }
    }
    dst[md[21] + i] = acc;
}
