//! Operator commands (`fedimpute admin ...`) on the users database
//! directly, through the same store and rules as the service.

use fedimpute_common::auth::Role;
use fedimpute_passwords::{Policy, PolicyContext};
use fedimpute_users_migration::{Migrator, MigratorTrait};
use sea_orm::DatabaseConnection;

use crate::{
    domain::account::{email, username},
    store::{NewAudit, NewGrant, NewUser, Revoke, SeaOrmStore, UserFilter, UsersStore},
    users::Users,
};

/// The quotas of a new account.
#[derive(Clone, Copy, Debug)]
pub struct Quotas {
    pub monthly_job_limit: i32,
    pub storage_limit_bytes: i64,
}

/// Connects and migrates.
pub async fn open(url: &str) -> Result<SeaOrmStore, String> {
    let db: DatabaseConnection = fedimpute_common::db::connect(url, 2)
        .await
        .map_err(|e| format!("users database: {e}"))?;
    Migrator::up(&db, None)
        .await
        .map_err(|e| format!("users migrations: {e}"))?;
    Ok(SeaOrmStore::new(db))
}

fn check(password: &str, who: PolicyContext<'_>) -> Result<(), String> {
    Policy::default()
        .check(password, &who)
        .map_err(|problems| format!("the password is refused: {}", problems.join("; ")))
}

fn hash(password: &str, cost: u32) -> Result<String, String> {
    fedimpute_passwords::hash(password, cost).map_err(|e| e.to_string())
}

/// Operator actions are audited like admin actions, as the CLI.
async fn audit(
    store: &SeaOrmStore,
    action: &str,
    user_id: i64,
    details: String,
) -> Result<(), String> {
    store
        .audit(NewAudit {
            user_id: None,
            action: action.to_owned(),
            resource_type: "user".into(),
            resource_id: user_id.to_string(),
            details,
            ip_address: String::new(),
            user_agent: "fedimpute admin (operator command)".into(),
        })
        .await
        .map_err(|e| e.to_string())
}

async fn account(store: &SeaOrmStore, name: &str) -> Result<crate::store::UserRecord, String> {
    store
        .user_by_login(&name.to_lowercase())
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no account is named {name}"))
}

pub async fn create_user(
    store: &SeaOrmStore,
    name: &str,
    address: &str,
    roles: &[Role],
    password: &str,
    cost: u32,
    quotas: Quotas,
) -> Result<i64, String> {
    let name = username(name).map_err(|e| format!("username {e}"))?;
    let address = email(address).map_err(|e| format!("email {e}"))?;
    check(
        password,
        PolicyContext {
            username: &name,
            email: &address,
            first_name: "",
            last_name: "",
        },
    )?;
    let roles = if roles.is_empty() {
        vec![Role::Researcher]
    } else {
        roles.to_vec()
    };
    let user = store
        .create_user(NewUser {
            username: name,
            email: address,
            first_name: String::new(),
            last_name: String::new(),
            password_hash: hash(password, cost)?,
            is_active: true,
            profile: Users::default_profile(),
            monthly_job_limit: quotas.monthly_job_limit,
            storage_limit_bytes: quotas.storage_limit_bytes,
            grants: roles
                .iter()
                .map(|role| NewGrant {
                    role: *role,
                    service_id: None,
                    expires_at: None,
                    granted_by: None,
                })
                .collect(),
        })
        .await
        .map_err(|e| e.to_string())?;
    audit(
        store,
        "user_created",
        user.id,
        format!("username {}", user.username),
    )
    .await?;
    Ok(user.id)
}

/// Sets the password and ends every session of the account.
pub async fn set_password(
    store: &SeaOrmStore,
    name: &str,
    password: &str,
    cost: u32,
) -> Result<(), String> {
    let user = account(store, name).await?;
    check(
        password,
        PolicyContext {
            username: &user.username,
            email: &user.email,
            first_name: &user.first_name,
            last_name: &user.last_name,
        },
    )?;
    store
        .set_password(user.id, &hash(password, cost)?, Some(Revoke::All))
        .await
        .map_err(|e| e.to_string())?;
    // An operator's reset also lifts a lockout.
    store
        .clear_failures(&format!("account:{}", user.id))
        .await
        .map_err(|e| e.to_string())?;
    audit(store, "password_set", user.id, "every session ended".into()).await
}

pub async fn set_roles(
    store: &SeaOrmStore,
    name: &str,
    roles: &[Role],
    service_id: Option<i64>,
) -> Result<(), String> {
    let user = account(store, name).await?;
    let grants: Vec<NewGrant> = roles
        .iter()
        .map(|role| NewGrant {
            role: *role,
            service_id,
            expires_at: None,
            granted_by: None,
        })
        .collect();
    store
        .set_grants(user.id, &grants)
        .await
        .map_err(|e| e.to_string())?;
    let summary: Vec<String> = roles.iter().map(|r| format!("{r:?}")).collect();
    audit(store, "roles_set", user.id, summary.join(", ")).await
}

/// One line per account: id, username, email, active, roles.
pub async fn list_users(store: &SeaOrmStore) -> Result<Vec<String>, String> {
    let mut lines = Vec::new();
    let mut after = 0;
    loop {
        let page = store
            .list_users(&UserFilter {
                after_id: after,
                limit: 500,
                ..UserFilter::default()
            })
            .await
            .map_err(|e| e.to_string())?;
        let Some(last) = page.last() else { break };
        after = last.id;
        let ids: Vec<i64> = page.iter().map(|u| u.id).collect();
        let grants = store.grants_of(&ids).await.map_err(|e| e.to_string())?;
        for u in &page {
            let roles: Vec<String> = grants
                .iter()
                .filter(|(id, _)| *id == u.id)
                .map(|(_, g)| match g.service_id {
                    Some(s) => format!("{:?}@{s}", g.role),
                    None => format!("{:?}", g.role),
                })
                .collect();
            lines.push(format!(
                "{}\t{}\t{}\t{}\t{}",
                u.id,
                u.username,
                u.email,
                if u.is_active { "active" } else { "inactive" },
                roles.join(",")
            ));
        }
    }
    Ok(lines)
}
