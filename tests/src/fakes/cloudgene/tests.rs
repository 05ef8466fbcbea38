//! Tests of the fake cloudgene server over real loopback HTTP.

use super::*;
use crate::fakes::testing::request;

const TOKEN: (&str, &str) = ("X-Auth-Token", "cloudgene-test-token");

#[tokio::test]
async fn server_probe_anonymous_logged_in_and_faults() {
    let fake = FakeCloudgene::start(CloudgeneConfig::default()).await;
    let base = fake.base_url();
    let anon = request(&base, "GET", "/api/v2/server", &[], "")
        .await
        .expect("reply")
        .json();
    assert_eq!(
        (anon["name"].as_str(), anon["loggedIn"].as_bool()),
        (Some("Fake Cloudgene"), Some(false))
    );
    assert_eq!(
        (
            anon["maintenace"].as_bool(),
            anon["apps"].as_array().map(Vec::len)
        ),
        (Some(false), Some(0))
    );
    let user = request(&base, "GET", "/api/v2/server", &[TOKEN], "")
        .await
        .expect("reply")
        .json();
    assert_eq!(user["loggedIn"], json!(true));
    assert_eq!(user["user"]["username"], json!("fake-user"));
    assert_eq!(user["apps"][0]["id"], json!("imputationserver2@2.0.12"));
    assert_eq!(user["apps"][0]["version"], json!("2.0.12"));
    fake.set_maintenance(true);
    let down = request(&base, "GET", "/api/v2/server", &[], "")
        .await
        .expect("reply")
        .json();
    assert_eq!(down["maintenace"], json!(true));
    fake.set_fault(Fault::Status(500, "boom".into(), "text/plain"));
    let boom = request(&base, "GET", "/api/v2/server", &[], "")
        .await
        .expect("reply");
    assert_eq!((boom.status, boom.body.as_str()), (500, "boom"));
    fake.set_fault(Fault::NonJson);
    let html = request(&base, "GET", "/api/v2/server", &[], "")
        .await
        .expect("reply");
    assert_eq!(html.status, 200);
    assert!(
        html.header("content-type")
            .is_some_and(|c| c.starts_with("text/html"))
    );
    assert_eq!(fake.hits("/api/v2/server"), 5);
    assert_eq!(
        fake.last_token("/api/v2/server").as_deref(),
        Some("cloudgene-test-token")
    );
    let counters = request(&base, "GET", "/api/v2/server/counters", &[], "")
        .await
        .expect("reply")
        .json();
    assert_eq!(counters["queue"]["size"], json!(0));
    fake.stop().await;
}

#[tokio::test]
async fn apps_route_auth_lookup_and_panels() {
    let fake = FakeCloudgene::start(CloudgeneConfig::default()).await;
    let base = fake.base_url();
    let anon = request(
        &base,
        "GET",
        "/api/v2/server/apps/imputationserver2",
        &[],
        "",
    )
    .await
    .expect("reply");
    assert_eq!(
        (anon.status, anon.json()["message"].as_str()),
        (401, Some("Unauthorized"))
    );
    for id in ["imputationserver2", "imputationserver2@2.0.12"] {
        let path = format!("/api/v2/server/apps/{id}");
        let app = request(&base, "GET", &path, &[TOKEN], "")
            .await
            .expect("reply");
        assert_eq!(app.status, 200);
        let app = app.json();
        let params = app["params"].as_array().cloned().unwrap_or_default();
        let by_id = |id: &str| {
            params
                .iter()
                .find(|p| p["id"] == json!(id))
                .cloned()
                .unwrap_or_default()
        };
        assert_eq!(by_id("refpanel")["type"], json!("app_list"));
        assert_eq!(
            by_id("refpanel")["values"][1]["key"],
            json!("apps@h3africa-v6hc-s@1.0.0")
        );
        assert_eq!(by_id("population")["bind"], json!("refpanel"));
        assert_eq!(
            by_id("population")["values"][2]["values"][0]["key"],
            json!("all")
        );
        assert_eq!(by_id("files")["type"], json!("local-folder"));
        assert_eq!(by_id("phasing")["values"].as_array().map(Vec::len), Some(3));
    }
    let missing = request(&base, "GET", "/api/v2/server/apps/minimac4", &[TOKEN], "")
        .await
        .expect("reply");
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json()["success"], json!(false));
    fake.set_panels(vec![FakePanel::new("apps@x@1", "X", &["off"])]);
    let app = request(
        &base,
        "GET",
        "/api/v2/server/apps/imputationserver2",
        &[TOKEN],
        "",
    )
    .await
    .expect("reply");
    assert_eq!(
        app.json()["params"][1]["values"],
        json!([{"key": "apps@x@1", "value": "X"}])
    );
    fake.set_maintenance(true);
    let down = request(
        &base,
        "GET",
        "/api/v2/server/apps/imputationserver2",
        &[TOKEN],
        "",
    )
    .await
    .expect("reply");
    assert_eq!(
        (down.status, down.json()["message"].as_str()),
        (503, Some(MAINTENANCE_MESSAGE))
    );
    fake.stop().await;
}

#[tokio::test]
async fn verify_and_unknown_api_routes() {
    let fake = FakeCloudgene::start(CloudgeneConfig::default()).await;
    let base = fake.base_url();
    let form = [("Content-Type", "application/x-www-form-urlencoded")];
    let ok = request(
        &base,
        "POST",
        "/api/v2/tokens/verify",
        &form,
        "token=cloudgene-test-token",
    )
    .await;
    let ok = ok.expect("reply").json();
    assert_eq!(
        (ok["valid"].as_bool(), ok["username"].as_str()),
        (Some(true), Some("fake-user"))
    );
    assert!(ok["expire"].as_str().is_some_and(|e| e.ends_with('Z')));
    let bad = request(&base, "POST", "/api/v2/tokens/verify", &form, "token=nope")
        .await
        .expect("reply");
    assert_eq!(bad.json()["message"], json!("Invalid API Token."));
    let garbage = request(&base, "POST", "/api/v2/tokens/verify", &[], "\u{0}%%")
        .await
        .expect("reply");
    assert_eq!(garbage.json()["valid"], json!(false));
    let other = request(&base, "GET", "/api/v2/admin/users", &[TOKEN], "")
        .await
        .expect("reply");
    assert_eq!(other.status, 401);
    assert_eq!(
        other.json()["_embedded"]["errors"][0]["message"],
        json!("Unauthorized")
    );
    assert_eq!(
        other.json()["_links"]["self"]["href"],
        json!("/api/v2/admin/users")
    );
    assert_eq!(fake.hits("/api/v2/admin/users"), 1);
    fake.stop().await;
}
