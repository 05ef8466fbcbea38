//! The health monitor's metrics: whether each service is up, and how long
//! its probes take, labelled by the service's slug.

use std::sync::{LazyLock, atomic::AtomicU64};

use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{
        family::Family,
        gauge::Gauge,
        histogram::{Histogram, exponential_buckets},
    },
};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ServiceLabels {
    service: String,
}

struct HealthMetrics {
    up: Family<ServiceLabels, Gauge<f64, AtomicU64>>,
    probe: Family<ServiceLabels, Histogram, fn() -> Histogram>,
}

fn histogram() -> Histogram {
    // 5 ms .. ~80 s
    Histogram::new(exponential_buckets(0.005, 2.0, 15))
}

static HEALTH: LazyLock<HealthMetrics> = LazyLock::new(|| {
    let metrics = HealthMetrics {
        up: Family::default(),
        probe: Family::new_with_constructor(histogram),
    };
    fedimpute_common::metrics::register(
        "registry_service_up",
        "1 when the service is available (after hysteresis), 0 otherwise, by service slug",
        metrics.up.clone(),
    );
    fedimpute_common::metrics::register(
        "registry_probe_duration_seconds",
        "Response time of the health probes that reached the service, by service slug",
        metrics.probe.clone(),
    );
    metrics
});

/// Records a probe's outcome as saved.
pub(super) fn probed(slug: &str, available: bool, response_time_ms: Option<f64>) {
    let labels = ServiceLabels {
        service: slug.to_owned(),
    };
    HEALTH
        .up
        .get_or_create(&labels)
        .set(if available { 1.0 } else { 0.0 });
    if let Some(ms) = response_time_ms {
        HEALTH.probe.get_or_create(&labels).observe(ms / 1000.0);
    }
}

/// Forgets a service that is gone.
pub(super) fn gone(slug: &str) {
    let labels = ServiceLabels {
        service: slug.to_owned(),
    };
    HEALTH.up.remove(&labels);
    HEALTH.probe.remove(&labels);
}
