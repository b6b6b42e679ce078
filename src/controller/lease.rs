//! Leader election with a `coordination.k8s.io/v1` Lease, as client-go's leaderelection does it: the holder renews
//! the lease every few seconds; another replica takes it over only when it has watched the same record stay
//! unchanged for a whole lease duration (measured on its own clock, so clock skew between nodes does not matter).
//! Losing the lease is announced at once on a watch channel, and the reconcile in flight is dropped.

use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::api::{Api, ObjectMeta, PostParams};
use tokio::sync::watch;

use crate::cluster::{describe, status_code};

/// Which Lease to contend for and with what timing, as client-go's `LeaderElectionConfig` in short.
#[derive(Debug, Clone)]
pub struct LeaseConfig {
    /// The Lease's namespace (the controller's own).
    pub namespace: String,
    /// The Lease's name (`--lease-name`, `tollgate-leader` by default).
    pub name: String,
    /// This replica's name in `holderIdentity` (the pod name in a cluster).
    pub identity: String,
    /// How long a lease is valid without renewal; a successor waits this long after the last change it saw.
    pub duration: Duration,
    /// How often the holder renews and the others look.
    pub retry: Duration,
}

/// Whether this replica leads, as seen by the election task.
#[derive(Clone)]
pub struct Leadership {
    rx: watch::Receiver<bool>,
}

impl Leadership {
    /// Whether this replica leads now, by the election task's latest round.
    pub fn is_leader(&self) -> bool {
        *self.rx.borrow()
    }

    /// Resolves when this replica is not (or no longer) the leader.
    pub async fn lost(&mut self) {
        let _ = self.rx.wait_for(|leader| !leader).await;
    }

    /// Resolves when this replica becomes the leader.
    pub async fn acquired(&mut self) {
        let _ = self.rx.wait_for(|leader| *leader).await;
    }

    /// A leadership that always leads (a single replica with election turned off).
    pub fn always() -> Leadership {
        let (tx, rx) = watch::channel(true);
        // Keep the sender alive so the receiver never reports a closed channel.
        std::mem::forget(tx);
        Leadership { rx }
    }
}

/// The election loop's handle: stop it to release the lease for a quick hand-over.
pub struct Election {
    /// What the loop watches: starts as not leading and follows every round.
    pub leadership: Leadership,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Election {
    /// Spawns the election task: every `config.retry` it acquires or renews the Lease; when renewals fail for 2/3 of
    /// `config.duration` it stops leading, as client-go's renew deadline (10 s of a 15 s lease) does.
    pub fn start(client: kube::Client, config: LeaseConfig) -> Election {
        let (tx, rx) = watch::channel(false);
        let (stop, mut stopped) = watch::channel(false);
        let task = tokio::spawn(async move {
            let api: Api<Lease> = Api::namespaced(client, &config.namespace);
            let mut observed: Option<(String, Instant)> = None;
            let mut renewed_at: Option<Instant> = None;
            loop {
                match try_acquire_or_renew(&api, &config, &mut observed).await {
                    Ok(true) => {
                        renewed_at = Some(Instant::now());
                        if !*tx.borrow() {
                            tracing::info!(identity = %config.identity, lease = %config.name, "acquired the lease");
                        }
                        tx.send_replace(true);
                    }
                    Ok(false) => {
                        if *tx.borrow() {
                            tracing::warn!(identity = %config.identity, "lost the lease to another replica");
                        }
                        tx.send_replace(false);
                    }
                    Err(reason) => {
                        tracing::warn!(%reason, "cannot renew the lease");
                        // Leading without a renewal for a lease duration means another replica may lead now.
                        if renewed_at.is_none_or(|at| at.elapsed() >= config.duration * 2 / 3) {
                            tx.send_replace(false);
                        }
                    }
                }
                tokio::select! {
                    _ = tokio::time::sleep(config.retry) => {}
                    _ = stopped.wait_for(|stop| *stop) => break,
                }
            }
            if *tx.borrow() {
                tx.send_replace(false);
                release(&api, &config).await;
            }
        });
        Election {
            leadership: Leadership { rx },
            stop,
            task,
        }
    }

    /// Stops electing and, if leading, releases the lease so that another replica takes over at once.
    pub async fn stop(self) {
        self.stop.send_replace(true);
        let _ = self.task.await;
    }
}

fn now() -> MicroTime {
    MicroTime(jiff::Timestamp::now())
}

/// One round of the election. `observed` is the last (record, when it was first seen) of someone else's lease.
async fn try_acquire_or_renew(
    api: &Api<Lease>,
    config: &LeaseConfig,
    observed: &mut Option<(String, Instant)>,
) -> Result<bool, String> {
    let seconds = i32::try_from(config.duration.as_secs()).unwrap_or(i32::MAX);
    let existing = api.get_opt(&config.name).await.map_err(|e| describe(&e))?;
    let Some(mut lease) = existing else {
        let lease = Lease {
            metadata: ObjectMeta {
                name: Some(config.name.clone()),
                namespace: Some(config.namespace.clone()),
                ..ObjectMeta::default()
            },
            spec: Some(LeaseSpec {
                holder_identity: Some(config.identity.clone()),
                lease_duration_seconds: Some(seconds),
                acquire_time: Some(now()),
                renew_time: Some(now()),
                lease_transitions: Some(0),
                ..LeaseSpec::default()
            }),
        };
        return match api.create(&PostParams::default(), &lease).await {
            Ok(_) => Ok(true),
            Err(e) if status_code(&e) == Some(409) => Ok(false),
            Err(e) => Err(describe(&e)),
        };
    };
    let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
    let holder = spec.holder_identity.clone().unwrap_or_default();
    if holder != config.identity && !holder.is_empty() {
        // Someone else's: take it only once their record has not changed for a whole lease duration.
        let record = format!(
            "{holder}/{:?}/{:?}",
            spec.renew_time.as_ref().map(|t| t.0),
            spec.lease_transitions
        );
        let duration = spec.lease_duration_seconds.map_or(config.duration, |s| {
            Duration::from_secs(u64::try_from(s).unwrap_or(0))
        });
        match observed {
            Some((seen, since)) if *seen == record => {
                if since.elapsed() < duration {
                    return Ok(false);
                }
            }
            _ => {
                *observed = Some((record, Instant::now()));
                return Ok(false);
            }
        }
        spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
        spec.acquire_time = Some(now());
    } else if holder.is_empty() {
        spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
        spec.acquire_time = Some(now());
    }
    spec.holder_identity = Some(config.identity.clone());
    spec.lease_duration_seconds = Some(seconds);
    spec.renew_time = Some(now());
    // A replace carries the resourceVersion that was read: two replicas cannot both win.
    match api
        .replace(&config.name, &PostParams::default(), &lease)
        .await
    {
        Ok(_) => {
            *observed = None;
            Ok(true)
        }
        Err(e) if status_code(&e) == Some(409) => Ok(false),
        Err(e) => Err(describe(&e)),
    }
}

async fn release(api: &Api<Lease>, config: &LeaseConfig) {
    let Ok(Some(mut lease)) = api.get_opt(&config.name).await else {
        return;
    };
    let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
    if spec.holder_identity.as_deref() != Some(config.identity.as_str()) {
        return;
    }
    spec.holder_identity = None;
    spec.lease_duration_seconds = Some(1);
    spec.renew_time = Some(now());
    match api
        .replace(&config.name, &PostParams::default(), &lease)
        .await
    {
        Ok(_) => tracing::info!(identity = %config.identity, "released the lease"),
        Err(e) => tracing::warn!(reason = %describe(&e), "cannot release the lease"),
    }
}
