//! numpy indexing. Basic items (ints, slices, None, ...) only build a view; integer and
//! boolean index tensors ("advanced" indices) gather into a new tensor, or scatter on
//! assignment, through the offset-table copy kernel.

use crate::bail;
use crate::core::{layout::slice_indices, DType, Dims, Element, Layout, Result, Strides, Tensor};
use crate::ops::copy::{assign, astype, contiguous, gather_blocks, scatter_blocks};
use crate::with_dtype;

#[derive(Clone)]
pub enum IndexItem {
    Int(i64),
    Slice(Option<i64>, Option<i64>, i64),
    NewAxis,
    Ellipsis,
    /// An integer or boolean tensor.
    Tensor(Tensor),
}

/// The outcome of applying the basic part of an index: a view whose dims at `adv_dims`
/// are still to be indexed by the matching tensors.
struct Resolved {
    view: Tensor,
    adv_dims: Vec<usize>,
    adv_index: Vec<Tensor>,
}

fn consumed(item: &IndexItem) -> usize {
    match item {
        IndexItem::Int(_) | IndexItem::Slice(..) => 1,
        IndexItem::Tensor(t) if t.dtype() == DType::Bool => t.ndim(),
        IndexItem::Tensor(_) => 1,
        IndexItem::NewAxis | IndexItem::Ellipsis => 0,
    }
}

/// A vector of `n` copies of `v`, or a MemoryError instead of an abort.
fn try_filled<T: Clone>(n: usize, v: T) -> Result<Vec<T>> {
    let mut out = Vec::new();
    out.try_reserve_exact(n)
        .map_err(|_| crate::core::Error::OutOfMemory(format!("cannot allocate an index table of {n} entries")))?;
    out.resize(n, v);
    Ok(out)
}

/// Index values of an integer tensor as i64, in C order.
fn index_values(t: &Tensor) -> Result<Vec<i64>> {
    if !t.dtype().is_int() {
        bail!(Index, "tensors used as indices must be integer or boolean, got {}", t.dtype());
    }
    // A GPU index tensor is read back: offsets are built and bounds-checked on the host
    // (a synchronisation, as for PyTorch's boolean masks).
    let c = astype(&crate::ops::copy::on_cpu(t)?, DType::I64)?;
    // SAFETY: a fresh contiguous int64 tensor of c.numel() elements.
    Ok(unsafe { std::slice::from_raw_parts(c.data_ptr() as *const i64, c.numel()) }.to_vec())
}

/// Per-dim coordinates of the true elements of a tensor (numpy `nonzero`): int64 CPU
/// tensors, or int32 tensors on a GPU tensor's device (its values are read back and the
/// coordinates uploaded: the result's size depends on the data).
pub fn nonzero(t: &Tensor) -> Result<Vec<Tensor>> {
    let coords = nonzero_host(t)?;
    match t.device() {
        crate::core::Device::Gpu(i) => {
            coords.iter().map(|c| crate::gpu::upload(&astype(c, DType::I32)?, i)).collect::<Result<Vec<_>>>()
        }
        crate::core::Device::Cpu => Ok(coords),
    }
}

/// [`nonzero`] as int64 CPU tensors whatever `t`'s device.
fn nonzero_host(t: &Tensor) -> Result<Vec<Tensor>> {
    let c = contiguous(&crate::ops::copy::on_cpu(t)?)?;
    let flat = with_dtype!(c.dtype(), T => {
        let s = unsafe { std::slice::from_raw_parts(c.data_ptr() as *const T, c.numel()) };
        crate::cpu::select::nonzero_flat(s)
    });
    let shape = t.shape();
    let mut out = Vec::with_capacity(shape.len());
    for k in 0..shape.len() {
        let inner: usize = shape[k + 1..].iter().product();
        let coords: Vec<i64> = flat.iter().map(|&f| ((f / inner.max(1)) % shape[k]) as i64).collect();
        out.push(Tensor::from_vec(&coords, &[coords.len()])?);
    }
    Ok(out)
}

