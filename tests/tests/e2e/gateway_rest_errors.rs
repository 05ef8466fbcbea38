//! REST errors at the gateway: unknown fields, bad enum values and wrong
//! types refused with 400 naming the field; the services' own field
//! violations passed through; wrong media types 415; bodies over the limit
//! 413 (uploads are streamed and not bound by it); wrong verbs 405 with
//! `Allow`; unknown paths 404; bad tokens 401. Every one in the JSON error
//! shape.

use fedimpute_tests::{
    TestDb,
    harness::{gateway::TestGateway, jobs::fixture, users::password_of},
};
use reqwest::Method;
use serde_json::json;

use crate::gateway_common::{ROUTE_MISS, Rest, form};

#[tokio::test]
async fn malformed_requests_are_refused_with_400_naming_the_field() {
    // Arrange
    let gw = TestGateway::spawn(TestDb::sqlite()).await;
    let rest = Rest(&gw);
    let admin = gw.admin_token().await;
    let admin = Some(admin.as_str());
    let (_, researcher) = gw.platform.users.researcher("ada").await;
    let service = |extra: serde_json::Value| {
        let mut body =
            json!({"name": "Node", "api_type": "michigan", "base_url": "https://node.example.org"});
        body.as_object_mut()
            .expect("an object")
            .extend(extra.as_object().expect("an object").clone());
        body
    };

    // Unknown fields, at the top and nested.
    let unknown = rest
        .post(
            "/api/auth/login/",
            None,
            json!({"username": "ada", "password": password_of("ada"), "remember_me": true}),
        )
        .await;
    assert_eq!(unknown.error(400, "INVALID_ARGUMENT"), ["remember_me"]);
    assert!(unknown.detail().contains("remember_me"), "{}", unknown.text);
    let nested = rest
        .post(
            "/api/services/",
            admin,
            service(json!({"location_coordinates": {"lat": 1.0, "lng": 2.0}})),
        )
        .await;
    assert_eq!(
        nested.error(400, "INVALID_ARGUMENT"),
        ["location_coordinates.lng"]
    );

    // Bad enum values, in a body and in a query, list the words accepted.
    let sleepy = rest
        .post(
            "/api/services/",
            admin,
            service(json!({"api_type": "sleepy"})),
        )
        .await;
    assert_eq!(sleepy.error(400, "INVALID_ARGUMENT"), ["api_type"]);
    let words = sleepy.json["field_violations"][0]["description"].to_string();
    assert!(
        words.contains("michigan") && words.contains("ga4gh"),
        "{words}"
    );
    let status = rest
        .get("/api/jobs/?status=sleeping", Some(&researcher))
        .await;
    assert_eq!(status.error(400, "INVALID_ARGUMENT"), ["status"]);
    let build = rest.get("/api/reference-panels/?build=hg42", None).await;
    assert_eq!(build.error(400, "INVALID_ARGUMENT"), ["build"]);

    // Wrong types, in a body, a query and a path.
    let size = rest
        .post(
            "/api/services/",
            admin,
            service(json!({"max_file_size_mb": "big"})),
        )
        .await;
    assert_eq!(size.error(400, "INVALID_ARGUMENT"), ["max_file_size_mb"]);
    let flag = rest.get("/api/services/?is_active=perhaps", None).await;
    assert_eq!(flag.error(400, "INVALID_ARGUMENT"), ["is_active"]);
    let path = rest.get("/api/reference-panels/xyz/", None).await;
    assert_eq!(path.error(400, "INVALID_ARGUMENT"), ["id"]);

    // Not JSON, or not an object.
    for body in ["{not json", "[1, 2]", "\"a string\""] {
        let reply = rest
            .send(
                rest.request(Method::POST, "/api/auth/login/", None)
                    .header("content-type", "application/json")
                    .body(body),
            )
            .await;
        reply.error(400, "INVALID_ARGUMENT");
    }

    // The services' own violations come through as field_violations.
    let invalid = rest
        .post(
            "/api/services/",
            admin,
            service(json!({"base_url": "ftp://node.example.org"})),
        )
        .await;
    let fields = invalid.error(400, "INVALID_ARGUMENT");
    assert!(fields.iter().any(|f| f.ends_with("base_url")), "{fields:?}");
    let job = rest
        .post(
            "/api/jobs/",
            Some(&researcher),
            json!({"name": "no file", "service_id": "987654", "reference_panel_id": "1"}),
        )
        .await;
    assert!(
        !job.error(400, "INVALID_ARGUMENT").is_empty(),
        "{}",
        job.text
    );
    gw.shutdown().await;
}

