//! The session layer: numbers every request, opens its session cookie, holds the session's
//! lock (when one request at a time per session is on), hands the handler a tower-sessions
//! [`Session`], saves it and sets the cookie afterwards, and records what the request did for
//! the inspector (when anyone is looking). One hand-written service, so a request pays for one
//! boxed future, one cookie parse and — for a returning browser — one signature check and no
//! signing.
//!
//! It does what tower-sessions' `SessionManagerLayer` does, with the same `Session`, stores
//! and cookie bytes (see [`super::cookie`]), and adds the lock and the inspector around it.

use parking_lot::{Mutex, RwLock};
use std::{
    convert::Infallible,
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use axum::{
    Router,
    extract::Request,
    http::{HeaderName, HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Response},
};
use tower::{Layer, Service};
use tower_sessions::{Expiry, Session, SessionStore};

use crate::clock::LabClock;

use super::{
    config::{SecureRequests, ServerConfig},
    cookie::{Opened, Outcome, SessionCookie},
    in_cookie::OneRecord,
    inspect::{InCookie, Inspector, PATH_MAX, Served, StoreStory, USER_AGENT_MAX, cut_text},
    locks::{Held, LEASE_LOST, Lease, SessionLocks},
    session::{STORE_FULL, TOO_LARGE},
    store::REQUEST_CHANGES,
};

/// The header that carries the inspector's request number back to the client.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// [`REQUEST_ID_HEADER`] as a header name, made once.
static REQUEST_ID: HeaderName = HeaderName::from_static(REQUEST_ID_HEADER);

/// Adds [`SessionService`] around a service.
pub struct SessionLayer<St> {
    state: Arc<LayerState<St>>,
}

impl<St> Clone for SessionLayer<St> {
    fn clone(&self) -> Self {
        Self {
            state: self.state.clone(),
        }
    }
}

/// What every request of one layer shares: one reference count per request for all of it.
struct LayerState<St> {
    store: Arc<St>,
    cookie: SessionCookie,
    expiry: Expiry,
    clock: LabClock,
    always_save: bool,
    save_uninitialized: bool,
    inspector: Inspector,
    locks: Option<SessionLocks>,
    /// Whether each request leases its session in the store (a store other processes share).
    leases: bool,
    /// A `Secure` cookie is set only on requests this says are secure (express-session).
    secure_only: Option<SecureRequests>,
    /// Cookieless: the id comes in the `sid` query parameter and goes out in the page's links
    /// and redirects, never in a cookie.
    id_in_url: bool,
}

impl<St: SessionStore> SessionLayer<St> {
    /// Sessions in `store`, cookies as `config` says, requests numbered and traced for
    /// `inspector`; each session's requests one at a time when `locks` is given, also across
    /// processes when `shared` (the store leases sessions: see [`Lease`]).
    pub fn new(
        store: St,
        config: &ServerConfig,
        inspector: Inspector,
        locks: Option<SessionLocks>,
        shared: bool,
    ) -> Self {
        Self {
            state: Arc::new(LayerState {
                store: Arc::new(store),
                cookie: SessionCookie::new(config),
                expiry: config.settings.expiry.to_expiry(),
                clock: config.clock.clone(),
                always_save: config.settings.always_save,
                save_uninitialized: config.settings.save_uninitialized,
                inspector,
                leases: shared && locks.is_some(),
                locks,
                secure_only: config
                    .settings
                    .secure
                    .then_some(config.settings.secure_requests),
                id_in_url: config.settings.id_in_url,
            }),
        }
    }
}

impl<S, St> Layer<S> for SessionLayer<St> {
    type Service = SessionService<S, St>;

    fn layer(&self, inner: S) -> Self::Service {
        SessionService {
            inner,
            state: self.state.clone(),
        }
    }
}

/// See [`SessionLayer`].
pub struct SessionService<S, St> {
    inner: S,
    state: Arc<LayerState<St>>,
}

impl<S: Clone, St> Clone for SessionService<S, St> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            state: self.state.clone(),
        }
    }
}

type BoxFuture = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

impl<S, St> Service<Request> for SessionService<S, St>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send,
    St: SessionStore,
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
        let state = self.state.clone();
        Box::pin(async move { Ok(state.handle(inner, request).await) })
    }
}

