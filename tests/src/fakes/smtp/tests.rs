//! Tests of the fake SMTP relay: through the platform's `Mailer` and over raw SMTP.

use fedimpute_common::mail::{MailError, Mailbox, Mailer, OutgoingMail, SmtpSettings};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

use super::*;

const WAIT: Duration = Duration::from_secs(10);

fn mailer(url: &str) -> Mailer {
    let settings: SmtpSettings = url.parse().expect("fake URL parses");
    let from: Mailbox = "Fedimpute <no-reply@fedimpute.test>"
        .parse()
        .expect("valid sender");
    Mailer::new(&settings, from, Duration::from_secs(5)).expect("mailer builds")
}

fn reset_mail(to: &str, token: &str) -> OutgoingMail {
    OutgoingMail {
        to: to.to_owned(),
        subject: "Reset your password".to_owned(),
        body: format!(
            "Hello,\n\nOpen https://fedimpute.test/reset-password?token={token} to choose a new password.\n"
        ),
    }
}

#[tokio::test]
async fn mailer_round_trip_with_non_ascii_text() {
    let fake = FakeSmtp::start().await;
    assert_eq!(fake.url(), format!("smtp://{}", fake.addr()));
    let url = format!("smtp://alice%40fedimpute.test:s3cr%3Aet@{}", fake.addr());
    let mailer = mailer(&url);
    let body = "Olúwadámilọ́lá — ça marche\n\n\
                .a line starting with a dot, and a long one so that the base64 wraps: \
                Ẹ káàbọ̀! Добро пожаловать! 欢迎! ¡Bienvenida!\n\
                https://fedimpute.test/reset-password?token=abc-123_XYZ%3D\n\
                .\n";
    let mail = OutgoingMail {
        to: "Olúwadámilọ́lá Adébáyọ̀ <olu@example.org>".to_owned(),
        subject: "Olúwadámilọ́lá — ça marche".to_owned(),
        body: body.to_owned(),
    };
    mailer.send(&mail).await.expect("the fake accepts the mail");

    let messages = fake.wait_for_messages(1, WAIT).await;
    assert_eq!(messages.len(), 1);
    let received = &messages[0];
    assert_eq!(received.from, "no-reply@fedimpute.test");
    assert_eq!(received.to, vec!["olu@example.org".to_owned()]);
    assert_eq!(received.auth_user.as_deref(), Some("alice@fedimpute.test"));
    assert_eq!(received.subject(), "Olúwadámilọ́lá — ça marche");
    assert_eq!(received.body(), body);
    let to = received.header("To").expect("To header");
    assert!(to.contains("Olúwadámilọ́lá Adébáyọ̀"), "{to}");
    assert!(to.contains("<olu@example.org>"), "{to}");
    assert!(
        received
            .header("content-type")
            .is_some_and(|v| v.to_ascii_lowercase().contains("text/plain")),
        "{}",
        received.data
    );
    // The raw message carries neither the password nor unencoded non-ASCII text.
    assert!(!received.data.contains("s3cr"));
    assert!(received.data.is_ascii(), "{}", received.data);

    // Pooled connection reuse: a second message on the same mailer.
    mailer
        .send(&reset_mail("bob@example.org", "t2"))
        .await
        .expect("second mail");
    let messages = fake.wait_for_messages(2, WAIT).await;
    assert_eq!(messages[1].to, vec!["bob@example.org".to_owned()]);
    assert!(
        messages[1]
            .body()
            .contains("https://fedimpute.test/reset-password?token=t2 ")
    );
    fake.stop().await;
}

#[tokio::test]
async fn temporary_failure_is_transient_and_recovers() {
    let fake = FakeSmtp::start().await;
    let pooled = mailer(&fake.url());
    pooled
        .send(&reset_mail("a@example.org", "before"))
        .await
        .expect("normal service");
    fake.wait_for_messages(1, WAIT).await;

    fake.set_fault(SmtpFault::TempFail);
    // An already open (pooled) connection gets 451 at MAIL FROM ...
    let error = pooled
        .send(&reset_mail("a@example.org", "during"))
        .await
        .expect_err("the relay is down");
    assert!(matches!(error, MailError::Transport(_)), "{error:?}");
    assert!(!error.is_permanent());
    // ... and a new connection is greeted with 421.
    let fresh = mailer(&fake.url());
    let error = fresh
        .send(&reset_mail("a@example.org", "during"))
        .await
        .expect_err("the relay is down");
    assert!(matches!(error, MailError::Transport(_)), "{error:?}");
    assert!(error.to_string().contains("421"), "{error}");
    assert!(!error.is_permanent());
    assert_eq!(
        fake.messages().len(),
        1,
        "nothing accepted during the outage"
    );

    fake.set_fault(SmtpFault::None);
    pooled
        .send(&reset_mail("a@example.org", "after-1"))
        .await
        .expect("service restored");
    fresh
        .send(&reset_mail("a@example.org", "after-2"))
        .await
        .expect("service restored");
    let messages = fake.wait_for_messages(3, WAIT).await;
    let bodies: Vec<String> = messages.iter().map(ReceivedMail::body).collect();
    assert!(bodies[0].contains("token=before "));
    assert!(bodies[1].contains("token=after-1 "));
    assert!(bodies[2].contains("token=after-2 "));
    fake.stop().await;
}

