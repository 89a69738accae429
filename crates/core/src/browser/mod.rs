//! One simulated browser: an HTTP client (reqwest) with its own cookie jar (`session-lab-jar`)
//! that can be listed, edited and cleared, and a record of each exchange: what was sent, what was
//! left in the jar and why, what came back, how long it took.

mod address;
mod html;
mod resolve;

use std::{
    sync::{
        Arc, MutexGuard,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use reqwest::header::{self, HeaderMap};
use session_lab_jar::provider;
use time::OffsetDateTime;
use url::Url;

pub use address::Address;
pub use html::{
    MAX_EACH as MAX_PAGE_PARTS, PageForm, PageParts, counter_shown, read_page, views_shown,
};
pub use resolve::{FROM_CHOICES, LabTarget, lab_page};
pub use session_lab_base::hosts::{
    API_HOST, APP_HOST, LAB_HOSTS, OTHER_SITE_HOST, SANDBOX_HOST, is_lab_host,
};
pub use session_lab_jar::{
    Blocked, BlockedReason, CookieKey, CookieRow, Jar, MAX_ATTRIBUTE_VALUE_BYTES, MAX_LIFETIME,
    MAX_NAME_VALUE_BYTES, NotSent, NotSentReason, Page, ParseRefusal, Prefix, RequestContext,
    RequestFrom, Rules, SameSite, SetCookie, VisitOptions, is_public_suffix, is_secure_context,
    parse_cookie_date, registrable_domain, site,
};

use crate::clock::LabClock;

/// The most of a response body a browser keeps; the rest is cut (and the cut is said).
const MAX_BODY_BYTES: usize = 256 * 1024;

/// How long a visit may take before the browser gives up.
const VISIT_TIMEOUT: Duration = Duration::from_secs(15);

/// How many redirects a visit follows (browsers cap them too).
const MAX_REDIRECTS: usize = 10;

/// How many header lines a response may have. Chrome counts none and reads up to 256 KiB of
/// head; hyper (under reqwest) reads up to about 400 KiB and, by default, 100 lines, which a
/// response with a few hundred `Set-Cookie`s would break. With this many, the head's size is
/// what limits a response, as in Chrome.
const MAX_RESPONSE_HEADERS: usize = 4096;

/// The most of a response head hyper reads (its `max_buf_size` default, which reqwest does not
/// change), in KiB.
const MAX_HEAD_KIB: usize = (8192 + 4096 * 100) / 1024;

/// Errors a visit can end in.
#[derive(Debug, thiserror::Error)]
pub enum BrowserError {
    /// The address is not an http(s) URL.
    #[error("“{0}” is not an http:// or https:// address")]
    BadUrl(String),
    /// The server could not be reached.
    #[error("could not connect to {url}: is a server running there?")]
    Connect {
        /// The address tried.
        url: String,
    },
    /// The https handshake failed: most often a certificate no root this browser trusts
    /// vouches for.
    #[error("https to {url} failed: {message}")]
    Tls {
        /// The address tried.
        url: String,
        /// What TLS said (`invalid peer certificate: UnknownIssuer`).
        message: String,
    },
    /// The server took too long.
    #[error("{url} did not answer within {secs} s")]
    Timeout {
        /// The address tried.
        url: String,
        /// The time limit.
        secs: u64,
    },
    /// Anything else on the way.
    #[error("request to {url} failed: {message}")]
    Http {
        /// The address tried.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// The response head was larger than a browser reads.
    #[error(
        "{url} sent a response head too large to read (over {MAX_HEAD_KIB} KiB, or over {MAX_RESPONSE_HEADERS} header lines): refused"
    )]
    HeadTooLarge {
        /// The address tried.
        url: String,
    },
    /// The server closed the connection before its response was whole.
    #[error("{url} closed the connection before its response was whole")]
    Incomplete {
        /// The address tried.
        url: String,
    },
    /// What came back was not an HTTP response, or its framing was broken.
    #[error("{url} answered with something that is not valid HTTP: {why}")]
    NotHttp {
        /// The address tried.
        url: String,
        /// What was wrong, as hyper found it.
        why: String,
    },
    /// A redirect chain went on too long.
    #[error("{url} redirected more than {MAX_REDIRECTS} times")]
    TooManyRedirects {
        /// The address that started it.
        url: String,
    },
    /// The HTTP client could not be built.
    #[error("could not start the browser's HTTP client: {0}")]
    Client(String),
    /// A visit failed after it had made some requests (a redirect to a dead server, a body
    /// cut short): those hops happened, their cookies were stored or refused, and they are
    /// kept here so that the failure loses no trace.
    #[error(
        "{cause} (at request {at} of the visit; what it had received by then is kept, the cookies set included)"
    )]
    Partway {
        /// Which request of the visit failed, from 1.
        at: usize,
        /// The requests made, in order; the last may be the failing one itself, when its
        /// answer's head arrived (and its cookies were stored) before it failed.
        hops: Vec<Exchange>,
        /// Why the visit stopped.
        cause: Box<BrowserError>,
    },
}

