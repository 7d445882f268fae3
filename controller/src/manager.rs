//! The controller manager: load the provider, connect, serve health and metrics, warm the caches,
//! elect a leader, run the controllers while leading, and shut down cleanly on SIGTERM/SIGINT.

use std::sync::{Arc, OnceLock};

use anyhow::Context as _;
use futures::FutureExt;
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::Api;
use tokio::sync::watch;

use crate::context::{Caches, Context};
use crate::controllers::events::{EventType, Recorder};
use crate::controllers::{self, Shutdown};
use crate::leader::{self, LeaderElection};
use crate::metrics::Metrics;
use crate::server::{self, Health};
use crate::settings::{LEASE_NAME, LeaderElectionSettings, Settings};

fn signal(rx: watch::Receiver<bool>) -> Shutdown {
    async move {
        let mut rx = rx;
        let _ = rx.wait_for(|stop| *stop).await;
    }
    .boxed()
    .shared()
}

/// Resolves on SIGTERM or SIGINT.
async fn termination() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

/// As client-go's leader election does: a Normal `LeaderElection` event on the Lease from this
/// replica, `<identity> became leader` (`kubectl get events -n karmada-system`).
async fn announce_leadership(ctx: &Context, le: &LeaderElectionSettings, identity: &str) {
    let api: Api<Lease> = Api::namespaced(ctx.client.clone(), &le.namespace);
    match api.get(&le.name).await {
        Ok(lease) => {
            // The reporting component is this replica, for the life of the process.
            static COMPONENT: OnceLock<&'static str> = OnceLock::new();
            let component = *COMPONENT.get_or_init(|| Box::leak(identity.into()));
            ctx.events.record(
                component,
                &lease,
                EventType::Normal,
                "LeaderElection",
                &format!("{identity} became leader"),
            );
        }
        Err(e) => tracing::debug!("cannot read the Lease to record the leadership event: {e}"),
    }
}

/// Runs the controller manager until SIGTERM/SIGINT.
pub async fn run(settings: Settings) -> anyhow::Result<()> {
    run_until(settings, termination()).await
}

/// Runs the controller manager until `stop` resolves.
pub async fn run_until(
    settings: Settings,
    stop: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    let settings = Arc::new(settings);
    let metrics = Arc::new(Metrics::new());
    tracing::info!(version = %crate::version_line(), "starting");

    // 1. The provider: everything that can be checked locally fails before we connect.
    let provider = crate::inspect::load_provider(
        &settings.cloud_provider,
        &settings.provider_dirs,
        settings.cloud_config.as_deref(),
        settings.allow_insecure_provider_permissions,
    )?
    .with_call_timeout(settings.provider_call_timeout)
    .with_observer(metrics.provider_observer());
    let info = provider.info();
    tracing::info!(
        provider = %info.name,
        library = %info.path.display(),
        provider_version = %info.provider_version,
        interface = %info.interface_version,
        "loaded the cloud provider"
    );
    controllers::check_capabilities(&settings.controllers, &provider)
        .map_err(anyhow::Error::msg)?;

    // Profiling first, as Karmada's profileflag: a slow start-up can be profiled too.
    if let Some(addr) = settings.profiling_address {
        crate::profiling::serve(addr).await?;
    }

    // 2. The Karmada API server.
    let config = crate::client::load_config(settings.kubeconfig.as_deref()).await?;
    let server_url = config.cluster_url.to_string();
    let client = crate::client::build(config, settings.api_rate_limit, metrics.clone())?;
    let version = client
        .apiserver_version()
        .await
        .with_context(|| format!("cannot reach the Karmada API server at {server_url}"))?;
    tracing::info!(server = %server_url, version = %version.git_version, "connected to the Karmada API server");

    // 3. Probes and metrics (bind errors fail start-up).
    let health = Arc::new(Health::default());
    if let Some(addr) = settings.health_address {
        server::serve_health(addr, health.clone()).await?;
    }
    if let Some(addr) = settings.metrics_address {
        server::serve_metrics(addr, metrics.clone()).await?;
    }

    // 4. Caches, on every replica. One Event writer for the caches and the controllers.
    let events = Recorder::new(client.clone());
    let (caches, drivers) = Caches::start(
        &client,
        &controllers::cache_kinds(&settings.controllers),
        &metrics,
        &events,
    );
    let caches = Arc::new(caches);
    let identity = leader::identity();
    let ctx = Arc::new(Context::new(
        client.clone(),
        provider,
        settings.clone(),
        caches.clone(),
        metrics.clone(),
        events,
    ));

    let mut stop = std::pin::pin!(stop.fuse());
    tokio::select! {
        _ = caches.ready() => tracing::info!("caches synced"),
        _ = &mut stop => {
            tracing::info!("stopping before the caches synced");
            return Ok(());
        }
    }

    // 5. Leadership.
    let election = settings
        .leader_election
        .clone()
        .map(|le| LeaderElection::start(client.clone(), le, identity.clone()));
    // Without election this replica always leads; the sender lives as long as the loop below
    // (a closed channel would read as "lost leadership").
    let (_always_leading, always_leading) = watch::channel(true);
    let mut leading = match &election {
        Some(e) => {
            tracing::info!(identity = %e.identity, "waiting to become the leader");
            e.leading.clone()
        }
        None => always_leading,
    };
    server::set_ready(&health, true);

    let (stop_tx, stop_rx) = watch::channel(false);
    let shutdown = signal(stop_rx);
    let mut stopping = false;
    while !stopping {
        // Standby: wait to lead (or to stop).
        tokio::select! {
            r = leading.wait_for(|l| *l) => {
                if r.is_err() {
                    // The election task ended without leadership: nothing more to do.
                    break;
                }
            }
            _ = &mut stop => break,
        }
        metrics.set_leader(true);
        if let Some(le) = &settings.leader_election {
            metrics.set_lease_held(LEASE_NAME, true);
            announce_leadership(&ctx, le, &identity).await;
        }
        server::set_ready(&health, false);
        let running = controllers::start_enabled(&ctx, &shutdown);
        let names: Vec<&str> = running.iter().map(|(n, _)| *n).collect();
        tracing::info!(controllers = ?names, "leading: controllers started");
        let mut all = std::pin::pin!(futures::future::join_all(
            running.into_iter().map(|(_, f)| f)
        ));
        server::set_ready(&health, true);

        tokio::select! {
            _ = &mut all => {
                tracing::warn!("all controllers stopped on their own");
                stopping = true;
            }
            r = leading.wait_for(|l| !*l) => {
                // Lost the lease: dropping `all` stops every controller at once (in-flight
                // provider calls finish on their threads, their results are discarded).
                if r.is_err() {
                    tracing::error!("leader election stopped: controllers stopped");
                    stopping = true;
                } else {
                    tracing::error!("lost leadership: controllers stopped; waiting to lead again");
                }
            }
            _ = &mut stop => {
                stopping = true;
                tracing::info!(grace = ?settings.shutdown_grace_period, "shutting down: finishing in-flight reconciles");
                let _ = stop_tx.send(true);
                if tokio::time::timeout(settings.shutdown_grace_period, &mut all).await.is_err() {
                    tracing::warn!("in-flight reconciles did not finish within the grace period; stopping them");
                }
            }
        }
        metrics.set_leader(false);
        if election.is_some() {
            metrics.set_lease_held(LEASE_NAME, false);
        }
    }

    server::set_ready(&health, false);
    if let Some(election) = election {
        election.release().await;
    }
    for driver in drivers {
        driver.abort();
    }
    tracing::info!("stopped");
    Ok(())
}
