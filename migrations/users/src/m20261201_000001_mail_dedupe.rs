//! The mail outbox learns idempotency keys: a caller that queues a mail for
//! an event (a job's outcome) names it, and the same key never queues twice.

use sea_orm_migration::prelude::*;

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
                    .table("mail_outbox")
                    .add_column(ColumnDef::new("dedupe_key").string().null())
                    .to_owned(),
            )
            .await?;
        // NULLs are distinct in a unique index on both engines: mail
        // without a key is never refused.
        manager
            .create_index(
                Index::create()
                    .name("mail_outbox_dedupe_key_key")
                    .table("mail_outbox")
                    .col("dedupe_key")
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("mail_outbox_dedupe_key_key")
                    .table("mail_outbox")
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table("mail_outbox")
                    .drop_column("dedupe_key")
                    .to_owned(),
            )
            .await
    }
}
