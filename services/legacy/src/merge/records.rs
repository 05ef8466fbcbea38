//! The merge, entity by entity.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{
    IdMap, Kind,
    fields::{Fields, normalise_base_url},
};
use crate::{
    model::{Legacy, Panel, Service, User},
    read::Part,
    report::{Conflict, Report},
};

type At = Option<DateTime<Utc>>;

pub(super) struct Merger<'r> {
    pub(super) report: &'r mut Report,
    pub(super) next: HashMap<Kind, i64>,
    pub(super) taken: HashMap<Kind, HashSet<i64>>,
    pub(super) services: HashMap<String, usize>,
    pub(super) panels: HashMap<(i64, String), usize>,
    pub(super) panels_by_name: HashMap<(i64, String, String), usize>,
    pub(super) users: HashMap<String, usize>,
    pub(super) health: HashSet<(i64, At, String)>,
    pub(super) profiles: HashMap<i64, usize>,
    pub(super) roles: HashSet<(i64, String, Option<i64>)>,
    pub(super) credentials: HashMap<(i64, i64), usize>,
    pub(super) audit: HashSet<(Option<i64>, String, String, String, At)>,
    pub(super) jobs: HashMap<Uuid, usize>,
    pub(super) updates: HashSet<(Uuid, At, String, String)>,
    pub(super) logs: HashSet<(Uuid, At, String, String)>,
    pub(super) results: HashSet<(Uuid, String, String)>,
    pub(super) files: HashSet<(Option<Uuid>, String, String)>,
}

fn fields<'c>(
    conflicts: &'c mut Vec<Conflict>,
    entity: &'static str,
    key: String,
    kept: &str,
    other: &str,
) -> Fields<'c> {
    Fields {
        conflicts,
        entity,
        key,
        kept_source: kept.to_owned(),
        other_source: other.to_owned(),
    }
}

impl<'r> Merger<'r> {
    pub(super) fn new(parts: &[Part], report: &'r mut Report) -> Self {
        // New ids start above every id any source uses, so a remapped
        // record never takes an id a later record keeps.
        let above = |ids: &dyn Fn(&Legacy) -> Vec<i64>| {
            parts
                .iter()
                .flat_map(|p| ids(&p.legacy))
                .max()
                .unwrap_or(0)
                .max(0)
                + 1
        };
        let next = HashMap::from([
            (
                Kind::Service,
                above(&|l| l.services.iter().map(|s| s.id).collect()),
            ),
            (
                Kind::Panel,
                above(&|l| l.panels.iter().map(|p| p.id).collect()),
            ),
            (
                Kind::User,
                above(&|l| l.users.iter().map(|u| u.id).collect()),
            ),
        ]);
        Self {
            report,
            next,
            taken: HashMap::new(),
            services: HashMap::new(),
            panels: HashMap::new(),
            panels_by_name: HashMap::new(),
            users: HashMap::new(),
            health: HashSet::new(),
            profiles: HashMap::new(),
            roles: HashSet::new(),
            credentials: HashMap::new(),
            audit: HashSet::new(),
            jobs: HashMap::new(),
            updates: HashSet::new(),
            logs: HashSet::new(),
            results: HashSet::new(),
            files: HashSet::new(),
        }
    }

    /// The id a new record keeps: its own unless a different record has
    /// it already.
    fn claim(&mut self, kind: Kind, id: i64) -> i64 {
        let taken = self.taken.entry(kind).or_default();
        if taken.insert(id) {
            return id;
        }
        let next = self.next.entry(kind).or_insert(1);
        let fresh = *next;
        *next += 1;
        taken.insert(fresh);
        fresh
    }

    pub(super) fn merged(&mut self, entity: &str) {
        self.report.entity(entity).merged += 1;
    }

