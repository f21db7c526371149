//! A fixed set of threads fed by a bounded queue.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex, OnceLock};

type Job = Box<dyn FnOnce() + Send>;

/// A bounded pool of threads for blocking work, started on first use.
/// A full queue refuses work instead of growing, so overload shows up as
/// an answer (`503`) rather than as memory.
///
/// ```
/// use std::sync::mpsc;
/// use turnstile_core::sync::ThreadPool;
///
/// let pool = ThreadPool::new(2, 16);
/// let (tx, rx) = mpsc::channel();
/// pool.execute(move || tx.send(21 * 2).unwrap()).ok().unwrap();
/// assert_eq!(rx.recv().unwrap(), 42);
/// ```
pub struct ThreadPool {
    threads: usize,
    queue: usize,
    name: &'static str,
    sender: OnceLock<Mutex<SyncSender<Job>>>,
}

impl ThreadPool {
    /// `threads` threads (at least 1) and room for `queue` waiting jobs.
    pub fn new(threads: usize, queue: usize) -> ThreadPool {
        ThreadPool::named("turnstile-pool", threads, queue)
    }

    /// The same, with thread names starting with `name`.
    pub fn named(name: &'static str, threads: usize, queue: usize) -> ThreadPool {
        ThreadPool {
            threads: threads.max(1),
            queue: queue.max(1),
            name,
            sender: OnceLock::new(),
        }
    }

    fn sender(&self) -> &Mutex<SyncSender<Job>> {
        self.sender.get_or_init(|| {
            let (sender, receiver) = sync_channel::<Job>(self.queue);
            let receiver = Arc::new(Mutex::new(receiver));
            for i in 0..self.threads {
                let receiver = receiver.clone();
                let spawned = std::thread::Builder::new()
                    .name(format!("{}-{i}", self.name))
                    .spawn(move || run_jobs(&receiver));
                if let Err(e) = spawned {
                    log::error!("could not start a pool thread: {e}");
                }
            }
            Mutex::new(sender)
        })
    }

    /// Queues `job`; gives it back when the queue is full. A panic in a job
    /// is caught and logged; the thread goes on.
    pub fn execute<F: FnOnce() + Send + 'static>(&self, job: F) -> Result<(), F> {
        // The job waits in a cell both sides can reach, so a refused one
        // comes back to the caller whole.
        let cell = Arc::new(Mutex::new(Some(job)));
        let queued = cell.clone();
        let boxed: Job = Box::new(move || {
            if let Some(job) = take(&queued) {
                job();
            }
        });
        let sent = {
            let sender = self.sender().lock().unwrap_or_else(|e| e.into_inner());
            sender.try_send(boxed).is_ok()
        };
        if !sent {
            if let Some(job) = take(&cell) {
                return Err(job);
            }
        }
        Ok(())
    }
}

fn take<F>(cell: &Mutex<Option<F>>) -> Option<F> {
    cell.lock().unwrap_or_else(|e| e.into_inner()).take()
}

fn run_jobs(receiver: &Mutex<Receiver<Job>>) {
    loop {
        let job = {
            let receiver = receiver.lock().unwrap_or_else(|e| e.into_inner());
            receiver.recv()
        };
        match job {
            Ok(job) => {
                if catch_unwind(AssertUnwindSafe(job)).is_err() {
                    log::error!("a pool job panicked");
                }
            }
            Err(_) => return, // the pool is gone
        }
    }
}

impl std::fmt::Debug for ThreadPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ThreadPool").finish_non_exhaustive()
    }
}
