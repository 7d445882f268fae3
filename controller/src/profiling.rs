//! `--enable-pprof`: Karmada's profiling endpoint on `--profiling-bind-address`, the paths of
//! Go's `net/http/pprof`. `/debug/pprof/profile?seconds=N` samples the CPU for N seconds
//! (default 30) at 100 Hz, as Go's does, and answers with a profile in pprof's protobuf format,
//! which `go tool pprof` reads. Go's heap, goroutine and trace profiles have no Rust
//! counterpart here; their paths say so.

use std::net::SocketAddr;
use std::time::Duration;

use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use pprof::protos::Message;

use crate::server::{self, text};
use crate::settings::ListenAddress;

/// Go's profiling server's write timeout: a longer profile could not be written.
const WRITE_TIMEOUT: Duration = Duration::from_secs(300);
/// Go's `runtime.SetCPUProfileRate` default.
const SAMPLES_PER_SECOND: i32 = 100;

pub async fn serve(addr: ListenAddress) -> anyhow::Result<SocketAddr> {
    server::spawn(addr, "profiling (/debug/pprof/)", answer).await
}

async fn answer(req: Request<Incoming>) -> Response<Full<Bytes>> {
    match req.uri().path() {
        "/debug/pprof/profile" => cpu_profile(req.uri().query()).await,
        "/debug/pprof/cmdline" => {
            let args: Vec<String> = std::env::args().collect();
            text(StatusCode::OK, args.join("\0"))
        }
        "/debug/pprof" | "/debug/pprof/" => text(
            StatusCode::OK,
            "/debug/pprof/profile?seconds=N  CPU profile (pprof protobuf; default 30 s)\n\
             /debug/pprof/cmdline            the command line\n",
        ),
        path if path.starts_with("/debug/pprof/") => text(
            StatusCode::NOT_FOUND,
            format!(
                "{path}: not available in the Rust controller; only the CPU profile (/debug/pprof/profile) is"
            ),
        ),
        _ => text(StatusCode::NOT_FOUND, "not found"),
    }
}

/// `seconds` from the query, as Go's handler reads it.
fn seconds(query: Option<&str>) -> Result<Duration, String> {
    let value = query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .find_map(|p| p.strip_prefix("seconds="));
    let seconds = match value {
        None => 30,
        Some(v) => v
            .parse::<u64>()
            .ok()
            .filter(|s| *s > 0)
            .ok_or_else(|| format!("invalid seconds {v:?}: use a whole number above 0"))?,
    };
    let duration = Duration::from_secs(seconds);
    if duration >= WRITE_TIMEOUT {
        return Err("profile duration exceeds server's WriteTimeout".to_owned());
    }
    Ok(duration)
}

async fn cpu_profile(query: Option<&str>) -> Response<Full<Bytes>> {
    let duration = match seconds(query) {
        Ok(d) => d,
        Err(e) => return text(StatusCode::BAD_REQUEST, e),
    };
    // Sampling is signal-driven and symbolizing is CPU work: both off the async threads.
    let profile = tokio::task::spawn_blocking(move || -> Result<Vec<u8>, String> {
        let guard = pprof::ProfilerGuardBuilder::default()
            .frequency(SAMPLES_PER_SECOND)
            // Unwinding through these from a signal handler can deadlock (pprof-rs' advice).
            .blocklist(&["libc", "libgcc", "pthread", "vdso"])
            .build()
            .map_err(|e| format!("Could not enable CPU profiling: {e}"))?;
        std::thread::sleep(duration);
        let report = guard.report().build().map_err(|e| e.to_string())?;
        let profile = report.pprof().map_err(|e| e.to_string())?;
        let mut bytes = Vec::new();
        profile.encode(&mut bytes).map_err(|e| e.to_string())?;
        Ok(bytes)
    })
    .await
    .map_err(|e| e.to_string())
    .and_then(|r| r);
    match profile {
        Ok(bytes) => Response::builder()
            .status(StatusCode::OK)
            .header("content-type", "application/octet-stream")
            .header("content-disposition", "attachment; filename=\"profile\"")
            .body(Full::new(Bytes::from(bytes)))
            .expect("static response parts are valid"),
        Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_as_go_reads_them() {
        assert_eq!(seconds(None), Ok(Duration::from_secs(30)));
        assert_eq!(
            seconds(Some("debug=1&seconds=2")),
            Ok(Duration::from_secs(2))
        );
        assert!(seconds(Some("seconds=0")).is_err());
        assert!(seconds(Some("seconds=x")).is_err());
        assert!(
            seconds(Some("seconds=300"))
                .unwrap_err()
                .contains("WriteTimeout")
        );
    }
}
