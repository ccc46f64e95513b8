// Batched matmul C[b] = A[b] @ B[b], tiled in workgroup memory, in two variants chosen
// by shape (backend/kernels.rs `matmul`): `main`, where a workgroup of 16x16 invocations
// computes a 64x64 tile of C, each invocation a 4x4 block of outputs, walking K in steps
// of 16; and `wide` for big products (see there). A and B are read
// through arbitrary row/column strides (transposed views need no copy); batch dims
// broadcast through per-operand batch strides. C is contiguous.
// Placeholder: T element type (accumulation happens in it).
// md: [M, N, K, nb, a_off, a_rs, a_cs, b_off, b_rs, b_cs,
//      batch_shape[nb], a_bstrides[nb], b_bstrides[nb]]
@group(0) @binding(1) var<storage, read_write> dst: array<{{T}}>;
@group(0) @binding(2) var<storage, read> lhs: array<{{T}}>;
@group(0) @binding(3) var<storage, read> rhs: array<{{T}}>;

const TILE: u32 = 64u;
const TK: u32 = 16u;

var<workgroup> tile_a: array<{{T}}, 1024>; // [TK][TILE]: tile_a[k * TILE + m]
var<workgroup> tile_b: array<{{T}}, 1024>; // [TK][TILE]: tile_b[k * TILE + n]

// The offsets of batch `z`'s A and B, like strided_offset over the batch dims.
fn batch_bases(z: u32) -> vec2<u32> {
    let nb = md[3];
    var a_base = md[4];
    var b_base = md[7];
    var rem = z;
    for (var d = nb; d > 0u; d = d - 1u) {
        let size = md[10u + d - 1u];
        let idx = rem % size;
        rem = rem / size;
        a_base = a_base + idx * md[10u + nb + d - 1u];
        b_base = b_base + idx * md[10u + 2u * nb + d - 1u];
    }
    return vec2<u32>(a_base, b_base);
}

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let m_size = md[0];
    let n_size = md[1];
    let k_size = md[2];
    let bases = batch_bases(wid.z);
    let a_base = bases.x;
    let b_base = bases.y;
    let a_rs = md[5];
    let a_cs = md[6];
    let b_rs = md[8];
    let b_cs = md[9];
    let row0 = wid.y * TILE;
    let col0 = wid.x * TILE;
    let t_index = lid.y * 16u + lid.x;
    // Named vectors, not an array indexed by loop counters (see `wide`).
    var c0 = vec4<{{T}}>({{T}}(0));
    var c1 = vec4<{{T}}>({{T}}(0));
    var c2 = vec4<{{T}}>({{T}}(0));
    var c3 = vec4<{{T}}>({{T}}(0));
    for (var k0 = 0u; k0 < k_size; k0 = k0 + TK) {
        // 256 invocations load the 16x64 slices of A and B, 4 elements each.
        for (var e = 0u; e < 4u; e = e + 1u) {
            let idx = t_index + e * 256u;
            let kk = idx / TILE;
            let mm = idx % TILE;
            let r = row0 + mm;
            let k = k0 + kk;
            var va = {{T}}(0);
            if (r < m_size && k < k_size) {
                va = lhs[a_base + r * a_rs + k * a_cs];
            }
            tile_a[kk * TILE + mm] = va;
            let c = col0 + mm;
            var vb = {{T}}(0);
            if (c < n_size && k < k_size) {
                vb = rhs[b_base + k * b_rs + c * b_cs];
            }
            tile_b[kk * TILE + mm] = vb;
        }
        workgroupBarrier();
        for (var kk = 0u; kk < TK; kk = kk + 1u) {
            let at = kk * TILE + lid.y * 4u;
            let bt = kk * TILE + lid.x * 4u;
            let a = vec4<{{T}}>(tile_a[at], tile_a[at + 1u], tile_a[at + 2u], tile_a[at + 3u]);
            let b = vec4<{{T}}>(tile_b[bt], tile_b[bt + 1u], tile_b[bt + 2u], tile_b[bt + 3u]);
            c0 = c0 + a.x * b;
            c1 = c1 + a.y * b;
            c2 = c2 + a.z * b;
            c3 = c3 + a.w * b;
        }
        workgroupBarrier();
    }
    let c_base = wid.z * m_size * n_size;
    let r = row0 + lid.y * 4u;
    let c = col0 + lid.x * 4u;
    store_row4(c_base, r, c, c0);
    store_row4(c_base, r + 1u, c, c1);
    store_row4(c_base, r + 2u, c, c2);
    store_row4(c_base, r + 3u, c, c3);
}

// `wide`: a workgroup of 16x16 invocations computes a 128x128 tile of C, each invocation
// an 8x8 block: rows ty*4+i and 64+ty*4+i, columns tx*4+j and 64+tx*4+j, so that its
// workgroup-memory reads are four vec4 per k (two of them broadcasts) for 64
// multiply-adds. K is walked in steps of 8 through two pairs of shared slices (16 KiB,
// WebGPU's guaranteed workgroup storage): while one pair is multiplied, the next step's
// elements are fetched into registers and stored into the other pair, so each step needs
// one barrier. Each operand is fetched along its contiguous axis (k for a row-major A, n
// for a row-major B) so that neighbouring invocations read neighbouring addresses.
// Everything per invocation lives in vectors and named variables, never in arrays
// indexed by a loop counter: a driver that cannot prove such an index constant keeps the
// array in (slow) local memory, which cost this kernel 90% of its speed on an H100.
const WIDE: u32 = 128u;
const WK: u32 = 8u;

