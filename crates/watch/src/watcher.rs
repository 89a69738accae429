//! Following a store: a [`Reader`] reads it once (the command line's `demo --watch`, the
//! audit); a [`Watch`] lists it again and again in the background, publishing only what
//! changed on a [`ChangeFeed`], and reads the sessions it is pointed at as soon as asked (the
//! lab asks after each of its browsers' requests, so their sessions change on screen at once
//! even when a listing of a big store is seconds apart).

use std::{
    collections::HashMap,
    hash::{Hash, Hasher},
    sync::Arc,
    time::{Duration, Instant},
};

use parking_lot::Mutex;
use session_lab_server::{ChangeFeed, DataText, DeleteReason, SessionChange, SessionRow};
use time::OffsetDateTime;
use tokio::sync::Notify;

use crate::{
    StoreAddress,
    format::{Decoded, Format, key_id},
    source::{Progress, RawRecord, Source, WatchError},
};

/// How long one listing may take before it stops and says how far it got.
const LISTING_DEADLINE: Duration = Duration::from_secs(10);

/// The shortest time between two listings.
const MIN_INTERVAL: Duration = Duration::from_millis(500);

/// The next listing waits this many times the last one took, so following a big store costs
/// at most a twentieth of a core.
const INTERVAL_FACTOR: u32 = 20;

/// The longest time between two listings.
const MAX_INTERVAL: Duration = Duration::from_secs(60);

/// How long to wait before trying a store that failed again.
const RETRY: Duration = Duration::from_secs(2);

/// An expiry that moved by less than this is the same (a Redis TTL read a moment later).
const EXPIRY_SLACK: i64 = 2;

/// One session of a watched store, decoded.
#[derive(Clone, Debug, PartialEq)]
pub struct WatchedSession {
    /// Its id in the framework's terms.
    pub key: String,
    /// What its record holds.
    pub decoded: Decoded,
    /// When the store drops it (its TTL, its expiry column, PHP's lifetime), else when the
    /// record says it ends; `None`: never.
    pub expires: Option<OffsetDateTime>,
    /// Where the expiry comes from: the store's own (TTL, column) or the record's.
    pub expiry_from_store: bool,
    /// When it was last written, where the store knows.
    pub updated: Option<OffsetDateTime>,
    /// The record's size in bytes (the lab reads at most [`crate::MAX_RECORD_BYTES`]).
    pub size: usize,
}

impl WatchedSession {
    fn of(record: RawRecord, format: Format) -> Self {
        let mut decoded = format.decode(&record.bytes);
        if record.full_len > record.bytes.len() && decoded.data.is_err() {
            decoded.data = Err(format!(
                "a record of {} bytes; the lab reads the first {} — {}",
                record.full_len,
                record.bytes.len(),
                decoded.data.unwrap_err()
            ));
        }
        let expiry_from_store = record.expires.is_some();
        Self {
            expires: record.expires.or(decoded.expires),
            expiry_from_store,
            key: record.key,
            decoded,
            updated: record.updated,
            size: record.full_len,
        }
    }

    /// The row the sessions table shows.
    pub fn row(&self, created: Option<OffsetDateTime>, seen: Option<OffsetDateTime>) -> SessionRow {
        SessionRow {
            id: key_id(&self.key),
            data: DataText::from_json(self.decoded.json_text().as_bytes()),
            expires_at: self.expires.unwrap_or(session_lab_server::NEVER),
            created_at: created,
            updated_at: self.updated.or(seen),
            key: Some(self.key.as_str().into()),
        }
    }
}

/// A store opened for reading.
pub struct Reader {
    source: Source,
    format: Format,
    address: StoreAddress,
}

/// One listing's result.
#[derive(Clone, Debug, Default)]
pub struct Listing {
    /// The sessions found.
    pub sessions: Vec<WatchedSession>,
    /// Keys (rows, files) looked at, and how many the store has in all where it says.
    pub looked_at: u64,
    /// The store's count of keys in all, where it says (Redis's DBSIZE counts every key).
    pub total: Option<u64>,
    /// The listing stopped early (its deadline, or [`crate::MAX_SESSIONS`]).
    pub cut: bool,
}

