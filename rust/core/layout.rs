//! Layout = shape + strides (in elements; 0 for broadcast, negative for flips) + offset.
//! Every view is a new Layout over the same storage. All stride arithmetic lives here.

use smallvec::SmallVec;

use super::error::{Error, Result};
use crate::bail;

pub type Dims = SmallVec<[usize; 6]>;
pub type Strides = SmallVec<[isize; 6]>;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    pub shape: Dims,
    pub strides: Strides,
    pub offset: usize,
}

/// Elements in `shape`, or a ValueError when the count overflows.
pub fn checked_numel(shape: &[usize]) -> Result<usize> {
    let mut n: usize = 1;
    for &d in shape {
        n = n
            .checked_mul(d)
            .ok_or_else(|| Error::Value(format!("shape {shape:?} has more elements than fit in memory")))?;
    }
    // Byte counts must also fit an isize for pointer arithmetic (8-byte elements at most).
    if n > (isize::MAX as usize) / 8 {
        bail!(Value, "shape {shape:?} has more elements than fit in memory");
    }
    Ok(n)
}

pub fn contiguous_strides(shape: &[usize]) -> Strides {
    let mut strides: Strides = SmallVec::from_elem(0, shape.len());
    let mut acc: isize = 1;
    for i in (0..shape.len()).rev() {
        strides[i] = acc;
        acc = acc.wrapping_mul(shape[i].max(1) as isize);
    }
    strides
}

/// Wraps a possibly negative axis into `0..ndim`.
pub fn normalize_axis(axis: i64, ndim: usize) -> Result<usize> {
    let n = ndim as i64;
    if axis < -n || axis >= n {
        bail!(Index, "axis {axis} is out of range for a tensor with {ndim} dimension(s)");
    }
    Ok(if axis < 0 { (axis + n) as usize } else { axis as usize })
}

/// numpy broadcasting of two shapes.
pub fn broadcast_shapes(a: &[usize], b: &[usize]) -> Result<Dims> {
    let n = a.len().max(b.len());
    let mut out: Dims = SmallVec::from_elem(0, n);
    for i in 0..n {
        let da = if i + a.len() >= n { a[i + a.len() - n] } else { 1 };
        let db = if i + b.len() >= n { b[i + b.len() - n] } else { 1 };
        out[i] = if da == db || db == 1 {
            da
        } else if da == 1 {
            db
        } else {
            bail!(Value, "shapes {a:?} and {b:?} cannot be broadcast together");
        };
    }
    Ok(out)
}

/// Python slice semantics: returns (start, step, len) for `start:stop:step` over `dim`.
pub fn slice_indices(dim: usize, start: Option<i64>, stop: Option<i64>, step: i64) -> Result<(usize, isize, usize)> {
    if step == 0 {
        bail!(Value, "slice step cannot be zero");
    }
    // i128 keeps every intermediate exact for any i64 start/stop/step.
    let (n, step) = (dim as i128, step as i128);
    let (lo, hi) = if step > 0 { (0, n) } else { (-1, n - 1) };
    let norm = |v: Option<i64>, default: i128| match v {
        None => default,
        Some(v) if v < 0 => (v as i128 + n).clamp(lo, hi),
        Some(v) => (v as i128).clamp(lo, hi),
    };
    let (s, e) = if step > 0 { (norm(start, 0), norm(stop, n)) } else { (norm(start, n - 1), norm(stop, -1)) };
    let len = if step > 0 {
        if e > s {
            (e - s + step - 1) / step
        } else {
            0
        }
    } else if s > e {
        (s - e - step - 1) / (-step)
    } else {
        0
    };
    // A step larger than the dim only ever takes one element: clamp so the stride fits.
    let step = step.clamp(-(n.max(1)), n.max(1)) as isize;
    Ok((if len == 0 { 0 } else { s as usize }, step, len as usize))
}

impl Layout {
    pub fn contiguous(shape: &[usize]) -> Result<Layout> {
        checked_numel(shape)?;
        Ok(Layout { shape: shape.into(), strides: contiguous_strides(shape), offset: 0 })
    }

