// Part of the shared prelude (after common.wgsl; rust/gpu/shaders.rs).
// Float32 sine, cosine and tangent for every float32 input, within about an ulp of the
// exact result as numpy's are (NaN for +-inf and NaN). WGSL's sin/cos/tan are hardware
// approximations on some drivers (NVIDIA's Vulkan one reduces the argument crudely:
// errors of 1e-3 at 1e4 and 0.13 at 1e6), so none of them is called here. Each function
// reduces |x| to r = |x| - q*pi/2, |r| < 0.8, carried as a float pair hi + lo, evaluates
// polynomial kernels for sin(r) and cos(r), and picks and negates by q mod 4. The
// reduction keeps r's relative precision even where it is smallest: the float32 value
// nearest a multiple of pi/2 is 1.6e-9 from it (x = 7.7e28; 4.2e-9 at x = 252.9 below
// 2^17), which is what keeps tan and the small results of sin and cos right.
//
// Only f32/u32/i32 arithmetic. The usual error-free tricks are fragile in shaders and
// are avoided where the result depends on them: fma may be unfused (lavapipe's is),
// compilers may fold compensated sums (Mesa turns (a - (a - t)) - t into 0) and
// reassociate adds into fmas. Exactness comes instead from integer arithmetic, from
// constants and cuts chosen so that products and sums are exact by construction, and
// from splitting floats with bit masks. The one fma left (cos) costs a quarter ulp if
// unfused. Nothing relies on subnormals: tiny arguments return early and the reduced
// argument is never below 2^-30.

// Bits of 2/pi after the binary point, 32 per word, behind one zero word that stands for
// the (zero) integer bits, so windows for arguments below 2^25 need no special case.
// Seven words cover the largest exponent (127) with the 96-bit window plus a shift.
const TRIG_TWO_OVER_PI = array<u32, 8>(
    0x00000000u, 0xa2f9836eu, 0x4e441529u, 0xfc2757d1u,
    0xf534ddc0u, 0xdb629599u, 0x3c439041u, 0xfe5163abu,
);

// The reduced argument: |x| = q*pi/2 + hi + lo (q mod 4 is what matters).
struct trig_reduction {
    hi: f32,
    lo: f32,
    q: u32,
}

// 2^e for -126 <= e <= 127, built from bits (no ldexp/exp2 accuracy questions).
fn trig_pow2(e: i32) -> f32 {
    return bitcast<f32>(u32(e + 127) << 23u);
}

// a*b as the rounded product and its exact error (Dekker), with 12-bit halves cut by
// bit masks: exact whether or not the compiler fuses or reorders, unlike fma(a, b, -p)
// on a driver without a fused fma.
fn trig_two_prod(a: f32, b: f32) -> vec2<f32> {
    let p = a * b;
    let ah = bitcast<f32>(bitcast<u32>(a) & 0xfffff000u);
    let al = a - ah;
    let bh = bitcast<f32>(bitcast<u32>(b) & 0xfffff000u);
    let bl = b - bh;
    return vec2<f32>(p, ((ah * bh - p) + ah * bl + al * bh) + al * bl);
}

// Cody-Waite reduction for 0 <= ax < 2^17 (q < 2^17), built from steps that are exact
// by construction rather than from compensated sums (which compilers may fold: Mesa
// turns (a - (a - t)) - t into 0) or fma (which may be unfused: lavapipe's is).
// With pi/2 = P/2^24 + D (P the 25 leading bits, D ~ 1.6e-8), s = ax - q*P/2^24 is
// computed on integers (|s| < 1, a multiple of 2^-24: exact as a float). D is cut into
// D1a (11 bits, down to 2^-36), D1b (10 bits, down to 2^-48) and the float D2, and q
// into qh (a multiple of 2^12, 5 bits) and ql (12 bits), so that every product except
// q*D2 is exact and so is every sum below:
//   a  = s - qh*D1a             multiple of 2^-24, below 1
//   t  = ql*D1a + qh*D1b        multiple of 2^-36, below 2^-13.9
//   h  = a - t1                 t1 = t cut to multiples of 2^-24, t2 = t - t1 < 2^-24
// If |h| >= 2^-13, hi = h and lo = -(t2 + c + d) (c = ql*D1b < 2^-26, d = q*D2 <
// 2^-32): lo's own rounding, under 2^-48, is nothing against a head of 2^-13 or more.
// Otherwise r may be tiny (down to 4.2e-9, at x = 252.9) and the big terms must cancel
// exactly: hi = (h - t2) - c1 (c1 = c cut to multiples of 2^-36; all below 2^-12 at
// 2^-36 granularity, so exact) and lo = -((c - c1) + d), below 2^-32.
fn trig_reduce_medium(ax: f32) -> trig_reduction {
    let k = round(ax * 0.63661975);
    let q = u32(k);
    let bits = bitcast<u32>(ax);
    let m = (bits & 0x007fffffu) | 0x00800000u;
    // ax = m * 2^(e-23), so ax * 2^24 = m << (e+1): the difference with q*P, computed
    // mod 2^32, fits 25 bits signed. Below 0.5, q is 0 and s = ax.
    let s_int = bitcast<i32>((m << ((bits >> 23u) - 126u)) - q * 26353589u);
    let s = select(f32(s_int) * 5.9604645e-08, ax, ax < 0.5);
    let kh = floor(k * 0.000244140625) * 4096.0;
    let kl = k - kh;
    let a = s - kh * 1.5890691429376602e-08;
    let t = kl * 1.5890691429376602e-08 + kh * 2.5615065624151612e-12;
    let t1 = floor(t * 16777216.0) * 5.9604645e-08;
    let t2 = t - t1;
    let h = a - t1;
    let c = kl * 2.5615065624151612e-12;
    let c1 = floor(c * 68719476736.0) * 1.4551915228366852e-11;
    let d = k * 1.8375892747e-15;
    let big = abs(h) >= 0.0001220703125;
    let hi = select((h - t2) - c1, h, big);
    let lo = select(-((c - c1) + d), -(t2 + c + d), big);
    return trig_reduction(hi, lo, q);
}

