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
    var acc: array<{{T}}, 16>;
    for (var i = 0u; i < 16u; i = i + 1u) {
        acc[i] = {{T}}(0);
    }
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
            var av: array<{{T}}, 4>;
            var bv: array<{{T}}, 4>;
            for (var i = 0u; i < 4u; i = i + 1u) {
                av[i] = tile_a[kk * TILE + lid.y * 4u + i];
                bv[i] = tile_b[kk * TILE + lid.x * 4u + i];
            }
            for (var i = 0u; i < 4u; i = i + 1u) {
                for (var j = 0u; j < 4u; j = j + 1u) {
                    acc[i * 4u + j] = acc[i * 4u + j] + av[i] * bv[j];
                }
            }
        }
        workgroupBarrier();
    }
    let c_base = wid.z * m_size * n_size;
    for (var i = 0u; i < 4u; i = i + 1u) {
        let r = row0 + lid.y * 4u + i;
        for (var j = 0u; j < 4u; j = j + 1u) {
            let c = col0 + lid.x * 4u + j;
            if (r < m_size && c < n_size) {
                dst[c_base + r * n_size + c] = acc[i * 4u + j];
            }
        }
    }
}

// `wide`: a workgroup of 16x16 invocations computes a 128x128 tile of C, each invocation
// an 8x8 block: rows ty*4+i and 64+ty*4+i, columns tx*4+j and 64+tx*4+j, so that its
// workgroup-memory reads are four vec4 per k (two of them broadcasts) for 64
// multiply-adds. K is walked in steps of 8 through two pairs of shared slices (16 KiB,
// WebGPU's guaranteed workgroup storage): while one pair is multiplied, the next step's
// elements are fetched into registers and stored into the other pair, so each step needs
// one barrier. Each operand is fetched along its contiguous axis (k for a row-major A, n
// for a row-major B) so that neighbouring invocations read neighbouring addresses.
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

@compute @workgroup_size(16, 16)
fn wide(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let m_size = md[0];
    let n_size = md[1];
    let k_size = md[2];
    let bases = batch_bases(wid.z);
    let a_cs = md[6];
    let b_rs = md[8];
    let b_cs = md[9];
    let a_kfast = a_cs == 1u;
    let b_kfast = b_rs == 1u && b_cs != 1u;
    let row0 = wid.y * WIDE;
    let col0 = wid.x * WIDE;
    let t = lid.y * 16u + lid.x;
    // This invocation's four elements of each slice: where they are at k0 = 0, their k
    // within the slice, whether their row (column) exists, and their shared-memory slot.
    var a_at: array<u32, 4>;
    var a_k: array<u32, 4>;
    var a_in: array<bool, 4>;
    var a_slot: array<u32, 4>;
    var b_at: array<u32, 4>;
    var b_k: array<u32, 4>;
    var b_in: array<bool, 4>;
    var b_slot: array<u32, 4>;
    for (var e = 0u; e < 4u; e = e + 1u) {
        let sa = wide_slot(t, e, a_kfast);
        a_k[e] = sa.x;
        a_in[e] = row0 + sa.y < m_size;
        a_at[e] = bases.x + (row0 + sa.y) * md[5] + sa.x * a_cs;
        a_slot[e] = sa.x * 128u + sa.y;
        let sb = wide_slot(t, e, b_kfast);
        b_k[e] = sb.x;
        b_in[e] = col0 + sb.y < n_size;
        b_at[e] = bases.y + sb.x * b_rs + (col0 + sb.y) * b_cs;
        b_slot[e] = sb.x * 128u + sb.y;
    }
    var ra: array<{{T}}, 4>;
    var rb: array<{{T}}, 4>;
    var acc: array<vec4<{{T}}>, 16>; // acc[2i + h]: row i's columns of half h
    for (var i = 0u; i < 16u; i = i + 1u) {
        acc[i] = vec4<{{T}}>({{T}}(0));
    }
    var next = 0u; // the shared pair (0 or 256 vec4s in) that the next step fills
    for (var k0 = 0u; k0 < k_size + WK; k0 = k0 + WK) {
        // Step k0 fetches slice k0 and multiplies slice k0 - WK (from the other pair).
        if (k0 < k_size) {
            for (var e = 0u; e < 4u; e = e + 1u) {
                ra[e] = {{T}}(0);
                if (a_in[e] && k0 + a_k[e] < k_size) {
                    ra[e] = lhs[a_at[e] + k0 * a_cs];
                }
                rb[e] = {{T}}(0);
                if (b_in[e] && k0 + b_k[e] < k_size) {
                    rb[e] = rhs[b_at[e] + k0 * b_rs];
                }
            }
        }
        if (k0 > 0u) {
            let cur = 256u - next;
            for (var kk = 0u; kk < WK; kk = kk + 1u) {
                let a0 = wide_a[cur + kk * 32u + lid.y];
                let a1 = wide_a[cur + kk * 32u + 16u + lid.y];
                let b0 = wide_b[cur + kk * 32u + lid.x];
                let b1 = wide_b[cur + kk * 32u + 16u + lid.x];
                acc[0] = acc[0] + a0.x * b0;
                acc[1] = acc[1] + a0.x * b1;
                acc[2] = acc[2] + a0.y * b0;
                acc[3] = acc[3] + a0.y * b1;
                acc[4] = acc[4] + a0.z * b0;
                acc[5] = acc[5] + a0.z * b1;
                acc[6] = acc[6] + a0.w * b0;
                acc[7] = acc[7] + a0.w * b1;
                acc[8] = acc[8] + a1.x * b0;
                acc[9] = acc[9] + a1.x * b1;
                acc[10] = acc[10] + a1.y * b0;
                acc[11] = acc[11] + a1.y * b1;
                acc[12] = acc[12] + a1.z * b0;
                acc[13] = acc[13] + a1.z * b1;
                acc[14] = acc[14] + a1.w * b0;
                acc[15] = acc[15] + a1.w * b1;
            }
        }
        if (k0 < k_size) {
            // The other pair was last read before the previous step's barrier.
            for (var e = 0u; e < 4u; e = e + 1u) {
                wide_a[next + a_slot[e] / 4u][a_slot[e] % 4u] = ra[e];
                wide_b[next + b_slot[e] / 4u][b_slot[e] % 4u] = rb[e];
            }
        }
        next = 256u - next;
        workgroupBarrier();
    }
    let c_base = wid.z * m_size * n_size;
    for (var i = 0u; i < 8u; i = i + 1u) {
        let r = row0 + (i / 4u) * 64u + lid.y * 4u + i % 4u;
        if (r >= m_size) {
            continue;
        }
        for (var h = 0u; h < 2u; h = h + 1u) {
            let v = acc[i * 2u + h];
            let c = col0 + h * 64u + lid.x * 4u;
            for (var j = 0u; j < 4u; j = j + 1u) {
                if (c + j < n_size) {
                    dst[c_base + r * n_size + c + j] = v[j];
                }
            }
        }
    }
}
