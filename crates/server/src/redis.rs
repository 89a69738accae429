//! Sessions in Redis (through fred): the store people use when one machine is not enough.
//! Each session is a hash (`data`, `created`, `updated`, `expires`) that Redis itself expires;
//! the inspector lists them with SCAN, so sessions written by any instance or process appear.

use std::{collections::HashMap, time::Duration};

use async_trait::async_trait;
use fred::prelude::*;
use futures::StreamExt as _;
use tower_sessions::{
    SessionStore,
    session::{Id, Record},
    session_store,
};

use super::{
    StoreError,
    locks::{Attempt, Lease, SHARED_LEASE, SharedLease, WANTED, shared_name, take_lease},
    session::{DataText, SessionRow, encode_for_store, from_unix_millis, now_millis, unix_millis},
    store::{ListSessions, StoreKind},
};

/// Every key this store writes starts with this.
const PREFIX: &str = "session-lab:session:";

/// How long a connection attempt or a command may take before it fails (so a stopped Redis
/// turns into a clear 503, not a hung request).
const TIMEOUT: Duration = Duration::from_secs(2);

/// A Redis session store.
#[derive(Clone)]
pub struct RedisSessions {
    client: Client,
    url: String,
}

impl std::fmt::Debug for RedisSessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisSessions")
            .field("url", &super::masked_url(&self.url))
            .finish_non_exhaustive()
    }
}

impl RedisSessions {
    /// Connects to the Redis server at `url` (`redis://[user:password@]HOST:PORT[/DB]`, or
    /// `rediss://…` over TLS, checked against the system's root certificates — or the file
    /// `SSL_CERT_FILE` names). Messages show the URL with its password masked.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let shown = super::masked_url(url);
        let config = Config::from_url(url).map_err(|e| {
            if url.starts_with("rediss://") {
                // A TLS setup problem (no root certificates): say so, without the URL.
                StoreError::RedisTls {
                    shown: shown.clone(),
                    details: e.details().to_string(),
                }
            } else {
                // fred's message may quote the URL: say only what kind of problem it is.
                StoreError::RedisUrl {
                    shown: shown.clone(),
                }
            }
        })?;
        let client = Builder::from_config(config)
            .with_connection_config(|c| c.connection_timeout = TIMEOUT)
            .with_performance_config(|p| p.default_command_timeout = TIMEOUT)
            .set_policy(ReconnectPolicy::new_constant(0, 500))
            .build()
            .map_err(|e| StoreError::Redis {
                shown: shown.clone(),
                reason: e.to_string(),
            })?;
        let unreachable = || StoreError::RedisUnreachable {
            shown: shown.clone(),
        };
        match tokio::time::timeout(TIMEOUT, client.init()).await {
            Ok(Ok(_)) => {}
            Ok(Err(_)) | Err(_) => {
                let _ = client.quit().await;
                return Err(unreachable());
            }
        }
        let pong: Result<String, _> = client.ping(None).await;
        if pong.is_err() {
            return Err(unreachable());
        }
        Ok(Self {
            client,
            url: url.to_owned(),
        })
    }

    /// The server's URL, with its password masked.
    pub fn url(&self) -> String {
        super::masked_url(&self.url)
    }
}

fn key(id: &Id) -> String {
    format!("{PREFIX}{id}")
}

fn redis_error(err: Error) -> session_store::Error {
    session_store::Error::Backend(format!("Redis: {err}"))
}

fn now() -> i64 {
    now_millis()
}

fn encode(record: &Record) -> session_store::Result<String> {
    let bytes = encode_for_store(&record.data)?;
    String::from_utf8(bytes).map_err(|e| session_store::Error::Encode(e.to_string()))
}

/// A stored hash as a row, if it is complete.
fn row(id: &str, fields: &HashMap<String, String>) -> session_store::Result<Option<SessionRow>> {
    let field = |name: &str| fields.get(name).and_then(|v| v.parse::<i64>().ok());
    let (Some(data), Some(expires)) = (fields.get("data"), field("expires")) else {
        return Ok(None);
    };
    let Ok(id) = id.parse() else {
        return Ok(None);
    };
    Ok(Some(SessionRow {
        id,
        data: DataText::from_json(data.as_bytes()),
        expires_at: from_unix_millis(expires),
        created_at: field("created").map(from_unix_millis),
        updated_at: field("updated").map(from_unix_millis),
        key: None,
    }))
}

/// Writes a session in one step on the server: data, times and Redis's own expiry together
/// (so no failure can leave a hash that never expires); with `only_if_new`, only if the key does
/// not exist yet. Returns 1 when written.
const WRITE: &str = "if ARGV[4] == '1' and redis.call('exists', KEYS[1]) == 1 then return 0 end
redis.call('hset', KEYS[1], 'data', ARGV[1], 'updated', ARGV[2], 'expires', ARGV[3])
redis.call('hsetnx', KEYS[1], 'created', ARGV[2])
redis.call('pexpireat', KEYS[1], ARGV[3])
return 1";

