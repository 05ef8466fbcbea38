use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "input_files")]
pub(crate) struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub(crate) id: String,
    pub(crate) user_id: i64,
    pub(crate) filename: String,
    pub(crate) original_filename: String,
    pub(crate) storage_key: String,
    pub(crate) size_bytes: i64,
    pub(crate) sha256: String,
    pub(crate) compression: String,
    pub(crate) vcf_summary: String,
    pub(crate) warnings: String,
    pub(crate) created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub(crate) enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
