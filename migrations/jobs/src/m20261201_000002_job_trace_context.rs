//! The W3C trace context (`traceparent`) of the request that created a job:
//! the scheduler's steps continue that trace, so one trace id follows a job
//! from the gateway to the external service. Existing jobs get none.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[expect(
    elided_lifetimes_in_paths,
    reason = "the async_trait signature of MigrationTrait cannot name the lifetime"
)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("jobs")
                    // NOT NULL with a constant default: SQLite can add it
                    // in place, PostgreSQL fills the existing rows.
                    .add_column(string("trace_context").default(""))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("jobs")
                    .drop_column("trace_context")
                    .to_owned(),
            )
            .await
    }
}
