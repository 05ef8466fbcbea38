//! sea-orm entities of the registry tables (see the migration crate).

pub mod health_checks;
pub mod reference_panels;
pub mod services;