impl BrowserError {
    /// What went wrong, leaving out where in a visit it went wrong.
    pub fn cause(&self) -> &BrowserError {
        match self {
            Self::Partway { cause, .. } => cause.cause(),
            other => other,
        }
    }

    /// Takes the requests a visit made before it failed (none, for most errors).
    pub fn take_hops(&mut self) -> Vec<Exchange> {
        match self {
            Self::Partway { hops, .. } => std::mem::take(hops),
            _ => Vec::new(),
        }
    }

    /// `cause`, at request `at` of a visit that made `hops` before it.
    fn partway(hops: Vec<Exchange>, at: usize, cause: BrowserError) -> Self {
        if hops.is_empty() {
            cause
        } else {
            Self::Partway {
                at,
                hops,
                cause: Box::new(cause),
            }
        }
    }
}

/// Why a cookie could not be put in a jar by hand.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JarError {
    /// The jar's rules refuse it.
    #[error("cookie “{name}”: {reason}")]
    Refused {
        /// The cookie's name.
        name: String,
        /// Why.
        reason: BlockedReason,
    },
    /// The cookie to change is no longer in the jar.
    #[error("there is no cookie “{name}” in the jar any more")]
    Gone {
        /// The cookie's name.
        name: String,
    },
}

impl JarError {
    /// The jar's refusal of `row`, named.
    fn refused(row: &CookieRow) -> impl FnOnce(BlockedReason) -> Self + '_ {
        |reason| Self::Refused {
            name: row.name.clone(),
            reason,
        }
    }
}

/// The cookies one request carries, read from the jar at one moment
/// ([`Browser::cookies_at_start`]): the `Cookie` header and the cookies left out, and why.
pub type CookiesAtStart = provider::Sent;

/// One request and its response.
#[derive(Clone, Debug, PartialEq)]
pub struct Exchange {
    /// When the request was sent.
    pub sent_at: OffsetDateTime,
    /// The request method.
    pub method: String,
    /// The full URL requested.
    pub url: String,
    /// The `Cookie` header the browser sent, if any.
    pub cookie_header: Option<String>,
    /// The request headers the browser set (the HTTP client adds `Accept: */*` and `Host`),
    /// in order; `Cookie` among them when one was sent.
    pub request_headers: Vec<(String, String)>,
    /// The form a `POST` sent (`application/x-www-form-urlencoded`), if any.
    pub request_body: Option<String>,
    /// The response's HTTP version ("HTTP/1.1").
    pub http_version: String,
    /// The jar's cookies that were not sent, and why.
    pub not_sent: Vec<NotSent>,
    /// Where the request came from (the address bar, a link or an image on some site).
    pub from: RequestFrom,
    /// The response's `Set-Cookie`s the browser refused, and why.
    pub blocked: Vec<Blocked>,
    /// The response status code.
    pub status: u16,
    /// The status's reason phrase ("OK", "Not Found").
    pub reason: String,
    /// The response headers, in order.
    pub response_headers: Vec<(String, String)>,
    /// The response body as text (lossy for non-UTF-8, cut at 256 KiB).
    pub body: String,
    /// From sending the request to having read the whole body.
    pub latency: Duration,
}

