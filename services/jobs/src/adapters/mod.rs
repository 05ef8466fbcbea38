//! The remote imputation APIs: Cloudgene (Michigan, TOPMed, H3Africa), GA4GH
//! WES and DNAstack Workbench eWES, behind one shape. Each call is one
//! request (or a short bounded sequence); nothing here waits for a remote
//! job to end.

mod cloudgene;
mod dnastack;
mod http;
mod outputs;
mod wes;

use bytes::Bytes;
use futures::stream::BoxStream;

pub(crate) use http::{Clients, RemoteError};

use crate::{
    domain::{ApiType, Build, Mode},
    peers::Credential,
    store::{NewLog, NewResult, Time},
};

/// Where a remote job runs and with what credential.
#[derive(Clone, Debug)]
pub(crate) struct Target {
    pub(crate) api_type: ApiType,
    pub(crate) service_id: i64,
    /// Normalised by the registry: no trailing slash, no API suffix.
    pub(crate) base_url: String,
    /// The service's `api_config` with the panel's on top.
    pub(crate) config: serde_json::Value,
    pub(crate) credential: Credential,
}

impl Target {
    fn setting(&self, key: &str) -> Option<&str> {
        self.config
            .get(key)
            .and_then(|v| v.as_str())
            .filter(|s| !s.is_empty())
    }
}

/// The input file, as the remote gets it.
pub(crate) struct Input {
    /// Ends in `.vcf.gz`.
    pub(crate) filename: String,
    pub(crate) size: u64,
    /// The bytes (for remotes that take an upload).
    pub(crate) bytes: Option<BoxStream<'static, Result<Bytes, std::io::Error>>>,
    /// A signed, expiring link to the bytes (for remotes that fetch them).
    pub(crate) url: String,
}

impl std::fmt::Debug for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Input")
            .field("filename", &self.filename)
            .field("size", &self.size)
            .field("bytes", &self.bytes.is_some())
            .finish_non_exhaustive()
    }
}

/// What the remote is asked to run.
#[derive(Debug)]
pub(crate) struct Submission {
    /// Unique per job and attempt; the remote job carries it, so it can be
    /// found again after an ambiguous submission.
    pub(crate) tag: String,
    /// The job's name, for the remote's own listing.
    pub(crate) name: String,
    pub(crate) panel: String,
    pub(crate) build: Build,
    pub(crate) phasing: bool,
    pub(crate) population: String,
    pub(crate) mode: Mode,
    pub(crate) r2_filter: Option<f64>,
    /// The password the remote encrypts results with (Cloudgene).
    pub(crate) password: Option<String>,
    pub(crate) input: Input,
}

/// Where the remote job is.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum RemoteState {
    /// Waiting; `position` in the remote queue when it says.
    Queued {
        position: Option<i64>,
    },
    Running,
    /// Cancellation asked for, not done yet.
    Cancelling,
    Succeeded,
    Failed {
        reason: String,
    },
    Cancelled,
    /// Ended (failed or cancelled: the remote does not say which any more),
    /// `reason` when it still shows one (Cloudgene 9).
    Ended {
        reason: String,
    },
    /// Lost by a remote restart; it may be restarted (Cloudgene -1).
    Dead,
    /// The remote deleted the job or its workspace (Cloudgene 7, 10).
    Gone {
        reason: String,
    },
    /// The remote does not know (WES UNKNOWN): keep following.
    Unknown,
}

/// One look at a remote job.
#[derive(Clone, Debug)]
pub(crate) struct RemoteView {
    pub(crate) state: RemoteState,
    /// The state exactly as the remote wrote it.
    pub(crate) raw_state: String,
    pub(crate) progress: i32,
    /// The remote's reply, without fields that change on every call.
    pub(crate) payload: serde_json::Value,
    pub(crate) logs: Vec<NewLog>,
    pub(crate) results: Vec<NewResult>,
    pub(crate) results_expire_at: Option<Time>,
}

/// A result's bytes from the remote.
pub(crate) type Download = BoxStream<'static, Result<Bytes, RemoteError>>;

/// A remote API.
#[derive(Clone, Debug)]
pub(crate) struct Remotes {
    clients: Clients,
}

impl Remotes {
    pub(crate) fn new(clients: Clients) -> Self {
        Self { clients }
    }

    /// Sends the job; the remote's id for it.
    pub(crate) async fn submit(&self, t: &Target, s: Submission) -> Result<String, RemoteError> {
        match t.api_type {
            ApiType::Michigan => cloudgene::submit(&self.clients, t, s).await,
            ApiType::Ga4gh => wes::submit(&self.clients, t, s).await,
            ApiType::Dnastack => dnastack::submit(&self.clients, t, s).await,
        }
    }

    /// Looks for the job carrying `tag` (after an ambiguous submission).
    pub(crate) async fn find(&self, t: &Target, tag: &str) -> Result<Option<String>, RemoteError> {
        match t.api_type {
            ApiType::Michigan => cloudgene::find(&self.clients, t, tag).await,
            ApiType::Ga4gh => wes::find(&self.clients, t, tag).await,
            ApiType::Dnastack => dnastack::find(&self.clients, t, tag).await,
        }
    }

    /// The job as the remote sees it now; `previous` is the raw state last
    /// seen (a remote with a cheap status call skips the details when the
    /// state has not moved).
    pub(crate) async fn status(
        &self,
        t: &Target,
        id: &str,
        previous: &str,
    ) -> Result<Option<RemoteView>, RemoteError> {
        match t.api_type {
            ApiType::Michigan => cloudgene::status(&self.clients, t, id).await.map(Some),
            ApiType::Ga4gh => wes::status(&self.clients, t, id, previous).await,
            ApiType::Dnastack => dnastack::status(&self.clients, t, id, previous).await,
        }
    }

    pub(crate) async fn cancel(&self, t: &Target, id: &str) -> Result<(), RemoteError> {
        match t.api_type {
            ApiType::Michigan => cloudgene::cancel(&self.clients, t, id).await,
            ApiType::Ga4gh => wes::cancel(&self.clients, t, id).await,
            ApiType::Dnastack => dnastack::cancel(&self.clients, t, id).await,
        }
    }

    /// Restarts a job the remote lost in a restart (Cloudgene only).
    pub(crate) async fn restart(&self, t: &Target, id: &str) -> Result<(), RemoteError> {
        match t.api_type {
            ApiType::Michigan => cloudgene::restart(&self.clients, t, id).await,
            ApiType::Ga4gh | ApiType::Dnastack => Err(RemoteError::Rejected(
                "this remote cannot restart a job".into(),
            )),
        }
    }

    /// Streams a result file from the remote (each call may spend one of
    /// the remote's limited downloads).
    pub(crate) async fn download(
        &self,
        t: &Target,
        location: &str,
    ) -> Result<(Option<u64>, Download), RemoteError> {
        match t.api_type {
            ApiType::Michigan => cloudgene::download(&self.clients, t, location).await,
            ApiType::Ga4gh | ApiType::Dnastack => {
                outputs::download(&self.clients, t, location).await
            }
        }
    }
}
