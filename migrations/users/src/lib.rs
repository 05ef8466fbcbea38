//! Schema migrations of the users database. Migrations are immutable once
//! released, use plain identifiers (never entity types), name every unique
//! constraint (the store maps them to `AlreadyExists`), and are tracked in
//! their own table, `seaql_migrations_users`.

pub use sea_orm_migration::prelude::*;

mod m20261125_000001_create_users;
mod m20261201_000001_mail_dedupe;
mod m20261201_000002_audit_imported;

/// The users service's migrator.
#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261125_000001_create_users::Migration),
            Box::new(m20261201_000001_mail_dedupe::Migration),
            Box::new(m20261201_000002_audit_imported::Migration),
        ]
    }

    fn migration_table_name() -> DynIden {
        "seaql_migrations_users".into_iden()
    }
}