var<workgroup> wide_a: array<vec4<{{T}}>, 512>; // [2][WK][WIDE / 4]: rows 4q..4q+3 at k
var<workgroup> wide_b: array<vec4<{{T}}>, 512>; // [2][WK][WIDE / 4]: columns 4q..4q+3

// Slot `e` of invocation `t`'s share of a WK x WIDE slice: (k, row-or-column) within it,
// k-fastest when the operand is contiguous along k.
fn wide_slot(t: u32, e: u32, k_fast: bool) -> vec2<u32> {
    let idx = t + e * 256u;
    if (k_fast) {
        return vec2<u32>(idx % WK, idx / WK);
    }
    return vec2<u32>(idx / WIDE, idx % WIDE);
}

// The element of a slice that an invocation fetches: `at` is where it is at k0 = 0,
// `k` its k within the slice, `inside` whether its row (column) exists.
fn wide_load_a(at: u32, k: u32, inside: bool, k0: u32) -> {{T}} {
    if (inside && k0 + k < md[2]) {
        return lhs[at + k0 * md[6]];
    }
    return {{T}}(0);
}
fn wide_load_b(at: u32, k: u32, inside: bool, k0: u32) -> {{T}} {
    if (inside && k0 + k < md[2]) {
        return rhs[at + k0 * md[8]];
    }
    return {{T}}(0);
}
// Row r's results v in columns c..c+3 (those inside C).
fn store_row4(c_base: u32, r: u32, c: u32, v: vec4<{{T}}>) {
    let n_size = md[1];
    if (r >= md[0]) {
        return;
    }
    let at = c_base + r * n_size + c;
    for (var j = 0u; j < 4u; j = j + 1u) {
        if (c + j < n_size) {
            dst[at + j] = v[j];
        }
    }
}
// Row r's 8 results of `wide`: columns c..c+3 and c+64..c+67.
fn wide_store(c_base: u32, r: u32, c: u32, v0: vec4<{{T}}>, v1: vec4<{{T}}>) {
    store_row4(c_base, r, c, v0);
    store_row4(c_base, r, c + 64u, v1);
}

