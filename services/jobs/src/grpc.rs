//! The gRPC face of the jobs service: thin handlers that take the caller
//! recorded by the `Authenticated` wrapper (see `startup.rs`), forward to
//! [`Jobs`] and wrap the reply.

use std::pin::Pin;

use fedimpute_common::auth::caller_of;
use fedimpute_proto::jobs::{self as pb, jobs_service_server::JobsService};
use futures::{Stream, StreamExt};
use tonic::{Request, Response, Status, Streaming};

use crate::jobs::Jobs;

/// Implements `fedimpute.jobs.v1.JobsService`.
#[derive(Debug, Clone)]
pub(crate) struct JobsApi {
    core: Jobs,
}

impl JobsApi {
    pub(crate) fn new(core: Jobs) -> Self {
        Self { core }
    }
}

type Reply<T> = Result<Response<T>, Status>;
type Out<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

/// The caller's own access token, to act on their behalf (saving a
/// credential sent with a job).
fn bearer<T>(request: &Request<T>) -> Option<String> {
    request
        .metadata()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::to_owned)
}

fn out<T: Send + 'static>(
    stream: futures::stream::BoxStream<'static, crate::error::Result<T>>,
) -> Out<T> {
    Box::pin(stream.map(|item| item.map_err(Status::from)))
}

#[tonic::async_trait]
impl JobsService for JobsApi {
    async fn upload_file(
        &self,
        request: Request<Streaming<pb::UploadFileRequest>>,
    ) -> Reply<pb::UploadFileResponse> {
        let caller = caller_of(&request);
        let mut stream = request.into_inner();
        let first = stream.message().await?;
        let metadata = match first.and_then(|m| m.part) {
            Some(pb::upload_file_request::Part::Metadata(meta)) => Some(meta),
            Some(pb::upload_file_request::Part::Chunk(_)) | None => None,
        };
        let rest = stream
            .map(|m| m.map_err(|s| s.message().to_owned()))
            .boxed();
        let file = self.core.upload(&caller, metadata, rest).await?;
        Ok(Response::new(pb::UploadFileResponse { file: Some(file) }))
    }

    async fn get_file(&self, request: Request<pb::GetFileRequest>) -> Reply<pb::GetFileResponse> {
        let caller = caller_of(&request);
        let file = self.core.get_file(&caller, &request.get_ref().id).await?;
        Ok(Response::new(pb::GetFileResponse { file: Some(file) }))
    }

    async fn list_files(
        &self,
        request: Request<pb::ListFilesRequest>,
    ) -> Reply<pb::ListFilesResponse> {
        let caller = caller_of(&request);
        let files = self.core.list_files(&caller, request.into_inner()).await?;
        Ok(Response::new(pb::ListFilesResponse { files }))
    }

    async fn delete_file(
        &self,
        request: Request<pb::DeleteFileRequest>,
    ) -> Reply<pb::DeleteFileResponse> {
        let caller = caller_of(&request);
        self.core
            .delete_file(&caller, &request.get_ref().id)
            .await?;
        Ok(Response::new(pb::DeleteFileResponse {
            message: "File deleted".into(),
        }))
    }

    type DownloadFileStream = Out<pb::FileChunk>;

    async fn download_file(
        &self,
        request: Request<pb::DownloadFileRequest>,
    ) -> Reply<Self::DownloadFileStream> {
        let caller = caller_of(&request);
        let stream = self
            .core
            .download_file(&caller, &request.get_ref().id)
            .await?;
        Ok(Response::new(out(stream)))
    }

    type OpenSignedInputStream = Out<pb::FileChunk>;

    async fn open_signed_input(
        &self,
        request: Request<pb::OpenSignedInputRequest>,
    ) -> Reply<Self::OpenSignedInputStream> {
        let stream = self.core.open_signed(&request.get_ref().token).await?;
        Ok(Response::new(out(stream)))
    }

    async fn create_job(
        &self,
        request: Request<pb::CreateJobRequest>,
    ) -> Reply<pb::CreateJobResponse> {
        let caller = caller_of(&request);
        let bearer = bearer(&request);
        let job = self
            .core
            .create_job(&caller, bearer.as_deref(), request.into_inner())
            .await?;
        Ok(Response::new(pb::CreateJobResponse { job: Some(job) }))
    }

