//! Command line and environment: every option has a flag and a
//! `FEDIMPUTE_*` variable, parsed and validated once, here.

use std::{net::SocketAddr, path::PathBuf};

use clap::{Args, Parser, Subcommand, ValueEnum};
use fedimpute_common::{
    config::{HumanDuration, Mode},
    telemetry::LogFormat,
};

#[derive(Debug, Parser)]
#[command(
    name = "fedimpute",
    version,
    about = "The central platform of a federated genotype-imputation network"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run components (all of them by default).
    Serve {
        #[arg(value_enum, default_value_t = Component::All)]
        component: Component,
        /// Do not apply pending migrations at start.
        #[arg(long)]
        no_migrate: bool,
        #[command(flatten)]
        registry: RegistryArgs,
        #[command(flatten)]
        users: UsersArgs,
        #[command(flatten)]
        jobs: JobsArgs,
        #[command(flatten)]
        gateway: GatewayArgs,
    },
    /// Apply pending migrations and exit.
    Migrate {
        #[arg(value_enum, default_value_t = Component::All)]
        component: Component,
        #[command(flatten)]
        registry: RegistryArgs,
        #[command(flatten)]
        users: UsersArgs,
        #[command(flatten)]
        jobs: JobsArgs,
    },
    /// Import the original platform's data (the Django monolith's or the
    /// microservices' PostgreSQL databases, live or from pg_dump files).
    ImportLegacy(ImportLegacyArgs),
    /// Operator commands.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
}

