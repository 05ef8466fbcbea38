//! `grpc.health.v1.Health`, served by every component. Unlike
//! tonic-health's reporter, `close()` ends every `Watch` stream (after it
//! has delivered the final NOT_SERVING), so a watching orchestrator cannot
//! hold a drain open until the grace period runs out.

use std::{collections::HashMap, pin::Pin, sync::Arc};

use futures::Stream;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};
use tonic_health::pb::{
    HealthCheckRequest, HealthCheckResponse,
    health_check_response::ServingStatus,
    health_server::{Health, HealthServer},
};

/// The serving status of the component and of each of its services (`""`
/// is the component as a whole).
#[derive(Clone, Debug)]
pub struct HealthState {
    statuses: Arc<watch::Sender<HashMap<String, ServingStatus>>>,
    closed: CancellationToken,
}

impl Default for HealthState {
    fn default() -> Self {
        Self::new()
    }
}

impl HealthState {
    /// The component starts SERVING; its services are added with `set`.
    pub fn new() -> Self {
        let (statuses, _) =
            watch::channel(HashMap::from([(String::new(), ServingStatus::Serving)]));
        Self {
            statuses: Arc::new(statuses),
            closed: CancellationToken::new(),
        }
    }

    pub fn set(&self, service: &str, status: ServingStatus) {
        self.statuses.send_modify(|map| {
            map.insert(service.to_owned(), status);
        });
    }

    /// Every known service, and the component, NOT_SERVING.
    pub fn set_all_not_serving(&self) {
        self.statuses.send_modify(|map| {
            for status in map.values_mut() {
                *status = ServingStatus::NotServing;
            }
        });
    }

    pub fn get(&self, service: &str) -> Option<ServingStatus> {
        self.statuses.borrow().get(service).copied()
    }

    /// Ends every `Watch` stream once it has sent the latest status.
    pub fn close(&self) {
        self.closed.cancel();
    }

    pub fn service(&self) -> HealthServer<HealthService> {
        HealthServer::new(HealthService {
            state: self.clone(),
        })
    }
}

/// The gRPC service over a [`HealthState`].
#[derive(Clone, Debug)]
pub struct HealthService {
    state: HealthState,
}

type WatchStream = Pin<Box<dyn Stream<Item = Result<HealthCheckResponse, Status>> + Send>>;

#[tonic::async_trait]
impl Health for HealthService {
    async fn check(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<HealthCheckResponse>, Status> {
        let name = request.into_inner().service;
        match self.state.get(&name) {
            Some(status) => Ok(Response::new(HealthCheckResponse {
                status: status as i32,
            })),
            None => Err(Status::not_found(format!("unknown service '{name}'"))),
        }
    }

    type WatchStream = WatchStream;

    async fn watch(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        let name = request.into_inner().service;
        let rx = self.state.statuses.subscribe();
        let closed = self.state.closed.clone();
        let stream = futures::stream::unfold(
            (rx, None::<ServingStatus>, closed, true),
            move |(mut rx, last, closed, first)| {
                let name = name.clone();
                async move {
                    loop {
                        if !first {
                            // Changes first: the final NOT_SERVING is delivered
                            // before the stream ends.
                            tokio::select! {
                                biased;
                                changed = rx.changed() => if changed.is_err() { return None },
                                () = closed.cancelled() => return None,
                            }
                        }
                        let current = rx
                            .borrow_and_update()
                            .get(&name)
                            .copied()
                            .unwrap_or(ServingStatus::ServiceUnknown);
                        if last != Some(current) {
                            let reply = Ok(HealthCheckResponse {
                                status: current as i32,
                            });
                            return Some((reply, (rx, Some(current), closed, false)));
                        }
                    }
                }
            },
        );
        Ok(Response::new(Box::pin(stream)))
    }
}