    async fn create_federated_job(
        &self,
        request: Request<pb::CreateFederatedJobRequest>,
    ) -> Reply<pb::CreateFederatedJobResponse> {
        let caller = caller_of(&request);
        let bearer = bearer(&request);
        let reply = self
            .core
            .create_federated(&caller, bearer.as_deref(), request.into_inner())
            .await?;
        Ok(Response::new(reply))
    }

    async fn list_jobs(
        &self,
        request: Request<pb::ListJobsRequest>,
    ) -> Reply<pb::ListJobsResponse> {
        let caller = caller_of(&request);
        let reply = self.core.list_jobs(&caller, request.into_inner()).await?;
        Ok(Response::new(reply))
    }

    async fn get_job(&self, request: Request<pb::GetJobRequest>) -> Reply<pb::GetJobResponse> {
        let caller = caller_of(&request);
        let job = self.core.get_job(&caller, &request.get_ref().id).await?;
        Ok(Response::new(pb::GetJobResponse { job: Some(job) }))
    }

    async fn cancel_job(
        &self,
        request: Request<pb::CancelJobRequest>,
    ) -> Reply<pb::CancelJobResponse> {
        let caller = caller_of(&request);
        let reply = self.core.cancel(&caller, &request.get_ref().id).await?;
        Ok(Response::new(reply))
    }

    async fn retry_job(
        &self,
        request: Request<pb::RetryJobRequest>,
    ) -> Reply<pb::RetryJobResponse> {
        let caller = caller_of(&request);
        let reply = self.core.retry(&caller, &request.get_ref().id).await?;
        Ok(Response::new(reply))
    }

    async fn delete_job(
        &self,
        request: Request<pb::DeleteJobRequest>,
    ) -> Reply<pb::DeleteJobResponse> {
        let caller = caller_of(&request);
        let reply = self.core.delete(&caller, &request.get_ref().id).await?;
        Ok(Response::new(reply))
    }

    async fn list_status_updates(
        &self,
        request: Request<pb::ListStatusUpdatesRequest>,
    ) -> Reply<pb::ListStatusUpdatesResponse> {
        let caller = caller_of(&request);
        let updates = self
            .core
            .status_updates(&caller, &request.get_ref().job_id)
            .await?;
        Ok(Response::new(pb::ListStatusUpdatesResponse { updates }))
    }

    async fn list_job_logs(
        &self,
        request: Request<pb::ListJobLogsRequest>,
    ) -> Reply<pb::ListJobLogsResponse> {
        let caller = caller_of(&request);
        let r = request.into_inner();
        let logs = self.core.logs(&caller, &r.job_id, r.attempt).await?;
        Ok(Response::new(pb::ListJobLogsResponse { logs }))
    }

    async fn list_results(
        &self,
        request: Request<pb::ListResultsRequest>,
    ) -> Reply<pb::ListResultsResponse> {
        let caller = caller_of(&request);
        let results = self
            .core
            .results(&caller, &request.get_ref().job_id)
            .await?;
        Ok(Response::new(pb::ListResultsResponse { results }))
    }

    type DownloadResultStream = Out<pb::FileChunk>;

    async fn download_result(
        &self,
        request: Request<pb::DownloadResultRequest>,
    ) -> Reply<Self::DownloadResultStream> {
        let caller = caller_of(&request);
        let r = request.into_inner();
        let stream = self
            .core
            .download_result(&caller, &r.job_id, &r.file_id)
            .await?;
        Ok(Response::new(out(stream)))
    }

    type WatchJobStream = Out<pb::JobEvent>;

    async fn watch_job(
        &self,
        request: Request<pb::WatchJobRequest>,
    ) -> Reply<Self::WatchJobStream> {
        let caller = caller_of(&request);
        let stream = self.core.watch(&caller, &request.get_ref().id).await?;
        Ok(Response::new(out(stream)))
    }

    async fn get_job_stats(
        &self,
        request: Request<pb::GetJobStatsRequest>,
    ) -> Reply<pb::GetJobStatsResponse> {
        let caller = caller_of(&request);
        let stats = self
            .core
            .stats(&caller, request.get_ref().all_users)
            .await?;
        Ok(Response::new(pb::GetJobStatsResponse {
            stats: Some(stats),
        }))
    }

    async fn get_dashboard_stats(
        &self,
        request: Request<pb::GetDashboardStatsRequest>,
    ) -> Reply<pb::GetDashboardStatsResponse> {
        let caller = caller_of(&request);
        let reply = self.core.dashboard(&caller).await?;
        Ok(Response::new(reply))
    }
}
