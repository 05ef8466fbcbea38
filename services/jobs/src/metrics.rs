//! The jobs service's metrics: jobs by status and the due work not yet
//! claimed (both read from the database by a cheap grouped count, every
//! poll interval, at most every 15 s), the age of the oldest step this
//! replica is running under a lease, and the bytes received by uploads.

use std::{
    collections::HashMap,
    sync::{LazyLock, Mutex, atomic::AtomicU64},
    time::{Duration, Instant},
};

use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family, gauge::Gauge},
};
use tokio_util::sync::CancellationToken;

use crate::{domain::JobStatus, store::JobsStore};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabels {
    status: &'static str,
}

struct JobsMetrics {
    jobs: Family<StatusLabels, Gauge>,
    queue_depth: Gauge,
    lease_age: Gauge<f64, AtomicU64>,
    upload_bytes: Counter,
}

static METRICS: LazyLock<JobsMetrics> = LazyLock::new(|| {
    let m = JobsMetrics {
        jobs: Family::default(),
        queue_depth: Gauge::default(),
        lease_age: Gauge::default(),
        upload_bytes: Counter::default(),
    };
    use fedimpute_common::metrics::register;
    register(
        "jobs",
        "Jobs (parents of federated jobs not counted) by status",
        m.jobs.clone(),
    );
    register(
        "jobs_queue_depth",
        "Scheduler work that is due and not claimed by any replica",
        m.queue_depth.clone(),
    );
    register(
        "jobs_lease_age_seconds",
        "How long the oldest step this replica runs under a lease has been running",
        m.lease_age.clone(),
    );
    register(
        "jobs_upload_bytes",
        "Bytes received by file uploads",
        m.upload_bytes.clone(),
    );
    m
});

/// Steps in flight in this process, by job, since when.
static IN_FLIGHT: LazyLock<Mutex<HashMap<String, Instant>>> = LazyLock::new(Default::default);

/// Counts bytes received by an upload.
pub(crate) fn uploaded(bytes: usize) {
    METRICS.upload_bytes.inc_by(bytes as u64);
}

/// A step under a lease, from `begin` until dropped.
#[derive(Debug)]
pub(crate) struct Step(String);

impl Step {
    pub(crate) fn begin(job_id: &str) -> Self {
        IN_FLIGHT
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(job_id.to_owned(), Instant::now());
        Self(job_id.to_owned())
    }
}

impl Drop for Step {
    fn drop(&mut self) {
        IN_FLIGHT
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.0);
    }
}

fn oldest_step() -> f64 {
    IN_FLIGHT
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .values()
        .map(|since| since.elapsed().as_secs_f64())
        .fold(0.0, f64::max)
}

/// Reads the counts once.
pub(crate) async fn refresh(store: &dyn JobsStore) {
    match store.counts(None).await {
        Ok(counts) => {
            for status in JobStatus::ALL {
                let n = counts
                    .by_status
                    .iter()
                    .find(|(s, _)| *s == status)
                    .map_or(0, |(_, n)| *n);
                METRICS
                    .jobs
                    .get_or_create(&StatusLabels {
                        status: status.as_str(),
                    })
                    .set(n);
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot count jobs for the metrics"),
    }
    match store.queue_depth(chrono::Utc::now()).await {
        Ok(n) => {
            METRICS.queue_depth.set(n);
        }
        Err(e) => tracing::warn!(error = %e, "cannot measure the queue for the metrics"),
    }
    METRICS.lease_age.set(oldest_step());
}

/// Refreshes the gauges every `interval` (at most 15 s) until cancelled.
pub(crate) async fn run(
    store: std::sync::Arc<dyn JobsStore>,
    interval: Duration,
    cancel: CancellationToken,
) {
    let mut ticker = tokio::time::interval(interval.min(Duration::from_secs(15)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            _ = ticker.tick() => refresh(store.as_ref()).await,
        }
    }
}
