//! Separable resampling of a batch of contiguous planes `(B, D, H, W)`: gathers through
//! per-axis index maps (nearest interpolation, reflect/replicate/circular padding), their
//! scatter-add adjoints, and linear interpolation (1, 2 or 3 axes) with its backward.
//! Index and weight formulas follow PyTorch's `UpSample.h` exactly, including its float
//! rounding, so results match PyTorch bit for bit in the common cases.

use rayon::prelude::*;

use super::pool::Real;
use super::PARALLEL_MIN;

/// Source index of output `o` for PyTorch's `nearest` (`exact = false`, OpenCV's
/// convention: `floor(o * scale)`) or `nearest-exact` (`floor((o + 0.5) * scale)`).
/// `scale` is the user's scale factor when given (> 0), else sizes decide.
pub fn nearest_map(input: usize, out: usize, scale: Option<f64>, exact: bool) -> Vec<usize> {
    let user = scale.filter(|&s| s > 0.0);
    let ratio: f32 = match user {
        Some(s) => (1.0 / s) as f32,
        None => input as f32 / out as f32,
    };
    let last = input.saturating_sub(1);
    (0..out)
        .map(|o| {
            if !exact && out == input {
                o
            } else if !exact && out == 2 * input {
                o >> 1
            } else {
                let src = if exact { ((o as f64 + 0.5) * ratio as f64) as f32 } else { o as f32 * ratio };
                (src.floor().max(0.0) as usize).min(last)
            }
        })
        .collect()
}

/// The two input taps of one output position along one axis and their weights.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tap<F> {
    pub i: [usize; 2],
    pub l: [F; 2],
}

/// Linear-interpolation taps along one axis (PyTorch's
/// `compute_source_index_and_lambda`), computed in `F` as PyTorch computes them in its
/// op-math type. An axis whose size does not change is the identity.
pub fn linear_taps<F: Real>(input: usize, out: usize, align_corners: bool, scale: Option<f64>) -> Vec<Tap<F>> {
    let ratio: F = if align_corners {
        if out > 1 {
            F::from_f64((input - 1) as f64) / F::from_f64((out - 1) as f64)
        } else {
            F::ZERO
        }
    } else {
        match scale.filter(|&s| s > 0.0) {
            Some(s) => F::from_f64(1.0 / s),
            None => F::from_f64(input as f64) / F::from_f64(out as f64),
        }
    };
    let half = F::from_f64(0.5);
    let last = input.saturating_sub(1);
    (0..out)
        .map(|o| {
            if out == input {
                return Tap { i: [o, o], l: [F::ONE, F::ZERO] };
            }
            let of = F::from_f64(o as f64);
            let real = if align_corners {
                ratio * of
            } else {
                let r = ratio * (of + half) - half;
                if r < F::ZERO {
                    F::ZERO
                } else {
                    r
                }
            };
            // PyTorch floors in float32 (`floorf`) even for float64.
            let i0 = ((real.to_f64() as f32).floor().max(0.0) as usize).min(last);
            let mut l1 = real - F::from_f64(i0 as f64);
            if l1 < F::ZERO {
                l1 = F::ZERO;
            }
            if l1 > F::ONE {
                l1 = F::ONE;
            }
            let i1 = if i0 < last { i0 + 1 } else { i0 };
            Tap { i: [i0, i1], l: [F::ONE - l1, l1] }
        })
        .collect()
}

/// Output rows of `row` elements, in parallel when `work` is large.
fn rows<T: Send>(out: &mut [T], row: usize, work: usize, f: impl Fn(usize, &mut [T]) + Sync) {
    if row == 0 || out.is_empty() {
        return;
    }
    if work < PARALLEL_MIN || rayon::current_num_threads() == 1 {
        out.chunks_mut(row).enumerate().for_each(|(r, o)| f(r, o));
        return;
    }
    let min_rows = (PARALLEL_MIN / 4 / row).max(1);
    out.par_chunks_mut(row).enumerate().with_min_len(min_rows).for_each(|(r, o)| f(r, o));
}

fn plane_len(dims: [usize; 3]) -> usize {
    dims.iter().product()
}

/// Maximal runs of consecutive source indices in `map`: `(out_start, src_start, len)`.
fn runs(map: &[usize]) -> Vec<(usize, usize, usize)> {
    let mut out: Vec<(usize, usize, usize)> = Vec::new();
    for (o, &m) in map.iter().enumerate() {
        match out.last_mut() {
            Some(run) if run.1 + run.2 == m => run.2 += 1,
            _ => out.push((o, m, 1)),
        }
    }
    out
}