impl<St: SessionStore> LayerState<St> {
    /// The expiry a request's session gets: the policy's, judged by the lab's clock. On the
    /// machine's clock that is the policy itself (what tower-sessions does); with the clock
    /// moved ahead, a relative expiry becomes the date it means on the lab's clock, so the
    /// store's record expires when the lab says (tower-sessions would count from the machine's
    /// clock).
    fn session_expiry(&self) -> Expiry {
        let ahead = self.clock.ahead();
        if ahead.is_zero() {
            return self.expiry;
        }
        match self.expiry {
            Expiry::OnInactivity(idle) => Expiry::AtDateTime(self.clock.now().saturating_add(idle)),
            // tower-sessions keeps a browser-session session for two weeks of inactivity.
            Expiry::OnSessionEnd => {
                Expiry::AtDateTime(self.clock.now().saturating_add(time::Duration::weeks(2)))
            }
            fixed @ Expiry::AtDateTime(_) => fixed,
        }
    }

    /// One request, start to end.
    async fn handle<S>(&self, inner: S, request: Request) -> Response
    where
        S: Service<Request, Response = Response, Error = Infallible>,
    {
        let number = self.inspector.next_request_number();
        let mut opened = self.cookie.open_request(request.headers());
        if self.id_in_url
            && matches!(opened, Opened::Absent)
            && let Some(sid) = url_sid(request.uri())
        {
            opened = self.cookie.open(&sid);
        }
        let id = opened.id();
        let mut held = match (&self.locks, id) {
            (Some(locks), Some(id)) => Some(locks.hold(locks.key(&id)).await),
            _ => None,
        };
        // The common path's future stays small (it is moved into its box at every request): the
        // lease path and the traced path are boxed futures of their own.
        let response = if self.leases && id.is_some() {
            // A shared lease the session's previous request here kept for this one (two
            // sessions sharing a lock key take turns, and do not share leases).
            let kept = held
                .as_mut()
                .and_then(Held::take_kept)
                .filter(|kept| Some(kept.id()) == id);
            let queue = held.as_ref().map(Held::queue);
            let responding = self.respond(inner, request, opened, number);
            let (response, kept) = Box::pin(Lease::scope_in_turn(kept, queue, responding)).await;
            match (kept, held.as_mut()) {
                (Some(kept), Some(held)) if held.others_waiting() => held.hand_over(kept),
                (Some(kept), _) => kept.release().await,
                (None, _) => {}
            }
            response
        } else {
            self.respond(inner, request, opened, number).await
        };
        if let (Some(locks), Some(held)) = (&self.locks, held) {
            locks.release(held);
        }
        response
    }

    /// The response to one request, recorded for the inspector when it records.
    async fn respond<S>(&self, inner: S, request: Request, opened: Opened, number: u64) -> Response
    where
        S: Service<Request, Response = Response, Error = Infallible>,
    {
        if self.inspector.is_tracing() {
            let mut response = Box::pin(self.traced(inner, request, opened, number)).await;
            // The lab finds the record of its own requests by this number.
            response
                .headers_mut()
                .insert(REQUEST_ID.clone(), HeaderValue::from(number));
            response
        } else {
            // Nobody reads the records (`serve --quiet`, benchmarks): just serve.
            self.serve(inner, request, opened).await
        }
    }

