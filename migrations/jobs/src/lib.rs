//! Schema migrations of the jobs database. Migrations are immutable once
//! released, use plain identifiers (never entity types), name every unique
//! constraint, and are tracked in their own table, `seaql_migrations_jobs`.

pub use sea_orm_migration::prelude::*;

mod m20261201_000001_create_jobs;
mod m20261201_000002_job_trace_context;

/// The jobs service's migrator.
#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261201_000001_create_jobs::Migration),
            Box::new(m20261201_000002_job_trace_context::Migration),
        ]
    }

    fn migration_table_name() -> DynIden {
        "seaql_migrations_jobs".into_iden()
    }
}
