//! A small kustomize, enough for `k8s/`: the checks of `k8s_manifests` must
//! run under `cargo test` alone, with no kustomize or kubectl installed.
//!
//! It renders the subset of kustomization fields that `k8s/` uses and
//! rejects every other field, so that a manifest never silently means
//! something else here than in kustomize:
//!
//! - `resources`: files (several YAML documents each) and directories with a
//!   kustomization of their own; no remote resources;
//! - `namespace`;
//! - `labels` (`pairs`, `includeSelectors`, `includeTemplates`) and
//!   `commonLabels` (selectors of workloads, Services, PodDisruptionBudgets
//!   and NetworkPolicies), `commonAnnotations`;
//! - `images` (`name`, `newName`, `newTag`, `digest`);
//! - `patches` (a file or inline; strategic merge, matched by the patch's
//!   kind and name or by `target`, or JSON 6902 with a `target`),
//!   `patchesStrategicMerge`, `patchesJson6902`;
//! - `configMapGenerator` (`literals`, `files`, `envs`), with the name
//!   suffix hash kustomize computes, and references to the ConfigMap from
//!   pod specs renamed; `generatorOptions` (`disableNameSuffixHash`,
//!   `labels`, `annotations`).
//!
//! CI (`.ci/run k8s`) renders the same overlays with `kubectl kustomize` and
//! the test compares both renderings object by object.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use serde::Deserialize as _;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

/// A rendered object and the file it came from.
#[derive(Debug, Clone)]
pub(crate) struct Resource {
    pub(crate) object: Value,
    pub(crate) origin: PathBuf,
    /// A generated ConfigMap whose name gets the hash suffix at the end.
    needs_hash: bool,
}

impl Resource {
    pub(crate) fn new(object: Value, origin: PathBuf) -> Self {
        Self {
            object,
            origin,
            needs_hash: false,
        }
    }

    pub(crate) fn kind(&self) -> &str {
        self.object["kind"].as_str().unwrap_or("")
    }

    pub(crate) fn name(&self) -> &str {
        self.object["metadata"]["name"].as_str().unwrap_or("")
    }

    pub(crate) fn namespace(&self) -> &str {
        self.object["metadata"]["namespace"].as_str().unwrap_or("")
    }

    /// `apiVersion kind namespace/name`: one object of a rendering.
    pub(crate) fn id(&self) -> String {
        format!(
            "{} {} {}/{}",
            self.object["apiVersion"].as_str().unwrap_or(""),
            self.kind(),
            self.namespace(),
            self.name()
        )
    }
}

const FIELDS: &[&str] = &[
    "apiVersion",
    "kind",
    "resources",
    "namespace",
    "labels",
    "commonLabels",
    "commonAnnotations",
    "images",
    "patches",
    "patchesStrategicMerge",
    "patchesJson6902",
    "configMapGenerator",
    "generatorOptions",
];

/// Parses every YAML document of `text` (empty documents skipped).
pub(crate) fn parse_documents(text: &str, origin: &Path) -> Result<Vec<Value>, String> {
    let mut out = Vec::new();
    for document in serde_norway::Deserializer::from_str(text) {
        let mut value = Value::deserialize(document)
            .map_err(|e| format!("{}: invalid YAML: {e}", origin.display()))?;
        octal_modes(&mut value);
        if !value.is_null() {
            out.push(value);
        }
    }
    Ok(out)
}

/// The items of the list `key` of `value`, if any (indexing would insert a
/// `null` where there is none).
fn items_mut<'a>(value: &'a mut Value, key: &str) -> impl Iterator<Item = &'a mut Value> {
    value
        .get_mut(key)
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
}

/// File modes written `0440`: YAML 1.1 octal for kustomize and kubectl, a
/// string for serde_norway (YAML 1.2).
fn octal_modes(value: &mut Value) {
    if let Some(map) = value.as_object_mut() {
        for (key, v) in map.iter_mut() {
            let octal = v
                .as_str()
                .filter(|_| key == "defaultMode" || key == "mode")
                .map(|text| text.strip_prefix("0o").unwrap_or(text))
                .and_then(|digits| u64::from_str_radix(digits, 8).ok());
            if let Some(mode) = octal {
                *v = mode.into();
            } else {
                octal_modes(v);
            }
        }
    } else if let Some(items) = value.as_array_mut() {
        items.iter_mut().for_each(octal_modes);
    }
}