impl Exchange {
    /// The `Set-Cookie` headers of the response.
    pub fn set_cookies(&self) -> impl Iterator<Item = &str> {
        self.header_values("set-cookie")
    }

    /// The value of the response's `x-request-id` header as a number, if any.
    pub fn request_id(&self) -> Option<u64> {
        self.header_values("x-request-id")
            .next()
            .and_then(|v| v.parse().ok())
    }

    /// The values of the response header `name`.
    pub fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.response_headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The request path and query.
    pub fn path(&self) -> String {
        Url::parse(&self.url)
            .map(|u| match u.query() {
                Some(q) => format!("{}?{q}", u.path()),
                None => u.path().to_owned(),
            })
            .unwrap_or_else(|_| self.url.clone())
    }
}

/// A simulated browser: an HTTP client and its cookie jar.
///
/// Clones share the same client and jar.
#[derive(Clone)]
pub struct Browser {
    client: reqwest::Client,
    jar: Arc<provider::CookieJar>,
    cookies_enabled: Arc<AtomicBool>,
    user_agent: String,
    /// The jar's time: the lab's clock, which may run ahead of the machine's.
    clock: LabClock,
    /// The rules the jar applies: a browser's, or a plain client's.
    rules: Rules,
}

impl Browser {
    /// A browser with an empty jar that announces itself with `user_agent`, on the machine's
    /// clock, resolving names as the system does.
    pub fn new(user_agent: &str) -> Result<Self, BrowserError> {
        Self::build(user_agent, reqwest::Client::builder(), LabClock::default())
    }

    /// A probe rather than a browser: its jar keeps and sends back every cookie the server
    /// sets, whatever Secure and SameSite say (so an audit of a plain-http development server
    /// with Secure set still follows the session).
    pub fn client(user_agent: &str) -> Result<Self, BrowserError> {
        let mut probe = Self::new(user_agent)?;
        probe.rules = Rules::Client;
        Ok(probe)
    }

    /// The same browser as a probe: its jar keeps and sends every cookie (see
    /// [`Self::client`]).
    pub fn into_client(mut self) -> Self {
        self.rules = Rules::Client;
        self
    }

    /// A browser of the lab: the lab's names (`app.lab.test`, …) lead to `target`, its jar
    /// keeps the lab's time, and for https it trusts the platform's roots and `authority` (DER)
    /// — the lab's own certificate authority, so `https://app.lab.test/` is a secure context
    /// here and nowhere else, and real https sites work too.
    pub fn in_lab(
        user_agent: &str,
        target: LabTarget,
        clock: LabClock,
        authority: Option<&[u8]>,
    ) -> Result<Self, BrowserError> {
        let client =
            reqwest::Client::builder().dns_resolver(Arc::new(resolve::LabResolver { target }));
        Self::build(user_agent, trusting_too(client, authority)?, clock)
    }

    /// A browser whose `hosts` resolve to the addresses given (the port of each URL still
    /// counts) and which trusts `authority` (DER) beside the platform's roots: for tests that
    /// play other sites' names on this machine, as the cookie conformance suites do.
    pub fn with_hosts(
        user_agent: &str,
        hosts: &[(&str, std::net::SocketAddr)],
        authority: Option<&[u8]>,
        clock: LabClock,
    ) -> Result<Self, BrowserError> {
        let client = hosts
            .iter()
            .fold(reqwest::Client::builder(), |client, (host, addr)| {
                client.resolve(host, *addr)
            });
        Self::build(user_agent, trusting_too(client, authority)?, clock)
    }

