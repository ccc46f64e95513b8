//! `ferrograd.Tensor`: attributes, conversions, views and indexing. Maths lives in the
//! core; each method here converts arguments, calls one core function, wraps the result.

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};
use pyo3::IntoPyObjectExt;

use super::convert::{dims_from_args, dims_of, scalar_of, scalar_to_py, to_tensor, Int, Size};
use super::device::{to_device, PyDevice};
use super::dtype::{to_dtype, PyDType};
use super::errors::run;
use std::sync::Arc;

use crate::autograd::func as ag;
use crate::core::{normalize_axis, DType, Scalar, Tensor};
use crate::ops::{copy, manip};

#[pyclass(name = "Tensor", module = "ferrograd", subclass, frozen, weakref)]
pub struct PyTensor {
    pub t: Tensor,
}

impl From<Tensor> for PyTensor {
    fn from(t: Tensor) -> Self {
        PyTensor { t }
    }
}

fn one_element(t: &Tensor, what: &str) -> PyResult<Scalar> {
    if t.numel() != 1 {
        return Err(PyValueError::new_err(format!(
            "{what} needs a tensor with exactly one element, got shape {:?} ({} elements)",
            t.shape(),
            t.numel()
        )));
    }
    Ok(copy::item(t)?)
}

fn helper<'py>(py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
    py.import("ferrograd._helpers")?.getattr(name)
}

impl PyTensor {
    fn astype_impl(&self, py: Python<'_>, d: DType, force_copy: bool) -> PyResult<PyTensor> {
        if d == self.t.dtype() && !force_copy {
            return Ok(self.t.clone().into());
        }
        let t = self.t.clone();
        Ok(run(py, t.numel(), move || ag::shape::astype(&t, d))?.into())
    }

    /// A view (or gather) `f(self)` that autograd follows back by position.
    fn gather(
        &self,
        name: &'static str,
        f: impl Fn(&Tensor) -> crate::Result<Tensor> + Send + Sync + 'static,
    ) -> PyResult<PyTensor> {
        Ok(ag::shape::gather_op(&self.t, name, Arc::new(f))?.into())
    }

    /// A view with the same elements in the same order (reshape-like).
    fn reshaped(&self, y: crate::Result<Tensor>) -> PyResult<PyTensor> {
        Ok(ag::shape::reshaped(&self.t, y?)?.into())
    }

    fn permuted(&self, axes: Vec<i64>) -> PyResult<PyTensor> {
        Ok(ag::shape::permute(&self.t, &axes)?.into())
    }

    fn swapped(&self, a: i64, b: i64) -> PyResult<PyTensor> {
        let nd = self.t.ndim();
        let (a, b) = (normalize_axis(a, nd)?, normalize_axis(b, nd)?);
        let mut axes: Vec<i64> = (0..nd as i64).collect();
        axes.swap(a, b);
        self.permuted(axes)
    }
}

