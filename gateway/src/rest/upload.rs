//! Uploads over REST, streamed into the client-streaming upload RPC chunk
//! by chunk: never held in memory, bounded by the upload timeout only.
//! A multipart form (`POST /api/files/`, the file in any file part), a raw
//! body (`?filename=` or `Content-Disposition`), or the original's job
//! form (`POST /api/jobs/` with the file in `input_file`): the file is
//! uploaded first, then the job is created on it, and the file is removed
//! again if the job is refused.

use axum::{body::Body, extract::Request, response::Response};
use bytes::{Bytes, BytesMut};
use futures::{Stream, StreamExt};
use prost_reflect::{
    DynamicMessage, FieldDescriptor, Kind, MethodDescriptor, ReflectMessage, Value,
};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use super::{media_type, message::set_text, reply_json, within};
use crate::{
    error::ApiError,
    routes::Route,
    state::{Edge, Shared},
};

/// Bytes per upload message (the services take up to 16 MiB).
const CHUNK: usize = 1024 * 1024;
/// Largest text field of a form.
const MAX_TEXT_FIELD: usize = 64 * 1024;

/// A client-streaming RPC of one metadata message, then byte chunks.
#[derive(Clone, Debug)]
struct UploadRpc {
    method: MethodDescriptor,
    metadata: FieldDescriptor,
    chunk: FieldDescriptor,
}

impl UploadRpc {
    fn of(method: &MethodDescriptor) -> Option<Self> {
        if !method.is_client_streaming() || method.is_server_streaming() {
            return None;
        }
        let input = method.input();
        let metadata = input
            .fields()
            .find(|f| matches!(f.kind(), Kind::Message(_)))?;
        let chunk = input.fields().find(|f| f.kind() == Kind::Bytes)?;
        Some(Self {
            method: method.clone(),
            metadata,
            chunk,
        })
    }

    /// The upload RPC of the service that owns `method`.
    fn beside(method: &MethodDescriptor) -> Option<Self> {
        method.parent_service().methods().find_map(|m| Self::of(&m))
    }

    fn first(
        &self,
        filename: &str,
        extra: &[(String, String)],
    ) -> Result<DynamicMessage, ApiError> {
        let Some(desc) = self.metadata.kind().as_message().cloned() else {
            return Err(ApiError::bad_request("the upload has no metadata message"));
        };
        let mut metadata = DynamicMessage::new(desc.clone());
        if desc.get_field_by_name("filename").is_some() {
            metadata.set_field_by_name("filename", Value::String(filename.to_owned()));
        }
        for (name, value) in extra {
            if name != "filename" && desc.get_field_by_name(name).is_some() {
                set_text(&mut metadata, name, value)?;
            }
        }
        let mut message = DynamicMessage::new(self.method.input());
        message.set_field(&self.metadata, Value::Message(metadata));
        Ok(message)
    }

    fn chunk(&self, bytes: Bytes) -> DynamicMessage {
        let mut message = DynamicMessage::new(self.method.input());
        message.set_field(&self.chunk, Value::Bytes(bytes));
        message
    }
}

