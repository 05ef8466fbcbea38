//! The sea-orm implementation of [`RegistryStore`].

mod rows;

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, Condition, DatabaseConnection, DatabaseTransaction, DbErr, EntityTrait, Order,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Expr, NullOrdering},
};

use self::rows::{
    PanelWrite, contains, insert_panel_with, map_err, service_conflict, service_model,
    update_panel_with,
};
use super::{
    HealthCheck, HealthUpdate, Panel, PanelChanges, Recorded, RegistryStore, Service,
    StoredSecrets, SyncPlan,
    entity::{health_checks, reference_panels, services},
};
use crate::{
    domain::{
        Build, HealthStatus, HistoryQuery, PanelQuery, PanelSpec, ServiceQuery, ServiceSpec, Slug,
    },
    error::{Error, Result},
};

/// Starts a transaction's work on a service with a write to its row (a
/// no-op update): PostgreSQL locks the row, SQLite takes its write lock at
/// once, so a later read-then-write in the transaction cannot fail on a
/// concurrent commit. `false` when the service does not exist.
async fn lock_service(txn: &DatabaseTransaction, id: i64) -> Result<bool> {
    Ok(services::Entity::update_many()
        .col_expr(
            services::Column::HealthVersion,
            Expr::col(services::Column::HealthVersion),
        )
        .filter(services::Column::Id.eq(id))
        .exec(txn)
        .await?
        .rows_affected
        == 1)
}

/// The registry store on SQLite or PostgreSQL.
#[derive(Clone, Debug)]
pub struct SeaOrmStore {
    db: DatabaseConnection,
}

impl SeaOrmStore {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

#[tonic::async_trait]
impl RegistryStore for SeaOrmStore {
    async fn insert_service(
        &self,
        spec: &ServiceSpec,
        slug: &Slug,
        secrets: StoredSecrets,
    ) -> Result<Service> {
        let now = Utc::now();
        let mut model = service_model(spec, secrets, now);
        model.slug = Set(slug.as_str().to_owned());
        model.health_status = Set(HealthStatus::Unknown.as_str().to_owned());
        model.is_available = Set(false);
        model.error_message = Set(String::new());
        model.consecutive_failures = Set(0);
        model.health_version = Set(0);
        model.created_at = Set(now);
        model
            .insert(&self.db)
            .await
            .map_err(|e| map_err(e, service_conflict(slug.as_str())))
    }

    async fn update_service(
        &self,
        id: i64,
        spec: &ServiceSpec,
        secrets: StoredSecrets,
        reactivated: bool,
    ) -> Result<Service> {
        let mut model = service_model(spec, secrets, Utc::now());
        model.id = Set(id);
        if reactivated {
            model.next_check_at = Set(None);
        }
        model.update(&self.db).await.map_err(|e| {
            if matches!(e, DbErr::RecordNotUpdated) {
                Error::NotFound(format!("service {id} not found"))
            } else {
                Error::Db(e)
            }
        })
    }

    async fn get_service(&self, id: i64) -> Result<Option<Service>> {
        Ok(services::Entity::find_by_id(id).one(&self.db).await?)
    }

    async fn get_service_by_slug(&self, slug: &str) -> Result<Option<Service>> {
        Ok(services::Entity::find()
            .filter(services::Column::Slug.eq(slug))
            .one(&self.db)
            .await?)
    }

    async fn list_services(&self, q: &ServiceQuery) -> Result<Vec<Service>> {
        let mut cond = Condition::all();
        if let Some(a) = q.api_type {
            cond = cond.add(services::Column::ApiType.eq(a.as_str()));
        }
        if let Some(t) = &q.service_type {
            cond = cond.add(services::Column::ServiceType.eq(t.as_str()));
        }
        if let Some(a) = q.is_active {
            cond = cond.add(services::Column::IsActive.eq(a));
        }
        if let Some(a) = q.is_available {
            cond = cond.add(services::Column::IsAvailable.eq(a));
        }
        if let Some(c) = &q.continent {
            cond = cond.add(services::Column::ContinentKey.eq(c.as_str()));
        }
        if let Some(c) = &q.country {
            cond = cond.add(services::Column::CountryKey.eq(c.as_str()));
        }
        match q.build {
            Some(Build::Hg19) => cond = cond.add(services::Column::SupportsHg19.eq(true)),
            Some(Build::Hg38) => cond = cond.add(services::Column::SupportsHg38.eq(true)),
            None => {}
        }
        if let Some(text) = &q.q {
            cond = cond.add(contains(services::Column::SearchText, text));
        }
        let mut query = services::Entity::find().order_by_asc(services::Column::Id);
        if let Some(page) = q.page {
            if let Some(after) = page.token {
                cond = cond.add(services::Column::Id.gt(after.0));
            }
            query = query.limit(page.size + 1);
        }
        Ok(query.filter(cond).all(&self.db).await?)
    }

