//! Input files, jobs (with the scheduler's work state and leases), earlier
//! attempts, status updates, remote step logs, result files and the
//! notification outbox.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

fn fk(
    name: &str,
    from: &'static str,
    column: &'static str,
    to: &'static str,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(from, column)
        .to(to, "id")
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

fn index(name: &str, table: &'static str, columns: &[&'static str]) -> IndexCreateStatement {
    let mut index = Index::create();
    index.name(name).table(table);
    for column in columns {
        index.col(*column);
    }
    index.to_owned()
}

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
                    .table("input_files")
                    .col(string("id").primary_key())
                    .col(big_integer("user_id"))
                    .col(string("filename"))
                    .col(string("original_filename"))
                    // The object's path in the file store.
                    .col(string("storage_key"))
                    .col(big_integer("size_bytes"))
                    .col(string("sha256"))
                    .col(string("compression"))
                    // JSON: what the VCF check found.
                    .col(text("vcf_summary"))
                    // JSON array of strings.
                    .col(text("warnings"))
                    .col(timestamp_with_time_zone("created_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "input_files_user_idx",
                "input_files",
                &["user_id", "created_at"],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("jobs")
                    .col(string("id").primary_key())
                    .col(big_integer("user_id"))
                    .col(string_null("parent_id"))
                    .col(boolean("is_parent"))
                    .col(string("name"))
                    .col(text("description"))
                    // Lower-cased name and description, for search.
                    .col(text("search_text"))
                    .col(big_integer_null("service_id"))
                    .col(string("service_name"))
                    // michigan, ga4gh or dnastack; empty for a parent.
                    .col(string("api_type"))
                    .col(big_integer_null("panel_id"))
                    .col(string("panel_name"))
                    .col(string("panel_external_id"))
                    // JSON: the service's and panel's connection settings
                    // as they were when the job was created.
                    .col(text("remote_config"))
                    .col(string_null("input_file_id"))
                    .col(string("input_file_name"))
                    .col(big_integer("input_file_size"))
                    .col(string("input_format"))
                    .col(string("build"))
                    .col(boolean("phasing"))
                    .col(string("population"))
                    .col(string("mode"))
                    .col(double_null("r2_filter"))
                    .col(string("status"))
                    .col(integer("progress"))
                    .col(integer("attempt"))
                    .col(string_null("external_id"))
                    .col(string("remote_state"))
                    // JSON: the remote's last reply about the job.
                    .col(text("remote_payload"))
                    .col(string("payload_digest"))
                    .col(text("error_message"))
                    .col(text("warnings"))
                    .col(boolean("needs_credentials"))
                    // Fingerprint of the credential the remote refused: the
                    // job resumes when the credential changes.
                    .col(string("refused_credential"))
                    .col(boolean("cancel_requested"))
                    .col(text("results_password"))
                    .col(timestamp_with_time_zone_null("results_expire_at"))
                    .col(string_null("quota_reservation"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .col(timestamp_with_time_zone_null("submitted_at"))
                    .col(timestamp_with_time_zone_null("started_at"))
                    .col(timestamp_with_time_zone_null("completed_at"))
                    .col(big_integer("version"))
                    // The scheduler's work: what to do next, when, and who
                    // holds the lease on it.
                    .col(string("phase"))
                    .col(timestamp_with_time_zone("next_run_at"))
                    .col(string_null("lease_owner"))
                    .col(timestamp_with_time_zone_null("lease_until"))
                    .col(integer("error_count"))
                    .col(text("last_error"))
                    .col(timestamp_with_time_zone_null("submit_started_at"))
                    .col(integer("not_found_count"))
                    .col(integer("restart_count"))
                    .col(integer("cancel_attempts"))
                    .foreign_key(&mut fk("jobs_parent_id_fkey", "jobs", "parent_id", "jobs"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("jobs_input_file_id_fkey")
                            .from("jobs", "input_file_id")
                            .to("input_files", "id")
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, columns) in [
            ("jobs_user_created_idx", &["user_id", "created_at"][..]),
            ("jobs_parent_idx", &["parent_id"][..]),
            ("jobs_service_idx", &["service_id", "user_id", "phase"][..]),
            ("jobs_input_file_idx", &["input_file_id"][..]),
        ] {
            manager.create_index(index(name, "jobs", columns)).await?;
        }
        // The scheduler's work, in the order it is due: only jobs with work
        // left, so a claim reads the few due rows, not every job.
        manager
            .create_index(
                index("jobs_due_idx", "jobs", &["next_run_at"])
                    .and_where(Expr::col("phase").ne("done"))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("job_attempts")
                    .col(big_pk_auto("id"))
                    .col(string("job_id"))
                    .col(integer("attempt"))
                    .col(string("status"))
                    .col(string_null("external_id"))
                    .col(string("remote_state"))
                    .col(text("error_message"))
                    .col(timestamp_with_time_zone_null("submitted_at"))
                    .col(timestamp_with_time_zone_null("started_at"))
                    .col(timestamp_with_time_zone_null("completed_at"))
                    .col(timestamp_with_time_zone("created_at"))
                    .foreign_key(&mut fk(
                        "job_attempts_job_id_fkey",
                        "job_attempts",
                        "job_id",
                        "jobs",
                    ))
                    .index(
                        Index::create()
                            .name("job_attempts_job_attempt_key")
                            .col("job_id")
                            .col("attempt")
                            .unique(),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("job_status_updates")
                    .col(big_pk_auto("id"))
                    .col(string("job_id"))
                    .col(integer("attempt"))
                    .col(string("status"))
                    .col(integer("progress"))
                    .col(text("message"))
                    .col(text("details"))
                    .col(timestamp_with_time_zone("created_at"))
                    .foreign_key(&mut fk(
                        "job_status_updates_job_id_fkey",
                        "job_status_updates",
                        "job_id",
                        "jobs",
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "job_status_updates_job_idx",
                "job_status_updates",
                &["job_id", "id"],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("job_logs")
                    .col(big_pk_auto("id"))
                    .col(string("job_id"))
                    .col(integer("attempt"))
                    .col(integer("step_index"))
                    .col(string("step_name"))
                    // The entry's position within its step on the remote:
                    // with the step, what makes a log line unique.
                    .col(integer("entry_index"))
                    .col(string("log_type"))
                    .col(text("message"))
                    .col(timestamp_with_time_zone("logged_at"))
                    .foreign_key(&mut fk(
                        "job_logs_job_id_fkey",
                        "job_logs",
                        "job_id",
                        "jobs",
                    ))
                    .index(
                        Index::create()
                            .name("job_logs_entry_key")
                            .col("job_id")
                            .col("attempt")
                            .col("step_index")
                            .col("entry_index")
                            .unique(),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("result_files")
                    .col(string("id").primary_key())
                    .col(string("job_id"))
                    .col(integer("attempt"))
                    .col(string("name"))
                    .col(text("description"))
                    .col(big_integer("size_bytes"))
                    .col(string("sha256"))
                    .col(string("remote_hash"))
                    // How the remote serves it (a URL, or a reference that
                    // is not one); never shown when it is a secret link.
                    .col(text("remote_location"))
                    .col(boolean("downloadable"))
                    .col(timestamp_with_time_zone_null("remote_expires_at"))
                    .col(string("state"))
                    .col(string_null("storage_key"))
                    .col(string("content_type"))
                    .col(text("error"))
                    .col(integer("download_attempts"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(&mut fk(
                        "result_files_job_id_fkey",
                        "result_files",
                        "job_id",
                        "jobs",
                    ))
                    .index(
                        Index::create()
                            .name("result_files_name_key")
                            .col("job_id")
                            .col("attempt")
                            .col("name")
                            .unique(),
                    )
                    .to_owned(),
            )
            .await?;

        // One mail per outcome: written in the transaction that reaches the
        // outcome, sent from here (retried until the Users service takes it).
        manager
            .create_table(
                Table::create()
                    .table("job_notifications")
                    .col(big_pk_auto("id"))
                    .col(string("job_id"))
                    .col(big_integer("user_id"))
                    .col(string("dedupe_key"))
                    .col(string("subject"))
                    .col(text("body"))
                    .col(integer("attempts"))
                    .col(timestamp_with_time_zone("next_attempt_at"))
                    .col(timestamp_with_time_zone_null("sent_at"))
                    .col(text("last_error"))
                    .col(timestamp_with_time_zone("created_at"))
                    .index(
                        Index::create()
                            .name("job_notifications_dedupe_key")
                            .col("dedupe_key")
                            .unique(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "job_notifications_pending_idx",
                "job_notifications",
                &["sent_at", "next_attempt_at"],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "job_notifications",
            "result_files",
            "job_logs",
            "job_status_updates",
            "job_attempts",
            "jobs",
            "input_files",
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
