//! SQLite (opened read-only) and PostgreSQL (every transaction read-only): Django's
//! `django_session` table and tower-sessions' SQLx tables (`tower_sessions` in SQLite, the
//! `tower_sessions.session` table in PostgreSQL).

use std::{path::Path, str::FromStr as _, time::Duration, time::Instant};

use futures::StreamExt as _;
use sqlx::{
    Row as _,
    postgres::{PgConnectOptions, PgPool, PgPoolOptions},
    sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions},
};
use time::{OffsetDateTime, PrimitiveDateTime, macros::format_description};

use super::{Progress, RawRecord, WatchError};
use crate::{MAX_KEY_BYTES, MAX_RECORD_BYTES, MAX_SESSIONS, format::Format};

/// How long connecting, or waiting for a lock, may take.
const TIMEOUT: Duration = Duration::from_secs(3);

enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

pub(crate) struct SqlSource {
    pool: Pool,
    shown: String,
    format: Format,
    /// SQLite's `data_version` at the last complete listing: the same number means no other
    /// connection committed since, and the listing can be skipped.
    data_version: Option<i64>,
}

impl SqlSource {
    pub(crate) async fn open_sqlite(
        path: &Path,
        shown: String,
        format: Option<Format>,
    ) -> Result<(Self, Format), WatchError> {
        if let Err(e) = std::fs::metadata(path) {
            return Err(WatchError::Unreachable {
                store: shown,
                reason: e.to_string(),
            });
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .read_only(true)
            .create_if_missing(false)
            .busy_timeout(TIMEOUT);
        // One connection kept for good: `data_version` compares commits seen by one connection.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .max_lifetime(None)
            .idle_timeout(None)
            .acquire_timeout(TIMEOUT)
            .connect_with(options)
            .await
            .map_err(|e| WatchError::Unreachable {
                store: shown.clone(),
                reason: e.to_string(),
            })?;
        let tables: Vec<String> =
            sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
                .fetch_all(&pool)
                .await
                .map_err(|e| WatchError::Failed {
                    store: shown.clone(),
                    reason: format!("not a SQLite database the lab can read ({e})"),
                })?;
        let has = |name: &str| tables.iter().any(|t| t == name);
        let found = match format {
            Some(Format::Django) if has("django_session") => Format::Django,
            Some(Format::TowerSessions) if has("tower_sessions") => Format::TowerSessions,
            None if has("django_session") => Format::Django,
            None if has("tower_sessions") => Format::TowerSessions,
            _ => {
                return Err(WatchError::UnknownFormat {
                    store: shown,
                    found: format!(
                        "no django_session or tower_sessions table (tables: {})",
                        if tables.is_empty() {
                            "none".to_owned()
                        } else {
                            tables
                                .iter()
                                .take(12)
                                .cloned()
                                .collect::<Vec<_>>()
                                .join(", ")
                        }
                    ),
                });
            }
        };
        Ok((
            Self {
                pool: Pool::Sqlite(pool),
                shown,
                format: found,
                data_version: None,
            },
            found,
        ))
    }

    pub(crate) async fn open_postgres(
        url: &str,
        shown: String,
        format: Option<Format>,
    ) -> Result<(Self, Format), WatchError> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|_| WatchError::Failed {
                store: shown.clone(),
                reason: "not a PostgreSQL URL".into(),
            })?
            .application_name("session-lab watch (read-only)")
            // Every transaction of this connection is read-only: a statement that writes fails.
            .options([("default_transaction_read_only", "on")]);
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(TIMEOUT)
            .connect_with(options)
            .await
            .map_err(|e| {
                let reason = e.to_string();
                if reason.contains("password authentication failed")
                    || reason.contains("28P01")
                    || reason.contains("28000")
                {
                    WatchError::Denied {
                        store: shown.clone(),
                        reason,
                    }
                } else {
                    WatchError::Unreachable {
                        store: shown.clone(),
                        reason,
                    }
                }
            })?;
        // A pooler that drops the startup option (PgBouncer's ignore_startup_parameters) would
        // leave the connection writable: refuse it rather than watch with one.
        let read_only: String = sqlx::query_scalar("SHOW transaction_read_only")
            .fetch_one(&pool)
            .await
            .map_err(|e| WatchError::Failed {
                store: shown.clone(),
                reason: e.to_string(),
            })?;
        if read_only != "on" {
            return Err(WatchError::Failed {
                store: shown,
                reason: "the connection is not read-only (a connection pooler dropped \
                         default_transaction_read_only?): connect to PostgreSQL directly"
                    .into(),
            });
        }
        let (django, tower): (bool, bool) = sqlx::query_as(
            "SELECT to_regclass('django_session') IS NOT NULL, to_regclass('tower_sessions.session') IS NOT NULL",
        )
        .fetch_one(&pool)
        .await
        .map_err(|e| WatchError::Failed {
            store: shown.clone(),
            reason: e.to_string(),
        })?;
        let found = match format {
            Some(Format::Django) if django => Format::Django,
            Some(Format::TowerSessions) if tower => Format::TowerSessions,
            None if django => Format::Django,
            None if tower => Format::TowerSessions,
            _ => {
                return Err(WatchError::UnknownFormat {
                    store: shown,
                    found: "no django_session table and no tower_sessions.session table".into(),
                });
            }
        };
        Ok((
            Self {
                pool: Pool::Postgres(pool),
                shown,
                format: found,
                data_version: None,
            },
            found,
        ))
    }

    fn failed(&self, e: &sqlx::Error) -> WatchError {
        WatchError::Failed {
            store: self.shown.clone(),
            reason: e.to_string(),
        }
    }

    fn select(&self) -> &'static str {
        // The record's first MAX_RECORD_BYTES bytes and its whole length; at most
        // MAX_SESSIONS rows (checked against the constants in a test).
        match (&self.pool, self.format) {
            (Pool::Sqlite(_), Format::Django) => {
                "SELECT session_key, CAST(substr(session_data, 1, 65536) AS BLOB), length(CAST(session_data AS BLOB)), expire_date FROM django_session"
            }
            (Pool::Sqlite(_), _) => {
                "SELECT id, substr(data, 1, 65536), length(data), expiry_date FROM tower_sessions"
            }
            (Pool::Postgres(_), Format::Django) => {
                "SELECT session_key, convert_to(left(session_data, 65536), 'UTF8'), octet_length(session_data), extract(epoch from expire_date)::float8 FROM django_session"
            }
            (Pool::Postgres(_), _) => {
                "SELECT id, substring(data from 1 for 65536), octet_length(data), extract(epoch from expiry_date)::float8 FROM tower_sessions.session"
            }
        }
    }

    pub(crate) async fn list(
        &mut self,
        deadline: Instant,
        found: &mut (dyn FnMut(RawRecord) + Send),
    ) -> Result<Progress, WatchError> {
        let mut progress = Progress::default();
        if let Pool::Sqlite(pool) = &self.pool {
            let version: i64 = sqlx::query_scalar("PRAGMA data_version")
                .fetch_one(pool)
                .await
                .map_err(|e| self.failed(&e))?;
            if self.data_version == Some(version) {
                progress.unchanged = true;
                return Ok(progress);
            }
            self.data_version = Some(version);
        }
        let sql = self.select();
        let format = self.format;
        let progress_ref = &mut progress;
        let rows: Result<(), sqlx::Error> = async {
            match &self.pool {
                Pool::Sqlite(pool) => {
                    let mut rows = sqlx::query(sql).fetch(pool);
                    while let Some(row) = rows.next().await {
                        progress_ref.looked_at += 1;
                        // A row the lab cannot read (a key that is not text) is skipped.
                        if let Ok(record) = sqlite_record(&row?, format) {
                            found(record);
                        }
                        if progress_ref.looked_at as usize >= MAX_SESSIONS
                            || Instant::now() >= deadline
                        {
                            progress_ref.cut = true;
                            break;
                        }
                    }
                }
                Pool::Postgres(pool) => {
                    let mut rows = sqlx::query(sql).fetch(pool);
                    while let Some(row) = rows.next().await {
                        progress_ref.looked_at += 1;
                        if let Ok(record) = pg_record(&row?) {
                            found(record);
                        }
                        if progress_ref.looked_at as usize >= MAX_SESSIONS
                            || Instant::now() >= deadline
                        {
                            progress_ref.cut = true;
                            break;
                        }
                    }
                }
            }
            Ok(())
        }
        .await;
        if let Err(e) = rows {
            self.data_version = None;
            return Err(self.failed(&e));
        }
        if progress.cut {
            self.data_version = None;
        }
        Ok(progress)
    }

    /// The next listing reads the store even if it did not change (its reader dropped its view).
    pub(crate) fn forget_version(&mut self) {
        self.data_version = None;
    }

    pub(crate) async fn read(
        &mut self,
        ids: &[String],
    ) -> Result<Vec<(String, Option<RawRecord>)>, WatchError> {
        let key = match self.format {
            Format::Django => "session_key",
            _ => "id",
        };
        let sql = format!("{} WHERE {key} = $1", self.select());
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let record = match &self.pool {
                Pool::Sqlite(pool) => sqlx::query(&sql)
                    .bind(id)
                    .fetch_optional(pool)
                    .await
                    .and_then(|row| row.map(|r| sqlite_record(&r, self.format)).transpose()),
                Pool::Postgres(pool) => sqlx::query(&sql)
                    .bind(id)
                    .fetch_optional(pool)
                    .await
                    .and_then(|row| row.map(|r| pg_record(&r)).transpose()),
            }
            .map_err(|e| self.failed(&e))?;
            out.push((id.clone(), record));
        }
        Ok(out)
    }
}

