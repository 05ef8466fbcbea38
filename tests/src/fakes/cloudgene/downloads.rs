//! Result files: their deterministic bytes, the anonymous download routes with per-file
//! counters (`/share/results/{hash}/{name}`, `/downloads/{jobId}/{hash}/{name}`), and the
//! second loopback listener playing S3 for the redirect mode.

use axum::body::Body;
use axum::extract::{Path, State as Shared};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use rand::{Rng, RngCore, SeedableRng};
use sha2::{Digest, Sha256};

use super::model::{Job, OutputFile, Outputs};
use super::table::Refusal;
use super::{ROUTE_DOWNLOAD, SharedState, message, zip};
use crate::fakes::{apply_fault, lock};

/// The `cloudgene_logs` file.
const LOG_FILE: &str = "step1-nextflow.log";

/// The files of a successful job: per-chromosome zips (imputation mode only), the QC
/// reports and statistics in `output`, the Nextflow log in `cloudgene_logs`.
pub(super) fn build_outputs(job: &Job, max_downloads: i64) -> Outputs {
    let mut names: Vec<(usize, String)> = Vec::new();
    if job.inputs.mode == "imputation" {
        for chromosome in chromosomes(job) {
            names.push((0, format!("chr_{chromosome}.zip")));
        }
    }
    for name in [
        "qc_report.txt",
        "quality-control.html",
        "statistics/lift-over.txt",
    ] {
        names.push((0, name.to_owned()));
    }
    names.push((1, LOG_FILE.to_owned()));
    let files = names
        .into_iter()
        .map(|(param, name)| OutputFile {
            param,
            size: file_bytes(&job.id, &name).len(),
            hash: random_hash(),
            count: max_downloads,
            name,
        })
        .collect();
    Outputs {
        param_hashes: [random_hash(), random_hash()],
        files,
    }
}

fn chromosomes(job: &Job) -> Vec<String> {
    let mut chromosomes: Vec<String> = job
        .inputs
        .chromosomes
        .iter()
        .map(|c| c.trim_start_matches("chr").to_owned())
        .collect();
    chromosomes.dedup();
    if chromosomes.is_empty() {
        chromosomes.push("20".to_owned());
    }
    chromosomes
}

/// A random 64-hex hash (the download secret).
fn random_hash() -> String {
    let bytes: [u8; 32] = rand::thread_rng().r#gen();
    hex(&bytes)
}

/// Lower-case hex.
pub(super) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

/// The bytes of result file `name` of job `job_id`: 1–8 KB seeded by the pair, a valid
/// (unencrypted) zip for `.zip` names, text otherwise.
pub(super) fn file_bytes(job_id: &str, name: &str) -> Vec<u8> {
    let seed: [u8; 32] = Sha256::new()
        .chain_update(job_id)
        .chain_update([0])
        .chain_update(name)
        .finalize()
        .into();
    let mut rng = rand::rngs::StdRng::from_seed(seed);
    let len = rng.gen_range(1024..8192);
    if let Some(stem) = name.strip_suffix(".zip") {
        let chr = stem.replace('_', "");
        let mut dose = vec![0; len];
        rng.fill_bytes(&mut dose);
        let info = format!("SNP\tREF(0)\tALT(1)\tRsq\n{chr}:1000:A:G\tA\tG\t0.98\n");
        let entries = [
            (format!("{chr}.dose.vcf.gz"), dose),
            (format!("{chr}.info"), info.into_bytes()),
        ];
        return zip::stored_zip(&entries);
    }
    let mut text = Vec::with_capacity(len + 80);
    let mut line = 0_u32;
    while text.len() < len {
        let noise: [u8; 16] = rng.r#gen();
        let row = format!("{name}\tline {line}\t{}\n", hex(&noise));
        text.extend_from_slice(row.as_bytes());
        line += 1;
    }
    text.truncate(len);
    text
}

