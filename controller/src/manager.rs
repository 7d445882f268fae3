//! The controller manager: load the provider, connect, serve health and metrics, warm the caches,
//! elect a leader, run the controllers while leading, and shut down cleanly on SIGTERM/SIGINT.

use std::sync::{Arc, OnceLock};

use anyhow::Context as _;
use futures::FutureExt;
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::Api;
use tokio::sync::watch;

use crate::context::{Caches, Context};
use crate::controllers::{self, Shutdown};
use crate::events::{EventType, Recorder};
use crate::leader::{self, LeaderElection};
use crate::metrics::Metrics;
use crate::server::{self, Health};
use crate::settings::{LEASE_NAME, LeaderElectionSettings, Settings};
use crate::supervisor::Drivers;

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
    run_observed(settings, stop, |_| ()).await
}

/// [`run_until`], handing the caches to `observe` once they are started (before they sync) and
/// keeping what it returns until the manager returns. For tests: a listener subscribed there
/// runs on a cache's watch task, so one that panics kills the task as a bug would.
#[doc(hidden)]
pub async fn run_observed<T>(
    settings: Settings,
    stop: impl std::future::Future<Output = ()>,
    observe: impl FnOnce(&Caches) -> T,
) -> anyhow::Result<()> {
    let settings = Arc::new(settings);
    let metrics = Arc::new(Metrics::new());
    tracing::info!(version = %crate::version_line(), "starting");

    // 1. The provider: everything that can be checked locally fails before we connect.
    let provider = crate::provider::load_provider(
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
    let client = crate::client::build(config.clone(), settings.api_rate_limit, metrics.clone())?;
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
    let (caches, mut drivers) = Caches::start(
        &client,
        &controllers::cache_kinds(&settings.controllers),
        &metrics,
        &events,
    );
    let _observer = observe(&caches);
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

    // 5. Leadership, on a thread and a connection of its own, campaigning while the caches
    // sync (as controller-runtime's manager does; the controllers start once both are done).
    // Losing the lease ends the process at once (see `leader`): the provider is fenced first,
    // so no call of this replica reaches the cloud once another may lead.
    let election = match settings.leader_election.clone() {
        Some(le) => {
            let (limit, metrics) = (settings.api_rate_limit, metrics.clone());
            let connect =
                move || crate::client::build(config, limit, metrics).map_err(|e| format!("{e:#}"));
            let provider = ctx.provider.clone();
            let on_lost: leader::OnLost = Box::new(move |loss| {
                provider.fence();
                tracing::error!(
                    calls_in_provider = provider.calls_in_provider(),
                    "lost leadership ({loss}): exiting now, so that no provider call of this replica reaches the cloud once another replica leads (the Deployment restarts it as a standby)"
                );
                std::process::exit(1);
            });
            let election = LeaderElection::start(connect, le, identity.clone(), on_lost)
                .context("cannot start the leader election's thread")?;
            tracing::info!(identity = %election.identity, "waiting to become the leader");
            Some(election)
        }
        None => None,
    };
    // Without election this replica always leads; the sender lives as long as this function
    // (a closed channel reads as "the election ended").
    let (_always_leading, always_leading) = watch::channel(true);
    let mut leading = match &election {
        Some(e) => e.leading.clone(),
        None => always_leading,
    };
    let mut stop = std::pin::pin!(stop.fuse());
    tokio::select! {
        _ = caches.ready() => tracing::info!("caches synced"),
        _ = &mut stop => {
            tracing::info!("stopping before the caches synced");
            return finish(election, drivers, Ok(())).await;
        }
        // From here on, a cache whose watch task ended fails the probes and ends the process
        // (`supervisor`), whether this replica leads or not.
        stopped = drivers.stopped(&health) => {
            return finish(election, drivers, Err(stopped.into())).await;
        }
    }
    server::set_ready(&health, true);

    // Standby: wait to lead (or to stop).
    tokio::select! {
        r = leading.wait_for(|l| *l) => {
            if r.is_err() {
                anyhow::bail!("the leader election ended before this replica led (see the error above)");
            }
        }
        _ = &mut stop => {
            tracing::info!("stopping (not leading)");
            return finish(election, drivers, Ok(())).await;
        }
        stopped = drivers.stopped(&health) => {
            return finish(election, drivers, Err(stopped.into())).await;
        }
    }
    metrics.set_leader(true);
    if let Some(le) = &settings.leader_election {
        metrics.set_lease_held(LEASE_NAME, true);
        announce_leadership(&ctx, le, &identity).await;
    }
    server::set_ready(&health, false);
    let (stop_tx, stop_rx) = watch::channel(false);
    let running = controllers::start_enabled(&ctx, &signal(stop_rx));
    let names: Vec<&str> = running.iter().map(|(n, _)| *n).collect();
    tracing::info!(controllers = ?names, "leading: controllers started");
    let mut all = std::pin::pin!(futures::future::join_all(
        running.into_iter().map(|(_, f)| f)
    ));
    server::set_ready(&health, true);

    let result = tokio::select! {
        _ = &mut all => Err(anyhow::anyhow!("all controllers stopped on their own")),
        // Lost leadership is handled on the election's thread (the process exits); a closed
        // channel means the election ended some other way.
        _ = leading.wait_for(|l| !*l) => Err(anyhow::anyhow!("the leader election ended while leading")),
        _ = &mut stop => {
            let _ = stop_tx.send(true);
            shut_down(&ctx.provider, settings.shutdown_grace_period, all).await
        }
        // As controllers that ended: the reconciles would read a frozen cache.
        stopped = drivers.stopped(&health) => Err(stopped.into()),
    };
    ctx.provider.fence();
    metrics.set_leader(false);
    if election.is_some() {
        metrics.set_lease_held(LEASE_NAME, false);
    }
    server::set_ready(&health, false);
    finish(election, drivers, result).await
}

/// Shutdown while leading: no new reconciles; in-flight reconciles and the provider calls
/// still running (those that outlived their timeout included) get until `grace` to finish.
/// `Ok` when nothing can reach the cloud any more, so the lease may be released.
async fn shut_down(
    provider: &mcp_loader::Provider,
    grace: std::time::Duration,
    reconciles: impl std::future::Future<Output = Vec<()>>,
) -> anyhow::Result<()> {
    tracing::info!(grace = ?grace, "shutting down: taking no new work; waiting for in-flight reconciles and provider calls");
    let deadline = tokio::time::Instant::now() + grace;
    if tokio::time::timeout_at(deadline, reconciles).await.is_err() {
        tracing::warn!(
            "in-flight reconciles did not finish within the grace period; stopping them"
        );
    }
    // No call starts from here on; the ones inside the provider get what is left of the grace.
    provider.fence();
    if tokio::time::timeout_at(deadline, provider.drained())
        .await
        .is_err()
    {
        anyhow::bail!(
            "{} provider call(s) still running after the shutdown grace period ({grace:?}); exiting without releasing the leader lease, so that the standby takes over only once it expires (--shutdown-grace-period sets the wait)",
            provider.calls_in_provider()
        );
    }
    Ok(())
}

/// Releases the lease (only when `result` says nothing can reach the cloud any more) and
/// stops the caches.
async fn finish(
    election: Option<LeaderElection>,
    drivers: Drivers,
    result: anyhow::Result<()>,
) -> anyhow::Result<()> {
    if let Some(election) = election
        && result.is_ok()
    {
        election.release().await;
    }
    drop(drivers); // aborts the watches
    match &result {
        Ok(()) => tracing::info!("stopped"),
        Err(_) => tracing::info!("stopped without releasing the leader lease"),
    }
    result
}
