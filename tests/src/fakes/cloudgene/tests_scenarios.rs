//! Failure scenarios over loopback HTTP: `fake:` markers, pushed scenarios, the automatic
//! validation failures, unresolvable panels, QC-only mode and notification.

use serde_json::json;

use super::machine::{FORCED_VALIDATION_FAILURE, QC_FAILURE};
use super::testkit::*;
use super::*;

fn roomy(change: impl FnOnce(&mut CloudgeneConfig)) -> CloudgeneConfig {
    let mut config = CloudgeneConfig {
        max_running_jobs_per_user: 100,
        ..CloudgeneConfig::default()
    };
    change(&mut config);
    config
}

/// A submission like `good_form` with some fields replaced and these files.
fn custom(replace: &[(&str, &str)], files: &[(&str, Vec<u8>)]) -> reqwest::multipart::Form {
    let mut fields = vec![
        ("job-name", "custom"),
        ("refpanel", PANEL),
        ("build", "hg19"),
        ("phasing", "eagle"),
    ];
    for (name, value) in replace {
        match fields.iter_mut().find(|(n, _)| n == name) {
            Some(field) => field.1 = *value,
            None => fields.push((*name, *value)),
        }
    }
    form(&fields, files)
}

#[tokio::test]
async fn markers_choose_the_scenario() {
    let fake = FakeCloudgene::start(roomy(|c| c.default_scenario = Scenario::QcFailure)).await;
    let validation = submit_ok(&fake, good_form("x fake:input-validation y")).await;
    let (seen, job) = poll_to_end(&fake, &validation, 20).await;
    assert_eq!(seen, [2, 5]);
    let messages = step_messages(&job, "Input Validation");
    assert_eq!(messages, [(1, FORCED_VALIDATION_FAILURE.to_owned())]);
    assert_eq!(job["steps"].as_array().map(Vec::len), Some(1));
    assert!(job["endTime"].as_i64() > Some(0));

    let qc = submit_ok(&fake, good_form("fake:qc-fail")).await;
    let (seen, job) = poll_to_end(&fake, &qc, 20).await;
    assert_eq!(seen, [2, 5]);
    let messages = step_messages(&job, "Quality Control");
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].0, 1);
    assert!(messages[0].1.contains("Excluded sites in total"));
    assert!(messages[0].1.ends_with(QC_FAILURE), "{}", messages[0].1);
    assert_eq!(job["outputParams"], json!([]));
    assert_eq!(fake.job(&qc).map(|j| j.scenario), Some(Scenario::QcFailure));

    let panel = submit_ok(&fake, good_form("fake:bad-panel")).await;
    let (seen, job) = poll_to_end(&fake, &panel, 20).await;
    assert_eq!((seen, job["steps"].clone()), (vec![5], json!([])));
    let logs = client()
        .get(format!("{}/logs/{panel}", fake.base_url()))
        .header("X-Auth-Token", TOKEN)
        .send()
        .await
        .expect("reply");
    let logs = logs.text().await.unwrap_or_default();
    let expected = format!("Application {PANEL} is not installed or wrong permissions.");
    assert!(logs.contains(&expected), "{logs}");

    let success = submit_ok(&fake, good_form("fake:success")).await;
    let (seen, _) = poll_to_end(&fake, &success, 20).await;
    assert_eq!(seen, [2, 3, 4], "the marker beats the default scenario");
    let plain = submit_ok(&fake, good_form("plain")).await;
    assert_eq!(
        fake.job(&plain).map(|j| j.scenario),
        Some(Scenario::QcFailure)
    );
    fake.stop().await;
}

#[tokio::test]
async fn pushed_scenarios_apply_to_the_next_unmarked_submissions() {
    let fake = FakeCloudgene::start(roomy(|_| {})).await;
    fake.push_scenario(Scenario::QcFailure);
    fake.push_scenario(Scenario::InputValidation);
    let marked = submit_ok(&fake, good_form("fake:success")).await;
    let first = submit_ok(&fake, good_form("first")).await;
    let second = submit_ok(&fake, good_form("second")).await;
    let third = submit_ok(&fake, good_form("third")).await;
    let scenarios: Vec<Scenario> = [&marked, &first, &second, &third]
        .iter()
        .filter_map(|id| fake.job(id))
        .map(|j| j.scenario)
        .collect();
    use Scenario::{InputValidation, QcFailure, Success};
    assert_eq!(scenarios, [Success, QcFailure, InputValidation, Success]);
    let (_, job) = poll_to_end(&fake, &second, 20).await;
    assert_eq!(step_messages(&job, "Input Validation")[0].0, 1);
    assert_eq!(Scenario::from_job_name("a fake:qc-fail b"), Some(QcFailure));
    assert_eq!(Scenario::QcFailure.marker(), "fake:qc-fail");
    fake.stop().await;
}

