//! The WES run states and the scenarios a fake run can follow.

/// How a fake run ends (external-apis.md B.8 "Failure scenarios").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum WesScenario {
    /// `QUEUED → INITIALIZING → RUNNING → COMPLETE`, with outputs.
    #[default]
    Success,
    /// RUNNING, then `EXECUTOR_ERROR` (exit code 1, QC failure on stderr, a failing task).
    QcFail,
    /// RUNNING, then `SYSTEM_ERROR` with `run_log.system_logs`.
    SystemError,
    /// RUNNING, then `PREEMPTED`.
    Preempt,
    /// `UNKNOWN` for `unknown_ticks` ticks after QUEUED, then as [`WesScenario::Success`].
    StuckUnknown,
}

impl WesScenario {
    /// The scenario a `tags.fake` value selects (`qc-fail`, `system-error`, `preempt`,
    /// `stuck-unknown`, `success`).
    pub fn from_tag(tag: &str) -> Option<Self> {
        match tag {
            "success" => Some(Self::Success),
            "qc-fail" => Some(Self::QcFail),
            "system-error" => Some(Self::SystemError),
            "preempt" => Some(Self::Preempt),
            "stuck-unknown" => Some(Self::StuckUnknown),
            _ => None,
        }
    }
}

/// WES run states (1.1, PREEMPTED included).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum RunState {
    Unknown,
    Queued,
    Initializing,
    Running,
    Paused,
    Complete,
    ExecutorError,
    SystemError,
    Canceled,
    Canceling,
    Preempted,
}

impl RunState {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Self::Unknown => "UNKNOWN",
            Self::Queued => "QUEUED",
            Self::Initializing => "INITIALIZING",
            Self::Running => "RUNNING",
            Self::Paused => "PAUSED",
            Self::Complete => "COMPLETE",
            Self::ExecutorError => "EXECUTOR_ERROR",
            Self::SystemError => "SYSTEM_ERROR",
            Self::Canceled => "CANCELED",
            Self::Canceling => "CANCELING",
            Self::Preempted => "PREEMPTED",
        }
    }

    pub(super) fn parse(text: &str) -> Option<Self> {
        let all = [
            Self::Unknown,
            Self::Queued,
            Self::Initializing,
            Self::Running,
            Self::Paused,
            Self::Complete,
            Self::ExecutorError,
            Self::SystemError,
            Self::Canceled,
            Self::Canceling,
            Self::Preempted,
        ];
        all.into_iter()
            .find(|s| s.as_str().eq_ignore_ascii_case(text))
    }

    pub(super) fn is_terminal(self) -> bool {
        match self {
            Self::Complete
            | Self::ExecutorError
            | Self::SystemError
            | Self::Canceled
            | Self::Preempted => true,
            Self::Unknown
            | Self::Queued
            | Self::Initializing
            | Self::Running
            | Self::Paused
            | Self::Canceling => false,
        }
    }
}
