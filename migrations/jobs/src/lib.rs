//! Schema migrations of the jobs database.
