//! The contract cases of `gateway_contract`: the original web client's
//! calls (original-system.md §9), page by page, in the order a user meets
//! them. `<name>` in a path or body is a variable of the run.

/// Who calls.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Auth {
    Anonymous,
    Researcher,
    Admin,
    /// A token saved from an earlier reply.
    Saved(&'static str),
}

/// What is sent; `<name>` in a template is a variable.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Body {
    None,
    Json(&'static str),
    /// The original's multipart job form, with the VCF in `input_file`.
    JobForm(&'static [(&'static str, &'static str)]),
}

/// What the client reads back.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Shape {
    /// An object with these keys.
    Object(&'static [&'static str]),
    /// A bare array of at least `min` objects, each with `keys`.
    List {
        min: usize,
        keys: &'static [&'static str],
    },
    /// A bare array of at least one object, each with `key` equal to the
    /// (filled) value.
    ListOf(&'static str, &'static str),
    /// The JSON error with this code.
    Error(&'static str),
    /// The gateway's route miss: a JSON 404 that reached no service.
    Miss,
    NoContent,
    /// A file download.
    File,
}

#[derive(Debug)]
pub(crate) struct Case {
    pub(crate) page: &'static str,
    pub(crate) method: &'static str,
    pub(crate) path: &'static str,
    pub(crate) auth: Auth,
    pub(crate) body: Body,
    pub(crate) status: u16,
    pub(crate) shape: Shape,
    /// Saves a value of the reply (a JSON pointer) as a variable.
    pub(crate) save: Option<(&'static str, &'static str)>,
}

pub(crate) fn case(
    page: &'static str,
    method: &'static str,
    path: &'static str,
    auth: Auth,
    body: Body,
    status: u16,
    shape: Shape,
) -> Case {
    Case {
        page,
        method,
        path,
        auth,
        body,
        status,
        shape,
        save: None,
    }
}

impl Case {
    pub(crate) fn saving(mut self, name: &'static str, pointer: &'static str) -> Self {
        self.save = Some((name, pointer));
        self
    }
}

pub(crate) const SERVICE_KEYS: &[&str] = &[
    "id",
    "name",
    "slug",
    "api_type",
    "base_url",
    "health_status",
    "is_active",
];
pub(crate) const PANEL_KEYS: &[&str] = &[
    "id",
    "service_id",
    "name",
    "external_id",
    "build",
    "populations",
];
pub(crate) const JOB_KEYS: &[&str] = &[
    "id",
    "name",
    "status",
    "progress_percentage",
    "error_message",
    "external_job_id",
    "service_id",
    "reference_panel_id",
    "service_name",
    "reference_panel_name",
    "build",
    "phasing",
    "population",
    "input_format",
    "input_file_name",
    "created_at",
    "updated_at",
    "started_at",
    "completed_at",
    "service_response",
];
pub(crate) const DISCOVER: &str =
    "/api/services/discover?only_active=true&only_healthy=true&limit=50";

