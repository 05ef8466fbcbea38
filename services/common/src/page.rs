//! Opaque keyset page tokens: "after this id", base64url-encoded.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

/// An opaque page token: the last id of the previous page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageToken(pub i64);

impl PageToken {
    pub fn parse(raw: &str) -> Result<Option<Self>, String> {
        if raw.is_empty() {
            return Ok(None);
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(raw)
            .map_err(|_| "is not a page token returned by this API".to_owned())?;
        let text = String::from_utf8(bytes).map_err(|_| "is malformed".to_owned())?;
        text.strip_prefix("after:")
            .and_then(|n| n.parse().ok())
            .map(|n| Some(Self(n)))
            .ok_or_else(|| "is malformed".to_owned())
    }

    pub fn encode(self) -> String {
        URL_SAFE_NO_PAD.encode(format!("after:{}", self.0))
    }
}
