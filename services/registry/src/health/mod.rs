//! The health monitor: probes every active service on its schedule,
//! concurrently (bounded), applies hysteresis, records each probe in the
//! history, prunes old history, and keeps probing long-unhealthy services on
//! a slower schedule so they can come back by themselves.

mod metrics;
mod probe;

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use futures::StreamExt;
use tokio_util::sync::CancellationToken;

pub use probe::{ProbeResult, probe};

use crate::{
    domain::{ApiType, HealthStatus},
    error::Result,
    secrets::ServiceSecrets,
    store::{HealthUpdate, Recorded, RegistryStore, Service},
};

/// Knobs of the monitor.
#[derive(Clone, Debug)]
pub struct HealthSettings {
    /// How often each service is probed.
    pub interval: Duration,
    /// Consecutive failed probes before a healthy service is marked down.
    pub failure_threshold: u32,
    /// Unhealthy for longer than this: listed as at risk.
    pub at_risk_after: Duration,
    /// How often an at-risk service is probed.
    pub at_risk_interval: Duration,
    /// History older than this is deleted.
    pub retention: Duration,
    /// Probes in flight at once.
    pub concurrency: usize,
    /// Whether the background loop runs (a manual check always works).
    pub enabled: bool,
}

impl Default for HealthSettings {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(300),
            failure_threshold: 3,
            at_risk_after: Duration::from_secs(3 * 24 * 3600),
            at_risk_interval: Duration::from_secs(3600),
            retention: Duration::from_secs(30 * 24 * 3600),
            concurrency: 16,
            enabled: true,
        }
    }
}

/// The recorded health of a service (the fields hysteresis reads).
#[derive(Clone, Debug, PartialEq)]
pub struct HealthState {
    pub status: HealthStatus,
    pub consecutive_failures: i32,
    pub first_unhealthy_at: Option<DateTime<Utc>>,
}

/// Hysteresis: a healthy service turns unhealthy only after
/// `threshold` consecutive failures; one good answer brings it back.
/// Returns the status to record, availability, failures and since when.
pub fn next_state(
    current: &HealthState,
    probe: HealthStatus,
    threshold: u32,
    now: DateTime<Utc>,
) -> (HealthState, bool) {
    if !probe.is_failure() {
        let state = HealthState {
            status: probe,
            consecutive_failures: 0,
            first_unhealthy_at: None,
        };
        return (state, probe == HealthStatus::Healthy);
    }
    let failures = current.consecutive_failures.saturating_add(1);
    let holding = current.status == HealthStatus::Healthy && failures < threshold as i32;
    if holding {
        let state = HealthState {
            status: HealthStatus::Healthy,
            consecutive_failures: failures,
            first_unhealthy_at: None,
        };
        return (state, true);
    }
    let state = HealthState {
        status: probe,
        consecutive_failures: failures,
        first_unhealthy_at: current.first_unhealthy_at.or(Some(now)),
    };
    (state, false)
}

/// Runs probes and records them.
#[derive(Debug)]
pub struct HealthMonitor {
    store: Arc<dyn RegistryStore>,
    client: reqwest::Client,
    secrets: ServiceSecrets,
    settings: HealthSettings,
    allow_private: bool,
    probe_timeout: Duration,
    /// One probe per service at a time in this process: concurrent checks
    /// of one service wait for the probe in flight and share its result.
    in_flight: std::sync::Mutex<std::collections::HashMap<i64, Arc<tokio::sync::Mutex<()>>>>,
}

impl HealthMonitor {
    pub(crate) fn new(
        store: Arc<dyn RegistryStore>,
        client: reqwest::Client,
        secrets: ServiceSecrets,
        settings: HealthSettings,
        allow_private: bool,
        probe_timeout: Duration,
    ) -> Self {
        Self {
            store,
            client,
            secrets,
            settings,
            allow_private,
            probe_timeout,
            in_flight: Default::default(),
        }
    }

    pub fn settings(&self) -> &HealthSettings {
        &self.settings
    }

    /// Probes one service now and records the outcome. A probe of the
    /// same service already in flight is waited for and its result returned.
    pub async fn check(&self, service: &Service) -> Result<Option<Service>> {
        let started = Utc::now();
        let lock = {
            let mut map = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
            map.entry(service.id).or_default().clone()
        };
        let _probing = lock.lock().await;
        let outcome = self.probe_and_record(service, started).await;
        let mut map = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        if Arc::strong_count(&lock) <= 2 {
            map.remove(&service.id);
        }
        outcome
    }

