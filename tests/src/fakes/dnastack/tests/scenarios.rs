//! Failure scenarios, chosen by `tags.fake`, by `push_scenario`, or by the config default.

use super::*;

#[tokio::test]
async fn tagged_scenarios_end_as_specified() {
    let fake = FakeDnastack::start(DnastackConfig::default()).await;
    let api = Ewes::connect(&fake).await;
    let running = ["QUEUED", "INITIALIZING", "RUNNING", "RUNNING"];
    let cases = [
        ("success", "COMPLETE"),
        ("qc-fail", "EXECUTOR_ERROR"),
        ("partial", "COMPLETE_WITH_ERRORS"),
        ("system-error", "SYSTEM_ERROR"),
    ];
    for (tag, end) in cases {
        let run_id = api.submit(&run_request(json!({"fake": tag}))).await;
        let mut expected = running.to_vec();
        expected.push(end);
        assert_eq!(api.life(&run_id).await, expected, "scenario {tag}");
    }
    let run_id = api
        .submit(&run_request(json!({"fake": "preprocessing-error"})))
        .await;
    assert_eq!(api.life(&run_id).await, ["PREPROCESSING_ERROR"]);
    let (_, run) = api.get(&format!("/runs/{run_id}")).await;
    let errors = run["errors"].as_array().expect("errors");
    assert!(!errors.is_empty() && errors[0].is_string());
    let kinds: Vec<&str> = run["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["event_type"].as_str())
        .collect();
    assert_eq!(
        kinds,
        [
            "RUN_SUBMITTED",
            "PREPROCESSING",
            "ERROR_OCCURRED",
            "STATE_TRANSITION"
        ]
    );
    assert_eq!(run["outputs"], json!({}));
    fake.stop().await;
}

#[tokio::test]
async fn failures_carry_errors_failing_tasks_and_partial_outputs() {
    let fake = FakeDnastack::start(DnastackConfig {
        running_ticks: 1,
        ..DnastackConfig::default()
    })
    .await;
    let api = Ewes::connect(&fake).await;
    let qc = api.submit(&run_request(json!({"fake": "qc-fail"}))).await;
    api.life(&qc).await;
    let (_, run) = api.get(&format!("/runs/{qc}")).await;
    assert_eq!(run["run_log"]["exit_code"], json!(1));
    assert!(
        run["errors"][0]
            .as_str()
            .is_some_and(|e| e.contains("QC failed"))
    );
    let tasks = run["task_logs"].as_array().expect("tasks");
    let failing: Vec<&Value> = tasks
        .iter()
        .filter(|t| t["state"] == json!("EXECUTOR_ERROR"))
        .collect();
    assert_eq!(failing.len(), 1, "{tasks:?}");
    assert_eq!(failing[0]["exit_code"], json!(1));
    let stderr = failing[0]["stderr"].as_str().expect("a stderr URL");
    let text = api.raw(stderr, true).await.text().await.expect("text");
    assert!(text.contains(crate::fakes::wes::QC_FAILURE), "{text}");
    let run_stderr = run["run_log"]["stderr"].as_str().expect("url");
    let text = api.raw(run_stderr, true).await.text().await.expect("text");
    assert!(text.contains("QC failed"));
    let has_error_event = run["events"]
        .as_array()
        .expect("events")
        .iter()
        .any(|e| e["event_type"] == json!("ERROR_OCCURRED"));
    assert!(has_error_event);
    assert!(fake.output_bytes(&qc, "qc_report.txt").is_none());

    let partial = api.submit(&run_request(json!({"fake": "partial"}))).await;
    api.life(&partial).await;
    let (_, run) = api.get(&format!("/runs/{partial}")).await;
    let base = fake.base_url();
    assert_eq!(
        run["outputs"],
        json!({"fedimpute.qc_report": format!("{base}/outputs/{partial}/qc_report.txt")})
    );
    assert!(!run["errors"].as_array().expect("errors").is_empty());
    assert!(fake.output_bytes(&partial, "qc_report.txt").is_some());
    assert!(fake.output_bytes(&partial, "chr20.dose.vcf.gz").is_none());
    let url = format!("{base}/outputs/{partial}/qc_report.txt");
    assert_eq!(api.raw(&url, false).await.status().as_u16(), 200);

    let sys = api
        .submit(&run_request(json!({"fake": "system-error"})))
        .await;
    api.life(&sys).await;
    let (_, run) = api.get(&format!("/runs/{sys}")).await;
    assert!(
        run["errors"][0]
            .as_str()
            .is_some_and(|e| e.contains("engine-1"))
    );
    fake.stop().await;
}

#[tokio::test]
async fn pushed_scenarios_then_the_default() {
    let fake = FakeDnastack::start(DnastackConfig {
        default_scenario: EwesScenario::SystemError,
        running_ticks: 1,
        ..DnastackConfig::default()
    })
    .await;
    let api = Ewes::connect(&fake).await;
    fake.push_scenario(EwesScenario::Partial);
    fake.push_scenario(EwesScenario::PreprocessingError);
    let tagged = api.submit(&run_request(json!({"fake": "success"}))).await;
    let first = api.submit(&run_request(json!({}))).await;
    let second = api.submit(&run_request(json!({"fake": "bogus"}))).await;
    let third = api.submit(&run_request(json!({}))).await;
    assert_eq!(
        api.life(&tagged).await.last().map(String::as_str),
        Some("COMPLETE")
    );
    assert_eq!(
        api.life(&first).await.last().map(String::as_str),
        Some("COMPLETE_WITH_ERRORS")
    );
    assert_eq!(api.life(&second).await, ["PREPROCESSING_ERROR"]);
    assert_eq!(
        api.life(&third).await.last().map(String::as_str),
        Some("SYSTEM_ERROR")
    );
    let scenarios: Vec<EwesScenario> = fake.runs().iter().map(|r| r.scenario).collect();
    assert_eq!(
        scenarios,
        [
            EwesScenario::Success,
            EwesScenario::Partial,
            EwesScenario::PreprocessingError,
            EwesScenario::SystemError
        ]
    );
    fake.stop().await;
}
