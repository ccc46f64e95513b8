// Reflect, replicate and circular padding: `gather` copies each output element from the
// input element its per-axis index maps name (any 4-byte dtype, moved as bits);
// `scatter_sum` is the backward pass as a gather: each input element sums, in a fixed
// order, the float32 output gradients copied from it (per-axis inverse lists), so no
// atomics are needed. Padding of 1 or 2 dims arrives with leading axes of size 1.
// md: [count, ID, IH, IW, OD, OH, OW, src_offset, map_at[3], inv_at[3], tables...]
// map_at[a]: one input coordinate per output position along axis a. inv_at[a]: I_a + 1
// start words (absolute md indices) of each input coordinate's list of output
// positions, the lists following.
@group(0) @binding(1) var<storage, read_write> dst: array<u32>;
@group(0) @binding(2) var<storage, read> src: array<u32>;

fn source_of(a: u32, o: u32) -> u32 {
    return md[md[8u + a] + o];
}

fn list_start(a: u32, x: u32) -> u32 {
    return md[md[11u + a] + x];
}

@compute @workgroup_size(256)
fn gather(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_id(gid, nwg);
    if (i >= md[0]) {
        return;
    }
    let ow = i % md[6];
    let oh = (i / md[6]) % md[5];
    let od = (i / (md[6] * md[5])) % md[4];
    let b = i / (md[6] * md[5] * md[4]);
    let at = (source_of(0u, od) * md[2] + source_of(1u, oh)) * md[3] + source_of(2u, ow);
    dst[i] = src[md[7] + b * md[1] * md[2] * md[3] + at];
}

@compute @workgroup_size(256)
fn scatter_sum(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_id(gid, nwg);
    if (i >= md[0]) {
        return;
    }
    let w = i % md[3];
    let h = (i / md[3]) % md[2];
    let d = (i / (md[3] * md[2])) % md[1];
    let b = i / (md[3] * md[2] * md[1]);
    let base = md[7] + b * md[4] * md[5] * md[6];
    var acc = 0.0;
    for (var jd = list_start(0u, d); jd < list_start(0u, d + 1u); jd = jd + 1u) {
        let od = md[jd];
        for (var jh = list_start(1u, h); jh < list_start(1u, h + 1u); jh = jh + 1u) {
            let oh = md[jh];
            for (var jw = list_start(2u, w); jw < list_start(2u, w + 1u); jw = jw + 1u) {
                acc = acc + bitcast<f32>(src[base + (od * md[5] + oh) * md[6] + md[jw]]);
            }
        }
    }
    dst[i] = bitcast<u32>(acc);
}
