// Stable sort of every row of a tensor along one axis: a bitonic network over
// (value, index) pairs, the row padded to P (a power of two). Ties are broken by the
// source index, which makes the network stable; pads (index >= n) go after everything.
// Order (numpy's, as cpu::axis::sort_line): ascending with NaN last; descending with
// NaN first; -0.0 equals 0.0. Comparisons go through an order-preserving u32 key, so
// the sorted values themselves are the source's bits (NaN payloads, signed zeros).
//
// The work buffers double as the outputs: `vals` and `idx` hold rows of P elements;
// the launcher views their first n columns as the result.
// Stages: `local_sort` loads a block of BLOCK elements of a row (through the axis'
// stride; the other axes index rows) and runs every stage that fits in the block in
// workgroup memory. Rows longer than BLOCK then take, per merge size k, one
// `global_step` dispatch per distance j >= BLOCK and one `local_merge` for j < BLOCK.
// Placeholders: T element type, KEY a u32 expression of `v` increasing with the order.
// md (local_sort): [rows, n, P, desc, nk, in_offset, in_stride, kept_shape[nk], kept_strides[nk]]
// md (global_step): [rows, n, P, desc, k, j]; md (local_merge): [rows, n, P, desc, k]
@group(0) @binding(1) var<storage, read_write> vals: array<{{T}}>;
@group(0) @binding(2) var<storage, read_write> idx: array<u32>;
@group(0) @binding(3) var<storage, read> src: array<{{T}}>;

const BLOCK: u32 = 1024u;

var<workgroup> block_vals: array<{{T}}, 1024>;
var<workgroup> block_idx: array<u32, 1024>;

// float32's key from its bits: NaNs (any payload) last, -0.0 as 0.0, negatives flipped.
fn float_key(bits: u32) -> u32 {
    let mag = bits & 0x7fffffffu;
    if (mag > 0x7f800000u) {
        return 0xffffffffu;
    }
    let b = select(bits, 0u, mag == 0u);
    return select(b | 0x80000000u, ~b, (b & 0x80000000u) != 0u);
}

fn key(v: {{T}}) -> u32 {
    return {{KEY}};
}

// Whether (av, ai) comes strictly before (bv, bi).
fn before(av: {{T}}, ai: u32, bv: {{T}}, bi: u32) -> bool {
    let n = md[1];
    let a_pad = ai >= n;
    let b_pad = bi >= n;
    if (a_pad || b_pad) {
        return select(b_pad, ai < bi, a_pad && b_pad);
    }
    var ka = key(av);
    var kb = key(bv);
    if (md[3] != 0u) {
        ka = ~ka;
        kb = ~kb;
    }
    if (ka != kb) {
        return ka < kb;
    }
    return ai < bi;
}

// The first element of pair p at distance j (pairs are (i, i + j), i's bit j clear).
fn pair_start(p: u32, j: u32) -> u32 {
    return 2u * j * (p / j) + p % j;
}

// One compare-exchange over the block in workgroup memory; `first` is the block's
// position in its row, which sets each pair's direction for merge size k.
fn block_step(lid: u32, size: u32, first: u32, k: u32, j: u32) {
    for (var p = lid; p < size / 2u; p = p + WG) {
        let i = pair_start(p, j);
        let l = i + j;
        let up = ((first + i) & k) == 0u;
        let vi = block_vals[i];
        let vl = block_vals[l];
        let ii = block_idx[i];
        let il = block_idx[l];
        if (before(vl, il, vi, ii) == up) {
            block_vals[i] = vl;
            block_vals[l] = vi;
            block_idx[i] = il;
            block_idx[l] = ii;
        }
    }
    workgroupBarrier();
}

@compute @workgroup_size(256)
fn local_sort(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
              @builtin(num_workgroups) nwg: vec3<u32>) {
    let n = md[1];
    let P = md[2];
    let size = min(P, BLOCK);
    let per_row = P / size;
    let g = wid.y * nwg.x + wid.x;
    // Workgroup-uniform early return: the barriers below stay in uniform control flow.
    if (g >= md[0] * per_row) {
        return;
    }
    let row = g / per_row;
    let first = (g % per_row) * size;
    let nk = md[4];
    let base = strided_offset(row, nk, 7u, 7u + nk, md[5]);
    let stride = md[6];
    for (var t = lid; t < size; t = t + WG) {
        let j = first + t;
        block_idx[t] = j;
        if (j < n) {
            block_vals[t] = src[base + j * stride];
        } else {
            block_vals[t] = src[base];
        }
    }
    workgroupBarrier();
    for (var k = 2u; k <= size; k = k * 2u) {
        for (var j = k / 2u; j > 0u; j = j / 2u) {
            block_step(lid, size, first, k, j);
        }
    }
    let out = row * P + first;
    for (var t = lid; t < size; t = t + WG) {
        vals[out + t] = block_vals[t];
        idx[out + t] = block_idx[t];
    }
}

@compute @workgroup_size(256)
fn global_step(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let P = md[2];
    let k = md[4];
    let j = md[5];
    let q = linear_id(gid, nwg);
    if (q >= md[0] * (P / 2u)) {
        return;
    }
    let row = q / (P / 2u);
    let i = pair_start(q % (P / 2u), j);
    let a = row * P + i;
    let b = a + j;
    let up = (i & k) == 0u;
    let va = vals[a];
    let vb = vals[b];
    let ia = idx[a];
    let ib = idx[b];
    if (before(vb, ib, va, ia) == up) {
        vals[a] = vb;
        vals[b] = va;
        idx[a] = ib;
        idx[b] = ia;
    }
}

@compute @workgroup_size(256)
fn local_merge(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
               @builtin(num_workgroups) nwg: vec3<u32>) {
    let P = md[2];
    let per_row = P / BLOCK;
    let g = wid.y * nwg.x + wid.x;
    if (g >= md[0] * per_row) {
        return;
    }
    let start = g * BLOCK;
    let first = start % P;
    let k = md[4];
    for (var t = lid; t < BLOCK; t = t + WG) {
        block_vals[t] = vals[start + t];
        block_idx[t] = idx[start + t];
    }
    workgroupBarrier();
    for (var j = BLOCK / 2u; j > 0u; j = j / 2u) {
        block_step(lid, BLOCK, first, k, j);
    }
    for (var t = lid; t < BLOCK; t = t + WG) {
        vals[start + t] = block_vals[t];
        idx[start + t] = block_idx[t];
    }
}
