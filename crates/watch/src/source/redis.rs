//! A Redis server (or cluster), read with SCAN, GETRANGE, STRLEN and PTTL only — commands that
//! cannot change a key or a setting. Pages of keys are read in one pipeline each.

use std::time::{Duration, Instant};

use fred::{
    prelude::*,
    types::scan::{ScanResult, Scanner as _},
};
use futures::StreamExt as _;
use time::OffsetDateTime;

use super::{Progress, RawRecord, WatchError};
use crate::{MAX_KEY_BYTES, MAX_RECORD_BYTES, MAX_SESSIONS, format::Format};

/// How long connecting or one command may take.
const TIMEOUT: Duration = Duration::from_secs(3);

/// Keys per SCAN page (and per pipeline).
const PAGE: u32 = 500;

/// Keys per SCAN page of a quick pass, which reads no values: bigger pages, fewer round trips.
const ID_PAGE: u32 = 5000;

/// How long format detection looks at keys before it gives up.
const DETECT_FOR: Duration = Duration::from_secs(3);

pub(crate) struct RedisSource {
    client: Client,
    shown: String,
    format: Format,
    prefix: String,
    clustered: bool,
    /// The keyspace subscriber's task and client, while notifications are followed: ended
    /// with the source.
    subscription: Option<(tokio::task::JoinHandle<()>, Client)>,
}

