//! Domain types, parsed from the protos (parse, don't validate): once a
//! value of these types exists it is valid, and the store never sees raw
//! input.

pub(crate) mod json;
mod panel;
mod query;
mod service;
mod values;

pub use panel::{PanelSpec, apply_panel_mask};
pub use query::{DiscoverQuery, HistoryQuery, Page, PanelQuery, ServiceQuery};
pub use service::{SecretValues, ServiceSpec, apply_service_mask};
pub use values::{ApiType, BaseUrl, Build, HealthStatus, PageToken, Slug, finite, page_size};
