//! PyTorch's `scatter_add_`: `out[idx]` accumulates `src` along `dim`, where the index
//! of each element of `src` along `dim` is replaced by `index`'s value there. Runs
//! serially in `index` order, so duplicate indices accumulate deterministically.

use crate::bail;
use crate::core::{normalize_axis, DType, Result, Tensor};
use crate::cpu::num::Num;
use crate::ops::copy::{astype, contiguous};
use crate::with_dtype;

pub fn scatter_add(out: &Tensor, dim: i64, index: &Tensor, src: &Tensor) -> Result<()> {
    crate::ops::device::cpu_only("scatter_add", &[out, index, src])?;
    out.check_writable()?;
    let nd = out.ndim();
    let d = normalize_axis(dim, nd.max(1))?;
    if index.ndim() != nd || src.ndim() != nd {
        bail!(
            Value,
            "scatter_add: out, index and src need the same number of dims, got {:?}, {:?}, {:?}",
            out.shape(),
            index.shape(),
            src.shape()
        );
    }
    for k in 0..nd {
        if index.shape()[k] > src.shape()[k] || (k != d && index.shape()[k] > out.shape()[k]) {
            bail!(
                Value,
                "scatter_add: index of shape {:?} does not fit src {:?} / out {:?}",
                index.shape(),
                src.shape(),
                out.shape()
            );
        }
    }
    if !index.dtype().is_int() {
        bail!(Type, "scatter_add: index must be an integer tensor, got {}", index.dtype());
    }
    let idx = astype(index, DType::I64)?;
    let src = if src.dtype() == out.dtype() { src.clone() } else { astype(src, out.dtype())? };
    let src = if src.may_overlap(out) { crate::ops::copy::contiguous_copy(&src)? } else { contiguous(&src)? };
    let shape = idx.shape().to_vec();
    let n: usize = shape.iter().product();
    if n == 0 {
        return Ok(());
    }
    let limit = out.shape()[d] as i64;
    // SAFETY: idx is a fresh contiguous int64 tensor.
    let iv = unsafe { std::slice::from_raw_parts(idx.data_ptr() as *const i64, n) };
    if let Some(bad) = iv.iter().find(|&&v| v < -limit || v >= limit) {
        bail!(Index, "scatter_add: index {bad} is out of bounds for dim {d} with size {limit}");
    }
    let (os, ss) = (out.strides().to_vec(), src.strides().to_vec());
    with_dtype!(out.dtype(), T => unsafe {
        let (po, ps) = (out.data_ptr() as *mut T, src.data_ptr() as *const T);
        let mut coord = vec![0usize; nd];
        for &v in iv.iter() {
            let target = if v < 0 { v + limit } else { v } as usize;
            let (mut oo, mut so) = (0isize, 0isize);
            for k in 0..nd {
                let c = if k == d { target } else { coord[k] };
                oo += c as isize * os[k];
                so += coord[k] as isize * ss[k];
            }
            let q = po.offset(oo);
            *q = <T as Num>::add(*q, *ps.offset(so));
            for k in (0..nd).rev() {
                coord[k] += 1;
                if coord[k] < shape[k] {
                    break;
                }
                coord[k] = 0;
            }
        }
    });
    Ok(())
}