    pub fn ndim(&self) -> usize {
        self.shape.len()
    }

    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }

    /// C-contiguous, ignoring the strides of size-1 dims (as PyTorch and numpy do).
    pub fn is_contiguous(&self) -> bool {
        let mut expected: isize = 1;
        for i in (0..self.ndim()).rev() {
            if self.shape[i] == 0 {
                return true;
            }
            if self.shape[i] != 1 {
                if self.strides[i] != expected {
                    return false;
                }
                expected *= self.shape[i] as isize;
            }
        }
        true
    }

    /// Smallest and one-past-largest element offsets touched (relative to storage start).
    pub fn span(&self) -> (isize, isize) {
        if self.numel() == 0 {
            return (self.offset as isize, self.offset as isize);
        }
        let (mut lo, mut hi) = (self.offset as isize, self.offset as isize);
        for (&d, &s) in self.shape.iter().zip(&self.strides) {
            let ext = (d as isize - 1) * s;
            if ext < 0 {
                lo += ext
            } else {
                hi += ext
            }
        }
        (lo, hi + 1)
    }

    fn axis(&self, axis: i64) -> Result<usize> {
        normalize_axis(axis, self.ndim())
    }

    pub fn permute(&self, axes: &[i64]) -> Result<Layout> {
        let n = self.ndim();
        if axes.len() != n {
            bail!(Value, "permute needs {n} axes for a tensor of shape {:?}, got {axes:?}", self.shape);
        }
        let mut seen = vec![false; n];
        let mut out = self.clone();
        for (i, &a) in axes.iter().enumerate() {
            let a = self.axis(a)?;
            if seen[a] {
                bail!(Value, "permute axes {axes:?} repeat axis {a}");
            }
            seen[a] = true;
            out.shape[i] = self.shape[a];
            out.strides[i] = self.strides[a];
        }
        Ok(out)
    }

    pub fn transpose(&self, a: i64, b: i64) -> Result<Layout> {
        let (a, b) = (self.axis(a)?, self.axis(b)?);
        let mut out = self.clone();
        out.shape.swap(a, b);
        out.strides.swap(a, b);
        Ok(out)
    }

    /// Broadcast to `shape` (numpy rules, new dims on the left) with stride 0.
    pub fn broadcast_to(&self, shape: &[usize]) -> Result<Layout> {
        checked_numel(shape)?;
        let (n, m) = (shape.len(), self.ndim());
        if m > n {
            bail!(Value, "cannot broadcast a tensor of shape {:?} to {shape:?}", self.shape);
        }
        let mut strides: Strides = SmallVec::from_elem(0, n);
        for i in 0..m {
            let (d, want) = (self.shape[i], shape[n - m + i]);
            strides[n - m + i] = if d == want {
                self.strides[i]
            } else if d == 1 {
                0
            } else {
                bail!(Value, "cannot broadcast a tensor of shape {:?} to {shape:?}", self.shape);
            };
        }
        Ok(Layout { shape: shape.into(), strides, offset: self.offset })
    }

    /// `start:stop:step` along `axis` (already normalised by [`slice_indices`]).
    pub fn slice(&self, axis: usize, start: usize, step: isize, len: usize) -> Layout {
        let mut out = self.clone();
        if len > 0 {
            out.offset = (self.offset as isize + start as isize * self.strides[axis]) as usize;
        }
        out.shape[axis] = len;
        out.strides[axis] = self.strides[axis] * step;
        out
    }

    /// Integer index along `axis`: the dim disappears. Negative indices count from the end.
    pub fn select(&self, axis: usize, index: i64) -> Result<Layout> {
        let d = self.shape[axis] as i64;
        if index < -d || index >= d {
            bail!(Index, "index {index} is out of bounds for axis {axis} with size {d}");
        }
        let i = if index < 0 { index + d } else { index };
        let mut out = self.clone();
        out.offset = (self.offset as isize + i as isize * self.strides[axis]) as usize;
        out.shape.remove(axis);
        out.strides.remove(axis);
        Ok(out)
    }

    pub fn narrow(&self, axis: i64, start: i64, length: usize) -> Result<Layout> {
        let a = self.axis(axis)?;
        let d = self.shape[a] as i64;
        let s = if start < 0 { start + d } else { start };
        if s < 0 || s > d || (s as usize).checked_add(length).is_none_or(|end| end > d as usize) {
            bail!(Index, "narrow({start}, {length}) is out of range for axis {a} of size {d}");
        }
        Ok(self.slice(a, s as usize, 1, length))
    }

    /// New size-1 dim at `axis` (in `0..=ndim`, negative counts from the end).
    pub fn unsqueeze(&self, axis: i64) -> Result<Layout> {
        let a = normalize_axis(axis, self.ndim() + 1)?;
        let mut out = self.clone();
        let stride = if a < self.ndim() { self.strides[a] * self.shape[a] as isize } else { 1 };
        out.shape.insert(a, 1);
        out.strides.insert(a, stride);
        Ok(out)
    }

    /// Drop the given size-1 axes (all size-1 axes when `axes` is None).
    pub fn squeeze(&self, axes: Option<&[i64]>) -> Result<Layout> {
        let mut drop = vec![false; self.ndim()];
        match axes {
            None => (0..self.ndim()).for_each(|i| drop[i] = self.shape[i] == 1),
            Some(axes) => {
                for &a in axes {
                    let a = self.axis(a)?;
                    if self.shape[a] != 1 {
                        bail!(Value, "cannot squeeze axis {a} of size {} in shape {:?}", self.shape[a], self.shape);
                    }
                    drop[a] = true;
                }
            }
        }
        let mut out = Layout { shape: Dims::new(), strides: Strides::new(), offset: self.offset };
        for (i, &gone) in drop.iter().enumerate() {
            if !gone {
                out.shape.push(self.shape[i]);
                out.strides.push(self.strides[i]);
            }
        }
        Ok(out)
    }

    pub fn flip(&self, axes: &[i64]) -> Result<Layout> {
        let mut out = self.clone();
        for &a in axes {
            let a = self.axis(a)?;
            if out.shape[a] > 0 {
                out.offset = (out.offset as isize + (out.shape[a] as isize - 1) * out.strides[a]) as usize;
            }
            out.strides[a] = -out.strides[a];
        }
        Ok(out)
    }

    /// The diagonal between `axis1` and `axis2`, appended as the last dim (numpy's order).
    pub fn diagonal(&self, offset: i64, axis1: i64, axis2: i64) -> Result<Layout> {
        let (a, b) = (self.axis(axis1)?, self.axis(axis2)?);
        if a == b {
            bail!(Value, "diagonal needs two different axes, got {axis1} and {axis2}");
        }
        let (da, db) = (self.shape[a] as i64, self.shape[b] as i64);
        let len = if offset >= 0 { db.saturating_sub(offset).min(da) } else { da.saturating_add(offset).min(db) }.max(0)
            as usize;
        let mut base = self.offset as isize;
        if len > 0 {
            // len > 0 bounds |offset| by the axis sizes, so these products fit.
            base += if offset >= 0 { offset as isize * self.strides[b] } else { -(offset as isize) * self.strides[a] };
        }
        let mut out = Layout { shape: Dims::new(), strides: Strides::new(), offset: base as usize };
        for i in 0..self.ndim() {
            if i != a && i != b {
                out.shape.push(self.shape[i]);
                out.strides.push(self.strides[i]);
            }
        }
        out.shape.push(len);
        out.strides.push(self.strides[a] + self.strides[b]);
        Ok(out)
    }

    /// PyTorch's `unfold`: windows of `size` every `step` along `axis`, as a new last dim.
    pub fn unfold(&self, axis: i64, size: usize, step: usize) -> Result<Layout> {
        let a = self.axis(axis)?;
        if step == 0 {
            bail!(Value, "unfold step must be positive");
        }
        if size > self.shape[a] {
            bail!(Value, "unfold size {size} exceeds axis {a} of size {}", self.shape[a]);
        }
        let mut out = self.clone();
        out.shape[a] = (self.shape[a] - size) / step + 1;
        out.strides[a] = self.strides[a] * step as isize;
        out.shape.push(size);
        out.strides.push(self.strides[a]);
        Ok(out)
    }

    /// Strides for viewing this layout as `shape` without copying, if the strides allow it
    /// (PyTorch's rule: each run of merged old dims must be contiguous within itself).
    pub fn view_as(&self, shape: &[usize]) -> Option<Layout> {
        let numel = self.numel();
        let n = shape.len();
        if numel == 0 || self.ndim() == 0 {
            return Some(Layout { shape: shape.into(), strides: contiguous_strides(shape), offset: self.offset });
        }
        let mut strides: Strides = SmallVec::from_elem(0, n);
        let mut view_d = n as isize - 1;
        let mut chunk_base = *self.strides.last().unwrap();
        let (mut tensor_numel, mut view_numel) = (1usize, 1usize);
        for td in (0..self.ndim()).rev() {
            tensor_numel *= self.shape[td];
            let boundary =
                td == 0 || (self.shape[td - 1] != 1 && self.strides[td - 1] != tensor_numel as isize * chunk_base);
            if boundary {
                while view_d >= 0 && (view_numel < tensor_numel || shape[view_d as usize] == 1) {
                    strides[view_d as usize] = view_numel as isize * chunk_base;
                    view_numel *= shape[view_d as usize];
                    view_d -= 1;
                }
                if view_numel != tensor_numel {
                    return None;
                }
                if td > 0 {
                    chunk_base = self.strides[td - 1];
                    tensor_numel = 1;
                    view_numel = 1;
                }
            }
        }
        if view_d != -1 {
            return None;
        }
        Some(Layout { shape: shape.into(), strides, offset: self.offset })
    }
}

