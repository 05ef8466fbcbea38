//! REST over the gateway, auth: registration, login and tokens, the
//! current user, refresh, logout, password change and reset by mail.
//! Status codes, JSON shapes and errors as a client sees them.

use std::time::Duration;

use fedimpute_tests::{
    TestDb,
    fakes::smtp::FakeSmtp,
    harness::{gateway::TestGateway, jobs::TestPlatform, users::smtp},
};
use serde_json::json;

use crate::gateway_common::{Rest, sorted_keys};

const GRACE_PASSWORD: &str = "Quartz-Meadow-Falcon-2031!";

/// The reset token in a mail body.
fn reset_token(body: &str) -> String {
    let marker = "https://fedimpute.test/reset-password?token=";
    let start = body
        .find(marker)
        .unwrap_or_else(|| panic!("a reset link in the mail: {body}"))
        + marker.len();
    body[start..]
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != '"' && *c != '<' && *c != '>')
        .collect()
}

#[tokio::test]
async fn auth_over_rest_registers_logs_in_refreshes_changes_and_resets_passwords() {
    // Arrange: the users service mails through a fake relay.
    let mail = FakeSmtp::start().await;
    let url = mail.url();
    let platform =
        TestPlatform::spawn_with(TestDb::sqlite(), |s| s.mail.smtp = Some(smtp(&url)), |_| {})
            .await;
    let gw = TestGateway::in_front_of(platform, |_| {}).await;
    let rest = Rest(&gw);

    // Register: 201 with the user, never the password.
    let body = json!({
        "username": "grace", "email": "grace@example.org", "first_name": "Grace",
        "last_name": "Hopper", "password": GRACE_PASSWORD, "institution": "UCT",
    });
    let created = rest.post("/api/auth/register/", None, body.clone()).await;
    let user = created.ok(201);
    assert!(user["id"].is_i64(), "{user}");
    assert_eq!(user["username"], "grace");
    assert_eq!(user["is_active"], true);
    assert_eq!(user["profile"]["institution"], "UCT");
    assert!(user["date_joined"].is_string());
    assert!(!created.text.contains(GRACE_PASSWORD));
    assert!(user.get("password").is_none() && user.get("password_hash").is_none());
    rest.post("/api/auth/register", None, body.clone())
        .await
        .error(409, "ALREADY_EXISTS");
    let weak = rest
        .post(
            "/api/auth/register/",
            None,
            json!({"username": "ivan", "email": "ivan@example.org", "password": "short"}),
        )
        .await;
    assert!(
        weak.error(400, "INVALID_ARGUMENT")
            .contains(&"password".to_owned())
    );

    // Login by username or email.
    let login = |who: &str, password: &str| {
        rest.post(
            "/api/auth/login/",
            None,
            json!({"username": who, "password": password}),
        )
    };
    let session = login("grace", GRACE_PASSWORD).await;
    let session = session.ok(200).clone();
    assert_eq!(
        sorted_keys(&session),
        [
            "access_token",
            "expires_in",
            "refresh_expires_in",
            "refresh_token",
            "token_type",
            "user"
        ]
    );
    assert!(
        session["token_type"]
            .as_str()
            .unwrap()
            .eq_ignore_ascii_case("bearer")
    );
    assert_eq!(
        session["expires_in"], 900,
        "the access TTL in seconds, a number"
    );
    assert_eq!(session["user"]["username"], "grace");
    let access = session["access_token"].as_str().unwrap().to_owned();
    let refresh = session["refresh_token"].as_str().unwrap().to_owned();
    login("grace@example.org", GRACE_PASSWORD).await.ok(200);
    let wrong = login("grace", "Not-Her-Password-99!").await;
    wrong.error(401, "UNAUTHENTICATED");
    assert_eq!(wrong.header("www-authenticate"), "Bearer");

    // The current user.
    let me = rest.get("/api/auth/user/", Some(&access)).await;
    assert_eq!(me.ok(200)["email"], "grace@example.org");
    rest.get("/api/auth/user/", None)
        .await
        .error(401, "UNAUTHENTICATED");

    // Refresh rotates; a spent refresh token is refused.
    let rotated = rest
        .post(
            "/api/auth/refresh/",
            None,
            json!({"refresh_token": refresh}),
        )
        .await;
    let rotated = rotated.ok(200).clone();
    assert_ne!(rotated["refresh_token"], refresh.as_str());
    assert!(rotated["access_token"].is_string() && rotated["user"]["id"] == user["id"]);
    rest.post(
        "/api/auth/refresh/",
        None,
        json!({"refresh_token": refresh}),
    )
    .await
    .error(401, "UNAUTHENTICATED");
    rest.post("/api/auth/refresh/", None, json!({}))
        .await
        .error(400, "INVALID_ARGUMENT");

    // Change the password: the wrong current one names its field.
    let session = login("grace", GRACE_PASSWORD).await.ok(200).clone();
    let access = session["access_token"].as_str().unwrap().to_owned();
    let changed_to = "Cobalt-Harbour-Lynx-2032?";
    let refused = rest
        .post(
            "/api/auth/change-password/",
            Some(&access),
            json!({"current_password": "Not-Her-Password-99!", "new_password": changed_to}),
        )
        .await;
    assert_eq!(refused.error(400, "INVALID_ARGUMENT"), ["current_password"]);
    let changed = rest
        .post(
            "/api/auth/change-password/",
            Some(&access),
            json!({"current_password": GRACE_PASSWORD, "new_password": changed_to}),
        )
        .await;
    let changed = changed.ok(200);
    assert!(changed["message"].is_string() && changed["updated_at"].is_string());
    login("grace", GRACE_PASSWORD)
        .await
        .error(401, "UNAUTHENTICATED");
    let session = login("grace", changed_to).await.ok(200).clone();

    // Logout ends the session: 204, and its refresh token is dead.
    let access = session["access_token"].as_str().unwrap();
    let refresh = session["refresh_token"].as_str().unwrap();
    rest.post(
        "/api/auth/logout/",
        Some(access),
        json!({"refresh_token": refresh}),
    )
    .await
    .no_content();
    rest.post(
        "/api/auth/refresh/",
        None,
        json!({"refresh_token": refresh}),
    )
    .await
    .error(401, "UNAUTHENTICATED");

    // Password reset: the same answer for any address; the mailed token works once.
    let known = rest
        .post(
            "/api/auth/password-reset/",
            None,
            json!({"email": "grace@example.org"}),
        )
        .await;
    let unknown = rest
        .post(
            "/api/auth/password-reset/",
            None,
            json!({"email": "nobody@example.org"}),
        )
        .await;
    assert_eq!(known.ok(200), unknown.ok(200));
    assert!(known.json["message"].is_string());
    let mails = mail.wait_for_messages(1, Duration::from_secs(15)).await;
    let token = reset_token(&mails[0].body());
    let reset_to = "Saffron-Glacier-Otter-2033&";
    rest.post(
        "/api/auth/password-reset/confirm/",
        None,
        json!({"token": token, "new_password": reset_to}),
    )
    .await
    .ok(200);
    let again = rest
        .post(
            "/api/auth/password-reset/confirm/",
            None,
            json!({"token": token, "new_password": "Another-Pass-Word-2034!"}),
        )
        .await;
    assert_eq!(again.error(400, "INVALID_ARGUMENT"), ["token"]);
    login("grace", reset_to).await.ok(200);
    login("grace", changed_to)
        .await
        .error(401, "UNAUTHENTICATED");
    gw.shutdown().await;
    mail.stop().await;
}
