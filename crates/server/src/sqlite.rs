//! Sessions in a SQLite file (through sqlx), listed by querying the table, so sessions
//! written by another process or another server instance show up too. They survive a restart
//! of the server.
//!
//! Written here rather than taken from tower-sessions-sqlx-store, whose current release is
//! built against tower-sessions 0.14, not the 0.15 this server uses. The table keeps creation
//! and update times too, for the server panel.

use std::{
    path::PathBuf,
    sync::{
        Arc, Weak,
        atomic::{AtomicU64, Ordering},
    },
};

use super::{
    StoreError,
    locks::{Attempt, Lease, SHARED_LEASE, SharedLease, WANTED, take_lease},
    session::{DataText, SessionRow, encode_for_store, from_unix_millis, now_millis, unix_millis},
    store::{ListSessions, StoreKind},
};
use async_trait::async_trait;
use sqlx::{
    ConnectOptions as _, Connection as _,
    sqlite::{SqliteConnectOptions, SqliteConnection, SqlitePool, SqlitePoolOptions},
};
use tower_sessions::{
    SessionStore,
    session::{Id, Record},
    session_store,
};

/// The table sessions live in.
const TABLE: &str = "session_lab_sessions";

/// The columns a session's lease lives in, beside it: the holder's token, until when (Unix
/// milliseconds, machine clock), and until when a request that found it taken waits for it.
/// Added to a file made before leases lived there.
const LEASE_COLUMNS: [(&str, &str); 3] = [
    ("lease", "lease text"),
    ("lease_until", "lease_until integer not null default 0"),
    ("wanted_until", "wanted_until integer not null default 0"),
];

/// How long a write waits for another process's lock on the file before it fails.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// How large the write-ahead log may grow before it is checkpointed whole and cut back (a
/// `TRUNCATE` checkpoint, writes held meanwhile). A log can only start over at a moment no
/// reader is in it, and under a steady load there may be none: the log then grew by half a
/// gigabyte in three seconds of the rotation benchmark, and every write got slower.
const WAL_LIMIT: u64 = 64 * 1024 * 1024;

/// After how many writes the checkpointer copies what was written back into the database
/// file (each write is a few pages of log; SQLite's own checkpoints come every 1,000 pages).
/// SQLite runs its own inside the commit that crosses 1,000 pages, on the writer, two
/// `fsync`s while every write waits; run beside the writer, on a connection of their own,
/// they hold up no write. Often enough that the log starts over while it is a few
/// megabytes: a log let grow to [`WAL_LIMIT`] between checkpoints is cut back when it
/// starts over, and freeing 64 MiB of page cache took the writer 30 ms every 400 ms under
/// the returning-browser benchmark (its 99th percentile, against a median of 3 ms).
const CHECKPOINT_AFTER: u64 = 256;

/// How long (in pages) the log may grow before the checkpointer makes it start over (see
/// [`checkpoints`]): 16 MiB of 4 KiB pages.
const RESTART_AFTER_FRAMES: i64 = 4096;

/// How often the checkpointer looks anyway, for the writes short of [`CHECKPOINT_AFTER`].
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(100);

/// Writes counted for the checkpointer, and its call.
#[derive(Debug, Default)]
struct Written {
    count: AtomicU64,
    /// Told every [`CHECKPOINT_AFTER`] writes.
    enough: tokio::sync::Notify,
}

/// A SQLite session store and the pool it reads through.
#[derive(Clone, Debug)]
pub struct SqliteSessions {
    /// Reads (listings, counts, plain loads), several at once: WAL lets them run beside a write.
    pool: SqlitePool,
    /// Writes, one connection: SQLite writes one at a time anyway, and queued here they wait
    /// their turn without the busy handler's sleeps that connections contending for the file's
    /// write lock would take (measured: the returning-browser benchmark 30 % faster). Held
    /// by a lock, not in a pool: a pool's connection costs two more round trips to SQLite's
    /// thread per statement (a ping as it is taken, another as it is given back), and every
    /// write here is one statement, with no transaction for a dropped request to leave open.
    writer: Arc<tokio::sync::Mutex<SqliteConnection>>,
    /// Writes so far, for the checkpointer (which stops when the store is dropped).
    writes: Arc<Written>,
    path: PathBuf,
    /// The file opened (device and inode), to notice it removed or replaced underneath.
    identity: Option<(u64, u64)>,
}

/// A file's device and inode, where the platform has them.
fn identity(path: &std::path::Path) -> std::io::Result<Option<(u64, u64)>> {
    let meta = std::fs::metadata(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        Ok(Some((meta.dev(), meta.ino())))
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        Ok(None)
    }
}