    pub(super) fn services(&mut self, i: usize, part: &Part, ids: &mut IdMap, out: &mut Legacy) {
        for s in &part.legacy.services {
            let key = normalise_base_url(&s.base_url, &s.api_type);
            if let Some(&idx) = self.services.get(&key) {
                let kept = &mut out.services[idx];
                ids.insert(i, part.family, Kind::Service, s.id, kept.id);
                let (k, o) = (kept.origin.source.clone(), s.origin.source.clone());
                let mut f = fields(&mut self.report.conflicts, "services", key.clone(), &k, &o);
                if kept.id != s.id {
                    f.remapped("id", s.id, kept.id);
                }
                service_fields(&mut f, kept, s);
                self.merged("services");
                continue;
            }
            let id = self.claim(Kind::Service, s.id);
            ids.insert(i, part.family, Kind::Service, s.id, id);
            if id != s.id {
                fields(
                    &mut self.report.conflicts,
                    "services",
                    key.clone(),
                    "",
                    &s.origin.source,
                )
                .remapped("id", s.id, id);
            }
            self.services.insert(key, out.services.len());
            out.services.push(Service { id, ..s.clone() });
        }
    }

    pub(super) fn panels(&mut self, i: usize, part: &Part, ids: &mut IdMap, out: &mut Legacy) {
        for p in &part.legacy.panels {
            let service_id = ids.get(i, part.family, Kind::Service, p.service_id);
            let key = (service_id, p.external_id.clone());
            let by_name = (service_id, p.name.trim().to_lowercase(), p.build.clone());
            let found = self
                .panels
                .get(&key)
                .or_else(|| self.panels_by_name.get(&by_name))
                .copied();
            let label = format!("service {service_id}, {}", p.external_id);
            if let Some(idx) = found {
                let kept = &mut out.panels[idx];
                ids.insert(i, part.family, Kind::Panel, p.id, kept.id);
                let (k, o) = (kept.origin.source.clone(), p.origin.source.clone());
                let mut f = fields(&mut self.report.conflicts, "panels", label, &k, &o);
                if kept.id != p.id {
                    f.remapped("id", p.id, kept.id);
                }
                panel_fields(&mut f, kept, p);
                self.panels.entry(key).or_insert(idx);
                self.merged("panels");
                continue;
            }
            let id = self.claim(Kind::Panel, p.id);
            ids.insert(i, part.family, Kind::Panel, p.id, id);
            if id != p.id {
                fields(
                    &mut self.report.conflicts,
                    "panels",
                    label,
                    "",
                    &p.origin.source,
                )
                .remapped("id", p.id, id);
            }
            self.panels.insert(key, out.panels.len());
            self.panels_by_name
                .entry(by_name)
                .or_insert(out.panels.len());
            out.panels.push(Panel {
                id,
                service_id,
                ..p.clone()
            });
        }
    }

    pub(super) fn users(&mut self, i: usize, part: &Part, ids: &mut IdMap, out: &mut Legacy) {
        for u in &part.legacy.users {
            let key = u.username.trim().to_lowercase();
            if let Some(&idx) = self.users.get(&key) {
                let kept = &mut out.users[idx];
                ids.insert(i, part.family, Kind::User, u.id, kept.id);
                let (k, o) = (kept.origin.source.clone(), u.origin.source.clone());
                let mut f = fields(&mut self.report.conflicts, "users", key.clone(), &k, &o);
                if kept.id != u.id {
                    f.remapped("id", u.id, kept.id);
                }
                user_fields(&mut f, kept, u);
                self.merged("users");
                continue;
            }
            let id = self.claim(Kind::User, u.id);
            ids.insert(i, part.family, Kind::User, u.id, id);
            if id != u.id {
                fields(
                    &mut self.report.conflicts,
                    "users",
                    key.clone(),
                    "",
                    &u.origin.source,
                )
                .remapped("id", u.id, id);
            }
            self.users.insert(key, out.users.len());
            out.users.push(User { id, ..u.clone() });
        }
    }
}

