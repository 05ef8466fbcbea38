//! Receiving a file: each chunk is hashed, written to the store and fed to
//! the VCF check (on a blocking thread) as it arrives, so memory stays flat
//! and the file is read once. Nothing is kept unless everything passes.

use std::io::Read;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use super::{
    storage::{Storage, StorageError},
    vcf::{self, BGZF_EOF, Inspection, Refused},
};
use crate::domain::vcf::Compression;

/// How an upload failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum UploadError {
    /// The file is not acceptable (`InvalidArgument`).
    #[error("{0}")]
    Refused(String),
    /// Over the size limit (`InvalidArgument`, or `ResourceExhausted` for a quota).
    #[error("the file is larger than {limit} bytes")]
    TooLarge { limit: u64 },
    /// The client's stream broke off.
    #[error("the upload was interrupted: {0}")]
    Interrupted(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// What was received.
#[derive(Debug)]
pub(crate) struct Received {
    pub(crate) size: u64,
    pub(crate) sha256: String,
    pub(crate) inspection: Inspection,
}

/// Chunks queued between the network and the check.
const CHECK_QUEUE: usize = 8;

/// Streams `chunks` into the object `key`, refusing more than `limit`
/// bytes. On any error the object is discarded.
pub(crate) async fn receive<S>(
    storage: &Storage,
    key: &str,
    mut chunks: S,
    limit: u64,
) -> Result<Received, UploadError>
where
    S: Stream<Item = Result<Bytes, String>> + Unpin,
{
    let mut writer = storage.writer(key).await?;
    let (tx, rx) = mpsc::channel::<Bytes>(CHECK_QUEUE);
    let check = tokio::task::spawn_blocking(move || vcf::inspect(ChannelReader::new(rx)));
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    let mut tail: Vec<u8> = Vec::with_capacity(BGZF_EOF.len() * 2);
    let mut tx = Some(tx);
    let outcome = loop {
        let Some(chunk) = chunks.next().await else {
            break Ok(());
        };
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => break Err(UploadError::Interrupted(e)),
        };
        if chunk.is_empty() {
            continue;
        }
        size += chunk.len() as u64;
        crate::metrics::uploaded(chunk.len());
        if size > limit {
            break Err(UploadError::TooLarge { limit });
        }
        hasher.update(&chunk);
        keep_tail(&mut tail, &chunk);
        if let Err(e) = writer.write(&chunk).await {
            break Err(e.into());
        }
        // A closed queue means the check has already found a problem.
        let fed = match &tx {
            Some(tx) => tx.send(chunk).await.is_ok(),
            None => false,
        };
        if !fed {
            break Ok(());
        }
    };
    drop(tx.take());
    let inspection = match check.await {
        Ok(result) => result,
        Err(e) => Err(Refused(format!("internal: {e}"))),
    };
    let result = match (outcome, inspection) {
        (Err(e), _) => Err(e),
        (Ok(()), Err(Refused(message))) => Err(UploadError::Refused(message)),
        (Ok(()), Ok(inspection)) => {
            if inspection.facts.compression == Compression::Bgzf && !tail.ends_with(&BGZF_EOF) {
                Err(UploadError::Refused(
                    "the BGZF end-of-file marker is missing: the file is truncated (upload it again)"
                        .into(),
                ))
            } else {
                Ok(inspection)
            }
        }
    };
    match result {
        Ok(inspection) => {
            writer.finish().await?;
            Ok(Received {
                size,
                sha256: hex(&hasher.finalize()),
                inspection,
            })
        }
        Err(e) => {
            writer.abort().await;
            Err(e)
        }
    }
}

fn keep_tail(tail: &mut Vec<u8>, chunk: &[u8]) {
    let keep = BGZF_EOF.len();
    if chunk.len() >= keep {
        tail.clear();
        tail.extend_from_slice(&chunk[chunk.len() - keep..]);
    } else {
        tail.extend_from_slice(chunk);
        if tail.len() > keep {
            tail.drain(..tail.len() - keep);
        }
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A blocking `Read` over the chunks of a channel.
struct ChannelReader {
    rx: mpsc::Receiver<Bytes>,
    current: Bytes,
}

impl ChannelReader {
    fn new(rx: mpsc::Receiver<Bytes>) -> Self {
        Self {
            rx,
            current: Bytes::new(),
        }
    }
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(chunk) => self.current = chunk,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(format!(
            "{}/../../tests/fixtures/vcf/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    fn chunks(bytes: &[u8], size: usize) -> impl Stream<Item = Result<Bytes, String>> + Unpin {
        let parts: Vec<_> = bytes
            .chunks(size)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        futures::stream::iter(parts)
    }

    #[tokio::test]
    async fn a_vcf_is_stored_hashed_and_checked_in_one_pass() {
        let dir = tempfile_dir();
        let storage = Storage::open(&format!("file://{}", dir.display())).unwrap();
        let bytes = fixture("chr20.small.1000snps.vcf.gz");
        let got = receive(&storage, "inputs/a.vcf.gz", chunks(&bytes, 777), 1 << 30)
            .await
            .unwrap();
        assert_eq!(got.size, bytes.len() as u64);
        assert_eq!(got.sha256, hex(&Sha256::digest(&bytes)));
        assert_eq!(got.inspection.facts.records, 1000);
        let (size, _) = storage.read("inputs/a.vcf.gz").await.unwrap();
        assert_eq!(size, bytes.len() as u64);

        // Truncated at a block boundary: only the missing EOF marker tells.
        let cut = &bytes[..bytes.len() - BGZF_EOF.len()];
        let err = receive(&storage, "inputs/b.vcf.gz", chunks(cut, 4096), 1 << 30)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("end-of-file marker"), "{err}");
        assert!(matches!(
            storage.read("inputs/b.vcf.gz").await,
            Err(StorageError::NotFound)
        ));

        let err = receive(&storage, "inputs/c.vcf.gz", chunks(&bytes, 4096), 10_000)
            .await
            .unwrap_err();
        assert!(matches!(err, UploadError::TooLarge { limit: 10_000 }));
        std::fs::remove_dir_all(dir).ok();
    }

    fn tempfile_dir() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("fedimpute-upload-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
