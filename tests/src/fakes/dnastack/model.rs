//! A fake eWES run: its state machine with `events[]` (C.4, C.7), task logs, and the
//! ExtendedRun / ExtendedRunStatus bodies.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

pub(super) use super::states::{EwesScenario, EwesState};
use crate::fakes::wes::QC_FAILURE;
use crate::fakes::wes::artifacts::now;

const QC_TASK: &str = "fedimpute.quality_control";
const IMPUTE_TASK: &str = "fedimpute.imputation";
const CHR21_TASK: &str = "fedimpute.imputation_chr21";

#[derive(Clone, Debug)]
pub(super) struct Task {
    pub(super) id: String,
    pub(super) name: &'static str,
    pub(super) state: EwesState,
    pub(super) start_time: String,
    pub(super) end_time: Option<String>,
    pub(super) exit_code: Option<i32>,
    pub(super) stderr: String,
}

/// What a run was submitted with, after validation.
#[derive(Clone, Debug)]
pub(super) struct Request {
    pub(super) workflow_id: String,
    pub(super) version_id: String,
    pub(super) engine_id: String,
    pub(super) params: Map<String, Value>,
    pub(super) engine_params: Map<String, Value>,
    pub(super) tags: BTreeMap<String, String>,
}

#[derive(Debug)]
pub(super) struct Run {
    pub(super) run_id: String,
    pub(super) namespace: String,
    pub(super) request: Request,
    pub(super) scenario: EwesScenario,
    pub(super) state: EwesState,
    ticks_in_state: u32,
    pub(super) start_time: String,
    pub(super) end_time: Option<String>,
    pub(super) exit_code: Option<i32>,
    pub(super) errors: Vec<String>,
    pub(super) events: Vec<Value>,
    pub(super) tasks: Vec<Task>,
    pub(super) outputs: Map<String, Value>,
    pub(super) stderr: String,
}

impl Run {
    pub(super) fn new(
        run_id: String,
        namespace: String,
        request: Request,
        scenario: EwesScenario,
    ) -> Self {
        let mut run = Self {
            run_id,
            namespace,
            request,
            scenario,
            state: EwesState::Preprocessing,
            ticks_in_state: 0,
            start_time: now(),
            end_time: None,
            exit_code: None,
            errors: Vec::new(),
            events: Vec::new(),
            tasks: Vec::new(),
            outputs: Map::new(),
            stderr: String::new(),
        };
        let request = &run.request;
        let metadata = json!({"message": "Run submitted", "start_time": run.start_time,
            "state": "PREPROCESSING", "workflow_id": request.workflow_id,
            "workflow_version_id": request.version_id, "workflow_url": run.workflow_url(),
            "tags": request.tags});
        run.event("RUN_SUBMITTED", metadata);
        run
    }

    pub(super) fn workflow_url(&self) -> String {
        format!("{}/{}", self.request.workflow_id, self.request.version_id)
    }

    /// The engine's id of the run.
    pub(super) fn external_id(&self) -> String {
        let short = self.run_id.get(..8).unwrap_or(&self.run_id);
        format!("cromwell-{short}")
    }

    /// The eWES base of the run's namespace.
    pub(super) fn ewes(&self, base: &str) -> String {
        format!("{base}/ewes/{}/ga4gh/wes/v1", self.namespace)
    }

    fn event(&mut self, event_type: &str, mut metadata: Value) {
        if let Some(map) = metadata.as_object_mut() {
            map.insert("event_type".into(), json!(event_type));
        }
        let id = format!("{}-event-{}", self.run_id, self.events.len() + 1);
        self.events.push(json!({"id": id, "event_type": event_type,
            "created_at": now(), "metadata": metadata}));
    }

    /// One step of the state machine.
    pub(super) fn tick(&mut self, running_ticks: u32, base: &str) {
        match self.state {
            EwesState::Preprocessing => {
                if self.scenario == EwesScenario::PreprocessingError {
                    self.event("PREPROCESSING", json!({"outcome": "FAILURE"}));
                    self.enter(EwesState::PreprocessingError, base);
                } else {
                    self.event("PREPROCESSING", json!({"outcome": "SUCCESS"}));
                    let external_id = self.external_id();
                    let metadata = json!({"message": "Submitted to engine",
                        "external_id": external_id});
                    self.event("RUN_SUBMITTED_TO_ENGINE", metadata);
                    self.enter(EwesState::Queued, base);
                }
            }
            EwesState::Queued => self.enter(EwesState::Initializing, base),
            EwesState::Initializing => self.enter(EwesState::Running, base),
            EwesState::Running => {
                self.ticks_in_state += 1;
                if self.ticks_in_state >= running_ticks.max(1) {
                    let end = match self.scenario {
                        EwesScenario::Success | EwesScenario::PreprocessingError => {
                            EwesState::Complete
                        }
                        EwesScenario::QcFail => EwesState::ExecutorError,
                        EwesScenario::Partial => EwesState::CompleteWithErrors,
                        EwesScenario::SystemError => EwesState::SystemError,
                    };
                    self.enter(end, base);
                }
            }
            EwesState::Canceling => self.enter(EwesState::Canceled, base),
            EwesState::Paused
            | EwesState::Unknown
            | EwesState::Complete
            | EwesState::CompleteWithErrors
            | EwesState::ExecutorError
            | EwesState::SystemError
            | EwesState::PreprocessingError
            | EwesState::NotProcessed
            | EwesState::Canceled => {}
        }
    }

