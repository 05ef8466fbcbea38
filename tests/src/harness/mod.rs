//! Building blocks of the end-to-end tests.

pub mod auth;
pub mod db;
pub mod gateway;
pub mod jobs;
pub mod process;
pub mod registry;
pub mod users;

use std::{future::Future, time::Duration};

use fedimpute_common::grpc::ServeError;
use tokio::{sync::oneshot, task::JoinHandle};

/// A component serving on the test runtime until told to stop.
#[derive(Debug)]
pub struct Running {
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), ServeError>>>,
}

impl Running {
    /// Spawns `run(shutdown)`, where `shutdown` resolves on [`Running::begin_shutdown`].
    pub fn start<F>(run: impl FnOnce(futures::future::BoxFuture<'static, ()>) -> F) -> Self
    where
        F: Future<Output = Result<(), ServeError>> + Send + 'static,
    {
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(run(Box::pin(async {
            let _ = stopped.await;
        })));
        Self {
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Signals shutdown (as SIGTERM would) without waiting for it.
    pub fn begin_shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Drops the component where it stands (a crash): nothing it does on
    /// shutdown runs.
    pub fn abort(mut self) {
        self.stop.take();
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }

    /// Stops the component and asserts that it stopped cleanly.
    pub async fn stop(mut self, what: &str) {
        self.begin_shutdown();
        if let Some(task) = self.task.take() {
            task.await
                .unwrap_or_else(|e| panic!("the {what} task panicked: {e}"))
                .unwrap_or_else(|e| panic!("the {what} did not stop cleanly: {e}"));
        }
    }
}

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
