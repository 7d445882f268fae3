//! Talking to a control plane's etcd directly (its gRPC gateway, plain HTTP on loopback), for
//! what the Kubernetes API cannot do: compact the history, to make watches lose their place.

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::control_plane::ControlPlane;
use crate::error::{Error, Result};

impl ControlPlane {
    /// Compacts etcd's history up to its current revision (what kube-apiserver's periodic
    /// `--etcd-compaction-interval` does, now) and returns that revision. A watch resumed from
    /// an older resourceVersion then gets `410 Gone` and its client must list again, provided
    /// the watch is served from etcd: start the control plane with
    /// `extra_apiserver_args: vec!["--watch-cache=false".into()]` (the watch cache keeps its
    /// own recent history).
    pub async fn compact_etcd(&self) -> Result<i64> {
        let status = etcd_post(self.etcd_url(), "/v3/maintenance/status", "{}").await?;
        let revision: i64 = status["header"]["revision"]
            .as_str()
            .and_then(|r| r.parse().ok())
            .ok_or_else(|| failed(format!("no revision in etcd's status: {status}")))?;
        let body = serde_json::json!({"revision": revision.to_string(), "physical": true});
        let answer = etcd_post(self.etcd_url(), "/v3/kv/compaction", &body.to_string()).await?;
        // Compacting to a revision compacted already is no failure.
        match answer["message"].as_str() {
            Some(message) if !message.contains("has been compacted") => {
                Err(failed(format!("etcd refused: {message}")))
            }
            _ => Ok(revision),
        }
    }
}

fn failed(detail: String) -> Error {
    Error::io("compacting etcd")(std::io::Error::other(detail))
}

/// POSTs `body` (JSON) to `path` of the etcd at `url` (`http://host:port`); the JSON answer.
async fn etcd_post(url: &str, path: &str, body: &str) -> Result<serde_json::Value> {
    let address = url.trim_start_matches("http://");
    let context = || format!("POST {url}{path}");
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .map_err(Error::io(context()))?;
    // HTTP/1.0: the answer is not chunked and ends when the connection closes.
    let request = format!(
        "POST {path} HTTP/1.0\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(Error::io(context()))?;
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .await
        .map_err(Error::io(context()))?;
    let response = String::from_utf8_lossy(&response);
    let json = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body)
        .unwrap_or_default();
    serde_json::from_str(json).map_err(|e| failed(format!("{}: {e}: {response}", context())))
}
