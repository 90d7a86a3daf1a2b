//! Per-op-type timing for `marionette bench --ops`: where a forward pass spends its time.
//!
//! Layers open a [`scope`] named after their op type; with profiling off (the default) a scope
//! costs one relaxed atomic load. CPU ops run eagerly, so wall time around a layer call is the
//! op's time. Scopes nest: each records its *self* time (children subtracted), so the groups
//! add up to the pass and the remainder is what no scope covers.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

static ON: AtomicBool = AtomicBool::new(false);
static TOTALS: Mutex<BTreeMap<&'static str, (Duration, u64)>> = Mutex::new(BTreeMap::new());

thread_local! {
    /// Time spent in finished child scopes, per open scope on this thread.
    static CHILDREN: RefCell<Vec<Duration>> = const { RefCell::new(Vec::new()) };
}

/// Op types, in the order the table prints them (the PyTorch side groups its ops the same way).
pub const GROUPS: [&str; 6] = [
    "conv", "norm+act", "matmul", "sampling", "copies", "softmax",
];

/// Turns recording on or off and clears what was recorded.
pub fn enable(on: bool) {
    ON.store(on, Ordering::Relaxed);
    if let Ok(mut t) = TOTALS.lock() {
        t.clear();
    }
}

/// Self time and calls per op type since [`enable`].
pub fn totals() -> BTreeMap<&'static str, (Duration, u64)> {
    TOTALS.lock().map(|t| t.clone()).unwrap_or_default()
}

/// An open timing scope; records on drop.
pub struct Scope {
    name: &'static str,
    start: Option<Instant>,
}

/// Starts timing `name` (one of [`GROUPS`]) until the returned guard drops.
pub fn scope(name: &'static str) -> Scope {
    let start = ON.load(Ordering::Relaxed).then(|| {
        CHILDREN.with(|c| c.borrow_mut().push(Duration::ZERO));
        Instant::now()
    });
    Scope { name, start }
}

impl Drop for Scope {
    fn drop(&mut self) {
        let Some(start) = self.start else { return };
        let elapsed = start.elapsed();
        let children = CHILDREN.with(|c| {
            let mut c = c.borrow_mut();
            let mine = c.pop().unwrap_or_default();
            if let Some(parent) = c.last_mut() {
                *parent += elapsed;
            }
            mine
        });
        if let Ok(mut t) = TOTALS.lock() {
            let e = t.entry(self.name).or_default();
            e.0 += elapsed.saturating_sub(children);
            e.1 += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Nested scopes record self time: the parent's excludes the child's.
    #[test]
    fn nested_scopes_record_self_time() {
        enable(true);
        {
            let _outer = scope("copies");
            std::thread::sleep(Duration::from_millis(30));
            let _inner = scope("conv");
            std::thread::sleep(Duration::from_millis(60));
        }
        let t = totals();
        enable(false);
        let (conv, copies) = (t["conv"].0, t["copies"].0);
        assert!(conv >= Duration::from_millis(60), "{conv:?}");
        assert!(copies >= Duration::from_millis(30), "{copies:?}");
        assert!(
            copies < Duration::from_millis(55),
            "child time not subtracted: {copies:?}"
        );
        assert_eq!((t["conv"].1, t["copies"].1), (1, 1));
    }
}
