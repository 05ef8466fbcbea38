//! The users service's outbound calls: the registry (does a service exist,
//! where is it) and the imputation services themselves (is a credential
//! accepted).

use std::time::Duration;

use chrono::{DateTime, Utc};
use fedimpute_common::{
    grpc::TraceContextInterceptor,
    http::{check_url, read_limited},
};
use fedimpute_proto::registry::{self as rpb, registry_service_client::RegistryServiceClient};
use tonic::{Code, codegen::InterceptedService, transport::Channel};

use crate::{
    domain::{CredentialType, SecretParts},
    error::{Error, Result},
    store::Verification,
};

type Client = RegistryServiceClient<InterceptedService<Channel, TraceContextInterceptor>>;

/// What the users service needs to know about an imputation service.
#[derive(Clone, Debug)]
pub(crate) struct ServiceInfo {
    pub(crate) api_type: rpb::ApiType,
    pub(crate) base_url: String,
    pub(crate) token_endpoint: Option<String>,
}

#[derive(Clone, Debug)]
pub(crate) struct Registry {
    client: Client,
}

impl Registry {
    /// A lazily connected client: the registry may start after us.
    pub(crate) fn new(url: &str) -> Result<Self, String> {
        let endpoint = tonic::transport::Endpoint::from_shared(url.to_owned())
            .map_err(|e| format!("FEDIMPUTE_REGISTRY_URL {url:?}: {e}"))?
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(15));
        Ok(Self {
            client: RegistryServiceClient::with_interceptor(
                endpoint.connect_lazy(),
                TraceContextInterceptor,
            ),
        })
    }

    pub(crate) async fn service(&self, id: i64) -> Result<ServiceInfo> {
        let reply = self
            .client
            .clone()
            .get_service(rpb::GetServiceRequest {
                id_or_slug: id.to_string(),
            })
            .await;
        let service = match reply {
            Ok(r) => r.into_inner().service.unwrap_or_default(),
            Err(status) if status.code() == Code::NotFound => {
                return Err(Error::NotFound(format!(
                    "imputation service {id} does not exist"
                )));
            }
            Err(status) => {
                return Err(Error::Unavailable(format!(
                    "the registry cannot be reached: {}",
                    status.message()
                )));
            }
        };
        let token_endpoint = service
            .api_config
            .as_ref()
            .and_then(|c| c.fields.get("token_endpoint"))
            .and_then(|v| {
                if let Some(prost_types::value::Kind::StringValue(s)) = &v.kind {
                    Some(s.clone())
                } else {
                    None
                }
            });
        Ok(ServiceInfo {
            api_type: rpb::ApiType::try_from(service.api_type).unwrap_or(rpb::ApiType::Unspecified),
            base_url: service.base_url,
            token_endpoint,
        })
    }
}

/// Asks the remote service whether it accepts a credential.
pub(crate) async fn verify(
    http: &reqwest::Client,
    allow_private: bool,
    service: &ServiceInfo,
    kind: CredentialType,
    secret: &SecretParts,
) -> Result<Verification> {
    let base = service.base_url.trim_end_matches('/');
    let request = match (service.api_type, kind) {
        (rpb::ApiType::Michigan, CredentialType::ApiToken) => http
            .post(format!("{base}/api/v2/tokens/verify"))
            .form(&[("token", secret.api_token.as_str())]),
        (rpb::ApiType::Ga4gh, CredentialType::ApiToken) => http
            .get(format!("{base}/ga4gh/wes/v1/runs?page_size=1"))
            .bearer_auth(&secret.api_token),
        (rpb::ApiType::Ga4gh, CredentialType::BasicAuth) => http
            .get(format!("{base}/ga4gh/wes/v1/runs?page_size=1"))
            .basic_auth(&secret.username, Some(&secret.password)),
        (rpb::ApiType::Dnastack, CredentialType::OAuth2) => {
            let endpoint = service
                .token_endpoint
                .clone()
                .unwrap_or_else(|| format!("{base}/oauth/token"));
            http.post(endpoint).form(&[
                ("grant_type", "client_credentials"),
                ("client_id", secret.client_id.as_str()),
                ("client_secret", secret.client_secret.as_str()),
            ])
        }
        (api_type, kind) => {
            return Err(Error::FailedPrecondition(format!(
                "a {} credential cannot be verified against a {} service",
                kind.as_str(),
                api_type
                    .as_str_name()
                    .trim_start_matches("API_TYPE_")
                    .to_lowercase()
            )));
        }
    };
    let request = fedimpute_common::http::traced(request)
        .build()
        .map_err(|e| Error::Internal(format!("verification request: {e}")))?;
    check_url(request.url(), allow_private)
        .map_err(|e| Error::FailedPrecondition(format!("the service's address is refused: {e}")))?;
    let response = http
        .execute(request)
        .await
        .map_err(|e| Error::Unavailable(format!("the service cannot be reached: {e}")))?;
    let status = response.status();
    let body = read_limited(response, 64 * 1024).await.unwrap_or_default();
    let mut verdict = judge(service.api_type, status, &body)?;
    verdict.error = scrub(&verdict.error, secret);
    Ok(verdict)
}

/// A remote's reason, as stored and audited: bounded, one line, and never
/// the secret itself (a remote may echo what it was sent).
fn scrub(reason: &str, secret: &SecretParts) -> String {
    let mut text: String = reason
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(300)
        .collect();
    for part in [&secret.api_token, &secret.client_secret, &secret.password] {
        if part.len() >= 4 {
            text = text.replace(part.as_str(), "<redacted>");
        }
    }
    text
}

fn judge(api_type: rpb::ApiType, status: reqwest::StatusCode, body: &[u8]) -> Result<Verification> {
    let refused = |reason: String| {
        Ok(Verification {
            verified: false,
            error: reason,
            expires_at: None,
        })
    };
    if status.is_server_error() {
        return Err(Error::Unavailable(format!(
            "the service answered {status}; try again later"
        )));
    }
    if matches!(status.as_u16(), 401 | 403)
        || (api_type == rpb::ApiType::Dnastack && status.is_client_error())
    {
        let json: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
        let why = json["message"]
            .as_str()
            .or(json["error"].as_str())
            .or(json["msg"].as_str())
            .unwrap_or("refused");
        return refused(format!(
            "the service refused the credential ({status}: {why})"
        ));
    }
    if !status.is_success() {
        return refused(format!("the service answered {status}"));
    }
    match api_type {
        rpb::ApiType::Michigan => {
            let json: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
            if json["valid"].as_bool() == Some(true) {
                let expires_at = json["expire"]
                    .as_str()
                    .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                    .map(|t| t.with_timezone(&Utc));
                Ok(Verification {
                    verified: true,
                    error: String::new(),
                    expires_at,
                })
            } else {
                refused(
                    json["message"]
                        .as_str()
                        .unwrap_or("the token is not valid")
                        .to_owned(),
                )
            }
        }
        rpb::ApiType::Dnastack => {
            let json: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
            if json["access_token"].as_str().is_some_and(|t| !t.is_empty()) {
                Ok(Verification {
                    verified: true,
                    error: String::new(),
                    expires_at: None,
                })
            } else {
                refused("the token endpoint returned no access token".into())
            }
        }
        rpb::ApiType::Ga4gh | rpb::ApiType::Unspecified => Ok(Verification {
            verified: true,
            error: String::new(),
            expires_at: None,
        }),
    }
}
