//! Input files: upload (quota and limits), read, list, delete, download,
//! and the signed links remotes fetch inputs by.

use bytes::Bytes;
use chrono::Utc;
use fedimpute_common::auth::Caller;
use fedimpute_proto::{jobs as pb, users::QuotaKind};
use futures::{Stream, StreamExt, stream::BoxStream};

use super::{Jobs, Me};
use crate::{
    convert,
    domain::{FileId, filename},
    error::{Error, Result},
    files::{signed, upload},
    store::FileRecord,
};

/// The upload's messages after the first.
pub(crate) type ChunkStream = BoxStream<'static, Result<pb::UploadFileRequest, String>>;

/// A file streamed out: its metadata, then its bytes.
pub(crate) type FileOut = BoxStream<'static, Result<pb::FileChunk>>;

const CHUNK: usize = 64 * 1024;

fn reservation(file_id: &str) -> String {
    format!("file:{file_id}")
}

impl Jobs {
    pub(crate) async fn upload(
        &self,
        caller: &Caller,
        metadata: Option<pb::UploadMetadata>,
        rest: ChunkStream,
    ) -> Result<pb::InputFile> {
        let me = self.submitter(caller)?;
        let meta = metadata.ok_or_else(|| {
            Error::invalid(
                "metadata",
                "the first message of an upload must carry the metadata",
            )
        })?;
        let original: String = meta.filename.chars().take(255).collect();
        let name = filename::sanitize(&original);
        let limit = self.settings.max_upload_bytes;
        let declared = match meta.size_bytes {
            Some(n) if n < 0 => return Err(Error::invalid("size_bytes", "must not be negative")),
            Some(n) if n as u64 > limit => {
                return Err(Error::invalid(
                    "size_bytes",
                    format!("the file is larger than the platform's limit of {limit} bytes"),
                ));
            }
            Some(n) => Some(n as u64),
            None => None,
        };
        let expected = meta.sha256.trim().to_ascii_lowercase();
        if !expected.is_empty()
            && (expected.len() != 64 || !expected.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            return Err(Error::invalid("sha256", "must be 64 hex digits"));
        }
        let id = FileId::new().to_string();
        let key = format!("inputs/{}/{id}/{name}", me.id);
        let held = reservation(&id);
        // Announced sizes are reserved first: an upload over quota is
        // refused before its bytes travel.
        if let Some(size) = declared {
            self.reserve_storage(&me, size, &held).await?;
        }
        let chunks = rest.map(|part| match part {
            Ok(pb::UploadFileRequest {
                part: Some(pb::upload_file_request::Part::Chunk(bytes)),
            }) => Ok(Bytes::from(bytes)),
            Ok(pb::UploadFileRequest {
                part: Some(pb::upload_file_request::Part::Metadata(_)),
            }) => Err("metadata may only come first".to_owned()),
            Ok(pb::UploadFileRequest { part: None }) => Ok(Bytes::new()),
            Err(e) => Err(e),
        });
        let received = upload::receive(
            &self.storage,
            &key,
            Box::pin(chunks),
            declared.unwrap_or(limit),
        )
        .await;
        let received = match received {
            Ok(r) => r,
            Err(e) => {
                if declared.is_some() {
                    self.release_all(&[held]).await;
                }
                return Err(match (e, declared) {
                    (upload::UploadError::TooLarge { .. }, Some(size)) => Error::invalid(
                        "file",
                        format!("more bytes arrived than the {size} announced"),
                    ),
                    (e, _) => e.into(),
                });
            }
        };
        let mismatch = match declared {
            Some(size) if size != received.size => Some(Error::invalid(
                "size_bytes",
                format!("{size} bytes were announced but {} arrived", received.size),
            )),
            _ if !expected.is_empty() && expected != received.sha256 => Some(Error::invalid(
                "sha256",
                format!(
                    "the bytes hash to {}, not the {expected} announced: the upload was damaged",
                    received.sha256
                ),
            )),
            _ => None,
        };
        let refused = match mismatch {
            Some(e) => Err(e),
            None if declared.is_none() => self.reserve_storage(&me, received.size, &held).await,
            None => Ok(()),
        };
        if let Err(e) = refused {
            self.storage.delete(&key).await.ok();
            if declared.is_some() {
                self.release_all(&[held]).await;
            }
            return Err(e);
        }
        let record = FileRecord {
            id: id.clone(),
            user_id: me.id,
            filename: name,
            original_filename: original,
            storage_key: key.clone(),
            size_bytes: i64::try_from(received.size).unwrap_or(i64::MAX),
            sha256: received.sha256,
            facts: received.inspection.facts,
            warnings: received.inspection.warnings,
            created_at: Utc::now(),
        };
        if let Err(e) = self.store.insert_file(record.clone()).await {
            self.storage.delete(&key).await.ok();
            self.release_all(&[held]).await;
            return Err(e.into());
        }
        tracing::info!(file = %id, size = record.size_bytes, "input file received");
        Ok(convert::file(&record, 0))
    }

    async fn reserve_storage(&self, me: &Me, bytes: u64, id: &str) -> Result<()> {
        let amount = i64::try_from(bytes).unwrap_or(i64::MAX).max(1);
        self.peers
            .reserve(me.id, QuotaKind::Storage, amount, id)
            .await
            .map_err(|e| e.quota("storage quota"))
    }

