//! A run's life: submit, poll, outputs, listing, cancel, manual advancing.

use std::io::Read;

use reqwest::multipart::{Form, Part};

use super::*;
use crate::fakes::wes::artifacts::sha256_hex;

#[tokio::test]
async fn weskit_run_goes_queued_to_complete_and_serves_outputs() {
    let fake = FakeWes::start(WesConfig::default()).await;
    let api = Api::new(&fake, None);
    let script = b"workflow { IMPUTE() }\n".to_vec();
    let form = weskit_form(&params(), &json!({"platform_job_id": "job-1"}))
        .text(
            "workflow_engine_parameters",
            json!({"max-memory": "2g"}).to_string(),
        )
        .part(
            "workflow_attachment",
            Part::bytes(script.clone()).file_name("imputation/main.nf"),
        )
        .part(
            "workflow_attachment",
            Part::bytes(vec![7u8; 70_000]).file_name("nextflow.config"),
        );
    let (status, body) = api.submit(form).await;
    assert_eq!(status, 200, "{body}");
    let run_id = body["run_id"].as_str().expect("run id").to_owned();
    assert!(uuid::Uuid::parse_str(&run_id).is_ok());
    assert_eq!(body, json!({"run_id": run_id}));

    let submissions = fake.submissions();
    assert_eq!((submissions.len(), fake.submission_count()), (1, 1));
    let sub = &submissions[0];
    assert_eq!(sub.run_id, run_id);
    assert!(
        sub.content_type
            .starts_with("multipart/form-data; boundary=")
    );
    assert_eq!(sub.field("workflow_type"), Some("NFL"));
    assert_eq!(
        sub.field("workflow_params"),
        Some(params().to_string().as_str())
    );
    assert_eq!(sub.bearer, None);
    let sizes: Vec<(&str, u64)> = sub
        .attachments
        .iter()
        .map(|a| (a.filename.as_str(), a.size))
        .collect();
    assert_eq!(
        sizes,
        [("imputation/main.nf", 22), ("nextflow.config", 70_000)]
    );
    assert_eq!(sub.attachments[0].sha256_hex, sha256_hex(&script));
    assert_eq!(sub.attachments[1].sha256_hex, sha256_hex(&[7u8; 70_000]));

    let run = fake.run(&run_id).expect("the run exists");
    assert_eq!((run.state.as_str(), run.owner), ("QUEUED", None));
    assert_eq!(
        run.tags.get("platform_job_id").map(String::as_str),
        Some("job-1")
    );
    assert_eq!(run.workflow_params, params());
    // Listing never advances a run.
    let (_, list) = api.get("/runs?page_size=1").await;
    assert_eq!(
        list,
        json!({"runs": [{"run_id": run_id, "state": "QUEUED"}], "next_page_token": ""})
    );
    assert_eq!(
        fake.run(&run_id).map(|r| r.state).as_deref(),
        Some("QUEUED")
    );

    let (_, queued) = api.get(&format!("/runs/{run_id}")).await;
    assert_eq!(queued["state"], json!("INITIALIZING"));
    assert_eq!(queued["run_log"]["end_time"], Value::Null);
    assert_eq!(queued["run_log"]["exit_code"], Value::Null);
    assert_eq!(queued["outputs"], json!({}));
    assert_eq!(api.life(&run_id).await, ["RUNNING", "RUNNING", "COMPLETE"]);

    let (status, log) = api.get(&format!("/runs/{run_id}")).await;
    assert_eq!(status, 200);
    assert_eq!(log["state"], json!("COMPLETE"));
    assert_eq!(
        log["request"],
        json!({"workflow_params": params(), "workflow_type": "NFL",
            "workflow_type_version": "22.10.0", "tags": {"platform_job_id": "job-1"},
            "workflow_engine_parameters": {"max-memory": "2g"},
            "workflow_url": "imputation/main.nf"})
    );
    let run_log = &log["run_log"];
    assert_eq!(run_log["exit_code"], json!(0));
    assert_eq!(run_log["name"], json!("imputation/main.nf"));
    for time in [&run_log["start_time"], &run_log["end_time"]] {
        let time = time.as_str().expect("a time");
        assert!(chrono::NaiveDateTime::parse_from_str(time, "%Y-%m-%dT%H:%M:%SZ").is_ok());
    }
    let tasks = log["task_logs"].as_array().expect("task logs");
    assert!(tasks.len() >= 3, "{tasks:?}");
    assert!(
        tasks
            .iter()
            .all(|t| t["exit_code"] == json!(0) && t["end_time"].is_string())
    );
    let base = fake.base_url();
    assert_eq!(
        log["outputs"],
        json!({"imputed_vcf": format!("{base}/outputs/{run_id}/imputed.vcf.gz"),
            "qc_report": format!("{base}/outputs/{run_id}/qc_report.txt")})
    );
    let vcf_url = log["outputs"]["imputed_vcf"].as_str().expect("url");
    let (status, vcf) = api.fetch(vcf_url).await;
    assert_eq!(status, 200);
    assert_eq!(
        Some(vcf.clone()),
        fake.output_bytes(&run_id, "imputed.vcf.gz")
    );
    let mut text = String::new();
    flate2::read::GzDecoder::new(vcf.as_slice())
        .read_to_string(&mut text)
        .expect("a gzipped VCF");
    assert!(text.starts_with("##fileformat=VCFv4.2") && text.contains(&run_id));
    let (status, report) = api
        .fetch(log["outputs"]["qc_report"].as_str().expect("url"))
        .await;
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&report).contains("QC report"));
    let (missing, _) = api
        .fetch(&format!("{base}/outputs/{run_id}/other.txt"))
        .await;
    assert_eq!(missing, 404);
    let stdout = api.fetch(run_log["stdout"].as_str().expect("url")).await;
    assert!(String::from_utf8_lossy(&stdout.1).contains("imputation/main.nf"));

    let (_, tasks) = api.get(&format!("/runs/{run_id}/tasks")).await;
    let first = tasks["task_logs"][0]["id"].as_str().expect("a task id");
    let (status, task) = api.get(&format!("/runs/{run_id}/tasks/{first}")).await;
    assert_eq!((status, task["id"].as_str()), (200, Some(first)));
    assert_eq!(fake.hits(&format!("{WES_PREFIX}/runs/{run_id}/status")), 3);
    fake.stop().await;
}

