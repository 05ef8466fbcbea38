//! The VCF check of an upload, run on the bytes as they stream in (on a
//! blocking thread): gzip or BGZF, a VCF header (noodles), samples, every
//! record's chromosome and position (sorted?), genotypes (phased?), and the
//! genome build. The first problem found ends the check with a message that
//! names it and where it is.

use std::{
    collections::{HashMap, HashSet},
    io::{BufRead, BufReader, Read},
};

use flate2::bufread::MultiGzDecoder;
use noodles_vcf as vcf;

use super::genome;
use crate::domain::vcf::{Compression, Phasing, VcfFacts};

const MAX_HEADER_BYTES: usize = 64 * 1024 * 1024;
/// The chromosomes the imputation servers impute.
const IMPUTED: [&str; 23] = [
    "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15", "16", "17",
    "18", "19", "20", "21", "22", "X",
];

/// What the check found, with things worth a warning.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Inspection {
    pub(crate) facts: VcfFacts,
    pub(crate) warnings: Vec<String>,
}

/// Why a file is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub(crate) struct Refused(pub(crate) String);

fn refused(message: impl Into<String>) -> Refused {
    Refused(message.into())
}

/// The gzip flavour from the first bytes: BGZF has the `BC` extra field.
fn compression(head: &[u8]) -> Result<Compression, Refused> {
    if head.len() < 2 || head[..2] != [0x1f, 0x8b] {
        if head.starts_with(b"##fileformat=VCF") {
            return Err(refused(
                "this is an uncompressed VCF: compress it with bgzip (bgzip file.vcf) and upload the .vcf.gz",
            ));
        }
        if head.is_empty() {
            return Err(refused("the file is empty"));
        }
        return Err(refused(
            "this is not a gzip-compressed VCF (.vcf.gz): the file does not start with the gzip signature",
        ));
    }
    // FLG.FEXTRA, then XLEN and the first subfield `BC`.
    let bgzf = head.len() >= 14 && head[3] & 0x04 != 0 && head[12] == b'B' && head[13] == b'C';
    Ok(if bgzf {
        Compression::Bgzf
    } else {
        Compression::Gzip
    })
}

fn io_problem(e: &std::io::Error, line: u64) -> Refused {
    refused(format!(
        "the file is truncated or corrupt (near line {line}): {e}"
    ))
}

