//! What every request handler shares.

use std::{
    collections::HashSet,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use fedimpute_common::auth::Verifier;
use prost_reflect::DescriptorPool;

use crate::{
    config::Settings,
    edge::{limits::RateLimits, metrics::Metrics},
    routes::{Route, RouteTable},
    upstream::{Forwarded, Upstreams},
};

/// Shared state of the gateway.
#[derive(Debug)]
pub(crate) struct AppState {
    pub(crate) routes: RouteTable,
    pub(crate) upstreams: Upstreams,
    pub(crate) verifier: Verifier,
    /// `/package.Service/Method` of every annotated (public) RPC.
    pub(crate) public_methods: HashSet<String>,
    pub(crate) settings: Settings,
    pub(crate) metrics: Metrics,
    pub(crate) rate: RateLimits,
    pub(crate) openapi: bytes::Bytes,
    draining: AtomicBool,
}

pub(crate) type Shared = Arc<AppState>;

impl AppState {
    pub(crate) fn new(settings: Settings) -> Result<Self, String> {
        let pool = DescriptorPool::decode(fedimpute_proto::FILE_DESCRIPTOR_SET)
            .map_err(|e| format!("the descriptor set does not decode: {e}"))?;
        let routes = RouteTable::from_pool(&pool)?;
        let public_methods = routes.routes().iter().map(Route::grpc_path).collect();
        let upstreams = Upstreams::new(
            &settings.registry_url,
            &settings.users_url,
            &settings.jobs_url,
            settings.identity.clone(),
        )?;
        let openapi = serde_json::to_vec_pretty(&crate::openapi::document(&pool, &routes))
            .map_err(|e| format!("cannot render the OpenAPI document: {e}"))?
            .into();
        Ok(Self {
            rate: RateLimits::new(settings.rate),
            verifier: settings.verifier.clone(),
            metrics: Metrics::new(),
            routes,
            upstreams,
            public_methods,
            settings,
            openapi,
            draining: AtomicBool::new(false),
        })
    }

    pub(crate) fn begin_drain(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    pub(crate) fn draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }
}

/// What the edge established about a request, for the handlers.
#[derive(Clone, Debug)]
pub(crate) struct Edge {
    pub(crate) forwarded: Forwarded,
}

/// The matched REST route and its path variables (set by the edge).
#[derive(Clone, Debug)]
pub(crate) struct Matched {
    pub(crate) route: Route,
    pub(crate) variables: Vec<(String, String)>,
}
