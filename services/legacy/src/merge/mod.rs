//! Several sources into one [`Legacy`]. The same user (by username, case
//! insensitive), service (by normalised base URL) or panel (by service and
//! external id; or, failing that, by service, name and build) found twice
//! is kept once; the first source given wins a field conflict, an empty
//! field is filled from a later copy, and every difference is reported.
//! A record whose id is already taken by a different record gets a new id,
//! and every reference to it is remapped (panels → services; jobs → users,
//! services, panels; credentials, roles, profiles, audit entries, files,
//! health checks).
//!
//! Ids belong to an id space: a source's own ids first, then its schema
//! family's (the microservices' databases referred to each other by id: a
//! job database's `service_id` is a registry id), so a job read from a job
//! database follows the registry service it named, wherever it went.

mod dependents;
mod fields;
mod records;

use std::collections::HashMap;

pub use fields::normalise_base_url;

use crate::{
    model::Legacy,
    read::{Family, Part},
    report::Report,
};

/// Integer-keyed entities whose ids may be remapped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    Service,
    Panel,
    User,
}

/// Where each part's ids went.
#[derive(Debug, Default)]
pub(crate) struct IdMap {
    by_part: HashMap<(usize, Kind, i64), i64>,
    by_family: HashMap<(Family, Kind, i64), i64>,
}

impl IdMap {
    fn insert(&mut self, part: usize, family: Family, kind: Kind, old: i64, new: i64) {
        self.by_part.insert((part, kind, old), new);
        self.by_family.entry((family, kind, old)).or_insert(new);
    }

    /// The merged id a part's reference means: the part's own record,
    /// else its family's, else the id as it is.
    pub(crate) fn get(&self, part: usize, family: Family, kind: Kind, old: i64) -> i64 {
        self.by_part
            .get(&(part, kind, old))
            .or_else(|| self.by_family.get(&(family, kind, old)))
            .copied()
            .unwrap_or(old)
    }
}

/// Merges the parts, in the order given (the first wins), counting
/// duplicates as merged and reporting conflicts and remapped ids.
pub fn merge(parts: Vec<Part>, report: &mut Report) -> Legacy {
    let mut ids = IdMap::default();
    let mut out = Legacy::default();
    let mut m = records::Merger::new(&parts, report);
    for (i, part) in parts.iter().enumerate() {
        m.services(i, part, &mut ids, &mut out);
    }
    for (i, part) in parts.iter().enumerate() {
        m.panels(i, part, &mut ids, &mut out);
    }
    for (i, part) in parts.iter().enumerate() {
        m.users(i, part, &mut ids, &mut out);
    }
    for (i, part) in parts.iter().enumerate() {
        m.dependents(i, part, &ids, &mut out);
    }
    m.owners_of_files(&mut out);
    out
}

#[cfg(test)]
mod tests;