fn read(path: &Path) -> Result<String, String> {
    fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

fn kustomization_file(dir: &Path) -> Result<PathBuf, String> {
    ["kustomization.yaml", "kustomization.yml", "Kustomization"]
        .iter()
        .map(|name| dir.join(name))
        .find(|path| path.is_file())
        .ok_or_else(|| format!("{}: no kustomization.yaml", dir.display()))
}

/// Renders the kustomization in `dir`, as `kustomize build dir` does: the
/// generated ConfigMaps get their hash suffix last, and the pod specs that
/// read them the suffixed names.
pub(crate) fn render(dir: &Path) -> Result<Vec<Resource>, String> {
    let mut resources = build(dir)?;
    let mut renames = Vec::new();
    for r in resources.iter_mut().filter(|r| r.needs_hash) {
        let name = r.name().to_owned();
        let hashed = format!("{name}-{}", name_hash(&r.object));
        r.object["metadata"]["name"] = hashed.clone().into();
        r.needs_hash = false;
        renames.push((r.namespace().to_owned(), name, hashed));
    }
    for (namespace, from, to) in &renames {
        for r in resources.iter_mut().filter(|r| r.namespace() == namespace) {
            rename_config_map_refs(&mut r.object, from, to);
        }
    }
    Ok(resources)
}

fn build(dir: &Path) -> Result<Vec<Resource>, String> {
    let file = kustomization_file(dir)?;
    let documents = parse_documents(&read(&file)?, &file)?;
    let [k] = documents.as_slice() else {
        return Err(format!("{}: expected one YAML document", file.display()));
    };
    let Some(k) = k.as_object() else {
        return Err(format!("{}: not a mapping", file.display()));
    };
    let unsupported: Vec<&str> = k
        .keys()
        .map(String::as_str)
        .filter(|key| !FIELDS.contains(key))
        .collect();
    if !unsupported.is_empty() {
        return Err(format!(
            "{}: kustomization fields {unsupported:?} are not rendered by \
             tests/tests/e2e/k8s_manifests/kustomize.rs: use only {FIELDS:?}, or extend it",
            file.display()
        ));
    }
    let ctx = |what: &str| format!("{}: {what}", file.display());

    let mut resources = Vec::new();
    for entry in strings(k.get("resources"), &ctx("resources"))? {
        if entry.contains("://") || entry.starts_with("github.com/") {
            return Err(ctx(&format!("remote resource {entry} is not supported")));
        }
        let path = dir.join(&entry);
        if path.is_dir() {
            resources.extend(build(&path)?);
        } else {
            for object in parse_documents(&read(&path)?, &path)? {
                resources.push(Resource::new(object, path.clone()));
            }
        }
    }

    let options = k.get("generatorOptions").cloned().unwrap_or(Value::Null);
    if let Some(generators) = k.get("configMapGenerator") {
        for generator in generators
            .as_array()
            .ok_or_else(|| ctx("configMapGenerator"))?
        {
            let generated = config_map(dir, &file, generator, &options)?;
            let existing = resources
                .iter_mut()
                .find(|r| r.kind() == "ConfigMap" && r.name() == generated.name());
            match (generator["behavior"].as_str().unwrap_or("create"), existing) {
                ("create", None) => resources.push(generated),
                ("merge", Some(existing)) => {
                    strategic_merge(&mut existing.object, &generated.object);
                    existing.needs_hash = generated.needs_hash;
                }
                ("replace", Some(existing)) => {
                    existing.object = generated.object;
                    existing.needs_hash = generated.needs_hash;
                }
                (behavior, existing) => {
                    return Err(ctx(&format!(
                        "configMapGenerator {}: behavior {behavior} {}",
                        generated.name(),
                        if existing.is_some() {
                            "but it exists"
                        } else {
                            "but there is none to change"
                        }
                    )));
                }
            }
        }
    }

    // The order of kustomize's built-in transformers.
    for patch in strings(
        k.get("patchesStrategicMerge"),
        &ctx("patchesStrategicMerge"),
    )? {
        let (body, origin) = patch_body(dir, &Value::String(patch))?;
        apply_patch(&mut resources, &body, None, &origin)?;
    }
    if let Some(patches) = k.get("patches") {
        for patch in patches.as_array().ok_or_else(|| ctx("patches"))? {
            let source = patch
                .get("path")
                .or_else(|| patch.get("patch"))
                .ok_or_else(|| ctx("a patch with neither path nor patch"))?;
            let (body, origin) = if patch.get("path").is_some() {
                patch_body(dir, source)?
            } else {
                let text = source.as_str().ok_or_else(|| ctx("patch"))?;
                (parse_documents(text, &file)?, file.clone())
            };
            apply_patch(&mut resources, &body, patch.get("target"), &origin)?;
        }
    }
    if let Some(namespace) = k.get("namespace").and_then(Value::as_str) {
        for r in &mut resources {
            set_namespace(&mut r.object, namespace);
        }
    }
    if let Some(labels) = k.get("commonLabels") {
        let pairs = string_map(labels, &ctx("commonLabels"))?;
        for r in &mut resources {
            add_labels(&mut r.object, &pairs, true, true);
        }
    }
    if let Some(entries) = k.get("labels") {
        for entry in entries.as_array().ok_or_else(|| ctx("labels"))? {
            let pairs = string_map(&entry["pairs"], &ctx("labels.pairs"))?;
            let selectors = entry["includeSelectors"].as_bool().unwrap_or(false);
            let templates = selectors || entry["includeTemplates"].as_bool().unwrap_or(false);
            if entry.get("fields").is_some() {
                return Err(ctx("labels.fields is not supported"));
            }
            for r in &mut resources {
                add_labels(&mut r.object, &pairs, selectors, templates);
            }
        }
    }
    if let Some(annotations) = k.get("commonAnnotations") {
        let pairs = string_map(annotations, &ctx("commonAnnotations"))?;
        for r in &mut resources {
            add_annotations(&mut r.object, &pairs);
        }
    }
    for patch in k
        .get("patchesJson6902")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let (body, origin) = match patch.get("path") {
            Some(path) => patch_body(dir, path)?,
            None => {
                let text = patch["patch"]
                    .as_str()
                    .ok_or_else(|| ctx("patchesJson6902"))?;
                (parse_documents(text, &file)?, file.clone())
            }
        };
        apply_patch(&mut resources, &body, patch.get("target"), &origin)?;
    }
    if let Some(images) = k.get("images") {
        for image in images.as_array().ok_or_else(|| ctx("images"))? {
            let mut hits = 0;
            for r in &mut resources {
                hits += set_image(&mut r.object, image)?;
            }
            // kustomize accepts a rule that changes nothing; here it is an
            // error: an overlay's tag or digest that silently does not apply.
            if hits == 0 {
                return Err(ctx(&format!(
                    "images: {} matches no container image (the names are those after the \
                     images rules of the bases: newName renames)",
                    image["name"]
                )));
            }
        }
    }
    Ok(resources)
}

