//! The users target: accounts (ids kept, Django hashes verbatim), their
//! profiles and quota limits (in the account row, as the users service
//! keeps them), role grants (optionally scoped to a service), credentials
//! (every plaintext token sealed: legacy credentials, and each job's
//! `user_token` as the credential of its user and service unless one
//! exists), and the audit log.
//!
//! A newly imported account with no legacy role gets the role the users
//! service gives every new account (`researcher`); a Django superuser
//! without an `admin` role gets `admin` (`derived_roles`).

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use fedimpute_users_migration::Migrator;
use sea_orm::{ConnectionTrait, DbErr};

use super::{
    Known, KnownUsers, Tally, TargetError, Targets,
    db::{self, Row},
    read_err, users_creds, users_map as map, write_err,
};
use crate::model;

const TARGET: &str = "users";

type AuditKey = (Option<i64>, String, String, String, i64);

/// What the users database already holds.
#[derive(Debug, Default)]
pub(super) struct Existing {
    pub(super) users: HashMap<i64, String>,
    pub(super) by_username: HashMap<String, i64>,
    pub(super) by_email: HashMap<String, i64>,
    pub(super) grants: HashSet<(i64, String, Option<i64>)>,
    /// (user, service) → the sealed secret.
    pub(super) credentials: HashMap<(i64, i64), String>,
    pub(super) audit: HashSet<AuditKey>,
}

async fn load(db: &impl ConnectionTrait, tolerant: bool) -> Result<Existing, DbErr> {
    let mut e = Existing::default();
    let sql = "SELECT id, username_key, email_key FROM users";
    for row in db::rows(db, sql, tolerant).await? {
        let id = db::int(&row, 0)?.unwrap_or_default();
        let (username, email) = (db::text(&row, 1)?, db::text(&row, 2)?);
        e.by_username.insert(username.clone(), id);
        e.by_email.insert(email, id);
        e.users.insert(id, username);
    }
    let sql = "SELECT user_id, role, service_id FROM role_grants";
    for row in db::rows(db, sql, tolerant).await? {
        let user = db::int(&row, 0)?.unwrap_or_default();
        e.grants
            .insert((user, db::text(&row, 1)?, db::int(&row, 2)?));
    }
    let sql = "SELECT user_id, service_id, sealed FROM credentials";
    for row in db::rows(db, sql, tolerant).await? {
        let pair = (
            db::int(&row, 0)?.unwrap_or_default(),
            db::int(&row, 1)?.unwrap_or_default(),
        );
        e.credentials.insert(pair, db::text(&row, 2)?);
    }
    let sql = "SELECT user_id, action, resource_type, resource_id, timestamp FROM audit_logs";
    for row in db::rows(db, sql, tolerant).await? {
        let at = db::time(&row, 4)?.map_or(0, |t| t.timestamp_micros());
        e.audit.insert((
            db::int(&row, 0)?,
            db::text(&row, 1)?,
            db::text(&row, 2)?,
            db::text(&row, 3)?,
            at,
        ));
    }
    Ok(e)
}

