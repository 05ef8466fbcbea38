//! The authorization matrix of every JobsService RPC: anonymous, the owner
//! of a job and a file, another researcher, a viewer and an admin. The RPC
//! list comes from the descriptor set, so an RPC added without a row here
//! fails the test.

use fedimpute_proto::jobs::{self as pb};
use fedimpute_proto::prost::Message;
use fedimpute_tests::{backends, harness::auth::bearer, harness::jobs::JobsClient};
use tonic::{Code, Request, Status};

use crate::jobs_common::{Michigan, TINY};

fn rpcs() -> Vec<String> {
    let set = fedimpute_proto::prost_types::FileDescriptorSet::decode(
        fedimpute_proto::FILE_DESCRIPTOR_SET,
    )
    .expect("the descriptor set decodes");
    set.file
        .iter()
        .filter(|f| f.package() == "fedimpute.jobs.v1")
        .flat_map(|f| &f.service)
        .flat_map(|s| &s.method)
        .map(|m| m.name().to_owned())
        .collect()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Who {
    Anonymous,
    Owner,
    Stranger,
    Viewer,
    Admin,
}

/// What each caller gets, by RPC.
fn expected(rpc: &str, who: Who) -> Result<(), Code> {
    use Who::*;
    let submits = matches!(
        rpc,
        "UploadFile" | "CreateJob" | "CreateFederatedJob" | "RetryJob"
    );
    let owners_job = matches!(
        rpc,
        "GetJob"
            | "ListStatusUpdates"
            | "ListJobLogs"
            | "ListResults"
            | "DownloadResult"
            | "WatchJob"
            | "CancelJob"
            | "DeleteJob"
            | "RetryJob"
    );
    let owners_file = matches!(rpc, "GetFile" | "DeleteFile" | "DownloadFile");
    match (rpc, who) {
        // The signed token is the credential: no user needed (a bad one is refused).
        ("OpenSignedInput", _) => Err(Code::PermissionDenied),
        (_, Anonymous) => Err(Code::Unauthenticated),
        (_, Viewer) if submits => Err(Code::PermissionDenied),
        (_, Stranger | Viewer) if owners_job || owners_file => Err(Code::NotFound),
        // An admin reads every job, acts only on jobs as their owner would.
        ("DeleteJob" | "RetryJob", Admin) => Err(Code::PermissionDenied),
        (_, Admin) if owners_file => Err(Code::NotFound),
        ("GetJobStats", _) => Ok(()),
        _ => Ok(()),
    }
}

struct Ids {
    job: String,
    file: String,
}

fn ok<T>(_: T) {}

async fn call(
    client: &mut JobsClient,
    rpc: &str,
    token: Option<&str>,
    ids: &Ids,
) -> Result<(), Status> {
    fn req<T>(token: Option<&str>, message: T) -> Request<T> {
        match token {
            Some(t) => bearer(t, message),
            None => Request::new(message),
        }
    }
    match rpc {
        "UploadFile" => {
            let messages = vec![
                pb::UploadFileRequest {
                    part: Some(pb::upload_file_request::Part::Metadata(
                        pb::UploadMetadata {
                            filename: "m.vcf.gz".into(),
                            ..Default::default()
                        },
                    )),
                },
                pb::UploadFileRequest {
                    part: Some(pb::upload_file_request::Part::Chunk(
                        fedimpute_tests::harness::jobs::fixture(TINY),
                    )),
                },
            ];
            client
                .upload_file(req(token, futures::stream::iter(messages)))
                .await
                .map(ok)
        }
        "GetFile" => client
            .get_file(req(
                token,
                pb::GetFileRequest {
                    id: ids.file.clone(),
                },
            ))
            .await
            .map(ok),
        "ListFiles" => client
            .list_files(req(token, pb::ListFilesRequest::default()))
            .await
            .map(ok),
        "DeleteFile" => client
            .delete_file(req(
                token,
                pb::DeleteFileRequest {
                    id: ids.file.clone(),
                },
            ))
            .await
            .map(ok)
            // The owner's file is in use: refused for that reason, past authorization.
            .or_else(|s| {
                if s.code() == Code::FailedPrecondition {
                    Ok(())
                } else {
                    Err(s)
                }
            }),
        "DownloadFile" => client
            .download_file(req(
                token,
                pb::DownloadFileRequest {
                    id: ids.file.clone(),
                },
            ))
            .await
            .map(ok),
        "OpenSignedInput" => client
            .open_signed_input(req(
                token,
                pb::OpenSignedInputRequest {
                    token: "bogus".into(),
                },
            ))
            .await
            .map(ok),
        "CreateJob" | "CreateFederatedJob" => {
            // Past authorization the file id is checked: InvalidArgument
            // (for a caller the file does not exist for) counts as allowed.
            let result = if rpc == "CreateJob" {
                client
                    .create_job(req(
                        token,
                        pb::CreateJobRequest {
                            name: "m".into(),
                            service_id: "no-such-service".into(),
                            reference_panel_id: "1".into(),
                            input_file_id: ids.file.clone(),
                            ..Default::default()
                        },
                    ))
                    .await
                    .map(ok)
            } else {
                client
                    .create_federated_job(req(
                        token,
                        pb::CreateFederatedJobRequest {
                            name: "m".into(),
                            service_ids: vec!["a".into(), "b".into()],
                            reference_panel_ids: vec!["1".into(), "2".into()],
                            input_file_id: ids.file.clone(),
                            ..Default::default()
                        },
                    ))
                    .await
                    .map(ok)
            };
            result.or_else(|s| {
                if s.code() == Code::InvalidArgument {
                    Ok(())
                } else {
                    Err(s)
                }
            })
        }
        "ListJobs" => client
            .list_jobs(req(token, pb::ListJobsRequest::default()))
            .await
            .map(ok),
        "GetJob" => client
            .get_job(req(
                token,
                pb::GetJobRequest {
                    id: ids.job.clone(),
                },
            ))
            .await
            .map(ok),
        "CancelJob" => client
            .cancel_job(req(
                token,
                pb::CancelJobRequest {
                    id: ids.job.clone(),
                },
            ))
            .await
            .map(ok)
            .or_else(|s| {
                if s.code() == Code::FailedPrecondition {
                    Ok(())
                } else {
                    Err(s)
                }
            }),
        "RetryJob" => client
            .retry_job(req(
                token,
                pb::RetryJobRequest {
                    id: ids.job.clone(),
                },
            ))
            .await
            .map(ok)
            .or_else(|s| {
                if s.code() == Code::FailedPrecondition {
                    Ok(())
                } else {
                    Err(s)
                }
            }),
        "DeleteJob" => client
            .delete_job(req(
                token,
                pb::DeleteJobRequest {
                    id: ids.job.clone(),
                },
            ))
            .await
            .map(ok)
            .or_else(|s| {
                if s.code() == Code::FailedPrecondition {
                    Ok(())
                } else {
                    Err(s)
                }
            }),
        "ListStatusUpdates" => client
            .list_status_updates(req(
                token,
                pb::ListStatusUpdatesRequest {
                    job_id: ids.job.clone(),
                },
            ))
            .await
            .map(ok),
        "ListJobLogs" => client
            .list_job_logs(req(
                token,
                pb::ListJobLogsRequest {
                    job_id: ids.job.clone(),
                    attempt: None,
                },
            ))
            .await
            .map(ok),
        "ListResults" => client
            .list_results(req(
                token,
                pb::ListResultsRequest {
                    job_id: ids.job.clone(),
                },
            ))
            .await
            .map(ok),
        "DownloadResult" => client
            .download_result(req(
                token,
                pb::DownloadResultRequest {
                    job_id: ids.job.clone(),
                    file_id: "00000000-0000-0000-0000-000000000000".into(),
                },
            ))
            .await
            .map(ok)
            // Past authorization: no such result.
            .or_else(|s| {
                if s.code() == Code::NotFound && s.message().contains("result") {
                    Ok(())
                } else {
                    Err(s)
                }
            }),
        "WatchJob" => client
            .watch_job(req(
                token,
                pb::WatchJobRequest {
                    id: ids.job.clone(),
                },
            ))
            .await
            .map(ok),
        "GetJobStats" => client
            .get_job_stats(req(token, pb::GetJobStatsRequest::default()))
            .await
            .map(ok),
        "GetDashboardStats" => client
            .get_dashboard_stats(req(token, pb::GetDashboardStatsRequest {}))
            .await
            .map(ok),
        other => panic!("JobsService.{other} has no row in the authorization matrix"),
    }
}

#[tokio::test]
async fn every_jobs_rpc_enforces_its_authorization() {
    let names = rpcs();
    assert!(
        names.len() >= 20,
        "the descriptor set lists the RPCs: {names:?}"
    );
    for db in backends().await {
        // Remote jobs never end by themselves here: what a call finds does
        // not depend on how far the scheduler got.
        let platform = fedimpute_tests::harness::jobs::TestPlatform::spawn_with(
            db,
            |s| s.default_monthly_job_limit = 1000,
            |_| {},
        )
        .await;
        let m = Michigan::on(
            platform,
            fedimpute_tests::fakes::cloudgene::CloudgeneConfig {
                ticks_per_poll: 0,
                max_running_jobs_per_user: 1000,
                ..Default::default()
            },
            serde_json::json!({"max_running_jobs_per_user": 1000}),
        )
        .await;
        let file = m.upload(TINY).await;
        let (_, stranger) = m.platform.users.researcher("stranger").await;
        let auth = m.platform.users.auth();
        let viewer = auth.token(
            "viewer",
            vec![fedimpute_common::auth::RoleGrant::global(
                fedimpute_common::auth::Role::Viewer,
            )],
        );
        let admin = m.platform.users.admin_token().await;
        let mut client = m.client().await;
        for rpc in &names {
            // A fresh job per RPC: an owner's cancel does not end the job
            // the next RPC is tried on.
            let job = m.create(m.request("matrix", &file)).await.expect("created");
            let ids = Ids {
                job: job.id.clone(),
                file: file.id.clone(),
            };
            for (who, token) in [
                (Who::Anonymous, None),
                (Who::Owner, Some(m.token.as_str())),
                (Who::Stranger, Some(stranger.as_str())),
                (Who::Viewer, Some(viewer.as_str())),
                (Who::Admin, Some(admin.as_str())),
            ] {
                let got = call(&mut client, rpc, token, &ids)
                    .await
                    .map_err(|s| s.code());
                assert_eq!(got, expected(rpc, who), "{rpc} as {who:?}");
            }
        }
        m.shutdown().await;
    }
}
