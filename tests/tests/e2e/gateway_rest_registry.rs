//! REST over the gateway, registry: services and reference panels CRUD,
//! the panel filter by service, discovery, health and its history, panel
//! sync from a (fake) Cloudgene, and the operations endpoints. JSON rules:
//! enums as lower-case words in either form, int64 as numbers, unset
//! optional fields and messages as `null`, secrets never returned.

use fedimpute_tests::{
    TestDb,
    fakes::cloudgene::{CloudgeneConfig, FakeCloudgene},
    harness::gateway::TestGateway,
};
use serde_json::{Value, json};

use crate::gateway_common::{CG_TOKEN, Rest, ids};

#[tokio::test]
async fn services_and_panels_are_created_read_patched_and_deleted_over_rest() {
    // Arrange
    let gw = TestGateway::spawn(TestDb::sqlite()).await;
    let rest = Rest(&gw);
    let admin = gw.admin_token().await;
    let admin = Some(admin.as_str());
    let (_, researcher) = gw.platform.users.researcher("ada").await;
    let wes = json!({
        "name": "eLwazi WES node", "api_type": "ga4gh",
        "base_url": "https://wes.example.org/ga4gh/wes/v1/",
        "supported_builds": ["hg38"], "secrets": {"api_token": "wes-secret-0042"},
        "location_country": "South Africa", "location_coordinates": {"lat": -33.9, "lon": 18.4},
    });

    // Act and assert: only admins create; 201 with the normalised service.
    rest.post("/api/services/", Some(&researcher), wes.clone())
        .await
        .error(403, "PERMISSION_DENIED");
    rest.post("/api/services/", None, wes.clone())
        .await
        .error(401, "UNAUTHENTICATED");
    let created = rest.post("/api/services/", admin, wes.clone()).await;
    let service = created.ok(201).clone();
    assert!(
        !created.text.contains("wes-secret-0042"),
        "{}",
        created.text
    );
    let id = service["id"].as_i64().expect("a numeric id");
    assert_eq!(service["slug"], "elwazi-wes-node");
    assert_eq!(service["api_type"], "ga4gh");
    assert_eq!(service["base_url"], "https://wes.example.org");
    assert_eq!(service["supported_builds"], json!(["hg38"]));
    assert_eq!(service["secret_names"], json!(["api_token"]));
    assert_eq!(service["health_status"], "unknown");
    assert_eq!(service["requires_auth"], true);
    assert_eq!(service["is_active"], true);
    assert_eq!(service["cpu_total"], Value::Null, "unset optional: null");
    assert_eq!(
        service["last_health_check"],
        Value::Null,
        "unset message: null"
    );
    assert_eq!(
        service["location_coordinates"],
        json!({"lat": -33.9, "lon": 18.4})
    );
    assert!(
        service["created_at"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );
    // Enum values are accepted as the full name too.
    let mis = rest
        .post(
            "/api/services/",
            admin,
            json!({"name": "MIS", "api_type": "API_TYPE_MICHIGAN", "base_url": "https://mis.example.org"}),
        )
        .await;
    let mis = mis.ok(201).clone();
    assert_eq!(mis["api_type"], "michigan");
    let mis_id = mis["id"].as_i64().unwrap();

    // Read: a bare list, one by id or slug.
    let listed = rest.get("/api/services/", None).await;
    assert_eq!(ids(listed.ok(200)).len(), 2);
    assert_eq!(
        rest.get(&format!("/api/services/{id}/"), None)
            .await
            .ok(200)["id"],
        id
    );
    assert_eq!(
        rest.get("/api/services/elwazi-wes-node", None)
            .await
            .ok(200)["id"],
        id
    );
    rest.get("/api/services/no-such-node/", None)
        .await
        .error(404, "NOT_FOUND");
    let filtered = rest.get("/api/services/?api_type=michigan", None).await;
    assert_eq!(ids(filtered.ok(200)), [json!(mis_id)]);

    // PATCH changes what it names.
    let path = format!("/api/services/{id}/");
    let patched = rest
        .patch(
            &path,
            admin,
            json!({"description": "Cape Town node", "cpu_total": 64}),
        )
        .await;
    let patched = patched.ok(200);
    assert_eq!(patched["description"], "Cape Town node");
    assert_eq!(patched["cpu_total"], 64);
    assert_eq!(patched["name"], "eLwazi WES node", "a key not sent is kept");
    assert_eq!(patched["secret_names"], json!(["api_token"]));
    rest.patch(&path, Some(&researcher), json!({"description": "mine"}))
        .await
        .error(403, "PERMISSION_DENIED");

    // Panels: 201, filtered by ?service_id= and under the service.
    let panel = |service_id: i64, name: &str, external: &str| {
        json!({"service_id": service_id, "name": name, "external_id": external,
               "build": "hg38", "populations": ["afr", "mixed"]})
    };
    let afr = rest
        .post(
            "/api/reference-panels/",
            admin,
            panel(id, "AFR panel", "afr-1"),
        )
        .await;
    let afr = afr.ok(201).clone();
    assert!(afr["slug"].as_str().is_some_and(|s| !s.is_empty()), "{afr}");
    assert_eq!(afr["build"], "hg38");
    assert_eq!(afr["populations"], json!(["afr", "mixed"]));
    assert_eq!(afr["samples_count"], Value::Null);
    assert_eq!(afr["is_available"], true);
    let other = rest
        .post(
            "/api/reference-panels",
            admin,
            panel(mis_id, "1000G", "apps@1000g@1"),
        )
        .await;
    let other = other.ok(201).clone();
    rest.post(
        "/api/reference-panels/",
        Some(&researcher),
        panel(id, "Mine", "mine"),
    )
    .await
    .error(403, "PERMISSION_DENIED");
    let everything = rest.get("/api/reference-panels/", None).await;
    assert_eq!(ids(everything.ok(200)).len(), 2);
    let of_wes = rest
        .get(&format!("/api/reference-panels/?service_id={id}"), None)
        .await;
    assert_eq!(ids(of_wes.ok(200)), [afr["id"].clone()]);
    let under = rest
        .get(&format!("/api/services/{mis_id}/reference-panels/"), None)
        .await;
    assert_eq!(ids(under.ok(200)), [other["id"].clone()]);
    let panel_path = format!("/api/reference-panels/{}/", afr["id"]);
    assert_eq!(rest.get(&panel_path, None).await.ok(200), &afr);
    let renamed = rest
        .patch(&panel_path, admin, json!({"display_name": "African panel"}))
        .await;
    assert_eq!(renamed.ok(200)["display_name"], "African panel");
    assert_eq!(renamed.json["external_id"], "afr-1");
    rest.delete(&panel_path, admin).await.no_content();
    rest.get(&panel_path, None).await.error(404, "NOT_FOUND");

    // Deleting a service says what went with it.
    let mis_path = format!("/api/services/{mis_id}/");
    rest.delete(&mis_path, Some(&researcher))
        .await
        .error(403, "PERMISSION_DENIED");
    let deleted = rest.delete(&mis_path, admin).await;
    let deleted = deleted.ok(200);
    assert_eq!(deleted["deleted_service_id"], mis_id);
    assert_eq!(deleted["deleted_service_name"], "MIS");
    assert_eq!(deleted["deleted_panels"], 1);
    assert!(deleted["message"].is_string());
    rest.get(&mis_path, None).await.error(404, "NOT_FOUND");
    let left = rest
        .get(&format!("/api/reference-panels/?service_id={mis_id}"), None)
        .await;
    assert_eq!(left.ok(200), &json!([]));
    gw.shutdown().await;
}

#[tokio::test]
async fn health_discovery_and_panel_sync_over_rest() {
    // Arrange: a fake Cloudgene registered with a service-level token.
    let gw = TestGateway::spawn(TestDb::sqlite()).await;
    let rest = Rest(&gw);
    let admin = gw.admin_token().await;
    let admin = Some(admin.as_str());
    let (_, researcher) = gw.platform.users.researcher("ada").await;
    let fake = FakeCloudgene::start(CloudgeneConfig {
        tokens: vec![CG_TOKEN.to_owned()],
        ..CloudgeneConfig::default()
    })
    .await;
    let created = rest
        .post(
            "/api/services/",
            admin,
            json!({"name": "H3Africa", "api_type": "michigan", "base_url": fake.base_url(),
                   "secrets": {"api_token": CG_TOKEN}, "supported_builds": ["hg19", "hg38"],
                   "location_coordinates": {"lat": -26.2, "lon": 28.0}}),
        )
        .await;
    let id = created.ok(201)["id"].as_i64().unwrap();
    let discover = "/api/services/discover?only_active=true&only_healthy=true&limit=50";

    // Never probed: unknown, and not discovered as healthy.
    let health = rest.get(&format!("/api/services/{id}/health/"), None).await;
    let health = health.ok(200);
    assert_eq!(health["service_id"], id);
    assert_eq!(health["status"], "unknown");
    assert_eq!(health["is_available"], false);
    assert_eq!(health["response_time_ms"], Value::Null);
    assert_eq!(
        rest.get(discover, Some(&researcher)).await.ok(200),
        &json!([])
    );

    // A probe on demand (any signed-in user), then discovery finds it.
    let check = format!("/api/services/{id}/health-check/");
    rest.post(&check, None, json!({}))
        .await
        .error(401, "UNAUTHENTICATED");
    let checked = rest.post(&check, Some(&researcher), json!({})).await;
    let checked = checked.ok(200);
    assert_eq!(checked["status"], "healthy", "{checked}");
    assert_eq!(checked["is_available"], true);
    assert!(checked["response_time_ms"].is_number());
    assert!(checked["checked_at"].is_string());
    let found = rest.get(discover, Some(&researcher)).await;
    let found = found.ok(200).as_array().expect("a bare array").clone();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["service"]["id"], id);
    let meta = &found[0]["discovery_metadata"];
    assert!(meta["score"].is_number());
    assert_eq!(
        meta["distance_km"],
        Value::Null,
        "no caller position: no distance"
    );
    for part in ["health", "distance", "response_time", "resources"] {
        assert!(meta["breakdown"][part].is_number(), "{meta}");
    }
    let near = rest
        .get(
            "/api/services/discover/?latitude=-33.9&longitude=18.4",
            None,
        )
        .await;
    assert!(near.ok(200)[0]["discovery_metadata"]["distance_km"].is_number());
    let history = rest
        .get(&format!("/api/services/{id}/health-history/"), None)
        .await;
    let checks = history.ok(200)["checks"]
        .as_array()
        .expect("checks")
        .clone();
    assert_eq!(checks.len(), 1);
    assert_eq!(checks[0]["status"], "healthy");
    assert_eq!(
        rest.get("/api/services/at-risk/", admin).await.ok(200),
        &json!([])
    );

    // Panel sync with the stored service token, then again: nothing new.
    let sync = format!("/api/services/{id}/sync-reference-panels/");
    let synced = rest.post(&sync, admin, json!({})).await;
    let synced = synced.ok(200).clone();
    assert_eq!(synced["service_id"], id);
    assert_eq!(synced["app_id"], "imputationserver2@2.0.12");
    assert_eq!(synced["created"], 3);
    let externals: Vec<&str> = synced["panels"]
        .as_array()
        .expect("panels")
        .iter()
        .filter_map(|p| p["external_id"].as_str())
        .collect();
    assert!(
        externals.contains(&"apps@h3africa-v6hc-s@1.0.0"),
        "{externals:?}"
    );
    let again = rest
        .post(&sync, admin, json!({"api_token": CG_TOKEN}))
        .await;
    assert_eq!(again.ok(200)["created"], 0);
    assert_eq!(again.json["unchanged"], 3);
    rest.post(&sync, Some(&researcher), json!({}))
        .await
        .error(403, "PERMISSION_DENIED");
    let panels = rest
        .get(&format!("/api/reference-panels?service_id={id}"), None)
        .await;
    assert_eq!(ids(panels.ok(200)).len(), 3);

    // Operations, at the root.
    let aggregate = rest.get("/health", None).await;
    let aggregate = aggregate.ok(200);
    assert_eq!(aggregate["status"], "healthy");
    assert!(aggregate["timestamp"].is_string());
    assert_eq!(
        aggregate["services"],
        json!({"gateway": "healthy", "registry": "healthy", "users": "healthy", "jobs": "healthy"})
    );
    assert_eq!(
        rest.get("/healthz", None).await.ok(200),
        &json!({"status": "ok"})
    );
    assert_eq!(
        rest.get("/readyz", None).await.ok(200),
        &json!({"status": "ready"})
    );
    gw.shutdown().await;
    fake.stop().await;
}
