//! Loopback fake of an SMTP relay: a real, minimal SMTP server (RFC 5321 subset) that
//! stores every message it accepts, so tests can read back what the platform mailed.
//!
//! It greets `220`, answers `EHLO`/`HELO` (advertising `8BITMIME`, `SMTPUTF8` and
//! `AUTH PLAIN LOGIN`; any credentials are accepted and the user name is recorded),
//! `AUTH`, `MAIL FROM`, `RCPT TO`, `DATA` (dot-terminated, dot-stuffing undone), `RSET`,
//! `NOOP` and `QUIT`; anything else gets `502`. No TLS: use an `smtp://` URL.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch};
use tokio::task::{JoinHandle, JoinSet};

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

/// The longest command or data line accepted (RFC 5321 asks for 1000 octets; be lenient).
const MAX_LINE: usize = 64 * 1024;

/// One SMTP conversation; I/O errors just end it.
async fn session(stream: TcpStream, shared: Arc<Shared>) {
    if let Err(error) = converse(stream, &shared).await {
        tracing::debug!(%error, "fake SMTP session ended with an error");
    }
}

async fn converse(stream: TcpStream, shared: &Shared) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let (reader, mut writer) = stream.into_split();
    let mut reader = BufReader::new(reader);
    if shared.fault() == SmtpFault::TempFail {
        reply(
            &mut writer,
            "421 4.3.2 service not available, closing channel",
        )
        .await?;
        return Ok(());
    }
    reply(&mut writer, "220 fake-smtp ESMTP ready").await?;

    let mut auth_user: Option<String> = None;
    let mut from: Option<String> = None;
    let mut to: Vec<String> = Vec::new();
    while let Some(line) = read_line(&mut reader).await? {
        let line = line.trim_end_matches(['\r', '\n']);
        let (verb, argument) = line.split_once(' ').unwrap_or((line, ""));
        let argument = argument.trim();
        match verb.to_ascii_uppercase().as_str() {
            "EHLO" => {
                from = None;
                to.clear();
                let greeting = format!(
                    "250-fake-smtp greets {argument}\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n\
                     250-AUTH PLAIN LOGIN\r\n250 HELP"
                );
                reply(&mut writer, &greeting).await?;
            }
            "HELO" => {
                from = None;
                to.clear();
                reply(&mut writer, "250 fake-smtp").await?;
            }
            "AUTH" => match authenticate(argument, &mut reader, &mut writer).await? {
                Some(user) => {
                    auth_user = Some(user);
                    reply(&mut writer, "235 2.7.0 authentication successful").await?;
                }
                None => {
                    reply(&mut writer, "501 5.5.2 cannot decode AUTH response").await?;
                }
            },
            "MAIL" => {
                let Some(address) = path_argument(argument, "FROM:") else {
                    reply(&mut writer, "501 5.5.4 syntax: MAIL FROM:<address>").await?;
                    continue;
                };
                if shared.fault() == SmtpFault::TempFail {
                    reply(&mut writer, "451 4.3.0 service temporarily unavailable").await?;
                } else if from.is_some() {
                    reply(&mut writer, "503 5.5.1 nested MAIL command").await?;
                } else {
                    from = Some(address);
                    to.clear();
                    reply(&mut writer, "250 2.1.0 sender OK").await?;
                }
            }
            "RCPT" => {
                let Some(address) = path_argument(argument, "TO:") else {
                    reply(&mut writer, "501 5.5.4 syntax: RCPT TO:<address>").await?;
                    continue;
                };
                if from.is_none() {
                    reply(&mut writer, "503 5.5.1 need MAIL before RCPT").await?;
                } else if shared.fault() == SmtpFault::PermFail {
                    reply(&mut writer, "550 5.1.1 mailbox unavailable").await?;
                } else {
                    to.push(address);
                    reply(&mut writer, "250 2.1.5 recipient OK").await?;
                }
            }
            "DATA" => {
                let sender = match (&from, to.is_empty()) {
                    (Some(sender), false) => sender.clone(),
                    (Some(_), true) | (None, _) => {
                        reply(&mut writer, "503 5.5.1 need MAIL and RCPT before DATA").await?;
                        continue;
                    }
                };
                from = None;
                reply(&mut writer, "354 end data with <CR><LF>.<CR><LF>").await?;
                let Some(data) = read_data(&mut reader).await? else {
                    return Ok(());
                };
                let recipients = std::mem::take(&mut to);
                if shared.fault() == SmtpFault::TempFail {
                    reply(&mut writer, "451 4.3.0 service temporarily unavailable").await?;
                } else {
                    shared.store(ReceivedMail {
                        from: sender,
                        to: recipients,
                        data,
                        auth_user: auth_user.clone(),
                    });
                    reply(&mut writer, "250 2.0.0 OK: queued").await?;
                }
            }
            "RSET" => {
                from = None;
                to.clear();
                reply(&mut writer, "250 2.0.0 OK").await?;
            }
            "NOOP" => reply(&mut writer, "250 2.0.0 OK").await?,
            "QUIT" => {
                reply(&mut writer, "221 2.0.0 bye").await?;
                return Ok(());
            }
            _ => reply(&mut writer, "502 5.5.1 command not implemented").await?,
        }
    }
    Ok(())
}