fn service_fields(f: &mut Fields<'_>, kept: &mut Service, s: &Service) {
    f.text("name", &mut kept.name, &s.name);
    f.opt("slug", &mut kept.slug, &s.slug);
    f.text("service_type", &mut kept.service_type, &s.service_type);
    f.same("api_type", &kept.api_type, &s.api_type);
    f.text("description", &mut kept.description, &s.description);
    f.text("version", &mut kept.version, &s.version);
    f.text("location", &mut kept.location, &s.location);
    f.text(
        "location_country",
        &mut kept.location_country,
        &s.location_country,
    );
    f.text("location_city", &mut kept.location_city, &s.location_city);
    f.text(
        "location_institution",
        &mut kept.location_institution,
        &s.location_institution,
    );
    f.text("continent", &mut kept.continent, &s.continent);
    f.opt(
        "location_latitude",
        &mut kept.location_latitude,
        &s.location_latitude,
    );
    f.opt(
        "location_longitude",
        &mut kept.location_longitude,
        &s.location_longitude,
    );
    f.flag("is_active", &kept.is_active, &s.is_active);
    f.flag("requires_auth", &kept.requires_auth, &s.requires_auth);
    f.opt(
        "max_file_size_mb",
        &mut kept.max_file_size_mb,
        &s.max_file_size_mb,
    );
    f.list(
        "supported_formats",
        &mut kept.supported_formats,
        &s.supported_formats,
    );
    f.list(
        "supported_builds",
        &mut kept.supported_builds,
        &s.supported_builds,
    );
    f.json("api_config", &mut kept.api_config, &s.api_config);
    f.secret("api_key", &mut kept.api_key, &s.api_key);
    f.opt("created_at", &mut kept.created_at, &s.created_at);
    f.opt("updated_at", &mut kept.updated_at, &s.updated_at);
}

fn panel_fields(f: &mut Fields<'_>, kept: &mut Panel, p: &Panel) {
    f.text("external_id", &mut kept.external_id, &p.external_id);
    f.text("name", &mut kept.name, &p.name);
    f.opt("slug", &mut kept.slug, &p.slug);
    f.text("description", &mut kept.description, &p.description);
    f.text("population", &mut kept.population, &p.population);
    f.text("build", &mut kept.build, &p.build);
    f.opt("samples_count", &mut kept.samples_count, &p.samples_count);
    f.opt(
        "variants_count",
        &mut kept.variants_count,
        &p.variants_count,
    );
    f.flag("is_active", &kept.is_active, &p.is_active);
    f.opt("created_at", &mut kept.created_at, &p.created_at);
    f.opt("updated_at", &mut kept.updated_at, &p.updated_at);
}

fn user_fields(f: &mut Fields<'_>, kept: &mut User, u: &User) {
    f.text("email", &mut kept.email, &u.email);
    if kept.password_hash.is_empty() {
        kept.password_hash.clone_from(&u.password_hash);
    } else if !u.password_hash.is_empty() && kept.password_hash != u.password_hash {
        // Hashes are secrets too: show their scheme only.
        let scheme = |h: &str| format!("<{} hash>", h.split('$').next().unwrap_or_default());
        let mut a = Some(scheme(&kept.password_hash));
        f.opt(
            "password_hash",
            &mut a,
            &Some(scheme(&u.password_hash) + " (different)"),
        );
    }
    f.text("first_name", &mut kept.first_name, &u.first_name);
    f.text("last_name", &mut kept.last_name, &u.last_name);
    f.flag("is_active", &kept.is_active, &u.is_active);
    f.flag("is_superuser", &kept.is_superuser, &u.is_superuser);
    f.flag("is_staff", &kept.is_staff, &u.is_staff);
    f.opt("date_joined", &mut kept.date_joined, &u.date_joined);
    f.opt("last_login", &mut kept.last_login, &u.last_login);
}
