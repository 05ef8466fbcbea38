//! The job state machine of A.6/A.10, one tick at a time: queue (1), the `imputationserver2`
//! steps (2), export (3), then success (4) or failure (5), notification (8/9), retirement (7).

use super::CloudgeneConfig;
use super::downloads;
use super::model::{Job, LogMessage, Scenario, Step};

/// Log message types (CG3 `Message`).
const OK: i32 = 0;
const ERROR: i32 = 1;
const WARNING: i32 = 2;
const RUNNING: i32 = 3;

/// `deletedOn` after the notification e-mail: results stay 2 more days (A.7).
const RETENTION_MS: i64 = 2 * 24 * 3600 * 1000;

const INPUT_VALIDATION: &str = "Input Validation";
const QUALITY_CONTROL: &str = "Quality Control";
const IMPUTATION: &str = "Phasing and Imputation";
const SUMMARY: &str = "Summary";

/// The message an `InputValidation` job fails with when no validation rule was broken.
pub(super) const FORCED_VALIDATION_FAILURE: &str =
    "The provided VCF file is malformed (fake:input-validation).";
/// The end of the `QcFailure` message (IS2 test snapshot).
pub(super) const QC_FAILURE: &str = "No chunks passed the QC step. Imputation cannot be started!";

/// Moves `job` `ticks` steps forward.
pub(super) fn advance(job: &mut Job, config: &CloudgeneConfig, ticks: u32, now: i64) {
    for _ in 0..ticks {
        tick(job, config, now);
    }
}

fn tick(job: &mut Job, config: &CloudgeneConfig, now: i64) {
    match job.state {
        1 => {
            job.cursor += 1;
            if job.scenario == Scenario::UnresolvablePanel {
                let panel = job.inputs.refpanel.as_deref().unwrap_or("null");
                let text = format!("Application {panel} is not installed or wrong permissions.");
                job.log.push(text.clone());
                job.failure = Some(text);
                finish(job, 5, now);
            } else if job.cursor >= config.queue_ticks.max(1) {
                start_running(job, now);
            }
        }
        2 => {
            job.cursor += 1;
            run_step(job, config, now);
        }
        3 => {
            set_last(step(job, SUMMARY), OK, "Export of results done.", now);
            job.outputs = Some(downloads::build_outputs(job, config.max_downloads));
            job.log.push("Job executed successfully.".to_owned());
            finish(job, 4, now);
        }
        4..=6 => job.cursor += 1,
        _ => {}
    }
    if let (4..=6, Some(after)) = (job.state, config.notify_after_ticks)
        && job.cursor >= after
    {
        job.state = if job.state == 4 { 8 } else { 9 };
        job.deleted_on = now + RETENTION_MS;
        job.log
            .push("Notification sent: results will be deleted.".to_owned());
    }
}

fn start_running(job: &mut Job, now: i64) {
    job.state = 2;
    job.cursor = 0;
    job.start_time = now;
    job.log.push("Job started.".to_owned());
    push(
        step(job, INPUT_VALIDATION),
        RUNNING,
        "Validating input files...",
        now,
    );
}

/// State 2, tick `job.cursor` (1: validation result, 2: QC, then imputation, then export).
fn run_step(job: &mut Job, config: &CloudgeneConfig, now: i64) {
    let imputation_ticks = if job.inputs.mode == "imputation" {
        config.imputation_ticks
    } else {
        0
    };
    match job.cursor {
        1 if job.scenario == Scenario::InputValidation => {
            let text = job
                .failure
                .get_or_insert_with(|| FORCED_VALIDATION_FAILURE.to_owned())
                .clone();
            set_last(step(job, INPUT_VALIDATION), ERROR, &text, now);
            job.log.push(format!("{INPUT_VALIDATION}: {text}"));
            finish(job, 5, now);
        }
        1 => {
            let text = validation_summary(job);
            set_last(step(job, INPUT_VALIDATION), OK, &text, now);
        }
        2 if job.scenario == Scenario::QcFailure => {
            let text = format!(
                "Excluded sites in total: 100\nRemaining sites in total: 0\n\
                 1 Chunk(s) excluded: < 20 SNPs (see chunks-excluded.txt for details).\n\
                 Error: {QC_FAILURE}"
            );
            push(step(job, QUALITY_CONTROL), ERROR, &text, now);
            job.failure = Some(text);
            job.log.push(format!("{QUALITY_CONTROL}: {QC_FAILURE}"));
            finish(job, 5, now);
        }
        2 => {
            let qc = step(job, QUALITY_CONTROL);
            push(qc, OK, QC_STATISTICS, now);
            let warning = "1 Chunk(s) excluded: < 20 SNPs (see chunks-excluded.txt for details).";
            push(qc, WARNING, warning, now);
        }
        c if c <= 2 + imputation_ticks => {
            let i = c - 2;
            let phaser = match job.inputs.phasing.as_str() {
                "beagle" => Some("Beagle"),
                "no_phasing" => None,
                _ => Some("Eagle"),
            };
            let text = match phaser {
                Some(phaser) if i <= imputation_ticks / 2 => {
                    format!("Phasing with {phaser} ({i}/{imputation_ticks})")
                }
                Some(_) | None => format!("Imputation ({i}/{imputation_ticks})"),
            };
            let imputation = step(job, IMPUTATION);
            complete_running(imputation);
            push(imputation, RUNNING, &text, now);
        }
        _ => {
            for step in &mut job.steps {
                complete_running(step);
            }
            job.state = 3;
            job.cursor = 0;
            push(
                step(job, SUMMARY),
                RUNNING,
                "Compressing and encrypting results",
                now,
            );
        }
    }
}

