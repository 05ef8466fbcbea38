//! The OAuth2 client-credentials token endpoint (C.2, C.7) and its JWT-like tokens.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::Form;
use axum::extract::State as Shared;
use axum::extract::rejection::FormRejection;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

use super::{ROUTE_TOKEN, SharedState, State};
use crate::fakes::wes::artifacts::{deliver, hex};
use crate::fakes::{apply_fault, json_reply, lock};

/// `POST /oauth/token` (client credentials), under the [`super::ROUTE_TOKEN`] fault plan.
pub(super) async fn token(
    Shared(state): Shared<SharedState>,
    form: Result<Form<HashMap<String, String>>, FormRejection>,
) -> Response {
    let fault = {
        let mut state = lock(&state);
        state.token_requests += 1;
        state.faults.next(ROUTE_TOKEN)
    };
    if let Some(response) = apply_fault(fault.clone()).await {
        return response;
    }
    let response = issue(&mut lock(&state), form);
    deliver(fault, response).await
}

fn issue(
    state: &mut State,
    form: Result<Form<HashMap<String, String>>, FormRejection>,
) -> Response {
    let oauth_error = |status, error: &str| json_reply(status, json!({"error": error}));
    let Ok(Form(form)) = form else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request");
    };
    state.last_token_form = Some(form.clone());
    match form.get("grant_type").map(String::as_str) {
        Some("client_credentials") => {}
        Some(_) => return oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type"),
        None => return oauth_error(StatusCode::BAD_REQUEST, "invalid_request"),
    }
    let field = |name: &str| form.get(name).map(String::as_str);
    if field("client_id") != Some(state.config.client_id.as_str())
        || field("client_secret") != Some(state.config.client_secret.as_str())
    {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    let lifetime = state.token_lifetime;
    let access_token = jwt_like(
        &state.config.namespace,
        &state.base,
        field("resource"),
        lifetime,
    );
    state
        .tokens
        .insert(access_token.clone(), Instant::now() + lifetime);
    let mut body = json!({"access_token": access_token, "token_type": "Bearer", "expires_in": lifetime.as_secs()});
    if let (Some(scope), Some(map)) = (field("scope"), body.as_object_mut()) {
        map.insert("scope".into(), json!(scope));
    }
    json_reply(StatusCode::OK, body)
}

/// An unsigned-looking JWT (`header.payload.signature`) whose `sub` is the namespace.
fn jwt_like(namespace: &str, issuer: &str, audience: Option<&str>, lifetime: Duration) -> String {
    let now = chrono::Utc::now().timestamp();
    let lifetime = i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX);
    let header = json!({"alg": "HS256", "typ": "JWT"});
    let payload = json!({"sub": namespace, "iss": issuer, "aud": audience, "iat": now,
        "exp": now.saturating_add(lifetime), "jti": hex(&rand::random::<[u8; 16]>())});
    let signature: [u8; 32] = rand::random();
    format!(
        "{}.{}.{}",
        base64url(header.to_string().as_bytes()),
        base64url(payload.to_string().as_bytes()),
        base64url(&signature)
    )
}

pub(super) fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}
