//! The gateway's edge, as clients meet it: identity headers from outside
//! mean nothing (the audit log keeps the real address), `X-Forwarded-For`
//! counts only from a trusted proxy, bad tokens are refused except where a
//! stale one must not matter, rate limits per client, per user and
//! stricter on credentials (429 + Retry-After, RESOURCE_EXHAUSTED), request
//! ids, Prometheus metrics, health and readiness; and no token, password or
//! secret of a whole flow through the gateway reaches the logs.

use std::{
    io::Write,
    sync::{Arc, Mutex},
    time::Duration,
};

use fedimpute_common::auth::{ACCESS, Claims, Component, Role, RoleGrant};
use fedimpute_proto::{
    registry::{self as rpb, registry_service_client::RegistryServiceClient},
    users::{self as upb, users_service_client::UsersServiceClient},
};
use fedimpute_tests::{
    TestDb, eventually,
    fakes::cloudgene::{CloudgeneConfig, FakeCloudgene},
    harness::{
        auth::{AUDIENCE, ISSUER, bearer},
        gateway::TestGateway,
        jobs::fixture,
        users::{ADMIN, ADMIN_PASSWORD, password_of},
    },
};
use reqwest::{RequestBuilder, header::HeaderMap};
use serde_json::{Value, json};
use tonic::Code;
use tracing_subscriber::fmt::MakeWriter;

use crate::gateway_grpc::channel;

const SPOOFED_ADDR: &str = "203.0.113.66";
const AGENT: &str = "edge-test/1.0";

/// A REST answer: status, headers and the JSON body (`Null` if none).
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) json: Value,
}

pub(crate) async fn send(request: RequestBuilder) -> Answer {
    let response = request.send().await.expect("the gateway answers");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.expect("a body");
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Answer {
        status,
        headers,
        json,
    }
}

/// Every identity header the original gateway let through, and the
/// gateway's own trusted ones, set by a client.
fn spoofed(request: RequestBuilder, gw: &TestGateway) -> RequestBuilder {
    let service_token = gw.platform.users.auth().gateway.token(Component::Users);
    request
        .header("user-agent", AGENT)
        .header("x-user-id", "1")
        .header("x-user-email", "admin@fedimpute.test")
        .header("x-user-roles", "admin")
        .header("x-forwarded-user", ADMIN)
        .header("x-fedimpute-client-addr", SPOOFED_ADDR)
        .header("x-fedimpute-client-agent", "spoofed-agent")
        .header("x-fedimpute-service-token", service_token)
}

async fn login_rest(request: RequestBuilder, user: &str) -> Answer {
    send(request.json(&json!({"username": user, "password": password_of(user)}))).await
}

/// The audit entries of one user, read as admin through the gateway.
async fn audit(gw: &TestGateway, user_id: i64) -> Vec<Value> {
    let admin = gw.platform.users.admin_token().await;
    let answer = send(
        gw.http
            .get(gw.url(&format!("/api/audit-logs/?user_id={user_id}")))
            .bearer_auth(admin),
    )
    .await;
    assert_eq!(answer.status, 200, "{:?}", answer.json);
    answer.json["entries"]
        .as_array()
        .expect("audit entries")
        .clone()
}

fn entries<'a>(entries: &'a [Value], action: &str) -> Vec<&'a Value> {
    entries.iter().filter(|e| e["action"] == action).collect()
}

