//! Kernels that generate values into contiguous memory: ranges and triangle masks.

use super::{SendPtr, PARALLEL_MIN};
use crate::core::Element;

/// `out[i] = f(i)` for a contiguous `out` of `n` elements, split across threads.
///
/// # Safety
/// `out` must be valid for `n` writes.
pub unsafe fn generate<T: Element, F: Fn(usize) -> T + Sync>(out: *mut T, n: usize, f: F) {
    let threads = rayon::current_num_threads();
    if n < PARALLEL_MIN || threads == 1 {
        for i in 0..n {
            *out.add(i) = f(i);
        }
        return;
    }
    let chunk = n.div_ceil(threads * 4);
    let (o, f) = (SendPtr(out), &f);
    rayon::scope(|sc| {
        for lo in (0..n).step_by(chunk) {
            sc.spawn(move |_| {
                let o = o;
                for i in lo..(lo + chunk).min(n) {
                    *o.get().add(i) = f(i);
                }
            });
        }
    });
}

/// Zeroes the elements above (`lower`) or below (`!lower`) diagonal `k` of each
/// `rows x cols` matrix in a contiguous batch.
///
/// # Safety
/// `data` must be valid for `batch * rows * cols` elements.
pub unsafe fn triangle<T: Element>(data: *mut T, batch: usize, rows: usize, cols: usize, k: i64, lower: bool) {
    for b in 0..batch {
        for r in 0..rows {
            let row = data.add((b * rows + r) * cols);
            for c in 0..cols {
                let d = c as i64 - r as i64;
                if (lower && d > k) || (!lower && d < k) {
                    *row.add(c) = T::default();
                }
            }
        }
    }
}