// Payne-Hanek reduction for 2^17 <= ax < 2^128, on integers. With ax = m * 2^(e-23)
// (m the 24-bit significand), bits c_i (worth 2^-i) of 2/pi with i <= e-25 contribute
// multiples of 4 to ax*2/pi and drop out; the next 96 bits G give
// ax*2/pi = m*G*2^-94 (mod 4) to within 2^-70, so the 120-bit product m*G holds the
// quadrant in bits 94-95 and 94 bits of fraction below them. Its bits above 95 are not
// needed, so the top word's product only needs its low 32 bits.
fn trig_reduce_large(ax: f32) -> trig_reduction {
    let bits = bitcast<u32>(ax);
    let e = (bits >> 23u) - 127u;
    let m = (bits & 0x007fffffu) | 0x00800000u;
    // Window start: c_{e-24} sits at bit (e-24)+31 of the table (bit 0 = MSB of word 0).
    let k0 = e + 7u;
    let w = k0 >> 5u;
    let sh = k0 & 31u;
    let t = TRIG_TWO_OVER_PI;
    let t0 = t[w];
    let t1 = t[w + 1u];
    let t2 = t[w + 2u];
    let t3 = t[w + 3u];
    // G = 96 bits from `sh` bits into t0. A shift by 32 would be taken mod 32 in WGSL,
    // so the spill from the next word is masked instead when sh = 0.
    let rs = 32u - sh;
    let spill = select(0xffffffffu, 0u, sh == 0u);
    let g0 = (t0 << sh) | ((t1 >> rs) & spill);
    let g1 = (t1 << sh) | ((t2 >> rs) & spill);
    let g2 = (t2 << sh) | ((t3 >> rs) & spill);
    let p2 = mul_wide(m, g2);
    let p1 = mul_wide(m, g1);
    let w0 = p2.y;
    let w1 = p1.y + p2.x;
    let w2 = m * g0 + p1.x + select(0u, 1u, w1 < p2.x);
    // Fraction as a 96-bit two's complement number in [-1/2, 1/2) quadrants, so q rounds
    // to nearest; negating by complement is off by 2^-96, far below what is kept.
    var f2 = (w2 << 2u) | (w1 >> 30u);
    var f1 = (w1 << 2u) | (w0 >> 30u);
    var f0 = w0 << 2u;
    let neg = (f2 >> 31u) != 0u;
    let q = (w2 >> 30u) + select(0u, 1u, neg);
    if (neg) {
        f2 = ~f2;
        f1 = ~f1;
        f0 = ~f0;
    }
    // Normalize to a leading 1 (the fraction is above 2^-31, but stay safe for one
    // more word), then take 48 bits as two exact 24-bit floats.
    var scale = -24;
    if (f2 == 0u) {
        f2 = f1;
        f1 = f0;
        f0 = 0u;
        scale = scale - 32;
    }
    let z = countLeadingZeros(f2);
    if (z != 0u && z != 32u) {
        f2 = (f2 << z) | (f1 >> (32u - z));
        f1 = (f1 << z) | (f0 >> (32u - z));
    }
    scale = scale - i32(z);
    let th = f32(f2 >> 8u) * trig_pow2(scale);
    let tl = f32(((f2 & 0xffu) << 16u) | (f1 >> 16u)) * trig_pow2(scale - 24);
    // r = t * pi/2 with pi/2 = 1.5707964 - 4.371139e-8: the leading product exactly,
    // the rest in the tail, which may reach a couple of ulps of the head (the kernels
    // allow that; renormalizing would need a compensated sum).
    let rh = trig_two_prod(th, 1.5707963705);
    let lo = rh.y + (th * -4.3711388287e-08 + tl * 1.5707963705);
    // Negated by select, not by a multiply: a product here could be reassociated into
    // the kernels' last add (see trig_sin_pair).
    return trig_reduction(select(rh.x, -rh.x, neg), select(lo, -lo, neg), q);
}