    async fn delete_service(&self, id: i64) -> Result<Option<(Service, u64)>> {
        let txn = fedimpute_common::db::begin_write(&self.db).await?;
        if !lock_service(&txn, id).await? {
            return Ok(None);
        }
        let Some(service) = services::Entity::find_by_id(id).one(&txn).await? else {
            return Ok(None);
        };
        // Explicit, rather than relying on ON DELETE CASCADE being enabled.
        let panels = reference_panels::Entity::delete_many()
            .filter(reference_panels::Column::ServiceId.eq(id))
            .exec(&txn)
            .await?
            .rows_affected;
        health_checks::Entity::delete_many()
            .filter(health_checks::Column::ServiceId.eq(id))
            .exec(&txn)
            .await?;
        services::Entity::delete_by_id(id).exec(&txn).await?;
        txn.commit().await?;
        Ok(Some((service, panels)))
    }

    async fn insert_panel(&self, spec: &PanelSpec, slug: &Slug) -> Result<Panel> {
        insert_panel_with(&self.db, spec, slug, None).await
    }

    async fn update_panel(&self, id: i64, spec: &PanelSpec) -> Result<Panel> {
        update_panel_with(&self.db, id, spec, PanelWrite::Edit).await
    }

    async fn get_panel(&self, id: i64) -> Result<Option<Panel>> {
        Ok(reference_panels::Entity::find_by_id(id)
            .one(&self.db)
            .await?)
    }

    async fn panel_slug_taken(&self, service_id: i64, slug: &str) -> Result<bool> {
        Ok(reference_panels::Entity::find()
            .filter(reference_panels::Column::ServiceId.eq(service_id))
            .filter(reference_panels::Column::Slug.eq(slug))
            .count(&self.db)
            .await?
            > 0)
    }

    async fn list_panels(&self, q: &PanelQuery) -> Result<Vec<Panel>> {
        let mut query = reference_panels::Entity::find();
        if let Some(id) = q.service_id {
            query = query.filter(reference_panels::Column::ServiceId.eq(id));
        }
        if let Some(b) = q.build {
            query = query.filter(reference_panels::Column::Build.eq(b.as_str()));
        }
        if let Some(p) = &q.population {
            query = query.filter(reference_panels::Column::Population.eq(p.as_str()));
        }
        if let Some(a) = q.is_available {
            query = query.filter(reference_panels::Column::IsAvailable.eq(a));
        }
        if let Some(after) = q.page.token {
            query = query.filter(reference_panels::Column::Id.gt(after.0));
        }
        Ok(query
            .order_by_asc(reference_panels::Column::Id)
            .limit(q.page.size + 1)
            .all(&self.db)
            .await?)
    }

    async fn delete_panel(&self, id: i64) -> Result<bool> {
        Ok(reference_panels::Entity::delete_by_id(id)
            .exec(&self.db)
            .await?
            .rows_affected
            > 0)
    }

    async fn sync_panels(
        &self,
        service_id: i64,
        plan: &SyncPlan<'_>,
    ) -> Result<(PanelChanges, Vec<Panel>)> {
        let txn = fedimpute_common::db::begin_write(&self.db).await?;
        if !lock_service(&txn, service_id).await? {
            return Err(Error::NotFound(format!("service {service_id} not found")));
        }
        let existing = reference_panels::Entity::find()
            .filter(reference_panels::Column::ServiceId.eq(service_id))
            .order_by_asc(reference_panels::Column::Id)
            .all(&txn)
            .await?;
        let changes = plan(&existing)?;
        let mut panels = Vec::with_capacity(changes.inserts.len() + changes.updates.len());
        for (id, spec, synced_at) in &changes.updates {
            panels.push(update_panel_with(&txn, *id, spec, PanelWrite::Sync(*synced_at)).await?);
        }
        for (spec, slug) in &changes.inserts {
            panels.push(insert_panel_with(&txn, spec, slug, changes.synced_at).await?);
        }
        txn.commit().await?;
        Ok((changes, panels))
    }

