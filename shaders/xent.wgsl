// Fused cross-entropy over integer class targets (rust/ops/loss.rs has the maths and
// PyTorch's semantics): per sample the logsumexp, the picked term, the label-smoothing
// term and the class weight in one pass over the logits, and a one-pass gradient
// `g * (A * softmax - B)`.
//
// Logits are dense (outer, C, inner) from element 0; sample i = n * inner + j reads classes
// (n * C + k) * inner + j. `cls` holds one class per sample, -1 where it is ignored;
// `weight` the C class weights (all 1 without `weight=`).
// md: [rows, C, inner, smoothing (f32 bits), w_sum (f32 bits),
//      (backward) g_stride, scale (f32 bits)]
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> logits: array<f32>;
@group(0) @binding(3) var<storage, read> cls: array<i32>;
@group(0) @binding(4) var<storage, read> weight: array<f32>;
// Written by `forward`, read by `backward`.
@group(0) @binding(5) var<storage, read_write> lse: array<f32>;
@group(0) @binding(6) var<storage, read> upstream: array<f32>;

var<workgroup> part_a: array<f32, 256>;
var<workgroup> part_b: array<f32, 256>;

fn at(row: u32, k: u32) -> u32 {
    let c = md[1];
    let inner = md[2];
    return ((row / inner) * c + k) * inner + row % inner;
}

// One workgroup per sample: the maximum, then sum(exp(x - max)) and sum(w * x) as tree
// reductions in workgroup memory. Writes the sample's loss (before the reduction's
// divisor) and its logsumexp.
@compute @workgroup_size(256)
fn forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
           @builtin(num_workgroups) nwg: vec3<u32>) {
    // Workgroup-uniform exit, so the barriers below stay in uniform control flow.
    let row = wid.y * nwg.x + wid.x;
    if (row >= md[0]) {
        return;
    }
    let c = md[1];
    var m = bitcast<f32>(0xff7fffffu); // -FLT_MAX: literals that large are not portable
    for (var k = lid; k < c; k = k + WG) {
        m = max(m, logits[at(row, k)]);
    }
    part_a[lid] = m;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s = s / 2u) {
        if (lid < s) {
            part_a[lid] = max(part_a[lid], part_a[lid + s]);
        }
        workgroupBarrier();
    }
    m = part_a[0];
    workgroupBarrier();
    var e = 0.0;
    var wx = 0.0;
    for (var k = lid; k < c; k = k + WG) {
        let x = logits[at(row, k)];
        e = e + exp(x - m);
        wx = wx + weight[k] * x;
    }
    part_a[lid] = e;
    part_b[lid] = wx;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s = s / 2u) {
        if (lid < s) {
            part_a[lid] = part_a[lid] + part_a[lid + s];
            part_b[lid] = part_b[lid] + part_b[lid + s];
        }
        workgroupBarrier();
    }
    if (lid == 0u) {
        let lse_row = m + log(part_a[0]);
        lse[row] = lse_row;
        let y = cls[row];
        var loss = 0.0;
        if (y >= 0) {
            let eps = bitcast<f32>(md[3]);
            let wy = weight[u32(y)];
            loss = (1.0 - eps) * wy * (lse_row - logits[at(row, u32(y))]);
            if (eps > 0.0) {
                loss = loss + eps / f32(c) * (lse_row * bitcast<f32>(md[4]) - part_b[0]);
            }
        }
        out[row] = loss;
    }
}

// One invocation per logit: g_i * (A_i * p_ik - B_ik) with
// A_i = (1-e) w_y + e/C * W and B_ik = (1-e) w_y [k == y] + e/C * w_k (0 if ignored).
@compute @workgroup_size(256)
fn backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_id(gid, nwg);
    let c = md[1];
    let inner = md[2];
    if (i >= md[0] * c) {
        return;
    }
    let n = i / (c * inner);
    let k = (i / inner) % c;
    let row = n * inner + i % inner;
    let y = cls[row];
    if (y < 0) {
        out[i] = 0.0;
        return;
    }
    let eps = bitcast<f32>(md[3]);
    let wy = weight[u32(y)];
    let share = eps / f32(c);
    let a = (1.0 - eps) * wy + share * bitcast<f32>(md[4]);
    var b = share * weight[k];
    if (u32(y) == k) {
        b = b + (1.0 - eps) * wy;
    }
    let g = upstream[row * md[5]] * bitcast<f32>(md[6]);
    out[i] = g * (a * exp(logits[i] - lse[row]) - b);
}