#[rustfmt::skip]
pub(crate) fn table() -> Vec<Case> {
    use Auth::{Admin, Anonymous, Researcher, Saved};
    use Body::{JobForm, Json, None as NoBody};
    use Shape::{Error, File, List, ListOf, Miss, NoContent, Object};
    vec![
        case("landing", "GET", "/api/services/", Anonymous, NoBody, 200, List { min: 3, keys: SERVICE_KEYS }),
        case("landing", "GET", "/api/reference-panels/", Anonymous, NoBody, 200, List { min: 2, keys: PANEL_KEYS }),
        case("landing", "GET", "/health", Anonymous, NoBody, 200, Object(&["status", "timestamp", "services"])),
        case("login", "POST", "/api/auth/login/", Anonymous, Json(r#"{"username": "ada", "password": "<password>"}"#), 200,
            Object(&["access_token", "refresh_token", "token_type", "expires_in", "user"])).saving("session", "/access_token"),
        case("login", "GET", "/api/auth/user/", Saved("session"), NoBody, 200, Object(&["id", "username", "email", "roles", "profile", "is_staff"])),
        case("dashboard", "GET", "/api/dashboard/stats/", Saved("session"), NoBody, 200, Object(&["job_stats", "service_stats", "recent_jobs"])),
        case("dashboard", "GET", "/api/services/", Saved("session"), NoBody, 200, List { min: 3, keys: SERVICE_KEYS }),
        case("services", "GET", DISCOVER, Saved("session"), NoBody, 200, List { min: 1, keys: &["service", "discovery_metadata"] }),
        case("services", "GET", "/api/reference-panels?service_id=<svc>", Saved("session"), NoBody, 200, ListOf("service_id", "<svc>")),
        case("services", "GET", "/api/services/<svc>/health/", Saved("session"), NoBody, 200, Object(&["service_id", "status", "is_available", "response_time_ms", "checked_at"])),
        case("services", "POST", "/api/reference-panels", Admin, Json(r#"{"service_id": <scratch>, "name": "Scratch panel", "external_id": "scratch-1", "build": "hg38"}"#), 201, Object(PANEL_KEYS)),
        case("services", "POST", "/api/services/", Admin, Json(r#"{"name": "Added in the UI", "api_type": "ga4gh", "base_url": "https://wes.example.org"}"#), 201, Object(SERVICE_KEYS)),
        case("services", "POST", "/api/services/", Researcher, Json(r#"{"name": "Mine", "api_type": "ga4gh", "base_url": "https://mine.example.org"}"#), 403, Error("PERMISSION_DENIED")),
        case("services", "PATCH", "/api/services/<scratch>/", Admin, Json(r#"{"description": "edited in the UI"}"#), 200, Object(SERVICE_KEYS)),
        case("services", "DELETE", "/api/services/<scratch>/", Admin, NoBody, 200, Object(&["message", "deleted_service_id", "deleted_panels"])),
        case("service detail", "GET", "/api/services/<svc>/", Saved("session"), NoBody, 200,
            Object(&["location_country", "location_coordinates", "cpu_total", "queue_capacity", "api_config", "supported_builds"])),
        case("service detail", "POST", "/api/services/<svc>/sync_reference_panels/", Admin, Json("{}"), 404, Miss),
        case("service detail", "POST", "/api/services/<svc>/sync-reference-panels/", Admin, Json(r#"{"api_token": "<cg>"}"#), 200,
            Object(&["service_id", "app_id", "created", "updated", "unchanged", "panels"])),
        case("new job", "GET", DISCOVER, Saved("session"), NoBody, 200, List { min: 1, keys: &["service", "discovery_metadata"] }),
        case("new job", "GET", "/api/reference-panels?service_id=<slow>", Saved("session"), NoBody, 200, ListOf("service_id", "<slow>")),
        case("new job", "POST", "/api/jobs/", Saved("session"), JobForm(&[
            ("name", "single from the wizard"), ("description", "one pair"), ("service_id", "<svc>"),
            ("reference_panel_id", "<panel>"), ("input_format", "vcf"), ("build", "hg19"),
            ("phasing", "true"), ("population", "mixed"), ("user_token", ""),
        ]), 201, Object(JOB_KEYS)),
        case("new job", "POST", "/api/jobs/multi-service", Saved("session"), JobForm(&[
            ("name", "federated from the wizard"), ("description", "two pairs"),
            ("service_ids", "<svc>,<slow>"), ("reference_panel_ids", "<panel>,<slow_panel>"),
            ("input_format", "vcf"), ("build", "hg19"), ("phasing", "false"), ("population", "afr"),
            ("user_token", "<cg>"),
        ]), 201, Object(&["parent_job_id", "parent_job_name", "total_services", "child_jobs", "status", "message", "parent", "children"])),
        case("jobs", "GET", "/api/jobs/?status=&service=&search=", Saved("session"), NoBody, 200, List { min: 7, keys: JOB_KEYS }),
        case("jobs", "GET", "/api/jobs/?status=completed", Saved("session"), NoBody, 200, ListOf("status", "completed")),
        case("jobs", "GET", "/api/jobs/?service_id=<slow>", Saved("session"), NoBody, 200, ListOf("service_id", "<slow>")),
        case("jobs", "GET", "/api/jobs/?search=wizard&service=<svc>", Saved("session"), NoBody, 200, List { min: 2, keys: JOB_KEYS }),
        case("jobs", "GET", "/api/services/", Saved("session"), NoBody, 200, List { min: 3, keys: SERVICE_KEYS }),
        case("jobs", "POST", "/api/jobs/<cancel_me>/cancel/", Saved("session"), NoBody, 200, Object(&["message", "job_id", "job"])),
        case("jobs", "POST", "/api/jobs/<failed>/retry/", Saved("session"), NoBody, 200, Object(&["message", "job"])),
        case("job details", "GET", "/api/jobs/<done>/", Saved("session"), NoBody, 200, Object(JOB_KEYS)),
        case("job details", "GET", "/api/jobs/<done>/status-updates/", Saved("session"), NoBody, 200,
            List { min: 3, keys: &["status", "progress_percentage", "message", "timestamp"] }),
        case("job details", "GET", "/api/files/?job_id=<done>&file_type=output", Saved("session"), NoBody, 200, List { min: 1, keys: &["id", "filename", "size_bytes"] }),
        case("job details", "GET", "/api/jobs/<done>/files/", Saved("session"), NoBody, 404, Miss),
        case("job details", "GET", "/api/jobs/<done>/results/", Saved("session"), NoBody, 200,
            List { min: 1, keys: &["id", "name", "size_bytes", "state", "download_path"] }),
        case("job details", "GET", "/api/jobs/<done>/logs/", Saved("session"), NoBody, 200,
            List { min: 1, keys: &["step_name", "step_index", "log_type", "message", "timestamp"] }),
        case("job details", "GET", "/api/services/", Saved("session"), NoBody, 200, List { min: 3, keys: SERVICE_KEYS }),
        case("job details", "GET", "/api/reference-panels/", Saved("session"), NoBody, 200, List { min: 3, keys: PANEL_KEYS }),
        case("job details", "GET", "/api/jobs/<done>/files/<result>/download/", Saved("session"), NoBody, 404, Miss),
        case("job details", "GET", "/api/jobs/<done>/results/<result>/download/", Saved("session"), NoBody, 200, File),
        case("results", "GET", "/api/result-files/", Saved("session"), NoBody, 404, Miss),
        case("results", "GET", "/api/result-files/<result>/download/", Saved("session"), NoBody, 404, Miss),
        case("settings", "GET", "/api/users/me/service-credentials", Saved("session"), NoBody, 200,
            List { min: 2, keys: &["service_id", "credential_type", "label", "has_api_token", "is_verified"] }),
        case("settings", "POST", "/api/users/me/service-credentials", Saved("session"), Json(
            r#"{"service_id": <slow>, "credential_type": "api_token", "api_token": "<cg>", "oauth_token": "", "username": "", "password": "", "label": "slow node"}"#),
            200, Object(&["service_id", "credential_type", "label", "hint", "has_api_token"])),
        case("settings", "DELETE", "/api/users/me/service-credentials/<slow>", Saved("session"), NoBody, 204, NoContent),
        case("settings", "GET", "/api/services", Saved("session"), NoBody, 200, List { min: 3, keys: SERVICE_KEYS }),
        case("user management", "GET", "/api/profiles/", Admin, NoBody, 404, Miss),
        case("user management", "POST", "/api/profiles/", Admin, Json("{}"), 404, Miss),
        case("user management", "PATCH", "/api/profiles/<ada>/", Admin, Json("{}"), 404, Miss),
        case("user management", "GET", "/api/roles/", Admin, NoBody, 404, Miss),
        case("user management", "GET", "/api/audit-logs/", Admin, NoBody, 200, Object(&["entries", "next_page_token"])),
        case("user management", "POST", "/api/users/", Admin, Json(
            r#"{"username": "mallory", "email": "mallory@example.org", "password": "Velvet-Canyon-Heron-2035!", "first_name": "Mallory"}"#),
            201, Object(&["id", "username", "email", "is_active", "roles", "profile", "quota"])).saving("mallory", "/id"),
        case("user management", "PATCH", "/api/users/<mallory>/", Admin, Json(r#"{"last_name": "Renamed"}"#), 200, Object(&["id", "last_name"])),
        case("user management", "POST", "/api/users/<mallory>/toggle_active/", Admin, Json("{}"), 404, Miss),
        case("user management", "DELETE", "/api/users/<mallory>/", Admin, NoBody, 204, NoContent),
        case("user management", "GET", "/api/users/", Researcher, NoBody, 403, Error("PERMISSION_DENIED")),
        case("legacy", "GET", "/api/status-updates/", Researcher, NoBody, 404, Miss),
        case("legacy", "GET", "/api/notifications/?user_id=<ada>", Researcher, NoBody, 404, Miss),
        case("legacy", "GET", "/api/monitoring/", Researcher, NoBody, 404, Miss),
        case("legacy", "GET", "/api/dashboard/services_overview/", Researcher, NoBody, 404, Miss),
        case("legacy", "GET", "/api/templates/", Researcher, NoBody, 404, Miss),
        case("navbar", "POST", "/api/auth/logout/", Saved("session"), NoBody, 204, NoContent),
        case("navbar", "GET", "/api/auth/user/", Saved("session"), NoBody, 401, Error("UNAUTHENTICATED")),
    ]
}
