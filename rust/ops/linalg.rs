//! `matmul` with numpy's rules: 1-D operands are promoted to matrices and the added dim
//! removed again, batch dims broadcast, dtypes promote. Half floats compute in float32.

use crate::bail;
use crate::core::{broadcast_shapes, promote, DType, Result, Tensor};
use crate::cpu::matmul::{gemm_float, gemm_int, Mat};
use crate::cpu::{SendPtr, PARALLEL_MIN};
use crate::ops::copy::astype;
use crate::with_dtype;

pub fn matmul(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    if a.ndim() == 0 || b.ndim() == 0 {
        bail!(
            Value,
            "matmul: operands must have at least one dimension, got shapes {:?} and {:?}",
            a.shape(),
            b.shape()
        );
    }
    let device = crate::ops::device::common_device("matmul", &[a, b])?;
    let dt = promote(a.dtype(), b.dtype());
    let compute = match dt {
        DType::F16 | DType::BF16 => DType::F32,
        d => d,
    };
    let cast = |t: &Tensor| if t.dtype() == compute { Ok(t.clone()) } else { astype(t, compute) };
    let (a2, b2) = (cast(a)?, cast(b)?);
    let a2 = if a2.ndim() == 1 { a2.unsqueeze(0)? } else { a2 };
    let b2 = if b2.ndim() == 1 { b2.unsqueeze(-1)? } else { b2 };
    let (na, nb) = (a2.ndim(), b2.ndim());
    let (m, k) = (a2.shape()[na - 2], a2.shape()[na - 1]);
    let (k2, n) = (b2.shape()[nb - 2], b2.shape()[nb - 1]);
    if k != k2 {
        bail!(Value, "matmul: shapes {:?} and {:?} do not match (inner dimensions {k} and {k2})", a.shape(), b.shape());
    }
    let batch = broadcast_shapes(&a2.shape()[..na - 2], &b2.shape()[..nb - 2])?;
    let mut ashape = batch.to_vec();
    ashape.extend([m, k]);
    let mut bshape = batch.to_vec();
    bshape.extend([k, n]);
    let mut oshape = batch.to_vec();
    oshape.extend([m, n]);
    let (la, lb) = (a2.layout().broadcast_to(&ashape)?, b2.layout().broadcast_to(&bshape)?);
    // Every kernel below writes all of its output (k == 0 included).
    let out = Tensor::for_overwrite_on(&oshape, compute, device)?;
    if device.is_gpu() {
        crate::gpu::matmul(&out, &a2, &la, &b2, &lb, m, n, k)?;
        // float16 computed in float32 (accumulated there too), rounded once, as below.
        let res = if dt == compute { out } else { astype(&out, dt)? };
        return squeeze_vectors(res, a, b);
    }
    let nbatch: usize = batch.iter().product();
    let bd = batch.len();
    // Element offsets of every batch matrix in a, b and out.
    let offsets = |l: &crate::core::Layout| -> Vec<isize> {
        let mut offs = Vec::with_capacity(nbatch);
        let mut idx = vec![0usize; bd];
        for _ in 0..nbatch {
            offs.push(l.offset as isize + (0..bd).map(|d| idx[d] as isize * l.strides[d]).sum::<isize>());
            for d in (0..bd).rev() {
                idx[d] += 1;
                if idx[d] < batch[d] {
                    break;
                }
                idx[d] = 0;
            }
        }
        offs
    };
    let (oa, ob, oo) = (offsets(&la), offsets(&lb), offsets(out.layout()));
    let (ars, acs, brs, bcs) = (la.strides[bd], la.strides[bd + 1], lb.strides[bd], lb.strides[bd + 1]);
    let (crs, ccs) = (n as isize, 1isize);
    let threads = rayon::current_num_threads();
    let big = m * n * k >= 64 * 64 * 64;
    with_dtype!(compute, T => {
        let (pa, pb, pc) = (SendPtr(a2.data_ptr_at(0) as *mut T), SendPtr(b2.data_ptr_at(0) as *mut T), SendPtr(out.data_ptr_at(0) as *mut T));
        let one = |i: usize, inner_threads: usize| unsafe {
            let (pa, pb, pc) = (pa, pb, pc);
            let am = Mat { ptr: pa.get().offset(oa[i]) as *const T, rs: ars, cs: acs };
            let bm = Mat { ptr: pb.get().offset(ob[i]) as *const T, rs: brs, cs: bcs };
            let c = pc.get().offset(oo[i]);
            if compute.is_float() {
                gemm_float(m, n, k, am, bm, c, crs, ccs, inner_threads)
            } else {
                gemm_int(m, n, k, am, bm, c, crs, ccs)
            }
        };
        // A batch splits across threads when its products are small, or when it divides
        // evenly among them (threads then share nothing; each product alone would split
        // its own work and pack shared operands twice).
        if threads > 1 && nbatch > 1 && nbatch * m * n * k >= PARALLEL_MIN && (!big || nbatch % threads == 0) {
            let tasks = if big { threads } else { nbatch.min(4 * threads) };
            rayon::scope(|sc| {
                let one = &one;
                for t in 0..tasks {
                    sc.spawn(move |_| (t * nbatch / tasks..(t + 1) * nbatch / tasks).for_each(|i| one(i, 1)));
                }
            });
        } else {
            for i in 0..nbatch {
                one(i, threads);
            }
        }
    });
    let res = if dt == compute { out } else { astype(&out, dt)? };
    squeeze_vectors(res, a, b)
}

/// Removes the dims that 1-D operands were given for the product (numpy's rule).
fn squeeze_vectors(mut res: Tensor, a: &Tensor, b: &Tensor) -> Result<Tensor> {
    if b.ndim() == 1 {
        res = res.squeeze(Some(&[-1]))?;
    }
    if a.ndim() == 1 {
        res = res.squeeze(Some(&[if b.ndim() == 1 { -1 } else { -2 }]))?;
    }
    Ok(res)
}
