//! Failure scenarios, chosen by `tags.fake`, by `push_scenario`, or by the config default.

use super::*;

#[tokio::test]
async fn tagged_scenarios_end_as_specified() {
    let fake = FakeWes::start(WesConfig::default()).await;
    let api = Api::new(&fake, None);
    let cases: [(&str, &[&str]); 5] = [
        (
            "success",
            &["INITIALIZING", "RUNNING", "RUNNING", "COMPLETE"],
        ),
        (
            "qc-fail",
            &["INITIALIZING", "RUNNING", "RUNNING", "EXECUTOR_ERROR"],
        ),
        (
            "system-error",
            &["INITIALIZING", "RUNNING", "RUNNING", "SYSTEM_ERROR"],
        ),
        (
            "preempt",
            &["INITIALIZING", "RUNNING", "RUNNING", "PREEMPTED"],
        ),
        (
            "stuck-unknown",
            &[
                "UNKNOWN",
                "UNKNOWN",
                "UNKNOWN",
                "INITIALIZING",
                "RUNNING",
                "RUNNING",
                "COMPLETE",
            ],
        ),
    ];
    for (tag, expected) in cases {
        let run_id = api.submit_ok(params(), json!({"fake": tag})).await;
        assert_eq!(api.life(&run_id).await, expected, "scenario {tag}");
    }
    fake.stop().await;
}

#[tokio::test]
async fn qc_fail_and_system_error_carry_their_evidence() {
    let fake = FakeWes::start(WesConfig::default()).await;
    let api = Api::new(&fake, None);
    let qc = api.submit_ok(params(), json!({"fake": "qc-fail"})).await;
    api.life(&qc).await;
    let (_, log) = api.get(&format!("/runs/{qc}")).await;
    assert_eq!(log["state"], json!("EXECUTOR_ERROR"));
    assert_eq!(log["run_log"]["exit_code"], json!(1));
    assert_eq!(log["outputs"], json!({}));
    let stderr = log["run_log"]["stderr"].as_str().expect("a stderr URL");
    let (status, text) = api.fetch(stderr).await;
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&text).contains(QC_FAILURE));
    let tasks = log["task_logs"].as_array().expect("task logs");
    let failing: Vec<&Value> = tasks
        .iter()
        .filter(|t| t["exit_code"] == json!(1))
        .collect();
    assert_eq!(failing.len(), 1, "{tasks:?}");
    let task_stderr = failing[0]["stderr"].as_str().expect("a task stderr URL");
    let (_, text) = api.fetch(task_stderr).await;
    assert!(String::from_utf8_lossy(&text).contains(QC_FAILURE));
    assert!(fake.output_bytes(&qc, "imputed.vcf.gz").is_none());
    let (status, _) = api
        .fetch(&format!("{}/outputs/{qc}/imputed.vcf.gz", fake.base_url()))
        .await;
    assert_eq!(status, 404);

    let sys = api
        .submit_ok(params(), json!({"fake": "system-error"}))
        .await;
    api.life(&sys).await;
    let (_, log) = api.get(&format!("/runs/{sys}")).await;
    let logs = log["run_log"]["system_logs"]
        .as_array()
        .expect("system_logs");
    assert!(!logs.is_empty() && logs[0].is_string());
    assert!(log["run_log"]["end_time"].is_string());
    fake.stop().await;
}

#[tokio::test]
async fn pushed_scenarios_then_the_default() {
    let config = WesConfig {
        default_scenario: WesScenario::Preempt,
        running_ticks: 1,
        unknown_ticks: 1,
        ..WesConfig::default()
    };
    let fake = FakeWes::start(config).await;
    let api = Api::new(&fake, None);
    fake.push_scenario(WesScenario::QcFail);
    fake.push_scenario(WesScenario::StuckUnknown);
    // A tagged run does not use up the queue.
    let tagged = api.submit_ok(params(), json!({"fake": "success"})).await;
    let first = api.submit_ok(params(), json!({})).await;
    let second = api
        .submit_ok(params(), json!({"fake": "not-a-scenario"}))
        .await;
    let third = api.submit_ok(params(), json!({})).await;
    assert_eq!(
        api.life(&tagged).await,
        ["INITIALIZING", "RUNNING", "COMPLETE"]
    );
    assert_eq!(
        api.life(&first).await,
        ["INITIALIZING", "RUNNING", "EXECUTOR_ERROR"]
    );
    assert_eq!(
        api.life(&second).await,
        ["UNKNOWN", "INITIALIZING", "RUNNING", "COMPLETE"]
    );
    assert_eq!(
        api.life(&third).await,
        ["INITIALIZING", "RUNNING", "PREEMPTED"]
    );
    let scenarios: Vec<WesScenario> = fake.runs().iter().map(|r| r.scenario).collect();
    assert_eq!(
        scenarios,
        [
            WesScenario::Success,
            WesScenario::QcFail,
            WesScenario::StuckUnknown,
            WesScenario::Preempt
        ]
    );
    fake.stop().await;
}
