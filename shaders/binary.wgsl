// Elementwise binary ops with broadcasting: out[view] = OP(a[view], b[view]). Broadcast
// operands arrive with stride 0 on the broadcast dims, so one strided walk serves all.
// Placeholders: T operand element type, O output element type, TC and OC the types
// the op computes in (f32 for f16 storage, else the storage types), EXPR the op as
// an expression of `x` and `y` (table in rust/gpu/exprs.rs).
// md: [n, ndim, out_off, a_off, b_off, shape[ndim], out_strides, a_strides, b_strides]
// The `scalar` entry takes b (or a, when `scalar_first`) from the metadata instead:
// md: [n, ndim, out_off, a_off, value bits (as a TC), scalar_first, shape, out_strides,
// a_strides];
// `scalar_inplace` is the same with the result written over a's own elements.
@group(0) @binding(1) var<storage, read_write> dst: array<{{O}}>;
@group(0) @binding(2) var<storage, read> lhs: array<{{T}}>;
@group(0) @binding(3) var<storage, read> rhs: array<{{T}}>;

fn f32_is_odd_int(y: f32) -> bool {
    let a = abs(y);
    return a < 16777216.0 && floor(a) == a && (u32(a) & 1u) == 1u;
}
// Whether y is integral, on the bits for |y| < 1 (subnormals are not, on drivers that
// flush them in floor()).
fn f32_is_int(y: f32) -> bool {
    let b = bitcast<u32>(y) & 0x7fffffffu;
    return b == 0u || (b >= 0x3f800000u && floor(y) == y);
}
fn f32_sign_bit(x: f32) -> bool {
    return (bitcast<u32>(x) >> 31u) == 1u;
}
// numpy's float power with C99's special cases; the general case as exp2(y log2|x|),
// with the sign of odd integral powers of negative bases put back. Signs are read off
// the bits and |x| built from them, so subnormal operands (which log2_f32 normalizes)
// are not flushed to zero on the way.
fn pow_f32(x: f32, y: f32) -> f32 {
    let ax = bitcast<f32>(bitcast<u32>(x) & 0x7fffffffu);
    let xneg = f32_sign_bit(x);
    let yneg = f32_sign_bit(y);
    if (f32_is_zero(y) || x == 1.0) {
        return 1.0;
    }
    if (f32_is_nan(x) || f32_is_nan(y)) {
        return f32_nan(x + y);
    }
    if (y == 1.0) {
        return x;
    }
    let odd = f32_is_odd_int(y);
    if (f32_is_inf(y)) {
        if (ax == 1.0) {
            return 1.0;
        }
        return select(y * 0.0, f32_inf(y, false), (ax > 1.0) == !yneg);
    }
    if (f32_is_zero(x)) {
        let neg = odd && xneg;
        if (yneg) {
            return f32_inf(x, neg);
        }
        return select(ax * 0.0, -(ax * 0.0), neg);
    }
    if (f32_is_inf(x)) {
        let neg = odd && xneg;
        if (!yneg) {
            return f32_inf(x, neg);
        }
        return select(ax * 0.0, -(ax * 0.0), neg);
    }
    if (xneg && !f32_is_int(y)) {
        return f32_nan(x);
    }
    let l = y * log2_f32(ax);
    var r: f32;
    if (l > 128.0) {
        r = f32_inf(x, false);
    } else if (l < -150.0) {
        r = 0.0 * ax;
    } else {
        r = exp2(l);
    }
    return select(r, -r, xneg && odd);
}

// Integer power by squaring (wrapping, like numpy); negative exponents give 0 unless
// the base is 1 or -1 (PyTorch's rule: integer division of 1 by the power).
fn pow_i32(x: i32, y: i32) -> i32 {
    if (y < 0) {
        if (x == 1) {
            return 1;
        }
        if (x == -1) {
            return select(1, -1, (y & 1) == 1);
        }
        return 0;
    }
    var base = x;
    var e = u32(y);
    var r = 1;
    while (e > 0u) {
        if ((e & 1u) == 1u) {
            r = r * base;
        }
        base = base * base;
        e = e >> 1u;
    }
    return r;
}
fn pow_u32(x: u32, y: u32) -> u32 {
    var base = x;
    var e = y;
    var r = 1u;
    while (e > 0u) {
        if ((e & 1u) == 1u) {
            r = r * base;
        }
        base = base * base;
        e = e >> 1u;
    }
    return r;
}