fn strings(value: Option<&Value>, ctx: &str) -> Result<Vec<String>, String> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    value
        .as_array()
        .ok_or_else(|| format!("{ctx}: not a list"))?
        .iter()
        .map(|v| {
            v.as_str()
                .map(str::to_owned)
                .ok_or_else(|| format!("{ctx}: {v} is not a string"))
        })
        .collect()
}

fn string_map(value: &Value, ctx: &str) -> Result<BTreeMap<String, String>, String> {
    let Some(map) = value.as_object() else {
        return Err(format!("{ctx}: not a mapping"));
    };
    map.iter()
        .map(|(k, v)| {
            v.as_str()
                .map(|v| (k.clone(), v.to_owned()))
                .ok_or_else(|| format!("{ctx}: {k} is not a string"))
        })
        .collect()
}

fn patch_body(dir: &Path, path: &Value) -> Result<(Vec<Value>, PathBuf), String> {
    let path = dir.join(path.as_str().ok_or("a patch path is not a string")?);
    let documents = parse_documents(&read(&path)?, &path)?;
    Ok((documents, path))
}

fn apply_patch(
    resources: &mut Vec<Resource>,
    documents: &[Value],
    target: Option<&Value>,
    origin: &Path,
) -> Result<(), String> {
    let context = origin.display();
    if let [Value::Array(operations)] = documents {
        let target =
            target.ok_or_else(|| format!("{context}: a JSON 6902 patch needs a target"))?;
        for r in resources.iter_mut().filter(|r| matches(r, target)) {
            for operation in operations {
                json6902(&mut r.object, operation)
                    .map_err(|e| format!("{context}: {} on {}: {e}", operation, r.id()))?;
            }
        }
        return Ok(());
    }
    for patch in documents {
        if !patch.is_object() {
            return Err(format!(
                "{context}: a patch is neither a mapping nor a list"
            ));
        }
        let mut hits = 0;
        let delete = patch["$patch"].as_str() == Some("delete");
        for r in resources.iter_mut() {
            let hit = match target {
                Some(target) => matches(r, target),
                None => {
                    r.kind() == patch["kind"].as_str().unwrap_or("")
                        && r.name() == patch["metadata"]["name"].as_str().unwrap_or("")
                        && patch["metadata"]["namespace"]
                            .as_str()
                            .is_none_or(|ns| ns == r.namespace())
                }
            };
            if hit {
                hits += 1;
                let mut body = patch.clone();
                if target.is_some() {
                    // The patch's own identity does not rename its targets.
                    if let Some(metadata) = body.get_mut("metadata").and_then(Value::as_object_mut)
                    {
                        metadata.remove("name");
                        metadata.remove("namespace");
                    }
                }
                if delete {
                    r.object = Value::Null;
                } else {
                    strategic_merge(&mut r.object, &body);
                }
            }
        }
        resources.retain(|r| !r.object.is_null());
        if hits == 0 && target.is_none() {
            return Err(format!(
                "{context}: the patch of {} {} matches no resource",
                patch["kind"], patch["metadata"]["name"]
            ));
        }
    }
    Ok(())
}