#[tokio::test]
async fn manual_ticks_and_set_state() {
    let config = WesConfig {
        ticks_per_poll: 0,
        running_ticks: 1,
        ..WesConfig::default()
    };
    let fake = FakeWes::start(config).await;
    let api = Api::new(&fake, None);
    let run_id = api.submit_ok(params(), json!({})).await;
    assert_eq!(api.state(&run_id).await, "QUEUED");
    assert_eq!(api.state(&run_id).await, "QUEUED");
    assert_eq!(fake.advance(&run_id, 2).await.as_deref(), Some("RUNNING"));
    assert_eq!(fake.advance(&run_id, 1).await.as_deref(), Some("COMPLETE"));
    assert_eq!(fake.advance(&run_id, 5).await.as_deref(), Some("COMPLETE"));
    assert_eq!(fake.advance("no-such-run", 1).await, None);

    let other = api.submit_ok(params(), json!({})).await;
    assert!(fake.output_bytes(&other, "imputed.vcf.gz").is_none());
    assert!(fake.set_state(&other, "complete"));
    assert!(!fake.set_state(&other, "DONE") && !fake.set_state("nope", "RUNNING"));
    let (_, log) = api.get(&format!("/runs/{other}")).await;
    assert_eq!(
        (log["state"].as_str(), log["run_log"]["exit_code"].as_i64()),
        (Some("COMPLETE"), Some(0))
    );
    assert!(fake.output_bytes(&other, "imputed.vcf.gz").is_some());
    let ids: Vec<String> = fake.runs().into_iter().map(|r| r.run_id).collect();
    assert_eq!(ids, [run_id, other]);
    fake.stop().await;
}

#[tokio::test]
async fn cancel_goes_canceling_then_canceled_and_leaves_ended_runs() {
    let fake = FakeWes::start(WesConfig::default()).await;
    let api = Api::new(&fake, None);
    let run_id = api.submit_ok(params(), json!({})).await;
    assert_eq!(api.state(&run_id).await, "INITIALIZING");
    let (status, body) = api.post(&format!("/runs/{run_id}/cancel")).await;
    assert_eq!(
        (status, body.as_str()),
        (200, format!("{{\"run_id\":\"{run_id}\"}}").as_str())
    );
    assert_eq!(
        fake.run(&run_id).map(|r| r.state).as_deref(),
        Some("CANCELING")
    );
    assert_eq!(api.life(&run_id).await, ["CANCELED"]);
    let (status, _) = api.post(&format!("/runs/{run_id}/cancel")).await;
    assert_eq!(status, 200);
    assert_eq!(api.state(&run_id).await, "CANCELED");
    let (_, log) = api.get(&format!("/runs/{run_id}")).await;
    assert!(log["run_log"]["end_time"].is_string());
    assert_eq!(log["outputs"], json!({}));
    fake.stop().await;
}

