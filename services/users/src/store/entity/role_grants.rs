use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "role_grants")]
pub(crate) struct Model {
    #[sea_orm(primary_key)]
    pub(crate) id: i64,
    pub(crate) user_id: i64,
    /// snake_case, as `fedimpute_common::auth::Role` serializes.
    pub(crate) role: String,
    pub(crate) service_id: Option<i64>,
    pub(crate) expires_at: Option<DateTimeUtc>,
    pub(crate) granted_at: DateTimeUtc,
    pub(crate) granted_by: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub(crate) enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