#[tokio::test]
async fn identity_headers_from_outside_give_no_identity_and_the_audit_keeps_the_real_address() {
    // Arrange
    let gw = TestGateway::spawn(TestDb::sqlite()).await;

    // Act: anonymous requests claiming to be the admin.
    let me = send(spoofed(gw.http.get(gw.url("/api/auth/user/")), &gw)).await;
    let users = send(spoofed(gw.http.get(gw.url("/api/users/")), &gw)).await;
    // A registration and logins (REST and gRPC) that claim another address.
    let registered = send(
        spoofed(gw.http.post(gw.url("/api/auth/register/")), &gw).json(&json!({
            "username": "mallory",
            "email": "mallory@example.org",
            "first_name": "Mal",
            "last_name": "Lory",
            "password": password_of("mallory"),
        })),
    )
    .await;
    let login = login_rest(
        spoofed(gw.http.post(gw.url("/api/auth/login/")), &gw),
        "mallory",
    )
    .await;
    let token = login.json["access_token"].as_str().expect("a token");
    let as_user = send(spoofed(gw.http.get(gw.url("/api/users/")), &gw).bearer_auth(token)).await;
    let mut grpc = UsersServiceClient::new(channel(&gw).await);
    let mut login_request = tonic::Request::new(upb::LoginRequest {
        username: "mallory".into(),
        password: password_of("mallory"),
    });
    let mut list_request = bearer(token, upb::ListUsersRequest::default());
    let mut anonymous = tonic::Request::new(upb::GetCurrentUserRequest {});
    for metadata in [
        login_request.metadata_mut(),
        list_request.metadata_mut(),
        anonymous.metadata_mut(),
    ] {
        metadata.insert("x-user-id", "1".parse().unwrap());
        metadata.insert("x-user-roles", "admin".parse().unwrap());
        metadata.insert("x-fedimpute-client-addr", SPOOFED_ADDR.parse().unwrap());
    }
    grpc.login(login_request).await.expect("a gRPC login");
    let grpc_list = grpc
        .list_users(list_request)
        .await
        .expect_err("not an admin");
    let grpc_me = grpc
        .get_current_user(anonymous)
        .await
        .expect_err("nobody signed in");

    // Assert: no identity, no privilege.
    assert_eq!(me.status, 401, "{:?}", me.json);
    assert_eq!(users.status, 401, "{:?}", users.json);
    assert_eq!(registered.status, 201, "{:?}", registered.json);
    assert_eq!(login.status, 200, "{:?}", login.json);
    assert_eq!(as_user.status, 403, "{:?}", as_user.json);
    assert_eq!(grpc_list.code(), Code::PermissionDenied, "{grpc_list:?}");
    assert_eq!(grpc_me.code(), Code::Unauthenticated, "{grpc_me:?}");
    // The audit log has the connection's address and the real agent.
    let id = registered.json["id"].as_i64().expect("the new user's id");
    let log = audit(&gw, id).await;
    assert_eq!(entries(&log, "user_registered").len(), 1, "{log:?}");
    assert_eq!(entries(&log, "login_success").len(), 2, "{log:?}");
    for entry in &log {
        assert_eq!(entry["ip_address"], "127.0.0.1", "{entry}");
        assert!(!entry.to_string().contains(SPOOFED_ADDR), "{entry}");
        assert!(!entry.to_string().contains("spoofed-agent"), "{entry}");
    }
    assert_eq!(entries(&log, "user_registered")[0]["user_agent"], AGENT);
    gw.shutdown().await;
}

#[tokio::test]
async fn forwarded_for_is_believed_only_from_a_trusted_proxy() {
    const FORWARDED: &str = "192.0.2.200, 198.51.100.23, 127.0.0.1";
    for (trusted, expected) in [(true, "198.51.100.23"), (false, "127.0.0.1")] {
        // Arrange
        let gw = TestGateway::spawn_with(TestDb::sqlite(), |s| {
            if !trusted {
                s.trusted_proxies.clear();
            }
        })
        .await;
        let (user, _) = gw.platform.users.researcher("carol").await;

        // Act: a REST and a gRPC login, both forwarded.
        let rest = login_rest(
            gw.http
                .post(gw.url("/api/auth/login/"))
                .header("x-forwarded-for", FORWARDED),
            "carol",
        )
        .await;
        let mut request = tonic::Request::new(upb::LoginRequest {
            username: "carol".into(),
            password: password_of("carol"),
        });
        request
            .metadata_mut()
            .insert("x-forwarded-for", FORWARDED.parse().unwrap());
        UsersServiceClient::new(channel(&gw).await)
            .login(request)
            .await
            .expect("a gRPC login");

        // Assert: behind a trusted proxy, the right-most hop that is not
        // one (not the spoofable left-most); otherwise the peer.
        assert_eq!(rest.status, 200);
        let log = audit(&gw, user.id).await;
        let mut addresses: Vec<&str> = entries(&log, "login_success")
            .iter()
            .map(|e| e["ip_address"].as_str().expect("an address"))
            .collect();
        addresses.sort_unstable();
        // The researcher's first login went to the users service directly.
        let mut wanted = vec![expected, expected, "127.0.0.1"];
        wanted.sort_unstable();
        assert_eq!(addresses, wanted, "trusted proxy: {trusted}: {log:?}");
        gw.shutdown().await;
    }
}

