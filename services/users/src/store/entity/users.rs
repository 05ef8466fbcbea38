use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub(crate) struct Model {
    #[sea_orm(primary_key)]
    pub(crate) id: i64,
    pub(crate) username: String,
    /// The lower-cased username (unique).
    pub(crate) username_key: String,
    pub(crate) email: String,
    /// The lower-cased email (unique).
    pub(crate) email_key: String,
    pub(crate) first_name: String,
    pub(crate) last_name: String,
    pub(crate) password_hash: String,
    pub(crate) is_active: bool,
    pub(crate) date_joined: DateTimeUtc,
    pub(crate) last_login: Option<DateTimeUtc>,
    pub(crate) password_changed_at: DateTimeUtc,
    pub(crate) institution: String,
    pub(crate) department: String,
    pub(crate) position: String,
    pub(crate) country: String,
    pub(crate) research_interests: String,
    pub(crate) phone: String,
    pub(crate) bio: String,
    pub(crate) preferred_language: String,
    pub(crate) time_zone: String,
    pub(crate) email_notifications: bool,
    pub(crate) monthly_job_limit: i32,
    pub(crate) storage_limit_bytes: i64,
    /// Lower-cased username, email, names and institution, space-separated.
    pub(crate) search_text: String,
    pub(crate) updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub(crate) enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