    async fn probe_and_record(
        &self,
        service: &Service,
        started: DateTime<Utc>,
    ) -> Result<Option<Service>> {
        let fresh = match self.store.get_service(service.id).await? {
            Some(fresh) => fresh,
            None => return Ok(None),
        };
        if fresh.last_health_check.is_some_and(|t| t >= started) {
            // Probed while this call waited: that answer is as new as ours.
            return Ok(Some(fresh));
        }
        let service = &fresh;
        let result = match (
            ApiType::parse(&service.api_type),
            self.secrets.get(service, "api_token"),
        ) {
            (None, _) => ProbeResult::failed(
                HealthStatus::Unhealthy,
                format!("unknown api_type '{}' in the registry", service.api_type),
            ),
            (Some(_), Err(e)) => ProbeResult::failed(HealthStatus::Unhealthy, e.to_string()),
            (Some(api_type), Ok(bearer)) => {
                probe(
                    &self.client,
                    api_type,
                    &service.base_url,
                    &service.api_config,
                    bearer.as_deref(),
                    self.allow_private,
                )
                .await
            }
        };
        self.record(service, result, started).await
    }

    /// Records a probe; when another probe was recorded meanwhile, applies
    /// this one on top of it (hysteresis reads the row it updates).
    async fn record(
        &self,
        service: &Service,
        result: ProbeResult,
        started: DateTime<Utc>,
    ) -> Result<Option<Service>> {
        let mut current = service.clone();
        for _ in 0..5 {
            let update = self.update_for(&current, &result);
            match self
                .store
                .record_health(current.id, current.health_version, &update)
                .await?
            {
                Recorded::Saved(saved) => {
                    if saved.health_status != current.health_status {
                        tracing::info!(
                            service_id = saved.id,
                            service = %saved.slug,
                            from = %current.health_status,
                            to = %saved.health_status,
                            error = %saved.error_message,
                            "service health changed"
                        );
                    }
                    metrics::probed(&saved.slug, saved.is_available, result.response_time_ms);
                    return Ok(Some(*saved));
                }
                Recorded::Gone => {
                    metrics::gone(&current.slug);
                    return Ok(None);
                }
                Recorded::Conflict => match self.store.get_service(current.id).await? {
                    // Another replica probed it after this probe began:
                    // its record stands; re-applying hysteresis on top would
                    // count one moment's failures twice.
                    Some(fresh) if fresh.last_health_check.is_some_and(|t| t >= started) => {
                        return Ok(Some(fresh));
                    }
                    Some(fresh) => current = fresh,
                    None => return Ok(None),
                },
            }
        }
        Err(crate::error::Error::Unavailable(format!(
            "service {} is being probed concurrently; try again",
            service.id
        )))
    }

    fn update_for(&self, service: &Service, result: &ProbeResult) -> HealthUpdate {
        let now = Utc::now();
        let current = HealthState {
            status: HealthStatus::parse(&service.health_status),
            consecutive_failures: service.consecutive_failures,
            first_unhealthy_at: service.first_unhealthy_at,
        };
        let (state, is_available) = next_state(
            &current,
            result.status,
            self.settings.failure_threshold,
            now,
        );
        let at_risk = state.first_unhealthy_at.is_some_and(|since| {
            now.signed_duration_since(since) > chrono_duration(self.settings.at_risk_after)
        });
        let wait = if at_risk {
            self.settings.at_risk_interval
        } else {
            self.settings.interval
        };
        HealthUpdate {
            status: state.status,
            probe_status: result.status,
            is_available,
            consecutive_failures: state.consecutive_failures,
            first_unhealthy_at: state.first_unhealthy_at,
            response_time_ms: result.response_time_ms,
            error_message: result.error.clone(),
            checked_at: now,
            next_check_at: later(now, wait),
            queue_current: result.queue_current,
        }
    }

