//! Upload benchmark: a generated BGZF VCF of about 1 GiB (`BENCH_UPLOAD_MB`)
//! streamed through the `UploadFile` RPC, in 1 MiB chunks, into the whole
//! platform running as its own process (`fedimpute serve`, SQLite, a
//! local file store). Reports MB/s and the server process's peak memory
//! (VmHWM) and memory before the upload.
//!
//! `cargo bench -p fedimpute-tests --bench jobs_upload`
//! The generated file is kept in `target/bench-data/` for later runs.

use std::{
    io::{BufWriter, Read, Write},
    num::NonZero,
    path::{Path, PathBuf},
    process::Stdio,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use fedimpute_proto::{
    jobs::{self as pb, jobs_service_client::JobsServiceClient},
    users::{self as upb, users_service_client::UsersServiceClient},
};
use fedimpute_tests::harness::auth::bearer;

const SAMPLES: usize = 1000;
const PASSWORD: &str = "Bench-Upload-Passphrase-2026!";

fn target_mb() -> u64 {
    std::env::var("BENCH_UPLOAD_MB")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1024)
}

/// A sorted, GT-only VCF over chromosomes 1–22, BGZF-compressed, until the
/// compressed size reaches `mb` MiB.
fn generate(path: &Path, mb: u64) {
    let file = std::fs::File::create(path).expect("create the bench file");
    let written = Arc::new(AtomicU64::new(0));
    let counted = Counted {
        inner: BufWriter::with_capacity(1 << 20, file),
        written: written.clone(),
    };
    let workers = NonZero::new(2).expect("two");
    let mut out = noodles_bgzf::io::MultithreadedWriter::with_worker_count(workers, counted);
    let mut header = String::from(
        "##fileformat=VCFv4.2\n##FORMAT=<ID=GT,Number=1,Type=String,Description=\"Genotype\">\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT",
    );
    for s in 0..SAMPLES {
        header.push_str(&format!("\tS{s:05}"));
    }
    header.push('\n');
    out.write_all(header.as_bytes()).expect("write");
    let genotypes = ["0|0", "0|1", "1|0", "1|1"];
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut line = String::with_capacity(SAMPLES * 4 + 64);
    let limit = mb * 1024 * 1024;
    'outer: for chrom in 1..=22 {
        for i in 0..u64::MAX {
            line.clear();
            let pos = 10_000 + i * 37;
            line.push_str(&format!(
                "{chrom}\t{pos}\trs{chrom}_{i}\tA\tG\t.\tPASS\t.\tGT"
            ));
            for _ in 0..SAMPLES {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                line.push('\t');
                line.push_str(genotypes[(state & 3) as usize]);
            }
            line.push('\n');
            out.write_all(line.as_bytes()).expect("write");
            if i % 2000 == 1999 {
                let written = written.load(Ordering::Relaxed);
                if written >= limit * (chrom as u64) / 22 {
                    if chrom == 22 || written >= limit {
                        break 'outer;
                    }
                    continue 'outer;
                }
            }
        }
    }
    out.finish().expect("finish the BGZF stream");
}

struct Counted<W> {
    inner: W,
    written: Arc<AtomicU64>,
}

