//! Substitutions for the row-wise and indexing kernels (softmax, argmax/argmin, cumulative
//! scans, gather/scatter through offset tables, atomic scatter-add), shared by the
//! launchers (`backend/rows.rs`, `backend/indexing.rs`) and the portability variants.

use super::shaders::{render, Family, GPU_DTYPES};
use super::{combine_expr, wgsl_type, ReduceKind};
use crate::core::DType;

fn ty(d: DType) -> &'static str {
    wgsl_type(d).expect("GPU dtype")
}

pub fn argreduce_subs(max: bool, t: DType) -> Vec<(&'static str, String)> {
    let is_nan = if t == DType::F32 { "f32_is_nan(p)" } else { "false" };
    let better = if max { "p > q" } else { "p < q" };
    vec![("T", ty(t).into()), ("BETTER", better.into()), ("IS_NAN", is_nan.into())]
}

/// Running sums/products: the reduce table's combine expression and identity.
pub fn scan_subs(prod: bool, t: DType) -> Vec<(&'static str, String)> {
    let kind = if prod { ReduceKind::Prod } else { ReduceKind::Sum };
    let (combine, identity) = combine_expr(kind, t);
    vec![("T", ty(t).into()), ("COMBINE", combine), ("IDENTITY", identity)]
}

/// Atomic accumulation of `v` (a `t`) at `dst[o]`, indices of dtype `index`.
pub fn scatter_add_subs(t: DType, index: DType) -> Vec<(&'static str, String)> {
    let (atomic, accumulate) = match t {
        // Compare-exchange on the bit pattern: portable across naga and Tint, unlike
        // float atomics (an optional extension).
        DType::F32 => (
            "u32",
            "var old = atomicLoad(&dst[o]);
    loop {
        let r = atomicCompareExchangeWeak(&dst[o], old, bitcast<u32>(bitcast<f32>(old) + v));
        if (r.exchanged) {
            break;
        }
        old = r.old_value;
    }",
        ),
        DType::I32 => ("i32", "atomicAdd(&dst[o], v);"),
        DType::Bool => ("u32", "atomicOr(&dst[o], v);"),
        _ => ("u32", "atomicAdd(&dst[o], v);"),
    };
    vec![("A", atomic.into()), ("I", ty(index).into()), ("T", ty(t).into()), ("ACCUMULATE", accumulate.into())]
}

pub fn element_subs(t: DType) -> Vec<(&'static str, String)> {
    vec![("T", ty(t).into())]
}

/// Every variant of these families, for `shaders::variants` (the portability tests).
pub fn row_variants() -> Vec<(String, String, Vec<&'static str>)> {
    let mut out = Vec::new();
    let mut push = |label: String, family: Family, subs: Vec<(&'static str, String)>| {
        out.push((label, render(family, &subs), family.entry_points().to_vec()));
    };
    push("softmax f32".into(), Family::Softmax, Vec::new());
    for &t in &GPU_DTYPES {
        for max in [true, false] {
            push(format!("argreduce max={max} {t}"), Family::ArgReduce, argreduce_subs(max, t));
        }
        if t != DType::Bool {
            for prod in [false, true] {
                push(format!("scan prod={prod} {t}"), Family::Scan, scan_subs(prod, t));
            }
        }
        push(format!("gather {t}"), Family::Gather, element_subs(t));
        for index in [DType::I32, DType::U32] {
            push(format!("scatter_add {t} index {index}"), Family::ScatterAdd, scatter_add_subs(t, index));
        }
    }
    // float16 (shader-f16) moves through indexing as itself; the other row kernels get
    // it widened to float32 (`ops/f16_gpu.rs`).
    push(format!("gather {}", DType::F16), Family::Gather, element_subs(DType::F16));
    out
}