fn matches(r: &Resource, target: &Value) -> bool {
    let (group, version) = match r.object["apiVersion"]
        .as_str()
        .unwrap_or("")
        .split_once('/')
    {
        Some((group, version)) => (group, version),
        None => ("", r.object["apiVersion"].as_str().unwrap_or("")),
    };
    let field = |key: &str, actual: &str| target[key].as_str().is_none_or(|want| want == actual);
    // kustomize matches names and namespaces as anchored regular expressions.
    let pattern = |key: &str, actual: &str| {
        target[key].as_str().is_none_or(|want| {
            regex::Regex::new(&format!("^(?:{want})$"))
                .map_or(want == actual, |re| re.is_match(actual))
        })
    };
    let labels_match = target["labelSelector"].as_str().is_none_or(|selector| {
        selector.split(',').all(|term| {
            let (k, v) = term.split_once('=').unwrap_or((term, ""));
            r.object["metadata"]["labels"][k.trim()].as_str() == Some(v.trim())
        })
    });
    field("group", group)
        && field("version", version)
        && field("kind", r.kind())
        && pattern("name", r.name())
        && pattern("namespace", r.namespace())
        && labels_match
}

/// Lists merged by a key rather than replaced, as in the Kubernetes types.
fn merge_key(field: &str, item: &Value) -> Option<&'static str> {
    let key = match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "volumes"
        | "env"
        | "imagePullSecrets" => "name",
        "volumeMounts" => "mountPath",
        "volumeDevices" => "devicePath",
        "ports" if item.get("containerPort").is_some() => "containerPort",
        "ports" => "port",
        "topologySpreadConstraints" => "topologyKey",
        "hostAliases" => "ip",
        _ => return None,
    };
    Some(key)
}