/// An access token signed with the right key, expired a minute ago.
fn expired_token(gw: &TestGateway) -> String {
    let now = chrono::Utc::now().timestamp();
    gw.platform.users.auth().sign(&Claims {
        sub: "1".into(),
        username: ADMIN.into(),
        email: "admin@fedimpute.test".into(),
        roles: vec![RoleGrant::global(Role::Admin)],
        iat: now - 960,
        exp: now - 60,
        iss: ISSUER.into(),
        aud: AUDIENCE.into(),
        jti: "expired".into(),
        token_use: ACCESS.into(),
        sid: String::new(),
    })
}

#[tokio::test]
async fn bad_tokens_are_refused_except_where_a_stale_one_must_not_matter() {
    // Arrange
    let gw = TestGateway::spawn(TestDb::sqlite()).await;
    let mut refresh = gw
        .platform
        .users
        .login(ADMIN, ADMIN_PASSWORD)
        .await
        .refresh_token;
    let expired = expired_token(&gw);

    for stale in ["not-a-jwt", expired.as_str()] {
        // Act
        let me = send(gw.http.get(gw.url("/api/auth/user/")).bearer_auth(stale)).await;
        let public = send(gw.http.get(gw.url("/api/services/")).bearer_auth(stale)).await;
        let login = send(
            gw.http
                .post(gw.url("/api/auth/login/"))
                .bearer_auth(stale)
                .json(&json!({"username": ADMIN, "password": ADMIN_PASSWORD})),
        )
        .await;
        let refresh_token = login.json["refresh_token"].as_str().unwrap_or_default();
        let refreshed = send(
            gw.http
                .post(gw.url("/api/auth/refresh/"))
                .bearer_auth(stale)
                .json(&json!({"refresh_token": refresh_token})),
        )
        .await;
        let mut grpc = UsersServiceClient::new(channel(&gw).await);
        let grpc_me = grpc
            .get_current_user(bearer(stale, upb::GetCurrentUserRequest {}))
            .await
            .expect_err("a bad token is refused");
        let grpc_public = RegistryServiceClient::new(channel(&gw).await)
            .list_services(bearer(stale, rpb::ListServicesRequest::default()))
            .await
            .expect_err("a bad token is refused on public reads too");
        let grpc_refresh = grpc
            .refresh_token(bearer(
                stale,
                upb::RefreshTokenRequest {
                    refresh_token: refresh.clone(),
                },
            ))
            .await;

        // Assert
        for answer in [&me, &public] {
            assert_eq!(answer.status, 401, "{stale}: {:?}", answer.json);
            assert_eq!(answer.json["code"], "UNAUTHENTICATED");
            assert_eq!(answer.headers["www-authenticate"], "Bearer");
        }
        assert_eq!(login.status, 200, "{stale}: {:?}", login.json);
        assert_eq!(refreshed.status, 200, "{stale}: {:?}", refreshed.json);
        assert!(refreshed.json["access_token"].is_string());
        assert_eq!(grpc_me.code(), Code::Unauthenticated);
        assert_eq!(grpc_public.code(), Code::Unauthenticated);
        let pair = grpc_refresh
            .unwrap_or_else(|e| panic!("refresh with {stale} attached: {e:?}"))
            .into_inner();
        assert!(!pair.access_token.is_empty());
        // A refresh token works once: the next round spends the new one.
        refresh = pair.refresh_token;
    }
    gw.shutdown().await;
}

