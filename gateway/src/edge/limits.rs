//! Rate limits (GCRA, by `governor`) per client address, per user, and a
//! stricter one per client address on credential endpoints; and the client
//! address itself, read from `X-Forwarded-For` only behind trusted proxies.

use std::{net::IpAddr, num::NonZeroU32};

use governor::{
    DefaultKeyedRateLimiter, Quota, RateLimiter,
    clock::{Clock, DefaultClock},
};
use http::HeaderMap;
use ipnet::IpNet;

use crate::config::RateSettings;

/// Which bucket refused a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Bucket {
    Client,
    User,
    Credentials,
}

impl Bucket {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Client => "client",
            Self::User => "user",
            Self::Credentials => "credentials",
        }
    }
}

pub(crate) struct RateLimits {
    client: DefaultKeyedRateLimiter<IpAddr>,
    user: DefaultKeyedRateLimiter<i64>,
    credentials: DefaultKeyedRateLimiter<IpAddr>,
}

impl std::fmt::Debug for RateLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimits").finish_non_exhaustive()
    }
}

fn quota(per_minute: u32) -> Quota {
    let n = NonZeroU32::new(per_minute.max(1)).unwrap_or(NonZeroU32::MIN);
    Quota::per_minute(n).allow_burst(n)
}

impl RateLimits {
    pub(crate) fn new(settings: RateSettings) -> Self {
        Self {
            client: RateLimiter::keyed(quota(settings.per_client)),
            user: RateLimiter::keyed(quota(settings.per_user)),
            credentials: RateLimiter::keyed(quota(settings.credentials)),
        }
    }

    /// Takes one request from each bucket that applies; on refusal, the
    /// bucket and the seconds until it would pass.
    pub(crate) fn check(
        &self,
        client: IpAddr,
        user: Option<i64>,
        credentials: bool,
    ) -> Result<(), (Bucket, u64)> {
        let now = DefaultClock::default().now();
        let wait = |not_until: governor::NotUntil<_>| {
            not_until.wait_time_from(now).as_secs_f64().ceil().max(1.0) as u64
        };
        if credentials {
            self.credentials
                .check_key(&client)
                .map_err(|n| (Bucket::Credentials, wait(n)))?;
        }
        self.client
            .check_key(&client)
            .map_err(|n| (Bucket::Client, wait(n)))?;
        if let Some(user) = user {
            self.user
                .check_key(&user)
                .map_err(|n| (Bucket::User, wait(n)))?;
        }
        Ok(())
    }

    /// Forgets buckets that are full again (bounded memory).
    pub(crate) fn prune(&self) {
        self.client.retain_recent();
        self.user.retain_recent();
        self.credentials.retain_recent();
    }
}

/// The real client address: the peer, unless the peer is a trusted proxy,
/// then the right-most `X-Forwarded-For` entry that is not one.
pub(crate) fn client_addr(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let hops: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|hop| hop.trim().parse().ok())
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        client = *hop;
        if !is_trusted(hop) {
            break;
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", xff.parse().unwrap());
        h
    }

    #[test]
    fn forwarded_for_counts_only_behind_trusted_proxies() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let proxy: IpAddr = "10.1.2.3".parse().unwrap();
        let outsider: IpAddr = "203.0.113.9".parse().unwrap();
        // A client that writes its own header directly is not believed.
        assert_eq!(
            client_addr(outsider, &headers("1.2.3.4"), &trusted),
            outsider
        );
        // Behind the proxy: the right-most untrusted hop, not a spoofed left one.
        assert_eq!(
            client_addr(proxy, &headers("1.2.3.4, 198.51.100.7, 10.9.9.9"), &trusted),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
        assert_eq!(client_addr(proxy, &HeaderMap::new(), &trusted), proxy);
    }

    #[test]
    fn buckets_refuse_with_a_retry_time() {
        let limits = RateLimits::new(RateSettings {
            per_client: 100,
            per_user: 100,
            credentials: 2,
        });
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        assert!(limits.check(ip, None, true).is_ok());
        assert!(limits.check(ip, None, true).is_ok());
        let (bucket, wait) = limits.check(ip, None, true).unwrap_err();
        assert_eq!(bucket, Bucket::Credentials);
        assert!(wait >= 1);
        // Other routes of the same client still pass.
        assert!(limits.check(ip, Some(1), false).is_ok());
    }
}
