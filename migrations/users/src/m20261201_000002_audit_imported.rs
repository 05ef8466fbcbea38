//! Audit entries imported from the legacy platform are marked: they are
//! the old platform's history, kept whatever the retention of new entries
//! (`FEDIMPUTE_AUDIT_RETENTION` would otherwise delete years of history at
//! the first start after an import).

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
                    .table("audit_logs")
                    .add_column(
                        ColumnDef::new("imported")
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("audit_logs")
                    .drop_column("imported")
                    .to_owned(),
            )
            .await
    }
}
