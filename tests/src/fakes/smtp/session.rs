//! The SMTP conversation on one accepted connection: the command loop, `DATA`
//! reading with dot-stuffing undone, and `AUTH PLAIN`/`AUTH LOGIN`.

use std::sync::Arc;

use tokio::io::{AsyncBufReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::decode::decode_base64;
use super::{ReceivedMail, Shared, SmtpFault};

/// The longest command or data line accepted (RFC 5321 asks for 1000 octets; be lenient).
const MAX_LINE: usize = 64 * 1024;

/// One SMTP conversation; I/O errors just end it.
pub(super) async fn session(stream: TcpStream, shared: Arc<Shared>) {
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
pub(super) fn path_argument(argument: &str, keyword: &str) -> Option<String> {
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
