//! Leader election between replicas through a `coordination.k8s.io` Lease.
//!
//! Every replica serves the console, the registry API and the gateway; only the one holding
//! the Lease runs the work that must happen once per fleet: reconciling, the periodic tool
//! refresh and the deletion watch. [`elect`] keeps trying to hold the Lease and publishes
//! whether it does; [`while_leading`] runs a task only during that time.
//!
//! The Lease itself is managed by `kube-lease-manager` (server-side apply, so two replicas
//! can never both take it). Around it, this module adds the safety a controller needs:
//! any failure to read or renew the Lease counts as losing it at once, since a replica that
//! cannot reach the apiserver cannot know whether another has taken over.

use std::future::Future;
use std::time::Duration;

use kube::Client;
use kube_lease_manager::{LeaseManager, LeaseManagerBuilder};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Which Lease to hold, as whom, and for how long.
#[derive(Clone, Debug)]
pub struct LeaseSettings {
    /// The Lease's name, shared by the replicas of one installation.
    pub name: String,
    /// The namespace the Lease lives in.
    pub namespace: String,
    /// This replica's identity in `spec.holderIdentity`: unique per process.
    pub identity: String,
    /// How long the Lease stays valid after its last renewal; a follower takes over within
    /// this time after the leader stops renewing.
    pub duration: Duration,
}

impl LeaseSettings {
    /// A new identity for this process: the pod name (`HOSTNAME`) and a random suffix, so a
    /// restarted pod never mistakes its predecessor's Lease for its own.
    pub fn identity_for_this_process() -> String {
        let host = std::env::var("HOSTNAME")
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "apiary".to_owned());
        let suffix = uuid::Uuid::new_v4().simple().to_string();
        format!("{host}-{}", &suffix[..8])
    }

    /// Seconds before expiry at which the holder renews: a third of the duration, at least 1.
    fn grace_secs(&self) -> u64 {
        (self.duration.as_secs() / 3).max(1)
    }
}

/// The longest any one Lease request may take: a renewal that hangs must fail before the
/// Lease expires, so the holder steps down before a follower can take over.
fn request_timeout(settings: &LeaseSettings) -> Duration {
    Duration::from_secs(settings.grace_secs())
}

/// Whether this replica leads, as published by [`elect`].
pub type Leading = watch::Receiver<bool>;

/// A receiver that always says "leading": for the single-process local runtime.
pub fn always_leading() -> Leading {
    let (sender, receiver) = watch::channel(true);
    // The value never changes; leaking the sender keeps `changed()` from ever reporting a
    // closed channel.
    std::mem::forget(sender);
    receiver
}

/// Takes part in the election until `stop`, then clears the Lease if held (followers take it
/// when they next look, at the latest when it would have expired). Cancel `stop` only after
/// the leader's work has stopped (see [`while_leading`]), so two replicas never reconcile at
/// once. `config` is the cluster connection; its timeouts are tightened for the Lease's own
/// client.
pub fn elect(
    config: kube::Config,
    settings: LeaseSettings,
    stop: CancellationToken,
) -> (Leading, JoinHandle<()>) {
    let (sender, receiver) = watch::channel(false);
    let task = tokio::spawn(campaign(config, settings, sender, stop));
    (receiver, task)
}

/// How long to wait before trying again after the apiserver failed us.
const RETRY: Duration = Duration::from_secs(2);

async fn campaign(
    mut config: kube::Config,
    settings: LeaseSettings,
    leading: watch::Sender<bool>,
    shutdown: CancellationToken,
) {
    let timeout = request_timeout(&settings);
    config.read_timeout = Some(timeout);
    config.write_timeout = Some(timeout);
    config.connect_timeout = Some(timeout);
    let client = match Client::try_from(config) {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(%error, "cannot build the client for leader election; never leading");
            return;
        }
    };
    tracing::info!(lease = %settings.name, namespace = %settings.namespace,
        identity = %settings.identity, "taking part in leader election");
    loop {
        // A fresh manager after every failure: it re-reads the Lease instead of trusting what
        // it believed before the failure.
        let manager = tokio::select! {
            () = shutdown.cancelled() => break,
            built = manager(&client, &settings) => built,
        };
        match manager {
            Ok(manager) => {
                let released = follow(&manager, &leading, &shutdown).await;
                if released {
                    return;
                }
            }
            Err(error) => {
                tracing::warn!(%error, lease = %settings.name, "cannot read the leader Lease")
            }
        }
        publish(&leading, false);
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = tokio::time::sleep(RETRY) => {},
        }
    }
    publish(&leading, false);
}

async fn manager(
    client: &Client,
    settings: &LeaseSettings,
) -> kube_lease_manager::Result<LeaseManager> {
    LeaseManagerBuilder::new(client.clone(), settings.name.clone())
        .with_namespace(settings.namespace.clone())
        .with_identity(settings.identity.clone())
        .with_duration(settings.duration.as_secs().max(2))
        .with_grace(settings.grace_secs())
        .with_field_manager(format!("apiary-leader-{}", settings.identity))
        .build()
        .await
}