    fn build(
        user_agent: &str,
        client: reqwest::ClientBuilder,
        clock: LabClock,
    ) -> Result<Self, BrowserError> {
        // https elsewhere (the user's own server) verifies with the platform's roots through
        // rustls, on ring (the one provider compiled in).
        let _ = rustls::crypto::ring::default_provider().install_default();
        // The jar is reqwest's cookie provider: reqwest asks it as each request leaves and
        // hands it each response's Set-Cookies, and what it did is read back from the
        // exchange's scope (`session_lab_jar::provider`), so what an exchange says was sent is
        // what was sent. A request outside a scope is a bug the jar catches in tests.
        // Redirects are followed by hand so that each hop shows its own cookies.
        let jar = Arc::new(provider::CookieJar::new().requiring_exchange());
        let client = client
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            .timeout(VISIT_TIMEOUT)
            .http1_max_headers(MAX_RESPONSE_HEADERS)
            // A header line with a byte HTTP does not allow (a DEL in a Set-Cookie) is dropped
            // and the page still loads, as in Chromium, instead of failing the whole visit.
            .http1_ignore_invalid_headers_in_responses(true)
            .build()
            .map_err(|e| BrowserError::Client(e.to_string()))?;
        Ok(Self {
            client,
            jar,
            cookies_enabled: Arc::new(AtomicBool::new(true)),
            user_agent: user_agent.to_owned(),
            clock,
            rules: Rules::Browser,
        })
    }

    /// Turns cookies on or off: off, the browser neither sends nor stores any.
    pub fn set_cookies_enabled(&self, enabled: bool) {
        self.cookies_enabled.store(enabled, Ordering::Relaxed);
    }

    /// Whether cookies are on.
    pub fn cookies_enabled(&self) -> bool {
        self.cookies_enabled.load(Ordering::Relaxed)
    }

    /// Sends `GET url` with the jar's cookies, follows redirects, stores the cookies each
    /// response sets, and returns every hop (the last is the page that was shown).
    pub async fn visit(
        &self,
        url: &str,
        options: VisitOptions,
    ) -> Result<Vec<Exchange>, BrowserError> {
        self.navigate(url, None, options, None).await
    }

    /// The cookies a `GET url` made now would carry, read from the jar once: what every
    /// request of a burst carries, so that none carries what another's answer set. Chromium
    /// reads the jar as each request starts, so when a page fires many fetches at once, those
    /// that start after an answer may carry a newer copy (`bench/tools/chromium-burst.sh`: 20
    /// fetches counted once in some runs and up to five times in others). The lab sends the
    /// case where all leave before the first answer, so a burst on a session kept in the
    /// cookie always counts once.
    pub fn cookies_at_start(
        &self,
        url: &str,
        options: VisitOptions,
    ) -> Result<CookiesAtStart, BrowserError> {
        let url = parse_http_url(url)?;
        let context = RequestContext {
            from: options.from,
            frame: options.frame,
            unsafe_method: false,
        };
        Ok(self.cookies_for(&url, context))
    }

    /// The cookies a request to `url` in `context` carries now, and those it leaves out.
    fn cookies_for(&self, url: &Url, context: RequestContext) -> CookiesAtStart {
        let (header, not_sent) = self.jar().request_cookies(
            url,
            self.cookies_enabled(),
            context,
            self.clock.now(),
            self.rules,
        );
        CookiesAtStart { header, not_sent }
    }

    /// [`Browser::visit`], its first request carrying `cookies` (read earlier by
    /// [`Browser::cookies_at_start`]) instead of the jar's cookies of this moment; the
    /// redirects it follows read the jar as usual, and the cookies the answers set are stored.
    pub async fn visit_carrying(
        &self,
        url: &str,
        options: VisitOptions,
        cookies: &CookiesAtStart,
    ) -> Result<Vec<Exchange>, BrowserError> {
        self.navigate(url, None, options, Some(cookies)).await
    }

    /// Submits a form: `POST url` with `body` (`application/x-www-form-urlencoded`), then
    /// follows redirects as browsers do (307 and 308 repeat the POST, the others GET).
    pub async fn submit(
        &self,
        url: &str,
        body: &str,
        options: VisitOptions,
    ) -> Result<Vec<Exchange>, BrowserError> {
        self.navigate(url, Some(body), options, None).await
    }

