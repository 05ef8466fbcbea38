//! The scheduler: follows every job to its end without any task waiting on
//! a remote job. Its work lives in the database: each job says what is to
//! be done next and when (`phase`, `next_run_at`). Replicas claim due jobs
//! with a lease, do one step each (a submission, a poll, a cancel, a copy),
//! write the outcome and release the lease; a crashed replica's leases run
//! out and its jobs are claimed again.

mod fetch;
mod follow;
mod notify;
mod submit;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use chrono::Utc;
use rand::Rng;
use tokio::{
    sync::{Notify, Semaphore},
    task::JoinSet,
};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

pub(crate) use notify::Notifier;

use crate::{
    adapters::{Remotes, Target},
    domain::{ApiType, Phase, request::ServiceRef},
    error::{Error, Result},
    jobs::Jobs,
    peers::{Credential, ServiceInfo},
    store::{Advance, Errors, JobRecord, JobsStore, Time},
};

/// How the scheduler runs.
#[derive(Clone, Debug)]
pub struct SchedulerSettings {
    /// Off: this replica claims no work (it still serves the API).
    pub enabled: bool,
    /// Names this replica's leases.
    pub worker_id: String,
    /// The base interval between polls of a remote job.
    pub poll_interval: Duration,
    /// Longest wait after repeated errors.
    pub max_backoff: Duration,
    /// How long a claimed job is this replica's (renewed while a step runs).
    pub lease: Duration,
    /// Steps in flight at once.
    pub concurrency: usize,
    /// Requests in flight at once to one service.
    pub per_service: usize,
    /// How long an ambiguous submission is looked for on the remote before
    /// it is sent again.
    pub reconcile_after: Duration,
    /// How often a job whose credential was refused checks for a new one.
    pub credential_recheck: Duration,
    /// Copy results into the platform's store when a job completes.
    pub copy_results: bool,
    /// Copy attempts per result file.
    pub max_copy_attempts: i32,
}

/// What every step needs.
#[derive(Clone, Debug)]
pub(crate) struct Scheduler {
    core: Jobs,
    remotes: Remotes,
    settings: Arc<SchedulerSettings>,
    services: Arc<Mutex<HashMap<i64, (ServiceInfo, Instant)>>>,
    limits: Arc<Mutex<HashMap<i64, Arc<Semaphore>>>>,
    /// One submission check at a time per (user, service) in this replica:
    /// the running-jobs count and the mark that adds to it are one step.
    admissions: Admissions,
}

/// The admission locks, by (user, service).
type Admissions = Arc<Mutex<HashMap<(i64, i64), Arc<tokio::sync::Mutex<()>>>>>;

/// How long service details are reused.
const SERVICE_TTL: Duration = Duration::from_secs(30);

