//! The registry target: services (ids kept, base URLs normalised, unique
//! slugs, the legacy `api_key` and any secret-looking `api_config` keys
//! sealed into the service's secrets), reference panels (ids kept, the
//! legacy `panel_id` as `external_id`, unique slugs per service) and the
//! health history. Imported services start with health `unknown` and are
//! probed at once by the registry, as a newly registered service is.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use fedimpute_registry::store::entity::{health_checks, reference_panels, services};
use fedimpute_registry_migration::Migrator;
use sea_orm::{ActiveValue::Set, ConnectionTrait, DbErr, EntityTrait};
use serde_json::{Value, json};

use super::{
    Known, KnownPanel, KnownService, Tally, TargetError, Targets, db, read_err,
    registry_map as map, write_err,
};
use crate::model;

const TARGET: &str = "registry";

/// What the registry already holds.
#[derive(Debug, Default)]
struct Existing {
    services: HashMap<i64, (String, String, KnownService)>,
    by_url: HashMap<String, i64>,
    slugs: HashSet<String>,
    panels: HashMap<i64, KnownPanel>,
    by_external: HashMap<(i64, String), i64>,
    panel_slugs: HashSet<(i64, String)>,
    checks: HashSet<(i64, i64)>,
}

async fn load(db: &impl ConnectionTrait, tolerant: bool) -> Result<Existing, DbErr> {
    let mut e = Existing::default();
    let sql = "SELECT id, slug, base_url, name, api_type, api_config FROM services";
    for row in db::rows(db, sql, tolerant).await? {
        let id = db::int(&row, 0)?.unwrap_or_default();
        let (slug, url) = (db::text(&row, 1)?, db::text(&row, 2)?);
        let service = KnownService {
            name: db::text(&row, 3)?,
            api_type: db::text(&row, 4)?,
            api_config: row
                .try_get_by_index::<Option<Value>>(5)?
                .unwrap_or(json!({})),
        };
        e.by_url.insert(url.clone(), id);
        e.slugs.insert(slug.clone());
        e.services.insert(id, (slug, url, service));
    }
    let sql = "SELECT id, service_id, slug, external_id, name, api_config FROM reference_panels";
    for row in db::rows(db, sql, tolerant).await? {
        let id = db::int(&row, 0)?.unwrap_or_default();
        let service_id = db::int(&row, 1)?.unwrap_or_default();
        let external_id = db::text(&row, 3)?;
        e.panel_slugs.insert((service_id, db::text(&row, 2)?));
        e.by_external.insert((service_id, external_id.clone()), id);
        e.panels.insert(
            id,
            KnownPanel {
                service_id,
                name: db::text(&row, 4)?,
                external_id,
                api_config: row
                    .try_get_by_index::<Option<Value>>(5)?
                    .unwrap_or(json!({})),
            },
        );
    }
    for row in db::rows(
        db,
        "SELECT service_id, checked_at FROM health_checks",
        tolerant,
    )
    .await?
    {
        let at = db::time(&row, 1)?.map_or(0, |t| t.timestamp_micros());
        e.checks.insert((db::int(&row, 0)?.unwrap_or_default(), at));
    }
    Ok(e)
}

/// The rows to write.
#[derive(Debug, Default)]
struct Plan {
    services: Vec<services::ActiveModel>,
    panels: Vec<reference_panels::ActiveModel>,
    checks: Vec<health_checks::ActiveModel>,
}

pub(super) async fn import(
    legacy: &model::Legacy,
    targets: &Targets,
    dry_run: bool,
) -> Result<(Known, Tally), TargetError> {
    if dry_run {
        let existing = match db::open_for_read(TARGET, &targets.registry_url).await? {
            Some(conn) => load(&conn, true).await.map_err(read_err(TARGET))?,
            None => Existing::default(),
        };
        let (_, known, tally) = plan(legacy, targets, existing, Utc::now());
        return Ok((known, tally));
    }
    let (_conn, txn) = db::open_migrated::<Migrator>(TARGET, &targets.registry_url).await?;
    let existing = load(&txn, false).await.map_err(read_err(TARGET))?;
    let (rows, known, tally) = plan(legacy, targets, existing, Utc::now());
    write(&txn, rows).await.map_err(write_err(TARGET))?;
    txn.commit().await.map_err(write_err(TARGET))?;
    Ok((known, tally))
}

async fn write(txn: &impl ConnectionTrait, plan: Plan) -> Result<(), DbErr> {
    let inserted = (!plan.services.is_empty(), !plan.panels.is_empty());
    for row in plan.services {
        services::Entity::insert(row)
            .exec_without_returning(txn)
            .await?;
    }
    for row in plan.panels {
        reference_panels::Entity::insert(row)
            .exec_without_returning(txn)
            .await?;
    }
    for chunk in plan.checks.chunks(500) {
        health_checks::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(txn)
            .await?;
    }
    if inserted.0 {
        db::bump_sequence(txn, "services").await?;
    }
    if inserted.1 {
        db::bump_sequence(txn, "reference_panels").await?;
    }
    Ok(())
}

