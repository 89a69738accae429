//! One request at a time per session: a per-session async lock held around load, handler and
//! save, so concurrent requests of one browser cannot overwrite each other's changes (the lost
//! update that express-session and plain tower-sessions both suffer). Requests of different
//! sessions never wait on each other.

use std::{
    hash::{BuildHasher, RandomState},
    sync::{Arc, Mutex, MutexGuard},
};

use tower_sessions::session::Id;

/// How many independently locked parts the lock table has.
const SHARDS: usize = 16;

/// How many idle locks a shard keeps for reuse before it forgets them.
const IDLE_PER_SHARD: usize = 256;

/// Keys are already keyed SipHash values: the table does not hash them again.
type Table = super::memory::FoldMap<u64, Arc<tokio::sync::Mutex<()>>>;

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
    lock: Arc<tokio::sync::Mutex<()>>,
    _guard: tokio::sync::OwnedMutexGuard<()>,
}

impl SessionLocks {
    /// How many sessions have a request in flight (or waiting).
    pub fn in_use(&self) -> usize {
        self.shards
            .iter()
            .map(|s| {
                s.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .values()
                    .filter(|lock| Arc::strong_count(lock) > 1)
                    .count()
            })
            .sum()
    }

    /// How many locks the table keeps (in use or idle); bounded by the idle limit.
    pub fn kept(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).len())
            .sum()
    }

    /// The key of a session's lock: its id mixed with a key that is random per server, so
    /// nobody can aim two sessions at one shard (ids are the client's choice with plain
    /// cookies): the seed goes in before the first half is mixed, so which ids collide cannot
    /// be known without it.
    pub(super) fn key(&self, id: &Id) -> u64 {
        mix(mix(self.seed ^ id.0 as u64) ^ ((id.0 >> 64) as u64))
    }

    fn shard(&self, key: u64) -> MutexGuard<'_, Table> {
        self.shards[((key >> 56) as usize) % self.shards.len()]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Waits for the session's lock and holds it.
    pub(super) async fn hold(&self, key: u64) -> Held {
        let lock = self.shard(key).entry(key).or_default().clone();
        let guard = lock.clone().lock_owned().await;
        Held {
            key,
            lock,
            _guard: guard,
        }
    }

    /// Releases a held lock. Idle locks stay for the session's next request (no allocation
    /// per request) until the shard holds too many, then the idle ones are forgotten.
    pub(super) fn release(&self, held: Held) {
        let Held { key, lock, _guard } = held;
        drop(_guard);
        drop(lock);
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
    async fn renew(&self, id: &Id, token: &str) -> Result<bool, String>;
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
}

struct HeldLease {
    id: Id,
    store: Arc<dyn SharedLease>,
    renewer: tokio::task::JoinHandle<()>,
}

impl Lease {
    fn new() -> Self {
        Self {
            token: Id::default().to_string(),
            held: Mutex::default(),
            lost: Arc::default(),
        }
    }

    /// The lease of the request on this task, if it takes one.
    pub fn current() -> Option<Arc<Self>> {
        LEASE.try_with(Arc::clone).ok()
    }

    /// Runs `request` with a lease of its own, and gives the lease back at the end if the
    /// request did not (a session loaded and not saved). Dropped midway (the client left), the
    /// lease is given back in the background.
    pub async fn scope<F: std::future::Future>(request: F) -> F::Output {
        let lease = Arc::new(Self::new());
        let output = LEASE.scope(lease.clone(), request).await;
        if let Some(held) = lease.take() {
            held.store.release(&held.id, &lease.token).await;
        }
        output
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
        let previous = self
            .held
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .replace(HeldLease { id, store, renewer });
        if let Some(previous) = previous {
            // A second session in one request (not done by the routes): keep the newest.
            previous.renewer.abort();
        }
    }

    /// Whether this request took the lease on `id` (and has not given it back): its save
    /// must then be fenced by the token, even when the renewals said the lease lapsed — the
    /// store, not this process, knows whether another request took it since.
    pub fn took(&self, id: &Id) -> bool {
        self.held
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .is_some_and(|held| held.id == *id)
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
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        if held.as_ref().is_some_and(|h| h.id == *id) {
            if let Some(held) = held.take() {
                held.renewer.abort();
            }
        }
    }

    /// The store's fenced save of `id` is done: `written` when the lease was still this
    /// request's (and is given back with the write), otherwise the save is refused with
    /// [`LEASE_LOST`].
    pub fn saved(&self, id: &Id, written: bool) -> tower_sessions::session_store::Result<()> {
        self.given_back(id);
        if written {
            Ok(())
        } else {
            Err(tower_sessions::session_store::Error::Backend(format!(
                "{LEASE_LOST} (another request took it), so this one saved nothing over it"
            )))
        }
    }

    fn take(&self) -> Option<HeldLease> {
        let held = self.held.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(held) = &held {
            held.renewer.abort();
        }
        held
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
        async fn renew(&self, _: &Id, _: &str) -> Result<bool, String> {
            let mut renewals = self.renewals.lock().unwrap();
            *renewals += 1;
            if *renewals <= self.failing {
                Err("database is locked".into())
            } else {
                Ok(true)
            }
        }
        async fn release(&self, id: &Id, _: &str) {
            self.released.lock().unwrap().push(id.to_string());
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
            *recorder.released.lock().unwrap(),
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
        let renewed = *recorder.renewals.lock().unwrap();
        assert!(renewed >= 8, "renewed every third of a lease: {renewed}");
        tokio::time::sleep(SHARED_LEASE * 3).await;
        assert_eq!(*recorder.renewals.lock().unwrap(), renewed, "not after");
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
        assert!(*down.renewals.lock().unwrap() > 3, "retried");
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
