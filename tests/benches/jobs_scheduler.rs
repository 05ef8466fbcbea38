//! Scheduler benchmark: 10,000 jobs (`BENCH_JOBS`) running on one fake
//! Cloudgene, followed by the scheduler for `BENCH_SECONDS` (default 20) at
//! `BENCH_POLL` (default 1s: more polls due than the scheduler can make,
//! so it runs flat out; 30s is production's). Reports polls per second, the
//! process's CPU (the fake and the platform share it), and for PostgreSQL
//! the database's commits and row operations per second. SQLite, and
//! PostgreSQL when `TEST_DATABASE_URL` is set.
//!
//! `TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres cargo bench -p fedimpute-tests --bench jobs_scheduler`

use std::time::{Duration, Instant};

use fedimpute_proto::{jobs as pb, registry as rpb};
use fedimpute_tests::{
    TestDb, backends, eventually,
    fakes::cloudgene::{CloudgeneConfig, FakeCloudgene},
    harness::{
        auth::bearer,
        jobs::{TestPlatform, fixture},
    },
};
use sea_orm::{ConnectionTrait, Database, Statement};
use serde_json::json;

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// User + system CPU seconds of this process.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 (1-based), 11 and 12 after ')'.
    (ticks(11) + ticks(12)) / 100.0
}

async fn pg_counters(url: &str) -> Option<[i64; 5]> {
    let parsed = url::Url::parse(url).ok()?;
    let name = parsed.path().trim_start_matches('/').to_owned();
    let db = Database::connect(url).await.ok()?;
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            format!(
                "SELECT xact_commit, tup_fetched, tup_inserted, tup_updated, tup_deleted \
                 FROM pg_stat_database WHERE datname = '{name}'"
            ),
        ))
        .await
        .ok()??;
    let get = |i| row.try_get_by_index::<i64>(i).unwrap_or(0);
    let out = [get(0), get(1), get(2), get(3), get(4)];
    db.close().await.ok();
    Some(out)
}

