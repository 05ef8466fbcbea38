//! Records that refer to services, panels and users: their references
//! remapped through the [`IdMap`], duplicates (the same record in two
//! dumps of one database) kept once.

use std::collections::HashMap;

use super::{IdMap, Kind, fields::Fields, records::Merger};
use crate::{
    model::{Credential, Job, Legacy, Profile},
    read::Part,
    report::Conflict,
};

impl Merger<'_> {
    pub(super) fn dependents(&mut self, i: usize, part: &Part, ids: &IdMap, out: &mut Legacy) {
        let family = part.family;
        let service = |id: i64| ids.get(i, family, Kind::Service, id);
        let panel = |id: i64| ids.get(i, family, Kind::Panel, id);
        let user = |id: i64| ids.get(i, family, Kind::User, id);
        let l = &part.legacy;

        for h in &l.health_logs {
            let mut h = h.clone();
            h.service_id = service(h.service_id);
            if self
                .health
                .insert((h.service_id, h.checked_at, h.status.clone()))
            {
                out.health_logs.push(h);
            } else {
                self.merged("health_logs");
            }
        }
        for p in &l.profiles {
            let mut p = p.clone();
            p.user_id = user(p.user_id);
            match self.profiles.get(&p.user_id) {
                Some(&idx) => {
                    let kept = &mut out.profiles[idx];
                    let mut f = self.fields(
                        "profiles",
                        p.user_id.to_string(),
                        &kept.origin.source,
                        &p.origin.source,
                    );
                    profile_fields(&mut f, kept, &p);
                    self.merged("profiles");
                }
                None => {
                    self.profiles.insert(p.user_id, out.profiles.len());
                    out.profiles.push(p);
                }
            }
        }
        for r in &l.roles {
            let mut r = r.clone();
            r.user_id = user(r.user_id);
            r.service_id = r.service_id.map(service);
            if self.roles.insert((r.user_id, r.role.clone(), r.service_id)) {
                out.roles.push(r);
            } else {
                self.merged("roles");
            }
        }
        for c in &l.credentials {
            let mut c = c.clone();
            c.user_id = user(c.user_id);
            c.service_id = service(c.service_id);
            match self.credentials.get(&(c.user_id, c.service_id)) {
                Some(&idx) => {
                    let kept = &mut out.credentials[idx];
                    let key = format!("user {}, service {}", c.user_id, c.service_id);
                    let mut f =
                        self.fields("credentials", key, &kept.origin.source, &c.origin.source);
                    credential_fields(&mut f, kept, &c);
                    self.merged("credentials");
                }
                None => {
                    self.credentials
                        .insert((c.user_id, c.service_id), out.credentials.len());
                    out.credentials.push(c);
                }
            }
        }
        for a in &l.audit_logs {
            let mut a = a.clone();
            a.user_id = a.user_id.map(user);
            let key = (
                a.user_id,
                a.action.clone(),
                a.resource_type.clone(),
                a.resource_id.clone(),
                a.at,
            );
            if self.audit.insert(key) {
                out.audit_logs.push(a);
            } else {
                self.merged("audit_logs");
            }
        }
        for j in &l.jobs {
            let mut j = j.clone();
            j.user_id = user(j.user_id);
            j.service_id = j.service_id.map(service);
            j.panel_id = j.panel_id.map(panel);
            match self.jobs.get(&j.id) {
                Some(&idx) => {
                    let kept = &mut out.jobs[idx];
                    let mut f = self.fields(
                        "jobs",
                        j.id.to_string(),
                        &kept.origin.source,
                        &j.origin.source,
                    );
                    job_fields(&mut f, kept, &j);
                    self.merged("jobs");
                }
                None => {
                    self.jobs.insert(j.id, out.jobs.len());
                    out.jobs.push(j);
                }
            }
        }
        for u in &l.status_updates {
            if self
                .updates
                .insert((u.job_id, u.at, u.status.clone(), u.message.clone()))
            {
                out.status_updates.push(u.clone());
            } else {
                self.merged("status_updates");
            }
        }
        for g in &l.job_logs {
            if self
                .logs
                .insert((g.job_id, g.at, g.step.clone(), g.message.clone()))
            {
                out.job_logs.push(g.clone());
            } else {
                self.merged("job_logs");
            }
        }
        for r in &l.result_files {
            if self
                .results
                .insert((r.job_id, r.name.clone(), r.location.clone()))
            {
                out.result_files.push(r.clone());
            } else {
                self.merged("result_files");
            }
        }
        for file in &l.files {
            let mut file = file.clone();
            file.user_id = user(file.user_id);
            if self
                .files
                .insert((file.job_id, file.path.clone(), file.filename.clone()))
            {
                out.files.push(file);
            } else {
                self.merged("files");
            }
        }
    }

    /// The file-manager recorded every upload as user 123 (it was never
    /// told the user): a file whose owner is not a user but whose job is
    /// belongs to the job's user.
    pub(super) fn owners_of_files(&mut self, out: &mut Legacy) {
        let users: std::collections::HashSet<i64> = out.users.iter().map(|u| u.id).collect();
        let owners: HashMap<uuid::Uuid, i64> = out.jobs.iter().map(|j| (j.id, j.user_id)).collect();
        for file in &mut out.files {
            if users.contains(&file.user_id) {
                continue;
            }
            if let Some(&owner) = file.job_id.as_ref().and_then(|j| owners.get(j))
                && users.contains(&owner)
            {
                self.report.conflicts.push(Conflict {
                    entity: "files".into(),
                    key: format!("{} ({})", file.path, file.origin.key),
                    field: "user_id".into(),
                    values: vec![
                        format!(
                            "{} (no such user; the file-manager's placeholder)",
                            file.user_id
                        ),
                        format!(
                            "{owner} (the owner of job {})",
                            file.job_id.unwrap_or_default()
                        ),
                    ],
                    kept: owner.to_string(),
                });
                file.user_id = owner;
            }
        }
    }

    fn fields(&mut self, entity: &'static str, key: String, kept: &str, other: &str) -> Fields<'_> {
        Fields {
            conflicts: &mut self.report.conflicts,
            entity,
            key,
            kept_source: kept.to_owned(),
            other_source: other.to_owned(),
        }
    }
}

