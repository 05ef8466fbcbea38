use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sessions")]
pub(crate) struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub(crate) id: String,
    pub(crate) user_id: i64,
    pub(crate) created_at: DateTimeUtc,
    pub(crate) last_used_at: DateTimeUtc,
    pub(crate) expires_at: DateTimeUtc,
    pub(crate) revoked_at: Option<DateTimeUtc>,
    pub(crate) revoked_reason: String,
    pub(crate) ip_address: String,
    pub(crate) user_agent: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub(crate) enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