/// Cloudgene's human file size (`FileUtils.byteCountToDisplaySize`): "760 bytes", "17 KB".
pub(super) fn human_size(bytes: usize) -> String {
    const UNITS: [(usize, &str); 3] = [(1 << 30, "GB"), (1 << 20, "MB"), (1 << 10, "KB")];
    UNITS.iter().find(|(unit, _)| bytes >= *unit).map_or_else(
        || format!("{bytes} bytes"),
        |(unit, name)| format!("{} {name}", bytes / unit),
    )
}

/// `GET /share/results/{hash}/{*name}`.
pub(super) async fn share(
    Shared(state): Shared<SharedState>,
    Path((hash, name)): Path<(String, String)>,
) -> Response {
    serve(state, None, hash, name).await
}

/// `GET /downloads/{jobId}/{hash}/{*name}`.
pub(super) async fn by_job(
    Shared(state): Shared<SharedState>,
    Path((job_id, hash, name)): Path<(String, String, String)>,
) -> Response {
    serve(state, Some(job_id), hash, name).await
}

async fn serve(state: SharedState, job_id: Option<String>, hash: String, name: String) -> Response {
    let fault = lock(&state).faults.next(ROUTE_DOWNLOAD);
    if let Some(response) = apply_fault(fault).await {
        return response;
    }
    let (taken, redirect) = {
        let mut state = lock(&state);
        let taken = state.jobs.take_download(&hash, job_id.as_deref(), &name);
        let redirect = state.redirect_downloads.then(|| state.s3_base.clone());
        (taken, redirect)
    };
    match (taken, redirect) {
        (Err(Refusal::NotFound), _) => message(StatusCode::NOT_FOUND, "download not found."),
        (Err(Refusal::Exhausted), _) => {
            message(StatusCode::BAD_REQUEST, "number of max downloads exceeded.")
        }
        (Ok(_), Some(s3)) => (
            StatusCode::FOUND,
            [(header::LOCATION, format!("{s3}/s3/{hash}/{name}"))],
        )
            .into_response(),
        (Ok(job_id), None) => bytes_reply(file_bytes(&job_id, &name)),
    }
}

/// `GET /s3/{hash}/{*name}` on the second listener: the bytes, without counting.
pub(super) async fn s3_object(
    Shared(state): Shared<SharedState>,
    Path((hash, name)): Path<(String, String)>,
) -> Response {
    let found = {
        let state = lock(&state);
        state
            .jobs
            .peek_download(&hash)
            .filter(|(_, file)| file.name == name)
            .map(|(job, _)| job.id.clone())
    };
    match found {
        Some(job_id) => bytes_reply(file_bytes(&job_id, &name)),
        None => (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "application/xml")],
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code></Error>",
        )
            .into_response(),
    }
}

/// The bytes with a `Content-Length` (axum sets it for a full body).
fn bytes_reply(bytes: Vec<u8>) -> Response {
    let mut response = Response::new(Body::from(bytes));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/octet-stream"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_sizes_floor_like_cloudgene() {
        assert_eq!(human_size(0), "0 bytes");
        assert_eq!(human_size(760), "760 bytes");
        assert_eq!(human_size(17 * 1024 + 1000), "17 KB");
        assert_eq!(human_size(82 << 20), "82 MB");
        assert_eq!(human_size(2 << 30), "2 GB");
    }

    #[test]
    fn file_bytes_are_deterministic_per_job_and_name() {
        let zip = file_bytes("job-1", "chr_20.zip");
        assert_eq!(zip, file_bytes("job-1", "chr_20.zip"));
        assert_ne!(zip, file_bytes("job-2", "chr_20.zip"));
        assert_eq!(&zip[..4], b"PK\x03\x04");
        let text = file_bytes("job-1", "qc_report.txt");
        assert!((1024..8192).contains(&text.len()));
        assert!(text.starts_with(b"qc_report.txt\tline 0\t"));
    }
}
