use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "job_attempts")]
pub(crate) struct Model {
    #[sea_orm(primary_key)]
    pub(crate) id: i64,
    pub(crate) job_id: String,
    pub(crate) attempt: i32,
    pub(crate) status: String,
    pub(crate) external_id: Option<String>,
    pub(crate) remote_state: String,
    pub(crate) error_message: String,
    pub(crate) submitted_at: Option<DateTimeUtc>,
    pub(crate) started_at: Option<DateTimeUtc>,
    pub(crate) completed_at: Option<DateTimeUtc>,
    pub(crate) created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub(crate) enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
