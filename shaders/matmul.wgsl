// Batched matmul C[b] = A[b] @ B[b], tiled in workgroup memory: a workgroup of 16x16
// invocations computes a 64x64 tile of C, each invocation a 4x4 block of outputs, and
// the K dimension is walked in steps of 16 through two shared tiles. A and B are read
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

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let m_size = md[0];
    let n_size = md[1];
    let k_size = md[2];
    let nb = md[3];
    // Batch offsets from the batch index, like strided_offset over the batch dims.
    var a_base = md[4];
    var b_base = md[7];
    var rem = wid.z;
    for (var d = nb; d > 0u; d = d - 1u) {
        let size = md[10u + d - 1u];
        let idx = rem % size;
        rem = rem / size;
        a_base = a_base + idx * md[10u + nb + d - 1u];
        b_base = b_base + idx * md[10u + 2u * nb + d - 1u];
    }
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
