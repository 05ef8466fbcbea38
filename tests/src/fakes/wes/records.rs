//! What a test can read back from a [`super::FakeWes`]: submissions, runs, input downloads.

use std::collections::BTreeMap;

use serde_json::Value;

use super::model::{Run, WesScenario};

/// A file part (`workflow_attachment`) of a submission, as received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attachment {
    /// The part's `filename`.
    pub filename: String,
    /// Bytes received.
    pub size: u64,
    /// Lower-case hex SHA-256 of the bytes.
    pub sha256_hex: String,
}

/// An accepted `POST /runs`, as received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WesSubmission {
    /// The run it created.
    pub run_id: String,
    /// The request's `Content-Type` header (boundary included).
    pub content_type: String,
    /// The text parts (or urlencoded fields), in order.
    pub fields: Vec<(String, String)>,
    /// The `workflow_attachment` file parts, in order.
    pub attachments: Vec<Attachment>,
    /// The Bearer token the request carried.
    pub bearer: Option<String>,
}

impl WesSubmission {
    /// The first text part named `name`.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A run as a test sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct FakeRun {
    /// The run id (a UUID).
    pub run_id: String,
    /// The WES state, e.g. `"RUNNING"`.
    pub state: String,
    /// The submitted `tags`.
    pub tags: BTreeMap<String, String>,
    /// The submitted `workflow_params` (an object).
    pub workflow_params: Value,
    /// The Bearer token that created the run (its owner).
    pub owner: Option<String>,
    /// The scenario the run follows.
    pub scenario: WesScenario,
    /// `run_log.start_time`, once set.
    pub start_time: Option<String>,
    /// `run_log.end_time`, once set.
    pub end_time: Option<String>,
}

impl From<&Run> for FakeRun {
    fn from(run: &Run) -> Self {
        Self {
            run_id: run.run_id.clone(),
            state: run.state.as_str().to_owned(),
            tags: run.tags.clone(),
            workflow_params: run.request["workflow_params"].clone(),
            owner: run.owner.clone(),
            scenario: run.scenario,
            start_time: run.start_time.clone(),
            end_time: run.end_time.clone(),
        }
    }
}

/// One input download of a run (when `WesConfig::fetch_inputs` is on).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchedInput {
    /// The run that needed the input.
    pub run_id: String,
    /// The URL from the input parameter.
    pub url: String,
    /// The HTTP status, if a reply came.
    pub status: Option<u16>,
    /// Bytes received.
    pub size: u64,
    /// Lower-case hex SHA-256 of the bytes received (of nothing, on failure).
    pub sha256_hex: String,
    /// Why the download failed, if it did.
    pub error: Option<String>,
}