/// A strategic merge patch on plain JSON: maps merge, `null` deletes, lists
/// with a merge key merge item by item (`$patch: delete` removes one), other
/// lists are replaced.
pub(crate) fn strategic_merge(target: &mut Value, patch: &Value) {
    let (Some(target_map), Some(patch_map)) = (target.as_object_mut(), patch.as_object()) else {
        *target = patch.clone();
        return;
    };
    if patch_map.get("$patch").and_then(Value::as_str) == Some("replace") {
        let mut replaced = patch_map.clone();
        replaced.remove("$patch");
        *target_map = replaced;
        return;
    }
    for (key, value) in patch_map {
        if key.starts_with("$setElementOrder") || key == "$patch" {
            continue;
        }
        if value.is_null() {
            target_map.remove(key);
            continue;
        }
        match (target_map.get_mut(key), value) {
            (Some(Value::Array(items)), Value::Array(patches)) => {
                merge_list(key, items, patches);
            }
            (Some(existing), Value::Object(_)) if existing.is_object() => {
                strategic_merge(existing, value);
            }
            (Some(_) | None, _) => {
                let mut value = value.clone();
                strip_directives(&mut value);
                target_map.insert(key.clone(), value);
            }
        }
    }
}

fn merge_list(field: &str, items: &mut Vec<Value>, patches: &[Value]) {
    let Some(key) = patches.first().and_then(|p| merge_key(field, p)) else {
        *items = patches.to_vec();
        items.retain(|item| item.get("$patch").is_none());
        return;
    };
    for patch in patches {
        let position = items
            .iter()
            .position(|item| item.get(key) == patch.get(key));
        let delete = patch.get("$patch").and_then(Value::as_str) == Some("delete");
        match (position, delete) {
            (Some(i), true) => {
                items.remove(i);
            }
            (Some(i), false) => strategic_merge(&mut items[i], patch),
            (None, true) => {}
            (None, false) => {
                let mut patch = patch.clone();
                strip_directives(&mut patch);
                items.push(patch);
            }
        }
    }
}

fn strip_directives(value: &mut Value) {
    if let Some(map) = value.as_object_mut() {
        map.retain(|k, _| !k.starts_with('$'));
        map.values_mut().for_each(strip_directives);
    } else if let Some(items) = value.as_array_mut() {
        items.iter_mut().for_each(strip_directives);
    }
}

fn pointer_tokens(path: &str) -> Result<Vec<String>, String> {
    if path.is_empty() {
        return Ok(Vec::new());
    }
    let rest = path
        .strip_prefix('/')
        .ok_or_else(|| format!("path {path} does not start with /"))?;
    Ok(rest
        .split('/')
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect())
}

fn parent<'a>(root: &'a mut Value, tokens: &[String]) -> Result<&'a mut Value, String> {
    let mut node = root;
    for token in tokens {
        node = match node {
            Value::Array(items) => {
                let i: usize = token.parse().map_err(|_| format!("bad index {token}"))?;
                items
                    .get_mut(i)
                    .ok_or_else(|| format!("no index {token}"))?
            }
            Value::Object(map) => map
                .get_mut(token)
                .ok_or_else(|| format!("no field {token}"))?,
            Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => {
                return Err(format!("{token}: not a container"));
            }
        };
    }
    Ok(node)
}

fn add_at(root: &mut Value, path: &str, value: Value, replace: bool) -> Result<(), String> {
    let tokens = pointer_tokens(path)?;
    let Some((last, init)) = tokens.split_last() else {
        *root = value;
        return Ok(());
    };
    let node = parent(root, init)?;
    if let Some(items) = node.as_array_mut() {
        let i = if last == "-" {
            items.len()
        } else {
            last.parse().map_err(|_| format!("bad index {last}"))?
        };
        if replace {
            *items.get_mut(i).ok_or_else(|| format!("no index {i}"))? = value;
        } else if i <= items.len() {
            items.insert(i, value);
        } else {
            return Err(format!("index {i} out of range"));
        }
    } else if let Some(map) = node.as_object_mut() {
        if replace && !map.contains_key(last) {
            return Err(format!("no field {last} to replace"));
        }
        map.insert(last.clone(), value);
    } else {
        return Err(format!("{path}: parent is not a container"));
    }
    Ok(())
}

