//! Views: new layouts over the same storage. Nothing here copies, except `reshape` when
//! the strides cannot express the new shape (as in numpy and PyTorch).

use crate::bail;
use crate::core::{layout::infer_shape, Layout, Result, Tensor};

impl Tensor {
    pub fn permute(&self, axes: &[i64]) -> Result<Tensor> {
        Ok(self.with_layout(self.layout().permute(axes)?))
    }

    pub fn transpose(&self, a: i64, b: i64) -> Result<Tensor> {
        Ok(self.with_layout(self.layout().transpose(a, b)?))
    }

    /// All axes reversed (`.T`).
    pub fn reversed_axes(&self) -> Tensor {
        let axes: Vec<i64> = (0..self.ndim() as i64).rev().collect();
        self.permute(&axes).expect("a reversal is a valid permutation")
    }

    /// Swap the last two axes (`.mT`).
    pub fn matrix_transpose(&self) -> Result<Tensor> {
        if self.ndim() < 2 {
            bail!(Value, "mT needs at least 2 dimensions, got shape {:?}", self.shape());
        }
        self.transpose(-2, -1)
    }

    pub fn broadcast_to(&self, shape: &[usize]) -> Result<Tensor> {
        Ok(self.with_layout(self.layout().broadcast_to(shape)?))
    }

    /// PyTorch's `expand`: like `broadcast_to`, where -1 keeps a dim.
    pub fn expand(&self, sizes: &[i64]) -> Result<Tensor> {
        let n = sizes.len();
        if n < self.ndim() {
            bail!(Value, "expand needs at least {} sizes for shape {:?}, got {sizes:?}", self.ndim(), self.shape());
        }
        let mut shape = Vec::with_capacity(n);
        for (i, &s) in sizes.iter().enumerate() {
            let lead = n - self.ndim();
            if s == -1 {
                if i < lead {
                    bail!(Value, "expand: -1 is not allowed for new leading dimension {i}");
                }
                shape.push(self.shape()[i - lead]);
            } else if s < 0 {
                bail!(Value, "expand: invalid size {s}");
            } else {
                shape.push(s as usize);
            }
        }
        self.broadcast_to(&shape)
    }

    pub fn unsqueeze(&self, axis: i64) -> Result<Tensor> {
        Ok(self.with_layout(self.layout().unsqueeze(axis)?))
    }

    pub fn squeeze(&self, axes: Option<&[i64]>) -> Result<Tensor> {
        Ok(self.with_layout(self.layout().squeeze(axes)?))
    }

    pub fn flip(&self, axes: &[i64]) -> Result<Tensor> {
        Ok(self.with_layout(self.layout().flip(axes)?))
    }

    pub fn narrow(&self, axis: i64, start: i64, length: usize) -> Result<Tensor> {
        Ok(self.with_layout(self.layout().narrow(axis, start, length)?))
    }

    pub fn select(&self, axis: i64, index: i64) -> Result<Tensor> {
        let a = crate::core::normalize_axis(axis, self.ndim())?;
        Ok(self.with_layout(self.layout().select(a, index)?))
    }

    pub fn diagonal(&self, offset: i64, axis1: i64, axis2: i64) -> Result<Tensor> {
        Ok(self.with_layout(self.layout().diagonal(offset, axis1, axis2)?))
    }

    pub fn unfold(&self, axis: i64, size: usize, step: usize) -> Result<Tensor> {
        Ok(self.with_layout(self.layout().unfold(axis, size, step)?))
    }

    /// A view with the new shape, or an error when the strides do not allow one.
    pub fn view(&self, shape: &[i64]) -> Result<Tensor> {
        let shape = infer_shape(shape, self.numel(), self.shape())?;
        match self.layout().view_as(&shape) {
            Some(l) => Ok(self.with_layout(l)),
            None => bail!(
                Runtime,
                "view of shape {shape:?} is not possible for a tensor of shape {:?} with strides {:?}: use reshape() (which copies) or contiguous() first",
                self.shape(),
                self.strides()
            ),
        }
    }

    /// A view when the strides allow, else a contiguous copy.
    pub fn reshape(&self, shape: &[i64]) -> Result<Tensor> {
        let shape = infer_shape(shape, self.numel(), self.shape())?;
        match self.layout().view_as(&shape) {
            Some(l) => Ok(self.with_layout(l)),
            None => {
                let c = crate::ops::copy::contiguous_copy(self)?;
                Ok(c.with_layout(Layout::contiguous(&shape)?))
            }
        }
    }

    /// Flatten axes `start..=end` into one.
    pub fn flatten(&self, start: i64, end: i64) -> Result<Tensor> {
        if self.ndim() == 0 {
            return self.reshape(&[1]);
        }
        let s = crate::core::normalize_axis(start, self.ndim())?;
        let e = crate::core::normalize_axis(end, self.ndim())?;
        if s > e {
            bail!(Value, "flatten: start axis {start} comes after end axis {end}");
        }
        let mut shape: Vec<i64> = self.shape()[..s].iter().map(|&d| d as i64).collect();
        shape.push(self.shape()[s..=e].iter().product::<usize>() as i64);
        shape.extend(self.shape()[e + 1..].iter().map(|&d| d as i64));
        self.reshape(&shape)
    }

    /// Split axis `axis` into `sizes` (one may be -1).
    pub fn unflatten(&self, axis: i64, sizes: &[i64]) -> Result<Tensor> {
        let a = crate::core::normalize_axis(axis, self.ndim())?;
        let inner = infer_shape(sizes, self.shape()[a], &self.shape()[a..=a])?;
        let mut shape: Vec<i64> = self.shape()[..a].iter().map(|&d| d as i64).collect();
        shape.extend(inner.iter().map(|&d| d as i64));
        shape.extend(self.shape()[a + 1..].iter().map(|&d| d as i64));
        self.reshape(&shape)
    }
}
