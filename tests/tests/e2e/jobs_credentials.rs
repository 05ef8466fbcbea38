//! Jobs and credentials: a token refused mid-job (the job waits, its owner
//! is told once, a new token resumes it), tokens sent with a job, the
//! remote's per-user running-jobs limit, and outcome mails.

use std::time::Duration;

use fedimpute_proto::{jobs as pb, users as upb};
use fedimpute_tests::{
    backends, eventually,
    fakes::{cloudgene::CloudgeneConfig, smtp::FakeSmtp},
    harness::{auth::bearer, jobs::TestPlatform, users::smtp},
};
use serde_json::json;

use crate::jobs_common::{Michigan, TINY};

const NEW_TOKEN: &str = "cg-token-ada-renewed-99999999";

async fn with_mail(db: fedimpute_tests::TestDb, config: CloudgeneConfig) -> (Michigan, FakeSmtp) {
    let relay = FakeSmtp::start().await;
    let url = relay.url();
    let platform = TestPlatform::spawn_with(db, |s| s.mail.smtp = Some(smtp(&url)), |_| {}).await;
    (Michigan::on(platform, config, json!({})).await, relay)
}

#[tokio::test]
async fn a_token_refused_mid_job_makes_the_job_wait_until_a_new_one_is_saved() {
    for db in backends().await {
        let (m, relay) = with_mail(
            db,
            CloudgeneConfig {
                ticks_per_poll: 0,
                ..CloudgeneConfig::default()
            },
        )
        .await;
        let file = m.upload(TINY).await;
        let job = m
            .create(m.request("expiring", &file))
            .await
            .expect("created");
        let external = eventually(
            "the job to reach the remote",
            Duration::from_secs(30),
            || async {
                let job = m.platform.job(&m.token, &job.id).await;
                (!job.external_job_id.is_empty()).then_some(job.external_job_id)
            },
        )
        .await;

        // The user's Cloudgene token is revoked mid-job.
        m.fake.set_tokens(vec![]);
        let waiting = eventually(
            "the job to wait for a credential",
            Duration::from_secs(30),
            || async {
                let job = m.platform.job(&m.token, &job.id).await;
                job.needs_credentials.then_some(job)
            },
        )
        .await;
        assert_eq!(waiting.status, pb::JobStatus::Queued as i32, "not failed");
        assert!(
            waiting.error_message.contains("refused the credential"),
            "{}",
            waiting.error_message
        );
        let told = relay.wait_for_messages(1, Duration::from_secs(15)).await;
        assert!(
            told[0].subject().contains("needs a new"),
            "{}",
            told[0].subject()
        );

        // A new token: the job continues by itself.
        m.fake.set_tokens(vec![NEW_TOKEN.to_owned()]);
        m.platform
            .credential(&m.token, m.service.id, NEW_TOKEN)
            .await;
        m.fake.advance(&external, 30);
        let done = m
            .platform
            .until_status(&m.token, &job.id, pb::JobStatus::Completed)
            .await;
        assert!(!done.needs_credentials);
        assert_eq!(m.fake.submission_count(), 1);

        // Mails: one about the credential, one about the outcome, however many polls.
        let mails = relay.wait_for_messages(2, Duration::from_secs(15)).await;
        assert_eq!(
            mails.len(),
            2,
            "{:?}",
            mails.iter().map(|m| m.subject()).collect::<Vec<_>>()
        );
        assert!(mails[1].subject().contains("has completed"));
        assert!(mails[1].body().contains(&format!("/jobs/{}", job.id)));
        m.shutdown().await;
        relay.stop().await;
    }
}

#[tokio::test]
async fn a_token_sent_with_the_job_is_saved_as_the_users_credential() {
    for db in backends().await {
        let m = Michigan::start(db).await;
        let (_, other) = m.platform.users.researcher("grace").await;
        let file = m
            .platform
            .upload(
                &other,
                TINY,
                &fedimpute_tests::harness::jobs::fixture(TINY),
                8192,
            )
            .await
            .expect("upload");
        let mut client = m.client().await;
        let request = pb::CreateJobRequest {
            name: "with a token".into(),
            service_id: m.service.slug.clone(),
            reference_panel_id: m.panel.external_id.clone(),
            input_file_id: file.id.clone(),
            ..Default::default()
        };
        // No credential, none sent: refused before anything is queued.
        let refused = client
            .create_job(bearer(&other, request.clone()))
            .await
            .expect_err("no credential");
        assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
        assert!(
            refused.message().contains("Service Credentials"),
            "{}",
            refused.message()
        );

        m.fake
            .set_tokens(vec![crate::jobs_common::CG_TOKEN.into(), NEW_TOKEN.into()]);
        let job = client
            .create_job(bearer(
                &other,
                pb::CreateJobRequest {
                    user_token: NEW_TOKEN.into(),
                    ..request
                },
            ))
            .await
            .expect("created with a token")
            .into_inner()
            .job
            .expect("a job");
        let saved = m
            .platform
            .users
            .client()
            .await
            .list_my_credentials(bearer(&other, upb::ListMyCredentialsRequest {}))
            .await
            .expect("credentials")
            .into_inner()
            .credentials;
        assert_eq!(saved.len(), 1);
        assert_eq!(saved[0].service_id, m.service.id);
        m.platform
            .until_status(&other, &job.id, pb::JobStatus::Completed)
            .await;
        assert_eq!(
            m.fake.submissions()[0].username,
            fedimpute_tests::fakes::cloudgene::username_for(1),
            "submitted with the token sent along"
        );
        m.shutdown().await;
    }
}

#[tokio::test]
async fn jobs_wait_for_the_remotes_running_jobs_limit_instead_of_being_refused() {
    for db in backends().await {
        let platform = TestPlatform::spawn(db).await;
        let m = Michigan::on(
            platform,
            CloudgeneConfig {
                ticks_per_poll: 0,
                max_running_jobs_per_user: 1,
                ..CloudgeneConfig::default()
            },
            json!({"max_running_jobs_per_user": 1}),
        )
        .await;
        let file = m.upload(TINY).await;
        let first = m.create(m.request("first", &file)).await.expect("created");
        let second = m.create(m.request("second", &file)).await.expect("created");
        let external = eventually(
            "the first to reach the remote",
            Duration::from_secs(30),
            || async {
                let job = m.platform.job(&m.token, &first.id).await;
                (!job.external_job_id.is_empty()).then_some(job.external_job_id)
            },
        )
        .await;
        // The first is polled several times; the second is held back all along.
        eventually(
            "several polls of the first",
            Duration::from_secs(30),
            || async { (m.fake.hits(&format!("/api/v2/jobs/{external}")) >= 4).then_some(()) },
        )
        .await;
        assert_eq!(m.fake.submission_count(), 1);
        assert!(
            m.platform
                .job(&m.token, &second.id)
                .await
                .external_job_id
                .is_empty()
        );

        m.fake.advance(&external, 30);
        m.platform
            .until_status(&m.token, &first.id, pb::JobStatus::Completed)
            .await;
        let second_external =
            eventually("the second to be sent", Duration::from_secs(30), || async {
                let job = m.platform.job(&m.token, &second.id).await;
                (!job.external_job_id.is_empty()).then_some(job.external_job_id)
            })
            .await;
        assert_eq!(m.fake.submission_count(), 2);
        m.fake.advance(&second_external, 30);
        m.platform
            .until_status(&m.token, &second.id, pb::JobStatus::Completed)
            .await;
        m.shutdown().await;
    }
}