#[tokio::test]
async fn starter_kit_takes_urlencoded_and_its_cancel_is_a_no_op() {
    let config = WesConfig {
        style: WesStyle::StarterKit,
        ..WesConfig::default()
    };
    let fake = FakeWes::start(config).await;
    let api = Api::new(&fake, None);
    let fields = [
        ("workflow_type", "NEXTFLOW"),
        ("workflow_type_version", "21.04.0"),
        ("workflow_url", "https://github.com/elwazi/fedimpute"),
        (
            "workflow_params",
            r#"{"input":"https://example.org/a.vcf.gz"}"#,
        ),
    ];
    let request = api.http.post(format!("{}/runs", api.base)).form(&fields);
    let (status, body) = api.send(request).await;
    assert_eq!(status, 200, "{body}");
    let run_id = serde_json::from_str::<Value>(&body).expect("json")["run_id"]
        .as_str()
        .expect("run id")
        .to_owned();
    let sub = &fake.submissions()[0];
    assert_eq!(sub.content_type, "application/x-www-form-urlencoded");
    assert_eq!(
        sub.field("workflow_url"),
        Some("https://github.com/elwazi/fedimpute")
    );
    let cwl = Form::new()
        .text("workflow_type", "CWL")
        .text("workflow_type_version", "v1.0")
        .text("workflow_url", "https://example.org/wf.cwl")
        .text("workflow_params", "{}");
    assert_eq!(api.submit(cwl).await.0, 200);

    assert_eq!(api.state(&run_id).await, "INITIALIZING");
    let (status, body) = api.post(&format!("/runs/{run_id}/cancel")).await;
    assert_eq!((status, body.as_str()), (200, ""));
    assert_eq!(api.life(&run_id).await, ["RUNNING", "RUNNING", "COMPLETE"]);
    let (status, _) = api.post("/runs/not-a-uuid/cancel").await;
    assert_eq!(status, 404);
    fake.stop().await;
}

#[tokio::test]
async fn weskit_ignores_paging_and_spec11_pages_run_summaries() {
    let fake = FakeWes::start(WesConfig::default()).await;
    let api = Api::new(&fake, None);
    for _ in 0..3 {
        api.submit_ok(params(), json!({})).await;
    }
    let (_, all) = api.get("/runs?page_size=1&page_token=2").await;
    assert_eq!(all["runs"].as_array().map(Vec::len), Some(3));
    assert_eq!(all["next_page_token"], json!(""));
    fake.stop().await;

    let config = WesConfig {
        style: WesStyle::Spec11,
        ..WesConfig::default()
    };
    let fake = FakeWes::start(config).await;
    let api = Api::new(&fake, None);
    let info = api.get("/service-info").await.1;
    assert_eq!(info["type"]["version"], json!("1.1.0"));
    let mut ids = Vec::new();
    for i in 0..5 {
        let form = weskit_form(&params(), &json!({"n": i.to_string()}));
        let (status, body) = api.submit(form).await;
        assert_eq!(status, 200, "{body}");
        ids.push(body["run_id"].as_str().expect("id").to_owned());
    }
    let (mut seen, mut token, mut pages) = (Vec::new(), String::new(), 0);
    loop {
        let (_, page) = api
            .get(&format!("/runs?page_size=2&page_token={token}"))
            .await;
        pages += 1;
        for run in page["runs"].as_array().expect("runs") {
            assert!(run["start_time"].is_null() && run["tags"]["n"].is_string());
            seen.push(run["run_id"].as_str().expect("id").to_owned());
        }
        token = page["next_page_token"].as_str().expect("token").to_owned();
        if token.is_empty() {
            break;
        }
    }
    assert_eq!((seen, pages), (ids.clone(), 3));
    let (_, log) = api.get(&format!("/runs/{}", ids[0])).await;
    assert!(
        log["task_logs_url"]
            .as_str()
            .is_some_and(|u| u.ends_with("/tasks"))
    );
    let (status, _) = api.get("/runs/not-a-uuid").await;
    assert_eq!(status, 404);
    fake.stop().await;
}
