//! Failed-login throttling, in the database so every replica sees it.
//! Accounts are counted by user id (so the username and the email share one
//! count) or, for names no account has, by a hash of the name (never the
//! name itself: people type passwords into the username field); addresses
//! by IPv4 address or IPv6 /64.

use std::{net::IpAddr, time::Duration};

use chrono::Utc;
use fedimpute_common::auth::Origin;

use super::Users;
use crate::{
    error::{Error, Result},
    store::UserRecord,
    tokens::token_hash,
};

const MAX_DELAY: Duration = Duration::from_secs(5);

/// The throttle keys of one login attempt.
#[derive(Debug)]
pub(crate) struct Keys {
    pub(crate) account: String,
    pub(crate) address: Option<String>,
}

impl Keys {
    pub(crate) fn of(user: Option<&UserRecord>, login_key: &str, origin: &Origin) -> Self {
        Self {
            account: match user {
                Some(user) => account_key(user.id),
                None => format!("login:{}", &token_hash(login_key)[..32]),
            },
            address: address_key(&origin.client_addr),
        }
    }

    fn all(&self) -> Vec<String> {
        let mut keys = vec![self.account.clone()];
        keys.extend(self.address.clone());
        keys
    }
}

pub(crate) fn account_key(user_id: i64) -> String {
    format!("account:{user_id}")
}

fn address_key(addr: &str) -> Option<String> {
    match addr.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => Some(format!("addr:{v4}")),
        Ok(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => Some(format!("addr:{v4}")),
            None => {
                let s = v6.segments();
                Some(format!(
                    "addr:{:x}:{:x}:{:x}:{:x}::/64",
                    s[0], s[1], s[2], s[3]
                ))
            }
        },
        Err(_) if addr.is_empty() => None,
        Err(_) => Some(format!("addr:{addr}")),
    }
}

impl Users {
    /// `ResourceExhausted` with the retry delay when a key is locked.
    pub(crate) async fn check_locks(&self, keys: &Keys) -> Result<()> {
        let now = Utc::now();
        let locked_until = self
            .store
            .throttle(&keys.all())
            .await?
            .into_iter()
            .filter_map(|(_, state)| state.locked_until)
            .filter(|until| *until > now)
            .max();
        match locked_until {
            Some(until) => {
                let wait = (until - now).to_std().unwrap_or_default();
                Err(Error::Exhausted {
                    message: format!(
                        "too many failed attempts: try again in {} s",
                        wait.as_secs().max(1)
                    ),
                    retry_after: Some(wait),
                })
            }
            None => Ok(()),
        }
    }

    /// Counts a failure against each key and slows the answer as failures
    /// add up. True when a key is now locked.
    pub(crate) async fn record_failure(&self, keys: &Keys) -> Result<bool> {
        let t = &self.throttle;
        let window = chrono::Duration::from_std(t.window).unwrap_or(chrono::Duration::minutes(15));
        let lockout =
            chrono::Duration::from_std(t.lockout).unwrap_or(chrono::Duration::minutes(15));
        let mut counted = vec![(keys.account.as_str(), t.account_limit)];
        if let Some(address) = &keys.address {
            counted.push((address.as_str(), t.address_limit));
        }
        let mut worst = 0;
        let mut locked = false;
        for (key, limit) in counted {
            let state = self
                .store
                .record_failure(key, window, limit, lockout)
                .await?;
            worst = worst.max(state.failures);
            locked |= state.locked_until.is_some_and(|u| u > Utc::now());
        }
        if worst > 2 && !t.delay_step.is_zero() {
            tokio::time::sleep(t.delay_step.saturating_mul(worst - 2).min(MAX_DELAY)).await;
        }
        Ok(locked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_bucketed() {
        assert_eq!(
            address_key("203.0.113.9").as_deref(),
            Some("addr:203.0.113.9")
        );
        assert_eq!(
            address_key("2001:db8:1:2:aaaa::1"),
            address_key("2001:db8:1:2:ffff::2"),
            "one /64 is one bucket"
        );
        assert_ne!(
            address_key("2001:db8:1:2::1"),
            address_key("2001:db8:1:3::1")
        );
        assert_eq!(
            address_key("::ffff:192.0.2.1").as_deref(),
            Some("addr:192.0.2.1")
        );
        assert_eq!(address_key(""), None);
    }
}
