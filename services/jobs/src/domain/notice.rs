//! The mails a job's owner gets: one per outcome (and one when the remote
//! refuses their credential), never one per poll.

use super::JobStatus;

/// What a notice is about.
#[derive(Clone, Debug)]
pub(crate) struct NoticeFacts<'a> {
    pub(crate) job_id: &'a str,
    pub(crate) attempt: i32,
    pub(crate) name: &'a str,
    pub(crate) service_name: &'a str,
    pub(crate) status: JobStatus,
    pub(crate) error_message: &'a str,
    pub(crate) summary: &'a str,
}

/// A mail to queue: subject, body (the link to the job is added when it is
/// sent), and the key that makes it unique.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Notice {
    pub(crate) dedupe_key: String,
    pub(crate) subject: String,
    pub(crate) body: String,
}

fn one_line(text: &str, max: usize) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max)
        .collect()
}

/// The mail for a job's outcome.
pub(crate) fn outcome(f: &NoticeFacts<'_>) -> Notice {
    let name = one_line(f.name, 120);
    let (verb, detail) = match f.status {
        JobStatus::Completed => (
            "has completed",
            "Its results are ready to download from fedimpute.".to_owned(),
        ),
        JobStatus::Failed => (
            "has failed",
            format!(
                "Reason: {}",
                if f.error_message.is_empty() {
                    "not given by the service"
                } else {
                    f.error_message
                }
            ),
        ),
        JobStatus::Cancelled => ("was cancelled", "It will not run further.".to_owned()),
        JobStatus::Pending | JobStatus::Queued | JobStatus::Running => ("changed", String::new()),
    };
    let on = if f.service_name.is_empty() {
        String::new()
    } else {
        format!(" on {}", one_line(f.service_name, 120))
    };
    let mut body = format!("Your imputation job '{name}'{on} {verb}.\n\n{detail}\n");
    if !f.summary.is_empty() {
        body.push_str(&format!("\n{}\n", f.summary));
    }
    body.push_str(&format!("\nJob id: {} (attempt {})\n", f.job_id, f.attempt));
    Notice {
        dedupe_key: format!("job:{}:{}:{}", f.job_id, f.attempt, f.status.as_str()),
        subject: one_line(&format!("fedimpute: job '{name}' {verb}"), 200),
        body,
    }
}

/// The mail when the remote refuses the owner's credential mid-job.
pub(crate) fn credentials(f: &NoticeFacts<'_>, fingerprint: &str) -> Notice {
    let name = one_line(f.name, 120);
    let service = one_line(f.service_name, 120);
    Notice {
        dedupe_key: format!("job:{}:{}:credentials:{fingerprint}", f.job_id, f.attempt),
        subject: one_line(
            &format!("fedimpute: job '{name}' needs a new {service} credential"),
            200,
        ),
        body: format!(
            "{service} refused the credential fedimpute holds for you, so your job '{name}' is \
             waiting.\n\nCreate a new API token on {service} and save it in fedimpute \
             (Settings → Service Credentials): the job continues by itself.\n\nJob id: {} \
             (attempt {})\n",
            f.job_id, f.attempt
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(status: JobStatus) -> NoticeFacts<'static> {
        NoticeFacts {
            job_id: "0b0e",
            attempt: 2,
            name: "chr20\r\nBcc: x",
            service_name: "H3Africa",
            status,
            error_message: "QC failed",
            summary: "",
        }
    }

    #[test]
    fn one_notice_per_outcome_and_attempt() {
        let done = outcome(&facts(JobStatus::Completed));
        let failed = outcome(&facts(JobStatus::Failed));
        assert_eq!(done.dedupe_key, "job:0b0e:2:completed");
        assert_ne!(done.dedupe_key, failed.dedupe_key);
        assert!(failed.body.contains("Reason: QC failed"));
        assert!(!done.subject.contains('\n'), "{}", done.subject);
        let creds = credentials(&facts(JobStatus::Running), "abcd");
        assert_eq!(creds.dedupe_key, "job:0b0e:2:credentials:abcd");
    }
}
