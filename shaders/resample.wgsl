// Interpolation (F.interpolate) of B planes of up to three spatial axes (D, H, W; the
// missing leading axes have size 1), as gathers from per-axis tables that the host
// computes exactly as the CPU kernels do (rust/cpu/resample.rs). One invocation per
// output element forward, per input element backward: the backward gathers the
// gradients of the outputs that read each input element (their range along each axis
// is a table too), so it is deterministic and needs no atomics.
//
// md: [planes, in_d, in_h, in_w, out_d, out_h, out_w, two_d, two_h, two_w,
//      tap_at[3], range_at[3], ...tables]
// nearest: md[tap_at[a] + o] = the source index of output o along axis a.
// linear taps: md[tap_at[a] + 4 o ..] = (i0, i1, bits of l0, bits of l1); an axis with
//   two == 0 reads tap 0 with weight 1.
// ranges (backward): md[range_at[a] + 2 i ..] = [first, last + 1) of the outputs whose
//   taps along a touch input i.
@group(0) @binding(1) var<storage, read_write> dst: array<u32>;
@group(0) @binding(2) var<storage, read> src: array<u32>;

fn tap_i(a: u32, o: u32, t: u32) -> u32 {
    return md[md[10u + a] + 4u * o + t];
}

fn tap_l(a: u32, o: u32, t: u32) -> f32 {
    return bitcast<f32>(md[md[10u + a] + 4u * o + 2u + t]);
}

// The weight with which output o along axis a reads input i (0 when it does not).
fn weight(a: u32, o: u32, i: u32) -> f32 {
    if (md[7u + a] == 0u) {
        return select(0.0, 1.0, tap_i(a, o, 0u) == i);
    }
    var w = 0.0;
    if (tap_i(a, o, 0u) == i) {
        w = w + tap_l(a, o, 0u);
    }
    if (tap_i(a, o, 1u) == i) {
        w = w + tap_l(a, o, 1u);
    }
    return w;
}

// Nearest modes: a copy of 4-byte words (any GPU dtype).
@compute @workgroup_size(256)
fn nearest(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = linear_id(gid, nwg);
    let od = md[4];
    let oh = md[5];
    let ow = md[6];
    let plane_out = od * oh * ow;
    if (e >= md[0] * plane_out) {
        return;
    }
    let b = e / plane_out;
    let w = e % ow;
    let h = (e / ow) % oh;
    let d = (e / (ow * oh)) % od;
    let sd = md[md[10u] + d];
    let sh = md[md[11u] + h];
    let sw = md[md[12u] + w];
    dst[e] = src[((b * md[1] + sd) * md[2] + sh) * md[3] + sw];
}

// Linear modes (float32), summed outermost axis first as the CPU does.
@compute @workgroup_size(256)
fn linear(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = linear_id(gid, nwg);
    let od = md[4];
    let oh = md[5];
    let ow = md[6];
    let plane_out = od * oh * ow;
    if (e >= md[0] * plane_out) {
        return;
    }
    let b = e / plane_out;
    let w = e % ow;
    let h = (e / ow) % oh;
    let d = (e / (ow * oh)) % od;
    let ih = md[2];
    let iw = md[3];
    let plane = b * md[1] * ih * iw;
    let nd = select(1u, 2u, md[7] != 0u);
    let nh = select(1u, 2u, md[8] != 0u);
    let two_w = md[9] != 0u;
    var acc_d = 0.0;
    for (var a = 0u; a < nd; a = a + 1u) {
        var acc_h = 0.0;
        for (var c = 0u; c < nh; c = c + 1u) {
            let line = plane + (tap_i(0u, d, a) * ih + tap_i(1u, h, c)) * iw;
            var v = bitcast<f32>(src[line + tap_i(2u, w, 0u)]);
            if (two_w) {
                v = v * tap_l(2u, w, 0u) + bitcast<f32>(src[line + tap_i(2u, w, 1u)]) * tap_l(2u, w, 1u);
            }
            if (nh == 2u) {
                acc_h = acc_h + v * tap_l(1u, h, c);
            } else {
                acc_h = v;
            }
        }
        if (nd == 2u) {
            acc_d = acc_d + acc_h * tap_l(0u, d, a);
        } else {
            acc_d = acc_h;
        }
    }
    dst[e] = bitcast<u32>(acc_d);
}

// Backward of both modes (float32): dst is the input's gradient, src the output's.
@compute @workgroup_size(256)
fn backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = linear_id(gid, nwg);
    let id = md[1];
    let ih = md[2];
    let iw = md[3];
    let plane_in = id * ih * iw;
    if (e >= md[0] * plane_in) {
        return;
    }
    let b = e / plane_in;
    let x = e % iw;
    let y = (e / iw) % ih;
    let z = (e / (iw * ih)) % id;
    let oh = md[5];
    let ow = md[6];
    let plane = b * md[4] * oh * ow;
    var acc = 0.0;
    for (var d = md[md[13u] + 2u * z]; d < md[md[13u] + 2u * z + 1u]; d = d + 1u) {
        let wd = weight(0u, d, z);
        for (var h = md[md[14u] + 2u * y]; h < md[md[14u] + 2u * y + 1u]; h = h + 1u) {
            let wh = wd * weight(1u, h, y);
            for (var w = md[md[15u] + 2u * x]; w < md[md[15u] + 2u * x + 1u]; w = w + 1u) {
                acc = acc + bitcast<f32>(src[plane + (d * oh + h) * ow + w]) * (wh * weight(2u, w, x));
            }
        }
    }
    dst[e] = bitcast<u32>(acc);
}
