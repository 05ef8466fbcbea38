//! Panel sync from a Cloudgene server: read, compare, apply in one
//! transaction.

use chrono::Utc;
use fedimpute_common::auth::Caller;
use fedimpute_proto::registry as pb;

use super::{Registry, require_manager};
use crate::{
    convert,
    domain::{ApiType, Build, PanelSpec},
    error::{Error, Result},
    store::{PanelChanges, Service},
    sync::{self, RemoteApp},
};

impl Registry {
    pub(crate) async fn sync_panels(
        &self,
        caller: &Caller,
        id: i64,
        api_token: &str,
    ) -> Result<pb::SyncReferencePanelsResponse> {
        require_manager(caller, Some(id))?;
        let service = self.service(id).await?;
        if ApiType::parse(&service.api_type) != Some(ApiType::Michigan) {
            return Err(Error::FailedPrecondition(format!(
                "panel sync reads Cloudgene (michigan) servers; service {} is {}",
                service.id, service.api_type
            )));
        }
        let token = match api_token.trim() {
            "" => self.secrets.get(&service, "api_token")?.ok_or_else(|| {
                Error::FailedPrecondition(
                    "no Cloudgene API token: send api_token with the request, or store one in the service's secrets as api_token".into(),
                )
            })?,
            given => given.to_owned(),
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
        remote: RemoteApp,
    ) -> Result<pb::SyncReferencePanelsResponse> {
        let now = Utc::now();
        let existing = self.store.panels_of(service.id).await?;
        let mut changes = PanelChanges {
            synced_at: Some(now),
            ..Default::default()
        };
        let (mut updated, mut unchanged, mut marked) = (0, 0, 0);
        let mut taken: Vec<String> = existing.iter().map(|p| p.slug.clone()).collect();
        for rp in &remote.panels {
            let current = existing
                .iter()
                .find(|p| p.external_id.as_deref() == Some(rp.external_id.as_str()));
            match current {
                Some(p) => {
                    let before = PanelSpec::try_from(convert::panel(p))?;
                    let mut spec = before.clone();
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
                    changes.updates.push((p.id, spec, Some(now)));
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
                    let base = spec.derived_slug().ok_or_else(|| {
                        Error::FailedPrecondition(format!(
                            "no slug can be made for panel '{}'",
                            rp.external_id
                        ))
                    })?;
                    let slug = (0..1000)
                        .map(|n| {
                            if n == 0 {
                                base.clone()
                            } else {
                                base.with_suffix(n)
                            }
                        })
                        .find(|s| !taken.iter().any(|t| t == s.as_str()))
                        .ok_or_else(|| Error::AlreadyExists("no free panel slug".into()))?;
                    taken.push(slug.as_str().to_owned());
                    changes.inserts.push((spec, slug));
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
                changes.updates.push((p.id, spec, None));
                marked += 1;
            }
        }
        let created = changes.inserts.len();
        let panels = self.store.apply_panel_changes(&changes).await?;
        tracing::info!(service_id = service.id, app = %remote.app_id, created, updated, unchanged, marked, "reference panels synced");
        Ok(pb::SyncReferencePanelsResponse {
            service_id: service.id,
            app_id: remote.app_id,
            created: i32::try_from(created).unwrap_or(i32::MAX),
            updated,
            unchanged,
            marked_unavailable: marked,
            panels: panels.iter().map(convert::panel).collect(),
        })
    }
}
