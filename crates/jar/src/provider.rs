//! The jar as reqwest's cookie provider (feature `reqwest`): [`CookieJar`] implements
//! [`reqwest::cookie::CookieStore`], so any reqwest client keeps cookies as Chrome does with
//! `ClientBuilder::cookie_provider(Arc::new(CookieJar::new()))`.
//!
//! reqwest's trait carries only the URL. What else Chrome weighs — where the request came from
//! and whether its method is safe (`SameSite`), the time — is a top-level navigation from the
//! address bar, now, unless the request runs inside an [`Exchange`]: a scope around one
//! `execute` (or `send`) call that tells the jar the request's context and hands back what the
//! jar did — the `Cookie` header sent, the cookies left out and why, each `Set-Cookie` refused
//! and why ([`Trace`]).
//!
//! The scope is a tokio task-local: reqwest asks the jar as it builds the request (inside
//! `execute`) and hands it the response's `Set-Cookie`s when the head arrives, both on the
//! task that awaits the request. Redirects: reqwest asks the jar again for every hop it
//! follows, all in the one context given; a client that needs each hop's own trace follows
//! redirects itself (`redirect::Policy::none()`), as the lab's browsers do.

use std::{
    cell::RefCell,
    fmt,
    future::Future,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
};

use reqwest::header::HeaderValue;
use time::OffsetDateTime;
use url::Url;

use crate::jar::{Blocked, Jar, NotSent, RequestContext, Rules};

tokio::task_local! {
    /// The exchange under way on this task.
    static EXCHANGE: RefCell<Scope>;
}

/// A [`Jar`] that reqwest can use: `Send + Sync`, locked for each request and response.
///
/// ```
/// use std::sync::Arc;
/// use session_lab_jar::CookieJar;
///
/// let jar = Arc::new(CookieJar::new());
/// let builder = reqwest::Client::builder().cookie_provider(jar.clone());
/// # drop(builder);
/// assert!(jar.lock().rows().is_empty());
/// ```
pub struct CookieJar {
    jar: Mutex<Jar>,
    rules: Rules,
    needs_exchange: bool,
}

impl CookieJar {
    /// An empty jar with a browser's (Chrome's) rules.
    pub fn new() -> Self {
        Self::with_rules(Rules::Browser)
    }

    /// An empty jar with `rules` ([`Rules::Client`] keeps and sends every cookie, whatever
    /// `Secure`, `SameSite` and the prefixes say).
    pub fn with_rules(rules: Rules) -> Self {
        Self {
            jar: Mutex::new(Jar::default()),
            rules,
            needs_exchange: false,
        }
    }

    /// A jar that every request must reach through an [`Exchange`]: one that arrives outside
    /// one carries no cookie and stores none, and in a debug build panics, so that a test
    /// finds the request sent around the scope (the compiler cannot).
    pub fn requiring_exchange(mut self) -> Self {
        self.needs_exchange = true;
        self
    }

    /// The jar itself, to read, edit or clear. A panic elsewhere while it was held leaves it
    /// usable: cookies are plain data.
    pub fn lock(&self) -> MutexGuard<'_, Jar> {
        self.jar.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The rules the jar applies when an exchange names none.
    pub fn rules(&self) -> Rules {
        self.rules
    }

    /// Runs `f` on the exchange in scope, if any; outside one, on a top-level navigation now
    /// — or, for a jar that requires an exchange, not at all.
    fn with_scope<T>(&self, f: impl FnOnce(&mut Scope) -> T) -> Option<T> {
        let in_scope = EXCHANGE.try_with(|_| ()).is_ok();
        if in_scope {
            Some(EXCHANGE.with(|scope| f(&mut scope.borrow_mut())))
        } else if self.needs_exchange {
            debug_assert!(false, "the cookie jar was used outside an exchange");
            None
        } else {
            Some(f(&mut Scope::new(Exchange::default())))
        }
    }
}

impl Default for CookieJar {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for CookieJar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CookieJar")
            .field("cookies", &self.lock().rows().len())
            .field("rules", &self.rules)
            .finish()
    }
}

