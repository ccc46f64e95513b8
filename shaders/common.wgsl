// Shared prelude, prepended to every family shader (rust/gpu/shaders.rs does the
// concatenation and the placeholder substitutions (names in double braces); tests/test_shaders_portable.py compiles
// the very same texts under naga and Tint).
//
// Binding 0 of every kernel is `md`: the dispatch's metadata (sizes, shapes, strides,
// offsets in elements, scalar parameters as bit patterns). Strides travel as the u32 bit
// patterns of i32 values: WGSL integer arithmetic wraps, so `offset + index * stride`
// comes out right for negative strides too, without signed intermediates.
@group(0) @binding(0) var<storage, read> md: array<u32>;

const WG: u32 = 256u;

// The linear id of an invocation in a 1-D launch that may have been folded onto a 2-D
// grid (more than 65,535 workgroups): rows of `nwg.x` workgroups.
fn linear_id(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.y * nwg.x * WG + gid.x;
}

// Storage offset of the element with C-order index `i` in a tensor whose shape starts
// at md[shape_at] (`ndim` entries) and strides at md[strides_at]. ndim == 0 marks a
// launch where every operand is dense: element i then sits at `base + i`.
fn strided_offset(i: u32, ndim: u32, shape_at: u32, strides_at: u32, base: u32) -> u32 {
    if (ndim == 0u) {
        return base + i;
    }
    var rem = i;
    var off = base;
    for (var d = ndim; d > 0u; d = d - 1u) {
        let size = md[shape_at + d - 1u];
        off = off + (rem % size) * md[strides_at + d - 1u];
        rem = rem / size;
    }
    return off;
}

// Float bit tests: exact, unlike `x != x`, which WGSL lets compilers fold away.
fn f32_is_nan(x: f32) -> bool {
    return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u;
}
fn f32_is_inf(x: f32) -> bool {
    return (bitcast<u32>(x) & 0x7fffffffu) == 0x7f800000u;
}

// erf by Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7), since WGSL has no erf.
fn erf_f32(v: f32) -> f32 {
    let t = 1.0 / (1.0 + 0.3275911 * abs(v));
    let y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * exp(-v * v);
    return select(y, -y, v < 0.0);
}

// exp(x) - 1 and log(1 + x) without cancellation near 0 (Kahan's tricks).
fn expm1_f32(v: f32) -> f32 {
    let u = exp(v);
    if (u == 1.0) {
        return v;
    }
    if (f32_is_inf(u)) {
        return u;
    }
    let um1 = u - 1.0;
    if (um1 == -1.0) {
        return -1.0;
    }
    return um1 * v / log(u);
}
fn log1p_f32(v: f32) -> f32 {
    let u = 1.0 + v;
    if (u == 1.0) {
        return v;
    }
    return log(u) * v / (u - 1.0);
}