#[tokio::test]
async fn permanent_failure_is_rejected() {
    let fake = FakeSmtp::start().await;
    fake.set_fault(SmtpFault::PermFail);
    let error = mailer(&fake.url())
        .send(&reset_mail("gone@example.org", "x"))
        .await
        .expect_err("recipient refused");
    assert!(matches!(error, MailError::Rejected(_)), "{error:?}");
    assert!(error.to_string().contains("550"), "{error}");
    assert!(error.is_permanent());
    assert!(fake.messages().is_empty());
    fake.stop().await;
}

#[tokio::test]
async fn stopped_relay_is_a_transient_error_without_credentials() {
    let fake = FakeSmtp::start().await;
    let url = format!("smtp://mailer:hunter2@{}", fake.addr());
    fake.stop().await;
    let error = mailer(&url)
        .send(&reset_mail("a@example.org", "x"))
        .await
        .expect_err("connection refused");
    assert!(matches!(error, MailError::Transport(_)), "{error:?}");
    assert!(!error.is_permanent());
    assert!(!format!("{error} {error:?}").contains("hunter2"));
}

#[tokio::test]
#[should_panic(expected = "expected at least 1 message(s) within")]
async fn waiting_for_mail_that_never_comes_panics() {
    let fake = FakeSmtp::start().await;
    fake.wait_for_messages(1, Duration::from_millis(50)).await;
}

/// A line-oriented raw SMTP client.
struct Client {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
}

impl Client {
    async fn connect(fake: &FakeSmtp) -> (Self, String) {
        let stream = TcpStream::connect(fake.addr()).await.expect("connects");
        let (reader, writer) = stream.into_split();
        let mut client = Self {
            reader: BufReader::new(reader),
            writer,
        };
        let greeting = client.reply().await;
        (client, greeting)
    }

    /// Reads a whole (possibly multi-line) reply, lines joined with `\n`.
    async fn reply(&mut self) -> String {
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            let read = self.reader.read_line(&mut line).await.expect("reads");
            if read == 0 {
                break;
            }
            let line = line.trim_end().to_owned();
            let last = line.as_bytes().get(3) != Some(&b'-');
            lines.push(line);
            if last {
                break;
            }
        }
        lines.join("\n")
    }

    async fn send(&mut self, raw: &str) {
        self.writer.write_all(raw.as_bytes()).await.expect("writes");
    }

    async fn command(&mut self, line: &str) -> String {
        self.send(&format!("{line}\r\n")).await;
        self.reply().await
    }
}

