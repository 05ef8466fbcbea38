//! `POST /api/v2/jobs/submit/{app}` (A.4, A.10): the server's checks in its order, the
//! multipart parts streamed (hashed, probed for VCF samples, kept only on request), then the
//! job created with its scenario. Bad list values are accepted here and fail the job later.

use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Path, Request, State as Shared};
use axum::http::{StatusCode, header, request::Parts};
use axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::admission::{Received, accept, escape_html};
use super::model::SubmittedFile;
use super::vcf::VcfProbe;
use super::{
    MAINTENANCE_MESSAGE, ROUTE_SUBMIT, SharedState, auth_token, downloads, message, unauthorized,
    user_of,
};
use crate::fakes::{Fault, apply_fault, broken_reply, json_reply, lock};

/// Inputs of `imputationserver2` (IS2 `cloudgene.yaml`); `job-name` and `*-pattern` also pass.
const INPUTS: [&str; 10] = [
    "files",
    "refpanel",
    "population",
    "build",
    "r2Filter",
    "phasing",
    "mode",
    "aesEncryption",
    "meta",
    "password",
];

/// How much of a rejected request's body is read (and dropped) before answering, so that the
/// client sees the answer instead of a connection reset.
const DRAIN_LIMIT: usize = 32 << 20;

/// `POST /api/v2/jobs/submit/{app}`: faults first, then the checks, the parts, the job.
pub(super) async fn submit(
    Shared(state): Shared<SharedState>,
    Path(app): Path<String>,
    request: Request,
) -> Response {
    let fault = lock(&state).faults.next(ROUTE_SUBMIT);
    if let Some(response) = apply_fault(fault.clone()).await {
        return response;
    }
    let (parts, body) = request.into_parts();
    let (username, limit, keep) = match precheck(&state, &parts, &app) {
        Ok(checked) => checked,
        Err(response) => {
            drain(body).await;
            return *response;
        }
    };
    let user_agent = parts
        .headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let path = parts.uri.path().to_owned();
    let received = match receive(Request::from_parts(parts, body), limit, keep, &path).await {
        Ok(received) => received,
        Err(response) => return response,
    };
    let id = accept(&state, username, app, user_agent, received);
    match fault {
        Fault::HangAfterAccept => std::future::pending().await,
        Fault::CloseAfterAccept => broken_reply(),
        Fault::None | Fault::Status(..) | Fault::NonJson | Fault::Delay(_) | Fault::Hang => {
            json_reply(
                StatusCode::OK,
                json!({"success": true, "id": id,
                    "message": "Your job was successfully added to the job queue."}),
            )
        }
    }
}

/// Auth, maintenance, the running-jobs cap, the app, the declared size: (user, limit, keep).
fn precheck(
    state: &SharedState,
    parts: &Parts,
    app: &str,
) -> Result<(String, u64, bool), Box<Response>> {
    let state = lock(state);
    let config = &state.config;
    let Some(username) = user_of(&state, auth_token(&parts.headers).as_deref()) else {
        return Err(Box::new(unauthorized(parts.uri.path())));
    };
    if state.maintenance {
        let response = message(StatusCode::SERVICE_UNAVAILABLE, MAINTENANCE_MESSAGE);
        return Err(Box::new(response));
    }
    let cap = config.max_running_jobs_per_user;
    if state.jobs.active_of(&username) >= cap {
        let text = format!("Only {cap} jobs per user can be executed simultaneously.");
        return Err(Box::new(message(StatusCode::BAD_REQUEST, &text)));
    }
    let app_id = config.app_id.as_str();
    let bare = app_id.split_once('@').map_or(app_id, |(id, _)| id);
    if app != app_id && app != bare {
        let text = format!("Application '{app}' not found.");
        return Err(Box::new(message(StatusCode::NOT_FOUND, &text)));
    }
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(declared) = declared.filter(|d| *d > config.upload_limit_bytes) {
        let limit = config.upload_limit_bytes;
        return Err(Box::new(too_large(declared, limit, parts.uri.path())));
    }
    Ok((username, config.upload_limit_bytes, config.keep_uploads))
}

