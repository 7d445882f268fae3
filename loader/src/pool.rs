//! The threads provider calls run on.
//!
//! A call runs on a thread of its own so that a provider that hangs cannot stall the controller:
//! the caller stops waiting at the timeout, the thread stays with the hung call until it returns,
//! and the next call takes another thread. tokio's blocking pool does that too, but its idle
//! threads sleep at once, so with a fast provider each call paid a full wake-up of a sleeping
//! thread (on a busy machine, more than the call itself). Here an idle thread first
//! waits a little while giving way to anything else runnable ([`std::thread::yield_now`]), so
//! a call that follows another, as calls do while the controller works through its queue, is
//! picked up without waking anyone; only then does the thread sleep, and after
//! [`KEEP_ALIVE`] without work it exits.
//!
//! The reply comes back the same way ([`reply`]): when the call went to a thread that was
//! still looking for work, the caller looks for the reply for [`REPLY_SPIN`], yielding too,
//! before it awaits it, so a fast provider's reply is taken without putting the runtime's
//! thread to sleep and waking it: that round trip costs several times the call itself, in
//! `make bench` and in the controller's CPU at scale (docs/performance.md, "The fourth pass").
//! Yielding matters: a caller that spun without yielding took the core the call needed. A call handed to a sleeping or new thread waits for that thread's wake-up
//! first, so its caller does not spin.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long an idle thread keeps looking for the next call before it sleeps.
const SPIN: Duration = Duration::from_micros(50);
/// How long an idle thread sleeps without work before it exits.
const KEEP_ALIVE: Duration = Duration::from_secs(10);
/// How long a caller looks for the reply of a call a looking thread took, before it awaits it.
/// A provider that answers from memory replies within it; one that talks to a cloud costs its
/// caller at most this much per call, against the milliseconds of the call.
const REPLY_SPIN: Duration = Duration::from_micros(20);

/// How a call was handed over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Handoff {
    /// To a thread that was looking for work: it runs the call at once.
    Prompt,
    /// To a sleeping thread, or a new one: the call starts once that thread is up.
    Woken,
}

type Job = Box<dyn FnOnce() + Send>;

/// Threads for provider calls: one per call in flight, reused.
#[derive(Default)]
pub(crate) struct CallThreads {
    /// The idle threads, the most recently used last.
    idle: Mutex<Vec<Idle>>,
}

/// An idle thread, and how to hand it a job.
struct Idle {
    id: u64,
    jobs: Sender<Job>,
    /// Set while the thread looks for its next job, before it sleeps.
    looking: Arc<AtomicBool>,
}

impl CallThreads {
    /// Runs `job` on an idle thread, or a new one when none is idle.
    pub(crate) fn run(self: &Arc<Self>, job: Job) -> std::io::Result<Handoff> {
        let mut job = job;
        loop {
            let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
            match idle {
                // A thread that exited between its last look and its removal drops its
                // receiver: the job comes back and the next idle thread gets it.
                Some(idle) => {
                    let looking = idle.looking.load(Ordering::Relaxed);
                    match idle.jobs.send(job) {
                        Ok(()) if looking => return Ok(Handoff::Prompt),
                        Ok(()) => return Ok(Handoff::Woken),
                        Err(mpsc::SendError(back)) => job = back,
                    }
                }
                None => return self.spawn(job).map(|()| Handoff::Woken),
            }
        }
    }

    fn spawn(self: &Arc<Self>, job: Job) -> std::io::Result<()> {
        static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let id = NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (jobs, receiver) = mpsc::channel::<Job>();
        let threads = self.clone();
        std::thread::Builder::new()
            .name("provider-call".to_owned())
            .spawn(move || {
                job();
                threads.serve(id, jobs, receiver);
            })
            .map(drop)
    }

    /// After its first job: offers the thread again and runs what it is given, until it has
    /// been idle for [`KEEP_ALIVE`].
    fn serve(&self, id: u64, jobs: Sender<Job>, receiver: Receiver<Job>) {
        let looking = Arc::new(AtomicBool::new(false));
        loop {
            looking.store(true, Ordering::Relaxed);
            self.idle
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(Idle {
                    id,
                    jobs: jobs.clone(),
                    looking: looking.clone(),
                });
            match next_job(&receiver, &looking) {
                Some(job) => job(),
                None => {
                    let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
                    // Still offered: nobody can send it a job any more once it is out.
                    if let Some(at) = idle.iter().position(|i| i.id == id) {
                        idle.remove(at);
                        return;
                    }
                    drop(idle);
                    // Taken just now: its job is on the way.
                    match receiver.recv() {
                        Ok(job) => job(),
                        Err(_) => return,
                    }
                }
            }
        }
    }

    /// How many threads are idle.
    #[cfg(test)]
    fn idle(&self) -> usize {
        self.idle.lock().unwrap().len()
    }
}

