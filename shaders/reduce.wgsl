// Reductions (sum, prod, max, min) of every output row at once: the reduced axes are
// the last `nr` axes of the (permuted, possibly strided) input; the kept axes index the
// rows. One workgroup reduces one chunk of one row: each invocation folds a strided
// slice of the chunk, then the workgroup combines the 256 partials as a tree in
// workgroup memory. Rows longer than one workgroup should handle are split into
// `chunks` pieces written to a partial buffer that a second launch reduces.
// Placeholders: T element type, COMBINE an expression of `p` and `q`,
// IDENTITY the starting value (for max/min: `first`, the chunk's first element,
// which leaves the result unchanged because max/min are idempotent).
// md: [rows, row_len, chunks, chunk_len, nk, nr, in_offset,
//      kept_shape[nk], kept_strides[nk], red_shape[nr], red_strides[nr]]
// Output: contiguous [rows, chunks].
@group(0) @binding(1) var<storage, read_write> dst: array<{{T}}>;
@group(0) @binding(2) var<storage, read> src: array<{{T}}>;

var<workgroup> partial: array<{{T}}, 256>;

fn combine(p: {{T}}, q: {{T}}) -> {{T}} {
    return {{COMBINE}};
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
        @builtin(num_workgroups) nwg: vec3<u32>) {
    // Workgroup-uniform: every invocation of a workgroup takes the same early return,
    // so the barriers below stay in uniform control flow.
    let g = wid.y * nwg.x + wid.x;
    let rows = md[0];
    let chunks = md[2];
    if (g >= rows * chunks) {
        return;
    }
    let row = g / chunks;
    let chunk = g % chunks;
    let row_len = md[1];
    let chunk_len = md[3];
    let nk = md[4];
    let nr = md[5];
    let base = strided_offset(row, nk, 7u, 7u + nk, md[6]);
    let start = chunk * chunk_len;
    let stop = min(start + chunk_len, row_len);
    let red_shape = 7u + 2u * nk;
    let red_strides = red_shape + nr;
    let first = src[strided_offset(start, nr, red_shape, red_strides, base)];
    var acc: {{T}} = {{IDENTITY}};
    for (var j = start + lid; j < stop; j = j + WG) {
        acc = combine(acc, src[strided_offset(j, nr, red_shape, red_strides, base)]);
    }
    partial[lid] = acc;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s = s / 2u) {
        if (lid < s) {
            partial[lid] = combine(partial[lid], partial[lid + s]);
        }
        workgroupBarrier();
    }
    if (lid == 0u) {
        dst[g] = partial[0];
    }
}

// `short_rows`: one invocation per row, folding it in order, for many short rows (with a
// workgroup per row, most of its 256 invocations would idle: a (N, 8) tensor summed
// over its 8 columns would launch N workgroups). Same metadata, chunks = 1.
@compute @workgroup_size(256)
fn short_rows(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let row = linear_id(gid, nwg);
    if (row >= md[0]) {
        return;
    }
    let row_len = md[1];
    let nk = md[4];
    let nr = md[5];
    let base = strided_offset(row, nk, 7u, 7u + nk, md[6]);
    let red_shape = 7u + 2u * nk;
    let red_strides = red_shape + nr;
    let first = src[strided_offset(0u, nr, red_shape, red_strides, base)];
    var acc: {{T}} = {{IDENTITY}};
    for (var j = 0u; j < row_len; j = j + 1u) {
        acc = combine(acc, src[strided_offset(j, nr, red_shape, red_strides, base)]);
    }
    dst[row] = acc;
}
