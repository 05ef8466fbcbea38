//! SMTP relay settings: the connection security mode, the parsed relay URL
//! (`smtp[+starttls|s]://[user[:password]@]host[:port]`) and why a URL is
//! refused. The parent `mail` module documents the URL forms.

use std::{fmt, str::FromStr};

use url::{Host, Url};

use super::REDACTED;

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

#[cfg(test)]
mod tests;
