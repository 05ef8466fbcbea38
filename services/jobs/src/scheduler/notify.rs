//! Sends the notification outbox through the users service (which mails it,
//! honouring the user's preference). A mail waits here, retried with
//! backoff, until the users service has taken it.

use std::{sync::Arc, time::Duration};

use chrono::Utc;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::{peers::Peers, store::JobsStore};

const LEASE: chrono::Duration = chrono::Duration::minutes(5);
const MAX_BACKOFF: Duration = Duration::from_secs(3600);

#[derive(Debug)]
pub(crate) struct Notifier {
    pub(crate) store: Arc<dyn JobsStore>,
    pub(crate) peers: Peers,
    /// Links in mails point here.
    pub(crate) public_url: String,
    pub(crate) interval: Duration,
    pub(crate) wake: Arc<Notify>,
}

impl Notifier {
    pub(crate) async fn run(self, cancel: CancellationToken) {
        loop {
            self.drain().await;
            tokio::select! {
                () = cancel.cancelled() => return,
                () = self.wake.notified() => {}
                () = tokio::time::sleep(self.interval) => {}
            }
        }
    }

    async fn drain(&self) {
        loop {
            let due = match self.store.due_notifications(20, LEASE).await {
                Ok(due) => due,
                Err(e) => {
                    tracing::error!(error = %e, "cannot read the notification outbox");
                    return;
                }
            };
            if due.is_empty() {
                return;
            }
            for n in due {
                let body = format!(
                    "{}\nOpen it: {}/jobs/{}\n",
                    n.body,
                    self.public_url.trim_end_matches('/'),
                    n.job_id
                );
                let outcome = self
                    .peers
                    .notify(n.user_id, &n.dedupe_key, &n.subject, &body)
                    .await;
                let recorded = match outcome {
                    Ok(_) => self.store.notification_sent(n.id).await,
                    Err(e) => {
                        let factor =
                            2u32.saturating_pow(u32::try_from(n.attempts).unwrap_or(0).min(12));
                        let wait = (Duration::from_secs(10) * factor).min(MAX_BACKOFF);
                        tracing::warn!(notification = n.id, error = %e, "notification not taken; will retry");
                        self.store
                            .notification_failed(
                                n.id,
                                &e.to_string(),
                                Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default(),
                            )
                            .await
                    }
                };
                if let Err(e) = recorded {
                    tracing::error!(notification = n.id, error = %e, "cannot record a notification");
                }
            }
        }
    }
}
