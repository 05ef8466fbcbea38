//! The audit log.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};

use super::rows::audit_record;
use crate::store::{AuditFilter, AuditRecord, NewAudit, StoreResult, Time, entity::audit_logs};

pub(super) async fn audit(db: &DatabaseConnection, entry: NewAudit) -> StoreResult<()> {
    audit_logs::ActiveModel {
        user_id: Set(entry.user_id),
        action: Set(entry.action),
        resource_type: Set(entry.resource_type),
        resource_id: Set(entry.resource_id),
        details: Set(entry.details),
        ip_address: Set(entry.ip_address),
        user_agent: Set(entry.user_agent),
        timestamp: Set(Utc::now()),
        imported: Set(false),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

pub(super) async fn list_audit(
    db: &DatabaseConnection,
    filter: &AuditFilter,
) -> StoreResult<Vec<AuditRecord>> {
    let mut query = audit_logs::Entity::find();
    if let Some(user_id) = filter.user_id {
        query = query.filter(audit_logs::Column::UserId.eq(user_id));
    }
    if let Some(action) = &filter.action {
        query = query.filter(audit_logs::Column::Action.eq(action.as_str()));
    }
    if let Some(start) = filter.start {
        query = query.filter(audit_logs::Column::Timestamp.gte(start));
    }
    if let Some(end) = filter.end {
        query = query.filter(audit_logs::Column::Timestamp.lt(end));
    }
    if let Some(before) = filter.before_id {
        query = query.filter(audit_logs::Column::Id.lt(before));
    }
    let found = query
        .order_by_desc(audit_logs::Column::Id)
        .limit(filter.limit)
        .all(db)
        .await?;
    Ok(found.into_iter().map(audit_record).collect())
}

pub(super) async fn purge_audit(db: &DatabaseConnection, before: Time) -> StoreResult<u64> {
    Ok(audit_logs::Entity::delete_many()
        .filter(audit_logs::Column::Timestamp.lt(before))
        .filter(audit_logs::Column::Imported.eq(false))
        .exec(db)
        .await?
        .rows_affected)
}
