//! Metrics and logs of the binary: `fedimpute serve` with
//! `FEDIMPUTE_METRICS_ADDR` runs a job through the gateway on a fake
//! Cloudgene, then `GET /metrics` shows the calls by method and code, the
//! job by state, the upload's bytes and the service's health; the JSON log
//! lines of the request carry its request id and trace id. Also the
//! in-process registry's render, read the same way.

use std::time::Duration;

use fedimpute_proto::{
    jobs::{self as pb, jobs_service_client::JobsServiceClient},
    registry::{self as rpb, registry_service_client::RegistryServiceClient},
    users::{self as upb, users_service_client::UsersServiceClient},
};
use fedimpute_tests::{
    TestDb, eventually,
    fakes::cloudgene::{CloudgeneConfig, FakeCloudgene},
    harness::{
        auth::bearer,
        jobs::{TestPlatform, fixture, upload},
        process::RunningBinary,
    },
};

const BINARY: &str = env!("CARGO_BIN_EXE_fedimpute-e2e");
const PASSWORD: &str = "Quartz-Lantern-Meadow-9921";
const CG_TOKEN: &str = "cg-token-metrics-0123456789";
const TINY: &str = "chr20.tiny.100snps.vcf.gz";
const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const REQUEST_ID: &str = "metrics-e2e-request-1";

/// The value of the sample `name{labels}` (labels in any order, all given).
pub(crate) fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines().find_map(|line| {
        let (series, value) = line.rsplit_once(' ')?;
        let (metric, rest) = series.split_once('{').unwrap_or((series, "}"));
        if metric != name {
            return None;
        }
        let rest = rest.strip_suffix('}')?;
        let all = labels
            .iter()
            .all(|(k, v)| rest.split(',').any(|pair| pair == format!("{k}=\"{v}\"")));
        all.then(|| value.parse().ok()).flatten()
    })
}

