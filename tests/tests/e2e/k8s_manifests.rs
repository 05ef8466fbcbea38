//! The Kubernetes manifests of `k8s/`, checked without a cluster: the base
//! and every overlay are rendered in-process (`kustomize`, a small renderer
//! of the kustomization fields `k8s/` uses) and every rendered object is held
//! to the invariants of the deployment:
//!
//! - every container (init containers, Jobs and CronJobs too) has cpu and
//!   memory requests and limits, runs as non-root with a read-only root
//!   filesystem, no privilege escalation and all capabilities dropped, and
//!   has a pinned image (a tag that is not `latest`, or a digest);
//! - the containers of long-running workloads (Deployments, StatefulSets,
//!   DaemonSets) have liveness and readiness probes, on ports they declare;
//! - every Service port is named, and its name and target port are a named
//!   port of every pod the Service selects (and it selects some);
//! - every Secret a pod reads (`secretKeyRef`, `envFrom.secretRef`, secret
//!   and projected volumes) is a name and key of `the table of k8s/README.md`, the
//!   documented list (each of its names is in `k8s/README.md`), and no
//!   Secret object is in the manifests; every ConfigMap a pod reads exists;
//! - every Deployment has topology spread constraints that select its pods,
//!   a PodDisruptionBudget that selects them, and a termination grace
//!   period; every HorizontalPodAutoscaler targets an object that exists;
//! - every namespace with workloads has a default-deny NetworkPolicy for
//!   ingress and egress.
//!
//! `.ci/run k8s` renders the same overlays with `kubectl kustomize`,
//! validates them against the Kubernetes schemas (kubernetes-validate,
//! strict, offline), and sets `FEDIMPUTE_K8S_RENDERED` to their directory:
//! the renderings are then compared object by object and the kustomize ones
//! are checked too. `FEDIMPUTE_K8S_WRITE=dir` writes this renderer's output
//! (`dir/<overlay>.yaml`) for the validator where kubectl is missing.

mod kustomize;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;

use kustomize::{CLUSTER_SCOPED, Resource, parse_documents, pod_spec, render, split_image};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate is in the workspace")
        .to_path_buf()
}

/// `k8s/`, or `FEDIMPUTE_K8S_DIR` (a copy to try a change on).
fn k8s() -> PathBuf {
    std::env::var_os("FEDIMPUTE_K8S_DIR").map_or_else(|| workspace().join("k8s"), PathBuf::from)
}

/// `base` and every overlay under `k8s/overlays`, by name.
fn kustomizations() -> Vec<(String, PathBuf)> {
    let mut out = vec![("base".to_owned(), k8s().join("base"))];
    let overlays = k8s().join("overlays");
    let mut entries: Vec<PathBuf> = fs::read_dir(&overlays)
        .unwrap_or_else(|e| panic!("{}: {e}", overlays.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.join("kustomization.yaml").is_file())
        .collect();
    entries.sort();
    for path in entries {
        let name = path
            .file_name()
            .expect("a name")
            .to_string_lossy()
            .into_owned();
        out.push((name, path));
    }
    for required in ["dev", "prod"] {
        assert!(
            out.iter().any(|(name, _)| name == required),
            "k8s/overlays/{required}/kustomization.yaml is missing"
        );
    }
    out
}

fn rendered(name: &str, dir: &Path) -> Vec<Resource> {
    render(dir).unwrap_or_else(|e| panic!("rendering {name}: {e}"))
}

/// The Secrets and ConfigMaps made outside the manifests, with their keys:
/// the table of `k8s/README.md` (rows `| Secret `name` | `key`, `key` |`;
/// a parenthesis is a comment, `<n>` in a key any text).
#[derive(Debug, Default)]
struct Documented {
    secrets: BTreeMap<String, Vec<String>>,
    config_maps: BTreeMap<String, Vec<String>>,
}

impl Documented {
    fn load() -> Self {
        let path = k8s().join("README.md");
        let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut documented = Self::default();
        for line in text.lines() {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let [_, object, keys, ..] = cells.as_slice() else {
                continue;
            };
            let (list, rest) = if let Some(rest) = object.strip_prefix("Secret `") {
                (&mut documented.secrets, rest)
            } else if let Some(rest) = object.strip_prefix("ConfigMap `") {
                (&mut documented.config_maps, rest)
            } else {
                continue;
            };
            let name = rest.split('`').next().unwrap_or("");
            let mut depth = 0usize;
            let mut outside = String::new();
            for c in keys.chars() {
                match c {
                    '(' => depth += 1,
                    ')' => depth = depth.saturating_sub(1),
                    c if depth == 0 => outside.push(c),
                    _ => {}
                }
            }
            let keys = outside.split('`').skip(1).step_by(2).map(str::to_owned);
            list.entry(name.to_owned()).or_default().extend(keys);
        }
        assert!(
            !documented.secrets.is_empty(),
            "{}: no table rows `| Secret `name` | `key` |`",
            path.display()
        );
        documented
    }

    fn key_matches(pattern: &str, key: &str) -> bool {
        let mut regex = String::from("^");
        for (i, part) in pattern.split(['<', '>']).enumerate() {
            if i % 2 == 0 {
                regex.push_str(&regex::escape(part));
            } else {
                regex.push_str(".+");
            }
        }
        regex.push('$');
        regex::Regex::new(&regex).is_ok_and(|re| re.is_match(key))
    }

    fn has(list: &BTreeMap<String, Vec<String>>, name: &str, key: Option<&str>) -> bool {
        list.get(name).is_some_and(|keys| {
            key.is_none_or(|key| keys.iter().any(|p| Self::key_matches(p, key)))
        })
    }

    fn has_secret(&self, name: &str, key: Option<&str>) -> bool {
        Self::has(&self.secrets, name, key)
    }

    fn has_config_map(&self, name: &str, key: Option<&str>) -> bool {
        Self::has(&self.config_maps, name, key)
    }
}

/// What the checks found, one line per violation.
#[derive(Debug)]
struct Report<'a> {
    overlay: &'a str,
    lines: Vec<String>,
}

