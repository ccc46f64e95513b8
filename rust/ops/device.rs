//! Device rules shared by every op: all operands on one device (no silent transfers),
//! and a clear error from ops that have no GPU kernel yet, before any kernel runs.

use crate::bail;
use crate::core::{Device, Result, Tensor};

/// The device all `tensors` share; a RuntimeError naming both devices otherwise.
pub fn common_device(op: &str, tensors: &[&Tensor]) -> Result<Device> {
    let Some(first) = tensors.first() else { return Ok(Device::Cpu) };
    let d = first.device();
    for t in &tensors[1..] {
        if t.device() != d {
            bail!(
                Runtime,
                "{op}: expected all tensors on one device, got {} and {}; move them with .to(device) first \
                 (ferrograd never transfers data implicitly)",
                d.name(),
                t.device().name()
            );
        }
    }
    Ok(d)
}

/// Errors unless every tensor is on the CPU: for ops without a GPU kernel yet.
pub fn cpu_only(op: &str, tensors: &[&Tensor]) -> Result<()> {
    if let Some(t) = tensors.iter().find(|t| t.device().is_gpu()) {
        bail!(
            Runtime,
            "{op} is not implemented for GPU tensors yet (got a tensor on {}); move the inputs with .cpu() to run it on the CPU",
            t.device().name()
        );
    }
    Ok(())
}
