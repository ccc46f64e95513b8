// argmax / argmin of every row at once: one workgroup per row, the row read through its
// stride. Each invocation scans a strided slice in increasing order keeping the first
// best element, then the workgroup combines (value, index) pairs as a tree, the smaller
// index winning ties: numpy's first occurrence. NaN beats everything (numpy returns the
// first NaN for both argmax and argmin).
// Placeholders: T element type, BETTER a bool expression: `p` strictly better than `q`
// ignoring NaN, IS_NAN a bool expression of `p`.
// md: [rows, row_len, nk, in_offset, in_stride, kept_shape[nk], kept_strides[nk]]
// Output: contiguous int32 [rows].
@group(0) @binding(1) var<storage, read_write> dst: array<i32>;
@group(0) @binding(2) var<storage, read> src: array<{{T}}>;

var<workgroup> best_value: array<{{T}}, 256>;
var<workgroup> best_index: array<u32, 256>;

fn is_nan(p: {{T}}) -> bool {
    return {{IS_NAN}};
}

// Whether (p, i) should replace (q, k).
fn wins(p: {{T}}, i: u32, q: {{T}}, k: u32) -> bool {
    let pn = is_nan(p);
    let qn = is_nan(q);
    if (pn != qn) {
        return pn;
    }
    if (!pn && ({{BETTER}})) {
        return true;
    }
    let tie = pn || !(q > p || q < p);
    return tie && i < k;
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
    let base = strided_offset(row, nk, 5u, 5u + nk, md[3]);
    let stride = md[4];
    // Invocations past the row's end start from element 0 so every slot holds a real
    // element; index n never wins a tie against it.
    var v = src[base];
    var at = n;
    for (var j = lid; j < n; j = j + WG) {
        let x = src[base + j * stride];
        if (at == n || wins(x, j, v, at)) {
            v = x;
            at = j;
        }
    }
    best_value[lid] = v;
    best_index[lid] = at;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s = s / 2u) {
        if (lid < s && wins(best_value[lid + s], best_index[lid + s], best_value[lid], best_index[lid])) {
            best_value[lid] = best_value[lid + s];
            best_index[lid] = best_index[lid + s];
        }
        workgroupBarrier();
    }
    if (lid == 0u) {
        dst[row] = i32(best_index[0]);
    }
}