    /// Moves to `state` (also what `set_state` does): a STATE_TRANSITION event, and that
    /// state's outputs, errors and task changes.
    pub(super) fn enter(&mut self, state: EwesState, base: &str) {
        let old = self.state;
        self.state = state;
        self.ticks_in_state = 0;
        if state.is_terminal() {
            self.end_time.get_or_insert_with(now);
        }
        let vcf_http = format!("{base}/outputs/{}/chr20.dose.vcf.gz", self.run_id);
        let qc_report = format!("{base}/outputs/{}/qc_report.txt", self.run_id);
        match state {
            EwesState::Running => self.start_task(QC_TASK),
            EwesState::Complete => {
                self.exit_code = Some(0);
                self.close_tasks(EwesState::Complete, Some(0));
                self.start_task(IMPUTE_TASK);
                self.close_tasks(EwesState::Complete, Some(0));
                let gs = format!("gs://fake-bucket/{}/chr20.dose.vcf.gz", self.run_id);
                self.outputs
                    .insert("fedimpute.imputed_vcfs".into(), json!([gs]));
                self.outputs
                    .insert("fedimpute.qc_report".into(), json!(qc_report));
                self.outputs
                    .insert("fedimpute.imputed_vcf_http".into(), json!(vcf_http));
            }
            EwesState::CompleteWithErrors => {
                self.exit_code = Some(1);
                self.close_tasks(EwesState::Complete, Some(0));
                self.start_task(IMPUTE_TASK);
                self.close_tasks(EwesState::Complete, Some(0));
                self.start_task(CHR21_TASK);
                self.task_failed(CHR21_TASK, "minimac4: chunk 21:1-20000000 failed\n");
                self.errors.push(format!(
                    "Task {CHR21_TASK} failed: minimac4 exited with code 1"
                ));
                self.outputs
                    .insert("fedimpute.qc_report".into(), json!(qc_report));
            }
            EwesState::ExecutorError => {
                self.exit_code = Some(1);
                if !self.tasks.iter().any(|t| t.name == QC_TASK) {
                    self.start_task(QC_TASK);
                }
                self.task_failed(QC_TASK, &format!("{QC_FAILURE}\n"));
                self.stderr = format!("{QC_FAILURE}\n");
                self.errors
                    .push(format!("Task {QC_TASK} failed: {QC_FAILURE}"));
            }
            EwesState::SystemError => {
                self.close_tasks(EwesState::SystemError, None);
                let engine = &self.request.engine_id;
                self.errors.push(format!(
                    "The execution engine '{engine}' lost track of the workflow"
                ));
            }
            EwesState::PreprocessingError => self.errors.push(
                "Preprocessing failed: input 'fedimpute.vcfs' is not readable by the engine"
                    .to_owned(),
            ),
            EwesState::Canceled => self.close_tasks(EwesState::Canceled, None),
            EwesState::Preprocessing
            | EwesState::Queued
            | EwesState::Initializing
            | EwesState::Paused
            | EwesState::Unknown
            | EwesState::Canceling
            | EwesState::NotProcessed => {}
        }
        let mut metadata = json!({"message": format!("{} -> {}", old.as_str(), state.as_str()),
            "old_state": old.as_str(), "new_state": state.as_str(), "end_time": self.end_time});
        if state.is_error() {
            if let Some(map) = metadata.as_object_mut() {
                map.insert("errors".into(), json!(self.errors));
            }
            let errors = json!({"message": "Run failed", "errors": self.errors});
            self.event("ERROR_OCCURRED", errors);
        }
        self.event("STATE_TRANSITION", metadata);
    }

    /// `POST …/cancel`: a live run goes CANCELING (then CANCELED at the next tick).
    pub(super) fn cancel(&mut self, base: &str) {
        if !self.state.is_terminal() && self.state != EwesState::Canceling {
            self.enter(EwesState::Canceling, base);
        }
    }

    fn start_task(&mut self, name: &'static str) {
        let id = format!("{}-task-{}", self.run_id, self.tasks.len() + 1);
        let (start_time, state) = (now(), EwesState::Running);
        self.tasks.push(Task {
            id,
            name,
            state,
            start_time,
            end_time: None,
            exit_code: None,
            stderr: String::new(),
        });
    }

    fn close_tasks(&mut self, state: EwesState, exit_code: Option<i32>) {
        let end = now();
        for task in self.tasks.iter_mut().filter(|t| t.end_time.is_none()) {
            (task.state, task.exit_code) = (state, exit_code);
            task.end_time = Some(end.clone());
        }
    }

    fn task_failed(&mut self, name: &str, stderr: &str) {
        if let Some(task) = self.tasks.iter_mut().find(|t| t.name == name) {
            task.stderr = stderr.to_owned();
        }
        let end = now();
        for task in self.tasks.iter_mut().filter(|t| t.end_time.is_none()) {
            let failed = task.name == name;
            task.state = if failed {
                EwesState::ExecutorError
            } else {
                EwesState::Complete
            };
            task.exit_code = Some(i32::from(failed));
            task.end_time = Some(end.clone());
        }
    }

    /// Whether `GET /outputs/<run_id>/<file>` serves `file`.
    pub(super) fn serves(&self, file: &str) -> bool {
        match self.state {
            EwesState::Complete => file == "qc_report.txt" || file == "chr20.dose.vcf.gz",
            EwesState::CompleteWithErrors => file == "qc_report.txt",
            EwesState::Preprocessing
            | EwesState::Queued
            | EwesState::Initializing
            | EwesState::Running
            | EwesState::Paused
            | EwesState::Unknown
            | EwesState::Canceling
            | EwesState::ExecutorError
            | EwesState::SystemError
            | EwesState::PreprocessingError
            | EwesState::NotProcessed
            | EwesState::Canceled => false,
        }
    }
}
