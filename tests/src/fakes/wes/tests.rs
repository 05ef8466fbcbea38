//! Tests of the fake wes server over real loopback HTTP.

use super::*;
use crate::fakes::testing::request;

const INFO: &str = "/ga4gh/wes/v1/service-info";

#[tokio::test]
async fn weskit_service_info_shape_and_faults() {
    let fake = FakeWes::start(WesConfig::default()).await;
    let base = fake.base_url();
    assert!(!base.ends_with('/') && !base.contains("/ga4gh"));
    let info = request(&base, "GET", INFO, &[], "").await.expect("reply");
    assert_eq!(info.status, 200);
    let info = info.json();
    assert_eq!(
        info["workflow_type_versions"]["NFL"]["workflow_type_version"][0],
        json!("22.10.0")
    );
    assert_eq!(info["workflow_engine_versions"]["NFL"], json!("22.10.0"));
    assert_eq!(info["supported_wes_versions"], json!(["1.0.0"]));
    assert_eq!(
        info["supported_filesystem_protocols"],
        json!(["file", "S3"])
    );
    assert_eq!(
        info["system_state_counts"].as_object().map(|m| m.len()),
        Some(STATES.len())
    );
    assert_eq!(
        (
            info["system_state_counts"]["QUEUED"].as_u64(),
            info["system_state_counts"]["RUNNING"].as_u64()
        ),
        (Some(2), Some(1))
    );
    let missing = request(&base, "GET", "/ga4gh/wes/v1/nope", &[], "")
        .await
        .expect("reply");
    assert_eq!(
        (missing.status, missing.json()["status_code"].as_u64()),
        (404, Some(404))
    );
    fake.set_fault(Fault::nginx_bad_gateway());
    let bad = request(&base, "GET", INFO, &[], "").await.expect("reply");
    assert_eq!(bad.status, 502);
    assert!(bad.body.contains("nginx"));
    fake.set_fault(Fault::Delay(std::time::Duration::from_millis(50)));
    let slow = request(&base, "GET", INFO, &[], "").await.expect("reply");
    assert_eq!(slow.status, 200);
    assert_eq!(fake.hits(INFO), 3);
    fake.stop().await;
}

#[tokio::test]
async fn starter_kit_shape_and_bearer_auth() {
    let config = WesConfig {
        style: WesStyle::StarterKit,
        require_token: Some("wes-token".into()),
    };
    let fake = FakeWes::start(config).await;
    let base = fake.base_url();
    let none = request(&base, "GET", INFO, &[], "").await.expect("reply");
    assert_eq!(
        (none.status, none.json()),
        (401, json!({"msg": "Missing Authorization Header"}))
    );
    let wrong = request(&base, "GET", INFO, &[("Authorization", "Bearer nope")], "")
        .await
        .expect("reply");
    assert_eq!(wrong.status, 401);
    let info = request(
        &base,
        "GET",
        INFO,
        &[("Authorization", "Bearer wes-token")],
        "",
    )
    .await
    .expect("reply");
    assert_eq!(info.status, 200);
    let info = info.json();
    assert_eq!(info["id"], json!("org.ga4gh.starterkit.wes"));
    assert_eq!(info["type"]["artifact"], json!("wes"));
    assert_eq!(
        info["workflow_type_versions"],
        json!({"WDL": ["1.0"], "NEXTFLOW": ["21.04.0"]})
    );
    assert_eq!(info["workflow_engine_versions"], json!({"NATIVE": "1.0.0"}));
    assert!(
        info.get("supported_wes_versions").is_none() && info.get("system_state_counts").is_none()
    );
    let runs = request(&base, "GET", "/ga4gh/wes/v1/runs", &[], "")
        .await
        .expect("reply");
    assert_eq!(runs.status, 401);
    let missing = request(
        &base,
        "GET",
        "/x",
        &[("Authorization", "Bearer wes-token")],
        "",
    )
    .await;
    let missing = missing.expect("reply").json();
    assert_eq!(
        (missing["error"].as_str(), missing["status_code"].as_u64()),
        (Some("Not Found"), Some(404))
    );
    assert_eq!(fake.hits(INFO), 3);
    fake.stop().await;
}
