//! Run-time SIMD dispatch. Kernels are written as plain generic loops over slices; they
//! are instantiated inside a `#[target_feature]` trampoline so LLVM vectorises them for
//! the widest instruction set this CPU has (AVX-512, AVX2+FMA, else the SSE2 baseline;
//! NEON is the aarch64 baseline). The wheel itself targets the baseline CPU.

use std::sync::OnceLock;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Baseline,
    Avx2,
    Avx512,
}

pub fn level() -> Level {
    static LEVEL: OnceLock<Level> = OnceLock::new();
    *LEVEL.get_or_init(|| {
        if std::env::var_os("FERROGRAD_NO_SIMD").is_some() {
            return Level::Baseline;
        }
        #[cfg(target_arch = "x86_64")]
        {
            if is_x86_feature_detected!("avx512f")
                && is_x86_feature_detected!("avx512bw")
                && is_x86_feature_detected!("fma")
            {
                return Level::Avx512;
            }
            if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
                return Level::Avx2;
            }
        }
        Level::Baseline
    })
}

pub fn level_name() -> &'static str {
    match level() {
        Level::Baseline if cfg!(target_arch = "aarch64") => "neon",
        Level::Baseline => "baseline",
        Level::Avx2 => "avx2+fma",
        Level::Avx512 => "avx512",
    }
}

/// Runs `f` compiled for the best available instruction set. `f` and everything it calls
/// must be `#[inline(always)]` (or generic and inlined) for the features to apply.
#[inline(always)]
pub fn dispatch<R, F: FnOnce() -> R>(f: F) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        match level() {
            // SAFETY: the features were detected at run time.
            Level::Avx512 => return unsafe { avx512(f) },
            Level::Avx2 => return unsafe { avx2(f) },
            Level::Baseline => {}
        }
    }
    f()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,bmi1,bmi2,lzcnt,popcnt,f16c")]
unsafe fn avx2<R, F: FnOnce() -> R>(f: F) -> R {
    f()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,bmi1,bmi2,lzcnt,popcnt,f16c")]
unsafe fn avx512<R, F: FnOnce() -> R>(f: F) -> R {
    f()
}
