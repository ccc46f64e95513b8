//! Singular values by one-sided Jacobi (Hestenes): plane rotations orthogonalise the
//! vectors of a matrix until every pair is orthogonal to working precision; the singular
//! values are then the vector norms. Simple, accurate (high relative accuracy for the
//! well-scaled case) and fast enough for the small matrices norms are taken of.

/// Sweeps after which a matrix is reported as not converged (NaN). Jacobi converges
/// quadratically: typical matrices need 5 to 10.
const MAX_SWEEPS: usize = 80;

/// Singular values of `k` vectors of length `len` (`len >= k`) stored one after another
/// in `w`, i.e. of the `len x k` matrix whose columns they are (or of its transpose).
/// `w` is overwritten; `out` (length `k`) receives the values in descending order.
/// A matrix with a NaN or infinite entry gives NaN values.
pub fn singular_values(w: &mut [f64], k: usize, len: usize, out: &mut [f64]) {
    jacobi(w, k, len, len, out);
}

/// The Jacobi sweeps behind [`singular_values`], on vectors stored `stride >= len` apart:
/// the rotations see only the first `len` entries of each vector but are applied to all
/// `stride`, so entries `len..stride` holding the identity come out as the right
/// singular vectors. On return vector `order[i]` belongs to `out[i]` (its first `len`
/// entries are `out[i]` times the left singular vector).
pub fn jacobi(w: &mut [f64], k: usize, len: usize, stride: usize, out: &mut [f64]) -> Vec<usize> {
    debug_assert!(w.len() == k * stride && out.len() == k && len >= k && stride >= len);
    let mut order: Vec<usize> = (0..k).collect();
    if k == 0 {
        return order;
    }
    let head = |i: usize| i * stride..i * stride + len;
    let amax = (0..k)
        .flat_map(|i| w[head(i)].iter())
        .fold(0.0f64, |m, &x| if x.abs() > m || x.is_nan() { x.abs() } else { m });
    if !amax.is_finite() {
        out.fill(f64::NAN);
        return order;
    }
    if amax == 0.0 {
        out.fill(0.0);
        return order;
    }
    // Scale entries into [-1, 1] so squared norms neither overflow nor (for the largest
    // values) underflow; the scale is multiplied back at the end.
    for i in 0..k {
        w[head(i)].iter_mut().for_each(|x| *x /= amax);
    }
    let tol = f64::EPSILON * (len as f64).sqrt().max(1.0);
    let mut converged = false;
    for _ in 0..MAX_SWEEPS {
        let mut rotated = false;
        for p in 0..k - 1 {
            let (lo, hi) = w.split_at_mut((p + 1) * stride);
            let vp = &mut lo[p * stride..];
            for q in 0..k - p - 1 {
                let vq = &mut hi[q * stride..(q + 1) * stride];
                if rotate(vp, vq, len, tol) {
                    rotated = true;
                }
            }
        }
        if !rotated {
            converged = true;
            break;
        }
    }
    if !converged {
        out.fill(f64::NAN);
        return order;
    }
    let norms: Vec<f64> = (0..k).map(|i| amax * norm2(&w[head(i)])).collect();
    order.sort_unstable_by(|&a, &b| norms[b].total_cmp(&norms[a]));
    for (o, &i) in out.iter_mut().zip(&order) {
        *o = norms[i];
    }
    for i in 0..k {
        w[head(i)].iter_mut().for_each(|x| *x *= amax);
    }
    order
}

/// One Jacobi rotation of the pair (`p`, `q`) when their first `len` entries are not yet
/// orthogonal (the rotation applies to all entries); returns whether it rotated.
#[inline]
fn rotate(p: &mut [f64], q: &mut [f64], len: usize, tol: f64) -> bool {
    let (mut alpha, mut beta, mut gamma) = (0.0, 0.0, 0.0);
    for (&x, &y) in p[..len].iter().zip(q[..len].iter()) {
        alpha += x * x;
        beta += y * y;
        gamma += x * y;
    }
    if alpha == 0.0 || beta == 0.0 || gamma.abs() <= tol * alpha.sqrt() * beta.sqrt() {
        return false;
    }
    // The rotation that zeroes the off-diagonal entry of the 2x2 Gram matrix
    // [[alpha, gamma], [gamma, beta]] (the smaller of the two angles).
    let zeta = (beta - alpha) / (2.0 * gamma);
    let t = zeta.signum() / (zeta.abs() + 1.0f64.hypot(zeta));
    let c = 1.0 / (1.0 + t * t).sqrt();
    let s = c * t;
    for (x, y) in p.iter_mut().zip(q.iter_mut()) {
        let (a, b) = (*x, *y);
        *x = c * a - s * b;
        *y = s * a + c * b;
    }
    true
}

/// Euclidean norm with a scaling pass, safe for any finite values.
fn norm2(v: &[f64]) -> f64 {
    let m = v.iter().fold(0.0f64, |m, &x| m.max(x.abs()));
    if m == 0.0 {
        return 0.0;
    }
    m * v.iter().map(|&x| (x / m) * (x / m)).sum::<f64>().sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svals(rows: usize, cols: usize, a: &[f64]) -> Vec<f64> {
        // Vectors = columns of the row-major rows x cols matrix (rows >= cols).
        let mut w = vec![0.0; rows * cols];
        for i in 0..rows {
            for j in 0..cols {
                w[j * rows + i] = a[i * cols + j];
            }
        }
        let mut out = vec![0.0; cols];
        singular_values(&mut w, cols, rows, &mut out);
        out
    }

    #[test]
    fn diagonal_and_known_matrices() {
        let s = svals(3, 3, &[3.0, 0.0, 0.0, 0.0, -5.0, 0.0, 0.0, 0.0, 1.0]);
        assert_eq!(s, vec![5.0, 3.0, 1.0]);
        // [[1, 1], [0, 1]]: singular values are the golden ratio and its inverse.
        let s = svals(2, 2, &[1.0, 1.0, 0.0, 1.0]);
        let phi = (1.0 + 5f64.sqrt()) / 2.0;
        assert!((s[0] - phi).abs() < 1e-15 && (s[1] - 1.0 / phi).abs() < 1e-15, "{s:?}");
        // Rank one: [[1, 2], [2, 4], [3, 6]] = u v^T with |u| = sqrt(14), |v| = sqrt(5).
        let s = svals(3, 2, &[1.0, 2.0, 2.0, 4.0, 3.0, 6.0]);
        assert!((s[0] - 70f64.sqrt()).abs() < 1e-14 && s[1].abs() < 1e-14, "{s:?}");
    }

    #[test]
    fn extreme_scales_and_non_finite() {
        let s = svals(2, 2, &[1e300, 0.0, 0.0, 1e-300]);
        assert_eq!(s, vec![1e300, 0.0]); // 1e-300 is below the precision relative to 1e300
        let s = svals(2, 2, &[1e200, 1e200, 0.0, 0.0]);
        assert!((s[0] / (2f64.sqrt() * 1e200) - 1.0).abs() < 1e-15, "{s:?}");
        assert!(svals(2, 2, &[f64::NAN, 0.0, 0.0, 1.0]).iter().all(|x| x.is_nan()));
        assert!(svals(2, 2, &[f64::INFINITY, 0.0, 0.0, 1.0]).iter().all(|x| x.is_nan()));
        assert_eq!(svals(2, 2, &[0.0; 4]), vec![0.0, 0.0]);
    }
}
