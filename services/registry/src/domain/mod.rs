//! Domain types, parsed from the protos (parse, don't validate): once a
//! value of these types exists it is valid, and the store never sees raw
//! input.

mod panel;
pub(crate) mod service;
mod values;

pub use panel::{PanelSpec, apply_panel_mask};
pub use service::{ServiceSpec, apply_service_mask};
pub use values::{ApiType, BaseUrl, Build, HealthStatus, PageToken, Slug, page_size};