// numpy's floor division and remainder (sign of the divisor); division by zero gives 0
// for integers, as numpy does (WGSL itself would return x).
fn floordiv_i32(x: i32, y: i32) -> i32 {
    if (y == 0) {
        return 0;
    }
    let q = x / y;
    return select(q, q - 1, (x % y != 0) && ((x < 0) != (y < 0)));
}
fn rem_i32(x: i32, y: i32) -> i32 {
    if (y == 0) {
        return 0;
    }
    let r = x % y;
    return select(r, r + y, (r != 0) && ((r < 0) != (y < 0)));
}
fn floordiv_u32(x: u32, y: u32) -> u32 {
    return select(x / max(y, 1u), 0u, y == 0u);
}
fn rem_u32(x: u32, y: u32) -> u32 {
    return select(x % max(y, 1u), 0u, y == 0u);
}
// C's fmod, exact, on the bit patterns (musl's fmodf): no rounding, and no arithmetic
// that could flush subnormals.
fn fmod_f32(x: f32, y: f32) -> f32 {
    var uxi = bitcast<u32>(x);
    var uyi = bitcast<u32>(y);
    var ex = i32((uxi >> 23u) & 0xffu);
    var ey = i32((uyi >> 23u) & 0xffu);
    let sx = uxi & 0x80000000u;
    if ((uyi << 1u) == 0u || f32_is_nan(y) || ex == 0xff) {
        return f32_nan(x + y);
    }
    if ((uxi << 1u) <= (uyi << 1u)) {
        if ((uxi << 1u) == (uyi << 1u)) {
            return bitcast<f32>(sx);
        }
        return x;
    }
    if (ex == 0) {
        let sh = countLeadingZeros(uxi << 9u);
        ex = ex - i32(sh);
        uxi = uxi << u32(-ex + 1);
    } else {
        uxi = (uxi & 0x007fffffu) | 0x00800000u;
    }
    if (ey == 0) {
        let sh = countLeadingZeros(uyi << 9u);
        ey = ey - i32(sh);
        uyi = uyi << u32(-ey + 1);
    } else {
        uyi = (uyi & 0x007fffffu) | 0x00800000u;
    }
    for (; ex > ey; ex = ex - 1) {
        let i = uxi - uyi;
        if ((i >> 31u) == 0u) {
            if (i == 0u) {
                return bitcast<f32>(sx);
            }
            uxi = i;
        }
        uxi = uxi << 1u;
    }
    let i = uxi - uyi;
    if ((i >> 31u) == 0u) {
        if (i == 0u) {
            return bitcast<f32>(sx);
        }
        uxi = i;
    }
    for (; (uxi >> 23u) == 0u; ex = ex - 1) {
        uxi = uxi << 1u;
    }
    if (ex > 0) {
        uxi = (uxi - 0x00800000u) | (u32(ex) << 23u);
    } else {
        uxi = uxi >> u32(-ex + 1);
    }
    return bitcast<f32>(uxi | sx);
}
// numpy's npy_divmod: (floor quotient, remainder with the divisor's sign). When both
// operands are below 2^-60 the same quotient is computed at 2^64 times the scale, where
// nothing is subnormal (drivers may flush those), and the remainder is scaled back on
// the bits.
fn divmod_f32(a: f32, b: f32) -> vec2<f32> {
    let big = max(bitcast<u32>(a) & 0x7fffffffu, bitcast<u32>(b) & 0x7fffffffu);
    if (big < 0x21800000u && !f32_is_zero(b)) {
        let r = divmod_scaled(f32_scale_up64(a), f32_scale_up64(b));
        return vec2<f32>(r.x, f32_scale_down64(r.y));
    }
    return divmod_scaled(a, b);
}
// x * 2^-64 for x a multiple of 2^-85 (a remainder of operands scaled by 2^64): exact,
// subnormal results built on the bits.
fn f32_scale_down64(x: f32) -> f32 {
    let b = bitcast<u32>(x);
    let e = (b >> 23u) & 0xffu;
    if (e > 64u) {
        return bitcast<f32>(b - 0x20000000u);
    }
    if (e == 0u) {
        return bitcast<f32>(b & 0x80000000u);
    }
    let shift = 65u - e;
    let mant = select(((b & 0x7fffffu) | 0x800000u) >> shift, 0u, shift >= 32u);
    return bitcast<f32>((b & 0x80000000u) | mant);
}
fn divmod_scaled(a: f32, b: f32) -> vec2<f32> {
    var m = fmod_f32(a, b);
    if (f32_is_zero(b)) {
        return vec2<f32>(div_f32(a, b), m);
    }
    var d = div_f32(a - m, b);
    if (!f32_is_zero(m)) {
        if (f32_sign_bit(b) != f32_sign_bit(m)) {
            if (max(bitcast<u32>(m) & 0x7fffffffu, bitcast<u32>(b) & 0x7fffffffu) < 0x21800000u) {
                // a subnormal sum, exact at 2^64 times the scale (see divmod_f32)
                m = f32_scale_down64(f32_scale_up64(m) + f32_scale_up64(b));
            } else {
                m = m + b;
            }
            d = d - 1.0;
        }
    } else {
        m = f32_copysign(0.0 * abs(a), b);
    }
    var q: f32;
    if (!f32_is_zero(d)) {
        q = floor(d);
        if (d - q > 0.5) {
            q = q + 1.0;
        }
    } else {
        q = f32_copysign(0.0 * abs(a), div_f32(a, b));
    }
    return vec2<f32>(q, m);
}
fn floordiv_f32(x: f32, y: f32) -> f32 {
    return divmod_f32(x, y).x;
}
fn rem_f32(x: f32, y: f32) -> f32 {
    return divmod_f32(x, y).y;
}
// numpy's maximum/minimum: NaN propagates; compared by key (f32_key) so that a
// subnormal operand comes back whole on drivers that flush them.
fn max_f32(x: f32, y: f32) -> f32 {
    if (f32_either_nan(x, y)) {
        return f32_nan(x + y);
    }
    return select(y, x, f32_key(x) >= f32_key(y));
}
fn min_f32(x: f32, y: f32) -> f32 {
    if (f32_either_nan(x, y)) {
        return f32_nan(x + y);
    }
    return select(y, x, f32_key(x) <= f32_key(y));
}
// C's atan2 special cases (zeros, infinities); the builtin for ordinary operands.
fn atan2_f32(y: f32, x: f32) -> f32 {
    if (f32_is_nan(x) || f32_is_nan(y)) {
        return f32_nan(x + y);
    }
    let xneg = (bitcast<u32>(x) >> 31u) == 1u;
    let pi = 3.14159265358979;
    if (f32_is_zero(y)) {
        return select(y, f32_copysign(pi, y), xneg);
    }
    if (f32_is_inf(y)) {
        if (f32_is_inf(x)) {
            return f32_copysign(select(0.785398163397448, 2.35619449019234, xneg), y);
        }
        return f32_copysign(1.5707963267949, y);
    }
    if (f32_is_zero(x)) {
        return f32_copysign(1.5707963267949, y);
    }
    if (f32_is_inf(x)) {
        return select(f32_copysign(0.0 * abs(y), y), f32_copysign(pi, y), xneg);
    }
    if ((max(bitcast<u32>(x) & 0x7fffffffu, bitcast<u32>(y) & 0x7fffffffu)) < 0x21800000u) {
        // both below 2^-60: the builtin would see flushed subnormals; the ratio is the same
        return atan2(f32_scale_up64(y), f32_scale_up64(x));
    }
    return atan2(y, x);
}
// log(e^x + e^y) = max + log1p(e^-|x - y|); equal operands (infinities) give x + log 2.
fn logaddexp_f32(x: f32, y: f32) -> f32 {
    if (f32_is_nan(x) || f32_is_nan(y)) {
        return f32_nan(x + y);
    }
    if (x == y) {
        return x + 0.693147180559945;
    }
    let m = max(x, y);
    if (f32_is_inf(m)) {
        return m;
    }
    let d = abs(x - y);
    if (f32_is_inf(d)) {
        return m;
    }
    return m + log1p_f32(exp(-d));
}

