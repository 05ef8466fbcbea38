//! Schema migrations of the registry database. Migrations are immutable once
//! released, use plain identifiers (never entity types), name every unique
//! constraint (the store maps them to `AlreadyExists`), and are tracked in
//! their own table, `seaql_migrations_registry`, so the registry can share a
//! database with other components without confusion.

pub use sea_orm_migration::prelude::*;

mod m20261125_000001_create_registry;
mod m20261201_000001_panel_api_config;

/// The registry's migrator.
#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261125_000001_create_registry::Migration),
            Box::new(m20261201_000001_panel_api_config::Migration),
        ]
    }

    fn migration_table_name() -> DynIden {
        "seaql_migrations_registry".into_iden()
    }
}