impl Scheduler {
    pub(crate) fn new(core: Jobs, remotes: Remotes, settings: SchedulerSettings) -> Self {
        Self {
            core,
            remotes,
            settings: Arc::new(settings),
            services: Arc::new(Mutex::new(HashMap::new())),
            limits: Arc::new(Mutex::new(HashMap::new())),
            admissions: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    fn store(&self) -> &Arc<dyn JobsStore> {
        &self.core.store
    }

    /// Claims and runs due work until cancelled.
    pub(crate) async fn run(self, cancel: CancellationToken) {
        if !self.settings.enabled {
            return;
        }
        let slots = Arc::new(Semaphore::new(self.settings.concurrency.max(1)));
        let mut tasks = JoinSet::new();
        let wake: Arc<Notify> = self.core.wake.clone();
        tracing::info!(worker = %self.settings.worker_id, "scheduler started");
        loop {
            while tasks.try_join_next().is_some() {}
            let free = slots.available_permits();
            let mut claimed = 0;
            if free > 0 {
                let now = Utc::now();
                let until =
                    now + chrono::Duration::from_std(self.settings.lease).unwrap_or_default();
                match self
                    .store()
                    .claim(&self.settings.worker_id, now, until, free as u64)
                    .await
                {
                    Ok(jobs) => {
                        claimed = jobs.len();
                        for job in jobs {
                            let Ok(permit) = slots.clone().try_acquire_owned() else {
                                break;
                            };
                            let step = self.clone();
                            tasks.spawn(async move {
                                step.step(job).await;
                                drop(permit);
                            });
                        }
                    }
                    Err(e) => tracing::error!(error = %e, "cannot claim work"),
                }
            }
            // More may be due at once when the batch was full.
            if claimed > 0 && claimed == free {
                continue;
            }
            let wait = match self.store().next_due().await {
                Ok(Some(at)) => (at - Utc::now()).to_std().unwrap_or_default(),
                Ok(None) | Err(_) => self.settings.poll_interval,
            }
            .clamp(Duration::from_millis(20), Duration::from_secs(1));
            tokio::select! {
                () = cancel.cancelled() => break,
                () = wake.notified() => {}
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
        // Steps in flight get a moment to finish; the rest are dropped and
        // their leases run out, for another replica to take.
        let _ = tokio::time::timeout(Duration::from_secs(5), async {
            while tasks.join_next().await.is_some() {}
        })
        .await;
        tasks.shutdown().await;
        tracing::info!("scheduler stopped");
    }

    /// One step of one job, under its lease (renewed while the step runs,
    /// in the same task: a step that dies takes its renewals with it).
    async fn step(&self, job: JobRecord) {
        let span = tracing::info_span!(
            "job.step",
            job = %job.id,
            phase = job.work.phase.as_str(),
            trace_id = tracing::field::Empty,
            otel.name = %format_args!("job.step {}", job.work.phase.as_str()),
        );
        // The job's steps continue the trace of the request that created it.
        fedimpute_common::telemetry::continue_trace(&span, &job.trace_context);
        let _step = crate::metrics::Step::begin(&job.id);
        self.step_in_span(job).instrument(span).await;
    }

    async fn step_in_span(&self, job: JobRecord) {
        let id = job.id.clone();
        let work = async {
            match job.work.phase {
                Phase::Submit => self.submit(&job).await,
                Phase::Submitting | Phase::Reconcile => self.reconcile(&job).await,
                Phase::Poll => self.poll(&job).await,
                Phase::Cancel => self.cancel(&job).await,
                Phase::Fetch => self.fetch(&job).await,
                Phase::Done => Advance::wait(Phase::Done, Utc::now()),
            }
        };
        let advance = tokio::select! {
            advance = work => advance,
            () = self.keep_lease(&id) => return,
        };
        match self
            .store()
            .advance(&id, &self.settings.worker_id, advance)
            .await
        {
            Ok(Some(applied)) => {
                self.core.release_all(&applied.release_quota).await;
                self.core.touched(&applied.job);
            }
            Ok(None) => {
                tracing::warn!(job = %id, "lease lost during a step; its outcome was dropped")
            }
            Err(e) => tracing::error!(job = %id, error = %e, "cannot record a step"),
        }
    }

    /// Renews the job's lease every third of its length; returns only if
    /// the lease was lost (another replica owns the job: the step stops).
    async fn keep_lease(&self, id: &str) {
        let lease = self.settings.lease;
        loop {
            tokio::time::sleep(lease / 3).await;
            let until = Utc::now() + chrono::Duration::from_std(lease).unwrap_or_default();
            match self
                .store()
                .renew(id, &self.settings.worker_id, until)
                .await
            {
                Ok(true) => {}
                Ok(false) => {
                    tracing::warn!(job = %id, "lease lost; the step stops");
                    return;
                }
                Err(e) => tracing::warn!(job = %id, error = %e, "cannot renew a lease"),
            }
        }
    }

    /// The service of a job (cached briefly).
    async fn service(&self, id: i64) -> Result<ServiceInfo> {
        if let Some((info, at)) = self
            .services
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&id)
            && at.elapsed() < SERVICE_TTL
        {
            return Ok(info.clone());
        }
        let info = self.core.peers.service(&ServiceRef::Id(id)).await?;
        self.services
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, (info.clone(), Instant::now()));
        Ok(info)
    }

    /// Where the job runs, with the credential to use there.
    async fn target(&self, job: &JobRecord) -> Result<(ServiceInfo, Target)> {
        let service_id = job
            .service_id
            .ok_or_else(|| Error::Internal("a job without a service".into()))?;
        let service = self.service(service_id).await?;
        let credential = self.core.peers.credential(job.user_id, &service).await?;
        let target = Target {
            api_type: service.api_type,
            service_id,
            base_url: service.base_url.clone(),
            config: job.remote_config.clone(),
            credential,
        };
        Ok((service, target))
    }

    /// At most `per_service` requests in flight to one service.
    fn limit(&self, service_id: i64) -> Arc<Semaphore> {
        self.limits
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(service_id)
            .or_insert_with(|| Arc::new(Semaphore::new(self.settings.per_service.max(1))))
            .clone()
    }

    /// The admission lock of (user, service).
    fn admission(&self, user_id: i64, service_id: i64) -> Arc<tokio::sync::Mutex<()>> {
        self.admissions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry((user_id, service_id))
            .or_default()
            .clone()
    }

    /// `base` with ±10 % jitter, so polls do not march in step.
    fn jittered(&self, base: Duration) -> Time {
        let spread = base.as_secs_f64() * 0.1;
        let offset = rand::thread_rng().gen_range(-spread..=spread);
        Utc::now()
            + chrono::Duration::from_std(Duration::from_secs_f64(
                (base.as_secs_f64() + offset).max(0.01),
            ))
            .unwrap_or_default()
    }

    /// The next poll: slower while the remote job waits in a queue.
    fn next_poll(&self, api: ApiType, queued: bool) -> Time {
        let base = self.settings.poll_interval;
        let factor = match (api, queued) {
            (ApiType::Michigan, true) => 4,
            (ApiType::Ga4gh | ApiType::Dnastack, true) => 2,
            (_, false) => 1,
        };
        self.jittered((base * factor).min(self.settings.max_backoff.max(base)))
    }

    /// After a failed attempt: exponential backoff from the poll interval,
    /// capped.
    fn backoff(&self, errors: i32) -> Time {
        let factor = 2u32.saturating_pow(u32::try_from(errors).unwrap_or(0).min(16));
        let wait = self
            .settings
            .poll_interval
            .saturating_mul(factor)
            .min(self.settings.max_backoff);
        self.jittered(wait)
    }

    /// Waits in `phase` after a transient failure.
    fn retry_later(&self, job: &JobRecord, phase: Phase, error: String) -> Advance {
        tracing::info!(job = %job.id, phase = phase.as_str(), error = %error, "step failed; will retry");
        let mut a = Advance::wait(phase, self.backoff(job.work.error_count + 1));
        a.last_error = error;
        a.errors = Errors::Increment;
        a
    }

    /// The tag a job's remote job carries (per attempt).
    fn tag(job: &JobRecord) -> String {
        format!("fedimpute-{}-a{}", job.id, job.attempt)
    }

    /// Whether a refused credential has been replaced since.
    fn credential_unchanged(job: &JobRecord, credential: &Credential) -> bool {
        job.needs_credentials && job.refused_credential == credential.fingerprint()
    }
}
