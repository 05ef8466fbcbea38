//! A plain `pg_dump` file, read line by line: only its
//! `COPY schema.table (cols) FROM stdin;` ... `\.` blocks matter (in
//! PostgreSQL's text COPY format); every other statement is ignored.
//! A gzip-compressed dump is decompressed on the fly.

use std::{
    fs::File,
    io::{BufRead, BufReader},
    path::Path,
};

use super::{Keep, SourceError, Table, Tables};

/// Reads a dump file.
pub(super) fn read_file(path: &Path, origin: &str, keep: Keep<'_>) -> Result<Tables, SourceError> {
    let file_error = |reason: String| SourceError::File {
        path: origin.to_owned(),
        reason,
    };
    let mut file = BufReader::new(File::open(path).map_err(|e| file_error(e.to_string()))?);
    let head = file.fill_buf().map_err(|e| file_error(e.to_string()))?;
    if head.starts_with(b"PGDMP") {
        return Err(file_error(
            "a pg_dump custom-format archive: convert it with `pg_restore -f dump.sql` first"
                .into(),
        ));
    }
    if head.starts_with(&[0x1f, 0x8b]) {
        let gz = BufReader::new(flate2::read::MultiGzDecoder::new(file));
        return parse(gz, origin, keep);
    }
    parse(file, origin, keep)
}

/// Parses dump text (for tests and callers holding the text already).
pub fn parse_dump(text: &str, origin: &str) -> Result<Tables, SourceError> {
    parse(text.as_bytes(), origin, &|_| true)
}

#[derive(Clone, Copy)]
enum Encoding {
    Utf8,
    Latin1,
}

fn parse(mut input: impl BufRead, origin: &str, keep: Keep<'_>) -> Result<Tables, SourceError> {
    let mut tables = Tables::new();
    let mut line = Vec::new();
    let mut number = 0u64;
    let mut encoding = Encoding::Utf8;
    // The table being copied, its column count and whether rows are kept.
    let mut copying: Option<(String, usize, bool, u64)> = None;
    let mut saw_inserts = false;
    let error = |line: u64, reason: String| SourceError::Dump {
        path: origin.to_owned(),
        line,
        reason,
    };
    loop {
        line.clear();
        let read = input
            .read_until(b'\n', &mut line)
            .map_err(|e| SourceError::File {
                path: origin.to_owned(),
                reason: e.to_string(),
            })?;
        if read == 0 {
            break;
        }
        number += 1;
        let mut content: &[u8] = &line;
        content = content.strip_suffix(b"\n").unwrap_or(content);
        content = content.strip_suffix(b"\r").unwrap_or(content);
        match &mut copying {
            Some((name, width, kept, start)) => {
                if content == b"\\." {
                    copying = None;
                    continue;
                }
                let table = tables.get_mut(name.as_str()).expect("inserted at COPY");
                table.row_count += 1;
                if !*kept {
                    continue;
                }
                let row = decode_row(content, encoding).map_err(|r| error(number, r))?;
                if row.len() != *width {
                    return Err(error(
                        number,
                        format!(
                            "{} values for the {} columns of {name} (COPY at line {start})",
                            row.len(),
                            width
                        ),
                    ));
                }
                table.rows.push(row);
            }
            None => {
                if content.starts_with(b"COPY ") {
                    let text = text(content, encoding).map_err(|r| error(number, r))?;
                    let (name, columns) = copy_header(&text).map_err(|r| error(number, r))?;
                    let width = columns.len();
                    let kept = keep(&name);
                    match tables.get(&name) {
                        Some(seen) if seen.columns != columns => {
                            return Err(error(
                                number,
                                format!("{name} is copied twice with different columns"),
                            ));
                        }
                        Some(_) => {}
                        None => {
                            tables.insert(name.clone(), Table::new(columns));
                        }
                    }
                    copying = Some((name, width, kept, number));
                } else if let Some(rest) = content.strip_prefix(b"SET client_encoding = '") {
                    let name = String::from_utf8_lossy(rest);
                    let name = name.trim_end_matches("';").to_ascii_uppercase();
                    encoding = match name.as_str() {
                        "UTF8" | "UTF-8" | "SQL_ASCII" => Encoding::Utf8,
                        "LATIN1" | "ISO_8859_1" => Encoding::Latin1,
                        other => {
                            return Err(error(
                                number,
                                format!(
                                    "client encoding {other} is not supported: dump again with `pg_dump --encoding=UTF8`"
                                ),
                            ));
                        }
                    };
                } else if content.starts_with(b"INSERT INTO ") {
                    saw_inserts = true;
                }
            }
        }
    }
    if let Some((name, _, _, start)) = copying {
        return Err(error(
            number,
            format!(
                "the COPY of {name} (line {start}) has no closing `\\.`: the dump is truncated"
            ),
        ));
    }
    if tables.is_empty() && saw_inserts {
        return Err(SourceError::File {
            path: origin.to_owned(),
            reason: "the dump holds INSERT statements, not COPY blocks: dump again without --inserts / --column-inserts".into(),
        });
    }
    Ok(tables)
}