// === rate limits ===

/// A gateway whose rate limits `tweak` sets (the others stay generous).
async fn limited(tweak: impl FnOnce(&mut fedimpute_gateway::RateSettings)) -> TestGateway {
    TestGateway::spawn_with(TestDb::sqlite(), |s| tweak(&mut s.rate)).await
}

/// The Retry-After of a refusal: whole seconds, within the bucket's minute.
fn retry_after(answer: &Answer) -> u64 {
    let seconds: u64 = answer
        .headers
        .get("retry-after")
        .unwrap_or_else(|| panic!("a Retry-After header: {answer:?}"))
        .to_str()
        .unwrap()
        .parse()
        .expect("whole seconds");
    assert!((1..=60).contains(&seconds), "{seconds}");
    seconds
}

fn assert_limited(answer: &Answer, what: &str) {
    assert_eq!(answer.status, 429, "{what}: {:?}", answer.json);
    assert_eq!(answer.json["code"], "RESOURCE_EXHAUSTED", "{what}");
    retry_after(answer);
}

/// The Prometheus text of the gateway.
pub(crate) async fn metrics(gw: &TestGateway) -> String {
    let response = gw.http.get(gw.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().unwrap();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    response.text().await.unwrap()
}

/// The value of one series (`name{labels}`) in a Prometheus text.
pub(crate) fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|line| {
        line.strip_prefix(series)?
            .strip_prefix(' ')?
            .split(' ')
            .next()?
            .parse()
            .ok()
    })
}

fn refusals(text: &str, bucket: &str) -> Option<f64> {
    sample(
        text,
        &format!("fedimpute_gateway_rate_limited_total{{bucket=\"{bucket}\"}}"),
    )
}

#[tokio::test]
async fn the_client_bucket_refuses_the_next_request_with_retry_after_on_rest_and_grpc() {
    // Arrange
    let gw = limited(|r| r.per_client = 3).await;
    let list = |forwarded: Option<&str>| {
        let request = gw.http.get(gw.url("/api/services/"));
        send(match forwarded {
            Some(addr) => request.header("x-forwarded-for", addr),
            None => request,
        })
    };

    // Act
    let mut passed = Vec::new();
    for _ in 0..3 {
        passed.push(list(None).await.status);
    }
    let refused = list(None).await;
    let grpc = RegistryServiceClient::new(channel(&gw).await)
        .list_services(rpb::ListServicesRequest::default())
        .await
        .expect_err("the client's bucket is empty for gRPC too");
    // Two clients behind the trusted proxy: a bucket each.
    for _ in 0..3 {
        passed.push(list(Some("198.51.100.1")).await.status);
    }
    let first_refused = list(Some("198.51.100.1")).await;
    let second = list(Some("198.51.100.2")).await;
    let healthz = send(gw.http.get(gw.url("/healthz"))).await;

    // Assert
    assert!(passed.iter().all(|s| *s == 200), "{passed:?}");
    assert_limited(&refused, "the fourth request");
    assert_eq!(grpc.code(), Code::ResourceExhausted, "{grpc:?}");
    let seconds: u64 = grpc
        .metadata()
        .get("retry-after")
        .expect("retry-after metadata")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(seconds >= 1);
    assert_limited(&first_refused, "the forwarded client's fourth request");
    assert_eq!(
        second.status, 200,
        "another forwarded client has its own bucket"
    );
    assert_eq!(healthz.status, 200, "operations are not limited");
    assert_eq!(refusals(&metrics(&gw).await, "client"), Some(3.0));
    gw.shutdown().await;
}

