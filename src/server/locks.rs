//! One request at a time per session: a per-session async lock held around load, handler and
//! save, so concurrent requests of one browser cannot overwrite each other's changes (the lost
//! update that express-session and plain tower-sessions both suffer). Requests of different
//! sessions never wait on each other.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use axum::{
    extract::{Request, State},
    http::header,
    middleware::Next,
    response::Response,
};

use super::inspect::Inspector;

/// The locks of the sessions that have a request in flight.
#[derive(Clone, Default)]
pub struct SessionLocks {
    held: Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
}

impl SessionLocks {
    /// How many sessions have a request in flight (or waiting).
    pub fn in_use(&self) -> usize {
        self.map().len()
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<tokio::sync::Mutex<()>>>> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The lock for `key`, made if no request of that session is in flight.
    fn acquire(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        self.map().entry(key.to_owned()).or_default().clone()
    }

    /// Forgets the lock of `key` when no other request holds or awaits it.
    fn release(&self, key: &str, lock: Arc<tokio::sync::Mutex<()>>) {
        let mut map = self.map();
        // Clones are only taken under the map's mutex, so two references (the map's and ours)
        // mean nobody else is waiting.
        if Arc::strong_count(&lock) == 2 {
            map.remove(key);
        }
    }
}

/// Middleware: runs the rest of the stack while holding the lock of the request's session.
/// Keyed by the raw cookie value, so a forged value only ever contends with itself.
pub async fn serialize_per_session(
    State((locks, inspector)): State<(SessionLocks, Inspector)>,
    request: Request,
    next: Next,
) -> Response {
    let key = session_cookie_value(&request, &inspector.config().cookie_name);
    let Some(key) = key else {
        // No session yet: this request creates its own, nobody to race with.
        return next.run(request).await;
    };
    let lock = locks.acquire(&key);
    let response = {
        let _guard = lock.lock().await;
        next.run(request).await
    };
    locks.release(&key, lock);
    response
}

/// The value of the cookie `name` in the request's `Cookie` headers, if any.
pub(super) fn session_cookie_value(request: &Request, name: &str) -> Option<String> {
    request
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| std::str::from_utf8(v.as_bytes()).ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| key.trim() == name)
        .map(|(_, value)| value.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A lock is forgotten once its last request is done, so the map does not grow.
    #[tokio::test]
    async fn locks_are_released() {
        let locks = SessionLocks::default();
        let first = locks.acquire("a");
        let second = locks.acquire("a");
        assert_eq!(locks.in_use(), 1);
        locks.release("a", first);
        assert_eq!(locks.in_use(), 1, "the second request still holds it");
        locks.release("a", second);
        assert_eq!(locks.in_use(), 0);
    }
}
