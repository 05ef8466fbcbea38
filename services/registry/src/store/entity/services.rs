use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "services")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub name: String,
    pub slug: String,
    pub service_type: String,
    pub api_type: String,
    pub base_url: String,
    pub description: String,
    pub version: String,
    pub requires_auth: bool,
    pub auth_type: String,
    pub max_file_size_mb: i32,
    pub supported_formats: Json,
    pub supports_hg19: bool,
    pub supports_hg38: bool,
    pub api_config: Json,
    /// Sealed JSON map of the service-level secrets.
    pub secrets: Option<String>,
    /// Names of the sealed secrets (names are not secret).
    pub secret_names: Json,
    pub is_active: bool,
    pub location_institution: String,
    pub location_city: String,
    pub location_country: String,
    pub location_datacenter: String,
    pub continent: String,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub cpu_total: Option<i32>,
    pub cpu_available: Option<i32>,
    pub memory_total_gb: Option<f64>,
    pub memory_available_gb: Option<f64>,
    pub storage_total_gb: Option<f64>,
    pub storage_available_gb: Option<f64>,
    pub queue_capacity: Option<i32>,
    pub queue_current: Option<i32>,
    pub health_status: String,
    pub is_available: bool,
    pub last_health_check: Option<DateTimeUtc>,
    pub response_time_ms: Option<f64>,
    pub error_message: String,
    pub first_unhealthy_at: Option<DateTimeUtc>,
    pub consecutive_failures: i32,
    pub next_check_at: Option<DateTimeUtc>,
    pub health_version: i64,
    pub search_text: String,
    pub continent_key: String,
    pub country_key: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
