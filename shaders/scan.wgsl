// Cumulative sum / product of every row at once: one workgroup per row, the row read
// and written through strides. The row is processed in tiles of 256: an inclusive
// Hillis-Steele scan of the tile in workgroup memory, plus the running total of the
// tiles before it.
// Placeholders: T element type, COMBINE an expression of `p` and `q`, IDENTITY.
// md: [rows, row_len, nk, in_offset, in_stride, out_stride,
//      kept_shape[nk], kept_in_strides[nk], kept_out_strides[nk]]
@group(0) @binding(1) var<storage, read_write> dst: array<{{T}}>;
@group(0) @binding(2) var<storage, read> src: array<{{T}}>;

var<workgroup> tile: array<{{T}}, 256>;

fn combine(p: {{T}}, q: {{T}}) -> {{T}} {
    return {{COMBINE}};
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
        @builtin(num_workgroups) nwg: vec3<u32>) {
    // Workgroup-uniform early return and loop bounds: barriers stay in uniform control flow.
    let row = wid.y * nwg.x + wid.x;
    if (row >= md[0]) {
        return;
    }
    let n = md[1];
    let nk = md[2];
    let in_base = strided_offset(row, nk, 6u, 6u + nk, md[3]);
    let out_base = strided_offset(row, nk, 6u, 6u + 2u * nk, 0u);
    let in_stride = md[4];
    let out_stride = md[5];
    var carry: {{T}} = {{IDENTITY}};
    for (var start = 0u; start < n; start = start + WG) {
        let j = start + lid;
        var v: {{T}} = {{IDENTITY}};
        if (j < n) {
            v = src[in_base + j * in_stride];
        }
        tile[lid] = v;
        workgroupBarrier();
        for (var s = 1u; s < WG; s = s * 2u) {
            var w = tile[lid];
            if (lid >= s) {
                w = combine(tile[lid - s], w);
            }
            workgroupBarrier();
            tile[lid] = w;
            workgroupBarrier();
        }
        if (j < n) {
            dst[out_base + j * out_stride] = combine(carry, tile[lid]);
        }
        carry = combine(carry, tile[WG - 1u]);
        workgroupBarrier();
    }
}
