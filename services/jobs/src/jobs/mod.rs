//! The jobs service's core, transport-agnostic: who may do what, files,
//! job creation, queries and actions. The gRPC handlers only convert.

mod actions;
mod create;
mod files;
mod queries;

use std::{sync::Arc, time::Duration};

use fedimpute_common::{
    auth::{Caller, Claims, Role},
    crypto::Keyring,
};
use tokio::sync::Notify;

use crate::{
    adapters::Remotes,
    error::{Error, Result},
    files::storage::Storage,
    peers::Peers,
    store::{JobRecord, JobsStore},
    watch::Hub,
};

/// What the core needs to know.
#[derive(Clone, Debug)]
pub(crate) struct CoreSettings {
    /// Largest upload accepted (also bounded by each service and the quota).
    pub(crate) max_upload_bytes: u64,
    /// Signed input links are made for this public address.
    pub(crate) public_url: String,
    pub(crate) signed_url_ttl: Duration,
}

#[derive(Clone, Debug)]
pub(crate) struct Jobs {
    inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) store: Arc<dyn JobsStore>,
    pub(crate) storage: Storage,
    pub(crate) peers: Peers,
    pub(crate) remotes: Remotes,
    pub(crate) keyring: Keyring,
    pub(crate) settings: CoreSettings,
    /// Wakes the scheduler (new work).
    pub(crate) wake: Arc<Notify>,
    pub(crate) hub: Hub,
}

impl std::ops::Deref for Jobs {
    type Target = Inner;

    fn deref(&self) -> &Inner {
        &self.inner
    }
}

/// The signed-in caller.
#[derive(Clone, Debug)]
pub(crate) struct Me {
    pub(crate) id: i64,
    pub(crate) claims: Arc<Claims>,
}

impl Me {
    pub(crate) fn is_admin(&self) -> bool {
        self.claims.is_admin()
    }

    /// Whether the caller's roles let them run jobs on `service_id`
    /// (`None`: on some service).
    pub(crate) fn can_submit(&self, service_id: Option<i64>) -> bool {
        let c = &self.claims;
        c.is_admin()
            || c.roles.iter().any(|g| {
                matches!(
                    g.role,
                    Role::Researcher | Role::ServiceUser | Role::ServiceAdmin
                ) && (g.service_id.is_none() || service_id.is_none() || g.service_id == service_id)
            })
    }
}

impl Jobs {
    pub(crate) fn new(inner: Inner) -> Self {
        Self {
            inner: Arc::new(inner),
        }
    }

    pub(crate) fn me(&self, caller: &Caller) -> Result<Me> {
        let claims = match caller {
            Caller::User(claims) => claims.clone(),
            Caller::Anonymous | Caller::Invalid(_) => {
                return Err(caller.user().err().map_or_else(
                    || Error::Internal("caller without claims".into()),
                    Error::from,
                ));
            }
        };
        let id = claims.sub.parse().map_err(|_| {
            Error::Unauthenticated(fedimpute_common::auth::AuthError::Invalid(
                "the token's subject is not a user id".into(),
            ))
        })?;
        Ok(Me { id, claims })
    }

    /// The caller, who must be allowed to submit jobs somewhere.
    pub(crate) fn submitter(&self, caller: &Caller) -> Result<Me> {
        let me = self.me(caller)?;
        if !me.can_submit(None) {
            return Err(Error::PermissionDenied(
                "your roles do not allow running imputation jobs (researcher or service_user needed)"
                    .into(),
            ));
        }
        Ok(me)
    }

    /// A job the caller may see: their own, or any for an admin. Anything
    /// else is `NotFound`, like a job that does not exist.
    pub(crate) async fn visible_job(&self, me: &Me, id: &str) -> Result<JobRecord> {
        let not_found = || Error::NotFound(format!("job {id} does not exist"));
        let id = crate::domain::JobId::parse(id).map_err(|_| not_found())?;
        let job = self
            .store
            .job(&id.to_string())
            .await?
            .ok_or_else(not_found)?;
        if job.user_id == me.id || me.is_admin() {
            Ok(job)
        } else {
            Err(not_found())
        }
    }

    /// A job the caller owns (changes are the owner's; an admin sees
    /// others' jobs but does not act on them).
    pub(crate) async fn own_job(&self, me: &Me, id: &str) -> Result<JobRecord> {
        let job = self.visible_job(me, id).await?;
        if job.user_id != me.id {
            return Err(Error::PermissionDenied(
                "only the job's owner can change it".into(),
            ));
        }
        Ok(job)
    }

    /// Tells watchers and the scheduler that `ids` changed.
    pub(crate) fn changed(&self, ids: &[&str]) {
        for id in ids {
            self.hub.nudge(id);
        }
        self.wake.notify_one();
    }

    /// Gives quota reservations back (logged on failure: the users
    /// service can be reconciled later, and the user loses nothing real).
    pub(crate) async fn release_all(&self, reservations: &[String]) {
        for reservation in reservations {
            if let Err(e) = self.peers.release(reservation).await {
                tracing::warn!(reservation, error = %e, "cannot release a quota reservation");
            }
        }
    }
}