    /// One pass: probes every due service, claiming them a batch (the
    /// concurrency bound) at a time so that each lease covers its probe.
    pub async fn run_once(&self) -> Result<usize> {
        let batch = self.settings.concurrency.max(1);
        let mut total = 0;
        // One "now" for the whole pass: services re-scheduled while it runs
        // wait for the next pass, so a pass always ends.
        let pass_started = Utc::now();
        loop {
            let lease = later(Utc::now(), self.probe_timeout * 2 + Duration::from_secs(5));
            let due = self
                .store
                .claim_due(pass_started, lease, batch as u64)
                .await?;
            if due.is_empty() {
                return Ok(total);
            }
            total += due.len();
            futures::stream::iter(due)
                .for_each_concurrent(batch, |service| async move {
                    if let Err(e) = self.check(&service).await {
                        tracing::warn!(service_id = service.id, error = %e, "recording a health probe failed");
                    }
                })
                .await;
        }
    }

    /// Loops until cancelled: probes due services, prunes history hourly.
    pub async fn run(self: Arc<Self>, cancel: CancellationToken) {
        let tick = (self.settings.interval / 10)
            .clamp(Duration::from_millis(200), Duration::from_secs(15));
        let mut ticker = tokio::time::interval(tick);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_prune: Option<tokio::time::Instant> = None;
        loop {
            tokio::select! {
                () = cancel.cancelled() => break,
                _ = ticker.tick() => {}
            }
            let pass = tokio::select! {
                () = cancel.cancelled() => break,
                pass = self.run_once() => pass,
            };
            if let Err(e) = pass {
                tracing::warn!(error = %e, "health pass failed");
            }
            if last_prune.is_none_or(|t| t.elapsed() > Duration::from_secs(3600)) {
                last_prune = Some(tokio::time::Instant::now());
                let before = earlier(Utc::now(), self.settings.retention);
                match self.store.prune_health_history(before).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(deleted = n, "pruned health history"),
                    Err(e) => tracing::warn!(error = %e, "pruning health history failed"),
                }
            }
        }
        tracing::debug!("health monitor stopped");
    }
}

/// A std duration as chrono's, capped at 100 years so that date arithmetic
/// cannot overflow.
pub(crate) fn chrono_duration(d: Duration) -> chrono::Duration {
    const CAP: Duration = Duration::from_secs(100 * 365 * 24 * 3600);
    chrono::Duration::from_std(d.min(CAP)).unwrap_or(chrono::Duration::zero())
}

/// `t + d`, saturating.
pub(crate) fn later(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    t.checked_add_signed(chrono_duration(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// `t - d`, saturating.
pub(crate) fn earlier(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    t.checked_sub_signed(chrono_duration(d))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(status: HealthStatus, failures: i32) -> HealthState {
        HealthState {
            status,
            consecutive_failures: failures,
            first_unhealthy_at: None,
        }
    }

    #[test]
    fn healthy_holds_until_the_threshold() {
        let now = Utc::now();
        let s0 = state(HealthStatus::Healthy, 0);
        let (s1, up1) = next_state(&s0, HealthStatus::Timeout, 3, now);
        assert_eq!(
            (s1.status, up1, s1.consecutive_failures),
            (HealthStatus::Healthy, true, 1)
        );
        let (s2, _) = next_state(&s1, HealthStatus::Unhealthy, 3, now);
        assert_eq!(s2.status, HealthStatus::Healthy);
        let (s3, up3) = next_state(&s2, HealthStatus::Unhealthy, 3, now);
        assert_eq!((s3.status, up3), (HealthStatus::Unhealthy, false));
        assert_eq!(s3.first_unhealthy_at, Some(now));
        let later = now + chrono::Duration::minutes(5);
        let (s4, _) = next_state(&s3, HealthStatus::Timeout, 3, later);
        assert_eq!(s4.first_unhealthy_at, Some(now), "keeps the first time");
        let (s5, up5) = next_state(&s4, HealthStatus::Healthy, 3, later);
        assert_eq!(
            (
                s5.status,
                up5,
                s5.consecutive_failures,
                s5.first_unhealthy_at
            ),
            (HealthStatus::Healthy, true, 0, None)
        );
    }

    #[test]
    fn unknown_and_maintenance_do_not_hold() {
        let now = Utc::now();
        let (s, up) = next_state(
            &state(HealthStatus::Unknown, 0),
            HealthStatus::Unhealthy,
            3,
            now,
        );
        assert_eq!((s.status, up), (HealthStatus::Unhealthy, false));
        let (m, up) = next_state(
            &state(HealthStatus::Healthy, 0),
            HealthStatus::Maintenance,
            3,
            now,
        );
        assert_eq!((m.status, up), (HealthStatus::Maintenance, false));
    }
}