    async fn navigate(
        &self,
        url: &str,
        form: Option<&str>,
        options: VisitOptions,
        mut carrying: Option<&CookiesAtStart>,
    ) -> Result<Vec<Exchange>, BrowserError> {
        let mut next = parse_http_url(url)?;
        let mut form = form.map(str::to_owned);
        let mut context = RequestContext {
            from: options.from,
            frame: options.frame,
            unsafe_method: form.is_some(),
        };
        let mut hops = Vec::new();
        loop {
            let exchange = match self
                .exchange(&next, form.as_deref(), context, carrying.take())
                .await
            {
                Ok(exchange) => exchange,
                Err((made, cause)) => {
                    let at = hops.len() + 1;
                    hops.extend(made);
                    return Err(BrowserError::partway(hops, at, cause));
                }
            };
            let location = if (300..400).contains(&exchange.status) {
                exchange.header_values("location").next().map(str::to_owned)
            } else {
                None
            };
            let status = exchange.status;
            hops.push(exchange);
            let Some(location) = location else {
                return Ok(hops);
            };
            if hops.len() > MAX_REDIRECTS {
                let at = hops.len();
                let cause = BrowserError::TooManyRedirects {
                    url: url.to_owned(),
                };
                return Err(BrowserError::partway(hops, at, cause));
            }
            // Fetch's redirect rules: 307 and 308 keep the method and body; 301, 302 and 303
            // turn a POST into a GET.
            if !matches!(status, 307 | 308) {
                form = None;
            }
            context.unsafe_method = form.is_some();
            // Each hop is judged by where the request started and where it lands, not by the
            // hops between (Chrome; see `RequestContext`).
            next = match next
                .join(&location)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https"))
            {
                Some(next) => next,
                None => {
                    let at = hops.len() + 1;
                    return Err(BrowserError::partway(
                        hops,
                        at,
                        BrowserError::BadUrl(location),
                    ));
                }
            };
        }
    }

    /// Every cookie in the jar, sorted by domain, path and name.
    pub fn cookies(&self) -> Vec<CookieRow> {
        self.jar().rows()
    }

    /// Empties the jar; returns how many cookies it held.
    pub fn clear_cookies(&self) -> usize {
        self.jar().clear()
    }

    /// Deletes one cookie; returns whether it was there.
    pub fn delete_cookie(&self, key: &CookieKey) -> bool {
        self.jar().remove(key)
    }

    /// Puts a cookie in the jar (a copy from another jar, an edit), under the rules a response
    /// from the cookie's own origin would meet, replacing any cookie with the same key.
    pub fn put_cookie(&self, row: &CookieRow) -> Result<(), JarError> {
        self.jar()
            .put(row, self.clock.now(), self.rules)
            .map_err(JarError::refused(row))
    }

    /// Puts every cookie of `rows` in the jar, or none: when the jar refuses one, it is left as
    /// it was and the error names the cookie and why.
    pub fn import_cookies(&self, rows: &[CookieRow]) -> Result<(), JarError> {
        let now = self.clock.now();
        let mut jar = self.jar();
        let mut next = jar.clone();
        for row in rows {
            next.put(row, now, self.rules)
                .map_err(JarError::refused(row))?;
        }
        *jar = next;
        Ok(())
    }

    /// Sets the value of one cookie, keeping its attributes; a value the jar would refuse
    /// says why.
    pub fn set_cookie_value(&self, key: &CookieKey, value: &str) -> Result<(), JarError> {
        let now = self.clock.now();
        let mut jar = self.jar();
        let mut row = jar.get(key).cloned().ok_or_else(|| JarError::Gone {
            name: key.name.clone(),
        })?;
        row.value = value.to_owned();
        jar.put(&row, now, self.rules)
            .map_err(JarError::refused(&row))
    }

    /// Drops the cookies whose expiry has passed on the lab's clock (a browser never sends
    /// them again); returns how many went.
    pub fn drop_expired(&self) -> usize {
        self.jar().drop_expired(self.clock.now())
    }

