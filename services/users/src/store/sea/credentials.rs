//! The users' credentials for the external imputation services.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection,
    EntityTrait, QueryFilter, QueryOrder, sea_query::Expr,
};

use super::rows::{credential_record, map_err};
use crate::store::{
    CredentialRecord, NewCredential, StoreError, StoreResult, Verification,
    entity::credentials::{self, Column},
};

const UNIQUE: &str = "credentials_user_service_key";

async fn find(
    db: &impl ConnectionTrait,
    user_id: i64,
    service_id: i64,
) -> StoreResult<Option<CredentialRecord>> {
    Ok(credentials::Entity::find()
        .filter(Column::UserId.eq(user_id))
        .filter(Column::ServiceId.eq(service_id))
        .one(db)
        .await?
        .map(credential_record))
}

pub(super) async fn put_credential(
    db: &DatabaseConnection,
    credential: NewCredential,
) -> StoreResult<(CredentialRecord, bool)> {
    match try_put(db, &credential).await {
        // A concurrent first put won the insert: replace its value.
        Err(StoreError::Conflict(name)) if name == UNIQUE => try_put(db, &credential).await,
        other => other,
    }
}

/// Replaces the pair's credential, or inserts it when there is none.
async fn try_put(
    db: &DatabaseConnection,
    c: &NewCredential,
) -> StoreResult<(CredentialRecord, bool)> {
    let now = Utc::now();
    let mut model = credentials::ActiveModel {
        credential_type: Set(c.credential_type.clone()),
        label: Set(c.label.clone()),
        hint: Set(c.hint.clone()),
        has_api_token: Set(c.has_api_token),
        has_oauth_token: Set(c.has_oauth_token),
        has_basic_auth: Set(c.has_basic_auth),
        sealed: Set(c.sealed.clone()),
        expires_at: Set(c.expires_at),
        is_verified: Set(false),
        last_verified_at: Set(None),
        verification_error: Set(String::new()),
        updated_at: Set(now),
        ..Default::default()
    };
    let txn = fedimpute_common::db::begin_write(db).await?;
    let replaced = credentials::Entity::update_many()
        .set(model.clone())
        .filter(Column::UserId.eq(c.user_id))
        .filter(Column::ServiceId.eq(c.service_id))
        .exec(&txn)
        .await?
        .rows_affected
        > 0;
    let record = if replaced {
        find(&txn, c.user_id, c.service_id)
            .await?
            .ok_or(sea_orm::DbErr::RecordNotFound("credential".into()))?
    } else {
        model.user_id = Set(c.user_id);
        model.service_id = Set(c.service_id);
        model.last_used_at = Set(None);
        model.created_at = Set(now);
        credential_record(model.insert(&txn).await.map_err(map_err)?)
    };
    txn.commit().await?;
    Ok((record, !replaced))
}

pub(super) async fn credential(
    db: &DatabaseConnection,
    user_id: i64,
    service_id: i64,
) -> StoreResult<Option<CredentialRecord>> {
    find(db, user_id, service_id).await
}

pub(super) async fn credentials(
    db: &DatabaseConnection,
    user_id: i64,
) -> StoreResult<Vec<CredentialRecord>> {
    let found = credentials::Entity::find()
        .filter(Column::UserId.eq(user_id))
        .order_by_desc(Column::UpdatedAt)
        .order_by_desc(Column::ServiceId)
        .all(db)
        .await?;
    Ok(found.into_iter().map(credential_record).collect())
}

pub(super) async fn delete_credential(
    db: &DatabaseConnection,
    user_id: i64,
    service_id: i64,
) -> StoreResult<bool> {
    Ok(credentials::Entity::delete_many()
        .filter(Column::UserId.eq(user_id))
        .filter(Column::ServiceId.eq(service_id))
        .exec(db)
        .await?
        .rows_affected
        > 0)
}

pub(super) async fn record_verification(
    db: &DatabaseConnection,
    user_id: i64,
    service_id: i64,
    sealed: &str,
    outcome: &Verification,
) -> StoreResult<Option<CredentialRecord>> {
    let mut update = credentials::Entity::update_many()
        .col_expr(Column::IsVerified, Expr::value(outcome.verified))
        .col_expr(
            Column::VerificationError,
            Expr::value(outcome.error.clone()),
        )
        .col_expr(Column::LastVerifiedAt, Expr::value(Some(Utc::now())));
    if let Some(at) = outcome.expires_at {
        update = update.col_expr(Column::ExpiresAt, Expr::value(Some(at)));
    }
    let txn = fedimpute_common::db::begin_write(db).await?;
    let changed = update
        .filter(Column::UserId.eq(user_id))
        .filter(Column::ServiceId.eq(service_id))
        .filter(Column::Sealed.eq(sealed))
        .exec(&txn)
        .await?
        .rows_affected;
    if changed == 0 {
        return Ok(None);
    }
    let record = find(&txn, user_id, service_id).await?;
    txn.commit().await?;
    Ok(record)
}

pub(super) async fn touch_credential(
    db: &DatabaseConnection,
    user_id: i64,
    service_id: i64,
) -> StoreResult<()> {
    credentials::Entity::update_many()
        .col_expr(Column::LastUsedAt, Expr::value(Some(Utc::now())))
        .filter(Column::UserId.eq(user_id))
        .filter(Column::ServiceId.eq(service_id))
        .exec(db)
        .await?;
    Ok(())
}