fn remove_at(root: &mut Value, path: &str) -> Result<Value, String> {
    let tokens = pointer_tokens(path)?;
    let (last, init) = tokens.split_last().ok_or("cannot remove the root")?;
    let node = parent(root, init)?;
    if let Some(items) = node.as_array_mut() {
        let i: usize = last.parse().map_err(|_| format!("bad index {last}"))?;
        (i < items.len())
            .then(|| items.remove(i))
            .ok_or_else(|| format!("no index {i}"))
    } else if let Some(map) = node.as_object_mut() {
        map.remove(last).ok_or_else(|| format!("no field {last}"))
    } else {
        Err(format!("{path}: parent is not a container"))
    }
}

/// One JSON patch (RFC 6902) operation.
pub(crate) fn json6902(object: &mut Value, operation: &Value) -> Result<(), String> {
    let path = operation["path"].as_str().ok_or("no path")?;
    let value = || operation.get("value").cloned().ok_or("no value");
    let from = || operation["from"].as_str().ok_or("no from");
    match operation["op"].as_str().ok_or("no op")? {
        "add" => add_at(object, path, value()?, false),
        "replace" => add_at(object, path, value()?, true),
        "remove" => remove_at(object, path).map(drop),
        "move" => {
            let moved = remove_at(object, from()?)?;
            add_at(object, path, moved, false)
        }
        "copy" => {
            let copied = object.pointer(from()?).cloned().ok_or("nothing at from")?;
            add_at(object, path, copied, false)
        }
        "test" => (object.pointer(path) == Some(&value()?))
            .then_some(())
            .ok_or_else(|| "test failed".to_owned()),
        other => Err(format!("unknown op {other}")),
    }
}

pub(crate) const CLUSTER_SCOPED: &[&str] = &[
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "PersistentVolume",
    "StorageClass",
    "PriorityClass",
    "CustomResourceDefinition",
    "IngressClass",
    "RuntimeClass",
    "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration",
    "APIService",
];

fn set_namespace(object: &mut Value, namespace: &str) {
    let kind = object["kind"].as_str().unwrap_or("").to_owned();
    if CLUSTER_SCOPED.contains(&kind.as_str()) {
        return;
    }
    if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.insert("namespace".into(), namespace.into());
    }
    if kind == "RoleBinding" || kind == "ClusterRoleBinding" {
        for subject in items_mut(object, "subjects") {
            if subject["kind"] == "ServiceAccount" {
                subject["namespace"] = namespace.into();
            }
        }
    }
}

/// Adds `pairs` to the map at `path`, creating it if `create`.
fn add_pairs(object: &mut Value, path: &[&str], pairs: &BTreeMap<String, String>, create: bool) {
    let mut node = object;
    for (i, key) in path.iter().enumerate() {
        let is_last = i == path.len() - 1;
        let Some(map) = node.as_object_mut() else {
            return;
        };
        if !map.contains_key(*key) || map[*key].is_null() {
            if !create {
                return;
            }
            map.insert((*key).to_owned(), Value::Object(Map::new()));
        }
        node = &mut map[*key];
        if is_last && let Some(map) = node.as_object_mut() {
            for (k, v) in pairs {
                map.insert(k.clone(), v.clone().into());
            }
        }
    }
}

fn pod_template_paths(kind: &str) -> &'static [&'static [&'static str]] {
    match kind {
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" => {
            &[&["spec", "template", "metadata"]]
        }
        "CronJob" => &[
            &["spec", "jobTemplate", "metadata"],
            &["spec", "jobTemplate", "spec", "template", "metadata"],
        ],
        _ => &[],
    }
}

fn add_labels(
    object: &mut Value,
    pairs: &BTreeMap<String, String>,
    selectors: bool,
    templates: bool,
) {
    let kind = object["kind"].as_str().unwrap_or("").to_owned();
    add_pairs(object, &["metadata", "labels"], pairs, true);
    if templates {
        for path in pod_template_paths(&kind) {
            let path: Vec<&str> = path.iter().copied().chain(["labels"]).collect();
            add_pairs(object, &path, pairs, true);
        }
    }
    if !selectors {
        return;
    }
    match kind.as_str() {
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" => {
            add_pairs(object, &["spec", "selector", "matchLabels"], pairs, true);
        }
        "Job" => add_pairs(object, &["spec", "selector", "matchLabels"], pairs, false),
        "Service" => add_pairs(object, &["spec", "selector"], pairs, true),
        "PodDisruptionBudget" => {
            add_pairs(object, &["spec", "selector", "matchLabels"], pairs, false);
        }
        "NetworkPolicy" => {
            add_pairs(
                object,
                &["spec", "podSelector", "matchLabels"],
                pairs,
                false,
            );
            for (rules, peers) in [("ingress", "from"), ("egress", "to")] {
                for rule in object
                    .get_mut("spec")
                    .into_iter()
                    .flat_map(|spec| items_mut(spec, rules))
                {
                    for peer in items_mut(rule, peers) {
                        add_pairs(peer, &["podSelector", "matchLabels"], pairs, false);
                    }
                }
            }
        }
        _ => {}
    }
}

