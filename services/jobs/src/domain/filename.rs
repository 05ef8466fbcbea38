//! File names from clients, made safe to use as object keys, in multipart
//! parts sent to remote services, and in `Content-Disposition`.

const MAX_CHARS: usize = 150;

/// The base name with every character outside `[A-Za-z0-9._-]` replaced by
/// `_`, runs of `_` collapsed, no leading dot, at most 150 characters;
/// `input.vcf.gz` when nothing is left.
pub(crate) fn sanitize(raw: &str) -> String {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let mut out = String::with_capacity(base.len());
    for c in base.chars() {
        let c = if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
            c
        } else {
            '_'
        };
        if c == '_' && out.ends_with('_') {
            continue;
        }
        out.push(c);
    }
    let trimmed = out.trim_start_matches(['.', '_']).trim_end_matches('_');
    let mut name: String = trimmed.chars().take(MAX_CHARS).collect();
    if name.is_empty() || name.chars().all(|c| c == '.') {
        name = "input.vcf.gz".to_owned();
    }
    name
}

/// The name a VCF must have for an imputation server to pick it up
/// (Cloudgene reads only `*.vcf.gz`).
pub(crate) fn as_vcf_gz(name: &str) -> String {
    let stem = name
        .strip_suffix(".vcf.gz")
        .or_else(|| name.strip_suffix(".vcf.bgz"))
        .or_else(|| name.strip_suffix(".vcf.bgzf"))
        .or_else(|| name.strip_suffix(".gz"))
        .or_else(|| name.strip_suffix(".vcf"))
        .unwrap_or(name);
    format!("{stem}.vcf.gz")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_made_safe() {
        let cases = [
            ("chr20.tiny.100snps.vcf.gz", "chr20.tiny.100snps.vcf.gz"),
            ("../../etc/passwd", "passwd"),
            ("C:\\Users\\ada\\my file (1).vcf.gz", "my_file_1_.vcf.gz"),
            (".hidden.vcf.gz", "hidden.vcf.gz"),
            ("données génétiques.vcf.gz", "donn_es_g_n_tiques.vcf.gz"),
            ("", "input.vcf.gz"),
            ("...", "input.vcf.gz"),
            ("a\"b<c>d;e\r\nf.vcf.gz", "a_b_c_d_e_f.vcf.gz"),
        ];
        for (raw, want) in cases {
            assert_eq!(sanitize(raw), want, "{raw:?}");
        }
        assert_eq!(sanitize(&"x".repeat(400)).len(), MAX_CHARS);
    }

    #[test]
    fn vcf_names_end_in_vcf_gz() {
        assert_eq!(as_vcf_gz("a.vcf.gz"), "a.vcf.gz");
        assert_eq!(as_vcf_gz("a.vcf.bgz"), "a.vcf.gz");
        assert_eq!(as_vcf_gz("a.gz"), "a.vcf.gz");
        assert_eq!(as_vcf_gz("data"), "data.vcf.gz");
    }
}
