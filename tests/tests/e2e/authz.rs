//! Who may call what: reads public, writes for admins and service admins,
//! internal calls for the Jobs component only, every presented token
//! verified. The matrix takes the RPC list from the descriptor set, so an
//! RPC added without a row here fails it.

use fedimpute_common::auth::Component;
use fedimpute_proto::{prost::Message, registry as pb};
use fedimpute_tests::{
    TestRegistry, backends,
    harness::{auth::bearer, users::as_component},
};
use tonic::{Code, Request, Status};

use crate::common::{Client, create, create_panel, service};

#[tokio::test]
async fn writes_need_an_admin_or_a_service_admin_and_reads_are_public() {
    let registry = TestRegistry::spawn(fedimpute_tests::TestDb::sqlite()).await;
    let auth = &registry.auth;
    let mut client = registry.client().await;
    let own = create(
        &mut client,
        &auth.admin(),
        service(
            "Own Service",
            pb::ApiType::Michigan,
            "https://own.example.org",
        ),
    )
    .await;
    let other = create(
        &mut client,
        &auth.admin(),
        service(
            "Other Service",
            pb::ApiType::Michigan,
            "https://other.example.org",
        ),
    )
    .await;
    let update = |id: i64| pb::UpdateServiceRequest {
        id,
        service: Some(pb::Service {
            description: "changed".into(),
            ..Default::default()
        }),
        update_mask: None,
    };

    // Anonymous: reads work, writes are Unauthenticated.
    assert!(
        client
            .list_services(pb::ListServicesRequest::default())
            .await
            .is_ok()
    );
    let anonymous = client
        .update_service(Request::new(update(own.id)))
        .await
        .unwrap_err();
    assert_eq!(anonymous.code(), Code::Unauthenticated);
    // A token that is not ours, or garbage, is Unauthenticated too.
    let stranger = fedimpute_tests::TestAuth::new().admin();
    assert_eq!(
        client
            .update_service(bearer(&stranger, update(own.id)))
            .await
            .unwrap_err()
            .code(),
        Code::Unauthenticated
    );
    assert_eq!(
        client
            .update_service(bearer("not-a-jwt", update(own.id)))
            .await
            .unwrap_err()
            .code(),
        Code::Unauthenticated
    );
    // A researcher is PermissionDenied.
    assert_eq!(
        client
            .update_service(bearer(&auth.researcher(), update(own.id)))
            .await
            .unwrap_err()
            .code(),
        Code::PermissionDenied
    );
    // A service_admin manages their service only, and cannot create services.
    let scoped = auth.service_admin_of(own.id);
    assert!(
        client
            .update_service(bearer(&scoped, update(own.id)))
            .await
            .is_ok()
    );
    assert_eq!(
        client
            .update_service(bearer(&scoped, update(other.id)))
            .await
            .unwrap_err()
            .code(),
        Code::PermissionDenied
    );
    let create_denied = client
        .create_service(bearer(
            &scoped,
            pb::CreateServiceRequest {
                service: Some(service(
                    "New One",
                    pb::ApiType::Michigan,
                    "https://n.example.org",
                )),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(create_denied.code(), Code::PermissionDenied);
    assert_eq!(
        client
            .delete_service(bearer(&scoped, pb::DeleteServiceRequest { id: other.id }))
            .await
            .unwrap_err()
            .code(),
        Code::PermissionDenied
    );
    // Health checks need an authenticated caller.
    assert_eq!(
        client
            .check_service_health(pb::CheckServiceHealthRequest { id: own.id })
            .await
            .unwrap_err()
            .code(),
        Code::Unauthenticated
    );
    // Panels follow the service's rule.
    let panel = pb::ReferencePanel {
        service_id: other.id,
        name: "P".into(),
        build: pb::GenomeBuild::Hg38 as i32,
        ..Default::default()
    };
    assert_eq!(
        client
            .create_reference_panel(bearer(
                &scoped,
                pb::CreateReferencePanelRequest {
                    panel: Some(panel.clone())
                }
            ))
            .await
            .unwrap_err()
            .code(),
        Code::PermissionDenied
    );
    assert_eq!(
        client
            .create_reference_panel(pb::CreateReferencePanelRequest { panel: Some(panel) })
            .await
            .unwrap_err()
            .code(),
        Code::Unauthenticated
    );
    registry.shutdown().await;
}

#[tokio::test]
async fn bad_tokens_are_refused_on_reads_too_and_only_access_tokens_pass() {
    let registry = TestRegistry::spawn(fedimpute_tests::TestDb::sqlite()).await;
    let mut client = registry.client().await;
    let refused = client
        .list_services(bearer("garbage", pb::ListServicesRequest::default()))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);
    // A token of another kind, signed by the right key, is not an access token.
    let now = chrono::Utc::now().timestamp();
    let mut claims = fedimpute_common::auth::Claims {
        sub: "1".into(),
        username: "admin".into(),
        email: String::new(),
        roles: vec![fedimpute_common::auth::RoleGrant::global(
            fedimpute_common::auth::Role::Admin,
        )],
        iat: now,
        exp: now + 600,
        iss: "fedimpute".into(),
        aud: "fedimpute".into(),
        jti: "x".into(),
        token_use: "refresh".into(),
        sid: String::new(),
    };
    let refresh = registry.auth.sign(&claims);
    let create = |token: &str| {
        bearer(
            token,
            pb::CreateServiceRequest {
                service: Some(service(
                    "Token Kinds",
                    pb::ApiType::Michigan,
                    "https://kinds.example.org",
                )),
            },
        )
    };
    assert_eq!(
        client
            .create_service(create(&refresh))
            .await
            .unwrap_err()
            .code(),
        Code::Unauthenticated
    );
    claims.token_use = "access".into();
    assert!(
        client
            .create_service(create(&registry.auth.sign(&claims)))
            .await
            .is_ok()
    );
    registry.shutdown().await;
}

/// Who calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Who {
    Anonymous,
    Researcher,
    /// A service_admin scoped to a service other than the target.
    OtherServiceAdmin,
    Admin,
    /// The Jobs component's service token, no end user.
    Jobs,
    /// The gateway's service token carrying an admin's access token.
    GatewayAdmin,
}

/// What the matrix expects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    /// Past authorization: OK, or a domain answer (NotFound, InvalidArgument...).
    Allowed,
    Unauthenticated,
    Denied,
}

