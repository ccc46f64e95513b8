//! Positions of non-zero elements, the kernel behind boolean masks and `nonzero`.

use crate::core::Element;

/// Flat (C-order) positions of the non-zero elements of a contiguous slice.
pub fn nonzero_flat<T: Element>(data: &[T]) -> Vec<usize> {
    let zero = T::default();
    data.iter().enumerate().filter(|(_, &v)| v != zero).map(|(i, _)| i).collect()
}
