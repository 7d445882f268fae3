//! Leader election on a `coordination.k8s.io/v1` Lease, with client-go's semantics (kube-rs has
//! none): candidates try every retry period; a holder's lease expires `lease_duration` after the
//! last renewal *we observed* (local clock, so clock skew between replicas does not matter); the
//! leader renews every retry period and gives up leading when it cannot renew within the renew
//! deadline; on shutdown it releases the lease so a standby takes over at once.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::Client;
use kube::api::{Api, PostParams};
use tokio::sync::{oneshot, watch};
use tokio::time::Instant;

use crate::error::is_conflict;
use crate::settings::LeaderElectionSettings;

/// A running election. `leading` follows this replica's leadership.
pub struct LeaderElection {
    pub leading: watch::Receiver<bool>,
    release: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
    pub identity: String,
}

impl LeaderElection {
    pub fn start(client: Client, settings: LeaderElectionSettings, identity: String) -> Self {
        let (tx, rx) = watch::channel(false);
        let (release_tx, release_rx) = oneshot::channel();
        let elector = Elector {
            api: Api::namespaced(client, &settings.namespace),
            settings,
            identity: identity.clone(),
            observed: None,
        };
        let task = tokio::spawn(elector.run(tx, release_rx));
        LeaderElection {
            leading: rx,
            release: Some(release_tx),
            task,
            identity,
        }
    }

    /// Stops campaigning and, if leading, releases the lease.
    pub async fn release(mut self) {
        if let Some(tx) = self.release.take() {
            let _ = tx.send(());
        }
        let _ = tokio::time::timeout(Duration::from_secs(10), &mut self.task).await;
    }
}

/// A unique identity for this process: host name, pid and a random-enough suffix (client-go
/// uses `hostname_uuid`).
pub fn identity() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned());
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!("{host}_{}_{nanos:08x}", std::process::id())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Attempt {
    /// This replica holds the lease (acquired or renewed).
    Held,
    /// Another replica holds an unexpired lease.
    HeldByOther,
    /// The API call failed or lost a race; try again.
    Failed,
}

struct Observed {
    holder: Option<String>,
    renew_time: Option<Timestamp>,
    at: Instant,
}

struct Elector {
    api: Api<Lease>,
    settings: LeaderElectionSettings,
    identity: String,
    observed: Option<Observed>,
}

fn now_micro() -> MicroTime {
    MicroTime(Timestamp::now())
}