impl SqliteSessions {
    /// Opens (creating if missing) the database at `path` and its sessions table. A file that
    /// is not a SQLite database, or is locked, is an error and is left untouched.
    pub async fn open(path: PathBuf) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            // The lab's own folder is the user's alone; a folder the user named is left as it is.
            let made = if dir == crate::data_dir() {
                crate::files::create_private_dir(dir)
            } else {
                std::fs::create_dir_all(dir)
            };
            made.map_err(|source| StoreError::Create {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        // A new database file is made 0600 before SQLite opens it; SQLite gives its -wal and
        // -shm files the database's permissions, so the sessions stay the user's alone.
        match crate::files::write_private(&path, b"") {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(source) => return Err(StoreError::Create { path, source }),
        }
        // A file name, not a URL: `?`, `%2F` and bytes that are not UTF-8 stay themselves.
        let options = SqliteConnectOptions::new()
            .filename(sqlite_name(&path)?)
            .create_if_missing(true)
            .busy_timeout(BUSY_TIMEOUT)
            // Write-ahead logging: readers never wait for the writer, and a commit costs one
            // append instead of a journal rewrite (the usual setting for a session table).
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
            .synchronous(sqlx::sqlite::SqliteSynchronous::Normal)
            // Each time the log starts over, a longer file is cut back to this.
            .pragma("journal_size_limit", WAL_LIMIT.to_string());
        let mut writer = options.connect().await.map_err(|e| describe(&path, &e))?;
        // Checkpoints are the checkpointer's (see [`CHECKPOINT_EVERY`]), never a write's.
        sqlx::query("pragma wal_autocheckpoint = 0")
            .execute(&mut writer)
            .await
            .map_err(|e| describe(&path, &e))?;
        let checkpointer = options.connect().await.map_err(|e| describe(&path, &e))?;
        let pool = SqlitePoolOptions::new()
            .max_connections(3)
            // A connection to a local file does not drop: no ping (a round trip to SQLite's
            // thread) each time one is taken.
            .test_before_acquire(false)
            .connect_with(options)
            .await
            .map_err(|e| describe(&path, &e))?;
        sqlx::query(&format!(
            "create table if not exists {TABLE} (
                id text primary key not null,
                data blob not null,
                expires integer not null,
                created integer not null,
                updated integer not null
            )"
        ))
        .execute(&pool)
        .await
        .map_err(|e| describe(&path, &e))?;
        let columns: Vec<(String,)> =
            sqlx::query_as(&format!("select name from pragma_table_info('{TABLE}')"))
                .fetch_all(&pool)
                .await
                .map_err(|e| describe(&path, &e))?;
        for (name, definition) in LEASE_COLUMNS {
            if !columns.iter().any(|(column,)| column == name) {
                sqlx::query(&format!("alter table {TABLE} add column {definition}"))
                    .execute(&pool)
                    .await
                    .map_err(|e| describe(&path, &e))?;
            }
        }
        // The sweep deletes by expiry every second: with this index it reads only the expired
        // rows, not the whole table (a full scan of 360,000 rows cost 1.5% of a core, idle).
        sqlx::query(&format!(
            "create index if not exists {TABLE}_expires on {TABLE} (expires)"
        ))
        .execute(&pool)
        .await
        .map_err(|e| describe(&path, &e))?;
        let identity = identity(&path).map_err(|source| StoreError::Create {
            path: path.clone(),
            source,
        })?;
        let sessions = Self {
            pool,
            writer: Arc::new(tokio::sync::Mutex::new(writer)),
            writes: Arc::default(),
            path,
            identity,
        };
        tokio::spawn(checkpoints(
            checkpointer,
            Arc::downgrade(&sessions.writes),
            Arc::downgrade(&sessions.writer),
            {
                let mut wal = sessions.path.clone().into_os_string();
                wal.push("-wal");
                PathBuf::from(wal)
            },
        ));
        Ok(sessions)
    }

    /// Whether the file opened is still the one at its path: SQLite goes on writing to a file
    /// removed (or replaced by another) underneath, and every session written then would be
    /// lost at the next start — so that is a clear error instead, before a write or a listing.
    fn file_in_place(&self) -> session_store::Result<()> {
        let gone = |what: &str| {
            session_store::Error::Backend(format!(
                "the SQLite file {} was {what} while the server ran; nothing is written to it \
                 now (restart the server on the file to go on)",
                self.path.display()
            ))
        };
        match identity(&self.path) {
            Ok(now) if now == self.identity => Ok(()),
            Ok(_) => Err(gone("replaced by another file")),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(gone("removed")),
            Err(e) => Err(session_store::Error::Backend(format!(
                "the SQLite file {} cannot be read: {e}",
                self.path.display()
            ))),
        }
    }

    /// The database file.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }
}

