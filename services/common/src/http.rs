//! The outbound HTTP client for calls to registered services. A registered
//! URL must not turn the platform into a proxy into its own network: unless
//! private targets are allowed, loopback, link-local and private addresses
//! are refused, whether written in the URL, resolved by DNS or reached by a
//! redirect.

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    sync::Arc,
    time::Duration,
};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

/// How the client may be used.
#[derive(Clone, Debug)]
pub struct OutboundSettings {
    pub allow_private_targets: bool,
    pub connect_timeout: Duration,
    /// Whole-request timeout (connect included).
    pub timeout: Duration,
    pub user_agent: String,
}

#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    #[error("URL scheme '{0}' is not allowed (http or https only)")]
    Scheme(String),
    #[error("URL has no host")]
    NoHost,
    #[error("{0} is a loopback, link-local or private address; outbound calls to it are refused")]
    PrivateTarget(String),
    #[error("cannot build the HTTP client: {0}")]
    Build(String),
}

/// Builds a client with the policy, timeouts and redirect checks.
pub fn client(settings: &OutboundSettings) -> Result<reqwest::Client, OutboundError> {
    let allow_private = settings.allow_private_targets;
    // Requests may carry credentials (`X-Auth-Token`, which reqwest does
    // not strip on redirects), and they must not follow a redirect to
    // somebody else or onto an unencrypted connection.
    let redirect = reqwest::redirect::Policy::custom(move |attempt| {
        // Same origin, or the same host upgraded from http to https; never
        // another host, another port, or down to plain http.
        let same_host = attempt.previous().first().is_some_and(|first| {
            let next = attempt.url();
            first.origin() == next.origin()
                || (first.scheme() == "http"
                    && next.scheme() == "https"
                    && first.host_str() == next.host_str())
        });
        if attempt.previous().len() >= 5 {
            attempt.error("too many redirects")
        } else if !same_host {
            attempt.stop()
        } else if let Err(e) = check_url(attempt.url(), allow_private) {
            attempt.error(e)
        } else {
            attempt.follow()
        }
    });
    reqwest::Client::builder()
        // A proxy from the environment would bypass the address checks.
        .no_proxy()
        .connect_timeout(settings.connect_timeout)
        .read_timeout(settings.timeout)
        .timeout(settings.timeout)
        .user_agent(settings.user_agent.clone())
        .redirect(redirect)
        .dns_resolver(Arc::new(GuardedResolver { allow_private }))
        .build()
        .map_err(|e| OutboundError::Build(e.to_string()))
}

/// Checks scheme and, for literal addresses, the target policy. Host names
/// are checked when they resolve (see the resolver).
pub fn check_url(url: &Url, allow_private: bool) -> Result<(), OutboundError> {
    match url.scheme() {
        "http" | "https" => {}
        other => return Err(OutboundError::Scheme(other.to_owned())),
    }
    let ip = match url.host() {
        None => return Err(OutboundError::NoHost),
        Some(Host::Domain(name)) => {
            if !allow_private && is_local_name(name) {
                return Err(OutboundError::PrivateTarget(name.to_owned()));
            }
            return Ok(());
        }
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip),
    };
    if allow_private || is_public(ip) {
        Ok(())
    } else {
        Err(OutboundError::PrivateTarget(ip.to_string()))
    }
}

fn is_local_name(name: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name == "localhost" || name.ends_with(".localhost")
}

/// Whether an address is on the public internet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_multicast()
        || a == 0
        || (a == 192 && b == 0 && ip.octets()[2] == 0) // IETF protocol assignments
        || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let seg = ip.segments();
    let embedded_v4 = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    // Prefixes that carry an IPv4 address: judge that address.
    if seg[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return is_public_v4(embedded_v4(seg[6], seg[7])); // NAT64
    }
    if seg[0] == 0x2002 {
        return is_public_v4(embedded_v4(seg[1], seg[2])); // 6to4
    }
    if seg[..6] == [0; 6] {
        return is_public_v4(embedded_v4(seg[6], seg[7])); // IPv4-compatible, ::1 and :: included
    }
    let first = seg[0];
    !(ip.is_multicast()
        || (first & 0xfe00) == 0xfc00 // unique local
        || (first & 0xffc0) == 0xfe80 // link local
        || (first & 0xffc0) == 0xfec0 // site local (deprecated)
        || (first == 0x2001 && seg[1] == 0x0db8)) // documentation
}

/// Adds the current span's W3C trace context (`traceparent`,
/// `tracestate`) to an outbound request, so the remote's logs and traces
/// join ours. Every call to a registered service goes through this.
pub fn traced(request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;
    let context = tracing::Span::current().context();
    let mut headers = reqwest::header::HeaderMap::new();
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&context, &mut HeaderInjector(&mut headers));
    });
    request.headers(headers)
}

struct HeaderInjector<'a>(&'a mut reqwest::header::HeaderMap);

impl opentelemetry::propagation::Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            reqwest::header::HeaderName::from_bytes(key.as_bytes()),
            reqwest::header::HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}

/// Reads a response body, refusing more than `max` bytes.
pub async fn read_limited(mut response: reqwest::Response, max: usize) -> Result<Vec<u8>, String> {
    if response.content_length().is_some_and(|n| n > max as u64) {
        return Err(format!("the reply is larger than {max} bytes"));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
        if body.len() + chunk.len() > max {
            return Err(format!("the reply is larger than {max} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Resolves with the system resolver, then drops refused addresses.
#[derive(Debug)]
struct GuardedResolver {
    allow_private: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| allow_private || is_public(a.ip()))
                .collect();
            if addrs.is_empty() {
                return Err(Box::new(OutboundError::PrivateTarget(host))
                    as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_private_literals_unless_allowed() {
        for url in [
            "http://127.0.0.1:8080/x",
            "http://10.1.2.3/",
            "http://192.168.0.1/",
            "http://169.254.169.254/latest/meta-data",
            "http://[::1]/",
            "http://[fd00::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://localhost:9000/",
            "http://0.0.0.0/",
            "http://[64:ff9b::a00:1]/",
            "http://[2002:7f00:1::]/",
            "http://[::7f00:1]/",
            "http://[fec0::1]/",
            "http://192.0.0.8/",
        ] {
            let url = Url::parse(url).unwrap();
            assert!(check_url(&url, false).is_err(), "{url} should be refused");
            assert!(
                check_url(&url, true).is_ok(),
                "{url} should pass when allowed"
            );
        }
        assert!(check_url(&Url::parse("https://impute.afrigen-d.org").unwrap(), false).is_ok());
        assert!(check_url(&Url::parse("https://8.8.8.8/").unwrap(), false).is_ok());
        assert!(
            check_url(
                &Url::parse("https://[2001:4860:4860::8888]/").unwrap(),
                false
            )
            .is_ok()
        );
        assert!(check_url(&Url::parse("https://[64:ff9b::808:808]/").unwrap(), false).is_ok());
        assert!(matches!(
            check_url(&Url::parse("file:///etc/passwd").unwrap(), true),
            Err(OutboundError::Scheme(_))
        ));
    }
}
