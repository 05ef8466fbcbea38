//! Users benchmark: logins per second at bcrypt cost 12 and 10, and the
//! latency of a cheap call (GetCurrentUser) on an idle service compared
//! with the same call while 16 logins run at once. SQLite.
//!
//! `cargo bench -p fedimpute-tests --bench users`
//! (`BENCH_SECONDS` sets the time per scenario, default 5.)

use std::time::{Duration, Instant};

use fedimpute_proto::users::{self as pb, users_service_client::UsersServiceClient};
use fedimpute_tests::{
    TestDb,
    harness::users::{TestUsers, password_of, with_token},
};
use tokio_util::sync::CancellationToken;

fn seconds() -> Duration {
    Duration::from_secs(
        std::env::var("BENCH_SECONDS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(5),
    )
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

/// Logins by `callers` concurrent clients until `stop`; returns the count.
async fn login_load(url: String, callers: usize, stop: CancellationToken) -> usize {
    let mut tasks = Vec::new();
    for _ in 0..callers {
        let mut client = UsersServiceClient::connect(url.clone())
            .await
            .expect("connect");
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            let mut n = 0;
            while !stop.is_cancelled() {
                client
                    .login(pb::LoginRequest {
                        username: "bench".into(),
                        password: password_of("bench"),
                    })
                    .await
                    .expect("login");
                n += 1;
            }
            n
        }));
    }
    let mut total = 0;
    for task in tasks {
        total += task.await.expect("login task");
    }
    total
}

/// GetCurrentUser latencies, one caller, for `duration`.
async fn cheap_calls(users: &TestUsers, token: &str, duration: Duration) -> Vec<Duration> {
    let mut client = users.client().await;
    let mut latencies = Vec::new();
    let end = Instant::now() + duration;
    while Instant::now() < end {
        let start = Instant::now();
        client
            .get_current_user(with_token(pb::GetCurrentUserRequest {}, token))
            .await
            .expect("current user");
        latencies.push(start.elapsed());
    }
    latencies.sort();
    latencies
}

fn report(label: &str, latencies: &[Duration], duration: Duration) {
    println!(
        "| {label} | {} | {:.0} | {:?} | {:?} |",
        latencies.len(),
        latencies.len() as f64 / duration.as_secs_f64(),
        percentile(latencies, 0.5),
        percentile(latencies, 0.99),
    );
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let duration = seconds();
        for cost in [12, 10] {
            let users = TestUsers::spawn_with(TestDb::sqlite(), |s| {
                s.bcrypt_cost = cost;
                s.hashing_concurrency = std::thread::available_parallelism().map_or(2, |n| n.get());
                // The benchmark logs in thousands of times from one address.
                s.throttle.address_limit = u32::MAX;
            })
            .await;
            let (_, token) = users.researcher("bench").await;

            let stop = CancellationToken::new();
            let timer = {
                let stop = stop.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(duration).await;
                    stop.cancel();
                })
            };
            let logins = login_load(users.url(), 16, stop).await;
            timer.await.expect("timer");
            println!(
                "cost {cost}: {logins} logins by 16 callers in {duration:?} = {:.1} logins/s",
                logins as f64 / duration.as_secs_f64()
            );

            println!("| cost {cost}: GetCurrentUser | calls | req/s | p50 | p99 |");
            println!("|---|---|---|---|---|");
            let idle = cheap_calls(&users, &token, duration).await;
            report("idle", &idle, duration);
            let stop = CancellationToken::new();
            let handle = tokio::spawn(login_load(users.url(), 16, stop.clone()));
            let busy = cheap_calls(&users, &token, duration).await;
            stop.cancel();
            handle.await.expect("load");
            report("while 16 logins run", &busy, duration);
            users.shutdown().await;
        }
    });
}
