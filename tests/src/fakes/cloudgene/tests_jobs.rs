//! Job API tests over loopback HTTP: the life of a job, listing, the submit checks, access
//! control, cancel and restart.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::testkit::*;
use super::*;

const JOB_KEYS: [&str; 17] = [
    "id",
    "name",
    "application",
    "applicationId",
    "state",
    "positionInQueue",
    "submittedOn",
    "startTime",
    "endTime",
    "deletedOn",
    "userAgent",
    "username",
    "currentTime",
    "workspaceSize",
    "logs",
    "steps",
    "outputParams",
];

#[tokio::test]
async fn a_job_goes_through_every_step_one_tick_per_poll() {
    let fake = FakeCloudgene::start(CloudgeneConfig::default()).await;
    let id = submit_ok(&fake, good_form("study-42")).await;
    assert!(id.starts_with("job-") && id.len() == "job-20250101-120000-000".len());
    let vcf = fixture(VCF_51);
    let submission = fake.submissions().pop().expect("recorded");
    assert_eq!(
        (submission.job_id.as_str(), submission.username.as_str()),
        (id.as_str(), "fake-user")
    );
    assert_eq!(submission.app, "imputationserver2");
    assert!(
        submission
            .fields
            .contains(&("refpanel".to_owned(), PANEL.to_owned()))
    );
    let file = &submission.files[0];
    assert_eq!(
        (file.name.as_str(), file.filename.as_str()),
        ("files", "chr20.vcf.gz")
    );
    assert_eq!(file.size, vcf.len() as u64);
    assert_eq!(file.sha256_hex, downloads::hex(&Sha256::digest(&vcf)));
    assert_eq!(file.first_bytes, vcf[..64].to_vec());
    assert!(file.bytes.is_none(), "uploads are not kept by default");
    let job = fake.job(&id).expect("the job exists");
    assert_eq!((job.state, job.samples, job.vcf_files), (1, 51, 1));
    assert_eq!(
        (job.name.as_str(), job.password.as_deref()),
        ("study-42", Some("s3cretPass"))
    );

    // Listing shows the queued job without advancing it.
    let (_, list) = get_json(&fake, "/api/v2/jobs", Some(TOKEN)).await;
    let queued = &list["data"][0];
    for key in JOB_KEYS {
        assert!(queued.get(key).is_some(), "JobResponse has {key}: {queued}");
    }
    assert_eq!(
        (queued["state"].as_i64(), queued["positionInQueue"].as_i64()),
        (Some(1), Some(0))
    );
    assert_eq!(
        (queued["steps"].clone(), queued["startTime"].as_i64()),
        (json!([]), Some(-1))
    );
    assert_eq!(queued["application"], "Genotype Imputation 2.0.12");
    assert_eq!(queued["applicationId"], "imputationserver2");
    assert!(queued["submittedOn"].as_i64() > Some(0));

    let status = format!("/api/v2/jobs/{id}/status");
    let details = format!("/api/v2/jobs/{id}");
    let (_, job) = get_json(&fake, &status, Some(TOKEN)).await;
    assert_eq!(
        (job["state"].as_i64(), job["positionInQueue"].as_i64()),
        (Some(2), Some(-1))
    );
    assert!(job["startTime"].as_i64() > Some(0));
    assert_eq!(step_messages(&job, "Input Validation")[0].0, 3);
    let (_, job) = get_json(&fake, &details, Some(TOKEN)).await;
    let validation = step_messages(&job, "Input Validation");
    assert_eq!(validation[0].0, 0);
    let text = &validation[0].1;
    for part in [
        "1 valid VCF file(s) found.",
        "Samples: 51",
        "Chromosomes: 20",
        "Build: hg19",
    ] {
        assert!(text.contains(part), "{part} in {text}");
    }
    assert!(
        text.contains(&format!("Reference Panel: {PANEL}")) && text.contains("Population: eur")
    );
    let (_, job) = get_json(&fake, &status, Some(TOKEN)).await;
    let qc: Vec<i64> = step_messages(&job, "Quality Control")
        .iter()
        .map(|m| m.0)
        .collect();
    assert_eq!(qc, [0, 2]);
    assert!(
        step_messages(&job, "Quality Control")[1]
            .1
            .contains("Chunk(s) excluded")
    );
    let (_, job) = get_json(&fake, &status, Some(TOKEN)).await;
    let imputation = step_messages(&job, "Phasing and Imputation");
    assert_eq!(imputation, [(3, "Phasing with Eagle (1/2)".to_owned())]);
    let (_, job) = get_json(&fake, &status, Some(TOKEN)).await;
    let imputation = step_messages(&job, "Phasing and Imputation");
    assert_eq!(
        (imputation[0].0, imputation[1].clone()),
        (0, (3, "Imputation (2/2)".to_owned()))
    );
    let (_, job) = get_json(&fake, &status, Some(TOKEN)).await;
    assert_eq!(job["state"], 3);
    assert!(
        step_messages(&job, "Phasing and Imputation")
            .iter()
            .all(|m| m.0 == 0)
    );
    assert_eq!(
        step_messages(&job, "Summary"),
        [(3, "Compressing and encrypting results".to_owned())]
    );
    assert_eq!(job["outputParams"], json!([]));
    let (_, job) = get_json(&fake, &details, Some(TOKEN)).await;
    assert_eq!(
        (job["state"].as_i64(), job["endTime"].as_i64() > Some(0)),
        (Some(4), true)
    );
    assert_eq!(job["deletedOn"], -1);
    let names: Vec<&str> = job["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(
        names,
        [
            "Input Validation",
            "Quality Control",
            "Phasing and Imputation",
            "Summary"
        ]
    );
    let output = &job["outputParams"][0];
    assert_eq!(
        (output["name"].as_str(), output["description"].as_str()),
        (Some("output"), Some("Downloads"))
    );
    assert_eq!(
        (output["download"].as_bool(), output["jobId"].as_str()),
        (Some(true), Some(id.as_str()))
    );
    for key in ["id", "value", "type", "hash", "autoExport", "tree"] {
        assert!(output.get(key).is_some(), "outputParam has {key}");
    }
    let files: Vec<&str> = output["files"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f["name"].as_str())
        .collect();
    assert_eq!(
        files,
        [
            "chr_20.zip",
            "qc_report.txt",
            "quality-control.html",
            "statistics/lift-over.txt"
        ]
    );
    for file in output["files"].as_array().into_iter().flatten() {
        let name = file["name"].as_str().unwrap_or_default();
        let hash = file["hash"].as_str().unwrap_or_default();
        assert!(
            hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()),
            "{hash}"
        );
        assert_eq!(file["count"], 10);
        let bytes = fake.file_bytes(&id, name).expect("listed file has bytes");
        assert_eq!(file["size"], downloads::human_size(bytes.len()));
        for key in ["path", "parameterId", "user"] {
            assert!(file.get(key).is_some(), "file has {key}");
        }
    }
    let logs = &job["outputParams"][1];
    assert_eq!(
        (logs["name"].as_str(), logs["files"][0]["name"].as_str()),
        (Some("cloudgene_logs"), Some("step1-nextflow.log"))
    );
    // A finished job stays finished.
    let (_, again) = get_json(&fake, &status, Some(TOKEN)).await;
    assert_eq!(again["state"], 4);
    assert_eq!(fake.job(&id).map(|j| j.output_files.len()), Some(5));
    fake.stop().await;
}

