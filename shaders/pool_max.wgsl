// Max pooling forward: each output takes its window's largest element and the flat
// position of that element within the input plane (PyTorch's index convention, int32
// on the GPU). The first element wins ties; a NaN wins over numbers (the last NaN when
// there are several); a window with no input element gives the dtype's lowest value
// (bits in md[10]: a -inf literal is a WGSL error, and Tint folds constant bitcasts)
// and index -1, as on the CPU (rust/cpu/pool.rs).
// Windows come as per-axis tables in md (see pool.wgsl for the layout), so fixed and
// adaptive pooling share the kernel; 1-D and 2-D pooling have leading axes of size 1.
// Placeholders: T element type, ISNAN a bool expression of `v` (false for integers).
@group(0) @binding(1) var<storage, read_write> dst: array<{{T}}>;
@group(0) @binding(2) var<storage, read_write> idx: array<i32>;
@group(0) @binding(3) var<storage, read> src: array<{{T}}>;

// Field f (0 first, 1 count, 2 step, 3 extent) of window o along axis a.
fn win(a: u32, o: u32, f: u32) -> u32 {
    return md[md[11u + a] + 4u * o + f];
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_id(gid, nwg);
    if (i >= md[0]) {
        return;
    }
    let ow = i % md[6];
    let oh = (i / md[6]) % md[5];
    let od = (i / (md[6] * md[5])) % md[4];
    let b = i / (md[6] * md[5] * md[4]);
    let base = md[7] + b * md[1] * md[2] * md[3];
    let fd = win(0u, od, 0u);
    let fh = win(1u, oh, 0u);
    let fw = win(2u, ow, 0u);
    let nd = win(0u, od, 1u);
    let nh = win(1u, oh, 1u);
    let nw = win(2u, ow, 1u);
    var best: {{T}} = bitcast<{{T}}>(md[10]);
    var at: i32 = -1;
    if (nd > 0u && nh > 0u && nw > 0u) {
        at = i32((fd * md[2] + fh) * md[3] + fw);
    }
    for (var jd = 0u; jd < nd; jd = jd + 1u) {
        let d = fd + jd * win(0u, od, 2u);
        for (var jh = 0u; jh < nh; jh = jh + 1u) {
            let h = fh + jh * win(1u, oh, 2u);
            for (var jw = 0u; jw < nw; jw = jw + 1u) {
                let pos = (d * md[2] + h) * md[3] + fw + jw * win(2u, ow, 2u);
                let v = src[base + pos];
                if (v > best || {{ISNAN}}) {
                    best = v;
                    at = i32(pos);
                }
            }
        }
    }
    dst[i] = best;
    idx[i] = at;
}
