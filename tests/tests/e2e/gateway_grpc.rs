//! gRPC through the gateway port: the generated clients natively (unary,
//! client- and server-streaming calls passed through to the owning
//! service), the internal RPCs refused at the edge, health and reflection
//! (v1 and v1alpha, over all three services) answered by the gateway
//! itself; and grpc-web, as a browser speaks it (tonic-web's client layer
//! over an HTTP/1.1-only client, and grpc-web-text by hand), with CORS.

use std::{
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use base64::Engine as _;
use fedimpute_common::auth::Component;
use fedimpute_proto::{
    jobs::{self as pb, jobs_service_client::JobsServiceClient},
    registry::{self as rpb, registry_service_client::RegistryServiceClient},
    users::{self as upb, users_service_client::UsersServiceClient},
};
use fedimpute_tests::{
    TestDb, eventually,
    harness::{
        auth::bearer,
        gateway::TestGateway,
        jobs::{fixture, upload},
        users::{as_component, password_of},
    },
};
use http::Version;
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::TokioExecutor,
};
use prost::Message as _;
use tokio_stream::StreamExt as _;
use tonic::{Code, transport::Channel};
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};
use tonic_web::{GrpcWebCall, GrpcWebClientLayer, GrpcWebClientService};

use crate::{
    gateway_edge::metrics,
    gateway_uploads::{in_flight, stored},
};

pub(crate) const ORIGIN: &str = "https://app.fedimpute.test";
const REGISTRY: &str = "fedimpute.registry.v1.RegistryService";
const USERS: &str = "fedimpute.users.v1.UsersService";
const JOBS: &str = "fedimpute.jobs.v1.JobsService";
pub(crate) const TINY: &str = "chr20.tiny.100snps.vcf.gz";
/// 235 KB: several download messages.
const SMALL: &str = "chr20.R50.merged.1.330k.recode.small.vcf.gz";

/// A native gRPC channel to the gateway port (HTTP/2, prior knowledge).
pub(crate) async fn channel(gw: &TestGateway) -> Channel {
    Channel::from_shared(gw.url(""))
        .expect("a valid URL")
        .connect()
        .await
        .expect("connect to the gateway")
}

pub(crate) async fn jobs_client(gw: &TestGateway) -> JobsServiceClient<Channel> {
    JobsServiceClient::new(channel(gw).await)
        .max_decoding_message_size(16 * 1024 * 1024)
        .max_encoding_message_size(16 * 1024 * 1024)
}

/// Downloads one of the caller's files through `DownloadFile`: the
/// metadata message, then the bytes.
async fn download<T>(
    client: &mut JobsServiceClient<T>,
    token: &str,
    id: &str,
) -> Result<(pb::FileChunk, Vec<u8>), tonic::Status>
where
    T: tonic::client::GrpcService<tonic::body::Body>,
    T::Error: Into<tonic::codegen::StdError>,
    T::ResponseBody: tonic::codegen::Body<Data = bytes::Bytes> + Send + 'static,
    <T::ResponseBody as tonic::codegen::Body>::Error: Into<tonic::codegen::StdError> + Send,
{
    let mut stream = client
        .download_file(bearer(token, pb::DownloadFileRequest { id: id.into() }))
        .await?
        .into_inner();
    let head = stream.message().await?.expect("a metadata message");
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.message().await? {
        bytes.extend(chunk.data);
    }
    Ok((head, bytes))
}

#[tokio::test]
async fn unary_and_streaming_calls_pass_through_the_gateway_port() {
    // Arrange
    let gw = TestGateway::spawn(TestDb::sqlite()).await;
    let (user, _) = gw.platform.users.researcher("grace").await;
    let bytes = fixture(SMALL);

    // Act: a unary login through the gateway, then calls with its token.
    let mut users = UsersServiceClient::new(channel(&gw).await);
    let login = users
        .login(upb::LoginRequest {
            username: "grace".into(),
            password: password_of("grace"),
        })
        .await
        .expect("login through the gateway")
        .into_inner();
    let me = users
        .get_current_user(bearer(&login.access_token, upb::GetCurrentUserRequest {}))
        .await
        .expect("the current user through the gateway")
        .into_inner()
        .user
        .expect("a user");
    let mut jobs = jobs_client(&gw).await;
    // Client streaming: the metadata, then the file in chunks of 16 KiB.
    let file = upload(
        &mut jobs,
        &login.access_token,
        SMALL,
        &bytes,
        16 * 1024,
        None,
    )
    .await
    .expect("upload through the gateway");
    // Server streaming.
    let (head, downloaded) = download(&mut jobs, &login.access_token, &file.id)
        .await
        .expect("download through the gateway");

    // Assert
    assert_eq!(me.id, user.id, "the token names the user who logged in");
    assert_eq!(file.size_bytes, bytes.len() as i64);
    assert_eq!(file.user_id, user.id);
    let vcf = file.vcf.expect("a VCF summary");
    assert_eq!((vcf.samples_count, vcf.records_count), (51, 7824));
    assert_eq!(head.size_bytes, bytes.len() as i64);
    assert_eq!(downloaded, bytes, "the file comes back byte for byte");
    gw.shutdown().await;
}