impl RedisSessions {
    /// Writes a record atomically; returns whether it was written (`false`: `only_if_new` and
    /// the id is taken).
    async fn write(&self, record: &Record, only_if_new: bool) -> session_store::Result<bool> {
        let written: i64 = self
            .client
            .eval(
                WRITE,
                vec![key(&record.id)],
                vec![
                    encode(record)?,
                    now().to_string(),
                    unix_millis(record.expiry_date).to_string(),
                    if only_if_new { "1" } else { "0" }.to_owned(),
                ],
            )
            .await
            .map_err(redis_error)?;
        Ok(written == 1)
    }
}

#[async_trait]
impl SessionStore for RedisSessions {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        while !self.write(record, true).await? {
            // Session id collision (one in 2^128): pick another.
            record.id = Id::default();
        }
        Ok(())
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        if let Some(lease) = Lease::current().filter(|l| l.took(&record.id)) {
            return self.save_leased(record, &lease).await;
        }
        self.write(record, false).await.map(|_| ())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        if let Some(lease) = Lease::current() {
            return self.load_leased(id, &lease).await;
        }
        let fields: HashMap<String, String> =
            self.client.hgetall(key(id)).await.map_err(redis_error)?;
        let field = |name: &str| fields.get(name).and_then(|v| v.parse::<i64>().ok());
        let (Some(data), Some(expires)) = (fields.get("data"), field("expires")) else {
            return Ok(None);
        };
        if expires <= now() {
            return Ok(None);
        }
        Ok(Some(Record {
            id: *id,
            data: serde_json::from_str(data)
                .map_err(|e| session_store::Error::Decode(e.to_string()))?,
            expiry_date: from_unix_millis(expires),
        }))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        let _: i64 = self.client.del(key(id)).await.map_err(redis_error)?;
        if let Some(lease) = Lease::current().filter(|l| l.took(id)) {
            lease.given_back(id);
            self.release(id, lease.token()).await;
        }
        Ok(())
    }
}

#[async_trait]
impl ListSessions for RedisSessions {
    fn kind(&self) -> StoreKind {
        StoreKind::Redis
    }

    fn is_shared(&self) -> bool {
        true
    }

    async fn list(&self) -> session_store::Result<Vec<SessionRow>> {
        // A SCAN over a lost connection can simply end empty: ask first, so an outage is an
        // error and not an empty store.
        let _: String = self.client.ping(None).await.map_err(redis_error)?;
        let mut keys = self
            .client
            .scan_buffered(format!("{PREFIX}*"), Some(1000), None);
        let mut rows = Vec::new();
        while let Some(key) = keys.next().await {
            let key = key.map_err(redis_error)?;
            let Some(name) = key.as_str() else {
                continue;
            };
            let fields: HashMap<String, String> =
                self.client.hgetall(name).await.map_err(redis_error)?;
            if let Some(row) = row(name.trim_start_matches(PREFIX), &fields)? {
                rows.push(row);
            }
        }
        rows.sort_by_key(|r| (r.created_at, r.id));
        Ok(rows)
    }

    async fn get(&self, id: &Id) -> session_store::Result<Option<SessionRow>> {
        let fields: HashMap<String, String> =
            self.client.hgetall(key(id)).await.map_err(redis_error)?;
        row(&id.to_string(), &fields)
    }

    async fn delete_expired(&self, _now: i64) -> session_store::Result<Vec<Id>> {
        // Redis expires the keys itself, by the machine's clock (PEXPIREAT is set on every
        // write), each at once and atomically; the inspector sees them go when it lists the
        // store again. Nothing here deletes by a clock of its own.
        Ok(Vec::new())
    }

    async fn next_expiry(&self) -> session_store::Result<Option<i64>> {
        Ok(None)
    }

    async fn count(&self) -> session_store::Result<usize> {
        let _: String = self.client.ping(None).await.map_err(redis_error)?;
        let mut keys = self
            .client
            .scan_buffered(format!("{PREFIX}*"), Some(1000), None);
        let mut count = 0;
        while let Some(key) = keys.next().await {
            key.map_err(redis_error)?;
            count += 1;
        }
        Ok(count)
    }
}

/// How long a session's Redis lock is leased for (a crashed holder's lock lapses then; a live
/// one renews it).
const LOCK_LEASE_MS: i64 = SHARED_LEASE.as_millis() as i64;

/// Gives a lease back only if this request still holds it.
const RELEASE: &str = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

/// Extends a lease only if this request still holds it.
const RENEW: &str = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end";

