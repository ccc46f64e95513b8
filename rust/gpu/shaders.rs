//! Shader texts: the prelude plus one family file from `shaders/`, embedded at build
//! time, with `{{NAME}}` placeholders replaced. That substitution is the only "generic"
//! mechanism (WGSL has none); a pipeline is cached per resulting text's key.

use super::exprs::{binary_expr, cast_expr, combine_expr, unary_expr};
use super::{compute_type, wgsl_type, ReduceKind};
use crate::core::DType;
use crate::ops::table::{BinaryOp, UnaryOp};

const COMMON: &str = include_str!("../../shaders/common.wgsl");
/// The rest of the prelude: sin/cos/tan with their own argument reduction.
const TRIG: &str = include_str!("../../shaders/trig.wgsl");

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    Copy,
    Fill,
    Unary,
    Binary,
    Select,
    Reduce,
    Matmul,
    Optim,
    Xent,
    Softmax,
    ArgReduce,
    Scan,
    Gather,
    ScatterAdd,
    Conv,
    Pool,
    PoolMax,
    Pad,
    Sort,
    Sorted,
    Resample,
    Svd,
    BatchNorm,
}

impl Family {
    pub fn file(self) -> &'static str {
        match self {
            Family::Copy => "copy.wgsl",
            Family::Fill => "fill.wgsl",
            Family::Unary => "unary.wgsl",
            Family::Binary => "binary.wgsl",
            Family::Select => "select.wgsl",
            Family::Reduce => "reduce.wgsl",
            Family::Matmul => "matmul.wgsl",
            Family::Optim => "optim.wgsl",
            Family::Xent => "xent.wgsl",
            Family::Softmax => "softmax.wgsl",
            Family::ArgReduce => "argreduce.wgsl",
            Family::Scan => "scan.wgsl",
            Family::Gather => "gather.wgsl",
            Family::ScatterAdd => "scatter.wgsl",
            Family::Conv => "conv.wgsl",
            Family::Pool => "pool.wgsl",
            Family::PoolMax => "pool_max.wgsl",
            Family::Pad => "pad.wgsl",
            Family::Sort => "sort.wgsl",
            Family::Sorted => "sorted.wgsl",
            Family::Resample => "resample.wgsl",
            Family::Svd => "svd.wgsl",
            Family::BatchNorm => "batchnorm.wgsl",
        }
    }

    fn text(self) -> &'static str {
        match self {
            Family::Copy => include_str!("../../shaders/copy.wgsl"),
            Family::Fill => include_str!("../../shaders/fill.wgsl"),
            Family::Unary => include_str!("../../shaders/unary.wgsl"),
            Family::Binary => include_str!("../../shaders/binary.wgsl"),
            Family::Select => include_str!("../../shaders/select.wgsl"),
            Family::Reduce => include_str!("../../shaders/reduce.wgsl"),
            Family::Matmul => include_str!("../../shaders/matmul.wgsl"),
            Family::Optim => include_str!("../../shaders/optim.wgsl"),
            Family::Xent => include_str!("../../shaders/xent.wgsl"),
            Family::Softmax => include_str!("../../shaders/softmax.wgsl"),
            Family::ArgReduce => include_str!("../../shaders/argreduce.wgsl"),
            Family::Scan => include_str!("../../shaders/scan.wgsl"),
            Family::Gather => include_str!("../../shaders/gather.wgsl"),
            Family::ScatterAdd => include_str!("../../shaders/scatter.wgsl"),
            Family::Conv => include_str!("../../shaders/conv.wgsl"),
            Family::Pool => include_str!("../../shaders/pool.wgsl"),
            Family::PoolMax => include_str!("../../shaders/pool_max.wgsl"),
            Family::Pad => include_str!("../../shaders/pad.wgsl"),
            Family::Sort => include_str!("../../shaders/sort.wgsl"),
            Family::Sorted => include_str!("../../shaders/sorted.wgsl"),
            Family::Resample => include_str!("../../shaders/resample.wgsl"),
            Family::Svd => include_str!("../../shaders/svd.wgsl"),
            Family::BatchNorm => include_str!("../../shaders/batchnorm.wgsl"),
        }
    }

    /// Compute entry points in the file.
    pub fn entry_points(self) -> &'static [&'static str] {
        match self {
            Family::Fill => &["fill", "arange"],
            Family::Xent => &["forward", "backward"],
            Family::Binary => &["main", "scalar", "scalar_inplace", "main4", "scalar4"],
            Family::Unary | Family::Copy => &["main", "main4"],
            Family::Optim => &[
                "sgd",
                "sgd_momentum",
                "adam",
                "adam_amsgrad",
                "rmsprop",
                "rmsprop_centered",
                "rmsprop_momentum",
                "rmsprop_centered_momentum",
                "adagrad",
            ],
            Family::Gather => &["gather", "scatter"],
            Family::Conv => &["unfold", "fold"],
            Family::Pool => &["avg_forward", "avg_backward", "max_backward"],
            Family::Pad => &["gather", "scatter_sum"],
            Family::Sort => &["local_sort", "global_step", "local_merge"],
            Family::Sorted => &["search", "boundaries", "compact", "counts"],
            Family::Resample => &["nearest", "linear", "backward"],
            Family::Svd => &["values", "factors"],
            Family::BatchNorm => &["stats", "eval_stats", "running", "normalize", "backward"],
            Family::Matmul => &["main", "wide"],
            Family::Reduce => &["main", "short_rows"],
            _ => &["main"],
        }
    }
}