impl reqwest::cookie::CookieStore for CookieJar {
    fn cookies(&self, url: &Url) -> Option<HeaderValue> {
        self.with_scope(|scope| {
            let exchange = &mut scope.exchange;
            let sent = exchange.carrying.take().unwrap_or_else(|| {
                let (header, not_sent) = self.lock().request_cookies(
                    url,
                    exchange.cookies_on,
                    exchange.context,
                    exchange.now(),
                    exchange.rules.unwrap_or(self.rules),
                );
                Sent { header, not_sent }
            });
            // From bytes: a UTF-8 cookie is obs-text to HTTP, which `from_str` would refuse;
            // bytes that came as no UTF-8 go back as they came.
            let mut sent = sent;
            let value = sent.header.as_ref().and_then(|header| {
                HeaderValue::from_bytes(&crate::raw::bytes_of_text(header))
                    .map_err(|e| scope.trace.unsendable = Some(e.to_string()))
                    .ok()
            });
            if value.is_none() {
                // What the trace says went is what went.
                sent.header = None;
            }
            scope.trace.sent = sent;
            value
        })
        .flatten()
    }

    fn set_cookies(&self, headers: &mut dyn Iterator<Item = &HeaderValue>, url: &Url) {
        self.with_scope(|scope| {
            let exchange = &scope.exchange;
            let blocked = self.lock().store_response(
                headers.map(HeaderValue::as_bytes),
                url,
                exchange.cookies_on,
                exchange.context,
                exchange.now(),
                exchange.rules.unwrap_or(self.rules),
            );
            scope.trace.blocked.extend(blocked);
        });
    }
}

/// A clock for the jar: the time at which a request leaves or its answer arrives.
type Clock = Arc<dyn Fn() -> OffsetDateTime + Send + Sync>;

/// What the jar is told about one request beyond its URL: the context its `SameSite`
/// cookies are judged by, whether cookies are on, the time, and the rules. Run the request
/// inside it with [`Exchange::run`].
#[derive(Clone)]
pub struct Exchange {
    context: RequestContext,
    cookies_on: bool,
    rules: Option<Rules>,
    clock: Option<Clock>,
    carrying: Option<Sent>,
}

impl Default for Exchange {
    /// A top-level navigation typed in the address bar, cookies on, at the machine's time.
    fn default() -> Self {
        Self::new(RequestContext::default())
    }
}

impl fmt::Debug for Exchange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Exchange")
            .field("context", &self.context)
            .field("cookies_on", &self.cookies_on)
            .field("rules", &self.rules)
            .field("own_clock", &self.clock.is_some())
            .field("carrying", &self.carrying)
            .finish()
    }
}

impl Exchange {
    /// A request made in `context`, cookies on, at the machine's time, under the jar's rules.
    pub fn new(context: RequestContext) -> Self {
        Self {
            context,
            cookies_on: true,
            rules: None,
            clock: None,
            carrying: None,
        }
    }

    /// Cookies on or off: off, the request carries none and its answer stores none (and the
    /// trace says why for each).
    pub fn cookies_on(mut self, on: bool) -> Self {
        self.cookies_on = on;
        self
    }

    /// Judges this request by `rules` instead of the jar's own.
    pub fn rules(mut self, rules: Rules) -> Self {
        self.rules = Some(rules);
        self
    }

    /// Reads the time from `clock` (one that may run ahead of the machine's, say) instead
    /// of the machine's.
    pub fn clock(mut self, clock: impl Fn() -> OffsetDateTime + Send + Sync + 'static) -> Self {
        self.clock = Some(Arc::new(clock));
        self
    }

    /// Sends `cookies` (read earlier with [`Jar::request_cookies`], say for many requests
    /// that leave at once) instead of the jar's cookies of the moment. Only the first request
    /// made in the scope carries them; a redirect reqwest follows asks the jar again.
    pub fn carrying(mut self, cookies: Sent) -> Self {
        self.carrying = Some(cookies);
        self
    }

    /// Runs `request` — a future that calls reqwest's `execute` or `send` — with this
    /// exchange in scope, and returns its outcome with what the jar did.
    ///
    /// The request must be made inside the future: reqwest asks the jar as `execute` builds
    /// it, before the future it returns is first polled.
    pub async fn run<T>(self, request: impl Future<Output = T>) -> (T, Trace) {
        EXCHANGE
            .scope(RefCell::new(Scope::new(self)), async {
                let outcome = request.await;
                let trace = EXCHANGE.with(|scope| std::mem::take(&mut scope.borrow_mut().trace));
                (outcome, trace)
            })
            .await
    }

