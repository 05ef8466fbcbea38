//! Who may call what: reads public, writes for admins and service admins,
//! every presented token verified.

use fedimpute_proto::registry::{self as pb};
use fedimpute_tests::{TestRegistry, harness::auth::bearer};
use tonic::{Code, Request};

use crate::common::{create, service};

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