#[derive(Debug, Args)]
pub struct ImportLegacyArgs {
    /// A live database (`postgres://user@host/federated_imputation`) or a
    /// plain `pg_dump` file (`.sql`, or `.sql.gz`); repeatable: the sources
    /// merge into one platform, and the first given wins a conflict.
    #[arg(long = "source", required = true, value_name = "URL or FILE")]
    pub sources: Vec<String>,
    /// Read everything and say what would happen; write nothing anywhere.
    #[arg(long)]
    pub dry_run: bool,
    /// Also write the report as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Default: `sqlite://<data dir>/registry.db?mode=rwc`.
    #[arg(long, env = "FEDIMPUTE_REGISTRY_DATABASE_URL")]
    pub registry_database_url: Option<String>,
    /// Default: `sqlite://<data dir>/users.db?mode=rwc`.
    #[arg(long, env = "FEDIMPUTE_USERS_DATABASE_URL")]
    pub users_database_url: Option<String>,
    /// Default: `sqlite://<data dir>/jobs.db?mode=rwc`.
    #[arg(long, env = "FEDIMPUTE_JOBS_DATABASE_URL")]
    pub jobs_database_url: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create an account (roles default to researcher).
    CreateUser {
        #[arg(long)]
        username: String,
        #[arg(long)]
        email: String,
        /// admin, service_admin, researcher, service_user or viewer; repeatable.
        #[arg(long = "role")]
        roles: Vec<String>,
        /// The password is read from this environment variable (never a flag:
        /// flags show in `ps`); unset: a random one is printed once.
        #[arg(long, default_value = "FEDIMPUTE_NEW_PASSWORD")]
        password_env: String,
        #[command(flatten)]
        users: UsersDbArgs,
    },
    /// Set an account's password (from the environment variable named).
    SetPassword {
        #[arg(long)]
        username: String,
        #[arg(long, default_value = "FEDIMPUTE_NEW_PASSWORD")]
        password_env: String,
        #[command(flatten)]
        users: UsersDbArgs,
    },
    /// Replace an account's roles.
    SetRole {
        #[arg(long)]
        username: String,
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
        /// Scope the roles to one service.
        #[arg(long)]
        service_id: Option<i64>,
        #[command(flatten)]
        users: UsersDbArgs,
    },
    /// List accounts with their roles.
    ListUsers {
        #[command(flatten)]
        users: UsersDbArgs,
    },
    /// Sign an access token with the platform's signing key and print it
    /// (until the Users service issues tokens at login).
    MintToken {
        #[arg(long)]
        username: String,
        /// User id (the token's `sub`).
        #[arg(long, default_value = "0")]
        user_id: String,
        /// admin, service_admin, researcher, service_user or viewer; repeatable.
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
        /// Scope the roles to one service.
        #[arg(long)]
        service_id: Option<i64>,
        #[arg(long, default_value = "15m")]
        ttl: HumanDuration,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Component {
    All,
    Registry,
    Users,
    Jobs,
    Gateway,
}

#[derive(Debug, Args)]
pub struct Global {
    /// SQLite files, development keys and the local file store.
    #[arg(
        long,
        env = "FEDIMPUTE_DATA_DIR",
        default_value = "./data",
        global = true
    )]
    pub data_dir: PathBuf,
    /// development (keys generated into the data dir) or production (every key must be given).
    #[arg(
        long,
        env = "FEDIMPUTE_MODE",
        default_value = "development",
        global = true
    )]
    pub mode: Mode,
    /// Log filter, e.g. `info` or `info,fedimpute_registry=debug`.
    #[arg(long, env = "FEDIMPUTE_LOG", default_value = "info", global = true)]
    pub log: String,
    #[arg(
        long,
        env = "FEDIMPUTE_LOG_FORMAT",
        default_value = "plain",
        global = true
    )]
    pub log_format: LogFormat,
    /// OTLP/gRPC collector for traces; unset exports nothing.
    #[arg(long, env = "OTEL_EXPORTER_OTLP_ENDPOINT", global = true)]
    pub otlp_endpoint: Option<String>,
    /// Where `fedimpute serve` serves `GET /metrics` (Prometheus text) for
    /// every component of the process, e.g. `0.0.0.0:9090`; unset: no listener.
    #[arg(long, env = "FEDIMPUTE_METRICS_ADDR", global = true)]
    pub metrics_addr: Option<SocketAddr>,
    /// Public key(s) that verify access tokens (PEM), comma-separated.
    #[arg(
        long,
        env = "FEDIMPUTE_JWT_PUBLIC_KEY_FILE",
        value_delimiter = ',',
        global = true
    )]
    pub jwt_public_key_files: Vec<PathBuf>,
    /// Private key that signs access tokens (PEM, PKCS#8).
    #[arg(long, env = "FEDIMPUTE_JWT_SIGNING_KEY_FILE", global = true)]
    pub jwt_signing_key_file: Option<PathBuf>,
    #[arg(
        long,
        env = "FEDIMPUTE_JWT_ISSUER",
        default_value = "fedimpute",
        global = true
    )]
    pub jwt_issuer: String,
    #[arg(
        long,
        env = "FEDIMPUTE_JWT_AUDIENCE",
        default_value = "fedimpute",
        global = true
    )]
    pub jwt_audience: String,
    /// AES-256 key (base64 of 32 bytes) that seals stored secrets.
    #[arg(long, env = "FEDIMPUTE_ENCRYPTION_KEY_FILE", global = true)]
    pub encryption_key_file: Option<PathBuf>,
    /// Retired keys, still used to open older values; comma-separated.
    #[arg(
        long,
        env = "FEDIMPUTE_ENCRYPTION_OLD_KEY_FILES",
        value_delimiter = ',',
        global = true
    )]
    pub encryption_old_key_files: Vec<PathBuf>,
    /// Outbound calls may target loopback, link-local and private addresses.
    #[arg(
        long,
        env = "FEDIMPUTE_ALLOW_PRIVATE_TARGETS",
        default_value_t = false,
        global = true
    )]
    pub allow_private_targets: bool,
    /// Service keys: `<component>.pem` (this component's own, private) and
    /// `<component>.pub` (the components it trusts). Default `<data dir>/keys/services`.
    #[arg(long, env = "FEDIMPUTE_SERVICE_KEYS_DIR", global = true)]
    pub service_keys_dir: Option<PathBuf>,
    /// Where the registry is reached.
    #[arg(
        long,
        env = "FEDIMPUTE_REGISTRY_URL",
        default_value = "http://127.0.0.1:50051",
        global = true
    )]
    pub registry_url: String,
    /// Where the users service is reached (token keys).
    #[arg(
        long,
        env = "FEDIMPUTE_USERS_URL",
        default_value = "http://127.0.0.1:50052",
        global = true
    )]
    pub users_url: String,
    /// Where the jobs service is reached.
    #[arg(
        long,
        env = "FEDIMPUTE_JOBS_URL",
        default_value = "http://127.0.0.1:50053",
        global = true
    )]
    pub jobs_url: String,
    /// The platform's public address: links in mails, signed input links.
    #[arg(
        long,
        env = "FEDIMPUTE_PUBLIC_URL",
        default_value = "http://127.0.0.1:8000",
        global = true
    )]
    pub public_url: String,
    /// How long in-flight calls may take to finish on shutdown.
    #[arg(
        long,
        env = "FEDIMPUTE_SHUTDOWN_GRACE",
        default_value = "20s",
        global = true
    )]
    pub shutdown_grace: HumanDuration,
}

