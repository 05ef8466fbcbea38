//! Services, reference panels and health history.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[expect(
    elided_lifetimes_in_paths,
    reason = "the async_trait signature of MigrationTrait cannot name the lifetime"
)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    // All or nothing, on SQLite too.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("services")
                    .col(big_pk_auto("id"))
                    .col(string("name"))
                    .col(string("slug"))
                    .col(string("service_type"))
                    .col(string("api_type"))
                    .col(string("base_url"))
                    .col(text("description"))
                    .col(string("version"))
                    .col(boolean("requires_auth"))
                    .col(string("auth_type"))
                    .col(integer("max_file_size_mb"))
                    .col(json("supported_formats"))
                    .col(boolean("supports_hg19"))
                    .col(boolean("supports_hg38"))
                    .col(json("api_config"))
                    .col(text_null("secrets"))
                    .col(json("secret_names"))
                    .col(boolean("is_active"))
                    .col(string("location_institution"))
                    .col(string("location_city"))
                    .col(string("location_country"))
                    .col(string("location_datacenter"))
                    .col(string("continent"))
                    .col(double_null("latitude"))
                    .col(double_null("longitude"))
                    .col(integer_null("cpu_total"))
                    .col(integer_null("cpu_available"))
                    .col(double_null("memory_total_gb"))
                    .col(double_null("memory_available_gb"))
                    .col(double_null("storage_total_gb"))
                    .col(double_null("storage_available_gb"))
                    .col(integer_null("queue_capacity"))
                    .col(integer_null("queue_current"))
                    .col(string("health_status"))
                    .col(boolean("is_available"))
                    .col(timestamp_with_time_zone_null("last_health_check"))
                    .col(double_null("response_time_ms"))
                    .col(text("error_message"))
                    .col(timestamp_with_time_zone_null("first_unhealthy_at"))
                    .col(integer("consecutive_failures"))
                    .col(timestamp_with_time_zone_null("next_check_at"))
                    // Bumped by every recorded probe: the compare-and-set
                    // that keeps concurrent probes from losing updates.
                    .col(big_integer("health_version"))
                    // Lower-cased by the application (Unicode-aware on
                    // every engine), for search and case-blind filters.
                    .col(text("search_text"))
                    .col(string("continent_key"))
                    .col(string("country_key"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .index(
                        Index::create()
                            .name("services_slug_key")
                            .col("slug")
                            .unique(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("services_next_check_at_idx")
                    .table("services")
                    .col("next_check_at")
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("reference_panels")
                    .col(big_pk_auto("id"))
                    .col(big_integer("service_id"))
                    .col(string("name"))
                    .col(string("display_name"))
                    .col(string("slug"))
                    .col(string_null("external_id"))
                    .col(text("description"))
                    .col(string("population"))
                    .col(json("populations"))
                    .col(string("build"))
                    .col(big_integer_null("samples_count"))
                    .col(big_integer_null("variants_count"))
                    .col(boolean("is_available"))
                    .col(boolean("is_public"))
                    .col(boolean("requires_permission"))
                    .col(string("version"))
                    .col(timestamp_with_time_zone_null("last_synced_at"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("reference_panels_service_id_fkey")
                            .from("reference_panels", "service_id")
                            .to("services", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .index(
                        Index::create()
                            .name("reference_panels_service_slug_key")
                            .col("service_id")
                            .col("slug")
                            .unique(),
                    )
                    .index(
                        Index::create()
                            .name("reference_panels_service_external_id_key")
                            .col("service_id")
                            .col("external_id")
                            .unique(),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("health_checks")
                    .col(big_pk_auto("id"))
                    .col(big_integer("service_id"))
                    .col(string("status"))
                    .col(double_null("response_time_ms"))
                    .col(text("error_message"))
                    .col(timestamp_with_time_zone("checked_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("health_checks_service_id_fkey")
                            .from("health_checks", "service_id")
                            .to("services", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("health_checks_service_checked_at_idx")
                    .table("health_checks")
                    .col("service_id")
                    .col("checked_at")
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("health_checks_checked_at_idx")
                    .table("health_checks")
                    .col("checked_at")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["health_checks", "reference_panels", "services"] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
