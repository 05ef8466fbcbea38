//! Service-level secrets (a Cloudgene API token, OAuth client credentials),
//! sealed as one JSON map per service and bound to the service's slug (a
//! sealed value copied onto another row does not open). Only their names
//! ever leave the registry.

use std::collections::BTreeMap;

use fedimpute_common::crypto::Keyring;

use crate::{
    domain::SecretValues,
    error::{Error, Result},
    store::{Service, StoredSecrets},
};

fn context(slug: &str) -> Vec<u8> {
    format!("fedimpute/registry/service-secrets/v1/{slug}").into_bytes()
}

#[derive(Clone, Debug)]
pub(crate) struct ServiceSecrets {
    keyring: Keyring,
}

impl ServiceSecrets {
    pub(crate) fn new(keyring: Keyring) -> Self {
        Self { keyring }
    }

    /// The stored map of a service (empty when none), or why it cannot be
    /// opened (never a value).
    fn unseal(&self, service: &Service) -> Result<BTreeMap<String, String>, String> {
        let Some(sealed) = &service.secrets else {
            return Ok(BTreeMap::new());
        };
        let plain = self
            .keyring
            .open(sealed, &context(&service.slug))
            .map_err(|e| e.to_string())?;
        serde_json::from_slice(&plain).map_err(|e| e.to_string())
    }

    /// The stored map of a service (empty when none), for the registry's own
    /// use: a map that cannot be opened is the administrator's to fix
    /// (`FailedPrecondition`, which says so).
    pub(crate) fn open(&self, service: &Service) -> Result<BTreeMap<String, String>> {
        self.unseal(service).map_err(|e| {
            Error::FailedPrecondition(format!(
                "the stored secrets of service {} cannot be opened ({e}): is the encryption key that sealed them configured?",
                service.id
            ))
        })
    }

    /// The stored map of a service, for release to the Jobs component: a map
    /// that cannot be opened is `Internal` (logged with its cause, not
    /// returned). It is one sealed value, so nothing of it can be released;
    /// an empty map instead would pass for "no secrets".
    pub(crate) fn release(&self, service: &Service) -> Result<BTreeMap<String, String>> {
        self.unseal(service).map_err(|e| {
            Error::Internal(format!(
                "the stored secrets of service {} cannot be opened for release ({e}): is the encryption key that sealed them configured?",
                service.id
            ))
        })
    }

    /// One secret.
    pub(crate) fn get(&self, service: &Service, name: &str) -> Result<Option<String>> {
        Ok(self.open(service)?.remove(name))
    }

    /// Merges `changes` into what `current` holds (an empty value deletes)
    /// and seals the result for the service with `slug`.
    pub(crate) fn merge(
        &self,
        current: Option<&Service>,
        slug: &str,
        changes: &SecretValues,
    ) -> Result<StoredSecrets> {
        let mut map = match current {
            Some(service) => self.open(service)?,
            None => BTreeMap::new(),
        };
        for (key, value) in &changes.0 {
            if value.is_empty() {
                map.remove(key);
            } else {
                map.insert(key.clone(), value.clone());
            }
        }
        if map.is_empty() {
            return Ok(StoredSecrets::default());
        }
        let plain = serde_json::to_vec(&map).map_err(|e| Error::Internal(e.to_string()))?;
        Ok(StoredSecrets {
            sealed: Some(self.keyring.seal(&plain, &context(slug))),
            names: map.into_keys().collect(),
        })
    }
}

/// The names stored beside a service's sealed secrets.
pub(crate) fn names(service: &Service) -> Vec<String> {
    service
        .secret_names
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The stored secrets of a service, unchanged.
pub(crate) fn stored(service: &Service) -> StoredSecrets {
    StoredSecrets {
        sealed: service.secrets.clone(),
        names: names(service),
    }
}
