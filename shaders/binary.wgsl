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

// numpy's float power: WGSL's pow is undefined for negative bases, so integral
// exponents of negative bases are done on |x| with the sign put back.
fn pow_f32(x: f32, y: f32) -> f32 {
    if (y == 0.0) {
        return 1.0;
    }
    let r = pow(abs(x), y);
    if (x < 0.0) {
        if (floor(y) != y) {
            return bitcast<f32>(bitcast<u32>(r) | 0x7fc00000u); // NaN (a runtime value: a constant NaN is a compile error)
        }
        let odd = abs(y) < 16777216.0 && (i32(abs(y)) & 1) == 1;
        return select(r, -r, odd);
    }
    return r;
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
fn rem_f32(x: f32, y: f32) -> f32 {
    let r = x - floor(x / y) * y;
    return select(r, r + y, (r != 0.0) && ((r < 0.0) != (y < 0.0)));
}

// sqrt(x^2 + y^2) scaled by the larger magnitude, so it neither overflows nor
// underflows where the result is representable (as C's hypot).
fn hypot_f32(x: f32, y: f32) -> f32 {
    let a = abs(x);
    let b = abs(y);
    let m = max(a, b);
    if (f32_is_inf(a) || f32_is_inf(b)) {
        return a + b; // inf, even when the other operand is NaN
    }
    if (m == 0.0 || f32_is_nan(m)) {
        return m + min(a, b);
    }
    let r = min(a, b) / m;
    return m * sqrt(1.0 + r * r);
}

// The next float after x toward y, on the bit patterns (arithmetic could flush the
// subnormal results to zero): floats ordered as integers by `order_key`.
fn order_key(b: u32) -> u32 {
    return select(b | 0x80000000u, ~b, (b & 0x80000000u) != 0u);
}
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
    let kx = order_key(bx);
    let k = select(kx - 1u, kx + 1u, kx < order_key(by));
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
