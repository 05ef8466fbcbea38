use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "reference_panels")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub service_id: i64,
    pub name: String,
    pub display_name: String,
    pub slug: String,
    pub external_id: Option<String>,
    pub description: String,
    pub population: String,
    pub populations: Json,
    pub build: String,
    pub samples_count: Option<i64>,
    pub variants_count: Option<i64>,
    pub is_available: bool,
    pub is_public: bool,
    pub requires_permission: bool,
    pub version: String,
    pub last_synced_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// Public settings for the remote (added by `m20261201_000001`).
    pub api_config: Json,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
