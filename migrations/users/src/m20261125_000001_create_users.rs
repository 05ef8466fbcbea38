//! Accounts (with profile and quota limits), roles, sessions and refresh
//! tokens, password resets, login throttling, the audit log, service
//! credentials, quota usage and reservations, and the mail outbox.

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
                    .table("users")
                    .col(big_pk_auto("id"))
                    .col(string("username"))
                    // Lower-cased by the application: usernames and emails
                    // are unique regardless of case.
                    .col(string("username_key"))
                    .col(string("email"))
                    .col(string("email_key"))
                    .col(string("first_name"))
                    .col(string("last_name"))
                    // bcrypt, or a legacy Django pbkdf2_sha256 hash until
                    // the user's first login.
                    .col(string("password_hash"))
                    .col(boolean("is_active"))
                    .col(timestamp_with_time_zone("date_joined"))
                    .col(timestamp_with_time_zone_null("last_login"))
                    .col(timestamp_with_time_zone("password_changed_at"))
                    // Profile.
                    .col(string("institution"))
                    .col(string("department"))
                    .col(string("position"))
                    .col(string("country"))
                    .col(text("research_interests"))
                    .col(string("phone"))
                    .col(text("bio"))
                    .col(string("preferred_language"))
                    .col(string("time_zone"))
                    .col(boolean("email_notifications"))
                    // Quota limits.
                    .col(integer("monthly_job_limit"))
                    .col(big_integer("storage_limit_bytes"))
                    // Lower-cased username, email, names and institution.
                    .col(text("search_text"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .index(
                        Index::create()
                            .name("users_username_key")
                            .col("username_key")
                            .unique(),
                    )
                    .index(
                        Index::create()
                            .name("users_email_key")
                            .col("email_key")
                            .unique(),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("role_grants")
                    .col(big_pk_auto("id"))
                    .col(big_integer("user_id"))
                    .col(string("role"))
                    .col(big_integer_null("service_id"))
                    .col(timestamp_with_time_zone_null("expires_at"))
                    .col(timestamp_with_time_zone("granted_at"))
                    .col(big_integer_null("granted_by"))
                    .foreign_key(&mut fk(
                        "role_grants_user_id_fkey",
                        "role_grants",
                        "user_id",
                        "users",
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "role_grants_user_id_idx",
                "role_grants",
                &["user_id"],
            ))
            .await?;

        // A session is one refresh-token family: every rotation stays in it,
        // and reusing a spent token revokes it whole.
        manager
            .create_table(
                Table::create()
                    .table("sessions")
                    .col(string("id").primary_key())
                    .col(big_integer("user_id"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("last_used_at"))
                    .col(timestamp_with_time_zone("expires_at"))
                    .col(timestamp_with_time_zone_null("revoked_at"))
                    .col(string("revoked_reason"))
                    .col(string("ip_address"))
                    .col(string("user_agent"))
                    .foreign_key(&mut fk(
                        "sessions_user_id_fkey",
                        "sessions",
                        "user_id",
                        "users",
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("sessions_user_id_idx", "sessions", &["user_id"]))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("refresh_tokens")
                    // SHA-256 of the token, hex: the token itself is never stored.
                    .col(string("token_hash").primary_key())
                    .col(string("session_id"))
                    .col(big_integer("user_id"))
                    .col(timestamp_with_time_zone("issued_at"))
                    .col(timestamp_with_time_zone("expires_at"))
                    .col(timestamp_with_time_zone_null("used_at"))
                    .foreign_key(&mut fk(
                        "refresh_tokens_user_id_fkey",
                        "refresh_tokens",
                        "user_id",
                        "users",
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .name("refresh_tokens_session_id_fkey")
                            .from("refresh_tokens", "session_id")
                            .to("sessions", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "refresh_tokens_session_id_idx",
                "refresh_tokens",
                &["session_id"],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("password_resets")
                    .col(string("token_hash").primary_key())
                    .col(big_integer("user_id"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("expires_at"))
                    .col(timestamp_with_time_zone_null("used_at"))
                    .foreign_key(&mut fk(
                        "password_resets_user_id_fkey",
                        "password_resets",
                        "user_id",
                        "users",
                    ))
                    .to_owned(),
            )
            .await?;

        // Failed logins per key (`account:<username>` or `addr:<ip>`).
        manager
            .create_table(
                Table::create()
                    .table("login_throttle")
                    .col(string("key").primary_key())
                    .col(integer("failures"))
                    .col(timestamp_with_time_zone("window_start"))
                    .col(timestamp_with_time_zone_null("locked_until"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .to_owned(),
            )
            .await?;

        // No foreign key: entries outlive the accounts they name.
        manager
            .create_table(
                Table::create()
                    .table("audit_logs")
                    .col(big_pk_auto("id"))
                    .col(big_integer_null("user_id"))
                    .col(string("action"))
                    .col(string("resource_type"))
                    .col(string("resource_id"))
                    .col(text("details"))
                    .col(string("ip_address"))
                    .col(string("user_agent"))
                    .col(timestamp_with_time_zone("timestamp"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "audit_logs_timestamp_idx",
                "audit_logs",
                &["timestamp"],
            ))
            .await?;
        manager
            .create_index(index(
                "audit_logs_user_id_idx",
                "audit_logs",
                &["user_id", "id"],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("credentials")
                    .col(big_pk_auto("id"))
                    .col(big_integer("user_id"))
                    .col(big_integer("service_id"))
                    .col(string("credential_type"))
                    .col(string("label"))
                    .col(string("hint"))
                    .col(boolean("has_api_token"))
                    .col(boolean("has_oauth_token"))
                    .col(boolean("has_basic_auth"))
                    // AES-256-GCM, bound to (user, service); see crypto::Keyring.
                    .col(text("sealed"))
                    .col(timestamp_with_time_zone_null("expires_at"))
                    .col(boolean("is_verified"))
                    .col(timestamp_with_time_zone_null("last_verified_at"))
                    .col(text("verification_error"))
                    .col(timestamp_with_time_zone_null("last_used_at"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(&mut fk(
                        "credentials_user_id_fkey",
                        "credentials",
                        "user_id",
                        "users",
                    ))
                    .index(
                        Index::create()
                            .name("credentials_user_service_key")
                            .col("user_id")
                            .col("service_id")
                            .unique(),
                    )
                    .to_owned(),
            )
            .await?;

        // Usage per (user, kind, period): jobs count per month ("2026-11"),
        // storage bytes in the period "" (never rolls over).
        manager
            .create_table(
                Table::create()
                    .table("quota_usage")
                    .col(big_integer("user_id"))
                    .col(string("kind"))
                    .col(string("period"))
                    .col(big_integer("used"))
                    .primary_key(Index::create().col("user_id").col("kind").col("period"))
                    .foreign_key(&mut fk(
                        "quota_usage_user_id_fkey",
                        "quota_usage",
                        "user_id",
                        "users",
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("quota_reservations")
                    .col(string("reservation_id").primary_key())
                    .col(big_integer("user_id"))
                    .col(string("kind"))
                    .col(string("period"))
                    .col(big_integer("amount"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone_null("released_at"))
                    .foreign_key(&mut fk(
                        "quota_reservations_user_id_fkey",
                        "quota_reservations",
                        "user_id",
                        "users",
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("mail_outbox")
                    .col(big_pk_auto("id"))
                    .col(string("recipient"))
                    .col(string("subject"))
                    .col(text("body"))
                    .col(integer("attempts"))
                    .col(timestamp_with_time_zone("next_attempt_at"))
                    .col(text("last_error"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone_null("sent_at"))
                    // Set when a send failed permanently (a refused address).
                    .col(timestamp_with_time_zone_null("failed_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "mail_outbox_pending_idx",
                "mail_outbox",
                &["sent_at", "next_attempt_at"],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "mail_outbox",
            "quota_reservations",
            "quota_usage",
            "credentials",
            "audit_logs",
            "login_throttle",
            "password_resets",
            "refresh_tokens",
            "sessions",
            "role_grants",
            "users",
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