/// Follows the Lease's changes until a failure (returns `false`) or shutdown (releases the
/// Lease if held and returns `true`).
async fn follow(
    manager: &LeaseManager,
    leading: &watch::Sender<bool>,
    shutdown: &CancellationToken,
) -> bool {
    loop {
        tokio::select! {
            () = shutdown.cancelled() => {
                publish(leading, false);
                if let Err(error) = manager.release().await {
                    tracing::warn!(%error, "cannot release the leader Lease; it expires on its own");
                }
                return true;
            }
            changed = manager.changed() => match changed {
                Ok(now_leading) => publish(leading, now_leading),
                Err(error) => {
                    tracing::warn!(%error, "the leader Lease cannot be renewed or read; stepping down");
                    return false;
                }
            },
        }
    }
}

fn publish(leading: &watch::Sender<bool>, now: bool) {
    let before = leading.send_replace(now);
    metrics::gauge!("apiary_leader").set(if now { 1.0 } else { 0.0 });
    if before != now {
        if now {
            tracing::info!("this replica is now the leader");
        } else {
            tracing::info!("this replica is not the leader");
        }
    }
}

/// Runs `work` whenever this replica leads, until `shutdown`. Losing the lead cancels the
/// work's token and aborts it at once; winning again starts it afresh. Shutdown cancels the
/// token and waits for the work to finish.
pub async fn while_leading<F, Fut>(
    what: &'static str,
    mut leading: Leading,
    shutdown: CancellationToken,
    work: F,
) where
    F: Fn(CancellationToken) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    loop {
        tokio::select! {
            biased;
            () = shutdown.cancelled() => return,
            won = became(&mut leading, true) => if !won { return },
        }
        tracing::info!(what, "leading: starting");
        let token = shutdown.child_token();
        let mut task = tokio::spawn(work(token.clone()));
        let mut stopped_on_its_own = false;
        tokio::select! {
            biased;
            () = shutdown.cancelled() => {
                let _ = (&mut task).await;
                return;
            }
            _ = became(&mut leading, false) => {
                tracing::info!(what, "no longer leading: stopping");
                token.cancel();
                task.abort();
                let _ = task.await;
            }
            finished = &mut task => {
                if let Err(error) = finished {
                    tracing::error!(%error, what, "a leader task failed");
                }
                // It stopped on its own (its token is a child of shutdown): start it again
                // only after the lead changed hands.
                token.cancel();
                stopped_on_its_own = true;
            }
        }
        if stopped_on_its_own {
            tokio::select! {
                () = shutdown.cancelled() => return,
                _ = became(&mut leading, false) => {},
            }
        }
    }
}

/// Waits until leading is `wanted`; false when the election ended instead.
async fn became(leading: &mut Leading, wanted: bool) -> bool {
    leading.wait_for(|now| *now == wanted).await.is_ok()
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use super::*;

    /// Counts runs of a job, and how many are running now (a guard drops on abort).
    #[derive(Clone, Default)]
    struct Job {
        started: Arc<AtomicUsize>,
        running: Arc<AtomicUsize>,
    }

    struct Running(Arc<AtomicUsize>);
    impl Drop for Running {
        fn drop(&mut self) {
            self.0.fetch_sub(1, Ordering::SeqCst);
        }
    }

    async fn until(what: &str, check: impl Fn() -> bool) {
        for _ in 0..200 {
            if check() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("timed out waiting until {what}");
    }

    #[tokio::test]
    async fn work_runs_only_while_leading_and_stops_at_once_when_the_lead_is_lost() {
        let (lead, leading) = watch::channel(false);
        let job = Job::default();
        let work = {
            let job = job.clone();
            move |token: CancellationToken| {
                let job = job.clone();
                async move {
                    job.started.fetch_add(1, Ordering::SeqCst);
                    job.running.fetch_add(1, Ordering::SeqCst);
                    let _running = Running(job.running.clone());
                    // A slow graceful stop, like a reconcile in flight: losing the lead must
                    // not wait for it.
                    token.cancelled().await;
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                }
            }
        };
        let supervisor = tokio::spawn(while_leading(
            "test job",
            leading,
            CancellationToken::new(),
            work,
        ));
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(
            job.started.load(Ordering::SeqCst),
            0,
            "a follower runs nothing"
        );

        lead.send_replace(true);
        until("the job runs", || job.running.load(Ordering::SeqCst) == 1).await;

        lead.send_replace(false);
        until("the job is stopped", || {
            job.running.load(Ordering::SeqCst) == 0
        })
        .await;

        lead.send_replace(true);
        until("the job runs again", || {
            job.started.load(Ordering::SeqCst) == 2
        })
        .await;
        assert_eq!(job.running.load(Ordering::SeqCst), 1, "never two at once");
        supervisor.abort();
    }

    #[tokio::test]
    async fn shutdown_stops_a_follower_that_never_led() {
        let (_lead, leading) = watch::channel(false);
        let shutdown = CancellationToken::new();
        let supervisor = tokio::spawn(while_leading(
            "test job",
            leading,
            shutdown.clone(),
            |_| async {},
        ));
        shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(5), supervisor)
            .await
            .expect("stops at once")
            .expect("no panic");
    }
}
