//! Tests of the fake dnastack server over real loopback HTTP.

use super::*;
use crate::fakes::testing::request;

const FORM: (&str, &str) = ("Content-Type", "application/x-www-form-urlencoded");
const REGISTRY: &str = "/api/service-registry/services";
const INFO: &str = "/ewes/fake-namespace/ga4gh/wes/v1/service-info";

#[test]
fn base64url_matches_rfc4648() {
    let cases = [
        ("", ""),
        ("f", "Zg"),
        ("fo", "Zm8"),
        ("foo", "Zm9v"),
        ("foob", "Zm9vYg"),
        ("\u{ff}\u{fe}", "w7_Dvg"),
    ];
    for (input, expected) in cases {
        assert_eq!(base64url(input.as_bytes()), expected);
    }
}

#[tokio::test]
async fn registry_lists_services_without_secrets() {
    let fake = FakeDnastack::start(DnastackConfig::default()).await;
    let base = fake.base_url();
    let reply = request(&base, "GET", REGISTRY, &[], "")
        .await
        .expect("reply");
    assert!(!reply.body.contains("fake-secret"));
    let list = reply.json();
    assert_eq!(list[0]["type"]["artifact"], json!("ewes-service"));
    assert_eq!(list[0]["url"], json!(format!("{base}/ewes")));
    assert_eq!(
        list[0]["authentication"][0]["token_endpoint"],
        json!(format!("{base}/oauth/token"))
    );
    assert_eq!(
        list[0]["authentication"][0]["client_id"],
        json!("fake-client")
    );
    assert_eq!(list[1]["id"], json!("workflow-service"));
    fake.set_ewes_listed(false);
    let list = request(&base, "GET", REGISTRY, &[], "")
        .await
        .expect("reply")
        .json();
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    fake.set_fault(Fault::NonJson);
    let html = request(&base, "GET", REGISTRY, &[], "")
        .await
        .expect("reply");
    assert_eq!((html.status, html.json()), (200, Value::Null));
    assert_eq!(fake.hits(REGISTRY), 3);
    fake.stop().await;
}

#[tokio::test]
async fn token_flow_guards_service_info() {
    let fake = FakeDnastack::start(DnastackConfig::default()).await;
    let base = fake.base_url();
    let good = "grant_type=client_credentials&client_id=fake-client&client_secret=fake-secret&resource=x&scope=wes";
    let bad_client = "grant_type=client_credentials&client_id=fake-client&client_secret=wrong";
    let bad_grant = "grant_type=password&client_id=fake-client&client_secret=fake-secret";
    let denied = request(&base, "POST", "/oauth/token", &[FORM], bad_client)
        .await
        .expect("reply");
    assert_eq!(
        (denied.status, denied.json()),
        (401, json!({"error": "invalid_client"}))
    );
    let grant = request(&base, "POST", "/oauth/token", &[FORM], bad_grant)
        .await
        .expect("reply");
    assert_eq!(
        (grant.status, grant.json()),
        (400, json!({"error": "unsupported_grant_type"}))
    );
    let junk = request(&base, "POST", "/oauth/token", &[], "{}")
        .await
        .expect("reply");
    assert_eq!(junk.status, 400);
    let issued = request(&base, "POST", "/oauth/token", &[FORM], good)
        .await
        .expect("reply")
        .json();
    assert_eq!(
        (issued["token_type"].as_str(), issued["expires_in"].as_u64()),
        (Some("Bearer"), Some(300))
    );
    let token = issued["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(token.split('.').count(), 3);
    assert_eq!(
        fake.last_token_request()
            .and_then(|f| f.get("scope").cloned())
            .as_deref(),
        Some("wes")
    );
    let anon = request(&base, "GET", INFO, &[], "").await.expect("reply");
    assert_eq!(
        (anon.status, anon.json()["error_code"].as_u64()),
        (401, Some(401))
    );
    assert!(anon.json()["trace_id"].is_string());
    let auth = format!("Bearer {token}");
    let info = request(&base, "GET", INFO, &[("Authorization", &auth)], "")
        .await
        .expect("reply");
    assert_eq!(
        (info.status, info.json()["type"]["artifact"].as_str()),
        (200, Some("ewes-service"))
    );
    let other = "/ewes/other/ga4gh/wes/v1/service-info";
    let forbidden = request(&base, "GET", other, &[("Authorization", &auth)], "")
        .await
        .expect("reply");
    assert_eq!(
        (forbidden.status, forbidden.json()["error_code"].as_u64()),
        (403, Some(403))
    );
    fake.expire_tokens();
    let expired = request(&base, "GET", INFO, &[("Authorization", &auth)], "")
        .await
        .expect("reply");
    assert_eq!(expired.status, 401);
    assert_eq!(fake.hits("/oauth/token"), 4);
    fake.stop().await;
}