#[tokio::test]
async fn media_types_body_limits_verbs_paths_and_tokens_are_checked_at_the_gateway() {
    // Arrange: a small body limit.
    let gw = TestGateway::spawn_with(TestDb::sqlite(), |s| s.max_body_bytes = 4096).await;
    let rest = Rest(&gw);
    let (_, researcher) = gw.platform.users.researcher("ada").await;
    let me = Some(researcher.as_str());

    // 415 for a body the endpoint cannot read; a URL-encoded form is fine.
    let text = rest
        .send(
            rest.request(Method::POST, "/api/auth/login/", None)
                .header("content-type", "text/plain")
                .body("ada please"),
        )
        .await;
    text.error(415, "UNIMPLEMENTED");
    let multipart = rest
        .send(
            rest.request(Method::POST, "/api/auth/login/", None)
                .multipart(form(&[("username", "ada".into())], None)),
        )
        .await;
    multipart.error(415, "UNIMPLEMENTED");
    let urlencoded = rest
        .send(rest.request(Method::POST, "/api/auth/login/", None).form(&[
            ("username", "ada".to_owned()),
            ("password", password_of("ada")),
        ]))
        .await;
    assert!(urlencoded.ok(200)["access_token"].is_string());

    // 413 over the limit; just under it the service answers.
    let big = rest
        .post(
            "/api/auth/login/",
            None,
            json!({"username": "a".repeat(5000), "password": "x"}),
        )
        .await;
    big.error(413, "RESOURCE_EXHAUSTED");
    let under = rest
        .post(
            "/api/auth/login/",
            None,
            json!({"username": "a".repeat(3000), "password": "x"}),
        )
        .await;
    assert_ne!(under.status.as_u16(), 413, "{}", under.text);
    // Uploads stream past the limit.
    let vcf = fixture("chr20.mini.500snps.vcf.gz");
    assert!(vcf.len() > 4096);
    let uploaded = rest
        .form(
            "/api/files/",
            me,
            &[],
            Some(("file", "mini.vcf.gz", vcf.clone())),
        )
        .await;
    assert_eq!(uploaded.ok(201)["size_bytes"], vcf.len());
    let raw = rest
        .send(
            rest.request(Method::POST, "/api/files/?filename=raw.vcf.gz", me)
                .header("content-type", "application/octet-stream")
                .body(vcf.clone()),
        )
        .await;
    assert_eq!(raw.ok(201)["sha256"], uploaded.json["sha256"]);

    // 405 with Allow for a path that exists for other verbs.
    for (verb, path, allowed) in [
        (
            Method::PUT,
            "/api/jobs/0b9e4bd8-3d1f-4c55-9a42-5f0b8f7c2e11/cancel/",
            vec!["POST"],
        ),
        (Method::DELETE, "/api/services/", vec!["GET", "POST"]),
        (Method::PUT, "/api/users/me/profile", vec!["GET", "PATCH"]),
        (Method::GET, "/api/auth/login/", vec!["POST"]),
    ] {
        let reply = rest.call(verb.clone(), path, me, None).await;
        reply.error(405, "UNIMPLEMENTED");
        let mut allow: Vec<&str> = reply.header("allow").split(", ").collect();
        allow.sort_unstable();
        assert_eq!(allow, allowed, "{verb} {path}");
    }

    // 404 for a path no RPC is bound to, in the same shape.
    for path in [
        "/api/nothing-here/",
        "/api/services-anything",
        "/api/jobs/1/files/",
    ] {
        let reply = rest.get(path, me).await;
        reply.error(404, "NOT_FOUND");
        assert!(
            reply.detail().starts_with(ROUTE_MISS),
            "{path}: {}",
            reply.text
        );
    }

    // A bad token is refused even on a public route, except where a stale
    // token must not stop the call (login).
    let forged = Some("eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl");
    let refused = rest.get("/api/services/", forged).await;
    refused.error(401, "UNAUTHENTICATED");
    assert_eq!(refused.header("www-authenticate"), "Bearer");
    assert_eq!(rest.get("/api/services/", None).await.ok(200), &json!([]));
    let login = rest
        .post(
            "/api/auth/login/",
            forged,
            json!({"username": "ada", "password": password_of("ada")}),
        )
        .await;
    assert!(login.ok(200)["access_token"].is_string());
    gw.shutdown().await;
}
