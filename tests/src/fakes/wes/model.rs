//! A fake WES run: its state machine (one tick per poll, B.8), task logs and the RunLog body.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::WES_PREFIX;
use super::artifacts::now;
pub(super) use super::states::{RunState, WesScenario};

/// The QC failure text of `qc-fail` runs (stderr of the run and of the failing task).
pub const QC_FAILURE: &str = "QC failed: no chunks passed quality control";

/// The durations of the state machine, from [`super::WesConfig`].
#[derive(Clone, Copy, Debug)]
pub(super) struct Timing {
    pub(super) running_ticks: u32,
    pub(super) unknown_ticks: u32,
    pub(super) fetch_inputs: bool,
}

/// Input staging of a run whose inputs the fake downloads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Staging {
    /// Not started (or not wanted).
    Idle,
    /// A poll is downloading the inputs; the run stays INITIALIZING meanwhile.
    InFlight,
    /// Downloaded; `Some(reason)` if one failed.
    Done(Option<String>),
}

#[derive(Clone, Debug)]
pub(super) struct Task {
    id: String,
    name: &'static str,
    start_time: String,
    end_time: Option<String>,
    exit_code: Option<i32>,
    pub(super) stderr: String,
}

const VALIDATION_TASK: &str = "fedimpute:INPUT_VALIDATION";
const QC_TASK: &str = "fedimpute:QUALITY_CONTROL";
const IMPUTATION_TASK: &str = "fedimpute:IMPUTATION";

/// Output files of a COMPLETE run: (output key, file name under `/outputs/<run_id>/`).
pub(super) const OUTPUTS: [(&str, &str); 2] = [
    ("imputed_vcf", "imputed.vcf.gz"),
    ("qc_report", "qc_report.txt"),
];

#[derive(Debug)]
pub(super) struct Run {
    pub(super) run_id: String,
    pub(super) owner: Option<String>,
    /// The RunRequest echoed in RunLog (`workflow_params` etc.).
    pub(super) request: Value,
    pub(super) tags: BTreeMap<String, String>,
    pub(super) scenario: WesScenario,
    pub(super) state: RunState,
    /// The http(s) URLs of the input parameter.
    pub(super) inputs: Vec<String>,
    pub(super) staging: Staging,
    ticks_in_state: u32,
    unknown_done: bool,
    pub(super) start_time: Option<String>,
    pub(super) end_time: Option<String>,
    exit_code: Option<i32>,
    system_logs: Vec<String>,
    pub(super) stderr: String,
    pub(super) tasks: Vec<Task>,
    outputs: Map<String, Value>,
}

impl Run {
    pub(super) fn new(
        run_id: String,
        owner: Option<String>,
        request: Value,
        tags: BTreeMap<String, String>,
        scenario: WesScenario,
        inputs: Vec<String>,
    ) -> Self {
        Self {
            run_id,
            owner,
            request,
            tags,
            scenario,
            state: RunState::Queued,
            inputs,
            staging: Staging::Idle,
            ticks_in_state: 0,
            unknown_done: false,
            start_time: None,
            end_time: None,
            exit_code: None,
            system_logs: Vec::new(),
            stderr: String::new(),
            tasks: Vec::new(),
            outputs: Map::new(),
        }
    }

