//! Which genome build a VCF is on, from what its header and positions say:
//! contig lengths (certain), a `##reference` line (certain), a position past
//! a chromosome's end in one build (certain), else the chromosome naming
//! (`chr20` is usual for hg38, `20` for hg19: a guess).

use std::collections::HashMap;

use crate::domain::Build;

/// Chromosome lengths of GRCh37/hg19 and GRCh38/hg38.
const LENGTHS: [(&str, u64, u64); 25] = [
    ("1", 249_250_621, 248_956_422),
    ("2", 243_199_373, 242_193_529),
    ("3", 198_022_430, 198_295_559),
    ("4", 191_154_276, 190_214_555),
    ("5", 180_915_260, 181_538_259),
    ("6", 171_115_067, 170_805_979),
    ("7", 159_138_663, 159_345_973),
    ("8", 146_364_022, 145_138_636),
    ("9", 141_213_431, 138_394_717),
    ("10", 135_534_747, 133_797_422),
    ("11", 135_006_516, 135_086_622),
    ("12", 133_851_895, 133_275_309),
    ("13", 115_169_878, 114_364_328),
    ("14", 107_349_540, 107_043_718),
    ("15", 102_531_392, 101_991_189),
    ("16", 90_354_753, 90_338_345),
    ("17", 81_195_210, 83_257_441),
    ("18", 78_077_248, 80_373_285),
    ("19", 59_128_983, 58_617_616),
    ("20", 63_025_520, 64_444_167),
    ("21", 48_129_895, 46_709_983),
    ("22", 51_304_566, 50_818_468),
    ("X", 155_270_560, 156_040_895),
    ("Y", 59_373_566, 57_227_415),
    ("MT", 16_569, 16_569),
];

/// `chr20` → `20`, `chrM` → `MT`.
pub(crate) fn bare(chrom: &str) -> &str {
    let name = chrom.strip_prefix("chr").unwrap_or(chrom);
    if name == "M" { "MT" } else { name }
}

fn lengths(chrom: &str) -> Option<(u64, u64)> {
    let name = bare(chrom);
    LENGTHS
        .iter()
        .find(|(c, ..)| *c == name)
        .map(|(_, hg19, hg38)| (*hg19, *hg38))
}

/// The verdict and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Detected {
    pub(crate) build: Option<Build>,
    pub(crate) evidence: String,
    pub(crate) certain: bool,
}

fn certain(build: Build, evidence: String) -> Detected {
    Detected {
        build: Some(build),
        evidence,
        certain: true,
    }
}

/// `contigs`: the header's `(name, length)`; `max_positions`: the largest
/// position seen per chromosome; `references`: `##reference=` values.
pub(crate) fn detect(
    contigs: &[(String, Option<u64>)],
    max_positions: &HashMap<String, u64>,
    references: &[String],
) -> Detected {
    let (mut hg19, mut hg38) = (Vec::new(), Vec::new());
    for (name, length) in contigs {
        let (Some(length), Some((l19, l38))) = (length, lengths(name)) else {
            continue;
        };
        // MT is the same length in both.
        if l19 == l38 {
            continue;
        }
        if *length == l19 {
            hg19.push(name.as_str());
        } else if *length == l38 {
            hg38.push(name.as_str());
        }
    }
    match (hg19.is_empty(), hg38.is_empty()) {
        (false, true) => {
            return certain(
                Build::Hg19,
                format!(
                    "header contig lengths match GRCh37/hg19 ({})",
                    sample(&hg19)
                ),
            );
        }
        (true, false) => {
            return certain(
                Build::Hg38,
                format!(
                    "header contig lengths match GRCh38/hg38 ({})",
                    sample(&hg38)
                ),
            );
        }
        (true, true) | (false, false) => {}
    }
    for reference in references {
        let r = reference.to_ascii_lowercase();
        if ["grch38", "hg38", "hs38"].iter().any(|k| r.contains(k)) {
            return certain(Build::Hg38, format!("##reference names {reference}"));
        }
        if ["grch37", "hg19", "b37", "hs37"]
            .iter()
            .any(|k| r.contains(k))
        {
            return certain(Build::Hg19, format!("##reference names {reference}"));
        }
    }
    let (mut past19, mut past38) = (None, None);
    let mut names: Vec<&String> = max_positions.keys().collect();
    names.sort();
    for chrom in names {
        let position = max_positions[chrom];
        if let Some((l19, l38)) = lengths(chrom) {
            if position > l19 && past19.is_none() {
                past19 = Some(format!(
                    "position {position} on {chrom} is past its hg19 end"
                ));
            }
            if position > l38 && past38.is_none() {
                past38 = Some(format!(
                    "position {position} on {chrom} is past its hg38 end"
                ));
            }
        }
    }
    match (past19, past38) {
        (Some(why), None) => return certain(Build::Hg38, why),
        (None, Some(why)) => return certain(Build::Hg19, why),
        (Some(_), Some(_)) | (None, None) => {}
    }
    let prefixed = max_positions
        .keys()
        .filter(|c| c.starts_with("chr"))
        .count();
    if max_positions.is_empty() {
        return Detected {
            build: None,
            evidence: "no records to tell the build by".into(),
            certain: false,
        };
    }
    if prefixed * 2 > max_positions.len() {
        Detected {
            build: Some(Build::Hg38),
            evidence: "guessed from 'chr'-prefixed chromosome names (usual for hg38)".into(),
            certain: false,
        }
    } else {
        Detected {
            build: Some(Build::Hg19),
            evidence: "guessed from chromosome names without 'chr' (usual for hg19)".into(),
            certain: false,
        }
    }
}

fn sample(names: &[&str]) -> String {
    let mut shown: Vec<&str> = names.iter().take(3).copied().collect();
    if names.len() > 3 {
        shown.push("...");
    }
    shown.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn positions(items: &[(&str, u64)]) -> HashMap<String, u64> {
        items.iter().map(|(c, p)| ((*c).to_owned(), *p)).collect()
    }

    #[test]
    fn contig_lengths_decide() {
        let contigs = vec![
            ("chr1".to_owned(), Some(248_956_422)),
            ("chr22".to_owned(), Some(50_818_468)),
        ];
        let d = detect(&contigs, &positions(&[("chr22", 49_514_023)]), &[]);
        assert_eq!((d.build, d.certain), (Some(Build::Hg38), true));
        let hg19 = vec![("20".to_owned(), Some(63_025_520))];
        assert_eq!(detect(&hg19, &HashMap::new(), &[]).build, Some(Build::Hg19));
    }

    #[test]
    fn positions_past_an_end_decide() {
        // chr20 is longer in hg38: a position past hg19's end.
        let d = detect(&[], &positions(&[("20", 64_000_000)]), &[]);
        assert_eq!((d.build, d.certain), (Some(Build::Hg38), true));
        // chr21 is shorter in hg38.
        let d = detect(&[], &positions(&[("chr21", 47_000_000)]), &[]);
        assert_eq!((d.build, d.certain), (Some(Build::Hg19), true));
    }

    #[test]
    fn names_are_only_a_guess() {
        let d = detect(&[], &positions(&[("20", 62_906_514)]), &[]);
        assert_eq!((d.build, d.certain), (Some(Build::Hg19), false));
        let d = detect(&[], &positions(&[("chr20", 1_000)]), &[]);
        assert_eq!((d.build, d.certain), (Some(Build::Hg38), false));
        let d = detect(&[], &HashMap::new(), &["file:///ref/GRCh38.fa".into()]);
        assert_eq!((d.build, d.certain), (Some(Build::Hg38), true));
    }
}