#[tokio::test]
async fn a_cancelled_grpc_upload_ends_at_the_gateway_and_leaves_no_file() {
    // Arrange: an upload whose every byte is sent, but whose stream the
    // client never ends: a clean end would store a valid file.
    let gw = TestGateway::spawn(TestDb::sqlite()).await;
    let (_, token) = gw.platform.users.researcher("quitter").await;
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    for part in [
        pb::upload_file_request::Part::Metadata(pb::UploadMetadata {
            filename: "cancelled.vcf.gz".into(),
            ..Default::default()
        }),
        pb::upload_file_request::Part::Chunk(fixture(TINY)),
    ] {
        tx.send(pb::UploadFileRequest { part: Some(part) })
            .await
            .unwrap();
    }
    let mut jobs = jobs_client(&gw).await;
    let request = bearer(&token, tokio_stream::wrappers::ReceiverStream::new(rx));
    let call = tokio::spawn(async move { jobs.upload_file(request).await });
    let files = gw.platform.files.path();
    eventually(
        "the upload to reach the file store",
        Duration::from_secs(30),
        || async { (!stored(files).is_empty()).then_some(()) },
    )
    .await;
    assert_eq!(in_flight(&metrics(&gw).await), Some(2.0));

    // Act: the client gives up (its stream is reset).
    call.abort();
    assert!(call.await.unwrap_err().is_cancelled());

    // Assert
    eventually(
        "the cancelled call to end at the gateway",
        Duration::from_secs(30),
        || async { (in_flight(&metrics(&gw).await) == Some(1.0)).then_some(()) },
    )
    .await;
    eventually(
        "the file store to be empty again",
        Duration::from_secs(30),
        || async { stored(files).is_empty().then_some(()) },
    )
    .await;
    let listed = jobs_client(&gw)
        .await
        .list_files(bearer(&token, pb::ListFilesRequest::default()))
        .await
        .expect("the caller's files")
        .into_inner()
        .files;
    assert!(listed.is_empty(), "{listed:?}");
    drop(tx);
    gw.shutdown().await;
}

#[tokio::test]
async fn request_ids_and_tokens_are_handled_for_native_grpc_as_for_rest() {
    // Arrange
    let gw = TestGateway::spawn(TestDb::sqlite()).await;
    let mut users = UsersServiceClient::new(channel(&gw).await);

    // Act: a request id given, and a garbage token on a method that needs one.
    let mut request = tonic::Request::new(upb::GetJwksRequest {});
    request
        .metadata_mut()
        .insert("x-request-id", "grpc-req-0001".parse().unwrap());
    let echoed = users.get_jwks(request).await.expect("the JWKS");
    let refused = users
        .get_current_user(bearer("not-a-jwt", upb::GetCurrentUserRequest {}))
        .await
        .expect_err("a bad token is refused");
    // A stale token does not stop a login.
    let login = users
        .login(bearer(
            "not-a-jwt",
            upb::LoginRequest {
                username: fedimpute_tests::harness::users::ADMIN.into(),
                password: fedimpute_tests::harness::users::ADMIN_PASSWORD.into(),
            },
        ))
        .await;

    // Assert
    assert_eq!(
        echoed.metadata().get("x-request-id").unwrap(),
        "grpc-req-0001"
    );
    assert_eq!(refused.code(), Code::Unauthenticated, "{refused:?}");
    let generated = refused
        .metadata()
        .get("x-request-id")
        .expect("a refusal carries a request id too")
        .to_str()
        .unwrap();
    uuid::Uuid::parse_str(generated).expect("a generated request id is a UUID");
    assert!(
        !login
            .expect("login works with a stale token attached")
            .into_inner()
            .access_token
            .is_empty()
    );
    gw.shutdown().await;
}

