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

/// A piece of work to compile for the best available instruction set. Its `run` must be
/// `#[inline(always)]` (as must everything it calls) so that the body is generated inside
/// the `#[target_feature]` trampoline; a plain closure there is not reliably inlined.
pub trait Job {
    type Output;
    fn run(self) -> Self::Output;
}

/// Runs `job` compiled for the best instruction set this CPU has.
#[inline(always)]
pub fn dispatch<J: Job>(job: J) -> J::Output {
    #[cfg(target_arch = "x86_64")]
    {
        match level() {
            // SAFETY: the features were detected at run time.
            Level::Avx512 => return unsafe { avx512(job) },
            Level::Avx2 => return unsafe { avx2(job) },
            Level::Baseline => {}
        }
    }
    job.run()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,bmi1,bmi2,lzcnt,popcnt,f16c")]
unsafe fn avx2<J: Job>(job: J) -> J::Output {
    job.run()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,bmi1,bmi2,lzcnt,popcnt,f16c")]
unsafe fn avx512<J: Job>(job: J) -> J::Output {
    job.run()
}