#[derive(Debug, Args)]
pub struct RegistryArgs {
    #[arg(
        long,
        env = "FEDIMPUTE_REGISTRY_ADDR",
        default_value = "127.0.0.1:50051"
    )]
    pub registry_addr: SocketAddr,
    /// Default: `sqlite://<data dir>/registry.db?mode=rwc`.
    #[arg(long, env = "FEDIMPUTE_REGISTRY_DATABASE_URL")]
    pub registry_database_url: Option<String>,
    #[arg(long, env = "FEDIMPUTE_REGISTRY_MAX_CONNECTIONS", default_value_t = 16)]
    pub registry_max_connections: u32,
    /// How often each service is probed.
    #[arg(long, env = "FEDIMPUTE_HEALTH_INTERVAL", default_value = "5m")]
    pub health_interval: HumanDuration,
    /// Consecutive failed probes before a healthy service is marked down.
    #[arg(long, env = "FEDIMPUTE_HEALTH_FAILURE_THRESHOLD", default_value_t = 3)]
    pub health_failure_threshold: u32,
    /// Unhealthy for longer than this: listed as at risk, probed on the slower schedule.
    #[arg(long, env = "FEDIMPUTE_HEALTH_AT_RISK_AFTER", default_value = "3d")]
    pub health_at_risk_after: HumanDuration,
    #[arg(long, env = "FEDIMPUTE_HEALTH_AT_RISK_INTERVAL", default_value = "1h")]
    pub health_at_risk_interval: HumanDuration,
    /// Health history older than this is deleted.
    #[arg(long, env = "FEDIMPUTE_HEALTH_RETENTION", default_value = "30d")]
    pub health_retention: HumanDuration,
    #[arg(long, env = "FEDIMPUTE_HEALTH_CONCURRENCY", default_value_t = 16)]
    pub health_concurrency: usize,
    /// Whole-request timeout of probes and other calls to registered services.
    #[arg(long, env = "FEDIMPUTE_PROBE_TIMEOUT", default_value = "15s")]
    pub probe_timeout: HumanDuration,
    #[arg(long, env = "FEDIMPUTE_PROBE_CONNECT_TIMEOUT", default_value = "10s")]
    pub probe_connect_timeout: HumanDuration,
}

#[derive(Debug, Args)]
pub struct UsersDbArgs {
    /// Default: `sqlite://<data dir>/users.db?mode=rwc`.
    #[arg(long, env = "FEDIMPUTE_USERS_DATABASE_URL")]
    pub users_database_url: Option<String>,
    #[arg(long, env = "FEDIMPUTE_BCRYPT_COST", default_value_t = 12)]
    pub bcrypt_cost: u32,
    /// Monthly job limit of new accounts.
    #[arg(
        long,
        env = "FEDIMPUTE_DEFAULT_MONTHLY_JOB_LIMIT",
        default_value_t = 100
    )]
    pub default_monthly_job_limit: i32,
    /// Storage limit of new accounts, bytes; default 10 GiB.
    #[arg(long, env = "FEDIMPUTE_DEFAULT_STORAGE_LIMIT", default_value_t = 10 * 1024 * 1024 * 1024)]
    pub default_storage_limit_bytes: i64,
}