async fn my_quota(gw: &TestGateway, token: &str) -> Option<upb::Quota> {
    gw.platform
        .users
        .client()
        .await
        .get_my_quota(bearer(token, upb::GetMyQuotaRequest {}))
        .await
        .expect("the quota")
        .into_inner()
        .quota
}

#[tokio::test]
async fn internal_rpcs_are_refused_at_the_gateway_even_with_a_service_token() {
    // Arrange: a user's stored credential and a service's stored secret,
    // which the Jobs component may read directly from the services.
    let gw = TestGateway::spawn(TestDb::sqlite()).await;
    let auth = gw.platform.users.auth();
    let admin = gw.platform.users.admin_token().await;
    let (user, token) = gw.platform.users.researcher("ada").await;
    let mut service = rpb::Service {
        name: "Secretive WES".into(),
        api_type: rpb::ApiType::Ga4gh as i32,
        base_url: "http://127.0.0.1:9".into(),
        ..Default::default()
    };
    service.secrets = [("api_token".to_owned(), "wes-secret-0042".to_owned())].into();
    let service = gw
        .platform
        .registry()
        .await
        .create_service(bearer(
            &admin,
            rpb::CreateServiceRequest {
                service: Some(service),
            },
        ))
        .await
        .expect("create the service")
        .into_inner()
        .service
        .expect("a service");
    gw.platform
        .credential(&token, service.id, "user-secret-0042")
        .await;
    let to_users = auth.jobs.token(Component::Users);
    let to_registry = auth.jobs.token(Component::Registry);
    let credential = upb::GetCredentialSecretRequest {
        user_id: user.id,
        service_id: service.id,
    };
    let quota = upb::ReserveQuotaRequest {
        user_id: user.id,
        kind: upb::QuotaKind::Jobs as i32,
        amount: 1,
        reservation_id: "gateway-test".into(),
    };
    let secrets = rpb::GetServiceSecretsRequest { id: service.id };
    // Directly, the Jobs component's token opens them: the refusal below is the gateway's.
    let direct = gw
        .platform
        .users
        .client()
        .await
        .get_credential_secret(as_component(credential, &to_users, None))
        .await
        .expect("the Jobs component reads the credential directly")
        .into_inner();
    assert_eq!(direct.api_token, "user-secret-0042");
    let quota_before = my_quota(&gw, &token).await;

    // Act: the same calls through the gateway, with the same tokens.
    let mut users = UsersServiceClient::new(channel(&gw).await);
    let mut registry = RegistryServiceClient::new(channel(&gw).await);
    let refused = [
        users
            .get_credential_secret(as_component(credential, &to_users, Some(&admin)))
            .await
            .map(|r| format!("{:?}", r.into_inner()))
            .expect_err("GetCredentialSecret is internal"),
        users
            .reserve_quota(as_component(quota, &to_users, Some(&admin)))
            .await
            .map(|r| format!("{:?}", r.into_inner()))
            .expect_err("ReserveQuota is internal"),
        registry
            .get_service_secrets(as_component(secrets, &to_registry, Some(&admin)))
            .await
            .map(|r| format!("{:?}", r.into_inner()))
            .expect_err("GetServiceSecrets is internal"),
    ];

    // Assert
    for status in refused {
        assert_eq!(status.code(), Code::Unimplemented, "{status:?}");
        assert!(
            status.message().contains("not served through the gateway"),
            "{status:?}"
        );
    }
    assert_eq!(
        my_quota(&gw, &token).await,
        quota_before,
        "no quota was reserved"
    );
    gw.shutdown().await;
}

/// Reflection through `$channel` in one protocol version: the services
/// listed, and the file descriptors that define `$symbol`.
macro_rules! reflect {
    ($version:ident, $channel:expr, $symbol:expr) => {{
        use tonic_reflection::pb::$version::{
            ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
            server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
        };
        let requests = [
            MessageRequest::ListServices(String::new()),
            MessageRequest::FileContainingSymbol($symbol.to_owned()),
        ]
        .map(|message| ServerReflectionRequest {
            host: String::new(),
            message_request: Some(message),
        });
        let mut replies = ServerReflectionClient::new($channel)
            .server_reflection_info(tokio_stream::iter(requests))
            .await
            .expect("a reflection stream through the gateway")
            .into_inner();
        let listed = match replies.next().await.unwrap().unwrap().message_response {
            Some(MessageResponse::ListServicesResponse(list)) => {
                list.service.into_iter().map(|s| s.name).collect::<Vec<_>>()
            }
            other => panic!("unexpected reflection reply {other:?}"),
        };
        let files = match replies.next().await.unwrap().unwrap().message_response {
            Some(MessageResponse::FileDescriptorResponse(files)) => files
                .file_descriptor_proto
                .iter()
                .map(|bytes| {
                    prost_types::FileDescriptorProto::decode(bytes.as_slice())
                        .expect("a file descriptor")
                })
                .collect::<Vec<_>>(),
            other => panic!("unexpected reflection reply {other:?}"),
        };
        (listed, files)
    }};
}

