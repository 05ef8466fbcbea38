//! Input files.

use sea_orm::{
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Expr, ExprTrait as _},
};

use super::rows;
use crate::store::{
    FileRecord, StoreError, StoreResult,
    entity::{input_files, jobs},
};

pub(super) async fn insert_file(db: &DatabaseConnection, f: FileRecord) -> StoreResult<()> {
    input_files::ActiveModel {
        id: Set(f.id),
        user_id: Set(f.user_id),
        filename: Set(f.filename),
        original_filename: Set(f.original_filename),
        storage_key: Set(f.storage_key),
        size_bytes: Set(f.size_bytes),
        sha256: Set(f.sha256),
        compression: Set(match f.facts.compression {
            crate::domain::vcf::Compression::Bgzf => "bgzf".into(),
            crate::domain::vcf::Compression::Gzip => "gzip".into(),
        }),
        vcf_summary: Set(rows::to_json(&f.facts)),
        warnings: Set(rows::to_json(&f.warnings)),
        created_at: Set(f.created_at),
    }
    .insert(db)
    .await?;
    Ok(())
}

pub(super) async fn file(db: &DatabaseConnection, id: &str) -> StoreResult<Option<FileRecord>> {
    input_files::Entity::find_by_id(id.to_owned())
        .one(db)
        .await?
        .map(rows::file)
        .transpose()
}

pub(super) async fn files(
    db: &DatabaseConnection,
    user_id: i64,
    skip: u64,
    limit: u64,
) -> StoreResult<Vec<FileRecord>> {
    input_files::Entity::find()
        .filter(input_files::Column::UserId.eq(user_id))
        .order_by_desc(input_files::Column::CreatedAt)
        .order_by_desc(input_files::Column::Id)
        .offset(skip)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(rows::file)
        .collect()
}

pub(super) async fn file_job_counts(
    db: &DatabaseConnection,
    ids: &[String],
) -> StoreResult<Vec<(String, i64)>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let counts: Vec<(Option<String>, i64)> = jobs::Entity::find()
        .select_only()
        .column(jobs::Column::InputFileId)
        .column_as(Expr::col(jobs::Column::Id).count(), "n")
        .filter(jobs::Column::InputFileId.is_in(ids.iter().cloned()))
        .filter(jobs::Column::IsParent.eq(false))
        .group_by(jobs::Column::InputFileId)
        .into_tuple()
        .all(db)
        .await?;
    Ok(counts
        .into_iter()
        .filter_map(|(id, n)| id.map(|id| (id, n)))
        .collect())
}

pub(super) async fn delete_file(db: &DatabaseConnection, id: &str) -> StoreResult<bool> {
    let used = jobs::Entity::find()
        .filter(jobs::Column::InputFileId.eq(id))
        .one(db)
        .await?
        .is_some();
    if used {
        return Err(StoreError::InUse);
    }
    let deleted = input_files::Entity::delete_by_id(id.to_owned())
        .exec(db)
        .await;
    match deleted {
        Ok(r) => Ok(r.rows_affected == 1),
        // A job created meanwhile holds it (the foreign key refuses).
        Err(e) if is_fk_violation(&e) => Err(StoreError::InUse),
        Err(e) => Err(e.into()),
    }
}

fn is_fk_violation(err: &sea_orm::DbErr) -> bool {
    matches!(
        err.sql_err(),
        Some(sea_orm::SqlErr::ForeignKeyConstraintViolation(_))
    )
}
