//! The pending command encoder: dispatches and copies are recorded into one encoder and
//! submitted together at sync points (readback, synchronize) or when the batch is full.
//! Per-dispatch CPU cost in wgpu is microseconds; submits are what batching saves.

use std::sync::Mutex;

/// Submit after this many recorded commands even without a sync point, so memory held
/// by a long chain of unsynchronised ops (metadata, bind groups) stays bounded.
const MAX_BATCH: usize = 512;

pub struct Pending {
    inner: Mutex<(Option<wgpu::CommandEncoder>, usize)>,
}

impl Pending {
    pub fn new() -> Pending {
        Pending { inner: Mutex::new((None, 0)) }
    }

    /// Records into the pending encoder; returns true when the batch should be submitted.
    pub fn record(&self, device: &wgpu::Device, f: impl FnOnce(&mut wgpu::CommandEncoder)) -> bool {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let enc = g.0.get_or_insert_with(|| {
            device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("ferrograd batch") })
        });
        f(enc);
        g.1 += 1;
        g.1 >= MAX_BATCH
    }

    /// The finished command buffer of everything recorded, if anything was.
    pub fn take(&self) -> Option<wgpu::CommandBuffer> {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        g.1 = 0;
        g.0.take().map(|e| e.finish())
    }
}
