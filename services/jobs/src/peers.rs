//! The other components, over gRPC: the registry (services, panels, a
//! service's secrets) and the users service (credentials, quotas, mail).
//! Internal calls carry the Jobs component's service token; a credential
//! given with a request is saved with the caller's own access token.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use fedimpute_common::{
    auth::{Component, SERVICE_TOKEN_HEADER, ServiceIdentity},
    grpc::TraceContextInterceptor,
};
use fedimpute_proto::{
    registry::{self as rpb, registry_service_client::RegistryServiceClient},
    users::{self as upb, users_service_client::UsersServiceClient},
};
use sha2::{Digest, Sha256};
use tonic::{
    Code, Request, codegen::InterceptedService, metadata::MetadataValue, transport::Channel,
};

use crate::{
    domain::{
        ApiType,
        request::{PanelRef, ServiceRef},
    },
    error::{Error, Result},
};

type Registry = RegistryServiceClient<InterceptedService<Channel, TraceContextInterceptor>>;
type Users = UsersServiceClient<InterceptedService<Channel, TraceContextInterceptor>>;

/// Released credentials by (user, service), with when they were released.
type CredentialCache = Arc<Mutex<HashMap<(i64, i64), (Credential, Instant)>>>;

/// How long a released credential is reused before it is asked for again.
const CREDENTIAL_TTL: Duration = Duration::from_secs(60);

/// A user's (or a service's) credential for a remote service.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum Credential {
    /// No credential: an open service.
    None,
    /// A token: Cloudgene `X-Auth-Token`, a WES or DNAstack bearer token.
    Token(String),
    /// OAuth2 client credentials (DNAstack).
    Client {
        id: String,
        secret: String,
    },
    Basic {
        username: String,
        password: String,
    },
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::None => "Credential::None",
            Self::Token(_) => "Credential::Token(<redacted>)",
            Self::Client { .. } => "Credential::Client(<redacted>)",
            Self::Basic { .. } => "Credential::Basic(<redacted>)",
        })
    }
}

impl Credential {
    /// A short digest that tells credentials apart without showing them:
    /// a job refused with one resumes when it changes.
    pub(crate) fn fingerprint(&self) -> String {
        let mut h = Sha256::new();
        match self {
            Self::None => h.update(b"none"),
            Self::Token(t) => h.update(format!("token:{t}")),
            Self::Client { id, secret } => h.update(format!("client:{id}:{secret}")),
            Self::Basic { username, password } => h.update(format!("basic:{username}:{password}")),
        }
        crate::files::upload::hex(&h.finalize()[..8])
    }

    /// Every secret part, for scrubbing remote messages.
    pub(crate) fn secrets(&self) -> Vec<&str> {
        match self {
            Self::None => Vec::new(),
            Self::Token(t) => vec![t.as_str()],
            Self::Client { secret, .. } => vec![secret.as_str()],
            Self::Basic { password, .. } => vec![password.as_str()],
        }
    }
}

/// What the registry says about a service, as the jobs service uses it.
#[derive(Clone, Debug)]
pub(crate) struct ServiceInfo {
    pub(crate) id: i64,
    pub(crate) name: String,
    pub(crate) slug: String,
    pub(crate) api_type: ApiType,
    pub(crate) base_url: String,
    pub(crate) requires_auth: bool,
    pub(crate) is_active: bool,
    pub(crate) health: rpb::HealthStatus,
    pub(crate) max_file_size_mb: Option<i32>,
    pub(crate) supported_builds: Vec<rpb::GenomeBuild>,
    pub(crate) api_config: serde_json::Value,
}

#[derive(Clone, Debug)]
pub(crate) struct Peers {
    registry: Registry,
    users: Users,
    identity: ServiceIdentity,
    credentials: CredentialCache,
}

fn channel(url: &str, what: &str) -> std::result::Result<Channel, String> {
    Ok(tonic::transport::Endpoint::from_shared(url.to_owned())
        .map_err(|e| format!("{what} {url:?}: {e}"))?
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(30))
        .connect_lazy())
}