/// The method `service.method` as the descriptors describe it.
fn method<'a>(
    files: &'a [prost_types::FileDescriptorProto],
    service: &str,
    method: &str,
) -> Option<&'a prost_types::MethodDescriptorProto> {
    let (package, service) = service.rsplit_once('.')?;
    files
        .iter()
        .filter(|f| f.package() == package)
        .flat_map(|f| &f.service)
        .filter(|s| s.name() == service)
        .flat_map(|s| &s.method)
        .find(|m| m.name() == method)
}

#[tokio::test]
async fn reflection_and_health_through_the_gateway_cover_every_service_in_both_versions() {
    // Arrange
    let gw = TestGateway::spawn(TestDb::sqlite()).await;
    let symbol = format!("{JOBS}.UploadFile");

    // Act
    let v1 = reflect!(v1, channel(&gw).await, symbol);
    let v1alpha = reflect!(v1alpha, channel(&gw).await, symbol);
    let health = HealthClient::new(channel(&gw).await)
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .expect("the gateway answers health")
        .into_inner();

    // Assert
    for ((listed, files), reflection) in [
        (v1, "grpc.reflection.v1.ServerReflection"),
        (v1alpha, "grpc.reflection.v1alpha.ServerReflection"),
    ] {
        for service in [REGISTRY, USERS, JOBS, "grpc.health.v1.Health", reflection] {
            assert!(
                listed.iter().any(|s| s == service),
                "{service} is listed ({reflection}): {listed:?}"
            );
        }
        let upload = method(&files, JOBS, "UploadFile")
            .unwrap_or_else(|| panic!("UploadFile is described ({reflection})"));
        assert!(upload.client_streaming() && !upload.server_streaming());
        assert_eq!(upload.input_type(), ".fedimpute.jobs.v1.UploadFileRequest");
        assert_eq!(
            upload.output_type(),
            ".fedimpute.jobs.v1.UploadFileResponse"
        );
    }
    assert_eq!(health.status, ServingStatus::Serving as i32);
    gw.shutdown().await;
}

// === grpc-web ===

/// Passes requests on, asserting that every answer came over HTTP/1.1: the
/// gateway serves grpc-web to clients that cannot speak HTTP/2.
#[derive(Clone, Debug)]
struct Http11Only<S>(S);

impl<S, R, B> tower::Service<R> for Http11Only<S>
where
    S: tower::Service<R, Response = http::Response<B>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> Self::Future {
        let response = self.0.call(request);
        Box::pin(async move {
            let response = response.await?;
            assert_eq!(
                response.version(),
                Version::HTTP_11,
                "grpc-web over HTTP/1.1"
            );
            Ok(response)
        })
    }
}

type WebChannel =
    GrpcWebClientService<Http11Only<Client<HttpConnector, GrpcWebCall<tonic::body::Body>>>>;

/// A grpc-web "channel": tonic-web's client layer over an HTTP/1.1-only client.
fn web_channel() -> WebChannel {
    let client = Client::builder(TokioExecutor::new()).build_http();
    tower::Layer::layer(&GrpcWebClientLayer::new(), Http11Only(client))
}

fn origin(gw: &TestGateway) -> tonic::codegen::http::Uri {
    gw.url("").parse().expect("a valid URI")
}

