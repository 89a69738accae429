//! The background tasks that watch a server instance for the lab: one lists the store when a
//! listing is needed (at start, after a store switch, and now and then for a store other
//! processes write — then by difference, so only what changed reaches the window), one tells of
//! requests from clients outside the lab, at a pace a person can read.

use std::{
    hash::{Hash, Hasher},
    sync::Arc,
    time::{Duration, Instant},
};

use tokio::sync::broadcast::error::RecvError;

use crate::server::{DeleteReason, Inspector, Served, SessionChange, SessionRow, unix_millis};

use super::ServerEvent;
use super::{Outbox, USER_AGENT_PREFIX, sessions::IdMap};

/// The shortest time between two listings of a store other processes write.
const SHARED_RELIST_MIN: Duration = Duration::from_secs(2);

/// A shared store is listed again after this many times the last listing took, so listing a
/// big store never takes more than a twentieth of a core.
const SHARED_RELIST_FACTOR: u32 = 20;

/// The fingerprint of a session the reader knows but no listing has seen yet.
const UNSEEN: u64 = 0;

/// How many requests from outside are told one by one in a burst, and how many per second
/// after that; the rest are counted and summed up.
const EXTERNAL_BURST: f64 = 20.0;
const EXTERNAL_PER_SEC: f64 = 10.0;

/// How long skipped requests are counted before the count is told.
const SKIPPED_SUMMARY_AFTER: Duration = Duration::from_secs(1);

/// Lists the instance's store whenever its feed wants a listing, and — for a store other
/// processes write — again now and then, publishing only the differences since the last time.
pub(super) async fn listings(inspector: Inspector, outbox: Outbox) {
    let feed = inspector.feed();
    // Fingerprints of what the last listing of a shared store found.
    let mut seen: IdMap<u64> = IdMap::default();
    let mut down = false;
    let mut relist_after = SHARED_RELIST_MIN;
    loop {
        let relist = inspector.store_is_shared() || down;
        tokio::select! {
            () = feed.listing_wanted() => {}
            () = tokio::time::sleep(relist_after), if relist => {}
        }
        if feed.take_full_listing_wanted() {
            seen.clear();
        }
        feed.begin_listing();
        let shared = inspector.store_is_shared();
        if shared {
            // Sessions the reader got from the feed are known to it too: a difference must
            // remove them when they are gone, even if no listing ever saw them.
            for id in feed.take_written() {
                seen.entry(id).or_insert(UNSEEN);
            }
        }
        let started = Instant::now();
        let listed = inspector.sessions().await;
        // A store that still lists but fails requests (a file another process holds locked
        // for writing) is down too.
        let listed = match (listed, feed.failure()) {
            (Ok(_), Some(failure)) => {
                feed.abandon_listing();
                if !down {
                    down = true;
                    outbox.send(ServerEvent::StoreDown(super::Shared::new(
                        crate::server::StoreCallError::Backend(failure),
                    )));
                }
                relist_after = SHARED_RELIST_MIN;
                continue;
            }
            (listed, _) => listed,
        };
        match listed {
            Ok(rows) => {
                if down {
                    down = false;
                    outbox.send(ServerEvent::StoreBack);
                }
                let found = if shared {
                    diff(&mut seen, rows)
                } else {
                    rows.into_iter().map(SessionChange::Written).collect()
                };
                feed.publish_listing(found);
                relist_after = (started.elapsed() * SHARED_RELIST_FACTOR).max(SHARED_RELIST_MIN);
            }
            Err(err) => {
                feed.abandon_listing();
                // Said once per outage, not at every retry.
                if !down {
                    down = true;
                    outbox.send(ServerEvent::StoreDown(super::Shared::new(err)));
                }
                // What the reader has may be stale by the time the store answers again; the
                // retry comes with the next relisting, not at once.
                feed.mark_full_listing_wanted();
                relist_after = SHARED_RELIST_MIN;
            }
        }
    }
}

/// What changed since the last listing: rows that are new or different, and sessions that are
/// gone. Work is proportional to the store, but it happens here, off the window's thread, and
/// only the differences travel on.
fn diff(seen: &mut IdMap<u64>, rows: Vec<SessionRow>) -> Vec<SessionChange> {
    let mut now: IdMap<u64> = IdMap::default();
    now.reserve(rows.len());
    let mut changes = Vec::new();
    for row in rows {
        let print = fingerprint(&row);
        now.insert(row.id, print);
        if seen.get(&row.id) != Some(&print) {
            changes.push(SessionChange::Written(row));
        }
    }
    changes.extend(seen.keys().filter(|id| !now.contains_key(id)).map(|id| {
        SessionChange::Removed {
            id: *id,
            reason: DeleteReason::Gone,
        }
    }));
    *seen = now;
    changes
}

fn fingerprint(row: &SessionRow) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    row.data.as_str().hash(&mut hasher);
    unix_millis(row.expires_at).hash(&mut hasher);
    row.updated_at.map(unix_millis).hash(&mut hasher);
    hasher.finish()
}

/// Tells the log about requests from clients that are not the lab's browsers (whose user agent
/// ends in `mark`): one by one while a person can follow (a burst of twenty, then ten a
/// second), then as a count.
pub(super) async fn requests(instance: usize, inspector: Inspector, outbox: Outbox, mark: String) {
    let mut served = inspector.served();
    let mut tokens = EXTERNAL_BURST;
    let mut refilled = Instant::now();
    let mut skipped = 0u64;
    let mut summary_due: Option<tokio::time::Instant> = None;
    loop {
        let record = tokio::select! {
            record = served.recv() => record,
            () = sleep_until(summary_due) => {
                outbox.send(ServerEvent::RequestsSkipped { count: skipped });
                outbox.send(ServerEvent::RequestsServed {
                    instance,
                    count: inspector.requests_served(),
                });
                skipped = 0;
                summary_due = None;
                continue;
            }
        };
        match record {
            Ok(record) if is_ours(&record, &mark) => {}
            Ok(record) => {
                let now = Instant::now();
                tokens = (tokens + now.duration_since(refilled).as_secs_f64() * EXTERNAL_PER_SEC)
                    .min(EXTERNAL_BURST);
                refilled = now;
                if tokens >= 1.0 {
                    tokens -= 1.0;
                    outbox.send(ServerEvent::External(record));
                } else {
                    skipped += 1;
                }
            }
            Err(RecvError::Lagged(missed)) => skipped += missed,
            Err(RecvError::Closed) => return,
        }
        if skipped > 0 && summary_due.is_none() {
            summary_due = Some(tokio::time::Instant::now() + SKIPPED_SUMMARY_AFTER);
        }
    }
}

fn is_ours(record: &Arc<Served>, mark: &str) -> bool {
    record
        .user_agent
        .as_deref()
        .is_some_and(|ua| ua.starts_with(USER_AGENT_PREFIX) && ua.ends_with(mark))
}

async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
