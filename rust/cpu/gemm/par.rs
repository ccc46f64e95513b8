//! Running one product's chunks on several threads without a wake-up per product.
//!
//! Waking a sleeping rayon worker took 0.1-1 ms on the project's 2-core VM (the woken
//! thread often lands on the busy core of the thread that woke it), longer than a whole
//! 256x256 product. So a helper, after its chunks, lingers for a short while: it runs
//! any other pending rayon work (`rayon::yield_now`) and watches a one-slot lobby where
//! the next product posts its chunks. Back-to-back products (a training step, a
//! benchmark loop) then find their helpers already running, as OpenBLAS's spinning
//! threads are. The calling thread computes chunks too and never waits for a helper that
//! has not started: chunks are claimed first come, first served.

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Work split into chunks that threads claim in turn.
pub(super) trait Chunks: Send + Sync {
    /// Claims and computes chunks until none are left unclaimed.
    fn work(&self);
    /// Whether every chunk has been computed.
    fn finished(&self) -> bool;
}

/// How long a helper waits for the next product before handing its thread back to rayon.
const LINGER: Duration = Duration::from_micros(500);

/// The product most recently posted, with a count of postings so that a lingering helper
/// notices a new one.
struct Lobby {
    work: Mutex<Option<Arc<dyn Chunks>>>,
    posted: AtomicUsize,
    lingering: AtomicUsize,
}

static LOBBY: Lobby = Lobby { work: Mutex::new(None), posted: AtomicUsize::new(0), lingering: AtomicUsize::new(0) };

thread_local! {
    /// Set while this thread lingers (or waits for a product's helpers), so that a
    /// helper job it runs from there through `rayon::yield_now` does not linger too.
    static LINGERS: Cell<bool> = const { Cell::new(false) };
}

fn slot() -> std::sync::MutexGuard<'static, Option<Arc<dyn Chunks>>> {
    LOBBY.work.lock().unwrap_or_else(|e| e.into_inner())
}

/// Computes `work` on this thread and up to `helpers` others; returns when it is done.
pub(super) fn run(work: Arc<dyn Chunks>, helpers: usize) {
    *slot() = Some(Arc::clone(&work));
    LOBBY.posted.fetch_add(1, Ordering::AcqRel);
    let waiting = LOBBY.lingering.load(Ordering::Acquire);
    for _ in waiting.min(helpers)..helpers {
        let w = Arc::clone(&work);
        rayon::spawn(move || helper(w));
    }
    work.work();
    // Only rectangles that running helpers are computing are left: wait for them. On a
    // pool thread, run other rayon work meanwhile, but no lingering helper (it would
    // keep this product's caller away for the whole linger).
    let was = LINGERS.with(|l| l.replace(true));
    let mut spins = 0u32;
    while !work.finished() {
        if spins < 1 << 12 {
            std::hint::spin_loop();
            spins += 1;
        } else if rayon::current_thread_index().is_some() {
            rayon::yield_now();
        } else {
            std::thread::yield_now();
        }
    }
    LINGERS.with(|l| l.set(was));
    let mut s = slot();
    if s.as_ref().is_some_and(|w| Arc::ptr_eq(w, &work)) {
        *s = None;
    }
}

/// A helper: computes chunks of `first`, then lingers for later products.
fn helper(first: Arc<dyn Chunks>) {
    first.work();
    drop(first);
    if LINGERS.with(|l| l.replace(true)) {
        return;
    }
    LOBBY.lingering.fetch_add(1, Ordering::AcqRel);
    let mut seen = usize::MAX;
    let mut until = Instant::now() + LINGER;
    loop {
        let posted = LOBBY.posted.load(Ordering::Acquire);
        if posted != seen {
            seen = posted;
            let w = slot().clone();
            if let Some(w) = w {
                w.work();
                until = Instant::now() + LINGER;
            }
        }
        if Instant::now() >= until {
            break;
        }
        if rayon::yield_now() != Some(rayon::Yield::Executed) {
            for _ in 0..64 {
                std::hint::spin_loop();
            }
        }
    }
    LOBBY.lingering.fetch_sub(1, Ordering::AcqRel);
    LINGERS.with(|l| l.set(false));
}
