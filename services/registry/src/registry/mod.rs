//! The registry's behaviour, independent of the transport: authorization,
//! store calls and conversions. Requests arrive parsed into domain types
//! (or are parsed here first); `grpc.rs` only forwards.

mod health;
mod internal;
mod panels;
mod services;
mod sync;

use std::{sync::Arc, time::Duration};

use fedimpute_common::{
    auth::{Caller, Component, Origin},
    status::FieldViolation,
};

use crate::{
    error::{Error, Result},
    health::HealthMonitor,
    secrets::ServiceSecrets,
    store::{RegistryStore, Service},
};

/// The registry core.
#[derive(Debug, Clone)]
pub(crate) struct Registry {
    store: Arc<dyn RegistryStore>,
    secrets: ServiceSecrets,
    monitor: Arc<HealthMonitor>,
    client: reqwest::Client,
    /// A manual check within this long after the last probe returns the
    /// last result instead of probing again.
    min_check_interval: Duration,
    allow_private: bool,
}

/// Registry writes: an admin, or a service_admin unscoped or scoped to the
/// service. `None` (a new service) needs an unscoped grant.
fn require_manager(caller: &Caller, service_id: Option<i64>) -> Result<()> {
    let claims = caller.user()?;
    if claims.can_manage_service(service_id) {
        Ok(())
    } else {
        Err(Error::PermissionDenied(match service_id {
            Some(id) => format!("managing service {id} needs the admin or service_admin role"),
            None => {
                "creating services needs the admin role or an unscoped service_admin role".into()
            }
        }))
    }
}

/// Internal calls: only `component`, proven by its service token. An end
/// user's token, an admin's included, is not enough (nor is the gateway's
/// service token: it carries outside callers).
fn require_component(origin: &Origin, component: Component) -> Result<()> {
    if origin.component == Some(component) {
        Ok(())
    } else {
        Err(Error::PermissionDenied(format!(
            "this is an internal call, for the {component} component only"
        )))
    }
}

fn underivable_slug() -> Error {
    Error::Invalid(vec![FieldViolation::new(
        "slug",
        "cannot be derived from the name: give one",
    )])
}

/// How many times a derived slug is tried again when a concurrent write
/// took it between the check and the insert.
const SLUG_RETRIES: usize = 3;

impl Registry {
    pub(crate) fn new(
        store: Arc<dyn RegistryStore>,
        secrets: ServiceSecrets,
        monitor: Arc<HealthMonitor>,
        client: reqwest::Client,
        min_check_interval: Duration,
        allow_private: bool,
    ) -> Self {
        Self {
            store,
            secrets,
            monitor,
            client,
            min_check_interval,
            allow_private,
        }
    }

    async fn service(&self, id: i64) -> Result<Service> {
        self.store
            .get_service(id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("service {id} not found")))
    }
}
