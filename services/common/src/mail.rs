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

use std::{fmt, str::FromStr, sync::Arc, time::Duration};

use lettre::{
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::header::{ContentTransferEncoding, ContentType},
    transport::smtp::{
        authentication::Credentials,
        client::{Tls, TlsParameters},
    },
};
use url::{Host, Url};

pub use lettre::message::Mailbox;

/// A reasonable per-command SMTP timeout (connect, greeting, each reply).
pub const DEFAULT_SMTP_TIMEOUT: Duration = Duration::from_secs(30);

/// What stands in for the password in `Debug` and `Display` output.
const REDACTED: &str = "***";

/// How the connection to the relay is secured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// `smtp://`: plaintext, for a local relay or tests only.
    Plain,
    /// `smtp+starttls://`: plaintext upgraded with STARTTLS, which is required.
    StartTls,
    /// `smtps://`: TLS from the first byte.
    ImplicitTls,
}

impl SmtpSecurity {
    /// The URL scheme naming this mode.
    pub fn scheme(self) -> &'static str {
        match self {
            Self::Plain => "smtp",
            Self::StartTls => "smtp+starttls",
            Self::ImplicitTls => "smtps",
        }
    }

    /// The port used when the URL names none (25, 587 or 465).
    pub fn default_port(self) -> u16 {
        match self {
            Self::Plain => 25,
            Self::StartTls => 587,
            Self::ImplicitTls => 465,
        }
    }

    fn from_scheme(scheme: &str) -> Option<Self> {
        match scheme {
            "smtp" => Some(Self::Plain),
            "smtp+starttls" => Some(Self::StartTls),
            "smtps" => Some(Self::ImplicitTls),
            _ => None,
        }
    }
}

/// Why an SMTP URL (or the TLS set-up for its host) was refused. No variant
/// carries any part of the password.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SmtpSettingsError {
    /// The URL does not parse at all.
    #[error(
        "SMTP URL is malformed: {0} (percent-encode special characters in the user name and password)"
    )]
    Malformed(String),
    /// The scheme is none of `smtp`, `smtp+starttls`, `smtps`.
    #[error("SMTP URL scheme '{0}' is not supported (use smtp://, smtp+starttls:// or smtps://)")]
    Scheme(String),
    /// No host after the scheme.
    #[error("SMTP URL has no host")]
    MissingHost,
    /// The host is not a plain DNS name or IP address.
    #[error("SMTP URL host is not a valid host name or IP address")]
    InvalidHost,
    /// Port 0 was given.
    #[error("SMTP URL port must not be 0")]
    InvalidPort,
    /// `:password@` without a user name.
    #[error("SMTP URL has a password but no user name")]
    PasswordWithoutUser,
    /// The user name does not decode to UTF-8.
    #[error("SMTP URL user name is not valid UTF-8 once percent-decoded")]
    UserNotUtf8,
    /// The password does not decode to UTF-8.
    #[error("SMTP URL password is not valid UTF-8 once percent-decoded")]
    PasswordNotUtf8,
    /// Something follows the host and port.
    #[error(
        "SMTP URL must not have a path, query or fragment (percent-encode special characters in the user name and password)"
    )]
    Trailing,
    /// TLS parameters cannot be built for the host.
    #[error("cannot set up TLS for the SMTP host: {0}")]
    Tls(String),
}

/// Where and how to reach the SMTP relay, parsed from
/// `smtp[+starttls|s]://[user[:password]@]host[:port]`.
///
/// `Debug` and `Display` redact the password.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpSettings {
    security: SmtpSecurity,
    host: String,
    port: u16,
    username: Option<String>,
    password: Option<String>,
}

impl SmtpSettings {
    /// How the connection is secured.
    pub fn security(&self) -> SmtpSecurity {
        self.security
    }

    /// The relay's host name or IP address (IPv6 without brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The relay's port (the scheme's default when the URL names none).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The percent-decoded user name, when the URL has one.
    pub fn username(&self) -> Option<&str> {
        self.username.as_deref()
    }

    /// The percent-decoded password, when the URL has one. Do not log it.
    pub fn password(&self) -> Option<&str> {
        self.password.as_deref()
    }
}

