//! Session Lab's window on other applications' session stores.
//!
//! The lab shows its own server's sessions from the inside; this crate shows the sessions of the
//! user's own application — Express (express-session with connect-redis), axum (tower-sessions'
//! Redis and SQLx stores), Django (the database backend), PHP (native file sessions) and Flask
//! (Flask-Session on Redis) — read from the store the application really uses: Redis,
//! SQLite, PostgreSQL or a folder of session files.
//!
//! Read-only, always: Redis is asked only SCAN, GETRANGE, STRLEN, PTTL, DBSIZE, PING and
//! CONFIG GET (plus PSUBSCRIBE where keyspace notifications are already on, and what fred sends
//! to set up a connection: AUTH/HELLO, SELECT, CLIENT, INFO); SQLite is opened read-only;
//! PostgreSQL runs every statement in a read-only transaction (checked after connecting: a
//! pooler that drops the setting is refused); files are read without a lock, a FIFO or a
//! link. Nothing here can write, delete or reconfigure a store.
//!
//! - [`StoreAddress`] parses what the user types (`redis://…`, `sqlite:PATH`, `postgres://…`,
//!   `dir:PATH`, with `?format=…&prefix=…` when detection needs help).
//! - [`Format`] knows each framework's record encoding, its cookie, and how a cookie's value
//!   names a record (express-session's signed `s:` value, Django's key, PHPSESSID, …).
//! - [`Watch`] follows a store in the background: it lists it (bounded in time and memory),
//!   publishes what changed since the last listing on a [`ChangeFeed`] (the same feed the lab's
//!   own stores publish on), and reads chosen sessions again at once when asked.

mod address;
mod format;
mod source;
mod watcher;

pub use address::{BadAddress, StoreAddress, StoreKindName};
pub use format::{Decoded, Format, key_id, php_unserialize};
pub use session_lab_server::{ChangeFeed, SessionChange, SessionId, SessionRow};
pub use source::{RawRecord, WatchError};
pub use watcher::{Listing, Reader, Watch, WatchStatus, WatchedSession};

/// The most bytes of one record the lab reads (a larger record is shown cut, with its size).
pub const MAX_RECORD_BYTES: usize = 64 * 1024;

/// The longest session key the lab reads; a longer one is skipped (no framework makes one).
pub const MAX_KEY_BYTES: usize = 256;

/// The most sessions one listing takes; a store with more is shown in part, and says so.
pub const MAX_SESSIONS: usize = 1_000_000;
