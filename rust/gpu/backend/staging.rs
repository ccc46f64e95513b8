//! Readback: device buffers are copied into mappable staging buffers, which are pooled
//! by size class (readbacks of the same sizes repeat every step of a loop).

use std::collections::HashMap;
use std::sync::Mutex;

use super::context::Context;
use crate::core::{Error, Result};

pub struct StagingPool {
    free: Mutex<HashMap<u64, Vec<wgpu::Buffer>>>,
}

/// Staging buffers kept per size class.
const KEEP_PER_CLASS: usize = 4;

impl StagingPool {
    pub fn new() -> StagingPool {
        StagingPool { free: Mutex::new(HashMap::new()) }
    }

    fn take(&self, device: &wgpu::Device, class: u64) -> wgpu::Buffer {
        if let Some(b) = self.free.lock().unwrap_or_else(|p| p.into_inner()).get_mut(&class).and_then(|v| v.pop()) {
            return b;
        }
        device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("ferrograd readback"),
            size: class,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        })
    }

    fn give_back(&self, class: u64, b: wgpu::Buffer) {
        let mut g = self.free.lock().unwrap_or_else(|p| p.into_inner());
        let v = g.entry(class).or_default();
        if v.len() < KEEP_PER_CLASS {
            v.push(b);
        }
    }
}

/// The largest staging buffer: bigger readbacks come back in pieces of this size, since
/// a power-of-two size class just above 2 GiB would pass the adapter's maximum buffer
/// size (NVIDIA's is a little under 4 GiB), and pooled buffers that big would hog memory.
const PIECE: u64 = 1 << 28;

/// The `len` bytes of `src` from byte `offset`, after all work recorded so far.
/// A sync point: submits the pending batch and waits for it.
pub fn read_bytes(ctx: &Context, src: &wgpu::Buffer, offset: u64, len: u64) -> Result<Vec<u8>> {
    if len <= PIECE {
        return read_piece(ctx, src, offset, len);
    }
    let mut out = Vec::with_capacity(len as usize);
    for start in (0..len).step_by(PIECE as usize) {
        out.extend(read_piece(ctx, src, offset + start, PIECE.min(len - start))?);
    }
    Ok(out)
}

/// [`read_bytes`] of at most [`PIECE`] bytes, through one pooled staging buffer.
fn read_piece(ctx: &Context, src: &wgpu::Buffer, offset: u64, len: u64) -> Result<Vec<u8>> {
    if len == 0 {
        return Ok(Vec::new());
    }
    let class = len.next_power_of_two().max(256);
    let staging = ctx.staging.take(&ctx.device, class);
    ctx.pending.record(&ctx.device, |enc| enc.copy_buffer_to_buffer(src, offset, &staging, 0, len));
    ctx.flush();
    let (tx, rx) = std::sync::mpsc::channel();
    staging.map_async(wgpu::MapMode::Read, 0..len, move |r| {
        let _ = tx.send(r);
    });
    ctx.device
        .poll(wgpu::PollType::wait_indefinitely())
        .map_err(|e| Error::Runtime(format!("waiting for the GPU failed: {e}")))?;
    ctx.check_errors()?;
    rx.recv()
        .map_err(|_| Error::Runtime("GPU readback was dropped".into()))?
        .map_err(|e| Error::Runtime(format!("GPU readback failed: {e}")))?;
    let data =
        staging.get_mapped_range(0..len).map_err(|e| Error::Runtime(format!("GPU readback failed: {e}")))?.to_vec();
    staging.unmap();
    ctx.staging.give_back(class, staging);
    Ok(data)
}
