//! eWES run states (WES plus the Workbench ones, C.4) and the scenarios a fake run follows.

/// How a fake eWES run ends (external-apis.md C.7 "Failure scenarios").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum EwesScenario {
    /// `PREPROCESSING → QUEUED → INITIALIZING → RUNNING → COMPLETE`, with outputs.
    #[default]
    Success,
    /// `PREPROCESSING_ERROR` straight from PREPROCESSING, with `errors`.
    PreprocessingError,
    /// RUNNING, then `EXECUTOR_ERROR`, with a failing QC task ("QC failed" on its stderr).
    QcFail,
    /// RUNNING, then `COMPLETE_WITH_ERRORS`: some outputs, and `errors`.
    Partial,
    /// RUNNING, then `SYSTEM_ERROR`, with `errors`.
    SystemError,
}

impl EwesScenario {
    /// The scenario a `tags.fake` value selects (`preprocessing-error`, `qc-fail`,
    /// `partial`, `system-error`, `success`).
    pub fn from_tag(tag: &str) -> Option<Self> {
        match tag {
            "success" => Some(Self::Success),
            "preprocessing-error" => Some(Self::PreprocessingError),
            "qc-fail" => Some(Self::QcFail),
            "partial" => Some(Self::Partial),
            "system-error" => Some(Self::SystemError),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum EwesState {
    Preprocessing,
    Queued,
    Initializing,
    Running,
    Paused,
    Unknown,
    Canceling,
    Complete,
    CompleteWithErrors,
    ExecutorError,
    SystemError,
    PreprocessingError,
    NotProcessed,
    Canceled,
}

const ALL: [EwesState; 14] = [
    EwesState::Preprocessing,
    EwesState::Queued,
    EwesState::Initializing,
    EwesState::Running,
    EwesState::Paused,
    EwesState::Unknown,
    EwesState::Canceling,
    EwesState::Complete,
    EwesState::CompleteWithErrors,
    EwesState::ExecutorError,
    EwesState::SystemError,
    EwesState::PreprocessingError,
    EwesState::NotProcessed,
    EwesState::Canceled,
];

impl EwesState {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Self::Preprocessing => "PREPROCESSING",
            Self::Queued => "QUEUED",
            Self::Initializing => "INITIALIZING",
            Self::Running => "RUNNING",
            Self::Paused => "PAUSED",
            Self::Unknown => "UNKNOWN",
            Self::Canceling => "CANCELING",
            Self::Complete => "COMPLETE",
            Self::CompleteWithErrors => "COMPLETE_WITH_ERRORS",
            Self::ExecutorError => "EXECUTOR_ERROR",
            Self::SystemError => "SYSTEM_ERROR",
            Self::PreprocessingError => "PREPROCESSING_ERROR",
            Self::NotProcessed => "NOT_PROCESSED",
            Self::Canceled => "CANCELED",
        }
    }

    /// Case-insensitive, as the official client parses states.
    pub(super) fn parse(text: &str) -> Option<Self> {
        ALL.into_iter()
            .find(|state| state.as_str().eq_ignore_ascii_case(text))
    }

    /// Terminal: the client's set plus PREPROCESSING_ERROR and NOT_PROCESSED (C.4).
    pub(super) fn is_terminal(self) -> bool {
        match self {
            Self::Complete
            | Self::CompleteWithErrors
            | Self::ExecutorError
            | Self::SystemError
            | Self::PreprocessingError
            | Self::NotProcessed
            | Self::Canceled => true,
            Self::Preprocessing
            | Self::Queued
            | Self::Initializing
            | Self::Running
            | Self::Paused
            | Self::Unknown
            | Self::Canceling => false,
        }
    }

    pub(super) fn is_error(self) -> bool {
        match self {
            Self::CompleteWithErrors
            | Self::ExecutorError
            | Self::SystemError
            | Self::PreprocessingError => true,
            Self::Preprocessing
            | Self::Queued
            | Self::Initializing
            | Self::Running
            | Self::Paused
            | Self::Unknown
            | Self::Canceling
            | Self::Complete
            | Self::NotProcessed
            | Self::Canceled => false,
        }
    }
}
