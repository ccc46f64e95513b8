//! Reference-counted memory shared by every view of a tensor.
//!
//! A [`CpuBuffer`] either owns an aligned Rust allocation or borrows memory that some
//! other owner (a numpy array, a DLPack producer) keeps alive for as long as the buffer
//! lives. Views write through raw pointers, as numpy does: the buffer is plain memory and
//! concurrent writers to the same elements are the caller's race, never a use-after-free.

use std::alloc::{alloc, alloc_zeroed, dealloc, Layout as AllocLayout};
use std::any::Any;
use std::ptr::NonNull;
use std::sync::Arc;

use super::device::Device;
use super::error::{Error, Result};
use crate::gpu::GpuBuffer;

/// Cache-line alignment: every SIMD width we dispatch to is happy with it.
const ALIGN: usize = 64;

/// Buffers below this size take malloc's own 16-byte alignment instead: an aligned
/// allocation goes through glibc's slow memalign path (it was a sixth of the time of a
/// 16-element `a + b`), and the kernels use unaligned loads anyway.
const SMALL: usize = 4096;

/// Buffers from this size on are mapped directly, with huge pages requested.
#[cfg(unix)]
const HUGE_MIN: usize = 4 << 20;

pub enum Owner {
    Rust(AllocLayout),
    /// A private anonymous mapping (large buffers): the kernel hands out zeroed pages
    /// lazily, and transparent huge pages cut page faults 512-fold (numpy does the same).
    #[cfg(unix)]
    Mapped,
    /// Memory owned elsewhere; dropping the box releases it (decref, DLPack deleter...).
    External(Box<dyn Any + Send + Sync>),
}

pub struct CpuBuffer {
    ptr: NonNull<u8>,
    nbytes: usize,
    owner: Owner,
    readonly: bool,
    /// Bumped by every in-place write; autograd compares it with the value it saw when
    /// it saved a tensor for backward, to refuse gradients computed from overwritten data.
    version: std::sync::atomic::AtomicU64,
}

// SAFETY: the buffer is plain memory; ownership is tracked by the Arc around it and the
// owner object is itself Send + Sync.
unsafe impl Send for CpuBuffer {}
unsafe impl Sync for CpuBuffer {}

impl CpuBuffer {
    /// A zero-filled buffer.
    pub fn zeroed(nbytes: usize) -> Result<CpuBuffer> {
        Self::alloc(nbytes, true)
    }

    /// A buffer whose contents are unspecified (stale values of earlier tensors): only
    /// for outputs that a kernel overwrites completely before anyone reads them.
    pub fn for_overwrite(nbytes: usize) -> Result<CpuBuffer> {
        Self::alloc(nbytes, false)
    }

    fn alloc(nbytes: usize, zero: bool) -> Result<CpuBuffer> {
        if nbytes == 0 {
            let ptr = NonNull::new(ALIGN as *mut u8).expect("non-null");
            let layout = AllocLayout::from_size_align(0, ALIGN).expect("valid layout");
            return Ok(CpuBuffer {
                ptr,
                nbytes,
                owner: Owner::Rust(layout),
                readonly: false,
                version: Default::default(),
            });
        }
        #[cfg(unix)]
        if nbytes >= HUGE_MIN {
            let ptr = mapped::take(nbytes, zero)?;
            return Ok(CpuBuffer { ptr, nbytes, owner: Owner::Mapped, readonly: false, version: Default::default() });
        }
        let align = if nbytes < SMALL { 16 } else { ALIGN };
        let layout = AllocLayout::from_size_align(nbytes, align)
            .map_err(|_| Error::OutOfMemory(format!("cannot allocate {nbytes} bytes")))?;
        // SAFETY: layout has non-zero size.
        let raw = unsafe {
            if zero {
                alloc_zeroed(layout)
            } else {
                alloc(layout)
            }
        };
        let ptr = NonNull::new(raw).ok_or_else(|| Error::OutOfMemory(format!("failed to allocate {nbytes} bytes")))?;
        Ok(CpuBuffer { ptr, nbytes, owner: Owner::Rust(layout), readonly: false, version: Default::default() })
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
        CpuBuffer { ptr, nbytes, owner: Owner::External(owner), readonly, version: Default::default() }
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

    /// The in-place write counter (see the field).
    pub fn version(&self) -> &std::sync::atomic::AtomicU64 {
        &self.version
    }
}

impl Drop for CpuBuffer {
    fn drop(&mut self) {
        match self.owner {
            // SAFETY: allocated in `zeroed` with this very layout.
            Owner::Rust(layout) if layout.size() > 0 => unsafe { dealloc(self.ptr.as_ptr(), layout) },
            // SAFETY: mapped in `zeroed` with this very length.
            #[cfg(unix)]
            Owner::Mapped => mapped::give_back(self.ptr, self.nbytes),
            _ => {}
        }
    }
}

/// The backing memory of a tensor, by backend. Cloning shares, never copies.
#[derive(Clone)]
pub enum Storage {
    Cpu(Arc<CpuBuffer>),
    /// Device memory (rust/gpu/). Without the `gpu` feature `GpuBuffer` is an empty stub
    /// type that cannot be constructed, so this arm exists but never occurs.
    Gpu(Arc<GpuBuffer>),
}

/// The message of the panic raised when a CPU kernel is handed device memory. Ops check
/// devices before they reach a kernel; this is the backstop, and `python::errors::run`
/// turns it into a RuntimeError that names the problem instead of "internal error".
pub const GPU_TENSOR_ON_CPU_PATH: &str =
    "this operation is not implemented for GPU tensors yet; move its inputs to the CPU with .cpu() first";

impl Storage {
    pub fn device(&self) -> Device {
        match self {
            Storage::Cpu(_) => Device::Cpu,
            Storage::Gpu(b) => b.device(),
        }
    }

