//! Uploads through the gateway's REST: a 64 MiB BGZF VCF generated on the
//! fly and streamed as a multipart form (whole in memory on neither side),
//! a raw body named by `?filename=` or `Content-Disposition`, and uploads
//! whose client breaks off mid-body, which must leave nothing behind even
//! when every byte of a valid file had arrived.

use std::{
    io::Write as _,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::Duration,
};

use bytes::Bytes;
use fedimpute_tests::{
    TestDb, eventually,
    harness::{gateway::TestGateway, jobs::fixture},
};
use noodles_bgzf as bgzf;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt as _;

use crate::{
    gateway_edge::{metrics, sample, send},
    gateway_grpc::TINY,
};

const MIB: u64 = 1024 * 1024;
const SAMPLES: usize = 8;

/// What the generator produced, known once it has finished.
#[derive(Debug, Default)]
struct Produced {
    size: u64,
    sha256: String,
    records: u64,
}

/// A `Write` into a buffer the generator drains after each batch of lines.
#[derive(Clone, Default)]
struct Sink(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Sink {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

struct Generator {
    writer: Option<bgzf::io::Writer<Sink>>,
    sink: Sink,
    hasher: Sha256,
    size: u64,
    records: u64,
    target: u64,
    line: String,
    padding: String,
    produced: Arc<Mutex<Option<Produced>>>,
}

impl Generator {
    /// The next piece of about 1 MiB of BGZF, or `None` when done.
    fn next_piece(&mut self) -> Option<Bytes> {
        let writer = self.writer.as_mut()?;
        if self.records == 0 {
            let mut header = String::from(
                "##fileformat=VCFv4.2\n\
                 ##INFO=<ID=PAD,Number=1,Type=String,Description=\"Padding\">\n\
                 ##FORMAT=<ID=GT,Number=1,Type=String,Description=\"Genotype\">\n\
                 ##contig=<ID=20,length=63025520>\n\
                 #CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT",
            );
            for s in 0..SAMPLES {
                header.push_str(&format!("\tS{s}"));
            }
            header.push('\n');
            writer.write_all(header.as_bytes()).expect("write");
        }
        let genotypes = ["0|0", "0|1", "1|0", "1|1"];
        while (self.sink.0.lock().unwrap().len() as u64) < MIB {
            if self.size + self.sink.0.lock().unwrap().len() as u64 >= self.target {
                let writer = self.writer.take().expect("a writer");
                writer.finish().expect("finish the BGZF stream");
                break;
            }
            let i = self.records;
            self.line.clear();
            self.line.push_str(&format!(
                "20\t{}\trs{i}\tA\tG\t.\tPASS\tPAD={}\tGT",
                60_000 + i * 7,
                self.padding
            ));
            for s in 0..SAMPLES {
                self.line.push('\t');
                self.line
                    .push_str(genotypes[(i as usize + s) % genotypes.len()]);
            }
            self.line.push('\n');
            writer.write_all(self.line.as_bytes()).expect("write");
            self.records += 1;
        }
        let piece = Bytes::from(std::mem::take(&mut *self.sink.0.lock().unwrap()));
        self.hasher.update(&piece);
        self.size += piece.len() as u64;
        if self.writer.is_none() {
            *self.produced.lock().unwrap() = Some(Produced {
                size: self.size,
                sha256: format!("{:x}", self.hasher.clone().finalize()),
                records: self.records,
            });
        }
        Some(piece)
    }
}

/// A valid BGZF VCF of about `target` bytes (chromosome 20, sorted, phased,
/// stored uncompressed in its BGZF blocks so that the bytes are cheap to make
/// and to check), produced as it is read; and what it was, once read.
fn generated_vcf(
    target: u64,
) -> (
    impl futures::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static,
    Arc<Mutex<Option<Produced>>>,
) {
    let sink = Sink::default();
    let produced = Arc::new(Mutex::new(None));
    let generator = Generator {
        writer: Some(
            bgzf::io::writer::Builder::default()
                .set_compression_level(bgzf::io::writer::CompressionLevel::NONE)
                .build_from_writer(sink.clone()),
        ),
        sink,
        hasher: Sha256::new(),
        size: 0,
        records: 0,
        target,
        line: String::new(),
        padding: "ACGT".repeat(1024),
        produced: produced.clone(),
    };
    let stream = futures::stream::unfold(generator, |mut generator| async move {
        generator.next_piece().map(|piece| (Ok(piece), generator))
    });
    (stream, produced)
}

async fn files(gw: &TestGateway, token: &str) -> Vec<Value> {
    let answer = send(gw.http.get(gw.url("/api/files/")).bearer_auth(token)).await;
    assert_eq!(answer.status, 200, "{:?}", answer.json);
    answer.json.as_array().expect("a bare array").clone()
}

// Two workers: the client generates while the gateway and the jobs service
// stream and check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_64_mib_multipart_upload_streams_through_with_its_size_and_hash() {
    // Arrange
    let gw = TestGateway::spawn(TestDb::sqlite()).await;
    let (_, token) = gw.platform.users.researcher("bigfoot").await;
    let (stream, produced) = generated_vcf(64 * MIB);
    let form = reqwest::multipart::Form::new()
        .text("note", "streamed")
        .part(
            "file",
            reqwest::multipart::Part::stream(reqwest::Body::wrap_stream(stream))
                .file_name("generated.vcf.gz")
                .mime_str("application/gzip")
                .unwrap(),
        );

    // Act
    let uploaded = send(
        gw.http
            .post(gw.url("/api/files/"))
            .bearer_auth(&token)
            .multipart(form),
    )
    .await;

    // Assert
    let produced = produced
        .lock()
        .unwrap()
        .take()
        .expect("the generator finished");
    assert!(produced.size >= 64 * MIB, "{produced:?}");
    assert_eq!(uploaded.status, 201, "{:?}", uploaded.json);
    let file = &uploaded.json;
    assert_eq!(file["size_bytes"].as_u64(), Some(produced.size), "{file}");
    assert_eq!(file["sha256"].as_str(), Some(produced.sha256.as_str()));
    assert_eq!(file["original_filename"], "generated.vcf.gz");
    assert_eq!(file["compression"], "bgzf");
    assert_eq!(
        file["vcf"]["records_count"].as_u64(),
        Some(produced.records)
    );
    assert_eq!(file["vcf"]["samples_count"].as_u64(), Some(SAMPLES as u64));
    let listed = files(&gw, &token).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], file["id"]);
    assert_eq!(
        sample(&metrics(&gw).await, "fedimpute_gateway_upload_bytes_total"),
        Some(produced.size as f64)
    );
    gw.shutdown().await;
}