impl RedisSource {
    pub(crate) async fn open(
        url: &str,
        shown: String,
        format: Option<Format>,
        prefix: Option<String>,
    ) -> Result<(Self, Format), WatchError> {
        let config = Config::from_url(url).map_err(|e| WatchError::Failed {
            store: shown.clone(),
            reason: format!("not a Redis URL fred can use ({:?})", e.kind()),
        })?;
        let clustered = config.server.is_clustered();
        let client = Builder::from_config(config)
            .with_connection_config(|c| c.connection_timeout = TIMEOUT)
            .with_performance_config(|p| p.default_command_timeout = TIMEOUT)
            .set_policy(ReconnectPolicy::new_constant(0, 500))
            .build()
            .map_err(|e| WatchError::Failed {
                store: shown.clone(),
                reason: e.details().to_string(),
            })?;
        let failed = |e: Option<Error>| {
            let reason = e
                .as_ref()
                .map_or("no answer within 3 s".to_owned(), plain_reason);
            let denied = e.as_ref().is_some_and(|e| {
                *e.kind() == ErrorKind::Auth
                    || ["WRONGPASS", "NOAUTH", "invalid password", "NOPERM"]
                        .iter()
                        .any(|w| e.details().contains(w))
            });
            if denied {
                WatchError::Denied {
                    store: shown.clone(),
                    reason: format!("{reason} (check the password in the URL)"),
                }
            } else {
                WatchError::Unreachable {
                    store: shown.clone(),
                    reason,
                }
            }
        };
        match tokio::time::timeout(TIMEOUT, client.init()).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                let _ = client.quit().await;
                return Err(failed(Some(e)));
            }
            Err(_) => {
                let _ = client.quit().await;
                return Err(failed(None));
            }
        }
        let pong: Result<String, Error> = client.ping(None).await;
        if let Err(e) = pong {
            let _ = client.quit().await;
            return Err(failed(Some(e)));
        }
        let mut source = Self {
            client,
            shown,
            format: format.unwrap_or(Format::Express),
            prefix: String::new(),
            clustered,
            subscription: None,
        };
        let format = match (format, prefix) {
            (Some(format), prefix) => {
                source.prefix = prefix.unwrap_or_else(|| format.default_prefix().to_owned());
                format
            }
            (None, prefix) => {
                let (format, prefix) = source.detect(prefix).await?;
                source.prefix = prefix;
                format
            }
        };
        source.format = format;
        Ok((source, format))
    }

    fn failed(&self, e: &Error) -> WatchError {
        WatchError::Failed {
            store: self.shown.clone(),
            reason: e.details().to_string(),
        }
    }

    /// Looks at the first keys for one of the formats' shapes, and decodes one to be sure.
    async fn detect(&self, prefix: Option<String>) -> Result<(Format, String), WatchError> {
        let deadline = Instant::now() + DETECT_FOR;
        let mut looked = 0u64;
        let mut others: Vec<String> = Vec::new();
        let pattern = prefix
            .as_deref()
            .map_or_else(|| "*".to_owned(), |p| format!("{}*", glob_escape(p)));
        let mut pages = self.scan(pattern);
        while let Some(page) = pages.next().await {
            let mut page = page.map_err(|e| self.failed(&e))?;
            let keys = page.take_results().unwrap_or_default();
            for key in keys {
                looked += 1;
                let Some(name) = key.as_str().map(str::to_owned) else {
                    continue;
                };
                let candidates: Vec<(Format, String)> = match &prefix {
                    Some(p) => [Format::Express, Format::Flask, Format::TowerSessions]
                        .into_iter()
                        .map(|f| (f, p.clone()))
                        .collect(),
                    None => Format::ALL
                        .into_iter()
                        .filter(|f| {
                            let p = f.default_prefix();
                            match f {
                                Format::TowerSessions => is_tower_id(&name),
                                Format::Django | Format::Php => false,
                                _ => name.starts_with(p),
                            }
                        })
                        .map(|f| (f, f.default_prefix().to_owned()))
                        .collect(),
                };
                if candidates.is_empty() {
                    if others.len() < 3 {
                        others.push(crate::format::shown_key(&name));
                    }
                    continue;
                }
                let value: Option<Vec<u8>> = self
                    .client
                    .getrange::<Value, _>(name.as_str(), 0, MAX_RECORD_BYTES - 1)
                    .await
                    .ok()
                    .and_then(|v| v.as_bytes().map(<[u8]>::to_vec));
                if let Some(value) = value {
                    for (format, prefix) in candidates {
                        if format.decode(&value).data.is_ok() {
                            page.cancel();
                            return Ok((format, prefix));
                        }
                    }
                }
                if others.len() < 3 {
                    others.push(crate::format::shown_key(&name));
                }
            }
            if Instant::now() >= deadline {
                page.cancel();
                break;
            }
            page.next();
        }
        let found = if looked == 0 {
            return Err(WatchError::Empty {
                store: self.shown.clone(),
            });
        } else {
            format!(
                "looked at {looked} keys ({}…), none a session of express-session (sess:), Flask-Session (session:) or tower-sessions",
                others.join(", ")
            )
        };
        Err(WatchError::UnknownFormat {
            store: self.shown.clone(),
            found,
        })
    }

    fn scan(
        &self,
        pattern: String,
    ) -> std::pin::Pin<Box<dyn futures::Stream<Item = Result<ScanResult, Error>> + Send>> {
        self.scan_by(pattern, PAGE)
    }

    /// SCAN with `count` keys a page.
    fn scan_by(
        &self,
        pattern: String,
        count: u32,
    ) -> std::pin::Pin<Box<dyn futures::Stream<Item = Result<ScanResult, Error>> + Send>> {
        if self.clustered {
            Box::pin(self.client.scan_cluster(pattern, Some(count), None))
        } else {
            Box::pin(self.client.scan(pattern, Some(count), None))
        }
    }

    fn pattern(&self) -> String {
        if self.format == Format::TowerSessions && self.prefix.is_empty() {
            // tower-sessions' Redis store keys a session by its id alone: 22 characters.
            "?".repeat(22)
        } else {
            format!("{}*", glob_escape(&self.prefix))
        }
    }

    pub(crate) async fn list(
        &mut self,
        deadline: Instant,
        found: &mut (dyn FnMut(RawRecord) + Send),
    ) -> Result<Progress, WatchError> {
        let total: Option<u64> = if self.clustered {
            None
        } else {
            self.client.dbsize().await.ok()
        };
        let mut progress = Progress {
            total,
            ..Progress::default()
        };
        let mut sessions = 0usize;
        let mut pages = self.scan(self.pattern());
        while let Some(page) = pages.next().await {
            let mut page = page.map_err(|e| self.failed(&e))?;
            let keys: Vec<String> = page
                .take_results()
                .unwrap_or_default()
                .into_iter()
                .filter_map(|k| k.as_str().map(str::to_owned))
                .filter(|k| k.len() <= self.prefix.len() + MAX_KEY_BYTES)
                .collect();
            progress.looked_at += keys.len() as u64;
            for (key, record) in self.fetch(&keys).await? {
                if let Some(record) = record {
                    sessions += 1;
                    found(record);
                }
                let _ = key;
            }
            if Instant::now() >= deadline || sessions >= MAX_SESSIONS {
                progress.cut = true;
                page.cancel();
                break;
            }
            page.next();
        }
        Ok(progress)
    }

    pub(crate) async fn read(
        &mut self,
        ids: &[String],
    ) -> Result<Vec<(String, Option<RawRecord>)>, WatchError> {
        let keys: Vec<String> = ids
            .iter()
            .map(|id| format!("{}{id}", self.prefix))
            .collect();
        self.fetch(&keys).await
    }

    /// GETRANGE, STRLEN and PTTL of each key, in one pipeline; keys that are gone, or not
    /// strings, come back as `None`.
    async fn fetch(&self, keys: &[String]) -> Result<Vec<(String, Option<RawRecord>)>, WatchError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let pipe = self.client.pipeline();
        for key in keys {
            let queued: Result<(), Error> = async {
                let _: () = pipe.getrange(key.as_str(), 0, MAX_RECORD_BYTES - 1).await?;
                let _: () = pipe.strlen(key.as_str()).await?;
                let _: () = pipe.pttl(key.as_str()).await?;
                Ok(())
            }
            .await;
            queued.map_err(|e| self.failed(&e))?;
        }
        let answers: Vec<Result<Value, Error>> = pipe.try_all().await;
        if let Some(Err(e)) = answers.first()
            && answers.iter().all(Result::is_err)
        {
            return Err(self.failed(e));
        }
        let now = OffsetDateTime::now_utc();
        let mut out = Vec::with_capacity(keys.len());
        for (key, answer) in keys.iter().zip(answers.chunks(3)) {
            let id = key.strip_prefix(&self.prefix).unwrap_or(key).to_owned();
            let [Ok(bytes), Ok(len), Ok(ttl)] = answer else {
                // A key of another type (WRONGTYPE), or one that failed alone.
                out.push((id, None));
                continue;
            };
            let ttl = ttl.as_i64().unwrap_or(-2);
            if ttl == -2 {
                out.push((id, None));
                continue;
            }
            let bytes = bytes.as_bytes().map(<[u8]>::to_vec).unwrap_or_default();
            let full_len = len.as_i64().map_or(bytes.len(), |n| n.max(0) as usize);
            out.push((
                id.clone(),
                Some(RawRecord {
                    key: id,
                    bytes,
                    full_len,
                    // A TTL past the year 9999 is "never".
                    expires: (ttl >= 0)
                        .then(|| now.checked_add(time::Duration::milliseconds(ttl)))
                        .flatten(),
                    updated: None,
                }),
            ));
        }
        Ok(out)
    }
}