impl Report<'_> {
    fn add(&mut self, r: &Resource, field: &str, problem: &str) {
        let origin = r
            .origin
            .strip_prefix(workspace())
            .or_else(|_| r.origin.strip_prefix(k8s()))
            .unwrap_or(&r.origin);
        // `overlays/dev/../../base/x.yaml` is `base/x.yaml`.
        let mut clean = PathBuf::new();
        for part in origin.components() {
            if part == std::path::Component::ParentDir && clean.pop() {
                continue;
            }
            clean.push(part);
        }
        self.lines.push(format!(
            "{} [{}] {} {}/{}: {field}: {problem}",
            clean.display(),
            self.overlay,
            r.kind(),
            r.namespace(),
            r.name()
        ));
    }
}

fn labels_of(value: &Value) -> BTreeMap<&str, &str> {
    value
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.as_str(), v.as_str()?)))
        .collect()
}

/// Whether a label selector (`matchLabels` and `matchExpressions` with In,
/// NotIn, Exists, DoesNotExist) selects pods with `labels`.
fn selects(selector: &Value, labels: &BTreeMap<&str, &str>) -> bool {
    let by_labels = labels_of(&selector["matchLabels"])
        .iter()
        .all(|(k, v)| labels.get(k) == Some(v));
    let by_expressions = selector["matchExpressions"]
        .as_array()
        .into_iter()
        .flatten()
        .all(|e| {
            let value = labels.get(e["key"].as_str().unwrap_or(""));
            let values = e["values"].as_array().cloned().unwrap_or_default();
            let listed = value.is_some_and(|v| values.iter().any(|x| x == v));
            match e["operator"].as_str() {
                Some("In") => listed,
                Some("NotIn") => !listed,
                Some("Exists") => value.is_some(),
                Some("DoesNotExist") => value.is_none(),
                _ => false,
            }
        });
    by_labels && by_expressions
}

fn is_empty_selector(selector: &Value) -> bool {
    selector.is_null()
        || selector.as_object().is_some_and(|m| {
            m.values().all(|v| {
                v.is_null()
                    || v.as_object().is_some_and(|o| o.is_empty())
                    || v.as_array().is_some_and(|a| a.is_empty())
            })
        })
}

fn pod_labels(r: &Resource) -> BTreeMap<&str, &str> {
    let path = if r.kind() == "CronJob" {
        "/spec/jobTemplate/spec/template/metadata/labels"
    } else {
        "/spec/template/metadata/labels"
    };
    r.object.pointer(path).map(labels_of).unwrap_or_default()
}

const LONG_RUNNING: &[&str] = &["Deployment", "StatefulSet", "DaemonSet"];

fn containers(spec: &Value) -> impl Iterator<Item = (&'static str, &Value)> {
    ["initContainers", "containers"]
        .into_iter()
        .flat_map(move |list| {
            spec[list]
                .as_array()
                .into_iter()
                .flatten()
                .map(move |c| (list, c))
        })
}