/// Reads the whole stream and checks it.
pub(crate) fn inspect(input: impl Read) -> Result<Inspection, Refused> {
    let mut raw = BufReader::with_capacity(256 * 1024, input);
    let head = raw.fill_buf().map_err(|e| io_problem(&e, 0))?.to_vec();
    let compression = compression(&head)?;
    let mut text = BufReader::with_capacity(256 * 1024, MultiGzDecoder::new(raw));

    // The header, line by line (so errors can name a line).
    let mut header_text = String::new();
    let mut references = Vec::new();
    let mut line = String::new();
    let mut line_no = 0u64;
    loop {
        line.clear();
        let n = text
            .by_ref()
            .take((MAX_HEADER_BYTES - header_text.len()) as u64 + 1)
            .read_line(&mut line)
            .map_err(|e| {
                if e.kind() == std::io::ErrorKind::InvalidData && line_no == 0 {
                    refused("the decompressed file is not text: this is not a VCF")
                } else {
                    io_problem(&e, line_no + 1)
                }
            })?;
        if n == 0 {
            return Err(refused(if line_no == 0 {
                "the file decompresses to nothing".to_owned()
            } else {
                format!(
                    "the header ends at line {line_no} without a #CHROM line and no records follow"
                )
            }));
        }
        line_no += 1;
        if line_no == 1 && !line.starts_with("##fileformat=VCF") {
            return Err(refused(
                "this is not a VCF: the first line must be ##fileformat=VCFv4.x",
            ));
        }
        if header_text.len() + line.len() > MAX_HEADER_BYTES {
            return Err(refused("the VCF header is larger than 64 MiB"));
        }
        if let Some(reference) = line.strip_prefix("##reference=") {
            references.push(reference.trim().to_owned());
        }
        header_text.push_str(&line);
        if line.starts_with("#CHROM") {
            break;
        }
        if !line.starts_with("##") {
            return Err(refused(format!(
                "line {line_no} is neither a ## meta line nor the #CHROM header line"
            )));
        }
    }
    let header: vcf::Header = header_text
        .parse()
        .map_err(|e| refused(format!("the VCF header is invalid: {e}")))?;
    let file_format = header.file_format();
    let file_format = format!("VCFv{}.{}", file_format.major(), file_format.minor());
    let samples = header.sample_names().len();
    if samples == 0 {
        return Err(refused(
            "the VCF has no sample columns: imputation needs genotypes",
        ));
    }
    let contigs: Vec<(String, Option<u64>)> = header
        .contigs()
        .iter()
        .map(|(name, contig)| (name.clone(), contig.length().map(|l| l as u64)))
        .collect();

    // The records.
    let mut reader = vcf::io::Reader::new(text);
    let mut record = vcf::Record::default();
    let mut records = 0u64;
    let mut chromosomes: Vec<String> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    let mut max_positions: HashMap<String, u64> = HashMap::new();
    let mut last_position = 0u64;
    let (mut phased, mut unphased) = (false, false);
    loop {
        let n = reader
            .read_record(&mut record)
            .map_err(|e| io_problem(&e, line_no + 1))?;
        if n == 0 {
            break;
        }
        line_no += 1;
        records += 1;
        let chrom = record.reference_sequence_name();
        let position = match record.variant_start() {
            Some(Ok(p)) => usize::from(p) as u64,
            Some(Err(e)) => {
                return Err(refused(format!(
                    "line {line_no}: the position is invalid: {e}"
                )));
            }
            None => return Err(refused(format!("line {line_no}: the position is missing"))),
        };
        if chromosomes.last().map(String::as_str) != Some(chrom) {
            if !seen.insert(chrom.to_owned()) {
                return Err(refused(format!(
                    "the records are not sorted: chromosome {chrom} appears again at line {line_no}, after {}; sort the file (bcftools sort)",
                    chromosomes.last().map(String::as_str).unwrap_or_default()
                )));
            }
            chromosomes.push(chrom.to_owned());
        } else if position < last_position {
            return Err(refused(format!(
                "the records are not sorted: position {position} of chromosome {chrom} at line {line_no} comes after position {last_position}; sort the file (bcftools sort)"
            )));
        }
        last_position = position;
        let max = max_positions.entry(chrom.to_owned()).or_insert(0);
        *max = (*max).max(position);

        let genotypes = record.samples();
        if genotypes.keys().iter().next() != Some("GT") {
            return Err(refused(format!(
                "line {line_no}: no GT (genotype) field: imputation needs genotypes, and GT must come first in FORMAT"
            )));
        }
        let mut columns = 0usize;
        for sample in genotypes.iter() {
            columns += 1;
            let raw: &str = sample.as_ref();
            let gt = raw.split(':').next().unwrap_or_default();
            phased |= gt.contains('|');
            unphased |= gt.contains('/');
        }
        if columns != samples {
            return Err(refused(format!(
                "line {line_no} has {columns} sample columns, but the header names {samples}"
            )));
        }
    }
    if records == 0 {
        return Err(refused("the VCF has a header but no variant records"));
    }
    let detected = genome::detect(&contigs, &max_positions, &references);
    let phasing = match (phased, unphased) {
        (true, false) => Phasing::Phased,
        (false, true) | (false, false) => Phasing::Unphased,
        (true, true) => Phasing::Mixed,
    };
    let mut warnings = Vec::new();
    let others: Vec<&str> = chromosomes
        .iter()
        .map(String::as_str)
        .filter(|c| !IMPUTED.contains(&genome::bare(c)))
        .collect();
    if !others.is_empty() {
        warnings.push(format!(
            "chromosomes {} are not imputed by the imputation servers (only 1–22 and X)",
            others.join(", ")
        ));
    }
    if compression == Compression::Gzip {
        warnings.push(
            "the file is plain gzip, not bgzip: imputation servers index their input, so recompress it with bgzip if a server refuses it".into(),
        );
    }
    if phasing == Phasing::Mixed {
        warnings.push("some genotypes are phased and some are not".into());
    }
    Ok(Inspection {
        facts: VcfFacts {
            compression,
            file_format,
            samples: samples as u64,
            records,
            chromosomes,
            sorted: true,
            phasing,
            build: detected.build.map(|b| b.as_str().to_owned()),
            build_evidence: detected.evidence,
            build_certain: detected.certain,
        },
        warnings,
    })
}