/// `POST /api/files/`: multipart or a raw body.
pub(crate) async fn upload(
    state: &Shared,
    edge: &Edge,
    route: &Route,
    request: Request,
) -> Result<Response, ApiError> {
    let rpc = UploadRpc::of(&route.method)
        .ok_or_else(|| ApiError::bad_request("this endpoint takes no upload"))?;
    let query: Vec<(String, String)> =
        url::form_urlencoded::parse(request.uri().query().unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let (parts, body) = request.into_parts();
    let reply = if media_type(&parts.headers) == "multipart/form-data" {
        let mut multipart = multipart(&parts.headers, body)?;
        let mut fields = query;
        let mut reply = None;
        while let Some(field) = multipart.next_field().await.map_err(form_error)? {
            match field.file_name().map(str::to_owned) {
                Some(filename) => {
                    if reply.is_some() {
                        return Err(ApiError::bad_request("send one file per upload"));
                    }
                    let first = rpc.first(&filename, &fields)?;
                    reply = Some(stream_upload(state, edge, &rpc, first, field).await?);
                }
                None => {
                    let name = field.name().unwrap_or_default().to_owned();
                    fields.push((name, text_field(field).await?));
                }
            }
        }
        reply.ok_or_else(|| {
            ApiError::bad_request("the form has no file: send the VCF in a file field")
        })?
    } else {
        let filename = query
            .iter()
            .find(|(k, _)| k == "filename")
            .map(|(_, v)| v.clone())
            .or_else(|| disposition_filename(&parts.headers))
            .ok_or_else(|| {
                ApiError::bad_request(
                    "name the file: '?filename=...', a Content-Disposition header, or a multipart form",
                )
            })?;
        let first = rpc.first(&filename, &query)?;
        stream_upload(state, edge, &rpc, first, body.into_data_stream()).await?
    };
    Ok(reply_json(route, &reply))
}

/// The original's job form: fields and the file in one multipart request.
pub(crate) async fn multipart_job(
    state: &Shared,
    edge: &Edge,
    route: &Route,
    variables: &[(String, String)],
    request: Request,
) -> Result<Response, ApiError> {
    let input = route.method.input();
    let (Some(file_id_field), Some(rpc)) = (
        input.get_field_by_name("input_file_id"),
        UploadRpc::beside(&route.method),
    ) else {
        return Err(ApiError::UnsupportedMediaType(
            "this endpoint takes JSON, not a multipart form".into(),
        ));
    };
    let (parts, body) = request.into_parts();
    let mut multipart = multipart(&parts.headers, body)?;
    let mut message = DynamicMessage::new(input);
    let mut uploaded: Option<String> = None;
    let filled = async {
        while let Some(field) = multipart.next_field().await.map_err(form_error)? {
            match field.file_name().map(str::to_owned) {
                Some(filename) if uploaded.is_none() => {
                    let first = rpc.first(&filename, &[])?;
                    let reply = stream_upload(state, edge, &rpc, first, field).await?;
                    uploaded = Some(file_id(&reply).ok_or_else(|| {
                        ApiError::bad_request("the upload reply carries no file id")
                    })?);
                }
                Some(_) => return Err(ApiError::bad_request("send one file per job")),
                None => {
                    let name = field.name().unwrap_or_default().to_owned();
                    let text = text_field(field).await?;
                    if name == "input_file" && text.is_empty() {
                        continue;
                    }
                    set_text(&mut message, &name, &text)?;
                }
            }
        }
        if let Some(id) = &uploaded {
            if message.has_field(&file_id_field) {
                return Err(ApiError::bad_request(
                    "send either a file or input_file_id, not both",
                ));
            }
            message.set_field(&file_id_field, Value::String(id.clone()));
        }
        for (path, value) in variables {
            set_text(&mut message, path, value)?;
        }
        Ok(())
    }
    .await;
    let result = match filled {
        Ok(()) => within(
            state,
            state
                .upstreams
                .unary(&route.method, message, &edge.forwarded),
        )
        .await
        .and_then(|r| r.map_err(ApiError::from)),
        Err(e) => Err(e),
    };
    match result {
        Ok(reply) => Ok(reply_json(route, &reply.into_inner())),
        Err(error) => {
            if let Some(id) = uploaded {
                remove_file(state, edge, &route.method, &id).await;
            }
            Err(error)
        }
    }
}

/// Deletes a file this request uploaded for a job that was then refused.
async fn remove_file(state: &Shared, edge: &Edge, beside: &MethodDescriptor, id: &str) {
    let Some(delete) = beside
        .parent_service()
        .methods()
        .find(|m| m.name() == "DeleteFile")
    else {
        return;
    };
    let mut request = DynamicMessage::new(delete.input());
    if request.descriptor().get_field_by_name("id").is_none() {
        return;
    }
    request.set_field_by_name("id", Value::String(id.to_owned()));
    if let Err(status) = state
        .upstreams
        .unary(&delete, request, &edge.forwarded)
        .await
    {
        tracing::warn!(file = %id, code = ?status.code(), "cannot remove the file of a refused job: {}", status.message());
    }
}

fn file_id(reply: &DynamicMessage) -> Option<String> {
    reply.descriptor().fields().find_map(|f| {
        reply
            .get_field(&f)
            .as_message()?
            .get_field_by_name("id")
            .and_then(|v| v.as_str().map(str::to_owned))
            .filter(|s| !s.is_empty())
    })
}

fn multipart(
    headers: &http::HeaderMap,
    body: Body,
) -> Result<multer::Multipart<'static>, ApiError> {
    let content_type = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let boundary = multer::parse_boundary(content_type)
        .map_err(|e| ApiError::bad_request(format!("bad multipart content type: {e}")))?;
    Ok(multer::Multipart::new(body.into_data_stream(), boundary))
}

