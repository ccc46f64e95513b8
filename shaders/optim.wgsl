// Fused optimizer updates, one dispatch per parameter: every element of the parameter
// and its state is read once and written once. The formulas and their operation order
// are those of rust/cpu/optim.rs (PyTorch's single-tensor optimizers), so a GPU step
// agrees with the CPU's to float32 rounding. Step-dependent factors (bias corrections,
// Adagrad's decayed rate) are computed on the host in f64 and arrive as f32 bits.
//
// One entry point per state layout: WebGPU derives each pipeline's bindings from the
// buffers its entry point uses, so an entry binds exactly the state it updates.
// md: [n, param_off, grad_off, s0_off, s1_off, s2_off, flags, h0, h1, ... (f32 bits)]
// flags: bit 0 maximize, bit 1 weight decay, bit 2 decoupled (AdamW) / nesterov (SGD),
//        bit 3 fresh momentum buffer (SGD copies the first direction into it).
@group(0) @binding(1) var<storage, read_write> param: array<f32>;
@group(0) @binding(2) var<storage, read> grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> s0: array<f32>;
@group(0) @binding(4) var<storage, read_write> s1: array<f32>;
@group(0) @binding(5) var<storage, read_write> s2: array<f32>;

fn flag(bit: u32) -> bool {
    return (md[6] & (1u << bit)) != 0u;
}

fn hyper(k: u32) -> f32 {
    return bitcast<f32>(md[7u + k]);
}

// The gradient the rule sees: negated for `maximize`.
fn signed_grad(i: u32) -> f32 {
    let g = grad[md[2] + i];
    return select(g, -g, flag(0u));
}

// PyTorch's two-sided lerp, `s + w * (e - s)` from the nearer end; `w` in [0, 1].
fn lerp(s: f32, e: f32, w: f32) -> f32 {
    if (w < 0.5) {
        return s + w * (e - s);
    }
    return e - (e - s) * (1.0 - w);
}

// h: [lr, weight_decay]
@compute @workgroup_size(256)
fn sgd(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_id(gid, nwg);
    if (i >= md[0]) {
        return;
    }
    let pi = md[1] + i;
    var d = signed_grad(i);
    if (flag(1u)) {
        d = d + hyper(1u) * param[pi];
    }
    param[pi] = param[pi] + d * -hyper(0u);
}

// h: [lr, weight_decay, momentum, 1 - dampening]
@compute @workgroup_size(256)
fn sgd_momentum(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_id(gid, nwg);
    if (i >= md[0]) {
        return;
    }
    let pi = md[1] + i;
    let bi = md[3] + i;
    var d = signed_grad(i);
    if (flag(1u)) {
        d = d + hyper(1u) * param[pi];
    }
    let mom = hyper(2u);
    var b = d;
    if (!flag(3u)) {
        b = s0[bi] * mom + d * hyper(3u);
    }
    s0[bi] = b;
    if (flag(2u)) {
        d = d + mom * b;
    } else {
        d = b;
    }
    param[pi] = param[pi] + d * -hyper(0u);
}

// One Adam/AdamW element; `vmax` is the AMSGrad maximum (ignored without it).
// h: [step_size, 1 - beta1, beta2, 1 - beta2, eps, weight_decay, 1 - lr * weight_decay,
//     bc2_sqrt] (the complements come from the host in f64, as the CPU rule has them)
fn adam_element(i: u32, amsgrad: bool, vmax: ptr<function, f32>) {
    let pi = md[1] + i;
    var g = signed_grad(i);
    var p = param[pi];
    if (flag(1u)) {
        if (flag(2u)) {
            p = p * hyper(6u);
        } else {
            g = g + hyper(5u) * p;
        }
    }
    let m = lerp(s0[md[3] + i], g, hyper(1u));
    let v = s1[md[4] + i] * hyper(2u) + hyper(3u) * g * g;
    s0[md[3] + i] = m;
    s1[md[4] + i] = v;
    var second = v;
    if (amsgrad) {
        *vmax = max(*vmax, v);
        second = *vmax;
    }
    let denom = sqrt(second) / hyper(7u) + hyper(4u);
    param[pi] = p + -hyper(0u) * m / denom;
}

@compute @workgroup_size(256)
fn adam(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_id(gid, nwg);
    if (i >= md[0]) {
        return;
    }
    var unused = 0.0;
    adam_element(i, false, &unused);
}

@compute @workgroup_size(256)
fn adam_amsgrad(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_id(gid, nwg);
    if (i >= md[0]) {
        return;
    }
    var vm = s2[md[5] + i];
    adam_element(i, true, &vm);
    s2[md[5] + i] = vm;
}

// One RMSprop element. State: s0 square_avg, then grad_avg when centered, then the
// momentum buffer: `ga` and `buf` are whichever of s1/s2 the entry point bound.
// h: [lr, alpha, 1 - alpha, eps, weight_decay, momentum]
fn rmsprop_element(i: u32, centered: bool, ga: ptr<function, f32>, has_momentum: bool,
                   buf: ptr<function, f32>) {
    let pi = md[1] + i;
    var g = signed_grad(i);
    if (flag(1u)) {
        g = g + hyper(4u) * param[pi];
    }
    let sq = s0[md[3] + i] * hyper(1u) + hyper(2u) * g * g;
    s0[md[3] + i] = sq;
    var avg = sqrt(sq) + hyper(3u);
    if (centered) {
        *ga = lerp(*ga, g, hyper(2u));
        avg = sqrt(sq + -(*ga * *ga)) + hyper(3u);
    }
    if (has_momentum) {
        *buf = *buf * hyper(5u) + g / avg;
        param[pi] = param[pi] + *buf * -hyper(0u);
    } else {
        param[pi] = param[pi] + -hyper(0u) * g / avg;
    }
}

@compute @workgroup_size(256)
fn rmsprop(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_id(gid, nwg);
    if (i >= md[0]) {
        return;
    }
    var a = 0.0;
    var b = 0.0;
    rmsprop_element(i, false, &a, false, &b);
}

@compute @workgroup_size(256)
fn rmsprop_centered(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_id(gid, nwg);
    if (i >= md[0]) {
        return;
    }
    var ga = s1[md[4] + i];
    var b = 0.0;
    rmsprop_element(i, true, &ga, false, &b);
    s1[md[4] + i] = ga;
}

@compute @workgroup_size(256)
fn rmsprop_momentum(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_id(gid, nwg);
    if (i >= md[0]) {
        return;
    }
    var a = 0.0;
    var buf = s1[md[4] + i];
    rmsprop_element(i, false, &a, true, &buf);
    s1[md[4] + i] = buf;
}

@compute @workgroup_size(256)
fn rmsprop_centered_momentum(@builtin(global_invocation_id) gid: vec3<u32>,
                             @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_id(gid, nwg);
    if (i >= md[0]) {
        return;
    }
    var ga = s1[md[4] + i];
    var buf = s2[md[5] + i];
    rmsprop_element(i, true, &ga, true, &buf);
    s1[md[4] + i] = ga;
    s2[md[5] + i] = buf;
}

// h: [clr (lr decayed for this step), eps, weight_decay]
@compute @workgroup_size(256)
fn adagrad(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_id(gid, nwg);
    if (i >= md[0]) {
        return;
    }
    let pi = md[1] + i;
    var g = signed_grad(i);
    if (flag(1u)) {
        g = g + hyper(2u) * param[pi];
    }
    let sum = s0[md[3] + i] + g * g;
    s0[md[3] + i] = sum;
    param[pi] = param[pi] + -hyper(0u) * g / (sqrt(sum) + hyper(1u));
}
