// scatter_add: out[.., wrap(index[i]), ..] += src[i] along dim `d`, one invocation per
// element of `index`; the other coordinates are the element's own. Several invocations
// may hit one element, so the accumulation is atomic: integer atomics for int32/uint32
// (atomicOr for bool), and for float32 a compare-exchange loop on the bit pattern (WGSL
// has no float atomics). The order of float additions therefore varies between runs.
// Out-of-range indices are rejected on the host before the launch.
// Placeholders: A atomic element type (i32 or u32), I index type (i32 or u32),
// T src element type, ACCUMULATE statements adding `v` at `dst[o]`.
// md: [n, nd, d, limit, out_offset, idx_offset, src_offset,
//      shape[nd] (index's), out_strides[nd], idx_strides[nd], src_strides[nd], lo, len]
// An `out` bigger than one storage binding is updated in passes: this pass binds out's
// elements [lo, lo + len) from `lo` and skips targets outside them.
@group(0) @binding(1) var<storage, read_write> dst: array<atomic<{{A}}>>;
@group(0) @binding(2) var<storage, read> idx: array<{{I}}>;
@group(0) @binding(3) var<storage, read> src: array<{{T}}>;

fn accumulate(o: u32, v: {{T}}) {
    {{ACCUMULATE}}
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_id(gid, nwg);
    if (i >= md[0]) {
        return;
    }
    let nd = md[1];
    let d = md[2];
    let limit = i32(md[3]);
    let io = strided_offset(i, nd, 7u, 7u + 2u * nd, md[5]);
    let so = strided_offset(i, nd, 7u, 7u + 3u * nd, md[6]);
    var slot = i32(idx[io]);
    if (slot < 0) {
        slot = slot + limit;
    }
    var oo = md[4];
    var rem = i;
    for (var k = nd; k > 0u; k = k - 1u) {
        let size = md[7u + k - 1u];
        var c = rem % size;
        rem = rem / size;
        if (k - 1u == d) {
            c = u32(slot);
        }
        oo = oo + c * md[7u + nd + k - 1u];
    }
    let lo = md[7u + 4u * nd];
    if (oo >= lo && oo - lo < md[8u + 4u * nd]) {
        accumulate(oo - lo, src[so]);
    }
}