/// The name to open `path` by. The driver takes only UTF-8 names but opens them as SQLite
/// URIs, so a path that is not UTF-8 is given as a `file:` URI whose `%XX` escapes SQLite
/// decodes back to the very bytes.
fn sqlite_name(path: &std::path::Path) -> Result<PathBuf, StoreError> {
    if path.to_str().is_some() {
        return Ok(path.to_path_buf());
    }
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt as _;
        let mut uri = String::from("file:");
        for byte in path.as_os_str().as_bytes() {
            match byte {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                    uri.push(char::from(*byte));
                }
                _ => uri.push_str(&format!("%{byte:02X}")),
            }
        }
        Ok(PathBuf::from(uri))
    }
    #[cfg(not(unix))]
    Err(StoreError::NotUnicode {
        path: path.to_path_buf(),
    })
}

/// A database error, told apart by what the user can do about it.
fn describe(path: &std::path::Path, err: &sqlx::Error) -> StoreError {
    let reason = err.to_string();
    let path = path.to_path_buf();
    if reason.contains("not a database") || reason.contains("malformed") {
        StoreError::NotSqlite { path, reason }
    } else if reason.contains("locked") || reason.contains("busy") {
        StoreError::Locked { path, reason }
    } else {
        StoreError::Sqlite { path, reason }
    }
}

fn sql_error(err: sqlx::Error) -> session_store::Error {
    session_store::Error::Backend(err.to_string())
}

fn encode(record: &Record) -> session_store::Result<Vec<u8>> {
    encode_for_store(&record.data)
}

/// One row of the table: id, data, expires, created, updated (times as Unix milliseconds).
type Row = (String, Vec<u8>, i64, i64, i64);

fn session_row((id, data, expires, created, updated): Row) -> session_store::Result<SessionRow> {
    Ok(SessionRow {
        id: id
            .parse()
            .map_err(|e: super::NotASessionId| session_store::Error::Decode(e.to_string()))?,
        data: DataText::from_json(&data),
        expires_at: from_unix_millis(expires),
        created_at: Some(from_unix_millis(created)),
        updated_at: Some(from_unix_millis(updated)),
        key: None,
    })
}

fn now() -> i64 {
    now_millis()
}

impl SqliteSessions {
    /// The writer connection, waited for; the write is counted for the checkpointer.
    async fn writer(&self) -> tokio::sync::MutexGuard<'_, SqliteConnection> {
        let writer = self.writer.lock().await;
        if self.writes.count.fetch_add(1, Ordering::Relaxed) % CHECKPOINT_AFTER
            == CHECKPOINT_AFTER - 1
        {
            self.writes.enough.notify_one();
        }
        writer
    }

    /// Runs an insert of `record` as a row (id, data, expires, created, updated — both times
    /// now); returns how many rows it wrote.
    async fn write(&self, sql: &str, record: &Record) -> session_store::Result<u64> {
        self.file_in_place()?;
        let now = now();
        let done = sqlx::query(sql)
            .bind(record.id.to_string())
            .bind(encode(record)?)
            .bind(unix_millis(record.expiry_date))
            .bind(now)
            .bind(now)
            .execute(&mut *self.writer().await)
            .await
            .map_err(sql_error)?;
        Ok(done.rows_affected())
    }
}

/// The checkpointer: after every [`CHECKPOINT_AFTER`] writes, and every [`CHECKPOINT_EVERY`]
/// that saw one, copies what was written back into the database file, on a connection of its own beside the writer (a `PASSIVE`
/// checkpoint: it waits for no one and no one waits for it). A log grown past [`WAL_LIMIT`]
/// is checkpointed whole and cut back instead, with the writer held meanwhile so no write
/// waits in SQLite's busy handler (readers left in the log may keep it whole: the next
/// tick tries again). Ends when the store is dropped.
async fn checkpoints(
    mut connection: SqliteConnection,
    writes: Weak<Written>,
    writer: Weak<tokio::sync::Mutex<SqliteConnection>>,
    wal: PathBuf,
) {
    let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut seen = 0;
    let mut failing = false;
    while let Some(written) = writes.upgrade() {
        tokio::select! {
            () = written.enough.notified() => {}
            _ = tick.tick() => {}
        }
        let written = written.count.load(Ordering::Relaxed);
        if written == seen {
            continue;
        }
        seen = written;
        let Some(writer) = writer.upgrade() else {
            break;
        };
        let mut checkpoint = async |mode: &str| -> Result<(i64, i64, i64), sqlx::Error> {
            sqlx::query_as(&format!("pragma wal_checkpoint({mode})"))
                .fetch_one(&mut connection)
                .await
        };
        let done = if std::fs::metadata(&wal).is_ok_and(|m| m.len() > WAL_LIMIT) {
            let _held = writer.lock().await;
            checkpoint("truncate").await
        } else {
            match checkpoint("passive").await {
                // The log starts over only at a write that finds every frame of it copied,
                // and frames were written while this checkpoint ran: once the log is long,
                // the few written meanwhile are copied with the writer held.
                Ok((_, frames, _)) if frames >= RESTART_AFTER_FRAMES => {
                    let _held = writer.lock().await;
                    checkpoint("passive").await
                }
                done => done,
            }
        };
        drop(writer);
        match done {
            Ok((busy, _, _)) => {
                if busy != 0 {
                    tracing::debug!("readers kept the write-ahead log from being checkpointed");
                }
                failing = false;
            }
            // Once per spell of failures: a file removed underneath fails every tick.
            Err(err) if !failing => {
                tracing::warn!(%err, "could not checkpoint the write-ahead log");
                failing = true;
            }
            Err(_) => {}
        }
    }
    let _ = connection.close().await;
}

