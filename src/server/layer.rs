//! The request layer around the session layer: numbers every request, holds the session's
//! lock (when one request at a time per session is on), and records what the request did for
//! the inspector (when anyone is looking). One hand-written service, so a request pays for one
//! boxed future here, not one per concern.

use std::{
    convert::Infallible,
    future::Future,
    pin::Pin,
    sync::{Arc, Mutex, RwLock},
    task::{Context, Poll},
};

use axum::{
    Router,
    extract::Request,
    http::{HeaderValue, header},
    response::Response,
};
use time::OffsetDateTime;
use tower::{Layer, Service};

use super::{
    inspect::{CookieVerdict, Inspector, Served, StoreStory},
    locks::{SessionLocks, SharedLock, session_cookie_value, shared_name},
    store::REQUEST_CHANGES,
};

/// The header that carries the inspector's request number back to the client.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Adds [`RequestService`] around a service.
#[derive(Clone)]
pub struct RequestLayer {
    inspector: Inspector,
    locks: Option<SessionLocks>,
    shared: Option<Arc<dyn SharedLock>>,
}

impl RequestLayer {
    /// Numbers and traces requests for `inspector`; serialises each session's requests when
    /// `locks` is given.
    pub fn new(inspector: Inspector, locks: Option<SessionLocks>) -> Self {
        Self {
            inspector,
            locks,
            shared: None,
        }
    }

    /// Also takes a lock other processes honour (when the store is shared across processes).
    pub fn with_shared(mut self, shared: Option<Arc<dyn SharedLock>>) -> Self {
        self.shared = shared;
        self
    }
}

impl<S> Layer<S> for RequestLayer {
    type Service = RequestService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequestService {
            inner,
            inspector: self.inspector.clone(),
            locks: self.locks.clone(),
            shared: self.shared.clone(),
        }
    }
}

/// See [`RequestLayer`].
#[derive(Clone)]
pub struct RequestService<S> {
    inner: S,
    inspector: Inspector,
    locks: Option<SessionLocks>,
    shared: Option<Arc<dyn SharedLock>>,
}

type BoxFuture = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

impl<S> Service<Request> for RequestService<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        // Use the service that was made ready, leave a fresh clone in its place.
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        let inspector = self.inspector.clone();
        let locks = self.locks.clone();
        let shared = self.shared.clone();
        Box::pin(async move {
            let number = inspector.next_request_number();
            let (held, shared_held) = match &locks {
                Some(locks) => {
                    let config = inspector.config();
                    let cookie = session_cookie_value(&request, &config.cookie_name);
                    let held = match cookie {
                        Some(value) => Some(locks.hold(locks.key(value)).await),
                        None => None,
                    };
                    let shared_held = match (&shared, cookie) {
                        (Some(shared), Some(value)) => {
                            let name = shared_name(value);
                            match shared.acquire(&name).await {
                                Ok(token) => Some((name, token)),
                                Err(err) => {
                                    if let Some(held) = held {
                                        locks.release(held);
                                    }
                                    return Ok(super::routes::store_unavailable_page(&err));
                                }
                            }
                        }
                        _ => None,
                    };
                    (held, shared_held)
                }
                None => (None, None),
            };
            let response = if inspector.is_tracing() {
                let mut response = traced(inner, request, &inspector, number).await;
                // The lab finds the record of its own requests by this number.
                response
                    .headers_mut()
                    .insert(REQUEST_ID_HEADER, HeaderValue::from(number));
                response
            } else {
                // Nobody reads the records (`serve --quiet`, benchmarks): just serve.
                let mut inner = inner;
                inner.call(request).await?
            };
            if let (Some(shared), Some((name, token))) = (&shared, shared_held) {
                shared.release(&name, &token).await;
            }
            if let (Some(locks), Some(held)) = (&locks, held) {
                locks.release(held);
            }
            Ok(response)
        })
    }
}

/// Serves the request while recording its store changes, then files the record.
async fn traced<S>(mut inner: S, request: Request, inspector: &Inspector, number: u64) -> Response
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    let at = OffsetDateTime::now_utc();
    let method = request.method().to_string();
    let path = request.uri().path_and_query().map_or_else(
        || request.uri().path().to_owned(),
        |p| p.as_str().to_owned(),
    );
    let user_agent = request
        .headers()
        .get(header::USER_AGENT)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let cookie = verdict(inspector, &request);
    let changes = Arc::new(Mutex::new(Vec::new()));
    let response = match REQUEST_CHANGES
        .scope(changes.clone(), inner.call(request))
        .await
    {
        Ok(response) => response,
        Err(never) => match never {},
    };
    let changes = std::mem::take(&mut *changes.lock().unwrap_or_else(|e| e.into_inner()));
    inspector.record(Served {
        number,
        at,
        method,
        path,
        user_agent,
        cookie,
        status: response.status().as_u16(),
        story: StoreStory::from_changes(&changes),
    });
    response
}

/// What the session layer will make of the request's session cookie.
fn verdict(inspector: &Inspector, request: &Request) -> CookieVerdict {
    let config = inspector.config();
    if let Some(value) = session_cookie_value(request, &config.cookie_name) {
        return inspector.verify(value);
    }
    let unreadable = request
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .any(|v| std::str::from_utf8(v.as_bytes()).is_err());
    if unreadable {
        CookieVerdict::Rejected {
            reason: "the Cookie header is not valid UTF-8".to_owned(),
        }
    } else {
        CookieVerdict::Absent
    }
}

/// Serves whichever router `current` holds when each request arrives, so settings can change
/// without closing the listener.
#[derive(Clone)]
pub struct CurrentRouter(pub Arc<RwLock<Router>>);

impl Service<Request> for CurrentRouter {
    type Response = Response;
    type Error = Infallible;
    type Future = <Router as Service<Request>>::Future;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // A Router is always ready.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let mut router = self.0.read().unwrap_or_else(|e| e.into_inner()).clone();
        router.call(request)
    }
}
