// Average pooling forward, and the backward passes of average and max pooling, float32.
// The backward passes are gathers: each input element visits the windows that may
// contain it and sums their contributions in a fixed order, so results are
// deterministic and no atomics are needed.
// Planes are contiguous; 1-D and 2-D pooling arrive with leading axes of size 1.
// md: [count, ID, IH, IW, OD, OH, OW, src_offset, idx_offset, divisor_mode,
//      divisor_bits, win_at[3], range_at[3], tables...]
// win_at[a]: 4 words per output position along axis a (first, count, step, extent);
// range_at[a]: 2 words per input position along axis a, the half-open range of output
// positions whose windows may contain it. divisor_mode: 0 the fixed divisor_bits (f32),
// 1 the product of extents (count_include_pad), 2 the product of counts.
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<storage, read> src: array<f32>;
@group(0) @binding(3) var<storage, read> idx: array<i32>;

fn win(a: u32, o: u32, f: u32) -> u32 {
    return md[md[11u + a] + 4u * o + f];
}

fn range_lo(a: u32, x: u32) -> u32 {
    return md[md[14u + a] + 2u * x];
}

fn range_hi(a: u32, x: u32) -> u32 {
    return md[md[14u + a] + 2u * x + 1u];
}

fn divisor(od: u32, oh: u32, ow: u32) -> f32 {
    let mode = md[9];
    if (mode == 0u) {
        return bitcast<f32>(md[10]);
    }
    let f = select(1u, 3u, mode == 1u);
    return f32(win(0u, od, f) * win(1u, oh, f) * win(2u, ow, f));
}

// Whether window o along axis a reads input coordinate x.
fn covers(a: u32, o: u32, x: u32) -> bool {
    let first = win(a, o, 0u);
    if (x < first) {
        return false;
    }
    let step = win(a, o, 2u);
    return (x - first) % step == 0u && (x - first) / step < win(a, o, 1u);
}

@compute @workgroup_size(256)
fn avg_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_id(gid, nwg);
    if (i >= md[0]) {
        return;
    }
    let ow = i % md[6];
    let oh = (i / md[6]) % md[5];
    let od = (i / (md[6] * md[5])) % md[4];
    let b = i / (md[6] * md[5] * md[4]);
    let base = md[7] + b * md[1] * md[2] * md[3];
    let nd = win(0u, od, 1u);
    let nh = win(1u, oh, 1u);
    let nw = win(2u, ow, 1u);
    if (nd == 0u || nh == 0u || nw == 0u) {
        dst[i] = 0.0;
        return;
    }
    var sum = 0.0;
    for (var jd = 0u; jd < nd; jd = jd + 1u) {
        let d = win(0u, od, 0u) + jd * win(0u, od, 2u);
        for (var jh = 0u; jh < nh; jh = jh + 1u) {
            let h = win(1u, oh, 0u) + jh * win(1u, oh, 2u);
            for (var jw = 0u; jw < nw; jw = jw + 1u) {
                let w = win(2u, ow, 0u) + jw * win(2u, ow, 2u);
                sum = sum + src[base + (d * md[2] + h) * md[3] + w];
            }
        }
    }
    dst[i] = sum / divisor(od, oh, ow);
}

// Input element (b, d, h, w) of the gradient: the sum over the windows that read it of
// the output gradient divided as in the forward pass.
@compute @workgroup_size(256)
fn avg_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_id(gid, nwg);
    if (i >= md[0]) {
        return;
    }
    let w = i % md[3];
    let h = (i / md[3]) % md[2];
    let d = (i / (md[3] * md[2])) % md[1];
    let b = i / (md[3] * md[2] * md[1]);
    let base = md[7] + b * md[4] * md[5] * md[6];
    var acc = 0.0;
    for (var od = range_lo(0u, d); od < range_hi(0u, d); od = od + 1u) {
        if (!covers(0u, od, d)) {
            continue;
        }
        for (var oh = range_lo(1u, h); oh < range_hi(1u, h); oh = oh + 1u) {
            if (!covers(1u, oh, h)) {
                continue;
            }
            for (var ow = range_lo(2u, w); ow < range_hi(2u, w); ow = ow + 1u) {
                if (!covers(2u, ow, w)) {
                    continue;
                }
                acc = acc + src[base + (od * md[5] + oh) * md[6] + ow] / divisor(od, oh, ow);
            }
        }
    }
    dst[i] = acc;
}

// Input element (b, pos) of the gradient: the sum of the output gradients whose index
// names pos. Only outputs in the ranges are visited (all of them when the caller does
// not know the windows); the index test alone decides, so any valid indices work.
@compute @workgroup_size(256)
fn max_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_id(gid, nwg);
    if (i >= md[0]) {
        return;
    }
    let plane = md[1] * md[2] * md[3];
    let pos = i % plane;
    let w = pos % md[3];
    let h = (pos / md[3]) % md[2];
    let d = pos / (md[3] * md[2]);
    let b = i / plane;
    let out_base = b * md[4] * md[5] * md[6];
    var acc = 0.0;
    for (var od = range_lo(0u, d); od < range_hi(0u, d); od = od + 1u) {
        for (var oh = range_lo(1u, h); oh < range_hi(1u, h); oh = oh + 1u) {
            for (var ow = range_lo(2u, w); ow < range_hi(2u, w); ow = ow + 1u) {
                let o = out_base + (od * md[5] + oh) * md[6] + ow;
                if (idx[md[8] + o] == i32(pos)) {
                    acc = acc + src[md[7] + o];
                }
            }
        }
    }
    dst[i] = acc;
}
