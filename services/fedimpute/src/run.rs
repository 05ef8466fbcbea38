//! What each command does.

use std::{process::ExitCode, time::Duration};

use clap::Parser;
use fedimpute_common::{
    auth::{Claims, Role, RoleGrant},
    config::default_sqlite_url,
    http::OutboundSettings,
    shutdown,
    telemetry::{self, TelemetrySettings},
};
use fedimpute_registry::health::HealthSettings;
use fedimpute_registry_migration::{Migrator, MigratorTrait};

use crate::{
    cli::{
        AdminCommand, Cli, Command, Component, GatewayArgs, Global, JobsArgs, RegistryArgs,
        UsersArgs,
    },
    keys,
};

/// `EX_USAGE`: bad configuration.
pub(crate) const EXIT_CONFIG: u8 = 64;

/// The process entry point.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("fedimpute: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(cli))
}

async fn run(cli: Cli) -> ExitCode {
    let Cli { global, command } = cli;
    if let Command::Admin { command } = &command {
        if let AdminCommand::MintToken { .. } = command {
            return admin(&global, command);
        }
        return crate::users::admin(&global, command).await;
    }
    let _telemetry = match telemetry::init(&TelemetrySettings {
        filter: global.log.clone(),
        format: global.log_format,
        otlp_endpoint: global.otlp_endpoint.clone(),
        service_name: "fedimpute".into(),
    }) {
        Ok(guard) => guard,
        Err(e) => {
            eprintln!("fedimpute: invalid configuration: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    if let Command::ImportLegacy(args) = &command {
        return crate::legacy::run(&global, args).await;
    }
    let result = match command {
        Command::Serve {
            component,
            no_migrate,
            registry,
            users,
            jobs,
            gateway,
        } => {
            serve(
                &global,
                component,
                !no_migrate,
                &registry,
                &users,
                &jobs,
                &gateway,
            )
            .await
        }
        Command::Migrate {
            component,
            registry,
            users,
            jobs,
        } => migrate(&global, component, &registry, &users, &jobs).await,
        Command::Admin { .. } | Command::ImportLegacy(_) => Ok(()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(RunError::Config(message)) => {
            tracing::error!("invalid configuration: {message}");
            ExitCode::from(EXIT_CONFIG)
        }
        Err(RunError::Failed(message)) => {
            tracing::error!("{message}");
            ExitCode::FAILURE
        }
    }
}

pub(crate) enum RunError {
    Config(String),
    Failed(String),
}

fn registry_database_url(global: &Global, args: &RegistryArgs) -> String {
    args.registry_database_url
        .clone()
        .unwrap_or_else(|| default_sqlite_url(&global.data_dir, "registry"))
}

fn registry_settings(
    global: &Global,
    args: &RegistryArgs,
    migrate: bool,
) -> Result<fedimpute_registry::Settings, RunError> {
    let config = |e: keys::KeysError| RunError::Config(e.to_string());
    for (name, value) in [
        ("FEDIMPUTE_HEALTH_INTERVAL", args.health_interval.0),
        (
            "FEDIMPUTE_HEALTH_AT_RISK_INTERVAL",
            args.health_at_risk_interval.0,
        ),
    ] {
        if value < Duration::from_secs(1) {
            return Err(RunError::Config(format!("{name} must be at least 1s")));
        }
    }
    Ok(fedimpute_registry::Settings {
        addr: args.registry_addr,
        database_url: registry_database_url(global, args),
        max_connections: args.registry_max_connections,
        migrate,
        grace: global.shutdown_grace.0,
        health: HealthSettings {
            interval: args.health_interval.0,
            failure_threshold: args.health_failure_threshold.max(1),
            at_risk_after: args.health_at_risk_after.0,
            at_risk_interval: args.health_at_risk_interval.0,
            retention: args.health_retention.0,
            concurrency: args.health_concurrency.max(1),
            enabled: true,
        },
        outbound: OutboundSettings {
            allow_private_targets: global.allow_private_targets,
            connect_timeout: args.probe_connect_timeout.0,
            timeout: args.probe_timeout.0,
            user_agent: format!("fedimpute/{}", env!("CARGO_PKG_VERSION")),
        },
        min_check_interval: Duration::from_secs(10),
        verifier: keys::refreshing_verifier(global).map_err(config)?,
        services: keys::service_keys(global, fedimpute_common::auth::Component::Registry)
            .map_err(config)?,
        keyring: keys::keyring(global).map_err(config)?,
    })
}

async fn serve(
    global: &Global,
    component: Component,
    migrate: bool,
    registry_args: &RegistryArgs,
    users_args: &UsersArgs,
    jobs_args: &JobsArgs,
    gateway_args: &GatewayArgs,
) -> Result<(), RunError> {
    let failed = |e: &dyn std::fmt::Display| RunError::Failed(e.to_string());
    let stop = shutdown::on_signal();
    let mut tasks = tokio::task::JoinSet::new();
    let mut serving = Vec::new();
    if let Some(addr) = global.metrics_addr {
        let metrics = fedimpute_common::metrics::MetricsServer::bind(addr)
            .await
            .map_err(|e| {
                RunError::Failed(format!("cannot bind the metrics address {addr}: {e}"))
            })?;
        tracing::info!(addr = %metrics.local_addr(), "metrics bound");
        serving.push(format!(
            "metrics on http://{}/metrics",
            metrics.local_addr()
        ));
        let stop = stop.clone();
        tasks.spawn(async move {
            metrics
                .run_until(stop.cancelled_owned())
                .await
                .map_err(|e| format!("metrics: {e}"))
        });
    }
    if matches!(component, Component::All | Component::Registry) {
        let settings = registry_settings(global, registry_args, migrate)?;
        let app = fedimpute_registry::Application::build(settings)
            .await
            .map_err(|e| failed(&e))?;
        serving.push(format!("registry on {}", app.local_addr()));
        let stop = stop.clone();
        tasks.spawn(async move {
            app.run_until(stop.cancelled_owned())
                .await
                .map_err(|e| format!("registry: {e}"))
        });
    }
    if matches!(component, Component::All | Component::Users) {
        let settings = crate::users::settings(global, users_args, migrate)?;
        let app = fedimpute_users::Application::build(settings)
            .await
            .map_err(|e| failed(&e))?;
        serving.push(format!("users on {}", app.local_addr()));
        let stop = stop.clone();
        tasks.spawn(async move {
            app.run_until(stop.cancelled_owned())
                .await
                .map_err(|e| format!("users: {e}"))
        });
    }
    if matches!(component, Component::All | Component::Jobs) {
        let settings = crate::jobs::settings(global, jobs_args, migrate)?;
        let app = fedimpute_jobs::Application::build(settings)
            .await
            .map_err(|e| failed(&e))?;
        serving.push(format!("jobs on {}", app.local_addr()));
        let stop = stop.clone();
        tasks.spawn(async move {
            app.run_until(stop.cancelled_owned())
                .await
                .map_err(|e| format!("jobs: {e}"))
        });
    }
    if matches!(component, Component::All | Component::Gateway) {
        let settings = crate::gateway::settings(global, gateway_args)?;
        let app = fedimpute_gateway::Application::build(settings)
            .await
            .map_err(|e| failed(&e))?;
        serving.push(format!("gateway on http://{}", app.local_addr()));
        let stop = stop.clone();
        tasks.spawn(async move {
            app.run_until(stop.cancelled_owned())
                .await
                .map_err(|e| format!("gateway: {e}"))
        });
    }
    tracing::info!(mode = %global.mode, "fedimpute is serving: {}", serving.join(", "));
    let mut result = Ok(());
    while let Some(done) = tasks.join_next().await {
        let outcome = done.map_err(|e| e.to_string()).and_then(|r| r);
        if let Err(e) = outcome {
            // One component failing stops the others.
            stop.cancel();
            result = Err(RunError::Failed(e));
        }
    }
    tracing::info!("stopped");
    result
}

async fn migrate(
    global: &Global,
    component: Component,
    args: &RegistryArgs,
    users: &UsersArgs,
    jobs: &JobsArgs,
) -> Result<(), RunError> {
    if matches!(component, Component::All | Component::Jobs) {
        use fedimpute_jobs_migration::MigratorTrait as _;
        let url = crate::jobs::database_url(global, jobs);
        let db = fedimpute_common::db::connect(&url, 2)
            .await
            .map_err(|e| RunError::Failed(format!("jobs database: {e}")))?;
        fedimpute_jobs_migration::Migrator::up(&db, None)
            .await
            .map_err(|e| RunError::Failed(format!("jobs migrations: {e}")))?;
        tracing::info!(database = %fedimpute_common::db::redact_url(&url), "jobs schema is up to date");
    }
    if matches!(component, Component::All | Component::Users) {
        let url = crate::users::database_url(global, &users.db);
        fedimpute_users::ops::open(&url)
            .await
            .map_err(RunError::Failed)?;
        tracing::info!(database = %fedimpute_common::db::redact_url(&url), "users schema is up to date");
    }
    match component {
        Component::Users | Component::Jobs | Component::Gateway => {}
        Component::All | Component::Registry => {
            let url = registry_database_url(global, args);
            let db = fedimpute_common::db::connect(&url, 2)
                .await
                .map_err(|e| RunError::Failed(format!("registry database: {e}")))?;
            Migrator::up(&db, None)
                .await
                .map_err(|e| RunError::Failed(format!("registry migrations: {e}")))?;
            tracing::info!(database = %fedimpute_common::db::redact_url(&url), "registry schema is up to date");
        }
    }
    Ok(())
}

fn admin(global: &Global, command: &AdminCommand) -> ExitCode {
    match command {
        AdminCommand::CreateUser { .. }
        | AdminCommand::SetPassword { .. }
        | AdminCommand::SetRole { .. }
        | AdminCommand::ListUsers { .. } => ExitCode::from(EXIT_CONFIG),
        AdminCommand::MintToken {
            username,
            user_id,
            roles,
            service_id,
            ttl,
        } => {
            let mut grants = Vec::new();
            for role in roles {
                let parsed: Result<Role, _> =
                    serde_json::from_value(serde_json::Value::String(role.clone()));
                match parsed {
                    Ok(role) => grants.push(RoleGrant {
                        role,
                        service_id: *service_id,
                    }),
                    Err(_) => {
                        eprintln!(
                            "fedimpute: unknown role '{role}': use admin, service_admin, researcher, service_user or viewer"
                        );
                        return ExitCode::from(EXIT_CONFIG);
                    }
                }
            }
            let signer = match keys::signer(global) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("fedimpute: {e}");
                    return ExitCode::from(EXIT_CONFIG);
                }
            };
            let now = chrono_now();
            let claims = Claims {
                sub: user_id.clone(),
                username: username.clone(),
                email: String::new(),
                roles: grants,
                iat: now,
                exp: now + i64::try_from(ttl.0.as_secs()).unwrap_or(i64::MAX / 2),
                iss: global.jwt_issuer.clone(),
                aud: global.jwt_audience.clone(),
                jti: format!("cli-{now}"),
                token_use: fedimpute_common::auth::ACCESS.into(),
                sid: String::new(),
            };
            println!("{}", signer.sign(&claims));
            ExitCode::SUCCESS
        }
    }
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}