// sqrt(x^2 + y^2) scaled by the larger magnitude, so it neither overflows nor
// underflows where the result is representable (as C's hypot).
fn hypot_f32(x: f32, y: f32) -> f32 {
    let a = abs(x);
    let b = abs(y);
    let m = max(a, b);
    if (f32_is_inf(a) || f32_is_inf(b)) {
        return select(b, a, f32_is_inf(a)); // inf, even when the other operand is NaN
    }
    if (f32_is_nan(a) || f32_is_nan(b)) {
        return f32_nan(a + b);
    }
    if (m == 0.0) {
        return m + min(a, b);
    }
    let s = sqrt_f32(1.0 + div_f32(min(a, b), m) * div_f32(min(a, b), m));
    if (m > 1.0e38) {
        // Overflow spelled out: one driver's product saturated at the largest float.
        let h = (m * 0.5) * s;
        return select(h * 2.0, f32_inf(h, false), h > 1.7014117e38);
    }
    return m * s;
}

// The next float after x toward y, on the bit patterns (arithmetic could flush the
// subnormal results to zero): floats ordered as integers by `f32_key`.
fn nextafter_f32(x: f32, y: f32) -> f32 {
    let bx = bitcast<u32>(x);
    let by = bitcast<u32>(y);
    if (f32_is_nan(x) || f32_is_nan(y)) {
        return bitcast<f32>(bx | by | 0x7fc00000u);
    }
    if (bx == by || ((bx | by) & 0x7fffffffu) == 0u) {
        return y;
    }
    if ((bx & 0x7fffffffu) == 0u) {
        return bitcast<f32>((by & 0x80000000u) | 1u); // the smallest subnormal toward y
    }
    let kx = f32_key(x);
    let k = select(kx - 1u, kx + 1u, kx < f32_key(y));
    return bitcast<f32>(select(~k, k & 0x7fffffffu, (k & 0x80000000u) != 0u));
}