    /// A file the caller owns; anything else is `NotFound`.
    pub(crate) async fn own_file(&self, me: &Me, id: &str) -> Result<FileRecord> {
        let not_found = || Error::NotFound(format!("file {id} does not exist"));
        let id = FileId::parse(id).map_err(|_| not_found())?;
        let file = self
            .store
            .file(&id.to_string())
            .await?
            .ok_or_else(not_found)?;
        if file.user_id == me.id {
            Ok(file)
        } else {
            Err(not_found())
        }
    }

    async fn with_counts(&self, files: Vec<FileRecord>) -> Result<Vec<pb::InputFile>> {
        let ids: Vec<String> = files.iter().map(|f| f.id.clone()).collect();
        let counts: std::collections::HashMap<String, i64> = self
            .store
            .file_job_counts(&ids)
            .await?
            .into_iter()
            .collect();
        Ok(files
            .iter()
            .map(|f| convert::file(f, counts.get(&f.id).copied().unwrap_or(0)))
            .collect())
    }

    pub(crate) async fn get_file(&self, caller: &Caller, id: &str) -> Result<pb::InputFile> {
        let me = self.me(caller)?;
        let file = self.own_file(&me, id).await?;
        Ok(self.with_counts(vec![file]).await?.remove(0))
    }

    pub(crate) async fn list_files(
        &self,
        caller: &Caller,
        r: pb::ListFilesRequest,
    ) -> Result<Vec<pb::InputFile>> {
        let me = self.me(caller)?;
        let (skip, limit) = page(r.skip, r.limit)?;
        let files = self.store.files(me.id, skip, limit).await?;
        self.with_counts(files).await
    }

    pub(crate) async fn delete_file(&self, caller: &Caller, id: &str) -> Result<()> {
        let me = self.me(caller)?;
        let file = self.own_file(&me, id).await?;
        self.store.delete_file(&file.id).await?;
        // The record is gone: an object left behind is only logged.
        if let Err(e) = self.storage.delete(&file.storage_key).await {
            tracing::warn!(file = %file.id, error = %e, "cannot delete an input file's object");
        }
        self.release_all(&[reservation(&file.id)]).await;
        Ok(())
    }

    pub(crate) async fn download_file(&self, caller: &Caller, id: &str) -> Result<FileOut> {
        let me = self.me(caller)?;
        let file = self.own_file(&me, id).await?;
        self.stream_out(&file.storage_key, &file.filename, "application/gzip")
            .await
    }

    /// The bytes behind a signed link (no user: the token is the credential).
    pub(crate) async fn open_signed(&self, token: &str) -> Result<FileOut> {
        let id =
            signed::verify(&self.keyring, token, Utc::now()).map_err(Error::PermissionDenied)?;
        let file = self
            .store
            .file(&id)
            .await?
            .ok_or_else(|| Error::NotFound("the file of this link was deleted".into()))?;
        self.stream_out(&file.storage_key, &file.filename, "application/gzip")
            .await
    }

    /// A signed, expiring link to an input file.
    pub(crate) fn signed_link(&self, file_id: &str) -> String {
        let token = signed::sign(
            &self.keyring,
            file_id,
            Utc::now()
                + chrono::Duration::from_std(self.settings.signed_url_ttl)
                    .unwrap_or(chrono::Duration::days(3)),
        );
        format!(
            "{}/api/files/signed/{token}",
            self.settings.public_url.trim_end_matches('/')
        )
    }

    /// Streams an object: a metadata message, then chunks.
    pub(crate) async fn stream_out(
        &self,
        key: &str,
        name: &str,
        content_type: &str,
    ) -> Result<FileOut> {
        let (size, bytes) = self.storage.read(key).await?;
        let head = pb::FileChunk {
            filename: name.to_owned(),
            content_type: content_type.to_owned(),
            size_bytes: i64::try_from(size).unwrap_or(i64::MAX),
            data: Vec::new(),
        };
        Ok(chunked(head, bytes.map(|r| r.map_err(Error::from))))
    }
}

/// The metadata message, then the bytes in chunks of at most 64 KiB.
pub(crate) fn chunked(
    head: pb::FileChunk,
    bytes: impl Stream<Item = Result<Bytes>> + Send + 'static,
) -> FileOut {
    let body = bytes.flat_map(|piece| {
        let parts: Vec<Result<pb::FileChunk>> = match piece {
            Ok(b) => b
                .chunks(CHUNK)
                .map(|c| {
                    Ok(pb::FileChunk {
                        data: c.to_vec(),
                        ..Default::default()
                    })
                })
                .collect(),
            Err(e) => vec![Err(e)],
        };
        futures::stream::iter(parts)
    });
    futures::stream::once(async move { Ok(head) })
        .chain(body)
        .boxed()
}

/// `skip`/`limit` as the original API takes them.
pub(crate) fn page(skip: i32, limit: i32) -> Result<(u64, u64)> {
    if skip < 0 {
        return Err(Error::invalid("skip", "must not be negative"));
    }
    let limit = match limit {
        0 => 100,
        1..=1000 => limit,
        _ => return Err(Error::invalid("limit", "must be 1–1000")),
    };
    Ok((skip as u64, limit as u64))
}
