//! The PyO3 layer: `ferrograd._core`. It converts Python arguments, releases the GIL
//! around long work, and maps core errors to Python exceptions; it holds no maths.

use pyo3::prelude::*;

mod autograd;
mod conv;
mod convert;
mod device;
mod dlpack;
mod dtype;
mod errors;
mod functions;
mod gpu;
mod image;
mod index;
mod interop;
mod loss;
mod math;
mod norm;
mod optim;
mod random;
mod reduce;
mod svd;
mod tensor;

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<tensor::PyTensor>()?;
    m.add_class::<dtype::PyDType>()?;
    m.add_class::<device::PyDevice>()?;
    m.add_class::<random::PyGenerator>()?;
    m.add_class::<autograd::PyNode>()?;
    m.add_function(wrap_pyfunction!(autograd::_backward, m)?)?;
    m.add_function(wrap_pyfunction!(autograd::_grad, m)?)?;
    m.add_function(wrap_pyfunction!(autograd::is_grad_enabled, m)?)?;
    m.add_function(wrap_pyfunction!(autograd::_set_grad_enabled, m)?)?;
    m.add_function(wrap_pyfunction!(autograd::_record_function, m)?)?;
    for d in crate::core::DType::ALL {
        m.add(d.name(), dtype::PyDType(d))?;
    }
    m.add_function(wrap_pyfunction!(dtype::set_default_dtype, m)?)?;
    m.add_function(wrap_pyfunction!(dtype::get_default_dtype, m)?)?;
    m.add_function(wrap_pyfunction!(device::set_default_device, m)?)?;
    m.add_function(wrap_pyfunction!(device::get_default_device, m)?)?;
    m.add_function(wrap_pyfunction!(random::manual_seed, m)?)?;
    m.add_function(wrap_pyfunction!(random::initial_seed, m)?)?;
    m.add_function(wrap_pyfunction!(math::_binary, m)?)?;
    m.add_function(wrap_pyfunction!(math::_unary, m)?)?;
    m.add_function(wrap_pyfunction!(math::where_, m)?)?;
    m.add_function(wrap_pyfunction!(math::clip, m)?)?;
    m.add_function(wrap_pyfunction!(math::matmul, m)?)?;
    m.add_function(wrap_pyfunction!(conv::_conv, m)?)?;
    m.add_function(wrap_pyfunction!(conv::_conv_transpose, m)?)?;
    m.add_function(wrap_pyfunction!(conv::_conv_backward_input, m)?)?;
    m.add_function(wrap_pyfunction!(conv::_conv_backward_weight, m)?)?;
    m.add_function(wrap_pyfunction!(image::_max_pool, m)?)?;
    m.add_function(wrap_pyfunction!(image::_avg_pool, m)?)?;
    m.add_function(wrap_pyfunction!(image::_adaptive_pool, m)?)?;
    m.add_function(wrap_pyfunction!(image::_pad, m)?)?;
    m.add_function(wrap_pyfunction!(image::_interpolate, m)?)?;
    m.add_function(wrap_pyfunction!(image::_max_pool_backward, m)?)?;
    m.add_function(wrap_pyfunction!(image::_avg_pool_backward, m)?)?;
    m.add_function(wrap_pyfunction!(image::_adaptive_avg_pool_backward, m)?)?;
    m.add_function(wrap_pyfunction!(image::_pad_backward, m)?)?;
    m.add_function(wrap_pyfunction!(image::_interpolate_backward, m)?)?;
    m.add_function(wrap_pyfunction!(reduce::_reduce, m)?)?;
    m.add_function(wrap_pyfunction!(reduce::mean, m)?)?;
    m.add_function(wrap_pyfunction!(reduce::_var, m)?)?;
    m.add_function(wrap_pyfunction!(reduce::count_nonzero, m)?)?;
    m.add_function(wrap_pyfunction!(reduce::logsumexp, m)?)?;
    m.add_function(wrap_pyfunction!(reduce::_arg_extreme, m)?)?;
    m.add_function(wrap_pyfunction!(reduce::_softmax, m)?)?;
    m.add_function(wrap_pyfunction!(reduce::_cumulative, m)?)?;
    m.add_function(wrap_pyfunction!(reduce::_sort, m)?)?;
    m.add_function(wrap_pyfunction!(reduce::_searchsorted, m)?)?;
    m.add_function(wrap_pyfunction!(reduce::_unique, m)?)?;
    m.add_function(wrap_pyfunction!(svd::_svdvals, m)?)?;
    m.add_function(wrap_pyfunction!(optim::_optimizer_step, m)?)?;
    m.add_function(wrap_pyfunction!(loss::_cross_entropy, m)?)?;
    m.add_function(wrap_pyfunction!(norm::_batch_norm, m)?)?;
    m.add_function(wrap_pyfunction!(functions::simd_level, m)?)?;
    m.add_function(wrap_pyfunction!(functions::_scatter_add, m)?)?;
    m.add_function(wrap_pyfunction!(functions::_full, m)?)?;
    m.add_function(wrap_pyfunction!(functions::_arange, m)?)?;
    m.add_function(wrap_pyfunction!(functions::_linspace, m)?)?;
    m.add_function(wrap_pyfunction!(functions::_eye, m)?)?;
    m.add_function(wrap_pyfunction!(functions::_random, m)?)?;
    m.add_function(wrap_pyfunction!(functions::_as_tensor, m)?)?;
    m.add_function(wrap_pyfunction!(functions::from_numpy, m)?)?;
    m.add_function(wrap_pyfunction!(functions::from_dlpack, m)?)?;
    m.add_function(wrap_pyfunction!(functions::concat, m)?)?;
    m.add_function(wrap_pyfunction!(functions::stack, m)?)?;
    m.add_function(wrap_pyfunction!(functions::tile, m)?)?;
    m.add_function(wrap_pyfunction!(functions::repeat, m)?)?;
    m.add_function(wrap_pyfunction!(functions::roll, m)?)?;
    m.add_function(wrap_pyfunction!(functions::tril, m)?)?;
    m.add_function(wrap_pyfunction!(functions::triu, m)?)?;
    m.add_function(wrap_pyfunction!(functions::nonzero, m)?)?;
    m.add_function(wrap_pyfunction!(functions::broadcast_shapes, m)?)?;
    m.add_function(wrap_pyfunction!(gpu::_gpu_compiled, m)?)?;
    m.add_function(wrap_pyfunction!(gpu::_gpu_is_available, m)?)?;
    m.add_function(wrap_pyfunction!(gpu::_gpu_adapters, m)?)?;
    m.add_function(wrap_pyfunction!(gpu::synchronize, m)?)?;
    m.add_function(wrap_pyfunction!(gpu::_gpu_shader_variants, m)?)?;
    m.add_function(wrap_pyfunction!(gpu::_gpu_memory_cached, m)?)?;
    m.add_function(wrap_pyfunction!(gpu::_gpu_empty_cache, m)?)?;
    Ok(())
}
