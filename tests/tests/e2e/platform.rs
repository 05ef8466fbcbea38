//! What every component offers: standard health, reflection (v1 and
//! v1alpha), graceful shutdown, and the binary's handling of SIGTERM.

use std::time::Duration;

use fedimpute_proto::registry as pb;
use fedimpute_tests::{
    TestDb, TestRegistry,
    fakes::{
        Fault,
        cloudgene::{CloudgeneConfig, FakeCloudgene},
    },
    harness::auth::bearer,
    harness::process::RunningBinary,
};
use tokio_stream::StreamExt;
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

use crate::common::{create, service};

const REGISTRY: &str = "fedimpute.registry.v1.RegistryService";

/// Lists the services reflection knows, in one protocol version.
macro_rules! reflected_services {
    ($version:ident, $channel:expr) => {{
        use tonic_reflection::pb::$version::{
            ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
            server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
        };
        let request = ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        };
        let mut replies = ServerReflectionClient::new($channel)
            .server_reflection_info(tokio_stream::iter([request]))
            .await
            .unwrap()
            .into_inner();
        match replies.next().await.unwrap().unwrap().message_response {
            Some(MessageResponse::ListServicesResponse(list)) => {
                list.service.into_iter().map(|s| s.name).collect::<Vec<_>>()
            }
            other => panic!("unexpected reflection reply {other:?}"),
        }
    }};
}

#[tokio::test]
async fn reflection_and_health_are_served() {
    let registry = TestRegistry::spawn(TestDb::sqlite()).await;
    for services in [
        reflected_services!(v1, registry.channel().await),
        reflected_services!(v1alpha, registry.channel().await),
    ] {
        assert!(services.iter().any(|s| s == REGISTRY), "{services:?}");
        assert!(
            services.iter().any(|s| s == "grpc.health.v1.Health"),
            "{services:?}"
        );
    }
    let mut health = HealthClient::new(registry.channel().await);
    for name in ["", REGISTRY] {
        let status = health
            .check(HealthCheckRequest {
                service: name.into(),
            })
            .await
            .unwrap()
            .into_inner()
            .status;
        assert_eq!(status, ServingStatus::Serving as i32, "'{name}'");
    }
    registry.shutdown().await;
}

#[tokio::test]
async fn shutdown_reports_not_serving_and_drains_in_flight_calls() {
    let fake = FakeCloudgene::start(CloudgeneConfig::default()).await;
    let mut registry = TestRegistry::spawn_with(TestDb::sqlite(), |s| {
        s.outbound.timeout = Duration::from_secs(10)
    })
    .await;
    let admin = registry.auth.admin();
    let mut client = registry.client().await;
    let svc = create(
        &mut client,
        &admin,
        service("Slow", pb::ApiType::Michigan, &fake.base_url()),
    )
    .await;

    let mut watch = HealthClient::new(registry.channel().await)
        .watch(HealthCheckRequest {
            service: REGISTRY.into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        watch.next().await.unwrap().unwrap().status,
        ServingStatus::Serving as i32
    );

    // A call that takes a while (the fake answers after 1.5 s)...
    fake.set_fault(Fault::Delay(Duration::from_millis(1500)));
    let mut slow_client = client.clone();
    let in_flight = tokio::spawn(async move {
        slow_client
            .check_service_health(bearer(&admin, pb::CheckServiceHealthRequest { id: svc.id }))
            .await
    });
    fedimpute_tests::eventually(
        "the slow call reaches the fake",
        Duration::from_secs(10),
        || async { (fake.hits("/api/v2/server") > 0).then_some(()) },
    )
    .await;

    // ...is still answered after shutdown starts, while health says NOT_SERVING.
    registry.begin_shutdown();
    assert_eq!(
        watch.next().await.unwrap().unwrap().status,
        ServingStatus::NotServing as i32
    );
    // The watch ends by itself, so it cannot hold the drain open.
    assert!(
        watch.next().await.is_none(),
        "the watch stream ends at shutdown"
    );
    let answered = in_flight
        .await
        .unwrap()
        .expect("the in-flight call completes");
    let health = answered.into_inner().health.unwrap();
    assert_eq!(health.status, pb::HealthStatus::Healthy as i32);
    registry.shutdown().await;
    fake.stop().await;
}

#[tokio::test]
async fn the_binary_migrates_serves_and_exits_zero_on_sigterm() {
    let data = tempfile::tempdir().unwrap();
    let binary = env!("CARGO_BIN_EXE_fedimpute-e2e");
    let migrated = tokio::process::Command::new(binary)
        .args([
            "--data-dir",
            data.path().to_str().unwrap(),
            "migrate",
            "registry",
        ])
        .env("FEDIMPUTE_LOG", "warn")
        .status()
        .await
        .unwrap();
    assert!(migrated.success());
    assert!(data.path().join("registry.db").exists());

    let running = RunningBinary::serve_registry(binary, data.path(), &[]).await;
    let channel = running.channel().await;
    let status = HealthClient::new(channel.clone())
        .check(HealthCheckRequest {
            service: REGISTRY.into(),
        })
        .await
        .unwrap();
    assert_eq!(status.into_inner().status, ServingStatus::Serving as i32);
    let listed = pb::registry_service_client::RegistryServiceClient::new(channel)
        .list_services(pb::ListServicesRequest::default())
        .await
        .unwrap();
    assert!(listed.into_inner().services.is_empty());

    let exit = running.terminate().await;
    assert!(exit.success(), "exit status {exit:?}");
    // In development the keys were generated into the data directory, owner-only.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(data.path().join("keys/encryption.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}