/// The complete WGSL for `family` with `subs` applied. Every placeholder must be given:
/// a leftover `{{` would be a bug in the caller, caught by the portability tests. A
/// text that substitutes the `f16` type starts with `enable f16;`, which WGSL requires
/// before any use of it (and which only devices created with shader-f16 accept).
pub fn source(family: Family, subs: &[(&str, &str)]) -> String {
    let mut text = format!("{COMMON}\n{TRIG}\n{}", family.text());
    for (name, value) in subs {
        text = text.replace(&format!("{{{{{name}}}}}"), value);
    }
    debug_assert!(!text.contains("{{"), "unsubstituted placeholder in {}", family.file());
    if subs.iter().any(|(_, v)| uses_f16(v)) {
        text = format!("enable f16;\n{text}");
    }
    text
}

/// Whether a substituted WGSL fragment names the `f16` type (as a whole word).
fn uses_f16(v: &str) -> bool {
    v.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).any(|w| w == "f16")
}

/// The dtypes every GPU holds; float16 (adapters with shader-f16) has its own variants.
pub const GPU_DTYPES: [DType; 4] = [DType::F32, DType::I32, DType::U32, DType::Bool];

fn ty(d: DType) -> &'static str {
    wgsl_type(d).expect("GPU dtype")
}

fn cty(d: DType) -> &'static str {
    compute_type(d).expect("GPU dtype")
}

/// Substitutions for each kernel the backend builds, by the same functions the
/// dispatch code calls (`backend/kernels.rs`).
pub fn copy_subs(from: DType, to: DType) -> Vec<(&'static str, String)> {
    vec![("S", ty(from).into()), ("D", ty(to).into()), ("CAST", cast_expr(from, to))]
}

/// Storage and compute types of an elementwise op's operand (T, TC) and result (O, OC).
fn elementwise_types(t: DType, out: DType) -> Vec<(&'static str, String)> {
    vec![("T", ty(t).into()), ("O", ty(out).into()), ("TC", cty(t).into()), ("OC", cty(out).into())]
}

pub fn unary_subs(op: UnaryOp, t: DType, out: DType) -> Option<Vec<(&'static str, String)>> {
    let mut subs = elementwise_types(t, out);
    subs.push(("EXPR", unary_expr(op, t)?));
    Some(subs)
}

pub fn binary_subs(op: BinaryOp, t: DType, out: DType) -> Option<Vec<(&'static str, String)>> {
    let mut subs = elementwise_types(t, out);
    subs.push(("EXPR", binary_expr(op, t)?));
    Some(subs)
}

/// Fill and arange: the element type and the type the values travel in.
pub fn fill_subs(t: DType) -> Vec<(&'static str, String)> {
    vec![("T", ty(t).into()), ("C", cty(t).into())]
}

pub fn reduce_subs(kind: ReduceKind, t: DType) -> Vec<(&'static str, String)> {
    let (combine, identity) = combine_expr(kind, t);
    vec![("T", ty(t).into()), ("COMBINE", combine), ("IDENTITY", identity)]
}

/// Max pooling's element type and NaN test.
pub fn pool_max_subs(t: DType) -> Vec<(&'static str, String)> {
    let isnan = if t == DType::F32 { "f32_is_nan(v)" } else { "false" };
    vec![("T", ty(t).into()), ("ISNAN", isnan.into())]
}

pub fn type_subs(t: DType) -> Vec<(&'static str, String)> {
    vec![("T", ty(t).into())]
}