#[tokio::test]
async fn queue_position_counts_down_and_polling_can_be_switched_off() {
    let fake = FakeCloudgene::start(config(|c| {
        c.queue_ticks = 3;
        c.ticks_per_poll = 0;
    }))
    .await;
    let id = submit_ok(&fake, good_form("queued")).await;
    let path = format!("/api/v2/jobs/{id}");
    for expected in [2, 1, 0] {
        let (_, job) = get_json(&fake, &path, Some(TOKEN)).await;
        assert_eq!(
            (job["state"].as_i64(), job["positionInQueue"].as_i64()),
            (Some(1), Some(expected))
        );
        assert!(fake.advance(&id, 1));
    }
    let (_, job) = get_json(&fake, &path, Some(TOKEN)).await;
    assert_eq!(job["state"], 2);
    assert!(!fake.advance("job-nope", 1));
    fake.advance_all(100);
    assert_eq!(fake.job(&id).map(|j| j.state), Some(4));
    fake.stop().await;
}

#[tokio::test]
async fn list_pages_newest_first_per_user_and_legacy_array() {
    let fake = FakeCloudgene::start(config(|c| {
        c.max_running_jobs_per_user = 100;
        c.tokens.push("second-token".to_owned());
    }))
    .await;
    let mut ids = Vec::new();
    for i in 0..17 {
        ids.push(submit_ok(&fake, good_form(&format!("job {i}"))).await);
    }
    let other = submit(&fake, "second-token", good_form("someone else")).await;
    assert_eq!(other.status(), 200);
    let (status, all) = get_json(&fake, "/api/v2/jobs", Some(TOKEN)).await;
    assert_eq!(status, 200);
    assert_eq!(
        (
            all["count"].as_u64(),
            all["page"].as_u64(),
            all["pageSize"].as_u64()
        ),
        (Some(17), Some(1), Some(17))
    );
    assert_eq!(
        (
            all["prev"].clone(),
            all["next"].clone(),
            all["pages"].clone()
        ),
        (Value::Null, Value::Null, json!([1]))
    );
    let listed: Vec<&str> = all["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|j| j["id"].as_str())
        .collect();
    let newest_first: Vec<&str> = ids.iter().rev().map(String::as_str).collect();
    assert_eq!(listed, newest_first);
    let (_, page1) = get_json(&fake, "/api/v2/jobs?page=1", Some(TOKEN)).await;
    assert_eq!(
        (
            page1["pageSize"].as_u64(),
            page1["data"].as_array().map(Vec::len)
        ),
        (Some(15), Some(15))
    );
    assert_eq!(
        (
            page1["next"].as_u64(),
            page1["pages"].clone(),
            page1["prev"].clone()
        ),
        (Some(2), json!([1, 2]), Value::Null)
    );
    let (_, page2) = get_json(&fake, "/api/v2/jobs?page=2", Some(TOKEN)).await;
    assert_eq!(
        (
            page2["data"].as_array().map(Vec::len),
            page2["prev"].as_u64()
        ),
        (Some(2), Some(1))
    );
    assert_eq!(
        (page2["data"][1]["id"].as_str(), page2["next"].clone()),
        (Some(ids[0].as_str()), Value::Null)
    );
    assert!(
        fake.jobs().iter().all(|j| j.state == 1),
        "listing advances nothing"
    );
    let (_, theirs) = get_json(&fake, "/api/v2/jobs", Some("second-token")).await;
    assert_eq!(
        (
            theirs["count"].as_u64(),
            theirs["data"][0]["username"].as_str()
        ),
        (Some(1), Some("fake-user-2"))
    );
    let (status, _) = get_json(&fake, "/api/v2/jobs", None).await;
    assert_eq!(status, 401);
    fake.stop().await;

    let legacy = FakeCloudgene::start(config(|c| c.legacy_list_array = true)).await;
    let (_, empty) = get_json(&legacy, "/api/v2/jobs", Some(TOKEN)).await;
    assert_eq!(empty, json!([]));
    let id = submit_ok(&legacy, good_form("legacy")).await;
    let (_, array) = get_json(&legacy, "/api/v2/jobs?page=1", Some(TOKEN)).await;
    assert_eq!(
        (array.as_array().map(Vec::len), array[0]["id"].as_str()),
        (Some(1), Some(id.as_str()))
    );
    legacy.stop().await;
}