fn add_annotations(object: &mut Value, pairs: &BTreeMap<String, String>) {
    let kind = object["kind"].as_str().unwrap_or("").to_owned();
    add_pairs(object, &["metadata", "annotations"], pairs, true);
    for path in pod_template_paths(&kind) {
        let path: Vec<&str> = path.iter().copied().chain(["annotations"]).collect();
        add_pairs(object, &path, pairs, true);
    }
}

/// The pod spec of a workload, if it is one.
pub(crate) fn pod_spec(object: &Value) -> Option<&Value> {
    let path = match object["kind"].as_str()? {
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" => "/spec/template/spec",
        "CronJob" => "/spec/jobTemplate/spec/template/spec",
        "Pod" => "/spec",
        _ => return None,
    };
    object.pointer(path)
}

fn pod_spec_mut(object: &mut Value) -> Option<&mut Value> {
    let path = match object["kind"].as_str()? {
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" => "/spec/template/spec",
        "CronJob" => "/spec/jobTemplate/spec/template/spec",
        "Pod" => "/spec",
        _ => return None,
    };
    object.pointer_mut(path)
}

/// Splits an image reference into its name and its `:tag` / `@digest` tail.
pub(crate) fn split_image(image: &str) -> (&str, &str) {
    if let Some(at) = image.find('@') {
        return image.split_at(at);
    }
    let slash = image.rfind('/').map_or(0, |i| i + 1);
    match image[slash..].rfind(':') {
        Some(colon) => image.split_at(slash + colon),
        None => (image, ""),
    }
}

fn set_image(object: &mut Value, rule: &Value) -> Result<usize, String> {
    let name = rule["name"]
        .as_str()
        .ok_or("images: an entry without name")?;
    for key in rule.as_object().into_iter().flatten().map(|(k, _)| k) {
        if !["name", "newName", "newTag", "digest"].contains(&key.as_str()) {
            return Err(format!("images: field {key} is not supported"));
        }
    }
    let Some(spec) = pod_spec_mut(object) else {
        return Ok(0);
    };
    let mut hits = 0;
    for list in ["initContainers", "containers"] {
        for container in items_mut(spec, list) {
            let Some(image) = container["image"].as_str() else {
                continue;
            };
            let (old_name, old_tail) = split_image(image);
            if old_name != name {
                continue;
            }
            let new_name = rule["newName"].as_str().unwrap_or(old_name);
            let tail = if let Some(digest) = rule["digest"].as_str() {
                format!("@{digest}")
            } else if let Some(tag) = rule["newTag"].as_str() {
                format!(":{tag}")
            } else {
                old_tail.to_owned()
            };
            container["image"] = format!("{new_name}{tail}").into();
            hits += 1;
        }
    }
    Ok(hits)
}

/// kustomize's name suffix (api/hasher): the SHA-256 of Go's JSON encoding
/// of `{"data", "kind", "name"}`, 10 characters of its hex with some letters
/// swapped. kustomize looks the name up as one field `metadata/name`, finds
/// none and hashes `""`; so does this.
fn name_hash(config_map: &Value) -> String {
    let mut encoded = Map::new();
    encoded.insert("kind".into(), "ConfigMap".into());
    encoded.insert("name".into(), "".into());
    encoded.insert(
        "data".into(),
        config_map.get("data").cloned().unwrap_or_else(|| "".into()),
    );
    if let Some(binary) = config_map.get("binaryData").filter(|b| b.is_object()) {
        encoded.insert("binaryData".into(), binary.clone());
    }
    // serde_json's maps are sorted, as Go's encoding/json sorts map keys; Go
    // also escapes <, > and & (only ever inside strings here).
    let text = serde_json::to_string(&Value::Object(encoded))
        .unwrap_or_default()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029");
    let digest = Sha256::digest(text.as_bytes());
    let mut hex = String::new();
    for byte in digest {
        let _ = write!(hex, "{byte:02x}");
    }
    hex[..10]
        .chars()
        .map(|c| match c {
            '0' => 'g',
            '1' => 'h',
            '3' => 'k',
            'a' => 'm',
            'e' => 't',
            other => other,
        })
        .collect()
}

