use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "job_logs")]
pub(crate) struct Model {
    #[sea_orm(primary_key)]
    pub(crate) id: i64,
    pub(crate) job_id: String,
    pub(crate) attempt: i32,
    pub(crate) step_index: i32,
    pub(crate) step_name: String,
    pub(crate) entry_index: i32,
    pub(crate) log_type: String,
    pub(crate) message: String,
    pub(crate) logged_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub(crate) enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
