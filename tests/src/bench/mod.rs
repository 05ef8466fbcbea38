//! Support for the benchmarks (`tests/benches/`): a generated VCF of a
//! chosen size, free ports, process memory.

use std::{
    io::{BufWriter, Write},
    num::NonZero,
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Instant,
};

const SAMPLES: usize = 1000;

/// The generated BGZF VCF of about `mb` MiB under `target/bench-data/`,
/// made on first use and kept for later runs.
pub fn vcf_of_mib(mb: u64) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/bench-data");
    std::fs::create_dir_all(&dir).expect("bench data dir");
    let path = dir.join(format!("upload-{mb}mib.vcf.gz"));
    if !path.exists() {
        let started = Instant::now();
        eprintln!("generating {} ...", path.display());
        let tmp = path.with_extension("partial");
        generate(&tmp, mb);
        std::fs::rename(&tmp, &path).expect("rename");
        eprintln!("generated in {:.1?}", started.elapsed());
    }
    path
}

/// A sorted, GT-only VCF over chromosomes 1–22, BGZF-compressed, until the
/// compressed size reaches `mb` MiB.
fn generate(path: &Path, mb: u64) {
    let file = std::fs::File::create(path).expect("create the bench file");
    let written = Arc::new(AtomicU64::new(0));
    let counted = Counted {
        inner: BufWriter::with_capacity(1 << 20, file),
        written: written.clone(),
    };
    let workers = NonZero::new(2).expect("two");
    let mut out = noodles_bgzf::io::MultithreadedWriter::with_worker_count(workers, counted);
    let mut header = String::from(
        "##fileformat=VCFv4.2\n##FORMAT=<ID=GT,Number=1,Type=String,Description=\"Genotype\">\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT",
    );
    for s in 0..SAMPLES {
        header.push_str(&format!("\tS{s:05}"));
    }
    header.push('\n');
    out.write_all(header.as_bytes()).expect("write");
    let genotypes = ["0|0", "0|1", "1|0", "1|1"];
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut line = String::with_capacity(SAMPLES * 4 + 64);
    let limit = mb * 1024 * 1024;
    'outer: for chrom in 1..=22 {
        for i in 0..u64::MAX {
            line.clear();
            let pos = 10_000 + i * 37;
            line.push_str(&format!(
                "{chrom}\t{pos}\trs{chrom}_{i}\tA\tG\t.\tPASS\t.\tGT"
            ));
            for _ in 0..SAMPLES {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                line.push('\t');
                line.push_str(genotypes[(state & 3) as usize]);
            }
            line.push('\n');
            out.write_all(line.as_bytes()).expect("write");
            if i % 2000 == 1999 {
                let written = written.load(Ordering::Relaxed);
                if written >= limit * (chrom as u64) / 22 {
                    if chrom == 22 || written >= limit {
                        break 'outer;
                    }
                    continue 'outer;
                }
            }
        }
    }
    out.finish().expect("finish the BGZF stream");
}

struct Counted<W> {
    inner: W,
    written: Arc<AtomicU64>,
}

impl<W: Write> Write for Counted<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.written.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// A port free on loopback now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// (VmRSS, VmHWM) of a process, in KiB.
pub fn memory(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}
