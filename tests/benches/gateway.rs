//! Gateway benchmark. The platform runs as its own process (`fedimpute
//! serve`, SQLite) and a second gateway as another (`fedimpute serve
//! gateway`, in front of the same services), so the gateway's own memory
//! can be read. Measured:
//!
//! - `GET /api/services/` and `GET /api/services/{id}/` through the gateway
//!   against `ListServices` and `GetService` made directly to the registry
//!   over gRPC, at 1 and 64 connections, for `BENCH_SECONDS` (default 5)
//!   each: requests/s, p50, p99, and the gateway's overhead as a ratio;
//! - a generated ~1 GiB VCF (`BENCH_UPLOAD_MB`) uploaded as a multipart
//!   form through the gateway: MB/s and the gateway process's peak memory.
//!
//! `cargo bench -p fedimpute-tests --bench gateway`

use std::{
    process::Stdio,
    time::{Duration, Instant},
};

use fedimpute_proto::registry::{self as pb, registry_service_client::RegistryServiceClient};
use fedimpute_tests::{
    bench::{free_port, memory, vcf_of_mib},
    eventually,
};
use serde_json::json;
use tokio::process::{Child, Command};
use tonic::transport::Channel;

const PASSWORD: &str = "Bench-Gateway-Passphrase-2026!";
const SERVICES: usize = 20;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

struct Ports {
    registry: u16,
    users: u16,
    jobs: u16,
    gateway: u16,
    second_gateway: u16,
}

fn spawn(data: &std::path::Path, ports: &Ports, component: &str, gateway: u16) -> Child {
    let url = |port: u16| format!("http://127.0.0.1:{port}");
    let mut command = Command::new(env!("CARGO_BIN_EXE_fedimpute-e2e"));
    command
        .args([
            "--data-dir",
            data.to_str().expect("utf-8"),
            "serve",
            component,
        ])
        .env(
            "FEDIMPUTE_REGISTRY_ADDR",
            format!("127.0.0.1:{}", ports.registry),
        )
        .env("FEDIMPUTE_USERS_ADDR", format!("127.0.0.1:{}", ports.users))
        .env("FEDIMPUTE_JOBS_ADDR", format!("127.0.0.1:{}", ports.jobs))
        .env("FEDIMPUTE_GATEWAY_ADDR", format!("127.0.0.1:{gateway}"))
        .env("FEDIMPUTE_REGISTRY_URL", url(ports.registry))
        .env("FEDIMPUTE_USERS_URL", url(ports.users))
        .env("FEDIMPUTE_JOBS_URL", url(ports.jobs))
        .env("FEDIMPUTE_ADMIN_PASSWORD", PASSWORD)
        .env("FEDIMPUTE_BCRYPT_COST", "4")
        .env("FEDIMPUTE_DEFAULT_STORAGE_LIMIT", (8u64 << 30).to_string())
        .env("FEDIMPUTE_MAX_UPLOAD_BYTES", (4u64 << 30).to_string())
        .env("FEDIMPUTE_RATE_LIMIT", "100000000")
        .env("FEDIMPUTE_USER_RATE_LIMIT", "100000000")
        .env("FEDIMPUTE_AUTH_RATE_LIMIT", "100000")
        .env("FEDIMPUTE_LOG", "warn")
        .stdout(Stdio::null())
        .kill_on_drop(true);
    if component == "gateway" {
        command.arg("--no-migrate");
    }
    command.spawn().expect("start fedimpute")
}

async fn until_ready(http: &reqwest::Client, port: u16) {
    eventually(
        &format!("the gateway on {port} to be ready"),
        Duration::from_secs(60),
        || async {
            let reply = http
                .get(format!("http://127.0.0.1:{port}/readyz"))
                .send()
                .await
                .ok()?;
            reply.status().is_success().then_some(())
        },
    )
    .await;
}

#[derive(Clone, Copy, Debug)]
enum Call {
    RestList,
    RestGet,
    GrpcList,
    GrpcGet,
}

impl Call {
    fn label(self) -> &'static str {
        match self {
            Self::RestList => "REST GET /api/services/ (gateway)",
            Self::RestGet => "REST GET /api/services/{id}/ (gateway)",
            Self::GrpcList => "gRPC ListServices (registry, direct)",
            Self::GrpcGet => "gRPC GetService (registry, direct)",
        }
    }
}

struct Outcome {
    requests: usize,
    rate: f64,
    p50: Duration,
    p99: Duration,
}

/// `connections` callers, each on its own connection, for `seconds`.
async fn measure(
    call: Call,
    connections: usize,
    seconds: Duration,
    ports: &Ports,
    id: i64,
) -> Outcome {
    let deadline = Instant::now() + seconds;
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let registry = format!("http://127.0.0.1:{}", ports.registry);
        let base = format!("http://127.0.0.1:{}", ports.gateway);
        tasks.push(tokio::spawn(async move {
            let http = reqwest::Client::builder()
                .pool_max_idle_per_host(1)
                .tcp_nodelay(true)
                .build()
                .expect("a client");
            let mut grpc = match call {
                Call::GrpcList | Call::GrpcGet => Some(RegistryServiceClient::new(
                    Channel::from_shared(registry)
                        .expect("a URL")
                        .tcp_nodelay(true)
                        .connect()
                        .await
                        .expect("connect"),
                )),
                Call::RestList | Call::RestGet => None,
            };
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let started = Instant::now();
                match (call, grpc.as_mut()) {
                    (Call::RestList, _) => {
                        let body = http
                            .get(format!("{base}/api/services/"))
                            .send()
                            .await
                            .expect("list")
                            .bytes()
                            .await
                            .expect("a body");
                        assert!(body.starts_with(b"["), "a bare array");
                    }
                    (Call::RestGet, _) => {
                        let reply = http
                            .get(format!("{base}/api/services/{id}/"))
                            .send()
                            .await
                            .expect("get");
                        assert!(reply.status().is_success());
                        reply.bytes().await.expect("a body");
                    }
                    (Call::GrpcList, Some(client)) => {
                        client
                            .list_services(pb::ListServicesRequest::default())
                            .await
                            .expect("list");
                    }
                    (Call::GrpcGet, Some(client)) => {
                        client
                            .get_service(pb::GetServiceRequest {
                                id_or_slug: id.to_string(),
                            })
                            .await
                            .expect("get");
                    }
                    (Call::GrpcList | Call::GrpcGet, None) => unreachable!("a gRPC client"),
                }
                latencies.push(started.elapsed());
            }
            latencies
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.expect("a caller"));
    }
    all.sort();
    let at = |q: f64| all[((all.len() as f64 * q) as usize).min(all.len() - 1)];
    Outcome {
        requests: all.len(),
        rate: all.len() as f64 / seconds.as_secs_f64(),
        p50: at(0.50),
        p99: at(0.99),
    }
}