fn op(x: {{TC}}, y: {{TC}}) -> {{OC}} {
    return {{EXPR}};
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_id(gid, nwg);
    if (i >= md[0]) {
        return;
    }
    let nd = md[1];
    let o = strided_offset(i, nd, 5u, 5u + nd, md[2]);
    let a = strided_offset(i, nd, 5u, 5u + 2u * nd, md[3]);
    let b = strided_offset(i, nd, 5u, 5u + 3u * nd, md[4]);
    dst[o] = {{O}}(op({{TC}}(lhs[a]), {{TC}}(rhs[b])));
}

// The scalar operand as a TC value: `md[4]` holds its bit pattern.
fn with_scalar(v: {{TC}}) -> {{O}} {
    let s = bitcast<{{TC}}>(md[4]);
    var r: {{OC}};
    if (md[5] != 0u) {
        r = op(s, v);
    } else {
        r = op(v, s);
    }
    return {{O}}(r);
}

@compute @workgroup_size(256)
fn scalar(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_id(gid, nwg);
    if (i >= md[0]) {
        return;
    }
    let nd = md[1];
    let o = strided_offset(i, nd, 6u, 6u + nd, md[2]);
    let a = strided_offset(i, nd, 6u, 6u + 2u * nd, md[3]);
    dst[o] = with_scalar({{TC}}(lhs[a]));
}

// `main` and `scalar` for dense launches, four elements per invocation (see `quad` in
// common.wgsl).
@compute @workgroup_size(256)
fn main4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = quad_of(gid, nwg);
    if (e.x == NO_QUAD) {
        return;
    }
    let a = md[3] + quad_load(e);
    let b = md[4] + quad_load(e);
    let x = vec4<{{TC}}>({{TC}}(lhs[a.x]), {{TC}}(lhs[a.y]), {{TC}}(lhs[a.z]), {{TC}}(lhs[a.w]));
    let y = vec4<{{TC}}>({{TC}}(rhs[b.x]), {{TC}}(rhs[b.y]), {{TC}}(rhs[b.z]), {{TC}}(rhs[b.w]));
    let r = vec4<{{OC}}>(op(x.x, y.x), op(x.y, y.y), op(x.z, y.z), op(x.w, y.w));
    for (var j = 0u; j < 4u; j = j + 1u) {
        if (e[j] < md[0]) {
            dst[md[2] + e[j]] = {{O}}(r[j]);
        }
    }
}

@compute @workgroup_size(256)
fn scalar4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = quad_of(gid, nwg);
    if (e.x == NO_QUAD) {
        return;
    }
    let a = md[3] + quad_load(e);
    let x = vec4<{{TC}}>({{TC}}(lhs[a.x]), {{TC}}(lhs[a.y]), {{TC}}(lhs[a.z]), {{TC}}(lhs[a.w]));
    let r = vec4<{{O}}>(with_scalar(x.x), with_scalar(x.y), with_scalar(x.z), with_scalar(x.w));
    for (var j = 0u; j < 4u; j = j + 1u) {
        if (e[j] < md[0]) {
            dst[md[2] + e[j]] = r[j];
        }
    }
}
// Reads and writes through `dst` only (WebGPU cannot bind one buffer twice); used when
// T and O agree, so `dst` holds the operand (the conversion to TC is then exact; for
// other T/O pairs it only has to compile).
@compute @workgroup_size(256)
fn scalar_inplace(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_id(gid, nwg);
    if (i >= md[0]) {
        return;
    }
    let nd = md[1];
    let o = strided_offset(i, nd, 6u, 6u + nd, md[2]);
    dst[o] = with_scalar({{TC}}(dst[o]));
}
