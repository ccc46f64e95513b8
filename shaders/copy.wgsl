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
    let n = md[0];
    let i = linear_id(gid, nwg);
    if (i >= quads(n)) {
        return;
    }
    let e = quad(i, n);
    let s = md[3] + quad_load(e, n);
    let x0 = src[s.x];
    let x1 = src[s.y];
    let x2 = src[s.z];
    let x3 = src[s.w];
    let o = md[2] + e;
    dst[o.x] = convert(x0);
    if (e.y < n) {
        dst[o.y] = convert(x1);
    }
    if (e.z < n) {
        dst[o.z] = convert(x2);
    }
    if (e.w < n) {
        dst[o.w] = convert(x3);
    }
}
