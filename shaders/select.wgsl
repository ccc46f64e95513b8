// where(cond, a, b) with broadcasting: out[view] = cond[view] ? a[view] : b[view].
// Placeholder: T the element type of a, b and the result; cond is bool (u32 0/1).
// md: [n, ndim, out_off, cond_off, a_off, b_off, shape[ndim],
//      out_strides, cond_strides, a_strides, b_strides]
@group(0) @binding(1) var<storage, read_write> dst: array<{{T}}>;
@group(0) @binding(2) var<storage, read> cond: array<u32>;
@group(0) @binding(3) var<storage, read> lhs: array<{{T}}>;
@group(0) @binding(4) var<storage, read> rhs: array<{{T}}>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_id(gid, nwg);
    if (i >= md[0]) {
        return;
    }
    let nd = md[1];
    let o = strided_offset(i, nd, 6u, 6u + nd, md[2]);
    let c = strided_offset(i, nd, 6u, 6u + 2u * nd, md[3]);
    let a = strided_offset(i, nd, 6u, 6u + 3u * nd, md[4]);
    let b = strided_offset(i, nd, 6u, 6u + 4u * nd, md[5]);
    dst[o] = select(rhs[b], lhs[a], cond[c] != 0u);
}