/// Micronaut's 413 (`maxRequestSize`).
fn too_large(length: u64, limit: u64, path: &str) -> Response {
    let detail = format!(
        "The content length [{length}] exceeds the maximum allowed content length [{limit}]"
    );
    json_reply(
        StatusCode::PAYLOAD_TOO_LARGE,
        json!({"message": "Request Entity Too Large",
        "_links": {"self": {"href": path, "templated": false}},
        "_embedded": {"errors": [{"message": detail}]}}),
    )
}

async fn drain(body: Body) {
    let mut stream = body.into_data_stream();
    let mut read = 0;
    while let Some(Ok(chunk)) = stream.next().await {
        read += chunk.len();
        if read > DRAIN_LIMIT {
            break;
        }
    }
}

/// Reads every part; a rejected part ends the request with 400 (or 413 past `limit`).
async fn receive(
    request: Request,
    limit: u64,
    keep: bool,
    path: &str,
) -> Result<Received, Response> {
    let mut multipart = Multipart::from_request(request, &())
        .await
        .map_err(IntoResponse::into_response)?;
    let mut received = Received::default();
    let mut total: u64 = 0;
    let too_big = |total: u64| too_large(total, limit, path);
    loop {
        let field = multipart
            .next_field()
            .await
            .map_err(|e| part_error(&e, limit, path))?;
        let Some(mut field) = field else {
            return Ok(received);
        };
        let raw = field.name().unwrap_or_default().to_owned();
        let name = raw.strip_prefix("input-").unwrap_or(&raw).to_owned();
        if !INPUTS.contains(&name.as_str()) && name != "job-name" && !name.ends_with("-pattern") {
            drop(field);
            drain_parts(&mut multipart).await;
            let text = format!("Parameter '{name}' not found.");
            return Err(message(StatusCode::BAD_REQUEST, &text));
        }
        let Some(filename) = field.file_name().map(str::to_owned) else {
            let text = field
                .text()
                .await
                .map_err(|e| part_error(&e, limit, path))?;
            total += text.len() as u64;
            if total > limit {
                return Err(too_big(total));
            }
            received.fields.push((name, escape_html(&text)));
            continue;
        };
        let mut probe = (name == "files" && filename.ends_with(".vcf.gz")).then(VcfProbe::new);
        let mut hasher = Sha256::new();
        let (mut size, mut first_bytes) = (0_u64, Vec::new());
        let mut kept = keep.then(BytesMut::new);
        while let Some(chunk) = field
            .chunk()
            .await
            .map_err(|e| part_error(&e, limit, path))?
        {
            size += chunk.len() as u64;
            total += chunk.len() as u64;
            if total > limit {
                return Err(too_big(total));
            }
            hasher.update(&chunk);
            let room = 64_usize.saturating_sub(first_bytes.len());
            first_bytes.extend_from_slice(&chunk[..room.min(chunk.len())]);
            if let Some(probe) = probe.as_mut() {
                probe.feed(&chunk);
            }
            if let Some(kept) = kept.as_mut() {
                kept.extend_from_slice(&chunk);
            }
        }
        received.vcfs.extend(probe.map(VcfProbe::finish));
        received.files.push(SubmittedFile {
            name,
            filename,
            size,
            sha256_hex: downloads::hex(&hasher.finalize()),
            first_bytes,
            bytes: kept.map(Bytes::from),
        });
    }
}

/// Reads the remaining parts of a rejected request (up to [`DRAIN_LIMIT`]).
async fn drain_parts(multipart: &mut Multipart) {
    let mut read = 0;
    while let Ok(Some(mut field)) = multipart.next_field().await {
        while let Ok(Some(chunk)) = field.chunk().await {
            read += chunk.len();
            if read > DRAIN_LIMIT {
                return;
            }
        }
    }
}

/// A broken multipart body: 413 past the body limit, else a plain-text 400 (as CG3 answers
/// a non-JSON exception inside submit).
fn part_error(
    error: &axum::extract::multipart::MultipartError,
    limit: u64,
    path: &str,
) -> Response {
    if error.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return too_large(limit.saturating_add(1), limit, path);
    }
    let text = format!("java.io.IOException: {}", error.body_text());
    (
        StatusCode::BAD_REQUEST,
        [(header::CONTENT_TYPE, "text/plain")],
        text,
    )
        .into_response()
}
