use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "login_throttle")]
pub(crate) struct Model {
    /// `account:<username>` or `addr:<ip>`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub(crate) key: String,
    pub(crate) failures: i32,
    pub(crate) window_start: DateTimeUtc,
    pub(crate) locked_until: Option<DateTimeUtc>,
    pub(crate) updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub(crate) enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