/// `out[b, d, h, w] = src[b, maps[0][d], maps[1][h], maps[2][w]]` for B planes of
/// `input` dims; the output dims are the maps' lengths. Any element type. Rows whose map
/// is mostly consecutive (padding) are copied run by run.
pub fn gather<T: Copy + Send + Sync>(src: &[T], input: [usize; 3], maps: [&[usize]; 3], out: &mut [T]) {
    let (ih, iw) = (input[1], input[2]);
    let plane_in = plane_len(input);
    let (od, oh) = (maps[0].len(), maps[1].len());
    let segs = runs(maps[2]);
    let by_runs = segs.len() * 8 <= maps[2].len();
    rows(out, maps[2].len(), out.len(), |r, o| {
        let b = r / (od * oh);
        let (d, h) = ((r / oh) % od, r % oh);
        let base = b * plane_in + (maps[0][d] * ih + maps[1][h]) * iw;
        let line = &src[base..base + iw];
        if by_runs {
            for &(os, ss, n) in &segs {
                o[os..os + n].copy_from_slice(&line[ss..ss + n]);
            }
        } else {
            for (o, &m) in o.iter_mut().zip(maps[2]) {
                *o = line[m];
            }
        }
    });
}

/// The adjoint of [`gather`]: `gin[b, maps[0][d], maps[1][h], maps[2][w]] += grad[b, d, h, w]`
/// (`gin` zeroed, B planes of `input` dims).
pub fn scatter_add<F: Real>(grad: &[F], input: [usize; 3], maps: [&[usize]; 3], gin: &mut [F]) {
    let (ih, iw) = (input[1], input[2]);
    let (od, oh, ow) = (maps[0].len(), maps[1].len(), maps[2].len());
    let plane_out = od * oh * ow;
    for_planes(gin, plane_len(input), grad.len(), |b, g| {
        let gp = &grad[b * plane_out..(b + 1) * plane_out];
        for (d, &md) in maps[0].iter().enumerate() {
            for (h, &mh) in maps[1].iter().enumerate() {
                let line = &mut g[(md * ih + mh) * iw..(md * ih + mh + 1) * iw];
                let grow = &gp[(d * oh + h) * ow..(d * oh + h + 1) * ow];
                for (&v, &m) in grow.iter().zip(maps[2]) {
                    line[m] += v;
                }
            }
        }
    });
}

fn for_planes<T: Send>(gin: &mut [T], plane: usize, work: usize, f: impl Fn(usize, &mut [T]) + Sync) {
    if plane == 0 || gin.is_empty() {
        return;
    }
    if work < PARALLEL_MIN || rayon::current_num_threads() == 1 {
        gin.chunks_mut(plane).enumerate().for_each(|(b, g)| f(b, g));
    } else {
        gin.par_chunks_mut(plane).enumerate().for_each(|(b, g)| f(b, g));
    }
}

/// Per-axis taps of a linear interpolation; an axis with `two[a] == false` reads only
/// tap 0 with weight 1 (an unchanged axis, or one of the size-1 padding axes).
#[derive(Clone, Copy)]
pub struct Linear<'a, F> {
    pub input: [usize; 3],
    pub taps: [&'a [Tap<F>]; 3],
    pub two: [bool; 3],
}

/// Linear/bilinear/trilinear interpolation of B planes. The sum is nested outermost axis
/// first, `l_d0 * (l_h0 * (l_w0 * x + l_w1 * x) + ...) + ...`, PyTorch's order.
pub fn linear<F: Real>(src: &[F], p: Linear<'_, F>, out: &mut [F]) {
    let (ih, iw) = (p.input[1], p.input[2]);
    let plane_in = plane_len(p.input);
    let (od, oh) = (p.taps[0].len(), p.taps[1].len());
    let nd = if p.two[0] { 2 } else { 1 };
    let nh = if p.two[1] { 2 } else { 1 };
    let two_w = p.two[2];
    rows(out, p.taps[2].len(), out.len() * 8, |r, o| {
        let b = r / (od * oh);
        let (td, th) = (p.taps[0][(r / oh) % od], p.taps[1][r % oh]);
        let plane = &src[b * plane_in..(b + 1) * plane_in];
        let line = |a: usize, c: usize| &plane[(td.i[a] * ih + th.i[c]) * iw..(td.i[a] * ih + th.i[c] + 1) * iw];
        let lines = [[line(0, 0), line(0, nh - 1)], [line(nd - 1, 0), line(nd - 1, nh - 1)]];
        for (o, tw) in o.iter_mut().zip(p.taps[2]) {
            let mut acc_d = F::ZERO;
            for (a, la) in lines.iter().enumerate().take(nd) {
                let mut acc_h = F::ZERO;
                for (c, l) in la.iter().enumerate().take(nh) {
                    let v = if two_w { l[tw.i[0]] * tw.l[0] + l[tw.i[1]] * tw.l[1] } else { l[tw.i[0]] };
                    if nh == 2 {
                        acc_h += v * th.l[c];
                    } else {
                        acc_h = v;
                    }
                }
                if nd == 2 {
                    acc_d += acc_h * td.l[a];
                } else {
                    acc_d = acc_h;
                }
            }
            *o = acc_d;
        }
    });
}