fn form_error(e: multer::Error) -> ApiError {
    ApiError::bad_request(format!("the multipart form is malformed or broke off: {e}"))
}

async fn text_field(mut field: multer::Field<'static>) -> Result<String, ApiError> {
    let name = field.name().unwrap_or_default().to_owned();
    let mut out = Vec::new();
    while let Some(piece) = field.chunk().await.map_err(form_error)? {
        out.extend_from_slice(&piece);
        if out.len() > MAX_TEXT_FIELD {
            return Err(ApiError::bad_request(format!(
                "the form field '{name}' is longer than {MAX_TEXT_FIELD} bytes"
            )));
        }
    }
    String::from_utf8(out)
        .map_err(|_| ApiError::bad_request(format!("the form field '{name}' is not UTF-8 text")))
}

fn disposition_filename(headers: &http::HeaderMap) -> Option<String> {
    let value = headers
        .get(http::header::CONTENT_DISPOSITION)?
        .to_str()
        .ok()?;
    value.split(';').map(str::trim).find_map(|part| {
        let v = part.strip_prefix("filename=")?;
        Some(v.trim_matches('"').to_owned()).filter(|s| !s.is_empty())
    })
}

/// Why feeding the upload stopped.
enum Stop {
    /// The service stopped reading: its reply says why.
    Closed,
    Client(ApiError),
}

/// Streams `bytes` into the upload RPC after `first`. If the client's body
/// breaks off, the call is dropped before the stream is closed, so the
/// service sees a reset, never a clean (truncated) end.
async fn stream_upload<S, E>(
    state: &Shared,
    edge: &Edge,
    rpc: &UploadRpc,
    first: DynamicMessage,
    bytes: S,
) -> Result<DynamicMessage, ApiError>
where
    S: Stream<Item = Result<Bytes, E>>,
    E: std::fmt::Display,
{
    let (tx, rx) = mpsc::channel::<DynamicMessage>(4);
    // Declared before the call, so dropped after it: see above.
    let mut keep_open = Some(tx.clone());
    let call =
        state
            .upstreams
            .client_streaming(&rpc.method, ReceiverStream::new(rx), &edge.forwarded);
    let feed = async move {
        tx.send(first).await.map_err(|_| Stop::Closed)?;
        let mut buffer = BytesMut::with_capacity(CHUNK);
        let bytes = std::pin::pin!(bytes);
        let mut bytes = bytes;
        while let Some(piece) = bytes.next().await {
            let piece = piece.map_err(|e| {
                Stop::Client(ApiError::bad_request(format!("the upload broke off: {e}")))
            })?;
            state.metrics.upload_bytes.inc_by(piece.len() as u64);
            buffer.extend_from_slice(&piece);
            while buffer.len() >= CHUNK {
                let chunk = buffer.split_to(CHUNK).freeze();
                tx.send(rpc.chunk(chunk)).await.map_err(|_| Stop::Closed)?;
            }
        }
        if !buffer.is_empty() {
            tx.send(rpc.chunk(buffer.freeze()))
                .await
                .map_err(|_| Stop::Closed)?;
        }
        Ok::<(), Stop>(())
    };
    tokio::pin!(call, feed);
    let driven = async {
        let mut fed = false;
        loop {
            tokio::select! {
                outcome = &mut feed, if !fed => match outcome {
                    Ok(()) => {
                        fed = true;
                        keep_open = None;
                    }
                    Err(Stop::Closed) => fed = true,
                    Err(Stop::Client(error)) => return Err(error),
                },
                reply = &mut call => {
                    let _ = keep_open.take();
                    return reply.map(tonic::Response::into_inner).map_err(ApiError::from);
                }
            }
        }
    };
    let timeout = state.settings.upload_timeout;
    tokio::time::timeout(timeout, driven)
        .await
        .map_err(|_| ApiError::Timeout(timeout))?
}
