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
    dst[o.x] = {{O}}(op({{TC}}(x0)));
    if (e.y < n) {
        dst[o.y] = {{O}}(op({{TC}}(x1)));
    }
    if (e.z < n) {
        dst[o.z] = {{O}}(op({{TC}}(x2)));
    }
    if (e.w < n) {
        dst[o.w] = {{O}}(op({{TC}}(x3)));
    }
}