    /// Host memory. Callers are CPU kernels, which ops only reach with CPU tensors.
    pub fn cpu(&self) -> &CpuBuffer {
        match self {
            Storage::Cpu(b) => b,
            Storage::Gpu(_) => panic!("{GPU_TENSOR_ON_CPU_PATH}"),
        }
    }

    pub fn gpu(&self) -> Option<&Arc<GpuBuffer>> {
        match self {
            Storage::Gpu(b) => Some(b),
            Storage::Cpu(_) => None,
        }
    }

    pub fn same(&self, other: &Storage) -> bool {
        match (self, other) {
            (Storage::Cpu(a), Storage::Cpu(b)) => Arc::ptr_eq(a, b),
            (Storage::Gpu(a), Storage::Gpu(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }

    /// The in-place write counter (see `CpuBuffer::version`).
    pub fn version(&self) -> &std::sync::atomic::AtomicU64 {
        match self {
            Storage::Cpu(b) => b.version(),
            Storage::Gpu(b) => b.version(),
        }
    }

    pub fn readonly(&self) -> bool {
        match self {
            Storage::Cpu(b) => b.readonly(),
            Storage::Gpu(_) => false,
        }
    }

    /// Whether no other tensor or view holds this memory.
    pub fn unshared(&self) -> bool {
        match self {
            Storage::Cpu(b) => Arc::strong_count(b) == 1,
            Storage::Gpu(b) => Arc::strong_count(b) == 1,
        }
    }
}

/// Large buffers: private anonymous mappings with huge pages, and a small cache of freed
/// mappings. Fresh mappings cost a page fault per 2 MiB on first touch; a training loop
/// or benchmark that frees and reallocates the same sizes reuses warm memory instead.
#[cfg(unix)]
mod mapped {
    use std::ptr::NonNull;
    use std::sync::Mutex;

    use crate::core::error::{Error, Result};

    /// Mappings are rounded up to whole huge pages so that similar sizes share entries.
    const GRAIN: usize = 2 << 20;
    const MAX_ENTRIES: usize = 16;
    const MAX_CACHED_BYTES: usize = 1 << 30;

    struct Cache {
        free: Vec<(usize, usize)>, // (mapped length, address)
        bytes: usize,
    }

    static CACHE: Mutex<Cache> = Mutex::new(Cache { free: Vec::new(), bytes: 0 });

    fn rounded(n: usize) -> usize {
        n.div_ceil(GRAIN) * GRAIN
    }

    pub fn take(nbytes: usize, zero: bool) -> Result<NonNull<u8>> {
        let len = rounded(nbytes);
        let hit = {
            let mut c = CACHE.lock().unwrap_or_else(|p| p.into_inner());
            let i = c.free.iter().position(|&(l, _)| l == len);
            i.map(|i| {
                let (l, addr) = c.free.swap_remove(i);
                c.bytes -= l;
                addr
            })
        };
        if let Some(addr) = hit {
            let p = addr as *mut u8;
            if zero {
                // SAFETY: the cached mapping is `len >= nbytes` bytes long.
                unsafe { std::ptr::write_bytes(p, 0, nbytes) };
            }
            return Ok(NonNull::new(p).expect("cached mappings are non-null"));
        }
        // SAFETY: a fresh private anonymous mapping, released in `give_back`.
        unsafe {
            let p = libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            );
            if p == libc::MAP_FAILED {
                return Err(Error::OutOfMemory(format!("failed to allocate {nbytes} bytes")));
            }
            #[cfg(target_os = "linux")]
            libc::madvise(p, len, libc::MADV_HUGEPAGE);
            Ok(NonNull::new(p as *mut u8).expect("mmap never returns null on success"))
        }
    }

    pub fn give_back(ptr: NonNull<u8>, nbytes: usize) {
        let len = rounded(nbytes);
        {
            let mut c = CACHE.lock().unwrap_or_else(|p| p.into_inner());
            if c.free.len() < MAX_ENTRIES && c.bytes + len <= MAX_CACHED_BYTES {
                c.free.push((len, ptr.as_ptr() as usize));
                c.bytes += len;
                return;
            }
        }
        // SAFETY: mapped in `take` with this very length.
        unsafe { libc::munmap(ptr.as_ptr() as *mut libc::c_void, len) };
    }
}