/// Takes a live session's lease (or extends it, when handed over by the session's previous
/// request in this process) and reads the session, in one step: `{'taken', data, expires}`,
/// `{'busy'}` (another request holds it; this one is marked as waiting for [`WANTED`]) or
/// `{'none'}` (no live session).
const LOAD_LEASED: &str = "local expires = tonumber(redis.call('hget', KEYS[1], 'expires'))
if not expires or expires <= tonumber(ARGV[3]) then return {'none'} end
if redis.call('get', KEYS[2]) == ARGV[1] then redis.call('pexpire', KEYS[2], ARGV[2])
elseif not redis.call('set', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then
  redis.call('set', KEYS[3], '1', 'PX', ARGV[4])
  return {'busy'}
end
return {'taken', redis.call('hget', KEYS[1], 'data'), tostring(expires)}";

/// [`WRITE`] for a leased session, only while the lease is still this request's, giving it
/// back in the same step (or, with a lease length in ARGV[5] and no request of another process
/// waiting, renewing it for the session's next request in this process). Returns 0 when not
/// written, 1 when written and given back, 2 when written and kept.
const SAVE_LEASED: &str = "if redis.call('get', KEYS[2]) ~= ARGV[1] then return 0 end
redis.call('hset', KEYS[1], 'data', ARGV[2], 'updated', ARGV[3], 'expires', ARGV[4])
redis.call('hsetnx', KEYS[1], 'created', ARGV[3])
redis.call('pexpireat', KEYS[1], ARGV[4])
if ARGV[5] ~= '0' and redis.call('exists', KEYS[3]) == 0 then
  redis.call('pexpire', KEYS[2], ARGV[5])
  return 2
end
redis.call('del', KEYS[2])
return 1";

/// The key of a session's lease.
fn lease_key(id: &Id) -> String {
    format!("session-lab:lock:{}", shared_name(id))
}

/// The key that says a request of another process waits for a session's lease.
fn wanted_key(id: &Id) -> String {
    format!("session-lab:wanted:{}", shared_name(id))
}

impl RedisSessions {
    /// Takes the session's lease and reads it in one script; waits, up to one lease, while
    /// another request holds it.
    async fn load_leased(&self, id: &Id, lease: &Lease) -> session_store::Result<Option<Record>> {
        // Handed over by the session's previous request in this process, which saved it: as
        // it left it (nobody else writes while the lease holds).
        if let Some(record) = lease.remembered(id) {
            return Ok(Some(record));
        }
        let store: std::sync::Arc<dyn SharedLease> = std::sync::Arc::new(self.clone());
        take_lease(|| async {
            // Given back as the request goes if it goes before the answer (see `claiming`).
            lease.claiming(*id, store.clone());
            let answer: Vec<String> = match self
                .client
                .eval(
                    LOAD_LEASED,
                    vec![key(id), lease_key(id), wanted_key(id)],
                    vec![
                        lease.token().to_owned(),
                        LOCK_LEASE_MS.to_string(),
                        now().to_string(),
                        WANTED.as_millis().to_string(),
                    ],
                )
                .await
            {
                Ok(answer) => answer,
                // A slow Redis may still run the script after this request gave up on it,
                // taking a lease nobody holds: a release queued behind it gives it back.
                Err(err) => {
                    lease.claim_failed(id);
                    return Err(redis_error(err));
                }
            };
            Ok(match answer.as_slice() {
                [taken, data, expires] if taken == "taken" => {
                    lease.taken(*id, store.clone());
                    Attempt::Taken(Record {
                        id: *id,
                        data: serde_json::from_str(data)
                            .map_err(|e| session_store::Error::Decode(e.to_string()))?,
                        expiry_date: from_unix_millis(expires.parse().unwrap_or(0)),
                    })
                }
                [busy] if busy == "busy" => {
                    lease.given_back(id);
                    Attempt::Busy
                }
                _ => {
                    lease.given_back(id);
                    Attempt::Missing
                }
            })
        })
        .await
    }

    /// Saves a leased session and gives the lease back (or keeps it for the session's next
    /// request here) in one script, only while the lease is still this request's.
    async fn save_leased(&self, record: &Record, lease: &Lease) -> session_store::Result<()> {
        let keep = lease.keeps();
        let written: i64 = self
            .client
            .eval(
                SAVE_LEASED,
                vec![
                    key(&record.id),
                    lease_key(&record.id),
                    wanted_key(&record.id),
                ],
                vec![
                    lease.token().to_owned(),
                    encode(record)?,
                    now().to_string(),
                    unix_millis(record.expiry_date).to_string(),
                    if keep { LOCK_LEASE_MS } else { 0 }.to_string(),
                ],
            )
            .await
            .map_err(redis_error)?;
        lease.saved(record, written >= 1, written == 2)
    }
}

#[async_trait]
impl SharedLease for RedisSessions {
    async fn renew(&self, id: &Id, token: &str) -> Result<bool, session_store::Error> {
        let renewed: i64 = self
            .client
            .eval(
                RENEW,
                vec![lease_key(id)],
                vec![token.to_owned(), LOCK_LEASE_MS.to_string()],
            )
            .await
            .map_err(redis_error)?;
        Ok(renewed == 1)
    }

    async fn release(&self, id: &Id, token: &str) {
        let released: Result<i64, _> = self
            .client
            .eval(RELEASE, vec![lease_key(id)], vec![token])
            .await;
        if let Err(err) = released {
            tracing::warn!(%err, "could not give a session's lease back; it lapses by itself");
        }
    }
}
