//! The users component as the binary runs it: the first admin, the operator
//! commands, and key rotation seen by another component.

use std::path::Path;

use fedimpute_common::auth::TokenSigner;
use fedimpute_proto::{
    registry::{self as rpb, registry_service_client::RegistryServiceClient},
    users::{self as pb, users_service_client::UsersServiceClient},
};
use fedimpute_tests::harness::{auth::bearer, process::RunningBinary};
use tonic::{Code, transport::Channel};

use crate::common::service;

const BINARY: &str = env!("CARGO_BIN_EXE_fedimpute-e2e");

async fn login(
    channel: Channel,
    username: &str,
    password: &str,
) -> Result<pb::LoginResponse, tonic::Status> {
    UsersServiceClient::new(channel)
        .login(pb::LoginRequest {
            username: username.into(),
            password: password.into(),
        })
        .await
        .map(tonic::Response::into_inner)
}

/// Runs `fedimpute --data-dir <dir> admin <args>` and returns stdout.
async fn admin(data: &Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let output = tokio::process::Command::new(BINARY)
        .args(["--data-dir", data.to_str().expect("a UTF-8 path"), "admin"])
        .args(args)
        .envs(env.iter().copied())
        .output()
        .await
        .expect("run the admin command");
    assert!(
        output.status.success(),
        "admin {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8 output")
}

async fn create_service(
    channel: Channel,
    token: &str,
    name: &str,
) -> Result<rpb::Service, tonic::Status> {
    RegistryServiceClient::new(channel)
        .create_service(bearer(
            token,
            rpb::CreateServiceRequest {
                service: Some(service(
                    name,
                    rpb::ApiType::Michigan,
                    "https://impute.example.org",
                )),
            },
        ))
        .await
        .map(|r| r.into_inner().service.expect("a service"))
}

#[tokio::test]
async fn first_start_creates_an_admin_and_the_operator_commands_manage_accounts() {
    let data = tempfile::tempdir().unwrap();
    let running =
        RunningBinary::serve(BINARY, data.path(), "all", &["registry", "users"], &[]).await;

    // The generated password is in a file only its owner can read, and
    // never in the log.
    let file = data.path().join("initial-admin-password");
    let password = std::fs::read_to_string(&file)
        .expect("the password file")
        .trim()
        .to_owned();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the password file is private");
    }
    assert!(password.len() >= 32);
    let log = running.log_text();
    assert!(
        log.contains("initial-admin-password"),
        "the log says where the password is"
    );
    assert!(!log.contains(&password), "the log never holds the password");

    // The admin signs in, and the registry (same process, same keys)
    // accepts the token for a write.
    let users = running.channel_to("users").await;
    let admin_token = login(users.clone(), "admin", &password)
        .await
        .unwrap()
        .access_token;
    create_service(
        running.channel_to("registry").await,
        &admin_token,
        "Bootstrap Node",
    )
    .await
    .expect("the admin's token writes to the registry");

    // The operator commands work on the same database while it serves.
    let first = "Heron-Lattice-Ember-4417";
    let created = admin(
        data.path(),
        &[
            "create-user",
            "--username",
            "curator",
            "--email",
            "curator@example.org",
            "--role",
            "service_admin",
        ],
        &[
            ("FEDIMPUTE_NEW_PASSWORD", first),
            ("FEDIMPUTE_BCRYPT_COST", "4"),
        ],
    )
    .await;
    assert!(created.contains("created user"), "{created}");
    assert!(!created.contains(first), "a given password is not echoed");
    let listed = admin(data.path(), &["list-users"], &[]).await;
    assert!(
        listed
            .lines()
            .any(|l| l.contains("curator") && l.contains("ServiceAdmin")),
        "{listed}"
    );
    assert!(
        listed
            .lines()
            .any(|l| l.contains("admin") && l.contains("Admin")),
        "{listed}"
    );

    let session = login(users.clone(), "curator", first).await.unwrap();
    let roles: Vec<i32> = session.user.unwrap().roles.iter().map(|g| g.role).collect();
    assert_eq!(roles, [pb::Role::ServiceAdmin as i32]);

    // set-password replaces the password and ends the sessions.
    let second = "Quill-Harbor-Saffron-9021";
    admin(
        data.path(),
        &["set-password", "--username", "curator"],
        &[
            ("FEDIMPUTE_NEW_PASSWORD", second),
            ("FEDIMPUTE_BCRYPT_COST", "4"),
        ],
    )
    .await;
    assert_eq!(
        login(users.clone(), "curator", first)
            .await
            .unwrap_err()
            .code(),
        Code::Unauthenticated
    );
    login(users.clone(), "curator", second)
        .await
        .expect("the new password works");
    let refreshed = UsersServiceClient::new(users.clone())
        .refresh_token(pb::RefreshTokenRequest {
            refresh_token: session.refresh_token,
        })
        .await;
    assert_eq!(refreshed.unwrap_err().code(), Code::Unauthenticated);

    // set-role replaces the roles.
    admin(
        data.path(),
        &["set-role", "--username", "curator", "--role", "viewer"],
        &[],
    )
    .await;
    let again = login(users, "curator", second).await.unwrap();
    let roles: Vec<i32> = again.user.unwrap().roles.iter().map(|g| g.role).collect();
    assert_eq!(roles, [pb::Role::Viewer as i32]);

    assert!(running.terminate().await.success());
}