@compute @workgroup_size(16, 16)
fn wide(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let m_size = md[0];
    let n_size = md[1];
    let k_size = md[2];
    let bases = batch_bases(wid.z);
    let a_rs = md[5];
    let a_cs = md[6];
    let b_rs = md[8];
    let b_cs = md[9];
    let a_kfast = a_cs == 1u;
    let b_kfast = b_rs == 1u && b_cs != 1u;
    let row0 = wid.y * WIDE;
    let col0 = wid.x * WIDE;
    let t = lid.y * 16u + lid.x;
    // This invocation's four elements of each slice (see wide_load_a/b) and their
    // shared-memory slots (k * WIDE + row-or-column).
    let sa0 = wide_slot(t, 0u, a_kfast);
    let sa1 = wide_slot(t, 1u, a_kfast);
    let sa2 = wide_slot(t, 2u, a_kfast);
    let sa3 = wide_slot(t, 3u, a_kfast);
    let sb0 = wide_slot(t, 0u, b_kfast);
    let sb1 = wide_slot(t, 1u, b_kfast);
    let sb2 = wide_slot(t, 2u, b_kfast);
    let sb3 = wide_slot(t, 3u, b_kfast);
    let a_k = vec4<u32>(sa0.x, sa1.x, sa2.x, sa3.x);
    let a_row = row0 + vec4<u32>(sa0.y, sa1.y, sa2.y, sa3.y);
    let a_in = a_row < vec4<u32>(m_size);
    let a_at = bases.x + a_row * a_rs + a_k * a_cs;
    let a_slot = a_k * WIDE + a_row - row0;
    let b_k = vec4<u32>(sb0.x, sb1.x, sb2.x, sb3.x);
    let b_col = col0 + vec4<u32>(sb0.y, sb1.y, sb2.y, sb3.y);
    let b_in = b_col < vec4<u32>(n_size);
    let b_at = bases.y + b_k * b_rs + b_col * b_cs;
    let b_slot = b_k * WIDE + b_col - col0;
    var c0: vec4<{{T}}> = vec4<{{T}}>({{T}}(0));
    var c1: vec4<{{T}}> = vec4<{{T}}>({{T}}(0));
    var c2: vec4<{{T}}> = vec4<{{T}}>({{T}}(0));
    var c3: vec4<{{T}}> = vec4<{{T}}>({{T}}(0));
    var c4: vec4<{{T}}> = vec4<{{T}}>({{T}}(0));
    var c5: vec4<{{T}}> = vec4<{{T}}>({{T}}(0));
    var c6: vec4<{{T}}> = vec4<{{T}}>({{T}}(0));
    var c7: vec4<{{T}}> = vec4<{{T}}>({{T}}(0));
    var c8: vec4<{{T}}> = vec4<{{T}}>({{T}}(0));
    var c9: vec4<{{T}}> = vec4<{{T}}>({{T}}(0));
    var c10: vec4<{{T}}> = vec4<{{T}}>({{T}}(0));
    var c11: vec4<{{T}}> = vec4<{{T}}>({{T}}(0));
    var c12: vec4<{{T}}> = vec4<{{T}}>({{T}}(0));
    var c13: vec4<{{T}}> = vec4<{{T}}>({{T}}(0));
    var c14: vec4<{{T}}> = vec4<{{T}}>({{T}}(0));
    var c15: vec4<{{T}}> = vec4<{{T}}>({{T}}(0));
    var next = 0u; // the shared pair (0 or 256 vec4s in) that this step fills
    for (var k0 = 0u; k0 < k_size + WK; k0 = k0 + WK) {
        // Step k0 fetches slice k0 and multiplies slice k0 - WK (from the other pair).
        var ra = vec4<{{T}}>({{T}}(0));
        var rb = vec4<{{T}}>({{T}}(0));
        if (k0 < k_size) {
            ra = vec4<{{T}}>(wide_load_a(a_at.x, a_k.x, a_in.x, k0), wide_load_a(a_at.y, a_k.y, a_in.y, k0),
                             wide_load_a(a_at.z, a_k.z, a_in.z, k0), wide_load_a(a_at.w, a_k.w, a_in.w, k0));
            rb = vec4<{{T}}>(wide_load_b(b_at.x, b_k.x, b_in.x, k0), wide_load_b(b_at.y, b_k.y, b_in.y, k0),
                             wide_load_b(b_at.z, b_k.z, b_in.z, k0), wide_load_b(b_at.w, b_k.w, b_in.w, k0));
        }
        if (k0 > 0u) {
            let cur = 256u - next;
            for (var kk = 0u; kk < WK; kk = kk + 1u) {
                let a0 = wide_a[cur + kk * 32u + lid.y];
                let a1 = wide_a[cur + kk * 32u + 16u + lid.y];
                let b0 = wide_b[cur + kk * 32u + lid.x];
                let b1 = wide_b[cur + kk * 32u + 16u + lid.x];
            c0 = c0 + a0.x * b0;
            c1 = c1 + a0.x * b1;
            c2 = c2 + a0.y * b0;
            c3 = c3 + a0.y * b1;
            c4 = c4 + a0.z * b0;
            c5 = c5 + a0.z * b1;
            c6 = c6 + a0.w * b0;
            c7 = c7 + a0.w * b1;
            c8 = c8 + a1.x * b0;
            c9 = c9 + a1.x * b1;
            c10 = c10 + a1.y * b0;
            c11 = c11 + a1.y * b1;
            c12 = c12 + a1.z * b0;
            c13 = c13 + a1.z * b1;
            c14 = c14 + a1.w * b0;
            c15 = c15 + a1.w * b1;
            }
        }
        if (k0 < k_size) {
            // The other pair was last read before the previous step's barrier.
            wide_a[next + a_slot.x / 4u][a_slot.x % 4u] = ra.x;
            wide_a[next + a_slot.y / 4u][a_slot.y % 4u] = ra.y;
            wide_a[next + a_slot.z / 4u][a_slot.z % 4u] = ra.z;
            wide_a[next + a_slot.w / 4u][a_slot.w % 4u] = ra.w;
            wide_b[next + b_slot.x / 4u][b_slot.x % 4u] = rb.x;
            wide_b[next + b_slot.y / 4u][b_slot.y % 4u] = rb.y;
            wide_b[next + b_slot.z / 4u][b_slot.z % 4u] = rb.z;
            wide_b[next + b_slot.w / 4u][b_slot.w % 4u] = rb.w;
        }
        next = 256u - next;
        workgroupBarrier();
    }
    let c_base = wid.z * m_size * n_size;
    wide_store(c_base, row0 + 0u + lid.y * 4u + 0u, col0 + lid.x * 4u, c0, c1);
    wide_store(c_base, row0 + 0u + lid.y * 4u + 1u, col0 + lid.x * 4u, c2, c3);
    wide_store(c_base, row0 + 0u + lid.y * 4u + 2u, col0 + lid.x * 4u, c4, c5);
    wide_store(c_base, row0 + 0u + lid.y * 4u + 3u, col0 + lid.x * 4u, c6, c7);
    wide_store(c_base, row0 + 64u + lid.y * 4u + 0u, col0 + lid.x * 4u, c8, c9);
    wide_store(c_base, row0 + 64u + lid.y * 4u + 1u, col0 + lid.x * 4u, c10, c11);
    wide_store(c_base, row0 + 64u + lid.y * 4u + 2u, col0 + lid.x * 4u, c12, c13);
    wide_store(c_base, row0 + 64u + lid.y * 4u + 3u, col0 + lid.x * 4u, c14, c15);
}
