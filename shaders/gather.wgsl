// Advanced indexing through an offset table. The result (or the assigned value, for
// `scatter`) is a dense tensor of shape pre + [nb] + post: `offs[b]` is the absolute
// storage offset of broadcast position b in the indexed tensor (the index tensors'
// contribution plus the view's offset), and the remaining dims (pre + post, `rest`) are
// walked through the indexed tensor's strides.
// gather:  dense[i] = data[offs[b] + rest_offset]   (t[idx])
// scatter: data[offs[b] + rest_offset] = dense[i]   (t[idx] = v; a repeated position
//          keeps one of the values, as numpy and PyTorch leave unspecified)
// Placeholder: T element type.
// md: [n, nb, post, nrest, rest_shape[nrest], rest_strides[nrest], base, lo, len]
// Tensors bigger than one storage binding run in passes over windows: this pass covers
// dense positions [base, base + n) (bound from `base`) and indexed offsets [lo, lo +
// len) (bound from `lo`); positions whose offset falls outside are left to other passes.
@group(0) @binding(1) var<storage, read_write> dst: array<{{T}}>;
@group(0) @binding(2) var<storage, read> src: array<{{T}}>;
@group(0) @binding(3) var<storage, read> offs: array<u32>;

// (position in the dense tensor) -> storage offset in the indexed tensor.
fn indexed_offset(i: u32) -> u32 {
    let post = md[2];
    let nb = md[1];
    let q = i % post;
    let b = (i / post) % nb;
    let pre = i / (post * nb);
    let nrest = md[3];
    let r = pre * post + q;
    var off = offs[b];
    var rem = r;
    for (var d = nrest; d > 0u; d = d - 1u) {
        let size = md[4u + d - 1u];
        off = off + (rem % size) * md[4u + nrest + d - 1u];
        rem = rem / size;
    }
    return off;
}

// The window-relative offset in the indexed tensor of dense position `base + i`, or
// 0xffffffff when it falls outside this pass' window.
fn windowed_offset(i: u32) -> u32 {
    let at = 4u + 2u * md[3];
    let o = indexed_offset(md[at] + i);
    let lo = md[at + 1u];
    if (o < lo || o - lo >= md[at + 2u]) {
        return 0xffffffffu;
    }
    return o - lo;
}

@compute @workgroup_size(256)
fn gather(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_id(gid, nwg);
    if (i >= md[0]) {
        return;
    }
    let o = windowed_offset(i);
    if (o != 0xffffffffu) {
        dst[i] = src[o];
    }
}

@compute @workgroup_size(256)
fn scatter(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_id(gid, nwg);
    if (i >= md[0]) {
        return;
    }
    let o = windowed_offset(i);
    if (o != 0xffffffffu) {
        dst[o] = src[i];
    }
}