#[tokio::test]
async fn raw_protocol_dot_stuffing_and_sequencing() {
    let fake = FakeSmtp::start().await;
    let (mut c, greeting) = Client::connect(&fake).await;
    assert!(greeting.starts_with("220 "), "{greeting}");
    let ehlo = c.command("EHLO client.test").await;
    assert!(ehlo.starts_with("250-"), "{ehlo}");
    assert!(ehlo.contains("250-AUTH PLAIN LOGIN"), "{ehlo}");
    assert!(ehlo.lines().last().is_some_and(|l| l.starts_with("250 ")));

    assert!(
        c.command("RCPT TO:<x@example.org>")
            .await
            .starts_with("503")
    );
    assert!(c.command("DATA").await.starts_with("503"));
    assert!(c.command("MAIL <nope>").await.starts_with("501"));
    assert!(c.command("VRFY x").await.starts_with("502"));
    assert!(c.command("NOOP").await.starts_with("250"));

    // AUTH LOGIN with challenges; "carol" / "pw".
    assert_eq!(c.command("AUTH LOGIN").await, "334 VXNlcm5hbWU6");
    assert_eq!(c.command("Y2Fyb2w=").await, "334 UGFzc3dvcmQ6");
    assert!(c.command("cHc=").await.starts_with("235"));

    // An abandoned transaction is forgotten after RSET.
    assert!(
        c.command("MAIL FROM:<old@example.org>")
            .await
            .starts_with("250")
    );
    assert!(
        c.command("RCPT TO:<old@example.org>")
            .await
            .starts_with("250")
    );
    assert!(c.command("RSET").await.starts_with("250"));

    assert!(
        c.command("mail from:<s@example.org> BODY=8BITMIME")
            .await
            .starts_with("250")
    );
    // DATA without a recipient is refused but keeps the sender.
    assert!(c.command("DATA").await.starts_with("503"));
    assert!(
        c.command("RCPT TO:<r1@example.org>")
            .await
            .starts_with("250")
    );
    assert!(
        c.command("RCPT TO:<r2@example.org>")
            .await
            .starts_with("250")
    );
    assert!(c.command("DATA").await.starts_with("354"));
    c.send("Subject: =?utf-8?q?=C3=A7a_marche?= =?utf-8?b?IOKAlCBvaw==?=\r\n\r\n..leading dot\r\nplain\r\n.\r\n")
        .await;
    assert!(c.reply().await.starts_with("250"));
    assert!(c.command("QUIT").await.starts_with("221"));

    let messages = fake.wait_for_messages(1, WAIT).await;
    let mail = &messages[0];
    assert_eq!(mail.from, "s@example.org");
    assert_eq!(mail.to, vec!["r1@example.org", "r2@example.org"]);
    assert_eq!(mail.auth_user.as_deref(), Some("carol"));
    assert_eq!(mail.subject(), "ça marche — ok");
    assert_eq!(mail.body(), ".leading dot\nplain");
    assert!(
        mail.data.ends_with("\r\n\r\n.leading dot\r\nplain"),
        "{:?}",
        mail.data
    );

    // AUTH PLAIN with an initial response on a HELO session.
    let (mut c, _) = Client::connect(&fake).await;
    assert!(c.command("HELO client.test").await.starts_with("250 "));
    // "\0dave\0secret"
    assert!(
        c.command("AUTH PLAIN AGRhdmUAc2VjcmV0")
            .await
            .starts_with("235")
    );
    assert!(c.command("AUTH PLAIN !!!").await.starts_with("501"));
    fake.stop().await;
}

#[tokio::test]
async fn temp_fail_greeting_closes_the_connection() {
    let fake = FakeSmtp::start().await;
    fake.set_fault(SmtpFault::TempFail);
    let (mut c, greeting) = Client::connect(&fake).await;
    assert!(greeting.starts_with("421 "), "{greeting}");
    assert_eq!(c.reply().await, "", "the connection is closed");
    fake.stop().await;
}

fn mail_with(head: &str, body: &str) -> ReceivedMail {
    ReceivedMail {
        from: "s@example.org".into(),
        to: vec!["r@example.org".into()],
        data: format!("{head}\r\n\r\n{body}"),
        auth_user: None,
    }
}

#[test]
fn body_decodes_each_transfer_encoding() {
    let qp = mail_with(
        "Content-Transfer-Encoding: quoted-printable",
        "Ol=C3=BAwad=C3=A1mil=E1=BB=8D=CC=81l=C3=A1 =E2=80=94 =C3=A7a marche, a soft=\r\n break\r\nnext=3Dline\r\n",
    );
    assert_eq!(
        qp.body(),
        "Olúwadámilọ́lá — ça marche, a soft break\nnext=line"
    );
    let b64 = mail_with(
        "Content-Transfer-Encoding: BASE64",
        "w6dhIG1h\r\ncmNoZQ0K\r\n",
    );
    assert_eq!(b64.body(), "ça marche\n");
    let plain = mail_with("Subject: hi", "line one\r\nline two\r\n");
    assert_eq!(plain.body(), "line one\nline two");
    assert_eq!(plain.subject(), "hi");
}

#[test]
fn headers_unfold_and_decode() {
    let mail = mail_with(
        "Subject: =?utf-8?b?T2zDunc=?=\r\n =?utf-8?b?YWTDoQ==?= and more\r\nX-Plain: a =?bogus\r\nTo: x",
        "",
    );
    assert_eq!(mail.subject(), "Olúwadá and more");
    assert_eq!(mail.header("x-plain").as_deref(), Some("a =?bogus"));
    assert_eq!(mail.header("To").as_deref(), Some("x"));
    assert_eq!(mail.header("Cc"), None);
}

#[test]
fn base64_and_envelope_paths() {
    assert_eq!(decode_base64("aGk=").as_deref(), Some(&b"hi"[..]));
    assert_eq!(decode_base64("a G\r\nk").as_deref(), Some(&b"hi"[..]));
    assert_eq!(decode_base64("a*"), None);
    assert_eq!(
        path_argument("FROM:<a@b> SIZE=10", "FROM:").as_deref(),
        Some("a@b")
    );
    assert_eq!(path_argument("to: <a@b>", "TO:").as_deref(), Some("a@b"));
    assert_eq!(path_argument("FROM:<>", "FROM:").as_deref(), Some(""));
    assert_eq!(path_argument("FROM:a@b", "FROM:"), None);
}
