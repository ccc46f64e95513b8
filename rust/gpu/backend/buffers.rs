//! Device memory for tensors: a caching allocator. Buffers are rounded up to size
//! classes and, when the last tensor using one dies, parked in a free list of their
//! class for the next allocation of that class (a training step allocates the same
//! sizes every iteration). Reuse is safe without waiting for the GPU: every write to a
//! pooled buffer is recorded on the same queue after the commands that read it before.

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use super::context::Context;
use crate::bail;
use crate::core::{Device, Result};

/// Parked memory beyond this is released to the driver instead.
const MAX_CACHED_BYTES: u64 = 1 << 30;

/// Sizes up to 1 MiB round to powers of two (at least 256 bytes); larger ones to
/// eighths of their power of two, so a class wastes at most 12.5%.
fn size_class(nbytes: u64) -> u64 {
    let n = nbytes.max(256);
    let p = n.next_power_of_two();
    if p <= 1 << 20 {
        p
    } else {
        let step = p / 8;
        n.div_ceil(step) * step
    }
}

pub struct BufferPool {
    free: Mutex<(HashMap<u64, Vec<wgpu::Buffer>>, u64)>,
}

impl BufferPool {
    pub fn new() -> BufferPool {
        BufferPool { free: Mutex::new((HashMap::new(), 0)) }
    }

    fn take(&self, device: &wgpu::Device, class: u64) -> wgpu::Buffer {
        {
            let mut g = self.free.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(b) = g.0.get_mut(&class).and_then(|v| v.pop()) {
                g.1 -= class;
                return b;
            }
        }
        device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("ferrograd tensor"),
            size: class,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        })
    }

    fn give_back(&self, class: u64, buffer: wgpu::Buffer) {
        let mut g = self.free.lock().unwrap_or_else(|p| p.into_inner());
        if g.1 + class <= MAX_CACHED_BYTES {
            g.0.entry(class).or_default().push(buffer);
            g.1 += class;
        }
    }

    /// Bytes parked for reuse.
    pub fn cached_bytes(&self) -> u64 {
        self.free.lock().unwrap_or_else(|p| p.into_inner()).1
    }

    /// Releases every parked buffer to the driver.
    pub fn clear(&self) {
        let mut g = self.free.lock().unwrap_or_else(|p| p.into_inner());
        g.0.clear();
        g.1 = 0;
    }
}

/// The storage of GPU tensors: one pooled buffer, shared by views via `Storage`'s Arc.
pub struct GpuBuffer {
    ctx: Arc<Context>,
    buffer: Option<wgpu::Buffer>,
    class: u64,
    version: AtomicU64,
}

impl GpuBuffer {
    /// A buffer of at least `nbytes` with unspecified contents.
    pub(crate) fn new(ctx: &Arc<Context>, nbytes: u64) -> Result<GpuBuffer> {
        // Up to the largest buffer, not the largest binding: elementwise kernels bind
        // windows of bigger buffers (kernels.rs `run_elementwise`).
        let max = ctx.limits.max_buffer_size;
        if nbytes > max {
            bail!(
                OutOfMemory,
                "a GPU tensor of {nbytes} bytes exceeds this adapter's largest buffer ({max} bytes); \
                 splitting one tensor across several buffers is not implemented"
            );
        }
        // The size class may round past the limit; such a buffer gets its exact size.
        let class = size_class(nbytes);
        let class = if class > max { nbytes.next_multiple_of(4) } else { class };
        let buffer = ctx.pool.take(&ctx.device, class);
        Ok(GpuBuffer { ctx: ctx.clone(), buffer: Some(buffer), class, version: AtomicU64::new(0) })
    }

    pub fn device(&self) -> Device {
        Device::Gpu(self.ctx.index)
    }

    /// The in-place write counter autograd compares (see `CpuBuffer::version`).
    pub fn version(&self) -> &AtomicU64 {
        &self.version
    }

    pub(crate) fn raw(&self) -> &wgpu::Buffer {
        self.buffer.as_ref().expect("a live GpuBuffer holds its buffer")
    }

    pub(crate) fn ctx(&self) -> &Arc<Context> {
        &self.ctx
    }
}

impl Drop for GpuBuffer {
    fn drop(&mut self) {
        if let Some(b) = self.buffer.take() {
            self.ctx.pool.give_back(self.class, b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::size_class;

    #[test]
    fn size_classes_round_up_with_bounded_waste() {
        assert_eq!(size_class(0), 256);
        assert_eq!(size_class(300), 512);
        assert_eq!(size_class(1 << 20), 1 << 20);
        let n = (1 << 20) + 1;
        assert!(size_class(n) >= n && size_class(n) <= n + n / 8);
    }
}
