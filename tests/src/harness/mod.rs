//! Building blocks of the end-to-end tests.

pub mod auth;
pub mod db;
pub mod process;
pub mod registry;
pub mod users;

use std::{future::Future, time::Duration};

/// Polls `check` until it returns `Some`, at most for `within`, and panics
/// with `what` otherwise. For state reached by background work (the health
/// monitor); never a fixed sleep.
pub async fn eventually<T, F, Fut>(what: &str, within: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + within;
    let mut ticker = tokio::time::interval(Duration::from_millis(50));
    loop {
        ticker.tick().await;
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {within:?} waiting for: {what}"
        );
    }
}
