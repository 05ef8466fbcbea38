//! Creating jobs: every (service, panel) pair is checked before anything is
//! queued, credentials sent along are saved, the monthly quota is reserved
//! (and given back if creation fails), and the jobs — a federated parent
//! with its children — are written in one transaction.

use fedimpute_common::auth::Caller;
use fedimpute_proto::{jobs as pb, registry as rpb, users::QuotaKind};
use rand::{Rng, distributions::Alphanumeric};

use super::{Jobs, Me};
use crate::{
    convert,
    domain::{
        ApiType, Build, JobId,
        request::{JobRequest, Options, PanelRef, Secret, ServiceRef, Tokens},
    },
    error::{Error, Result},
    peers::ServiceInfo,
    store::{FileRecord, JobRecord, NewJob},
};

/// Cloudgene refuses fewer samples (imputationserver2's default minimum).
const CLOUDGENE_MIN_SAMPLES: u64 = 20;

/// One checked (service, panel) pair.
struct Target {
    service: ServiceInfo,
    panel: rpb::ReferencePanel,
    build: Build,
    population: String,
    warnings: Vec<String>,
}

/// Field names: `service_id` for a job, `service_ids[i]` for a federated one.
struct Fields {
    federated: Option<usize>,
}

impl Fields {
    fn name(&self, single: &str, list: &str) -> String {
        match self.federated {
            None => single.to_owned(),
            Some(i) => format!("{list}[{i}]"),
        }
    }
}

fn merged_config(service: &ServiceInfo, panel: &rpb::ReferencePanel) -> serde_json::Value {
    let mut config = service.api_config.as_object().cloned().unwrap_or_default();
    if let Some(serde_json::Value::Object(extra)) = panel
        .api_config
        .as_ref()
        .map(fedimpute_common::wire::struct_to_json)
    {
        config.extend(extra);
    }
    serde_json::Value::Object(config)
}

impl Jobs {
    pub(crate) async fn create_job(
        &self,
        caller: &Caller,
        bearer: Option<&str>,
        r: pb::CreateJobRequest,
    ) -> Result<pb::Job> {
        let me = self.submitter(caller)?;
        let request = JobRequest::try_from(r)?;
        let mut created = self.create(&me, bearer, request, false).await?;
        let job = created.remove(0);
        Ok(convert::job(&job, me.id, &self.keyring, None))
    }

    pub(crate) async fn create_federated(
        &self,
        caller: &Caller,
        bearer: Option<&str>,
        r: pb::CreateFederatedJobRequest,
    ) -> Result<pb::CreateFederatedJobResponse> {
        let me = self.submitter(caller)?;
        let request = JobRequest::try_from(r)?;
        let mut created = self.create(&me, bearer, request, true).await?;
        let parent = created.remove(0);
        let summaries = created
            .iter()
            .map(|c| pb::ChildJobSummary {
                id: c.id.clone(),
                service_id: c.service_id.unwrap_or_default(),
                service_name: c.service_name.clone(),
                panel_id: c.panel_id.unwrap_or_default(),
                status: c.status.to_pb() as i32,
            })
            .collect();
        Ok(pb::CreateFederatedJobResponse {
            parent_job_id: parent.id.clone(),
            parent_job_name: parent.name.clone(),
            total_services: i32::try_from(created.len()).unwrap_or(i32::MAX),
            child_jobs: summaries,
            status: "Jobs queued for processing".into(),
            message: format!("Federated job created with {} child jobs", created.len()),
            parent: Some(convert::job(&parent, me.id, &self.keyring, Some(&created))),
            children: created
                .iter()
                .map(|c| convert::job(c, me.id, &self.keyring, None))
                .collect(),
        })
    }

