//! Job states, the scheduler's phases, and how a federated parent's state
//! follows from its children.

use fedimpute_proto::jobs as pb;

/// `pending → queued → running → completed | failed | cancelled`; a job
/// never leaves a terminal state except by an explicit retry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum JobStatus {
    Pending,
    Queued,
    Running,
    Completed,
    Failed,
    Cancelled,
}

impl JobStatus {
    pub(crate) const ALL: [Self; 6] = [
        Self::Pending,
        Self::Queued,
        Self::Running,
        Self::Completed,
        Self::Failed,
        Self::Cancelled,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    pub(crate) fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }

    pub(crate) fn is_terminal(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Cancelled)
    }

    /// Position in the life of a job: a remote report may move a job
    /// forward, never back (a restarted Cloudgene job that waits again
    /// stays `running`).
    pub(crate) fn rank(self) -> u8 {
        match self {
            Self::Pending => 0,
            Self::Queued => 1,
            Self::Running => 2,
            Self::Completed | Self::Failed | Self::Cancelled => 3,
        }
    }

    pub(crate) fn to_pb(self) -> pb::JobStatus {
        match self {
            Self::Pending => pb::JobStatus::Pending,
            Self::Queued => pb::JobStatus::Queued,
            Self::Running => pb::JobStatus::Running,
            Self::Completed => pb::JobStatus::Completed,
            Self::Failed => pb::JobStatus::Failed,
            Self::Cancelled => pb::JobStatus::Cancelled,
        }
    }

    pub(crate) fn from_pb(status: pb::JobStatus) -> Option<Self> {
        match status {
            pb::JobStatus::Unspecified => None,
            pb::JobStatus::Pending => Some(Self::Pending),
            pb::JobStatus::Queued => Some(Self::Queued),
            pb::JobStatus::Running => Some(Self::Running),
            pb::JobStatus::Completed => Some(Self::Completed),
            pb::JobStatus::Failed => Some(Self::Failed),
            pb::JobStatus::Cancelled => Some(Self::Cancelled),
        }
    }
}

/// What the scheduler has to do next for a job.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Phase {
    /// Send it to the remote.
    Submit,
    /// A submission is in flight: found in this phase with its lease
    /// expired, its worker died mid-submission (an ambiguous outcome).
    Submitting,
    /// A submission may or may not have reached the remote: look for the
    /// job's tag there before sending it again.
    Reconcile,
    /// Follow the remote job.
    Poll,
    /// Cancel the remote job, then follow it to its end.
    Cancel,
    /// Copy the results into the platform's store.
    Fetch,
    /// Nothing left to do (terminal, or a federated parent).
    Done,
}

impl Phase {
    pub(crate) const ALL: [Self; 7] = [
        Self::Submit,
        Self::Submitting,
        Self::Reconcile,
        Self::Poll,
        Self::Cancel,
        Self::Fetch,
        Self::Done,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Submit => "submit",
            Self::Submitting => "submitting",
            Self::Reconcile => "reconcile",
            Self::Poll => "poll",
            Self::Cancel => "cancel",
            Self::Fetch => "fetch",
            Self::Done => "done",
        }
    }

    pub(crate) fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == raw)
    }

    /// Phases in which a job holds (or may hold) a slot on the remote: they
    /// count against the remote's per-user running-jobs limit.
    pub(crate) fn on_remote() -> [Self; 4] {
        [Self::Submitting, Self::Reconcile, Self::Poll, Self::Cancel]
    }
}

/// How many children of a federated job are in each status.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Aggregate {
    pub(crate) total: i32,
    pub(crate) pending: i32,
    pub(crate) queued: i32,
    pub(crate) running: i32,
    pub(crate) completed: i32,
    pub(crate) failed: i32,
    pub(crate) cancelled: i32,
}

/// What a parent becomes from its children.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ParentState {
    pub(crate) status: JobStatus,
    pub(crate) progress: i32,
    pub(crate) message: String,
}

