//! Every annotated RPC is served over REST. The test reads the
//! `google.api.http` rules of the descriptor set itself (additional bindings
//! too), sends each verb and path (variables filled in, with and without a
//! trailing slash) and proves the request reached the owning service: a
//! success, or an error the gateway counted as the service's own
//! (`upstream_errors`), never the gateway's route miss; and the gateway's
//! request metrics name the binding's own template, not a neighbour's.

use std::collections::BTreeMap;

use fedimpute_tests::{TestDb, harness::gateway::TestGateway};
use prost_reflect::{DescriptorPool, DynamicMessage, Kind, MethodDescriptor};
use reqwest::Method;
use serde_json::json;

use crate::gateway_common::{ROUTE_MISS, Reply, Rest};

/// One REST binding read from the descriptors.
#[derive(Debug)]
struct Binding {
    method: MethodDescriptor,
    verb: Method,
    template: String,
    body: bool,
}

fn bindings() -> Vec<Binding> {
    let pool = DescriptorPool::decode(fedimpute_proto::FILE_DESCRIPTOR_SET)
        .expect("the descriptor set decodes");
    let http = pool
        .get_extension_by_name("google.api.http")
        .expect("the descriptor set carries google.api.http");
    let mut out = Vec::new();
    for service in pool.services() {
        for method in service.methods() {
            let options = method.options();
            if !options.has_extension(&http) {
                continue;
            }
            let rule = options.get_extension(&http);
            let rule = rule.as_message().expect("an HttpRule message");
            out.push(binding(&method, rule));
            let extra = rule
                .get_field_by_name("additional_bindings")
                .expect("HttpRule has additional_bindings");
            for more in extra.as_list().expect("a repeated field") {
                out.push(binding(&method, more.as_message().expect("an HttpRule")));
            }
        }
    }
    out
}

fn binding(method: &MethodDescriptor, rule: &DynamicMessage) -> Binding {
    let text = |name: &str| {
        rule.get_field_by_name(name)
            .and_then(|v| v.as_str().map(str::to_owned))
            .filter(|s| !s.is_empty())
    };
    let verbs = [
        ("get", Method::GET),
        ("put", Method::PUT),
        ("post", Method::POST),
        ("delete", Method::DELETE),
        ("patch", Method::PATCH),
    ];
    let (verb, template) = verbs
        .into_iter()
        .find_map(|(field, verb)| text(field).map(|path| (verb, path)))
        .unwrap_or_else(|| panic!("{}: an HttpRule without a verb", method.full_name()));
    Binding {
        method: method.clone(),
        verb,
        template: template.trim_end_matches('/').to_owned(),
        body: text("body").is_some(),
    }
}

/// A plausible value for a path variable, by the field's type: ids that
/// name nothing, so the service answers for itself (mostly `NOT_FOUND`).
fn value_for(method: &MethodDescriptor, variable: &str) -> String {
    let mut message = method.input();
    let mut field = None;
    for part in variable.split('.') {
        let found = message
            .get_field_by_name(part)
            .unwrap_or_else(|| panic!("{}: no field {variable}", method.full_name()));
        if let Some(inner) = found.kind().as_message() {
            message = inner.clone();
        }
        field = Some(found);
    }
    let field = field.expect("a variable names a field");
    let kind = field.kind();
    if matches!(
        kind,
        Kind::Int64 | Kind::Int32 | Kind::Uint64 | Kind::Uint32
    ) {
        return "987654".into();
    }
    assert!(
        kind == Kind::String,
        "{}: a path variable of kind {kind:?}",
        method.full_name()
    );
    match variable {
        "token" => "an-expired-or-forged-link-token".into(),
        "id_or_slug" => "no-such-service".into(),
        _ => "0b9e4bd8-3d1f-4c55-9a42-5f0b8f7c2e11".into(),
    }
}

/// The template with its variables filled in.
fn fill(binding: &Binding) -> String {
    binding
        .template
        .split('/')
        .map(
            |segment| match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(inner) => value_for(&binding.method, inner.split('=').next().unwrap_or(inner)),
                None => segment.to_owned(),
            },
        )
        .collect::<Vec<_>>()
        .join("/")
}

/// `name{labels} value` lines of a metric family, by their label text.
async fn metric(rest: Rest<'_>, family: &str) -> BTreeMap<String, f64> {
    let text = rest
        .request(Method::GET, "/metrics", None)
        .send()
        .await
        .expect("the gateway answers")
        .text()
        .await
        .expect("metrics text");
    text.lines()
        .filter_map(|line| {
            let rest = line.strip_prefix(family)?.strip_prefix('{')?;
            let (labels, value) = rest.rsplit_once("} ")?;
            Some((labels.to_owned(), value.trim().parse().ok()?))
        })
        .collect()
}

