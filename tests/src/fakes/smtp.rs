//! Loopback fake of an SMTP relay: a real, minimal SMTP server (RFC 5321 subset) that
//! stores every message it accepts, so tests can read back what the platform mailed.
//!
//! It greets `220`, answers `EHLO`/`HELO` (advertising `8BITMIME`, `SMTPUTF8` and
//! `AUTH PLAIN LOGIN`; any credentials are accepted and the user name is recorded),
//! `AUTH`, `MAIL FROM`, `RCPT TO`, `DATA` (dot-terminated, dot-stuffing undone), `RSET`,
//! `NOOP` and `QUIT`; anything else gets `502`. No TLS: use an `smtp://` URL.

mod decode;
mod session;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tokio::task::{JoinHandle, JoinSet};

use self::decode::{
    decode_base64, decode_encoded_words, decode_quoted_printable, raw_header, split_message,
};
#[cfg(test)]
use self::session::path_argument;
use self::session::session;
use super::{STOP_GRACE, lock};

/// A fault injected into a [`FakeSmtp`], for tests of a mail outage.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SmtpFault {
    /// Normal service.
    #[default]
    None,
    /// Transient failure: new connections are greeted with `421` and closed; on an
    /// already open (pooled) connection `MAIL FROM` and `DATA` get `451`. Nothing is stored.
    TempFail,
    /// Permanent failure: every `RCPT TO` gets `550` (mailbox unavailable). Nothing is stored.
    PermFail,
}

/// One message the fake accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceivedMail {
    /// The envelope sender (`MAIL FROM`), without angle brackets.
    pub from: String,
    /// The envelope recipients (`RCPT TO`), without angle brackets.
    pub to: Vec<String>,
    /// The message as transmitted after `DATA` (headers, blank line, encoded body): the
    /// bytes before `<CRLF>.<CRLF>`, with dot-stuffing undone and CRLF line endings.
    pub data: String,
    /// The user name of a successful `AUTH` on that connection, if any.
    pub auth_user: Option<String>,
}

impl ReceivedMail {
    /// The value of the first header named `name` (case-insensitive), unfolded and with
    /// RFC 2047 encoded-words (`=?utf-8?b?…?=`, `=?utf-8?q?…?=`) decoded.
    pub fn header(&self, name: &str) -> Option<String> {
        let (head, _) = split_message(&self.data);
        raw_header(head, name).map(|value| decode_encoded_words(&value))
    }

    /// The decoded `Subject` header (empty when absent).
    pub fn subject(&self) -> String {
        self.header("Subject").unwrap_or_default()
    }

    /// The body, decoded from its `Content-Transfer-Encoding` (base64, quoted-printable,
    /// or 7bit/8bit as is) as UTF-8, with line endings normalised to `\n`. This is exactly
    /// the `body` a [`fedimpute_common::mail::Mailer`] was given, once its `\r\n` line
    /// endings are written as `\n`.
    pub fn body(&self) -> String {
        let (head, body) = split_message(&self.data);
        // lettre ends every message with one CRLF after the body.
        let body = body.strip_suffix("\r\n").unwrap_or(body);
        let encoding = raw_header(head, "Content-Transfer-Encoding")
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        let bytes = match encoding.as_str() {
            "base64" => decode_base64(body)
                .unwrap_or_else(|| panic!("FakeSmtp: body is not valid base64: {body:?}")),
            "quoted-printable" => decode_quoted_printable(body),
            _ => body.as_bytes().to_vec(),
        };
        String::from_utf8_lossy(&bytes).replace("\r\n", "\n")
    }
}

#[derive(Debug, Default)]
struct State {
    fault: SmtpFault,
    messages: Vec<ReceivedMail>,
}

/// What a connection task shares with the fake.
#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    /// The number of stored messages, for [`FakeSmtp::wait_for_messages`].
    count: watch::Sender<usize>,
}

impl Shared {
    fn fault(&self) -> SmtpFault {
        lock(&self.state).fault
    }

    fn store(&self, mail: ReceivedMail) {
        let count = {
            let mut state = lock(&self.state);
            state.messages.push(mail);
            state.messages.len()
        };
        self.count.send_replace(count);
    }
}

/// A running fake SMTP relay on `127.0.0.1:<ephemeral port>`.
#[derive(Debug)]
pub struct FakeSmtp {
    shared: Arc<Shared>,
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl FakeSmtp {
    /// Starts the fake on an ephemeral loopback port.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a fake server must be able to bind a loopback port");
        let addr = listener
            .local_addr()
            .expect("a bound listener has a local address");
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            count: watch::Sender::new(0),
        });
        let (shutdown, signal) = oneshot::channel();
        let task = tokio::spawn(serve(listener, Arc::clone(&shared), signal));
        Self {
            shared,
            addr,
            shutdown: Some(shutdown),
            task: Some(task),
        }
    }

    /// `127.0.0.1:<port>`.
    pub fn addr(&self) -> String {
        self.addr.to_string()
    }

    /// `smtp://127.0.0.1:<port>`, for `SmtpSettings` (plaintext, no credentials).
    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    /// Injects a fault ([`SmtpFault::None`] restores normal service).
    pub fn set_fault(&self, fault: SmtpFault) {
        lock(&self.shared.state).fault = fault;
    }

    /// Every message accepted so far, oldest first.
    pub fn messages(&self) -> Vec<ReceivedMail> {
        lock(&self.shared.state).messages.clone()
    }

    /// Waits until at least `n` messages were accepted and returns all of them; panics
    /// if that takes longer than `timeout`.
    pub async fn wait_for_messages(&self, n: usize, timeout: Duration) -> Vec<ReceivedMail> {
        let mut count = self.shared.count.subscribe();
        let reached = tokio::time::timeout(timeout, count.wait_for(|count| *count >= n)).await;
        match reached {
            Ok(Ok(_)) => self.messages(),
            // The sender lives in `self.shared`, so the channel cannot close while waiting.
            Ok(Err(_)) => unreachable!("FakeSmtp: message counter closed"),
            Err(_) => {
                let messages = self.messages();
                let summary: Vec<String> = messages
                    .iter()
                    .map(|m| format!("to {:?}: {:?}", m.to, m.subject()))
                    .collect();
                panic!(
                    "FakeSmtp at {}: expected at least {n} message(s) within {timeout:?}, \
                     got {}: {summary:?}",
                    self.addr,
                    messages.len()
                );
            }
        }
    }

    /// Shuts the server down, dropping open connections; afterwards connecting to its
    /// port is refused.
    pub async fn stop(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(task) = self.task.take() {
            let abort = task.abort_handle();
            if tokio::time::timeout(STOP_GRACE, task).await.is_err() {
                abort.abort();
            }
        }
    }
}

/// Accepts connections until `signal` fires (or its sender is dropped), then drops the
/// listener and aborts every session.
async fn serve(listener: TcpListener, shared: Arc<Shared>, mut signal: oneshot::Receiver<()>) {
    let mut sessions = JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut signal => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    sessions.spawn(session(stream, Arc::clone(&shared)));
                }
                Err(error) => {
                    tracing::warn!(%error, "fake SMTP server failed to accept a connection");
                    // Back off briefly rather than spin on e.g. EMFILE.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            Some(_) = sessions.join_next(), if !sessions.is_empty() => {}
        }
    }
    drop(listener);
    sessions.shutdown().await;
}

#[cfg(test)]
mod tests;
