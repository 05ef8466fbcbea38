//! The registry's behaviour, independent of the transport: authorization,
//! parsing, store calls and conversions. `grpc.rs` only forwards to it.

use std::{sync::Arc, time::Duration};

use chrono::Utc;
use fedimpute_common::{auth::Caller, status::Violations};
use fedimpute_proto::registry as pb;

use crate::{
    convert,
    discover::{self, Needs},
    domain::{
        ApiType, Build, PageToken, PanelSpec, ServiceSpec, Slug, apply_panel_mask,
        apply_service_mask, page_size,
    },
    error::{Error, Result},
    health::{HealthMonitor, chrono_duration},
    secrets::ServiceSecrets,
    store::{PanelFilter, RegistryStore, Service, ServiceFilter},
    sync,
};

/// The registry core.
#[derive(Debug, Clone)]
pub(crate) struct Registry {
    store: Arc<dyn RegistryStore>,
    secrets: ServiceSecrets,
    monitor: Arc<HealthMonitor>,
    client: reqwest::Client,
    /// A manual check within this long after the last probe returns the
    /// last result instead of probing again.
    min_check_interval: Duration,
    allow_private: bool,
}

fn require_manager(caller: &Caller, service_id: Option<i64>) -> Result<()> {
    let claims = caller.user()?;
    if claims.can_manage_service(service_id) {
        Ok(())
    } else {
        Err(Error::PermissionDenied(match service_id {
            Some(id) => format!("managing service {id} needs the admin or service_admin role"),
            None => {
                "creating services needs the admin role or an unscoped service_admin role".into()
            }
        }))
    }
}

fn optional(s: String) -> Option<String> {
    let s = s.trim().to_owned();
    (!s.is_empty()).then_some(s)
}

impl Registry {
    pub(crate) fn new(
        store: Arc<dyn RegistryStore>,
        secrets: ServiceSecrets,
        monitor: Arc<HealthMonitor>,
        client: reqwest::Client,
        min_check_interval: Duration,
        allow_private: bool,
    ) -> Self {
        Self {
            store,
            secrets,
            monitor,
            client,
            min_check_interval,
            allow_private,
        }
    }

    fn to_proto(&self, service: &Service) -> pb::Service {
        convert::service(service, self.secrets.names(service))
    }