fn resolve(t: &Tensor, items: &[IndexItem]) -> Result<Resolved> {
    let ndim = t.ndim();
    let used: usize = items.iter().map(consumed).sum();
    if items.iter().filter(|i| matches!(i, IndexItem::Ellipsis)).count() > 1 {
        bail!(Index, "an index can only have a single ellipsis ('...')");
    }
    if used > ndim {
        bail!(Index, "too many indices for a tensor of dimension {ndim} (shape {:?})", t.shape());
    }
    let advanced = items.iter().any(|i| matches!(i, IndexItem::Tensor(_)));
    let src = t.layout();
    let (mut shape, mut strides) = (Dims::new(), Strides::new());
    let mut offset = src.offset as isize;
    let (mut adv_dims, mut adv_index) = (Vec::new(), Vec::new());
    let mut d = 0usize;
    let keep = |shape: &mut Dims, strides: &mut Strides, d: usize| {
        shape.push(src.shape[d]);
        strides.push(src.strides[d]);
    };
    for item in items {
        match item {
            IndexItem::Int(i) if !advanced => {
                let n = src.shape[d] as i64;
                if *i < -n || *i >= n {
                    bail!(Index, "index {i} is out of bounds for axis {d} with size {n}");
                }
                offset += (if *i < 0 { i + n } else { *i }) as isize * src.strides[d];
                d += 1;
            }
            IndexItem::Int(i) => {
                adv_dims.push(shape.len());
                adv_index.push(Tensor::from_vec(&[*i], &[])?);
                keep(&mut shape, &mut strides, d);
                d += 1;
            }
            IndexItem::Slice(start, stop, step) => {
                let (s, st, len) = slice_indices(src.shape[d], *start, *stop, *step)?;
                if len > 0 {
                    offset += s as isize * src.strides[d];
                }
                shape.push(len);
                strides.push(src.strides[d] * st);
                d += 1;
            }
            IndexItem::NewAxis => {
                shape.push(1);
                strides.push(0);
            }
            IndexItem::Ellipsis => {
                for _ in 0..ndim - used {
                    keep(&mut shape, &mut strides, d);
                    d += 1;
                }
            }
            IndexItem::Tensor(ix) if ix.dtype() == DType::Bool && ix.ndim() == 0 => {
                // a[True] adds a length-1 axis, a[False] an empty one (numpy).
                let on = crate::ops::copy::item(ix)?.to_i64() != 0;
                let idx: Vec<i64> = if on { vec![0] } else { vec![] };
                adv_dims.push(shape.len());
                adv_index.push(Tensor::from_vec(&idx, &[idx.len()])?);
                shape.push(1);
                strides.push(0);
            }
            IndexItem::Tensor(ix) if ix.dtype() == DType::Bool => {
                let k = ix.ndim();
                if ix.shape() != &src.shape[d..d + k] {
                    bail!(
                        Index,
                        "boolean index of shape {:?} does not match the indexed dims {:?} (from axis {d})",
                        ix.shape(),
                        &src.shape[d..d + k]
                    );
                }
                for coords in nonzero_host(ix)? {
                    adv_dims.push(shape.len());
                    adv_index.push(coords);
                    keep(&mut shape, &mut strides, d);
                    d += 1;
                }
            }
            IndexItem::Tensor(ix) => {
                adv_dims.push(shape.len());
                adv_index.push(ix.clone());
                keep(&mut shape, &mut strides, d);
                d += 1;
            }
        }
    }
    while d < ndim {
        keep(&mut shape, &mut strides, d);
        d += 1;
    }
    let view = t.with_layout(Layout { shape, strides, offset: offset as usize });
    Ok(Resolved { view, adv_dims, adv_index })
}

/// The advanced part of an index, resolved to absolute storage offsets.
struct Advanced {
    /// Broadcast shape of the index tensors.
    bshape: Dims,
    /// One absolute element offset per broadcast position (C order).
    offsets: Vec<isize>,
    /// The dims not indexed by tensors, as a layout into storage (offset unused).
    rest: Layout,
    /// Where the broadcast dims go in the result.
    insert_at: usize,
}

