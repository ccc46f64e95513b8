//! The process-wide wgpu instance, the adapter list and one context per adapter in use,
//! all created on first GPU use only: importing ferrograd or computing on CPU tensors
//! never loads wgpu's backends (the Vulkan loader included).
//!
//! Environment: `FERROGRAD_GPU_BACKEND` (vulkan, metal, dx12, gl) restricts the
//! backends searched; `FERROGRAD_GPU_ADAPTER` (an index into the list, or a substring of
//! an adapter's name) picks the adapter that "gpu" means.

use std::sync::{Arc, Mutex, OnceLock};

use super::context::Context;
use crate::bail;
use crate::core::{Error, Result};
use crate::gpu::AdapterSummary;

struct Registry {
    /// Kept alive for the adapters' sake.
    _instance: wgpu::Instance,
    backends: wgpu::Backends,
    adapters: Vec<wgpu::Adapter>,
    contexts: Mutex<Vec<Option<Arc<Context>>>>,
}

static REGISTRY: OnceLock<std::result::Result<Registry, String>> = OnceLock::new();

fn backends_from_env() -> std::result::Result<wgpu::Backends, String> {
    match std::env::var("FERROGRAD_GPU_BACKEND") {
        Err(_) => Ok(wgpu::Backends::all()),
        Ok(v) => match v.trim().to_ascii_lowercase().as_str() {
            "" => Ok(wgpu::Backends::all()),
            "vulkan" => Ok(wgpu::Backends::VULKAN),
            "metal" => Ok(wgpu::Backends::METAL),
            "dx12" => Ok(wgpu::Backends::DX12),
            "gl" | "gles" | "opengl" => Ok(wgpu::Backends::GL),
            other => Err(format!("FERROGRAD_GPU_BACKEND={other:?} is not one of vulkan, metal, dx12, gl")),
        },
    }
}

fn registry() -> Result<&'static Registry> {
    REGISTRY
        .get_or_init(|| {
            let backends = backends_from_env()?;
            let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
            desc.backends = backends;
            let instance = wgpu::Instance::new(desc);
            let mut adapters = pollster::block_on(instance.enumerate_adapters(backends));
            // A stable order people can index: best kind first, GL (a fallback that
            // duplicates Vulkan adapters on Linux) last.
            adapters.sort_by_key(|a| rank(&a.get_info()));
            let n = adapters.len();
            Ok(Registry { _instance: instance, backends, adapters, contexts: Mutex::new(vec![None; n]) })
        })
        .as_ref()
        .map_err(|e| Error::Runtime(e.clone()))
}

fn rank(info: &wgpu::AdapterInfo) -> (u8, u8) {
    let kind = match info.device_type {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Cpu => 3,
        wgpu::DeviceType::Other => 4,
    };
    (kind, u8::from(info.backend == wgpu::Backend::Gl))
}

fn no_adapter(backends: wgpu::Backends) -> Error {
    Error::Runtime(format!(
        "no GPU adapter found: wgpu looked for {backends:?} adapters{} and found none. Install a driver: \
         your GPU vendor's Vulkan/Metal/DX12 driver, or on a headless Linux machine Mesa's software \
         Vulkan driver lavapipe (Debian/Ubuntu: apt-get install mesa-vulkan-drivers libvulkan1; on \
         Debian 12 take them from bookworm-backports). ferrograd.gpu.adapters() lists what is visible.",
        if std::env::var("FERROGRAD_GPU_BACKEND").is_ok() { " (restricted by FERROGRAD_GPU_BACKEND)" } else { "" }
    ))
}

/// Whether any adapter is visible (initialises the instance, nothing more).
pub fn is_available() -> bool {
    registry().map(|r| !r.adapters.is_empty()).unwrap_or(false)
}

