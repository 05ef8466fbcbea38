//! RED metrics of the gRPC server scaffold: every call counted by
//! component, method and status code, and timed. The status is read from
//! the response head (a trailers-only reply: errors, mostly) or from the
//! trailers at the end of the body; a body dropped before its trailers (the
//! client went away) counts as `CANCELLED`.

use std::{
    pin::Pin,
    sync::LazyLock,
    task::{Context, Poll},
    time::Instant,
};

use bytes::Bytes;
use futures::future::BoxFuture;
use http::{HeaderMap, Request, Response};
use http_body::{Frame, SizeHint};
use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{
        counter::Counter,
        family::Family,
        histogram::{Histogram, exponential_buckets},
    },
};
use tonic::{Code, body::Body};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    component: &'static str,
    method: String,
    code: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MethodLabels {
    component: &'static str,
    method: String,
}

pub(super) struct GrpcMetrics {
    requests: Family<CallLabels, Counter>,
    duration: Family<MethodLabels, Histogram, fn() -> Histogram>,
}

fn histogram() -> Histogram {
    // 1 ms .. ~33 s
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

pub(super) static GRPC: LazyLock<GrpcMetrics> = LazyLock::new(|| {
    let metrics = GrpcMetrics {
        requests: Family::default(),
        duration: Family::new_with_constructor(histogram),
    };
    super::register(
        "grpc_server_requests",
        "gRPC calls served, by component, method and status code",
        metrics.requests.clone(),
    );
    super::register(
        "grpc_server_duration_seconds",
        "Time from a call's arrival to its status, by component and method",
        metrics.duration.clone(),
    );
    metrics
});

/// The upper-case name of a gRPC status code, as in the gRPC spec.
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

fn status_of(headers: &HeaderMap) -> Option<Code> {
    let value = headers.get("grpc-status")?.to_str().ok()?;
    Some(Code::from_i32(value.trim().parse().ok()?))
}

/// One call until its status is known.
struct Call {
    component: &'static str,
    method: String,
    started: Instant,
    recorded: bool,
}

impl Call {
    fn finish(&mut self, code: Code) {
        if std::mem::replace(&mut self.recorded, true) {
            return;
        }
        // Unknown methods are not labelled by name: a client must not be
        // able to grow the label set.
        let method = if code == Code::Unimplemented {
            "unknown".to_owned()
        } else {
            std::mem::take(&mut self.method)
        };
        GRPC.requests
            .get_or_create(&CallLabels {
                component: self.component,
                method: method.clone(),
                code: code_name(code),
            })
            .inc();
        GRPC.duration
            .get_or_create(&MethodLabels {
                component: self.component,
                method,
            })
            .observe(self.started.elapsed().as_secs_f64());
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        self.finish(Code::Cancelled);
    }
}

/// Wraps the server's routes in [`Metered`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct MetricsLayer {
    pub(crate) component: &'static str,
}

impl<S> tower::Layer<S> for MetricsLayer {
    type Service = Metered<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Metered {
            inner,
            component: self.component,
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Metered<S> {
    inner: S,
    component: &'static str,
}

impl<S, B> tower::Service<Request<B>> for Metered<S>
where
    S: tower::Service<Request<B>, Response = Response<Body>>,
    S::Future: Send + 'static,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Response<Body>, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let mut call = Call {
            component: self.component,
            method: request.uri().path().trim_start_matches('/').to_owned(),
            started: Instant::now(),
            recorded: false,
        };
        let future = self.inner.call(request);
        Box::pin(async move {
            let response = future.await?;
            if let Some(code) = status_of(response.headers()) {
                // Trailers-only: the status is in the head.
                call.finish(code);
                return Ok(response);
            }
            let (parts, body) = response.into_parts();
            let body = Body::new(MeteredBody {
                inner: body,
                call: Some(call),
            });
            Ok(Response::from_parts(parts, body))
        })
    }
}

/// A response body that records its call when the trailers pass.
struct MeteredBody {
    inner: Body,
    call: Option<Call>,
}

impl http_body::Body for MeteredBody {
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(code) = frame.trailers_ref().and_then(status_of)
                    && let Some(mut call) = this.call.take()
                {
                    call.finish(code);
                }
            }
            Poll::Ready(Some(Err(status))) => {
                if let Some(mut call) = this.call.take() {
                    call.finish(status.code());
                }
            }
            Poll::Ready(None) => {
                // Ended without trailers: no status was sent.
                if let Some(mut call) = this.call.take() {
                    call.finish(Code::Unknown);
                }
            }
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