#[derive(Debug, Args)]
pub struct UsersArgs {
    #[arg(long, env = "FEDIMPUTE_USERS_ADDR", default_value = "127.0.0.1:50052")]
    pub users_addr: SocketAddr,
    #[command(flatten)]
    pub db: UsersDbArgs,
    #[arg(long, env = "FEDIMPUTE_USERS_MAX_CONNECTIONS", default_value_t = 16)]
    pub users_max_connections: u32,
    /// Password hashes computed at once (default: the number of CPUs).
    #[arg(long, env = "FEDIMPUTE_HASHING_CONCURRENCY")]
    pub hashing_concurrency: Option<usize>,
    #[arg(long, env = "FEDIMPUTE_ACCESS_TOKEN_TTL", default_value = "15m")]
    pub access_token_ttl: HumanDuration,
    #[arg(long, env = "FEDIMPUTE_REFRESH_TOKEN_TTL", default_value = "30d")]
    pub refresh_token_ttl: HumanDuration,
    /// A session ends this long after sign-in, however often refreshed.
    #[arg(long, env = "FEDIMPUTE_SESSION_MAX_AGE", default_value = "90d")]
    pub session_max_age: HumanDuration,
    #[arg(long, env = "FEDIMPUTE_RESET_TOKEN_TTL", default_value = "1h")]
    pub reset_token_ttl: HumanDuration,
    #[arg(long, env = "FEDIMPUTE_LOGIN_ACCOUNT_LIMIT", default_value_t = 5)]
    pub login_account_limit: u32,
    #[arg(long, env = "FEDIMPUTE_LOGIN_ADDRESS_LIMIT", default_value_t = 20)]
    pub login_address_limit: u32,
    #[arg(long, env = "FEDIMPUTE_LOGIN_WINDOW", default_value = "15m")]
    pub login_window: HumanDuration,
    #[arg(long, env = "FEDIMPUTE_LOGIN_LOCKOUT", default_value = "15m")]
    pub login_lockout: HumanDuration,
    #[arg(long, env = "FEDIMPUTE_LOGIN_DELAY_STEP", default_value = "500ms")]
    pub login_delay_step: HumanDuration,
    /// `smtp://`, `smtp+starttls://` or `smtps://[user:password@]host[:port]`.
    #[arg(long, env = "FEDIMPUTE_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    #[arg(
        long,
        env = "FEDIMPUTE_MAIL_FROM",
        default_value = "fedimpute <noreply@localhost>"
    )]
    pub mail_from: String,
    /// The first admin's password (first start only); unset: generated.
    #[arg(long, env = "FEDIMPUTE_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<String>,
    #[arg(long, env = "FEDIMPUTE_ADMIN_USERNAME", default_value = "admin")]
    pub admin_username: String,
    #[arg(
        long,
        env = "FEDIMPUTE_ADMIN_EMAIL",
        default_value = "admin@localhost.localdomain"
    )]
    pub admin_email: String,
    #[arg(long, env = "FEDIMPUTE_AUDIT_RETENTION", default_value = "365d")]
    pub audit_retention: HumanDuration,
}

