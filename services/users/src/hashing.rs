//! Password hashing off the async runtime: bcrypt runs on the blocking
//! pool, at most `concurrency` at once, so a burst of logins waits for
//! itself and never stalls other calls.

use std::sync::Arc;

use fedimpute_passwords::Verified;
use tokio::sync::Semaphore;

use crate::error::{Error, Result};

#[derive(Clone, Debug)]
pub(crate) struct Hasher {
    cost: u32,
    permits: Arc<Semaphore>,
}

impl Hasher {
    pub(crate) fn new(cost: u32, concurrency: usize) -> Self {
        Self {
            cost,
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
        }
    }

    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| Error::Internal("hashing pool closed".into()))?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|e| Error::Internal(format!("hashing task: {e}")))
    }

    pub(crate) async fn hash(&self, password: &str) -> Result<String> {
        let (password, cost) = (password.to_owned(), self.cost);
        self.run(move || fedimpute_passwords::hash(&password, cost))
            .await?
            .map_err(|e| Error::Internal(format!("hashing: {e}")))
    }

    /// Verifies against a stored hash; `None` stored (unknown user) does the
    /// same work against a dummy hash and never matches.
    pub(crate) async fn verify(&self, password: &str, stored: Option<&str>) -> Result<Verified> {
        let (password, cost) = (password.to_owned(), self.cost);
        let stored = stored.map(str::to_owned);
        self.run(move || match stored {
            // An unusable stored hash (a Django `!` password, a foreign
            // scheme) answers like a wrong password, after the same work.
            Some(stored) => Ok(fedimpute_passwords::verify(&password, &stored, cost)
                .unwrap_or_else(|e| {
                    tracing::warn!(error = %e, "a stored password hash cannot be used: the account cannot sign in by password");
                    fedimpute_passwords::dummy_verify(&password, cost);
                    Verified {
                        matches: false,
                        needs_rehash: false,
                    }
                })),
            None => {
                fedimpute_passwords::dummy_verify(&password, cost);
                Ok(Verified {
                    matches: false,
                    needs_rehash: false,
                })
            }
        })
        .await?
    }

    /// Computes the dummy hash now, so the first unknown-user login is not
    /// slower than the others.
    pub(crate) async fn warm_up(&self) {
        let cost = self.cost;
        let _ = self
            .run(move || fedimpute_passwords::dummy_verify("warm-up", cost))
            .await;
    }
}