/// A stored row as a record.
fn record(id: Id, data: &[u8], expires: i64) -> session_store::Result<Record> {
    Ok(Record {
        id,
        data: serde_json::from_slice(data)
            .map_err(|e| session_store::Error::Decode(e.to_string()))?,
        expiry_date: from_unix_millis(expires),
    })
}

impl SqliteSessions {
    /// Takes the session's lease and reads it, in one statement (one write): a live row whose
    /// lease is free or lapsed (its holder died) becomes this request's. A row another request
    /// holds is waited for, up to one lease; a missing or expired row needs no lease.
    async fn load_leased(&self, id: &Id, lease: &Lease) -> session_store::Result<Option<Record>> {
        let key = id.to_string();
        if lease.took(id) {
            // Handed over by the session's previous request in this process, which saved it:
            // as it left it (nobody else writes while the lease holds), or else a read, no
            // write, while the lease is still ours.
            if let Some(record) = lease.remembered(id) {
                return Ok(Some(record));
            }
            let now = now();
            let row: Option<(Vec<u8>, i64)> = sqlx::query_as(&format!(
                "select data, expires from {TABLE}
                 where id = ? and expires > ? and lease = ? and lease_until > ?"
            ))
            .bind(&key)
            .bind(now)
            .bind(lease.token())
            .bind(now)
            // On the writer: a read beside the writes would hold back the WAL's checkpoints
            // (see [`Self::writer`]), and under load such reads overlap without a pause.
            .fetch_optional(&mut *self.writer().await)
            .await
            .map_err(sql_error)?;
            if let Some((data, expires)) = row {
                return record(*id, &data, expires).map(Some);
            }
            // It lapsed (or the session ended) since: take it as any request would.
            lease.given_back(id);
        }
        let store: Arc<dyn SharedLease> = Arc::new(self.clone());
        take_lease(|| async {
            let now = now();
            lease.claiming(*id, store.clone());
            let taken: Option<(Vec<u8>, i64)> = sqlx::query_as(&format!(
                "update {TABLE} set lease = ?, lease_until = ?
                 where id = ? and expires > ? and lease_until <= ?
                 returning data, expires"
            ))
            .bind(lease.token())
            .bind(now + SHARED_LEASE.as_millis() as i64)
            .bind(&key)
            .bind(now)
            .bind(now)
            .fetch_optional(&mut *self.writer().await)
            .await
            .map_err(|err| {
                lease.claim_failed(id);
                sql_error(err)
            })?;
            if let Some((data, expires)) = taken {
                lease.taken(*id, store.clone());
                return record(*id, &data, expires).map(Attempt::Taken);
            }
            // Not taken: nothing to give back.
            lease.given_back(id);
            // Taken by another: say this request waits for it (the holder then gives it back
            // at its save), which also tells a live row from a missing one.
            let wanting = sqlx::query(&format!(
                "update {TABLE} set wanted_until = ? where id = ? and expires > ?"
            ))
            .bind(now + WANTED.as_millis() as i64)
            .bind(&key)
            .bind(now)
            .execute(&mut *self.writer().await)
            .await
            .map_err(sql_error)?;
            Ok(if wanting.rows_affected() == 1 {
                Attempt::Busy
            } else {
                Attempt::Missing
            })
        })
        .await
    }

    /// Saves a leased session and gives the lease back (or, when the session's next request
    /// in this process waits and no other process does, renews it for that one), in one
    /// statement, only while the lease is still this request's: a request that lost it
    /// (paused past its lease while another took the session) overwrites nothing and says so.
    async fn save_leased(&self, record: &Record, lease: &Lease) -> session_store::Result<()> {
        self.file_in_place()?;
        let keep = lease.keeps();
        let now = now();
        let saved: Option<(bool,)> = sqlx::query_as(&format!(
            "update {TABLE} set data = ?, expires = ?, updated = ?,
                 lease = case when ? and wanted_until <= ? then lease end,
                 lease_until = case when ? and wanted_until <= ? then ? else 0 end
             where id = ? and lease = ?
             returning lease is not null"
        ))
        .bind(encode(record)?)
        .bind(unix_millis(record.expiry_date))
        .bind(now)
        .bind(keep)
        .bind(now)
        .bind(keep)
        .bind(now)
        .bind(now + SHARED_LEASE.as_millis() as i64)
        .bind(record.id.to_string())
        .bind(lease.token())
        .fetch_optional(&mut *self.writer().await)
        .await
        .map_err(sql_error)?;
        lease.saved(record, saved.is_some(), saved.is_some_and(|(kept,)| kept))
    }
}