    async fn service(&self, id: i64) -> Result<Service> {
        self.store
            .get_service(id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("service {id} not found")))
    }

    // === services ===

    pub(crate) async fn create_service(
        &self,
        caller: &Caller,
        req: pb::CreateServiceRequest,
    ) -> Result<pb::Service> {
        require_manager(caller, None)?;
        let spec = ServiceSpec::try_from(req.service.unwrap_or_default())?;
        let slug = match &spec.slug {
            Some(slug) => slug.clone(),
            None => self.free_service_slug(&spec.name).await?,
        };
        let sealed = self.secrets.merge(None, &spec.secrets)?;
        let service = self.store.insert_service(&spec, &slug, sealed).await?;
        tracing::info!(service_id = service.id, slug = %service.slug, by = %caller.user()?.username, "service created");
        Ok(self.to_proto(&service))
    }

    async fn free_service_slug(&self, name: &str) -> Result<Slug> {
        let base = Slug::from_name(name).ok_or_else(|| {
            Error::Invalid(vec![fedimpute_common::status::FieldViolation::new(
                "slug",
                "cannot be derived from the name: give one",
            )])
        })?;
        for n in 0..1000 {
            let candidate = if n == 0 {
                base.clone()
            } else {
                base.with_suffix(n)
            };
            if self
                .store
                .get_service_by_slug(candidate.as_str())
                .await?
                .is_none()
            {
                return Ok(candidate);
            }
        }
        Err(Error::AlreadyExists(format!(
            "no free slug for '{name}': give one"
        )))
    }

    pub(crate) async fn get_service(&self, req: pb::GetServiceRequest) -> Result<pb::Service> {
        let key = req.id_or_slug.trim();
        let found = match key.parse::<i64>() {
            Ok(id) => self.store.get_service(id).await?,
            Err(_) => self.store.get_service_by_slug(key).await?,
        };
        found
            .map(|s| self.to_proto(&s))
            .ok_or_else(|| Error::NotFound(format!("service '{key}' not found")))
    }

    pub(crate) async fn list_services(
        &self,
        req: pb::ListServicesRequest,
    ) -> Result<pb::ListServicesResponse> {
        let mut v = Violations::new();
        let limit = v.check("page_size", page_size(req.page_size));
        let after = v
            .check("page_token", PageToken::parse(&req.page_token))
            .flatten();
        let api_type = match req.api_type {
            0 => None,
            n => {
                let parsed = ApiType::from_proto(n);
                if parsed.is_none() {
                    v.add("api_type", "must be michigan, ga4gh or dnastack");
                }
                parsed
            }
        };
        let build = match req.build {
            0 => None,
            n => {
                let parsed = Build::from_proto(n);
                if parsed.is_none() {
                    v.add("build", "must be hg19 or hg38");
                }
                parsed
            }
        };
        v.finish()?;
        let limit = limit.unwrap_or(100);
        let filter = ServiceFilter {
            api_type,
            service_type: optional(req.service_type).map(|s| s.to_lowercase()),
            is_active: req.is_active,
            is_available: req.is_available,
            continent: optional(req.continent),
            country: optional(req.country),
            build,
            q: optional(req.q),
            after_id: after.map(|t| t.0),
            limit,
        };
        let services = self.store.list_services(&filter).await?;
        let next_page_token = match services.last() {
            Some(last) if services.len() as u64 == limit => PageToken(last.id).encode(),
            Some(_) | None => String::new(),
        };
        Ok(pb::ListServicesResponse {
            services: services.iter().map(|s| self.to_proto(s)).collect(),
            next_page_token,
        })
    }

    pub(crate) async fn update_service(
        &self,
        caller: &Caller,
        req: pb::UpdateServiceRequest,
    ) -> Result<pb::Service> {
        require_manager(caller, Some(req.id))?;
        let current = self.service(req.id).await?;
        let paths = req.update_mask.map(|m| m.paths).unwrap_or_default();
        let merged = apply_service_mask(
            convert::service(&current, Vec::new()),
            req.service.unwrap_or_default(),
            &paths,
        )?;
        let spec = ServiceSpec::try_from(merged)?;
        let sealed = if spec.secrets.is_empty() {
            current.secrets.clone()
        } else {
            self.secrets.merge(Some(&current), &spec.secrets)?
        };
        let updated = self.store.update_service(req.id, &spec, sealed).await?;
        tracing::info!(service_id = req.id, by = %caller.user()?.username, "service updated");
        Ok(self.to_proto(&updated))
    }

    pub(crate) async fn delete_service(
        &self,
        caller: &Caller,
        req: pb::DeleteServiceRequest,
    ) -> Result<pb::DeleteServiceResponse> {
        require_manager(caller, Some(req.id))?;
        let (service, panels) = self
            .store
            .delete_service(req.id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("service {} not found", req.id)))?;
        tracing::info!(service_id = service.id, by = %caller.user()?.username, panels, "service deleted");
        Ok(pb::DeleteServiceResponse {
            message: format!("Service '{}' deleted", service.name),
            deleted_service_id: service.id,
            deleted_service_name: service.name,
            deleted_panels: i32::try_from(panels).unwrap_or(i32::MAX),
        })
    }

    pub(crate) async fn discover(
        &self,
        req: pb::DiscoverServicesRequest,
    ) -> Result<pb::DiscoverServicesResponse> {
        let mut v = Violations::new();
        let position = match (req.latitude, req.longitude) {
            (Some(lat), Some(lon)) => {
                if !(-90.0..=90.0).contains(&lat) {
                    v.add("latitude", "must be between -90 and 90");
                }
                if !(-180.0..=180.0).contains(&lon) {
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
        let limit = match req.limit {
            0 => 10,
            n @ 1..=50 => n as usize,
            _ => {
                v.add("limit", "must be between 1 and 50");
                10
            }
        };
        if req.max_distance_km.is_some_and(|d| d <= 0.0) {
            v.add("max_distance_km", "must be positive");
        }
        let api_type = match req.api_type {
            0 => None,
            n => ApiType::from_proto(n).or_else(|| {
                v.add("api_type", "must be michigan, ga4gh or dnastack");
                None
            }),
        };
        let build = match req.build {
            0 => None,
            n => Build::from_proto(n).or_else(|| {
                v.add("build", "must be hg19 or hg38");
                None
            }),
        };
        v.finish()?;
        let filter = ServiceFilter {
            api_type,
            service_type: optional(req.service_type).map(|s| s.to_lowercase()),
            is_active: req.only_active.unwrap_or(true).then_some(true),
            is_available: req.only_healthy.then_some(true),
            build,
            limit: 10_000,
            ..Default::default()
        };
        let needs = Needs {
            position,
            min_cpu: req.min_cpu,
            min_memory_gb: req.min_memory_gb,
            min_storage_gb: req.min_storage_gb,
        };
        let mut scored: Vec<_> = self
            .store
            .list_services(&filter)
            .await?
            .into_iter()
            .map(|s| (discover::score(&s, &needs), s))
            .filter(
                |(score, _)| match (req.max_distance_km, score.distance_km) {
                    (Some(max), Some(km)) => km <= max,
                    (Some(_) | None, _) => true,
                },
            )
            .collect();
        scored.sort_by(|a, b| b.0.total.total_cmp(&a.0.total).then(a.1.id.cmp(&b.1.id)));
        scored.truncate(limit);
        Ok(pb::DiscoverServicesResponse {
            results: scored
                .into_iter()
                .map(|(score, s)| pb::DiscoveredService {
                    service: Some(self.to_proto(&s)),
                    discovery_metadata: Some(pb::DiscoveryMetadata {
                        score: score.total,
                        distance_km: score.distance_km.map(|d| (d * 10.0).round() / 10.0),
                        breakdown: Some(pb::ScoreBreakdown {
                            health: score.health,
                            distance: score.distance,
                            response_time: score.response_time,
                            resources: score.resources,
                        }),
                    }),
                })
                .collect(),
        })
    }

    // === health ===

    pub(crate) async fn get_health(
        &self,
        req: pb::GetServiceHealthRequest,
    ) -> Result<pb::ServiceHealth> {
        Ok(convert::health(&self.service(req.id).await?))
    }

    pub(crate) async fn check_health(
        &self,
        caller: &Caller,
        req: pb::CheckServiceHealthRequest,
    ) -> Result<pb::ServiceHealth> {
        caller.user()?;
        let service = self.service(req.id).await?;
        let recent = service
            .last_health_check
            .is_some_and(|t| Utc::now() - t < chrono_duration(self.min_check_interval));
        if recent {
            return Ok(convert::health(&service));
        }
        let checked = self
            .monitor
            .check(&service)
            .await?
            .ok_or_else(|| Error::NotFound(format!("service {} not found", req.id)))?;
        Ok(convert::health(&checked))
    }

    pub(crate) async fn health_history(
        &self,
        req: pb::ListHealthHistoryRequest,
    ) -> Result<pb::ListHealthHistoryResponse> {
        let mut v = Violations::new();
        let limit = v
            .check("page_size", page_size(req.page_size))
            .unwrap_or(100);
        let before = v
            .check("page_token", PageToken::parse(&req.page_token))
            .flatten();
        let start = req.start_time.as_ref().and_then(|t| {
            convert::from_timestamp(t).or_else(|| {
                v.add("start_time", "is not a valid timestamp");
                None
            })
        });
        let end = req.end_time.as_ref().and_then(|t| {
            convert::from_timestamp(t).or_else(|| {
                v.add("end_time", "is not a valid timestamp");
                None
            })
        });
        if let (Some(s), Some(e)) = (start, end)
            && s >= e
        {
            v.add("end_time", "must be after start_time");
        }
        v.finish()?;
        self.service(req.id).await?;
        let checks = self
            .store
            .health_history(req.id, start, end, before.map(|t| t.0), limit)
            .await?;
        let next_page_token = match checks.last() {
            Some(last) if checks.len() as u64 == limit => PageToken(last.id).encode(),
            Some(_) | None => String::new(),
        };
        Ok(pb::ListHealthHistoryResponse {
            checks: checks.iter().map(convert::health_check).collect(),
            next_page_token,
        })
    }

    pub(crate) async fn at_risk(&self) -> Result<pb::ListServicesAtRiskResponse> {
        let now = Utc::now();
        let since = now - chrono_duration(self.monitor.settings().at_risk_after);
        let services = self.store.unhealthy_since(since).await?;
        Ok(pb::ListServicesAtRiskResponse {
            services: services
                .iter()
                .map(|s| pb::ServiceAtRisk {
                    days_offline: s.first_unhealthy_at.map_or(0, |t| (now - t).num_days()),
                    service: Some(self.to_proto(s)),
                })
                .collect(),
        })
    }

    // === panels ===

    pub(crate) async fn create_panel(
        &self,
        caller: &Caller,
        req: pb::CreateReferencePanelRequest,
    ) -> Result<pb::ReferencePanel> {
        let spec = PanelSpec::try_from(req.panel.unwrap_or_default())?;
        require_manager(caller, Some(spec.service_id))?;
        self.service(spec.service_id).await?;
        let slug = match &spec.slug {
            Some(slug) => slug.clone(),
            None => self.free_panel_slug(&spec).await?,
        };
        let panel = self.store.insert_panel(&spec, &slug, None).await?;
        Ok(convert::panel(&panel))
    }

    async fn free_panel_slug(&self, spec: &PanelSpec) -> Result<Slug> {
        let base = spec.derived_slug().ok_or_else(|| {
            Error::Invalid(vec![fedimpute_common::status::FieldViolation::new(
                "slug",
                "cannot be derived from the name: give one",
            )])
        })?;
        for n in 0..1000 {
            let candidate = if n == 0 {
                base.clone()
            } else {
                base.with_suffix(n)
            };
            if !self
                .store
                .panel_slug_taken(spec.service_id, candidate.as_str())
                .await?
            {
                return Ok(candidate);
            }
        }
        Err(Error::AlreadyExists("no free panel slug: give one".into()))
    }

    pub(crate) async fn get_panel(
        &self,
        req: pb::GetReferencePanelRequest,
    ) -> Result<pb::ReferencePanel> {
        self.store
            .get_panel(req.id)
            .await?
            .map(|p| convert::panel(&p))
            .ok_or_else(|| Error::NotFound(format!("reference panel {} not found", req.id)))
    }

    pub(crate) async fn list_panels(
        &self,
        req: pb::ListReferencePanelsRequest,
    ) -> Result<pb::ListReferencePanelsResponse> {
        let mut v = Violations::new();
        let limit = v
            .check("page_size", page_size(req.page_size))
            .unwrap_or(100);
        let after = v
            .check("page_token", PageToken::parse(&req.page_token))
            .flatten();
        let build = match req.build {
            0 => None,
            n => Build::from_proto(n).or_else(|| {
                v.add("build", "must be hg19 or hg38");
                None
            }),
        };
        v.finish()?;
        let panels = self
            .store
            .list_panels(&PanelFilter {
                service_id: req.service_id,
                build,
                population: optional(req.population),
                is_available: req.is_available,
                after_id: after.map(|t| t.0),
                limit,
            })
            .await?;
        let next_page_token = match panels.last() {
            Some(last) if panels.len() as u64 == limit => PageToken(last.id).encode(),
            Some(_) | None => String::new(),
        };
        Ok(pb::ListReferencePanelsResponse {
            panels: panels.iter().map(convert::panel).collect(),
            next_page_token,
        })
    }

    pub(crate) async fn update_panel(
        &self,
        caller: &Caller,
        req: pb::UpdateReferencePanelRequest,
    ) -> Result<pb::ReferencePanel> {
        let current = self
            .store
            .get_panel(req.id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("reference panel {} not found", req.id)))?;
        require_manager(caller, Some(current.service_id))?;
        let paths = req.update_mask.map(|m| m.paths).unwrap_or_default();
        let merged = apply_panel_mask(
            convert::panel(&current),
            req.panel.unwrap_or_default(),
            &paths,
        )?;
        let spec = PanelSpec::try_from(merged)?;
        let updated = self.store.update_panel(req.id, &spec, None).await?;
        Ok(convert::panel(&updated))
    }

    pub(crate) async fn delete_panel(
        &self,
        caller: &Caller,
        req: pb::DeleteReferencePanelRequest,
    ) -> Result<()> {
        let current = self
            .store
            .get_panel(req.id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("reference panel {} not found", req.id)))?;
        require_manager(caller, Some(current.service_id))?;
        self.store.delete_panel(req.id).await?;
        Ok(())
    }

    // === sync ===

    pub(crate) async fn sync_panels(
        &self,
        caller: &Caller,
        req: pb::SyncReferencePanelsRequest,
    ) -> Result<pb::SyncReferencePanelsResponse> {
        require_manager(caller, Some(req.id))?;
        let service = self.service(req.id).await?;
        if ApiType::parse(&service.api_type) != Some(ApiType::Michigan) {
            return Err(Error::FailedPrecondition(format!(
                "panel sync reads Cloudgene (michigan) servers; service {} is {}",
                service.id, service.api_type
            )));
        }
        let token = match optional(req.api_token) {
            Some(token) => token,
            None => self.secrets.get(&service, "api_token")?.ok_or_else(|| {
                Error::FailedPrecondition(
                    "no Cloudgene API token: send api_token with the request, or store one in the service's secrets as api_token".into(),
                )
            })?,
        };
        let app = service
            .api_config
            .get("app_id")
            .and_then(serde_json::Value::as_str)
            .unwrap_or(sync::DEFAULT_APP)
            .to_owned();
        let target =
            url::Url::parse(&service.base_url).map_err(|e| Error::Internal(e.to_string()))?;
        fedimpute_common::http::check_url(&target, self.allow_private).map_err(|e| {
            Error::FailedPrecondition(format!("cannot call {}: {e}", service.base_url))
        })?;
        let remote = sync::fetch_panels(&self.client, &service.base_url, &app, &token).await?;
        self.apply_sync(&service, remote).await
    }

    async fn apply_sync(
        &self,
        service: &Service,
        remote: sync::RemoteApp,
    ) -> Result<pb::SyncReferencePanelsResponse> {
        let now = Utc::now();
        let existing = self
            .store
            .list_panels(&PanelFilter {
                service_id: Some(service.id),
                limit: 100_000,
                ..Default::default()
            })
            .await?;
        let (mut created, mut updated, mut unchanged, mut marked) = (0, 0, 0, 0);
        let mut panels = Vec::new();
        for rp in &remote.panels {
            let current = existing
                .iter()
                .find(|p| p.external_id.as_deref() == Some(rp.external_id.as_str()));
            match current {
                Some(p) => {
                    let mut spec = PanelSpec::try_from(convert::panel(p))?;
                    let before = spec.clone();
                    spec.display_name = rp.name.clone();
                    spec.populations = rp.populations.clone();
                    spec.is_available = true;
                    if let Some(build) = rp.build {
                        spec.build = build;
                    }
                    if spec == before {
                        unchanged += 1;
                    } else {
                        updated += 1;
                    }
                    panels.push(self.store.update_panel(p.id, &spec, Some(now)).await?);
                }
                None => {
                    let spec = PanelSpec {
                        service_id: service.id,
                        name: rp.name.clone(),
                        display_name: rp.name.clone(),
                        slug: None,
                        external_id: Some(rp.external_id.clone()),
                        description: String::new(),
                        population: String::new(),
                        populations: rp.populations.clone(),
                        build: rp.build.unwrap_or(Build::Hg38),
                        samples_count: None,
                        variants_count: None,
                        is_available: true,
                        is_public: true,
                        requires_permission: false,
                        version: rp
                            .external_id
                            .rsplit('@')
                            .next()
                            .unwrap_or_default()
                            .to_owned(),
                    };
                    let slug = self.free_panel_slug(&spec).await?;
                    panels.push(self.store.insert_panel(&spec, &slug, Some(now)).await?);
                    created += 1;
                }
            }
        }
        for p in &existing {
            let listed = p
                .external_id
                .as_deref()
                .is_some_and(|e| remote.panels.iter().any(|rp| rp.external_id == e));
            if p.external_id.is_some() && !listed && p.is_available {
                let mut spec = PanelSpec::try_from(convert::panel(p))?;
                spec.is_available = false;
                panels.push(self.store.update_panel(p.id, &spec, None).await?);
                marked += 1;
            }
        }
        tracing::info!(service_id = service.id, app = %remote.app_id, created, updated, unchanged, marked, "reference panels synced");
        Ok(pb::SyncReferencePanelsResponse {
            service_id: service.id,
            app_id: remote.app_id,
            created,
            updated,
            unchanged,
            marked_unavailable: marked,
            panels: panels.iter().map(convert::panel).collect(),
        })
    }
}
