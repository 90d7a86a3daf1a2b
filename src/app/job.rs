//! A background job: one thread computing a result, the progress it reports and a cancel flag
//! it polls. Both exports (the re-posed photo, the animation) run on one, so the UI polls them
//! the same way every frame and a dead thread is reported the same way.

use anyhow::{Context, Result};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::sync::{Arc, Mutex};

/// A job running on its own thread; `P` is what it says about its progress.
pub struct Job<T, P = ()> {
    progress: Arc<Mutex<P>>,
    cancel: Arc<AtomicBool>,
    result: Receiver<Result<T, String>>,
}

/// What the job's thread holds: where it reports progress and learns it should stop.
pub struct JobHandle<P> {
    progress: Arc<Mutex<P>>,
    cancel: Arc<AtomicBool>,
}

impl<P> JobHandle<P> {
    pub fn report(&self, p: P) {
        *self.progress.lock().unwrap_or_else(|e| e.into_inner()) = p;
    }

    pub fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::SeqCst)
    }
}

/// How a job ended.
#[derive(Debug)]
pub enum Finished<T> {
    Done(T),
    /// Its error, with its causes (`{:#}`).
    Failed(String),
    /// The thread ended without an answer (it panicked).
    Lost,
}

impl<T: Send + 'static, P: Clone + Send + 'static> Job<T, P> {
    /// Starts `work` on a thread named `name`, its progress at `initial`.
    pub fn spawn(
        name: &str,
        initial: P,
        work: impl FnOnce(&JobHandle<P>) -> Result<T> + Send + 'static,
    ) -> Result<Self> {
        let progress = Arc::new(Mutex::new(initial));
        let cancel = Arc::new(AtomicBool::new(false));
        let handle = JobHandle {
            progress: Arc::clone(&progress),
            cancel: Arc::clone(&cancel),
        };
        let (tx, result) = mpsc::channel();
        std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                let _ = tx.send(work(&handle).map_err(|e| format!("{e:#}")));
            })
            .with_context(|| format!("starting {name}"))?;
        Ok(Self {
            progress,
            cancel,
            result,
        })
    }

    pub fn progress(&self) -> P {
        self.progress
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Asks the job to stop; it decides when (see [`JobHandle::cancelled`]).
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::SeqCst);
    }

    pub fn cancelling(&self) -> bool {
        self.cancel.load(Ordering::SeqCst)
    }

    /// The outcome once the job has ended (`None` while it runs). Called every frame.
    pub fn poll(&self) -> Option<Finished<T>> {
        match self.result.try_recv() {
            Ok(Ok(t)) => Some(Finished::Done(t)),
            Ok(Err(e)) => Some(Finished::Failed(e)),
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => Some(Finished::Lost),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn wait<T: Send + 'static, P: Clone + Send + 'static>(job: &Job<T, P>) -> Finished<T> {
        loop {
            if let Some(f) = job.poll() {
                return f;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn a_job_reports_its_result_progress_and_cancel() {
        let job = Job::spawn("test-job", 0u32, |h| {
            h.report(7);
            while !h.cancelled() {
                std::thread::sleep(Duration::from_millis(1));
            }
            Ok("stopped")
        })
        .unwrap();
        while job.progress() != 7 {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(!job.cancelling());
        job.cancel();
        assert!(matches!(wait(&job), Finished::Done("stopped")));

        let failed: Job<()> = Job::spawn("test-job", (), |_| anyhow::bail!("no")).unwrap();
        assert!(matches!(wait(&failed), Finished::Failed(e) if e == "no"));
    }
}