#[async_trait]
impl SessionStore for SqliteSessions {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        let sql = format!(
            "insert or ignore into {TABLE} (id, data, expires, created, updated) values (?, ?, ?, ?, ?)"
        );
        while self.write(&sql, record).await? == 0 {
            // Session id collision (one in 2^128): pick another.
            record.id = Id::default();
        }
        Ok(())
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        if let Some(lease) = Lease::current().filter(|l| l.took(&record.id)) {
            return self.save_leased(record, &lease).await;
        }
        let sql = format!(
            "insert into {TABLE} (id, data, expires, created, updated) values (?, ?, ?, ?, ?)
             on conflict(id) do update set data = excluded.data, expires = excluded.expires,
             updated = excluded.updated"
        );
        self.write(&sql, record).await?;
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        if let Some(lease) = Lease::current() {
            return self.load_leased(id, &lease).await;
        }
        // The same condition the inspector's read has, so both agree on what "live" means.
        let row: Option<(Vec<u8>, i64)> = sqlx::query_as(&format!(
            "select data, expires from {TABLE} where id = ? and expires > ?"
        ))
        .bind(id.to_string())
        .bind(now())
        .fetch_optional(&self.pool)
        .await
        .map_err(sql_error)?;
        row.map(|(data, expires)| record(*id, &data, expires))
            .transpose()
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        sqlx::query(&format!("delete from {TABLE} where id = ?"))
            .bind(id.to_string())
            .execute(&mut *self.writer().await)
            .await
            .map_err(sql_error)?;
        // The lease went with the row.
        if let Some(lease) = Lease::current() {
            lease.given_back(id);
        }
        Ok(())
    }
}

#[async_trait]
impl ListSessions for SqliteSessions {
    fn kind(&self) -> StoreKind {
        StoreKind::Sqlite
    }

    fn is_shared(&self) -> bool {
        true
    }

    async fn list(&self) -> session_store::Result<Vec<SessionRow>> {
        self.file_in_place()?;
        let rows: Vec<Row> = sqlx::query_as(&format!(
            "select id, data, expires, created, updated from {TABLE}
             where expires > ? order by created, id"
        ))
        .bind(now())
        .fetch_all(&self.pool)
        .await
        .map_err(sql_error)?;
        rows.into_iter().map(session_row).collect()
    }

    async fn get(&self, id: &Id) -> session_store::Result<Option<SessionRow>> {
        let row: Option<Row> = sqlx::query_as(&format!(
            "select id, data, expires, created, updated from {TABLE} where id = ? and expires > ?"
        ))
        .bind(id.to_string())
        .bind(now())
        .fetch_optional(&self.pool)
        .await
        .map_err(sql_error)?;
        row.map(session_row).transpose()
    }

    async fn delete_expired(&self, now: i64) -> session_store::Result<Vec<Id>> {
        let gone: Vec<(String,)> = sqlx::query_as(&format!(
            "delete from {TABLE} where expires <= ? returning id"
        ))
        .bind(now)
        .fetch_all(&mut *self.writer().await)
        .await
        .map_err(sql_error)?;
        Ok(gone
            .into_iter()
            .filter_map(|(id,)| id.parse().ok())
            .collect())
    }

    async fn next_expiry(&self) -> session_store::Result<Option<i64>> {
        // Answered from the index on `expires`.
        let (earliest,): (Option<i64>,) =
            sqlx::query_as(&format!("select min(expires) from {TABLE}"))
                .fetch_one(&self.pool)
                .await
                .map_err(sql_error)?;
        Ok(earliest)
    }

    async fn count(&self) -> session_store::Result<usize> {
        let (count,): (i64,) = sqlx::query_as(&format!("select count(*) from {TABLE}"))
            .fetch_one(&self.pool)
            .await
            .map_err(sql_error)?;
        Ok(usize::try_from(count).unwrap_or(0))
    }
}

#[async_trait]
impl SharedLease for SqliteSessions {
    async fn renew(&self, id: &Id, token: &str) -> Result<bool, session_store::Error> {
        let renewed = sqlx::query(&format!(
            "update {TABLE} set lease_until = ? where id = ? and lease = ?"
        ))
        .bind(now() + SHARED_LEASE.as_millis() as i64)
        .bind(id.to_string())
        .bind(token)
        .execute(&mut *self.writer().await)
        .await
        .map_err(sql_error)?;
        Ok(renewed.rows_affected() == 1)
    }