#[tokio::test]
async fn broken_inputs_fail_input_validation_on_their_own() {
    let fake = FakeCloudgene::start(roomy(|_| {})).await;
    let vcf = || vec![("chr20.vcf.gz", fixture(VCF_51))];
    let cases: Vec<(reqwest::multipart::Form, String)> = vec![
        (
            custom(&[("build", "hg38")], &[("chr22.vcf.gz", fixture(VCF_7))]),
            "At least 20 samples must be uploaded.".to_owned(),
        ),
        (
            custom(&[], &[("chr20.vcf", fixture(VCF_51))]),
            "No vcf.gz input files detected.".to_owned(),
        ),
        (
            custom(&[], &[]),
            "No vcf.gz input files detected.".to_owned(),
        ),
        (
            custom(&[("phasing", "shapeit")], &vcf()),
            "For phasing, only options 'eagle', 'beagle' or 'no_phasing' are allowed.".to_owned(),
        ),
        (
            custom(&[("build", "hg18")], &vcf()),
            "For build, only options 'hg19' or 'hg38' are allowed.".to_owned(),
        ),
        (
            custom(&[], &[("broken.vcf.gz", b"not gzip".to_vec())]),
            "At least 20 samples must be uploaded.".to_owned(),
        ),
    ];
    for (form, expected) in cases {
        let id = submit_ok(&fake, form).await;
        let (seen, job) = poll_to_end(&fake, &id, 20).await;
        assert_eq!(seen, [2, 5], "{expected}");
        let messages = step_messages(&job, "Input Validation");
        assert_eq!(messages, [(1, expected.clone())]);
        assert_eq!(fake.job(&id).and_then(|j| j.failure), Some(expected));
    }
    let seven = fake.jobs().first().map(|j| (j.samples, j.vcf_files));
    assert_eq!(seven, Some((7, 1)));
    fake.stop().await;

    let strict = FakeCloudgene::start(roomy(|c| c.max_samples = 50)).await;
    let id = submit_ok(&strict, good_form("too many")).await;
    let failure = strict.job(&id).and_then(|j| j.failure).unwrap_or_default();
    assert!(
        failure.starts_with("The maximum number of samples is 50."),
        "{failure}"
    );
    strict.stop().await;
}

#[tokio::test]
async fn panels_resolve_by_key_id_or_id_and_version() {
    let fake = FakeCloudgene::start(roomy(|_| {})).await;
    let vcf = || vec![("chr20.vcf.gz", fixture(VCF_51))];
    let cases = [
        ("apps@1000g-phase-3-v5@2.0.0", Scenario::Success),
        ("apps@1000g-phase-3-v5", Scenario::Success),
        ("1000g-phase-3-v5", Scenario::Success),
        ("topmed-r3@1.0.0", Scenario::Success),
        ("apps@1000g-phase-3-v5@9.9.9", Scenario::UnresolvablePanel),
        ("1", Scenario::UnresolvablePanel),
        (
            "apps@imputationserver2@resources@v6hc-s-b38",
            Scenario::UnresolvablePanel,
        ),
    ];
    for (refpanel, expected) in cases {
        let id = submit_ok(&fake, custom(&[("refpanel", refpanel)], &vcf())).await;
        assert_eq!(
            fake.job(&id).map(|j| j.scenario),
            Some(expected),
            "{refpanel}"
        );
    }
    let missing = form(&[("job-name", "no panel")], &vcf());
    let id = submit_ok(&fake, missing).await;
    assert!(fake.advance(&id, 1));
    let job = fake.job(&id).expect("job");
    assert_eq!((job.state, job.scenario), (5, Scenario::UnresolvablePanel));
    fake.stop().await;
}

#[tokio::test]
async fn qc_only_mode_skips_imputation_and_zips() {
    let fake = FakeCloudgene::start(roomy(|_| {})).await;
    let fields = [
        ("refpanel", PANEL),
        ("mode", "qc_only"),
        ("phasing", "no_phasing"),
    ];
    let id = submit_ok(&fake, form(&fields, &[("chr20.vcf.gz", fixture(VCF_51))])).await;
    let (seen, job) = poll_to_end(&fake, &id, 20).await;
    assert_eq!(seen, [2, 3, 4]);
    assert!(step_messages(&job, "Phasing and Imputation").is_empty());
    let files = fake.job(&id).map(|j| j.output_files).unwrap_or_default();
    assert!(!files.iter().any(|f| f.ends_with(".zip")), "{files:?}");
    assert!(files.contains(&"qc_report.txt".to_owned()));
    fake.stop().await;
}

#[tokio::test]
async fn finished_jobs_are_notified_after_the_configured_ticks() {
    let fake = FakeCloudgene::start(roomy(|c| c.notify_after_ticks = Some(2))).await;
    let ok = submit_ok(&fake, good_form("ok")).await;
    let failed = submit_ok(&fake, good_form("fake:qc-fail")).await;
    let cancelled = submit_ok(&fake, good_form("cancelled")).await;
    poll_to_end(&fake, &ok, 20).await;
    let status = format!("/api/v2/jobs/{ok}/status");
    let (_, job) = get_json(&fake, &status, Some(TOKEN)).await;
    assert_eq!(
        (job["state"].as_i64(), job["deletedOn"].as_i64()),
        (Some(4), Some(-1))
    );
    let (_, job) = get_json(&fake, &status, Some(TOKEN)).await;
    assert_eq!(job["state"], 8);
    let now = chrono::Utc::now().timestamp_millis();
    assert!(
        job["deletedOn"].as_i64() > Some(now),
        "deletedOn is in the future"
    );
    assert!(job["currentTime"].as_i64() <= Some(now));
    poll_to_end(&fake, &failed, 20).await;
    fake.advance(&failed, 2);
    get_json(
        &fake,
        &format!("/api/v2/jobs/{cancelled}/cancel"),
        Some(TOKEN),
    )
    .await;
    fake.advance(&cancelled, 2);
    let states: Vec<i32> = [&failed, &cancelled]
        .iter()
        .filter_map(|id| fake.job(id))
        .map(|j| j.state)
        .collect();
    assert_eq!(states, [9, 9]);
    fake.stop().await;
}
