// Elementwise unary ops: out[view] = OP(x[view]).
// Placeholders: T input element type, O output element type, TC and OC the types
// the op computes in (f32 for f16 storage: widened on load, rounded once on store;
// the storage types otherwise), EXPR the op as an expression of `x` (rust/gpu/exprs.rs
// holds the table, one line per op).
// md: [n, ndim, out_offset, x_offset, shape[ndim], out_strides[ndim], x_strides[ndim]]
@group(0) @binding(1) var<storage, read_write> dst: array<{{O}}>;
@group(0) @binding(2) var<storage, read> src: array<{{T}}>;

fn op(x: {{TC}}) -> {{OC}} {
    return {{EXPR}};
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
    dst[o] = {{O}}(op({{TC}}(src[s])));
}

// `main` for dense launches, four elements per invocation (see `quad` in common.wgsl).
@compute @workgroup_size(256)
fn main4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = quad_of(gid, nwg);
    if (e.x == NO_QUAD) {
        return;
    }
    let s = md[3] + quad_load(e);
    let x = vec4<{{TC}}>({{TC}}(src[s.x]), {{TC}}(src[s.y]), {{TC}}(src[s.z]), {{TC}}(src[s.w]));
    let r = vec4<{{OC}}>(op(x.x), op(x.y), op(x.z), op(x.w));
    for (var j = 0u; j < 4u; j = j + 1u) {
        if (e[j] < md[0]) {
            dst[md[2] + e[j]] = {{O}}(r[j]);
        }
    }
}