fn plan(
    legacy: &model::Legacy,
    targets: &Targets,
    mut e: Existing,
    now: DateTime<Utc>,
) -> (Plan, Known, Tally) {
    let (mut plan, mut known, mut tally) = (Plan::default(), Known::default(), Tally::default());
    let mut services: Vec<&model::Service> = legacy.services.iter().collect();
    services.sort_by_key(|s| s.id);
    for s in services {
        match service(s, targets, &mut e, now) {
            Ok(Outcome::Merged(k)) => {
                tally.merged("services");
                known.services.insert(s.id, k);
            }
            Ok(Outcome::New(row, k)) => {
                tally.imported("services");
                known.services.insert(s.id, k);
                plan.services.push(*row);
            }
            Err(reason) => tally.skipped("services", &s.origin, reason),
        }
    }
    let mut panels: Vec<&model::Panel> = legacy.panels.iter().collect();
    panels.sort_by_key(|p| p.id);
    for p in panels {
        match panel(p, &known, &mut e, now) {
            Ok(Outcome::Merged(k)) => {
                tally.merged("panels");
                known.panels.insert(p.id, k);
            }
            Ok(Outcome::New(row, k)) => {
                tally.imported("panels");
                known.panels.insert(p.id, k.clone());
                e.panels.insert(p.id, k);
                plan.panels.push(*row);
            }
            Err(reason) => tally.skipped("panels", &p.origin, reason),
        }
    }
    for h in &legacy.health_logs {
        let Some(at) = h.checked_at else {
            tally.skipped("health_logs", &h.origin, "the check has no time");
            continue;
        };
        if !known.services.contains_key(&h.service_id) {
            let reason = format!("service {} was not imported", h.service_id);
            tally.skipped("health_logs", &h.origin, reason);
            continue;
        }
        if !e.checks.insert((h.service_id, at.timestamp_micros())) {
            tally.merged("health_logs");
            continue;
        }
        tally.imported("health_logs");
        let status = fedimpute_registry::domain::HealthStatus::parse(&h.status.to_lowercase());
        plan.checks.push(health_checks::ActiveModel {
            service_id: Set(h.service_id),
            status: Set(status.as_str().to_owned()),
            response_time_ms: Set(h.response_time_ms.filter(|t| t.is_finite())),
            error_message: Set(h.error_message.clone()),
            checked_at: Set(at),
            ..Default::default()
        });
    }
    (plan, known, tally)
}

enum Outcome<R, K> {
    Merged(K),
    New(Box<R>, K),
}

fn service(
    s: &model::Service,
    targets: &Targets,
    e: &mut Existing,
    now: DateTime<Utc>,
) -> Result<Outcome<services::ActiveModel, KnownService>, String> {
    let api = map::api_type(&s.api_type)?;
    let url = map::base_url(&s.base_url, api)?;
    if let Some((_, existing_url, k)) = e.services.get(&s.id) {
        return if *existing_url == url {
            Ok(Outcome::Merged(k.clone()))
        } else {
            Err(format!(
                "id {} is taken in the registry by '{}' ({existing_url})",
                s.id, k.name
            ))
        };
    }
    if let Some(other) = e.by_url.get(&url) {
        return Err(format!(
            "{url} is already registered as service {other}: its panels and jobs are not linked to it"
        ));
    }
    let slug = map::unique_slug(s.slug.as_deref(), &s.name, "service", s.id, &e.slugs);
    e.slugs.insert(slug.clone());
    let (public, moved) = map::split_config(&s.api_config);
    let secrets = map::secrets(s, moved);
    let (institution, city, country) = map::location(s);
    let (hg19, hg38) = map::builds(&s.supported_builds);
    let service_type = match s.service_type.trim().to_lowercase() {
        t if t.is_empty() => api.as_str().to_owned(),
        t => t,
    };
    let name = s.name.trim().to_owned();
    let description = s.description.trim().to_owned();
    let continent = s.continent.trim().to_owned();
    let search = map::search_text([
        &name,
        &description,
        &institution,
        &city,
        &country,
        "",
        &continent,
    ]);
    let known = KnownService {
        name: name.clone(),
        api_type: api.as_str().to_owned(),
        api_config: Value::Object(public.clone()),
    };
    // A second copy in this run (the readers merge duplicates; this is the
    // backstop) then merges with this one.
    e.by_url.insert(url.clone(), s.id);
    e.services
        .insert(s.id, (slug.clone(), url.clone(), known.clone()));
    let row = services::ActiveModel {
        id: Set(s.id),
        name: Set(name),
        slug: Set(slug.clone()),
        service_type: Set(service_type),
        api_type: Set(api.as_str().to_owned()),
        base_url: Set(url),
        description: Set(description),
        version: Set(s.version.trim().to_owned()),
        requires_auth: Set(s.requires_auth),
        auth_type: Set(if s.requires_auth { "token" } else { "" }.to_owned()),
        max_file_size_mb: Set(s
            .max_file_size_mb
            .map_or(100, |m| m.clamp(1, 1_000_000) as i32)),
        supported_formats: Set(json!(map::formats(&s.supported_formats))),
        supports_hg19: Set(hg19),
        supports_hg38: Set(hg38),
        api_config: Set(Value::Object(public)),
        secrets: Set(map::seal(&targets.keyring, &slug, &secrets)),
        secret_names: Set(json!(secrets.keys().collect::<Vec<_>>())),
        is_active: Set(s.is_active),
        location_institution: Set(institution),
        location_city: Set(city),
        location_country: Set(country.clone()),
        location_datacenter: Set(String::new()),
        continent_key: Set(continent.to_lowercase()),
        country_key: Set(country.to_lowercase()),
        continent: Set(continent),
        latitude: Set(None),
        longitude: Set(None),
        cpu_total: Set(None),
        cpu_available: Set(None),
        memory_total_gb: Set(None),
        memory_available_gb: Set(None),
        storage_total_gb: Set(None),
        storage_available_gb: Set(None),
        queue_capacity: Set(None),
        queue_current: Set(None),
        health_status: Set("unknown".into()),
        is_available: Set(false),
        last_health_check: Set(None),
        response_time_ms: Set(None),
        error_message: Set(String::new()),
        first_unhealthy_at: Set(None),
        consecutive_failures: Set(0),
        next_check_at: Set(None),
        health_version: Set(0),
        search_text: Set(search),
        created_at: Set(s.created_at.unwrap_or(now)),
        updated_at: Set(s.updated_at.or(s.created_at).unwrap_or(now)),
    };
    Ok(Outcome::New(Box::new(row), known))
}

