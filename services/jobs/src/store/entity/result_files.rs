use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "result_files")]
pub(crate) struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub(crate) id: String,
    pub(crate) job_id: String,
    pub(crate) attempt: i32,
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) size_bytes: i64,
    pub(crate) sha256: String,
    pub(crate) remote_hash: String,
    pub(crate) remote_location: String,
    pub(crate) downloadable: bool,
    pub(crate) remote_expires_at: Option<DateTimeUtc>,
    pub(crate) state: String,
    pub(crate) storage_key: Option<String>,
    pub(crate) content_type: String,
    pub(crate) error: String,
    pub(crate) download_attempts: i32,
    pub(crate) created_at: DateTimeUtc,
    pub(crate) updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub(crate) enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