fn sqlite_record(row: &sqlx::sqlite::SqliteRow, format: Format) -> Result<RawRecord, sqlx::Error> {
    let key: String = row.try_get(0)?;
    if key.len() > MAX_KEY_BYTES {
        return Err(sqlx::Error::Decode(
            "a session key longer than 256 bytes".into(),
        ));
    }
    let bytes: Vec<u8> = row.try_get(1)?;
    let full_len: i64 = row.try_get(2)?;
    let expires = match format {
        // Django writes naive UTC text: 2026-12-20 10:00:00.123456.
        Format::Django => row
            .try_get::<String, _>(3)
            .ok()
            .and_then(|text| django_time(&text)),
        _ => row
            .try_get::<i64, _>(3)
            .ok()
            .and_then(|secs| OffsetDateTime::from_unix_timestamp(secs).ok()),
    };
    Ok(RawRecord {
        key,
        bytes: cut_to_bound(bytes),
        full_len: full_len.max(0) as usize,
        expires,
        updated: None,
    })
}

fn pg_record(row: &sqlx::postgres::PgRow) -> Result<RawRecord, sqlx::Error> {
    let key: String = row.try_get(0)?;
    if key.len() > MAX_KEY_BYTES {
        return Err(sqlx::Error::Decode(
            "a session key longer than 256 bytes".into(),
        ));
    }
    let bytes: Vec<u8> = row.try_get(1)?;
    let full_len: i32 = row.try_get(2)?;
    // Seconds since the epoch (PostgreSQL's `infinity` reads as an infinite float): a time the
    // lab can show, or none.
    let expires = row
        .try_get::<f64, _>(3)
        .ok()
        .filter(|secs| secs.is_finite() && secs.abs() < 253_402_300_799.0)
        .and_then(|secs| OffsetDateTime::from_unix_timestamp(secs as i64).ok());
    Ok(RawRecord {
        key,
        bytes: cut_to_bound(bytes),
        full_len: full_len.max(0) as usize,
        expires,
        updated: None,
    })
}