impl<W: Write> Write for Counted<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.written.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn memory(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

async fn connect<T>(url: &str, make: impl Fn(tonic::transport::Channel) -> T) -> T {
    for _ in 0..600 {
        if let Ok(channel) = tonic::transport::Channel::from_shared(url.to_owned())
            .expect("a URL")
            .connect()
            .await
        {
            return make(channel);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{url} never answered");
}

#[tokio::main]
async fn main() {
    let mb = target_mb();
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/bench-data");
    std::fs::create_dir_all(&dir).expect("bench data dir");
    let path = dir.join(format!("upload-{mb}mib.vcf.gz"));
    if !path.exists() {
        let started = Instant::now();
        eprintln!("generating {} ...", path.display());
        let tmp = path.with_extension("partial");
        generate(&tmp, mb);
        std::fs::rename(&tmp, &path).expect("rename");
        eprintln!("generated in {:.1?}", started.elapsed());
    }
    let size = std::fs::metadata(&path).expect("the bench file").len();

    let data = tempfile::tempdir().expect("a data dir");
    let (registry, users, jobs) = (free_port(), free_port(), free_port());
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_fedimpute-e2e"))
        .args(["--data-dir", data.path().to_str().expect("utf-8"), "serve"])
        .env("FEDIMPUTE_REGISTRY_ADDR", format!("127.0.0.1:{registry}"))
        .env("FEDIMPUTE_USERS_ADDR", format!("127.0.0.1:{users}"))
        .env("FEDIMPUTE_JOBS_ADDR", format!("127.0.0.1:{jobs}"))
        .env(
            "FEDIMPUTE_REGISTRY_URL",
            format!("http://127.0.0.1:{registry}"),
        )
        .env("FEDIMPUTE_USERS_URL", format!("http://127.0.0.1:{users}"))
        .env("FEDIMPUTE_ADMIN_PASSWORD", PASSWORD)
        .env("FEDIMPUTE_BCRYPT_COST", "4")
        .env("FEDIMPUTE_DEFAULT_STORAGE_LIMIT", (size * 4).to_string())
        .env("FEDIMPUTE_MAX_UPLOAD_BYTES", (size * 2).to_string())
        .env("FEDIMPUTE_LOG", "warn")
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start the platform");
    let pid = child.id().expect("a pid");
    let mut users_client = connect(
        &format!("http://127.0.0.1:{users}"),
        UsersServiceClient::new,
    )
    .await;
    let mut token = String::new();
    for _ in 0..600 {
        if let Ok(reply) = users_client
            .login(upb::LoginRequest {
                username: "admin".into(),
                password: PASSWORD.into(),
            })
            .await
        {
            token = reply.into_inner().access_token;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!token.is_empty(), "the admin logs in");
    let jobs_client = connect(&format!("http://127.0.0.1:{jobs}"), |c| {
        JobsServiceClient::new(c).max_encoding_message_size(8 << 20)
    })
    .await;
    let (rss_before, _) = memory(pid);

    // 1 MiB chunks read from disk as the stream is pulled.
    let (tx, rx) = tokio::sync::mpsc::channel::<pb::UploadFileRequest>(4);
    let reader_path = path.clone();
    let reader = tokio::task::spawn_blocking(move || {
        let mut file = std::fs::File::open(reader_path).expect("open");
        let meta = pb::UploadFileRequest {
            part: Some(pb::upload_file_request::Part::Metadata(
                pb::UploadMetadata {
                    filename: "bench.vcf.gz".into(),
                    size_bytes: Some(size as i64),
                    sha256: String::new(),
                },
            )),
        };
        if tx.blocking_send(meta).is_err() {
            return;
        }
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = file.read(&mut buf).expect("read");
            if n == 0 {
                return;
            }
            let chunk = pb::UploadFileRequest {
                part: Some(pb::upload_file_request::Part::Chunk(buf[..n].to_vec())),
            };
            if tx.blocking_send(chunk).is_err() {
                return;
            }
        }
    });
    let started = Instant::now();
    let reply = jobs_client
        .clone()
        .upload_file(bearer(
            &token,
            tokio_stream::wrappers::ReceiverStream::new(rx),
        ))
        .await
        .expect("the upload is accepted")
        .into_inner()
        .file
        .expect("a file");
    let elapsed = started.elapsed();
    reader.await.expect("the reader");
    let (rss_after, peak) = memory(pid);
    let vcf = reply.vcf.expect("a summary");
    println!(
        "upload: {:.1} MiB in {:.1?} = {:.1} MB/s ({} records x {} samples, {} chromosomes)",
        size as f64 / 1_048_576.0,
        elapsed,
        size as f64 / 1e6 / elapsed.as_secs_f64(),
        vcf.records_count,
        vcf.samples_count,
        vcf.chromosomes.len(),
    );
    println!(
        "server memory: before {:.1} MiB, after {:.1} MiB, peak (VmHWM) {:.1} MiB",
        rss_before as f64 / 1024.0,
        rss_after as f64 / 1024.0,
        peak as f64 / 1024.0
    );
    child.kill().await.ok();
}
