//! The original web client's calls (original-system.md §9), page by page,
//! as a table of contract cases run in order against one platform: the
//! method and path it used, the body it sent, the status and the JSON shape
//! it reads back. Where it called a path our contract does not have (the
//! legacy Django routes), the answer is the clean JSON 404 of a route miss.
//! No reply ever carries a secret that was sent.

use std::{collections::BTreeMap, time::Duration};

use fedimpute_proto::registry as rpb;
use fedimpute_tests::{
    backends, eventually,
    harness::{jobs::fixture, users::password_of},
};
use reqwest::Method;
use serde_json::{Value, json};

use crate::gateway_common::{CG_TOKEN, ROUTE_MISS, Reply, Stage, TINY, check_error_shape, form};
use crate::gateway_contract_cases::{Auth, Body, Shape, table};

/// `<name>` replaced by its variable.
fn fill(template: &str, vars: &BTreeMap<String, String>) -> String {
    let mut out = template.to_owned();
    for (name, value) in vars {
        out = out.replace(&format!("<{name}>"), value);
    }
    assert!(!out.contains('<'), "an unknown variable in {out}");
    out
}

/// A JSON value as text: a string as itself, anything else as JSON.
fn text(value: &Value) -> String {
    value
        .as_str()
        .map_or_else(|| value.to_string(), str::to_owned)
}

/// Checks a reply against its case's shape.
fn check(reply: &Reply, shape: Shape, vars: &BTreeMap<String, String>) -> Result<(), String> {
    let has = |item: &Value, keys: &[&str]| match keys.iter().find(|k| item.get(**k).is_none()) {
        Some(missing) => Err(format!("no '{missing}' in {item}")),
        None => Ok(()),
    };
    let list = |min: usize| -> Result<&Vec<Value>, String> {
        let items = reply.json.as_array().ok_or("not a bare array")?;
        (items.len() >= min)
            .then_some(items)
            .ok_or_else(|| format!("{} items, at least {min} expected", items.len()))
    };
    match shape {
        Shape::Object(keys) => has(&reply.json, keys),
        Shape::List { min, keys } => list(min)?.iter().try_for_each(|item| has(item, keys)),
        Shape::ListOf(key, value) => {
            let value = fill(value, vars);
            list(1)?.iter().try_for_each(|item| {
                let actual = text(&item[key]);
                (actual == value)
                    .then_some(())
                    .ok_or_else(|| format!("{key} is {actual}, not {value}"))
            })
        }
        Shape::Error(code) => check_error_shape(&reply.json, code),
        Shape::Miss => {
            check_error_shape(&reply.json, "NOT_FOUND")?;
            reply
                .detail()
                .starts_with(ROUTE_MISS)
                .then_some(())
                .ok_or_else(|| "not the gateway's route miss".to_owned())
        }
        Shape::NoContent => reply
            .text
            .is_empty()
            .then_some(())
            .ok_or_else(|| "a body on a 204".to_owned()),
        Shape::File => (!reply.text.is_empty()
            && reply
                .header("content-disposition")
                .starts_with("attachment"))
        .then_some(())
        .ok_or_else(|| format!("not a download: {:?}", reply.headers)),
    }
}

