//! The mail outbox sender: mail is written to `mail_outbox` in the same
//! transaction as what caused it, and sent from there. A failed send stays
//! queued and is retried with backoff, so an outage loses nothing.

use std::{sync::Arc, time::Duration};

use chrono::Utc;
use fedimpute_common::{
    crypto::Keyring,
    mail::{MailError, Mailer, OutgoingMail},
};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::{
    config::MailSettings,
    store::{OutboxMail, UsersStore},
};

/// `fedimpute_users_outbox_backlog`: mail not yet sent (nor given up).
static BACKLOG: std::sync::LazyLock<prometheus_client::metrics::gauge::Gauge> =
    std::sync::LazyLock::new(|| {
        let gauge = prometheus_client::metrics::gauge::Gauge::default();
        fedimpute_common::metrics::register(
            "users_outbox_backlog",
            "Mail in the outbox not yet sent (nor given up)",
            gauge.clone(),
        );
        gauge
    });

/// Where mail goes.
#[derive(Debug)]
pub(crate) enum Delivery {
    Smtp(Mailer),
    /// Development without SMTP: the message is written to the log.
    Log,
    /// No SMTP and not development: mail waits in the outbox.
    Hold,
}

#[derive(Debug)]
pub(crate) struct Outbox {
    store: Arc<dyn UsersStore>,
    keyring: Keyring,
    delivery: Delivery,
    settings: MailSettings,
    wake: Arc<Notify>,
}

const MAX_BACKOFF: Duration = Duration::from_secs(3600);
/// How long a claimed mail is reserved for the sender that claimed it.
const SEND_LEASE: chrono::Duration = chrono::Duration::minutes(5);

impl Outbox {
    pub(crate) fn new(
        store: Arc<dyn UsersStore>,
        keyring: Keyring,
        delivery: Delivery,
        settings: MailSettings,
        wake: Arc<Notify>,
    ) -> Self {
        Self {
            store,
            keyring,
            delivery,
            settings,
            wake,
        }
    }

    /// Drains the outbox until cancelled: on each wake-up, and otherwise at
    /// the next due retry or the poll interval, whichever is first.
    pub(crate) async fn run(self, cancel: CancellationToken) {
        let hold = matches!(self.delivery, Delivery::Hold);
        if hold {
            tracing::warn!(
                "no SMTP relay is configured (FEDIMPUTE_SMTP_URL): mail is kept in the outbox until one is"
            );
        }
        loop {
            if !hold {
                self.drain().await;
            }
            self.measure().await;
            // Held mail is only counted: its due times have passed.
            let due = if hold {
                Ok(None)
            } else {
                self.store.next_mail_due().await
            };
            let wait = match due {
                Ok(Some(at)) => (at - Utc::now())
                    .to_std()
                    .unwrap_or_default()
                    .min(self.settings.poll_interval),
                Ok(None) | Err(_) => self.settings.poll_interval,
            };
            tokio::select! {
                () = cancel.cancelled() => return,
                () = self.wake.notified() => {}
                () = tokio::time::sleep(wait.max(Duration::from_millis(50))) => {}
            }
        }
    }

    /// Publishes the outbox backlog.
    async fn measure(&self) {
        match self.store.outbox_backlog().await {
            Ok(n) => {
                BACKLOG.set(i64::try_from(n).unwrap_or(i64::MAX));
            }
            Err(e) => tracing::warn!(error = %e, "cannot count the mail outbox"),
        }
    }

    async fn drain(&self) {
        loop {
            let due = match self.store.due_mail(50, SEND_LEASE).await {
                Ok(due) => due,
                Err(e) => {
                    tracing::error!(error = %e, "cannot read the mail outbox");
                    return;
                }
            };
            if due.is_empty() {
                return;
            }
            for mail in due {
                self.deliver(mail).await;
            }
        }
    }

    async fn deliver(&self, mut mail: OutboxMail) {
        match open(&self.keyring, &mail.body) {
            Ok(body) => mail.body = body,
            Err(e) => {
                tracing::error!(id = mail.id, error = %e, "a queued mail cannot be opened; giving it up");
                if let Err(e) = self
                    .store
                    .mail_failed(mail.id, "cannot be opened", None)
                    .await
                {
                    tracing::error!(error = %e, id = mail.id, "cannot record a mail delivery");
                }
                return;
            }
        }
        let result = match &self.delivery {
            Delivery::Smtp(mailer) => {
                mailer
                    .send(&OutgoingMail {
                        to: mail.recipient.clone(),
                        subject: mail.subject.clone(),
                        body: mail.body.clone(),
                    })
                    .await
            }
            Delivery::Log => {
                tracing::info!(to = %mail.recipient, subject = %mail.subject, "development mail (no SMTP configured):\n{}", mail.body);
                Ok(())
            }
            Delivery::Hold => return,
        };
        let recorded = match result {
            Ok(()) => self.store.mail_sent(mail.id).await,
            Err(e) => {
                let retry_at = (!e.is_permanent())
                    .then(|| Utc::now() + backoff(self.settings.retry_base, mail.attempts));
                log_failure(&mail, &e, retry_at.is_some());
                self.store
                    .mail_failed(mail.id, &e.to_string(), retry_at)
                    .await
            }
        };
        if let Err(e) = recorded {
            tracing::error!(error = %e, id = mail.id, "cannot record a mail delivery");
        }
    }
}

const MAIL_CONTEXT: &[u8] = b"mail-outbox";

/// Seals a mail body for the outbox (bodies may hold reset links).
pub(crate) fn seal(keyring: &Keyring, body: &str) -> String {
    keyring.seal(body.as_bytes(), MAIL_CONTEXT)
}

fn open(keyring: &Keyring, sealed: &str) -> Result<String, String> {
    let clear = keyring
        .open(sealed, MAIL_CONTEXT)
        .map_err(|e| e.to_string())?;
    String::from_utf8(clear).map_err(|e| e.to_string())
}

fn backoff(base: Duration, attempts: i32) -> chrono::Duration {
    let factor = 2u32.saturating_pow(u32::try_from(attempts).unwrap_or(0).min(16));
    chrono::Duration::from_std(base.saturating_mul(factor).min(MAX_BACKOFF))
        .unwrap_or(chrono::Duration::hours(1))
}

fn log_failure(mail: &OutboxMail, e: &MailError, retrying: bool) {
    if retrying {
        tracing::warn!(id = mail.id, attempts = mail.attempts + 1, error = %e, "mail not sent; will retry");
    } else {
        tracing::error!(id = mail.id, error = %e, "mail refused permanently; kept in the outbox as failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_an_hour() {
        let base = Duration::from_secs(1);
        assert_eq!(backoff(base, 0).num_seconds(), 1);
        assert_eq!(backoff(base, 3).num_seconds(), 8);
        assert_eq!(backoff(base, 30).num_seconds(), 3600);
    }
}
