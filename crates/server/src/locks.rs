//! One request at a time per session: a per-session async lock held around load, handler and
//! save, so concurrent requests of one browser cannot overwrite each other's changes (the lost
//! update that express-session and plain tower-sessions both suffer). Requests of different
//! sessions never wait on each other.

use parking_lot::{Mutex, MutexGuard};
use std::{
    hash::{BuildHasher, RandomState},
    sync::{Arc, Weak},
};

use tower_sessions::{
    session::{Id, Record},
    session_store,
};

/// How many independently locked parts the lock table has.
const SHARDS: usize = 16;

/// How many idle locks a shard keeps for reuse before it forgets them.
const IDLE_PER_SHARD: usize = 256;

/// A session's lock, and the shared lease a request hands to the next one waiting.
type Slot = tokio::sync::Mutex<Option<Kept>>;

/// Keys are already keyed SipHash values: the table does not hash them again.
type Table = super::session::FoldMap<u64, Arc<Slot>>;

/// The locks of the sessions that have a request in flight, keyed by a 64-bit hash of the
/// session cookie's raw value (a forged value only ever contends with itself; two real
/// sessions sharing a hash would merely take turns).
#[derive(Clone)]
pub struct SessionLocks {
    shards: Arc<[Mutex<Table>]>,
    seed: u64,
}

impl Default for SessionLocks {
    fn default() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            seed: RandomState::new().hash_one(0x5e55_1011_u64) | 1,
        }
    }
}

/// One round of a multiply-xorshift mixer (as in splitmix64's finaliser).
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// A held session lock; released (and forgotten, if nobody waits) by [`SessionLocks::release`].
pub(super) struct Held {
    key: u64,
    guard: tokio::sync::OwnedMutexGuard<Option<Kept>>,
}

impl Held {
    /// The shared lease the previous holder handed over, if any.
    pub(super) fn take_kept(&mut self) -> Option<Kept> {
        self.guard.take()
    }

    /// Leaves `kept` for the request that takes the lock next.
    pub(super) fn hand_over(&mut self, kept: Kept) {
        *self.guard = Some(kept);
    }

    /// Whether a request other than the holder waits (or is about to) for this lock.
    pub(super) fn others_waiting(&self) -> bool {
        // As [`Queue::others_waiting`], without making a queue.
        Arc::strong_count(tokio::sync::OwnedMutexGuard::mutex(&self.guard)) > 2
    }

    /// Who waits for this lock after its holder.
    pub(super) fn queue(&self) -> Queue {
        Queue(Arc::downgrade(tokio::sync::OwnedMutexGuard::mutex(
            &self.guard,
        )))
    }
}

/// Whether requests wait for a held session lock: then the holder keeps the session's shared
/// lease for them instead of giving it back (one write a request instead of two).
#[derive(Clone)]
pub struct Queue(Weak<Slot>);

impl Queue {
    /// Whether a request other than the holder waits (or is about to) for the lock.
    pub fn others_waiting(&self) -> bool {
        // The table and the holder's guard are two references; every waiter holds one more.
        self.0.strong_count() > 2
    }
}

/// A waiter for a lock; if it leaves before its turn (the client went away) while the lock is
/// free, it gives back a lease left in it for nobody.
struct Waiting(Option<Weak<Slot>>);

impl Drop for Waiting {
    fn drop(&mut self) {
        if let Some(slot) = self.0.take().and_then(|slot| slot.upgrade())
            && let Ok(mut free) = slot.try_lock()
        {
            free.take();
        }
    }
}

impl SessionLocks {
    /// How many sessions have a request in flight (or waiting).
    pub fn in_use(&self) -> usize {
        self.shards
            .iter()
            .map(|s| {
                s.lock()
                    .values()
                    .filter(|lock| Arc::strong_count(lock) > 1)
                    .count()
            })
            .sum()
    }

