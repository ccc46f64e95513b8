// Fused batch normalisation over a float32 (N, C, *) input, dense from element x_off:
// element (n, c, i) sits at x_off + (n * C + c) * inner + i. The GPU twin of
// rust/ops/norm.rs (which has the maths); statistics are two-pass tree reductions
// (mean, then the mean squared deviation), one workgroup per channel.
//
// `stat` holds 3C floats: mean, invstd = 1 / sqrt(var + eps), biased var. `aff` holds
// 2C: weight (ones without one), bias (zeros without one).
// Each entry point uses a prefix of the bindings (the launcher binds 1..k in order):
//   stats      dst = stat,          src = x
//   eval_stats dst = stat,          src = running mean, stat = running var
//   running    dst = running stat,  src = stat
//   normalize  dst = y,             src = x, stat, aff
//   backward   dst = grad x,        src = x, stat, aff, gy, sums = (grad w, grad b)
// md: [outer, C, inner, x_off, eps (f32 bits), gy_off, a_off, b_off, momentum (f32 bits),
//      factor (f32 bits), from]
// (`running`: dst[a_off + c] blends in factor * src[from + c]; `eval_stats`: running
// mean at src[a_off..], running var at stat[b_off..].)
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<storage, read> src: array<f32>;
@group(0) @binding(3) var<storage, read> stat: array<f32>;
@group(0) @binding(4) var<storage, read> aff: array<f32>;
@group(0) @binding(5) var<storage, read> gy: array<f32>;
@group(0) @binding(6) var<storage, read_write> sums: array<f32>;

var<workgroup> part_a: array<f32, 256>;
var<workgroup> part_b: array<f32, 256>;

// Storage index of the t-th value (of outer * inner) of channel c.
fn at(c: u32, t: u32) -> u32 {
    let inner = md[2];
    return md[3] + ((t / inner) * md[1] + c) * inner + t % inner;
}

// Tree sums of part_a and part_b; every invocation returns the totals.
fn reduce2(a: f32, b: f32, lid: u32) -> vec2<f32> {
    part_a[lid] = a;
    part_b[lid] = b;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s = s / 2u) {
        if (lid < s) {
            part_a[lid] = part_a[lid] + part_a[lid + s];
            part_b[lid] = part_b[lid] + part_b[lid + s];
        }
        workgroupBarrier();
    }
    let r = vec2<f32>(part_a[0], part_b[0]);
    workgroupBarrier();
    return r;
}

// Each invocation sums count / 256 values (tens of thousands for a big batch). One
// running float32 sum would grow far beyond its addends and drift by ~1e-5 relative
// (the CPU sums in float64), so the loops below sum blocks of BLOCK values and add the
// block sums. (Kahan summation would be simpler, but drivers may simplify it away:
// WGSL float maths is not guaranteed to be evaluated exactly as written.)
const BLOCK: u32 = 256u;

// The end of the block of values from t: BLOCK steps of WG, at most `count`.
fn block_end(t: u32, count: u32) -> u32 {
    return min(count, t + BLOCK * WG);
}

fn channel_of(wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return wid.y * nwg.x + wid.x;
}

// One workgroup per channel: mean, then the biased variance about it.
@compute @workgroup_size(256)
fn stats(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
         @builtin(num_workgroups) nwg: vec3<u32>) {
    let c = channel_of(wid, nwg);
    let channels = md[1];
    if (c >= channels) {
        return;
    }
    let count = md[0] * md[2];
    let m = f32(count);
    var acc = 0.0;
    for (var t = lid; t < count; ) {
        var block = 0.0;
        for (let end = block_end(t, count); t < end; t = t + WG) {
            block = block + src[at(c, t)];
        }
        acc = acc + block;
    }
    let mean = reduce2(acc, 0.0, lid).x / m;
    acc = 0.0;
    for (var t = lid; t < count; ) {
        var block = 0.0;
        for (let end = block_end(t, count); t < end; t = t + WG) {
            let d = src[at(c, t)] - mean;
            block = block + d * d;
        }
        acc = acc + block;
    }
    let v = reduce2(acc, 0.0, lid).x / m;
    if (lid == 0u) {
        dst[c] = mean;
        dst[channels + c] = 1.0 / sqrt(v + bitcast<f32>(md[4]));
        dst[2u * channels + c] = v;
    }
}

// Eval mode: the statistics are the running estimates.
@compute @workgroup_size(256)
fn eval_stats(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let c = linear_id(gid, nwg);
    let channels = md[1];
    if (c >= channels) {
        return;
    }
    let v = stat[md[7] + c];
    dst[c] = src[md[6] + c];
    dst[channels + c] = 1.0 / sqrt(v + bitcast<f32>(md[4]));
    dst[2u * channels + c] = v;
}

// r = (1 - momentum) * r + momentum * factor * batch statistic, in place.
@compute @workgroup_size(256)
fn running(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let c = linear_id(gid, nwg);
    if (c >= md[1]) {
        return;
    }
    let momentum = bitcast<f32>(md[8]);
    let o = md[6] + c;
    dst[o] = (1.0 - momentum) * dst[o] + momentum * (bitcast<f32>(md[9]) * src[md[10] + c]);
}

// y = (x - mean) * invstd * w + b, one invocation per element; y is dense from 0.
@compute @workgroup_size(256)
fn normalize(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_id(gid, nwg);
    let channels = md[1];
    let inner = md[2];
    if (i >= md[0] * channels * inner) {
        return;
    }
    let c = (i / inner) % channels;
    dst[i] = (src[md[3] + i] - stat[c]) * (stat[channels + c] * aff[c]) + aff[channels + c];
}

// The training gradient, one workgroup per channel: gb = sum gy, gw = sum gy * xhat,
// then gx = w * invstd / M * (M * gy - gb - xhat * gw) for the channel's elements.
@compute @workgroup_size(256)
fn backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
            @builtin(num_workgroups) nwg: vec3<u32>) {
    let c = channel_of(wid, nwg);
    let channels = md[1];
    if (c >= channels) {
        return;
    }
    let count = md[0] * md[2];
    let m = f32(count);
    let mean = stat[c];
    let invstd = stat[channels + c];
    let x_off = md[3];
    let g_off = md[5];
    var gb = 0.0;
    var gw = 0.0;
    for (var t = lid; t < count; ) {
        var block = vec2<f32>(0.0, 0.0);
        for (let end = block_end(t, count); t < end; t = t + WG) {
            let k = at(c, t) - x_off;
            let g = gy[g_off + k];
            block = block + vec2<f32>(g, g * (src[x_off + k] - mean) * invstd);
        }
        gb = gb + block.x;
        gw = gw + block.y;
    }
    let tot = reduce2(gb, gw, lid);
    if (lid == 0u) {
        sums[c] = tot.y;
        sums[channels + c] = tot.x;
    }
    let k1 = aff[c] * invstd / m;
    for (var t = lid; t < count; t = t + WG) {
        let k = at(c, t) - x_off;
        let xhat = (src[x_off + k] - mean) * invstd;
        dst[k] = k1 * (m * gy[g_off + k] - tot.x - xhat * tot.y);
    }
}
