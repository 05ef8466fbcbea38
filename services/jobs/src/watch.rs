//! `WatchJob`: every change of a job (and a parent's children) to any
//! number of watchers. One poller per watched job reads it — at once when
//! this replica changed it, at least every second otherwise (a change made
//! by another replica) — and fans the changes out; watchers cost nothing
//! more each.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, Weak},
    time::Duration,
};

use tokio::sync::{Notify, broadcast};

use crate::{
    domain::Phase,
    store::{JobRecord, JobsStore},
};

/// A job and its children as a poller read them.
pub(crate) type Snapshot = Arc<(JobRecord, Vec<JobRecord>)>;

struct Topic {
    events: broadcast::Sender<Snapshot>,
    nudge: Notify,
}

/// Where watchers subscribe and changes are announced.
#[derive(Clone)]
pub(crate) struct Hub {
    topics: Arc<Mutex<HashMap<String, Weak<Topic>>>>,
    store: Arc<dyn JobsStore>,
    interval: Duration,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("interval", &self.interval)
            .finish()
    }
}

/// A watcher's end: keeps its topic (and so its poller) alive.
pub(crate) struct Subscription {
    topic: Arc<Topic>,
    events: broadcast::Receiver<Snapshot>,
}

impl Subscription {
    /// The next snapshot (a method, so a closure that uses the
    /// subscription holds all of it, topic included).
    pub(crate) async fn recv(&mut self) -> Result<Snapshot, broadcast::error::RecvError> {
        let _alive = &self.topic;
        self.events.recv().await
    }
}

/// Whether nothing more will change.
pub(crate) fn settled(job: &JobRecord) -> bool {
    job.status.is_terminal() && job.work.phase == Phase::Done
}

impl Hub {
    pub(crate) fn new(store: Arc<dyn JobsStore>, interval: Duration) -> Self {
        Self {
            topics: Arc::new(Mutex::new(HashMap::new())),
            store,
            interval,
        }
    }

    /// Tells the poller of `job_id`, if anyone watches it, to look now.
    pub(crate) fn nudge(&self, job_id: &str) {
        let topic = self
            .topics
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(job_id)
            .and_then(Weak::upgrade);
        if let Some(topic) = topic {
            topic.nudge.notify_one();
        }
    }

    /// Subscribes to a job: its poller sends a snapshot first, then one
    /// each time the job or a child changes (watchers compare versions with
    /// what they have sent, so none misses a change or sees one twice).
    pub(crate) fn subscribe(&self, job_id: &str) -> Subscription {
        let mut topics = self.topics.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(topic) = topics.get(job_id).and_then(Weak::upgrade) {
            let events = topic.events.subscribe();
            return Subscription { topic, events };
        }
        let (events, receiver) = broadcast::channel(256);
        let topic = Arc::new(Topic {
            events,
            nudge: Notify::new(),
        });
        topics.retain(|_, t| t.strong_count() > 0);
        topics.insert(job_id.to_owned(), Arc::downgrade(&topic));
        tokio::spawn(poll(
            Arc::downgrade(&topic),
            self.store.clone(),
            job_id.to_owned(),
            self.interval,
        ));
        Subscription {
            topic,
            events: receiver,
        }
    }
}

pub(crate) async fn load(store: &dyn JobsStore, id: &str) -> Option<(JobRecord, Vec<JobRecord>)> {
    let job = store.job(id).await.ok().flatten()?;
    let children = if job.is_parent {
        store.children(id).await.unwrap_or_default()
    } else {
        Vec::new()
    };
    Some((job, children))
}

/// What a watcher can see change: each version, and whether each job has
/// settled (a completed job settles when its results are in, which changes
/// no version).
fn versions(snapshot: &(JobRecord, Vec<JobRecord>)) -> Vec<(i64, bool)> {
    std::iter::once(&snapshot.0)
        .chain(snapshot.1.iter())
        .map(|j| (j.version, settled(j)))
        .collect()
}

/// Reads the job while anyone listens; sends it whenever it changed.
async fn poll(topic: Weak<Topic>, store: Arc<dyn JobsStore>, id: String, interval: Duration) {
    let mut last: Option<Vec<(i64, bool)>> = None;
    loop {
        let Some(snapshot) = load(store.as_ref(), &id).await else {
            return;
        };
        let Some(topic) = topic.upgrade() else {
            return;
        };
        let seen = versions(&snapshot);
        if last.as_ref() != Some(&seen) {
            last = Some(seen);
            let _ = topic.events.send(Arc::new(snapshot));
        }
        tokio::select! {
            () = topic.nudge.notified() => {}
            () = tokio::time::sleep(interval) => {}
        }
    }
}
