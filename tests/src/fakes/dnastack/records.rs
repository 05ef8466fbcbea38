//! What a test can read back from a [`super::FakeDnastack`]: submissions and runs.

use std::collections::BTreeMap;

use serde_json::Value;

use super::model::{EwesScenario, Run};

/// An accepted eWES run submission (`POST E/runs`, or one run of `POST E/batch`).
#[derive(Clone, Debug, PartialEq)]
pub struct EwesSubmission {
    /// The run it created.
    pub run_id: String,
    /// The namespace of the URL it was posted to.
    pub namespace: String,
    /// `POST E/runs`: the body as sent; `POST E/batch`: this run's effective request (the
    /// batch defaults merged in, `workflow_url` and `engine_id` filled in).
    pub body: Value,
    /// The Bearer token the request carried.
    pub bearer: Option<String>,
}

/// An eWES run as a test sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct EwesRun {
    /// The run id.
    pub run_id: String,
    /// The eWES state, e.g. `"PREPROCESSING"`.
    pub state: String,
    /// The submitted `tags`.
    pub tags: BTreeMap<String, String>,
    /// The submitted `workflow_params` (an object).
    pub workflow_params: Value,
    /// The engine the run was sent to.
    pub engine_id: String,
    /// `"<workflow_id>/<version_id>"`.
    pub workflow_url: String,
    /// The scenario the run follows.
    pub scenario: EwesScenario,
}

impl From<&Run> for EwesRun {
    fn from(run: &Run) -> Self {
        Self {
            run_id: run.run_id.clone(),
            state: run.state.as_str().to_owned(),
            tags: run.request.tags.clone(),
            workflow_params: Value::Object(run.request.params.clone()),
            engine_id: run.request.engine_id.clone(),
            workflow_url: run.workflow_url(),
            scenario: run.scenario,
        }
    }
}