/// Writes one (possibly multi-line, CRLF-separated) reply and its final CRLF.
async fn reply<W: AsyncWrite + Unpin>(writer: &mut W, text: &str) -> std::io::Result<()> {
    // One write per reply: two small writes would meet Nagle's algorithm and delayed ACKs.
    writer.write_all(format!("{text}\r\n").as_bytes()).await?;
    writer.flush().await
}

/// Reads one line including its line ending; `None` at end of stream.
async fn read_line<R: AsyncBufReadExt + Unpin>(reader: &mut R) -> std::io::Result<Option<String>> {
    let mut line = Vec::new();
    let read = reader.read_until(b'\n', &mut line).await?;
    if read == 0 {
        return Ok(None);
    }
    if line.len() > MAX_LINE {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "line too long",
        ));
    }
    Ok(Some(String::from_utf8_lossy(&line).into_owned()))
}

/// Reads message data up to `<CRLF>.<CRLF>`, undoing dot-stuffing; lines are joined with
/// CRLF. `None` when the client hung up first.
async fn read_data<R: AsyncBufReadExt + Unpin>(reader: &mut R) -> std::io::Result<Option<String>> {
    let mut data = String::new();
    while let Some(line) = read_line(reader).await? {
        let content = line.trim_end_matches(['\r', '\n']);
        if content == "." {
            // The CRLF before "." is the terminator's (`<CRLF>.<CRLF>`), not the message's.
            data.truncate(data.len().saturating_sub(2));
            return Ok(Some(data));
        }
        data.push_str(content.strip_prefix('.').unwrap_or(content));
        data.push_str("\r\n");
    }
    Ok(None)
}

/// `FROM:<a@b> SIZE=…` → `a@b` (the keyword is case-insensitive; parameters are ignored).
fn path_argument(argument: &str, keyword: &str) -> Option<String> {
    let head = argument.get(..keyword.len())?;
    if !head.eq_ignore_ascii_case(keyword) {
        return None;
    }
    let path = argument[keyword.len()..].trim_start();
    let path = path.split_whitespace().next().unwrap_or("");
    let address = path.strip_prefix('<')?.strip_suffix('>')?;
    Some(address.to_owned())
}

/// Runs `AUTH PLAIN` or `AUTH LOGIN` (with or without an initial response); returns the
/// user name, or `None` when the exchange is malformed, cancelled or the mechanism unknown.
async fn authenticate<R, W>(
    argument: &str,
    reader: &mut R,
    writer: &mut W,
) -> std::io::Result<Option<String>>
where
    R: AsyncBufReadExt + Unpin,
    W: AsyncWrite + Unpin,
{
    let (mechanism, initial) = argument.split_once(' ').unwrap_or((argument, ""));
    let initial = initial.trim();
    match mechanism.to_ascii_uppercase().as_str() {
        "PLAIN" => {
            let response = if initial.is_empty() {
                reply(writer, "334 ").await?;
                challenge_response(reader).await?
            } else {
                Some(initial.to_owned())
            };
            // authzid NUL authcid NUL password
            let user = response
                .and_then(|r| decode_base64(&r))
                .and_then(|decoded| {
                    let mut parts = decoded.split(|b| *b == 0);
                    let (_authzid, authcid, _password) =
                        (parts.next()?, parts.next()?, parts.next()?);
                    String::from_utf8(authcid.to_vec()).ok()
                });
            Ok(user)
        }
        "LOGIN" => {
            let user = if initial.is_empty() {
                reply(writer, "334 VXNlcm5hbWU6").await?;
                challenge_response(reader).await?
            } else {
                Some(initial.to_owned())
            };
            let Some(user) = user.and_then(|u| decode_base64(&u)) else {
                return Ok(None);
            };
            reply(writer, "334 UGFzc3dvcmQ6").await?;
            if challenge_response(reader).await?.is_none() {
                return Ok(None);
            }
            Ok(String::from_utf8(user).ok())
        }
        _ => Ok(None),
    }
}

