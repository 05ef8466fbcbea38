//! The import's account of every record: per entity, how many were found,
//! imported, merged (the same record from two sources, or already present
//! from an earlier run) and skipped, each skip with its reason, plus the
//! conflicts merging found. `dropped` counts records the report cannot
//! account for: any makes the command exit non-zero.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::model::Origin;

/// A record left out, and why.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Skip {
    pub source: String,
    pub table: String,
    pub key: String,
    pub reason: String,
}

impl Skip {
    pub fn new(origin: &Origin, reason: impl Into<String>) -> Self {
        Self {
            source: origin.source.clone(),
            table: origin.table.clone(),
            key: origin.key.clone(),
            reason: reason.into(),
        }
    }
}

/// Two sources disagree about one record; `kept` says which won.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Conflict {
    pub entity: String,
    pub key: String,
    pub field: String,
    pub values: Vec<String>,
    pub kept: String,
}

#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct EntityCount {
    pub found: u64,
    pub imported: u64,
    pub merged: u64,
    pub skipped: Vec<Skip>,
    /// Found but neither imported, merged nor skipped with a reason.
    pub dropped: u64,
}

#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct Report {
    pub dry_run: bool,
    pub sources: Vec<String>,
    /// Keyed by entity: `services`, `panels`, `users`, `jobs`...
    pub entities: BTreeMap<String, EntityCount>,
    pub conflicts: Vec<Conflict>,
}

impl Report {
    pub fn entity(&mut self, name: &str) -> &mut EntityCount {
        self.entities.entry(name.to_owned()).or_default()
    }

    /// Records nobody accounted for: the command fails when this is not 0.
    pub fn dropped(&self) -> u64 {
        self.entities.values().map(|e| e.dropped).sum()
    }
}
