//! The legacy platform's data, normalised: what every reader produces and
//! every target consumes. Ids are the legacy ids (kept on import). Secrets
//! (`api_key`, `user_token`, credential tokens) are plaintext here, as they
//! were in the legacy database, and are only ever written encrypted.

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

/// Where a record came from, for the report: the source (a file name or a
/// database URL without its password), the table and the row's key.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Origin {
    pub source: String,
    pub table: String,
    pub key: String,
}

/// Everything read from one or more sources.
#[derive(Clone, Debug, Default)]
pub struct Legacy {
    pub services: Vec<Service>,
    pub panels: Vec<Panel>,
    pub health_logs: Vec<HealthLog>,
    pub users: Vec<User>,
    pub profiles: Vec<Profile>,
    pub roles: Vec<RoleAssignment>,
    pub credentials: Vec<Credential>,
    pub audit_logs: Vec<AuditEntry>,
    pub jobs: Vec<Job>,
    pub status_updates: Vec<StatusUpdate>,
    pub job_logs: Vec<JobLog>,
    pub result_files: Vec<ResultFile>,
    pub files: Vec<FileRecord>,
}

#[derive(Clone, Debug, Default)]
pub struct Service {
    pub origin: Origin,
    pub id: i64,
    pub name: String,
    /// The legacy slug when it had one (microservices), else derived on import.
    pub slug: Option<String>,
    /// `h3africa`, `michigan`, `wes`, `dnastack`... as stored.
    pub service_type: String,
    /// `michigan`, `ga4gh` or `dnastack`, from the real column (never guessed
    /// from `service_type`, the original migration's mistake).
    pub api_type: String,
    /// As stored; normalised by the target.
    pub base_url: String,
    pub description: String,
    pub version: String,
    /// The Django monolith's free-text location ("Cape Town, South Africa").
    pub location: String,
    pub location_country: String,
    pub location_city: String,
    pub location_institution: String,
    pub continent: String,
    /// The microservices' `location_latitude` / `location_longitude`
    /// (added for the import: discovery ranks by distance).
    pub location_latitude: Option<f64>,
    pub location_longitude: Option<f64>,
    pub is_active: bool,
    pub requires_auth: bool,
    pub max_file_size_mb: Option<i64>,
    pub supported_formats: Vec<String>,
    pub supported_builds: Vec<String>,
    pub api_config: Value,
    /// The service-level API key (plaintext in the legacy database).
    pub api_key: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, Default)]
pub struct Panel {
    pub origin: Origin,
    pub id: i64,
    pub service_id: i64,
    pub name: String,
    /// What the remote service calls the panel (the legacy `panel_id`).
    pub external_id: String,
    pub slug: Option<String>,
    pub description: String,
    pub population: String,
    /// `hg19`, `hg38`... as stored.
    pub build: String,
    pub samples_count: Option<i64>,
    pub variants_count: Option<i64>,
    pub is_active: bool,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, Default)]
pub struct HealthLog {
    pub origin: Origin,
    pub service_id: i64,
    pub status: String,
    pub response_time_ms: Option<f64>,
    pub error_message: String,
    pub checked_at: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, Default)]
pub struct User {
    pub origin: Origin,
    pub id: i64,
    pub username: String,
    pub email: String,
    /// The stored hash as is: Django `pbkdf2_sha256$...` or bcrypt `$2b$...`.
    pub password_hash: String,
    pub first_name: String,
    pub last_name: String,
    pub is_active: bool,
    pub is_superuser: bool,
    pub is_staff: bool,
    pub date_joined: Option<DateTime<Utc>>,
    pub last_login: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, Default)]
pub struct Profile {
    pub origin: Origin,
    pub user_id: i64,
    pub institution: String,
    pub organization: String,
    pub department: String,
    pub position: String,
    pub phone: String,
    pub research_area: String,
    pub country: String,
    pub bio: String,
    pub preferred_language: String,
    pub timezone: String,
    pub email_notifications: Option<bool>,
    pub monthly_job_limit: Option<i64>,
    pub storage_limit_bytes: Option<i64>,
}

/// One of the platform's roles (`admin`, `service_admin`, `researcher`,
/// `service_user`, `viewer`), optionally scoped to a service.
#[derive(Clone, Debug, Default)]
pub struct RoleAssignment {
    pub origin: Origin,
    pub user_id: i64,
    pub role: String,
    pub service_id: Option<i64>,
}

#[derive(Clone, Debug, Default)]
pub struct Credential {
    pub origin: Origin,
    pub user_id: i64,
    pub service_id: i64,
    /// `api_token`, `oauth2` or `basic_auth`.
    pub credential_type: String,
    pub api_token: Option<String>,
    pub oauth_token: Option<String>,
    pub username: Option<String>,
    /// Plaintext only; the microservices stored bcrypt hashes, which cannot
    /// be used to authenticate and are reported as skipped.
    pub password: Option<String>,
    pub label: String,
    pub created_at: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, Default)]
pub struct AuditEntry {
    pub origin: Origin,
    pub user_id: Option<i64>,
    pub action: String,
    pub resource_type: String,
    pub resource_id: String,
    pub details: Value,
    pub ip_address: String,
    pub user_agent: String,
    pub at: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, Default)]
pub struct Job {
    pub origin: Origin,
    pub id: Uuid,
    pub user_id: i64,
    pub service_id: Option<i64>,
    pub panel_id: Option<i64>,
    pub parent_id: Option<Uuid>,
    pub name: String,
    pub description: String,
    pub input_format: String,
    pub build: String,
    pub phasing: bool,
    pub population: String,
    /// `pending`, `queued`, `running`, `completed`, `failed`, `cancelled`.
    pub status: String,
    pub progress: i32,
    pub external_job_id: String,
    /// The job's plaintext token: becomes the user's encrypted credential.
    pub user_token: Option<String>,
    pub input_file_name: String,
    pub input_file_size: Option<i64>,
    pub service_response: Value,
    pub error_message: String,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub execution_time_seconds: Option<i64>,
}

#[derive(Clone, Debug, Default)]
pub struct StatusUpdate {
    pub origin: Origin,
    pub job_id: Uuid,
    pub status: String,
    pub progress: i32,
    pub message: String,
    pub external_data: Value,
    pub at: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, Default)]
pub struct JobLog {
    pub origin: Origin,
    pub job_id: Uuid,
    pub step: String,
    /// The microservices' `step_index` (added for the import: logs are
    /// ordered by step, then time).
    pub step_index: Option<i32>,
    pub log_type: String,
    pub message: String,
    pub at: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, Default)]
pub struct ResultFile {
    pub origin: Origin,
    pub job_id: Uuid,
    pub name: String,
    pub file_type: String,
    /// A local path or a remote download URL.
    pub location: String,
    pub size_bytes: Option<i64>,
    pub checksum: String,
    pub is_available: bool,
    pub expires_at: Option<DateTime<Utc>>,
    pub created_at: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, Default)]
pub struct FileRecord {
    pub origin: Origin,
    pub user_id: i64,
    pub job_id: Option<Uuid>,
    pub filename: String,
    pub original_filename: String,
    pub path: String,
    pub size_bytes: Option<i64>,
    pub file_type: String,
    pub sha256: String,
    pub created_at: Option<DateTime<Utc>>,
}