fn text(bytes: &[u8], encoding: Encoding) -> Result<String, String> {
    match encoding {
        Encoding::Utf8 => String::from_utf8(bytes.to_vec())
            .map_err(|e| format!("not valid UTF-8 (at byte {})", e.utf8_error().valid_up_to())),
        Encoding::Latin1 => Ok(bytes.iter().map(|&b| char::from(b)).collect()),
    }
}

/// `COPY public.auth_user (id, "timestamp") FROM stdin;` → the table's
/// name (without `public.`) and its columns.
fn copy_header(line: &str) -> Result<(String, Vec<String>), String> {
    let rest = line.strip_prefix("COPY ").unwrap_or(line);
    let rest = rest
        .strip_suffix(" FROM stdin;")
        .ok_or_else(|| format!("unexpected COPY statement (not FROM stdin): {line}"))?;
    let (name, columns) = match rest.find(" (") {
        Some(i) => (&rest[..i], &rest[i + 2..]),
        None => return Err(format!("COPY without a column list: {line}")),
    };
    let columns = columns
        .strip_suffix(')')
        .ok_or_else(|| format!("unterminated column list: {line}"))?;
    let parts = identifiers(name);
    let name = match parts.as_slice() {
        [schema, table] if schema == "public" => table.clone(),
        _ => parts.join("."),
    };
    let columns = identifiers_list(columns);
    if name.is_empty() || columns.is_empty() {
        return Err(format!("cannot read the COPY statement: {line}"));
    }
    Ok((name, columns))
}

/// A qualified name's parts, unquoted (`public."User"` → public, User).
fn identifiers(name: &str) -> Vec<String> {
    split_outside_quotes(name, '.')
}

fn identifiers_list(list: &str) -> Vec<String> {
    split_outside_quotes(list, ',')
}

fn split_outside_quotes(s: &str, separator: char) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                current.push('"');
            }
            '"' => quoted = !quoted,
            c if c == separator && !quoted => {
                parts.push(std::mem::take(&mut current).trim().to_owned());
            }
            c => current.push(c),
        }
    }
    parts.push(current.trim().to_owned());
    parts
}

/// One data line: tab-separated fields, `\N` for NULL, backslash escapes.
fn decode_row(line: &[u8], encoding: Encoding) -> Result<Vec<Option<String>>, String> {
    line.split(|&b| b == b'\t')
        .map(|field| {
            if field == b"\\N" {
                Ok(None)
            } else {
                text(&unescape(field), encoding).map(Some)
            }
        })
        .collect()
}

