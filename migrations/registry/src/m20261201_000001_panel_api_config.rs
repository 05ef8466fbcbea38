//! A per-panel `api_config`: the non-secret settings the remote needs for
//! one panel (a WES workflow, a DNAstack workflow version), on top of the
//! service's. Same column type as `services.api_config`; existing panels get
//! an empty object.

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
                    .table("reference_panels")
                    // NOT NULL with a constant default: SQLite can add it
                    // in place, PostgreSQL fills the existing rows.
                    .add_column(json("api_config").default("{}"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("reference_panels")
                    .drop_column("api_config")
                    .to_owned(),
            )
            .await
    }
}