fn profile_fields(f: &mut Fields<'_>, kept: &mut Profile, p: &Profile) {
    f.text("institution", &mut kept.institution, &p.institution);
    f.text("organization", &mut kept.organization, &p.organization);
    f.text("department", &mut kept.department, &p.department);
    f.text("position", &mut kept.position, &p.position);
    f.text("phone", &mut kept.phone, &p.phone);
    f.text("research_area", &mut kept.research_area, &p.research_area);
    f.text("country", &mut kept.country, &p.country);
    f.text("bio", &mut kept.bio, &p.bio);
    f.text(
        "preferred_language",
        &mut kept.preferred_language,
        &p.preferred_language,
    );
    f.text("timezone", &mut kept.timezone, &p.timezone);
    f.opt(
        "email_notifications",
        &mut kept.email_notifications,
        &p.email_notifications,
    );
    f.opt(
        "monthly_job_limit",
        &mut kept.monthly_job_limit,
        &p.monthly_job_limit,
    );
    f.opt(
        "storage_limit_bytes",
        &mut kept.storage_limit_bytes,
        &p.storage_limit_bytes,
    );
}

fn credential_fields(f: &mut Fields<'_>, kept: &mut Credential, c: &Credential) {
    f.text(
        "credential_type",
        &mut kept.credential_type,
        &c.credential_type,
    );
    f.secret("api_token", &mut kept.api_token, &c.api_token);
    f.secret("oauth_token", &mut kept.oauth_token, &c.oauth_token);
    f.opt("username", &mut kept.username, &c.username);
    f.secret("password", &mut kept.password, &c.password);
    f.text("label", &mut kept.label, &c.label);
    f.opt("created_at", &mut kept.created_at, &c.created_at);
}

fn job_fields(f: &mut Fields<'_>, kept: &mut Job, j: &Job) {
    f.same("user_id", &kept.user_id, &j.user_id);
    f.opt("service_id", &mut kept.service_id, &j.service_id);
    f.opt("panel_id", &mut kept.panel_id, &j.panel_id);
    f.opt("parent_id", &mut kept.parent_id, &j.parent_id);
    f.text("name", &mut kept.name, &j.name);
    f.text("description", &mut kept.description, &j.description);
    f.flag("phasing", &kept.phasing, &j.phasing);
    f.same("status", &kept.status, &j.status);
    f.same("progress", &kept.progress, &j.progress);
    f.text(
        "external_job_id",
        &mut kept.external_job_id,
        &j.external_job_id,
    );
    f.secret("user_token", &mut kept.user_token, &j.user_token);
    f.text(
        "input_file_name",
        &mut kept.input_file_name,
        &j.input_file_name,
    );
    f.opt(
        "input_file_size",
        &mut kept.input_file_size,
        &j.input_file_size,
    );
    f.json(
        "service_response",
        &mut kept.service_response,
        &j.service_response,
    );
    f.text("error_message", &mut kept.error_message, &j.error_message);
    f.opt("updated_at", &mut kept.updated_at, &j.updated_at);
    f.opt("started_at", &mut kept.started_at, &j.started_at);
    f.opt("completed_at", &mut kept.completed_at, &j.completed_at);
    f.opt(
        "execution_time_seconds",
        &mut kept.execution_time_seconds,
        &j.execution_time_seconds,
    );
}