    async fn record_health(
        &self,
        service_id: i64,
        version: i64,
        u: &HealthUpdate,
    ) -> Result<Recorded> {
        let txn = fedimpute_common::db::begin_write(&self.db).await?;
        // The write comes first, so SQLite takes its write lock at once
        // (no read-then-upgrade deadlock); the version makes it a
        // compare-and-set.
        let mut update = services::Entity::update_many()
            .col_expr(
                services::Column::HealthStatus,
                Expr::value(u.status.as_str()),
            )
            .col_expr(services::Column::IsAvailable, Expr::value(u.is_available))
            .col_expr(
                services::Column::ConsecutiveFailures,
                Expr::value(u.consecutive_failures),
            )
            .col_expr(
                services::Column::FirstUnhealthyAt,
                Expr::value(u.first_unhealthy_at),
            )
            .col_expr(
                services::Column::ResponseTimeMs,
                Expr::value(u.response_time_ms),
            )
            .col_expr(
                services::Column::ErrorMessage,
                Expr::value(u.error_message.clone()),
            )
            .col_expr(
                services::Column::LastHealthCheck,
                Expr::value(Some(u.checked_at)),
            )
            .col_expr(
                services::Column::NextCheckAt,
                Expr::value(Some(u.next_check_at)),
            )
            .col_expr(services::Column::HealthVersion, Expr::value(version + 1));
        if u.queue_current.is_some() {
            update = update.col_expr(services::Column::QueueCurrent, Expr::value(u.queue_current));
        }
        let changed = update
            .filter(services::Column::Id.eq(service_id))
            .filter(services::Column::HealthVersion.eq(version))
            .exec(&txn)
            .await?
            .rows_affected;
        if changed == 0 {
            let exists = services::Entity::find_by_id(service_id).count(&txn).await? > 0;
            return Ok(if exists {
                Recorded::Conflict
            } else {
                Recorded::Gone
            });
        }
        health_checks::ActiveModel {
            service_id: Set(service_id),
            status: Set(u.probe_status.as_str().to_owned()),
            response_time_ms: Set(u.response_time_ms),
            error_message: Set(u.error_message.clone()),
            checked_at: Set(u.checked_at),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        let saved = services::Entity::find_by_id(service_id).one(&txn).await?;
        txn.commit().await?;
        Ok(saved.map_or(Recorded::Gone, |s| Recorded::Saved(Box::new(s))))
    }

    async fn claim_due(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u64,
    ) -> Result<Vec<Service>> {
        let due = services::Entity::find()
            .filter(services::Column::IsActive.eq(true))
            .filter(
                Condition::any()
                    .add(services::Column::NextCheckAt.is_null())
                    .add(services::Column::NextCheckAt.lte(now)),
            )
            // Never-probed services first, on both engines.
            .order_by_with_nulls(
                services::Column::NextCheckAt,
                Order::Asc,
                NullOrdering::First,
            )
            .order_by_asc(services::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await?;
        let mut claimed = Vec::with_capacity(due.len());
        for service in due {
            // Compare-and-set on the old value: only one replica wins.
            let old = match service.next_check_at {
                Some(t) => services::Column::NextCheckAt.eq(t),
                None => services::Column::NextCheckAt.is_null(),
            };
            let won = services::Entity::update_many()
                .col_expr(services::Column::NextCheckAt, Expr::value(lease_until))
                .filter(services::Column::Id.eq(service.id))
                .filter(old)
                .exec(&self.db)
                .await?
                .rows_affected
                == 1;
            if won {
                claimed.push(service);
            }
        }
        Ok(claimed)
    }

    async fn health_history(&self, q: &HistoryQuery) -> Result<Vec<HealthCheck>> {
        let mut query =
            health_checks::Entity::find().filter(health_checks::Column::ServiceId.eq(q.service_id));
        if let Some(start) = q.start {
            query = query.filter(health_checks::Column::CheckedAt.gte(start));
        }
        if let Some(end) = q.end {
            query = query.filter(health_checks::Column::CheckedAt.lt(end));
        }
        if let Some(before) = q.page.token {
            query = query.filter(health_checks::Column::Id.lt(before.0));
        }
        Ok(query
            .order_by_desc(health_checks::Column::Id)
            .limit(q.page.size + 1)
            .all(&self.db)
            .await?)
    }

    async fn prune_health_history(&self, before: DateTime<Utc>) -> Result<u64> {
        Ok(health_checks::Entity::delete_many()
            .filter(health_checks::Column::CheckedAt.lt(before))
            .exec(&self.db)
            .await?
            .rows_affected)
    }

    async fn unhealthy_since(&self, since: DateTime<Utc>) -> Result<Vec<Service>> {
        Ok(services::Entity::find()
            .filter(services::Column::IsActive.eq(true))
            .filter(services::Column::FirstUnhealthyAt.lte(since))
            .order_by_asc(services::Column::FirstUnhealthyAt)
            .all(&self.db)
            .await?)
    }
}