    /// How many locks the table keeps (in use or idle); bounded by the idle limit.
    pub fn kept(&self) -> usize {
        self.shards.iter().map(|s| s.lock().len()).sum()
    }

    /// The key of a session's lock: its id mixed with a key that is random per server, so
    /// nobody can aim two sessions at one shard (ids are the client's choice with plain
    /// cookies): the seed goes in before the first half is mixed, so which ids collide cannot
    /// be known without it.
    pub(super) fn key(&self, id: &Id) -> u64 {
        mix(mix(self.seed ^ id.0 as u64) ^ ((id.0 >> 64) as u64))
    }

    fn shard(&self, key: u64) -> MutexGuard<'_, Table> {
        self.shards[((key >> 56) as usize) % self.shards.len()].lock()
    }

    /// Waits for the session's lock and holds it.
    pub(super) async fn hold(&self, key: u64) -> Held {
        let slot = self.shard(key).entry(key).or_default().clone();
        // The common case: nobody else holds it.
        let slot = match slot.try_lock_owned() {
            Ok(guard) => return Held { key, guard },
            // `try_lock_owned` gave its reference up: take another (the holder's keeps the
            // table's entry alive meanwhile, and if it is gone, a new one is as good).
            Err(_) => self.shard(key).entry(key).or_default().clone(),
        };
        let mut waiting = Waiting(Some(Arc::downgrade(&slot)));
        let guard = slot.lock_owned().await;
        waiting.0 = None;
        Held { key, guard }
    }

    /// Releases a held lock. Idle locks stay for the session's next request (no allocation
    /// per request) until the shard holds too many, then the idle ones are forgotten.
    pub(super) fn release(&self, mut held: Held) {
        if !held.others_waiting() {
            // Its waiter left since the lease was handed over: give the lease back.
            held.take_kept();
        }
        let Held { key, guard } = held;
        drop(guard);
        let mut shard = self.shard(key);
        if shard.len() > IDLE_PER_SHARD {
            // Clones are only taken under the shard's mutex, so a lock nobody else references
            // is idle: nobody holds or awaits it.
            shard.retain(|_, lock| Arc::strong_count(lock) > 1);
        }
    }
}

/// How long a shared lease lasts: a process that dies holding one (`kill -9`) blocks the
/// session for at most this long. A live holder renews it while its request runs.
pub const SHARED_LEASE: std::time::Duration = std::time::Duration::from_secs(10);

/// How long a request of another process that found a session's lease taken counts as
/// waiting for it (it says so again at every try, every 16 ms at most): meanwhile the holder
/// gives the lease back at its save instead of keeping it for its own next request, so a
/// burst in one process cannot starve the others.
pub const WANTED: std::time::Duration = std::time::Duration::from_millis(100);

/// How long a failed renewal waits before it tries again (a busy SQLite file, a Redis timeout).
const RENEW_RETRY: std::time::Duration = std::time::Duration::from_millis(250);

/// The words a save refused for a lost lease carries (the layer answers 503 with them).
pub const LEASE_LOST: &str = "this request's hold on the session lapsed";

/// A store other processes share, whose per-session leases every process honours. The lease
/// is taken by the store's `load` itself (the session read in the same step) and given back by
/// its `save` (refused, with [`LEASE_LOST`], when the lease is no longer this request's), so a
/// request that saves costs the store one write more than without leases, not three.
#[async_trait::async_trait]
pub trait SharedLease: Send + Sync + 'static {
    /// Extends the lease `token` holds on `id`: `Ok(false)` if it no longer holds it, an error
    /// if the store could not be asked.
    async fn renew(&self, id: &Id, token: &str) -> Result<bool, session_store::Error>;
    /// Gives back the lease `token` holds on `id` (only if it still does).
    async fn release(&self, id: &Id, token: &str);
}

/// What one try at a session's lease found.
pub enum Attempt<T> {
    /// The lease is this request's, and the session was read with it.
    Taken(T),
    /// Another request holds it.
    Busy,
    /// No live session: nothing to lease.
    Missing,
}

