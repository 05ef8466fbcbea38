//! Reads what "Input Validation" needs from an uploaded `*.vcf.gz` while it streams in: the
//! samples on the `#CHROM` line and the chromosome of the first record. Decompression stops
//! there, so a large upload costs little more than its hashing.

use std::io::Write;

/// The longest header line buffered (a `#CHROM` line of 50 000 samples is ~0.5 MB).
const MAX_LINE: usize = 16 << 20;

/// What was learnt from one VCF.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct VcfSummary {
    pub(super) samples: usize,
    pub(super) chromosome: Option<String>,
}

/// A streaming probe: `feed` the compressed bytes, then `finish`.
pub(super) struct VcfProbe {
    decoder: flate2::write::MultiGzDecoder<HeaderScan>,
    failed: bool,
}

impl std::fmt::Debug for VcfProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VcfProbe")
            .field("scan", self.decoder.get_ref())
            .field("failed", &self.failed)
            .finish()
    }
}

impl VcfProbe {
    pub(super) fn new() -> Self {
        Self {
            decoder: flate2::write::MultiGzDecoder::new(HeaderScan::default()),
            failed: false,
        }
    }

    pub(super) fn feed(&mut self, compressed: &[u8]) {
        if self.failed || self.decoder.get_ref().done {
            return;
        }
        if self.decoder.write_all(compressed).is_err() {
            self.failed = true;
        }
    }

    /// The summary; 0 samples when the data did not decompress before the header was seen.
    pub(super) fn finish(mut self) -> VcfSummary {
        if !self.failed && !self.decoder.get_ref().done {
            let _ = self.decoder.try_finish();
        }
        let scan = self.decoder.get_ref();
        VcfSummary {
            samples: scan.samples.unwrap_or(0),
            chromosome: scan.chromosome.clone(),
        }
    }
}

/// The decompressed side: splits lines until the first record.
#[derive(Debug, Default)]
struct HeaderScan {
    line: Vec<u8>,
    samples: Option<usize>,
    chromosome: Option<String>,
    done: bool,
}

impl HeaderScan {
    fn line_complete(&mut self) {
        let line = String::from_utf8_lossy(&self.line);
        let line = line.trim_end_matches('\r');
        if line.starts_with("#CHROM") {
            self.samples = Some(line.split('\t').count().saturating_sub(9));
        } else if !line.starts_with('#') {
            let chromosome = line.split('\t').next().unwrap_or_default();
            self.chromosome = (!chromosome.is_empty()).then(|| chromosome.to_owned());
            self.done = true;
        }
        self.line.clear();
    }
}

impl Write for HeaderScan {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut rest = buf;
        while !self.done && !rest.is_empty() {
            match rest.iter().position(|b| *b == b'\n') {
                Some(end) => {
                    self.line.extend_from_slice(&rest[..end]);
                    rest = &rest[end + 1..];
                    self.line_complete();
                }
                None => {
                    self.line.extend_from_slice(rest);
                    rest = &[];
                }
            }
            if self.line.len() > MAX_LINE {
                self.done = true;
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gzip(text: &str) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(text.as_bytes()).expect("gzip");
        encoder.finish().expect("gzip")
    }

    #[test]
    fn counts_samples_in_small_chunks_and_over_members() {
        let header = "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\ta\tb\tc\n";
        // Two gzip members, as BGZF writes them.
        let mut data = gzip(header);
        data.extend(gzip("20\t100\t.\tA\tG\t.\tPASS\t.\tGT\t0|1\t0|0\t1|1\n"));
        let mut probe = VcfProbe::new();
        for chunk in data.chunks(7) {
            probe.feed(chunk);
        }
        let summary = probe.finish();
        assert_eq!(summary.samples, 3);
        assert_eq!(summary.chromosome.as_deref(), Some("20"));
    }

    #[test]
    fn garbage_and_headerless_files_have_no_samples() {
        let mut probe = VcfProbe::new();
        probe.feed(b"this is not gzip at all");
        assert_eq!(probe.finish(), VcfSummary::default());
        let mut probe = VcfProbe::new();
        probe.feed(&gzip("##fileformat=VCFv4.2\n"));
        assert_eq!(probe.finish().samples, 0);
    }
}
