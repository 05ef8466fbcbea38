//! The JSON bodies of a run: ExtendedRun, ExtendedRunStatus, task Logs, and its stdout.

use serde_json::{Value, json};

use super::model::{Run, Task};

impl Run {
    /// The run's stdout so far (one line per event).
    pub(super) fn stdout(&self) -> String {
        let lines = self.events.iter().map(|e| {
            let kind = e["event_type"].as_str().unwrap_or_default();
            let message = e["metadata"]["message"].as_str().unwrap_or_default();
            format!(
                "[{}] {kind} {message}\n",
                e["created_at"].as_str().unwrap_or_default()
            )
        });
        lines.collect()
    }

    pub(super) fn task_stderr(&self, task_id: &str) -> Option<String> {
        let task = self.tasks.iter().find(|t| t.id == task_id)?;
        Some(task.stderr.clone())
    }

    pub(super) fn tasks_json(&self, base: &str) -> Vec<Value> {
        let ewes = self.ewes(base);
        let task_json = |task: &Task| {
            let logs = format!("{ewes}/runs/{}/tasks/{}/logs", self.run_id, task.id);
            json!({"task_id": task.id, "name": task.name, "pretty_name": task.name,
                "cmd": ["bash", "script"], "start_time": task.start_time,
                "end_time": task.end_time, "stdout": format!("{logs}/stdout"),
                "stderr": format!("{logs}/stderr"), "exit_code": task.exit_code,
                "state": task.state.as_str()})
        };
        self.tasks.iter().map(task_json).collect()
    }

    /// ExtendedRunStatus, as `GET E/runs` lists it.
    pub(super) fn status_json(&self) -> Value {
        json!({"run_id": self.run_id, "state": self.state.as_str(),
            "start_time": self.start_time, "end_time": self.end_time,
            "engine_id": self.request.engine_id, "tags": self.request.tags,
            "workflow_id": self.request.workflow_id,
            "workflow_version_id": self.request.version_id,
            "workflow_url": self.workflow_url(), "workflow_params": self.request.params})
    }

    /// ExtendedRun, as `GET E/runs/{id}` returns it.
    pub(super) fn run_json(&self, base: &str, with_tasks: bool) -> Value {
        let (ewes, request) = (self.ewes(base), &self.request);
        let logs = format!("{ewes}/runs/{}/logs", self.run_id);
        let mut body = json!({
            "run_id": self.run_id, "external_id": self.external_id(),
            "engine_id": request.engine_id,
            "request": {"workflow_url": self.workflow_url(), "workflow_id": request.workflow_id,
                "workflow_version_id": request.version_id, "workflow_type": "WDL",
                "workflow_type_version": "1.0", "workflow_params": request.params,
                "workflow_engine_parameters": request.engine_params, "tags": request.tags},
            "state": self.state.as_str(),
            "run_log": {"name": request.workflow_id, "pretty_name": request.workflow_id,
                "cmd": ["cromwell", "submit"], "start_time": self.start_time,
                "end_time": self.end_time, "stdout": format!("{logs}/stdout"),
                "stderr": format!("{logs}/stderr"), "exit_code": self.exit_code,
                "state": self.state.as_str()},
            "errors": self.errors,
            "task_logs_url": format!("{ewes}/runs/{}/tasks", self.run_id),
            "outputs": self.outputs, "events": self.events,
        });
        if let (true, Some(map)) = (with_tasks, body.as_object_mut()) {
            map.insert("task_logs".into(), json!(self.tasks_json(base)));
        }
        body
    }
}