const QC_STATISTICS: &str = "<b>Statistics:</b> <br>Alternative allele frequency > 0.5 sites: 0<br>\
Reference Overlap: 98.50 %<br>Match: 95<br>Allele switch: 1<br>Strand flip: 0<br>\
Strand flip and allele switch: 0<br>A/T, C/G genotypes: 2<br>Filtered sites: 0<br>\
Excluded sites in total: 5<br>Remaining sites in total: 95";

fn validation_summary(job: &Job) -> String {
    let inputs = &job.inputs;
    let chromosomes = if inputs.chromosomes.is_empty() {
        "20".to_owned()
    } else {
        inputs.chromosomes.join(" ")
    };
    format!(
        "{} valid VCF file(s) found.\nSamples: {}\nChromosomes: {chromosomes}\nChunks: 1\n\
         Datatype: phased\nBuild: {}\nReference Panel: {}\nPopulation: {}\nPhasing: {}\nMode: {}",
        inputs.vcf_files,
        inputs.samples,
        inputs.build,
        inputs.refpanel.as_deref().unwrap_or(""),
        inputs.population.as_deref().unwrap_or("off"),
        inputs.phasing,
        inputs.mode,
    )
}

/// Enters a terminal state (4, 5 or 6).
fn finish(job: &mut Job, state: i32, now: i64) {
    job.state = state;
    job.cursor = 0;
    job.end_time = now;
}

/// The step named `name`, appended when missing (steps keep their order of appearance).
fn step<'a>(job: &'a mut Job, name: &'static str) -> &'a mut Step {
    let index = match job.steps.iter().position(|s| s.name == name) {
        Some(index) => index,
        None => {
            job.steps.push(Step {
                name,
                messages: Vec::new(),
            });
            job.steps.len() - 1
        }
    };
    &mut job.steps[index]
}

fn push(step: &mut Step, kind: i32, text: &str, now: i64) {
    step.messages.push(LogMessage {
        text: text.to_owned(),
        kind,
        time: now,
    });
}

/// Turns the step's last message into `kind`/`text` (a running message that completes).
fn set_last(step: &mut Step, kind: i32, text: &str, now: i64) {
    match step.messages.last_mut() {
        Some(last) => {
            last.kind = kind;
            text.clone_into(&mut last.text);
            last.time = now;
        }
        None => push(step, kind, text, now),
    }
}

fn complete_running(step: &mut Step) {
    for message in &mut step.messages {
        if message.kind == RUNNING {
            message.kind = OK;
        }
    }
}

/// `GET …/cancel`: states 1–3 → 6 at once; `false` when the job was not running.
pub(super) fn cancel(job: &mut Job, now: i64) -> bool {
    if !job.is_active() {
        return false;
    }
    job.log.push("Job canceled by user.".to_owned());
    finish(job, 6, now);
    true
}

/// `GET …/restart`: a DEAD job starts over from its queue phase; `false` otherwise.
pub(super) fn restart(job: &mut Job) -> bool {
    if job.state != -1 {
        return false;
    }
    reset(job, 1);
    job.log.push("Job restarted.".to_owned());
    true
}

/// A server restart: waiting, running and exporting jobs die (-1).
pub(super) fn kill(job: &mut Job) {
    if job.is_active() {
        job.state = -1;
        job.cursor = 0;
        job.log
            .push("Job was interrupted by a server restart.".to_owned());
    }
}

/// Retention is over: results deleted (7).
pub(super) fn retire(job: &mut Job, now: i64) {
    job.state = 7;
    job.cursor = 0;
    job.deleted_on = now;
    job.log.push("Job retired: results deleted.".to_owned());
}

/// Forces a state code (test edge cases), keeping the job's data consistent with it.
pub(super) fn force(job: &mut Job, config: &CloudgeneConfig, state: i32, now: i64) {
    if state == 1 {
        reset(job, 1);
    }
    if matches!(state, 4 | 8) && job.outputs.is_none() {
        job.outputs = Some(downloads::build_outputs(job, config.max_downloads));
    }
    if matches!(state, 4..=9) && job.end_time < 0 {
        job.end_time = now;
    }
    match state {
        8 | 9 => job.deleted_on = now + RETENTION_MS,
        7 | 10 => job.deleted_on = now,
        _ => {}
    }
    job.state = state;
    job.cursor = 0;
}

fn reset(job: &mut Job, state: i32) {
    job.state = state;
    job.cursor = 0;
    job.steps.clear();
    job.outputs = None;
    job.start_time = -1;
    job.end_time = -1;
    job.deleted_on = -1;
}