fn trig_reduce(ax: f32) -> trig_reduction {
    if (ax < 131072.0) {
        return trig_reduce_medium(ax);
    }
    return trig_reduce_large(ax);
}

// The kernels return sin(hi + lo) and cos(hi + lo), |hi| <= 0.8 and |lo| at most a few
// ulps of hi, unrounded as head + tail with |tail| <= 0.1 |head|: the one rounding that
// matters is the caller's sum (tan divides the pairs instead).

// sin: hi + hi^3 P(hi^2) + lo cos(hi), the tail as lo + w (hi P - lo/2). Written so,
// the tail's last step is an fma whose addend is lo: Mesa reassociates
// hi + fma(a, b, c*d) into fma(a, b, fma(c, d, hi)), which would round hi + lo*... first.
fn trig_sin_pair(hi: f32, lo: f32) -> vec2<f32> {
    let w = hi * hi;
    let p = -1.666666716e-01 + w * (8.333371952e-03 + w * (-1.984976116e-04 + w * 2.797606385e-06));
    return vec2<f32>(hi, lo + w * (hi * p - 0.5 * lo));
}

// cos: 1 - hi^2/2 + hi^4 Q(hi^2) - lo sin(hi). 1 - hi^2/2 is the step that cancels:
// hi^2/2 is cut at 2^-24 so that 1 minus its head is exact, and its tail joins the
// small terms (where a compensated 1 - x could be folded away). The fma recovers the
// rounding error of hi^2 (zero if unfused, costing about a quarter ulp).
fn trig_cos_pair(hi: f32, lo: f32) -> vec2<f32> {
    let w = hi * hi;
    let w_err = fma(hi, hi, -w);
    let hz = 0.5 * w;
    let hz_head = floor(hz * 16777216.0) * 5.9604645e-08;
    let hz_tail = hz - hz_head;
    let p = 4.166666791e-02 + w * (-1.388897072e-03 + w * (2.481819865e-05 + w * -2.849890279e-07));
    return vec2<f32>(1.0 - hz_head, (w * w * p - hz_tail) - (0.5 * w_err + lo * hi));
}

// sin(k*pi/2 + r) for quadrant k: +sin r, +cos r, -sin r, -cos r.
fn trig_sin_quadrant(red: trig_reduction, k: u32) -> f32 {
    let sp = trig_sin_pair(red.hi, red.lo);
    let cp = trig_cos_pair(red.hi, red.lo);
    let v = select(sp.x + sp.y, cp.x + cp.y, (k & 1u) != 0u);
    return select(v, -v, (k & 2u) != 0u);
}

// sin and tan, both odd: NaN for inf and NaN, x itself for |x| < 2^-12 (to float
// precision; this also keeps -0 and subnormals), else the value at |x| with x's sign.
fn trig_odd(x: f32, tangent: bool) -> f32 {
    let b = bitcast<u32>(x);
    let ab = b & 0x7fffffffu;
    if (ab >= 0x7f800000u) {
        return f32_nan(x);
    }
    if (ab < 0x39800000u) {
        return x;
    }
    let red = trig_reduce(bitcast<f32>(ab));
    var v: f32;
    if (tangent) {
        v = trig_tan_reduced(red);
    } else {
        v = trig_sin_quadrant(red, red.q);
    }
    return bitcast<f32>(bitcast<u32>(v) ^ (b & 0x80000000u));
}

fn sin_f32(x: f32) -> f32 {
    return trig_odd(x, false);
}

fn tan_f32(x: f32) -> f32 {
    return trig_odd(x, true);
}

// tan at hi + lo (+ q pi/2).
fn trig_tan_reduced(red: trig_reduction) -> f32 {
    let sp = trig_sin_pair(red.hi, red.lo);
    let cp = trig_cos_pair(red.hi, red.lo);
    // tan = sin/cos in even quadrants, -cos/sin in odd ones, dividing the unrounded
    // pairs: a first quotient (the driver's division may be 2.5 ulp off), then one
    // correction from the residual n - q0*d, with q0*d split exactly.
    let odd = (red.q & 1u) != 0u;
    let n = select(sp, -cp, odd);
    let d = select(cp, sp, odd);
    let dd = d.x + d.y;
    let q0 = (n.x + n.y) / dd;
    let pd = trig_two_prod(q0, d.x);
    let res = ((n.x - pd.x) - pd.y) + (n.y - q0 * d.y);
    return q0 + res / dd;
}

fn cos_f32(x: f32) -> f32 {
    let ab = bitcast<u32>(x) & 0x7fffffffu;
    if (ab >= 0x7f800000u) {
        return f32_nan(x);
    }
    if (ab < 0x39800000u) {
        return 1.0;
    }
    let red = trig_reduce(bitcast<f32>(ab));
    // cos x = sin(x + pi/2): one quadrant on.
    return trig_sin_quadrant(red, red.q + 1u);
}