fn advanced(r: &Resolved) -> Result<Advanced> {
    let mut bshape = Dims::new();
    for ix in &r.adv_index {
        bshape = crate::core::broadcast_shapes(&bshape, ix.shape()).map_err(|_| {
            crate::core::Error::Index(format!(
                "index tensors of shapes {:?} cannot be broadcast together",
                r.adv_index.iter().map(|t| t.shape().to_vec()).collect::<Vec<_>>()
            ))
        })?;
    }
    let nb = crate::core::layout::checked_numel(&bshape)?;
    let vl = r.view.layout();
    let mut offsets = try_filled(nb, vl.offset as isize)?;
    for (ix, &dim) in r.adv_index.iter().zip(&r.adv_dims) {
        let vals = index_values(&ix.broadcast_to(&bshape)?)?;
        let (n, stride) = (vl.shape[dim] as i64, vl.strides[dim]);
        for (o, &v) in offsets.iter_mut().zip(&vals) {
            if v < -n || v >= n {
                bail!(Index, "index {v} is out of bounds for axis {dim} with size {n}");
            }
            *o += (if v < 0 { v + n } else { v }) as isize * stride;
        }
    }
    let (mut shape, mut strides) = (Dims::new(), Strides::new());
    for d in 0..vl.ndim() {
        if !r.adv_dims.contains(&d) {
            shape.push(vl.shape[d]);
            strides.push(vl.strides[d]);
        }
    }
    let adjacent = r.adv_dims.windows(2).all(|w| w[1] == w[0] + 1);
    let insert_at = if adjacent { r.adv_dims[0] } else { 0 };
    Ok(Advanced { bshape, offsets, rest: Layout { shape, strides, offset: 0 }, insert_at })
}

impl Advanced {
    /// The offsets as a uint32 tensor on GPU `index` (the gather/scatter shaders' table).
    fn offset_table(&self, index: u32) -> Result<Tensor> {
        let words: Vec<u32> = self
            .offsets
            .iter()
            .map(|&o| {
                i32::try_from(o).map(|v| v as u32).map_err(|_| {
                    crate::core::Error::Value(format!("offset {o} does not fit the GPU's 32-bit index arithmetic"))
                })
            })
            .collect::<Result<_>>()?;
        crate::gpu::upload(&Tensor::from_vec(&words, &[words.len()])?, index)
    }

    fn result_shape(&self) -> Dims {
        let mut s: Dims = self.rest.shape[..self.insert_at].into();
        s.extend(self.bshape.iter().copied());
        s.extend(self.rest.shape[self.insert_at..].iter().copied());
        s
    }

    /// For a contiguous tensor of the result shape: the stride of one broadcast position
    /// and the layout of the remaining dims.
    fn result_parts(&self, result: &Layout) -> (isize, Layout) {
        let nb = self.bshape.len();
        let block_stride = result.shape[self.insert_at + nb..].iter().product::<usize>() as isize;
        let (mut shape, mut strides) = (Dims::new(), Strides::new());
        for d in (0..self.insert_at).chain(self.insert_at + nb..result.ndim()) {
            shape.push(result.shape[d]);
            strides.push(result.strides[d]);
        }
        (block_stride, Layout { shape, strides, offset: result.offset })
    }
}

/// `t[items]`: a view for basic indices, a new tensor when any index is a tensor.
pub fn index(t: &Tensor, items: &[IndexItem]) -> Result<Tensor> {
    let r = resolve(t, items)?;
    if r.adv_dims.is_empty() {
        return Ok(r.view);
    }
    let adv = advanced(&r)?;
    if let crate::core::Device::Gpu(i) = t.device() {
        let out = crate::gpu::empty(&adv.result_shape(), t.dtype(), i)?;
        crate::gpu::gather(&out, &r.view, &adv.offset_table(i)?, &adv.rest, adv.insert_at)?;
        return Ok(out);
    }
    let out = Tensor::for_overwrite(&adv.result_shape(), t.dtype())?;
    let (block_stride, out_inner) = adv.result_parts(out.layout());
    gather_blocks(&r.view, &adv.offsets, &adv.rest, &out, block_stride, &out_inner);
    Ok(out)
}