    /// Runs the handler with the session, then saves it and sets or clears the cookie as
    /// tower-sessions does: a genuine cookie of an empty session is cleared; a changed (or
    /// always-saved) session that is not empty is saved and its cookie set, unless the response
    /// is a server error.
    async fn serve<S>(&self, mut inner: S, mut request: Request, opened: Opened) -> Response
    where
        S: Service<Request, Response = Response, Error = Infallible>,
    {
        let expiry = self.session_expiry();
        // express-session sets no Secure cookie on a request it does not judge secure.
        let cookie_allowed = self.secure_only.is_none_or(|rule| {
            let tls = request
                .extensions()
                .get::<super::tls::Transport>()
                .is_some_and(|t| t.tls);
            let proto = request
                .headers()
                .get("x-forwarded-proto")
                .and_then(|v| v.to_str().ok());
            rule.secure(tls, proto)
        });
        if self.cookie.keeps_data() {
            return Box::pin(self.serve_in_cookie(inner, request, opened, expiry, cookie_allowed))
                .await;
        }
        let session = Session::new(opened.id(), self.store.clone(), Some(expiry));
        request.extensions_mut().insert(session.clone());
        let mut response = match inner.call(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
        let modified = session.is_modified();
        let empty = session.is_empty().await;
        // After the load above, a session the store does not have has no id any more.
        let stored = session.id().is_some();
        // express-session's saveUninitialized: a new visitor's session is stored even unchanged,
        // and an empty stored session keeps its cookie.
        let keep_uninitialized = self.save_uninitialized && (stored || opened.id().is_none());
        let outcome = if opened.is_genuine() && empty && !(keep_uninitialized && stored) {
            Outcome::Remove
        } else if (modified
            || self.always_save
            || opened.needs_resealing()
            || (keep_uninitialized && !stored))
            && (!empty || keep_uninitialized)
            && !response.status().is_server_error()
        {
            if let Err(err) = session.save().await {
                // tower-sessions answers an empty 500 here; we say what happened.
                return save_refused_page(&err.to_string());
            }
            let Some(id) = session.id() else {
                return (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the saved session has no id",
                )
                    .into_response();
            };
            // The cookie says what the policy says (a browser-session cookie stays one, an
            // inactivity timeout is its Max-Age), unless the handler set another expiry.
            let set = session.expiry();
            Outcome::Set(
                id,
                if set == Some(expiry) {
                    Some(self.expiry)
                } else {
                    set
                },
            )
        } else {
            Outcome::Keep
        };
        if self.id_in_url {
            // Cookieless: the id the session goes on with is written into the links instead.
            let sid = match (&outcome, &opened) {
                (Outcome::Remove, _) => None,
                (Outcome::Keep, Opened::Session { sealed, .. }) => Some(sealed.clone()),
                _ => self
                    .cookie
                    .set_cookie(outcome, &opened)
                    .and_then(|v| cookie_value(v.to_str().ok()?)),
            };
            return match sid {
                Some(sid) => with_sid_in_links(response, &sid).await,
                None => response,
            };
        }
        if cookie_allowed && let Some(value) = self.cookie.set_cookie(outcome, &opened) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
        response
    }

    /// [`Self::serve`] for a session kept in the cookie: the handler's session holds the
    /// cookie's data in a store of this request alone; a changed session's data is sealed into
    /// the response's cookie, an emptied one (logout) clears it. The server keeps nothing.
    async fn serve_in_cookie<S>(
        &self,
        mut inner: S,
        mut request: Request,
        opened: Opened,
        expiry: Expiry,
        cookie_allowed: bool,
    ) -> Response
    where
        S: Service<Request, Response = Response, Error = Infallible>,
    {
        let resealing = opened.needs_resealing();
        let genuine = opened.is_genuine();
        let data = match opened {
            Opened::Data { data, .. } => Some(data),
            _ => None,
        };
        let until = self.clock.now().saturating_add(time::Duration::weeks(2));
        let (store, id) = OneRecord::holding(data, until);
        let store = Arc::new(store);
        let session = Session::new(id, store.clone(), Some(expiry));
        request.extensions_mut().insert(session.clone());
        let mut response = match inner.call(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
        let empty = session.is_empty().await;
        let outcome = if genuine && empty {
            Outcome::Remove
        } else if (session.is_modified() || self.always_save || resealing)
            && !empty
            && !response.status().is_server_error()
        {
            if let Err(err) = session.save().await {
                return save_refused_page(&err.to_string());
            }
            match store.take() {
                Some(data) => Outcome::SetData(data, Some(self.expiry)),
                None => Outcome::Remove,
            }
        } else {
            Outcome::Keep
        };
        let told = match outcome {
            Outcome::SetData(..) if cookie_allowed => InCookie::Sealed,
            Outcome::Remove if cookie_allowed => InCookie::Cleared,
            _ => InCookie::Kept,
        };
        if cookie_allowed && let Some(value) = self.cookie.set_cookie(outcome, &Opened::Absent) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
        // For the record `traced` files (the store's changes cannot tell it).
        response.extensions_mut().insert(told);
        response
    }

    /// [`Self::serve`] while recording its store changes, then files the record.
    async fn traced<S>(&self, inner: S, request: Request, opened: Opened, number: u64) -> Response
    where
        S: Service<Request, Response = Response, Error = Infallible>,
    {
        let at = self.clock.now();
        let method = request.method().to_string();
        // Bounded: a 64 KiB URL or a huge header costs the record a few hundred bytes.
        let path = cut_text(
            request
                .uri()
                .path_and_query()
                .map_or_else(|| request.uri().path(), |p| p.as_str()),
            PATH_MAX,
        );
        let user_agent = request.headers().get(header::USER_AGENT).map(|v| {
            // Only the head is decoded; a longer header is still cut (and marked) below.
            let bytes = v.as_bytes();
            let head = &bytes[..bytes.len().min(USER_AGENT_MAX + 4)];
            cut_text(&String::from_utf8_lossy(head), USER_AGENT_MAX)
        });
        let cookie = opened.verdict();
        let changes = Arc::new(Mutex::new(Vec::new()));
        let response = REQUEST_CHANGES
            .scope(changes.clone(), self.serve(inner, request, opened))
            .await;
        let changes = std::mem::take(&mut *changes.lock());
        self.inspector.record(Served {
            number,
            at,
            method,
            path,
            user_agent,
            cookie,
            status: response.status().as_u16(),
            story: StoreStory::from_changes(changes),
            in_cookie: response.extensions().get::<InCookie>().copied(),
        });
        response
    }
}

/// The page for a save the store did not make: too much data (413), a full store (503), or
/// a store that failed (503).
fn save_refused_page(err: &str) -> Response {
    let shown = crate::words::html_escape(err);
    if err.contains(TOO_LARGE) {
        return (
            StatusCode::PAYLOAD_TOO_LARGE,
            Html(format!(
                "Not saved: {shown}. Nothing was stored; the session is as it was before this \
                 request."
            )),
        )
            .into_response();
    }
    if err.contains(LEASE_LOST) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Html(format!(
                "Not saved: {shown}. Nothing was overwritten; try again."
            )),
        )
            .into_response();
    }
    if err.contains(STORE_FULL) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Html(format!(
                "No new session: the {shown}. Visitors with a session are served as usual; new \
                 ones can start when sessions expire."
            )),
        )
            .into_response();
    }
    store_unavailable_page(err)
}