    /// Checks, saves credentials, reserves quota, writes. Returns the
    /// parent (if federated) first, then the jobs that run.
    async fn create(
        &self,
        me: &Me,
        bearer: Option<&str>,
        request: JobRequest,
        federated: bool,
    ) -> Result<Vec<JobRecord>> {
        let file = self
            .own_file(me, &request.input_file.to_string())
            .await
            .map_err(|_| {
                Error::invalid(
                    "input_file_id",
                    format!("file {} does not exist", request.input_file),
                )
            })?;
        let mut targets = Vec::with_capacity(request.targets.len());
        for (i, (service, panel)) in request.targets.iter().enumerate() {
            let fields = Fields {
                federated: federated.then_some(i),
            };
            targets.push(
                self.check(me, &file, &request.options, service, panel, &fields)
                    .await?,
            );
        }
        self.credentials(me, bearer, &request, &targets).await?;

        let parent_id = federated.then(|| JobId::new().to_string());
        // The scheduler's steps continue this request's trace.
        let trace_context = fedimpute_common::telemetry::current_traceparent();
        let mut new = Vec::new();
        if let Some(id) = &parent_id {
            new.push(NewJob {
                id: id.clone(),
                user_id: me.id,
                parent_id: None,
                is_parent: true,
                name: request.name.clone(),
                description: request.description.clone(),
                service_id: None,
                service_name: String::new(),
                api_type: None,
                panel_id: None,
                panel_name: String::new(),
                panel_external_id: String::new(),
                remote_config: serde_json::Value::Null,
                input_file_id: file.id.clone(),
                input_file_name: file.filename.clone(),
                input_file_size: file.size_bytes,
                build: targets[0].build,
                phasing: request.options.phasing,
                population: request.options.population.clone().unwrap_or_default(),
                mode: request.options.mode,
                r2_filter: request.options.r2_filter,
                warnings: targets.iter().flat_map(|t| t.warnings.clone()).collect(),
                results_password: String::new(),
                quota_reservation: None,
                trace_context: trace_context.clone(),
                message: format!(
                    "Federated job across {} services: {}",
                    targets.len(),
                    targets
                        .iter()
                        .map(|t| t.service.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        }
        let mut reserved = Vec::new();
        for (i, t) in targets.iter().enumerate() {
            let id = JobId::new().to_string();
            let reservation = format!("job:{id}:1");
            if let Err(e) = self
                .peers
                .reserve(me.id, QuotaKind::Jobs, 1, &reservation)
                .await
            {
                self.release_all(&reserved).await;
                return Err(e.quota("monthly job quota"));
            }
            reserved.push(reservation.clone());
            let password = (t.service.api_type == ApiType::Michigan).then(password);
            new.push(NewJob {
                results_password: password
                    .map(|p| {
                        self.keyring
                            .seal(p.as_bytes(), &convert::password_context(&id))
                    })
                    .unwrap_or_default(),
                id,
                user_id: me.id,
                parent_id: parent_id.clone(),
                is_parent: false,
                name: request.name.clone(),
                description: if federated {
                    format!(
                        "Child job {}/{} for service {}",
                        i + 1,
                        targets.len(),
                        t.service.name
                    )
                } else {
                    request.description.clone()
                },
                service_id: Some(t.service.id),
                service_name: t.service.name.clone(),
                api_type: Some(t.service.api_type),
                panel_id: Some(t.panel.id),
                panel_name: if t.panel.display_name.is_empty() {
                    t.panel.name.clone()
                } else {
                    t.panel.display_name.clone()
                },
                panel_external_id: t.panel.external_id.clone(),
                remote_config: merged_config(&t.service, &t.panel),
                input_file_id: file.id.clone(),
                input_file_name: file.filename.clone(),
                input_file_size: file.size_bytes,
                build: t.build,
                phasing: request.options.phasing,
                population: t.population.clone(),
                mode: request.options.mode,
                r2_filter: request.options.r2_filter,
                warnings: t.warnings.clone(),
                quota_reservation: Some(reservation),
                trace_context: trace_context.clone(),
                message: format!("Queued for {}", t.service.name),
            });
        }
        let created = match self.store.create_jobs(new).await {
            Ok(created) => created,
            Err(e) => {
                self.release_all(&reserved).await;
                return Err(e.into());
            }
        };
        self.wake.notify_one();
        tracing::info!(
            jobs = created.len(),
            user = me.id,
            federated,
            "jobs created"
        );
        Ok(created)
    }

    /// Checks one (service, panel) pair against the file and the options.
    async fn check(
        &self,
        me: &Me,
        file: &FileRecord,
        options: &Options,
        service: &ServiceRef,
        panel: &PanelRef,
        fields: &Fields,
    ) -> Result<Target> {
        let service_field = fields.name("service_id", "service_ids");
        let service = self
            .peers
            .service(service)
            .await
            .map_err(|e| e.on_field(&service_field))?;
        if !me.can_submit(Some(service.id)) {
            return Err(Error::PermissionDenied(format!(
                "your roles do not allow running jobs on {}",
                service.name
            )));
        }
        if !service.is_active {
            return Err(Error::FailedPrecondition(format!(
                "{} is inactive: it takes no jobs",
                service.name
            )));
        }
        let panel_field = fields.name("reference_panel_id", "reference_panel_ids");
        let panel = self
            .peers
            .panel(service.id, panel)
            .await
            .map_err(|e| e.on_field(&panel_field))?;
        if panel.is_available == Some(false) {
            return Err(Error::FailedPrecondition(format!(
                "reference panel {} is not available on {}",
                panel.name, service.name
            )));
        }
        let mut warnings = Vec::new();
        let detected = file.facts.build();
        let build = match (options.build, detected) {
            (Some(build), _) => build,
            (None, Some(build)) => build,
            (None, None) => {
                return Err(Error::invalid(
                    "build",
                    "the file does not tell its genome build: give hg19 or hg38",
                ));
            }
        };
        if let Some(found) = detected
            && found != build
        {
            let why = format!(
                "the file looks like {found} ({}) but {build} was chosen",
                file.facts.build_evidence
            );
            if file.facts.build_certain {
                return Err(Error::invalid("build", why));
            }
            warnings.push(why);
        }
        if !service.supported_builds.is_empty()
            && !service.supported_builds.contains(&build.to_pb())
        {
            return Err(Error::invalid(
                "build",
                format!("{} does not take {build} input", service.name),
            ));
        }
        if let Some(max_mb) = service.max_file_size_mb
            && max_mb > 0
            && file.size_bytes > i64::from(max_mb) * 1024 * 1024
        {
            return Err(Error::invalid(
                "input_file_id",
                format!(
                    "the file ({} bytes) is larger than {} accepts ({max_mb} MB)",
                    file.size_bytes, service.name
                ),
            ));
        }
        let population = match &options.population {
            Some(p) if !panel.populations.is_empty() && !panel.populations.contains(p) => {
                return Err(Error::invalid(
                    "population",
                    format!(
                        "'{p}' is not offered by panel {} (choose one of: {})",
                        panel.name,
                        panel.populations.join(", ")
                    ),
                ));
            }
            Some(p) => p.clone(),
            // Never empty: `mixed` where the panel offers it, else `off`
            // (which skips the allele-frequency check).
            None if panel.populations.iter().any(|p| p == "mixed") => "mixed".into(),
            None => "off".into(),
        };
        let min_samples = service
            .api_config
            .get("min_samples")
            .and_then(crate::domain::values::whole_number)
            .and_then(|n| u64::try_from(n).ok())
            .or((service.api_type == ApiType::Michigan).then_some(CLOUDGENE_MIN_SAMPLES));
        if let Some(min) = min_samples
            && file.facts.samples < min
        {
            warnings.push(format!(
                "the file has {} samples; {} needs at least {min}: the job will likely fail its input validation",
                file.facts.samples, service.name
            ));
        }
        if service.health == rpb::HealthStatus::Unhealthy
            || service.health == rpb::HealthStatus::Timeout
        {
            warnings.push(format!(
                "{} is currently not answering its health checks: the job waits until it does",
                service.name
            ));
        }
        if service.health == rpb::HealthStatus::Maintenance {
            warnings.push(format!(
                "{} is in maintenance: the job waits until it is back",
                service.name
            ));
        }
        Ok(Target {
            service,
            panel,
            build,
            population,
            warnings,
        })
    }

    /// Saves the credentials sent along and checks that every service that
    /// needs one has one.
    async fn credentials(
        &self,
        me: &Me,
        bearer: Option<&str>,
        request: &JobRequest,
        targets: &[Target],
    ) -> Result<()> {
        let given = |t: &Target| -> Option<&Secret> {
            match &request.tokens {
                Tokens::ByService(list) => list
                    .iter()
                    .find(|(s, _)| match s {
                        ServiceRef::Id(id) => *id == t.service.id,
                        ServiceRef::Slug(slug) => *slug == t.service.slug,
                    })
                    .map(|(_, secret)| secret),
                Tokens::One(secret) if targets.len() == 1 => Some(secret),
                Tokens::One(_) | Tokens::None => None,
            }
        };
        let mut missing = Vec::new();
        for t in targets.iter().filter(|t| t.service.requires_auth) {
            if let Some(secret) = given(t) {
                self.save(me, bearer, t, secret).await?;
                continue;
            }
            match self.peers.credential(me.id, &t.service).await {
                Ok(_) => {}
                Err(Error::FailedPrecondition(message)) => missing.push((t, message)),
                Err(e) => return Err(e),
            }
        }
        if let (Tokens::One(secret), true) = (&request.tokens, targets.len() > 1) {
            match missing.len() {
                0 => {}
                1 => {
                    let (t, _) = missing.remove(0);
                    self.save(me, bearer, t, secret).await?;
                }
                n => {
                    return Err(Error::invalid(
                        "user_token",
                        format!(
                            "{n} of these services need a credential: give one per service in service_tokens"
                        ),
                    ));
                }
            }
        }
        match missing.into_iter().next() {
            Some((_, message)) => Err(Error::FailedPrecondition(message)),
            None => Ok(()),
        }
    }

    async fn save(&self, me: &Me, bearer: Option<&str>, t: &Target, secret: &Secret) -> Result<()> {
        let bearer = bearer.ok_or(Error::Unauthenticated(
            fedimpute_common::auth::AuthError::Missing,
        ))?;
        self.peers
            .save_token(bearer, me.id, t.service.id, secret.expose())
            .await
    }
}

/// A results password Cloudgene accepts unchanged (it HTML-escapes text).
fn password() -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(24)
        .map(char::from)
        .collect()
}
