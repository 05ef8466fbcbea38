//! Job requests, parsed from the protos: every bad field is named at once.

use fedimpute_common::status::{FieldViolation, Violations};
use fedimpute_proto::{jobs as pb, registry as rpb};

use super::{Build, FileId, Mode};

const MAX_NAME: usize = 200;
const MAX_DESCRIPTION: usize = 5000;
const MAX_TOKEN: usize = 8192;
/// Cloudgene's `r2Filter` values.
pub(crate) const R2_FILTERS: [f64; 5] = [0.0, 0.001, 0.1, 0.2, 0.3];

/// A service named by id or slug.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum ServiceRef {
    Id(i64),
    Slug(String),
}

impl ServiceRef {
    pub(crate) fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err("required: a service id or slug".into());
        }
        if raw.bytes().all(|b| b.is_ascii_digit()) {
            return raw
                .parse()
                .map(Self::Id)
                .map_err(|_| format!("'{raw}' is not a valid id"));
        }
        if raw.len() > 100
            || !raw
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(format!("'{raw}' is neither a service id nor a slug"));
        }
        Ok(Self::Slug(raw.to_owned()))
    }

    /// As `GetService` takes it.
    pub(crate) fn as_lookup(&self) -> String {
        match self {
            Self::Id(id) => id.to_string(),
            Self::Slug(slug) => slug.clone(),
        }
    }
}

/// A panel named by id, slug or external id (within its service).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum PanelRef {
    Id(i64),
    Key(String),
}

impl PanelRef {
    pub(crate) fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err("required: a reference panel id, slug or external id".into());
        }
        if raw.bytes().all(|b| b.is_ascii_digit()) {
            return raw
                .parse()
                .map(Self::Id)
                .map_err(|_| format!("'{raw}' is not a valid id"));
        }
        if raw.chars().count() > 300 || raw.chars().any(char::is_control) {
            return Err(format!("'{raw}' is not a panel id, slug or external id"));
        }
        Ok(Self::Key(raw.to_owned()))
    }
}

/// A credential the caller sends along (never logged).
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Secret(String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl Secret {
    fn parse(raw: &str) -> Result<Option<Self>, String> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Ok(None);
        }
        if raw.len() > MAX_TOKEN || raw.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(format!(
                "must be one token of at most {MAX_TOKEN} characters, without spaces"
            ));
        }
        Ok(Some(Self(raw.to_owned())))
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

/// How the remote is to run the job.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Options {
    /// `None`: the build detected in the file.
    pub(crate) build: Option<Build>,
    pub(crate) phasing: bool,
    /// `None`: the panel's default (`mixed` when offered, else `off`).
    pub(crate) population: Option<String>,
    pub(crate) mode: Mode,
    pub(crate) r2_filter: Option<f64>,
}

/// Credentials sent with the request.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Tokens {
    None,
    /// For the one service that needs one.
    One(Secret),
    ByService(Vec<(ServiceRef, Secret)>),
}

/// A parsed job request: one (service, panel) pair, or several for a
/// federated job.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct JobRequest {
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) input_file: FileId,
    pub(crate) targets: Vec<(ServiceRef, PanelRef)>,
    pub(crate) options: Options,
    pub(crate) tokens: Tokens,
}

struct Common<'a> {
    name: &'a str,
    description: &'a str,
    input_file_id: &'a str,
    input_format: &'a str,
    build: i32,
    phasing: Option<bool>,
    population: &'a str,
    mode: i32,
    r2_filter: Option<f64>,
}

fn common(c: Common<'_>, v: &mut Violations) -> Option<(String, String, FileId, Options)> {
    let name = c.name.trim();
    if name.is_empty() {
        v.add("name", "required");
    } else if name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
        v.add(
            "name",
            format!("must be one line of at most {MAX_NAME} characters"),
        );
    }
    if c.description.chars().count() > MAX_DESCRIPTION {
        v.add(
            "description",
            format!("must be at most {MAX_DESCRIPTION} characters"),
        );
    }
    let file = v.check("input_file_id", FileId::parse(c.input_file_id));
    let format = c.input_format.trim().to_ascii_lowercase();
    if !(format.is_empty() || format == "vcf") {
        v.add(
            "input_format",
            format!("'{format}' is not supported: upload a bgzip-compressed VCF (vcf)"),
        );
    }
    let build = match rpb::GenomeBuild::try_from(c.build) {
        Ok(b) => Build::from_pb(b),
        Err(_) => {
            v.add("build", "must be hg19 or hg38");
            None
        }
    };
    let population = c.population.trim();
    if population.len() > 50
        || !population
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        v.add(
            "population",
            "must be a population key of the panel (letters, digits, '-' and '_')",
        );
    }
    let mode = match pb::JobMode::try_from(c.mode) {
        Ok(m) => Mode::from_pb(m),
        Err(_) => {
            v.add("mode", "must be imputation or qc_only");
            Mode::Imputation
        }
    };
    if let Some(r2) = c.r2_filter
        && !R2_FILTERS.iter().any(|f| (f - r2).abs() < 1e-9)
    {
        v.add("r2_filter", "must be one of 0, 0.001, 0.1, 0.2, 0.3");
    }
    let options = Options {
        build,
        phasing: c.phasing.unwrap_or(true),
        population: (!population.is_empty()).then(|| population.to_owned()),
        mode,
        r2_filter: c.r2_filter,
    };
    Some((name.to_owned(), c.description.to_owned(), file?, options))
}