#[tokio::test]
async fn a_raw_body_upload_is_named_by_the_query_or_the_content_disposition() {
    // Arrange
    let gw = TestGateway::spawn(TestDb::sqlite()).await;
    let (_, token) = gw.platform.users.researcher("rawley").await;
    let bytes = fixture(TINY);
    let raw = |path: &str| {
        gw.http
            .post(gw.url(path))
            .bearer_auth(&token)
            .header("content-type", "application/gzip")
            .body(bytes.clone())
    };

    // Act
    let by_query = send(raw("/api/files/?filename=by-query.vcf.gz")).await;
    let by_header = send(raw("/api/files/").header(
        "content-disposition",
        "attachment; filename=\"by-header.vcf.gz\"",
    ))
    .await;
    let unnamed = send(raw("/api/files/")).await;

    // Assert
    let sha256 = format!("{:x}", Sha256::digest(&bytes));
    for (answer, name) in [
        (&by_query, "by-query.vcf.gz"),
        (&by_header, "by-header.vcf.gz"),
    ] {
        assert_eq!(answer.status, 201, "{:?}", answer.json);
        assert_eq!(answer.json["original_filename"], name);
        assert_eq!(answer.json["size_bytes"].as_u64(), Some(bytes.len() as u64));
        assert_eq!(answer.json["sha256"].as_str(), Some(sha256.as_str()));
        assert_eq!(answer.json["vcf"]["records_count"], 100);
    }
    assert_eq!(unnamed.status, 400, "{:?}", unnamed.json);
    assert_eq!(unnamed.json["code"], "INVALID_ARGUMENT");
    assert_eq!(files(&gw, &token).await.len(), 2);
    gw.shutdown().await;
}

