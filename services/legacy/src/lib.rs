//! `fedimpute import-legacy`: moves a running installation of the original
//! platform onto fedimpute with nothing lost. Sources (`source/`) are a live
//! PostgreSQL database or a plain `pg_dump` file, read into tables of text;
//! readers (`read/`) recognise the Django monolith's schema or the
//! half-migrated microservices' and map it into [`model::Legacy`]; several
//! sources merge into one (`merge`); the targets (`target/`) write the
//! registry, users and jobs databases, each in one transaction, keeping
//! ids, idempotently. [`report::Report`] accounts for every record.
//! docs/migrating.md is the operator's guide.

pub mod merge;
pub mod model;
pub mod read;
pub mod report;
pub mod source;
pub mod target;
