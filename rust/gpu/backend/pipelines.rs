//! Compute pipelines, cached by (family, entry point, substitutions): the kernel, its
//! dtype and its op variant. Compilation happens once per key per device.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::context::Context;
use crate::core::{Error, Result};
use crate::gpu::shaders::{render, Family};

pub struct PipelineCache {
    map: Mutex<HashMap<String, Arc<wgpu::ComputePipeline>>>,
}

impl PipelineCache {
    pub fn new() -> PipelineCache {
        PipelineCache { map: Mutex::new(HashMap::new()) }
    }
}

pub fn pipeline(
    ctx: &Context,
    family: Family,
    entry: &str,
    subs: &[(&'static str, String)],
) -> Result<Arc<wgpu::ComputePipeline>> {
    let key = format!("{family:?}|{entry}|{subs:?}");
    if let Some(p) = ctx.pipelines.map.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
        return Ok(p.clone());
    }
    let text = render(family, subs);
    // Compile errors would otherwise surface asynchronously (or as a panic): catch them
    // here, where the kernel's name is known.
    let scope = ctx.device.push_error_scope(wgpu::ErrorFilter::Validation);
    let module = ctx.device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some(family.file()),
        source: wgpu::ShaderSource::Wgsl(text.into()),
    });
    let p = ctx.device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some(family.file()),
        layout: None,
        module: &module,
        entry_point: Some(entry),
        compilation_options: Default::default(),
        cache: None,
    });
    if let Some(e) = pollster::block_on(scope.pop()) {
        return Err(Error::Runtime(format!("GPU kernel {} ({entry}, {subs:?}) failed to build: {e}", family.file())));
    }
    let p = Arc::new(p);
    ctx.pipelines.map.lock().unwrap_or_else(|p| p.into_inner()).insert(key, p.clone());
    Ok(p)
}