#[derive(Clone, Copy, Debug)]
enum Class {
    Public,
    /// Any signed-in user.
    Authenticated,
    /// An admin, or a service_admin of the service.
    Manager,
    /// The Jobs component only.
    Internal,
}

fn class(rpc: &str) -> Class {
    match rpc {
        "GetService"
        | "ListServices"
        | "DiscoverServices"
        | "GetServiceHealth"
        | "ListHealthHistory"
        | "ListServicesAtRisk"
        | "GetReferencePanel"
        | "ListReferencePanels" => Class::Public,
        "CheckServiceHealth" => Class::Authenticated,
        "CreateService"
        | "UpdateService"
        | "DeleteService"
        | "SyncReferencePanels"
        | "CreateReferencePanel"
        | "UpdateReferencePanel"
        | "DeleteReferencePanel" => Class::Manager,
        "GetServiceSecrets" => Class::Internal,
        other => panic!("RegistryService.{other} has no row in the authorization matrix"),
    }
}

fn expect(class: Class, who: Who) -> Expect {
    match (class, who) {
        (Class::Public, _) | (Class::Internal, Who::Jobs) => Expect::Allowed,
        (Class::Internal, _) => Expect::Denied,
        (Class::Authenticated | Class::Manager, Who::Anonymous | Who::Jobs) => {
            Expect::Unauthenticated
        }
        (Class::Authenticated, _) | (Class::Manager, Who::Admin | Who::GatewayAdmin) => {
            Expect::Allowed
        }
        (Class::Manager, Who::Researcher | Who::OtherServiceAdmin) => Expect::Denied,
    }
}

