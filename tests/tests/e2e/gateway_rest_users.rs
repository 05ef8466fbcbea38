//! REST over the gateway, users: the profile (PATCH implies its mask),
//! the quota, stored credentials in the original's shape (never their
//! secrets), and the admin's users, roles and audit log.

use fedimpute_proto::registry as rpb;
use fedimpute_tests::{
    TestDb,
    fakes::cloudgene::{CloudgeneConfig, FakeCloudgene},
    harness::{gateway::TestGateway, users::password_of},
};
use serde_json::{Value, json};

use crate::gateway_common::{CG_TOKEN, Rest, sorted_keys};

#[tokio::test]
async fn profile_and_credentials_over_rest_never_return_secrets() {
    // Arrange
    let gw = TestGateway::spawn(TestDb::sqlite()).await;
    let rest = Rest(&gw);
    let fake = FakeCloudgene::start(CloudgeneConfig {
        tokens: vec![CG_TOKEN.to_owned()],
        ..CloudgeneConfig::default()
    })
    .await;
    let service = gw
        .platform
        .service(
            "Cloudgene",
            rpb::ApiType::Michigan,
            &fake.base_url(),
            true,
            json!({}),
        )
        .await;
    let (_, token) = gw.platform.users.researcher("ada").await;
    let me = Some(token.as_str());

    // The profile: every field, defaults filled.
    let profile = rest.get("/api/users/me/profile/", me).await.ok(200).clone();
    assert_eq!(
        sorted_keys(&profile),
        [
            "bio",
            "country",
            "department",
            "email_notifications",
            "institution",
            "phone",
            "position",
            "preferred_language",
            "research_interests",
            "time_zone"
        ]
    );
    assert_eq!(profile["preferred_language"], "en");
    assert_eq!(profile["time_zone"], "UTC");
    // PATCH changes the keys sent, and only those.
    let patched = rest
        .patch(
            "/api/users/me/profile/",
            me,
            json!({"institution": "UCT", "department": "Genetics"}),
        )
        .await;
    assert_eq!(patched.ok(200)["department"], "Genetics");
    let patched = rest
        .patch(
            "/api/users/me/profile",
            me,
            json!({"institution": "Wits", "email_notifications": false}),
        )
        .await;
    let patched = patched.ok(200);
    assert_eq!(patched["institution"], "Wits");
    assert_eq!(patched["department"], "Genetics", "a key not sent is kept");
    assert_eq!(patched["email_notifications"], false);
    let read = rest.get("/api/users/me/profile/", me).await;
    assert_eq!(&read.json, patched);
    let unknown = rest
        .patch("/api/users/me/profile/", me, json!({"nickname": "ada"}))
        .await;
    assert_eq!(unknown.error(400, "INVALID_ARGUMENT"), ["nickname"]);
    let quota = rest.get("/api/users/me/quota/", me).await;
    assert_eq!(quota.ok(200)["monthly_job_limit"], 10);
    assert!(quota.json["storage_limit_bytes"].is_i64());

    // Credentials, in the original's shape: stored, listed, verified, deleted.
    let secret = "cg-token-ada-0123456789abcdef";
    assert_eq!(secret, CG_TOKEN);
    let put = rest
        .post(
            "/api/users/me/service-credentials/",
            me,
            json!({
                "service_id": service.id, "credential_type": "api_token", "api_token": secret,
                "oauth_token": "", "username": "", "password": "", "label": "my MIS token",
            }),
        )
        .await;
    let credential = put.ok(200).clone();
    assert!(
        !put.text.contains(secret),
        "the secret never comes back: {}",
        put.text
    );
    assert_eq!(credential["service_id"], service.id);
    assert_eq!(credential["credential_type"], "api_token");
    assert_eq!(credential["label"], "my MIS token");
    assert_eq!(credential["has_api_token"], true);
    assert!(credential.get("api_token").is_none() && credential.get("password").is_none());
    let listed = rest.get("/api/users/me/service-credentials", me).await;
    assert_eq!(listed.ok(200).as_array().map(Vec::len), Some(1));
    assert!(!listed.text.contains(secret));
    let one = format!("/api/users/me/service-credentials/{}/", service.id);
    let got = rest.get(&one, me).await;
    assert_eq!(got.ok(200)["label"], "my MIS token");
    assert!(!got.text.contains(secret));
    let verified = rest.post(&format!("{one}verify/"), me, json!({})).await;
    assert_eq!(verified.ok(200)["is_verified"], true, "{}", verified.text);
    assert!(!verified.text.contains(secret));
    rest.delete(&one, me).await.no_content();
    rest.get(&one, me).await.error(404, "NOT_FOUND");
    rest.delete(&one, me).await.error(404, "NOT_FOUND");
    assert_eq!(
        rest.get("/api/users/me/service-credentials/", me)
            .await
            .json,
        json!([])
    );
    let nothing = rest
        .post(
            "/api/users/me/service-credentials/",
            me,
            json!({"service_id": 987_654, "api_token": "whatever-token-123"}),
        )
        .await;
    nothing.error(404, "NOT_FOUND");
    rest.get("/api/users/me/service-credentials/", None)
        .await
        .error(401, "UNAUTHENTICATED");
    gw.shutdown().await;
    fake.stop().await;
}

