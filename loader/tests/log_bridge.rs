//! Provider `tracing` events reach the host's subscriber, with the host's format, filter and
//! span context. Its own test binary: it installs a global subscriber.

#![forbid(unsafe_code)]

pub mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use mcp_interface::api::networking::MultiClusterIngress;
use mcp_loader::SearchPath;
use tracing::Instrument;

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn provider_events_reach_the_host_subscriber_with_its_filter_and_spans() {
    let buffer = Buffer::default();
    let writer = buffer.clone();
    tracing_subscriber::fmt()
        .with_env_filter("info")
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();

    let search = SearchPath::only(&[common::fake_dir().to_owned()]);
    // The fault makes the fake log a debug event ("injecting fault") before failing.
    let p = mcp_loader::load(
        "fake",
        &search,
        Some(
            b"faults: [{method: mci_update, object: shop/cart, action: fail, message: throttled}]",
        ),
    )
    .unwrap();
    let mci = MultiClusterIngress {
        metadata: ObjectMeta {
            name: Some("cart".into()),
            namespace: Some("shop".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    let span = tracing::info_span!("reconcile", namespace = "shop", name = "cart");
    async {
        p.ensure(&mci).await.unwrap();
        p.update(&mci).await.unwrap_err();
    }
    .instrument(span)
    .await;

    let out = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = out.lines().collect();
    // The factory's info event, in the host's format under the `provider` target.
    assert!(
        lines
            .iter()
            .any(|l| l.contains(" INFO provider: fake provider ready state=memory faults=1")),
        "{out}"
    );
    // The call's event carries the host's span (namespace/name) across the blocking thread;
    // warnings pass the host's info filter.
    let failed = lines
        .iter()
        .find(|l| l.contains(" WARN ") && l.contains("fake provider call failed"))
        .unwrap_or_else(|| panic!("no failed call in:\n{out}"));
    assert!(
        failed.contains("reconcile{namespace=\"shop\" name=\"cart\"}"),
        "{failed}"
    );
    assert!(
        failed.contains("provider=fake")
            && failed.contains("mci_update")
            && failed.contains("throttled"),
        "{failed}"
    );
    // The provider's debug events (the successful ensure, the injected fault) do not.
    assert!(
        !out.contains("injecting fault") && !out.contains("mci_ensure"),
        "debug events are filtered by the host: {out}"
    );
}
