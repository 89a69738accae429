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

/// How long a shared lock is leased for: a process that dies holding one (`kill -9`) blocks
/// the session for at most this long. A live holder renews it while its request runs.
pub const SHARED_LEASE: std::time::Duration = std::time::Duration::from_secs(10);

/// A per-session lock that other processes honour too (held in the shared store), taken after
/// the in-process one when several servers share a store. Leased for [`SHARED_LEASE`].
#[async_trait::async_trait]
pub trait SharedLock: Send + Sync + 'static {
    /// Waits for the lock named `name` and holds it; the token releases it.
    async fn acquire(&self, name: &str) -> Result<String, String>;
    /// Extends the lease of a lock this process holds; `false` if it no longer does.
    async fn renew(&self, name: &str, token: &str) -> bool;
    /// Releases a lock this process holds (and only if it still does).
    async fn release(&self, name: &str, token: &str);
}

/// A held shared lock. [`SharedHeld::release`] gives it back; if the request is dropped first
/// (the client went away), dropping the guard gives it back in the background, so the session's
/// next request does not wait for the lease to lapse. While it is held, a task renews its lease
/// every third of it, so a request slower than the lease does not lose the lock (and with it,
/// possibly, an update).
pub(super) struct SharedHeld {
    lock: Arc<dyn SharedLock>,
    name: String,
    token: String,
    released: bool,
    renewer: tokio::task::JoinHandle<()>,
}

impl SharedHeld {
    /// Waits for the lock named `name` in `lock` and holds it.
    pub(super) async fn acquire(lock: &Arc<dyn SharedLock>, name: String) -> Result<Self, String> {
        let token = lock.acquire(&name).await?;
        let renewer = {
            let (lock, name, token) = (lock.clone(), name.clone(), token.clone());
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(SHARED_LEASE / 3).await;
                    if !lock.renew(&name, &token).await {
                        tracing::warn!(%name, "a session's shared lock was lost while held");
                        return;
                    }
                }
            })
        };
        Ok(Self {
            lock: lock.clone(),
            name,
            token,
            released: false,
            renewer,
        })
    }

    /// Gives the lock back.
    pub(super) async fn release(mut self) {
        self.released = true;
        self.renewer.abort();
        self.lock.release(&self.name, &self.token).await;
    }
}

impl Drop for SharedHeld {
    fn drop(&mut self) {
        self.renewer.abort();
        if self.released {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let (lock, name, token) = (
                self.lock.clone(),
                std::mem::take(&mut self.name),
                std::mem::take(&mut self.token),
            );
            runtime.spawn(async move { lock.release(&name, &token).await });
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

    /// A shared lock whose request was dropped before releasing it is given back anyway.
    #[tokio::test]
    async fn dropped_shared_locks_are_released() {
        #[derive(Default)]
        struct Recorder(Mutex<Vec<String>>);
        #[async_trait::async_trait]
        impl SharedLock for Recorder {
            async fn acquire(&self, name: &str) -> Result<String, String> {
                Ok(format!("token of {name}"))
            }
            async fn renew(&self, name: &str, token: &str) -> bool {
                self.0
                    .lock()
                    .unwrap()
                    .push(format!("{name}: {token} renewed"));
                true
            }
            async fn release(&self, name: &str, token: &str) {
                self.0.lock().unwrap().push(format!("{name}: {token}"));
            }
        }
        let recorder = Arc::new(Recorder::default());
        let lock: Arc<dyn SharedLock> = recorder.clone();
        let held = SharedHeld::acquire(&lock, "a".into()).await.unwrap();
        held.release().await;
        drop(SharedHeld::acquire(&lock, "b".into()).await.unwrap());
        tokio::task::yield_now().await;
        assert_eq!(
            *recorder.0.lock().unwrap(),
            ["a: token of a", "b: token of b"]
        );
    }

    /// A shared lock held longer than its lease is renewed while held, and no more after.
    #[tokio::test(start_paused = true)]
    async fn held_shared_locks_are_renewed() {
        #[derive(Default)]
        struct Counter(Mutex<usize>);
        #[async_trait::async_trait]
        impl SharedLock for Counter {
            async fn acquire(&self, _: &str) -> Result<String, String> {
                Ok("t".into())
            }
            async fn renew(&self, _: &str, _: &str) -> bool {
                *self.0.lock().unwrap() += 1;
                true
            }
            async fn release(&self, _: &str, _: &str) {}
        }
        let counter = Arc::new(Counter::default());
        let lock: Arc<dyn SharedLock> = counter.clone();
        let held = SharedHeld::acquire(&lock, "a".into()).await.unwrap();
        // A request three leases long (the paused clock moves on while every task waits).
        tokio::time::sleep(SHARED_LEASE * 3).await;
        held.release().await;
        let renewed = *counter.0.lock().unwrap();
        assert!(renewed >= 8, "renewed every third of a lease: {renewed}");
        tokio::time::sleep(SHARED_LEASE * 3).await;
        assert_eq!(*counter.0.lock().unwrap(), renewed, "not after the release");
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