#[pymethods]
impl PyTensor {
    // ---- attributes -----------------------------------------------------------------
    #[getter]
    fn shape<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, self.t.shape())
    }
    #[getter]
    fn ndim(&self) -> usize {
        self.t.ndim()
    }
    /// Number of elements (numpy's `size`); PyTorch's `size()` is `shape`.
    #[getter]
    fn size(&self) -> usize {
        self.t.numel()
    }
    fn numel(&self) -> usize {
        self.t.numel()
    }
    fn dim(&self) -> usize {
        self.t.ndim()
    }
    #[getter]
    fn dtype(&self) -> PyDType {
        PyDType(self.t.dtype())
    }
    #[getter]
    fn device(&self) -> PyDevice {
        PyDevice::from_backend(self.t.device())
    }
    #[getter]
    fn strides<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, self.t.strides())
    }
    fn stride<'py>(&self, py: Python<'py>, dim: Option<Int>) -> PyResult<Py<PyAny>> {
        match dim {
            None => self.strides(py)?.into_py_any(py),
            Some(Int(d)) => self.t.strides()[crate::core::normalize_axis(d, self.t.ndim())?].into_py_any(py),
        }
    }
    fn storage_offset(&self) -> usize {
        self.t.offset()
    }
    /// The host address of the first element (0 for GPU tensors, which have none).
    fn data_ptr(&self) -> usize {
        if self.t.device().is_gpu() {
            return 0;
        }
        self.t.data_ptr() as usize
    }
    #[getter]
    fn itemsize(&self) -> usize {
        self.t.dtype().size()
    }
    #[getter]
    fn nbytes(&self) -> usize {
        self.t.numel() * self.t.dtype().size()
    }
    fn element_size(&self) -> usize {
        self.t.dtype().size()
    }
    fn is_contiguous(&self) -> bool {
        self.t.is_contiguous()
    }
    fn is_floating_point(&self) -> bool {
        self.t.dtype().is_float()
    }
    #[getter]
    fn is_readonly(&self) -> bool {
        self.t.is_readonly()
    }
    /// Whether two tensors share memory (numpy's `shares_memory` for views).
    fn shares_memory_with(&self, other: &PyTensor) -> bool {
        self.t.shares_storage(&other.t)
    }

    // ---- Python protocol --------------------------------------------------------------
    fn __len__(&self) -> PyResult<usize> {
        match self.t.shape().first() {
            Some(&n) => Ok(n),
            None => Err(PyTypeError::new_err("len() of a 0-d tensor")),
        }
    }
    fn __iter__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let n = self.__len__()?;
        let items: Vec<PyTensor> =
            (0..n).map(|i| self.gather("SelectBackward", move |t| t.select(0, i as i64))).collect::<PyResult<_>>()?;
        Ok(PyList::new(py, items)?.try_iter()?.into_any())
    }
    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        helper(slf.py(), "format_tensor")?.call1((slf,))?.extract()
    }
    fn __str__(slf: &Bound<'_, Self>) -> PyResult<String> {
        Self::__repr__(slf)
    }
    fn __format__(slf: &Bound<'_, Self>, spec: &str) -> PyResult<String> {
        if spec.is_empty() {
            return Self::__repr__(slf);
        }
        let v = Self::item(slf.get(), slf.py())?;
        v.bind(slf.py()).call_method1("__format__", (spec,))?.extract()
    }
    fn item(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        scalar_to_py(py, one_element(&self.t, "item()")?)
    }
    fn tolist(slf: &Bound<'_, Self>) -> PyResult<Py<PyAny>> {
        Ok(helper(slf.py(), "tolist")?.call1((slf,))?.unbind())
    }
    fn __float__(&self) -> PyResult<f64> {
        Ok(one_element(&self.t, "float()")?.to_f64())
    }
    fn __int__(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        match one_element(&self.t, "int()")? {
            Scalar::Float(f) if !f.is_finite() => {
                Err(PyValueError::new_err(format!("cannot convert {f} to an integer")))
            }
            Scalar::Float(f) => py.import("builtins")?.call_method1("int", (f,)).map(|v| v.unbind()),
            Scalar::UInt(u) => u.into_py_any(py),
            s => s.to_i64().into_py_any(py),
        }
    }
    fn __bool__(&self) -> PyResult<bool> {
        if self.t.numel() != 1 {
            return Err(PyValueError::new_err(format!(
                "the truth value of a tensor with {} elements is ambiguous: use .any() or .all()",
                self.t.numel()
            )));
        }
        Ok(copy::item(&self.t)?.to_f64() != 0.0)
    }
    fn __index__(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        if !self.t.dtype().is_int() && self.t.dtype() != DType::Bool {
            return Err(PyTypeError::new_err(format!(
                "only integer tensors can be used as an index, got {}",
                self.t.dtype()
            )));
        }
        self.__int__(py)
    }
    fn __hash__(slf: &Bound<'_, Self>) -> isize {
        slf.as_ptr() as isize
    }

    // ---- interop ---------------------------------------------------------------------
    #[getter]
    fn __array_interface__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        if self.t.device().is_gpu() {
            // Device memory cannot be shared with numpy: an AttributeError makes numpy
            // fall back to __array__, which reads the values back.
            return Err(pyo3::exceptions::PyAttributeError::new_err("GPU tensors have no __array_interface__"));
        }
        super::interop::array_interface(py, &self.t)
    }
    #[pyo3(signature = (dtype=None, copy=None))]
    fn __array__<'py>(
        slf: &Bound<'py, Self>,
        dtype: Option<&Bound<'py, PyAny>>,
        copy: Option<bool>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let np = slf.py().import("numpy")?;
        let t = &slf.get().t;
        let arr = if t.device().is_gpu() {
            // A readback: the array owns a host copy, so a later write to it does not
            // reach the device (as PyTorch requires .cpu() first, this is explicit).
            let host: PyTensor = run(slf.py(), t.numel(), || copy::on_cpu(t))?.into();
            np.call_method1("asarray", (Bound::new(slf.py(), host)?,))?
        } else {
            np.call_method1("asarray", (slf,))?
        };
        let arr = match dtype {
            Some(d) if !d.is_none() => arr.call_method1("astype", (d,))?,
            _ if copy == Some(true) => arr.call_method0("copy")?,
            _ => arr,
        };
        Ok(arr)
    }
    /// A numpy array sharing this tensor's memory.
    #[pyo3(signature = (*, force=false))]
    fn numpy<'py>(slf: &Bound<'py, Self>, force: bool) -> PyResult<Bound<'py, PyAny>> {
        let arr = slf.py().import("numpy")?.call_method1("asarray", (slf,))?;
        if force {
            return arr.call_method0("copy");
        }
        Ok(arr)
    }
    #[pyo3(signature = (*, stream=None, max_version=None, dl_device=None, copy=None))]
    fn __dlpack__(
        &self,
        py: Python<'_>,
        stream: Option<&Bound<'_, PyAny>>,
        max_version: Option<(u32, u32)>,
        dl_device: Option<(i32, i32)>,
        copy: Option<bool>,
    ) -> PyResult<Py<PyAny>> {
        let _ = stream; // CPU memory needs no stream synchronisation.
        if self.t.device().is_gpu() {
            return Err(pyo3::exceptions::PyBufferError::new_err(
                "GPU tensors cannot be exported through DLPack yet; use .cpu() first",
            ));
        }
        if let Some((kind, _)) = dl_device {
            if kind != 1 {
                return Err(pyo3::exceptions::PyBufferError::new_err(format!(
                    "cannot export a CPU tensor to DLPack device type {kind}"
                )));
            }
        }
        let t = if copy == Some(true) { copy::contiguous_copy(&self.t)? } else { self.t.clone() };
        super::dlpack::export(py, &t, max_version.is_some_and(|v| v.0 >= 1))
    }
    fn __dlpack_device__(&self) -> (i32, i32) {
        match self.t.device() {
            crate::core::Device::Cpu => (1, 0),
            // kDLWebGPU: the closest DLPack device type for wgpu memory.
            crate::core::Device::Gpu(i) => (15, i as i32),
        }
    }

    // ---- dtype and device conversion --------------------------------------------------
    #[pyo3(signature = (dtype, copy=true))]
    fn astype(&self, py: Python<'_>, dtype: &Bound<'_, PyAny>, copy: bool) -> PyResult<PyTensor> {
        self.astype_impl(py, to_dtype(dtype)?, copy)
    }
    /// `to(dtype)`, `to(device)`, `to(device, dtype)`, `to(other)`, `to(dtype=, device=)`.
    #[pyo3(signature = (*args, dtype=None, device=None, copy=false))]
    fn to(
        &self,
        py: Python<'_>,
        args: &Bound<'_, PyTuple>,
        dtype: Option<&Bound<'_, PyAny>>,
        device: Option<&Bound<'_, PyAny>>,
        copy: bool,
    ) -> PyResult<PyTensor> {
        let mut target = self.t.dtype();
        let mut dev: Option<PyDevice> = None;
        for a in args.iter() {
            if let Ok(other) = a.cast::<PyTensor>() {
                target = other.get().t.dtype();
            } else if let Ok(d) = to_device(&a) {
                dev = Some(d);
            } else {
                target = to_dtype(&a)?;
            }
        }
        if let Some(d) = dtype.filter(|d| !d.is_none()) {
            target = to_dtype(d)?;
        }
        if let Some(d) = device.filter(|d| !d.is_none()) {
            dev = Some(to_device(d)?);
        }
        let Some(dev) = dev else { return self.astype_impl(py, target, copy) };
        let dev = dev.backend()?;
        if dev == self.t.device() {
            return self.astype_impl(py, target, copy);
        }
        // Convert where the source dtype lives: on the CPU before an upload (so
        // `.to("gpu", float32)` of a float64 tensor works), after a download otherwise.
        if dev.is_gpu() {
            let cast = self.astype_impl(py, target, false)?;
            let t = cast.t.clone();
            Ok(run(py, t.numel(), move || ag::shape::to_device(&t, dev))?.into())
        } else {
            let t = self.t.clone();
            let moved: PyTensor = run(py, t.numel(), move || ag::shape::to_device(&t, dev))?.into();
            moved.astype_impl(py, target, false)
        }
    }
    fn cpu(&self, py: Python<'_>) -> PyResult<PyTensor> {
        let t = self.t.clone();
        Ok(run(py, t.numel(), move || ag::shape::to_device(&t, crate::core::Device::Cpu))?.into())
    }
    fn float(&self, py: Python<'_>) -> PyResult<PyTensor> {
        self.astype_impl(py, DType::F32, false)
    }
    fn double(&self, py: Python<'_>) -> PyResult<PyTensor> {
        self.astype_impl(py, DType::F64, false)
    }
    fn half(&self, py: Python<'_>) -> PyResult<PyTensor> {
        self.astype_impl(py, DType::F16, false)
    }
    fn bfloat16(&self, py: Python<'_>) -> PyResult<PyTensor> {
        self.astype_impl(py, DType::BF16, false)
    }
    fn long(&self, py: Python<'_>) -> PyResult<PyTensor> {
        self.astype_impl(py, DType::I64, false)
    }
    fn int(&self, py: Python<'_>) -> PyResult<PyTensor> {
        self.astype_impl(py, DType::I32, false)
    }
    fn short(&self, py: Python<'_>) -> PyResult<PyTensor> {
        self.astype_impl(py, DType::I16, false)
    }
    fn byte(&self, py: Python<'_>) -> PyResult<PyTensor> {
        self.astype_impl(py, DType::U8, false)
    }
    fn bool(&self, py: Python<'_>) -> PyResult<PyTensor> {
        self.astype_impl(py, DType::Bool, false)
    }

    // ---- views -----------------------------------------------------------------------
    #[pyo3(signature = (*shape))]
    fn reshape(&self, py: Python<'_>, shape: &Bound<'_, PyTuple>) -> PyResult<PyTensor> {
        let dims = dims_from_args(shape)?;
        let t = self.t.clone();
        Ok(run(py, t.numel(), move || ag::shape::reshape(&t, &dims))?.into())
    }
    #[pyo3(signature = (*shape))]
    fn view(&self, shape: &Bound<'_, PyTuple>) -> PyResult<PyTensor> {
        if shape.len() == 1 {
            if let Ok(d) = to_dtype(&shape.get_item(0)?) {
                if d.size() != self.t.dtype().size() {
                    return Err(PyTypeError::new_err(format!(
                        "view as {d} needs an element size of {} bytes",
                        self.t.dtype().size()
                    )));
                }
                return Ok(Tensor::from_parts(self.t.storage().clone(), self.t.layout().clone(), d).into());
            }
        }
        self.reshaped(self.t.view(&dims_from_args(shape)?))
    }
    #[pyo3(signature = (*axes))]
    fn permute(&self, axes: &Bound<'_, PyTuple>) -> PyResult<PyTensor> {
        self.permuted(dims_from_args(axes)?)
    }
    fn transpose(&self, dim0: Int, dim1: Int) -> PyResult<PyTensor> {
        self.swapped(dim0.0, dim1.0)
    }
    fn swapaxes(&self, axis1: Int, axis2: Int) -> PyResult<PyTensor> {
        self.swapped(axis1.0, axis2.0)
    }
    #[getter(T)]
    fn reversed(&self) -> PyResult<PyTensor> {
        self.permuted((0..self.t.ndim() as i64).rev().collect())
    }
    #[getter(mT)]
    fn matrix_t(&self) -> PyResult<PyTensor> {
        self.t.matrix_transpose()?;
        self.swapped(-2, -1)
    }
    #[pyo3(signature = (*sizes))]
    fn expand(&self, sizes: &Bound<'_, PyTuple>) -> PyResult<PyTensor> {
        let shape = self.t.expand(&dims_from_args(sizes)?)?.shape().to_vec();
        Ok(ag::shape::broadcast_to(&self.t, &shape)?.into())
    }
    fn expand_as(&self, other: &PyTensor) -> PyResult<PyTensor> {
        Ok(ag::shape::broadcast_to(&self.t, other.t.shape())?.into())
    }
    fn broadcast_to(&self, shape: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
        let shape = super::convert::shape_of(&dims_of(shape)?)?;
        Ok(ag::shape::broadcast_to(&self.t, &shape)?.into())
    }
    #[pyo3(signature = (dim=None, *, axis=None))]
    fn squeeze(&self, dim: Option<&Bound<'_, PyAny>>, axis: Option<&Bound<'_, PyAny>>) -> PyResult<PyTensor> {
        let axes = match dim.or(axis) {
            Some(a) if !a.is_none() => Some(dims_of(a)?),
            _ => None,
        };
        self.reshaped(self.t.squeeze(axes.as_deref()))
    }
    fn unsqueeze(&self, dim: Int) -> PyResult<PyTensor> {
        self.reshaped(self.t.unsqueeze(dim.0))
    }
    #[pyo3(signature = (*dims))]
    fn flip(&self, dims: &Bound<'_, PyTuple>) -> PyResult<PyTensor> {
        let axes = if dims.is_empty() { (0..self.t.ndim() as i64).collect() } else { dims_from_args(dims)? };
        self.gather("FlipBackward", move |t| t.flip(&axes))
    }
    fn narrow(&self, dim: Int, start: Int, length: Size) -> PyResult<PyTensor> {
        self.gather("NarrowBackward", move |t| t.narrow(dim.0, start.0, length.0))
    }
    fn select(&self, dim: Int, index: Int) -> PyResult<PyTensor> {
        self.gather("SelectBackward", move |t| t.select(dim.0, index.0))
    }
    #[pyo3(signature = (offset=Int(0), dim1=Int(0), dim2=Int(1)))]
    fn diagonal(&self, offset: Int, dim1: Int, dim2: Int) -> PyResult<PyTensor> {
        self.gather("DiagonalBackward", move |t| t.diagonal(offset.0, dim1.0, dim2.0))
    }
    fn unfold(&self, dimension: Int, size: Size, step: Size) -> PyResult<PyTensor> {
        self.gather("UnfoldBackward", move |t| t.unfold(dimension.0, size.0, step.0))
    }
    #[pyo3(signature = (start_dim=Int(0), end_dim=Int(-1)))]
    fn flatten(&self, py: Python<'_>, start_dim: Int, end_dim: Int) -> PyResult<PyTensor> {
        let t = self.t.clone();
        let y = run(py, t.numel(), move || t.flatten(start_dim.0, end_dim.0))?;
        self.reshaped(Ok(y))
    }
    fn unflatten(&self, dim: Int, sizes: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
        self.reshaped(self.t.unflatten(dim.0, &dims_of(sizes)?))
    }
    fn contiguous(&self, py: Python<'_>) -> PyResult<PyTensor> {
        let t = self.t.clone();
        let y = run(py, t.numel(), move || copy::contiguous(&t))?;
        if y.same(&self.t) {
            return Ok(y.into());
        }
        Ok(ag::shape::identity_op(&self.t, y, "CloneBackward")?.into())
    }
    fn clone(&self, py: Python<'_>) -> PyResult<PyTensor> {
        let t = self.t.clone();
        let y = run(py, t.numel(), move || copy::contiguous_copy(&t))?;
        Ok(ag::shape::identity_op(&self.t, y, "CloneBackward")?.into())
    }
    fn copy(&self, py: Python<'_>) -> PyResult<PyTensor> {
        self.clone(py)
    }
    fn __copy__(&self, py: Python<'_>) -> PyResult<PyTensor> {
        self.clone(py)
    }
    fn __deepcopy__(&self, py: Python<'_>, _memo: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
        self.clone(py)
    }
    /// PyTorch's `repeat`: tile by `sizes` (numpy's `repeat` is `ferrograd.repeat`).
    #[pyo3(signature = (*sizes))]
    fn repeat(&self, sizes: &Bound<'_, PyTuple>) -> PyResult<PyTensor> {
        let reps = super::convert::shape_of(&dims_from_args(sizes)?)?;
        if reps.len() < self.t.ndim() {
            return Err(PyValueError::new_err(format!("repeat needs at least {} sizes, got {reps:?}", self.t.ndim())));
        }
        self.gather("RepeatBackward", move |t| manip::tile(t, &reps))
    }

    // ---- indexing and in-place writes ---------------------------------------------------
    fn __getitem__(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
        let items = super::index::parse(key)?;
        let t = self.t.clone();
        Ok(run(py, 0, move || ag::shape::index(&t, &items))?.into())
    }
    fn __setitem__(&self, py: Python<'_>, key: &Bound<'_, PyAny>, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let items = super::index::parse(key)?;
        let v = value_tensor(value, self.t.dtype())?;
        // Python values (numbers, lists, arrays) become data on the target's device;
        // tensors must already be there (no silent transfers between devices).
        let v = if value.cast::<PyTensor>().is_err() && v.device() != self.t.device() {
            transfer_into(v, &self.t)?
        } else {
            v
        };
        let t = self.t.clone();
        run(py, t.numel(), move || ag::shape::index_put(&t, &items, &v))
    }
    /// Fill with a scalar, in place.
    fn fill_<'py>(slf: &Bound<'py, Self>, value: &Bound<'py, PyAny>) -> PyResult<Bound<'py, Self>> {
        let s = scalar_of(value)?.ok_or_else(|| PyTypeError::new_err("fill_ takes a Python scalar"))?;
        let t = slf.get().t.clone();
        run(slf.py(), t.numel(), move || ag::shape::fill(&t, s))?;
        Ok(slf.clone())
    }
    fn zero_<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, Self>> {
        let t = slf.get().t.clone();
        run(slf.py(), t.numel(), move || ag::shape::fill(&t, Scalar::Int(0)))?;
        Ok(slf.clone())
    }
    /// Copy `src` (broadcast and cast) into this tensor, in place.
    /// Like PyTorch's, an explicit copy: `src` may live on another device.
    fn copy_<'py>(slf: &Bound<'py, Self>, src: &Bound<'py, PyAny>) -> PyResult<Bound<'py, Self>> {
        let s = to_tensor(src, None)?;
        let t = slf.get().t.clone();
        let s = if s.device() != t.device() { transfer_into(s, &t)? } else { s };
        run(slf.py(), t.numel(), move || ag::shape::copy_into(&t, &s))?;
        Ok(slf.clone())
    }
}

/// Assigned data `v` moved to `dst`'s device. The assignment converts to `dst`'s dtype
/// anyway, so host data is converted first: int64 lists and float64 arrays, which the GPU
/// cannot hold as they are, then land in an int32 or float32 GPU tensor.
fn transfer_into(v: Tensor, dst: &Tensor) -> crate::core::Result<Tensor> {
    let v =
        if !v.device().is_gpu() && v.dtype() != dst.dtype() { crate::ops::copy::astype(&v, dst.dtype())? } else { v };
    crate::ops::copy::to_device(&v, dst.device())
}

/// The right-hand side of an assignment, as a tensor (Python scalars take `dtype`).
fn value_tensor(value: &Bound<'_, PyAny>, dtype: DType) -> PyResult<Tensor> {
    if let Some(s) = scalar_of(value)? {
        return Ok(crate::ops::create::full(&[], s, dtype)?);
    }
    to_tensor(value, None)
}
