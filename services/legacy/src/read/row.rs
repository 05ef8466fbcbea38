//! Typed access to one row of text values, as PostgreSQL prints them
//! (COPY text or `col::text`). A column the table lacks reads as NULL (the
//! legacy schemas drifted: `parent_job_id` is missing from some job
//! databases). A value that does not parse is an error naming the column,
//! which the reader turns into a skip with that reason.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use crate::{model::Origin, source::Table};

pub(crate) type Field<T> = Result<T, String>;

#[derive(Clone, Copy, Debug)]
pub(crate) struct Row<'a> {
    pub(crate) table_name: &'a str,
    table: &'a Table,
    values: &'a [Option<String>],
}

impl<'a> Row<'a> {
    pub(crate) fn new(table_name: &'a str, table: &'a Table, values: &'a [Option<String>]) -> Self {
        Self {
            table_name,
            table,
            values,
        }
    }

    /// The raw text, `None` for NULL or a missing column.
    pub(crate) fn raw(&self, column: &str) -> Option<&'a str> {
        let i = self.table.column(column)?;
        self.values.get(i)?.as_deref()
    }

    /// Text, NULL as "".
    pub(crate) fn text(&self, column: &str) -> String {
        self.raw(column).unwrap_or_default().to_owned()
    }

    /// Text, NULL and "" (and whitespace) as `None`: for secrets and
    /// optional identifiers, where an empty string means "none".
    pub(crate) fn nonempty(&self, column: &str) -> Option<String> {
        self.raw(column)
            .filter(|s| !s.trim().is_empty())
            .map(str::to_owned)
    }

    pub(crate) fn i64(&self, column: &str) -> Field<Option<i64>> {
        self.parse(column, |s| s.trim().parse::<i64>().ok(), "an integer")
    }

    pub(crate) fn required_i64(&self, column: &str) -> Field<i64> {
        self.i64(column)?.ok_or_else(|| format!("{column} is NULL"))
    }

    pub(crate) fn i32(&self, column: &str) -> Field<Option<i32>> {
        self.parse(column, |s| s.trim().parse::<i32>().ok(), "an integer")
    }

    pub(crate) fn f64(&self, column: &str) -> Field<Option<f64>> {
        self.parse(column, |s| s.trim().parse::<f64>().ok(), "a number")
    }

    pub(crate) fn bool(&self, column: &str) -> Field<Option<bool>> {
        self.parse(column, parse_bool, "a boolean")
    }

    /// A boolean with the column's default for NULL.
    pub(crate) fn flag(&self, column: &str, default: bool) -> Field<bool> {
        Ok(self.bool(column)?.unwrap_or(default))
    }

    pub(crate) fn time(&self, column: &str) -> Field<Option<DateTime<Utc>>> {
        match self.raw(column) {
            None => Ok(None),
            Some(s) if is_infinity(s) => Ok(None),
            Some(s) => parse_time(s)
                .map(Some)
                .ok_or_else(|| format!("{column}: cannot read '{s}' as a timestamp")),
        }
    }

    pub(crate) fn uuid(&self, column: &str) -> Field<Option<Uuid>> {
        self.parse(column, |s| Uuid::parse_str(s.trim()).ok(), "a UUID")
    }

    /// JSON (json, jsonb, or JSON kept in a text column); NULL is `Null`.
    pub(crate) fn json(&self, column: &str) -> Field<Value> {
        match self.raw(column) {
            None => Ok(Value::Null),
            Some(s) if s.trim().is_empty() => Ok(Value::Null),
            Some(s) => {
                serde_json::from_str(s).map_err(|e| format!("{column}: not valid JSON ({e})"))
            }
        }
    }

    /// A JSON list of strings (`supported_formats`); NULL is empty.
    pub(crate) fn string_list(&self, column: &str) -> Field<Vec<String>> {
        let value = self.json(column)?;
        if value.is_null() {
            return Ok(Vec::new());
        }
        let Value::Array(items) = value else {
            return Err(format!("{column}: expected a JSON list, found {value}"));
        };
        Ok(items
            .into_iter()
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
            .collect())
    }

    /// Where a record came from: this table, keyed by `key_column`.
    pub(crate) fn origin(&self, source: &str, key: String) -> Origin {
        Origin {
            source: source.to_owned(),
            table: self.table_name.to_owned(),
            key,
        }
    }

    /// The `id` column's text (the usual key), else the first column's.
    pub(crate) fn id_text(&self) -> String {
        self.raw("id")
            .or_else(|| self.values.first().and_then(|v| v.as_deref()))
            .unwrap_or_default()
            .to_owned()
    }

    fn parse<T>(
        &self,
        column: &str,
        parse: impl Fn(&str) -> Option<T>,
        what: &str,
    ) -> Field<Option<T>> {
        match self.raw(column) {
            None => Ok(None),
            Some(s) => parse(s)
                .map(Some)
                .ok_or_else(|| format!("{column}: cannot read '{s}' as {what}")),
        }
    }
}

