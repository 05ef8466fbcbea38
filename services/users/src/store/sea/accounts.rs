//! Accounts.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait,
    DatabaseConnection, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::Expr,
};

use super::{
    grants::{admins_left, holders, insert_grants, lock_admins},
    rows::{contains, map_err, search_text, user_record},
    sessions::revoke_all,
};
use crate::store::{
    NewUser, Revoke, StoreResult, UserFilter, UserPatch, UserRecord,
    entity::{
        credentials, password_resets, quota_reservations, quota_usage, refresh_tokens, role_grants,
        sessions, users,
    },
};

/// Starts a transaction's work on a user with a write to its row (a no-op
/// update): PostgreSQL locks the row, SQLite takes its write lock at once.
/// Fails with `RecordNotFound` when there is no such user.
pub(super) async fn lock_user(txn: &impl ConnectionTrait, id: i64) -> StoreResult<()> {
    let locked = users::Entity::update_many()
        .col_expr(users::Column::Id, Expr::col(users::Column::Id))
        .filter(users::Column::Id.eq(id))
        .exec(txn)
        .await?
        .rows_affected;
    if locked == 0 {
        return Err(DbErr::RecordNotFound(format!("user {id}")).into());
    }
    Ok(())
}

pub(super) async fn create_user(db: &DatabaseConnection, user: NewUser) -> StoreResult<UserRecord> {
    let now = Utc::now();
    let search = search_text(
        &user.username,
        &user.email,
        &user.first_name,
        &user.last_name,
        &user.profile.institution,
    );
    let p = user.profile;
    let txn = fedimpute_common::db::begin_write(db).await?;
    let model = users::ActiveModel {
        username_key: Set(user.username.to_lowercase()),
        username: Set(user.username),
        email_key: Set(user.email.to_lowercase()),
        email: Set(user.email),
        first_name: Set(user.first_name),
        last_name: Set(user.last_name),
        password_hash: Set(user.password_hash),
        is_active: Set(user.is_active),
        date_joined: Set(now),
        last_login: Set(None),
        password_changed_at: Set(now),
        institution: Set(p.institution),
        department: Set(p.department),
        position: Set(p.position),
        country: Set(p.country),
        research_interests: Set(p.research_interests),
        phone: Set(p.phone),
        bio: Set(p.bio),
        preferred_language: Set(p.preferred_language),
        time_zone: Set(p.time_zone),
        email_notifications: Set(p.email_notifications),
        monthly_job_limit: Set(user.monthly_job_limit),
        storage_limit_bytes: Set(user.storage_limit_bytes),
        search_text: Set(search),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await
    .map_err(map_err)?;
    insert_grants(&txn, model.id, &user.grants, now).await?;
    txn.commit().await?;
    Ok(user_record(model))
}

pub(super) async fn user_by_login(
    db: &DatabaseConnection,
    key: &str,
) -> StoreResult<Option<UserRecord>> {
    let key = key.to_lowercase();
    let found = users::Entity::find()
        .filter(
            Condition::any()
                .add(users::Column::UsernameKey.eq(key.as_str()))
                .add(users::Column::EmailKey.eq(key.as_str())),
        )
        .order_by_asc(users::Column::Id)
        .all(db)
        .await?;
    // A username match wins over another account's email.
    let pick = match found.iter().position(|u| u.username_key == key) {
        Some(i) => found.into_iter().nth(i),
        None => found.into_iter().next(),
    };
    Ok(pick.map(user_record))
}

pub(super) async fn user_by_email(
    db: &DatabaseConnection,
    email_key: &str,
) -> StoreResult<Option<UserRecord>> {
    let found = users::Entity::find()
        .filter(users::Column::EmailKey.eq(email_key.to_lowercase()))
        .one(db)
        .await?;
    Ok(found.map(user_record))
}

pub(super) async fn list_users(
    db: &DatabaseConnection,
    filter: &UserFilter,
) -> StoreResult<Vec<UserRecord>> {
    let mut query = users::Entity::find().filter(users::Column::Id.gt(filter.after_id));
    if let Some(q) = &filter.q {
        query = query.filter(contains(users::Column::SearchText, q));
    }
    if let Some(active) = filter.is_active {
        query = query.filter(users::Column::IsActive.eq(active));
    }
    if let Some(role) = filter.role {
        query = query.filter(users::Column::Id.in_subquery(holders(role, false, Utc::now())));
    }
    let found = query
        .order_by_asc(users::Column::Id)
        .limit(filter.limit)
        .all(db)
        .await?;
    Ok(found.into_iter().map(user_record).collect())
}

pub(super) async fn count_users(db: &DatabaseConnection) -> StoreResult<u64> {
    Ok(users::Entity::find().count(db).await?)
}

fn patch_model(patch: &UserPatch) -> users::ActiveModel {
    fn set<T: Clone + Into<sea_orm::Value>>(value: Option<&T>) -> sea_orm::ActiveValue<T> {
        value.map_or(sea_orm::ActiveValue::NotSet, |v| Set(v.clone()))
    }
    let p = &patch.profile;
    users::ActiveModel {
        email: set(patch.email.as_ref()),
        email_key: set(patch.email.as_ref().map(|e| e.to_lowercase()).as_ref()),
        first_name: set(patch.first_name.as_ref()),
        last_name: set(patch.last_name.as_ref()),
        is_active: set(patch.is_active.as_ref()),
        institution: set(p.institution.as_ref()),
        department: set(p.department.as_ref()),
        position: set(p.position.as_ref()),
        country: set(p.country.as_ref()),
        research_interests: set(p.research_interests.as_ref()),
        phone: set(p.phone.as_ref()),
        bio: set(p.bio.as_ref()),
        preferred_language: set(p.preferred_language.as_ref()),
        time_zone: set(p.time_zone.as_ref()),
        email_notifications: set(p.email_notifications.as_ref()),
        monthly_job_limit: set(patch.monthly_job_limit.as_ref()),
        storage_limit_bytes: set(patch.storage_limit_bytes.as_ref()),
        ..Default::default()
    }
}

pub(super) async fn update_user(
    db: &DatabaseConnection,
    id: i64,
    patch: &UserPatch,
) -> StoreResult<Option<UserRecord>> {
    let now = Utc::now();
    let mut model = patch_model(patch);
    model.updated_at = Set(now);
    let txn = fedimpute_common::db::begin_write(db).await?;
    // Writes first (see the module doc of `store`).
    let deactivating = patch.is_active == Some(false);
    let admins = if deactivating {
        lock_admins(&txn, now).await?
    } else {
        0
    };
    let changed = users::Entity::update_many()
        .set(model)
        .filter(users::Column::Id.eq(id))
        .exec(&txn)
        .await
        .map_err(map_err)?
        .rows_affected;
    if changed == 0 {
        return Ok(None);
    }
    let Some(user) = users::Entity::find_by_id(id).one(&txn).await? else {
        return Ok(None);
    };
    let text = search_text(
        &user.username,
        &user.email,
        &user.first_name,
        &user.last_name,
        &user.institution,
    );
    if text != user.search_text {
        let mut active: users::ActiveModel = user.clone().into();
        active.search_text = Set(text);
        active.update(&txn).await?;
    }
    if deactivating {
        admins_left(&txn, admins, now).await?;
        revoke_all(&txn, id, &Revoke::All, "deactivated", now).await?;
    }
    txn.commit().await?;
    Ok(Some(user_record(user)))
}

pub(super) async fn delete_user(db: &DatabaseConnection, id: i64) -> StoreResult<bool> {
    let now = Utc::now();
    let txn = fedimpute_common::db::begin_write(db).await?;
    let admins = lock_admins(&txn, now).await?;
    if users::Entity::delete_by_id(id)
        .exec(&txn)
        .await?
        .rows_affected
        == 0
    {
        return Ok(false);
    }
    // `ON DELETE CASCADE` has removed the rest already; explicit all the
    // same, rather than relying on SQLite's foreign keys being enabled.
    // The audit log stays.
    macro_rules! delete_of_user {
        ($($table:ident),*) => {$(
            $table::Entity::delete_many()
                .filter($table::Column::UserId.eq(id))
                .exec(&txn)
                .await?;
        )*};
    }
    delete_of_user!(
        role_grants,
        refresh_tokens,
        sessions,
        password_resets,
        credentials,
        quota_usage,
        quota_reservations
    );
    admins_left(&txn, admins, now).await?;
    txn.commit().await?;
    Ok(true)
}
