//! `GET E/runs`: filters, and pages linked by a relative `next_page_url`.

use super::*;

#[tokio::test]
async fn pages_follow_the_relative_next_page_url_with_the_tag_filter() {
    let fake = FakeDnastack::start(DnastackConfig::default()).await;
    let api = Ewes::connect(&fake).await;
    let mut ours = Vec::new();
    for i in 0..5 {
        ours.push(
            api.submit(&run_request(
                json!({"platform_job_id": "job-7", "n": i.to_string()}),
            ))
            .await,
        );
        api.submit(&run_request(json!({"platform_job_id": "job-8"})))
            .await;
    }
    let first = format!("{}/runs?page_size=2&tag=platform_job_id:job-7", api.ewes);
    let (mut url, mut seen, mut pages) = (Some(first), Vec::new(), 0);
    while let Some(current) = url.take() {
        let (status, page) = api.get(&current).await;
        assert_eq!(status, 200, "{page}");
        pages += 1;
        assert_eq!(page["pagination"]["total_elements"], json!(5));
        for run in page["runs"].as_array().expect("runs") {
            assert_eq!(run["tags"]["platform_job_id"], json!("job-7"));
            assert!(run["start_time"].is_string() && run["engine_id"] == json!("engine-1"));
            seen.push(run["run_id"].as_str().expect("id").to_owned());
        }
        if let Some(next) = page["pagination"]["next_page_url"].as_str() {
            assert!(next.starts_with("runs?page_size=2&page_token="), "{next}");
            assert!(next.contains("tag=platform_job_id%3Ajob-7"), "{next}");
            let token = page["next_page_token"].as_str().expect("a token");
            assert!(next.contains(&format!("page_token={token}")));
            let resolved = url::Url::parse(&current).and_then(|u| u.join(next));
            url = Some(resolved.expect("a resolvable URL").to_string());
        } else {
            assert!(page.get("next_page_token").is_none());
        }
    }
    assert_eq!((seen, pages), (ours, 3));
    // Listing never advances a run.
    assert!(fake.runs().iter().all(|r| r.state == "PREPROCESSING"));
    fake.stop().await;
}

#[tokio::test]
async fn state_engine_and_search_filters() {
    let fake = FakeDnastack::start(DnastackConfig {
        engines: vec!["engine-1".into(), "engine-2".into()],
        ..DnastackConfig::default()
    })
    .await;
    let api = Ewes::connect(&fake).await;
    let a = api.submit(&run_request(json!({"cohort": "alpha"}))).await;
    let mut on_two = run_request(json!({"cohort": "beta"}));
    on_two["engine_id"] = json!("engine-2");
    let b = api.submit(&on_two).await;
    let c = api.submit(&run_request(json!({}))).await;
    assert!(fake.set_state(&a, "RUNNING") && fake.set_state(&c, "COMPLETE"));
    let ids = |page: &Value| -> Vec<String> {
        let runs = page["runs"].as_array().cloned().unwrap_or_default();
        runs.iter()
            .filter_map(|r| r["run_id"].as_str().map(str::to_owned))
            .collect()
    };
    let (_, page) = api.get("/runs?state=running&state=COMPLETE").await;
    assert_eq!(ids(&page), [a.as_str(), c.as_str()]);
    let (_, page) = api.get("/runs?engine_id=engine-2").await;
    assert_eq!(ids(&page), [b.as_str()]);
    let (_, page) = api.get("/runs?search=alph").await;
    assert_eq!(ids(&page), [a.as_str()]);
    let (_, page) = api.get("/runs?tag=cohort:beta&state=PREPROCESSING").await;
    assert_eq!(ids(&page), [b.as_str()]);
    let (_, page) = api.get("/runs?tag=cohort:gamma").await;
    assert_eq!(
        (
            ids(&page).len(),
            page["pagination"]["total_elements"].as_u64()
        ),
        (0, Some(0))
    );
    let (_, page) = api.get("/runs").await;
    assert_eq!(page["runs"].as_array().map(Vec::len), Some(3));
    assert!(page["pagination"].get("next_page_url").is_none());
    fake.stop().await;
}
