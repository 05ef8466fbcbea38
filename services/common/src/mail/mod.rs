//! Outgoing mail over SMTP: relay settings parsed from one URL, and a
//! [`Mailer`] that sends plain-text UTF-8 messages through a pooled
//! `lettre` transport.
//!
//! Relay URLs:
//!
//! | scheme             | security                                  | default port |
//! |--------------------|-------------------------------------------|--------------|
//! | `smtp://`          | plaintext (local relay, tests)            | 25           |
//! | `smtp+starttls://` | STARTTLS required, never falls back       | 587          |
//! | `smtps://`         | implicit TLS                              | 465          |
//!
//! `[user[:password]@]` may precede the host; both are percent-decoded.
//! Neither errors nor `Debug`/`Display` output ever contain the password.

mod settings;

use std::{fmt, sync::Arc, time::Duration};

use lettre::{
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::header::{ContentTransferEncoding, ContentType},
    transport::smtp::{
        authentication::Credentials,
        client::{Tls, TlsParameters},
    },
};

pub use lettre::message::Mailbox;
pub use settings::{SmtpSecurity, SmtpSettings, SmtpSettingsError};

/// A reasonable per-command SMTP timeout (connect, greeting, each reply).
pub const DEFAULT_SMTP_TIMEOUT: Duration = Duration::from_secs(30);

/// What stands in for the password in `Debug` and `Display` output.
const REDACTED: &str = "***";

/// A plain-text UTF-8 message to one recipient.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutgoingMail {
    /// `user@example.org` or `Name <user@example.org>`.
    pub to: String,
    /// The subject line (line breaks are replaced by spaces).
    pub subject: String,
    /// The plain-text body; sent base64-encoded, with line endings as CRLF.
    pub body: String,
}

/// Why a message was not sent. Messages never contain credentials.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MailError {
    /// The recipient or sender address is unusable (permanent).
    #[error("invalid mail address: {0}")]
    InvalidAddress(String),
    /// The relay could not be reached or answered 4xx, or a timeout expired
    /// (transient: worth retrying later).
    #[error("mail transport failed: {0}")]
    Transport(String),
    /// The relay refused the message with a 5xx reply, or the client cannot
    /// talk to it as configured (permanent).
    #[error("mail rejected: {0}")]
    Rejected(String),
}

impl MailError {
    /// Whether retrying the same message cannot succeed.
    pub fn is_permanent(&self) -> bool {
        match self {
            Self::InvalidAddress(_) | Self::Rejected(_) => true,
            Self::Transport(_) => false,
        }
    }
}

/// Sends mail through one SMTP relay over a connection pool. Cheap to clone
/// (clones share the pool).
///
/// Built and dropped inside a Tokio runtime: the pool runs a background task.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// The relay URL with the password redacted.
    relay: String,
    timeout: Duration,
    /// Scrubbed from error messages, in case a server echoes it.
    password: Option<Arc<str>>,
}

impl fmt::Debug for Mailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mailer")
            .field("relay", &self.relay)
            .field("from", &self.from.to_string())
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Mailer {
    /// A mailer for the relay in `settings`, sending as `from`; `timeout`
    /// bounds connecting and each SMTP reply (see [`DEFAULT_SMTP_TIMEOUT`]).
    /// Nothing is connected until the first [`Mailer::send`].
    pub fn new(
        settings: &SmtpSettings,
        from: Mailbox,
        timeout: Duration,
    ) -> Result<Self, SmtpSettingsError> {
        let tls = match settings.security() {
            SmtpSecurity::Plain => Tls::None,
            SmtpSecurity::StartTls => Tls::Required(tls_parameters(settings.host())?),
            SmtpSecurity::ImplicitTls => Tls::Wrapper(tls_parameters(settings.host())?),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(settings.host())
            .port(settings.port())
            .tls(tls)
            .timeout(Some(timeout));
        if let Some(user) = settings.username() {
            let password = settings.password().unwrap_or_default().to_owned();
            builder = builder.credentials(Credentials::new(user.to_owned(), password));
        }
        Ok(Self {
            transport: builder.build(),
            from,
            relay: settings.to_string(),
            timeout,
            password: settings.password().filter(|p| !p.is_empty()).map(Arc::from),
        })
    }

    /// The sender address of every message.
    pub fn from(&self) -> &Mailbox {
        &self.from
    }

    /// Sends `mail` as a `text/plain; charset=utf-8` message with a base64
    /// body. Returns once the relay accepted it.
    pub async fn send(&self, mail: &OutgoingMail) -> Result<(), MailError> {
        let to: Mailbox = mail.to.parse().map_err(|error| {
            MailError::InvalidAddress(format!("recipient '{}': {error}", mail.to))
        })?;
        let subject = mail.subject.replace(['\r', '\n'], " ");
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .header(ContentTransferEncoding::Base64)
            .body(mail.body.clone())
            .map_err(|error| MailError::InvalidAddress(error.to_string()))?;
        self.transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|error| self.classify(&error))
    }

    /// Maps a transport error to permanent or transient, without secrets.
    fn classify(&self, error: &lettre::transport::smtp::Error) -> MailError {
        let mut text = error.to_string();
        if let Some(password) = &self.password {
            text = text.replace(&**password, REDACTED);
        }
        if error.is_permanent() || error.is_client() {
            MailError::Rejected(text)
        } else {
            MailError::Transport(text)
        }
    }
}

fn tls_parameters(host: &str) -> Result<TlsParameters, SmtpSettingsError> {
    TlsParameters::new(host.to_owned()).map_err(|error| SmtpSettingsError::Tls(error.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(url: &str) -> SmtpSettings {
        url.parse()
            .unwrap_or_else(|error| panic!("{url} should parse: {error}"))
    }

    #[tokio::test]
    async fn mailer_debug_has_no_secrets() {
        for url in [
            "smtp://mailer:hunter2@127.0.0.1:2525",
            "smtp+starttls://mailer:hunter2@mail.example.org",
            "smtps://mailer:hunter2@mail.example.org",
        ] {
            let from: Mailbox = "Fedimpute <no-reply@example.org>".parse().unwrap();
            let mailer = Mailer::new(&parse(url), from, DEFAULT_SMTP_TIMEOUT).unwrap();
            let debug = format!("{mailer:?}");
            assert!(!debug.contains("hunter2"), "{debug}");
            assert!(debug.contains("mailer:***@"), "{debug}");
            assert_eq!(mailer.from().email.to_string(), "no-reply@example.org");
        }
    }

    #[tokio::test]
    async fn bad_recipient_is_a_permanent_error() {
        let from: Mailbox = "no-reply@example.org".parse().unwrap();
        // Port 9 (discard) on loopback: never reached, the address fails first.
        let mailer = Mailer::new(&parse("smtp://127.0.0.1:9"), from, DEFAULT_SMTP_TIMEOUT).unwrap();
        let error = mailer
            .send(&OutgoingMail {
                to: "not an address".into(),
                subject: "s".into(),
                body: "b".into(),
            })
            .await
            .unwrap_err();
        assert!(matches!(error, MailError::InvalidAddress(_)), "{error:?}");
        assert!(error.is_permanent());
    }

    #[test]
    fn permanence() {
        assert!(MailError::InvalidAddress(String::new()).is_permanent());
        assert!(MailError::Rejected(String::new()).is_permanent());
        assert!(!MailError::Transport(String::new()).is_permanent());
    }
}
