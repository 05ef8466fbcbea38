//! Secrets never reach the logs: a whole registry flow (secrets stored,
//! updated, used for a sync and a probe, released to the Jobs component) is
//! logged at TRACE into a buffer, which must not contain them.

use std::{
    io::Write,
    sync::{Arc, Mutex},
};

use fedimpute_proto::registry as pb;
use fedimpute_tests::{
    TestDb, TestRegistry,
    fakes::{
        cloudgene::{CloudgeneConfig, FakeCloudgene},
        wes::{FakeWes, WesConfig, WesStyle},
    },
    harness::{auth::bearer, users::as_component},
};
use tracing_subscriber::fmt::MakeWriter;

use crate::common::{create, service, sync};

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Buffer {
    type Writer = Buffer;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

// Current-thread runtime: the registry's tasks log through this test's subscriber.
#[tokio::test]
async fn secrets_and_tokens_never_appear_in_logs() {
    let buffer = Buffer::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(buffer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    tracing::callsite::rebuild_interest_cache();

    const CLOUDGENE_TOKEN: &str = "cloudgene-test-token";
    const WES_TOKEN: &str = "wes-secret-bearer-4711";
    let cloudgene = FakeCloudgene::start(CloudgeneConfig::default()).await;
    let wes = FakeWes::start(WesConfig {
        style: WesStyle::WesKit,
        require_token: Some(WES_TOKEN.into()),
        ..WesConfig::default()
    })
    .await;
    let registry = TestRegistry::spawn(TestDb::sqlite()).await;
    let admin = registry.auth.admin();
    let mut client = registry.client().await;

    let mut cg = service(
        "Logged Cloudgene",
        pb::ApiType::Michigan,
        &cloudgene.base_url(),
    );
    cg.secrets = [("api_token".to_owned(), CLOUDGENE_TOKEN.to_owned())].into();
    let cg = create(&mut client, &admin, cg).await;
    let mut node = service("Logged WES", pb::ApiType::Ga4gh, &wes.base_url());
    node.secrets = [("api_token".to_owned(), WES_TOKEN.to_owned())].into();
    let node = create(&mut client, &admin, node).await;
    sync(&mut client, &admin, cg.id, "").await.unwrap();
    let health = client
        .check_service_health(bearer(
            &admin,
            pb::CheckServiceHealthRequest { id: node.id },
        ))
        .await
        .unwrap()
        .into_inner()
        .health
        .unwrap();
    assert_eq!(
        health.status,
        pb::HealthStatus::Healthy as i32,
        "the stored token was used"
    );
    // A failing call with a token in the request.
    let _ = sync(&mut client, &admin, cg.id, "rejected-token-0815").await;
    // Released to the Jobs component.
    let jobs = registry
        .auth
        .jobs
        .token(fedimpute_common::auth::Component::Registry);
    let released = client
        .get_service_secrets(as_component(
            pb::GetServiceSecretsRequest { id: node.id },
            &jobs,
            None,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(released.secrets["api_token"], WES_TOKEN);
    registry.shutdown().await;
    cloudgene.stop().await;
    wes.stop().await;

    let logs = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("reference panels synced") && logs.contains("service secrets released"),
        "the flow was logged:\n{logs}"
    );
    for secret in [
        CLOUDGENE_TOKEN,
        WES_TOKEN,
        "rejected-token-0815",
        admin.as_str(),
        jobs.as_str(),
    ] {
        assert!(
            !logs.contains(secret),
            "a secret reached the logs: {secret}"
        );
    }
}