#[tokio::test]
async fn another_component_learns_a_rotated_signing_key_from_the_jwks() {
    let keys = tempfile::tempdir().unwrap();
    let old = keys.path().join("old.pem");
    let new = keys.path().join("new.pem");
    TokenSigner::load_or_generate_pair(&old).unwrap();
    TokenSigner::load_or_generate_pair(&new).unwrap();
    let (users_data, registry_data) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());

    // The users service signs with the new key; the registry was configured
    // with the old public key only.
    let password = "Ibis-Copper-Meadow-7730";
    let users = RunningBinary::serve(
        BINARY,
        users_data.path(),
        "users",
        &["users"],
        &[
            ("FEDIMPUTE_JWT_SIGNING_KEY_FILE", new.to_str().unwrap()),
            ("FEDIMPUTE_ADMIN_PASSWORD", password),
        ],
    )
    .await;
    let users_url = format!("http://{}", users.addrs["users"]);
    let old_public = old.with_extension("pub");
    let registry = RunningBinary::serve(
        BINARY,
        registry_data.path(),
        "registry",
        &["registry"],
        &[
            (
                "FEDIMPUTE_JWT_PUBLIC_KEY_FILE",
                old_public.to_str().unwrap(),
            ),
            ("FEDIMPUTE_USERS_URL", &users_url),
        ],
    )
    .await;

    let token = login(users.channel_to("users").await, "admin", password)
        .await
        .unwrap()
        .access_token;
    create_service(registry.channel().await, &token, "Rotated Key Node")
        .await
        .expect("the registry fetched the new key and accepted the token");

    // A key nobody published is still refused.
    let stranger = TokenSigner::load_or_generate_pair(&keys.path().join("stranger.pem")).unwrap();
    let forged = stranger.sign(&fedimpute_common::auth::Claims {
        sub: "1".into(),
        username: "admin".into(),
        email: String::new(),
        roles: vec![fedimpute_common::auth::RoleGrant::global(
            fedimpute_common::auth::Role::Admin,
        )],
        iat: chrono::Utc::now().timestamp(),
        exp: chrono::Utc::now().timestamp() + 600,
        iss: "fedimpute".into(),
        aud: "fedimpute".into(),
        jti: "forged".into(),
        token_use: fedimpute_common::auth::ACCESS.into(),
        sid: String::new(),
    });
    let refused = create_service(registry.channel().await, &forged, "Forged Node").await;
    assert_eq!(refused.unwrap_err().code(), Code::Unauthenticated);

    assert!(registry.terminate().await.success());
    assert!(users.terminate().await.success());
}