#[tokio::test]
async fn grpc_web_unary_and_server_streaming_calls_work_over_http1() {
    // Arrange
    let gw = TestGateway::spawn(TestDb::sqlite()).await;
    let (user, token) = gw.platform.users.researcher("hopper").await;
    let bytes = fixture(SMALL);
    let file = gw
        .platform
        .upload(&token, SMALL, &bytes, 64 * 1024)
        .await
        .expect("an upload");
    let mut users = UsersServiceClient::with_origin(web_channel(), origin(&gw));
    let mut jobs = JobsServiceClient::with_origin(web_channel(), origin(&gw))
        .max_decoding_message_size(16 * 1024 * 1024);

    // Act
    let login = users
        .login(upb::LoginRequest {
            username: "hopper".into(),
            password: password_of("hopper"),
        })
        .await
        .expect("a grpc-web login")
        .into_inner();
    let me = users
        .get_current_user(bearer(&login.access_token, upb::GetCurrentUserRequest {}))
        .await
        .expect("a grpc-web unary call with a token")
        .into_inner()
        .user
        .expect("a user");
    let (head, downloaded) = download(&mut jobs, &login.access_token, &file.id)
        .await
        .expect("a grpc-web server stream");
    let refused = users
        .get_current_user(bearer("not-a-jwt", upb::GetCurrentUserRequest {}))
        .await
        .expect_err("a bad token is refused over grpc-web");
    let denied = users
        .list_users(bearer(
            &login.access_token,
            upb::ListUsersRequest::default(),
        ))
        .await
        .expect_err("a researcher lists no users");

    // Assert
    assert_eq!(me.id, user.id);
    assert_eq!(head.size_bytes, bytes.len() as i64);
    assert_eq!(downloaded, bytes);
    assert_eq!(refused.code(), Code::Unauthenticated, "{refused:?}");
    assert_eq!(denied.code(), Code::PermissionDenied, "{denied:?}");
    gw.shutdown().await;
}

/// One grpc-web frame (flag 0: a message).
fn frame(message: &impl prost::Message) -> Vec<u8> {
    let payload = message.encode_to_vec();
    let mut out = vec![0u8];
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(&payload);
    out
}

/// The messages and the trailers of a grpc-web response body.
fn unframe(mut body: &[u8]) -> (Vec<Vec<u8>>, String) {
    let (mut messages, mut trailers) = (Vec::new(), String::new());
    while !body.is_empty() {
        assert!(body.len() >= 5, "a truncated frame header");
        let flag = body[0];
        let len = u32::from_be_bytes([body[1], body[2], body[3], body[4]]) as usize;
        let payload = &body[5..5 + len];
        if flag & 0x80 == 0 {
            messages.push(payload.to_vec());
        } else {
            trailers.push_str(std::str::from_utf8(payload).expect("text trailers"));
        }
        body = &body[5 + len..];
    }
    (messages, trailers)
}

/// grpc-web-text is base64 per chunk, each chunk padded on its own: decode
/// it four characters at a time.
fn decode_text(text: &str) -> Vec<u8> {
    let clean: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    clean
        .chunks(4)
        .flat_map(|quad| {
            base64::engine::general_purpose::STANDARD
                .decode(quad)
                .expect("base64 text")
        })
        .collect()
}

/// One grpc-web-text call (base64 frames both ways): the messages and
/// trailers of the answer.
async fn web_text_call(
    gw: &TestGateway,
    method: &str,
    token: Option<&str>,
    message: &impl prost::Message,
) -> (Vec<Vec<u8>>, String) {
    let mut request = gw
        .http
        .post(gw.url(&format!("/{method}")))
        .header("content-type", "application/grpc-web-text")
        .header("accept", "application/grpc-web-text")
        .header("x-grpc-web", "1")
        .body(base64::engine::general_purpose::STANDARD.encode(frame(message)));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("the gateway answers");
    assert_eq!(response.status(), 200);
    assert_eq!(response.version(), reqwest::Version::HTTP_11);
    let content_type = response.headers()["content-type"].to_str().unwrap();
    assert!(
        content_type.starts_with("application/grpc-web-text"),
        "{content_type}"
    );
    let status = response
        .headers()
        .get("grpc-status")
        .map(|v| format!("grpc-status:{}", v.to_str().unwrap()));
    let text = response.text().await.unwrap();
    let (messages, trailers) = unframe(&decode_text(&text));
    (messages, status.unwrap_or(trailers))
}