impl TryFrom<pb::CreateJobRequest> for JobRequest {
    type Error = Vec<FieldViolation>;

    fn try_from(r: pb::CreateJobRequest) -> Result<Self, Self::Error> {
        let mut v = Violations::new();
        let parsed = common(
            Common {
                name: &r.name,
                description: &r.description,
                input_file_id: &r.input_file_id,
                input_format: &r.input_format,
                build: r.build,
                phasing: r.phasing,
                population: &r.population,
                mode: r.mode,
                r2_filter: r.r2_filter,
            },
            &mut v,
        );
        let service = v.check("service_id", ServiceRef::parse(&r.service_id));
        let panel = v.check("reference_panel_id", PanelRef::parse(&r.reference_panel_id));
        let token = v
            .check("user_token", Secret::parse(&r.user_token))
            .flatten();
        v.finish()?;
        let (Some((name, description, input_file, options)), Some(service), Some(panel)) =
            (parsed, service, panel)
        else {
            return Err(vec![FieldViolation::new("request", "is invalid")]);
        };
        Ok(Self {
            name,
            description,
            input_file,
            targets: vec![(service, panel)],
            options,
            tokens: token.map_or(Tokens::None, Tokens::One),
        })
    }
}

impl TryFrom<pb::CreateFederatedJobRequest> for JobRequest {
    type Error = Vec<FieldViolation>;