    /// One step of the state machine. Returns the input URLs to download when the run has
    /// just entered INITIALIZING and the fake stages inputs (the caller downloads them
    /// without holding the lock, then calls [`Run::staged`]).
    pub(super) fn tick(&mut self, timing: Timing, base: &str) -> Option<Vec<String>> {
        match self.state {
            RunState::Queued => {
                let stuck = self.scenario == WesScenario::StuckUnknown && !self.unknown_done;
                if stuck && timing.unknown_ticks > 0 {
                    self.enter(RunState::Unknown, base);
                } else {
                    return self.initialize(timing, base);
                }
            }
            RunState::Unknown => {
                self.ticks_in_state += 1;
                if self.ticks_in_state >= timing.unknown_ticks {
                    self.unknown_done = true;
                    return self.initialize(timing, base);
                }
            }
            RunState::Initializing => match &self.staging {
                Staging::InFlight => {}
                Staging::Done(Some(reason)) => {
                    self.stderr = format!("{reason}\n");
                    self.enter(RunState::ExecutorError, base);
                }
                Staging::Idle | Staging::Done(None) => self.enter(RunState::Running, base),
            },
            RunState::Running => {
                self.ticks_in_state += 1;
                if self.ticks_in_state >= timing.running_ticks.max(1) {
                    self.finish(base);
                } else if !self.tasks.iter().any(|t| t.name == QC_TASK) {
                    self.close_tasks(Some(0));
                    self.start_task(QC_TASK);
                }
            }
            RunState::Canceling => self.enter(RunState::Canceled, base),
            RunState::Paused
            | RunState::Complete
            | RunState::ExecutorError
            | RunState::SystemError
            | RunState::Canceled
            | RunState::Preempted => {}
        }
        None
    }

    fn initialize(&mut self, timing: Timing, base: &str) -> Option<Vec<String>> {
        self.enter(RunState::Initializing, base);
        if timing.fetch_inputs && !self.inputs.is_empty() && self.staging == Staging::Idle {
            self.staging = Staging::InFlight;
            return Some(self.inputs.clone());
        }
        None
    }

    /// Records the outcome of the input downloads (`Some(reason)` for the first failure).
    pub(super) fn staged(&mut self, failure: Option<String>) {
        self.staging = Staging::Done(failure);
    }

    /// The terminal state of the run's scenario, after RUNNING.
    fn finish(&mut self, base: &str) {
        match self.scenario {
            WesScenario::Success | WesScenario::StuckUnknown => {
                self.enter(RunState::Complete, base);
            }
            WesScenario::QcFail => {
                self.stderr = format!("ERROR ~ {QC_FAILURE}\n");
                self.enter(RunState::ExecutorError, base);
            }
            WesScenario::SystemError => self.enter(RunState::SystemError, base),
            WesScenario::Preempt => self.enter(RunState::Preempted, base),
        }
    }

    /// Moves to `state` (also what `set_state` does) with that state's side effects.
    pub(super) fn enter(&mut self, state: RunState, base: &str) {
        self.state = state;
        self.ticks_in_state = 0;
        if state.is_terminal() && self.end_time.is_none() {
            self.end_time = Some(now());
        }
        match state {
            RunState::Initializing => {
                self.start_time.get_or_insert_with(now);
            }
            RunState::Running => {
                self.start_time.get_or_insert_with(now);
                self.start_task(VALIDATION_TASK);
            }
            RunState::Complete => {
                self.exit_code = Some(0);
                self.close_tasks(Some(0));
                self.start_task(IMPUTATION_TASK);
                self.close_tasks(Some(0));
                for (key, file) in OUTPUTS {
                    let url = format!("{base}/outputs/{}/{file}", self.run_id);
                    self.outputs.insert(key.to_owned(), json!(url));
                }
            }
            RunState::ExecutorError => {
                self.exit_code = Some(1);
                if self.stderr.contains(QC_FAILURE) {
                    if !self.tasks.iter().any(|t| t.name == QC_TASK) {
                        self.close_tasks(Some(0));
                        self.start_task(QC_TASK);
                    }
                    if let Some(task) = self.tasks.iter_mut().find(|t| t.name == QC_TASK) {
                        task.stderr = format!("{QC_FAILURE}\n");
                    }
                }
                self.close_tasks(Some(1));
            }
            RunState::SystemError => {
                self.system_logs.push(
                    "Celery worker lost: the workflow engine process exited unexpectedly".into(),
                );
                self.close_tasks(None);
            }
            RunState::Preempted => {
                self.system_logs
                    .push("The compute node was preempted by the scheduler".into());
                self.close_tasks(None);
            }
            RunState::Canceled => self.close_tasks(None),
            RunState::Unknown | RunState::Queued | RunState::Paused | RunState::Canceling => {}
        }
    }