#[tokio::test]
async fn without_a_trusted_proxy_forwarded_addresses_share_the_peer_bucket() {
    // Arrange
    let gw = TestGateway::spawn_with(TestDb::sqlite(), |s| {
        s.trusted_proxies.clear();
        s.rate.per_client = 2;
    })
    .await;
    let list = |addr: &str| {
        send(
            gw.http
                .get(gw.url("/api/services/"))
                .header("x-forwarded-for", addr),
        )
    };

    // Act
    let a = list("198.51.100.1").await;
    let b = list("198.51.100.2").await;
    let c = list("198.51.100.3").await;

    // Assert
    assert_eq!((a.status, b.status), (200, 200));
    assert_limited(&c, "a third 'client' on the same connection address");
    gw.shutdown().await;
}

#[tokio::test]
async fn the_credentials_bucket_is_stricter_than_the_client_bucket() {
    // Arrange
    let gw = limited(|r| {
        r.credentials = 2;
        r.per_client = 50;
    })
    .await;
    gw.platform.users.researcher("eve").await;
    let login = |forwarded: Option<&str>| {
        let request = gw.http.post(gw.url("/api/auth/login/"));
        let request = match forwarded {
            Some(addr) => request.header("x-forwarded-for", addr),
            None => request,
        };
        login_rest(request, "eve")
    };

    // Act
    let first = login(None).await;
    let second = login(None).await;
    let third = login(None).await;
    let grpc = UsersServiceClient::new(channel(&gw).await)
        .login(upb::LoginRequest {
            username: "eve".into(),
            password: password_of("eve"),
        })
        .await
        .expect_err("the credentials bucket is shared by REST and gRPC");
    let register = send(gw.http.post(gw.url("/api/auth/register/")).json(&json!({
        "username": "trudy",
        "email": "trudy@example.org",
        "password": password_of("trudy"),
    })))
    .await;
    let other_route = send(gw.http.get(gw.url("/api/services/"))).await;
    let other_client = login(Some("198.51.100.9")).await;

    // Assert
    assert_eq!((first.status, second.status), (200, 200));
    assert_limited(&third, "a third login");
    assert_eq!(grpc.code(), Code::ResourceExhausted, "{grpc:?}");
    assert_limited(&register, "a registration");
    assert_eq!(other_route.status, 200, "other routes still pass");
    assert_eq!(
        other_client.status, 200,
        "another client has its own bucket"
    );
    let text = metrics(&gw).await;
    assert_eq!(refusals(&text, "credentials"), Some(3.0));
    assert_eq!(refusals(&text, "client"), None);
    gw.shutdown().await;
}

#[tokio::test]
async fn the_user_bucket_follows_the_user_across_addresses() {
    // Arrange
    let gw = limited(|r| r.per_user = 3).await;
    let (_, token) = gw.platform.users.researcher("frank").await;
    let me = |addr: &str| {
        send(
            gw.http
                .get(gw.url("/api/auth/user/"))
                .bearer_auth(&token)
                .header("x-forwarded-for", addr),
        )
    };

    // Act
    let mut passed = Vec::new();
    for addr in ["198.51.100.1", "198.51.100.2", "198.51.100.3"] {
        passed.push(me(addr).await.status);
    }
    let refused = me("198.51.100.4").await;
    let anonymous = send(
        gw.http
            .get(gw.url("/api/services/"))
            .header("x-forwarded-for", "198.51.100.4"),
    )
    .await;

    // Assert
    assert_eq!(passed, [200, 200, 200]);
    assert_limited(&refused, "the user's fourth request, from a fourth address");
    assert_eq!(anonymous.status, 200, "the address itself is not limited");
    assert_eq!(refusals(&metrics(&gw).await, "user"), Some(1.0));
    gw.shutdown().await;
}

// === request ids, metrics, health ===