async fn run(db: TestDb, jobs: usize, poll: Duration, seconds: Duration) {
    let backend = db.backend;
    let url = db.url.clone();
    let platform = TestPlatform::spawn_with(
        db,
        |s| s.default_monthly_job_limit = i32::MAX,
        move |s| {
            s.scheduler.poll_interval = poll;
            s.scheduler.max_backoff = poll.max(Duration::from_secs(5));
            s.scheduler.lease = Duration::from_secs(120);
            s.max_connections = 16;
        },
    )
    .await;
    let fake = FakeCloudgene::start(CloudgeneConfig {
        tokens: vec!["bench-token-0123456789".into()],
        ticks_per_poll: 0,
        max_running_jobs_per_user: usize::MAX,
        ..CloudgeneConfig::default()
    })
    .await;
    let service = platform
        .service(
            "Bench Cloudgene",
            rpb::ApiType::Michigan,
            &fake.base_url(),
            true,
            json!({"max_running_jobs_per_user": 1_000_000}),
        )
        .await;
    let panel = platform
        .panel(
            service.id,
            "H3AFRICA v6",
            "apps@h3africa-v6hc-s@1.0.0",
            &["mixed"],
            json!({}),
        )
        .await;
    let (_, token) = platform.users.researcher("bench").await;
    platform
        .credential(&token, service.id, "bench-token-0123456789")
        .await;
    let file = platform
        .upload(
            &token,
            "chr20.tiny.100snps.vcf.gz",
            &fixture("chr20.tiny.100snps.vcf.gz"),
            65536,
        )
        .await
        .expect("upload");

    // Create the jobs through the API, 16 callers at once.
    let started = Instant::now();
    let mut tasks = Vec::new();
    for caller in 0..16 {
        let mut client = platform.jobs().await;
        let (token, file, service, panel) = (token.clone(), file.id.clone(), service.id, panel.id);
        tasks.push(tokio::spawn(async move {
            for i in (caller..jobs).step_by(16) {
                client
                    .create_job(bearer(
                        &token,
                        pb::CreateJobRequest {
                            name: format!("bench {i}"),
                            service_id: service.to_string(),
                            reference_panel_id: panel.to_string(),
                            input_file_id: file.clone(),
                            ..Default::default()
                        },
                    ))
                    .await
                    .expect("create a job");
            }
        }));
    }
    for task in tasks {
        task.await.expect("a creating task");
    }
    let created = started.elapsed();
    eprintln!("{backend}: {jobs} jobs created in {created:.1?}");
    // Every job on the remote, then all of them running there.
    let submitting = Instant::now();
    let mut reported = Instant::now();
    eventually("every job submitted", Duration::from_secs(1800), || {
        let count = fake.submission_count();
        if reported.elapsed() >= Duration::from_secs(5) {
            reported = Instant::now();
            eprintln!("{backend}: {count} of {jobs} submitted");
        }
        std::future::ready((count >= jobs).then_some(()))
    })
    .await;
    let submitted = submitting.elapsed();
    fake.advance_all(2);
    let ids: Vec<String> = fake.jobs().into_iter().map(|j| j.id).collect();
    let polls = |fake: &FakeCloudgene| -> usize {
        ids.iter()
            .map(|id| fake.hits(&format!("/api/v2/jobs/{id}")))
            .sum()
    };
    // Measure once the scheduler has seen every job running.
    let client = platform.jobs().await;
    eventually("every job running", Duration::from_secs(1800), || {
        let mut client = client.clone();
        let token = token.clone();
        async move {
            let stats = client
                .get_job_stats(bearer(&token, pb::GetJobStatsRequest::default()))
                .await
                .expect("stats")
                .into_inner()
                .stats
                .expect("stats");
            (stats.running as usize == jobs).then_some(())
        }
    })
    .await;

    let (p0, c0, d0, t0) = (
        polls(&fake),
        cpu_seconds(),
        pg_counters(&url).await,
        Instant::now(),
    );
    // The measured interval itself, not a wait for state.
    tokio::time::sleep(seconds).await;
    let (p1, c1, d1, elapsed) = (
        polls(&fake),
        cpu_seconds(),
        pg_counters(&url).await,
        t0.elapsed(),
    );
    let rate = (p1 - p0) as f64 / elapsed.as_secs_f64();
    let cpu = (c1 - c0) / elapsed.as_secs_f64() * 100.0;
    println!(
        "{backend}: {jobs} running jobs, poll {poll:?}: {rate:.0} polls/s, CPU {cpu:.0}% of one core (2 cores; fake included); \
         created in {created:.1?} ({:.0}/s), all submitted {submitted:.1?} later",
        jobs as f64 / created.as_secs_f64()
    );
    if let (Some(a), Some(b)) = (d0, d1) {
        let per_s = |i: usize| (b[i] - a[i]) as f64 / elapsed.as_secs_f64();
        println!(
            "{backend}: database: {:.0} commits/s, {:.0} rows fetched/s, {:.0} inserted/s, {:.0} updated/s, {:.0} deleted/s ({:.2} commits per poll)",
            per_s(0),
            per_s(1),
            per_s(2),
            per_s(3),
            per_s(4),
            per_s(0) / rate.max(1.0)
        );
    }
    platform.shutdown().await;
    fake.stop().await;
}

#[tokio::main]
async fn main() {
    let jobs = env("BENCH_JOBS", 10_000usize);
    let seconds = Duration::from_secs(env("BENCH_SECONDS", 20u64));
    let poll = std::env::var("BENCH_POLL")
        .ok()
        .and_then(|s| s.parse::<fedimpute_common::config::HumanDuration>().ok())
        .map_or(Duration::from_secs(1), |d| d.0);
    for db in backends().await {
        run(db, jobs, poll, seconds).await;
    }
}
