//! Iteration over N same-shaped operands with arbitrary strides (operand 0 is the output).
//! Dims are ordered by the output's strides and merged where every operand is contiguous
//! across them, so a contiguous or broadcast op becomes one long line; the line callback
//! then picks its fast path from the inner strides (1 = contiguous, 0 = broadcast).

use smallvec::SmallVec;

use super::{SendPtr, PARALLEL_MIN};
use crate::core::Dims;

#[derive(Clone, Debug)]
pub struct MultiPlan<const N: usize> {
    pub shape: Dims,
    /// Element strides, `strides[dim][operand]`.
    pub strides: SmallVec<[[isize; N]; 6]>,
}

impl<const N: usize> MultiPlan<N> {
    pub fn new(shape: &[usize], strides: [&[isize]; N]) -> Self {
        let mut order: SmallVec<[usize; 6]> = (0..shape.len()).filter(|&i| shape[i] != 1).collect();
        // Outermost first by the output's stride, then by the inputs'.
        order.sort_by_key(|&i| std::cmp::Reverse(strides.map(|s| s[i].unsigned_abs())));
        let mut p = MultiPlan { shape: Dims::new(), strides: SmallVec::new() };
        for &i in &order {
            let s: [isize; N] = strides.map(|st| st[i]);
            if let Some(last) = p.strides.last_mut() {
                let d = shape[i] as isize;
                if (0..N).all(|k| last[k] == s[k] * d) {
                    *p.shape.last_mut().expect("shape and strides have equal length") *= shape[i];
                    *last = s;
                    continue;
                }
            }
            p.shape.push(shape[i]);
            p.strides.push(s);
        }
        p
    }

    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }

    /// Calls `line(n, ptrs, strides)` for every innermost line, where `ptrs` are the
    /// element pointers (as byte addresses) of each operand at the line's start and
    /// `strides` the element strides along it. Splits dim 0 across threads when large.
    ///
    /// # Safety
    /// `bases` must point at element (0, ..., 0) of each operand, with `sizes` the element
    /// sizes, such that every addressed element is in bounds; output lines must not alias.
    pub unsafe fn for_each_line<F>(&self, bases: [*mut u8; N], sizes: [usize; N], line: F)
    where
        F: Fn(usize, [*mut u8; N], [isize; N]) + Sync,
    {
        let total = self.numel();
        if total == 0 {
            return;
        }
        let nd = self.shape.len();
        if nd == 0 {
            return line(1, bases, [0; N]);
        }
        let threads = rayon::current_num_threads();
        let aliased_out = self.strides.iter().any(|s| s[0] == 0);
        if total < PARALLEL_MIN || threads == 1 || aliased_out {
            return self.run(0, self.shape[0], bases, sizes, &line);
        }
        let d0 = self.shape[0];
        let chunk = d0.div_ceil(threads * 4).max(1);
        let bases = bases.map(SendPtr);
        let line = &line;
        rayon::scope(|sc| {
            for start in (0..d0).step_by(chunk) {
                sc.spawn(move |_| {
                    let b = bases.map(|p| p.get());
                    self.run(start, (start + chunk).min(d0), b, sizes, line)
                });
            }
        });
    }

    /// Lines for dim-0 indices `lo..hi` (dim 0 itself is the line when the plan is 1-D).
    ///
    /// # Safety
    /// As for [`MultiPlan::for_each_line`], restricted to that range of dim 0.
    pub unsafe fn run<F>(&self, lo: usize, hi: usize, bases: [*mut u8; N], sizes: [usize; N], line: &F)
    where
        F: Fn(usize, [*mut u8; N], [isize; N]),
    {
        let nd = self.shape.len();
        if nd == 0 {
            // Every dim had size 1: a single element.
            return line(1, bases, [0; N]);
        }
        let byte = |k: usize, elems: isize| elems * sizes[k] as isize;
        if nd == 1 {
            let ptrs: [*mut u8; N] =
                std::array::from_fn(|k| bases[k].offset(byte(k, lo as isize * self.strides[0][k])));
            return line(hi - lo, ptrs, self.strides[0]);
        }
        let inner = self.strides[nd - 1];
        let n_inner = self.shape[nd - 1];
        let outer = &self.shape[..nd - 1];
        let mut idx: SmallVec<[usize; 6]> = SmallVec::from_elem(0, nd - 1);
        idx[0] = lo;
        let mut off: [isize; N] = std::array::from_fn(|k| lo as isize * self.strides[0][k]);
        let count = (hi - lo) * outer[1..].iter().product::<usize>();
        for _ in 0..count {
            let ptrs: [*mut u8; N] = std::array::from_fn(|k| bases[k].offset(byte(k, off[k])));
            line(n_inner, ptrs, inner);
            for d in (0..nd - 1).rev() {
                idx[d] += 1;
                for (k, o) in off.iter_mut().enumerate() {
                    *o += self.strides[d][k];
                }
                if idx[d] < outer[d] || d == 0 {
                    break;
                }
                for (k, o) in off.iter_mut().enumerate() {
                    *o -= self.strides[d][k] * outer[d] as isize;
                }
                idx[d] = 0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_contiguous_and_broadcast_dims() {
        let p = MultiPlan::<3>::new(&[4, 5, 6], [&[30, 6, 1], &[30, 6, 1], &[0, 0, 0]]);
        assert_eq!(p.shape.as_slice(), &[120]);
        assert_eq!(p.strides[0], [1, 1, 0]);
    }

    #[test]
    fn visits_every_element_once() {
        // out (3, 4) contiguous, input transposed
        let p = MultiPlan::<2>::new(&[3, 4], [&[4, 1], &[1, 3]]);
        let src: Vec<i32> = (0..12).collect();
        let mut out = vec![-1i32; 12];
        unsafe {
            p.for_each_line([out.as_mut_ptr() as *mut u8, src.as_ptr() as *mut u8], [4, 4], |n, ptr, st| {
                for i in 0..n as isize {
                    *(ptr[0] as *mut i32).offset(i * st[0]) = *(ptr[1] as *const i32).offset(i * st[1]);
                }
            })
        };
        assert_eq!(out, vec![0, 3, 6, 9, 1, 4, 7, 10, 2, 5, 8, 11]);
    }
}
