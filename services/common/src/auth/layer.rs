//! The authentication wrapper around every fedimpute gRPC service: verifies
//! the end user's bearer token (fetching rotated keys when needed) and the
//! calling component's service token, and records where the call came from.
//! A bad bearer token refuses the call (a client learns at once that its
//! token is bad), except on the methods named as tolerant, where it is
//! recorded as [`Caller::Invalid`]: refreshing with an expired access token
//! still attached must work. A bad service token always refuses the call.
//! Handlers read the results with [`caller_of`] and [`origin_of`].

use std::{
    convert::Infallible,
    net::SocketAddr,
    task::{Context, Poll},
};

use futures::future::BoxFuture;
use http::{HeaderMap, Request, Response};
use tonic::{body::Body, server::NamedService, transport::server::TcpConnectInfo};

use super::{AuthError, Caller, Component, SERVICE_TOKEN_HEADER, ServiceKeys, Verifier};

/// The client address the gateway saw (trusted only from the gateway).
pub const CLIENT_ADDR_HEADER: &str = "x-fedimpute-client-addr";
/// The client's user agent as the gateway saw it (trusted only from the gateway).
pub const CLIENT_AGENT_HEADER: &str = "x-fedimpute-client-agent";

/// Where a call came from.
#[derive(Clone, Debug, Default)]
pub struct Origin {
    /// The component that made the call, proven by its service token.
    pub component: Option<Component>,
    /// The end client's address: from the gateway's trusted metadata, else
    /// the peer of the connection.
    pub client_addr: String,
    /// The end client's user agent, likewise.
    pub user_agent: String,
}

/// Wraps a tonic service with authentication. Keeps the service's name, so
/// it is added to a server like the service itself.
#[derive(Clone, Debug)]
pub struct Authenticated<S> {
    inner: S,
    verifier: Verifier,
    services: ServiceKeys,
    tolerant: &'static [&'static str],
}

impl<S> Authenticated<S> {
    pub fn new(inner: S, verifier: Verifier, services: ServiceKeys) -> Self {
        Self {
            inner,
            verifier,
            services,
            tolerant: &[],
        }
    }

    /// Methods (`/package.Service/Method`) on which a bad bearer token does
    /// not refuse the call.
    pub fn tolerate_bad_tokens_on(mut self, methods: &'static [&'static str]) -> Self {
        self.tolerant = methods;
        self
    }
}

impl<S: NamedService> NamedService for Authenticated<S> {
    const NAME: &'static str = S::NAME;
}

impl<S> tower::Service<Request<Body>> for Authenticated<S>
where
    S: tower::Service<Request<Body>, Response = Response<Body>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response<Body>, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<Body>) -> Self::Future {
        // The clone is the one that was not polled ready: swap, as tower advises.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let verifier = self.verifier.clone();
        let services = self.services.clone();
        let tolerant = self.tolerant.contains(&request.uri().path());
        let headers = request.headers().clone();
        let peer = request
            .extensions()
            .get::<TcpConnectInfo>()
            .and_then(|info| info.remote_addr())
            .map(|addr: SocketAddr| addr.ip().to_string())
            .unwrap_or_default();
        Box::pin(async move {
            match identify(&verifier, &services, headers, peer).await {
                Ok((Caller::Invalid(reason), _)) if !tolerant => Ok(
                    tonic::Status::unauthenticated(format!("invalid access token: {reason}"))
                        .into_http(),
                ),
                Ok((caller, origin)) => {
                    let extensions = request.extensions_mut();
                    extensions.insert(caller);
                    extensions.insert(origin);
                    inner.call(request).await
                }
                Err(e) => Ok(tonic::Status::unauthenticated(e.to_string()).into_http()),
            }
        })
    }
}

async fn identify(
    verifier: &Verifier,
    services: &ServiceKeys,
    headers: HeaderMap,
    peer: String,
) -> Result<(Caller, Origin), AuthError> {
    let component = match header(&headers, SERVICE_TOKEN_HEADER) {
        Some(token) => Some(services.verify(token)?),
        None => None,
    };
    let metadata = tonic::metadata::MetadataMap::from_headers(headers);
    let caller = verifier.caller(&metadata).await;
    let headers = metadata.into_headers();
    let from_gateway = component == Some(Component::Gateway);
    let trusted = |name| from_gateway.then(|| header(&headers, name)).flatten();
    let origin = Origin {
        component,
        client_addr: trusted(CLIENT_ADDR_HEADER).map_or(peer, |a| clip(a, 64)),
        user_agent: clip(
            trusted(CLIENT_AGENT_HEADER)
                .or_else(|| header(&headers, "user-agent"))
                .unwrap_or_default(),
            500,
        ),
    };
    Ok((caller, origin))
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
}

fn clip(value: &str, max_chars: usize) -> String {
    value.chars().take(max_chars).collect()
}

/// The caller [`Authenticated`] identified; anonymous when it did not run.
pub fn caller_of<T>(request: &tonic::Request<T>) -> Caller {
    request
        .extensions()
        .get::<Caller>()
        .cloned()
        .unwrap_or(Caller::Anonymous)
}

/// Where the call came from, as [`Authenticated`] recorded it.
pub fn origin_of<T>(request: &tonic::Request<T>) -> Origin {
    request
        .extensions()
        .get::<Origin>()
        .cloned()
        .unwrap_or_default()
}
