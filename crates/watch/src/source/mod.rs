//! Reading a store, read-only: one module per kind of store. Each lists its sessions a page at
//! a time (so memory follows a page, not the store) within a deadline, and reads chosen
//! sessions again on demand.

mod dir;
mod redis;
mod sql;

use std::time::Instant;

use time::OffsetDateTime;

use crate::{StoreAddress, address::StoreKindName, format::Format};

/// One record as the store gave it, before decoding.
#[derive(Clone, Debug, PartialEq)]
pub struct RawRecord {
    /// The session's id in the framework's terms (the key without its prefix, the file name
    /// without `sess_`).
    pub key: String,
    /// The record's bytes, at most [`crate::MAX_RECORD_BYTES`].
    pub bytes: Vec<u8>,
    /// The record's whole size.
    pub full_len: usize,
    /// When the store will drop it, where the store keeps that apart from the record (a Redis
    /// TTL, an expiry column, a file's age plus PHP's lifetime).
    pub expires: Option<OffsetDateTime>,
    /// When it was last written, where the store knows (a file's modification time).
    pub updated: Option<OffsetDateTime>,
}

/// Why a store cannot be watched (or read just now).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WatchError {
    /// It does not answer.
    #[error("cannot reach {store}: {reason}")]
    Unreachable {
        /// The store, password masked.
        store: String,
        /// What went wrong.
        reason: String,
    },
    /// It answers but refuses the lab (a wrong password, no permission).
    #[error("{store} refused the lab: {reason}")]
    Denied {
        /// The store, password masked.
        store: String,
        /// What it said.
        reason: String,
    },
    /// Nothing in it looks like a framework's sessions the lab reads.
    #[error(
        "{store}: no sessions of a format the lab knows — {found}. Name it with ?format=express|tower-sessions|django|php|flask (and ?prefix= for Redis)"
    )]
    UnknownFormat {
        /// The store, password masked.
        store: String,
        /// What was found instead.
        found: String,
    },
    /// It holds no keys yet, so its format cannot be told (it is told from the first session).
    #[error("{store} holds no keys yet: its format is found from the first session an app writes")]
    Empty {
        /// The store, password masked.
        store: String,
    },
    /// A query failed.
    #[error("{store}: {reason}")]
    Failed {
        /// The store, password masked.
        store: String,
        /// What went wrong.
        reason: String,
    },
}

/// How far a listing got.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Progress {
    /// Records (or keys, or files) looked at.
    pub looked_at: u64,
    /// How many there are in all, where the store says (Redis's DBSIZE counts every key).
    pub total: Option<u64>,
    /// The listing stopped early (the deadline, or [`crate::MAX_SESSIONS`]).
    pub cut: bool,
    /// The store did not change since the last listing (SQLite's `data_version`): nothing was
    /// read.
    pub unchanged: bool,
    /// Records there but not readable by the lab (session files of another user).
    pub unreadable: u64,
}

/// An open store.
pub(crate) enum Source {
    Redis(redis::RedisSource),
    Sql(sql::SqlSource),
    Dir(dir::DirSource),
}

impl Source {
    /// Opens the store and settles its format (the one named, or the one detected).
    pub(crate) async fn open(address: &StoreAddress) -> Result<(Self, Format), WatchError> {
        Ok(match &address.kind {
            StoreKindName::Redis(url) => {
                let (source, format) = redis::RedisSource::open(
                    url,
                    address.shown(),
                    address.format,
                    address.prefix.clone(),
                )
                .await?;
                (Self::Redis(source), format)
            }
            StoreKindName::Sqlite(path) => {
                let (source, format) =
                    sql::SqlSource::open_sqlite(path, address.shown(), address.format).await?;
                (Self::Sql(source), format)
            }
            StoreKindName::Postgres(url) => {
                let (source, format) =
                    sql::SqlSource::open_postgres(url, address.shown(), address.format).await?;
                (Self::Sql(source), format)
            }
            StoreKindName::Dir(path) => {
                let (source, format) = dir::DirSource::open(path, address.shown(), address.format)?;
                (Self::Dir(source), format)
            }
        })
    }

    /// Lists every session (up to the deadline), handing each record to `found`.
    pub(crate) async fn list(
        &mut self,
        deadline: Instant,
        found: &mut (dyn FnMut(RawRecord) + Send),
    ) -> Result<Progress, WatchError> {
        match self {
            Self::Redis(s) => s.list(deadline, found).await,
            Self::Sql(s) => s.list(deadline, found).await,
            Self::Dir(s) => s.list(deadline, found).await,
        }
    }

    /// Every session's id without its record, where the store can list them much more
    /// cheaply than the records (Redis's keys, a folder's names): the quick pass between two
    /// listings. `Ok(None)`: not for this store, or cut short by the deadline.
    pub(crate) async fn ids(
        &mut self,
        deadline: Instant,
    ) -> Result<Option<Vec<String>>, WatchError> {
        match self {
            Self::Redis(s) => s.ids(deadline).await,
            Self::Sql(_) => Ok(None),
            Self::Dir(s) => s.ids(deadline),
        }
    }

    /// Follows the store's own change notifications where it already sends them (Redis's
    /// keyspace events, if its owner turned them on); what it follows, if anything.
    pub(crate) async fn follow_notifications(
        &mut self,
        changed: impl Fn(String) + Send + 'static,
    ) -> Option<String> {
        match self {
            Self::Redis(s) => s.follow_notifications(changed).await,
            Self::Sql(_) | Self::Dir(_) => None,
        }
    }

    /// The next listing reads every record, changed or not (a reader dropped its view).
    pub(crate) fn forget_version(&mut self) {
        if let Self::Sql(s) = self {
            s.forget_version();
        }
    }

    /// Reads these sessions again; `None` for those the store no longer has.
    pub(crate) async fn read(
        &mut self,
        keys: &[String],
    ) -> Result<Vec<(String, Option<RawRecord>)>, WatchError> {
        match self {
            Self::Redis(s) => s.read(keys).await,
            Self::Sql(s) => s.read(keys).await,
            Self::Dir(s) => s.read(keys).await,
        }
    }
}