fn outcome(result: &Result<(), Status>) -> Expect {
    match result {
        Err(s) if s.code() == Code::Unauthenticated => Expect::Unauthenticated,
        Err(s) if s.code() == Code::PermissionDenied => Expect::Denied,
        Ok(()) | Err(_) => Expect::Allowed,
    }
}

/// The RPC names of RegistryService, from the descriptor set.
fn rpcs() -> Vec<String> {
    let set = prost_types::FileDescriptorSet::decode(fedimpute_proto::FILE_DESCRIPTOR_SET).unwrap();
    set.file
        .iter()
        .filter(|f| f.package() == "fedimpute.registry.v1")
        .flat_map(|f| f.service.iter())
        .filter(|s| s.name() == "RegistryService")
        .flat_map(|s| s.method.iter().map(|m| m.name().to_owned()))
        .collect()
}

struct Caller {
    token: Option<String>,
    service_token: Option<String>,
}

impl Caller {
    fn request<T>(&self, message: T) -> Request<T> {
        match (&self.token, &self.service_token) {
            (token, Some(service)) => as_component(message, service, token.as_deref()),
            (Some(token), None) => bearer(token, message),
            (None, None) => Request::new(message),
        }
    }
}

/// Drops a reply: the matrix looks only at the status.
fn ok<T>(_: T) {}

/// An id that names nothing: writes on it stop at NotFound once authorized.
const NOWHERE: i64 = 987_654;

/// Calls `rpc` with a harmless request about `service` and `panel`.
async fn call(
    client: &mut Client,
    rpc: &str,
    c: &Caller,
    service: i64,
    panel: i64,
) -> Result<(), Status> {
    match rpc {
        "CreateService" => client
            .create_service(c.request(pb::CreateServiceRequest { service: None }))
            .await
            .map(ok),
        "GetService" => client
            .get_service(c.request(pb::GetServiceRequest {
                id_or_slug: service.to_string(),
            }))
            .await
            .map(ok),
        "ListServices" => client
            .list_services(c.request(pb::ListServicesRequest::default()))
            .await
            .map(ok),
        "UpdateService" => client
            .update_service(c.request(pb::UpdateServiceRequest {
                id: service,
                service: Some(pb::Service {
                    description: "matrix".into(),
                    ..Default::default()
                }),
                update_mask: None,
            }))
            .await
            .map(ok),
        "DeleteService" => client
            .delete_service(c.request(pb::DeleteServiceRequest { id: NOWHERE }))
            .await
            .map(ok),
        "DiscoverServices" => client
            .discover_services(c.request(pb::DiscoverServicesRequest::default()))
            .await
            .map(ok),
        "GetServiceHealth" => client
            .get_service_health(c.request(pb::GetServiceHealthRequest { id: service }))
            .await
            .map(ok),
        // On an unknown id: no probe goes out.
        "CheckServiceHealth" => client
            .check_service_health(c.request(pb::CheckServiceHealthRequest { id: NOWHERE }))
            .await
            .map(ok),
        "ListHealthHistory" => client
            .list_health_history(c.request(pb::ListHealthHistoryRequest {
                id: service,
                ..Default::default()
            }))
            .await
            .map(ok),
        "ListServicesAtRisk" => client
            .list_services_at_risk(c.request(pb::ListServicesAtRiskRequest {}))
            .await
            .map(ok),
        "SyncReferencePanels" => client
            .sync_reference_panels(c.request(pb::SyncReferencePanelsRequest {
                id: NOWHERE,
                api_token: String::new(),
            }))
            .await
            .map(ok),
        "CreateReferencePanel" => client
            .create_reference_panel(c.request(pb::CreateReferencePanelRequest {
                panel: Some(pb::ReferencePanel {
                    service_id: NOWHERE,
                    name: "Matrix".into(),
                    build: pb::GenomeBuild::Hg38 as i32,
                    ..Default::default()
                }),
            }))
            .await
            .map(ok),
        "GetReferencePanel" => client
            .get_reference_panel(c.request(pb::GetReferencePanelRequest { id: panel }))
            .await
            .map(ok),
        "ListReferencePanels" => client
            .list_reference_panels(c.request(pb::ListReferencePanelsRequest::default()))
            .await
            .map(ok),
        "UpdateReferencePanel" => client
            .update_reference_panel(c.request(pb::UpdateReferencePanelRequest {
                id: panel,
                panel: Some(pb::ReferencePanel {
                    description: "matrix".into(),
                    ..Default::default()
                }),
                update_mask: None,
            }))
            .await
            .map(ok),
        // Called last (see the caller): it removes the panel.
        "DeleteReferencePanel" => client
            .delete_reference_panel(c.request(pb::DeleteReferencePanelRequest { id: panel }))
            .await
            .map(ok),
        "GetServiceSecrets" => client
            .get_service_secrets(c.request(pb::GetServiceSecretsRequest { id: service }))
            .await
            .map(ok),
        other => panic!("no call for RegistryService.{other}"),
    }
}

