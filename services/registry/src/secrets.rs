//! Service-level secrets (a Cloudgene API token, OAuth client credentials),
//! sealed as one JSON map per service. Only names ever leave the registry.

use std::collections::BTreeMap;

use fedimpute_common::crypto::Keyring;

use crate::{
    error::{Error, Result},
    store::Service,
};

/// The authenticated context every sealed value is bound to.
const CONTEXT: &[u8] = b"fedimpute/registry/service-secrets/v1";

#[derive(Clone, Debug)]
pub struct ServiceSecrets {
    keyring: Keyring,
}

impl ServiceSecrets {
    pub fn new(keyring: Keyring) -> Self {
        Self { keyring }
    }

    /// The stored map of a service (empty when none).
    pub fn open(&self, service: &Service) -> Result<BTreeMap<String, String>> {
        let Some(sealed) = &service.secrets else {
            return Ok(BTreeMap::new());
        };
        let plain = self
            .keyring
            .open(sealed, CONTEXT)
            .map_err(|e| Error::Internal(format!("secrets of service {}: {e}", service.id)))?;
        serde_json::from_slice(&plain)
            .map_err(|e| Error::Internal(format!("secrets of service {}: {e}", service.id)))
    }

    /// One secret.
    pub fn get(&self, service: &Service, name: &str) -> Result<Option<String>> {
        Ok(self.open(service)?.remove(name))
    }

    /// The names, for reads; unreadable secrets show as none (and are logged).
    pub fn names(&self, service: &Service) -> Vec<String> {
        match self.open(service) {
            Ok(map) => map.into_keys().collect(),
            Err(e) => {
                tracing::warn!(error = %e, "cannot open service secrets");
                Vec::new()
            }
        }
    }

    /// Merges `changes` into the stored map (an empty value deletes) and
    /// seals the result; `None` when nothing is left.
    pub fn merge(
        &self,
        current: Option<&Service>,
        changes: &BTreeMap<String, String>,
    ) -> Result<Option<String>> {
        let mut map = match current {
            Some(service) => self.open(service)?,
            None => BTreeMap::new(),
        };
        for (key, value) in changes {
            if value.is_empty() {
                map.remove(key);
            } else {
                map.insert(key.clone(), value.clone());
            }
        }
        if map.is_empty() {
            return Ok(None);
        }
        let plain = serde_json::to_vec(&map).map_err(|e| Error::Internal(e.to_string()))?;
        Ok(Some(self.keyring.seal(&plain, CONTEXT)))
    }
}
