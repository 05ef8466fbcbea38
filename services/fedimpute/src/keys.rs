//! Loading the platform's keys: from files in production (refusing to
//! start without them), generated once into the data directory in
//! development.

use std::path::PathBuf;

use fedimpute_common::{
    auth::{Component, KeySource, PublicKey, ServiceIdentity, ServiceKeys, TokenSigner, Verifier},
    config::{Mode, keys_dir},
    crypto::Keyring,
};

use fedimpute_proto::users::{GetJwksRequest, users_service_client::UsersServiceClient};

use crate::cli::Global;

#[derive(Debug, thiserror::Error)]
pub(crate) enum KeysError {
    #[error("{what} is required in production mode: set {variable} (a file from a Secret)")]
    Missing {
        what: &'static str,
        variable: &'static str,
    },
    #[error(transparent)]
    Key(#[from] fedimpute_common::auth::KeyError),
}

fn dev_signing_key_path(global: &Global) -> PathBuf {
    keys_dir(&global.data_dir).join("jwt-signing.pem")
}

/// The signer (for `admin mint-token`, later the Users service).
pub(crate) fn signer(global: &Global) -> Result<TokenSigner, KeysError> {
    match (&global.jwt_signing_key_file, global.mode) {
        (Some(path), _) => Ok(TokenSigner::load(path)?),
        (None, Mode::Development) => Ok(TokenSigner::load_or_generate(&dev_signing_key_path(
            global,
        ))?),
        (None, Mode::Production) => Err(KeysError::Missing {
            what: "the token signing key",
            variable: "FEDIMPUTE_JWT_SIGNING_KEY_FILE",
        }),
    }
}

/// The verifier every component checks access tokens with.
pub(crate) fn verifier(global: &Global) -> Result<Verifier, KeysError> {
    let keys = if !global.jwt_public_key_files.is_empty() {
        global
            .jwt_public_key_files
            .iter()
            .map(|p| PublicKey::load(p))
            .collect::<Result<Vec<_>, _>>()?
    } else {
        match (&global.jwt_signing_key_file, global.mode) {
            (Some(path), _) => vec![TokenSigner::load(path)?.public_key().clone()],
            (None, Mode::Development) => vec![signer(global)?.public_key().clone()],
            (None, Mode::Production) => {
                return Err(KeysError::Missing {
                    what: "the token verification key",
                    variable: "FEDIMPUTE_JWT_PUBLIC_KEY_FILE",
                });
            }
        }
    };
    Ok(Verifier::new(
        &global.jwt_issuer,
        &global.jwt_audience,
        keys,
    ))
}

/// The keyring that seals stored secrets.
pub(crate) fn keyring(global: &Global) -> Result<Keyring, KeysError> {
    match (&global.encryption_key_file, global.mode) {
        (Some(path), _) => Ok(Keyring::load(path, &global.encryption_old_key_files)?),
        (None, Mode::Development) => Ok(Keyring::load_or_generate(
            &keys_dir(&global.data_dir).join("encryption.key"),
        )?),
        (None, Mode::Production) => Err(KeysError::Missing {
            what: "the encryption key",
            variable: "FEDIMPUTE_ENCRYPTION_KEY_FILE",
        }),
    }
}

/// Where the service keys live.
pub(crate) fn service_keys_dir(global: &Global) -> PathBuf {
    global
        .service_keys_dir
        .clone()
        .unwrap_or_else(|| keys_dir(&global.data_dir).join("services"))
}

/// The components whose service tokens are trusted: every `<name>.pub`
/// in the directory. In development the jobs and gateway pairs are
/// generated if missing, so an all-in-one platform trusts itself.
pub(crate) fn service_keys(global: &Global, receiver: Component) -> Result<ServiceKeys, KeysError> {
    let dir = service_keys_dir(global);
    if global.mode == Mode::Development {
        for component in [Component::Jobs, Component::Gateway] {
            TokenSigner::load_or_generate_pair(&dir.join(format!("{component}.pem")))?;
        }
    }
    Ok(ServiceKeys::load_dir(&dir, receiver, &Component::ALL)?)
}

/// A component's own identity: `<service keys dir>/<component>.pem`
/// (generated, with its `.pub`, in development).
pub(crate) fn identity(
    global: &Global,
    component: Component,
) -> Result<ServiceIdentity, KeysError> {
    let path = service_keys_dir(global).join(format!("{component}.pem"));
    let signer = match global.mode {
        Mode::Development => TokenSigner::load_or_generate_pair(&path)?,
        Mode::Production if path.exists() => TokenSigner::load(&path)?,
        Mode::Production => {
            return Err(KeysError::Missing {
                what: "this component's service key",
                variable: "FEDIMPUTE_SERVICE_KEYS_DIR (holding <component>.pem)",
            });
        }
    };
    Ok(ServiceIdentity::new(component, signer))
}

/// Fetches the users service's JWKS over gRPC.
#[derive(Debug)]
pub(crate) struct JwksFromUsers {
    url: String,
}

impl JwksFromUsers {
    pub(crate) fn new(url: &str) -> Self {
        Self {
            url: url.to_owned(),
        }
    }
}

#[tonic::async_trait]
impl KeySource for JwksFromUsers {
    async fn fetch(&self) -> Result<Vec<PublicKey>, String> {
        let endpoint = tonic::transport::Endpoint::from_shared(self.url.clone())
            .map_err(|e| format!("users service at {}: {e}", self.url))?
            .connect_timeout(std::time::Duration::from_secs(3))
            .timeout(std::time::Duration::from_secs(5));
        let channel = endpoint
            .connect()
            .await
            .map_err(|e| format!("users service at {}: {e}", self.url))?;
        let mut client = UsersServiceClient::new(channel);
        let keys = client
            .get_jwks(GetJwksRequest {})
            .await
            .map_err(|e| format!("users service JWKS: {}", e.message()))?
            .into_inner()
            .keys;
        keys.iter()
            .filter(|k| k.kty == "OKP" && k.crv == "Ed25519")
            .map(|k| PublicKey::from_x(&k.x))
            .collect()
    }
}

/// A verifier that also fetches rotated keys from the users service.
pub(crate) fn refreshing_verifier(global: &Global) -> Result<Verifier, KeysError> {
    let keys = verifier(global)?;
    let known = keys.known_keys();
    Ok(Verifier::with_source(
        &global.jwt_issuer,
        &global.jwt_audience,
        known,
        std::sync::Arc::new(JwksFromUsers::new(&global.users_url)),
        std::time::Duration::from_secs(30),
    ))
}