/// The BGZF end-of-file block: a BGZF file without it is truncated.
pub(crate) const BGZF_EOF: [u8; 28] = [
    0x1f, 0x8b, 0x08, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0x06, 0x00, 0x42, 0x43, 0x02, 0x00,
    0x1b, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
];

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn gz(text: &str) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(text.as_bytes()).unwrap();
        e.finish().unwrap()
    }

    const HEADER: &str = "##fileformat=VCFv4.2\n##FORMAT=<ID=GT,Number=1,Type=String,Description=\"Genotype\">\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\tS2\n";

    fn vcf(records: &[&str]) -> Vec<u8> {
        gz(&format!("{HEADER}{}", records.join("")))
    }

    #[test]
    fn a_small_vcf_is_summarised() {
        let got = inspect(
            &vcf(&[
                "20\t100\t.\tA\tG\t.\tPASS\t.\tGT\t0|1\t1|1\n",
                "20\t200\t.\tC\tT\t.\tPASS\t.\tGT:DP\t0|0:3\t0|1:5\n",
                "21\t50\t.\tC\tT\t.\tPASS\t.\tGT\t0|0\t0|1\n",
            ])[..],
        )
        .unwrap();
        let f = got.facts;
        assert_eq!(f.compression, Compression::Gzip);
        assert_eq!((f.samples, f.records), (2, 3));
        assert_eq!(f.chromosomes, ["20", "21"]);
        assert_eq!(f.phasing, Phasing::Phased);
        assert_eq!(f.file_format, "VCFv4.2");
        assert_eq!(f.build.as_deref(), Some("hg19"));
        assert!(!f.build_certain);
    }

    #[test]
    fn bad_files_are_refused_with_the_reason() {
        let cases: [(Vec<u8>, &str); 8] = [
            (b"hello world".to_vec(), "not a gzip-compressed VCF"),
            (HEADER.as_bytes().to_vec(), "uncompressed VCF"),
            (gz("just text\nno header\n"), "not a VCF"),
            (
                vcf(&[
                    "20\t200\t.\tA\tG\t.\t.\t.\tGT\t0|1\t0|0\n",
                    "20\t100\t.\tA\tG\t.\t.\t.\tGT\t0|1\t0|0\n",
                ]),
                "position 100 of chromosome 20 at line 5 comes after position 200",
            ),
            (
                vcf(&[
                    "20\t1\t.\tA\tG\t.\t.\t.\tGT\t0|1\t0|0\n",
                    "21\t1\t.\tA\tG\t.\t.\t.\tGT\t0|1\t0|0\n",
                    "20\t5\t.\tA\tG\t.\t.\t.\tGT\t0|1\t0|0\n",
                ]),
                "chromosome 20 appears again at line 6",
            ),
            (vcf(&[]), "no variant records"),
            (
                vcf(&["20\t1\t.\tA\tG\t.\t.\t.\tDP\t3\t4\n"]),
                "no GT (genotype) field",
            ),
            (
                vcf(&["20\t1\t.\tA\tG\t.\t.\t.\tGT\t0|1\n"]),
                "has 1 sample columns, but the header names 2",
            ),
        ];
        for (bytes, want) in cases {
            let err = inspect(&bytes[..]).unwrap_err();
            assert!(err.0.contains(want), "{want:?} not in {:?}", err.0);
        }
        let mut truncated = vcf(&["20\t1\t.\tA\tG\t.\t.\t.\tGT\t0|1\t0|0\n"; 50]);
        truncated.truncate(truncated.len() - 12);
        let err = inspect(&truncated[..]).unwrap_err();
        assert!(err.0.contains("truncated or corrupt"), "{}", err.0);
    }

    #[test]
    fn the_real_fixtures_pass() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/vcf");
        let tiny = std::fs::read(format!("{dir}/chr20.tiny.100snps.vcf.gz")).unwrap();
        let f = inspect(&tiny[..]).unwrap().facts;
        assert_eq!(
            (f.samples, f.records, f.compression),
            (51, 100, Compression::Bgzf)
        );
        assert_eq!(f.build.as_deref(), Some("hg19"));
        let hg38 = std::fs::read(format!("{dir}/chr22.hg38.7samples.phased.vcf.gz")).unwrap();
        let f = inspect(&hg38[..]).unwrap().facts;
        assert_eq!((f.samples, f.records), (7, 2527));
        assert_eq!((f.build.as_deref(), f.build_certain), (Some("hg38"), true));
        assert_eq!(f.chromosomes, ["chr22"]);
        assert_eq!(f.phasing, Phasing::Phased);
        assert!(tiny.ends_with(&BGZF_EOF));
    }
}