/// Rows to write, by table, in order.
pub(super) type Plan = Vec<(&'static str, Row)>;

pub(super) async fn import(
    legacy: &model::Legacy,
    targets: &Targets,
    known: &Known,
    dry_run: bool,
) -> Result<(KnownUsers, Tally), TargetError> {
    if dry_run {
        let existing = match db::open_for_read(TARGET, &targets.users_url).await? {
            Some(conn) => load(&conn, true).await.map_err(read_err(TARGET))?,
            None => Existing::default(),
        };
        let (_, users, tally) = plan(legacy, targets, known, existing, Utc::now());
        return Ok((users, tally));
    }
    let (_conn, txn) = db::open_migrated::<Migrator>(TARGET, &targets.users_url).await?;
    let existing = load(&txn, false).await.map_err(read_err(TARGET))?;
    let (rows, users, tally) = plan(legacy, targets, known, existing, Utc::now());
    let new_users = rows.iter().any(|(table, _)| *table == "users");
    for (table, row) in rows {
        db::insert(&txn, table, row)
            .await
            .map_err(write_err(TARGET))?;
    }
    if new_users {
        db::bump_sequence(&txn, "users")
            .await
            .map_err(write_err(TARGET))?;
    }
    txn.commit().await.map_err(write_err(TARGET))?;
    Ok((users, tally))
}

fn plan(
    legacy: &model::Legacy,
    targets: &Targets,
    known: &Known,
    mut e: Existing,
    now: DateTime<Utc>,
) -> (Plan, KnownUsers, Tally) {
    let (mut rows, mut users, mut tally) = (Plan::new(), KnownUsers::new(), Tally::default());
    let mut profiles: HashMap<i64, &model::Profile> = HashMap::new();
    for p in &legacy.profiles {
        profiles.entry(p.user_id).or_insert(p);
    }
    let mut accounts: Vec<&model::User> = legacy.users.iter().collect();
    accounts.sort_by_key(|u| u.id);
    let mut new_users = Vec::new();
    for u in accounts {
        match account(u, &mut e) {
            Ok(false) => {
                tally.merged("users");
                users.insert(u.id);
            }
            Ok(true) => {
                tally.imported("users");
                users.insert(u.id);
                new_users.push(u);
                rows.push(("users", map::user_row(u, profiles.get(&u.id).copied(), now)));
            }
            Err(reason) => tally.skipped("users", &u.origin, reason),
        }
    }
    let new_ids: HashSet<i64> = new_users.iter().map(|u| u.id).collect();
    let mut seen_profiles = HashSet::new();
    for p in &legacy.profiles {
        if !seen_profiles.insert(p.user_id) {
            let reason = format!("a second profile of user {}: the first was kept", p.user_id);
            tally.skipped("profiles", &p.origin, reason);
        } else if new_ids.contains(&p.user_id) {
            tally.imported("profiles");
        } else if users.contains(&p.user_id) {
            tally.merged("profiles");
        } else {
            let reason = format!("user {} was not imported", p.user_id);
            tally.skipped("profiles", &p.origin, reason);
        }
    }

    for r in &legacy.roles {
        let role = r.role.trim().to_lowercase();
        let reason = if !map::ROLES.contains(&role.as_str()) {
            Some(format!(
                "'{}' is not one of {}",
                r.role,
                map::ROLES.join(", ")
            ))
        } else if !users.contains(&r.user_id) {
            Some(format!("user {} was not imported", r.user_id))
        } else {
            r.service_id
                .filter(|s| !known.services.contains_key(s))
                .map(|s| format!("service {s} was not imported"))
        };
        if let Some(reason) = reason {
            tally.skipped("roles", &r.origin, reason);
        } else if e.grants.insert((r.user_id, role.clone(), r.service_id)) {
            tally.imported("roles");
            rows.push(("role_grants", grant(r.user_id, &role, r.service_id, now)));
        } else {
            tally.merged("roles");
        }
    }
    for u in new_users {
        let has_any = e.grants.iter().any(|(user, _, _)| *user == u.id);
        let has_admin = e.grants.contains(&(u.id, "admin".to_owned(), None));
        let role = if u.is_superuser && !has_admin {
            "admin"
        } else if !has_any {
            "researcher"
        } else {
            continue;
        };
        tally.found("derived_roles");
        tally.imported("derived_roles");
        e.grants.insert((u.id, role.to_owned(), None));
        rows.push(("role_grants", grant(u.id, role, None, now)));
    }

    users_creds::credentials(
        legacy, targets, known, &users, &mut e, now, &mut rows, &mut tally,
    );

    for a in &legacy.audit_logs {
        let Some(at) = a.at else {
            tally.skipped("audit_logs", &a.origin, "the entry has no time");
            continue;
        };
        let key = (
            a.user_id,
            a.action.clone(),
            a.resource_type.clone(),
            a.resource_id.clone(),
            at.timestamp_micros(),
        );
        if !e.audit.insert(key) {
            tally.merged("audit_logs");
            continue;
        }
        tally.imported("audit_logs");
        // No reference check: entries outlive the accounts they name, as
        // in the users service.
        let row = Row::new()
            .set("user_id", a.user_id)
            .set("action", a.action.clone())
            .set("resource_type", a.resource_type.clone())
            .set("resource_id", a.resource_id.clone())
            .set("details", map::details(&a.details))
            .set("ip_address", a.ip_address.clone())
            .set("user_agent", a.user_agent.clone())
            .set("timestamp", at)
            .set("imported", true);
        rows.push(("audit_logs", row));
    }
    (rows, users, tally)
}

/// `Ok(true)`: to insert; `Ok(false)`: already there (same id, same
/// username).
fn account(u: &model::User, e: &mut Existing) -> Result<bool, String> {
    let username = u.username.trim().to_lowercase();
    if username.is_empty() {
        return Err("the account has no username".into());
    }
    let email = u.email.trim().to_lowercase();
    if let Some(existing) = e.users.get(&u.id) {
        return if *existing == username {
            Ok(false)
        } else {
            Err(format!("id {} is taken by the account '{existing}'", u.id))
        };
    }
    if let Some(other) = e.by_username.get(&username) {
        return Err(format!(
            "username '{}' is taken by user {other}",
            u.username
        ));
    }
    if let Some(other) = e.by_email.get(&email) {
        return Err(if email.is_empty() {
            format!(
                "user {other} already has no email, and emails must be unique: give this account one in the source"
            )
        } else {
            format!("email '{}' is taken by user {other}", u.email)
        });
    }
    e.users.insert(u.id, username.clone());
    e.by_username.insert(username, u.id);
    e.by_email.insert(email, u.id);
    Ok(true)
}

fn grant(user_id: i64, role: &str, service_id: Option<i64>, now: DateTime<Utc>) -> Row {
    Row::new()
        .set("user_id", user_id)
        .set("role", role.to_owned())
        .set("service_id", service_id)
        .set("expires_at", None::<DateTime<Utc>>)
        .set("granted_at", now)
        .set("granted_by", None::<i64>)
}
