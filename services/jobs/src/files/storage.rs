//! The file store: a local directory by default, S3-compatible object
//! storage in production, both through the `object_store` crate. Writes
//! stream in parts (memory stays flat whatever the size); reads stream out.

use std::sync::Arc;

use bytes::Bytes;
use futures::{StreamExt, stream::BoxStream};
use object_store::{
    ObjectStore, ObjectStoreExt as _, WriteMultipart, aws::AmazonS3Builder, local::LocalFileSystem,
    path::Path, prefix::PrefixStore,
};

/// Parts of this size are written at once (S3's minimum is 5 MiB).
const PART_SIZE: usize = 8 * 1024 * 1024;
/// Parts in flight per upload.
const PARTS_IN_FLIGHT: usize = 4;

#[derive(Debug, thiserror::Error)]
pub(crate) enum StorageError {
    #[error("FEDIMPUTE_STORAGE_URL {url:?}: {reason}")]
    Config { url: String, reason: String },
    #[error("the object is missing from the file store")]
    NotFound,
    #[error("file store: {0}")]
    Store(#[from] object_store::Error),
}

/// Where files live.
#[derive(Clone, Debug)]
pub(crate) struct Storage {
    store: Arc<dyn ObjectStore>,
    /// For logs: the URL without credentials.
    location: String,
}

impl Storage {
    /// `file:///abs/dir` (created if missing) or `s3://bucket[/prefix]`
    /// (credentials, region and endpoint from the usual `AWS_*` variables).
    pub(crate) fn open(url: &str) -> Result<Self, StorageError> {
        let config = |reason: String| StorageError::Config {
            url: url.to_owned(),
            reason,
        };
        let parsed = url::Url::parse(url).map_err(|e| config(e.to_string()))?;
        let store: Arc<dyn ObjectStore> = match parsed.scheme() {
            "file" => {
                let dir = parsed
                    .to_file_path()
                    .map_err(|()| config("not an absolute local path".into()))?;
                std::fs::create_dir_all(&dir)
                    .map_err(|e| config(format!("cannot create {}: {e}", dir.display())))?;
                Arc::new(
                    LocalFileSystem::new_with_prefix(&dir)
                        .map_err(|e| config(e.to_string()))?
                        .with_automatic_cleanup(true),
                )
            }
            "s3" => {
                let bucket = parsed
                    .host_str()
                    .filter(|b| !b.is_empty())
                    .ok_or_else(|| config("no bucket: use s3://bucket/prefix".into()))?;
                let s3 = AmazonS3Builder::from_env()
                    .with_bucket_name(bucket)
                    .build()
                    .map_err(|e| config(e.to_string()))?;
                let prefix = parsed.path().trim_matches('/');
                if prefix.is_empty() {
                    Arc::new(s3)
                } else {
                    Arc::new(PrefixStore::new(s3, prefix))
                }
            }
            other => return Err(config(format!("unsupported scheme '{other}' (file or s3)"))),
        };
        Ok(Self {
            store,
            location: format!(
                "{}://{}{}",
                parsed.scheme(),
                parsed.host_str().unwrap_or_default(),
                parsed.path()
            ),
        })
    }

    pub(crate) fn location(&self) -> &str {
        &self.location
    }

    /// A streaming writer of the object at `key`.
    pub(crate) async fn writer(&self, key: &str) -> Result<Writer, StorageError> {
        let upload = self.store.put_multipart(&Path::from(key)).await?;
        Ok(Writer {
            inner: WriteMultipart::new_with_chunk_size(upload, PART_SIZE),
        })
    }

    /// The object's bytes as a stream, and its size.
    pub(crate) async fn read(
        &self,
        key: &str,
    ) -> Result<(u64, BoxStream<'static, Result<Bytes, StorageError>>), StorageError> {
        let got = self.store.get(&Path::from(key)).await.map_err(not_found)?;
        let size = got.meta.size;
        Ok((
            size,
            got.into_stream()
                .map(|r| r.map_err(StorageError::from))
                .boxed(),
        ))
    }

    /// Deletes the object; a missing one is not an error.
    pub(crate) async fn delete(&self, key: &str) -> Result<(), StorageError> {
        match self.store.delete(&Path::from(key)).await.map_err(not_found) {
            Ok(()) | Err(StorageError::NotFound) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

fn not_found(e: object_store::Error) -> StorageError {
    if let object_store::Error::NotFound { .. } = e {
        StorageError::NotFound
    } else {
        StorageError::Store(e)
    }
}

/// An object being written; nothing is visible until `finish`.
#[derive(Debug)]
pub(crate) struct Writer {
    inner: WriteMultipart,
}

impl Writer {
    /// Buffers `bytes`, waiting while too many parts are in flight.
    pub(crate) async fn write(&mut self, bytes: &[u8]) -> Result<(), StorageError> {
        self.inner.wait_for_capacity(PARTS_IN_FLIGHT).await?;
        self.inner.write(bytes);
        Ok(())
    }

    pub(crate) async fn finish(self) -> Result<(), StorageError> {
        self.inner.finish().await?;
        Ok(())
    }

    /// Drops what was written.
    pub(crate) async fn abort(self) {
        if let Err(e) = self.inner.abort().await {
            tracing::warn!(error = %e, "cannot abort a partial upload");
        }
    }
}
