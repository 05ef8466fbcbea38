//! The users component's settings and the operator commands on its database.

use std::{process::ExitCode, sync::Arc, time::Duration};

use fedimpute_common::{
    auth::{Component, PublicKey, Role},
    config::{Mode, default_sqlite_url},
    http::OutboundSettings,
    mail::SmtpSettings,
};
use fedimpute_users::{
    Settings,
    config::{Bootstrap, MailSettings, ThrottleSettings, TokenSettings},
    ops,
};

use crate::{
    cli::{AdminCommand, Global, UsersArgs, UsersDbArgs},
    keys,
    run::{EXIT_CONFIG, RunError},
};

pub(crate) fn database_url(global: &Global, args: &UsersDbArgs) -> String {
    args.users_database_url
        .clone()
        .unwrap_or_else(|| default_sqlite_url(&global.data_dir, "users"))
}

pub(crate) fn settings(
    global: &Global,
    args: &UsersArgs,
    migrate: bool,
) -> Result<Settings, RunError> {
    let config = |e: keys::KeysError| RunError::Config(e.to_string());
    if !(4..=31).contains(&args.db.bcrypt_cost) {
        return Err(RunError::Config(
            "FEDIMPUTE_BCRYPT_COST must be between 4 and 31".into(),
        ));
    }
    if args.access_token_ttl.0 < Duration::from_secs(60) {
        return Err(RunError::Config(
            "FEDIMPUTE_ACCESS_TOKEN_TTL must be at least 1m".into(),
        ));
    }
    let smtp = args
        .smtp_url
        .as_deref()
        .map(str::parse::<SmtpSettings>)
        .transpose()
        .map_err(|e| RunError::Config(format!("FEDIMPUTE_SMTP_URL: {e}")))?;
    let signer = keys::signer(global).map_err(config)?;
    let current = signer.public_key().kid().to_owned();
    let previous_keys: Vec<PublicKey> = global
        .jwt_public_key_files
        .iter()
        .map(|p| PublicKey::load(p))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| RunError::Config(e.to_string()))?
        .into_iter()
        .filter(|k| k.kid() != current)
        .collect();
    Ok(Settings {
        addr: args.users_addr,
        database_url: database_url(global, &args.db),
        max_connections: args.users_max_connections,
        migrate,
        grace: global.shutdown_grace.0,
        tokens: TokenSettings {
            signer: Arc::new(signer),
            previous_keys,
            issuer: global.jwt_issuer.clone(),
            audience: global.jwt_audience.clone(),
            access_ttl: args.access_token_ttl.0,
            refresh_ttl: args.refresh_token_ttl.0,
            session_max_age: args.session_max_age.0,
            reset_ttl: args.reset_token_ttl.0,
        },
        bcrypt_cost: args.db.bcrypt_cost,
        hashing_concurrency: args
            .hashing_concurrency
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get())),
        throttle: ThrottleSettings {
            account_limit: args.login_account_limit.max(1),
            address_limit: args.login_address_limit.max(1),
            window: args.login_window.0,
            lockout: args.login_lockout.0,
            delay_step: args.login_delay_step.0,
        },
        mail: MailSettings {
            smtp,
            log_when_no_smtp: global.mode == Mode::Development,
            from: args.mail_from.clone(),
            public_url: global.public_url.clone(),
            poll_interval: Duration::from_secs(30),
            retry_base: Duration::from_secs(30),
        },
        services: keys::service_keys(global, Component::Users).map_err(config)?,
        keyring: keys::keyring(global).map_err(config)?,
        registry_url: global.registry_url.clone(),
        outbound: OutboundSettings {
            allow_private_targets: global.allow_private_targets,
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(15),
            user_agent: format!("fedimpute/{}", env!("CARGO_PKG_VERSION")),
        },
        bootstrap: Bootstrap {
            admin_password: args.admin_password.clone(),
            admin_username: args.admin_username.clone(),
            admin_email: args.admin_email.clone(),
            password_file: global.data_dir.join("initial-admin-password"),
        },
        audit_retention: args.audit_retention.0,
        default_monthly_job_limit: args.db.default_monthly_job_limit.max(0),
        default_storage_limit_bytes: args.db.default_storage_limit_bytes.max(0),
    })
}

fn roles(raw: &[String]) -> Result<Vec<Role>, String> {
    raw.iter()
        .map(|r| {
            serde_json::from_value(serde_json::Value::String(r.clone())).map_err(|_| {
                format!("unknown role '{r}': use admin, service_admin, researcher, service_user or viewer")
            })
        })
        .collect()
}

/// A password from the named environment variable, or a generated one.
fn password(variable: &str) -> (String, bool) {
    match std::env::var(variable) {
        Ok(p) if !p.is_empty() => (p, false),
        Ok(_) | Err(_) => {
            use rand::RngCore;
            let mut bytes = [0u8; 18];
            rand::rngs::OsRng.fill_bytes(&mut bytes);
            (
                base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, bytes),
                true,
            )
        }
    }
}

/// `fedimpute admin create-user | set-password | set-role | list-users`.
pub(crate) async fn admin(global: &Global, command: &AdminCommand) -> ExitCode {
    let result = run_admin(global, command).await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fedimpute: {e}");
            ExitCode::from(EXIT_CONFIG)
        }
    }
}

async fn run_admin(global: &Global, command: &AdminCommand) -> Result<(), String> {
    match command {
        AdminCommand::CreateUser {
            username,
            email,
            roles: raw,
            password_env,
            users,
        } => {
            let store = ops::open(&database_url(global, users)).await?;
            let (password, generated) = password(password_env);
            let id = ops::create_user(
                &store,
                username,
                email,
                &roles(raw)?,
                &password,
                users.bcrypt_cost,
                ops::Quotas {
                    monthly_job_limit: users.default_monthly_job_limit.max(0),
                    storage_limit_bytes: users.default_storage_limit_bytes.max(0),
                },
            )
            .await?;
            println!("created user {id} ({username})");
            if generated {
                println!("generated password (shown once): {password}");
            }
        }
        AdminCommand::SetPassword {
            username,
            password_env,
            users,
        } => {
            let store = ops::open(&database_url(global, users)).await?;
            let (password, generated) = password(password_env);
            ops::set_password(&store, username, &password, users.bcrypt_cost).await?;
            println!("password of {username} set; every session ended");
            if generated {
                println!("generated password (shown once): {password}");
            }
        }
        AdminCommand::SetRole {
            username,
            roles: raw,
            service_id,
            users,
        } => {
            let store = ops::open(&database_url(global, users)).await?;
            ops::set_roles(&store, username, &roles(raw)?, *service_id).await?;
            println!("roles of {username} set");
        }
        AdminCommand::ListUsers { users } => {
            let store = ops::open(&database_url(global, users)).await?;
            println!("id\tusername\temail\tstate\troles");
            for line in ops::list_users(&store).await? {
                println!("{line}");
            }
        }
        AdminCommand::MintToken { .. } => return Err("mint-token is handled elsewhere".into()),
    }
    Ok(())
}