#[tokio::test]
async fn request_ids_are_echoed_when_sane_and_generated_otherwise() {
    // Arrange
    let gw = TestGateway::spawn(TestDb::sqlite()).await;
    let with_id = |path: &str, id: Option<String>| {
        let request = gw.http.get(gw.url(path));
        send(match id {
            Some(id) => request.header("x-request-id", id),
            None => request,
        })
    };

    // Act
    let given = with_id("/api/services/", Some("req-edge-0001".into())).await;
    let missing = with_id("/api/services/", None).await;
    let error = with_id("/api/no-such-thing/", Some("req-edge-0002".into())).await;
    let bad = with_id("/api/services/", Some("a b".into())).await;
    let long = with_id("/api/services/", Some("x".repeat(200))).await;

    // Assert
    let id = |a: &Answer| a.headers["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(id(&given), "req-edge-0001");
    assert_eq!(error.status, 404);
    assert_eq!(id(&error), "req-edge-0002", "errors carry the id too");
    for generated in [&missing, &bad, &long] {
        let uuid = uuid::Uuid::parse_str(&id(generated)).expect("a generated UUID");
        assert_eq!(uuid.get_version_num(), 4);
    }
    assert_ne!(id(&missing), id(&bad), "a new id per request");
    gw.shutdown().await;
}

#[tokio::test]
async fn metrics_count_requests_by_route_template_and_status() {
    // Arrange
    let gw = TestGateway::spawn(TestDb::sqlite()).await;

    // Act
    for _ in 0..2 {
        assert_eq!(
            send(gw.http.get(gw.url("/api/services/"))).await.status,
            200
        );
    }
    let missing = send(gw.http.get(gw.url("/api/services/no-such-slug-4711/"))).await;
    let refused = send(
        gw.http
            .get(gw.url("/api/auth/user/"))
            .bearer_auth("not-a-jwt"),
    )
    .await;
    RegistryServiceClient::new(channel(&gw).await)
        .list_services(rpb::ListServicesRequest::default())
        .await
        .expect("a gRPC call");
    let text = metrics(&gw).await;

    // Assert
    assert_eq!((missing.status, refused.status), (404, 401));
    let requests = |route: &str, method: &str, status: u16| {
        sample(
            &text,
            &format!(
                "fedimpute_gateway_http_requests_total{{route=\"{route}\",method=\"{method}\",status=\"{status}\"}}"
            ),
        )
    };
    assert_eq!(requests("/api/services", "GET", 200), Some(2.0), "{text}");
    assert_eq!(
        requests("/api/services/{id_or_slug}", "GET", 404),
        Some(1.0),
        "{text}"
    );
    assert_eq!(requests("/api/auth/user", "GET", 401), Some(1.0), "{text}");
    assert_eq!(
        requests(
            "/fedimpute.registry.v1.RegistryService/ListServices",
            "POST",
            200
        ),
        Some(1.0),
        "{text}"
    );
    assert!(
        !text.contains("no-such-slug-4711"),
        "labels are route templates, never raw paths"
    );
    assert_eq!(
        sample(
            &text,
            "fedimpute_gateway_http_request_duration_seconds_count{route=\"/api/services\",method=\"GET\"}"
        ),
        Some(2.0),
        "{text}"
    );
    // This very request is the one in flight.
    assert_eq!(
        sample(&text, "fedimpute_gateway_http_requests_in_flight"),
        Some(1.0),
        "{text}"
    );
    // The registry's NOT_FOUND, counted as an upstream error of REST.
    assert_eq!(
        sample(
            &text,
            "fedimpute_gateway_upstream_errors_total{service=\"rest\",code=\"NOT_FOUND\"}"
        ),
        Some(1.0),
        "{text}"
    );
    gw.shutdown().await;
}

/// `/health`, `/healthz` and `/readyz`.
async fn operations(gw: &TestGateway) -> (Answer, Answer, Answer) {
    let get = |path: &str| send(gw.http.get(gw.url(path)));
    (
        get("/health").await,
        get("/healthz").await,
        get("/readyz").await,
    )
}

#[tokio::test]
async fn health_and_readiness_report_each_component_and_are_never_rate_limited() {
    // Arrange: a client bucket of one, which operations must not touch.
    let mut gw = limited(|r| r.per_client = 1).await;

    // Act
    let mut up = Vec::new();
    for _ in 0..2 {
        up.push(operations(&gw).await);
    }
    gw.platform.stop_jobs().await;
    let (health, healthz, readyz) = operations(&gw).await;

    // Assert
    for (health, healthz, readyz) in &up {
        assert_eq!(health.status, 200, "{:?}", health.json);
        assert_eq!(health.json["status"], "healthy");
        chrono::DateTime::parse_from_rfc3339(health.json["timestamp"].as_str().unwrap())
            .expect("an RFC 3339 timestamp");
        assert_eq!(
            health.json["services"],
            json!({"gateway": "healthy", "registry": "healthy", "users": "healthy", "jobs": "healthy"})
        );
        assert_eq!(healthz.status, 200);
        assert_eq!(readyz.status, 200, "{:?}", readyz.json);
    }
    assert_eq!(health.status, 503, "{:?}", health.json);
    assert_eq!(health.json["status"], "degraded");
    assert_eq!(
        health.json["services"],
        json!({"gateway": "healthy", "registry": "healthy", "users": "healthy", "jobs": "unreachable"})
    );
    assert_eq!(healthz.status, 200, "the gateway itself is alive");
    assert_eq!(readyz.status, 503, "{:?}", readyz.json);
    assert_eq!(readyz.json["waiting_for"], json!(["jobs"]));
    gw.shutdown().await;
}

// === logs ===

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Buffer {
    type Writer = Buffer;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// The JSON field `name` of `answer`, a string.
fn text(answer: &Answer, name: &str) -> String {
    answer.json[name]
        .as_str()
        .unwrap_or_else(|| panic!("no {name} in {:?} ({})", answer.json, answer.status))
        .to_owned()
}

// The default (current-thread) runtime: every component's tasks run on this
// thread and log through this test's subscriber.
#[tokio::test]
async fn tokens_passwords_and_secrets_of_a_whole_flow_never_reach_the_logs() {
    const SERVICE_SECRET: &str = "cg-service-secret-5150";
    const USER_SECRET: &str = "cg-user-secret-8086";
    const REJECTED: &str = "rejected-bearer-6502";
    let buffer = Buffer::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(buffer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    tracing::callsite::rebuild_interest_cache();
    let fake = FakeCloudgene::start(CloudgeneConfig {
        tokens: vec![USER_SECRET.to_owned(), SERVICE_SECRET.to_owned()],
        ..CloudgeneConfig::default()
    })
    .await;
    let gw = TestGateway::spawn(TestDb::sqlite()).await;
    // Callsites another test registered at the same moment may have cached
    // "never": a warm-up request, then a rebuild (see telemetry.rs).
    send(gw.http.get(gw.url("/api/services/"))).await;
    tracing::callsite::rebuild_interest_cache();
    let post = |path: &str, token: Option<&str>, body: Value| {
        let request = gw.http.post(gw.url(path)).json(&body);
        send(match token {
            Some(token) => request.bearer_auth(token),
            None => request,
        })
    };

    // Act: the admin registers a Cloudgene service with its secret token
    // and syncs its panels with it.
    let admin = post(
        "/api/auth/login/",
        None,
        json!({"username": ADMIN, "password": ADMIN_PASSWORD}),
    )
    .await;
    let admin_token = text(&admin, "access_token");
    let service = post(
        "/api/services/",
        Some(&admin_token),
        json!({
            "name": "Logged Cloudgene",
            "api_type": "michigan",
            "base_url": fake.base_url(),
            "requires_auth": true,
            "secrets": {"api_token": SERVICE_SECRET},
        }),
    )
    .await;
    assert_eq!(service.status, 201, "{:?}", service.json);
    let service_id = service.json["id"].as_i64().expect("a service id");
    let synced = post(
        &format!("/api/services/{service_id}/sync-reference-panels/"),
        Some(&admin_token),
        json!({}),
    )
    .await;
    assert_eq!(synced.status, 200, "{:?}", synced.json);
    // A researcher registers, signs in, stores a credential, uploads and
    // runs a job to completion, then refreshes the session.
    let password = password_of("logan");
    let registered = post(
        "/api/auth/register/",
        None,
        json!({
            "username": "logan",
            "email": "logan@example.org",
            "first_name": "Lo",
            "last_name": "Gan",
            "password": password,
        }),
    )
    .await;
    assert_eq!(registered.status, 201, "{:?}", registered.json);
    let login = post(
        "/api/auth/login/",
        None,
        json!({"username": "logan", "password": password}),
    )
    .await;
    let (access, refresh) = (text(&login, "access_token"), text(&login, "refresh_token"));
    let credential = post(
        "/api/users/me/service-credentials/",
        Some(&access),
        json!({"service_id": service_id, "credential_type": "api_token", "api_token": USER_SECRET}),
    )
    .await;
    assert!(
        (200..300).contains(&credential.status),
        "{:?}",
        credential.json
    );
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(fixture(crate::gateway_grpc::TINY))
            .file_name(crate::gateway_grpc::TINY),
    );
    let file = send(
        gw.http
            .post(gw.url("/api/files/"))
            .bearer_auth(&access)
            .multipart(form),
    )
    .await;
    assert_eq!(file.status, 201, "{:?}", file.json);
    let job = post(
        "/api/jobs/",
        Some(&access),
        json!({
            "name": "logged job",
            "service_id": service_id.to_string(),
            "reference_panel_id": "apps@h3africa-v6hc-s@1.0.0",
            "input_file_id": file.json["id"],
        }),
    )
    .await;
    assert_eq!(job.status, 201, "{:?}", job.json);
    let job_path = format!("/api/jobs/{}/", text(&job, "id"));
    let done = eventually("the job completes", Duration::from_secs(60), || async {
        let job = send(gw.http.get(gw.url(&job_path)).bearer_auth(&access)).await;
        (job.json["status"] == "completed").then_some(job)
    })
    .await;
    let results_password = text(&done, "results_password");
    let refreshed = post(
        "/api/auth/refresh/",
        Some(&access),
        json!({"refresh_token": refresh}),
    )
    .await;
    let (new_access, new_refresh) = (
        text(&refreshed, "access_token"),
        text(&refreshed, "refresh_token"),
    );
    UsersServiceClient::new(channel(&gw).await)
        .get_current_user(bearer(&new_access, upb::GetCurrentUserRequest {}))
        .await
        .expect("a gRPC call with the new token");
    let rejected = send(gw.http.get(gw.url("/api/auth/user/")).bearer_auth(REJECTED)).await;
    assert_eq!(rejected.status, 401);
    gw.shutdown().await;
    fake.stop().await;

    // Assert
    let logs = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    for route in [
        "route=/api/auth/login",
        "route=/api/services/{id}/sync-reference-panels",
        "route=/api/users/me/service-credentials",
        "route=/api/files",
        "route=/api/jobs",
        "route=/api/auth/refresh",
        "route=/fedimpute.users.v1.UsersService/GetCurrentUser",
    ] {
        assert!(logs.contains(route), "the flow was logged ({route})");
    }
    for secret in [
        ADMIN_PASSWORD,
        password.as_str(),
        admin_token.as_str(),
        access.as_str(),
        refresh.as_str(),
        new_access.as_str(),
        new_refresh.as_str(),
        SERVICE_SECRET,
        USER_SECRET,
        REJECTED,
        results_password.as_str(),
    ] {
        assert!(!secret.is_empty());
        assert!(
            !logs.contains(secret),
            "a secret reached the logs: {secret}"
        );
    }
}