impl FromStr for SmtpSettings {
    type Err = SmtpSettingsError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // `url`'s error messages are fixed strings: they never echo the input.
        let url = Url::parse(s.trim())
            .map_err(|error| SmtpSettingsError::Malformed(error.to_string()))?;
        let security = SmtpSecurity::from_scheme(url.scheme())
            .ok_or_else(|| SmtpSettingsError::Scheme(url.scheme().to_owned()))?;
        let host = match url.host() {
            None => return Err(SmtpSettingsError::MissingHost),
            Some(Host::Domain("")) => return Err(SmtpSettingsError::MissingHost),
            Some(Host::Domain(domain)) => {
                let valid = domain
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'));
                if !valid {
                    return Err(SmtpSettingsError::InvalidHost);
                }
                domain.to_ascii_lowercase()
            }
            Some(Host::Ipv4(ip)) => ip.to_string(),
            Some(Host::Ipv6(ip)) => ip.to_string(),
        };
        if !matches!(url.path(), "" | "/") || url.query().is_some() || url.fragment().is_some() {
            return Err(SmtpSettingsError::Trailing);
        }
        let port = match url.port() {
            Some(0) => return Err(SmtpSettingsError::InvalidPort),
            Some(port) => port,
            None => security.default_port(),
        };
        let username = match url.username() {
            "" => None,
            user => Some(percent_decode(user).ok_or(SmtpSettingsError::UserNotUtf8)?),
        };
        let password = match url.password() {
            None => None,
            Some(password) => {
                Some(percent_decode(password).ok_or(SmtpSettingsError::PasswordNotUtf8)?)
            }
        };
        if username.is_none() && password.is_some() {
            return Err(SmtpSettingsError::PasswordWithoutUser);
        }
        Ok(Self {
            security,
            host,
            port,
            username,
            password,
        })
    }
}

impl TryFrom<&str> for SmtpSettings {
    type Error = SmtpSettingsError;

    fn try_from(value: &str) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("security", &self.security)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| REDACTED))
            .finish()
    }
}