fn unavailable(what: &str, status: &tonic::Status) -> Error {
    Error::Unavailable(format!(
        "the {what} cannot be reached: {}",
        status.message()
    ))
}

impl Peers {
    /// Lazily connected clients: the other components may start after us.
    pub(crate) fn new(
        registry_url: &str,
        users_url: &str,
        identity: ServiceIdentity,
    ) -> std::result::Result<Self, String> {
        Ok(Self {
            registry: RegistryServiceClient::with_interceptor(
                channel(registry_url, "FEDIMPUTE_REGISTRY_URL")?,
                TraceContextInterceptor,
            ),
            users: UsersServiceClient::with_interceptor(
                channel(users_url, "FEDIMPUTE_USERS_URL")?,
                TraceContextInterceptor,
            ),
            identity,
            credentials: Arc::new(Mutex::new(HashMap::new())),
        })
    }

    fn internal<T>(&self, message: T, to: Component) -> Request<T> {
        let mut request = Request::new(message);
        if let Ok(token) = MetadataValue::try_from(self.identity.token(to)) {
            request.metadata_mut().insert(SERVICE_TOKEN_HEADER, token);
        }
        request
    }

    pub(crate) async fn service(&self, r: &ServiceRef) -> Result<ServiceInfo> {
        let reply = self
            .registry
            .clone()
            .get_service(rpb::GetServiceRequest {
                id_or_slug: r.as_lookup(),
            })
            .await;
        let service = match reply {
            Ok(reply) => reply.into_inner().service.unwrap_or_default(),
            Err(s) if s.code() == Code::NotFound => {
                return Err(Error::NotFound(format!(
                    "imputation service '{}' does not exist",
                    r.as_lookup()
                )));
            }
            Err(s) => return Err(unavailable("registry", &s)),
        };
        let api_type = rpb::ApiType::try_from(service.api_type)
            .ok()
            .and_then(ApiType::from_pb)
            .ok_or_else(|| {
                Error::FailedPrecondition(format!("service {} has no known API type", service.id))
            })?;
        Ok(ServiceInfo {
            id: service.id,
            api_type,
            base_url: service.base_url,
            requires_auth: service.requires_auth.unwrap_or(true),
            is_active: service.is_active.unwrap_or(true),
            health: rpb::HealthStatus::try_from(service.health_status)
                .unwrap_or(rpb::HealthStatus::Unknown),
            max_file_size_mb: service.max_file_size_mb,
            supported_builds: service
                .supported_builds
                .iter()
                .filter_map(|b| rpb::GenomeBuild::try_from(*b).ok())
                .collect(),
            api_config: service
                .api_config
                .as_ref()
                .map(fedimpute_common::wire::struct_to_json)
                .unwrap_or_default(),
            name: service.name,
            slug: service.slug,
        })
    }

    /// The panel `r` of service `service_id`: by id (it must belong to the
    /// service), or by slug or external id among the service's panels.
    pub(crate) async fn panel(&self, service_id: i64, r: &PanelRef) -> Result<rpb::ReferencePanel> {
        let not_found = |what: String| {
            Error::NotFound(format!(
                "reference panel {what} does not exist on service {service_id}"
            ))
        };
        match r {
            PanelRef::Id(id) => {
                let reply = self
                    .registry
                    .clone()
                    .get_reference_panel(rpb::GetReferencePanelRequest { id: *id })
                    .await;
                match reply {
                    Ok(reply) => reply
                        .into_inner()
                        .panel
                        .filter(|p| p.service_id == service_id)
                        .ok_or_else(|| not_found(id.to_string())),
                    Err(s) if s.code() == Code::NotFound => Err(not_found(id.to_string())),
                    Err(s) => Err(unavailable("registry", &s)),
                }
            }
            PanelRef::Key(key) => {
                let mut page_token = String::new();
                loop {
                    let reply = self
                        .registry
                        .clone()
                        .list_reference_panels(rpb::ListReferencePanelsRequest {
                            service_id: Some(service_id),
                            page_size: 1000,
                            page_token: page_token.clone(),
                            ..Default::default()
                        })
                        .await
                        .map_err(|s| unavailable("registry", &s))?
                        .into_inner();
                    if let Some(panel) = reply
                        .panels
                        .into_iter()
                        .find(|p| p.slug == *key || p.external_id == *key)
                    {
                        return Ok(panel);
                    }
                    if reply.next_page_token.is_empty() {
                        return Err(not_found(format!("'{key}'")));
                    }
                    page_token = reply.next_page_token;
                }
            }
        }
    }

