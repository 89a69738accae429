//! The jar as reqwest's cookie provider (`reqwest::cookie::CookieStore`): reqwest asks it for
//! the `Cookie` header as each request leaves and hands it each response's `Set-Cookie`s. What
//! the lab shows per hop — the header sent, the cookies left out and why, each `Set-Cookie`
//! refused and why — and what the jar needs to judge them (the request's SameSite context,
//! cookies on or off, the lab's clock, the rules) travel in a scope around that one
//! `execute` call ([`Exchange::scope`]): reqwest's trait carries only the URL.

use std::{cell::RefCell, future::Future, sync::Arc};

use parking_lot::Mutex;
use reqwest::header::HeaderValue;
use url::Url;

use super::{Blocked, CookiesAtStart, Jar, RequestContext, Rules};
use crate::clock::LabClock;

tokio::task_local! {
    /// The exchange under way on this task.
    static EXCHANGE: RefCell<Exchange>;
}

/// One request's cookie business: what the jar is told, and what it answered.
pub(super) struct Exchange {
    pub(super) context: RequestContext,
    pub(super) enabled: bool,
    /// The browser's clock, read as the request leaves and as its answer arrives.
    pub(super) clock: LabClock,
    pub(super) rules: Rules,
    /// Cookies read from the jar earlier (a burst's), sent instead of the jar's of the moment.
    pub(super) carrying: Option<CookiesAtStart>,
    /// What the request carried and left out, once reqwest asked.
    pub(super) sent: CookiesAtStart,
    /// The `Cookie` header the jar gave that HTTP cannot carry, if any.
    pub(super) unsendable: Option<String>,
    /// The response's `Set-Cookie`s the jar refused.
    pub(super) blocked: Vec<Blocked>,
}

impl Exchange {
    /// Runs `request` (one `execute`, made inside the future given: reqwest asks the jar as it
    /// builds the request) with this exchange in scope; returns its outcome and what the jar
    /// did.
    pub(super) async fn scope<T>(self, request: impl Future<Output = T>) -> (T, Self) {
        let cell = RefCell::new(self);
        let (outcome, cell) = EXCHANGE
            .scope(cell, async {
                let outcome = request.await;
                (outcome, EXCHANGE.with(|e| e.replace(Self::placeholder())))
            })
            .await;
        (outcome, cell)
    }

    fn placeholder() -> Self {
        Self {
            context: RequestContext::default(),
            enabled: false,
            clock: LabClock::default(),
            rules: Rules::Browser,
            carrying: None,
            sent: CookiesAtStart::default(),
            unsendable: None,
            blocked: Vec::new(),
        }
    }
}

/// A browser's jar, plugged into its `reqwest::Client` with `cookie_provider`.
pub(super) struct Provider(pub(super) Arc<Mutex<Jar>>);

impl reqwest::cookie::CookieStore for Provider {
    fn cookies(&self, url: &Url) -> Option<HeaderValue> {
        let asked = EXCHANGE.try_with(|exchange| {
            let mut exchange = exchange.borrow_mut();
            let cookies = exchange.carrying.take().unwrap_or_else(|| {
                let (header, not_sent) = self.0.lock().request_cookies(
                    url,
                    exchange.enabled,
                    exchange.context,
                    exchange.clock.now(),
                    exchange.rules,
                );
                CookiesAtStart { header, not_sent }
            });
            // From bytes: a UTF-8 cookie is obs-text to HTTP, which `from_str` would refuse.
            let value = cookies.header.as_ref().and_then(|header| {
                HeaderValue::from_bytes(header.as_bytes())
                    .map_err(|e| exchange.unsendable = Some(e.to_string()))
                    .ok()
            });
            exchange.sent = cookies;
            value
        });
        // Every request the browser sends runs in an exchange's scope; one outside it would
        // be judged without its context, so it carries nothing (and tests catch it).
        debug_assert!(
            asked.is_ok(),
            "the cookie jar was asked outside an exchange"
        );
        asked.ok().flatten()
    }

    fn set_cookies(&self, headers: &mut dyn Iterator<Item = &HeaderValue>, url: &Url) {
        let stored = EXCHANGE.try_with(|exchange| {
            let mut exchange = exchange.borrow_mut();
            exchange.blocked = self.0.lock().store_response(
                headers.map(HeaderValue::as_bytes),
                url,
                exchange.enabled,
                exchange.context,
                exchange.clock.now(),
                exchange.rules,
            );
        });
        debug_assert!(
            stored.is_ok(),
            "a response's cookies arrived outside an exchange"
        );
    }
}

#[cfg(test)]
mod tests {
    use reqwest::cookie::CookieStore as _;

    use super::*;

    /// Asking the jar outside an exchange's scope (a request sent around `Browser::exchange`)
    /// is caught: the compiler cannot see it, so this guard and this test do.
    #[test]
    #[should_panic(expected = "outside an exchange")]
    fn asking_outside_an_exchange_is_caught() {
        let provider = Provider(Arc::default());
        let _ = provider.cookies(&Url::parse("http://app.lab.test/").unwrap());
    }

    /// Inside a scope the jar answers with the context given, and says what it sent.
    #[tokio::test]
    async fn inside_an_exchange_the_jar_answers_and_records() {
        let jar = Arc::new(Mutex::new(Jar::default()));
        let provider = Provider(jar.clone());
        let url = Url::parse("http://app.lab.test/").unwrap();
        let exchange = || Exchange {
            context: RequestContext::default(),
            enabled: true,
            clock: LabClock::default(),
            rules: Rules::Browser,
            carrying: None,
            sent: CookiesAtStart::default(),
            unsendable: None,
            blocked: Vec::new(),
        };
        let set = HeaderValue::from_static("id=1; Path=/");
        let ((), done) = exchange()
            .scope(async { provider.set_cookies(&mut std::iter::once(&set), &url) })
            .await;
        assert!(done.blocked.is_empty());
        let (header, done) = exchange().scope(async { provider.cookies(&url) }).await;
        assert_eq!(header.unwrap(), "id=1");
        assert_eq!(done.sent.header.as_deref(), Some("id=1"));
    }
}