/// Backward of [`linear`]: every output gradient is spread over its input taps with the
/// forward weights (`gin` zeroed).
pub fn linear_backward<F: Real>(grad: &[F], p: Linear<'_, F>, gin: &mut [F]) {
    let (ih, iw) = (p.input[1], p.input[2]);
    let (od, oh, ow) = (p.taps[0].len(), p.taps[1].len(), p.taps[2].len());
    let plane_out = od * oh * ow;
    let nd = if p.two[0] { 2 } else { 1 };
    let nh = if p.two[1] { 2 } else { 1 };
    let nw = if p.two[2] { 2 } else { 1 };
    let weight = |two: bool, l: F| if two { l } else { F::ONE };
    for_planes(gin, plane_len(p.input), grad.len() * 8, |b, g| {
        let gp = &grad[b * plane_out..(b + 1) * plane_out];
        for (d, td) in p.taps[0].iter().enumerate() {
            for (h, th) in p.taps[1].iter().enumerate() {
                let grow = &gp[(d * oh + h) * ow..(d * oh + h + 1) * ow];
                for a in 0..nd {
                    for c in 0..nh {
                        let wdh = weight(p.two[0], td.l[a]) * weight(p.two[1], th.l[c]);
                        let base = (td.i[a] * ih + th.i[c]) * iw;
                        let line = &mut g[base..base + iw];
                        for (&gv, tw) in grow.iter().zip(p.taps[2]) {
                            let v = gv * wdh;
                            for e in 0..nw {
                                line[tw.i[e]] += v * weight(p.two[2], tw.l[e]);
                            }
                        }
                    }
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_follows_pytorch() {
        assert_eq!(nearest_map(3, 5, None, false), vec![0, 0, 1, 1, 2]);
        assert_eq!(nearest_map(4, 8, None, false), vec![0, 0, 1, 1, 2, 2, 3, 3]);
        assert_eq!(nearest_map(5, 3, None, true), vec![0, 2, 4]);
        // A given scale factor sets the ratio (1 / 1.5), not the sizes.
        assert_eq!(nearest_map(4, 6, Some(1.5), false), vec![0, 0, 1, 2, 2, 3]);
    }

    #[test]
    fn gather_by_runs_and_by_elements() {
        assert_eq!(runs(&[1, 0, 1, 2, 3, 2]), vec![(0, 1, 1), (1, 0, 4), (5, 2, 1)]);
        let src: Vec<i32> = (0..20).collect();
        let map: Vec<usize> = [1].iter().chain(&(0..20).collect::<Vec<_>>()).chain(&[18]).copied().collect();
        let mut out = vec![0; 22];
        gather(&src, [1, 1, 20], [&[0], &[0], &map], &mut out);
        assert_eq!(out.iter().map(|&v| v as usize).collect::<Vec<_>>(), map);
        let near = nearest_map(20, 40, None, false);
        let mut out = vec![0; 40];
        gather(&src, [1, 1, 20], [&[0], &[0], &near], &mut out);
        assert_eq!(out.iter().map(|&v| v as usize).collect::<Vec<_>>(), near);
    }

    #[test]
    fn linear_taps_half_pixel_and_corners() {
        let t = linear_taps::<f64>(2, 4, false, None);
        assert_eq!(t[0], Tap { i: [0, 1], l: [1.0, 0.0] });
        assert_eq!(t[1], Tap { i: [0, 1], l: [0.75, 0.25] });
        assert_eq!(t[3], Tap { i: [1, 1], l: [0.75, 0.25] });
        let t = linear_taps::<f64>(3, 5, true, None);
        assert_eq!(t[1], Tap { i: [0, 1], l: [0.5, 0.5] });
        assert_eq!(t[4], Tap { i: [2, 2], l: [1.0, 0.0] });
    }

    #[test]
    fn bilinear_and_adjoint() {
        let src: Vec<f64> = vec![0., 1., 2., 3.];
        let th = linear_taps::<f64>(2, 3, true, None);
        let p = Linear {
            input: [1, 2, 2],
            taps: [&[Tap { i: [0, 0], l: [1.0, 0.0] }], &th, &th],
            two: [false, true, true],
        };
        let mut out = vec![0.0; 9];
        linear(&src, p, &mut out);
        assert_eq!(out, vec![0., 0.5, 1., 1., 1.5, 2., 2., 2.5, 3.]);
        // <linear(x), g> == <x, linear_backward(g)>
        let g: Vec<f64> = (0..9).map(|v| v as f64 * 0.5 - 1.0).collect();
        let mut gin = vec![0.0; 4];
        linear_backward(&g, p, &mut gin);
        let lhs: f64 = out.iter().zip(&g).map(|(a, b)| a * b).sum();
        let rhs: f64 = src.iter().zip(&gin).map(|(a, b)| a * b).sum();
        assert!((lhs - rhs).abs() < 1e-12);
    }
}