/// The adapter index that plain "gpu" means.
pub fn default_index() -> Result<u32> {
    let r = registry()?;
    if r.adapters.is_empty() {
        return Err(no_adapter(r.backends));
    }
    let Ok(choice) = std::env::var("FERROGRAD_GPU_ADAPTER") else { return Ok(0) };
    let choice = choice.trim();
    if let Ok(i) = choice.parse::<u32>() {
        check_index(i)?;
        return Ok(i);
    }
    let needle = choice.to_ascii_lowercase();
    match r.adapters.iter().position(|a| a.get_info().name.to_ascii_lowercase().contains(&needle)) {
        Some(i) => Ok(i as u32),
        None => bail!(Runtime, "FERROGRAD_GPU_ADAPTER={choice:?} matches no adapter; visible: {}", names(r).join(", ")),
    }
}

fn names(r: &Registry) -> Vec<String> {
    r.adapters.iter().enumerate().map(|(i, a)| format!("{i}: {}", a.get_info().name)).collect()
}

pub fn check_index(i: u32) -> Result<()> {
    let r = registry()?;
    if r.adapters.is_empty() {
        return Err(no_adapter(r.backends));
    }
    if i as usize >= r.adapters.len() {
        bail!(Index, "gpu:{i} does not exist: {} adapter(s) are visible ({})", r.adapters.len(), names(r).join(", "));
    }
    Ok(())
}

/// The context of adapter `i`, created (device and queue requested) on first use.
pub fn context(i: u32) -> Result<Arc<Context>> {
    check_index(i)?;
    let r = registry()?;
    let mut contexts = r.contexts.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(c) = &contexts[i as usize] {
        return Ok(c.clone());
    }
    let c = Arc::new(Context::new(i, &r.adapters[i as usize])?);
    contexts[i as usize] = Some(c.clone());
    Ok(c)
}

/// Contexts created so far (synchronize waits on each).
pub fn live_contexts() -> Vec<Arc<Context>> {
    match REGISTRY.get() {
        Some(Ok(r)) => r.contexts.lock().unwrap_or_else(|e| e.into_inner()).iter().flatten().cloned().collect(),
        _ => Vec::new(),
    }
}

pub fn adapters() -> Result<Vec<AdapterSummary>> {
    let r = registry()?;
    Ok(r.adapters.iter().enumerate().map(|(i, a)| summary(i as u32, a)).collect())
}

fn summary(index: u32, a: &wgpu::Adapter) -> AdapterSummary {
    let info = a.get_info();
    let l = a.limits();
    let limits = vec![
        ("max_buffer_size", l.max_buffer_size),
        ("max_storage_buffer_binding_size", l.max_storage_buffer_binding_size),
        ("max_storage_buffers_per_shader_stage", l.max_storage_buffers_per_shader_stage as u64),
        ("max_compute_workgroups_per_dimension", l.max_compute_workgroups_per_dimension as u64),
        ("max_compute_invocations_per_workgroup", l.max_compute_invocations_per_workgroup as u64),
        ("max_compute_workgroup_storage_size", l.max_compute_workgroup_storage_size as u64),
        ("max_compute_workgroup_size_x", l.max_compute_workgroup_size_x as u64),
        ("max_compute_workgroup_size_y", l.max_compute_workgroup_size_y as u64),
        ("max_compute_workgroup_size_z", l.max_compute_workgroup_size_z as u64),
    ];
    let features = a.features().iter_names().map(|(n, _)| n.to_ascii_lowercase().replace('_', "-")).collect();
    AdapterSummary {
        index,
        name: info.name,
        backend: format!("{:?}", info.backend).to_ascii_lowercase(),
        device_type: match info.device_type {
            wgpu::DeviceType::DiscreteGpu => "discrete",
            wgpu::DeviceType::IntegratedGpu => "integrated",
            wgpu::DeviceType::VirtualGpu => "virtual",
            wgpu::DeviceType::Cpu => "cpu",
            wgpu::DeviceType::Other => "other",
        }
        .to_string(),
        driver: format!("{} {}", info.driver, info.driver_info).trim().to_string(),
        limits,
        features,
    }
}
