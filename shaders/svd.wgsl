// Singular values of a batch of float32 matrices by one-sided Jacobi (Hestenes), the
// GPU twin of rust/cpu/svd.rs: plane rotations orthogonalise the k "vectors" of each
// matrix (its columns when m >= n, else its rows) until every pair is orthogonal to
// working precision; the singular values are then the vector norms, sorted descending.
//
// One workgroup per matrix. The vectors live in the scratch buffer `w` (global memory,
// `stride` floats apart), so any size fits; invocation `lid` owns entries lid, lid + WG,
// ... of every vector, so the rotations need no synchronisation, and the three dot
// products of a pair are tree reductions in workgroup memory. Every loop that contains a
// barrier has workgroup-uniform bounds (metadata, or flags read by workgroupUniformLoad).
//
// `factors` also carries the identity (entries len..len+k of each vector) through the
// rotations, which turns it into the short side's singular vectors, and writes
// u (m, k) and v (n, k) for the gradient u diag(g) v^T.
//
// Per matrix, `w` holds k vectors of `stride` floats, then k norms, then k ranks (u32
// bits): (k * stride + 2k) floats.
// md: [batch, k, len, stride, in_offset, s_elem, s_vec, top, tol (f32 bits), max_sweeps,
//      long_is_u, NaN (f32 bits: Tint rejects NaN constants), nb, batch_shape[nb],
//      batch_strides[nb]]
// `top` is the power of two the reductions start from (>= min(len, WG)); `s_elem` and
// `s_vec` are the input's strides along a vector and across vectors (u32 bits of i32).
@group(0) @binding(1) var<storage, read_write> w: array<f32>;
@group(0) @binding(2) var<storage, read> src: array<f32>;
@group(0) @binding(3) var<storage, read_write> s_out: array<f32>;
@group(0) @binding(4) var<storage, read_write> u_out: array<f32>;
@group(0) @binding(5) var<storage, read_write> v_out: array<f32>;

var<workgroup> red_a: array<f32, 256>;
var<workgroup> red_b: array<f32, 256>;
var<workgroup> red_c: array<f32, 256>;
var<workgroup> scale_shared: f32;
// The number (from 1) of the last sweep that rotated a pair: a sweep that leaves it
// unchanged found every pair orthogonal. Never reset, so no write races a read.
var<workgroup> last_rotated: u32;

// max that keeps NaN (WGSL's max may drop it).
fn max_nan(p: f32, q: f32) -> f32 {
    if (f32_is_nan(p) || f32_is_nan(q)) {
        return p + q;
    }
    return max(p, q);
}

fn region(mat: u32) -> u32 {
    let k = md[1];
    return mat * (k * md[3] + 2u * k);
}

// Tree sums of red_a, red_b, red_c over the first `top` slots; all invocations read the
// totals from slot 0 afterwards (the caller puts a barrier before the next write).
fn reduce3() {
    workgroupBarrier();
    for (var s = md[7] / 2u; s > 0u; s = s / 2u) {
        if (lid_g < s) {
            red_a[lid_g] = red_a[lid_g] + red_a[lid_g + s];
            red_b[lid_g] = red_b[lid_g] + red_b[lid_g + s];
            red_c[lid_g] = red_c[lid_g] + red_c[lid_g + s];
        }
        workgroupBarrier();
    }
}

var<private> lid_g: u32;

