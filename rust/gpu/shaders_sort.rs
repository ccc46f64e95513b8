//! Substitutions for the sort-type kernels (bitonic sort, searchsorted, unique) and the
//! interpolation kernels, shared by the launchers (`backend/sort.rs`,
//! `backend/sorted.rs`, `backend/resample.rs`) and the portability variants.

use super::shaders::{render, Family, GPU_DTYPES};
use super::wgsl_type;
use crate::core::DType;

fn ty(d: DType) -> &'static str {
    wgsl_type(d).expect("GPU dtype")
}

/// A u32 expression of `v` (a `t`) that increases with numpy's sort order (NaN last).
fn key_expr(t: DType) -> &'static str {
    match t {
        DType::F32 => "float_key(bitcast<u32>(v))",
        // Flipping the sign bit maps i32 order onto u32 order.
        DType::I32 => "bitcast<u32>(v) ^ 0x80000000u",
        _ => "v",
    }
}

pub fn sort_subs(t: DType) -> Vec<(&'static str, String)> {
    vec![("T", ty(t).into()), ("KEY", key_expr(t).into())]
}

/// searchsorted and unique: the same key, over u32 words viewed as `t`.
pub fn sorted_subs(t: DType) -> Vec<(&'static str, String)> {
    sort_subs(t)
}

/// Every variant of these families, for `shaders::variants` (the portability tests).
pub fn sort_variants() -> Vec<(String, String, Vec<&'static str>)> {
    let mut out = Vec::new();
    let mut push = |label: String, family: Family, subs: Vec<(&'static str, String)>| {
        out.push((label, render(family, &subs), family.entry_points().to_vec()));
    };
    for &t in &GPU_DTYPES {
        push(format!("sort {t}"), Family::Sort, sort_subs(t));
        push(format!("sorted {t}"), Family::Sorted, sorted_subs(t));
    }
    // Interpolation moves 4-byte words (nearest) or float32 (linear): one variant.
    push("resample".into(), Family::Resample, Vec::new());
    out
}