/// The next job: looked for during [`SPIN`] (giving way to other threads, `looking` set), then
/// slept for up to [`KEEP_ALIVE`]; `None` when none came.
fn next_job(receiver: &Receiver<Job>, looking: &AtomicBool) -> Option<Job> {
    let started = Instant::now();
    while started.elapsed() < SPIN {
        match receiver.try_recv() {
            Ok(job) => return Some(job),
            Err(TryRecvError::Empty) => std::thread::yield_now(),
            Err(TryRecvError::Disconnected) => return None,
        }
    }
    looking.store(false, Ordering::Relaxed);
    receiver.recv_timeout(KEEP_ALIVE).ok()
}

/// The reply of a call handed over as `handoff`: after a [`Handoff::Prompt`] looked for during
/// [`REPLY_SPIN`] (holding the caller's thread, but giving way to anything else runnable), then
/// awaited. `None` when the job ended without replying.
pub(crate) async fn reply<T>(
    mut receiver: tokio::sync::oneshot::Receiver<T>,
    handoff: Handoff,
) -> Option<T> {
    use tokio::sync::oneshot::error::TryRecvError;
    if handoff == Handoff::Prompt {
        let started = Instant::now();
        while started.elapsed() < REPLY_SPIN {
            match receiver.try_recv() {
                Ok(value) => return Some(value),
                Err(TryRecvError::Empty) => std::thread::yield_now(),
                // The receiver is spent: awaiting it now would panic.
                Err(TryRecvError::Closed) => return None,
            }
        }
    }
    receiver.await.ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hung_job_keeps_its_thread_and_the_next_job_gets_another() {
        let threads = Arc::new(CallThreads::default());
        let (release, hung) = mpsc::channel::<()>();
        let (done, finished) = mpsc::channel::<&str>();
        let done2 = done.clone();
        threads
            .run(Box::new(move || {
                hung.recv().unwrap();
                done.send("hung").unwrap();
            }))
            .unwrap();
        threads
            .run(Box::new(move || done2.send("next").unwrap()))
            .unwrap();
        assert_eq!(finished.recv().unwrap(), "next");
        release.send(()).unwrap();
        assert_eq!(finished.recv().unwrap(), "hung");
        // Both threads are offered again once their jobs have returned, and the next jobs
        // reuse them.
        while threads.idle() < 2 {
            std::thread::yield_now();
        }
        let (done, finished) = mpsc::channel();
        for i in 0..4 {
            let done = done.clone();
            threads
                .run(Box::new(move || done.send(i).unwrap()))
                .unwrap();
        }
        let mut got: Vec<i32> = (0..4).map(|_| finished.recv().unwrap()).collect();
        got.sort();
        assert_eq!(got, [0, 1, 2, 3]);
    }

    /// Whether the idle thread (the only one) is still looking for work.
    fn looking(threads: &CallThreads) -> Option<bool> {
        let idle = threads.idle.lock().unwrap();
        idle.first().map(|i| i.looking.load(Ordering::Relaxed))
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_call_to_a_looking_thread_is_prompt_and_its_reply_comes_either_way() {
        let threads = Arc::new(CallThreads::default());
        let call = |value: u32, delay: Duration| {
            let (tx, rx) = tokio::sync::oneshot::channel();
            let handoff = threads
                .run(Box::new(move || {
                    std::thread::sleep(delay);
                    tx.send(value).unwrap();
                }))
                .unwrap();
            (handoff, rx)
        };
        // The first call starts a thread.
        let (handoff, rx) = call(0, Duration::ZERO);
        assert_eq!(handoff, Handoff::Woken);
        assert_eq!(reply(rx, handoff).await, Some(0));
        // A call made while the thread looks for work is prompt (the thread looks for 50 µs;
        // a busy machine may let a few tries miss it).
        let mut prompt = false;
        for i in 1..1000 {
            while looking(&threads).is_none() {
                std::thread::yield_now();
            }
            let (handoff, rx) = call(i, Duration::ZERO);
            assert_eq!(reply(rx, handoff).await, Some(i));
            if handoff == Handoff::Prompt {
                prompt = true;
                break;
            }
        }
        assert!(prompt, "no call found the thread looking for work");
        // A reply that comes after the spin is awaited.
        while looking(&threads).is_none() {
            std::thread::yield_now();
        }
        let (handoff, rx) = call(1000, REPLY_SPIN * 50);
        assert_eq!(reply(rx, handoff).await, Some(1000));
        // Once the thread has stopped looking (asleep), a call wakes it.
        while looking(&threads) != Some(false) {
            std::thread::yield_now();
        }
        let (handoff, rx) = call(1001, Duration::ZERO);
        assert_eq!(handoff, Handoff::Woken);
        assert_eq!(reply(rx, handoff).await, Some(1001));
        // A job that ends without replying, found during the spin and after it.
        for handoff in [Handoff::Prompt, Handoff::Woken] {
            let (tx, rx) = tokio::sync::oneshot::channel::<u32>();
            drop(tx);
            assert_eq!(reply(rx, handoff).await, None);
        }
        let (tx, rx) = tokio::sync::oneshot::channel::<u32>();
        let handoff = threads.run(Box::new(move || drop(tx))).unwrap();
        assert_eq!(reply(rx, handoff).await, None);
    }
}
