//! Reference panels: create, read, list, update, delete.

use fedimpute_common::auth::Caller;
use fedimpute_proto::registry as pb;

use super::{Registry, SLUG_RETRIES, require_manager, underivable_slug};
use crate::{
    convert,
    domain::{PanelQuery, PanelSpec, Slug, apply_panel_mask},
    error::{Error, Result},
    store::Panel,
};

impl Registry {
    pub(crate) async fn create_panel(
        &self,
        caller: &Caller,
        panel: Option<pb::ReferencePanel>,
    ) -> Result<pb::ReferencePanel> {
        let spec = PanelSpec::try_from(panel.unwrap_or_default())?;
        require_manager(caller, Some(spec.service_id))?;
        self.service(spec.service_id).await?;
        let mut attempt = 0;
        let panel = loop {
            let slug = match &spec.slug {
                Some(slug) => slug.clone(),
                None => self.free_panel_slug(&spec).await?,
            };
            match self.store.insert_panel(&spec, &slug).await {
                Err(Error::AlreadyExists(m))
                    if spec.slug.is_none() && attempt < SLUG_RETRIES && m.contains("slug") =>
                {
                    attempt += 1
                }
                other => break other?,
            }
        };
        Ok(convert::panel(&panel))
    }

    pub(super) async fn free_panel_slug(&self, spec: &PanelSpec) -> Result<Slug> {
        let base = spec.derived_slug().ok_or_else(underivable_slug)?;
        for candidate in base.candidates() {
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

    async fn panel(&self, id: i64) -> Result<Panel> {
        self.store
            .get_panel(id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("reference panel {id} not found")))
    }

    pub(crate) async fn get_panel(&self, id: i64) -> Result<pb::ReferencePanel> {
        Ok(convert::panel(&self.panel(id).await?))
    }

    pub(crate) async fn list_panels(
        &self,
        query: PanelQuery,
    ) -> Result<pb::ListReferencePanelsResponse> {
        let rows = self.store.list_panels(&query).await?;
        let (rows, next_page_token) = query.page.cut(rows, |p| p.id);
        Ok(pb::ListReferencePanelsResponse {
            panels: rows.iter().map(convert::panel).collect(),
            next_page_token,
        })
    }

    pub(crate) async fn update_panel(
        &self,
        caller: &Caller,
        req: pb::UpdateReferencePanelRequest,
    ) -> Result<pb::ReferencePanel> {
        let current = self.panel(req.id).await?;
        require_manager(caller, Some(current.service_id))?;
        let paths = req.update_mask.map(|m| m.paths).unwrap_or_default();
        let merged = apply_panel_mask(
            convert::panel(&current),
            req.panel.unwrap_or_default(),
            &paths,
        )?;
        let spec = PanelSpec::try_from(merged)?;
        let updated = self.store.update_panel(req.id, &spec).await?;
        Ok(convert::panel(&updated))
    }

    pub(crate) async fn delete_panel(&self, caller: &Caller, id: i64) -> Result<()> {
        let current = self.panel(id).await?;
        require_manager(caller, Some(current.service_id))?;
        self.store.delete_panel(id).await?;
        Ok(())
    }
}
