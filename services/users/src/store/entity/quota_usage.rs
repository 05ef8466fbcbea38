use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "quota_usage")]
pub(crate) struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub(crate) user_id: i64,
    /// `jobs` or `storage`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub(crate) kind: String,
    /// `YYYY-MM` for jobs, `""` for storage.
    #[sea_orm(primary_key, auto_increment = false)]
    pub(crate) period: String,
    pub(crate) used: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub(crate) enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
