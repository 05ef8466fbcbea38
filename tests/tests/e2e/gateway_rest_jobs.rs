//! REST over the gateway, jobs: a file uploaded as multipart, a job
//! created as JSON on it, followed as server-sent events to completion,
//! then its status history, logs, results and their downloads (the bytes
//! the fake Cloudgene served, with the headers a browser needs), the stats,
//! and delete; another user sees none of it.

use std::time::Duration;

use fedimpute_tests::{backends, eventually, harness::jobs::fixture};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::gateway_common::{Stage, TINY, ids};

#[tokio::test]
async fn a_job_over_rest_runs_to_completion_and_its_results_download() {
    for db in backends().await {
        // Arrange
        let stage = Stage::start(db).await;
        let rest = stage.rest();
        let me = Some(stage.token.as_str());
        let vcf = fixture(TINY);

        // Upload: 201 with what the check found.
        let file = stage.upload(TINY).await;
        let file_id = file["id"].as_str().expect("a file id").to_owned();
        assert_eq!(file["size_bytes"], vcf.len(), "an int64, as a number");
        assert_eq!(file["sha256"], format!("{:x}", Sha256::digest(&vcf)));
        assert_eq!(file["user_id"], stage.user_id);
        assert_eq!(file["vcf"]["samples_count"], 51);
        assert_eq!(file["vcf"]["records_count"], 100);
        assert_eq!(file["vcf"]["detected_build"], "hg19");
        assert!(
            matches!(file["compression"].as_str(), Some("bgzf" | "gzip")),
            "{file}"
        );
        assert_eq!(
            rest.get(&format!("/api/files/{file_id}/"), me)
                .await
                .ok(200)["id"],
            file_id
        );
        assert_eq!(
            ids(rest.get("/api/files/", me).await.ok(200)),
            [json!(file_id)]
        );
        let input = rest
            .request(
                reqwest::Method::GET,
                &format!("/api/files/{file_id}/download/"),
                me,
            )
            .send()
            .await
            .expect("a download");
        assert_eq!(input.status(), 200);
        let disposition = input
            .headers()
            .get("content-disposition")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert!(
            disposition.starts_with("attachment;") && disposition.contains(".vcf.gz"),
            "{disposition}"
        );
        assert_eq!(input.content_length(), Some(vcf.len() as u64));
        assert_eq!(
            input.bytes().await.expect("the bytes").as_ref(),
            vcf.as_slice()
        );

        // Create as JSON: 201, queued.
        let mut body = stage.job_body("chr20 tiny", &json!(file_id));
        body["build"] = json!("hg19");
        body["population"] = json!("mixed");
        let created = rest.post("/api/jobs/", me, body).await;
        let job = created.ok(201).clone();
        let id = job["id"].as_str().expect("a job id").to_owned();
        assert_eq!(job["status"], "queued");
        assert_eq!(job["service_id"], stage.service.id);
        assert_eq!(job["reference_panel_id"], stage.panel.id);
        assert_eq!(
            job["reference_panel_external_id"],
            "apps@h3africa-v6hc-s@1.0.0"
        );
        assert_eq!(job["input_file_id"], file_id);
        assert_eq!(job["input_file_size"], vcf.len());
        assert_eq!(job["build"], "hg19");
        assert_eq!(job["phasing"], true);
        assert_eq!(job["progress_percentage"], 0);
        assert_eq!(job["mode"], "imputation");
        assert_eq!(job["r2_filter"], Value::Null);
        assert_eq!(job["completed_at"], Value::Null);
        assert_eq!(job["error_message"], "");
        assert!(job["created_at"].is_string() && job["version"].is_i64());

        // Events: a snapshot, then changes, until the job has completed.
        let (headers, events) = rest
            .events_until(
                &format!("/api/jobs/{id}/events/"),
                &stage.token,
                |_, event| event["job"]["status"] == "completed",
            )
            .await;
        assert!(
            headers["content-type"]
                .to_str()
                .is_ok_and(|t| t.starts_with("text/event-stream")),
            "{headers:?}"
        );
        assert_eq!(events[0].0, "snapshot", "{events:?}");
        assert_eq!(events[0].1["type"], "snapshot");
        assert_eq!(events[0].1["job"]["id"], id);
        let (name, last) = events.last().expect("events");
        assert_eq!(name, "updated");
        assert_eq!(last["job"]["progress_percentage"], 100);
        let seen: Vec<&str> = events
            .iter()
            .filter_map(|(_, e)| e["job"]["status"].as_str())
            .collect();
        assert!(seen.contains(&"running"), "{seen:?}");

        // The job, its history and logs.
        let done = rest
            .get(&format!("/api/jobs/{id}/"), me)
            .await
            .ok(200)
            .clone();
        assert_eq!(done["status"], "completed");
        let external = done["external_job_id"]
            .as_str()
            .expect("a remote id")
            .to_owned();
        assert!(external.starts_with("job-"), "{done}");
        assert!(done["service_response"].is_object());
        assert!(done["execution_time_seconds"].is_i64());
        assert!(done["completed_at"].is_string());
        let updates = rest
            .get(&format!("/api/jobs/{id}/status-updates/"), me)
            .await;
        let statuses: Vec<&str> = updates
            .ok(200)
            .as_array()
            .expect("a bare array")
            .iter()
            .filter_map(|u| u["status"].as_str())
            .collect();
        assert_eq!(statuses, ["completed", "running", "queued"], "newest first");
        let logs = rest.get(&format!("/api/jobs/{id}/logs"), me).await;
        let logs = logs.ok(200).as_array().expect("a bare array").clone();
        assert!(
            logs.iter().any(|l| l["step_name"] == "Quality Control"),
            "{logs:?}"
        );
        assert!(logs.iter().all(|l| {
            l["log_type"]
                .as_str()
                .is_some_and(|t| t == t.to_lowercase())
        }));

        // Results, once copied; each downloads byte for byte.
        let results_path = format!("/api/jobs/{id}/results/");
        let results = eventually("results copied", Duration::from_secs(30), || async {
            let results = rest.get(&results_path, me).await.json;
            let list = results.as_array()?.clone();
            (!list.is_empty() && list.iter().all(|r| r["state"] == "available")).then_some(list)
        })
        .await;
        for result in &results {
            let name = result["name"].as_str().expect("a name");
            let path = result["download_path"].as_str().expect("a download path");
            assert_eq!(
                path,
                format!(
                    "/api/jobs/{id}/results/{}/download",
                    result["id"].as_str().unwrap()
                )
            );
            let response = rest
                .request(reqwest::Method::GET, &format!("{path}/"), me)
                .send()
                .await
                .expect("a download");
            assert_eq!(response.status(), 200, "{name}");
            let header = |h: &str| {
                response
                    .headers()
                    .get(h)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned()
            };
            let expected = stage
                .fake
                .file_bytes(&external, name)
                .expect("the remote's file");
            let kind = result["content_type"]
                .as_str()
                .filter(|t| !t.is_empty())
                .unwrap_or("application/octet-stream");
            assert_eq!(header("content-type"), kind, "{name}");
            assert_eq!(
                header("content-length"),
                expected.len().to_string(),
                "{name}"
            );
            assert_eq!(result["size_bytes"], expected.len(), "{name}");
            let disposition = header("content-disposition");
            let base = name.rsplit('/').next().unwrap_or(name);
            assert!(
                disposition.starts_with("attachment;") && disposition.contains(base),
                "{name}: {disposition}"
            );
            let bytes = response.bytes().await.expect("the bytes");
            assert_eq!(bytes.as_ref(), expected.as_slice(), "{name} byte for byte");
        }

        // The stats.
        let stats = rest.get("/api/jobs/stats/", me).await.ok(200).clone();
        assert_eq!(
            (stats["total"].clone(), stats["completed"].clone()),
            (json!(1), json!(1))
        );
        assert_eq!(stats["success_rate"], 100.0);
        assert_eq!(stats["by_service"][0]["service_id"], stage.service.id);
        let dashboard = rest.get("/api/dashboard/stats/", me).await.ok(200).clone();
        assert_eq!(dashboard["job_stats"]["completed"], 1);
        assert_eq!(dashboard["service_stats"]["total_services"], 1);
        assert_eq!(ids(&dashboard["recent_jobs"]), [json!(id)]);

        // Another user: as if nothing existed.
        let (_, bob) = stage.gw.platform.users.researcher("bob").await;
        let bob = Some(bob.as_str());
        let result_id = results[0]["id"].as_str().unwrap();
        for path in [
            format!("/api/jobs/{id}/"),
            format!("/api/jobs/{id}/status-updates/"),
            format!("/api/jobs/{id}/results/"),
            format!("/api/jobs/{id}/results/{result_id}/download/"),
            format!("/api/jobs/{id}/events/"),
            format!("/api/files/{file_id}/"),
        ] {
            rest.get(&path, bob).await.error(404, "NOT_FOUND");
        }
        rest.post(&format!("/api/jobs/{id}/cancel/"), bob, json!({}))
            .await
            .error(404, "NOT_FOUND");
        rest.delete(&format!("/api/jobs/{id}/"), bob)
            .await
            .error(404, "NOT_FOUND");
        assert_eq!(rest.get("/api/jobs/", bob).await.ok(200), &json!([]));
        assert_eq!(rest.get("/api/jobs/stats/", bob).await.ok(200)["total"], 0);

        // The owner deletes it; it is gone.
        let deleted = rest.delete(&format!("/api/jobs/{id}/"), me).await;
        let deleted = deleted.ok(200);
        assert_eq!(deleted["deleted_job_ids"], json!([id]));
        assert!(deleted["message"].is_string());
        rest.get(&format!("/api/jobs/{id}/"), me)
            .await
            .error(404, "NOT_FOUND");
        assert_eq!(rest.get("/api/jobs/", me).await.ok(200), &json!([]));
        stage.shutdown().await;
    }
}
