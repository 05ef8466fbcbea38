//! What the WES and DNAstack fakes have in common for runs: timestamps, the deterministic
//! bytes of "output files", and delivering a reply under an accept-then-fail fault.

use std::io::Write;

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use flate2::Compression;
use flate2::write::GzEncoder;

use crate::fakes::{Fault, broken_reply};

/// Now, as WES writes times (`%Y-%m-%dT%H:%M:%SZ`).
pub(crate) fn now() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Lower-case hex SHA-256 of `bytes`.
#[cfg(test)]
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex(&Sha256::digest(bytes))
}

/// Lower-case hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The bytes a fake serves for output file `name` of run `run_id`: a small gzipped VCF for
/// `*.vcf.gz`, a text QC report for `*.txt`, nothing otherwise. Deterministic, so tests can
/// compare a download with [`output_bytes`] of the same run.
pub(crate) fn output_bytes(run_id: &str, name: &str) -> Option<Vec<u8>> {
    if name.ends_with(".vcf.gz") {
        let text = format!(
            "##fileformat=VCFv4.2\n##source=fedimpute-fake\n##fake_run={run_id}\n\
             ##INFO=<ID=R2,Number=1,Type=Float,Description=\"Estimated imputation accuracy\">\n\
             ##FORMAT=<ID=GT,Number=1,Type=String,Description=\"Genotype\">\n\
             #CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\n\
             20\t60343\trs527639301\tG\tA\t.\tPASS\tR2=0.912\tGT\t0|0\n\
             20\t60419\trs538242240\tA\tG\t.\tPASS\tR2=0.874\tGT\t0|1\n"
        );
        // GzEncoder writes mtime 0: the same text gives the same bytes.
        let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(text.as_bytes()).ok()?;
        return encoder.finish().ok();
    }
    if name.ends_with(".txt") {
        let text = format!(
            "fedimpute fake QC report\nrun: {run_id}\nfile: {name}\n\
             chunks: 3 passed, 0 excluded\nvariants: 2 typed, 2 imputed\n"
        );
        return Some(text.into_bytes());
    }
    None
}

/// The content type an output file is served with.
pub(crate) fn output_content_type(name: &str) -> &'static str {
    if name.ends_with(".gz") {
        "application/gzip"
    } else {
        "text/plain; charset=utf-8"
    }
}

/// Serves an output file (or `None` → the caller's 404).
pub(crate) fn output_reply(run_id: &str, name: &str) -> Option<Response> {
    let bytes = output_bytes(run_id, name)?;
    Some(
        (
            StatusCode::OK,
            [(header::CONTENT_TYPE, output_content_type(name))],
            bytes,
        )
            .into_response(),
    )
}

/// A plain-text reply (log contents).
pub(crate) fn text_reply(text: String) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        text,
    )
        .into_response()
}

/// Sends `response`, unless the route's fault says the work is done but the reply is lost:
/// [`Fault::HangAfterAccept`] never answers, [`Fault::CloseAfterAccept`] breaks the body off.
pub(crate) async fn deliver(fault: Fault, response: Response) -> Response {
    match fault {
        Fault::HangAfterAccept => std::future::pending().await,
        Fault::CloseAfterAccept => broken_reply(),
        Fault::None | Fault::Status(..) | Fault::NonJson | Fault::Delay(_) | Fault::Hang => {
            response
        }
    }
}
