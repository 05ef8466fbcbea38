//! Services: create, read, list, update, delete, discover.

use fedimpute_common::auth::Caller;
use fedimpute_proto::registry as pb;

use super::{Registry, SLUG_RETRIES, require_manager, underivable_slug};
use crate::{
    convert,
    discover::{self, Needs},
    domain::{DiscoverQuery, ServiceQuery, ServiceSpec, Slug, apply_service_mask},
    error::{Error, Result},
    secrets,
};

impl Registry {
    pub(crate) async fn create_service(
        &self,
        caller: &Caller,
        service: Option<pb::Service>,
    ) -> Result<pb::Service> {
        require_manager(caller, None)?;
        let spec = ServiceSpec::try_from(service.unwrap_or_default())?;
        let mut attempt = 0;
        let created = loop {
            let slug = match &spec.slug {
                Some(slug) => slug.clone(),
                None => self.free_service_slug(&spec.name).await?,
            };
            let stored = self.secrets.merge(None, slug.as_str(), &spec.secrets)?;
            match self.store.insert_service(&spec, &slug, stored).await {
                Err(Error::AlreadyExists(_)) if spec.slug.is_none() && attempt < SLUG_RETRIES => {
                    attempt += 1
                }
                other => break other?,
            }
        };
        tracing::info!(service_id = created.id, slug = %created.slug, by = %caller.user()?.username, "service created");
        Ok(convert::service(&created))
    }

    async fn free_service_slug(&self, name: &str) -> Result<Slug> {
        let base = Slug::derive(name, "service").ok_or_else(underivable_slug)?;
        for candidate in base.candidates() {
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

    pub(crate) async fn get_service(&self, id_or_slug: &str) -> Result<pb::Service> {
        let key = id_or_slug.trim();
        if key.is_empty() {
            return Err(Error::Invalid(vec![
                fedimpute_common::status::FieldViolation::new(
                    "id_or_slug",
                    "is required: a numeric id or a slug",
                ),
            ]));
        }
        let found = match key.parse::<i64>() {
            Ok(id) => self.store.get_service(id).await?,
            Err(_) => self.store.get_service_by_slug(key).await?,
        };
        found
            .map(|s| convert::service(&s))
            .ok_or_else(|| Error::NotFound(format!("service '{key}' not found")))
    }

    pub(crate) async fn list_services(
        &self,
        query: ServiceQuery,
    ) -> Result<pb::ListServicesResponse> {
        let rows = self.store.list_services(&query).await?;
        let (rows, next_page_token) = match query.page {
            Some(page) => page.cut(rows, |s| s.id),
            None => (rows, String::new()),
        };
        Ok(pb::ListServicesResponse {
            services: rows.iter().map(convert::service).collect(),
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
            convert::service(&current),
            req.service.unwrap_or_default(),
            &paths,
        )?;
        let spec = ServiceSpec::try_from(merged)?;
        // Stored secrets were given for one endpoint: a new base URL or API
        // type drops them unless they are sent again with the change, so
        // that nobody can redirect them to a server of their own.
        let moved = spec.base_url.as_str() != current.base_url
            || spec.api_type.as_str() != current.api_type;
        let secrets = if moved {
            if current.secrets.is_some() {
                tracing::info!(
                    service_id = current.id,
                    "endpoint changed: stored secrets dropped unless re-sent"
                );
            }
            self.secrets.merge(None, &current.slug, &spec.secrets)?
        } else if spec.secrets.0.is_empty() {
            secrets::stored(&current)
        } else {
            self.secrets
                .merge(Some(&current), &current.slug, &spec.secrets)?
        };
        let reactivated = spec.is_active && !current.is_active;
        let updated = self
            .store
            .update_service(req.id, &spec, secrets, reactivated)
            .await?;
        tracing::info!(service_id = req.id, by = %caller.user()?.username, "service updated");
        Ok(convert::service(&updated))
    }

    pub(crate) async fn delete_service(
        &self,
        caller: &Caller,
        id: i64,
    ) -> Result<pb::DeleteServiceResponse> {
        require_manager(caller, Some(id))?;
        let (service, panels) = self
            .store
            .delete_service(id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("service {id} not found")))?;
        tracing::info!(service_id = service.id, by = %caller.user()?.username, panels, "service deleted");
        Ok(pb::DeleteServiceResponse {
            message: format!("Service '{}' deleted", service.name),
            deleted_service_id: service.id,
            deleted_service_name: service.name,
            deleted_panels: i32::try_from(panels).unwrap_or(i32::MAX),
        })
    }

    pub(crate) async fn discover(&self, q: DiscoverQuery) -> Result<pb::DiscoverServicesResponse> {
        let candidates = self
            .store
            .list_services(&ServiceQuery {
                api_type: q.api_type,
                service_type: q.service_type.clone(),
                is_active: q.only_active.then_some(true),
                is_available: q.only_healthy.then_some(true),
                build: q.build,
                ..Default::default()
            })
            .await?;
        let needs = Needs {
            position: q.position,
            min_cpu: q.min_cpu,
            min_memory_gb: q.min_memory_gb,
            min_storage_gb: q.min_storage_gb,
        };
        let mut scored: Vec<_> = candidates
            .into_iter()
            .map(|s| (discover::score(&s, &needs), s))
            .filter(|(score, _)| match (q.max_distance_km, score.distance_km) {
                (Some(max), Some(km)) => km <= max,
                (Some(_) | None, _) => true,
            })
            .collect();
        scored.sort_by(|a, b| b.0.total.total_cmp(&a.0.total).then(a.1.id.cmp(&b.1.id)));
        scored.truncate(q.limit);
        Ok(pb::DiscoverServicesResponse {
            results: scored
                .into_iter()
                .map(|(score, s)| pb::DiscoveredService {
                    service: Some(convert::service(&s)),
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
}