impl Reader {
    /// Opens the store and settles its format.
    pub async fn open(address: &StoreAddress) -> Result<Self, WatchError> {
        let (source, format) = Source::open(address).await?;
        Ok(Self {
            source,
            format,
            address: address.clone(),
        })
    }

    /// The format found (or named).
    pub fn format(&self) -> Format {
        self.format
    }

    /// The store, as it may be shown.
    pub fn address(&self) -> &StoreAddress {
        &self.address
    }

    /// Every session, up to `within`.
    pub async fn list(&mut self, within: Duration) -> Result<Listing, WatchError> {
        let mut sessions = Vec::new();
        let format = self.format;
        let progress = self
            .source
            .list(Instant::now() + within, &mut |record| {
                sessions.push(WatchedSession::of(record, format));
            })
            .await?;
        sessions.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(Listing {
            sessions,
            looked_at: progress.looked_at,
            total: progress.total,
            cut: progress.cut,
        })
    }

    /// These sessions, read now; `None` for those the store does not hold.
    pub async fn read(
        &mut self,
        keys: &[String],
    ) -> Result<Vec<(String, Option<WatchedSession>)>, WatchError> {
        let format = self.format;
        Ok(self
            .source
            .read(keys)
            .await?
            .into_iter()
            .map(|(key, record)| (key, record.map(|r| WatchedSession::of(r, format))))
            .collect())
    }

    /// The session a cookie value names, by the format's rule.
    pub fn key_of_cookie(&self, value: &str) -> Option<String> {
        self.format.id_from_cookie(value)
    }
}

/// What a watch has found, for the window and the terminal.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WatchStatus {
    /// The store, password masked.
    pub store: String,
    /// The format, once the store was opened.
    pub format: Option<Format>,
    /// Why the store cannot be read now, if it cannot.
    pub error: Option<String>,
    /// The store is empty, so its format is not known yet: said while the watch waits for the
    /// first session.
    pub waiting: Option<String>,
    /// Sessions the last listing found.
    pub sessions: usize,
    /// Of them, records the lab could not decode.
    pub undecodable: usize,
    /// Complete listings so far.
    pub listings: u64,
    /// How long the last listing took.
    pub last_listing: Option<Duration>,
    /// The last listing stopped early: how far it got.
    pub partial: Option<String>,
    /// The store's own change notifications the watch follows (Redis keyspace events its owner
    /// turned on), if any.
    pub live: Option<String>,
}

struct Shared {
    feed: Arc<ChangeFeed>,
    /// What the watch has found: readers see a new version only when something changed.
    status: tokio::sync::watch::Sender<WatchStatus>,
    wanted: Mutex<Vec<String>>,
    poke: Notify,
}

impl Shared {
    /// Changes the status; readers are told only if it really changed.
    fn set(&self, change: impl FnOnce(&mut WatchStatus)) {
        self.status.send_if_modified(|status| {
            let before = status.clone();
            change(status);
            *status != before
        });
    }
}

/// A store followed in the background (on the runtime it was started on). Dropping it stops
/// the task.
pub struct Watch {
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
    address: StoreAddress,
    /// The address as it may be shown, made once.
    shown: String,
}

impl std::fmt::Debug for Watch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watch")
            .field("store", &self.address)
            .finish_non_exhaustive()
    }
}

impl Watch {
    /// Starts following the store. Must be called inside a tokio runtime.
    pub fn start(address: StoreAddress) -> Self {
        let (status, _) = tokio::sync::watch::channel(WatchStatus {
            store: address.shown(),
            ..WatchStatus::default()
        });
        let shared = Arc::new(Shared {
            feed: Arc::new(ChangeFeed::default()),
            status,
            wanted: Mutex::new(Vec::new()),
            poke: Notify::new(),
        });
        let task = tokio::spawn(follow(address.clone(), shared.clone()));
        Self {
            shared,
            task,
            shown: address.shown(),
            address,
        }
    }

    /// The store.
    pub fn address(&self) -> &StoreAddress {
        &self.address
    }