    fn try_from(r: pb::CreateFederatedJobRequest) -> Result<Self, Self::Error> {
        let mut v = Violations::new();
        let parsed = common(
            Common {
                name: &r.name,
                description: &r.description,
                input_file_id: &r.input_file_id,
                input_format: &r.input_format,
                build: r.build,
                phasing: r.phasing,
                population: &r.population,
                mode: r.mode,
                r2_filter: r.r2_filter,
            },
            &mut v,
        );
        // The original's clients send comma lists in one field.
        let split = |items: &[String]| -> Vec<String> {
            items
                .iter()
                .flat_map(|s| s.split(','))
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect()
        };
        let services = split(&r.service_ids);
        let panels = split(&r.reference_panel_ids);
        if services.len() != panels.len() {
            v.add(
                "reference_panel_ids",
                format!(
                    "{} services but {} panels: give one panel per service, in the same order",
                    services.len(),
                    panels.len()
                ),
            );
        } else if services.len() < 2 {
            v.add(
                "service_ids",
                "a federated job needs at least two (service, panel) pairs; use CreateJob for one",
            );
        } else if services.len() > 20 {
            v.add("service_ids", "at most 20 (service, panel) pairs");
        }
        let mut targets = Vec::new();
        for (i, (s, p)) in services.iter().zip(&panels).enumerate() {
            let service = v.check(&format!("service_ids[{i}]"), ServiceRef::parse(s));
            let panel = v.check(&format!("reference_panel_ids[{i}]"), PanelRef::parse(p));
            if let (Some(service), Some(panel)) = (service, panel) {
                if targets.contains(&(service.clone(), panel.clone())) {
                    v.add(
                        format!("reference_panel_ids[{i}]"),
                        "this (service, panel) pair is listed twice",
                    );
                }
                targets.push((service, panel));
            }
        }
        let one = v
            .check("user_token", Secret::parse(&r.user_token))
            .flatten();
        let mut by_service = Vec::new();
        let mut keys: Vec<_> = r.service_tokens.keys().cloned().collect();
        keys.sort();
        for key in keys {
            let field = format!("service_tokens[{key}]");
            let service = v.check(&field, ServiceRef::parse(&key));
            let secret = v
                .check(&field, Secret::parse(&r.service_tokens[&key]))
                .flatten();
            if let (Some(service), Some(secret)) = (service, secret) {
                by_service.push((service, secret));
            }
        }
        let tokens = match (one, by_service.is_empty()) {
            (Some(_), false) => {
                v.add(
                    "user_token",
                    "give either user_token or service_tokens, not both",
                );
                Tokens::None
            }
            (Some(token), true) => Tokens::One(token),
            (None, false) => Tokens::ByService(by_service),
            (None, true) => Tokens::None,
        };
        v.finish()?;
        let Some((name, description, input_file, options)) = parsed else {
            return Err(vec![FieldViolation::new("request", "is invalid")]);
        };
        Ok(Self {
            name,
            description,
            input_file,
            targets,
            options,
            tokens,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> pb::CreateJobRequest {
        pb::CreateJobRequest {
            name: "chr20 test".into(),
            service_id: "h3africa".into(),
            reference_panel_id: "apps@h3africa-v6hc-s@1.0.0".into(),
            input_file_id: FileId::new().to_string(),
            ..Default::default()
        }
    }

    fn fields(err: Vec<FieldViolation>) -> Vec<String> {
        err.into_iter().map(|v| v.field).collect()
    }

    #[test]
    fn a_valid_request_parses_with_defaults() {
        let r = JobRequest::try_from(valid()).unwrap();
        assert_eq!(r.targets.len(), 1);
        assert_eq!(r.targets[0].0, ServiceRef::Slug("h3africa".into()));
        assert_eq!(
            r.targets[0].1,
            PanelRef::Key("apps@h3africa-v6hc-s@1.0.0".into())
        );
        assert!(r.options.phasing);
        assert_eq!(r.options.mode, Mode::Imputation);
        assert_eq!(r.options.build, None);
        let by_id = JobRequest::try_from(pb::CreateJobRequest {
            service_id: "7".into(),
            reference_panel_id: "12".into(),
            ..valid()
        })
        .unwrap();
        assert_eq!(by_id.targets[0], (ServiceRef::Id(7), PanelRef::Id(12)));
    }

    #[test]
    fn every_bad_field_is_named() {
        let err = JobRequest::try_from(pb::CreateJobRequest {
            name: " ".into(),
            service_id: String::new(),
            reference_panel_id: String::new(),
            input_file_id: "not-a-uuid".into(),
            input_format: "plink".into(),
            build: 9,
            population: "a b".into(),
            mode: 7,
            r2_filter: Some(0.5),
            user_token: "two words".into(),
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(
            fields(err),
            [
                "name",
                "input_file_id",
                "input_format",
                "build",
                "population",
                "mode",
                "r2_filter",
                "service_id",
                "reference_panel_id",
                "user_token"
            ]
        );
    }

    #[test]
    fn federated_requests_pair_services_with_panels() {
        let base = pb::CreateFederatedJobRequest {
            name: "federated".into(),
            service_ids: vec!["1,2".into()],
            reference_panel_ids: vec!["10".into(), "20".into()],
            input_file_id: FileId::new().to_string(),
            ..Default::default()
        };
        let r = JobRequest::try_from(base.clone()).unwrap();
        assert_eq!(
            r.targets,
            vec![
                (ServiceRef::Id(1), PanelRef::Id(10)),
                (ServiceRef::Id(2), PanelRef::Id(20))
            ]
        );
        let uneven = JobRequest::try_from(pb::CreateFederatedJobRequest {
            reference_panel_ids: vec!["10".into()],
            ..base.clone()
        })
        .unwrap_err();
        assert_eq!(fields(uneven), ["reference_panel_ids"]);
        let single = JobRequest::try_from(pb::CreateFederatedJobRequest {
            service_ids: vec!["1".into()],
            reference_panel_ids: vec!["10".into()],
            ..base.clone()
        })
        .unwrap_err();
        assert_eq!(fields(single), ["service_ids"]);
        let twice = JobRequest::try_from(pb::CreateFederatedJobRequest {
            service_ids: vec!["1".into(), "1".into()],
            reference_panel_ids: vec!["10".into(), "10".into()],
            ..base
        })
        .unwrap_err();
        assert_eq!(fields(twice), ["reference_panel_ids[1]"]);
    }

    #[test]
    fn secrets_are_not_printed() {
        let r = JobRequest::try_from(pb::CreateJobRequest {
            user_token: "very-secret-token".into(),
            ..valid()
        })
        .unwrap();
        assert!(!format!("{r:?}").contains("very-secret-token"));
    }
}