/// A 503 page saying the session store failed, and how (the error escaped: a store's message
/// can carry text a client wrote, such as a key).
pub(super) fn store_unavailable_page(err: &str) -> Response {
    tracing::error!(%err, "session store failed");
    let shown = crate::words::html_escape(err);
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Html(format!(
            "Session store unavailable: {shown}. Your session is safe; try again shortly."
        )),
    )
        .into_response()
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
        let mut router = self.0.read().clone();
        router.call(request)
    }
}

/// The session id a cookieless request carries in its `sid` query parameter.
fn url_sid(uri: &axum::http::Uri) -> Option<String> {
    url::form_urlencoded::parse(uri.query()?.as_bytes())
        .find(|(name, _)| name == "sid")
        .map(|(_, value)| value.into_owned())
}

/// The value of a `Set-Cookie` header (`name=value; …`).
fn cookie_value(set_cookie: &str) -> Option<String> {
    let pair = set_cookie.split(';').next()?;
    pair.split_once('=').map(|(_, value)| value.to_owned())
}

/// The largest page whose links are rewritten; a larger one goes out as it is.
const MAX_REWRITTEN_BYTES: usize = 1024 * 1024;

/// `response` with `sid` added to its redirect (`Location`) and to the `href` and `action`
/// addresses of its HTML that stay on the app (those starting with `/`), as PHP's
/// `use_trans_sid` rewrites a page.
async fn with_sid_in_links(response: Response, sid: &str) -> Response {
    let encoded: String = url::form_urlencoded::byte_serialize(sid.as_bytes()).collect();
    let (mut parts, body) = response.into_parts();
    if let Some(location) = parts
        .headers
        .get(header::LOCATION)
        .and_then(|l| l.to_str().ok())
        && location.starts_with('/')
        && let Ok(value) = HeaderValue::from_str(&with_sid(location, &encoded))
    {
        parts.headers.insert(header::LOCATION, value);
    }
    let html = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|c| c.to_str().ok())
        .is_some_and(|c| c.starts_with("text/html"));
    if !html {
        return Response::from_parts(parts, body);
    }
    let Ok(bytes) = axum::body::to_bytes(body, MAX_REWRITTEN_BYTES).await else {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            "the page was too large to rewrite",
        )
            .into_response();
    };
    let page = String::from_utf8_lossy(&bytes);
    let mut out = String::with_capacity(page.len() + 64);
    let mut rest = page.as_ref();
    while let Some(at) = ["href=\"/", "action=\"/"]
        .iter()
        .filter_map(|attr| rest.find(attr).map(|i| (i, attr.len() - 1)))
        .min()
    {
        let (start, skip) = at;
        let address_start = start + skip;
        out.push_str(&rest[..address_start]);
        let after = &rest[address_start..];
        let end = after.find('"').unwrap_or(after.len());
        out.push_str(&with_sid(&after[..end], &encoded));
        rest = &after[end..];
    }
    out.push_str(rest);
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(out))
}

