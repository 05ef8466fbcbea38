use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "job_notifications")]
pub(crate) struct Model {
    #[sea_orm(primary_key)]
    pub(crate) id: i64,
    pub(crate) job_id: String,
    pub(crate) user_id: i64,
    pub(crate) dedupe_key: String,
    pub(crate) subject: String,
    pub(crate) body: String,
    pub(crate) attempts: i32,
    pub(crate) next_attempt_at: DateTimeUtc,
    pub(crate) sent_at: Option<DateTimeUtc>,
    pub(crate) last_error: String,
    pub(crate) created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub(crate) enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
