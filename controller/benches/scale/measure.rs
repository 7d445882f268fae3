//! What the scale bench reads about the controller process: CPU time and memory from `/proc`,
//! request counters from its `/metrics` and from the API server's.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// A `/proc/PID/status` field in KiB (`VmHWM`, `VmRSS`).
pub fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field) && l[field.len()..].starts_with(':'))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// User + system CPU seconds the process has used so far.
pub fn cpu_seconds(pid: u32) -> f64 {
    cpu_seconds_of(&format!("/proc/{pid}/stat"))
}

/// utime + stime of a process's or thread's `stat` file, in seconds.
fn cpu_seconds_of(stat: &str) -> f64 {
    let ticks_per_second = clock_ticks();
    std::fs::read_to_string(stat)
        .ok()
        .and_then(|s| {
            // Fields after the command name (which may contain spaces) start with the state,
            // field 3; utime and stime are fields 14 and 15.
            let rest = s.rsplit_once(')')?.1;
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let utime: u64 = fields.get(11)?.parse().ok()?;
            let stime: u64 = fields.get(12)?.parse().ok()?;
            Some((utime + stime) as f64 / ticks_per_second)
        })
        .unwrap_or(0.0)
}

/// The CPU seconds of `pid`'s threads by thread name, exited threads included: a thread is
/// read every 200 ms while it lives, and a provider call thread exits only after seconds idle,
/// so its last reading is its total. What no reading saw is under `(unseen)`.
pub struct ThreadCpu {
    seen: Arc<Mutex<BTreeMap<u32, (String, f64)>>>,
    stop: Arc<AtomicBool>,
    pid: u32,
}

impl ThreadCpu {
    pub fn watch(pid: u32) -> ThreadCpu {
        let seen: Arc<Mutex<BTreeMap<u32, (String, f64)>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (seen2, stop2) = (seen.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop2.load(Ordering::Relaxed) {
                read_threads(pid, &mut seen2.lock().unwrap());
                std::thread::sleep(std::time::Duration::from_millis(200));
            }
        });
        ThreadCpu { seen, stop, pid }
    }

    /// CPU seconds by thread name so far.
    pub fn by_name(&self) -> BTreeMap<String, f64> {
        let mut seen = self.seen.lock().unwrap();
        read_threads(self.pid, &mut seen);
        let mut by_name = BTreeMap::new();
        for (name, seconds) in seen.values() {
            *by_name.entry(name.clone()).or_insert(0.0) += seconds;
        }
        let attributed: f64 = by_name.values().sum();
        by_name.insert(
            "(unseen)".to_owned(),
            (cpu_seconds(self.pid) - attributed).max(0.0),
        );
        by_name
    }
}

impl Drop for ThreadCpu {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn read_threads(pid: u32, seen: &mut BTreeMap<u32, (String, f64)>) {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return;
    };
    for task in tasks.flatten() {
        let Some(tid) = task.file_name().to_str().and_then(|t| t.parse().ok()) else {
            continue;
        };
        let Ok(comm) = std::fs::read_to_string(task.path().join("comm")) else {
            continue;
        };
        let seconds = cpu_seconds_of(&task.path().join("stat").to_string_lossy());
        seen.insert(tid, (comm.trim().to_owned(), seconds));
    }
}

fn clock_ticks() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// The value of label `label` in a Prometheus sample line's label set.
fn label<'a>(labels: &'a str, label: &str) -> Option<&'a str> {
    let start = labels.find(&format!("{label}=\""))? + label.len() + 2;
    let end = labels[start..].find('"')? + start;
    Some(&labels[start..end])
}

/// Samples of the counter `name` summed by the values of `labels` (joined with `/`, empty values
/// left out).
pub fn counter_by(metrics: &str, name: &str, labels: &[&str]) -> BTreeMap<String, f64> {
    let mut sums = BTreeMap::new();
    for line in metrics.lines() {
        let Some(rest) = line.strip_prefix(name) else {
            continue;
        };
        let (label_set, value) = match rest.strip_prefix('{') {
            Some(r) => match r.rsplit_once("} ") {
                Some((l, v)) => (l, v),
                None => continue,
            },
            None => match rest.strip_prefix(' ') {
                Some(v) => ("", v),
                None => continue,
            },
        };
        let Ok(value) = value.trim().parse::<f64>() else {
            continue;
        };
        let key: Vec<&str> = labels
            .iter()
            .filter_map(|l| label(label_set, l))
            .filter(|v| !v.is_empty())
            .collect();
        *sums.entry(key.join("/")).or_insert(0.0) += value;
    }
    sums
}

/// `after - before`, per key, dropping keys that did not move.
pub fn difference(
    after: &BTreeMap<String, f64>,
    before: &BTreeMap<String, f64>,
) -> BTreeMap<String, f64> {
    after
        .iter()
        .map(|(k, v)| (k.clone(), v - before.get(k).copied().unwrap_or(0.0)))
        .filter(|(_, v)| *v > 0.0)
        .collect()
}

/// Drops keys below `per` × `fraction` (the API server's own background requests, a handful in
/// a run, next to thousands for the objects).
pub fn significant(
    counts: BTreeMap<String, f64>,
    per: f64,
    fraction: f64,
) -> BTreeMap<String, f64> {
    counts
        .into_iter()
        .filter(|(_, v)| v / per >= fraction)
        .collect()
}

/// `key count, ...` with counts divided by `per`.
pub fn per_object(counts: &BTreeMap<String, f64>, per: f64) -> String {
    counts
        .iter()
        .map(|(k, v)| format!("{k} {:.3}", v / per))
        .collect::<Vec<_>>()
        .join(", ")
}