/// `address` with `sid=` (already encoded) added to its query.
fn with_sid(address: &str, sid: &str) -> String {
    let (path, fragment) = address
        .split_once('#')
        .map_or((address, None), |(p, f)| (p, Some(f)));
    let joiner = if path.contains('?') { '&' } else { '?' };
    let mut out = format!("{path}{joiner}sid={sid}");
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(fragment);
    }
    out
}

#[cfg(test)]
mod tests {
    use axum::{body::Body, routing::get};
    use tower::ServiceExt as _;

    use super::*;
    use crate::{
        InspectableStore, MAX_SESSION_BYTES, MemoryStore, ServerConfig, config::Secret,
        store::ListSessions as _,
    };

    /// A handler that puts more than the limit into a session gets a 413 page, and the store
    /// keeps nothing.
    #[tokio::test]
    async fn too_much_session_data_is_refused() {
        let store = InspectableStore::new(MemoryStore::default());
        let config = ServerConfig::with_secret(Secret::from_phrase("layer tests"));
        let inspector = Inspector::new(Arc::new(store.clone()), config.clone());
        let app = Router::new()
            .route(
                "/",
                get(|session: Session| async move {
                    let big = "x".repeat(MAX_SESSION_BYTES + 1);
                    session.insert("big", big).await.unwrap();
                    "stored?"
                }),
            )
            .layer(SessionLayer::new(
                store.clone(),
                &config,
                inspector,
                None,
                false,
            ));
        let response = app
            .oneshot(Request::builder().uri("/").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert!(response.headers().get(header::SET_COOKIE).is_none());
        assert_eq!(store.inner().count().await.unwrap(), 0);
    }
}

#[cfg(test)]
mod page_tests {
    use super::*;

    /// A store error is shown escaped: it cannot put markup or script into the page.
    #[tokio::test]
    async fn store_errors_are_escaped_in_the_page() {
        let page = store_unavailable_page("<script>alert('x')</script> & more");
        assert_eq!(page.status(), StatusCode::SERVICE_UNAVAILABLE);
        let body = axum::body::to_bytes(page.into_body(), 64 * 1024)
            .await
            .unwrap();
        let body = String::from_utf8(body.to_vec()).unwrap();
        assert!(!body.contains("<script>"), "{body}");
        assert!(
            body.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; more"),
            "{body}"
        );
    }

    /// A save refused for a lost lease answers 503 and says that nothing was overwritten.
    #[tokio::test]
    async fn a_lost_lease_answers_503_and_says_so() {
        let page = save_refused_page(&format!("Session store error: {LEASE_LOST} (…)"));
        assert_eq!(page.status(), StatusCode::SERVICE_UNAVAILABLE);
        let body = axum::body::to_bytes(page.into_body(), 64 * 1024)
            .await
            .unwrap();
        let body = String::from_utf8(body.to_vec()).unwrap();
        assert!(body.contains("Nothing was overwritten"), "{body}");
    }
}