    /// Closes and reopens the browser: session cookies (those without an expiry) are dropped,
    /// as real browsers do; a private browser drops everything. Returns how many went.
    pub fn restart(&self, private: bool) -> usize {
        self.jar().close(private, self.clock.now())
    }

    /// One request and its response. A failure after the response's head arrived (its
    /// cookies stored) comes with the exchange as far as it got.
    async fn exchange(
        &self,
        url: &Url,
        form: Option<&str>,
        context: RequestContext,
        carrying: Option<&CookiesAtStart>,
    ) -> Result<Exchange, (Option<Exchange>, BrowserError)> {
        let request = match form {
            None => self.client.get(url.clone()),
            // A browser's form POST always says its length, even when it is empty (hyper
            // leaves an empty body's length out, and servers such as WEBrick answer 411
            // Length Required).
            Some(body) => self
                .client
                .post(url.clone())
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header(header::CONTENT_LENGTH, body.len())
                .body(body.to_owned()),
        }
        .header(header::USER_AGENT, &self.user_agent);
        let request = request
            .build()
            .map_err(|e| (None, request_error(url, &e)))?;
        let mut request_headers = header_pairs(request.headers());
        let sent_at = self.clock.now();
        let started = Instant::now();
        let clock = self.clock.clone();
        let mut exchange = provider::Exchange::new(context)
            .cookies_on(self.cookies_enabled())
            .rules(self.rules)
            .clock(move || clock.now());
        if let Some(cookies) = carrying {
            exchange = exchange.carrying(cookies.clone());
        }
        // Made inside the scope: reqwest asks the jar as `execute` builds its request.
        let (response, trace) = exchange
            .run(async { self.client.execute(request).await })
            .await;
        let response = response.map_err(|e| (None, request_error(url, &e)))?;
        let provider::Trace {
            sent:
                CookiesAtStart {
                    header: cookie_header,
                    not_sent,
                },
            blocked,
            unsendable,
        } = trace;
        // reqwest added the Cookie header last, as it left.
        if let Some(value) = &cookie_header {
            request_headers.push((header::COOKIE.as_str().to_owned(), value.clone()));
        }
        let status = response.status();
        let mut exchange = Exchange {
            sent_at,
            method: if form.is_some() { "POST" } else { "GET" }.to_owned(),
            url: url.to_string(),
            cookie_header,
            request_headers,
            request_body: form.map(str::to_owned),
            http_version: format!("{:?}", response.version()),
            not_sent,
            from: context.from,
            blocked,
            status: status.as_u16(),
            reason: status.canonical_reason().unwrap_or("").to_owned(),
            response_headers: header_pairs(response.headers()),
            body: String::new(),
            latency: Duration::ZERO,
        };
        let body = read_body(response).await;
        exchange.latency = started.elapsed();
        match body {
            Ok((bytes, cut)) => exchange.body = body_text(&bytes, cut),
            Err(e) => return Err((Some(exchange), request_error(url, &e))),
        }
        if let Some(why) = unsendable {
            let error = BrowserError::Http {
                url: url.to_string(),
                message: format!("the Cookie header cannot be sent: {why}"),
            };
            return Err((Some(exchange), error));
        }
        Ok(exchange)
    }

    fn jar(&self) -> MutexGuard<'_, Jar> {
        self.jar.lock()
    }
}

/// `client`, trusting `authority` (DER) beside the platform's roots when one is given.
fn trusting_too(
    client: reqwest::ClientBuilder,
    authority: Option<&[u8]>,
) -> Result<reqwest::ClientBuilder, BrowserError> {
    Ok(match authority {
        Some(authority) => client.tls_backend_preconfigured(trusting(authority)?),
        None => client,
    })
}