#[tokio::test]
async fn every_registry_rpc_enforces_its_authorization() {
    let mut names = rpcs();
    assert!(
        names.len() >= 17,
        "the descriptor set lists the RPCs: {names:?}"
    );
    // Deleting the panel ends what the other panel calls look at: last.
    names.sort_by_key(|n| n == "DeleteReferencePanel");
    for db in backends().await {
        let backend = db.backend;
        let registry = TestRegistry::spawn(db).await;
        let auth = &registry.auth;
        let admin = auth.admin();
        let mut client = registry.client().await;
        let mut target = service(
            "Matrix Target",
            pb::ApiType::Ga4gh,
            "https://wes.example.org",
        );
        target.secrets = [("api_token".to_owned(), "matrix-secret".to_owned())].into();
        let target = create(&mut client, &admin, target).await;
        let jobs = auth.jobs.token(Component::Registry);
        let gateway = auth.gateway.token(Component::Registry);

        for who in [
            Who::Anonymous,
            Who::Researcher,
            Who::OtherServiceAdmin,
            Who::Jobs,
            Who::GatewayAdmin,
            Who::Admin,
        ] {
            let caller = match who {
                Who::Anonymous => Caller {
                    token: None,
                    service_token: None,
                },
                Who::Researcher => Caller {
                    token: Some(auth.researcher()),
                    service_token: None,
                },
                Who::OtherServiceAdmin => Caller {
                    token: Some(auth.service_admin_of(target.id + 1000)),
                    service_token: None,
                },
                Who::Admin => Caller {
                    token: Some(admin.clone()),
                    service_token: None,
                },
                Who::Jobs => Caller {
                    token: None,
                    service_token: Some(jobs.clone()),
                },
                Who::GatewayAdmin => Caller {
                    token: Some(admin.clone()),
                    service_token: Some(gateway.clone()),
                },
            };
            // A fresh panel for each caller: an allowed delete removes it.
            let panel = create_panel(
                &mut client,
                &admin,
                pb::ReferencePanel {
                    service_id: target.id,
                    name: format!("Matrix {who:?}"),
                    build: pb::GenomeBuild::Hg38 as i32,
                    ..Default::default()
                },
            )
            .await;
            for rpc in &names {
                let result = call(&mut client, rpc, &caller, target.id, panel.id).await;
                let wanted = expect(class(rpc), who);
                assert_eq!(
                    outcome(&result),
                    wanted,
                    "{backend}: {rpc} as {who:?}: {result:?}"
                );
            }
        }
        registry.shutdown().await;
    }
}
