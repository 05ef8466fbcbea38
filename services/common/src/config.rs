//! Configuration pieces shared by the components. Each component has its own
//! typed settings struct; the binary fills them once in `main` (flags and
//! environment variables), tests build them directly.

use std::{
    fmt,
    path::{Path, PathBuf},
    str::FromStr,
    time::Duration,
};

/// Whether the platform runs for development (keys generated on first use
/// into the data directory) or production (every key must be given).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    #[default]
    Development,
    Production,
}

impl FromStr for Mode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "development" | "dev" => Ok(Self::Development),
            "production" | "prod" => Ok(Self::Production),
            other => Err(format!(
                "unknown mode '{other}': expected development or production"
            )),
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Development => "development",
            Self::Production => "production",
        })
    }
}

/// A duration written the human way (`30s`, `5m`, `30d`), for flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HumanDuration(pub Duration);

impl FromStr for HumanDuration {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // Ten years is more than any interval or retention needs, and keeps
        // date arithmetic far from overflow.
        const MAX: Duration = Duration::from_secs(10 * 365 * 24 * 3600);
        let parsed = humantime::parse_duration(s)
            .map_err(|e| format!("invalid duration '{s}': {e} (examples: 30s, 5m, 30d)"))?;
        if parsed > MAX {
            return Err(format!("duration '{s}' is longer than ten years"));
        }
        Ok(Self(parsed))
    }
}

/// The default SQLite URL of a component inside the data directory.
pub fn default_sqlite_url(data_dir: &Path, component: &str) -> String {
    format!(
        "sqlite://{}?mode=rwc",
        data_dir.join(format!("{component}.db")).display()
    )
}

/// Where development keys live inside the data directory.
pub fn keys_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("keys")
}