#[derive(Debug, Args)]
pub struct JobsArgs {
    #[arg(long, env = "FEDIMPUTE_JOBS_ADDR", default_value = "127.0.0.1:50053")]
    pub jobs_addr: SocketAddr,
    /// Default: `sqlite://<data dir>/jobs.db?mode=rwc`.
    #[arg(long, env = "FEDIMPUTE_JOBS_DATABASE_URL")]
    pub jobs_database_url: Option<String>,
    #[arg(long, env = "FEDIMPUTE_JOBS_MAX_CONNECTIONS", default_value_t = 16)]
    pub jobs_max_connections: u32,
    /// `file:///dir` or `s3://bucket/prefix`. Default: `file://<data dir>/files`.
    #[arg(long, env = "FEDIMPUTE_STORAGE_URL")]
    pub storage_url: Option<String>,
    /// Largest upload, in bytes (each service's own limit applies too). Default 5 GiB.
    #[arg(long, env = "FEDIMPUTE_MAX_UPLOAD_BYTES", default_value_t = 5 * 1024 * 1024 * 1024)]
    pub max_upload_bytes: u64,
    /// How long a signed input link (for WES nodes) works.
    #[arg(long, env = "FEDIMPUTE_SIGNED_URL_TTL", default_value = "72h")]
    pub signed_url_ttl: HumanDuration,
    /// The base interval between polls of a remote job (backoff and jitter apply on top).
    #[arg(long, env = "FEDIMPUTE_POLL_INTERVAL", default_value = "30s")]
    pub poll_interval: HumanDuration,
    /// Longest wait between attempts after repeated errors.
    #[arg(long, env = "FEDIMPUTE_MAX_BACKOFF", default_value = "5m")]
    pub max_backoff: HumanDuration,
    /// How long a replica holds a claimed job (renewed while it works on it).
    #[arg(long, env = "FEDIMPUTE_JOBS_LEASE", default_value = "2m")]
    pub jobs_lease: HumanDuration,
    /// Scheduler steps in flight at once, per replica.
    #[arg(long, env = "FEDIMPUTE_JOBS_CONCURRENCY", default_value_t = 64)]
    pub jobs_concurrency: usize,
    /// Requests in flight at once to one imputation service, per replica.
    #[arg(long, env = "FEDIMPUTE_SERVICE_CONCURRENCY", default_value_t = 8)]
    pub service_concurrency: usize,
    /// Run the scheduler in this replica.
    #[arg(long, env = "FEDIMPUTE_SCHEDULER", default_value_t = true, action = clap::ArgAction::Set)]
    pub scheduler: bool,
    /// Copy results into the file store when a job completes.
    #[arg(long, env = "FEDIMPUTE_COPY_RESULTS", default_value_t = true, action = clap::ArgAction::Set)]
    pub copy_results: bool,
    /// Base time allowed for a submission's upload (plus one second per MiB).
    #[arg(long, env = "FEDIMPUTE_SUBMIT_TIMEOUT", default_value = "5m")]
    pub submit_timeout: HumanDuration,
    /// Timeout of other calls to the imputation services.
    #[arg(long, env = "FEDIMPUTE_REMOTE_TIMEOUT", default_value = "60s")]
    pub remote_timeout: HumanDuration,
    #[arg(long, env = "FEDIMPUTE_REMOTE_CONNECT_TIMEOUT", default_value = "30s")]
    pub remote_connect_timeout: HumanDuration,
    /// Names this replica's leases; default: host name and process id.
    #[arg(long, env = "FEDIMPUTE_WORKER_ID")]
    pub worker_id: Option<String>,
}

#[derive(Debug, Args)]
pub struct GatewayArgs {
    /// The one public port: REST, grpc-web and gRPC.
    #[arg(long, env = "FEDIMPUTE_GATEWAY_ADDR", default_value = "127.0.0.1:8000")]
    pub gateway_addr: SocketAddr,
    /// Origins allowed cross-origin (browsers), comma-separated; unset: none.
    #[arg(long, env = "FEDIMPUTE_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<String>,
    /// Proxies (addresses or CIDR blocks) whose `X-Forwarded-For` is believed.
    #[arg(long, env = "FEDIMPUTE_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<String>,
    /// Requests per minute per client address.
    #[arg(long, env = "FEDIMPUTE_RATE_LIMIT", default_value_t = 600)]
    pub rate_limit: u32,
    /// Requests per minute per signed-in user.
    #[arg(long, env = "FEDIMPUTE_USER_RATE_LIMIT", default_value_t = 1200)]
    pub user_rate_limit: u32,
    /// Logins, registrations and password resets per minute per client address.
    #[arg(long, env = "FEDIMPUTE_AUTH_RATE_LIMIT", default_value_t = 10)]
    pub auth_rate_limit: u32,
    /// Largest JSON or form body, in bytes (uploads stream and are not bound by it).
    #[arg(long, env = "FEDIMPUTE_MAX_BODY_BYTES", default_value_t = 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Time limit of ordinary calls (and of the start of a download or event stream).
    #[arg(long, env = "FEDIMPUTE_REQUEST_TIMEOUT", default_value = "30s")]
    pub request_timeout: HumanDuration,
    /// Time limit of an upload, end to end.
    #[arg(long, env = "FEDIMPUTE_UPLOAD_TIMEOUT", default_value = "6h")]
    pub upload_timeout: HumanDuration,
}