impl Aggregate {
    pub(crate) fn of(children: impl IntoIterator<Item = JobStatus>) -> Self {
        let mut a = Self::default();
        for status in children {
            a.total += 1;
            match status {
                JobStatus::Pending => a.pending += 1,
                JobStatus::Queued => a.queued += 1,
                JobStatus::Running => a.running += 1,
                JobStatus::Completed => a.completed += 1,
                JobStatus::Failed => a.failed += 1,
                JobStatus::Cancelled => a.cancelled += 1,
            }
        }
        a
    }

    fn ended(&self) -> i32 {
        self.completed + self.failed + self.cancelled
    }

    /// The parent's state: while any child runs, `running`; while any
    /// waits, `queued`; once all have ended, `completed` if all completed,
    /// `cancelled` if all were cancelled, otherwise `failed` with a summary
    /// (a parent is never left `queued` when its children have ended).
    pub(crate) fn parent_state(&self, progress: &[i32]) -> ParentState {
        let average = if progress.is_empty() {
            0
        } else {
            let sum: i64 = progress.iter().map(|p| i64::from(*p)).sum();
            i32::try_from(sum / progress.len() as i64).unwrap_or(0)
        };
        let summary = format!(
            "{} of {} completed, {} failed, {} cancelled",
            self.completed, self.total, self.failed, self.cancelled
        );
        if self.total == 0 {
            return ParentState {
                status: JobStatus::Pending,
                progress: 0,
                message: "no child jobs".into(),
            };
        }
        if self.ended() == self.total {
            let status = if self.completed == self.total {
                JobStatus::Completed
            } else if self.cancelled == self.total {
                JobStatus::Cancelled
            } else {
                JobStatus::Failed
            };
            let progress = if status == JobStatus::Completed {
                100
            } else {
                average
            };
            return ParentState {
                status,
                progress,
                message: summary,
            };
        }
        let status = if self.running > 0 || self.ended() > 0 {
            JobStatus::Running
        } else if self.queued > 0 {
            JobStatus::Queued
        } else {
            JobStatus::Pending
        };
        ParentState {
            status,
            progress: average,
            message: format!("{summary}, {} still going", self.total - self.ended()),
        }
    }

    pub(crate) fn to_pb(self) -> pb::JobAggregate {
        pb::JobAggregate {
            total: self.total,
            pending: self.pending,
            queued: self.queued,
            running: self.running,
            completed: self.completed,
            failed: self.failed,
            cancelled: self.cancelled,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use JobStatus::*;

    #[test]
    fn a_parent_follows_its_children_and_never_stays_queued_after_they_end() {
        let cases = [
            (vec![Queued, Queued], Queued),
            (vec![Queued, Running], Running),
            (vec![Failed, Queued], Running),
            (vec![Completed, Completed], Completed),
            (vec![Cancelled, Cancelled], Cancelled),
            (vec![Completed, Failed], Failed),
            (vec![Failed, Failed], Failed),
            (vec![Completed, Cancelled], Failed),
            (vec![Pending], Pending),
        ];
        for (children, expected) in cases {
            let a = Aggregate::of(children.clone());
            let state = a.parent_state(&vec![50; children.len()]);
            assert_eq!(state.status, expected, "{children:?}");
        }
        let mixed = Aggregate::of([Completed, Failed, Cancelled]);
        assert_eq!(
            mixed.parent_state(&[100, 30, 10]).message,
            "1 of 3 completed, 1 failed, 1 cancelled"
        );
        assert_eq!(
            Aggregate::of([Completed, Completed])
                .parent_state(&[100, 100])
                .progress,
            100
        );
    }

    #[test]
    fn names_round_trip() {
        for s in JobStatus::ALL {
            assert_eq!(JobStatus::parse(s.as_str()), Some(s));
            assert_eq!(JobStatus::from_pb(s.to_pb()), Some(s));
        }
        for p in Phase::ALL {
            assert_eq!(Phase::parse(p.as_str()), Some(p));
        }
        assert!(Completed.is_terminal() && !Running.is_terminal());
        assert!(Running.rank() > Queued.rank());
    }
}