#[tokio::test]
async fn admins_manage_users_roles_and_read_the_audit_log_over_rest() {
    // Arrange
    let gw = TestGateway::spawn(TestDb::sqlite()).await;
    let rest = Rest(&gw);
    let admin = gw.admin_token().await;
    let admin = Some(admin.as_str());
    let (_, researcher) = gw.platform.users.researcher("ada").await;
    let service = gw
        .platform
        .service(
            "MIS",
            rpb::ApiType::Michigan,
            "https://imputation.example.org",
            true,
            json!({}),
        )
        .await;

    // Only admins list users.
    rest.get("/api/users/", Some(&researcher))
        .await
        .error(403, "PERMISSION_DENIED");
    let all = rest.get("/api/users/", admin).await;
    let all = all.ok(200);
    let names: Vec<&str> = all["users"]
        .as_array()
        .expect("users")
        .iter()
        .filter_map(|u| u["username"].as_str())
        .collect();
    assert!(
        names.contains(&"admin") && names.contains(&"ada"),
        "{names:?}"
    );
    assert!(all["next_page_token"].is_string());
    let found = rest.get("/api/users/?q=ada", admin).await;
    assert_eq!(found.ok(200)["users"].as_array().map(Vec::len), Some(1));

    // Create, read, patch.
    let password = password_of("heidi");
    let created = rest
        .post(
            "/api/users/",
            admin,
            json!({
                "username": "heidi", "email": "heidi@example.org", "password": password,
                "first_name": "H", "roles": [{"role": "viewer"}],
                "profile": {"institution": "KEMRI"},
            }),
        )
        .await;
    let heidi = created.ok(201).clone();
    assert!(!created.text.contains(&password));
    assert_eq!(heidi["roles"][0]["role"], "viewer");
    assert_eq!(heidi["roles"][0]["service_id"], Value::Null);
    assert_eq!(heidi["profile"]["institution"], "KEMRI");
    let id = heidi["id"].as_i64().expect("a numeric id");
    let path = format!("/api/users/{id}/");
    assert_eq!(rest.get(&path, admin).await.ok(200)["username"], "heidi");
    let patched = rest
        .patch(&path, admin, json!({"first_name": "Heidi"}))
        .await;
    let patched = patched.ok(200);
    assert_eq!(patched["first_name"], "Heidi");
    assert_eq!(
        patched["email"], "heidi@example.org",
        "a key not sent is kept"
    );
    let limited = rest
        .patch(&path, admin, json!({"quota": {"monthly_job_limit": 5}}))
        .await;
    assert_eq!(limited.ok(200)["quota"]["monthly_job_limit"], 5);
    assert_eq!(limited.json["first_name"], "Heidi");
    rest.patch(&path, Some(&researcher), json!({"first_name": "X"}))
        .await
        .error(403, "PERMISSION_DENIED");

    // Roles: a bare array, scoped to a service.
    let roles = rest
        .post(
            &format!("{path}roles/"),
            admin,
            json!({"roles": [{"role": "service_admin", "service_id": service.id}]}),
        )
        .await;
    let roles = roles.ok(200).clone();
    assert_eq!(roles[0]["role"], "service_admin");
    assert_eq!(roles[0]["service_id"], service.id);
    assert!(roles[0]["granted_at"].is_string());
    assert_eq!(
        rest.get(&format!("{path}roles"), admin).await.ok(200),
        &roles
    );
    let bad_role = rest
        .post(
            &format!("{path}roles/"),
            admin,
            json!({"roles": [{"role": "overlord"}]}),
        )
        .await;
    assert_eq!(bad_role.error(400, "INVALID_ARGUMENT"), ["roles[0].role"]);

    // Deactivate and reactivate.
    let off = rest
        .post(&format!("{path}deactivate/"), admin, json!({}))
        .await;
    assert_eq!(off.ok(200)["is_active"], false);
    let login = json!({"username": "heidi", "password": password});
    let refused = rest.post("/api/auth/login/", None, login.clone()).await;
    assert!(
        matches!(refused.status.as_u16(), 401 | 403),
        "{}",
        refused.text
    );
    let on = rest
        .post(&format!("{path}reactivate"), admin, json!({}))
        .await;
    assert_eq!(on.ok(200)["is_active"], true);
    rest.post("/api/auth/login/", None, login).await.ok(200);

    // The audit log, filtered by action.
    let audit = rest.get("/api/audit-logs/?action=roles_set", admin).await;
    let entries = audit.ok(200)["entries"]
        .as_array()
        .expect("entries")
        .clone();
    assert!(!entries.is_empty());
    assert!(
        entries.iter().all(|e| e["action"] == "roles_set"),
        "{entries:?}"
    );
    let id_text = id.to_string();
    assert!(entries.iter().any(|e| e["resource_id"] == id_text.as_str()));
    assert!(
        entries
            .iter()
            .all(|e| e["timestamp"].is_string() && e["id"].is_i64())
    );
    rest.get("/api/audit-logs/", Some(&researcher))
        .await
        .error(403, "PERMISSION_DENIED");

    // Delete: 204, then gone.
    rest.delete(&path, admin).await.no_content();
    rest.get(&path, admin).await.error(404, "NOT_FOUND");
    let bad_id = rest.get("/api/users/abc/", admin).await;
    assert_eq!(bad_id.error(400, "INVALID_ARGUMENT"), ["id"]);
    gw.shutdown().await;
}