    /// The store as it may be shown (a password masked).
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// The feed its changes arrive on (listen to it to receive them).
    pub fn feed(&self) -> Arc<ChangeFeed> {
        self.shared.feed.clone()
    }

    /// What it has found so far.
    pub fn status(&self) -> WatchStatus {
        self.shared.status.borrow().clone()
    }

    /// The format, once known.
    pub fn format(&self) -> Option<Format> {
        self.shared.status.borrow().format
    }

    /// Follows the status: the receiver says when it changed (a version compare, no copy), so
    /// a reader asking every frame copies it only when there is news.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<WatchStatus> {
        self.shared.status.subscribe()
    }

    /// Reads these sessions again soon (the sessions a browser holds, after its request).
    pub fn look_at(&self, keys: Vec<String>) {
        if keys.is_empty() {
            return;
        }
        {
            let mut wanted = self.shared.wanted.lock();
            for key in keys {
                if !wanted.contains(&key) && wanted.len() < 1024 {
                    wanted.push(key);
                }
            }
        }
        self.shared.poke.notify_one();
    }

    /// Waits until `listings` complete listings have been made, or `timeout` passes; the
    /// status then.
    pub async fn wait_for_listings(&self, listings: u64, timeout: Duration) -> WatchStatus {
        let mut status = self.subscribe();
        let _ = tokio::time::timeout(timeout, status.wait_for(|s| s.listings >= listings)).await;
        self.status()
    }

    /// Waits until the store was opened (or failed to), at most `timeout`; the status then.
    pub async fn wait_for_format(&self, timeout: Duration) -> WatchStatus {
        let mut status = self.subscribe();
        let opened =
            status.wait_for(|s| s.format.is_some() || s.error.is_some() || s.waiting.is_some());
        let _ = tokio::time::timeout(timeout, opened).await;
        self.status()
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What the watch remembers of each session: a fingerprint of its bytes and its expiry.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Seen {
    bytes: u64,
    expires: Option<i64>,
}

impl Seen {
    fn of(record: &RawRecord) -> Self {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        record.bytes.hash(&mut hasher);
        record.full_len.hash(&mut hasher);
        Self {
            bytes: hasher.finish(),
            expires: record.expires.map(OffsetDateTime::unix_timestamp),
        }
    }

    fn same_as(self, other: Self) -> bool {
        self.bytes == other.bytes
            && match (self.expires, other.expires) {
                (Some(a), Some(b)) => (a - b).abs() < EXPIRY_SLACK,
                (a, b) => a == b,
            }
    }
}

async fn follow(address: StoreAddress, shared: Arc<Shared>) {
    let (mut source, format) = loop {
        match Source::open(&address).await {
            Ok(opened) => break opened,
            Err(e @ WatchError::Empty { .. }) => {
                shared.set(|s| {
                    s.waiting = Some(e.to_string());
                    s.error = None;
                });
                // Looked at again soon, and at once after a browser's request.
                tokio::select! {
                    () = shared.poke.notified() => {}
                    () = tokio::time::sleep(MIN_INTERVAL) => {}
                }
            }
            Err(e) => {
                shared.set(|s| s.error = Some(e.to_string()));
                tokio::time::sleep(RETRY).await;
            }
        }
    };
    shared.set(|s| {
        s.format = Some(format);
        s.error = None;
        s.waiting = None;
    });
    // The store's own notifications, where its owner turned them on: each changed session is
    // read at once.
    let told = shared.clone();
    let live = source
        .follow_notifications(move |id| {
            {
                let mut wanted = told.wanted.lock();
                if !wanted.contains(&id) && wanted.len() < 1024 {
                    wanted.push(id);
                }
            }
            told.poke.notify_one();
        })
        .await;
    shared.set(|s| s.live = live);
    let shown = address.shown();
    let mut seen: HashMap<String, Seen> = HashMap::new();
    let mut first = true;
    // The last listing saw the whole store: a session found later is new (it gets a creation
    // stamp); after a cut or failed listing, one found later may be old.
    let mut complete = false;
    let mut next_listing = Instant::now();
    // Quick passes (ids only) between listings, where the store has them: new and removed
    // sessions show within one of these, however big the store.
    let mut quick_every: Option<Duration> = Some(MIN_INTERVAL);
    let mut next_quick = Instant::now();
    loop {
        let wanted: Vec<String> = std::mem::take(&mut *shared.wanted.lock());
        if !wanted.is_empty() && !first {
            read_again(
                &mut source,
                &shared,
                &mut seen,
                &wanted,
                (format, complete),
                DeleteReason::Deleted,
            )
            .await;
            // A busy store's notifications must not starve the listings: go on when one is due.
            let now = Instant::now();
            let due = now >= next_listing || (quick_every.is_some() && now >= next_quick);
            if !due {
                continue;
            }
        }
        let mut listing_now = first;
        if !first {
            let wake = match quick_every {
                Some(_) => next_listing.min(next_quick),
                None => next_listing,
            };
            tokio::select! {
                () = shared.poke.notified() => continue,
                () = shared.feed.listing_wanted() => listing_now = true,
                () = tokio::time::sleep_until(wake.into()) => {}
            }
        }
        if !listing_now && Instant::now() < next_listing {
            let started = Instant::now();
            match answered(&shown, source.ids(started + LISTING_DEADLINE)).await {
                Ok(Some(ids)) => {
                    let now: std::collections::HashSet<&str> =
                        ids.iter().map(String::as_str).collect();
                    let gone: Vec<String> = seen
                        .keys()
                        .filter(|k| !now.contains(k.as_str()))
                        .cloned()
                        .collect();
                    for key in gone {
                        seen.remove(&key);
                        shared.feed.publish(SessionChange::Removed {
                            id: key_id(&key),
                            reason: DeleteReason::Gone,
                        });
                    }
                    let new: Vec<String> = ids
                        .into_iter()
                        .filter(|id| !seen.contains_key(id))
                        .collect();
                    for chunk in new.chunks(500) {
                        read_again(
                            &mut source,
                            &shared,
                            &mut seen,
                            chunk,
                            (format, complete),
                            DeleteReason::Gone,
                        )
                        .await;
                        // The rest waits for the next pass (the browsers' reads go first).
                        if started.elapsed() >= LISTING_DEADLINE {
                            break;
                        }
                    }
                    let took = started.elapsed();
                    quick_every = Some((took * INTERVAL_FACTOR).clamp(MIN_INTERVAL, MAX_INTERVAL));
                }
                Ok(None) => quick_every = None,
                Err(e) => {
                    shared.set(|s| s.error = Some(e.to_string()));
                    quick_every = Some(RETRY);
                }
            }
            next_quick = Instant::now() + quick_every.unwrap_or(MAX_INTERVAL);
            continue;
        }
        if shared.feed.take_full_listing_wanted() {
            seen.clear();
            source.forget_version();
        }
        let started = Instant::now();
        let mut found: HashMap<String, Seen> = HashMap::with_capacity(seen.len());
        let mut undecodable = 0usize;
        let result = {
            let shared = &shared;
            let seen_before = &seen;
            let found = &mut found;
            let undecodable = &mut undecodable;
            // Sessions a listing finds after a cut or failed one may be old: no creation stamp.
            let first_listing = !complete;
            let mut take = |record: RawRecord| {
                let now = Seen::of(&record);
                let key = record.key.clone();
                let changed = !seen_before.get(&key).is_some_and(|s| s.same_as(now));
                if changed {
                    let session = WatchedSession::of(record, format);
                    if session.decoded.data.is_err() {
                        *undecodable += 1;
                    }
                    let stamp = (!first_listing).then(OffsetDateTime::now_utc);
                    let created = if seen_before.contains_key(&key) {
                        None
                    } else {
                        stamp
                    };
                    shared
                        .feed
                        .publish(SessionChange::Written(session.row(created, stamp)));
                }
                found.insert(key, now);
            };
            answered(&shown, source.list(started + LISTING_DEADLINE, &mut take)).await
        };
        let took = started.elapsed();
        let mut interval = (took * INTERVAL_FACTOR).clamp(MIN_INTERVAL, MAX_INTERVAL);
        match result {
            Ok(Progress {
                unchanged: true, ..
            }) => {
                shared.set(|s| {
                    s.error = None;
                    s.listings += 1;
                });
            }
            Ok(progress) => {
                if !progress.cut {
                    for key in seen.keys().filter(|k| !found.contains_key(*k)) {
                        shared.feed.publish(SessionChange::Removed {
                            id: key_id(key),
                            reason: DeleteReason::Gone,
                        });
                    }
                    seen = found;
                } else {
                    seen.extend(found);
                }
                let cut = progress.cut.then(|| {
                    format!(
                        "the listing stopped after {:.1} s: {} of {} keys looked at",
                        took.as_secs_f64(),
                        progress.looked_at,
                        progress
                            .total
                            .map_or_else(|| "an unknown number of".to_owned(), |t| t.to_string())
                    )
                });
                let unreadable = (progress.unreadable > 0).then(|| {
                    format!(
                        "{} session files could not be read (another user's, mode 0600)",
                        progress.unreadable
                    )
                });
                let partial = match (cut, unreadable) {
                    (Some(a), Some(b)) => Some(format!("{a}; {b}")),
                    (a, b) => a.or(b),
                };
                let sessions = seen.len();
                shared.set(|s| {
                    s.error = None;
                    s.sessions = sessions;
                    s.undecodable = if first {
                        undecodable
                    } else {
                        s.undecodable.max(undecodable)
                    };
                    s.listings += 1;
                    s.last_listing = Some(took);
                    s.partial = partial;
                });
                complete = !progress.cut;
            }
            Err(e) => {
                shared.set(|s| s.error = Some(e.to_string()));
                interval = RETRY;
                complete = false;
            }
        }
        first = false;
        next_listing = Instant::now() + interval;
        next_quick = Instant::now() + quick_every.unwrap_or(MAX_INTERVAL);
    }
}

/// How long past its own deadline a store may take to answer before the watch says it does
/// not: a store that stops answering (a killed Redis the client keeps reconnecting to) holds
/// its calls, and would otherwise hold the watch silently.
const NO_ANSWER: Duration = Duration::from_secs(5);

/// `call`'s result, or "no answer" once it has taken [`LISTING_DEADLINE`] and [`NO_ANSWER`].
async fn answered<T>(
    store: &str,
    call: impl std::future::Future<Output = Result<T, WatchError>>,
) -> Result<T, WatchError> {
    tokio::time::timeout(LISTING_DEADLINE + NO_ANSWER, call)
        .await
        .unwrap_or_else(|_| {
            Err(WatchError::Unreachable {
                store: store.to_owned(),
                reason: format!(
                    "no answer within {} s",
                    (LISTING_DEADLINE + NO_ANSWER).as_secs()
                ),
            })
        })
}

/// Reads these sessions again and publishes what changed; one the store no longer holds
/// leaves, for `reason`.
async fn read_again(
    source: &mut Source,
    shared: &Shared,
    seen: &mut HashMap<String, Seen>,
    keys: &[String],
    (format, stamp): (Format, bool),
    reason: DeleteReason,
) {
    let store = shared.status.borrow().store.clone();
    match answered(&store, source.read(keys)).await {
        Ok(records) => {
            for (key, record) in records {
                match record {
                    Some(record) => publish_if_changed(shared, seen, record, format, !stamp),
                    None => {
                        if seen.remove(&key).is_some() {
                            shared.feed.publish(SessionChange::Removed {
                                id: key_id(&key),
                                reason,
                            });
                        }
                    }
                }
            }
        }
        Err(e) => shared.set(|s| s.error = Some(e.to_string())),
    }
}

fn publish_if_changed(
    shared: &Shared,
    seen: &mut HashMap<String, Seen>,
    record: RawRecord,
    format: Format,
    first: bool,
) {
    let now = Seen::of(&record);
    let before = seen.get(&record.key).copied();
    if before.is_some_and(|s| s.same_as(now)) {
        return;
    }
    seen.insert(record.key.clone(), now);
    let session = WatchedSession::of(record, format);
    let stamp = (!first).then(OffsetDateTime::now_utc);
    let created = if before.is_none() { stamp } else { None };
    shared
        .feed
        .publish(SessionChange::Written(session.row(created, stamp)));
}
