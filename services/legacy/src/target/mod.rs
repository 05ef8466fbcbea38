//! The targets: fedimpute's registry, users and jobs databases, each
//! written the way its service writes it, so that imported records look
//! like records the service made.
//!
//! Each target is connected to, migrated (that service's migrations, first)
//! and written in ONE transaction: a failure leaves it as it was. They are
//! written in order — registry, users, jobs — because later ones refer to
//! earlier ones (a credential names a service, a job a user and a panel):
//! a record whose reference did not make it into its target is skipped with
//! the reason, never linked to something else.
//!
//! **Idempotence** — the rule is the simple, safe one: a record already in
//! the target (the same id — services, panels, users, jobs — or the same
//! natural key: a service's normalised base URL, a panel's service and
//! external id, a username or email, a (user, service) credential, a role
//! grant, an audit entry's user/action/resource/time, a health check's
//! service and time) is counted `merged` and **never rewritten**, whoever
//! wrote it and whatever changed since. A record present under the same id
//! but as something else (another base URL, another username) is skipped
//! with the reason rather than merged into the wrong one. A second run thus
//! writes nothing; records that belong to a merged job (its status updates,
//! logs and results) are merged with it, as the run that wrote the job
//! wrote them in the same transaction.
//!
//! **Dry run** — nothing is created, migrated or written: each target is
//! read (SQLite read-only) to say what would be merged; a target database
//! that does not exist yet reads as empty, so everything is to-be-imported.
//!
//! The report: each target counts `imported`, `merged` and `skipped` for
//! its entities (the readers count `found`), and only once its transaction
//! committed (in a dry run, at once). Rows the import derives rather than
//! finds — a job's plaintext `user_token` turned into a credential
//! (`job_tokens`), the role a legacy account implied (`derived_roles`) —
//! are counted `found` here too.

mod db;
mod jobs;
mod jobs_history;
mod jobs_map;
mod registry;
mod registry_map;
mod users;
mod users_creds;
mod users_map;

use std::collections::{BTreeMap, HashMap, HashSet};

use sea_orm::DbErr;

use crate::{
    model,
    report::{Report, Skip},
};

/// Where the three target databases are, and the key that seals secrets
/// (the same keyring the registry and users services are configured with).
#[derive(Clone, Debug)]
pub struct Targets {
    pub registry_url: String,
    pub users_url: String,
    pub jobs_url: String,
    pub keyring: fedimpute_common::crypto::Keyring,
}

#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("cannot connect to the {target} database {url}")]
    Connect {
        target: &'static str,
        url: String,
        #[source]
        source: DbErr,
    },
    #[error("cannot apply the {target} database's migrations")]
    Migrate {
        target: &'static str,
        #[source]
        source: DbErr,
    },
    #[error("cannot read the {target} database")]
    Read {
        target: &'static str,
        #[source]
        source: DbErr,
    },
    #[error("writing the {target} database failed; its transaction was rolled back")]
    Write {
        target: &'static str,
        #[source]
        source: DbErr,
    },
}

/// Imports `legacy` into the targets (or, with `dry_run`, says what an
/// import would do), counting every record in `report`.
pub async fn import(
    legacy: &model::Legacy,
    targets: &Targets,
    dry_run: bool,
    report: &mut Report,
) -> Result<(), TargetError> {
    report.dry_run = dry_run;
    let (known, tally) = registry::import(legacy, targets, dry_run).await?;
    tally.apply(report);
    let (users, tally) = users::import(legacy, targets, &known, dry_run).await?;
    tally.apply(report);
    let tally = jobs::import(legacy, targets, &known, &users, dry_run).await?;
    tally.apply(report);
    Ok(())
}

/// What the registry holds after its import, of what the legacy data names:
/// the legacy services and panels that were imported or merged (so that the
/// same id means the same record), by id.
#[derive(Clone, Debug, Default)]
pub(crate) struct Known {
    pub(crate) services: HashMap<i64, KnownService>,
    pub(crate) panels: HashMap<i64, KnownPanel>,
}

#[derive(Clone, Debug)]
pub(crate) struct KnownService {
    pub(crate) name: String,
    pub(crate) api_type: String,
    pub(crate) api_config: serde_json::Value,
}

#[derive(Clone, Debug)]
pub(crate) struct KnownPanel {
    pub(crate) service_id: i64,
    pub(crate) name: String,
    pub(crate) external_id: String,
    pub(crate) api_config: serde_json::Value,
}

/// The legacy user ids that exist in the users database after its import.
pub(crate) type KnownUsers = HashSet<i64>;

/// One target's counts, held back until its transaction commits.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    entities: BTreeMap<&'static str, Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    found: u64,
    imported: u64,
    merged: u64,
    skipped: Vec<Skip>,
}

impl Tally {
    fn counts(&mut self, entity: &'static str) -> &mut Counts {
        self.entities.entry(entity).or_default()
    }

    pub(crate) fn imported(&mut self, entity: &'static str) {
        self.counts(entity).imported += 1;
    }

    pub(crate) fn merged(&mut self, entity: &'static str) {
        self.counts(entity).merged += 1;
    }

    pub(crate) fn skipped(
        &mut self,
        entity: &'static str,
        origin: &model::Origin,
        reason: impl Into<String>,
    ) {
        self.counts(entity).skipped.push(Skip::new(origin, reason));
    }

    /// A row the import derived from other records (not read by a reader).
    pub(crate) fn found(&mut self, entity: &'static str) {
        self.counts(entity).found += 1;
    }

    fn apply(self, report: &mut Report) {
        for (name, counts) in self.entities {
            let entity = report.entity(name);
            entity.found += counts.found;
            entity.imported += counts.imported;
            entity.merged += counts.merged;
            entity.skipped.extend(counts.skipped);
        }
    }
}

fn read_err(target: &'static str) -> impl FnOnce(DbErr) -> TargetError {
    move |source| TargetError::Read { target, source }
}

fn write_err(target: &'static str) -> impl FnOnce(DbErr) -> TargetError {
    move |source| TargetError::Write { target, source }
}