// Copies matrix `mat` into its vectors, scaled into [-1, 1] by its largest magnitude
// (so squared norms neither overflow nor, for the large values, underflow); `factors`
// appends the identity. Returns that scale (NaN or inf for a non-finite matrix, 0 for a
// zero one), workgroup-uniform.
fn load(mat: u32, factors: bool) -> f32 {
    let k = md[1];
    let len = md[2];
    let stride = md[3];
    let nb = md[12];
    let base = strided_offset(mat, nb, 13u, 13u + nb, md[4]);
    let s_elem = md[5];
    let s_vec = md[6];
    let r = region(mat);
    var amax = 0.0;
    for (var p = 0u; p < k; p = p + 1u) {
        for (var j = lid_g; j < len; j = j + WG) {
            let x = src[base + j * s_elem + p * s_vec];
            w[r + p * stride + j] = x;
            amax = max_nan(amax, abs(x));
        }
        if (factors) {
            for (var j = lid_g; j < k; j = j + WG) {
                w[r + p * stride + len + j] = select(0.0, 1.0, j == p);
            }
        }
    }
    red_a[lid_g] = amax;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s = s / 2u) {
        if (lid_g < s) {
            red_a[lid_g] = max_nan(red_a[lid_g], red_a[lid_g + s]);
        }
        workgroupBarrier();
    }
    if (lid_g == 0u) {
        scale_shared = red_a[0];
        last_rotated = 0u;
    }
    let scale = workgroupUniformLoad(&scale_shared);
    if (scale > 0.0 && !f32_is_inf(scale)) {
        let inv = 1.0 / scale;
        for (var p = 0u; p < k; p = p + 1u) {
            for (var j = lid_g; j < len; j = j + WG) {
                w[r + p * stride + j] = w[r + p * stride + j] * inv;
            }
        }
    }
    return scale;
}

// Jacobi sweeps over every pair (p, q), p < q, until a sweep rotates nothing; returns
// whether that happened within md[9] sweeps.
fn sweeps(mat: u32) -> bool {
    let k = md[1];
    let len = md[2];
    let stride = md[3];
    let tol = bitcast<f32>(md[8]);
    let r = region(mat);
    for (var sweep = 1u; sweep <= md[9]; sweep = sweep + 1u) {
        for (var p = 0u; p + 1u < k; p = p + 1u) {
            for (var q = p + 1u; q < k; q = q + 1u) {
                let vp = r + p * stride;
                let vq = r + q * stride;
                var alpha = 0.0;
                var beta = 0.0;
                var gamma = 0.0;
                for (var j = lid_g; j < len; j = j + WG) {
                    let x = w[vp + j];
                    let y = w[vq + j];
                    alpha = alpha + x * x;
                    beta = beta + y * y;
                    gamma = gamma + x * y;
                }
                red_a[lid_g] = alpha;
                red_b[lid_g] = beta;
                red_c[lid_g] = gamma;
                reduce3();
                alpha = red_a[0];
                beta = red_b[0];
                gamma = red_c[0];
                workgroupBarrier();
                // Every invocation takes the same decision from the same totals; the
                // branch holds no barrier, so it need not be uniform.
                if (alpha != 0.0 && beta != 0.0 && abs(gamma) > tol * sqrt(alpha) * sqrt(beta)) {
                    // The rotation that zeroes the off-diagonal entry of the Gram matrix
                    // [[alpha, gamma], [gamma, beta]] (the smaller of the two angles).
                    let zeta = (beta - alpha) / (2.0 * gamma);
                    let sgn = select(-1.0, 1.0, zeta >= 0.0);
                    let t = sgn / (abs(zeta) + sqrt(1.0 + zeta * zeta));
                    let c = 1.0 / sqrt(1.0 + t * t);
                    let sn = c * t;
                    for (var j = lid_g; j < stride; j = j + WG) {
                        let a = w[vp + j];
                        let b = w[vq + j];
                        w[vp + j] = c * a - sn * b;
                        w[vq + j] = sn * a + c * b;
                    }
                    if (lid_g == 0u) {
                        last_rotated = sweep;
                    }
                }
            }
        }
        if (workgroupUniformLoad(&last_rotated) != sweep) {
            return true;
        }
    }
    return false;
}

