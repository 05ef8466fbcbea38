//! Panel sync from a Cloudgene server: read, compare, apply in one
//! transaction.

use chrono::{DateTime, Utc};
use fedimpute_common::auth::Caller;
use fedimpute_proto::registry as pb;

use super::{Registry, require_manager};
use crate::{
    convert,
    domain::{ApiType, Build, PanelSpec},
    error::{Error, Result},
    store::{Panel, PanelChanges, Service},
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
        let planner = |existing: &[Panel]| plan(service.id, &remote, existing, now);
        let (changes, panels) = self.store.sync_panels(service.id, &planner).await?;
        let created = i32::try_from(changes.inserts.len()).unwrap_or(i32::MAX);
        tracing::info!(
            service_id = service.id,
            app = %remote.app_id,
            created,
            updated = changes.updated,
            unchanged = changes.unchanged,
            marked = changes.marked_unavailable,
            skipped = changes.skipped,
            "reference panels synced"
        );
        Ok(pb::SyncReferencePanelsResponse {
            service_id: service.id,
            app_id: remote.app_id,
            created,
            updated: changes.updated,
            unchanged: changes.unchanged,
            marked_unavailable: changes.marked_unavailable,
            panels: panels.iter().map(convert::panel).collect(),
            skipped: changes.skipped,
        })
    }
}

/// The writes that bring a service's panels in line with the remote's:
/// known external ids updated, new ones inserted (validated like any panel;
/// invalid entries skipped), ones the remote dropped marked unavailable.
fn plan(
    service_id: i64,
    remote: &RemoteApp,
    existing: &[Panel],
    now: DateTime<Utc>,
) -> Result<PanelChanges> {
    let mut changes = PanelChanges {
        synced_at: Some(now),
        ..Default::default()
    };
    let mut taken: Vec<String> = existing.iter().map(|p| p.slug.clone()).collect();
    for rp in &remote.panels {
        match existing
            .iter()
            .find(|p| p.external_id.as_deref() == Some(rp.external_id.as_str()))
        {
            Some(p) => {
                let before = PanelSpec::try_from(convert::panel(p))?;
                let mut spec = before.clone();
                spec.display_name = rp.name.clone();
                spec.populations = rp.populations.clone();
                spec.is_available = true;
                if let Some(build) = rp.build {
                    spec.build = build;
                }
                let checked = PanelSpec::try_from(pb::ReferencePanel::from(&spec));
                match checked {
                    Ok(spec) if spec == before => changes.unchanged += 1,
                    Ok(_) => changes.updated += 1,
                    Err(violations) => {
                        tracing::warn!(external_id = %rp.external_id, ?violations, "remote panel skipped: invalid values");
                        changes.skipped += 1;
                        continue;
                    }
                }
                changes.updates.push((p.id, spec, Some(now)));
            }
            None => {
                let proto = pb::ReferencePanel {
                    service_id,
                    name: rp.name.clone(),
                    display_name: rp.name.clone(),
                    external_id: rp.external_id.clone(),
                    populations: rp.populations.clone(),
                    build: rp.build.unwrap_or(Build::Hg38).to_proto() as i32,
                    version: rp
                        .external_id
                        .rsplit('@')
                        .next()
                        .unwrap_or_default()
                        .to_owned(),
                    ..Default::default()
                };
                let spec = match PanelSpec::try_from(proto) {
                    Ok(spec) => spec,
                    Err(violations) => {
                        tracing::warn!(external_id = %rp.external_id, ?violations, "remote panel skipped: invalid values");
                        changes.skipped += 1;
                        continue;
                    }
                };
                let Some(base) = spec.derived_slug() else {
                    tracing::warn!(external_id = %rp.external_id, "remote panel skipped: no slug can be made");
                    changes.skipped += 1;
                    continue;
                };
                let slug = base
                    .candidates()
                    .find(|s| !taken.iter().any(|t| t == s.as_str()))
                    .ok_or_else(|| Error::AlreadyExists("no free panel slug".into()))?;
                taken.push(slug.as_str().to_owned());
                changes.inserts.push((spec, slug));
            }
        }
    }
    for p in existing {
        let listed = p
            .external_id
            .as_deref()
            .is_some_and(|e| remote.panels.iter().any(|rp| rp.external_id == e));
        if p.external_id.is_some() && !listed && p.is_available {
            let mut spec = PanelSpec::try_from(convert::panel(p))?;
            spec.is_available = false;
            changes.updates.push((p.id, spec, None));
            changes.marked_unavailable += 1;
        }
    }
    Ok(changes)
}
