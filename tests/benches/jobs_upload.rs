//! Upload benchmark: a generated BGZF VCF of about 1 GiB (`BENCH_UPLOAD_MB`)
//! streamed through the `UploadFile` RPC, in 1 MiB chunks, into the whole
//! platform running as its own process (`fedimpute serve`, SQLite, a
//! local file store). Reports MB/s and the server process's peak memory
//! (VmHWM) and memory before the upload.
//!
//! `cargo bench -p fedimpute-tests --bench jobs_upload`
//! The generated file is kept in `target/bench-data/` for later runs.

use std::{
    io::Read,
    process::Stdio,
    time::{Duration, Instant},
};

use fedimpute_proto::{
    jobs::{self as pb, jobs_service_client::JobsServiceClient},
    users::{self as upb, users_service_client::UsersServiceClient},
};
use fedimpute_tests::{
    bench::{free_port, memory, vcf_of_mib},
    harness::{auth::bearer, eventually},
};

const PASSWORD: &str = "Bench-Upload-Passphrase-2026!";

fn target_mb() -> u64 {
    std::env::var("BENCH_UPLOAD_MB")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1024)
}

async fn connect<T>(url: &str, make: impl Fn(tonic::transport::Channel) -> T) -> T {
    let channel = eventually(
        &format!("{url} to answer"),
        Duration::from_secs(60),
        || async {
            tonic::transport::Channel::from_shared(url.to_owned())
                .expect("a URL")
                .connect()
                .await
                .ok()
        },
    )
    .await;
    make(channel)
}

#[tokio::main]
async fn main() {
    let mb = target_mb();
    let path = vcf_of_mib(mb);
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
        .env("FEDIMPUTE_JOBS_URL", format!("http://127.0.0.1:{jobs}"))
        .env(
            "FEDIMPUTE_GATEWAY_ADDR",
            format!("127.0.0.1:{}", free_port()),
        )
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
    let users_client = connect(
        &format!("http://127.0.0.1:{users}"),
        UsersServiceClient::new,
    )
    .await;
    let token = eventually("the admin to log in", Duration::from_secs(60), || {
        let mut users_client = users_client.clone();
        async move {
            users_client
                .login(upb::LoginRequest {
                    username: "admin".into(),
                    password: PASSWORD.into(),
                })
                .await
                .ok()
                .map(|reply| reply.into_inner().access_token)
        }
    })
    .await;
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
