use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "mail_outbox")]
pub(crate) struct Model {
    #[sea_orm(primary_key)]
    pub(crate) id: i64,
    pub(crate) recipient: String,
    pub(crate) subject: String,
    pub(crate) body: String,
    pub(crate) attempts: i32,
    pub(crate) next_attempt_at: DateTimeUtc,
    pub(crate) last_error: String,
    pub(crate) created_at: DateTimeUtc,
    pub(crate) sent_at: Option<DateTimeUtc>,
    /// Set when a send failed permanently.
    pub(crate) failed_at: Option<DateTimeUtc>,
    /// The caller's idempotency key (unique), when it gave one.
    pub(crate) dedupe_key: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub(crate) enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