fn upstream_count(errors: &BTreeMap<String, f64>, code: &str) -> f64 {
    errors
        .iter()
        .filter(|(labels, _)| labels.contains(&format!("code=\"{code}\"")))
        .map(|(_, n)| n)
        .sum()
}

const UPSTREAM: &str = "fedimpute_gateway_upstream_errors_total";
const REQUESTS: &str = "fedimpute_gateway_http_requests_total";

#[tokio::test]
async fn every_annotated_rpc_reaches_its_service_over_rest() {
    // Arrange
    let gw = TestGateway::spawn(TestDb::sqlite()).await;
    let rest = Rest(&gw);
    let admin = gw.admin_token().await;
    let all = bindings();
    assert!(
        all.iter()
            .any(|b| b.template == "/api/services/{service_id}/reference-panels"),
        "additional bindings are read too"
    );
    assert!(all.len() >= 60, "only {} bindings", all.len());

    // The discriminator works: a path no RPC is bound to is the gateway's
    // own miss, and the services never see it.
    let before = metric(rest, UPSTREAM).await;
    let miss = rest.get("/api/result-files/", Some(&admin)).await;
    miss.error(404, "NOT_FOUND");
    assert!(miss.detail().starts_with(ROUTE_MISS), "{}", miss.text);
    let wrong_verb = rest
        .call(
            Method::PUT,
            "/api/jobs/0b9e4bd8/cancel/",
            Some(&admin),
            Some(&json!({})),
        )
        .await;
    wrong_verb.error(405, "UNIMPLEMENTED");
    assert_eq!(
        metric(rest, UPSTREAM).await,
        before,
        "misses reach no service"
    );

    // Act and assert, binding by binding.
    let mut sent: BTreeMap<(String, String, u16), f64> = BTreeMap::new();
    for binding in &all {
        let filled = fill(binding);
        for path in [filled.clone(), format!("{filled}/")] {
            let what = format!("{} {path} ({})", binding.verb, binding.method.full_name());
            // Ending a session must not end the one the walk runs on.
            let token = if binding.method.name() == "Logout" {
                gw.admin_token().await
            } else {
                admin.clone()
            };
            let before = metric(rest, UPSTREAM).await;
            let request = rest.request(binding.verb.clone(), &path, Some(&token));
            let request = if binding.method.is_client_streaming() {
                // An upload: raw bytes named by ?filename=, refused as no VCF by the service.
                rest.request(
                    binding.verb.clone(),
                    &format!("{path}?filename=walk.vcf"),
                    Some(&token),
                )
                .header("content-type", "application/octet-stream")
                .body("this is not a VCF\n")
            } else if binding.body {
                request.json(&json!({}))
            } else {
                request
            };
            let response = request.send().await.expect("the gateway answers");
            let status = response.status();
            let streamed = !response
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .starts_with("application/json");
            if status.is_success() {
                // A download or an event stream is the service's; leave it unread.
                if !streamed {
                    Reply::read(response).await;
                }
            } else {
                let reply = Reply::read(response).await;
                let code = reply.json["code"].as_str().unwrap_or_default().to_owned();
                assert!(
                    !reply.detail().starts_with(ROUTE_MISS) && status != 405,
                    "{what}: the gateway has no route: {}",
                    reply.text
                );
                let after = metric(rest, UPSTREAM).await;
                assert_eq!(
                    upstream_count(&after, &code),
                    upstream_count(&before, &code) + 1.0,
                    "{what}: {status} {} is not the service's answer",
                    reply.text
                );
            }
            *sent
                .entry((
                    binding.template.clone(),
                    binding.verb.to_string(),
                    status.as_u16(),
                ))
                .or_default() += 1.0;
        }
    }

    // The gateway matched each request to the binding's own template.
    let served = metric(rest, REQUESTS).await;
    for ((template, verb, status), count) in &sent {
        let labels = format!("route=\"{template}\",method=\"{verb}\",status=\"{status}\"");
        let seen = served.get(&labels).copied().unwrap_or_default();
        assert!(
            seen >= *count,
            "{verb} {template}: {seen} requests counted with status {status}, {count} sent"
        );
    }
    gw.shutdown().await;
}