    /// Every service (for the dashboard).
    pub(crate) async fn services(&self) -> Result<Vec<rpb::Service>> {
        let mut all = Vec::new();
        let mut page_token = String::new();
        loop {
            let reply = self
                .registry
                .clone()
                .list_services(rpb::ListServicesRequest {
                    page_size: 1000,
                    page_token: page_token.clone(),
                    ..Default::default()
                })
                .await
                .map_err(|s| unavailable("registry", &s))?
                .into_inner();
            all.extend(reply.services);
            if reply.next_page_token.is_empty() {
                return Ok(all);
            }
            page_token = reply.next_page_token;
        }
    }

    /// The credential the job of `user_id` uses on the service: the user's
    /// own, or, for a service that needs none per user, the service's.
    pub(crate) async fn credential(
        &self,
        user_id: i64,
        service: &ServiceInfo,
    ) -> Result<Credential> {
        let key = (user_id, service.id);
        if let Some((credential, at)) = self
            .credentials
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
            && at.elapsed() < CREDENTIAL_TTL
        {
            return Ok(credential.clone());
        }
        let credential = match self.user_credential(user_id, service.id).await? {
            Some(credential) => credential,
            None if service.requires_auth => {
                return Err(Error::FailedPrecondition(format!(
                    "no credential for {}: add your API token in Settings → Service Credentials, or send it with the job (user_token)",
                    service.name
                )));
            }
            None => self.service_credential(service.id).await?,
        };
        self.credentials
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, (credential.clone(), Instant::now()));
        Ok(credential)
    }

    /// Drops a cached credential (the remote refused it: ask again).
    pub(crate) fn forget_credential(&self, user_id: i64, service_id: i64) {
        self.credentials
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&(user_id, service_id));
    }

    async fn user_credential(&self, user_id: i64, service_id: i64) -> Result<Option<Credential>> {
        let reply = self
            .users
            .clone()
            .get_credential_secret(self.internal(
                upb::GetCredentialSecretRequest {
                    user_id,
                    service_id,
                },
                Component::Users,
            ))
            .await;
        let secret = match reply {
            Ok(reply) => reply.into_inner(),
            Err(s) if s.code() == Code::NotFound => return Ok(None),
            Err(s) if s.code() == Code::FailedPrecondition => {
                return Err(Error::FailedPrecondition(s.message().to_owned()));
            }
            Err(s) => return Err(unavailable("users service", &s)),
        };
        Ok(Some(
            match upb::CredentialType::try_from(secret.credential_type) {
                Ok(upb::CredentialType::Oauth2) => Credential::Client {
                    id: secret.client_id,
                    secret: secret.client_secret,
                },
                Ok(upb::CredentialType::BasicAuth) => Credential::Basic {
                    username: secret.username,
                    password: secret.password,
                },
                Ok(upb::CredentialType::ApiToken | upb::CredentialType::Unspecified) | Err(_) => {
                    Credential::Token(secret.api_token)
                }
            },
        ))
    }

    /// A service's own credential (`api_token`, or OAuth2 `client_id` and
    /// `client_secret`), from the registry.
    async fn service_credential(&self, service_id: i64) -> Result<Credential> {
        let reply = self
            .registry
            .clone()
            .get_service_secrets(self.internal(
                rpb::GetServiceSecretsRequest { id: service_id },
                Component::Registry,
            ))
            .await
            .map_err(|s| unavailable("registry", &s))?
            .into_inner();
        let s = reply.secrets;
        Ok(
            match (
                s.get("client_id"),
                s.get("client_secret"),
                s.get("api_token"),
            ) {
                (Some(id), Some(secret), _) => Credential::Client {
                    id: id.clone(),
                    secret: secret.clone(),
                },
                (_, _, Some(token)) => Credential::Token(token.clone()),
                _ => Credential::None,
            },
        )
    }

    /// Saves `token` as the caller's credential for the service, with the
    /// caller's own access token (the users service checks who they are).
    pub(crate) async fn save_token(
        &self,
        bearer: &str,
        user_id: i64,
        service_id: i64,
        token: &str,
    ) -> Result<()> {
        let mut request = Request::new(upb::PutMyCredentialRequest {
            service_id,
            credential_type: upb::CredentialType::ApiToken as i32,
            api_token: token.to_owned(),
            label: "saved with a job".into(),
            ..Default::default()
        });
        let value = MetadataValue::try_from(format!("Bearer {bearer}"))
            .map_err(|_| Error::invalid("authorization", "is not a valid header value"))?;
        request.metadata_mut().insert("authorization", value);
        match self.users.clone().put_my_credential(request).await {
            Ok(_) => {
                self.forget_credential(user_id, service_id);
                Ok(())
            }
            Err(s) if s.code() == Code::InvalidArgument => {
                Err(Error::invalid("user_token", s.message()))
            }
            Err(s) if s.code() == Code::Unauthenticated => Err(Error::Unauthenticated(
                fedimpute_common::auth::AuthError::Invalid(s.message().to_owned()),
            )),
            Err(s) => Err(unavailable("users service", &s)),
        }
    }

    pub(crate) async fn reserve(
        &self,
        user_id: i64,
        kind: upb::QuotaKind,
        amount: i64,
        reservation_id: &str,
    ) -> Result<()> {
        let reply = self
            .users
            .clone()
            .reserve_quota(self.internal(
                upb::ReserveQuotaRequest {
                    user_id,
                    kind: kind as i32,
                    amount,
                    reservation_id: reservation_id.to_owned(),
                },
                Component::Users,
            ))
            .await;
        match reply {
            Ok(_) => Ok(()),
            Err(s) if s.code() == Code::ResourceExhausted => {
                Err(Error::Exhausted(s.message().to_owned()))
            }
            Err(s) if s.code() == Code::FailedPrecondition => {
                Err(Error::FailedPrecondition(s.message().to_owned()))
            }
            Err(s) => Err(unavailable("users service", &s)),
        }
    }

    pub(crate) async fn release(&self, reservation_id: &str) -> Result<()> {
        self.users
            .clone()
            .release_quota(self.internal(
                upb::ReleaseQuotaRequest {
                    reservation_id: reservation_id.to_owned(),
                },
                Component::Users,
            ))
            .await
            .map(|_| ())
            .map_err(|s| unavailable("users service", &s))
    }

    /// Queues a mail; `Ok(false)` when the user does not want it.
    pub(crate) async fn notify(
        &self,
        user_id: i64,
        dedupe_key: &str,
        subject: &str,
        body: &str,
    ) -> Result<bool> {
        let reply = self
            .users
            .clone()
            .notify_user(self.internal(
                upb::NotifyUserRequest {
                    user_id,
                    dedupe_key: dedupe_key.to_owned(),
                    subject: subject.to_owned(),
                    body: body.to_owned(),
                },
                Component::Users,
            ))
            .await;
        match reply {
            Ok(reply) => Ok(reply.into_inner().queued),
            // The account is gone: nobody to tell.
            Err(s) if s.code() == Code::NotFound => Ok(false),
            Err(s) => Err(unavailable("users service", &s)),
        }
    }
}