/// The URL with the password replaced by `***` (the user name is shown
/// decoded), for logs.
impl fmt::Display for SmtpSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://", self.security.scheme())?;
        if let Some(user) = &self.username {
            f.write_str(user)?;
            if self.password.is_some() {
                write!(f, ":{REDACTED}")?;
            }
            f.write_str("@")?;
        }
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// Decodes `%XX` escapes (a `%` not followed by two hex digits is kept);
/// `None` when the result is not UTF-8.
fn percent_decode(input: &str) -> Option<String> {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

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
        let tls = match settings.security {
            SmtpSecurity::Plain => Tls::None,
            SmtpSecurity::StartTls => Tls::Required(tls_parameters(&settings.host)?),
            SmtpSecurity::ImplicitTls => Tls::Wrapper(tls_parameters(&settings.host)?),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&settings.host)
            .port(settings.port)
            .tls(tls)
            .timeout(Some(timeout));
        if let Some(user) = &settings.username {
            let password = settings.password.clone().unwrap_or_default();
            builder = builder.credentials(Credentials::new(user.clone(), password));
        }
        Ok(Self {
            transport: builder.build(),
            from,
            relay: settings.to_string(),
            timeout,
            password: settings
                .password
                .as_deref()
                .filter(|p| !p.is_empty())
                .map(Arc::from),
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

    #[test]
    fn schemes_pick_security_and_default_port() {
        let plain = parse("smtp://localhost");
        assert_eq!(plain.security(), SmtpSecurity::Plain);
        assert_eq!((plain.host(), plain.port()), ("localhost", 25));
        assert_eq!((plain.username(), plain.password()), (None, None));

        let starttls = parse("smtp+starttls://mail.example.org");
        assert_eq!(starttls.security(), SmtpSecurity::StartTls);
        assert_eq!(starttls.port(), 587);

        let implicit = parse("smtps://Mail.Example.org/");
        assert_eq!(implicit.security(), SmtpSecurity::ImplicitTls);
        assert_eq!(
            (implicit.host(), implicit.port()),
            ("mail.example.org", 465)
        );
    }

    #[test]
    fn explicit_port_and_ip_hosts() {
        let v4 = parse("smtp://127.0.0.1:2525");
        assert_eq!((v4.host(), v4.port()), ("127.0.0.1", 2525));
        let v6 = parse("smtps://[::1]:1465");
        assert_eq!((v6.host(), v6.port()), ("::1", 1465));
        assert_eq!(v6.to_string(), "smtps://[::1]:1465");
    }

    #[test]
    fn credentials_are_percent_decoded() {
        let settings = parse(
            "smtp+starttls://no-reply%40example.org:p%40ss%3Aw%2Frd%20%C3%A9@mail.example.org",
        );
        assert_eq!(settings.username(), Some("no-reply@example.org"));
        assert_eq!(settings.password(), Some("p@ss:w/rd é"));
        // A raw '@' or ':' inside the password is fine too: the last '@' ends it.
        let raw = parse("smtp://user:a:b@c@relay:25");
        assert_eq!(raw.username(), Some("user"));
        assert_eq!(raw.password(), Some("a:b@c"));
        assert_eq!(raw.host(), "relay");
        let user_only = parse("smtp://user@relay");
        assert_eq!(
            (user_only.username(), user_only.password()),
            (Some("user"), None)
        );
    }

    #[test]
    fn try_from_matches_from_str() {
        let url = "smtps://u:pw@relay.example.org:2465";
        assert_eq!(SmtpSettings::try_from(url), url.parse::<SmtpSettings>());
    }

    #[test]
    fn bad_urls_say_what_is_wrong() {
        let cases = [
            ("http://relay", SmtpSettingsError::Scheme("http".into())),
            ("smtp://", SmtpSettingsError::MissingHost),
            ("smtp:relay", SmtpSettingsError::MissingHost),
            ("smtp://relay:0", SmtpSettingsError::InvalidPort),
            ("smtp://:pw@relay", SmtpSettingsError::PasswordWithoutUser),
            ("smtp://u:%FF@relay", SmtpSettingsError::PasswordNotUtf8),
            ("smtp://%FF:pw@relay", SmtpSettingsError::UserNotUtf8),
            ("smtp://relay/path", SmtpSettingsError::Trailing),
            ("smtp://relay?tls=on", SmtpSettingsError::Trailing),
            ("smtp://re%20lay", SmtpSettingsError::InvalidHost),
        ];
        for (url, expected) in cases {
            assert_eq!(url.parse::<SmtpSettings>(), Err(expected), "{url}");
        }
        assert!(matches!(
            "smtp://relay:99999".parse::<SmtpSettings>(),
            Err(SmtpSettingsError::Malformed(_))
        ));
        assert!(matches!(
            "not a url".parse::<SmtpSettings>(),
            Err(SmtpSettingsError::Malformed(_))
        ));
    }

    #[test]
    fn errors_never_contain_the_password() {
        // Unencoded special characters in the password break the URL apart in
        // various ways; none of the resulting messages may echo any of it.
        let urls = [
            "smtp://user:hunter2/xyzzy@relay",
            "smtp://user:12/hunter2@relay",
            "smtp://user:12?hunter2@relay",
            "smtp://user:12#hunter2@relay",
            "smtp://user:hunter2#x@relay",
            "smtp://user:hunter2@relay/extra",
            "smtp://user:hunter2@relay:0",
            "smtp://user:hunter2@re%20lay",
            "smtp://user:hunter2%FF@relay",
            "ftp://user:hunter2@relay",
            "smtp://:hunter2@relay",
        ];
        for url in urls {
            let error = url
                .parse::<SmtpSettings>()
                .expect_err(&format!("{url} should be refused"));
            let shown = format!("{error} / {error:?}");
            assert!(!shown.contains("hunter2"), "{url}: {shown}");
            assert!(!shown.contains("xyzzy"), "{url}: {shown}");
        }
    }

    #[test]
    fn debug_and_display_redact_the_password() {
        let settings = parse("smtp+starttls://mailer:hunter2@mail.example.org");
        let debug = format!("{settings:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("***"), "{debug}");
        assert!(debug.contains("mailer"), "{debug}");
        assert_eq!(
            settings.to_string(),
            "smtp+starttls://mailer:***@mail.example.org:587"
        );
        let no_password = parse("smtp://relay");
        assert!(format!("{no_password:?}").contains("password: None"));
        assert_eq!(no_password.to_string(), "smtp://relay:25");
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
