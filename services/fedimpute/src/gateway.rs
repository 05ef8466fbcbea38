//! The gateway's settings from the command line and environment.

use fedimpute_common::auth::Component;
use fedimpute_gateway::{RateSettings, Settings};

use crate::{
    cli::{GatewayArgs, Global},
    keys,
    run::RunError,
};

pub(crate) fn settings(global: &Global, args: &GatewayArgs) -> Result<Settings, RunError> {
    let config = |e: keys::KeysError| RunError::Config(e.to_string());
    let trusted_proxies = args
        .trusted_proxies
        .iter()
        .map(|p| {
            let p = p.trim();
            p.parse::<ipnet::IpNet>()
                .or_else(|_| p.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| {
                    RunError::Config(format!(
                        "FEDIMPUTE_TRUSTED_PROXIES: '{p}' is neither an address nor a CIDR block"
                    ))
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    for (name, value) in [
        ("FEDIMPUTE_RATE_LIMIT", args.rate_limit),
        ("FEDIMPUTE_USER_RATE_LIMIT", args.user_rate_limit),
        ("FEDIMPUTE_AUTH_RATE_LIMIT", args.auth_rate_limit),
    ] {
        if value == 0 {
            return Err(RunError::Config(format!("{name} must be at least 1")));
        }
    }
    Ok(Settings {
        addr: args.gateway_addr,
        registry_url: global.registry_url.clone(),
        users_url: global.users_url.clone(),
        jobs_url: global.jobs_url.clone(),
        verifier: keys::refreshing_verifier(global).map_err(config)?,
        identity: keys::identity(global, Component::Gateway).map_err(config)?,
        cors_origins: args
            .cors_origins
            .iter()
            .map(|o| o.trim().to_owned())
            .filter(|o| !o.is_empty())
            .collect(),
        trusted_proxies,
        rate: RateSettings {
            per_client: args.rate_limit,
            per_user: args.user_rate_limit,
            credentials: args.auth_rate_limit,
        },
        max_body_bytes: args.max_body_bytes,
        request_timeout: args.request_timeout.0,
        upload_timeout: args.upload_timeout.0,
        grace: global.shutdown_grace.0,
    })
}