// Norms of the k vectors (times `scale`, NaN when `ok` is false) and their descending
// ranks (ties by index, as a stable sort), stored after the vectors in `w`.
fn norms_and_ranks(mat: u32, scale: f32, ok: bool) {
    let k = md[1];
    let len = md[2];
    let stride = md[3];
    let r = region(mat);
    for (var p = 0u; p < k; p = p + 1u) {
        var acc = 0.0;
        for (var j = lid_g; j < len; j = j + WG) {
            let x = w[r + p * stride + j];
            acc = acc + x * x;
        }
        red_a[lid_g] = acc;
        red_b[lid_g] = 0.0;
        red_c[lid_g] = 0.0;
        reduce3();
        if (lid_g == 0u) {
            // A non-finite matrix or a failed convergence gives NaN, as on the CPU.
            w[r + k * stride + p] = select(bitcast<f32>(md[11]), scale * sqrt(red_a[0]), ok);
        }
        workgroupBarrier();
    }
    storageBarrier();
    for (var p = lid_g; p < k; p = p + WG) {
        let np = w[r + k * stride + p];
        // NaN norms (a failed matrix: all NaN) keep their places.
        var rank = select(p, 0u, ok);
        for (var q = 0u; q < k && ok; q = q + 1u) {
            let nq = w[r + k * stride + q];
            if (nq > np || (nq == np && q < p)) {
                rank = rank + 1u;
            }
        }
        w[r + k * stride + k + p] = bitcast<f32>(rank);
    }
    storageBarrier();
}

// Returns the matrix index, workgroup-uniform; >= md[0] for a spare workgroup.
fn start(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    lid_g = lid;
    return wid.y * nwg.x + wid.x;
}

// Singular values only: s_out (batch, k).
@compute @workgroup_size(256)
fn values(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
          @builtin(num_workgroups) nwg: vec3<u32>) {
    let mat = start(wid, nwg, lid);
    if (mat >= md[0]) {
        return;
    }
    let k = md[1];
    let scale = load(mat, false);
    let finite = !f32_is_nan(scale) && !f32_is_inf(scale);
    var ok = finite;
    if (finite) {
        ok = sweeps(mat);
    }
    norms_and_ranks(mat, scale, ok);
    let r = region(mat);
    for (var p = lid; p < k; p = p + WG) {
        s_out[mat * k + bitcast<u32>(w[r + k * md[3] + k + p])] = w[r + k * md[3] + p];
    }
}

// Values and vectors: s_out (batch, k), u_out (batch, m, k), v_out (batch, n, k) with
// x = u diag(s) v^T. The long side's vector is the rotated vector over its norm (left
// zero for a zero singular value, as on the CPU); the short side's is the rotated
// identity.
@compute @workgroup_size(256)
fn factors(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
           @builtin(num_workgroups) nwg: vec3<u32>) {
    let mat = start(wid, nwg, lid);
    if (mat >= md[0]) {
        return;
    }
    let k = md[1];
    let len = md[2];
    let stride = md[3];
    let scale = load(mat, true);
    let finite = !f32_is_nan(scale) && !f32_is_inf(scale);
    var ok = finite;
    if (finite) {
        ok = sweeps(mat);
    }
    norms_and_ranks(mat, scale, ok);
    let r = region(mat);
    let long_is_u = md[10] != 0u;
    for (var p = 0u; p < k; p = p + 1u) {
        let sigma = w[r + k * stride + p];
        let col = bitcast<u32>(w[r + k * stride + k + p]);
        if (lid == 0u) {
            s_out[mat * k + col] = sigma;
        }
        // The vector holds sigma / scale times the long side's singular vector.
        let positive = sigma > 0.0 && !f32_is_inf(sigma);
        let inv = select(0.0, scale / sigma, positive);
        for (var j = lid; j < len; j = j + WG) {
            let x = w[r + p * stride + j] * inv;
            if (long_is_u) {
                u_out[(mat * len + j) * k + col] = x;
            } else {
                v_out[(mat * len + j) * k + col] = x;
            }
        }
        for (var j = lid; j < k; j = j + WG) {
            let x = w[r + p * stride + len + j];
            if (long_is_u) {
                v_out[(mat * k + j) * k + col] = x;
            } else {
                u_out[(mat * k + j) * k + col] = x;
            }
        }
    }
}