fn panel(
    p: &model::Panel,
    known: &Known,
    e: &mut Existing,
    now: DateTime<Utc>,
) -> Result<Outcome<reference_panels::ActiveModel, KnownPanel>, String> {
    if !known.services.contains_key(&p.service_id) {
        return Err(format!("service {} was not imported", p.service_id));
    }
    let external_id = p.external_id.trim().to_owned();
    if let Some(k) = e.panels.get(&p.id) {
        return if k.service_id == p.service_id && k.external_id == external_id {
            Ok(Outcome::Merged(k.clone()))
        } else {
            Err(format!(
                "id {} is taken in the registry by panel '{}' ({}) of service {}",
                p.id, k.name, k.external_id, k.service_id
            ))
        };
    }
    if !external_id.is_empty()
        && let Some(other) = e.by_external.get(&(p.service_id, external_id.clone()))
    {
        return Err(format!(
            "service {} already has panel {other} with external id '{external_id}'",
            p.service_id
        ));
    }
    let build = map::build(&p.build).ok_or_else(|| {
        format!(
            "build '{}' is neither hg19 nor hg38 (nor an alias of one)",
            p.build
        )
    })?;
    let taken: HashSet<String> = e
        .panel_slugs
        .iter()
        .filter(|(s, _)| *s == p.service_id)
        .map(|(_, slug)| slug.clone())
        .collect();
    let source = map::panel_slug_source(p);
    let slug = map::unique_slug(p.slug.as_deref(), &source, "panel", p.id, &taken);
    e.panel_slugs.insert((p.service_id, slug.clone()));
    if !external_id.is_empty() {
        e.by_external
            .insert((p.service_id, external_id.clone()), p.id);
    }
    let name = p.name.trim().to_owned();
    let known = KnownPanel {
        service_id: p.service_id,
        name: name.clone(),
        external_id: external_id.clone(),
        api_config: json!({}),
    };
    let population = p.population.trim().to_owned();
    let row = reference_panels::ActiveModel {
        id: Set(p.id),
        service_id: Set(p.service_id),
        display_name: Set(name.clone()),
        name: Set(name),
        slug: Set(slug),
        external_id: Set((!external_id.is_empty()).then_some(external_id)),
        description: Set(p.description.trim().to_owned()),
        populations: Set(json!(if population.is_empty() {
            Vec::new()
        } else {
            vec![population.clone()]
        })),
        population: Set(population),
        build: Set(build.as_str().to_owned()),
        samples_count: Set(p.samples_count.filter(|c| *c >= 0)),
        variants_count: Set(p.variants_count.filter(|c| *c >= 0)),
        is_available: Set(p.is_active),
        is_public: Set(true),
        requires_permission: Set(false),
        version: Set(String::new()),
        last_synced_at: Set(None),
        created_at: Set(p.created_at.unwrap_or(now)),
        updated_at: Set(p.updated_at.or(p.created_at).unwrap_or(now)),
        api_config: Set(json!({})),
    };
    Ok(Outcome::New(Box::new(row), known))
}
