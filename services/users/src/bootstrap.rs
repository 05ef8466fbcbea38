//! The first administrator: created on first start when there are no users.

use fedimpute_common::{
    auth::{Role, write_private},
    status::Violations,
};

use crate::{
    config::Bootstrap,
    domain::account::Identity,
    error::{Error, Result},
    store::NewGrant,
    tokens::random_token,
    users::{Users, accounts::NewAccount},
};

/// Creates the admin when the database has no users. The password is the
/// configured one, or a random one written to the password file (0600);
/// the log names the file, never the password.
pub(crate) async fn ensure_admin(users: &Users, bootstrap: &Bootstrap) -> Result<()> {
    if users.store().count_users().await? > 0 {
        return Ok(());
    }
    let (password, generated) = match &bootstrap.admin_password {
        Some(p) => (p.clone(), false),
        None => (random_token(), true),
    };
    let mut v = Violations::new();
    let identity = Identity::parse(
        &mut v,
        &bootstrap.admin_username,
        &bootstrap.admin_email,
        "",
        "",
    );
    v.finish()?;
    let account = NewAccount {
        identity,
        password: password.clone(),
        profile: Users::default_profile(),
        grants: vec![NewGrant {
            role: Role::Admin,
            service_id: None,
            expires_at: None,
            granted_by: None,
        }],
        is_active: true,
    };
    if generated {
        // Written before the account exists: a crash in between leaves a
        // file and no account, and the next start tries again.
        let path = &bootstrap.password_file;
        if path.exists() {
            std::fs::remove_file(path)
                .map_err(|e| Error::Internal(format!("cannot replace {}: {e}", path.display())))?;
        }
        write_private(path, format!("{password}\n").as_bytes())
            .map_err(|e| Error::Internal(e.to_string()))?;
    }
    let user = match users.create_account(account).await {
        Ok(user) => user,
        // Another replica created it first: the file we wrote names a
        // password that was never set.
        Err(Error::AlreadyExists(_)) => {
            if generated {
                let _ = std::fs::remove_file(&bootstrap.password_file);
            }
            return Ok(());
        }
        Err(Error::Invalid(problems)) => {
            return Err(Error::Internal(format!(
                "FEDIMPUTE_ADMIN_PASSWORD is refused by the password policy: {}",
                problems
                    .iter()
                    .map(|p| p.description.as_str())
                    .collect::<Vec<_>>()
                    .join("; ")
            )));
        }
        Err(e) => return Err(e),
    };
    users
        .audit(
            &fedimpute_common::auth::Origin::default(),
            None,
            "admin_bootstrapped",
            ("user", user.id.to_string()),
            format!("first admin {} created at start", user.username),
        )
        .await;
    if generated {
        tracing::warn!(username = %user.username, file = %bootstrap.password_file.display(), "created the first admin; its generated password is in the file (read it, then delete it)");
    } else {
        tracing::info!(username = %user.username, "created the first admin with FEDIMPUTE_ADMIN_PASSWORD");
    }
    Ok(())
}
