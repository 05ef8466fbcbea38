//! The jobs component's settings.

use std::time::Duration;

use fedimpute_common::{auth::Component, config::default_sqlite_url, http::OutboundSettings};
use fedimpute_jobs::{SchedulerSettings, Settings};

use crate::{
    cli::{Global, JobsArgs},
    keys,
    run::RunError,
};

pub(crate) fn database_url(global: &Global, args: &JobsArgs) -> String {
    args.jobs_database_url
        .clone()
        .unwrap_or_else(|| default_sqlite_url(&global.data_dir, "jobs"))
}

fn storage_url(global: &Global, args: &JobsArgs) -> Result<String, RunError> {
    if let Some(url) = &args.storage_url {
        return Ok(url.clone());
    }
    let dir = global.data_dir.join("files");
    let absolute = std::path::absolute(&dir)
        .map_err(|e| RunError::Config(format!("the data directory {}: {e}", dir.display())))?;
    Ok(format!("file://{}", absolute.display()))
}

fn worker_id(args: &JobsArgs) -> String {
    args.worker_id.clone().unwrap_or_else(|| {
        let host = std::fs::read_to_string("/etc/hostname")
            .ok()
            .map(|h| h.trim().to_owned())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "fedimpute".into());
        format!("{host}-{}", std::process::id())
    })
}

pub(crate) fn settings(
    global: &Global,
    args: &JobsArgs,
    migrate: bool,
) -> Result<Settings, RunError> {
    let config = |e: keys::KeysError| RunError::Config(e.to_string());
    if args.poll_interval.0 < Duration::from_millis(100) {
        return Err(RunError::Config(
            "FEDIMPUTE_POLL_INTERVAL must be at least 100ms".into(),
        ));
    }
    if args.jobs_lease.0 < Duration::from_secs(1) {
        return Err(RunError::Config(
            "FEDIMPUTE_JOBS_LEASE must be at least 1s".into(),
        ));
    }
    let mut scheduler =
        SchedulerSettings::with_poll_interval(args.poll_interval.0, worker_id(args));
    scheduler.enabled = args.scheduler;
    scheduler.max_backoff = args.max_backoff.0.max(args.poll_interval.0);
    scheduler.lease = args.jobs_lease.0;
    scheduler.concurrency = args.jobs_concurrency.max(1);
    scheduler.per_service = args.service_concurrency.max(1);
    scheduler.copy_results = args.copy_results;
    Ok(Settings {
        addr: args.jobs_addr,
        database_url: database_url(global, args),
        max_connections: args.jobs_max_connections,
        migrate,
        grace: global.shutdown_grace.0,
        verifier: keys::refreshing_verifier(global).map_err(config)?,
        services: keys::service_keys(global, Component::Jobs).map_err(config)?,
        identity: keys::identity(global, Component::Jobs).map_err(config)?,
        keyring: keys::keyring(global).map_err(config)?,
        registry_url: global.registry_url.clone(),
        users_url: global.users_url.clone(),
        storage_url: storage_url(global, args)?,
        public_url: global.public_url.clone(),
        max_upload_bytes: args.max_upload_bytes,
        signed_url_ttl: args.signed_url_ttl.0,
        outbound: OutboundSettings {
            allow_private_targets: global.allow_private_targets,
            connect_timeout: args.remote_connect_timeout.0,
            timeout: args.remote_timeout.0,
            user_agent: format!("fedimpute/{}", env!("CARGO_PKG_VERSION")),
        },
        submit_timeout: args.submit_timeout.0,
        scheduler,
        notify_interval: Duration::from_secs(10),
        watch_interval: Duration::from_secs(1),
    })
}
