//! A run's life: submit, poll, events, outputs, tasks and logs; cancel, delete, batch.

use std::io::Read;

use super::*;

#[tokio::test]
async fn run_goes_preprocessing_to_complete_with_events_and_outputs() {
    let fake = FakeDnastack::start(DnastackConfig::default()).await;
    let api = Ewes::connect(&fake).await;
    let body = run_request(json!({"platform_job_id": "job-1"}));
    let run_id = api.submit(&body).await;
    let submissions = fake.submissions();
    assert_eq!((submissions.len(), fake.submission_count()), (1, 1));
    assert_eq!(
        (&submissions[0].run_id, submissions[0].namespace.as_str()),
        (&run_id, "fake-namespace")
    );
    assert_eq!(submissions[0].body, body);
    assert_eq!(submissions[0].bearer.as_deref(), Some(api.token.as_str()));
    let run = fake.run(&run_id).expect("the run");
    assert_eq!(
        (
            run.state.as_str(),
            run.engine_id.as_str(),
            run.workflow_url.as_str()
        ),
        ("PREPROCESSING", "engine-1", "fedimpute-imputation/v1")
    );
    assert_eq!(run.workflow_params, body["workflow_params"]);
    assert_eq!(
        run.tags.get("platform_job_id").map(String::as_str),
        Some("job-1")
    );
    // Listing never advances a run.
    let (_, list) = api.get("/runs").await;
    assert_eq!(list["runs"][0]["state"], json!("PREPROCESSING"));
    assert!(list["runs"][0]["start_time"].is_string());
    assert_eq!(
        fake.run(&run_id).map(|r| r.state).as_deref(),
        Some("PREPROCESSING")
    );

    let expected = ["QUEUED", "INITIALIZING", "RUNNING", "RUNNING", "COMPLETE"];
    assert_eq!(api.life(&run_id).await, expected);
    let (status, run) = api.get(&format!("/runs/{run_id}")).await;
    assert_eq!((status, run["state"].as_str()), (200, Some("COMPLETE")));
    assert_eq!(
        (run["engine_id"].as_str(), run["errors"].clone()),
        (Some("engine-1"), json!([]))
    );
    assert_eq!(run["request"]["workflow_params"], body["workflow_params"]);
    assert_eq!(run["request"]["tags"], body["tags"]);
    assert_eq!(run["run_log"]["exit_code"], json!(0));
    assert!(run["run_log"]["end_time"].is_string());
    let events = run["events"].as_array().expect("events");
    let kinds: Vec<&str> = events
        .iter()
        .filter_map(|e| e["event_type"].as_str())
        .collect();
    assert_eq!(
        &kinds[..3],
        ["RUN_SUBMITTED", "PREPROCESSING", "RUN_SUBMITTED_TO_ENGINE"]
    );
    let transitions: Vec<(&str, &str)> = events
        .iter()
        .filter(|e| e["event_type"] == json!("STATE_TRANSITION"))
        .map(|e| {
            let meta = &e["metadata"];
            (
                meta["old_state"].as_str().unwrap_or_default(),
                meta["new_state"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        transitions,
        [
            ("PREPROCESSING", "QUEUED"),
            ("QUEUED", "INITIALIZING"),
            ("INITIALIZING", "RUNNING"),
            ("RUNNING", "COMPLETE")
        ]
    );
    assert!(events.iter().all(|e| e["id"].is_string()
        && e["created_at"].is_string()
        && e["metadata"]["event_type"] == e["event_type"]));

    let base = fake.base_url();
    assert_eq!(
        run["outputs"],
        json!({"fedimpute.imputed_vcfs": [format!("gs://fake-bucket/{run_id}/chr20.dose.vcf.gz")],
            "fedimpute.qc_report": format!("{base}/outputs/{run_id}/qc_report.txt"),
            "fedimpute.imputed_vcf_http": format!("{base}/outputs/{run_id}/chr20.dose.vcf.gz")})
    );
    let vcf_url = run["outputs"]["fedimpute.imputed_vcf_http"]
        .as_str()
        .expect("url");
    let reply = api.raw(vcf_url, false).await;
    assert_eq!(reply.status().as_u16(), 200);
    let vcf = reply.bytes().await.expect("bytes").to_vec();
    assert_eq!(
        Some(vcf.clone()),
        fake.output_bytes(&run_id, "chr20.dose.vcf.gz")
    );
    let mut text = String::new();
    flate2::read::GzDecoder::new(vcf.as_slice())
        .read_to_string(&mut text)
        .expect("gzip");
    assert!(text.contains(&run_id));
    let report = api.raw(
        run["outputs"]["fedimpute.qc_report"].as_str().expect("url"),
        false,
    );
    assert_eq!(report.await.status().as_u16(), 200);
    let other = api
        .raw(&format!("{base}/outputs/{run_id}/nope.txt"), false)
        .await;
    assert_eq!(other.status().as_u16(), 404);

    let tasks = run["task_logs"].as_array().expect("task logs");
    assert_eq!(tasks.len(), 2);
    assert!(
        tasks
            .iter()
            .all(|t| t["state"] == json!("COMPLETE") && t["exit_code"] == json!(0))
    );
    let (_, slim) = api.get(&format!("/runs/{run_id}?exclude_tasks=true")).await;
    assert!(slim.get("task_logs").is_none() && slim["task_logs_url"].is_string());
    let (status, listed) = api.get(&format!("/runs/{run_id}/tasks")).await;
    assert_eq!((status, listed["tasks"].clone()), (200, json!(tasks)));
    assert_eq!(listed["pagination"]["total_elements"], json!(2));

    let stdout_url = run["run_log"]["stdout"].as_str().expect("url");
    let full = api.raw(stdout_url, true).await.text().await.expect("text");
    assert!(full.contains("RUN_SUBMITTED") && full.len() > 20, "{full}");
    let cut = api
        .raw(&format!("{stdout_url}?offset=3&max=10"), true)
        .await;
    assert_eq!(cut.text().await.expect("text"), full[3..13]);
    let stderr = api
        .raw(run["run_log"]["stderr"].as_str().expect("url"), true)
        .await;
    assert_eq!(
        stderr.headers().get("content-length").map(|v| v.as_bytes()),
        Some(&b"0"[..])
    );
    assert_eq!(api.raw(stdout_url, false).await.status().as_u16(), 401);
    assert_eq!(fake.token_requests(), 1);
    fake.stop().await;
}

#[tokio::test]
async fn manual_ticks_set_state_and_workflow_ids() {
    let config = DnastackConfig {
        ticks_per_poll: 0,
        running_ticks: 1,
        ..DnastackConfig::default()
    };
    let fake = FakeDnastack::start(config).await;
    let api = Ewes::connect(&fake).await;
    let by_ids = json!({"workflow_id": "fedimpute-imputation", "workflow_version_id": "v1",
        "workflow_params": {}});
    let run_id = api.submit(&by_ids).await;
    assert_eq!(api.state(&run_id).await, "PREPROCESSING");
    assert_eq!(
        fake.run(&run_id).map(|r| r.engine_id).as_deref(),
        Some("engine-1")
    );
    assert_eq!(fake.advance(&run_id, 3).as_deref(), Some("RUNNING"));
    assert_eq!(fake.advance(&run_id, 1).as_deref(), Some("COMPLETE"));
    assert_eq!(fake.advance(&run_id, 4).as_deref(), Some("COMPLETE"));
    assert_eq!(fake.advance("nope", 1), None);
    let other = api.submit(&run_request(json!({}))).await;
    assert!(fake.output_bytes(&other, "qc_report.txt").is_none());
    assert!(fake.set_state(&other, "complete"));
    assert!(!fake.set_state(&other, "FINISHED") && !fake.set_state("nope", "QUEUED"));
    assert!(fake.output_bytes(&other, "qc_report.txt").is_some());
    let ids: Vec<String> = fake.runs().into_iter().map(|r| r.run_id).collect();
    assert_eq!(ids, [run_id, other]);
    fake.stop().await;
}

#[tokio::test]
async fn cancel_bulk_cancel_and_delete() {
    let fake = FakeDnastack::start(DnastackConfig::default()).await;
    let api = Ewes::connect(&fake).await;
    let first = api.submit(&run_request(json!({}))).await;
    assert_eq!(api.state(&first).await, "QUEUED");
    let (status, body) = api.post(&format!("/runs/{first}/cancel"), &json!({})).await;
    assert_eq!(
        (status, body),
        (200, json!({"run_id": first, "state": "CANCELING"}))
    );
    assert_eq!(api.life(&first).await, ["CANCELED"]);
    let (_, again) = api.post(&format!("/runs/{first}/cancel"), &json!({})).await;
    assert_eq!(again["state"], json!("CANCELED"));
    assert_eq!(api.post("/runs/nope/cancel", &json!({})).await.0, 404);

    let second = api.submit(&run_request(json!({}))).await;
    let (status, bulk) = api.post("/runs/cancel", &json!([second, "missing"])).await;
    assert_eq!(status, 200);
    assert_eq!(
        bulk["results"][0],
        json!({"outcome": "SUCCESS", "data": {"run_id": second, "state": "CANCELING"}})
    );
    assert_eq!(bulk["results"][1]["outcome"], json!("FAILURE"));
    assert_eq!(bulk["results"][1]["exception"]["error_code"], json!(404));
    assert_eq!(api.post("/runs/cancel", &json!({"ids": []})).await.0, 400);

    let live = api.submit(&run_request(json!({}))).await;
    let (_, deleted) = api
        .post("/runs/delete", &json!([first, live, "missing"]))
        .await;
    let outcomes: Vec<(&str, Option<u64>)> = deleted["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| {
            (
                r["outcome"].as_str().unwrap_or_default(),
                r["exception"]["error_code"].as_u64(),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            ("SUCCESS", None),
            ("FAILURE", Some(409)),
            ("FAILURE", Some(404))
        ]
    );
    assert!(fake.run(&first).is_none());
    assert_eq!(api.get(&format!("/runs/{first}")).await.0, 404);
    let listed: Vec<String> = fake.runs().into_iter().map(|r| r.run_id).collect();
    assert_eq!(listed, [second, live]);
    fake.stop().await;
}

#[tokio::test]
async fn batch_merges_defaults_and_rejects_runs_one_by_one() {
    let fake = FakeDnastack::start(DnastackConfig {
        engines: vec!["engine-1".into(), "engine-2".into()],
        ..DnastackConfig::default()
    })
    .await;
    let api = Ewes::connect(&fake).await;
    let batch = json!({
        "workflow_url": "fedimpute-imputation/v1", "engine_id": "engine-2",
        "default_workflow_params": {"fedimpute.panel": "h3a", "fedimpute.build": "hg38"},
        "default_workflow_engine_parameters": {"backend": "local"},
        "default_tags": {"batch": "b1"},
        "run_requests": [
            {"workflow_params": {"fedimpute.vcfs": ["gs://in/a.vcf.gz"], "fedimpute.build": "hg19"},
                "tags": {"sample": "a"}},
            {"engine_id": "engine-9"},
            {"workflow_url": "unknown/v1"},
            {"tags": {"sample": "d"}},
        ],
    });
    let (status, reply) = api.post("/batch", &batch).await;
    assert_eq!(status, 200, "{reply}");
    let runs = reply["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 4);
    for accepted in [&runs[0], &runs[3]] {
        assert_eq!(accepted["state"], json!("PREPROCESSING"));
    }
    for rejected in [&runs[1], &runs[2]] {
        assert!(rejected.get("run_id").is_none() && rejected["msg"].is_string());
        assert_eq!(rejected["error_code"], json!(400));
    }
    let first = fake
        .run(runs[0]["run_id"].as_str().expect("id"))
        .expect("a run");
    assert_eq!(first.engine_id, "engine-2");
    assert_eq!(
        first.workflow_params,
        json!({"fedimpute.panel": "h3a", "fedimpute.build": "hg19",
            "fedimpute.vcfs": ["gs://in/a.vcf.gz"]})
    );
    let tags: Vec<(&str, &str)> = first
        .tags
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(tags, [("batch", "b1"), ("sample", "a")]);
    let submissions = fake.submissions();
    assert_eq!(submissions.len(), 2);
    assert_eq!(
        submissions[1].body["workflow_url"],
        json!("fedimpute-imputation/v1")
    );
    assert_eq!(
        submissions[1].body["tags"],
        json!({"batch": "b1", "sample": "d"})
    );
    assert_eq!(
        api.post("/batch", &json!({"workflow_url": "x/y"})).await.0,
        400
    );
    fake.stop().await;
}
