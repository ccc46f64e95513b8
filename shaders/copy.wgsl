// Strided copy with a dtype conversion: out[view] = CAST(src[view]). Serves contiguous(),
// astype(), assignment into views, broadcasting copies and readback of strided views.
// Placeholders: S source element type, D destination element type,
// CAST an expression of `x` (the source value) giving a D.
// md: [n, ndim, out_offset, src_offset, shape[ndim], out_strides[ndim], src_strides[ndim]]
@group(0) @binding(1) var<storage, read_write> dst: array<{{D}}>;
@group(0) @binding(2) var<storage, read> src: array<{{S}}>;

fn convert(x: {{S}}) -> {{D}} {
    return {{CAST}};
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_id(gid, nwg);
    if (i >= md[0]) {
        return;
    }
    let nd = md[1];
    let o = strided_offset(i, nd, 4u, 4u + nd, md[2]);
    let s = strided_offset(i, nd, 4u, 4u + 2u * nd, md[3]);
    dst[o] = convert(src[s]);
}