/// Tries `attempt` until the lease is taken or there is nothing to take, pausing between tries
/// (1 ms, doubling to 16 ms); after one whole lease of waiting it gives up with an error.
pub async fn take_lease<T, F>(
    mut attempt: impl FnMut() -> F,
) -> tower_sessions::session_store::Result<Option<T>>
where
    F: std::future::Future<Output = tower_sessions::session_store::Result<Attempt<T>>>,
{
    let started = std::time::Instant::now();
    let mut pause = std::time::Duration::from_millis(1);
    loop {
        match attempt().await? {
            Attempt::Taken(found) => return Ok(Some(found)),
            Attempt::Missing => return Ok(None),
            Attempt::Busy if started.elapsed() > SHARED_LEASE => {
                return Err(tower_sessions::session_store::Error::Backend(
                    "another request held this session too long".to_owned(),
                ));
            }
            Attempt::Busy => {}
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(std::time::Duration::from_millis(16));
    }
}

tokio::task_local! {
    /// The lease of the request being served on this task, when its session's store is shared
    /// and the server takes per-session locks.
    static LEASE: Arc<Lease>;
}

/// One request's lease on its session in a shared store: what token it takes leases with,
/// which session it holds (once the store's load took it) and whether it was lost. While held,
/// a task renews it every third of [`SHARED_LEASE`], retrying failures until the lease would
/// have lapsed.
pub struct Lease {
    token: String,
    held: Mutex<Option<HeldLease>>,
    lost: Arc<std::sync::atomic::AtomicBool>,
    /// The requests of the same session waiting in this process, when it has session locks.
    queue: Option<Queue>,
}

struct HeldLease {
    id: Id,
    store: Arc<dyn SharedLease>,
    /// Renews the lease while it is held; none while it is only being claimed.
    renewer: Option<tokio::task::JoinHandle<()>>,
    remembered: Option<Remembered>,
}

/// What this process last saved under a lease it still holds: while the lease holds, nobody
/// else can have written the session since, so the next request here needs no read.
struct Remembered {
    record: Record,
    /// Until when to trust it: half a lease after the save renewed the lease (the store's
    /// lease runs a whole one), so it is never used past the lease.
    until: std::time::Instant,
}

/// A shared lease a request still held when it ended, to hand to the session's next request
/// in this process (which then reads the session without taking the lease again) or give
/// back. Lying unused (its next request left), nothing renews it: it lapses within
/// [`SHARED_LEASE`] like a stopped process's, and is given back when dropped.
pub struct Kept {
    id: Id,
    token: String,
    store: Arc<dyn SharedLease>,
    remembered: Option<Remembered>,
}

impl Kept {
    /// The session it is a lease on.
    pub fn id(&self) -> Id {
        self.id
    }

    /// Gives the lease back.
    pub async fn release(mut self) {
        let token = std::mem::take(&mut self.token);
        self.store.release(&self.id, &token).await;
    }
}

impl Drop for Kept {
    fn drop(&mut self) {
        if self.token.is_empty() {
            return; // given back by `release`
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let (store, id, token) = (self.store.clone(), self.id, std::mem::take(&mut self.token));
            runtime.spawn(async move { store.release(&id, &token).await });
        }
    }
}

impl Lease {
    fn new(token: String, queue: Option<Queue>) -> Self {
        Self {
            token,
            held: Mutex::default(),
            lost: Arc::default(),
            queue,
        }
    }

    /// A lease that continues `kept`, renewed from now on.
    fn continuing(mut kept: Kept, queue: Option<Queue>) -> Self {
        let lease = Self::new(std::mem::take(&mut kept.token), queue);
        lease.taken(kept.id, kept.store.clone());
        if let Some(held) = lease.held.lock().as_mut() {
            held.remembered = kept.remembered.take();
        }
        lease
    }

    /// The lease of the request on this task, if it takes one.
    pub fn current() -> Option<Arc<Self>> {
        LEASE.try_with(Arc::clone).ok()
    }

    /// Runs `request` with a lease of its own, and gives the lease back at the end if the
    /// request did not (a session loaded and not saved). Dropped midway (the client left), the
    /// lease is given back in the background.
    #[cfg(test)]
    pub async fn scope<F: std::future::Future>(request: F) -> F::Output {
        let (output, kept) = Self::scope_in_turn(None, None, request).await;
        if let Some(kept) = kept {
            kept.release().await;
        }
        output
    }

    /// Runs `request` with a lease: `kept`, handed over by the session's previous request,
    /// or a new one. While `queue` says other requests of the session wait, a save keeps the
    /// lease instead of giving it back; whatever lease is still held at the end is returned,
    /// for the caller to hand over or give back.
    pub async fn scope_in_turn<F: std::future::Future>(
        kept: Option<Kept>,
        queue: Option<Queue>,
        request: F,
    ) -> (F::Output, Option<Kept>) {
        let lease = Arc::new(match kept {
            Some(kept) => Self::continuing(kept, queue),
            None => Self::new(Id::default().to_string(), queue),
        });
        let output = LEASE.scope(lease.clone(), request).await;
        let kept = lease.take().map(|held| Kept {
            id: held.id,
            token: lease.token.clone(),
            store: held.store,
            remembered: held.remembered,
        });
        (output, kept)
    }

    /// Whether a save should keep the lease for the requests of the session waiting in this
    /// process, rather than give it back.
    pub fn keeps(&self) -> bool {
        self.queue.as_ref().is_some_and(Queue::others_waiting)
    }

    /// The token the store writes beside the session while the lease is held.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The store took the lease on `id`: keep it renewed.
    pub fn taken(&self, id: Id, store: Arc<dyn SharedLease>) {
        let renewer = {
            let (store, token, lost) = (store.clone(), self.token.clone(), self.lost.clone());
            tokio::spawn(async move {
                let mut renewed = tokio::time::Instant::now();
                let mut wait = SHARED_LEASE / 3;
                loop {
                    tokio::time::sleep(wait).await;
                    match store.renew(&id, &token).await {
                        Ok(true) => {
                            renewed = tokio::time::Instant::now();
                            wait = SHARED_LEASE / 3;
                        }
                        Ok(false) => break,
                        Err(err) if renewed.elapsed() + RENEW_RETRY < SHARED_LEASE => {
                            tracing::debug!(%err, "renewing a session's lease failed; retrying");
                            wait = RENEW_RETRY;
                        }
                        Err(_) => break,
                    }
                }
                tracing::warn!("a session's lease lapsed while its request ran");
                lost.store(true, std::sync::atomic::Ordering::Relaxed);
            })
        };
        self.hold(HeldLease {
            id,
            store,
            renewer: Some(renewer),
            remembered: None,
        });
    }

    /// The store is about to try to take the lease on `id`. A request dropped before it hears
    /// back (its client left, a timeout) may have taken it all the same — the store carries
    /// the statement out — and then gives it back as it goes (see `Drop`), where it would
    /// otherwise block the session until the lease lapsed; giving back a lease that was not
    /// taken changes nothing, since the store's release is fenced by the token. Found under
    /// the rotation benchmark, whose connections are closed mid-request at the end of every
    /// run: the session a dropped request had taken held up all 64 connections in turn.
    pub fn claiming(&self, id: Id, store: Arc<dyn SharedLease>) {
        self.hold(HeldLease {
            id,
            store,
            renewer: None,
            remembered: None,
        });
    }

    /// The store could not say whether it took the lease on `id` (an error, a timeout): the
    /// claim is given back in the background, so the request's answer does not wait on a
    /// store that is failing (a slow Redis may still take the lease after the request gave
    /// up; the release is queued behind it).
    pub fn claim_failed(&self, id: &Id) {
        let held = {
            let mut held = self.held.lock();
            if held.as_ref().is_some_and(|h| h.id == *id) {
                held.take()
            } else {
                None
            }
        };
        if let Some(held) = held {
            held.stop_renewing();
            let token = self.token.clone();
            tokio::spawn(async move { held.store.release(&held.id, &token).await });
        }
    }

    fn hold(&self, lease: HeldLease) {
        let previous = self.held.lock().replace(lease);
        if let Some(previous) = previous {
            // A second session in one request (not done by the routes), or a claim that
            // became a lease: keep the newest.
            previous.stop_renewing();
        }
    }

    /// Whether this request took the lease on `id` (and has not given it back): its save
    /// must then be fenced by the token, even when the renewals said the lease lapsed — the
    /// store, not this process, knows whether another request took it since.
    pub fn took(&self, id: &Id) -> bool {
        self.held.lock().as_ref().is_some_and(|held| held.id == *id)
    }

    /// Whether this lease holds `id` and has not been found lapsed.
    #[cfg(test)]
    pub fn holds(&self, id: &Id) -> bool {
        !self.lost.load(std::sync::atomic::Ordering::Relaxed) && self.took(id)
    }

    /// As when the renewals found the lease lapsed.
    #[cfg(test)]
    pub fn lose(&self) {
        self.lost.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// The store gave the lease on `id` back (a fenced save, a delete): stop renewing it.
    pub fn given_back(&self, id: &Id) {
        let mut held = self.held.lock();
        if held.as_ref().is_some_and(|h| h.id == *id)
            && let Some(held) = held.take()
        {
            held.stop_renewing();
        }
    }

    /// The session as this process last saved it under this lease, when the lease is
    /// still surely held and the session has not expired since: the store need not read it.
    pub fn remembered(&self, id: &Id) -> Option<Record> {
        let held = self.held.lock();
        let remembered = held.as_ref().filter(|h| h.id == *id)?.remembered.as_ref()?;
        (std::time::Instant::now() < remembered.until
            && remembered.record.expiry_date > time::OffsetDateTime::now_utc())
        .then(|| remembered.record.clone())
    }

    /// The store's fenced save of `record` is done: `written` when the lease was still this
    /// request's (and is given back with the write unless `kept`, then `record` is
    /// remembered), otherwise the save is refused with [`LEASE_LOST`].
    pub fn saved(
        &self,
        record: &Record,
        written: bool,
        kept: bool,
    ) -> tower_sessions::session_store::Result<()> {
        let id = &record.id;
        if written && kept {
            if let Some(held) = self.held.lock().as_mut().filter(|h| h.id == *id) {
                held.remembered = Some(Remembered {
                    record: record.clone(),
                    until: std::time::Instant::now() + SHARED_LEASE / 2,
                });
            }
        } else {
            self.given_back(id);
        }
        if written {
            Ok(())
        } else {
            Err(tower_sessions::session_store::Error::Backend(format!(
                "{LEASE_LOST} (another request took it), so this one saved nothing over it"
            )))
        }
    }

    fn take(&self) -> Option<HeldLease> {
        let held = self.held.lock().take();
        if let Some(held) = &held {
            held.stop_renewing();
        }
        held
    }
}

impl HeldLease {
    fn stop_renewing(&self) {
        if let Some(renewer) = &self.renewer {
            renewer.abort();
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let Some(held) = self.take() else {
            return;
        };
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let token = std::mem::take(&mut self.token);
            runtime.spawn(async move { held.store.release(&held.id, &token).await });
        }
    }
}

/// The name of a session's shared lock: the same in every process for the same session, and
/// not the session id itself (anyone who can list the locks cannot use the names as cookies).
pub(super) fn shared_name(id: &Id) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(id.0.to_le_bytes());
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Different sessions get different keys; the same session always the same key.
    #[test]
    fn keys_tell_sessions_apart() {
        let locks = SessionLocks::default();
        let (a, b) = (Id(1), Id(1 << 64));
        assert_eq!(locks.key(&a), locks.key(&a));
        assert_ne!(locks.key(&a), locks.key(&b));
        assert_ne!(locks.key(&Id(0)), locks.key(&Id(1)));
        let other = SessionLocks::default();
        assert_ne!(locks.key(&a), other.key(&a), "keyed per server");
        assert_ne!(shared_name(&a), shared_name(&b));
    }

    /// Idle locks are kept only up to a bound, so the table does not grow with the sessions.
    #[tokio::test]
    async fn idle_locks_are_bounded() {
        let locks = SessionLocks::default();
        for n in 0..10_000 {
            let held = locks.hold(locks.key(&Id(n))).await;
            locks.release(held);
        }
        assert_eq!(locks.in_use(), 0);
        assert!(
            locks.kept() <= SHARDS * (IDLE_PER_SHARD + 1),
            "{}",
            locks.kept()
        );
    }

    /// A lease store that counts renewals, fails the first `failing` of them (or all, with
    /// `usize::MAX`), and records releases.
    #[derive(Default)]
    struct Recorder {
        renewals: Mutex<usize>,
        failing: usize,
        released: Mutex<Vec<String>>,
    }

    #[async_trait::async_trait]
    impl SharedLease for Recorder {
        async fn renew(&self, _: &Id, _: &str) -> Result<bool, session_store::Error> {
            let mut renewals = self.renewals.lock();
            *renewals += 1;
            if *renewals <= self.failing {
                Err(session_store::Error::Backend("database is locked".into()))
            } else {
                Ok(true)
            }
        }
        async fn release(&self, id: &Id, _: &str) {
            self.released.lock().push(id.to_string());
        }
    }

    /// A lease the request did not give back is released when the request ends, and one
    /// whose request was dropped midway (the client left) is released in the background.
    #[tokio::test]
    async fn leases_are_given_back_when_requests_end() {
        let recorder = Arc::new(Recorder::default());
        let store: Arc<dyn SharedLease> = recorder.clone();
        let (one, two) = (Id(1), Id(2));
        Lease::scope(async { Lease::current().unwrap().taken(one, store.clone()) }).await;
        let dropped = tokio::spawn(Lease::scope(async move {
            Lease::current().unwrap().taken(two, store);
            std::future::pending::<()>().await;
        }));
        tokio::task::yield_now().await;
        dropped.abort();
        let _ = dropped.await;
        tokio::task::yield_now().await;
        assert_eq!(
            *recorder.released.lock(),
            [one.to_string(), two.to_string()]
        );
    }

    /// A lease held three leases long is renewed every third of a lease, and no more after
    /// its request ends (on a paused clock).
    #[tokio::test(start_paused = true)]
    async fn held_leases_are_renewed() {
        let recorder = Arc::new(Recorder::default());
        let store: Arc<dyn SharedLease> = recorder.clone();
        Lease::scope(async {
            let lease = Lease::current().unwrap();
            lease.taken(Id(1), store);
            tokio::time::sleep(SHARED_LEASE * 3).await;
            assert!(lease.holds(&Id(1)));
        })
        .await;
        let renewed = *recorder.renewals.lock();
        assert!(renewed >= 8, "renewed every third of a lease: {renewed}");
        tokio::time::sleep(SHARED_LEASE * 3).await;
        assert_eq!(*recorder.renewals.lock(), renewed, "not after");
    }

    /// A renewal that fails (a busy file) is retried, and the lease kept; renewals that fail
    /// until the lease would have lapsed lose it, and the lease says so.
    #[tokio::test(start_paused = true)]
    async fn failed_renewals_are_retried_until_the_lease_lapses() {
        let flaky = Arc::new(Recorder {
            failing: 3,
            ..Recorder::default()
        });
        let down = Arc::new(Recorder {
            failing: usize::MAX,
            ..Recorder::default()
        });
        Lease::scope(async {
            let lease = Lease::current().unwrap();
            lease.taken(Id(1), flaky.clone());
            tokio::time::sleep(SHARED_LEASE * 2).await;
            assert!(lease.holds(&Id(1)), "three failures, then renewed");
        })
        .await;
        Lease::scope(async {
            let lease = Lease::current().unwrap();
            lease.taken(Id(2), down.clone());
            tokio::time::sleep(SHARED_LEASE / 2).await;
            assert!(lease.holds(&Id(2)), "still within the lease");
            tokio::time::sleep(SHARED_LEASE).await;
            assert!(!lease.holds(&Id(2)), "lost once it would have lapsed");
        })
        .await;
        assert!(*down.renewals.lock() > 3, "retried");
    }

    /// While another request of the session waits, a request's lease is handed to it whole
    /// (the same token, nothing given back between); the last one gives it back. A waiter that
    /// leaves before its turn gives back a lease left for it.
    #[tokio::test]
    async fn a_lease_is_handed_to_the_next_request_waiting() {
        let recorder = Arc::new(Recorder::default());
        let store: Arc<dyn SharedLease> = recorder.clone();
        let locks = SessionLocks::default();
        let id = Id(7);
        let key = locks.key(&id);
        let mut first = locks.hold(key).await;
        let next = {
            let locks = locks.clone();
            tokio::spawn(async move { locks.hold(key).await })
        };
        tokio::task::yield_now().await;
        assert!(first.queue().others_waiting());
        let (token, kept) = Lease::scope_in_turn(None, Some(first.queue()), async {
            let lease = Lease::current().unwrap();
            lease.taken(id, store.clone());
            assert!(lease.keeps(), "a request waits: keep the lease for it");
            lease.token().to_owned()
        })
        .await;
        first.hand_over(kept.expect("still held"));
        locks.release(first);
        let mut second = next.await.unwrap();
        let kept = second.take_kept().expect("handed over");
        assert!(!second.queue().others_waiting());
        let ((), kept) = Lease::scope_in_turn(Some(kept), Some(second.queue()), async {
            let lease = Lease::current().unwrap();
            assert_eq!(lease.token(), token, "the same lease");
            assert!(lease.took(&id));
            assert!(!lease.keeps(), "nobody waits");
        })
        .await;
        assert!(recorder.released.lock().is_empty(), "none yet");
        kept.unwrap().release().await;
        assert_eq!(*recorder.released.lock(), [id.to_string()]);

        // A lease left for a waiter that then leaves is given back.
        let leaving = {
            let locks = locks.clone();
            tokio::spawn(async move { locks.hold(key).await })
        };
        tokio::task::yield_now().await;
        let (_, kept) = Lease::scope_in_turn(None, Some(second.queue()), async {
            Lease::current().unwrap().taken(id, store.clone());
        })
        .await;
        second.hand_over(kept.unwrap());
        leaving.abort();
        let _ = leaving.await;
        locks.release(second);
        tokio::task::yield_now().await;
        let fresh = locks.hold(key).await;
        assert_eq!(recorder.released.lock().len(), 2, "given back");
        locks.release(fresh);
    }

    /// A held lock makes the session's next request wait; releasing lets it through.
    #[tokio::test]
    async fn locks_are_released() {
        let locks = SessionLocks::default();
        let key = locks.key(&Id::default());
        let first = locks.hold(key).await;
        let waiting = {
            let locks = locks.clone();
            tokio::spawn(async move {
                let second = locks.hold(key).await;
                locks.release(second);
            })
        };
        tokio::task::yield_now().await;
        assert_eq!(locks.in_use(), 1);
        locks.release(first);
        waiting.await.unwrap();
        assert_eq!(locks.in_use(), 0);
    }
}
