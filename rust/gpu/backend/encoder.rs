//! The pending command encoder: dispatches and copies are recorded into one encoder and
//! submitted together at sync points (readback, synchronize) or when the batch is full.
//! Per-dispatch CPU cost in wgpu is microseconds; submits are what batching saves.
//!
//! Each dispatch's metadata (binding 0) is a slice of a per-batch arena: the words are
//! gathered on the host while the batch records, and written with one `write_buffer`
//! per arena just before the batch is submitted (WebGPU orders that write before the
//! submitted commands). A buffer per dispatch, as before, cost a driver allocation each.

use std::sync::Mutex;

/// Submit after this many recorded commands even without a sync point, so memory held
/// by a long chain of unsynchronised ops (metadata, bind groups) stays bounded.
const MAX_BATCH: usize = 512;

/// Bytes per metadata arena; a batch opens another when one is full (or a bigger one
/// for a dispatch whose metadata alone exceeds this: pooling tables can).
const ARENA: usize = 256 * 1024;

/// A metadata arena: its buffer and the bytes to write into it before submitting.
pub struct Arena {
    pub buffer: wgpu::Buffer,
    pub bytes: Vec<u8>,
}

#[derive(Default)]
struct Batch {
    encoder: Option<wgpu::CommandEncoder>,
    commands: usize,
    arenas: Vec<Arena>,
}

pub struct Pending {
    inner: Mutex<Batch>,
}

/// Everything recorded since the last submit: the command buffer and the metadata
/// arenas to fill before submitting it.
pub struct Finished {
    pub commands: wgpu::CommandBuffer,
    pub arenas: Vec<Arena>,
}

impl Pending {
    pub fn new() -> Pending {
        Pending { inner: Mutex::new(Batch::default()) }
    }

    /// Records into the pending encoder; returns true when the batch should be submitted.
    pub fn record(&self, device: &wgpu::Device, f: impl FnOnce(&mut wgpu::CommandEncoder)) -> bool {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        f(encoder(&mut g, device));
        g.commands += 1;
        g.commands >= MAX_BATCH
    }

    /// [`record`](Self::record) for a dispatch with metadata `md`: `f` gets the encoder
    /// and the arena slice holding `md` (buffer, byte offset, byte length); `align` is
    /// the device's storage offset alignment.
    pub fn record_dispatch(
        &self,
        device: &wgpu::Device,
        md: &[u8],
        align: usize,
        f: impl FnOnce(&mut wgpu::CommandEncoder, &wgpu::Buffer, u64, u64),
    ) -> bool {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let fits = g
            .arenas
            .last()
            .is_some_and(|a| a.bytes.len().next_multiple_of(align) + md.len() <= a.buffer.size() as usize);
        if !fits {
            let size = ARENA.max(md.len().next_multiple_of(4)) as u64;
            let buffer = device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("ferrograd metadata"),
                size,
                usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            });
            g.arenas.push(Arena { buffer, bytes: Vec::with_capacity(size as usize) });
        }
        let batch = &mut *g;
        let arena = batch.arenas.last_mut().expect("an arena was just ensured");
        let offset = arena.bytes.len().next_multiple_of(align);
        arena.bytes.resize(offset, 0);
        arena.bytes.extend_from_slice(md);
        let enc = batch.encoder.get_or_insert_with(|| new_encoder(device));
        f(enc, &arena.buffer, offset as u64, md.len() as u64);
        batch.commands += 1;
        batch.commands >= MAX_BATCH
    }

    /// Everything recorded, if anything was.
    pub fn take(&self) -> Option<Finished> {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let batch = std::mem::take(&mut *g);
        batch.encoder.map(|e| Finished { commands: e.finish(), arenas: batch.arenas })
    }
}

fn new_encoder(device: &wgpu::Device) -> wgpu::CommandEncoder {
    device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("ferrograd batch") })
}

fn encoder<'a>(batch: &'a mut Batch, device: &wgpu::Device) -> &'a mut wgpu::CommandEncoder {
    batch.encoder.get_or_insert_with(|| new_encoder(device))
}