/// A TLS client configuration that trusts the platform's roots and `authority` (DER) beside
/// them (rustls-platform-verifier, as reqwest itself verifies, with one more root).
fn trusting(authority: &[u8]) -> Result<rustls::ClientConfig, BrowserError> {
    let problem = |e: rustls::Error| BrowserError::Client(format!("TLS: {e}"));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = rustls_platform_verifier::Verifier::new_with_extra_roots(
        [rustls::pki_types::CertificateDer::from(authority.to_vec())],
        provider.clone(),
    )
    .map_err(problem)?;
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(problem)?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// Parses an address typed by a user; a missing scheme means http.
pub fn parse_http_url(text: &str) -> Result<Url, BrowserError> {
    let text = text.trim();
    let with_scheme = if text.contains("://") {
        text.to_owned()
    } else {
        format!("http://{text}")
    };
    match Url::parse(&with_scheme) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => Ok(url),
        _ => Err(BrowserError::BadUrl(text.to_owned())),
    }
}

fn request_error(url: &Url, err: &reqwest::Error) -> BrowserError {
    let url = url.to_string();
    if let Some(tls) = std::error::Error::source(err).and_then(tls_cause) {
        return BrowserError::Tls {
            url,
            message: tls.to_string(),
        };
    }
    if err.is_timeout() {
        BrowserError::Timeout {
            url,
            secs: VISIT_TIMEOUT.as_secs(),
        }
    } else if err.is_connect() {
        BrowserError::Connect { url }
    } else if let Some(hyper) = std::error::Error::source(err).and_then(hyper_cause) {
        if hyper.is_parse_too_large() {
            BrowserError::HeadTooLarge { url }
        } else if hyper.is_incomplete_message() {
            BrowserError::Incomplete { url }
        } else {
            BrowserError::NotHttp {
                url,
                why: with_causes(hyper),
            }
        }
    } else {
        BrowserError::Http {
            url,
            message: with_causes(err),
        }
    }
}

/// `err` and every error behind it, joined by ": ".
fn with_causes(err: &dyn std::error::Error) -> String {
    let mut message = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        message = format!("{message}: {cause}");
        source = cause.source();
    }
    message
}

/// The hyper error behind `err`, if any (a head too large, a connection closed mid-response,
/// broken framing).
fn hyper_cause<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a hyper::Error> {
    err.downcast_ref::<hyper::Error>()
        .or_else(|| err.source().and_then(hyper_cause))
}

/// The TLS error behind `err`, if any: tokio-rustls hands it on inside (nested) io::Errors,
/// whose `source()` skips the error they wrap.
fn tls_cause<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    if let Some(tls) = err.downcast_ref::<rustls::Error>() {
        return Some(tls);
    }
    if let Some(inner) = err
        .downcast_ref::<std::io::Error>()
        .and_then(|io| io.get_ref())
        && let Some(tls) = tls_cause(inner)
    {
        return Some(tls);
    }
    err.source().and_then(tls_cause)
}

fn header_pairs(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect()
}

/// Reads a response body up to [`MAX_BODY_BYTES`] and stops there: an endless or huge body
/// costs the browser that much memory and no more (the rest is never read; the connection is
/// dropped). Returns the bytes and whether it was cut.
async fn read_body(mut response: reqwest::Response) -> Result<(Vec<u8>, bool), reqwest::Error> {
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let room = MAX_BODY_BYTES - bytes.len();
        if chunk.len() > room {
            bytes.extend_from_slice(&chunk[..room]);
            return Ok((bytes, true));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok((bytes, false))
}

/// The body as text (lossy for bytes that are not UTF-8), saying where it was cut.
fn body_text(bytes: &[u8], cut: bool) -> String {
    let mut text = String::from_utf8_lossy(bytes).into_owned();
    if cut {
        text.push_str(&format!(
            "\n… (cut at {} KiB: the rest was not read)",
            MAX_BODY_BYTES / 1024
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Users may type addresses without a scheme; anything but http is refused with a message.
    #[test]
    fn addresses_are_parsed_like_an_address_bar() {
        assert_eq!(
            parse_http_url("127.0.0.1:3000").unwrap().as_str(),
            "http://127.0.0.1:3000/"
        );
        assert!(parse_http_url("http://").is_err());
        assert!(parse_http_url("https://app.lab.test/").is_ok());
        let err = parse_http_url("ftp://example.com").unwrap_err();
        assert!(err.to_string().contains("http://"));
    }
}
