//! Where legacy data is read from: a plain `pg_dump` SQL file (its COPY
//! blocks, parsed directly: no PostgreSQL needed) or a live PostgreSQL
//! database. Both yield [`Tables`] whose values are PostgreSQL's text form
//! of each column (what COPY writes and `col::text` returns), so one set of
//! readers serves both.

mod dump;
mod live;

use std::{collections::BTreeMap, path::PathBuf};

pub use dump::parse_dump;

/// One table: its columns, and its rows as text (`None` is SQL NULL).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Table {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Option<String>>>,
    /// Rows in the source. Equals `rows.len()` unless the caller asked
    /// for the table's rows not to be kept (only counted).
    pub row_count: u64,
}

impl Table {
    pub fn new(columns: Vec<String>) -> Self {
        Self {
            columns,
            rows: Vec::new(),
            row_count: 0,
        }
    }

    /// The index of a column.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }
}

/// Tables by name: `public.` is stripped, other schemas stay qualified
/// (`audit.events`).
pub type Tables = BTreeMap<String, Table>;

/// Which tables' rows to keep (the others are only counted).
pub type Keep<'a> = &'a (dyn Fn(&str) -> bool + Sync);

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("cannot read {path}: {reason}")]
    File { path: String, reason: String },
    #[error("{path}, line {line}: {reason}")]
    Dump {
        path: String,
        line: u64,
        reason: String,
    },
    #[error("not a database URL: {url}: {reason}")]
    Url { url: String, reason: String },
    #[error("{url}: {reason}")]
    Database { url: String, reason: String },
}

/// A source named on the command line.
#[derive(Clone, Debug)]
pub enum Source {
    Dump { path: PathBuf, origin: String },
    Live { url: String, origin: String },
}

impl Source {
    /// `postgres://` or `postgresql://` is a live database; anything else
    /// is a dump file, which must be readable now.
    pub fn open(arg: &str) -> Result<Self, SourceError> {
        if arg.starts_with("postgres://") || arg.starts_with("postgresql://") {
            let origin = redact(arg);
            let parsed = url::Url::parse(arg).map_err(|e| SourceError::Url {
                url: origin.clone(),
                reason: e.to_string(),
            })?;
            if parsed.host_str().is_none_or(str::is_empty) && !arg.contains("host=") {
                return Err(SourceError::Url {
                    url: origin,
                    reason: "it names no host".into(),
                });
            }
            return Ok(Self::Live {
                url: arg.to_owned(),
                origin,
            });
        }
        let path = PathBuf::from(arg);
        match std::fs::metadata(&path) {
            Ok(meta) if meta.is_file() => {}
            Ok(_) => {
                return Err(SourceError::File {
                    path: arg.to_owned(),
                    reason: "not a file (a dump file or a postgres:// URL is expected)".into(),
                });
            }
            Err(e) => {
                return Err(SourceError::File {
                    path: arg.to_owned(),
                    reason: e.to_string(),
                });
            }
        }
        std::fs::File::open(&path).map_err(|e| SourceError::File {
            path: arg.to_owned(),
            reason: e.to_string(),
        })?;
        Ok(Self::Dump {
            path,
            origin: arg.to_owned(),
        })
    }

    /// The source as the report names it: the path as given, or the URL
    /// without its password.
    pub fn origin(&self) -> &str {
        match self {
            Self::Dump { origin, .. } | Self::Live { origin, .. } => origin,
        }
    }

    /// Reads every table; rows of tables `keep` refuses are only counted.
    pub async fn read(&self, keep: Keep<'_>) -> Result<Tables, SourceError> {
        match self {
            // A one-off operator command: reading the file on this thread
            // is simpler than handing the predicate to a blocking task.
            Self::Dump { path, origin } => dump::read_file(path, origin, keep),
            Self::Live { url, origin } => live::read(url, origin, keep).await,
        }
    }

    /// Reads every table and keeps every row.
    pub async fn read_all(&self) -> Result<Tables, SourceError> {
        self.read(&|_| true).await
    }
}

/// The URL without its password, even when it does not parse (then
/// everything between `://` and the last `@` is hidden).
fn redact(url: &str) -> String {
    if url::Url::parse(url).is_ok() {
        return fedimpute_common::db::redact_url(url);
    }
    match (url.find("://"), url.rfind('@')) {
        (Some(start), Some(at)) if at > start + 3 => {
            format!("{}****{}", &url[..start + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_live_and_paths_are_dumps() {
        let live =
            Source::open("postgres://me:secret@db.example.org:5432/federated_imputation").unwrap();
        assert!(matches!(live, Source::Live { .. }));
        assert!(!live.origin().contains("secret"), "{}", live.origin());
        assert!(matches!(
            Source::open("postgresql://db/x").unwrap(),
            Source::Live { .. }
        ));
        let err = Source::open("/nonexistent/dump.sql")
            .unwrap_err()
            .to_string();
        assert!(err.contains("/nonexistent/dump.sql"), "{err}");
        let err = Source::open("postgres://me:secret@[bad/x")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("secret"), "{err}");
        let dir = std::env::temp_dir();
        let err = Source::open(dir.to_str().unwrap()).unwrap_err().to_string();
        assert!(err.contains("not a file"), "{err}");
    }
}
