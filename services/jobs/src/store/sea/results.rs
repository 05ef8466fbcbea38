//! Result files: which still need copying, and how each copy went.

use chrono::Utc;
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    sea_query::{Expr, ExprTrait as _},
};

use super::rows;
use crate::store::{ResultCopy, ResultRecord, ResultState, StoreResult, entity::result_files};

pub(super) async fn pending_results(
    db: &DatabaseConnection,
    job_id: &str,
    attempt: i32,
) -> StoreResult<Vec<ResultRecord>> {
    result_files::Entity::find()
        .filter(result_files::Column::JobId.eq(job_id))
        .filter(result_files::Column::Attempt.eq(attempt))
        .filter(result_files::Column::State.eq(ResultState::Pending.as_str()))
        .order_by_asc(result_files::Column::Name)
        .all(db)
        .await?
        .into_iter()
        .map(rows::result)
        .collect()
}

pub(super) async fn record_copy(
    db: &DatabaseConnection,
    id: &str,
    copy: ResultCopy,
) -> StoreResult<()> {
    let attempts = Expr::col(result_files::Column::DownloadAttempts).add(1);
    let mut update = result_files::Entity::update_many()
        .col_expr(result_files::Column::DownloadAttempts, attempts)
        .col_expr(result_files::Column::UpdatedAt, Expr::value(Utc::now()));
    update = match copy {
        ResultCopy::Copied {
            storage_key,
            size_bytes,
            sha256,
        } => update
            .col_expr(
                result_files::Column::State,
                Expr::value(ResultState::Available.as_str()),
            )
            .col_expr(
                result_files::Column::StorageKey,
                Expr::value(Some(storage_key)),
            )
            .col_expr(result_files::Column::SizeBytes, Expr::value(size_bytes))
            .col_expr(result_files::Column::Sha256, Expr::value(sha256))
            .col_expr(result_files::Column::Error, Expr::value("")),
        ResultCopy::Retry(error) => {
            update.col_expr(result_files::Column::Error, Expr::value(error))
        }
        ResultCopy::Failed(state, error) => update
            .col_expr(result_files::Column::State, Expr::value(state.as_str()))
            .col_expr(result_files::Column::Error, Expr::value(error)),
    };
    update
        .filter(result_files::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}