    /// `POST /runs/{id}/cancel`: a live run goes CANCELING (then CANCELED at the next tick).
    pub(super) fn cancel(&mut self) {
        if !self.state.is_terminal() {
            self.state = RunState::Canceling;
            self.ticks_in_state = 0;
        }
    }

    fn start_task(&mut self, name: &'static str) {
        let id = format!("{}-task-{}", self.run_id, self.tasks.len() + 1);
        self.tasks.push(Task {
            id,
            name,
            start_time: now(),
            end_time: None,
            exit_code: None,
            stderr: String::new(),
        });
    }

    /// Ends every open task with `exit` (`None`: killed, no exit code).
    fn close_tasks(&mut self, exit: Option<i32>) {
        let end = now();
        for task in self.tasks.iter_mut().filter(|t| t.end_time.is_none()) {
            task.end_time = Some(end.clone());
            task.exit_code = exit;
        }
    }

    /// Whether `GET /outputs/<run_id>/<file>` serves `file`.
    pub(super) fn serves(&self, file: &str) -> bool {
        self.state == RunState::Complete && OUTPUTS.iter().any(|(_, f)| *f == file)
    }

    /// The run's stdout, as the engine would have written it so far.
    pub(super) fn stdout(&self) -> String {
        let url = self.request["workflow_url"].as_str().unwrap_or_default();
        let mut out = format!("N E X T F L O W  ~  version 22.10.0\nLaunching `{url}`\n");
        for task in &self.tasks {
            out.push_str(&format!("[{}] process > {}\n", task.id, task.name));
        }
        out
    }

    pub(super) fn task_stderr(&self, task_id: &str) -> Option<String> {
        let task = self.tasks.iter().find(|t| t.id == task_id)?;
        Some(task.stderr.clone())
    }

    fn log_url(&self, base: &str, stream: &str) -> String {
        format!("{base}/logs/{}/{stream}", self.run_id)
    }

    pub(super) fn task_json(&self, base: &str, task: &Task) -> Value {
        let logs = format!("{base}/logs/{}/tasks/{}", self.run_id, task.id);
        json!({
            "id": task.id, "name": task.name, "cmd": ["bash", ".command.sh"],
            "start_time": task.start_time, "end_time": task.end_time,
            "stdout": format!("{logs}/stdout"), "stderr": format!("{logs}/stderr"),
            "exit_code": task.exit_code, "system_logs": [], "tes_uri": null,
        })
    }

    pub(super) fn tasks_json(&self, base: &str) -> Vec<Value> {
        self.tasks.iter().map(|t| self.task_json(base, t)).collect()
    }

    /// The RunLog of `GET /runs/{id}` (B.4).
    pub(super) fn run_log_json(&self, base: &str, spec11: bool) -> Value {
        let url = self.request["workflow_url"].as_str().unwrap_or_default();
        let mut log = json!({
            "name": url, "cmd": ["nextflow", "run", url, "-params-file", "params.json"],
            "start_time": self.start_time, "end_time": self.end_time,
            "stdout": self.log_url(base, "stdout"), "stderr": self.log_url(base, "stderr"),
            "exit_code": self.exit_code,
        });
        if let (false, Some(map)) = (self.system_logs.is_empty(), log.as_object_mut()) {
            map.insert("system_logs".into(), json!(self.system_logs));
        }
        let mut body = json!({
            "run_id": self.run_id, "request": self.request, "state": self.state.as_str(),
            "run_log": log, "task_logs": self.tasks_json(base), "outputs": self.outputs,
        });
        if let (true, Some(map)) = (spec11, body.as_object_mut()) {
            let tasks = format!("{base}{WES_PREFIX}/runs/{}/tasks", self.run_id);
            map.insert("task_logs_url".into(), json!(tasks));
        }
        body
    }
}