impl Elector {
    async fn run(mut self, leading: watch::Sender<bool>, mut release: oneshot::Receiver<()>) {
        let retry = self.settings.retry_period;
        let mut is_leader = false;
        let mut last_renew = Instant::now();
        loop {
            let attempt = tokio::time::timeout(
                retry.max(Duration::from_secs(1)),
                self.try_acquire_or_renew(),
            )
            .await;
            let outcome = match attempt {
                Ok(Ok(outcome)) => outcome,
                Ok(Err(e)) => {
                    tracing::warn!(lease = %self.settings.name, error = %e, "leader election: cannot read or write the lease");
                    Attempt::Failed
                }
                Err(_) => Attempt::Failed,
            };
            if outcome == Attempt::Held {
                last_renew = Instant::now();
                if !is_leader {
                    is_leader = true;
                    tracing::info!(identity = %self.identity, lease = %self.settings.name, "became the leader");
                    let _ = leading.send(true);
                }
            } else if is_leader
                && (outcome == Attempt::HeldByOther
                    || last_renew.elapsed() >= self.settings.renew_deadline)
            {
                is_leader = false;
                if outcome == Attempt::HeldByOther {
                    tracing::error!(identity = %self.identity, "lost leadership: another replica holds the lease");
                } else {
                    tracing::error!(
                        identity = %self.identity,
                        "lost leadership: the lease could not be renewed within the renew deadline ({:?})",
                        self.settings.renew_deadline
                    );
                }
                let _ = leading.send(false);
            }
            // Candidates jitter their retries (client-go's factor 1.2) so they do not collide.
            let pause = if is_leader { retry } else { jitter(retry) };
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = &mut release => {
                    if is_leader {
                        let _ = leading.send(false);
                        match self.release().await {
                            Ok(()) => tracing::info!(identity = %self.identity, "released the leader lease"),
                            Err(e) => tracing::warn!(error = %e, "could not release the leader lease; it expires on its own"),
                        }
                    }
                    return;
                }
            }
        }
    }

    /// One client-go `tryAcquireOrRenew`.
    async fn try_acquire_or_renew(&mut self) -> Result<Attempt, kube::Error> {
        let duration_secs =
            i32::try_from(self.settings.lease_duration.as_secs()).unwrap_or(i32::MAX);
        let Some(mut lease) = self.api.get_opt(&self.settings.name).await? else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.settings.name.clone()),
                    namespace: Some(self.settings.namespace.clone()),
                    ..Default::default()
                },
                spec: Some(LeaseSpec {
                    holder_identity: Some(self.identity.clone()),
                    lease_duration_seconds: Some(duration_secs),
                    acquire_time: Some(now_micro()),
                    renew_time: Some(now_micro()),
                    lease_transitions: Some(0),
                    ..Default::default()
                }),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(Attempt::Held),
                Err(e) if is_conflict(&e) => Ok(Attempt::Failed),
                Err(e) => Err(e),
            };
        };
        let spec = lease.spec.clone().unwrap_or_default();
        let holder = spec.holder_identity.clone().filter(|h| !h.is_empty());
        let renew_time = spec.renew_time.as_ref().map(|t| t.0);
        let changed = match &self.observed {
            Some(o) => o.holder != holder || o.renew_time != renew_time,
            None => true,
        };
        if changed {
            self.observed = Some(Observed {
                holder: holder.clone(),
                renew_time,
                at: Instant::now(),
            });
        }
        let held_by_me = holder.as_deref() == Some(self.identity.as_str());
        if let Some(other) = &holder
            && !held_by_me
        {
            let their_duration = spec
                .lease_duration_seconds
                .and_then(|s| u64::try_from(s).ok())
                .map(Duration::from_secs)
                .unwrap_or(self.settings.lease_duration);
            let observed_at = self.observed.as_ref().map_or_else(Instant::now, |o| o.at);
            if observed_at.elapsed() < their_duration {
                tracing::debug!(holder = %other, "the lease is held by another replica");
                return Ok(Attempt::HeldByOther);
            }
        }
        let transitions = spec.lease_transitions.unwrap_or(0);
        lease.spec = Some(LeaseSpec {
            holder_identity: Some(self.identity.clone()),
            lease_duration_seconds: Some(duration_secs),
            acquire_time: if held_by_me {
                spec.acquire_time.clone()
            } else {
                Some(now_micro())
            },
            renew_time: Some(now_micro()),
            lease_transitions: Some(if held_by_me {
                transitions
            } else {
                transitions + 1
            }),
            ..spec
        });
        match self
            .api
            .replace(&self.settings.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => Ok(Attempt::Held),
            Err(e) if is_conflict(&e) => Ok(Attempt::Failed),
            Err(e) => Err(e),
        }
    }

    /// Gives the lease up (client-go `ReleaseOnCancel`): empty holder, one-second duration.
    async fn release(&self) -> Result<(), kube::Error> {
        let Some(mut lease) = self.api.get_opt(&self.settings.name).await? else {
            return Ok(());
        };
        let spec = lease.spec.clone().unwrap_or_default();
        if spec.holder_identity.as_deref() != Some(self.identity.as_str()) {
            return Ok(());
        }
        lease.spec = Some(LeaseSpec {
            holder_identity: None,
            lease_duration_seconds: Some(1),
            renew_time: Some(now_micro()),
            acquire_time: Some(now_micro()),
            ..spec
        });
        self.api
            .replace(&self.settings.name, &PostParams::default(), &lease)
            .await
            .map(|_| ())
    }
}

fn jitter(d: Duration) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    let factor = 1.0 + 0.2 * (f64::from(nanos % 1000) / 1000.0);
    d.mul_f64(factor)
}
