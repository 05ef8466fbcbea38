//! REST over the gateway, the original's job forms: `POST /api/jobs/` and
//! `/api/jobs/multi-service/` as multipart with the file in `input_file`
//! (and as JSON with `input_file_id`), the token given in the form saved as
//! a credential, refused forms leaving no file behind, the job list's
//! filters, cancel, retry and delete.

use fedimpute_tests::{backends, harness::jobs::fixture};
use serde_json::{Value, json};

use crate::gateway_common::{CG_TOKEN, Stage, TINY, ids};

/// The original web client's job form.
fn job_form(name: &str, service: i64, panel: i64) -> Vec<(&'static str, String)> {
    vec![
        ("name", name.to_owned()),
        ("description", "from the original's form".to_owned()),
        ("service_id", service.to_string()),
        ("reference_panel_id", panel.to_string()),
        ("input_format", "vcf".to_owned()),
        ("build", "hg19".to_owned()),
        ("phasing", "false".to_owned()),
        ("population", "afr".to_owned()),
    ]
}

fn statuses(jobs: &Value) -> Vec<String> {
    jobs.as_array()
        .unwrap_or_else(|| panic!("a bare array: {jobs}"))
        .iter()
        .map(|j| j["status"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn the_originals_job_forms_submit_single_and_federated_jobs() {
    for db in backends().await {
        // Arrange: a second Cloudgene whose jobs never progress, and no
        // stored credential for it.
        let stage = Stage::start(db).await;
        let rest = stage.rest();
        let me = Some(stage.token.as_str());
        let (slow, slow_service, slow_panel) = stage.slow_cloudgene(&["afr", "mixed"]).await;
        let _platform = &stage.gw.platform;
        let vcf = fixture(TINY);
        let file = || Some(("input_file", "chr20 tiny.vcf.gz", vcf.clone()));

        // A single job from the form, with the token for the service in it.
        let mut fields = job_form("form job", slow_service.id, slow_panel.id);
        fields.push(("user_token", CG_TOKEN.to_owned()));
        let created = rest.form("/api/jobs/", me, &fields, file()).await;
        let job = created.ok(201).clone();
        assert!(!created.text.contains(CG_TOKEN), "{}", created.text);
        let id = job["id"].as_str().expect("an id").to_owned();
        assert_eq!(job["service_id"], slow_service.id);
        assert_eq!(job["reference_panel_id"], slow_panel.id);
        assert_eq!(job["description"], "from the original's form");
        assert_eq!(job["phasing"], false);
        assert_eq!(job["population"], "afr");
        assert_eq!(job["build"], "hg19");
        assert_eq!(job["input_format"], "vcf");
        assert!(
            job["input_file_name"]
                .as_str()
                .is_some_and(|n| n.ends_with(".vcf.gz"))
        );
        let saved = rest
            .get(
                &format!("/api/users/me/service-credentials/{}/", slow_service.id),
                me,
            )
            .await;
        assert_eq!(
            saved.ok(200)["has_api_token"],
            true,
            "the form's token is saved"
        );
        assert!(!saved.text.contains(CG_TOKEN));

        // Cancel it (now, or on the remote first), then retry: a new attempt.
        let cancel = format!("/api/jobs/{id}/cancel/");
        let cancelled = rest.post(&cancel, me, json!({})).await;
        let cancelled = cancelled.ok(200);
        assert_eq!(cancelled["job_id"], id.as_str());
        assert!(
            matches!(
                cancelled["message"].as_str(),
                Some("Job cancelled" | "Job cancellation initiated")
            ),
            "{cancelled}"
        );
        stage.until_status(&stage.token, &id, "cancelled").await;
        rest.post(&cancel, me, json!({}))
            .await
            .error(400, "FAILED_PRECONDITION");
        let retried = rest
            .post(&format!("/api/jobs/{id}/retry"), me, json!({}))
            .await;
        let retried = retried.ok(200);
        assert_eq!(retried["message"], "Retrying 1 job(s)");
        assert_eq!(retried["job"]["attempt"], 2);
        assert!(
            matches!(
                retried["job"]["status"].as_str(),
                Some("pending" | "queued")
            ),
            "{retried}"
        );
        rest.delete(&format!("/api/jobs/{id}/"), me)
            .await
            .error(400, "FAILED_PRECONDITION");

        // A JSON job on the stage's service that fails QC, then is retried.
        let uploaded = stage.upload(TINY).await;
        let qc = rest
            .post(
                "/api/jobs/",
                me,
                stage.job_body("fake:qc-fail run", &uploaded["id"]),
            )
            .await;
        let qc_id = qc.ok(201)["id"].as_str().unwrap().to_owned();
        let failed = stage.until_status(&stage.token, &qc_id, "failed").await;
        assert!(
            failed["error_message"]
                .as_str()
                .is_some_and(|m| m.contains("No chunks passed the QC step")),
            "{failed}"
        );

        // The list's filters, and the original's query shape.
        let only_failed = rest.get("/api/jobs/?status=failed", me).await;
        assert_eq!(ids(only_failed.ok(200)), [json!(qc_id)]);
        let on_slow = rest
            .get(&format!("/api/jobs/?service_id={}", slow_service.id), me)
            .await;
        assert_eq!(ids(on_slow.ok(200)), [json!(id)]);
        let searched = rest.get("/api/jobs/?search=qc-fail", me).await;
        assert_eq!(ids(searched.ok(200)), [json!(qc_id)]);
        let original = rest.get("/api/jobs/?status=&service=&search=", me).await;
        assert_eq!(
            ids(original.ok(200)).len(),
            2,
            "empty filters filter nothing"
        );
        let qc_retry = rest
            .post(&format!("/api/jobs/{qc_id}/retry/"), me, json!({}))
            .await;
        assert_eq!(qc_retry.ok(200)["job"]["attempt"], 2);

        // A federated job from the form, comma lists; and as JSON.
        let multi = rest
            .form(
                "/api/jobs/multi-service/",
                me,
                &[
                    ("name", "federated form".to_owned()),
                    (
                        "service_ids",
                        format!("{},{}", stage.service.id, slow_service.id),
                    ),
                    (
                        "reference_panel_ids",
                        format!("{},{}", stage.panel.id, slow_panel.id),
                    ),
                    ("build", "hg19".to_owned()),
                    ("phasing", "true".to_owned()),
                ],
                file(),
            )
            .await;
        let multi = multi.ok(201).clone();
        assert_eq!(multi["total_services"], 2);
        let children: Vec<&Value> = multi["child_jobs"]
            .as_array()
            .expect("children")
            .iter()
            .collect();
        let services: Vec<&Value> = children.iter().map(|c| &c["service_id"]).collect();
        assert_eq!(
            services,
            [&json!(stage.service.id), &json!(slow_service.id)]
        );
        assert_eq!(multi["parent"]["id"], multi["parent_job_id"]);
        assert_eq!(
            multi["parent"]["service_id"],
            Value::Null,
            "a parent has no service"
        );
        assert_eq!(
            multi["parent"]["child_job_ids"].as_array().map(Vec::len),
            Some(2)
        );
        let json_multi = rest
            .post(
                "/api/jobs/multi-service",
                me,
                json!({
                    "name": "federated json", "input_file_id": uploaded["id"],
                    "service_ids": [stage.service.id.to_string(), slow_service.id.to_string()],
                    "reference_panel_ids": [stage.panel.id.to_string(), slow_panel.id.to_string()],
                }),
            )
            .await;
        assert_eq!(
            json_multi.ok(201)["children"].as_array().map(Vec::len),
            Some(2)
        );
        let parent = rest
            .get(
                &format!("/api/jobs/{}/", multi["parent_job_id"].as_str().unwrap()),
                me,
            )
            .await;
        assert_eq!(parent.ok(200)["aggregate"]["total"], 2);

        // Refused forms: the field is named, and the uploaded file is removed.
        let files_before = ids(rest.get("/api/files/", me).await.ok(200)).len();
        // The file first: it is uploaded before the bad field is read.
        let mut bad = reqwest::multipart::Form::new().part(
            "input_file",
            reqwest::multipart::Part::bytes(vcf.clone()).file_name("first.vcf.gz"),
        );
        for (name, value) in job_form("bad phasing", stage.service.id, stage.panel.id) {
            let value = if name == "phasing" {
                "maybe".to_owned()
            } else {
                value
            };
            bad = bad.text(name, value);
        }
        let refused = rest
            .send(
                rest.request(reqwest::Method::POST, "/api/jobs/", me)
                    .multipart(bad),
            )
            .await;
        assert_eq!(refused.error(400, "INVALID_ARGUMENT"), ["phasing"]);
        let wrong_panel = job_form("wrong panel", slow_service.id, stage.panel.id);
        let refused = rest.form("/api/jobs/", me, &wrong_panel, file()).await;
        let fields = refused.error(400, "INVALID_ARGUMENT");
        assert!(
            fields.iter().any(|f| f == "reference_panel_id"),
            "{}",
            refused.text
        );
        let mut typo = job_form("typo", stage.service.id, stage.panel.id);
        typo.push(("nmae", "x".to_owned()));
        let refused = rest.form("/api/jobs/", me, &typo, file()).await;
        assert_eq!(refused.error(400, "INVALID_ARGUMENT"), ["nmae"]);
        let mut both = job_form("both", stage.service.id, stage.panel.id);
        both.push(("input_file_id", uploaded["id"].as_str().unwrap().to_owned()));
        rest.form("/api/jobs/", me, &both, file())
            .await
            .error(400, "INVALID_ARGUMENT");
        let files_after = ids(rest.get("/api/files/", me).await.ok(200)).len();
        assert_eq!(
            files_after, files_before,
            "refused jobs leave no file behind"
        );
        let statuses_now = statuses(rest.get("/api/jobs/", me).await.ok(200));
        assert_eq!(statuses_now.len(), 2 + 3 + 3, "{statuses_now:?}");

        // Cancel the retried form job again; now it can be deleted.
        rest.post(&cancel, me, json!({})).await.ok(200);
        stage.until_status(&stage.token, &id, "cancelled").await;
        let deleted = rest.delete(&format!("/api/jobs/{id}"), me).await;
        assert_eq!(deleted.ok(200)["deleted_job_ids"], json!([id]));
        stage.shutdown().await;
        slow.stop().await;
    }
}
