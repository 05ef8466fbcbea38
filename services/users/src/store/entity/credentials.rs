use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "credentials")]
pub(crate) struct Model {
    #[sea_orm(primary_key)]
    pub(crate) id: i64,
    pub(crate) user_id: i64,
    pub(crate) service_id: i64,
    pub(crate) credential_type: String,
    pub(crate) label: String,
    pub(crate) hint: String,
    pub(crate) has_api_token: bool,
    pub(crate) has_oauth_token: bool,
    pub(crate) has_basic_auth: bool,
    /// AES-256-GCM, bound to (user, service).
    pub(crate) sealed: String,
    pub(crate) expires_at: Option<DateTimeUtc>,
    pub(crate) is_verified: bool,
    pub(crate) last_verified_at: Option<DateTimeUtc>,
    pub(crate) verification_error: String,
    pub(crate) last_used_at: Option<DateTimeUtc>,
    pub(crate) created_at: DateTimeUtc,
    pub(crate) updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub(crate) enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
