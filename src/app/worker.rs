//! A background thread that runs the newest request only. The editor sends one request per
//! edit (dozens a second while dragging); the model takes hundreds of milliseconds. Queuing
//! would make the result lag further and further behind the hand, so a new request replaces
//! the pending one, and the thread, when free, takes whatever is newest.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

/// The one-request mailbox: `Some` is waiting to be run.
struct Slot<Req> {
    pending: Option<Req>,
    closed: bool,
}

struct Shared<Req> {
    slot: Mutex<Slot<Req>>,
    wake: Condvar,
    busy: AtomicBool,
    dropped: AtomicU64,
}

/// Runs `job` on its own thread for the latest request; results come back in order of
/// completion through [`LatestWorker::try_recv`]. Dropping the worker stops the thread after
/// the request it is running.
pub struct LatestWorker<Req: Send + 'static, Resp: Send + 'static> {
    shared: Arc<Shared<Req>>,
    results: Receiver<Resp>,
    thread: Option<JoinHandle<()>>,
}

impl<Req: Send + 'static, Resp: Send + 'static> LatestWorker<Req, Resp> {
    /// `job` owns whatever heavy state it needs (the model) — it lives on the worker thread
    /// only. `notify` is called after each result is sent (the UI's request_repaint), so an idle
    /// UI wakes up to show it.
    pub fn spawn(
        name: &str,
        mut job: impl FnMut(Req) -> Resp + Send + 'static,
        notify: impl Fn() + Send + 'static,
    ) -> Self {
        let shared = Arc::new(Shared {
            slot: Mutex::new(Slot {
                pending: None,
                closed: false,
            }),
            wake: Condvar::new(),
            busy: AtomicBool::new(false),
            dropped: AtomicU64::new(0),
        });
        let (tx, results): (Sender<Resp>, Receiver<Resp>) = mpsc::channel();
        let thread_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name(name.to_string())
            .spawn(move || {
                while let Some(req) = Self::next(&thread_shared) {
                    let resp = job(req);
                    thread_shared.busy.store(false, Ordering::SeqCst);
                    if tx.send(resp).is_err() {
                        break; // the editor is gone
                    }
                    notify();
                }
            })
            .expect("spawning a thread only fails when the OS is out of resources");
        Self {
            shared,
            results,
            thread: Some(thread),
        }
    }

    /// Blocks until a request is pending (marking the worker busy) or the worker is closed.
    fn next(shared: &Shared<Req>) -> Option<Req> {
        let mut slot = shared.slot.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if slot.closed {
                return None;
            }
            if let Some(req) = slot.pending.take() {
                shared.busy.store(true, Ordering::SeqCst);
                return Some(req);
            }
            slot = shared.wake.wait(slot).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Queues `req` as the only pending request; a request still waiting is dropped (never run).
    pub fn submit(&self, req: Req) {
        let mut slot = self.shared.slot.lock().unwrap_or_else(|e| e.into_inner());
        if slot.pending.replace(req).is_some() {
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
        }
        drop(slot);
        self.shared.wake.notify_one();
    }

    /// A finished result, if any (never blocks: the UI polls this every frame).
    pub fn try_recv(&self) -> Option<Resp> {
        self.results.try_recv().ok()
    }

    /// Blocks for the next result (tests and the CLI; never the UI).
    pub fn recv_timeout(&self, timeout: std::time::Duration) -> Option<Resp> {
        self.results.recv_timeout(timeout).ok()
    }

    /// Whether a request is running or waiting.
    pub fn is_busy(&self) -> bool {
        self.shared.busy.load(Ordering::SeqCst)
            || self
                .shared
                .slot
                .lock()
                .map(|s| s.pending.is_some())
                .unwrap_or(false)
    }

    /// How many requests were replaced before they ran.
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }
}

impl<Req: Send + 'static, Resp: Send + 'static> Drop for LatestWorker<Req, Resp> {
    fn drop(&mut self) {
        if let Ok(mut slot) = self.shared.slot.lock() {
            slot.closed = true;
            slot.pending = None;
        }
        self.shared.wake.notify_all();
        // Do not join: a long inference would freeze the closing window; the thread exits on
        // its own when it sees `closed` (or fails to send).
        drop(self.thread.take());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// While the worker is stuck on request 1, requests 2–4 arrive: only 4 runs next.
    #[test]
    fn stale_requests_are_dropped_and_the_latest_runs() {
        let (gate_tx, gate_rx) = mpsc::channel::<()>();
        let gate = Mutex::new(gate_rx);
        let worker = LatestWorker::spawn(
            "test",
            move |req: u32| {
                gate.lock().unwrap().recv().unwrap();
                req * 10
            },
            || {},
        );
        worker.submit(1);
        // Wait until request 1 is running (the slot is empty again).
        let t0 = std::time::Instant::now();
        while worker.shared.slot.lock().unwrap().pending.is_some() {
            assert!(t0.elapsed() < Duration::from_secs(5));
            std::thread::yield_now();
        }
        for r in 2..=4 {
            worker.submit(r);
        }
        assert!(worker.is_busy());
        assert_eq!(worker.dropped(), 2);
        gate_tx.send(()).unwrap();
        gate_tx.send(()).unwrap();
        assert_eq!(worker.recv_timeout(Duration::from_secs(5)), Some(10));
        assert_eq!(worker.recv_timeout(Duration::from_secs(5)), Some(40));
        // Nothing else ran.
        assert_eq!(worker.recv_timeout(Duration::from_millis(100)), None);
        assert!(!worker.is_busy());
    }

    #[test]
    fn notify_fires_once_per_result() {
        let count = Arc::new(AtomicU64::new(0));
        let c = Arc::clone(&count);
        let worker = LatestWorker::spawn(
            "test",
            |x: u8| x,
            move || {
                c.fetch_add(1, Ordering::SeqCst);
            },
        );
        worker.submit(7);
        assert_eq!(worker.recv_timeout(Duration::from_secs(5)), Some(7));
        let t0 = std::time::Instant::now();
        while count.load(Ordering::SeqCst) == 0 {
            assert!(t0.elapsed() < Duration::from_secs(5));
            std::thread::yield_now();
        }
        assert_eq!(count.load(Ordering::SeqCst), 1);
    }
}
