//! Recording one dispatch: the metadata buffer (binding 0), the bind group over the
//! tensors' buffers (bindings 1..), and the workgroup grid.

use super::context::Context;
use crate::bail;
use crate::core::Result;

/// Records `pipeline` over `buffers` (each bound whole) with metadata `md` into the
/// pending batch ([`launch_windows`] checks that each fits a storage binding).
pub fn launch(
    ctx: &Context,
    pipeline: &wgpu::ComputePipeline,
    md: &[u32],
    buffers: &[&wgpu::Buffer],
    groups: [u32; 3],
) -> Result<()> {
    let whole: Vec<Window> = buffers.iter().map(|&b| Window { buffer: b, offset: 0, size: None }).collect();
    launch_windows(ctx, pipeline, md, &whole, groups)
}

/// One binding: `size` bytes of `buffer` from byte `offset` (the rest of it for `None`).
#[derive(Clone)]
pub struct Window<'a> {
    pub buffer: &'a wgpu::Buffer,
    pub offset: u64,
    pub size: Option<u64>,
}

/// [`launch`] with each binding a window of its buffer.
pub fn launch_windows(
    ctx: &Context,
    pipeline: &wgpu::ComputePipeline,
    md: &[u32],
    windows: &[Window<'_>],
    groups: [u32; 3],
) -> Result<()> {
    // Ops split tensors larger than a binding before they get here (windows, or pieces:
    // `pieces.rs`); an operand that still does not fit (an index tensor of over 32M
    // entries on lavapipe, say) is refused here rather than failing inside the driver.
    let max = ctx.limits.max_storage_buffer_binding_size;
    if let Some(w) = windows.iter().find(|w| w.size.unwrap_or(w.buffer.size() - w.offset) > max) {
        bail!(
            OutOfMemory,
            "this GPU op cannot split an operand of {} bytes across storage bindings (the adapter binds at most {max} \
             bytes)",
            w.size.unwrap_or(w.buffer.size() - w.offset)
        );
    }
    // (A binding holds at least one word.)
    let bytes: Vec<u8> = md.iter().chain(md.is_empty().then_some(&0)).flat_map(|v| v.to_le_bytes()).collect();
    let align = ctx.limits.min_storage_buffer_offset_alignment as usize;
    let layout = pipeline.get_bind_group_layout(0);
    let full = ctx.pending.record_dispatch(&ctx.device, &bytes, align, |enc, meta, offset, size| {
        let resource = wgpu::BindingResource::Buffer(wgpu::BufferBinding {
            buffer: meta,
            offset,
            size: wgpu::BufferSize::new(size),
        });
        let mut entries = vec![wgpu::BindGroupEntry { binding: 0, resource }];
        for (i, w) in windows.iter().enumerate() {
            let resource = wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                buffer: w.buffer,
                offset: w.offset,
                size: w.size.and_then(wgpu::BufferSize::new),
            });
            entries.push(wgpu::BindGroupEntry { binding: i as u32 + 1, resource });
        }
        let bind_group = ctx.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &layout,
            entries: &entries,
        });
        let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor { label: None, timestamp_writes: None });
        pass.set_pipeline(pipeline);
        pass.set_bind_group(0, &bind_group, &[]);
        pass.dispatch_workgroups(groups[0], groups[1], groups[2]);
    });
    if full {
        ctx.flush();
    }
    Ok(())
}

/// A grid of `count` workgroups: a row of up to the per-dimension limit (65,535 by
/// default), folded into more rows when needed. Shaders recover the linear index from
/// `num_workgroups` (see `linear_id` in shaders/common.wgsl).
pub fn grid(ctx: &Context, count: u64) -> Result<[u32; 3]> {
    let max = u64::from(ctx.limits.max_compute_workgroups_per_dimension);
    if count <= max {
        return Ok([count as u32, 1, 1]);
    }
    let rows = count.div_ceil(max);
    if rows > max {
        bail!(Value, "{count} workgroups exceed this adapter's grid ({max} x {max}); the tensor is too large");
    }
    Ok([max as u32, rows as u32, 1])
}
