//! Turning a received submission into a job: its inputs (defaults applied), its scenario
//! (marker, pushed, default), and the automatic failures (unresolvable panel, the "Input
//! Validation" rules), then the recorded submission.

use std::collections::HashMap;

use super::model::{Inputs, Job, Scenario, Submission, SubmittedFile};
use super::vcf::VcfSummary;
use super::{CloudgeneConfig, SharedState, now_ms};
use crate::fakes::lock;

/// The accepted request, before the job exists.
#[derive(Debug, Default)]
pub(super) struct Received {
    pub(super) fields: Vec<(String, String)>,
    pub(super) files: Vec<SubmittedFile>,
    pub(super) vcfs: Vec<VcfSummary>,
}

/// `StringEscapeUtils.escapeHtml` for the characters that matter here.
pub(super) fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

/// Creates the job and records the submission; returns the job id.
pub(super) fn accept(
    state: &SharedState,
    username: String,
    app: String,
    user_agent: String,
    received: Received,
) -> String {
    let mut state = lock(state);
    let now = now_ms();
    let id = state.jobs.new_id(now);
    let last: HashMap<&str, &str> = received
        .fields
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect();
    let text = |name: &str| last.get(name).map(|v| (*v).to_owned());
    let inputs = Inputs {
        refpanel: text("refpanel"),
        population: text("population"),
        build: text("build").unwrap_or_else(|| "hg19".to_owned()),
        phasing: text("phasing").unwrap_or_else(|| "eagle".to_owned()),
        mode: text("mode").unwrap_or_else(|| "imputation".to_owned()),
        password: text("password"),
        aes_encryption: last.contains_key("aesEncryption"),
        vcf_files: received.vcfs.len(),
        samples: received.vcfs.iter().map(|v| v.samples).max().unwrap_or(0),
        chromosomes: received
            .vcfs
            .iter()
            .filter_map(|v| v.chromosome.clone())
            .collect(),
    };
    let name = text("job-name")
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| id.clone());
    let requested = match Scenario::from_job_name(&name) {
        Some(scenario) => scenario,
        None => state
            .scenarios
            .pop_front()
            .unwrap_or(state.config.default_scenario),
    };
    let panel_ok = inputs
        .refpanel
        .as_deref()
        .is_some_and(|p| resolves(&state.config, p));
    let (scenario, failure) = if requested == Scenario::UnresolvablePanel || !panel_ok {
        (Scenario::UnresolvablePanel, None)
    } else if let Some(text) = validation_failure(&inputs, &state.config) {
        (Scenario::InputValidation, Some(text))
    } else {
        (requested, None)
    };
    state.jobs.insert(Job {
        id: id.clone(),
        name,
        username: username.clone(),
        app: app.clone(),
        user_agent,
        inputs,
        scenario,
        failure,
        state: 1,
        cursor: 0,
        submitted_on: now,
        start_time: -1,
        end_time: -1,
        deleted_on: -1,
        steps: Vec::new(),
        outputs: None,
        log: vec![format!("Job {id} submitted by {username}.")],
    });
    state.jobs.submissions.push(Submission {
        job_id: id.clone(),
        username,
        app,
        fields: received.fields,
        files: received.files,
    });
    id
}

/// Whether `refpanel` names an installed panel: `apps@` stripped, then `<id>@<version>`
/// or a bare `<id>` (its latest version) (CG3 `resolveAppLinks`).
fn resolves(config: &CloudgeneConfig, refpanel: &str) -> bool {
    let wanted = refpanel.strip_prefix("apps@").unwrap_or(refpanel);
    config.panels.iter().any(|panel| {
        let key = panel.key.strip_prefix("apps@").unwrap_or(&panel.key);
        key == wanted || key.split_once('@').is_some_and(|(id, _)| id == wanted)
    })
}

/// The first "Input Validation" rule the submission breaks (IS2 `main.nf` and the
/// validation step), if any.
fn validation_failure(inputs: &Inputs, config: &CloudgeneConfig) -> Option<String> {
    if inputs.vcf_files == 0 {
        return Some("No vcf.gz input files detected.".to_owned());
    }
    if !["eagle", "beagle", "no_phasing"].contains(&inputs.phasing.as_str()) {
        let text = "For phasing, only options 'eagle', 'beagle' or 'no_phasing' are allowed.";
        return Some(text.to_owned());
    }
    if !["hg19", "hg38"].contains(&inputs.build.as_str()) {
        return Some("For build, only options 'hg19' or 'hg38' are allowed.".to_owned());
    }
    if inputs.samples < config.min_samples {
        return Some(format!(
            "At least {} samples must be uploaded.",
            config.min_samples
        ));
    }
    if inputs.samples > config.max_samples {
        return Some(format!(
            "The maximum number of samples is {}. Please split your data into smaller batches.",
            config.max_samples
        ));
    }
    None
}
