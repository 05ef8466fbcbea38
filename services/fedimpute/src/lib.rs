//! The `fedimpute` binary as a library: the command line, configuration
//! loading (once, here) and the components it runs.

mod cli;
mod gateway;
mod jobs;
mod keys;
mod legacy;
mod run;
mod users;

pub use cli::Cli;
pub use run::main;