#[tokio::test]
async fn the_original_web_clients_calls_keep_working() {
    for db in backends().await {
        // Arrange: the stage's Cloudgene, a second (slow) one, a scratch
        // service, a completed job with results, a failed one, a queued one.
        let stage = Stage::start(db).await;
        let rest = stage.rest();
        let me = Some(stage.token.as_str());
        let (slow, slow_service, slow_panel) = stage.slow_cloudgene(&["afr"]).await;
        let platform = &stage.gw.platform;
        let scratch = platform
            .service(
                "Scratch",
                rpb::ApiType::Ga4gh,
                "https://scratch.example.org",
                false,
                json!({}),
            )
            .await;
        rest.post(
            &format!("/api/services/{}/health-check/", stage.service.id),
            me,
            json!({}),
        )
        .await
        .ok(200);
        let file = stage.upload(TINY).await;
        let created = |name: &str, service: i64, panel: i64| {
            let body = json!({"name": name, "service_id": service.to_string(),
                "reference_panel_id": panel.to_string(), "input_file_id": file["id"],
                "user_token": CG_TOKEN});
            async move {
                rest.post("/api/jobs/", me, body).await.ok(201)["id"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            }
        };
        let done = created("done", stage.service.id, stage.panel.id).await;
        let failed = created("fake:qc-fail", stage.service.id, stage.panel.id).await;
        let cancel_me = created("to cancel", slow_service.id, slow_panel.id).await;
        stage.until_status(&stage.token, &done, "completed").await;
        stage.until_status(&stage.token, &failed, "failed").await;
        let results_path = format!("/api/jobs/{done}/results/");
        let result = eventually("results copied", Duration::from_secs(30), || async {
            let results = rest.get(&results_path, me).await.json;
            let first = results.as_array()?.first()?.clone();
            results
                .as_array()?
                .iter()
                .all(|r| r["state"] == "available")
                .then(|| first["id"].as_str().unwrap_or_default().to_owned())
        })
        .await;
        let mut vars: BTreeMap<String, String> = [
            ("svc", stage.service.id.to_string()),
            ("panel", stage.panel.id.to_string()),
            ("slow", slow_service.id.to_string()),
            ("slow_panel", slow_panel.id.to_string()),
            ("scratch", scratch.id.to_string()),
            ("done", done),
            ("failed", failed),
            ("cancel_me", cancel_me),
            ("result", result),
            ("ada", stage.user_id.to_string()),
            ("password", password_of("ada")),
            ("cg", CG_TOKEN.to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();

        // Act and assert, case by case.
        let mut failures = Vec::new();
        for case in table() {
            let path = fill(case.path, &vars);
            let method = Method::from_bytes(case.method.as_bytes()).expect("a verb");
            let token = match case.auth {
                Auth::Anonymous => None,
                Auth::Researcher => Some(stage.token.clone()),
                Auth::Admin => Some(stage.admin.clone()),
                Auth::Saved(name) => Some(vars[name].clone()),
            };
            let request = rest
                .request(method, &path, token.as_deref())
                .header("x-client-type", "web-frontend")
                .header("x-client-version", "1.0.0");
            let request = match case.body {
                Body::None => request,
                Body::Json(template) => request
                    .header("content-type", "application/json")
                    .body(fill(template, &vars)),
                Body::JobForm(fields) => {
                    let fields: Vec<(&str, String)> =
                        fields.iter().map(|(k, v)| (*k, fill(v, &vars))).collect();
                    request.multipart(form(
                        &fields,
                        Some(("input_file", "upload.vcf.gz", fixture(TINY))),
                    ))
                }
            };
            let reply = if matches!(case.shape, Shape::File) {
                let response = request.send().await.expect("the gateway answers");
                let status = response.status();
                let headers = response.headers().clone();
                let bytes = response.bytes().await.expect("the bytes");
                Reply {
                    status,
                    headers,
                    json: Value::Null,
                    text: String::from_utf8_lossy(&bytes).into_owned(),
                }
            } else {
                rest.send(request).await
            };
            let what = format!("{}: {} {path}", case.page, case.method);
            if reply.status.as_u16() != case.status {
                failures.push(format!(
                    "{what}: {} instead of {}: {}",
                    reply.status, case.status, reply.text
                ));
                continue;
            }
            if let Err(e) = check(&reply, case.shape, &vars) {
                failures.push(format!("{what}: {e}: {}", reply.text));
            }
            if reply.text.contains(CG_TOKEN) || reply.text.contains(&vars["password"]) {
                failures.push(format!("{what}: a secret in the reply: {}", reply.text));
            }
            if let Some((name, pointer)) = case.save {
                let value = reply
                    .json
                    .pointer(pointer)
                    .map(text)
                    .unwrap_or_else(|| panic!("{what}: nothing at {pointer} to save"));
                vars.insert(name.to_owned(), value);
            }
        }
        assert!(
            failures.is_empty(),
            "contract cases failed:\n{}",
            failures.join("\n")
        );
        stage.shutdown().await;
        slow.stop().await;
    }
}
