//! Reference-counted memory shared by every view of a tensor.
//!
//! A [`CpuBuffer`] either owns an aligned Rust allocation or borrows memory that some
//! other owner (a numpy array, a DLPack producer) keeps alive for as long as the buffer
//! lives. Views write through raw pointers, as numpy does: the buffer is plain memory and
//! concurrent writers to the same elements are the caller's race, never a use-after-free.

use std::alloc::{alloc_zeroed, dealloc, Layout as AllocLayout};
use std::any::Any;
use std::ptr::NonNull;
use std::sync::Arc;

use super::device::Device;
use super::error::{Error, Result};

/// Cache-line alignment: every SIMD width we dispatch to is happy with it.
const ALIGN: usize = 64;

pub enum Owner {
    Rust(AllocLayout),
    /// Memory owned elsewhere; dropping the box releases it (decref, DLPack deleter...).
    External(Box<dyn Any + Send + Sync>),
}

pub struct CpuBuffer {
    ptr: NonNull<u8>,
    nbytes: usize,
    owner: Owner,
    readonly: bool,
}

// SAFETY: the buffer is plain memory; ownership is tracked by the Arc around it and the
// owner object is itself Send + Sync.
unsafe impl Send for CpuBuffer {}
unsafe impl Sync for CpuBuffer {}

impl CpuBuffer {
    /// A zero-filled allocation (calloc-backed, so large ones cost no time until touched).
    pub fn zeroed(nbytes: usize) -> Result<CpuBuffer> {
        if nbytes == 0 {
            let ptr = NonNull::new(ALIGN as *mut u8).expect("non-null");
            let layout = AllocLayout::from_size_align(0, ALIGN).expect("valid layout");
            return Ok(CpuBuffer {
                ptr,
                nbytes,
                owner: Owner::Rust(layout),
                readonly: false,
            });
        }
        let layout = AllocLayout::from_size_align(nbytes, ALIGN)
            .map_err(|_| Error::OutOfMemory(format!("cannot allocate {nbytes} bytes")))?;
        // SAFETY: layout has non-zero size.
        let raw = unsafe { alloc_zeroed(layout) };
        let ptr = NonNull::new(raw)
            .ok_or_else(|| Error::OutOfMemory(format!("failed to allocate {nbytes} bytes")))?;
        Ok(CpuBuffer {
            ptr,
            nbytes,
            owner: Owner::Rust(layout),
            readonly: false,
        })
    }

    /// Wrap memory owned by `owner`.
    ///
    /// # Safety
    /// `ptr..ptr+nbytes` must stay valid (and writable unless `readonly`) while `owner`
    /// lives, and `ptr` must be aligned for the element type it will be read as.
    pub unsafe fn external(
        ptr: *mut u8,
        nbytes: usize,
        readonly: bool,
        owner: Box<dyn Any + Send + Sync>,
    ) -> CpuBuffer {
        let ptr = NonNull::new(ptr).unwrap_or(NonNull::new(ALIGN as *mut u8).expect("non-null"));
        CpuBuffer {
            ptr,
            nbytes,
            owner: Owner::External(owner),
            readonly,
        }
    }

    pub fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    pub fn nbytes(&self) -> usize {
        self.nbytes
    }

    pub fn readonly(&self) -> bool {
        self.readonly
    }
}

impl Drop for CpuBuffer {
    fn drop(&mut self) {
        if let Owner::Rust(layout) = self.owner {
            if layout.size() > 0 {
                // SAFETY: allocated in `zeroed` with this very layout.
                unsafe { dealloc(self.ptr.as_ptr(), layout) }
            }
        }
    }
}

/// The backing memory of a tensor, by backend. Cloning shares, never copies.
#[derive(Clone)]
pub enum Storage {
    Cpu(Arc<CpuBuffer>),
}

impl Storage {
    pub fn device(&self) -> Device {
        match self {
            Storage::Cpu(_) => Device::Cpu,
        }
    }

    pub fn cpu(&self) -> &CpuBuffer {
        match self {
            Storage::Cpu(b) => b,
        }
    }

    pub fn same(&self, other: &Storage) -> bool {
        match (self, other) {
            (Storage::Cpu(a), Storage::Cpu(b)) => Arc::ptr_eq(a, b),
        }
    }
}
