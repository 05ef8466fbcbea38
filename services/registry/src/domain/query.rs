//! Read requests, parsed: filters and pagination as the store takes them.

use chrono::{DateTime, Utc};
use fedimpute_common::status::{FieldViolation, Violations};
use fedimpute_proto::registry as pb;

use super::values::{ApiType, Build, PageToken, finite, page_size};

/// A page: how many, after (or, for history, before) which id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Page {
    pub size: u64,
    pub token: Option<PageToken>,
}

impl Page {
    fn parse(v: &mut Violations, size: i32, token: &str) -> Self {
        Self {
            size: v.check("page_size", page_size(size)).unwrap_or(100),
            token: v.check("page_token", PageToken::parse(token)).flatten(),
        }
    }

    /// The reply's page and its next token: the store is asked for one row
    /// more than the page, so a token means there is something after it.
    pub fn cut<T>(&self, mut rows: Vec<T>, id: impl Fn(&T) -> i64) -> (Vec<T>, String) {
        if rows.len() as u64 > self.size {
            rows.truncate(self.size as usize);
            let token = rows
                .last()
                .map(|r| PageToken(id(r)).encode())
                .unwrap_or_default();
            (rows, token)
        } else {
            (rows, String::new())
        }
    }
}

fn optional(s: String) -> Option<String> {
    let s = s.trim().to_owned();
    (!s.is_empty()).then_some(s)
}

fn api_type(v: &mut Violations, value: i32) -> Option<ApiType> {
    match value {
        0 => None,
        n => ApiType::from_proto(n).or_else(|| {
            v.add("api_type", "must be michigan, ga4gh or dnastack");
            None
        }),
    }
}

fn build(v: &mut Violations, value: i32) -> Option<Build> {
    match value {
        0 => None,
        n => Build::from_proto(n).or_else(|| {
            v.add("build", "must be hg19 or hg38");
            None
        }),
    }
}

/// `ListServices`, parsed.
#[derive(Clone, Debug, Default)]
pub struct ServiceQuery {
    pub api_type: Option<ApiType>,
    pub service_type: Option<String>,
    pub is_active: Option<bool>,
    pub is_available: Option<bool>,
    /// Lower-cased.
    pub continent: Option<String>,
    /// Lower-cased.
    pub country: Option<String>,
    pub build: Option<Build>,
    /// Lower-cased.
    pub q: Option<String>,
    pub page: Option<Page>,
}

impl TryFrom<pb::ListServicesRequest> for ServiceQuery {
    type Error = Vec<FieldViolation>;

    fn try_from(req: pb::ListServicesRequest) -> Result<Self, Self::Error> {
        let pb::ListServicesRequest {
            api_type: api,
            service_type,
            is_active,
            is_available,
            continent,
            country,
            build: b,
            q,
            page_size,
            page_token,
        } = req;
        let mut v = Violations::new();
        let query = Self {
            api_type: api_type(&mut v, api),
            service_type: optional(service_type).map(|s| s.to_lowercase()),
            is_active,
            is_available,
            continent: optional(continent).map(|s| s.to_lowercase()),
            country: optional(country).map(|s| s.to_lowercase()),
            build: build(&mut v, b),
            q: optional(q).map(|s| s.to_lowercase()),
            page: Some(Page::parse(&mut v, page_size, &page_token)),
        };
        v.finish().map(|()| query)
    }
}

/// `ListReferencePanels`, parsed.
#[derive(Clone, Debug)]
pub struct PanelQuery {
    pub service_id: Option<i64>,
    pub build: Option<Build>,
    pub population: Option<String>,
    pub is_available: Option<bool>,
    pub page: Page,
}

impl TryFrom<pb::ListReferencePanelsRequest> for PanelQuery {
    type Error = Vec<FieldViolation>;

    fn try_from(req: pb::ListReferencePanelsRequest) -> Result<Self, Self::Error> {
        let pb::ListReferencePanelsRequest {
            service_id,
            build: b,
            population,
            is_available,
            page_size,
            page_token,
        } = req;
        let mut v = Violations::new();
        let query = Self {
            service_id,
            build: build(&mut v, b),
            population: optional(population),
            is_available,
            page: Page::parse(&mut v, page_size, &page_token),
        };
        v.finish().map(|()| query)
    }
}

