//! CPU kernels. Each works on raw pointers plus layouts handed down by `ops/`, reads
//! strided inputs in place and splits large work across the rayon pool.

pub mod axis;
pub mod conv;
pub mod copy;
pub mod elementwise;
pub mod fill;
pub mod fmath;
pub mod gelu;
pub mod gemm;
pub mod matmul;
pub mod num;
pub mod optim;
pub mod pool;
pub mod random;
pub mod reduce;
pub mod resample;
pub mod select;
pub mod simd;
pub mod strided;
pub mod svd;
pub mod transpose;
pub mod vmath;

/// Below this many elements an op stays on the calling thread: a rayon fork/join costs
/// a few microseconds, more than the work it would split.
pub const PARALLEL_MIN: usize = 1 << 15;

/// A raw pointer that may cross into rayon tasks; every task touches disjoint elements.
#[derive(Clone, Copy)]
pub struct SendPtr<T>(pub *mut T);
unsafe impl<T> Send for SendPtr<T> {}
unsafe impl<T> Sync for SendPtr<T> {}

impl<T> SendPtr<T> {
    #[inline(always)]
    pub fn get(self) -> *mut T {
        self.0
    }
}
