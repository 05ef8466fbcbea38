//! Unit tests of SMTP URL parsing and password redaction.

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
    let settings =
        parse("smtp+starttls://no-reply%40example.org:p%40ss%3Aw%2Frd%20%C3%A9@mail.example.org");
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
