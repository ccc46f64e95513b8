//! One adapter's device and queue, with everything cached per device: the buffer pool,
//! the staging pool, the pipeline cache and the pending command encoder.

use std::sync::{Arc, Mutex};

use super::buffers::BufferPool;
use super::encoder::Pending;
use super::pipelines::PipelineCache;
use super::staging::StagingPool;
use crate::core::{Error, Result};

pub struct Context {
    pub index: u32,
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub limits: wgpu::Limits,
    /// The adapter's name, for error messages.
    pub adapter_name: String,
    /// Whether the device was opened with shader-f16 (float16 tensors may live on it).
    pub f16: bool,
    pub pool: BufferPool,
    pub staging: StagingPool,
    pub pipelines: PipelineCache,
    pub pending: Pending,
    /// The first validation/out-of-memory error wgpu reported asynchronously; raised
    /// (and cleared) at the next sync point. Without a handler wgpu would panic.
    errors: Arc<Mutex<Option<String>>>,
}

/// An error with its chain of causes (wgpu's Display shows only "Validation Error").
fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut msg = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        msg.push_str(": ");
        msg.push_str(&c.to_string());
        cause = c.source();
    }
    msg
}

/// Whether to open the device with shader-f16: when the adapter offers it, unless
/// FERROGRAD_GPU_NO_F16=1 (an escape hatch for drivers whose f16 support misbehaves,
/// and how the tests reach the "adapter lacks shader-f16" error on any machine).
fn f16_wanted(adapter: &wgpu::Adapter) -> bool {
    let disabled = std::env::var("FERROGRAD_GPU_NO_F16").is_ok_and(|v| v == "1");
    !disabled && adapter.features().contains(wgpu::Features::SHADER_F16)
}

impl Context {
    pub fn new(index: u32, adapter: &wgpu::Adapter) -> Result<Context> {
        // The adapter's own limits, not WebGPU's defaults: big tensors need the large
        // storage bindings that real drivers (and lavapipe) offer.
        let limits = adapter.limits();
        let f16 = f16_wanted(adapter);
        let desc = wgpu::DeviceDescriptor {
            label: Some("ferrograd"),
            required_features: if f16 { wgpu::Features::SHADER_F16 } else { wgpu::Features::empty() },
            required_limits: limits.clone(),
            memory_hints: wgpu::MemoryHints::Performance,
            ..Default::default()
        };
        let (device, queue) = pollster::block_on(adapter.request_device(&desc)).map_err(|e| {
            Error::Runtime(format!("could not open GPU adapter {index} ({}): {e}", adapter.get_info().name))
        })?;
        let errors: Arc<Mutex<Option<String>>> = Arc::new(Mutex::new(None));
        let sink = errors.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            let mut slot = sink.lock().unwrap_or_else(|p| p.into_inner());
            slot.get_or_insert_with(|| describe(&e));
        }));
        Ok(Context {
            index,
            device,
            queue,
            pool: BufferPool::new(),
            staging: StagingPool::new(),
            pipelines: PipelineCache::new(),
            pending: Pending::new(),
            limits,
            adapter_name: adapter.get_info().name,
            f16,
            errors,
        })
    }

    /// Raises the error wgpu reported since the last check, if any.
    pub fn check_errors(&self) -> Result<()> {
        match self.errors.lock().unwrap_or_else(|p| p.into_inner()).take() {
            Some(e) => Err(Error::Runtime(format!("GPU error: {e}"))),
            None => Ok(()),
        }
    }

    /// Submits the pending work (a sync point does this; so does a full encoder).
    pub fn flush(&self) {
        if let Some(done) = self.pending.take() {
            for arena in &done.arenas {
                self.queue.write_buffer(&arena.buffer, 0, &arena.bytes);
            }
            self.queue.submit([done.commands]);
        }
    }

    /// Submits pending work and blocks until the device has finished all of it.
    pub fn synchronize(&self) -> Result<()> {
        self.flush();
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| Error::Runtime(format!("waiting for the GPU failed: {e}")))?;
        self.check_errors()
    }
}
