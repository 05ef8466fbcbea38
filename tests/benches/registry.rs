//! Registry benchmark: a registry with 1,000 services and 5,000 panels,
//! measured over gRPC at 1 and 64 concurrent callers, on SQLite and (when
//! `TEST_DATABASE_URL` is set) PostgreSQL.
//!
//! `cargo bench -p fedimpute-tests --bench registry`
//! (`BENCH_SECONDS` sets the time per scenario, default 5.)

use std::time::{Duration, Instant};

use fedimpute_proto::registry::{self as pb, registry_service_client::RegistryServiceClient};
use fedimpute_tests::{TestDb, TestRegistry, harness::auth::bearer};
use tonic::transport::Channel;

const SERVICES: usize = 1_000;
const PANELS_PER_SERVICE: usize = 5;

#[derive(Clone, Copy, Debug)]
enum Call {
    ListServices,
    GetService,
    ListPanels,
}

async fn seed(client: &mut RegistryServiceClient<Channel>, token: &str) -> Vec<i64> {
    let mut ids = Vec::with_capacity(SERVICES);
    for i in 0..SERVICES {
        let service = pb::Service {
            name: format!("Imputation service {i:04}"),
            api_type: [
                pb::ApiType::Michigan,
                pb::ApiType::Ga4gh,
                pb::ApiType::Dnastack,
            ][i % 3] as i32,
            base_url: format!("https://node{i}.example.org"),
            description: "A benchmark service with a description of realistic length.".into(),
            continent: ["Africa", "Europe", "North America"][i % 3].into(),
            location_country: format!("Country {}", i % 40),
            location_coordinates: Some(pb::Coordinates {
                lat: (i % 170) as f64 - 85.0,
                lon: (i % 350) as f64 - 175.0,
            }),
            ..Default::default()
        };
        let created = client
            .create_service(bearer(
                token,
                pb::CreateServiceRequest {
                    service: Some(service),
                },
            ))
            .await
            .expect("seed a service")
            .into_inner()
            .service
            .expect("a service");
        for p in 0..PANELS_PER_SERVICE {
            let panel = pb::ReferencePanel {
                service_id: created.id,
                name: format!("Panel {p}"),
                external_id: format!("apps@panel-{p}@1.0.0"),
                build: pb::GenomeBuild::Hg38 as i32,
                population: "African".into(),
                populations: vec!["afr".into(), "mixed".into(), "off".into()],
                samples_count: Some(4447),
                ..Default::default()
            };
            client
                .create_reference_panel(bearer(
                    token,
                    pb::CreateReferencePanelRequest { panel: Some(panel) },
                ))
                .await
                .expect("seed a panel");
        }
        ids.push(created.id);
    }
    ids
}

async fn call(client: &mut RegistryServiceClient<Channel>, what: Call, ids: &[i64], n: usize) {
    match what {
        Call::ListServices => {
            let reply = client
                .list_services(pb::ListServicesRequest {
                    page_size: 100,
                    ..Default::default()
                })
                .await
                .expect("ListServices");
            assert_eq!(reply.into_inner().services.len(), 100);
        }
        Call::GetService => {
            let id = ids[n % ids.len()];
            client
                .get_service(pb::GetServiceRequest {
                    id_or_slug: id.to_string(),
                })
                .await
                .expect("GetService");
        }
        Call::ListPanels => {
            let id = ids[n % ids.len()];
            let reply = client
                .list_reference_panels(pb::ListReferencePanelsRequest {
                    service_id: Some(id),
                    ..Default::default()
                })
                .await
                .expect("ListReferencePanels");
            assert_eq!(reply.into_inner().panels.len(), PANELS_PER_SERVICE);
        }
    }
}

async fn measure(
    channel: Channel,
    what: Call,
    ids: Vec<i64>,
    concurrency: usize,
    seconds: u64,
) -> (f64, Duration, Duration, usize) {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..concurrency {
        let mut client = RegistryServiceClient::new(channel.clone());
        let ids = ids.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut n = worker * 7919;
            while Instant::now() < deadline {
                let t = Instant::now();
                call(&mut client, what, &ids, n).await;
                latencies.push(t.elapsed());
                n += 1;
            }
            latencies
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.expect("a bench worker"));
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort();
    let pct = |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)];
    (all.len() as f64 / elapsed, pct(0.50), pct(0.99), all.len())
}

async fn bench(db: TestDb, seconds: u64) {
    let backend = db.backend;
    let registry = TestRegistry::spawn(db).await;
    let token = registry.auth.admin();
    let channel = registry.channel().await;
    let mut client = RegistryServiceClient::new(channel.clone());
    let t = Instant::now();
    let ids = seed(&mut client, &token).await;
    println!(
        "{backend}: seeded {SERVICES} services and {} panels over gRPC in {:.1}s",
        SERVICES * PANELS_PER_SERVICE,
        t.elapsed().as_secs_f64()
    );
    println!("| backend | call | callers | requests | req/s | p50 | p99 |");
    println!("|---|---|---|---|---|---|---|");
    for what in [Call::ListServices, Call::GetService, Call::ListPanels] {
        for concurrency in [1, 64] {
            let (rps, p50, p99, n) =
                measure(channel.clone(), what, ids.clone(), concurrency, seconds).await;
            println!(
                "| {backend} | {what:?} | {concurrency} | {n} | {rps:.0} | {p50:.2?} | {p99:.2?} |"
            );
        }
    }
    registry.shutdown().await;
}

fn main() {
    let seconds = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        bench(TestDb::sqlite(), seconds).await;
        match TestDb::postgres().await {
            Some(db) => bench(db, seconds).await,
            None => println!("postgres: skipped (set TEST_DATABASE_URL)"),
        }
    });
}
