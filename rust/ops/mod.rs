//! Tensor-level operations: argument checks, layouts and dtype dispatch, then a call
//! into a `cpu/` kernel. Views only build layouts; everything else allocates a result.

pub mod conv;
pub mod copy;
pub mod create;
pub mod device;
pub mod elementwise;
pub(crate) mod f16_gpu;
pub mod float_io;
mod image_gpu;
pub mod index;
pub mod interpolate;
pub mod linalg;
pub mod loss;
pub mod manip;
pub mod norm;
pub mod optim;
pub mod pad;
pub mod pool;
pub mod reduce;
pub mod scatter;
pub mod svd;
pub mod table;
pub mod view;

pub use index::IndexItem;