/// Applies owned substitutions.
pub fn render(family: Family, subs: &[(&'static str, String)]) -> String {
    let borrowed: Vec<(&str, &str)> = subs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    source(family, &borrowed)
}

const UNARY_OPS: [UnaryOp; 44] = {
    use UnaryOp::*;
    [
        Neg, Pos, Abs, Sign, Square, Sqrt, Rsqrt, Reciprocal, Exp, Exp2, Expm1, Log, Log1p, Log2, Log10, Sin, Cos, Tan,
        Asin, Acos, Atan, Sinh, Cosh, Tanh, Asinh, Acosh, Atanh, Erf, Floor, Ceil, Trunc, Round, IsNan, IsInf,
        IsFinite, Signbit, LogicalNot, BitNot, Relu, Sigmoid, Softplus, Gelu, GeluTanh, Silu,
    ]
};

const BINARY_OPS: [BinaryOp; 28] = {
    use BinaryOp::*;
    [
        Add, Sub, Mul, Div, FloorDiv, Rem, Pow, Maximum, Minimum, Atan2, Hypot, Copysign, Nextafter, Logaddexp, Eq, Ne,
        Lt, Le, Gt, Ge, LogicalAnd, LogicalOr, LogicalXor, BitAnd, BitOr, BitXor, Shl, Shr,
    ]
};

/// The result dtype of a unary op on the GPU (bool for predicates, else the input's).
pub fn unary_out(op: UnaryOp, t: DType) -> DType {
    use UnaryOp::*;
    match op {
        IsNan | IsInf | IsFinite | Signbit | LogicalNot => DType::Bool,
        _ => t,
    }
}

/// The result dtype of a binary op on the GPU.
pub fn binary_out(op: BinaryOp, t: DType) -> DType {
    use crate::ops::table::Family as F;
    match op.family() {
        F::Compare | F::Logical => DType::Bool,
        _ => t,
    }
}

/// Every (label, WGSL text, entry points) the backend can build: each family for each
/// GPU dtype and each op with a GPU expression (`tests/test_shaders_portable.py`
/// compiles all of them under naga and Tint).
pub fn variants() -> Vec<(String, String, Vec<&'static str>)> {
    let mut out = Vec::new();
    let mut push = |label: String, family: Family, subs: Vec<(&'static str, String)>| {
        out.push((label, render(family, &subs), family.entry_points().to_vec()));
    };
    for &from in &GPU_DTYPES {
        for &to in &GPU_DTYPES {
            push(format!("copy {from}->{to}"), Family::Copy, copy_subs(from, to));
        }
        push(format!("fill {from}"), Family::Fill, fill_subs(from));
        for op in UNARY_OPS.iter().copied().chain([UnaryOp::LeakyRelu(0.01), UnaryOp::Elu(1.0)]) {
            if let Some(s) = unary_subs(op, from, unary_out(op, from)) {
                push(format!("unary {} {from}", op.name()), Family::Unary, s);
            }
        }
        for op in BINARY_OPS {
            if let Some(s) = binary_subs(op, from, binary_out(op, from)) {
                push(format!("binary {} {from}", op.name()), Family::Binary, s);
            }
        }
        push(format!("select {from}"), Family::Select, type_subs(from));
        for kind in [ReduceKind::Sum, ReduceKind::Prod, ReduceKind::Max, ReduceKind::Min] {
            push(format!("reduce {kind:?} {from}"), Family::Reduce, reduce_subs(kind, from));
        }
        if from != DType::Bool {
            push(format!("matmul {from}"), Family::Matmul, type_subs(from));
            push(format!("pool_max {from}"), Family::PoolMax, pool_max_subs(from));
        }
    }
    f16_variants(&mut push);
    push("optim f32".into(), Family::Optim, Vec::new());
    push("xent f32".into(), Family::Xent, Vec::new());
    // The image kernels: float32 only, except pad's bit-copying gather.
    push("conv f32".into(), Family::Conv, Vec::new());
    push("pool f32".into(), Family::Pool, Vec::new());
    push("pad (any 4-byte dtype)".into(), Family::Pad, Vec::new());
    out.extend(super::shaders_rows::row_variants());
    out.extend(super::shaders_sort::sort_variants());
    out.extend(super::shaders_linalg::linalg_variants());
    out
}

/// The float16 kernels (adapters with shader-f16): casts to and from every GPU dtype,
/// fill/arange, every float unary and binary op, where, and max/min reductions (sums and
/// products of float16 accumulate in float32: `backend/kernels.rs` `reduce`). Matmul
/// needs none: float16 matmuls compute in float32 (`ops/linalg.rs`), as on the CPU.
fn f16_variants(push: &mut impl FnMut(String, Family, Vec<(&'static str, String)>)) {
    let h = DType::F16;
    for &other in GPU_DTYPES.iter().chain([&h]) {
        push(format!("copy {h}->{other}"), Family::Copy, copy_subs(h, other));
        if other != h {
            push(format!("copy {other}->{h}"), Family::Copy, copy_subs(other, h));
        }
    }
    push(format!("fill {h}"), Family::Fill, fill_subs(h));
    for op in UNARY_OPS.iter().copied().chain([UnaryOp::LeakyRelu(0.01), UnaryOp::Elu(1.0)]) {
        if let Some(s) = unary_subs(op, h, unary_out(op, h)) {
            push(format!("unary {} {h}", op.name()), Family::Unary, s);
        }
    }
    for op in BINARY_OPS {
        if let Some(s) = binary_subs(op, h, binary_out(op, h)) {
            push(format!("binary {} {h}", op.name()), Family::Binary, s);
        }
    }
    push(format!("select {h}"), Family::Select, type_subs(h));
    for kind in [ReduceKind::Max, ReduceKind::Min] {
        push(format!("reduce {kind:?} {h}"), Family::Reduce, reduce_subs(kind, h));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_is_fully_substituted() {
        let all = variants();
        assert!(all.len() > 100);
        for (label, text, _) in &all {
            assert!(!text.contains("{{"), "{label} has a leftover placeholder");
            let f16 = label.contains("float16");
            assert_eq!(text.starts_with("enable f16;"), f16, "{label}: `enable f16;` iff it uses f16");
        }
    }
}