    async fn release(&self, id: &Id, token: &str) {
        let released = sqlx::query(&format!(
            "update {TABLE} set lease = null, lease_until = 0 where id = ? and lease = ?"
        ))
        .bind(id.to_string())
        .bind(token)
        .execute(&mut *self.writer().await)
        .await;
        if let Err(err) = released {
            tracing::warn!(%err, "could not give a session's lease back; it lapses by itself");
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    /// A folder of the test's own under the system's temporary folder (not created yet).
    fn temp_dir(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!(
            "session-lab-sqlite-{name}-{}-{:08x}",
            std::process::id(),
            rand::random::<u32>()
        ))
    }

    /// A new SQLite store and its write-ahead log are readable by their owner only.
    #[tokio::test]
    async fn a_new_store_file_is_private() {
        let dir = temp_dir("mode");
        let path = dir.join("sessions.db");
        let store = SqliteSessions::open(path.clone()).await.unwrap();
        let mut checked = 0;
        for suffix in ["", "-wal", "-shm"] {
            let file = PathBuf::from(format!("{}{suffix}", path.display()));
            if let Ok(meta) = std::fs::metadata(&file) {
                assert_eq!(
                    meta.permissions().mode() & 0o777,
                    0o600,
                    "{}",
                    file.display()
                );
                checked += 1;
            }
        }
        assert!(checked >= 2, "the database and its log exist");
        drop(store);
        let _ = std::fs::remove_dir_all(dir);
    }

    /// Under a steady stream of writes the write-ahead log starts over while it is short (the
    /// checkpointer copies the frames written during its checkpoint with the writer held),
    /// instead of growing to [`WAL_LIMIT`] and being cut back there, a write waiting while
    /// 64 MiB of page cache is freed; and what was written is in the database.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_log_starts_over_short_under_steady_writes() {
        let dir = temp_dir("restart");
        let path = dir.join("sessions.db");
        let wal = PathBuf::from(format!("{}-wal", path.display()));
        let store = SqliteSessions::open(path.clone()).await.unwrap();
        // The log's header holds the count of its starts over (bytes 12..16, big-endian).
        let header = || -> Option<u32> {
            use std::io::Read as _;
            let mut bytes = [0; 16];
            std::fs::File::open(&wal)
                .ok()?
                .read_exact(&mut bytes)
                .ok()?;
            Some(u32::from_be_bytes(bytes[12..16].try_into().unwrap()))
        };
        let first = header();
        let writers: Vec<_> = (0..4)
            .map(|n| {
                let store = store.clone();
                tokio::spawn(async move {
                    let mut record = Record {
                        id: Id::default(),
                        data: Default::default(),
                        expiry_date: time::OffsetDateTime::now_utc() + time::Duration::hours(1),
                    };
                    store.create(&mut record).await.unwrap();
                    for views in 0..u64::MAX {
                        record.data.insert("views".into(), serde_json::json!(views));
                        record.data.insert("writer".into(), serde_json::json!(n));
                        store.save(&record).await.unwrap();
                        if views % 64 == 0 && store.writes.count.load(Ordering::Relaxed) > 60_000 {
                            return record;
                        }
                    }
                    unreachable!()
                })
            })
            .collect();
        let mut longest = 0;
        let mut starts = std::collections::BTreeSet::new();
        while !writers.iter().all(tokio::task::JoinHandle::is_finished) {
            longest = longest.max(std::fs::metadata(&wal).map_or(0, |m| m.len()));
            starts.extend(header());
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        // Without the checkpointer's restart, the log grew through all 60,000 writes.
        assert!(
            starts.len() >= 3 && longest < WAL_LIMIT / 2,
            "in 60,000 writes the log started over {} times (from {first:?}) and grew to \
             {longest} bytes",
            starts.len()
        );
        for writer in writers {
            let record = writer.await.unwrap();
            let stored = store.load(&record.id).await.unwrap().expect("saved");
            assert_eq!(stored.data, record.data);
        }
        drop(store);
        let _ = std::fs::remove_dir_all(dir);
    }

    /// A request whose lease lapsed (paused past it) while another request took the session
    /// saves nothing over the newer write: its save is refused with [`LEASE_LOST`], and the
    /// store keeps what the newer request saved.
    #[tokio::test]
    async fn a_save_after_the_lease_was_lost_is_refused() {
        let dir = temp_dir("fence");
        let store = SqliteSessions::open(dir.join("sessions.db")).await.unwrap();
        let mut first = Record {
            id: Id::default(),
            data: [("views".to_owned(), serde_json::json!(1))].into(),
            expiry_date: time::OffsetDateTime::now_utc() + time::Duration::hours(1),
        };
        store.create(&mut first).await.unwrap();
        let id = first.id;
        let views = |n: u64| Record {
            data: [("views".to_owned(), serde_json::json!(n))].into(),
            ..first.clone()
        };
        let (paused_loaded, paused_go) = (
            std::sync::Arc::new(tokio::sync::Notify::new()),
            std::sync::Arc::new(tokio::sync::Notify::new()),
        );
        let paused = {
            let (store, loaded, go, record) = (
                store.clone(),
                paused_loaded.clone(),
                paused_go.clone(),
                views(99),
            );
            tokio::spawn(Lease::scope(async move {
                store.load(&id).await.unwrap().unwrap();
                loaded.notify_one();
                go.notified().await;
                // Its renewals found the lease gone, too: the save is still fenced.
                Lease::current().unwrap().lose();
                store.save(&record).await
            }))
        };
        paused_loaded.notified().await;
        // The paused request's lease lapses, as when its process stops for longer than it.
        sqlx::query(&format!("update {TABLE} set lease_until = 0"))
            .execute(&store.pool)
            .await
            .unwrap();
        Lease::scope(async {
            assert!(store.load(&id).await.unwrap().is_some());
            store.save(&views(2)).await.unwrap();
        })
        .await;
        paused_go.notify_one();
        let refused = paused.await.unwrap().unwrap_err();
        assert!(
            refused
                .to_string()
                .contains(super::super::locks::LEASE_LOST),
            "{refused}"
        );
        let kept = store.load(&id).await.unwrap().unwrap();
        assert_eq!(kept.data["views"], 2);
        let _ = std::fs::remove_dir_all(dir);
    }

    /// A request dropped while the store takes its session's lease (its client left) gives
    /// the lease back as it goes: SQLite carries the statement out all the same, and the
    /// session's next request must not wait a whole lease for it to lapse.
    #[tokio::test]
    async fn a_request_dropped_while_taking_the_lease_gives_it_back() {
        let dir = temp_dir("dropped");
        let store = SqliteSessions::open(dir.join("sessions.db")).await.unwrap();
        let mut record = Record {
            id: Id::default(),
            data: [("views".to_owned(), serde_json::json!(1))].into(),
            expiry_date: time::OffsetDateTime::now_utc() + time::Duration::hours(1),
        };
        store.create(&mut record).await.unwrap();
        let id = record.id;
        for round in 0..10 {
            let dropped = tokio::spawn(Lease::scope({
                let store = store.clone();
                async move { store.load(&id).await }
            }));
            // It runs until it waits for SQLite's answer to the take, and is dropped there.
            tokio::task::yield_now().await;
            dropped.abort();
            let _ = dropped.await;
            let next = tokio::time::timeout(
                SHARED_LEASE / 2,
                Lease::scope(async { store.load(&id).await }),
            )
            .await
            .unwrap_or_else(|_| panic!("round {round}: the next request waited for the lease"));
            assert!(next.unwrap().is_some());
        }
        let _ = std::fs::remove_dir_all(dir);
    }

    /// A burst of one session's requests in one process costs one write a request: while the
    /// next request waits, a save keeps the lease for it (the same token in the row), and
    /// that request starts from what was saved without writing. A handed-over lease another
    /// process took meanwhile (it lapsed) saves nothing over that process's write.
    #[tokio::test]
    async fn a_kept_lease_is_read_without_a_write() {
        use super::super::locks::SessionLocks;
        let dir = temp_dir("kept");
        let store = SqliteSessions::open(dir.join("sessions.db")).await.unwrap();
        let mut record = Record {
            id: Id::default(),
            data: [("views".to_owned(), serde_json::json!(1))].into(),
            expiry_date: time::OffsetDateTime::now_utc() + time::Duration::hours(1),
        };
        store.create(&mut record).await.unwrap();
        let id = record.id;
        let views = |n: u64| Record {
            data: [("views".to_owned(), serde_json::json!(n))].into(),
            ..record.clone()
        };
        // Rows the single writer connection has changed so far.
        let writes = || async {
            let (n,): (i64,) = sqlx::query_as("select total_changes()")
                .fetch_one(&mut *store.writer.lock().await)
                .await
                .unwrap();
            n
        };
        let lease_of = || async {
            let row: (Option<String>,) =
                sqlx::query_as(&format!("select lease from {TABLE} where id = ?"))
                    .bind(id.to_string())
                    .fetch_one(&store.pool)
                    .await
                    .unwrap();
            row.0
        };
        let locks = SessionLocks::default();
        let key = locks.key(&id);
        let mut first = locks.hold(key).await;
        let next = {
            let locks = locks.clone();
            tokio::spawn(async move { locks.hold(key).await })
        };
        tokio::task::yield_now().await;
        let before = writes().await;
        let ((), kept) = Lease::scope_in_turn(None, Some(first.queue()), async {
            let loaded = store.load(&id).await.unwrap().unwrap();
            assert_eq!(loaded.data["views"], 1);
            store.save(&views(2)).await.unwrap();
        })
        .await;
        assert_eq!(writes().await - before, 2, "take and save");
        let token = lease_of().await.expect("kept for the next request");
        first.hand_over(kept.unwrap());
        locks.release(first);

        let mut second = next.await.unwrap();
        let last = {
            let locks = locks.clone();
            tokio::spawn(async move { locks.hold(key).await })
        };
        tokio::task::yield_now().await;
        let before = writes().await;
        let ((), kept) = Lease::scope_in_turn(second.take_kept(), Some(second.queue()), async {
            let loaded = store.load(&id).await.unwrap().unwrap();
            assert_eq!(loaded.data["views"], 2, "the first request's save");
            assert_eq!(writes().await, before, "not written");
            assert_eq!(lease_of().await.as_deref(), Some(token.as_str()));
            store.save(&views(3)).await.unwrap();
        })
        .await;
        assert_eq!(
            writes().await - before,
            1,
            "one write for the second request"
        );
        second.hand_over(kept.unwrap());
        locks.release(second);

        // Meanwhile the lease lapsed and another process took the session and wrote it: the
        // last request's save is refused, and overwrites nothing.
        sqlx::query(&format!(
            "update {TABLE} set lease = 'other', lease_until = ?, data = ? where id = ?"
        ))
        .bind(now() + 10_000)
        .bind(br#"{"views":50}"#.as_slice())
        .bind(id.to_string())
        .execute(&mut *store.writer.lock().await)
        .await
        .unwrap();
        let mut last = last.await.unwrap();
        let (refused, kept) = Lease::scope_in_turn(last.take_kept(), Some(last.queue()), async {
            store.load(&id).await.unwrap();
            store.save(&views(4)).await.unwrap_err()
        })
        .await;
        assert!(
            refused
                .to_string()
                .contains(super::super::locks::LEASE_LOST)
        );
        assert!(kept.is_none(), "not ours any more");
        locks.release(last);
        assert_eq!(store.load(&id).await.unwrap().unwrap().data["views"], 50);
        let _ = std::fs::remove_dir_all(dir);
    }

    /// A lease is kept for this process's next request only while no other process waits for
    /// it: a request elsewhere that finds it taken says so, the holder gives it back at its
    /// save, and that request gets its turn (a burst here cannot starve it).
    #[tokio::test]
    async fn a_request_of_another_process_gets_its_turn() {
        use super::super::locks::SessionLocks;
        let dir = temp_dir("turns");
        let here = SqliteSessions::open(dir.join("sessions.db")).await.unwrap();
        let elsewhere = SqliteSessions::open(dir.join("sessions.db")).await.unwrap();
        let mut record = Record {
            id: Id::default(),
            data: [("views".to_owned(), serde_json::json!(1))].into(),
            expiry_date: time::OffsetDateTime::now_utc() + time::Duration::hours(1),
        };
        here.create(&mut record).await.unwrap();
        let id = record.id;
        let locks = SessionLocks::default();
        let key = locks.key(&id);
        let held = locks.hold(key).await;
        let next = {
            let locks = locks.clone();
            tokio::spawn(async move { locks.hold(key).await })
        };
        tokio::task::yield_now().await;
        let mut other = None;
        let ((), kept) = Lease::scope_in_turn(None, Some(held.queue()), async {
            here.load(&id).await.unwrap().unwrap();
            other = Some(tokio::spawn(Lease::scope(async move {
                let loaded = elsewhere.load(&id).await.unwrap().unwrap();
                elsewhere
                    .save(&Record {
                        data: [("views".to_owned(), serde_json::json!(3))].into(),
                        ..loaded.clone()
                    })
                    .await
                    .unwrap();
                loaded.data["views"].clone()
            })));
            // Until the other process has found the lease taken and said it waits.
            while sqlx::query_as::<_, (i64,)>(&format!("select wanted_until from {TABLE}"))
                .fetch_one(&here.pool)
                .await
                .unwrap()
                .0
                == 0
            {
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            }
            here.save(&Record {
                data: [("views".to_owned(), serde_json::json!(2))].into(),
                ..record.clone()
            })
            .await
            .unwrap();
        })
        .await;
        assert!(kept.is_none(), "given back for the other process");
        let other = other.expect("started").await.unwrap();
        assert_eq!(other, 2, "its turn, after this save");
        locks.release(held);
        drop(next);
        assert_eq!(here.load(&id).await.unwrap().unwrap().data["views"], 3);
        let _ = std::fs::remove_dir_all(dir);
    }
}
