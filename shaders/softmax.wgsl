// Softmax / log-softmax of every row at once: one workgroup per row, the row read
// through its stride (any axis of any view). Three passes over the row: a tree max in
// workgroup memory, a tree sum of exp(x - max), then the normalised write. float32 only.
// md: [rows, row_len, nk, in_offset, log, in_stride, out_stride,
//      kept_shape[nk], kept_in_strides[nk], kept_out_strides[nk]]
// The output's row r starts at strided_offset(r) over kept_out_strides (offset 0).
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<storage, read> src: array<f32>;

var<workgroup> partial: array<f32, 256>;

// max that keeps NaN (WGSL's max may drop it), so a row with a NaN comes out all NaN
// as on the CPU. NaN and inf are computed, never constants: Tint rejects those.
fn max_nan(p: f32, q: f32) -> f32 {
    if (f32_is_nan(p) || f32_is_nan(q)) {
        return p + q;
    }
    return max(p, q);
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
        @builtin(num_workgroups) nwg: vec3<u32>) {
    // Workgroup-uniform early return: the barriers below stay in uniform control flow.
    let row = wid.y * nwg.x + wid.x;
    if (row >= md[0]) {
        return;
    }
    let n = md[1];
    let nk = md[2];
    let in_base = strided_offset(row, nk, 7u, 7u + nk, md[3]);
    let out_base = strided_offset(row, nk, 7u, 7u + 2u * nk, 0u);
    let in_stride = md[5];
    let out_stride = md[6];

    var m = src[in_base]; // rows are non-empty
    for (var j = lid; j < n; j = j + WG) {
        m = max_nan(m, src[in_base + j * in_stride]);
    }
    partial[lid] = m;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s = s / 2u) {
        if (lid < s) {
            partial[lid] = max_nan(partial[lid], partial[lid + s]);
        }
        workgroupBarrier();
    }
    m = partial[0];
    workgroupBarrier();
    // As the CPU: an all -inf row (or one with a NaN) shifts by 0 rather than by -inf.
    let shift = select(m, 0.0, f32_is_nan(m) || (f32_is_inf(m) && m < 0.0));

    var acc = 0.0;
    for (var j = lid; j < n; j = j + WG) {
        acc = acc + exp(src[in_base + j * in_stride] - shift);
    }
    partial[lid] = acc;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s = s / 2u) {
        if (lid < s) {
            partial[lid] = partial[lid] + partial[lid + s];
        }
        workgroupBarrier();
    }
    let total = partial[0];
    let log_total = log(total);
    let inv = 1.0 / total;
    let take_log = md[4] != 0u;
    for (var j = lid; j < n; j = j + WG) {
        let d = src[in_base + j * in_stride] - shift;
        dst[out_base + j * out_stride] = select(exp(d) * inv, d - log_total, take_log);
    }
}
