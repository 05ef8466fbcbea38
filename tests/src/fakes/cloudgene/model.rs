//! The fake's jobs: the public views tests assert on (scenarios, submissions, job
//! snapshots) and the job record the routes and the state machine work on.

use bytes::Bytes;

/// How a job's pipeline run ends (external-apis.md A.10, failure scenarios).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Scenario {
    /// 1 → 2 → 3 → 4, with downloadable outputs.
    #[default]
    Success,
    /// "Input Validation" fails: 2 → 5 with a type-1 message.
    InputValidation,
    /// "Quality Control" fails: 2 → 5, "No chunks passed the QC step. …", no outputs.
    QcFailure,
    /// The reference panel does not resolve: 1 → 5 within one tick, no steps.
    UnresolvablePanel,
}

impl Scenario {
    const MARKERS: [(&'static str, Self); 4] = [
        ("fake:input-validation", Self::InputValidation),
        ("fake:qc-fail", Self::QcFailure),
        ("fake:bad-panel", Self::UnresolvablePanel),
        ("fake:success", Self::Success),
    ];

    /// The scenario named by a `fake:<scenario>` marker anywhere in a `job-name`.
    pub fn from_job_name(name: &str) -> Option<Self> {
        Self::MARKERS
            .iter()
            .find(|(marker, _)| name.contains(marker))
            .map(|(_, scenario)| *scenario)
    }

    /// The `job-name` marker selecting this scenario, e.g. `"fake:qc-fail"`.
    pub fn marker(self) -> &'static str {
        Self::MARKERS
            .iter()
            .find(|(_, scenario)| *scenario == self)
            .map_or("fake:success", |(marker, _)| marker)
    }
}

/// A file part of a submission.
#[derive(Clone, Debug)]
pub struct SubmittedFile {
    /// The part name, after stripping `input-` (normally `files`).
    pub name: String,
    /// The part's filename.
    pub filename: String,
    /// Bytes received.
    pub size: u64,
    /// SHA-256 of the bytes received, lower-case hex.
    pub sha256_hex: String,
    /// The first (up to) 64 bytes.
    pub first_bytes: Vec<u8>,
    /// All the bytes, only when `CloudgeneConfig::keep_uploads` is on.
    pub bytes: Option<Bytes>,
}

/// An accepted submission, as received.
#[derive(Clone, Debug)]
pub struct Submission {
    /// The id the fake gave the job.
    pub job_id: String,
    /// The token's user.
    pub username: String,
    /// The app as written in the submit path (`imputationserver2` or `…@2.0.12`).
    pub app: String,
    /// Text parts in order: (name after stripping `input-`, HTML-escaped value as stored).
    pub fields: Vec<(String, String)>,
    /// File parts in order.
    pub files: Vec<SubmittedFile>,
}

/// A public snapshot of a fake job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FakeJob {
    /// `job-YYYYMMDD-HHmmss-SSS`.
    pub id: String,
    /// The `job-name` as stored (HTML-escaped), or the id when none was sent.
    pub name: String,
    /// The owner.
    pub username: String,
    /// The app as written in the submit path.
    pub app: String,
    /// The Cloudgene state code (A.6).
    pub state: i32,
    /// The scenario the job plays out, automatic validation failures included.
    pub scenario: Scenario,
    /// The type-1 message the job fails (or will fail) with, if it does.
    pub failure: Option<String>,
    /// The `password` field as stored.
    pub password: Option<String>,
    /// The `refpanel` field as stored.
    pub refpanel: Option<String>,
    /// The `population` field as stored.
    pub population: Option<String>,
    /// `build` (default `hg19`).
    pub build: String,
    /// `phasing` (default `eagle`).
    pub phasing: String,
    /// `mode` (default `imputation`).
    pub mode: String,
    /// Whether the `aesEncryption` checkbox was present.
    pub aes_encryption: bool,
    /// Uploaded files the pipeline reads (`files` parts named `*.vcf.gz`).
    pub vcf_files: usize,
    /// Samples on the `#CHROM` line (the largest over the VCFs).
    pub samples: usize,
    /// Names of the result files, once the job has outputs.
    pub output_files: Vec<String>,
}

/// What the job was submitted with.
#[derive(Clone, Debug, Default)]
pub(super) struct Inputs {
    pub(super) refpanel: Option<String>,
    pub(super) population: Option<String>,
    pub(super) build: String,
    pub(super) phasing: String,
    pub(super) mode: String,
    pub(super) password: Option<String>,
    pub(super) aes_encryption: bool,
    pub(super) vcf_files: usize,
    pub(super) samples: usize,
    /// Chromosomes of the VCFs' first records, e.g. `["20"]`.
    pub(super) chromosomes: Vec<String>,
}

/// A log message of a step (CG3 `Message`: 0 OK, 1 ERROR, 2 WARNING, 3 RUNNING).
#[derive(Clone, Debug)]
pub(super) struct LogMessage {
    pub(super) text: String,
    pub(super) kind: i32,
    pub(super) time: i64,
}

#[derive(Clone, Debug)]
pub(super) struct Step {
    pub(super) name: &'static str,
    pub(super) messages: Vec<LogMessage>,
}

/// A downloadable result file.
#[derive(Clone, Debug)]
pub(super) struct OutputFile {
    /// Index into `Outputs::params` (0 `output`, 1 `cloudgene_logs`).
    pub(super) param: usize,
    pub(super) name: String,
    pub(super) hash: String,
    pub(super) count: i64,
    pub(super) size: usize,
}

#[derive(Clone, Debug)]
pub(super) struct Outputs {
    /// The output parameters' hashes, `output` then `cloudgene_logs`.
    pub(super) param_hashes: [String; 2],
    pub(super) files: Vec<OutputFile>,
}

#[derive(Clone, Debug)]
pub(super) struct Job {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) username: String,
    pub(super) app: String,
    pub(super) user_agent: String,
    pub(super) inputs: Inputs,
    pub(super) scenario: Scenario,
    pub(super) failure: Option<String>,
    pub(super) state: i32,
    /// Ticks spent in the current state (or phase of state 2).
    pub(super) cursor: u32,
    pub(super) submitted_on: i64,
    pub(super) start_time: i64,
    pub(super) end_time: i64,
    pub(super) deleted_on: i64,
    pub(super) steps: Vec<Step>,
    pub(super) outputs: Option<Outputs>,
    pub(super) log: Vec<String>,
}

impl Job {
    /// Waiting, running or exporting: counted against `max_running_jobs_per_user`.
    pub(super) fn is_active(&self) -> bool {
        matches!(self.state, 1..=3)
    }

    pub(super) fn view(&self) -> FakeJob {
        let inputs = &self.inputs;
        FakeJob {
            id: self.id.clone(),
            name: self.name.clone(),
            username: self.username.clone(),
            app: self.app.clone(),
            state: self.state,
            scenario: self.scenario,
            failure: self.failure.clone(),
            password: inputs.password.clone(),
            refpanel: inputs.refpanel.clone(),
            population: inputs.population.clone(),
            build: inputs.build.clone(),
            phasing: inputs.phasing.clone(),
            mode: inputs.mode.clone(),
            aes_encryption: inputs.aes_encryption,
            vcf_files: inputs.vcf_files,
            samples: inputs.samples,
            output_files: self
                .outputs
                .iter()
                .flat_map(|o| o.files.iter().map(|f| f.name.clone()))
                .collect(),
        }
    }

    pub(super) fn file(&self, name: &str) -> Option<&OutputFile> {
        self.outputs.as_ref()?.files.iter().find(|f| f.name == name)
    }
}