/// `t`/`f` (COPY) or `true`/`false` (`bool::text`).
pub(crate) fn parse_bool(s: &str) -> Option<bool> {
    match s.trim() {
        "t" | "true" | "TRUE" | "True" | "y" | "yes" | "on" | "1" => Some(true),
        "f" | "false" | "FALSE" | "False" | "n" | "no" | "off" | "0" => Some(false),
        _ => None,
    }
}

/// PostgreSQL's timestamp text: `2025-10-08 20:56:01.123456+00` (with
/// time zone, any offset form) or without a zone, which the legacy
/// platform wrote as UTC (`datetime.utcnow()`). `infinity` reads as no
/// time at all (an expiry that never comes).
pub(crate) fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if is_infinity(s) {
        return None;
    }
    let s = s.replacen('T', " ", 1);
    for format in ["%Y-%m-%d %H:%M:%S%.f%#z", "%Y-%m-%d %H:%M:%S%#z"] {
        if let Ok(t) = DateTime::parse_from_str(&s, format) {
            return Some(t.with_timezone(&Utc));
        }
    }
    if let Ok(t) = NaiveDateTime::parse_from_str(&s, "%Y-%m-%d %H:%M:%S%.f") {
        return Some(t.and_utc());
    }
    NaiveDate::parse_from_str(&s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

/// Whether a timestamp column holds `infinity` (which [`parse_time`]
/// reads as none): not an error.
pub(crate) fn is_infinity(s: &str) -> bool {
    s.trim()
        .trim_start_matches('-')
        .eq_ignore_ascii_case("infinity")
}

/// A `numeric` number of gigabytes (GiB, as the platform's own limits)
/// in bytes, exactly: `1.00` → 1073741824.
pub(crate) fn gigabytes_to_bytes(s: &str) -> Option<i64> {
    const GIB: i128 = 1024 * 1024 * 1024;
    let s = s.trim();
    let (negative, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (whole, fraction) = s.split_once('.').unwrap_or((s, ""));
    if whole.is_empty() && fraction.is_empty()
        || !whole.chars().all(|c| c.is_ascii_digit())
        || !fraction.chars().all(|c| c.is_ascii_digit())
        || fraction.len() > 30
    {
        return None;
    }
    let whole: i128 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let scale = 10i128.checked_pow(fraction.len() as u32)?;
    let fraction: i128 = if fraction.is_empty() {
        0
    } else {
        fraction.parse().ok()?
    };
    let bytes = whole.checked_mul(GIB)? + (fraction * GIB + scale / 2) / scale;
    let bytes = if negative { -bytes } else { bytes };
    i64::try_from(bytes).ok()
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn postgres_timestamps_are_read() {
        let want = Utc
            .with_ymd_and_hms(2025, 10, 8, 20, 56, 1)
            .unwrap()
            .checked_add_signed(chrono::Duration::microseconds(123_456))
            .unwrap();
        assert_eq!(parse_time("2025-10-08 20:56:01.123456+00"), Some(want));
        assert_eq!(parse_time("2025-10-08 22:56:01.123456+02:00"), Some(want));
        assert_eq!(parse_time("2025-10-08 20:56:01.123456"), Some(want));
        assert_eq!(
            parse_time("2025-10-08 20:56:01+00"),
            Utc.with_ymd_and_hms(2025, 10, 8, 20, 56, 1).single()
        );
        assert_eq!(
            parse_time("2025-10-08 21:26:01+00:30"),
            Utc.with_ymd_and_hms(2025, 10, 8, 20, 56, 1).single()
        );
        assert_eq!(parse_time("infinity"), None);
        assert!(is_infinity("-infinity"));
        assert_eq!(parse_time("yesterday"), None);
    }

    #[test]
    fn booleans_and_sizes_are_read() {
        assert_eq!(parse_bool("t"), Some(true));
        assert_eq!(parse_bool("false"), Some(false));
        assert_eq!(parse_bool("maybe"), None);
        assert_eq!(gigabytes_to_bytes("1.00"), Some(1 << 30));
        assert_eq!(gigabytes_to_bytes("0.5"), Some(1 << 29));
        assert_eq!(gigabytes_to_bytes("10"), Some(10 << 30));
        assert_eq!(gigabytes_to_bytes("0.00"), Some(0));
        assert_eq!(gigabytes_to_bytes("abc"), None);
        assert_eq!(gigabytes_to_bytes("."), None);
    }
}
