//! The fedimpute test harness: databases (SQLite and PostgreSQL), in-process
//! components on `127.0.0.1:0` built through the same `Application::build`
//! the binary uses, token minting with a test key, a bounded wait helper,
//! and loopback fakes of the external imputation services.

pub mod bench;
pub mod fakes;
pub mod harness;

pub use harness::{
    auth::TestAuth,
    db::{Backend, TestDb, backends},
    eventually,
    registry::TestRegistry,
};