#[tokio::main]
async fn main() {
    let seconds = Duration::from_secs(env_or("BENCH_SECONDS", 5));
    let mb = env_or("BENCH_UPLOAD_MB", 1024u64);
    let path = vcf_of_mib(mb);
    let size = std::fs::metadata(&path).expect("the bench file").len();

    let data = tempfile::tempdir().expect("a data dir");
    let ports = Ports {
        registry: free_port(),
        users: free_port(),
        jobs: free_port(),
        gateway: free_port(),
        second_gateway: free_port(),
    };
    let http = reqwest::Client::new();
    let mut platform = spawn(data.path(), &ports, "all", ports.gateway);
    until_ready(&http, ports.gateway).await;
    let mut gateway = spawn(data.path(), &ports, "gateway", ports.second_gateway);
    until_ready(&http, ports.second_gateway).await;
    let base = format!("http://127.0.0.1:{}", ports.gateway);

    let login: serde_json::Value = http
        .post(format!("{base}/api/auth/login/"))
        .json(&json!({"username": "admin", "password": PASSWORD}))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("a login reply");
    let token = login["access_token"].as_str().expect("a token").to_owned();
    let mut id = 0;
    for i in 0..SERVICES {
        let api_type = ["michigan", "ga4gh", "dnastack"][i % 3];
        let created: serde_json::Value = http
            .post(format!("{base}/api/services/"))
            .bearer_auth(&token)
            .json(&json!({
                "name": format!("Imputation service {i:02}"),
                "api_type": api_type,
                "base_url": format!("https://node{i}.example.org"),
                "description": "A benchmark service with a description of realistic length.",
                "continent": "Africa",
            }))
            .send()
            .await
            .expect("create a service")
            .json()
            .await
            .expect("a service");
        id = created["id"].as_i64().expect("an id");
    }

    println!("| call | connections | requests | req/s | p50 | p99 |");
    println!("|---|---|---|---|---|---|");
    let mut results = Vec::new();
    for connections in [1, 64] {
        for call in [Call::GrpcList, Call::RestList, Call::GrpcGet, Call::RestGet] {
            let o = measure(call, connections, seconds, &ports, id).await;
            println!(
                "| {} | {connections} | {} | {:.0} | {:.2?} | {:.2?} |",
                call.label(),
                o.requests,
                o.rate,
                o.p50,
                o.p99
            );
            results.push((call, connections, o));
        }
    }
    for pair in results.chunks(2) {
        let (direct, via) = (&pair[0].2, &pair[1].2);
        println!(
            "overhead, {} at {} connections: {:.2}x the time at p50, {:.2}x fewer requests/s",
            pair[1].0.label(),
            pair[1].1,
            via.p50.as_secs_f64() / direct.p50.as_secs_f64(),
            direct.rate / via.rate,
        );
    }

    // The upload, through the second gateway (its own process).
    let pid = gateway.id().expect("a pid");
    let (rss_before, _) = memory(pid);
    let file = tokio::fs::File::open(&path).await.expect("open");
    let stream = tokio_util::io::ReaderStream::with_capacity(file, 256 * 1024);
    let part =
        reqwest::multipart::Part::stream_with_length(reqwest::Body::wrap_stream(stream), size)
            .file_name("bench.vcf.gz")
            .mime_str("application/gzip")
            .expect("a MIME type");
    let form = reqwest::multipart::Form::new().part("file", part);
    let started = Instant::now();
    let reply = http
        .post(format!(
            "http://127.0.0.1:{}/api/files/",
            ports.second_gateway
        ))
        .bearer_auth(&token)
        .multipart(form)
        .send()
        .await
        .expect("the upload is sent");
    let status = reply.status();
    let body: serde_json::Value = reply.json().await.expect("a JSON reply");
    let elapsed = started.elapsed();
    assert!(
        status.is_success(),
        "the upload is accepted: {status} {body}"
    );
    assert_eq!(
        body["size_bytes"].as_u64(),
        Some(size),
        "every byte arrived"
    );
    let (rss_after, peak) = memory(pid);
    println!(
        "multipart upload through the gateway: {:.1} MiB in {:.1?} = {:.1} MB/s",
        size as f64 / 1_048_576.0,
        elapsed,
        size as f64 / 1e6 / elapsed.as_secs_f64(),
    );
    println!(
        "gateway process memory: before {:.1} MiB, after {:.1} MiB, peak (VmHWM) {:.1} MiB",
        rss_before as f64 / 1024.0,
        rss_after as f64 / 1024.0,
        peak as f64 / 1024.0
    );
    gateway.kill().await.ok();
    platform.kill().await.ok();
}