/// Parses a duration as the services do (`30s`, `2m`, `1m30s`, `500ms`), in
/// whole seconds rounded up.
fn seconds(text: &str) -> Option<u64> {
    let mut total_ms = 0u64;
    let mut rest = text.trim();
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let number: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let factor = match rest[..unit].trim() {
            "ms" => 1,
            "s" | "" => 1000,
            "m" | "min" => 60_000,
            "h" => 3_600_000,
            _ => return None,
        };
        total_ms += number * factor;
        rest = &rest[unit..];
    }
    Some(total_ms.div_ceil(1000))
}

fn check_container(
    report: &mut Report<'_>,
    r: &Resource,
    list: &str,
    container: &Value,
    pod: &Value,
    documented: &Documented,
    config_maps: &BTreeMap<&str, &Value>,
) {
    let at = format!(
        "{list}[{}]",
        container["name"].as_str().unwrap_or("<unnamed>")
    );
    let image = container["image"].as_str().unwrap_or("");
    let (_, tail) = split_image(image);
    let pinned = tail.starts_with("@sha256:") || (tail.starts_with(':') && tail != ":latest");
    if !pinned {
        report.add(
            r,
            &format!("{at}.image"),
            &format!("{image:?} is not pinned (a tag other than latest, or a digest)"),
        );
    }
    for kind in ["requests", "limits"] {
        for resource in ["cpu", "memory"] {
            if container["resources"][kind][resource].is_null() {
                report.add(r, &format!("{at}.resources.{kind}.{resource}"), "missing");
            }
        }
    }
    let sc = &container["securityContext"];
    let non_root = sc["runAsNonRoot"]
        .as_bool()
        .or_else(|| pod["securityContext"]["runAsNonRoot"].as_bool());
    if non_root != Some(true) {
        report.add(
            r,
            &format!("{at}.securityContext.runAsNonRoot"),
            "not true (here or in the pod)",
        );
    }
    let user = sc["runAsUser"]
        .as_u64()
        .or_else(|| pod["securityContext"]["runAsUser"].as_u64());
    if user == Some(0) {
        report.add(r, &format!("{at}.securityContext.runAsUser"), "0 (root)");
    }
    if sc["readOnlyRootFilesystem"].as_bool() != Some(true) {
        report.add(
            r,
            &format!("{at}.securityContext.readOnlyRootFilesystem"),
            "not true",
        );
    }
    if sc["allowPrivilegeEscalation"].as_bool() != Some(false) {
        report.add(
            r,
            &format!("{at}.securityContext.allowPrivilegeEscalation"),
            "not false",
        );
    }
    let drops_all = sc["capabilities"]["drop"]
        .as_array()
        .is_some_and(|d| d.iter().any(|c| c == "ALL"));
    if !drops_all {
        report.add(
            r,
            &format!("{at}.securityContext.capabilities.drop"),
            "does not drop ALL",
        );
    }
    if sc["privileged"].as_bool() == Some(true) {
        report.add(r, &format!("{at}.securityContext.privileged"), "true");
    }
    if sc["capabilities"]["add"]
        .as_array()
        .is_some_and(|a| !a.is_empty())
    {
        report.add(
            r,
            &format!("{at}.securityContext.capabilities.add"),
            "adds capabilities",
        );
    }

    let ports = container["ports"].as_array().cloned().unwrap_or_default();
    if LONG_RUNNING.contains(&r.kind()) && list == "containers" {
        for probe in ["livenessProbe", "readinessProbe"] {
            let p = &container[probe];
            if p.is_null() {
                report.add(r, &format!("{at}.{probe}"), "missing");
                continue;
            }
            let port = p
                .pointer("/grpc/port")
                .or_else(|| p.pointer("/httpGet/port"))
                .or_else(|| p.pointer("/tcpSocket/port"));
            let declared = port.is_some_and(|port| {
                ports.iter().any(|cp| {
                    if port.is_string() {
                        cp["name"] == *port
                    } else {
                        cp["containerPort"] == *port
                    }
                })
            });
            if port.is_some() && !declared {
                report.add(
                    r,
                    &format!("{at}.{probe}"),
                    &format!(
                        "port {} is not a port of the container",
                        port.unwrap_or(&Value::Null)
                    ),
                );
            }
            // The application image has no shell (its own probes are gRPC
            // and HTTP); other images (PostgreSQL) may run a command.
            if p.get("exec").is_some() && image.contains("fedimpute") {
                report.add(
                    r,
                    &format!("{at}.{probe}.exec"),
                    "probes are gRPC or HTTP (the image has no shell)",
                );
            }
        }
    }

    for env in container["env"].as_array().into_iter().flatten() {
        let field = format!("{at}.env[{}]", env["name"].as_str().unwrap_or(""));
        if let Some(key_ref) = env.pointer("/valueFrom/secretKeyRef") {
            let (name, key) = (
                key_ref["name"].as_str().unwrap_or(""),
                key_ref["key"].as_str(),
            );
            if !documented.has_secret(name, key) {
                report.add(
                    r,
                    &format!("{field}.valueFrom.secretKeyRef"),
                    &format!(
                        "{name} {} is not in the table of k8s/README.md",
                        key.unwrap_or("")
                    ),
                );
            }
        }
        if let Some(key_ref) = env.pointer("/valueFrom/configMapKeyRef") {
            let name = key_ref["name"].as_str().unwrap_or("");
            let key = key_ref["key"].as_str().unwrap_or("");
            let exists = config_maps
                .get(name)
                .is_some_and(|cm| !cm["data"][key].is_null())
                || documented.has_config_map(name, Some(key));
            if !exists && key_ref["optional"].as_bool() != Some(true) {
                report.add(
                    r,
                    &format!("{field}.valueFrom.configMapKeyRef"),
                    &format!("no ConfigMap {name} with key {key}"),
                );
            }
        }
    }
    for (i, env_from) in container["envFrom"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        if let Some(name) = env_from.pointer("/secretRef/name").and_then(Value::as_str)
            && !documented.has_secret(name, None)
        {
            report.add(
                r,
                &format!("{at}.envFrom[{i}].secretRef"),
                &format!("{name} is not in the table of k8s/README.md"),
            );
        }
        if let Some(name) = env_from
            .pointer("/configMapRef/name")
            .and_then(Value::as_str)
            && !config_maps.contains_key(name)
            && !documented.has_config_map(name, None)
            && env_from["configMapRef"]["optional"].as_bool() != Some(true)
        {
            report.add(
                r,
                &format!("{at}.envFrom[{i}].configMapRef"),
                &format!("no ConfigMap {name}"),
            );
        }
    }
}

