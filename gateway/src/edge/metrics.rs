//! The gateway's Prometheus metrics: requests by route and status, latency
//! histograms, requests in flight, upstream errors, refusals by rate limit,
//! upload bytes.

use std::sync::atomic::AtomicU64;

use prometheus_client::{
    encoding::{EncodeLabelSet, text::encode},
    metrics::{
        counter::Counter,
        family::Family,
        gauge::Gauge,
        histogram::{Histogram, exponential_buckets},
    },
    registry::Registry,
};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct RequestLabels {
    pub(crate) route: String,
    pub(crate) method: String,
    pub(crate) status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct RouteLabels {
    pub(crate) route: String,
    pub(crate) method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct UpstreamLabels {
    pub(crate) service: String,
    pub(crate) code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct BucketLabels {
    pub(crate) bucket: String,
}

fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

pub(crate) struct Metrics {
    registry: Registry,
    pub(crate) requests: Family<RequestLabels, Counter>,
    pub(crate) latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
    pub(crate) in_flight: Gauge<i64, std::sync::atomic::AtomicI64>,
    pub(crate) upstream_errors: Family<UpstreamLabels, Counter>,
    pub(crate) rate_limited: Family<BucketLabels, Counter>,
    pub(crate) upload_bytes: Counter<u64, AtomicU64>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub(crate) fn new() -> Self {
        let mut registry = Registry::with_prefix("fedimpute_gateway");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        let in_flight = Gauge::<i64, std::sync::atomic::AtomicI64>::default();
        let upstream_errors = Family::<UpstreamLabels, Counter>::default();
        let rate_limited = Family::<BucketLabels, Counter>::default();
        let upload_bytes = Counter::<u64, AtomicU64>::default();
        registry.register(
            "http_requests",
            "Requests by route, method and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Time to the response head, by route and method",
            latency.clone(),
        );
        registry.register(
            "http_requests_in_flight",
            "Requests being served",
            in_flight.clone(),
        );
        registry.register(
            "upstream_errors",
            "Errors returned by or reaching the services, by service and gRPC code",
            upstream_errors.clone(),
        );
        registry.register(
            "rate_limited",
            "Requests refused by a rate limit, by bucket",
            rate_limited.clone(),
        );
        registry.register(
            "upload_bytes",
            "Bytes streamed into uploads",
            upload_bytes.clone(),
        );
        Self {
            registry,
            requests,
            latency,
            in_flight,
            upstream_errors,
            rate_limited,
            upload_bytes,
        }
    }

    /// The Prometheus text exposition.
    pub(crate) fn render(&self) -> String {
        let mut out = String::new();
        if encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }

    pub(crate) fn upstream_error(&self, service: &str, code: tonic::Code) {
        self.upstream_errors
            .get_or_create(&UpstreamLabels {
                service: service.to_owned(),
                code: crate::error::code_name(code).to_owned(),
            })
            .inc();
    }
}
