// Fill and arange, through the destination's strides (so views can be filled in place).
// Placeholders: T the element type, C the type the values travel and arange computes
// in (f32 for f16 storage, rounded once on store; else T). Values are bit patterns in md.
// md: [n, ndim, out_offset, value_bits, step_bits, shape[ndim], out_strides[ndim]]
// fill: out = value; arange: out = value + T(i) * step (wrapping for integers).
@group(0) @binding(1) var<storage, read_write> dst: array<{{T}}>;

@compute @workgroup_size(256)
fn fill(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_id(gid, nwg);
    if (i >= md[0]) {
        return;
    }
    let nd = md[1];
    dst[strided_offset(i, nd, 5u, 5u + nd, md[2])] = {{T}}(bitcast<{{C}}>(md[3]));
}

@compute @workgroup_size(256)
fn arange(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_id(gid, nwg);
    if (i >= md[0]) {
        return;
    }
    let nd = md[1];
    let v = bitcast<{{C}}>(md[3]) + {{C}}(i) * bitcast<{{C}}>(md[4]);
    dst[strided_offset(i, nd, 5u, 5u + nd, md[2])] = {{T}}(v);
}