/// Resolve one `-1` in a requested shape against `numel`, checking the total.
pub fn infer_shape(requested: &[i64], numel: usize, from: &[usize]) -> Result<Dims> {
    let mut out: Dims = SmallVec::with_capacity(requested.len());
    let mut infer = None;
    let mut known: usize = 1;
    for (i, &d) in requested.iter().enumerate() {
        if d == -1 {
            if infer.is_some() {
                bail!(Value, "only one dimension can be -1 in shape {requested:?}");
            }
            infer = Some(i);
            out.push(1);
        } else if d < 0 {
            bail!(Value, "invalid dimension {d} in shape {requested:?}");
        } else {
            known = known
                .checked_mul(d as usize)
                .ok_or_else(|| Error::Value(format!("shape {requested:?} is too large")))?;
            out.push(d as usize);
        }
    }
    match infer {
        Some(i) if known != 0 && numel % known == 0 => out[i] = numel / known,
        None if known == numel => {}
        _ => bail!(Value, "cannot reshape a tensor of shape {from:?} ({numel} elements) into shape {requested:?}"),
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(shape: &[usize]) -> Layout {
        Layout::contiguous(shape).unwrap()
    }

    #[test]
    fn contiguous_and_strides() {
        let a = l(&[2, 3, 4]);
        assert_eq!(a.strides.as_slice(), &[12, 4, 1]);
        assert!(a.is_contiguous());
        assert!(!a.permute(&[2, 1, 0]).unwrap().is_contiguous());
        assert!(l(&[1, 5]).transpose(0, 1).unwrap().is_contiguous());
    }

    #[test]
    fn broadcasting() {
        assert_eq!(broadcast_shapes(&[3, 1], &[4]).unwrap().as_slice(), &[3, 4]);
        assert!(broadcast_shapes(&[3], &[4]).is_err());
        let b = l(&[3, 1]).broadcast_to(&[2, 3, 5]).unwrap();
        assert_eq!(b.strides.as_slice(), &[0, 1, 0]);
    }

    #[test]
    fn slices_follow_python() {
        assert_eq!(slice_indices(10, None, None, -1).unwrap(), (9, -1, 10));
        assert_eq!(slice_indices(10, Some(-3), None, 1).unwrap(), (7, 1, 3));
        assert_eq!(slice_indices(10, Some(8), Some(2), -3).unwrap(), (8, -3, 2));
        assert_eq!(slice_indices(5, Some(7), Some(9), 1).unwrap().2, 0);
        assert!(slice_indices(5, None, None, 0).is_err());
    }

    #[test]
    fn view_composition() {
        // permute -> flip -> slice -> view
        let a = l(&[4, 6]).permute(&[1, 0]).unwrap().flip(&[0]).unwrap();
        assert_eq!(a.offset, 5);
        assert_eq!(a.strides.as_slice(), &[-1, 6]);
        let s = a.slice(1, 1, 2, 2);
        assert_eq!(s.offset, 11);
        assert_eq!(s.span(), (6, 24));
        // a transposed layout cannot be flattened without a copy, a contiguous one can
        assert!(l(&[4, 6]).permute(&[1, 0]).unwrap().view_as(&[24]).is_none());
        assert_eq!(l(&[4, 6]).view_as(&[2, 12]).unwrap().strides.as_slice(), &[12, 1]);
        // splitting a transposed dim is fine
        let t = l(&[4, 6]).permute(&[1, 0]).unwrap();
        assert_eq!(t.view_as(&[2, 3, 4]).unwrap().strides.as_slice(), &[3, 1, 6]);
    }

    #[test]
    fn diagonal_and_unfold() {
        let d = l(&[3, 4]).diagonal(1, 0, 1).unwrap();
        assert_eq!((d.shape.as_slice(), d.strides.as_slice(), d.offset), (&[3usize][..], &[5isize][..], 1));
        let u = l(&[10]).unfold(0, 3, 2).unwrap();
        assert_eq!(u.shape.as_slice(), &[4, 3]);
        assert_eq!(u.strides.as_slice(), &[2, 1]);
    }

    #[test]
    fn infer_minus_one() {
        assert_eq!(infer_shape(&[-1, 4], 12, &[12]).unwrap().as_slice(), &[3, 4]);
        assert!(infer_shape(&[-1, 5], 12, &[12]).is_err());
        assert!(infer_shape(&[-1, -1], 12, &[12]).is_err());
    }
}
