//! A user's credentials for the imputation services: stored sealed, shown
//! as metadata, verified against the remote, released only to Jobs.

use fedimpute_common::auth::{Caller, Component, Origin};
use fedimpute_proto::users as pb;

use super::{Users, require_component};
use crate::{
    convert,
    domain::{CredentialSpec, CredentialType, SecretParts},
    error::{Error, Result},
    remote,
    store::{CredentialRecord, NewCredential},
};

/// The secret of (user, service) is sealed with the pair as context, so a
/// sealed value moved to another row does not open.
fn seal_context(user_id: i64, service_id: i64) -> Vec<u8> {
    format!("credential:{user_id}:{service_id}").into_bytes()
}

fn no_credential(service_id: i64) -> Error {
    Error::NotFound(format!("no credential is stored for service {service_id}"))
}

impl Users {
    fn open(&self, record: &CredentialRecord) -> Result<(CredentialType, SecretParts)> {
        let kind = CredentialType::parse(&record.credential_type).ok_or_else(|| {
            Error::Internal(format!(
                "unknown stored credential type {}",
                record.credential_type
            ))
        })?;
        let clear = self
            .keyring
            .open(
                &record.sealed,
                &seal_context(record.user_id, record.service_id),
            )
            .map_err(|e| Error::Internal(format!("cannot open a stored credential: {e}")))?;
        let secret = serde_json::from_slice(&clear)
            .map_err(|e| Error::Internal(format!("stored credential is malformed: {e}")))?;
        Ok((kind, secret))
    }

    /// The caller and their credential for `service_id`, or `NotFound`.
    async fn my_credential(
        &self,
        caller: &Caller,
        service_id: i64,
    ) -> Result<(crate::store::UserRecord, CredentialRecord)> {
        let (_, user) = self.me(caller).await?;
        let record = self
            .store
            .credential(user.id, service_id)
            .await?
            .ok_or_else(|| no_credential(service_id))?;
        Ok((user, record))
    }

    pub(crate) async fn list_credentials(&self, caller: &Caller) -> Result<Vec<pb::Credential>> {
        let (_, user) = self.me(caller).await?;
        Ok(self
            .store
            .credentials(user.id)
            .await?
            .iter()
            .map(convert::credential)
            .collect())
    }

    pub(crate) async fn put_credential(
        &self,
        caller: &Caller,
        origin: &Origin,
        r: pb::PutMyCredentialRequest,
    ) -> Result<pb::Credential> {
        let (_, user) = self.me(caller).await?;
        let spec = CredentialSpec::try_from(r)?;
        // The service must exist (the original stored credentials for ids
        // that named nothing).
        self.registry.service(spec.service_id).await?;
        let clear = serde_json::to_vec(&spec.secret)
            .map_err(|e| Error::Internal(format!("cannot encode a credential: {e}")))?;
        let (record, created) = self
            .store
            .put_credential(NewCredential {
                user_id: user.id,
                service_id: spec.service_id,
                credential_type: spec.kind.as_str().to_owned(),
                label: spec.label.clone(),
                hint: spec.hint(),
                has_api_token: !spec.secret.api_token.is_empty(),
                has_oauth_token: !spec.secret.client_secret.is_empty(),
                has_basic_auth: !spec.secret.password.is_empty(),
                sealed: self
                    .keyring
                    .seal(&clear, &seal_context(user.id, spec.service_id)),
                expires_at: spec.expires_at,
            })
            .await?;
        let action = if created {
            "credential_created"
        } else {
            "credential_updated"
        };
        self.audit(
            origin,
            Some(user.id),
            action,
            ("credential", spec.service_id.to_string()),
            format!("{} for service {}", spec.kind.as_str(), spec.service_id),
        )
        .await;
        Ok(convert::credential(&record))
    }

    pub(crate) async fn get_credential(
        &self,
        caller: &Caller,
        service_id: i64,
    ) -> Result<pb::Credential> {
        let (_, record) = self.my_credential(caller, service_id).await?;
        Ok(convert::credential(&record))
    }

    pub(crate) async fn delete_credential(
        &self,
        caller: &Caller,
        origin: &Origin,
        service_id: i64,
    ) -> Result<()> {
        let (_, user) = self.me(caller).await?;
        if !self.store.delete_credential(user.id, service_id).await? {
            return Err(no_credential(service_id));
        }
        self.audit(
            origin,
            Some(user.id),
            "credential_deleted",
            ("credential", service_id.to_string()),
            String::new(),
        )
        .await;
        Ok(())
    }

    pub(crate) async fn verify_credential(
        &self,
        caller: &Caller,
        origin: &Origin,
        service_id: i64,
    ) -> Result<pb::Credential> {
        let (user, record) = self.my_credential(caller, service_id).await?;
        let (kind, secret) = self.open(&record)?;
        let service = self.registry.service(service_id).await?;
        let outcome =
            remote::verify(&self.http, self.allow_private, &service, kind, &secret).await?;
        let updated = self
            .store
            .record_verification(user.id, service_id, &record.sealed, &outcome)
            .await?
            .ok_or_else(|| {
                Error::FailedPrecondition(
                    "the credential changed while it was being verified; verify again".into(),
                )
            })?;
        let detail = if outcome.verified {
            "accepted".to_owned()
        } else {
            format!("refused: {}", outcome.error)
        };
        self.audit(
            origin,
            Some(user.id),
            "credential_verified",
            ("credential", service_id.to_string()),
            detail,
        )
        .await;
        Ok(convert::credential(&updated))
    }

    /// The clear secret, for the Jobs component only.
    pub(crate) async fn credential_secret(
        &self,
        origin: &Origin,
        r: pb::GetCredentialSecretRequest,
    ) -> Result<pb::GetCredentialSecretResponse> {
        require_component(origin, Component::Jobs)?;
        let active = self
            .store
            .user(r.user_id)
            .await?
            .is_some_and(|u| u.is_active);
        if !active {
            return Err(Error::FailedPrecondition(format!(
                "user {} does not exist or is deactivated",
                r.user_id
            )));
        }
        let record = self
            .store
            .credential(r.user_id, r.service_id)
            .await?
            .ok_or_else(|| no_credential(r.service_id))?;
        let (kind, secret) = self.open(&record)?;
        self.store.touch_credential(r.user_id, r.service_id).await?;
        self.audit(
            origin,
            Some(r.user_id),
            "credential_released",
            ("credential", r.service_id.to_string()),
            "to the jobs component".into(),
        )
        .await;
        Ok(pb::GetCredentialSecretResponse {
            credential_type: kind.to_pb() as i32,
            api_token: secret.api_token,
            client_id: secret.client_id,
            client_secret: secret.client_secret,
            username: secret.username,
            password: secret.password,
            expires_at: record.expires_at.map(convert::ts),
        })
    }
}