impl RedisSource {
    /// Every session key's id (no values): the quick pass between listings that finds new
    /// and removed sessions. `None` when the deadline cut it short.
    pub(crate) async fn ids(&self, deadline: Instant) -> Result<Option<Vec<String>>, WatchError> {
        let mut ids = Vec::new();
        let mut pages = self.scan_by(self.pattern(), ID_PAGE);
        while let Some(page) = pages.next().await {
            let mut page = page.map_err(|e| self.failed(&e))?;
            ids.extend(
                page.take_results()
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|k| k.as_bytes().len() <= self.prefix.len() + MAX_KEY_BYTES)
                    .filter_map(|k| {
                        k.as_str()
                            .map(|k| k.strip_prefix(&self.prefix).unwrap_or(k).to_owned())
                    }),
            );
            if Instant::now() >= deadline || ids.len() >= MAX_SESSIONS {
                page.cancel();
                return Ok(None);
            }
            page.next();
        }
        Ok(Some(ids))
    }

    /// Follows Redis's keyspace notifications when the server already sends them
    /// (`notify-keyspace-events` set by its owner: the lab never changes it), calling `changed`
    /// with the id of every session key written, expired or deleted. Returns what it
    /// subscribed to, or `None` when notifications are off (or not allowed).
    pub(crate) async fn follow_notifications(
        &mut self,
        changed: impl Fn(String) + Send + 'static,
    ) -> Option<String> {
        let setting: std::collections::HashMap<String, String> = self
            .client
            .config_get("notify-keyspace-events")
            .await
            .ok()?;
        let flags = setting.get("notify-keyspace-events")?.clone();
        let events = flags.contains('A')
            || flags.contains('g')
            || flags.contains('$')
            || flags.contains('x');
        if !events || self.clustered {
            return None;
        }
        let db = self.client.client_config().database.unwrap_or(0);
        let pattern = if flags.contains('K') {
            format!("__keyspace@{db}__:{}*", glob_escape(&self.prefix))
        } else if flags.contains('E') {
            format!("__keyevent@{db}__:*")
        } else {
            return None;
        };
        let subscriber = self.client.clone_new();
        // fred parses keyspace and keyevent messages into events of their own (they never
        // reach `message_rx`).
        let mut events = subscriber.keyspace_event_rx();
        let subscribed = async {
            tokio::time::timeout(TIMEOUT, subscriber.init())
                .await
                .ok()?
                .ok()?;
            subscriber.psubscribe(pattern.clone()).await.ok()
        }
        .await;
        if subscribed.is_none() {
            let _ = subscriber.quit().await;
            return None;
        }
        let kept = subscriber.clone();
        let prefix = self.prefix.clone();
        let tower = self.format == Format::TowerSessions && prefix.is_empty();
        let task = tokio::spawn(async move {
            // The subscriber lives as long as this task (which ends with the source).
            let _subscriber = subscriber;
            loop {
                let event = match events.recv().await {
                    Ok(event) => event,
                    // Too many at once: the next quick pass and listing catch up.
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                };
                if event.db != db {
                    continue;
                }
                let Some(key) = event.key.as_str() else {
                    continue;
                };
                let Some(id) = key.strip_prefix(&prefix) else {
                    continue;
                };
                if tower && !is_tower_id(id) {
                    continue;
                }
                changed(id.to_owned());
            }
        });
        self.subscription = Some((task, kept));
        Some(pattern)
    }
}

impl Drop for RedisSource {
    fn drop(&mut self) {
        let client = self.client.clone();
        let subscription = self.subscription.take().map(|(task, subscriber)| {
            task.abort();
            subscriber
        });
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move {
                let _ = client.quit().await;
                if let Some(subscriber) = subscription {
                    let _ = subscriber.quit().await;
                }
            });
        }
    }
}

/// What fred said, in words (its IO errors print as a debug struct).
fn plain_reason(e: &Error) -> String {
    let details = e.details();
    for (marker, words) in [
        (
            "ConnectionRefused",
            "connection refused (is Redis running there?)",
        ),
        ("TimedOut", "the connection timed out"),
        ("ConnectionReset", "the connection was reset"),
        ("NotFound", "no such host"),
    ] {
        if details.contains(marker) {
            return words.to_owned();
        }
    }
    details.to_string()
}

/// tower-sessions' ids: 22 characters of URL-safe base64.
fn is_tower_id(key: &str) -> bool {
    key.len() == 22
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A prefix as a SCAN pattern that matches it literally.
fn glob_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_match_literally() {
        assert_eq!(glob_escape("sess:"), "sess:");
        assert_eq!(glob_escape("a*b?[c]"), "a\\*b\\?\\[c\\]");
    }
}