/// `DiscoverServices`, parsed.
#[derive(Clone, Debug)]
pub struct DiscoverQuery {
    pub position: Option<(f64, f64)>,
    pub max_distance_km: Option<f64>,
    pub min_cpu: Option<i32>,
    pub min_memory_gb: Option<f64>,
    pub min_storage_gb: Option<f64>,
    pub service_type: Option<String>,
    pub api_type: Option<ApiType>,
    pub only_active: bool,
    pub only_healthy: bool,
    pub build: Option<Build>,
    pub limit: usize,
}

impl TryFrom<pb::DiscoverServicesRequest> for DiscoverQuery {
    type Error = Vec<FieldViolation>;

    fn try_from(req: pb::DiscoverServicesRequest) -> Result<Self, Self::Error> {
        let pb::DiscoverServicesRequest {
            latitude,
            longitude,
            max_distance_km,
            min_cpu,
            min_memory_gb,
            min_storage_gb,
            service_type,
            api_type: api,
            only_active,
            only_healthy,
            build: b,
            limit,
        } = req;
        let mut v = Violations::new();
        let position = match (latitude, longitude) {
            (Some(lat), Some(lon)) => {
                if !(lat.is_finite() && (-90.0..=90.0).contains(&lat)) {
                    v.add("latitude", "must be between -90 and 90");
                }
                if !(lon.is_finite() && (-180.0..=180.0).contains(&lon)) {
                    v.add("longitude", "must be between -180 and 180");
                }
                Some((lat, lon))
            }
            (None, None) => None,
            (Some(_), None) | (None, Some(_)) => {
                v.add("latitude", "give both latitude and longitude, or neither");
                None
            }
        };
        let limit = match limit {
            0 => 10,
            n @ 1..=50 => n as usize,
            _ => {
                v.add("limit", "must be between 1 and 50");
                10
            }
        };
        let positive = |v: &mut Violations, field: &str, x: Option<f64>| match x.map(finite) {
            Some(Ok(x)) if x >= 0.0 => Some(x),
            Some(Ok(_) | Err(_)) => {
                v.add(field, "must be a finite number, zero or more");
                None
            }
            None => None,
        };
        let query = Self {
            position,
            max_distance_km: positive(&mut v, "max_distance_km", max_distance_km),
            min_cpu,
            min_memory_gb: positive(&mut v, "min_memory_gb", min_memory_gb),
            min_storage_gb: positive(&mut v, "min_storage_gb", min_storage_gb),
            service_type: optional(service_type).map(|s| s.to_lowercase()),
            api_type: api_type(&mut v, api),
            only_active: only_active.unwrap_or(true),
            only_healthy,
            build: build(&mut v, b),
            limit,
        };
        v.finish().map(|()| query)
    }
}

/// `ListHealthHistory`, parsed.
#[derive(Clone, Debug)]
pub struct HistoryQuery {
    pub service_id: i64,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    pub page: Page,
}

impl TryFrom<pb::ListHealthHistoryRequest> for HistoryQuery {
    type Error = Vec<FieldViolation>;

    fn try_from(req: pb::ListHealthHistoryRequest) -> Result<Self, Self::Error> {
        let pb::ListHealthHistoryRequest {
            id,
            start_time,
            end_time,
            page_size,
            page_token,
        } = req;
        let mut v = Violations::new();
        let mut time = |field: &str, t: Option<prost_types::Timestamp>| {
            t.and_then(|t| {
                let parsed = u32::try_from(t.nanos)
                    .ok()
                    .and_then(|nanos| DateTime::from_timestamp(t.seconds, nanos));
                if parsed.is_none() {
                    v.add(field, "is not a valid timestamp");
                }
                parsed
            })
        };
        let start = time("start_time", start_time);
        let end = time("end_time", end_time);
        if let (Some(s), Some(e)) = (start, end)
            && s >= e
        {
            v.add("end_time", "must be after start_time");
        }
        let page = Page::parse(&mut v, page_size, &page_token);
        v.finish().map(|()| Self {
            service_id: id,
            start,
            end,
            page,
        })
    }
}
