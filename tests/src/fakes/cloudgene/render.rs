//! The JSON of jobs (CG3 `JobResponse`, `StepResponse`, `ParameterOutputResponse`,
//! `DownloadResponse`; A.5): every field always serialized, nulls included.

use serde_json::{Value, json};

use super::downloads::human_size;
use super::model::{Job, OutputFile, Outputs, Step};
use super::{APP_NAME, CloudgeneConfig, app_version};

/// Jobs per page of `GET /api/v2/jobs?page=N`.
pub(super) const PAGE_SIZE: usize = 15;

pub(super) fn job_json(job: &Job, config: &CloudgeneConfig, now: i64) -> Value {
    let position = if job.state == 1 {
        i64::from(config.queue_ticks.max(1).saturating_sub(1 + job.cursor))
    } else {
        -1
    };
    let app_id = &config.app_id;
    let bare = app_id.split_once('@').map_or(app_id.as_str(), |(id, _)| id);
    let steps: Vec<Value> = job
        .steps
        .iter()
        .enumerate()
        .map(|(i, step)| step_json(i + 1, step))
        .collect();
    let outputs = job
        .outputs
        .as_ref()
        .map_or_else(Vec::new, |outputs| outputs_json(job, outputs));
    json!({
        "id": job.id, "name": job.name,
        "application": format!("{APP_NAME} {}", app_version(app_id)), "applicationId": bare,
        "state": job.state, "positionInQueue": position,
        "submittedOn": job.submitted_on, "startTime": job.start_time,
        "endTime": job.end_time, "deletedOn": job.deleted_on,
        "userAgent": job.user_agent, "username": job.username, "currentTime": now,
        "workspaceSize": null, "logs": "", "steps": steps, "outputParams": outputs,
    })
}

fn step_json(id: usize, step: &Step) -> Value {
    let messages: Vec<Value> = step
        .messages
        .iter()
        .map(|m| json!({"message": m.text, "type": m.kind, "time": m.time, "success": true}))
        .collect();
    json!({"id": id, "name": step.name, "empty": messages.is_empty(), "logMessages": messages})
}

fn outputs_json(job: &Job, outputs: &Outputs) -> Vec<Value> {
    [("output", "Downloads"), ("cloudgene_logs", "Logs")]
        .iter()
        .enumerate()
        .map(|(index, (name, description))| {
            let files: Vec<Value> = outputs
                .files
                .iter()
                .filter(|f| f.param == index)
                .map(|f| file_json(job, name, index + 1, f))
                .collect();
            json!({
                "id": index + 1, "name": name, "description": description,
                "value": format!("{}/{name}", job.id), "download": true, "type": "local-folder",
                "jobId": job.id, "hash": outputs.param_hashes[index], "autoExport": false,
                "tree": [], "files": files,
            })
        })
        .collect()
}

fn file_json(job: &Job, param: &str, param_id: usize, file: &OutputFile) -> Value {
    json!({
        "name": file.name, "path": format!("{}/{param}/{}", job.id, file.name),
        "hash": file.hash, "count": file.count, "size": human_size(file.size),
        "parameterId": param_id, "user": null,
    })
}

/// The page envelope of `GET /api/v2/jobs` (`page: None` = all jobs on one page).
pub(super) fn page_json(count: usize, page: Option<usize>, data: Vec<Value>) -> Value {
    let (page, page_size) = page.map_or((1, count), |page| (page, PAGE_SIZE));
    let pages = count.div_ceil(page_size.max(1)).max(1);
    let prev = (page > 1).then(|| page - 1);
    let next = (page < pages).then(|| page + 1);
    json!({
        "count": count, "page": page, "pageSize": page_size, "prev": prev, "next": next,
        "pages": (1..=pages).collect::<Vec<_>>(), "data": data,
    })
}