fn config_map(
    dir: &Path,
    file: &Path,
    generator: &Value,
    options: &Value,
) -> Result<Resource, String> {
    let ctx = |what: &str| format!("{}: configMapGenerator: {what}", file.display());
    for key in generator.as_object().into_iter().flatten().map(|(k, _)| k) {
        if !["name", "behavior", "literals", "files", "envs", "options"].contains(&key.as_str()) {
            return Err(ctx(&format!("field {key} is not supported")));
        }
    }
    let name = generator["name"].as_str().ok_or_else(|| ctx("no name"))?;
    let mut data = Map::new();
    for literal in strings(generator.get("literals"), &ctx("literals"))? {
        let (k, v) = literal
            .split_once('=')
            .ok_or_else(|| ctx(&format!("literal {literal} has no =")))?;
        data.insert(k.to_owned(), unquote(v).into());
    }
    for entry in strings(generator.get("envs"), &ctx("envs"))? {
        for line in read(&dir.join(&entry))?.lines() {
            let line = line.trim_start();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (k, v) = line.split_once('=').unwrap_or((line, ""));
            data.insert(k.to_owned(), v.into());
        }
    }
    for entry in strings(generator.get("files"), &ctx("files"))? {
        let (key, path) = match entry.split_once('=') {
            Some((key, path)) => (key.to_owned(), path.to_owned()),
            None => {
                let key = Path::new(&entry)
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                (key, entry.clone())
            }
        };
        data.insert(key, read(&dir.join(path))?.into());
    }
    let mut object = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name},
        "data": data,
    });
    let own = &generator["options"];
    for field in ["labels", "annotations"] {
        for source in [options, own] {
            if let Some(pairs) = source.get(field) {
                let pairs = string_map(pairs, &ctx(field))?;
                add_pairs(&mut object, &["metadata", field], &pairs, true);
            }
        }
    }
    let no_hash = own["disableNameSuffixHash"]
        .as_bool()
        .or_else(|| options["disableNameSuffixHash"].as_bool())
        .unwrap_or(false);
    Ok(Resource {
        object,
        origin: file.to_path_buf(),
        needs_hash: !no_hash,
    })
}

fn unquote(value: &str) -> &str {
    for quote in ['"', '\''] {
        if let Some(inner) = value
            .strip_prefix(quote)
            .and_then(|v| v.strip_suffix(quote))
        {
            return inner;
        }
    }
    value
}

/// Renames references to a generated ConfigMap in pod specs.
fn rename_config_map_refs(object: &mut Value, from: &str, to: &str) {
    let Some(spec) = pod_spec_mut(object) else {
        return;
    };
    let rename = |node: &mut Value| {
        if node["name"] == from {
            node["name"] = to.into();
        }
    };
    for volume in items_mut(spec, "volumes") {
        if let Some(config_map) = volume.get_mut("configMap") {
            rename(config_map);
        }
        for source in volume
            .pointer_mut("/projected/sources")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            if let Some(config_map) = source.get_mut("configMap") {
                rename(config_map);
            }
        }
    }
    for list in ["initContainers", "containers"] {
        for container in items_mut(spec, list) {
            for env_from in items_mut(container, "envFrom") {
                if let Some(config_map) = env_from.get_mut("configMapRef") {
                    rename(config_map);
                }
            }
            for env in items_mut(container, "env") {
                if let Some(key_ref) = env.pointer_mut("/valueFrom/configMapKeyRef") {
                    rename(key_ref);
                }
            }
        }
    }
}
