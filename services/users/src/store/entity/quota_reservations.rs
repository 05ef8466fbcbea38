use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "quota_reservations")]
pub(crate) struct Model {
    /// The caller's id: a retried reservation is recognised by it.
    #[sea_orm(primary_key, auto_increment = false)]
    pub(crate) reservation_id: String,
    pub(crate) user_id: i64,
    pub(crate) kind: String,
    pub(crate) period: String,
    pub(crate) amount: i64,
    pub(crate) created_at: DateTimeUtc,
    pub(crate) released_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub(crate) enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