    fn now(&self) -> OffsetDateTime {
        self.clock
            .as_ref()
            .map_or_else(OffsetDateTime::now_utc, |clock| clock())
    }
}

/// The cookies one request carries, read from the jar at one moment: the `Cookie` header
/// (none when no cookie goes) and the jar's cookies left out, and why.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sent {
    /// The `Cookie` header's value, cookies in the order Chrome sends them.
    pub header: Option<String>,
    /// The jar's cookies that did not go, each with its reason.
    pub not_sent: Vec<NotSent>,
}

/// What the jar did for the requests made in one [`Exchange`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Trace {
    /// What the last request made in the scope carried and left out.
    pub sent: Sent,
    /// Why the `Cookie` header the jar gave could not go on the wire (a byte HTTP cannot
    /// carry), if so; the request then went without one.
    pub unsendable: Option<String>,
    /// Every `Set-Cookie` the answers carried that the jar refused, and why.
    pub blocked: Vec<Blocked>,
}

/// The exchange in scope and what the jar has done in it so far.
struct Scope {
    exchange: Exchange,
    trace: Trace,
}

impl Scope {
    fn new(exchange: Exchange) -> Self {
        Self {
            exchange,
            trace: Trace::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use reqwest::cookie::CookieStore as _;

    use super::*;
    use crate::site::{Page, RequestFrom};

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap()
    }

    /// A jar that requires an exchange catches a request made outside one (one sent around
    /// the scope); the compiler cannot see it, so this guard and this test do.
    #[test]
    #[should_panic(expected = "outside an exchange")]
    fn asking_outside_a_required_exchange_is_caught() {
        let jar = CookieJar::new().requiring_exchange();
        let _ = jar.cookies(&url("http://app.test/"));
    }

    /// Outside any scope a plain jar is a top-level navigation now: a Lax cookie goes.
    #[test]
    fn outside_a_scope_a_request_is_a_top_level_navigation() {
        let jar = CookieJar::new();
        let set = HeaderValue::from_static("id=1; SameSite=Lax");
        jar.set_cookies(&mut std::iter::once(&set), &url("http://app.test/"));
        let header = jar.cookies(&url("http://app.test/x")).unwrap();
        assert_eq!(header, "id=1");
    }

    /// Inside a scope the jar judges by the context given, and the trace says what went,
    /// what did not and why, and what was refused.
    #[tokio::test]
    async fn inside_an_exchange_the_context_counts_and_the_trace_tells() {
        let jar = CookieJar::new();
        let home = url("http://app.test/");
        let lines = [
            HeaderValue::from_static("strict=1; SameSite=Strict"),
            HeaderValue::from_static("__Host-x=1; Path=/"),
        ];
        let ((), stored) = Exchange::default()
            .run(async { jar.set_cookies(&mut lines.iter(), &home) })
            .await;
        assert_eq!(stored.blocked.len(), 1, "{stored:?}");
        assert_eq!(stored.blocked[0].name, "__Host-x");

        let from_elsewhere = RequestContext {
            from: RequestFrom::Link(Page::http("other.example")),
            ..RequestContext::default()
        };
        let (header, trace) = Exchange::new(from_elsewhere)
            .run(async { jar.cookies(&home) })
            .await;
        assert_eq!(header, None);
        assert_eq!(trace.sent.header, None);
        assert_eq!(trace.sent.not_sent.len(), 1);
        assert_eq!(trace.sent.not_sent[0].key.name, "strict");

        let (header, trace) = Exchange::default().run(async { jar.cookies(&home) }).await;
        assert_eq!(header.unwrap(), "strict=1");
        assert_eq!(trace.sent.header.as_deref(), Some("strict=1"));
    }

    /// Cookies carried from earlier go instead of the jar's, on the first request only.
    #[tokio::test]
    async fn carried_cookies_go_once() {
        let jar = CookieJar::new();
        let home = url("http://app.test/");
        let carried = Sent {
            header: Some("old=1".into()),
            not_sent: Vec::new(),
        };
        let ((first, second), _) = Exchange::default()
            .carrying(carried)
            .run(async { (jar.cookies(&home), jar.cookies(&home)) })
            .await;
        assert_eq!(first.unwrap(), "old=1");
        assert_eq!(second, None);
    }
}
