//! Grad mode: whether ops record onto the graph. Per thread, as in PyTorch, so a
//! `no_grad` block in one Python thread does not affect another.

use std::cell::Cell;

thread_local! {
    static ENABLED: Cell<bool> = const { Cell::new(true) };
}

#[inline]
pub fn is_enabled() -> bool {
    ENABLED.with(|e| e.get())
}

/// Sets grad mode and returns the previous setting.
pub fn set_enabled(on: bool) -> bool {
    ENABLED.with(|e| e.replace(on))
}

/// Restores the previous grad mode when dropped (also on early return by `?`).
pub struct Guard(bool);

impl Guard {
    pub fn new(on: bool) -> Guard {
        Guard(set_enabled(on))
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        set_enabled(self.0);
    }
}