/// Every file under `dir`.
pub(crate) fn stored(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out
}

pub(crate) fn in_flight(text: &str) -> Option<f64> {
    sample(text, "fedimpute_gateway_http_requests_in_flight")
}

#[tokio::test]
async fn an_upload_that_breaks_off_mid_body_leaves_no_file_behind() {
    // Arrange
    let gw = TestGateway::spawn(TestDb::sqlite()).await;
    let (_, token) = gw.platform.users.researcher("cutter").await;
    let bytes = fixture(TINY);
    const BOUNDARY: &str = "gateway-test-boundary";
    let preamble = format!(
        "--{BOUNDARY}\r\ncontent-disposition: form-data; name=\"file\"; filename=\"cut.vcf.gz\"\r\ncontent-type: application/gzip\r\n\r\n"
    );
    let closing = format!("\r\n--{BOUNDARY}--\r\n");
    // Every byte of a valid file is sent, but not what ends the body: a
    // gateway that took the break for the end would store the file.
    let cases = [
        (
            format!("multipart/form-data; boundary={BOUNDARY}"),
            "/api/files/",
            [preamble.as_bytes(), &bytes].concat(),
            preamble.len() + bytes.len() + closing.len(),
        ),
        (
            "application/gzip".to_owned(),
            "/api/files/?filename=cut.vcf.gz",
            bytes.clone(),
            bytes.len() + 1000,
        ),
    ];

    for (content_type, path, sent, declared) in cases {
        // Act
        let mut tcp = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
        let head = format!(
            "POST {path} HTTP/1.1\r\nhost: {}\r\nauthorization: Bearer {token}\r\ncontent-type: {content_type}\r\ncontent-length: {declared}\r\n\r\n",
            gw.addr
        );
        tcp.write_all(head.as_bytes()).await.unwrap();
        tcp.write_all(&sent).await.unwrap();
        tcp.flush().await.unwrap();
        // The jobs service is receiving (its staging object exists), and
        // the gateway counts the upload in flight.
        eventually(
            "the upload to reach the file store",
            Duration::from_secs(30),
            || async { (!stored(gw.platform.files.path()).is_empty()).then_some(()) },
        )
        .await;
        assert_eq!(in_flight(&metrics(&gw).await), Some(2.0), "{path}");
        drop(tcp);

        // Assert: the gateway is done with it, and the store is empty again.
        eventually(
            "the broken upload to end at the gateway",
            Duration::from_secs(30),
            || async { (in_flight(&metrics(&gw).await) == Some(1.0)).then_some(()) },
        )
        .await;
        eventually(
            "the file store to be empty again (no staging object, no stored file)",
            Duration::from_secs(30),
            || async { stored(gw.platform.files.path()).is_empty().then_some(()) },
        )
        .await;
        assert_eq!(files(&gw, &token).await, Vec::<Value>::new(), "{path}");
    }
    // The same file, sent whole, is stored: the breaks above were the cause.
    let whole = send(
        gw.http
            .post(gw.url("/api/files/?filename=whole.vcf.gz"))
            .bearer_auth(&token)
            .body(bytes),
    )
    .await;
    assert_eq!(whole.status, 201, "{:?}", whole.json);
    assert_eq!(files(&gw, &token).await.len(), 1);
    gw.shutdown().await;
}
