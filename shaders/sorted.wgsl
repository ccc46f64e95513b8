// Kernels over sorted data: searchsorted (binary search per value) and the steps of
// unique after the sort (run boundaries, compaction, counts). Every buffer is viewed as
// u32 words: the element type T only matters for comparisons, done through the same
// order-preserving key as shaders/sort.wgsl (NaN last and equal to NaN, -0.0 == 0.0),
// so one binding layout serves every entry point. Indices are int32 stored as bits.
// Placeholders: T element type, KEY a u32 expression of `v` increasing with the order.
@group(0) @binding(1) var<storage, read_write> out_a: array<u32>;
@group(0) @binding(2) var<storage, read> in_a: array<u32>;
@group(0) @binding(3) var<storage, read> in_b: array<u32>;
@group(0) @binding(4) var<storage, read_write> out_b: array<u32>;
@group(0) @binding(5) var<storage, read_write> out_c: array<u32>;
@group(0) @binding(6) var<storage, read> in_c: array<u32>;

// float32's key from its bits: NaNs (any payload) last, -0.0 as 0.0, negatives flipped.
fn float_key(bits: u32) -> u32 {
    let mag = bits & 0x7fffffffu;
    if (mag > 0x7f800000u) {
        return 0xffffffffu;
    }
    let b = select(bits, 0u, mag == 0u);
    return select(b | 0x80000000u, ~b, (b & 0x80000000u) != 0u);
}

fn key_of(bits: u32) -> u32 {
    let v = bitcast<{{T}}>(bits);
    return {{KEY}};
}

// searchsorted: out_a[q] = the insertion point of in_b[q] into the sorted in_a.
// md: [seq_len, count, right]
@compute @workgroup_size(256)
fn search(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let q = linear_id(gid, nwg);
    if (q >= md[1]) {
        return;
    }
    let k = key_of(in_b[q]);
    let right = md[2] != 0u;
    var lo = 0u;
    var hi = md[0];
    while (lo < hi) {
        let mid = lo + (hi - lo) / 2u;
        let s = key_of(in_a[mid]);
        // Left: first position whose element is not less; right: not less-or-equal.
        if (s < k || (right && s == k)) {
            lo = mid + 1u;
        } else {
            hi = mid;
        }
    }
    out_a[q] = lo;
}

// unique, step 1: out_a[k] = 1 where sorted element k starts a run of equal values.
// md: [n]
@compute @workgroup_size(256)
fn boundaries(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let k = linear_id(gid, nwg);
    if (k >= md[0]) {
        return;
    }
    var starts = 1u;
    if (k > 0u) {
        starts = select(0u, 1u, key_of(in_a[k]) != key_of(in_a[k - 1u]));
    }
    out_a[k] = starts;
}

// unique, step 2, with in_b the inclusive running count of run starts (the run id + 1
// of each sorted element) and in_c the sorted elements' source positions: the unique
// values (out_a), where each run starts (out_b) and each source element's run (out_c).
// md: [n]
@compute @workgroup_size(256)
fn compact(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let k = linear_id(gid, nwg);
    if (k >= md[0]) {
        return;
    }
    let id = in_b[k] - 1u;
    if (k == 0u || in_b[k] != in_b[k - 1u]) {
        out_a[id] = in_a[k];
        out_b[id] = k;
    }
    out_c[in_c[k]] = id;
}

// unique, step 3: out_a[u] = the length of run u, from the run starts in_a.
// md: [n, runs]
@compute @workgroup_size(256)
fn counts(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let u = linear_id(gid, nwg);
    if (u >= md[1]) {
        return;
    }
    var end = md[0];
    if (u + 1u < md[1]) {
        end = in_a[u + 1u];
    }
    out_a[u] = end - in_a[u];
}