/// The client's answer to a `334` challenge; `None` on `*` (cancel) or hang-up.
async fn challenge_response<R: AsyncBufReadExt + Unpin>(
    reader: &mut R,
) -> std::io::Result<Option<String>> {
    let line = read_line(reader).await?;
    Ok(line
        .map(|l| l.trim().to_owned())
        .filter(|l| l.as_str() != "*"))
}

/// Splits a message at the first empty line into (header block, body).
fn split_message(data: &str) -> (&str, &str) {
    data.split_once("\r\n\r\n")
        .or_else(|| data.split_once("\n\n"))
        .unwrap_or((data, ""))
}

/// The first header named `name`, unfolded but not decoded.
fn raw_header(head: &str, name: &str) -> Option<String> {
    let mut value: Option<String> = None;
    for line in head.lines() {
        if let Some(current) = value.as_mut() {
            if line.starts_with([' ', '\t']) {
                current.push_str(line);
                continue;
            }
            break;
        }
        if let Some((field, rest)) = line.split_once(':')
            && field.trim().eq_ignore_ascii_case(name)
        {
            value = Some(rest.to_owned());
        }
    }
    value.map(|v| v.trim().to_owned())
}

/// Decodes RFC 2047 encoded-words; whitespace between adjacent encoded-words is dropped.
/// Decoded bytes are joined before UTF-8 conversion, so a character split across words
/// survives.
fn decode_encoded_words(value: &str) -> String {
    let mut out: Vec<u8> = Vec::new();
    let mut rest = value;
    let mut after_word = false;
    while !rest.is_empty() {
        let Some(start) = rest.find("=?") else {
            out.extend_from_slice(rest.as_bytes());
            break;
        };
        let (before, candidate) = rest.split_at(start);
        match parse_encoded_word(candidate) {
            Some((decoded, consumed)) => {
                if !(after_word && before.trim().is_empty()) {
                    out.extend_from_slice(before.as_bytes());
                }
                out.extend_from_slice(&decoded);
                rest = &candidate[consumed..];
                after_word = true;
            }
            None => {
                out.extend_from_slice(before.as_bytes());
                out.extend_from_slice(b"=?");
                rest = &candidate[2..];
                after_word = false;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `=?charset?B|Q?text?=` at the start of `input` → (decoded bytes, length consumed).
fn parse_encoded_word(input: &str) -> Option<(Vec<u8>, usize)> {
    let inner = input.strip_prefix("=?")?;
    let (_charset, inner) = inner.split_once('?')?;
    let (encoding, inner) = inner.split_once('?')?;
    let end = inner.find("?=")?;
    let text = &inner[..end];
    if text.contains(char::is_whitespace) {
        return None;
    }
    let decoded = match encoding {
        "B" | "b" => decode_base64(text)?,
        "Q" | "q" => decode_quoted_printable(&text.replace('_', " ")),
        _ => return None,
    };
    let consumed = input.len() - inner.len() + end + 2;
    Some((decoded, consumed))
}

/// Standard-alphabet base64, ignoring whitespace; `None` on any other stray character.
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    fn sextet(c: u8) -> Option<u32> {
        match c {
            b'A'..=b'Z' => Some(u32::from(c - b'A')),
            b'a'..=b'z' => Some(u32::from(c - b'a') + 26),
            b'0'..=b'9' => Some(u32::from(c - b'0') + 52),
            b'+' => Some(62),
            b'/' => Some(63),
            _ => None,
        }
    }
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for c in text.bytes().filter(|c| !c.is_ascii_whitespace()) {
        if c == b'=' {
            break;
        }
        buffer = (buffer << 6) | sextet(c)?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(((buffer >> bits) & 0xFF) as u8);
        }
    }
    Some(out)
}

/// Quoted-printable: `=XX` escapes and `=` soft line breaks; anything malformed is kept.
fn decode_quoted_printable(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'=' {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        let next = &bytes[i + 1..];
        if next.starts_with(b"\r\n") {
            i += 3;
        } else if next.starts_with(b"\n") {
            i += 2;
        } else if let Some(byte) = next
            .get(..2)
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok())
        {
            out.push(byte);
            i += 3;
        } else {
            out.push(b'=');
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests;
