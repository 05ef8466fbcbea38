//! Credentials: legacy ones (newest first per (user, service)), then each
//! job's plaintext `user_token` where its user and service have none; all
//! sealed as the users service seals them.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::{
    Known, KnownUsers, Tally, Targets,
    users::{Existing, Plan},
    users_map::{self as map, Secret},
};
use crate::model;

/// Legacy credentials (newest first per pair), then job tokens (newest
/// job first) where the pair has none.
#[expect(clippy::too_many_arguments, reason = "one pass over shared plan state")]
pub(super) fn credentials(
    legacy: &model::Legacy,
    targets: &Targets,
    known: &Known,
    users: &KnownUsers,
    e: &mut Existing,
    now: DateTime<Utc>,
    rows: &mut Plan,
    tally: &mut Tally,
) {
    // The token each planned pair holds, to tell a duplicate from a rival.
    let mut planned: HashMap<(i64, i64), Option<String>> = HashMap::new();
    let same_as_stored = |e: &Existing, pair: (i64, i64), token: Option<&str>| {
        let Some(sealed) = e.credentials.get(&pair) else {
            return false;
        };
        let opened = targets
            .keyring
            .open(sealed, &map::credential_context(pair.0, pair.1))
            .ok()
            .and_then(|clear| serde_json::from_slice::<serde_json::Value>(&clear).ok());
        token.is_some()
            && opened
                .as_ref()
                .and_then(|v| v.get("api_token"))
                .and_then(serde_json::Value::as_str)
                == token
    };
    let mut creds: Vec<&model::Credential> = legacy.credentials.iter().collect();
    creds.sort_by_key(|c| std::cmp::Reverse(c.created_at));
    for c in creds {
        let pair = (c.user_id, c.service_id);
        let secret = match check(users, known, pair).and_then(|()| Secret::of(c)) {
            Ok(secret) => secret,
            Err(reason) => {
                tally.skipped("credentials", &c.origin, reason);
                continue;
            }
        };
        let token = secret.token().map(str::to_owned);
        if let Some(kept) = planned.get(&pair) {
            if kept.is_some() && *kept == token {
                tally.merged("credentials");
            } else {
                let reason = "a newer credential for the same user and service was kept";
                tally.skipped("credentials", &c.origin, reason);
            }
        } else if e.credentials.contains_key(&pair) {
            // Already there (an earlier import, or the user's own): kept.
            tally.merged("credentials");
        } else {
            tally.imported("credentials");
            planned.insert(pair, token);
            let created = c.created_at.unwrap_or(now);
            let row = secret.row(&targets.keyring, pair.0, pair.1, &c.label, created, now);
            rows.push(("credentials", row));
        }
    }
    let mut jobs: Vec<&model::Job> = legacy
        .jobs
        .iter()
        .filter(|j| {
            j.user_token
                .as_deref()
                .is_some_and(|t| !t.trim().is_empty())
        })
        .collect();
    jobs.sort_by_key(|j| std::cmp::Reverse(j.created_at));
    for j in jobs {
        tally.found("job_tokens");
        let token = j
            .user_token
            .as_deref()
            .unwrap_or_default()
            .trim()
            .to_owned();
        let Some(service_id) = j.service_id else {
            tally.skipped("job_tokens", &j.origin, "the job names no service");
            continue;
        };
        let pair = (j.user_id, service_id);
        if let Err(reason) = check(users, known, pair) {
            tally.skipped("job_tokens", &j.origin, reason);
            continue;
        }
        let duplicate = match planned.get(&pair) {
            Some(kept) => kept.as_deref() == Some(token.as_str()),
            None => same_as_stored(e, pair, Some(&token)),
        };
        if duplicate {
            tally.merged("job_tokens");
        } else if planned.contains_key(&pair) || e.credentials.contains_key(&pair) {
            let reason = format!(
                "user {} already has a credential for service {service_id}: this job's token was not kept",
                pair.0
            );
            tally.skipped("job_tokens", &j.origin, reason);
        } else {
            tally.imported("job_tokens");
            planned.insert(pair, Some(token.clone()));
            let created = j.created_at.unwrap_or(now);
            let label = format!("token of legacy job {}", j.id);
            let row = Secret::api_token(&token).row(
                &targets.keyring,
                pair.0,
                pair.1,
                &label,
                created,
                now,
            );
            rows.push(("credentials", row));
        }
    }
}

fn check(users: &KnownUsers, known: &Known, (user, service): (i64, i64)) -> Result<(), String> {
    if !users.contains(&user) {
        Err(format!("user {user} was not imported"))
    } else if !known.services.contains_key(&service) {
        Err(format!("service {service} was not imported"))
    } else {
        Ok(())
    }
}
