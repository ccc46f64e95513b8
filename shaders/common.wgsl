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

// Dense launches (every operand contiguous, md ndim 0) of the `*4` entry points: each
// invocation takes four elements a quarter of the launch apart and loads all four
// before storing any, so four memory requests per invocation are in flight (one element
// per invocation leaves a big GPU's memory bandwidth idle). `quads(n)` is the number of
// invocations (the host launches this form only for n < 2^31, so no index overflows);
// indices at or past n are not stored, and their loads read element n - 1 instead
// (`quad_load`).
// `quad_of` gives an invocation's four element indices for a launch of md[0] elements,
// or NO_QUAD for an invocation past the launch's end.
const NO_QUAD: u32 = 0xffffffffu;
fn quads(n: u32) -> u32 {
    return n / 4u + select(0u, 1u, n % 4u != 0u);
}
fn quad_of(gid: vec3<u32>, nwg: vec3<u32>) -> vec4<u32> {
    let n = md[0];
    let i = linear_id(gid, nwg);
    let q = quads(n);
    if (i >= q) {
        return vec4<u32>(NO_QUAD);
    }
    return vec4<u32>(i, i + q, i + 2u * q, i + 3u * q);
}
fn quad_load(e: vec4<u32>) -> vec4<u32> {
    return min(e, vec4<u32>(md[0] - 1u));
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

// Special results built from runtime bit patterns (constant NaN/inf are compile errors,
// and arithmetic may flush subnormals or assume finite values).
fn f32_nan(like: f32) -> f32 {
    return bitcast<f32>(bitcast<u32>(like) | 0x7fc00000u);
}
// +inf or -inf (neg), from a runtime value.
fn f32_inf(like: f32, neg: bool) -> f32 {
    let b = (bitcast<u32>(like) & 0u) | 0x7f800000u;
    return bitcast<f32>(select(b, b | 0x80000000u, neg));
}
fn f32_copysign(x: f32, s: f32) -> f32 {
    return bitcast<f32>((bitcast<u32>(x) & 0x7fffffffu) | (bitcast<u32>(s) & 0x80000000u));
}
fn f32_is_zero(x: f32) -> bool {
    return (bitcast<u32>(x) & 0x7fffffffu) == 0u;
}
// x * k with IEEE's inf * 0 = NaN, for a literal k that a driver may fold: NVIDIA's
// compiles x * 0.0 to 0.0 (leaky_relu(-inf, 0.0) must be NaN, as in numpy and PyTorch).
fn mul_ieee(x: f32, k: f32) -> f32 {
    if (f32_is_zero(k) && (bitcast<u32>(x) & 0x7fffffffu) == 0x7f800000u) {
        return f32_nan(x);
    }
    return x * k;
}
// Float order and equality on the bit patterns. Drivers may flush subnormal operands of
// float comparisons, max and min to zero (NVIDIA's Vulkan driver does; WGSL allows it),
// which would make 1e-45 == 0; numpy compares them exactly. The key orders floats as
// unsigned integers, with both zeros on one key. NaN operands are the callers' business.
fn f32_key(x: f32) -> u32 {
    var b = bitcast<u32>(x);
    if ((b & 0x7fffffffu) == 0u) {
        b = 0u;
    }
    return select(b | 0x80000000u, ~b, (b & 0x80000000u) != 0u);
}
fn f32_either_nan(x: f32, y: f32) -> bool {
    return f32_is_nan(x) || f32_is_nan(y);
}
fn f32_lt(x: f32, y: f32) -> bool {
    return !f32_either_nan(x, y) && f32_key(x) < f32_key(y);
}
fn f32_le(x: f32, y: f32) -> bool {
    return !f32_either_nan(x, y) && f32_key(x) <= f32_key(y);
}
fn f32_eq(x: f32, y: f32) -> bool {
    return !f32_either_nan(x, y) && f32_key(x) == f32_key(y);
}
// x > 0 for every positive x, subnormals included.
fn f32_positive(x: f32) -> bool {
    let b = bitcast<u32>(x);
    return b != 0u && b < 0x7f800001u;
}

// Correctly rounded division and square root, as IEEE and numpy: WGSL lets x / y be
// 2.5 ulp off and sqrt be an approximation (NVIDIA's are both). The driver's result is
// only a candidate: the exact test below moves it to the neighbour on the right side of
// the true value's rounding midpoint. The test is in integers, because WGSL's fma may be
// unfused (lavapipe's is), which rules out the usual residual step. Ties cannot occur:
// a midpoint has 25 significant bits, more than any quotient or root of floats can.

// The finite float with bits `b` (sign ignored) as mant * 2^exp (subnormals too).
fn f32_mant(b: u32) -> u32 {
    let m = b & 0x7fffffu;
    return select(m | 0x800000u, m, (b & 0x7f800000u) == 0u);
}
fn f32_exp(b: u32) -> i32 {
    return max(i32((b >> 23u) & 0xffu), 1) - 150;
}
// The full 64-bit product of two u32s as (high word, low word), from 16-bit halves
// (WGSL has no widening multiply).
fn mul_wide(a: u32, b: u32) -> vec2<u32> {
    let a0 = a & 0xffffu;
    let a1 = a >> 16u;
    let b0 = b & 0xffffu;
    let b1 = b >> 16u;
    let lo = a0 * b0;
    let m1 = a1 * b0;
    let mid = m1 + a0 * b1;
    let mid_carry = select(0u, 0x10000u, mid < m1);
    let low = lo + (mid << 16u);
    let low_carry = select(0u, 1u, low < lo);
    return vec2<u32>(a1 * b1 + (mid >> 16u) + mid_carry + low_carry, low);
}

// The sign of |N| - p * 2^pe (N the float with bits nb, p a 64-bit (hi, lo)), or 0 when
// the two are too far apart in scale to line up, which a candidate within a few ulp
// never is.
fn cmp_scaled(nb: u32, p: vec2<u32>, pe: i32) -> i32 {
    let m = f32_mant(nb);
    let k = f32_exp(nb) - pe;
    if (k < 0 || k > 32 + i32(countLeadingZeros(m))) {
        return 0; // (m << k would not fit in 64 bits)
    }
    let ku = u32(k);
    var n = vec2<u32>(0u, m);
    if (ku >= 32u) {
        n = vec2<u32>(m << (ku - 32u), 0u);
    } else if (ku > 0u) {
        n = vec2<u32>(m >> (32u - ku), m << ku);
    }
    if (n.x != p.x) {
        return select(-1, 1, n.x > p.x);
    }
    if (n.y != p.y) {
        return select(-1, 1, n.y > p.y);
    }
    return 0;
}
// sign(|x| - mid * |y|) and sign(|x| - mid^2), mid the midpoint above the positive
// float with bits qb: mid = (2 mant + 1) * 2^(exp - 1).
fn div_side(xb: u32, yb: u32, qb: u32) -> i32 {
    return cmp_scaled(xb, mul_wide(2u * f32_mant(qb) + 1u, f32_mant(yb)), f32_exp(qb) - 1 + f32_exp(yb));
}
fn sqrt_side(xb: u32, sb: u32) -> i32 {
    let a = 2u * f32_mant(sb) + 1u;
    return cmp_scaled(xb, mul_wide(a, a), 2 * (f32_exp(sb) - 1));
}
fn div_f32(x: f32, y: f32) -> f32 {
    var n = x;
    var d = y;
    if (abs(d) > 8.5070592e37) {
        // Drivers divide through a reciprocal, which underflows past 2^126.
        n = n * 0.25;
        d = d * 0.25;
    }
    return div_fix(x, y, n / d);
}
// The correctly rounded x / y from a candidate q a few ulp off (zero, inf and NaN
// candidates are returned as they are).
fn div_fix(x: f32, y: f32, q: f32) -> f32 {
    return round_fix(0u, x, y, q);
}
// The correctly rounded sqrt(x) from a candidate s a few ulp off.
fn sqrt_fix(x: f32, s: f32) -> f32 {
    return round_fix(1u, x, x, s);
}
// Moves candidate c of x / y (op 0) or sqrt(x) (op 1) one ulp at a time to the right
// side of the true value's rounding midpoints (div_side / sqrt_side), keeping its sign.
fn round_fix(op: u32, x: f32, y: f32, c: f32) -> f32 {
    if (f32_is_nan(c) || f32_is_inf(c) || f32_is_zero(c)) {
        return c;
    }
    let xb = bitcast<u32>(x) & 0x7fffffffu;
    let yb = bitcast<u32>(y) & 0x7fffffffu;
    var cb = bitcast<u32>(c) & 0x7fffffffu;
    for (var i = 0; i < 4 && cb < 0x7f800000u; i = i + 1) {
        if (fix_side(op, xb, yb, cb) > 0) {
            cb = cb + 1u;
        } else if (cb > 1u && fix_side(op, xb, yb, cb - 1u) < 0) {
            cb = cb - 1u;
        } else {
            break;
        }
    }
    return bitcast<f32>(cb | (bitcast<u32>(c) & 0x80000000u));
}
fn fix_side(op: u32, xb: u32, yb: u32, cb: u32) -> i32 {
    if (op == 0u) {
        return div_side(xb, yb, cb);
    }
    return sqrt_side(xb, cb);
}
fn sqrt_f32(x: f32) -> f32 {
    return sqrt_fix(x, sqrt(x));
}

// x * 2^64 for |x| < 2^-60, exactly, subnormals included (built from the bits).
fn f32_scale_up64(x: f32) -> f32 {
    let b = bitcast<u32>(x);
    if ((b & 0x7f800000u) == 0u) {
        return f32_copysign(f32(b & 0x7fffffu) * 2.5849394942e-26, x); // mantissa * 2^-85
    }
    return bitcast<f32>(b + 0x20000000u); // exponent + 64
}
// |x| < 2^-12 (zeros and subnormals included), where f(x) = x to float32 precision for
// odd functions with f'(0) = 1.
fn f32_is_tiny(x: f32) -> bool {
    return (bitcast<u32>(x) & 0x7fffffffu) < 0x39800000u;
}

// fdlibm's logf reduction on the bit patterns (subnormals normalized as integers):
// x = 2^k (1 + f), 1 + f in [sqrt(2)/2, sqrt(2)); s = f / (2 + f), r the polynomial
// tail. Only for positive finite nonzero x.
struct LogParts {
    k: f32,
    f: f32,
    s: f32,
    hfsq: f32,
    r: f32,
}
fn log_parts(x: f32) -> LogParts {
    var ix = bitcast<u32>(x);
    var k = 0i;
    if (ix < 0x00800000u) {
        let sh = countLeadingZeros(ix) - 8u;
        ix = ix << sh;
        k = -i32(sh);
    }
    ix = ix + (0x3f800000u - 0x3f3504f3u);
    k = k + i32(ix >> 23u) - 127;
    ix = (ix & 0x007fffffu) + 0x3f3504f3u;
    let f = bitcast<f32>(ix) - 1.0;
    let s = f / (2.0 + f);
    let z = s * s;
    let w = z * z;
    let t1 = w * (0.40000972152 + w * 0.24279078841);
    let t2 = z * (0.66666662693 + w * 0.28498786688);
    return LogParts(f32(k), f, s, 0.5 * f * f, t2 + t1);
}
// log's special results (NaN, -inf at zero, NaN below zero, +inf); `ok` false when x is
// an ordinary positive value.
fn log_special(x: f32) -> vec2<f32> {
    let b = bitcast<u32>(x);
    if (f32_is_nan(x) || (b > 0x80000000u)) {
        return vec2<f32>(1.0, f32_nan(x));
    }
    if (f32_is_zero(x)) {
        return vec2<f32>(1.0, f32_inf(x, true));
    }
    if (b == 0x7f800000u) {
        return vec2<f32>(1.0, x);
    }
    return vec2<f32>(0.0, x);
}
fn log_f32(x: f32) -> f32 {
    let sp = log_special(x);
    if (sp.x != 0.0) {
        return sp.y;
    }
    let p = log_parts(x);
    return p.s * (p.hfsq + p.r) + p.k * 9.0580006145e-06 - p.hfsq + p.f + p.k * 6.9313812256e-01;
}
// log2 and log10 take f + s (hfsq + r) - hfsq as hi + lo, hi cut to 12 bits so that
// hi times their constants' heads is exact (fdlibm's log2f/log10f).
fn log_hi_lo(p: LogParts) -> vec2<f32> {
    let hi = bitcast<f32>(bitcast<u32>(p.f - p.hfsq) & 0xfffff000u);
    return vec2<f32>(hi, p.f - hi - p.hfsq + p.s * (p.hfsq + p.r));
}
fn log2_f32(x: f32) -> f32 {
    let sp = log_special(x);
    if (sp.x != 0.0) {
        return sp.y;
    }
    let p = log_parts(x);
    let h = log_hi_lo(p);
    return (h.y + h.x) * -1.7605285393e-04 + h.y * 1.4428710938e+00 + h.x * 1.4428710938e+00 + p.k;
}
fn log10_f32(x: f32) -> f32 {
    let sp = log_special(x);
    if (sp.x != 0.0) {
        return sp.y;
    }
    let p = log_parts(x);
    let h = log_hi_lo(p);
    return p.k * 7.9034151668e-07 + (h.y + h.x) * -3.1689971365e-05 + h.y * 4.3432617188e-01
        + h.x * 4.3432617188e-01 + p.k * 3.0102920532e-01;
}

// log(1 + x): log of the rounded sum plus the first-order correction for its rounding.
fn log1p_f32(v: f32) -> f32 {
    if (f32_is_nan(v) || f32_is_tiny(v)) {
        return v;
    }
    if (v <= -1.0) {
        return select(f32_nan(v), f32_inf(v, true), v == -1.0);
    }
    if (f32_is_inf(v)) {
        return v;
    }
    let u = 1.0 + v;
    if (v > 16777216.0) {
        return log_f32(u);
    }
    return log_f32(u) + (v - (u - 1.0)) / u;
}

// exp(x) - 1 without cancellation near 0 (Kahan's trick, with an accurate log).
fn expm1_f32(v: f32) -> f32 {
    if (f32_is_nan(v) || f32_is_tiny(v)) {
        return v;
    }
    if (v < -20.0) {
        return -1.0;
    }
    if (v > 88.8) {
        return f32_inf(v, false);
    }
    let u = exp(v);
    if (f32_is_inf(u)) {
        return u;
    }
    if (abs(v) > 0.5) {
        return u - 1.0;
    }
    let um1 = u - 1.0;
    if (um1 == 0.0) {
        return v;
    }
    return um1 * (v / log_f32(u));
}

// erf by Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7), since WGSL has no erf; its
// Taylor series near 0, where the absolute bound would be a large relative error.
fn erf_f32(v: f32) -> f32 {
    if (f32_is_nan(v)) {
        return v;
    }
    let a = abs(v);
    if (a < 0.125) {
        let z = v * v;
        return v * (1.1283791671 + z * (-0.37612638903 + z * (0.11283791671 + z * (-0.026866170645 + z * 0.0052239776254))));
    }
    if (a > 6.0) {
        return f32_copysign(1.0, v);
    }
    let t = 1.0 / (1.0 + 0.3275911 * a);
    let y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * exp(-a * a);
    return f32_copysign(y, v);
}

fn asin_f32(x: f32) -> f32 {
    if (f32_is_tiny(x)) {
        return x;
    }
    if (f32_is_nan(x) || abs(x) > 1.0) {
        return f32_nan(x);
    }
    return atan2(x, sqrt((1.0 - x) * (1.0 + x)));
}
fn acos_f32(x: f32) -> f32 {
    if (f32_is_nan(x) || abs(x) > 1.0) {
        return f32_nan(x);
    }
    return atan2(sqrt((1.0 - x) * (1.0 + x)), x);
}
fn sinh_f32(x: f32) -> f32 {
    if (f32_is_tiny(x) || f32_is_nan(x) || f32_is_inf(x)) {
        return x;
    }
    let a = abs(x);
    var r: f32;
    if (a < 1.0) {
        let t = expm1_f32(a);
        r = 0.5 * (2.0 * t - t * t / (t + 1.0));
    } else if (a < 88.0) {
        let t = expm1_f32(a);
        r = 0.5 * (t + t / (t + 1.0));
    } else {
        let h = exp(0.5 * a);
        r = (0.5 * h) * h;
    }
    return f32_copysign(r, x);
}
// cosh(x) = exp(|x| - ln 2) (1 + tiny) beyond 88, where the builtin's exp(|x|) overflows
// though cosh is finite up to 89.41. ln 2 = L1 + L2 with L1 a multiple of 2^-16, so
// |x| - L1 is exact there; exp(-L2) is the constant factor.
fn cosh_f32(x: f32) -> f32 {
    let a = abs(x);
    if (a > 88.0) {
        return exp(a - 0.693145751953125) * 0.99999857139;
    }
    return cosh(x);
}
fn tanh_f32(x: f32) -> f32 {
    if (f32_is_tiny(x) || f32_is_nan(x)) {
        return x;
    }
    let a = abs(x);
    if (a > 9.5) {
        return f32_copysign(1.0, x);
    }
    let t = expm1_f32(2.0 * a);
    return f32_copysign(t / (t + 2.0), x);
}
fn asinh_f32(x: f32) -> f32 {
    if (f32_is_tiny(x) || f32_is_nan(x) || f32_is_inf(x)) {
        return x;
    }
    let a = abs(x);
    var r: f32;
    if (a >= 4096.0) {
        r = log_f32(a) + 0.693147180559945;
    } else if (a >= 2.0) {
        r = log_f32(2.0 * a + 1.0 / (sqrt(a * a + 1.0) + a));
    } else {
        r = log1p_f32(a + a * a / (sqrt(a * a + 1.0) + 1.0));
    }
    return f32_copysign(r, x);
}
fn acosh_f32(x: f32) -> f32 {
    if (f32_is_nan(x) || x < 1.0) {
        return f32_nan(x);
    }
    if (f32_is_inf(x)) {
        return x;
    }
    if (x < 2.0) {
        let t = x - 1.0;
        return log1p_f32(t + sqrt(t * t + 2.0 * t));
    }
    if (x < 4096.0) {
        return log_f32(2.0 * x - 1.0 / (x + sqrt(x * x - 1.0)));
    }
    return log_f32(x) + 0.693147180559945;
}
fn atanh_f32(x: f32) -> f32 {
    if (f32_is_tiny(x) || f32_is_nan(x)) {
        return x;
    }
    let a = abs(x);
    if (a > 1.0) {
        return f32_nan(x);
    }
    var r: f32;
    if (a < 0.5) {
        r = 0.5 * log1p_f32(2.0 * a + 2.0 * a * a / (1.0 - a));
    } else {
        r = 0.5 * log1p_f32(2.0 * a / (1.0 - a));
    }
    return f32_copysign(r, x);
}
// sign and relu on the sign bit, exact for subnormals on drivers that flush them.
fn sign_f32(x: f32) -> f32 {
    if (f32_is_nan(x) || f32_is_zero(x)) {
        return x;
    }
    return f32_copysign(1.0, x);
}
fn relu_f32(x: f32) -> f32 {
    return select(0.0, x, f32_positive(x) || f32_is_nan(x));
}
// x * sigmoid(x) and x * Phi(x) forms tend to 0 at -inf (not inf * 0).
fn sigmoid_f32(x: f32) -> f32 {
    if (f32_is_nan(x)) {
        return x;
    }
    if (x < -88.0) {
        return exp(x); // subnormal or 0, no overflow in 1 + exp(-x)
    }
    return 1.0 / (1.0 + exp(-x));
}
fn silu_f32(x: f32) -> f32 {
    if (f32_is_nan(x) || x > 88.0) {
        return x;
    }
    if (x < -88.0) {
        return select(x * exp(x), -0.0 * abs(x), f32_is_inf(x));
    }
    return x / (1.0 + exp(-x));
}
fn softplus_f32(x: f32) -> f32 {
    if (f32_is_nan(x) || x > 88.0) {
        return x;
    }
    if (x < -88.0) {
        return exp(x);
    }
    return max(x, 0.0) + log1p_f32(exp(-abs(x)));
}
fn gelu_f32(x: f32) -> f32 {
    if (f32_is_nan(x) || x > 10.0) {
        return x;
    }
    if (x < -14.0) {
        return -0.0 * abs(select(x, 1.0, f32_is_inf(x)));
    }
    return 0.5 * x * (1.0 + erf_f32(x * 0.70710678118654752));
}
fn gelu_tanh_f32(x: f32) -> f32 {
    if (f32_is_nan(x) || x > 10.0) {
        return x;
    }
    if (x < -14.0) {
        return -0.0 * abs(select(x, 1.0, f32_is_inf(x)));
    }
    let u = 0.79788456080286536 * (x + 0.044715 * x * x * x);
    if (u > 0.0) {
        return 0.5 * x * (1.0 + tanh_f32(u));
    }
    return x / (1.0 + exp(-2.0 * u));
}