#[tokio::test]
async fn grpc_web_text_unary_and_server_streaming_calls_answer_base64_frames() {
    // Arrange
    let gw = TestGateway::spawn(TestDb::sqlite()).await;
    let bytes = fixture(SMALL);

    // Act: a unary login, then a download (server streaming) with its token.
    let (messages, trailers) = web_text_call(
        &gw,
        &format!("{USERS}/Login"),
        None,
        &upb::LoginRequest {
            username: fedimpute_tests::harness::users::ADMIN.into(),
            password: fedimpute_tests::harness::users::ADMIN_PASSWORD.into(),
        },
    )
    .await;
    assert!(trailers.contains("grpc-status:0"), "{trailers:?}");
    assert_eq!(messages.len(), 1);
    let login = upb::LoginResponse::decode(messages[0].as_slice()).expect("a LoginResponse");
    let file = gw
        .platform
        .upload(&login.access_token, SMALL, &bytes, 64 * 1024)
        .await
        .expect("an upload");
    let (chunks, download_trailers) = web_text_call(
        &gw,
        &format!("{JOBS}/DownloadFile"),
        Some(&login.access_token),
        &pb::DownloadFileRequest {
            id: file.id.clone(),
        },
    )
    .await;

    // Assert
    assert_eq!(
        login.user.expect("the user").username,
        fedimpute_tests::harness::users::ADMIN
    );
    assert!(
        download_trailers.contains("grpc-status:0"),
        "{download_trailers:?}"
    );
    let chunks: Vec<pb::FileChunk> = chunks
        .iter()
        .map(|m| pb::FileChunk::decode(m.as_slice()).expect("a FileChunk"))
        .collect();
    assert!(
        chunks.len() >= 3,
        "a metadata message, then the bytes in several messages"
    );
    assert_eq!(chunks[0].size_bytes, bytes.len() as i64);
    let downloaded: Vec<u8> = chunks.iter().flat_map(|c| c.data.clone()).collect();
    assert_eq!(downloaded, bytes);
    gw.shutdown().await;
}

#[tokio::test]
async fn cors_allows_grpc_web_from_the_configured_origin_only() {
    // Arrange
    let gw = TestGateway::spawn(TestDb::sqlite()).await;
    let path = format!("/{REGISTRY}/ListServices");
    let preflight = |origin: &'static str| {
        gw.http
            .request(reqwest::Method::OPTIONS, gw.url(&path))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "x-grpc-web,content-type,authorization",
            )
            .send()
    };

    // Act
    let allowed = preflight(ORIGIN).await.expect("a preflight answer");
    let other = preflight("https://evil.example")
        .await
        .expect("a preflight answer");
    let call = gw
        .http
        .post(gw.url(&path))
        .header("origin", ORIGIN)
        .header("content-type", "application/grpc-web+proto")
        .header("x-grpc-web", "1")
        .body(frame(&rpb::ListServicesRequest::default()))
        .send()
        .await
        .expect("a grpc-web call");
    let other_call = gw
        .http
        .post(gw.url(&path))
        .header("origin", "https://evil.example")
        .header("content-type", "application/grpc-web+proto")
        .header("x-grpc-web", "1")
        .body(frame(&rpb::ListServicesRequest::default()))
        .send()
        .await
        .expect("a grpc-web call");

    // Assert
    assert!(allowed.status().is_success(), "{}", allowed.status());
    let header = |r: &reqwest::Response, name: &str| {
        r.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_ascii_lowercase())
    };
    assert_eq!(
        header(&allowed, "access-control-allow-origin").as_deref(),
        Some(ORIGIN)
    );
    let allowed_headers = header(&allowed, "access-control-allow-headers").unwrap_or_default();
    for name in ["x-grpc-web", "content-type", "authorization"] {
        assert!(allowed_headers.contains(name), "{name}: {allowed_headers}");
    }
    assert!(
        header(&allowed, "access-control-allow-methods")
            .unwrap_or_default()
            .contains("post")
    );
    assert_eq!(
        header(&allowed, "access-control-allow-credentials").as_deref(),
        Some("true")
    );
    assert_eq!(header(&other, "access-control-allow-origin"), None);

    assert_eq!(
        header(&call, "access-control-allow-origin").as_deref(),
        Some(ORIGIN)
    );
    let exposed = header(&call, "access-control-expose-headers").unwrap_or_default();
    for name in ["grpc-status", "grpc-message"] {
        assert!(exposed.contains(name), "{name} is exposed: {exposed}");
    }
    let (messages, trailers) = unframe(&call.bytes().await.unwrap());
    assert!(trailers.contains("grpc-status:0"), "{trailers:?}");
    rpb::ListServicesResponse::decode(messages[0].as_slice()).expect("a ListServicesResponse");
    assert_eq!(header(&other_call, "access-control-allow-origin"), None);
    gw.shutdown().await;
}
