//! Where log lines go: stderr (the default, as Kubernetes components), or with
//! `--log-*-split-stream` info to stdout and errors to stderr, the info stream optionally
//! buffered (`--log-*-info-buffer-size`) and flushed every `--log-flush-frequency`.

use std::io::{self, BufWriter, Write};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tracing::{Level, Metadata};
use tracing_subscriber::fmt::MakeWriter;

/// The buffered info stream, shared by every line written and the flusher thread.
type Buffer = Arc<Mutex<BufWriter<io::Stdout>>>;

#[derive(Clone)]
pub struct Output {
    /// Split: lines below this level (more verbose) go to the info stream; `None`: all to stderr.
    split_above: Option<Level>,
    buffer: Option<Buffer>,
}

impl Output {
    /// Everything to stderr.
    pub fn stderr() -> Self {
        Output {
            split_above: None,
            buffer: None,
        }
    }

    /// Info to stdout (buffered when `buffer_bytes` > 0), lines at `error_from` or more severe
    /// to stderr.
    pub fn split(error_from: Level, buffer_bytes: usize) -> Self {
        Output {
            split_above: Some(error_from),
            buffer: (buffer_bytes > 0).then(|| {
                Arc::new(Mutex::new(BufWriter::with_capacity(
                    buffer_bytes,
                    io::stdout(),
                )))
            }),
        }
    }

    /// Starts the thread that flushes the info buffer every `every`, if there is one.
    pub fn start_flushing(&self, every: Duration) {
        let Some(buffer) = self.buffer.clone() else {
            return;
        };
        let every = every.max(Duration::from_millis(10));
        let _ = std::thread::Builder::new()
            .name("log-flush".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(every);
                    let _ = lock(&buffer).flush();
                }
            });
    }

    /// Writes out what the info buffer holds.
    pub fn flush(&self) {
        if let Some(buffer) = &self.buffer {
            let _ = lock(buffer).flush();
        }
    }
}

fn lock(buffer: &Buffer) -> MutexGuard<'_, BufWriter<io::Stdout>> {
    buffer.lock().unwrap_or_else(|e| e.into_inner())
}

/// One line's destination.
pub enum LineWriter<'a> {
    Stderr(io::Stderr),
    Stdout(io::Stdout),
    Buffered(MutexGuard<'a, BufWriter<io::Stdout>>),
}

impl Write for LineWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            LineWriter::Stderr(w) => w.write(buf),
            LineWriter::Stdout(w) => w.write(buf),
            LineWriter::Buffered(w) => w.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            LineWriter::Stderr(w) => w.flush(),
            LineWriter::Stdout(w) => w.flush(),
            // Flushed by the flusher thread and at exit.
            LineWriter::Buffered(_) => Ok(()),
        }
    }
}

impl<'a> MakeWriter<'a> for Output {
    type Writer = LineWriter<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        LineWriter::Stderr(io::stderr())
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> Self::Writer {
        match self.split_above {
            // Level orders verbose above severe: ERROR < WARN < INFO.
            Some(error_from) if *meta.level() > error_from => match &self.buffer {
                Some(buffer) => LineWriter::Buffered(lock(buffer)),
                None => LineWriter::Stdout(io::stdout()),
            },
            _ => LineWriter::Stderr(io::stderr()),
        }
    }
}
