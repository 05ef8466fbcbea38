//! The server routes: `GET /api/v2/server` (the health probe), counters, app details (the
//! reference panels), token verification, and the Micronaut-style fallback.

use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State as Shared};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    APP_NAME, MAINTENANCE_MESSAGE, SharedState, app, app_version, auth_token, message,
    unauthorized, user_of,
};
use crate::fakes::{apply_fault, json_reply, lock};

fn user_json(username: &str) -> Value {
    json!({"username": username, "mail": format!("{username}@example.org"), "admin": false,
        "name": format!("Fake User ({username})")})
}

pub(super) async fn server_info(
    Shared(state): Shared<SharedState>,
    headers: HeaderMap,
) -> Response {
    let fault = lock(&state).fault.clone();
    if let Some(response) = apply_fault(fault).await {
        return response;
    }
    let state = lock(&state);
    let token = auth_token(&headers);
    let mut body = json!({
        "name": state.config.name, "background": "#f8f9fa", "foreground": "#343a40",
        "footer": "", "emailRequired": true, "oauth": [], "navigation": [],
        "loggedIn": false, "maintenace": state.maintenance,
        "maintenaceMessage": MAINTENANCE_MESSAGE, "apps": [],
    });
    if let (Some(username), Some(map)) = (user_of(&state, token.as_deref()), body.as_object_mut()) {
        let app = &state.config.app_id;
        map.insert("loggedIn".into(), json!(true));
        map.insert("user".into(), user_json(&username));
        map.insert(
            "apps".into(),
            json!([{"id": app, "name": APP_NAME, "version": app_version(app)}]),
        );
        map.insert("deprecatedApps".into(), json!([]));
        map.insert("experimentalApps".into(), json!([]));
    }
    json_reply(StatusCode::OK, body)
}

pub(super) async fn counters(Shared(state): Shared<SharedState>) -> Response {
    let size = lock(&state).queue_size;
    json_reply(
        StatusCode::OK,
        json!({"complete": {}, "queue": {"size": size}, "users": 1}),
    )
}

pub(super) async fn app_details(
    Shared(state): Shared<SharedState>,
    Path(requested): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let state = lock(&state);
    if user_of(&state, auth_token(&headers).as_deref()).is_none() {
        return unauthorized(uri.path());
    }
    if state.maintenance {
        return message(StatusCode::SERVICE_UNAVAILABLE, MAINTENANCE_MESSAGE);
    }
    let app_id = &state.config.app_id;
    let bare = app_id.split_once('@').map_or(app_id.as_str(), |(id, _)| id);
    if requested != *app_id && requested != bare {
        let text = format!(
            "Application {requested} not found or the request requires user authentication."
        );
        return message(StatusCode::NOT_FOUND, &text);
    }
    json_reply(StatusCode::OK, app::app_json(&state.config))
}

#[derive(Debug, Deserialize)]
pub(super) struct VerifyForm {
    token: Option<String>,
}

pub(super) async fn verify_token(
    Shared(state): Shared<SharedState>,
    form: Result<Form<VerifyForm>, FormRejection>,
) -> Response {
    let token = form.ok().and_then(|Form(form)| form.token);
    let username = user_of(&lock(&state), token.as_deref());
    let body = match username {
        Some(username) => {
            let expire = chrono::Utc::now() + chrono::TimeDelta::days(30);
            json!({"valid": true, "message": format!("API Token was created by {username} and is valid."),
                "username": username, "name": format!("Fake User ({username})"),
                "mail": format!("{username}@example.org"),
                "expire": expire.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)})
        }
        None => {
            json!({"valid": false, "message": "Invalid API Token.", "username": null, "name": null,
            "mail": null, "expire": null})
        }
    };
    json_reply(StatusCode::OK, body)
}

pub(super) async fn fallback(uri: Uri) -> Response {
    let path = uri.path();
    if path == "/api" || path.starts_with("/api/") {
        return unauthorized(path);
    }
    json_reply(
        StatusCode::NOT_FOUND,
        json!({"message": "Not Found",
        "_links": {"self": {"href": path, "templated": false}},
        "_embedded": {"errors": [{"message": format!("Page Not Found: {path}")}]}}),
    )
}
