//! A quota reservation, parsed from the Jobs component's request.

use chrono::{DateTime, Utc};
use fedimpute_common::status::{FieldViolation, Violations};
use fedimpute_proto::users as pb;

use crate::store::{JOBS, STORAGE};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuotaKind {
    /// Jobs per calendar month (UTC).
    Jobs,
    /// Bytes of stored files; never rolls over.
    Storage,
}

impl QuotaKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Jobs => JOBS,
            Self::Storage => STORAGE,
        }
    }

    /// The period usage is counted in at `now`: the month for jobs.
    pub fn period(self, now: DateTime<Utc>) -> String {
        match self {
            Self::Jobs => now.format("%Y-%m").to_string(),
            Self::Storage => String::new(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Reservation {
    pub user_id: i64,
    pub kind: QuotaKind,
    pub amount: i64,
    /// The caller's idempotency key.
    pub id: String,
}

impl TryFrom<pb::ReserveQuotaRequest> for Reservation {
    type Error = Vec<FieldViolation>;

    fn try_from(r: pb::ReserveQuotaRequest) -> Result<Self, Self::Error> {
        let pb::ReserveQuotaRequest {
            user_id,
            kind,
            amount,
            reservation_id,
        } = r;
        let mut v = Violations::new();
        if user_id <= 0 {
            v.add("user_id", "must be a positive user id");
        }
        if amount <= 0 {
            v.add("amount", "must be positive");
        }
        let id = reservation_id.trim().to_owned();
        if id.is_empty() || id.len() > 128 {
            v.add("reservation_id", "must be 1 to 128 characters");
        }
        let kind = match pb::QuotaKind::try_from(kind) {
            Ok(pb::QuotaKind::Jobs) => QuotaKind::Jobs,
            Ok(pb::QuotaKind::Storage) => QuotaKind::Storage,
            Ok(pb::QuotaKind::Unspecified) | Err(_) => {
                v.add("kind", "must be jobs or storage");
                QuotaKind::Jobs
            }
        };
        v.into_result(Self {
            user_id,
            kind,
            amount,
            id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_are_parsed_whole() {
        let errors = Reservation::try_from(pb::ReserveQuotaRequest::default()).unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["user_id", "amount", "reservation_id", "kind"]);
        let now = DateTime::parse_from_rfc3339("2026-12-31T23:59:59Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(QuotaKind::Jobs.period(now), "2026-12");
        assert_eq!(QuotaKind::Storage.period(now), "");
    }
}
