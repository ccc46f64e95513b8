//! The linear-algebra and normalisation kernels (one-sided Jacobi singular values, fused
//! batch norm): float32 only, no substitutions; listed here for the portability tests.

use super::shaders::{render, Family};

pub fn linalg_variants() -> Vec<(String, String, Vec<&'static str>)> {
    [("svd f32", Family::Svd), ("batchnorm f32", Family::BatchNorm)]
        .into_iter()
        .map(|(label, family)| (label.to_string(), render(family, &[]), family.entry_points().to_vec()))
        .collect()
}
