//! `fedimpute import-legacy`: reads each source, maps and merges them,
//! imports into the three target databases (or, with `--dry-run`, only
//! says what would happen), then prints the report per entity and writes
//! it as JSON with `--report`.
//!
//! Exit status: 0 when every record is accounted for; 1 when the import
//! failed (the failed target's transaction was rolled back); 3 when it ran
//! but records are unaccounted for (`dropped`); 64 for a source that cannot
//! be opened or holds none of the original platform's tables.

use std::{fmt::Write as _, process::ExitCode};

use fedimpute_common::config::{Mode, default_sqlite_url, keys_dir};
use fedimpute_common::crypto::Keyring;
use fedimpute_legacy::{
    merge, read,
    report::Report,
    source::Source,
    target::{self, Targets},
};

use crate::{
    cli::{Global, ImportLegacyArgs},
    keys,
    run::EXIT_CONFIG,
};

/// Records were left unaccounted for.
const EXIT_DROPPED: u8 = 3;

pub(crate) async fn run(global: &Global, args: &ImportLegacyArgs) -> ExitCode {
    let mut report = Report {
        dry_run: args.dry_run,
        ..Report::default()
    };
    let mut sources = Vec::new();
    for arg in &args.sources {
        match Source::open(arg) {
            Ok(source) => sources.push(source),
            Err(e) => {
                eprintln!("fedimpute import-legacy: {e}");
                return ExitCode::from(EXIT_CONFIG);
            }
        }
    }
    report.sources = sources.iter().map(|s| s.origin().to_owned()).collect();
    let mut parts = Vec::new();
    for source in &sources {
        tracing::info!(source = source.origin(), "reading");
        let tables = match source.read(&read::wanted).await {
            Ok(tables) => tables,
            Err(e) => {
                eprintln!("fedimpute import-legacy: {e}");
                return ExitCode::FAILURE;
            }
        };
        match read::read(source.origin(), &tables, &mut report) {
            Ok(found) => {
                for part in &found {
                    tracing::info!(
                        source = source.origin(),
                        schema = part.family.as_str(),
                        "recognised"
                    );
                }
                parts.extend(found);
            }
            Err(e) => {
                eprintln!("fedimpute import-legacy: {e}");
                return ExitCode::from(EXIT_CONFIG);
            }
        }
    }
    let legacy = merge::merge(parts, &mut report);
    let keyring = match keyring(global, args.dry_run) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("fedimpute import-legacy: invalid configuration: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let targets = Targets {
        registry_url: target_url(global, &args.registry_database_url, "registry"),
        users_url: target_url(global, &args.users_database_url, "users"),
        jobs_url: target_url(global, &args.jobs_database_url, "jobs"),
        keyring,
    };
    let outcome = target::import(&legacy, &targets, args.dry_run, &mut report).await;
    settle(&mut report);
    print!("{}", render(&report));
    if let Some(path) = &args.report {
        let written = serde_json::to_vec_pretty(&report)
            .map_err(|e| e.to_string())
            .and_then(|json| std::fs::write(path, json).map_err(|e| e.to_string()));
        if let Err(e) = written {
            eprintln!(
                "fedimpute import-legacy: cannot write the report to {}: {e}",
                path.display()
            );
            return ExitCode::FAILURE;
        }
    }
    if let Err(e) = outcome {
        let mut message = e.to_string();
        let mut cause = std::error::Error::source(&e);
        while let Some(c) = cause {
            let _ = write!(message, ": {c}");
            cause = c.source();
        }
        eprintln!("fedimpute import-legacy: {message}");
        return ExitCode::FAILURE;
    }
    let dropped = report.dropped();
    if dropped > 0 {
        eprintln!(
            "fedimpute import-legacy: {dropped} records are not accounted for (found, but neither imported, merged nor skipped with a reason)"
        );
        return ExitCode::from(EXIT_DROPPED);
    }
    ExitCode::SUCCESS
}

fn target_url(global: &Global, given: &Option<String>, component: &str) -> String {
    given
        .clone()
        .unwrap_or_else(|| default_sqlite_url(&global.data_dir, component))
}

/// The services' keyring. A dry run in development with no key yet uses a
/// throw-away key rather than generating the key file (it writes nothing).
fn keyring(global: &Global, dry_run: bool) -> Result<Keyring, keys::KeysError> {
    let dev_key = keys_dir(&global.data_dir).join("encryption.key");
    if dry_run
        && global.encryption_key_file.is_none()
        && global.mode == Mode::Development
        && !dev_key.exists()
    {
        return Ok(Keyring::new(rand::random::<[u8; 32]>(), &[]));
    }
    keys::keyring(global)
}

/// `dropped` = found − imported − merged − skipped, per entity.
fn settle(report: &mut Report) {
    for entity in report.entities.values_mut() {
        let accounted = entity.imported + entity.merged + entity.skipped.len() as u64;
        entity.dropped = entity.dropped.max(entity.found.saturating_sub(accounted));
    }
}

/// The report as a table per entity, then every skip and conflict.
fn render(report: &Report) -> String {
    let mut out = String::new();
    let verb = if report.dry_run {
        "would import (dry run)"
    } else {
        "imported"
    };
    let _ = writeln!(
        out,
        "import-legacy: {verb} from {}",
        report.sources.join(", ")
    );
    let _ = writeln!(
        out,
        "{:<24} {:>8} {:>9} {:>8} {:>8} {:>8}",
        "entity", "found", "imported", "merged", "skipped", "dropped"
    );
    for (name, e) in &report.entities {
        let _ = writeln!(
            out,
            "{:<24} {:>8} {:>9} {:>8} {:>8} {:>8}",
            name,
            e.found,
            e.imported,
            e.merged,
            e.skipped.len(),
            e.dropped
        );
    }
    let skips: Vec<_> = report
        .entities
        .iter()
        .flat_map(|(name, e)| e.skipped.iter().map(move |s| (name, s)))
        .collect();
    if !skips.is_empty() {
        let _ = writeln!(out, "\nskipped ({}):", skips.len());
        for (name, s) in skips {
            let _ = writeln!(
                out,
                "  {name}: {} {} {}: {}",
                s.source, s.table, s.key, s.reason
            );
        }
    }
    if !report.conflicts.is_empty() {
        let _ = writeln!(out, "\nconflicts ({}):", report.conflicts.len());
        for c in &report.conflicts {
            let _ = writeln!(
                out,
                "  {} {} {}: {} -> kept {}",
                c.entity,
                c.key,
                c.field,
                c.values.join(" | "),
                c.kept
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use fedimpute_legacy::report::{EntityCount, Skip};

    use super::*;

    #[test]
    fn unaccounted_records_are_dropped_and_shown() {
        let mut report = Report::default();
        *report.entity("users") = EntityCount {
            found: 3,
            imported: 1,
            merged: 1,
            ..EntityCount::default()
        };
        report.entity("jobs").found = 1;
        report.entity("jobs").skipped.push(Skip {
            source: "d.sql".into(),
            table: "imputation_jobs".into(),
            key: "42".into(),
            reason: "id '42' is not a UUID".into(),
        });
        settle(&mut report);
        assert_eq!(report.dropped(), 1);
        let text = render(&report);
        assert!(
            text.contains("users") && text.contains("not a UUID"),
            "{text}"
        );
    }
}