/// `t[items] = value`, broadcasting `value` and casting it to `t`'s dtype.
pub fn index_put(t: &Tensor, items: &[IndexItem], value: &Tensor) -> Result<()> {
    t.check_writable()?;
    let r = resolve(t, items)?;
    if r.adv_dims.is_empty() {
        return assign(&r.view, value);
    }
    // As PyTorch, a 0-d CPU value may be assigned into a GPU tensor; others must match.
    let value = match t.device() {
        crate::core::Device::Gpu(i) if value.ndim() == 0 && !value.device().is_gpu() => crate::gpu::upload(
            &if crate::gpu::check_dtype(value.dtype(), "").is_ok() { value.clone() } else { astype(value, t.dtype())? },
            i,
        )?,
        _ => value.clone(),
    };
    crate::ops::device::common_device("assignment through index tensors or masks", &[t, &value])?;
    let adv = advanced(&r)?;
    let shape = adv.result_shape();
    // A contiguous copy of the value in the result's shape: it cannot alias `t`, and its
    // broadcast positions are evenly strided.
    let v = astype(&crate::ops::copy::drop_leading_ones(&value, shape.len()).broadcast_to(&shape)?, t.dtype())?;
    if let crate::core::Device::Gpu(i) = t.device() {
        return crate::gpu::scatter(&r.view, &v, &adv.offset_table(i)?, &adv.rest, adv.insert_at);
    }
    let (block_stride, v_inner) = adv.result_parts(v.layout());
    scatter_blocks(&r.view, &adv.offsets, &adv.rest, &v, block_stride, &v_inner);
    Ok(())
}

/// Integer tensor holding `values` (used by callers building index tensors).
pub fn index_tensor<T: Element>(values: &[T]) -> Result<Tensor> {
    Tensor::from_vec(values, &[values.len()])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::copy::to_f64_vec;

    fn arange(n: usize, shape: &[usize]) -> Tensor {
        Tensor::from_vec(&(0..n as i64).collect::<Vec<_>>(), shape).unwrap()
    }

    #[test]
    fn basic_is_a_view() {
        let a = arange(24, &[2, 3, 4]);
        let v = index(&a, &[IndexItem::Int(1), IndexItem::Slice(None, None, -1), IndexItem::NewAxis]).unwrap();
        assert_eq!(v.shape(), &[3, 1, 4]);
        assert!(v.shares_storage(&a));
        assert_eq!(to_f64_vec(&v).unwrap()[..4], [20., 21., 22., 23.]);
    }

    #[test]
    fn separated_advanced_indices_go_first() {
        // numpy: a[[0, 1], :, [2, 3]].shape == (2, 3) with values a[0,:,2], a[1,:,3]
        let a = arange(24, &[2, 3, 4]);
        let i = index_tensor(&[0i64, 1]).unwrap();
        let j = index_tensor(&[2i64, 3]).unwrap();
        let r = index(&a, &[IndexItem::Tensor(i), IndexItem::Slice(None, None, 1), IndexItem::Tensor(j)]).unwrap();
        assert_eq!(r.shape(), &[2, 3]);
        assert_eq!(to_f64_vec(&r).unwrap(), vec![2., 6., 10., 15., 19., 23.]);
    }

    #[test]
    fn scatter_then_gather() {
        let a = arange(6, &[2, 3]);
        let i = index_tensor(&[-1i64]).unwrap();
        let v = Tensor::from_vec(&[9i64], &[]).unwrap();
        index_put(&a, &[IndexItem::Slice(None, None, 1), IndexItem::Tensor(i)], &v).unwrap();
        assert_eq!(to_f64_vec(&a).unwrap(), vec![0., 1., 9., 3., 4., 9.]);
    }

    #[test]
    fn out_of_bounds_is_an_index_error() {
        let a = arange(6, &[2, 3]);
        let i = index_tensor(&[3i64]).unwrap();
        assert!(matches!(
            index(&a, &[IndexItem::Slice(None, None, 1), IndexItem::Tensor(i)]),
            Err(crate::core::Error::Index(_))
        ));
    }
}
