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

// `main` for dense launches, four elements per invocation (see `quad` in common.wgsl).
@compute @workgroup_size(256)
fn main4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = quad_of(gid, nwg);
    if (e.x == NO_QUAD) {
        return;
    }
    let s = md[3] + quad_load(e);
    let r = vec4<{{D}}>(convert(src[s.x]), convert(src[s.y]), convert(src[s.z]), convert(src[s.w]));
    for (var j = 0u; j < 4u; j = j + 1u) {
        if (e[j] < md[0]) {
            dst[md[2] + e[j]] = r[j];
        }
    }
}