fn cut_to_bound(mut bytes: Vec<u8>) -> Vec<u8> {
    bytes.truncate(MAX_RECORD_BYTES);
    bytes
}

/// Django's SQLite datetime text (UTC).
fn django_time(text: &str) -> Option<OffsetDateTime> {
    let text = text.trim();
    let (base, fraction) = text.split_once('.').unwrap_or((text, ""));
    let base = base.replace('T', " ");
    let at = PrimitiveDateTime::parse(
        &base,
        format_description!("[year]-[month]-[day] [hour]:[minute]:[second]"),
    )
    .ok()?;
    if !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let micros: i64 = format!("{fraction:0<6}").get(..6)?.parse().unwrap_or(0);
    at.assume_utc()
        .checked_add(time::Duration::microseconds(micros))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bounds_in_the_queries_are_the_constants() {
        assert_eq!(MAX_RECORD_BYTES, 65536);
    }

    #[test]
    fn django_times() {
        assert_eq!(
            django_time("2026-12-20 10:00:00.250000"),
            Some(time::macros::datetime!(2026-12-20 10:00:00.25 UTC))
        );
        assert_eq!(
            django_time("2026-12-20 10:00:00"),
            Some(time::macros::datetime!(2026-12-20 10:00 UTC))
        );
        assert_eq!(django_time("yesterday"), None);
    }
}
