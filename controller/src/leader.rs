//! Leader election on a `coordination.k8s.io/v1` Lease, with client-go's semantics (kube-rs has
//! none): candidates try every retry period; a holder's lease expires `lease_duration` after the
//! last renewal *we observed* (local clock, so clock skew between replicas does not matter); the
//! leader renews every retry period, each attempt bounded by the time left until its renew
//! deadline, and stops leading once that deadline has passed without a renewal.
//!
//! The election runs on a thread of its own, with its own runtime and its own connection to the
//! API server: nothing the controllers do (a relist of thousands of objects decoded on the main
//! runtime, a backlog of throttled writes) can delay a renewal past its deadline.
//!
//! Losing the lease is final for the process, as in the Go original (controller-runtime exits on
//! "leader election lost"): the election calls its `on_lost` at once, on its own thread, and the
//! manager's `on_lost` fences the provider and exits, so that no provider call of this replica
//! reaches the cloud once another replica may lead. On shutdown the manager releases the lease
//! (a standby takes over at once) only when no provider call is still running.

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

/// Why leadership was lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loss {
    /// Another replica holds the lease.
    HeldByOther,
    /// The lease could not be renewed within the renew deadline (this long).
    RenewDeadline(Duration),
}

impl std::fmt::Display for Loss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Loss::HeldByOther => "another replica holds the lease",
            Loss::RenewDeadline(deadline) => {
                return write!(
                    f,
                    "the lease could not be renewed within the renew deadline ({deadline:?})"
                );
            }
        })
    }
}

/// What to do when leadership is lost (and to log it); called once, on the election's thread,
/// at once.
pub type OnLost = Box<dyn FnOnce(Loss) + Send>;

/// A running election. `leading` follows this replica's leadership; it closes when the
/// election ends (released, or it could not start).
pub struct LeaderElection {
    pub leading: watch::Receiver<bool>,
    release: Option<oneshot::Sender<()>>,
    ended: oneshot::Receiver<()>,
    pub identity: String,
}

impl LeaderElection {
    /// Campaigns for the lease on a thread of its own (`leader-election`), with a runtime and a
    /// client of its own: `connect` builds the client on that thread (a client's connection
    /// tasks run on the runtime that built it).
    pub fn start<C>(
        connect: C,
        settings: LeaderElectionSettings,
        identity: String,
        on_lost: OnLost,
    ) -> std::io::Result<Self>
    where
        C: FnOnce() -> Result<Client, String> + Send + 'static,
    {
        let (tx, rx) = watch::channel(false);
        let (release_tx, release_rx) = oneshot::channel();
        let (ended_tx, ended) = oneshot::channel();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let me = identity.clone();
        std::thread::Builder::new()
            .name("leader-election".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let client = match connect() {
                        Ok(client) => client,
                        Err(e) => {
                            tracing::error!("leader election: cannot build its client: {e}");
                            return;
                        }
                    };
                    let elector = Elector {
                        api: Api::namespaced(client, &settings.namespace),
                        settings,
                        identity: me,
                        observed: None,
                    };
                    elector.run(tx, release_rx, on_lost).await;
                });
                let _ = ended_tx.send(());
            })?;
        Ok(LeaderElection {
            leading: rx,
            release: Some(release_tx),
            ended,
            identity,
        })
    }

    /// Stops campaigning and, if leading, releases the lease (call it only once no provider
    /// call can reach the cloud any more).
    pub async fn release(mut self) {
        if let Some(tx) = self.release.take() {
            let _ = tx.send(());
        }
        let _ = tokio::time::timeout(Duration::from_secs(10), &mut self.ended).await;
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
    async fn run(
        mut self,
        leading: watch::Sender<bool>,
        mut release: oneshot::Receiver<()>,
        on_lost: OnLost,
    ) {
        let retry = self.settings.retry_period;
        let renew_deadline = self.settings.renew_deadline;
        let mut on_lost = Some(on_lost);
        // Leading since the renewal that started at `last_renew`, until `last_renew +
        // renew_deadline` unless renewed again.
        let mut last_renew: Option<Instant> = None;
        loop {
            let started = Instant::now();
            // A candidate's attempt is bounded by the retry period (at least a second); a
            // leader's by the time left until its renew deadline.
            let budget = match last_renew {
                Some(at) => (at + renew_deadline).saturating_duration_since(started),
                None => retry.max(Duration::from_secs(1)),
            };
            let outcome = match tokio::time::timeout(budget, self.try_acquire_or_renew()).await {
                Ok(Ok(outcome)) => outcome,
                Ok(Err(e)) => {
                    tracing::warn!(lease = %self.settings.name, error = %e, "leader election: cannot read or write the lease");
                    Attempt::Failed
                }
                Err(_) => {
                    tracing::warn!(lease = %self.settings.name, "leader election: the API server did not answer within {budget:?}");
                    Attempt::Failed
                }
            };
            let loss = match (outcome, last_renew) {
                (Attempt::Held, previous) => {
                    // The lease says renewed at about `started` or later: counting from
                    // `started` keeps our deadline before any other replica's expiry.
                    last_renew = Some(started);
                    if previous.is_none() {
                        tracing::info!(identity = %self.identity, lease = %self.settings.name, "became the leader");
                        let _ = leading.send(true);
                    }
                    None
                }
                (Attempt::HeldByOther, Some(_)) => Some(Loss::HeldByOther),
                (_, Some(at)) if Instant::now() >= at + renew_deadline => {
                    Some(Loss::RenewDeadline(renew_deadline))
                }
                _ => None,
            };
            if let Some(loss) = loss {
                // `on_lost` first: it says why (the manager's logs and exits at once), before
                // anyone watching `leading` can see the end and act on it without the reason.
                if let Some(on_lost) = on_lost.take() {
                    on_lost(loss);
                }
                let _ = leading.send(false);
                return;
            }
            // Candidates jitter their retries (client-go's factor 1.2) so they do not collide; a
            // leader never sleeps past its deadline (checked before sleeping).
            let pause = match last_renew {
                Some(at) => {
                    retry.min((at + renew_deadline).saturating_duration_since(Instant::now()))
                }
                None => jitter(retry),
            };
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                asked = &mut release => {
                    // A dropped handle (the manager ends with an error: a provider call may
                    // still run) stops campaigning without releasing; only `release()` releases.
                    if asked.is_ok() && last_renew.is_some() {
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