/// PostgreSQL's text COPY escapes: `\b \f \n \r \t \v`, `\\`, octal
/// `\NNN` (1 to 3 digits), hex `\xHH` (1 or 2 digits); a backslash before
/// any other character stands for that character.
fn unescape(field: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(field.len());
    let mut i = 0;
    while i < field.len() {
        let b = field[i];
        i += 1;
        if b != b'\\' || i == field.len() {
            out.push(b);
            continue;
        }
        let c = field[i];
        i += 1;
        match c {
            b'b' => out.push(0x08),
            b'f' => out.push(0x0c),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'v' => out.push(0x0b),
            b'0'..=b'7' => {
                let mut value = u32::from(c - b'0');
                for _ in 0..2 {
                    match field.get(i) {
                        Some(&d @ b'0'..=b'7') => {
                            value = value * 8 + u32::from(d - b'0');
                            i += 1;
                        }
                        _ => break,
                    }
                }
                out.push((value & 0xff) as u8);
            }
            b'x' if field.get(i).is_some_and(u8::is_ascii_hexdigit) => {
                let mut value = 0u32;
                for _ in 0..2 {
                    match field.get(i) {
                        Some(d) if d.is_ascii_hexdigit() => {
                            value = value * 16 + char::from(*d).to_digit(16).unwrap_or(0);
                            i += 1;
                        }
                        _ => break,
                    }
                }
                out.push(value as u8);
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const DUMP: &str = "--\n-- PostgreSQL database dump\n--\nSET client_encoding = 'UTF8';\n\
CREATE TABLE public.t (id integer, \"position\" text);\n\
COPY public.t (id, \"position\", note, \"Odd \"\"name\") FROM stdin;\n\
1\ttab\\there\t\\N\t\n\
2\tline\\nbreak \\\\ back\\r\\b\\f\\v\tocta\\101\\1\\x41\\x4\tuni \u{e9}\u{4e2d}\n\
\\.\n\
COPY audit.events (id) FROM stdin;\n\
7\n\
\\.\n\
SELECT pg_catalog.setval('public.t_id_seq', 2, true);\n";

    #[test]
    fn copy_blocks_are_read_with_escapes_nulls_and_empty_strings() {
        let tables = parse_dump(DUMP, "dump.sql").unwrap();
        let t = &tables["t"];
        assert_eq!(t.columns, ["id", "position", "note", "Odd \"name"]);
        assert_eq!(t.row_count, 2);
        assert_eq!(
            t.rows[0],
            [
                Some("1".into()),
                Some("tab\there".into()),
                None,
                Some(String::new())
            ]
        );
        assert_eq!(
            t.rows[1],
            [
                Some("2".into()),
                Some("line\nbreak \\ back\r\u{8}\u{c}\u{b}".into()),
                Some("octaA\u{1}A\u{4}".into()),
                Some("uni \u{e9}\u{4e2d}".into())
            ]
        );
        assert_eq!(tables["audit.events"].rows, [[Some("7".to_owned())]]);
        assert_eq!(tables.len(), 2);
    }

    #[test]
    fn broken_dumps_are_errors_that_name_the_line() {
        let truncated = "COPY public.t (a, b) FROM stdin;\n1\t2\n";
        let err = parse_dump(truncated, "x.sql").unwrap_err().to_string();
        assert!(err.contains("x.sql") && err.contains("truncated"), "{err}");
        let short = "COPY public.t (a, b) FROM stdin;\n1\n\\.\n";
        let err = parse_dump(short, "x.sql").unwrap_err().to_string();
        assert!(err.contains("line 2") && err.contains("1 values"), "{err}");
        let inserts = "INSERT INTO public.t VALUES (1);\n";
        let err = parse_dump(inserts, "x.sql").unwrap_err().to_string();
        assert!(err.contains("--inserts"), "{err}");
    }

    #[test]
    fn crlf_files_and_skipped_tables_are_handled() {
        let text = "COPY public.big (a) FROM stdin;\r\n1\r\n2\r\n\\.\r\nCOPY public.t (a) FROM stdin;\r\nx\r\n\\.\r\n";
        let tables = parse(text.as_bytes(), "x.sql", &|name| name != "big").unwrap();
        assert_eq!(tables["big"].row_count, 2);
        assert!(tables["big"].rows.is_empty());
        assert_eq!(tables["t"].rows, [[Some("x".to_owned())]]);
    }

    #[test]
    fn the_real_dump_is_read() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures/legacy/federated_imputation_2025-10-08.sql");
        let tables = read_file(&path, "fixture", &|_| true).unwrap();
        assert_eq!(tables.len(), 25);
        assert_eq!(tables["auth_user"].rows.len(), 2);
        assert_eq!(tables["imputation_imputationservice"].rows.len(), 5);
        assert_eq!(tables["imputation_referencepanel"].rows.len(), 11);
        assert_eq!(tables["imputation_userrole_permissions"].rows.len(), 90);
        let profile = &tables["imputation_userprofile"];
        assert!(profile.column("position").is_some());
    }
}