fn with<T>(message: T, token: &str, headers: &[(&'static str, &str)]) -> tonic::Request<T> {
    let mut request = bearer(token, message);
    for (name, value) in headers {
        request
            .metadata_mut()
            .insert(*name, value.parse().expect("valid metadata"));
    }
    request
}

#[tokio::test]
async fn the_binary_serves_metrics_and_logs_json_with_trace_and_request_ids() {
    let fake = FakeCloudgene::start(CloudgeneConfig {
        tokens: vec![CG_TOKEN.to_owned()],
        ..CloudgeneConfig::default()
    })
    .await;
    let data = tempfile::tempdir().unwrap();
    // The components reach each other at their addresses: fixed ports
    // (free a moment ago) rather than port 0.
    let mut ports = Vec::new();
    for _ in 0..3 {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        ports.push(listener.local_addr().unwrap().to_string());
    }
    let urls: Vec<String> = ports.iter().map(|a| format!("http://{a}")).collect();
    let running = RunningBinary::serve(
        BINARY,
        data.path(),
        "all",
        &["gateway", "registry", "users", "jobs", "metrics"],
        &[
            ("FEDIMPUTE_REGISTRY_ADDR", &ports[0]),
            ("FEDIMPUTE_USERS_ADDR", &ports[1]),
            ("FEDIMPUTE_JOBS_ADDR", &ports[2]),
            ("FEDIMPUTE_REGISTRY_URL", &urls[0]),
            ("FEDIMPUTE_USERS_URL", &urls[1]),
            ("FEDIMPUTE_JOBS_URL", &urls[2]),
            ("FEDIMPUTE_METRICS_ADDR", "127.0.0.1:0"),
            ("FEDIMPUTE_ADMIN_PASSWORD", PASSWORD),
            ("FEDIMPUTE_ALLOW_PRIVATE_TARGETS", "true"),
            ("FEDIMPUTE_POLL_INTERVAL", "1s"),
        ],
    )
    .await;
    // Every call goes through the gateway's gRPC port, as a client's would.
    let gateway = running.channel().await;
    let token = UsersServiceClient::new(gateway.clone())
        .login(upb::LoginRequest {
            username: "admin".into(),
            password: PASSWORD.into(),
        })
        .await
        .expect("the admin logs in")
        .into_inner()
        .access_token;
    let mut registry = RegistryServiceClient::new(gateway.clone());
    let service = registry
        .create_service(bearer(
            &token,
            rpb::CreateServiceRequest {
                service: Some(rpb::Service {
                    name: "Metrics Cloudgene".into(),
                    api_type: rpb::ApiType::Michigan as i32,
                    base_url: fake.base_url(),
                    requires_auth: Some(true),
                    ..Default::default()
                }),
            },
        ))
        .await
        .expect("a service")
        .into_inner()
        .service
        .expect("a service");
    let panel = registry
        .create_reference_panel(bearer(
            &token,
            rpb::CreateReferencePanelRequest {
                panel: Some(rpb::ReferencePanel {
                    service_id: service.id,
                    name: "H3AFRICA v6".into(),
                    external_id: "apps@h3africa-v6hc-s@1.0.0".into(),
                    populations: vec!["mixed".into()],
                    build: rpb::GenomeBuild::Hg19 as i32,
                    ..Default::default()
                }),
            },
        ))
        .await
        .expect("a panel")
        .into_inner()
        .panel
        .expect("a panel");
    registry
        .check_service_health(bearer(
            &token,
            rpb::CheckServiceHealthRequest { id: service.id },
        ))
        .await
        .expect("a health check");
    UsersServiceClient::new(gateway.clone())
        .put_my_credential(bearer(
            &token,
            upb::PutMyCredentialRequest {
                service_id: service.id,
                credential_type: upb::CredentialType::ApiToken as i32,
                api_token: CG_TOKEN.into(),
                ..Default::default()
            },
        ))
        .await
        .expect("the credential is stored");
    let mut jobs = JobsServiceClient::new(gateway.clone());
    let bytes = fixture(TINY);
    let file = upload(&mut jobs, &token, TINY, &bytes, 4096, None)
        .await
        .expect("the upload");
    let job = jobs
        .create_job(with(
            pb::CreateJobRequest {
                name: "metered".into(),
                service_id: service.id.to_string(),
                reference_panel_id: panel.id.to_string(),
                input_file_id: file.id,
                ..Default::default()
            },
            &token,
            &[
                ("x-request-id", REQUEST_ID),
                ("traceparent", &format!("00-{TRACE}-00f067aa0ba902b7-01")),
            ],
        ))
        .await
        .expect("the job is created")
        .into_inner()
        .job
        .expect("a job");
    let missing = jobs
        .get_job(bearer(
            &token,
            pb::GetJobRequest {
                id: uuid::Uuid::new_v4().to_string(),
            },
        ))
        .await
        .expect_err("no such job");
    assert_eq!(missing.code(), tonic::Code::NotFound);

    // The job completes, and the metrics say so.
    let url = format!("http://{}/metrics", running.addrs["metrics"]);
    let http = reqwest::Client::new();
    let text = eventually(
        &format!("job {} counted as completed", job.id),
        Duration::from_secs(90),
        || async {
            let text = http.get(&url).send().await.ok()?.text().await.ok()?;
            (sample(&text, "fedimpute_jobs", &[("status", "completed")]) == Some(1.0))
                .then_some(text)
        },
    )
    .await;
    let calls = "fedimpute_grpc_server_requests_total";
    for (component, method, code) in [
        ("jobs", "fedimpute.jobs.v1.JobsService/CreateJob", "OK"),
        ("jobs", "fedimpute.jobs.v1.JobsService/UploadFile", "OK"),
        ("jobs", "fedimpute.jobs.v1.JobsService/GetJob", "NOT_FOUND"),
        (
            "registry",
            "fedimpute.registry.v1.RegistryService/CreateService",
            "OK",
        ),
        ("users", "fedimpute.users.v1.UsersService/Login", "OK"),
    ] {
        let labels = [("component", component), ("method", method), ("code", code)];
        assert_eq!(
            sample(&text, calls, &labels),
            Some(1.0),
            "{labels:?} in\n{text}"
        );
    }
    assert_eq!(
        sample(
            &text,
            "fedimpute_grpc_server_duration_seconds_count",
            &[
                ("component", "jobs"),
                ("method", "fedimpute.jobs.v1.JobsService/CreateJob")
            ]
        ),
        Some(1.0)
    );
    for status in ["queued", "running", "failed"] {
        assert_eq!(
            sample(&text, "fedimpute_jobs", &[("status", status)]),
            Some(0.0)
        );
    }
    assert_eq!(
        sample(&text, "fedimpute_jobs_upload_bytes_total", &[]),
        Some(bytes.len() as f64)
    );
    assert_eq!(
        sample(
            &text,
            "fedimpute_registry_service_up",
            &[("service", &service.slug)]
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "fedimpute_registry_probe_duration_seconds_count",
            &[("service", &service.slug)]
        ),
        Some(1.0)
    );
    for gauge in [
        "fedimpute_jobs_queue_depth",
        "fedimpute_jobs_lease_age_seconds",
        "fedimpute_users_outbox_backlog",
    ] {
        assert!(sample(&text, gauge, &[]).is_some(), "{gauge} in\n{text}");
    }

    // The JSON log lines of the request carry both ids, in the gateway and
    // in the jobs service.
    let log = running.log.lock().unwrap().clone();
    let lines: Vec<serde_json::Value> = log
        .iter()
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|l: &serde_json::Value| {
            l.pointer("/span/request_id").and_then(|v| v.as_str()) == Some(REQUEST_ID)
        })
        .collect();
    for target in ["fedimpute_gateway", "fedimpute_jobs"] {
        let line = lines
            .iter()
            .find(|l| l["target"].as_str().is_some_and(|t| t.starts_with(target)))
            .unwrap_or_else(|| panic!("a {target} line of the request in {lines:?}"));
        assert_eq!(
            line.pointer("/span/trace_id"),
            Some(&serde_json::json!(TRACE)),
            "{line}"
        );
    }

    let exit = running.terminate().await;
    assert!(exit.success(), "{exit:?}");
    fake.stop().await;
}

/// In process, through the render function the endpoint uses: the calls
/// of this test are counted (other tests count too, so by difference).
#[tokio::test]
async fn the_process_registry_counts_calls_by_method_and_code() {
    let platform = TestPlatform::spawn(TestDb::sqlite()).await;
    let (_, token) = platform.users.researcher("metered").await;
    let not_found = [
        ("component", "jobs"),
        ("method", "fedimpute.jobs.v1.JobsService/GetJob"),
        ("code", "NOT_FOUND"),
    ];
    let calls = "fedimpute_grpc_server_requests_total";
    let before = fedimpute_common::metrics::render();
    let before_calls = sample(&before, calls, &not_found).unwrap_or(0.0);
    let before_bytes = sample(&before, "fedimpute_jobs_upload_bytes_total", &[]).unwrap_or(0.0);
    let bytes = fixture(TINY);
    platform
        .upload(&token, TINY, &bytes, 1000)
        .await
        .expect("the upload");
    for _ in 0..2 {
        let status = platform
            .jobs()
            .await
            .get_job(bearer(
                &token,
                pb::GetJobRequest {
                    id: uuid::Uuid::new_v4().to_string(),
                },
            ))
            .await
            .expect_err("no such job");
        assert_eq!(status.code(), tonic::Code::NotFound);
    }
    let after = fedimpute_common::metrics::render();
    assert!(sample(&after, calls, &not_found).unwrap_or(0.0) - before_calls >= 2.0);
    assert!(
        sample(&after, "fedimpute_jobs_upload_bytes_total", &[]).unwrap_or(0.0) - before_bytes
            >= bytes.len() as f64
    );
    assert!(after.contains("# HELP fedimpute_jobs Jobs"), "{after}");
    platform.shutdown().await;
}