fn check_secret_source(
    report: &mut Report<'_>,
    r: &Resource,
    field: &str,
    source: &Value,
    name_key: &str,
    documented: &Documented,
) {
    let name = source[name_key].as_str().unwrap_or("");
    let items: Vec<&str> = source["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i["key"].as_str())
        .collect();
    if items.is_empty() {
        if !documented.has_secret(name, None) {
            report.add(
                r,
                field,
                &format!("{name} is not in the table of k8s/README.md"),
            );
        }
    } else {
        for key in items {
            if !documented.has_secret(name, Some(key)) {
                report.add(
                    r,
                    field,
                    &format!("{name} {key} is not in the table of k8s/README.md"),
                );
            }
        }
    }
}

fn check_config_map_source(
    report: &mut Report<'_>,
    r: &Resource,
    field: &str,
    source: &Value,
    config_maps: &BTreeMap<&str, &Value>,
    documented: &Documented,
) {
    let name = source["name"].as_str().unwrap_or("");
    let keys: Vec<&str> = source["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i["key"].as_str())
        .collect();
    let rendered = config_maps.get(name);
    let found = |key: Option<&str>| {
        rendered.is_some_and(|cm| key.is_none_or(|key| !cm["data"][key].is_null()))
            || documented.has_config_map(name, key)
    };
    if keys.is_empty() {
        if !found(None) {
            report.add(
                r,
                field,
                &format!("no ConfigMap {name} (rendered or in the table of k8s/README.md)"),
            );
        }
    } else {
        for key in keys {
            if !found(Some(key)) {
                report.add(r, field, &format!("no ConfigMap {name} with key {key} (rendered or in the table of k8s/README.md)"));
            }
        }
    }
}

/// Every violation of the invariants in one rendering.
fn check(overlay: &str, resources: &[Resource], documented: &Documented) -> Vec<String> {
    let mut report = Report {
        overlay,
        lines: Vec::new(),
    };
    let config_maps: BTreeMap<&str, &Value> = resources
        .iter()
        .filter(|r| r.kind() == "ConfigMap")
        .map(|r| (r.name(), &r.object))
        .collect();
    let workloads: Vec<&Resource> = resources
        .iter()
        .filter(|r| pod_spec(&r.object).is_some())
        .collect();

    for r in &workloads {
        let pod = pod_spec(&r.object).unwrap_or(&Value::Null);
        for (list, container) in containers(pod) {
            check_container(
                &mut report,
                r,
                list,
                container,
                pod,
                documented,
                &config_maps,
            );
        }
        if pod["containers"].as_array().is_none_or(|c| c.is_empty()) {
            report.add(r, "containers", "none");
        }
        for volume in pod["volumes"].as_array().into_iter().flatten() {
            let field = format!("volumes[{}]", volume["name"].as_str().unwrap_or(""));
            if let Some(secret) = volume.get("secret") {
                check_secret_source(
                    &mut report,
                    r,
                    &format!("{field}.secret"),
                    secret,
                    "secretName",
                    documented,
                );
            }
            for source in volume
                .pointer("/projected/sources")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(config_map) = source.get("configMap") {
                    check_config_map_source(
                        &mut report,
                        r,
                        &format!("{field}.projected.configMap"),
                        config_map,
                        &config_maps,
                        documented,
                    );
                }
                if let Some(secret) = source.get("secret") {
                    check_secret_source(
                        &mut report,
                        r,
                        &format!("{field}.projected.secret"),
                        secret,
                        "name",
                        documented,
                    );
                }
            }
            if let Some(config_map) = volume.get("configMap") {
                check_config_map_source(
                    &mut report,
                    r,
                    &format!("{field}.configMap"),
                    config_map,
                    &config_maps,
                    documented,
                );
            }
        }
        if pod["hostNetwork"].as_bool() == Some(true) || pod["hostPID"].as_bool() == Some(true) {
            report.add(r, "hostNetwork/hostPID", "true");
        }

        let labels = pod_labels(r);
        if r.kind() != "CronJob"
            && r.kind() != "Job"
            && !selects(&r.object["spec"]["selector"], &labels)
        {
            report.add(
                r,
                "spec.selector",
                "does not select the pod template's labels",
            );
        }
        if r.kind() != "Deployment" {
            continue;
        }
        let spread = pod["topologySpreadConstraints"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if spread.is_empty() {
            report.add(r, "topologySpreadConstraints", "missing");
        }
        for (i, constraint) in spread.iter().enumerate() {
            if !selects(&constraint["labelSelector"], &labels)
                || is_empty_selector(&constraint["labelSelector"])
            {
                report.add(
                    r,
                    &format!("topologySpreadConstraints[{i}].labelSelector"),
                    "does not select the Deployment's pods",
                );
            }
        }
        let has_pdb = resources.iter().any(|p| {
            p.kind() == "PodDisruptionBudget"
                && p.namespace() == r.namespace()
                && !is_empty_selector(&p.object["spec"]["selector"])
                && selects(&p.object["spec"]["selector"], &labels)
        });
        if !has_pdb {
            report.add(
                r,
                "PodDisruptionBudget",
                "none selects the Deployment's pods",
            );
        }
        match pod["terminationGracePeriodSeconds"].as_u64() {
            None => report.add(
                r,
                "terminationGracePeriodSeconds",
                "missing (it must be longer than the drain period)",
            ),
            Some(grace) => {
                let drain = containers(pod)
                    .flat_map(|(_, c)| c["env"].as_array().into_iter().flatten())
                    .find(|e| e["name"] == "FEDIMPUTE_SHUTDOWN_GRACE")
                    .and_then(|e| e["value"].as_str())
                    .or_else(|| {
                        config_maps
                            .values()
                            .find_map(|cm| cm["data"]["FEDIMPUTE_SHUTDOWN_GRACE"].as_str())
                    })
                    .and_then(seconds);
                if let Some(drain) = drain
                    && grace <= drain
                {
                    report.add(
                        r,
                        "terminationGracePeriodSeconds",
                        &format!("{grace} s is not longer than the drain period ({drain} s)"),
                    );
                }
            }
        }
    }

    for r in resources {
        if r.namespace().is_empty() && !CLUSTER_SCOPED.contains(&r.kind()) {
            report.add(
                r,
                "metadata.namespace",
                "missing: the object would land in whatever namespace kubectl's context has",
            );
        }
        match r.kind() {
            "Service" => check_service(&mut report, r, &workloads),
            "Secret" => report.add(
                r,
                "kind",
                "a Secret in the manifests: Secrets are created outside them (the table of k8s/README.md)",
            ),
            "HorizontalPodAutoscaler" => {
                let target = &r.object["spec"]["scaleTargetRef"];
                let exists = resources.iter().any(|t| {
                    t.namespace() == r.namespace()
                        && target["kind"] == t.kind()
                        && target["name"] == t.name()
                });
                if !exists {
                    report.add(
                        r,
                        "spec.scaleTargetRef",
                        &format!("no {} {}", target["kind"], target["name"]),
                    );
                }
            }
            "PodDisruptionBudget" => {
                let selected = workloads.iter().any(|w| {
                    w.namespace() == r.namespace()
                        && selects(&r.object["spec"]["selector"], &pod_labels(w))
                });
                if !selected {
                    report.add(r, "spec.selector", "selects no workload");
                }
            }
            _ => {}
        }
    }

    let namespaces: BTreeSet<&str> = workloads.iter().map(|w| w.namespace()).collect();
    for namespace in namespaces {
        for direction in ["Ingress", "Egress"] {
            let rules = direction.to_lowercase();
            let denied = resources.iter().any(|p| {
                p.kind() == "NetworkPolicy"
                    && p.namespace() == namespace
                    && is_empty_selector(&p.object["spec"]["podSelector"])
                    && p.object["spec"]["policyTypes"]
                        .as_array()
                        .is_some_and(|t| t.iter().any(|t| t == direction))
                    && p.object["spec"][&rules]
                        .as_array()
                        .is_none_or(|r| r.is_empty())
            });
            if !denied {
                report.lines.push(format!(
                    "[{overlay}] namespace {namespace:?}: no default-deny NetworkPolicy for {direction} \
                     (podSelector {{}}, policyTypes [{direction}], no {rules} rules)"
                ));
            }
        }
    }
    report.lines
}

fn check_service(report: &mut Report<'_>, service: &Resource, workloads: &[&Resource]) {
    let spec = &service.object["spec"];
    if spec["type"] == "ExternalName" {
        return;
    }
    let selector = labels_of(&spec["selector"]);
    if selector.is_empty() {
        report.add(service, "spec.selector", "missing");
        return;
    }
    let selected: Vec<&&Resource> = workloads
        .iter()
        .filter(|w| {
            LONG_RUNNING.contains(&w.kind()) && w.namespace() == service.namespace() && {
                let labels = pod_labels(w);
                selector.iter().all(|(k, v)| labels.get(k) == Some(v))
            }
        })
        .collect();
    if selected.is_empty() {
        report.add(
            service,
            "spec.selector",
            "selects no Deployment, StatefulSet or DaemonSet",
        );
    }
    for (i, port) in spec["ports"].as_array().into_iter().flatten().enumerate() {
        let Some(name) = port["name"].as_str() else {
            report.add(service, &format!("spec.ports[{i}].name"), "missing");
            continue;
        };
        let target = port.get("targetPort").unwrap_or(&port["port"]);
        for w in &selected {
            let pod = pod_spec(&w.object).unwrap_or(&Value::Null);
            let matched = pod["containers"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|c| c["ports"].as_array().into_iter().flatten())
                .find(|cp| {
                    if target.is_string() {
                        cp["name"] == *target
                    } else {
                        cp["containerPort"] == *target
                    }
                });
            match matched {
                None => report.add(
                    service,
                    &format!("spec.ports[{name}].targetPort"),
                    &format!(
                        "{target} is not a container port of {} {}",
                        w.kind(),
                        w.name()
                    ),
                ),
                Some(cp) if cp["name"] != name => report.add(
                    service,
                    &format!("spec.ports[{name}]"),
                    &format!(
                        "targets container port {} of {} {}, whose name is {} (not {name})",
                        cp["containerPort"],
                        w.kind(),
                        w.name(),
                        cp["name"]
                    ),
                ),
                Some(_) => {}
            }
        }
    }
}

#[test]
fn every_overlay_keeps_the_invariants() {
    let documented = Documented::load();
    let mut violations = Vec::new();
    for (name, dir) in kustomizations() {
        let resources = rendered(&name, &dir);
        assert!(!resources.is_empty(), "{name} renders nothing");
        violations.extend(check(&name, &resources, &documented));
    }
    assert!(
        violations.is_empty(),
        "{} violations:\n{}",
        violations.len(),
        violations.join("\n")
    );
}

/// The rendering of `overlay` with one Deployment changed by `mutate`.
fn violations_after(overlay: &str, mutate: impl Fn(&mut Value)) -> Vec<String> {
    let (name, dir) = kustomizations()
        .into_iter()
        .find(|(name, _)| name == overlay)
        .expect("the overlay");
    let mut resources = rendered(&name, &dir);
    let target = resources
        .iter_mut()
        .find(|r| r.kind() == "Deployment")
        .expect("a Deployment");
    mutate(&mut target.object);
    check(&name, &resources, &Documented::load())
}

#[test]
fn the_checks_catch_violations() {
    type Mutation = (&'static str, &'static str, fn(&mut Value));
    let mutations: Vec<Mutation> = vec![
        ("a removed liveness probe", "livenessProbe: missing", |o| {
            o["spec"]["template"]["spec"]["containers"][0]
                .as_object_mut()
                .expect("a container")
                .remove("livenessProbe");
        }),
        (
            "a removed readiness probe",
            "readinessProbe: missing",
            |o| {
                o["spec"]["template"]["spec"]["containers"][0]
                    .as_object_mut()
                    .expect("a container")
                    .remove("readinessProbe");
            },
        ),
        ("an unpinned image", "is not pinned", |o| {
            o["spec"]["template"]["spec"]["containers"][0]["image"] = "fedimpute".into();
        }),
        ("a latest image", "is not pinned", |o| {
            o["spec"]["template"]["spec"]["containers"][0]["image"] = "fedimpute:latest".into();
        }),
        (
            "a removed memory limit",
            "resources.limits.memory: missing",
            |o| {
                o["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
                    .as_object_mut()
                    .expect("limits")
                    .remove("memory");
            },
        ),
        ("a writable root", "readOnlyRootFilesystem: not true", |o| {
            o["spec"]["template"]["spec"]["containers"][0]["securityContext"]["readOnlyRootFilesystem"] =
                false.into();
        }),
        (
            "privilege escalation",
            "allowPrivilegeEscalation: not false",
            |o| {
                o["spec"]["template"]["spec"]["containers"][0]["securityContext"]["allowPrivilegeEscalation"] =
                    true.into();
            },
        ),
        ("kept capabilities", "does not drop ALL", |o| {
            o["spec"]["template"]["spec"]["containers"][0]["securityContext"]["capabilities"]["drop"] =
                serde_json::json!(["NET_RAW"]);
        }),
        ("root", "runAsNonRoot: not true", |o| {
            o["spec"]["template"]["spec"]["containers"][0]["securityContext"]["runAsNonRoot"] =
                false.into();
        }),
        ("a renamed container port", "spec.ports[", |o| {
            for port in o["spec"]["template"]["spec"]["containers"][0]["ports"]
                .as_array_mut()
                .expect("ports")
            {
                port["name"] = "renamed".into();
            }
        }),
        (
            "an undocumented Secret",
            "is not in the table of k8s/README.md",
            |o| {
                let env = &mut o["spec"]["template"]["spec"]["containers"][0]["env"];
                if env.is_null() {
                    *env = serde_json::json!([]);
                }
                env.as_array_mut().expect("env").push(serde_json::json!({
                "name": "X", "valueFrom": {"secretKeyRef": {"name": "not-documented", "key": "x"}}
            }));
            },
        ),
        (
            "no topology spread",
            "topologySpreadConstraints: missing",
            |o| {
                o["spec"]["template"]["spec"]
                    .as_object_mut()
                    .expect("a pod spec")
                    .remove("topologySpreadConstraints");
            },
        ),
        (
            "pods no PodDisruptionBudget selects",
            "PodDisruptionBudget: none selects",
            |o| {
                let labels = o["spec"]["template"]["metadata"]["labels"]
                    .as_object_mut()
                    .expect("labels");
                let keys: Vec<String> = labels.keys().cloned().collect();
                for key in keys {
                    labels.insert(key, "moved".into());
                }
            },
        ),
    ];
    for overlay in ["dev", "prod"] {
        for (what, expected, mutate) in &mutations {
            let violations = violations_after(overlay, mutate);
            assert!(
                violations.iter().any(|v| v.contains(expected)),
                "{overlay}: {what} was not caught (expected {expected:?}); got:\n{}",
                violations.join("\n")
            );
        }
    }
}

#[test]
fn a_missing_default_deny_is_caught() {
    let documented = Documented::load();
    let (name, dir) = kustomizations()
        .into_iter()
        .find(|(n, _)| n == "prod")
        .expect("prod");
    let mut resources = rendered(&name, &dir);
    resources.retain(|r| {
        !(r.kind() == "NetworkPolicy" && is_empty_selector(&r.object["spec"]["podSelector"]))
    });
    let violations = check(&name, &resources, &documented);
    assert!(
        violations
            .iter()
            .any(|v| v.contains("no default-deny NetworkPolicy")),
        "{}",
        violations.join("\n")
    );
}

/// With `FEDIMPUTE_K8S_RENDERED` (set by `.ci/run k8s`): kustomize's own
/// renderings (`<overlay>.yaml`) are the same objects, and keep the
/// invariants too. With `FEDIMPUTE_K8S_WRITE`: this renderer's output is
/// written there, for the schema validation.
#[test]
fn kustomize_renders_the_same() {
    let documented = Documented::load();
    if let Some(out) = std::env::var_os("FEDIMPUTE_K8S_WRITE") {
        let out = PathBuf::from(out);
        fs::create_dir_all(&out).expect("the output directory");
        for (name, dir) in kustomizations() {
            let mut text = String::new();
            for r in rendered(&name, &dir) {
                text.push_str("---\n");
                text.push_str(&serde_norway::to_string(&r.object).expect("YAML"));
            }
            fs::write(out.join(format!("{name}.yaml")), text).expect("write the rendering");
        }
    }
    let Some(dir) = std::env::var_os("FEDIMPUTE_K8S_RENDERED") else {
        eprintln!(
            "FEDIMPUTE_K8S_RENDERED is not set: no kustomize rendering to compare (.ci/run k8s sets it)"
        );
        return;
    };
    let dir = PathBuf::from(dir);
    let mut problems = Vec::new();
    for (name, kustomization) in kustomizations() {
        let path = dir.join(format!("{name}.yaml"));
        let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let theirs: Vec<Resource> = parse_documents(&text, &path)
            .unwrap_or_else(|e| panic!("{e}"))
            .into_iter()
            .map(|object| Resource::new(object, path.clone()))
            .collect();
        problems.extend(check(&name, &theirs, &documented));
        let ours: BTreeMap<String, Value> = rendered(&name, &kustomization)
            .into_iter()
            .map(|r| (r.id(), r.object))
            .collect();
        let theirs: BTreeMap<String, Value> =
            theirs.into_iter().map(|r| (r.id(), r.object)).collect();
        for id in ours.keys().filter(|id| !theirs.contains_key(*id)) {
            problems.push(format!("[{name}] {id}: rendered here, not by kustomize"));
        }
        for (id, object) in &theirs {
            match ours.get(id) {
                None => problems.push(format!("[{name}] {id}: rendered by kustomize, not here")),
                Some(ours) if ours != object => {
                    let at = first_difference(Some(ours), Some(object), String::new());
                    problems.push(format!("[{name}] {id}: differs at {at}"));
                }
                Some(_) => {}
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

fn first_difference(a: Option<&Value>, b: Option<&Value>, at: String) -> String {
    if let (Some(Value::Object(a)), Some(Value::Object(b))) = (a, b) {
        for key in a.keys().chain(b.keys()) {
            if a.get(key) != b.get(key) {
                return first_difference(a.get(key), b.get(key), format!("{at}/{key}"));
            }
        }
    }
    if let (Some(Value::Array(a)), Some(Value::Array(b))) = (a, b)
        && a.len() == b.len()
    {
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            if x != y {
                return first_difference(Some(x), Some(y), format!("{at}/{i}"));
            }
        }
    }
    let show = |v: Option<&Value>| v.map_or_else(|| "absent".to_owned(), Value::to_string);
    format!("{at} (here {}, kustomize {})", show(a), show(b))
}

#[test]
fn the_renderer_merges_and_splits_like_kustomize() {
    use kustomize::{json6902, strategic_merge};
    use serde_json::json;

    assert_eq!(
        split_image("ghcr.io/x/fedimpute:1.2.3"),
        ("ghcr.io/x/fedimpute", ":1.2.3")
    );
    assert_eq!(
        split_image("localhost:5000/fedimpute"),
        ("localhost:5000/fedimpute", "")
    );
    assert_eq!(
        split_image("postgres@sha256:ab"),
        ("postgres", "@sha256:ab")
    );

    let mut deployment = json!({"spec": {"replicas": 1, "template": {"spec": {"containers": [
        {"name": "a", "image": "x:1", "env": [{"name": "K", "value": "1"}]},
        {"name": "b", "image": "y:1"}
    ]}}}});
    strategic_merge(
        &mut deployment,
        &json!({"spec": {"replicas": 3, "template": {"spec": {"containers": [
            {"name": "a", "env": [{"name": "L", "value": "2"}], "args": ["--x"]},
            {"name": "b", "$patch": "delete"}
        ]}}}}),
    );
    assert_eq!(
        deployment,
        json!({"spec": {"replicas": 3, "template": {"spec": {"containers": [
            {"name": "a", "image": "x:1", "env": [{"name": "K", "value": "1"}, {"name": "L", "value": "2"}], "args": ["--x"]}
        ]}}}})
    );

    json6902(
        &mut deployment,
        &json!({"op": "replace", "path": "/spec/replicas", "value": 5}),
    )
    .expect("replace");
    json6902(
        &mut deployment,
        &json!({"op": "add", "path": "/spec/template/spec/containers/0/args/-", "value": "--y"}),
    )
    .expect("add");
    json6902(
        &mut deployment,
        &json!({"op": "remove", "path": "/spec/template/spec/containers/0/env/0"}),
    )
    .expect("remove");
    assert_eq!(deployment["spec"]["replicas"], 5);
    assert_eq!(
        deployment["spec"]["template"]["spec"]["containers"][0]["args"],
        json!(["--x", "--y"])
    );
    assert_eq!(
        deployment["spec"]["template"]["spec"]["containers"][0]["env"],
        json!([{"name": "L", "value": "2"}])
    );
}
