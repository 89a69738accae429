//! The cookie jar's rules, as a browser applies them: what is sent with a request and why the
//! rest is not, what is kept, and the rows the UI lists.

use std::fmt;

use cookie::SameSite;
use cookie_store::{CookieDomain, CookieExpiration, CookieStore, RawCookie};
use time::OffsetDateTime;
use url::{Host, Url};

use super::site::RequestFrom;

/// How a visit is made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VisitOptions {
    /// Where the request comes from: the address bar, or a link or an image on some site's
    /// page (which decides which `SameSite` cookies go along).
    pub from: RequestFrom,
}

/// Which rules the jar applies beyond domain, path and expiry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Rules {
    /// A browser's (Chrome's): Secure only over https (and to localhost), SameSite by where
    /// the request came from, refusals of Secure from http and None without Secure.
    #[default]
    Browser,
    /// A plain HTTP client's, for probing a server (the audit): every cookie the server sets
    /// is kept and sent back, whatever its Secure and SameSite say.
    Client,
}

/// Why a cookie in the jar was not sent with a request (as DevTools explains it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NotSentReason {
    /// The browser has cookies turned off.
    CookiesOff,
    /// The cookie's expiry has passed.
    Expired,
    /// The cookie belongs to another host or domain.
    DomainMismatch {
        /// The cookie's host or domain.
        domain: String,
        /// It goes to exactly that host (no `Domain` attribute), not to its subdomains.
        host_only: bool,
    },
    /// The request path is not under the cookie's path.
    PathMismatch,
    /// A `Secure` cookie is never sent over plain http (loopback counts as secure).
    SecureOnHttp,
    /// A cross-site request does not carry a cookie with this `SameSite` value.
    SameSite {
        /// The cookie's `SameSite`, as the browser applies it ("Lax (by default)" when unset).
        attribute: String,
        /// Where the request came from.
        from: RequestFrom,
    },
}

impl fmt::Display for NotSentReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::CookiesOff => f.write_str("cookies are off in this browser"),
            Self::Expired => f.write_str("expired"),
            Self::DomainMismatch {
                domain,
                host_only: true,
            } => write!(f, "host-only cookie of {domain}"),
            Self::DomainMismatch {
                domain,
                host_only: false,
            } => write!(f, "for {domain} and its subdomains only"),
            Self::PathMismatch => f.write_str("path mismatch"),
            Self::SecureOnHttp => f.write_str("Secure: sent over https only, this is plain http"),
            Self::SameSite { attribute, from } => {
                write!(
                    f,
                    "SameSite={attribute}, and this is {}",
                    from.describe_cross_site()
                )
            }
        }
    }
}

/// Why a `Set-Cookie` of a response was not stored (as DevTools explains it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BlockedReason {
    /// The browser has cookies turned off.
    CookiesOff,
    /// `Secure` from a page that is not a secure context: browsers let only https (and
    /// localhost) set a `Secure` cookie.
    SecureFromInsecure,
    /// `SameSite=None` without `Secure`: browsers refuse it.
    NoneWithoutSecure,
    /// The `Domain` attribute does not cover the host that set it.
    DomainMismatch {
        /// The `Domain` attribute.
        domain: String,
    },
    /// The response to a cross-site subresource request may set only `SameSite=None` cookies.
    SameSite {
        /// The cookie's `SameSite`, as the browser applies it.
        attribute: String,
        /// Where the request came from.
        from: RequestFrom,
    },
    /// Not a cookie the jar can take.
    Invalid(String),
}

impl fmt::Display for BlockedReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::CookiesOff => f.write_str("cookies are off in this browser"),
            Self::SecureFromInsecure => f.write_str(
                "Secure, but set over plain http (only https and localhost may set Secure cookies)",
            ),
            Self::NoneWithoutSecure => f.write_str("SameSite=None without Secure"),
            Self::DomainMismatch { domain } => {
                write!(f, "Domain={domain} does not cover the host that set it")
            }
            Self::SameSite { attribute, from } => write!(
                f,
                "SameSite={attribute} in the response to {}",
                from.describe_cross_site()
            ),
            Self::Invalid(why) => write!(f, "not a valid cookie: {why}"),
        }
    }
}

/// A `Set-Cookie` the jar refused, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Blocked {
    /// The cookie's name (or the start of the header, if it had none).
    pub name: String,
    /// Why it was refused.
    pub reason: BlockedReason,
}

/// A cookie that stayed in the jar, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotSent {
    /// Which cookie.
    pub key: CookieKey,
    /// Why it was not sent.
    pub reason: NotSentReason,
}

/// Names one cookie in a jar: domain, path and name together are unique.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CookieKey {
    /// The domain (without a leading dot).
    pub domain: String,
    /// The path.
    pub path: String,
    /// The name.
    pub name: String,
}

/// One cookie in a browser's jar, with every attribute the jar keeps (saved with a lab as it
/// is, the expiry as Unix seconds).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CookieRow {
    /// The cookie's name.
    pub name: String,
    /// The cookie's value, as stored.
    pub value: String,
    /// The domain it is sent to.
    pub domain: String,
    /// Sent to exactly that host only (no `Domain` attribute), not its subdomains.
    pub host_only: bool,
    /// The path prefix it is sent for.
    pub path: String,
    /// When it expires; `None` for a browser-session cookie.
    #[serde(with = "time::serde::timestamp::option")]
    pub expires: Option<OffsetDateTime>,
    /// Hidden from page scripts.
    pub http_only: bool,
    /// Sent over https only.
    pub secure: bool,
    /// The `SameSite` attribute, if set.
    pub same_site: Option<String>,
}

impl CookieRow {
    /// The cookie's size as browsers count it: name plus value, in bytes.
    pub fn size(&self) -> usize {
        self.name.len() + self.value.len()
    }

    /// The key that names this cookie in its jar.
    pub fn key(&self) -> CookieKey {
        CookieKey {
            domain: self.domain.clone(),
            path: self.path.clone(),
            name: self.name.clone(),
        }
    }

    /// Whether its expiry has passed at `now`.
    pub fn is_expired_at(&self, now: OffsetDateTime) -> bool {
        self.expires.is_some_and(|at| at <= now)
    }

    /// The cookie as the `cookie` crate builds it, for putting back into a jar.
    fn to_raw(&self) -> RawCookie<'static> {
        let mut raw = RawCookie::build((self.name.clone(), self.value.clone()))
            .path(self.path.clone())
            .http_only(self.http_only)
            .secure(self.secure);
        if !self.host_only {
            raw = raw.domain(self.domain.clone());
        }
        if let Some(at) = self.expires {
            raw = raw.expires(at);
        }
        if let Some(same_site) = self.same_site.as_deref().and_then(parse_same_site) {
            raw = raw.same_site(same_site);
        }
        raw.build()
    }
}

/// A `Set-Cookie` header's cookie and attributes, as written (nothing applied yet).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetCookie {
    /// The name.
    pub name: String,
    /// The value, as sent.
    pub value: String,
    /// `HttpOnly` given.
    pub http_only: bool,
    /// `Secure` given.
    pub secure: bool,
    /// `SameSite`, if given ("Strict", "Lax", "None").
    pub same_site: Option<String>,
    /// `Path`, if given.
    pub path: Option<String>,
    /// `Domain`, if given.
    pub domain: Option<String>,
    /// `Max-Age` in seconds, if given.
    pub max_age: Option<i64>,
    /// `Expires`, if given.
    pub expires: Option<OffsetDateTime>,
}

impl SetCookie {
    /// Parses a `Set-Cookie` header value; `None` if it is not a cookie.
    pub fn parse(header: &str) -> Option<Self> {
        let cookie = RawCookie::parse(header.to_owned()).ok()?;
        Some(Self {
            name: cookie.name().to_owned(),
            value: cookie.value().to_owned(),
            http_only: cookie.http_only().unwrap_or(false),
            secure: cookie.secure().unwrap_or(false),
            same_site: cookie.same_site().map(|s| s.to_string()),
            path: cookie.path().map(str::to_owned),
            domain: cookie.domain().map(str::to_owned),
            max_age: cookie.max_age().map(|d| d.whole_seconds()),
            expires: cookie.expires_datetime(),
        })
    }

    /// How long it lives from now: `Max-Age`, else `Expires`; `None` for a browser-session
    /// cookie.
    pub fn lifetime(&self, now: OffsetDateTime) -> Option<time::Duration> {
        self.max_age
            .map(time::Duration::seconds)
            .or_else(|| self.expires.map(|at| at - now))
    }

    /// Whether it deletes the cookie (an expiry already past, or an empty value with Max-Age 0).
    pub fn is_removal(&self, now: OffsetDateTime) -> bool {
        self.lifetime(now)
            .is_some_and(|left| left <= time::Duration::ZERO)
    }
}

/// The `Cookie` header for `url` (if any cookie goes) and the cookies left out, with reasons.
pub(super) fn request_cookies(
    jar: &CookieStore,
    url: &Url,
    enabled: bool,
    options: VisitOptions,
    now: OffsetDateTime,
    rules: Rules,
) -> (Option<String>, Vec<NotSent>) {
    let mut sent: Vec<&cookie_store::Cookie<'static>> = Vec::new();
    let mut not_sent = Vec::new();
    for cookie in jar.iter_any() {
        match not_sent_reason(cookie, url, enabled, options, now, rules) {
            None => sent.push(cookie),
            Some(reason) => not_sent.push(NotSent {
                key: key_of(cookie),
                reason,
            }),
        }
    }
    // RFC 6265 5.4: cookies with longer paths first.
    sent.sort_by_key(|c| std::cmp::Reverse(String::from(&c.path).len()));
    let header = sent
        .iter()
        .map(|c| format!("{}={}", c.name(), c.value()))
        .collect::<Vec<_>>()
        .join("; ");
    ((!header.is_empty()).then_some(header), not_sent)
}

/// Stores the cookies a response to `url` set, under the rules browsers apply, and drops
/// expired ones (a server deletes a cookie by sending it already expired). A `Max-Age` counts
/// from `now`, the lab's clock. Returns the cookies refused, with reasons.
pub(super) fn store_response_cookies<'a>(
    jar: &mut CookieStore,
    set_cookie_headers: impl Iterator<Item = &'a str>,
    url: &Url,
    enabled: bool,
    options: VisitOptions,
    now: OffsetDateTime,
    rules: Rules,
) -> Vec<Blocked> {
    let mut blocked = Vec::new();
    for header in set_cookie_headers {
        let mut cookie = match RawCookie::parse(header.to_owned()) {
            Ok(cookie) => cookie,
            Err(e) => {
                let name = header.split(['=', ';']).next().unwrap_or("").trim();
                blocked.push(Blocked {
                    name: name.chars().take(64).collect(),
                    reason: BlockedReason::Invalid(e.to_string()),
                });
                continue;
            }
        };
        let refusal = match (enabled, rules) {
            (false, _) => Some(BlockedReason::CookiesOff),
            (true, Rules::Browser) => refusal(&cookie, url, options),
            (true, Rules::Client) => None,
        };
        if let Some(reason) = refusal {
            blocked.push(Blocked {
                name: cookie.name().to_owned(),
                reason,
            });
            continue;
        }
        if let Some(age) = cookie.max_age() {
            // The jar would count Max-Age from the machine's clock; the lab's may be ahead.
            cookie.set_max_age(None);
            cookie.set_expires(now + age);
        }
        if let Err(e) = jar.insert_raw(&cookie, url) {
            let reason = match e {
                cookie_store::CookieError::DomainMismatch => BlockedReason::DomainMismatch {
                    domain: cookie.domain().unwrap_or_default().to_owned(),
                },
                // An already expired cookie with nothing to replace: nothing to keep.
                cookie_store::CookieError::Expired => continue,
                other => BlockedReason::Invalid(other.to_string()),
            };
            blocked.push(Blocked {
                name: cookie.name().to_owned(),
                reason,
            });
        }
    }
    drop_expired(jar, now);
    blocked
}

/// Removes the cookies expired by `now`; returns how many went.
pub(super) fn drop_expired(jar: &mut CookieStore, now: OffsetDateTime) -> usize {
    let expired: Vec<CookieKey> = jar
        .iter_any()
        .filter(|c| is_expired_at(c, now))
        .map(key_of)
        .collect();
    remove_all(jar, &expired);
    expired.len()
}

/// Why a browser would refuse `cookie` from a response to `url`, before the jar's own domain
/// rules (Chrome's and Firefox's rules for `Secure` and `SameSite`).
fn refusal(cookie: &RawCookie<'_>, url: &Url, options: VisitOptions) -> Option<BlockedReason> {
    let secure = cookie.secure().unwrap_or(false);
    if secure && !is_secure_context(url) {
        return Some(BlockedReason::SecureFromInsecure);
    }
    if cookie.same_site() == Some(SameSite::None) && !secure {
        return Some(BlockedReason::NoneWithoutSecure);
    }
    if !options.from.is_navigation() && options.from.is_cross_site(url) {
        match cookie.same_site() {
            Some(SameSite::None) => {}
            other => {
                return Some(BlockedReason::SameSite {
                    attribute: same_site_applied(other),
                    from: options.from,
                });
            }
        }
    }
    None
}

/// The `SameSite` a browser applies: the attribute, or Lax when there is none.
fn same_site_applied(attribute: Option<SameSite>) -> String {
    match attribute {
        Some(value) => value.to_string(),
        None => "Lax (by default)".to_owned(),
    }
}

/// Whether `cookie` has expired by `now` (the lab's clock, not the machine's).
fn is_expired_at(cookie: &cookie_store::Cookie<'_>, now: OffsetDateTime) -> bool {
    match cookie.expires {
        CookieExpiration::AtUtc(at) => at <= now,
        CookieExpiration::SessionEnd => false,
    }
}

/// Every cookie in the jar, sorted by domain, path and name.
pub(super) fn rows(jar: &CookieStore) -> Vec<CookieRow> {
    let mut rows: Vec<CookieRow> = jar
        .iter_any()
        .map(|cookie| {
            let (domain, host_only) = domain_of(cookie);
            CookieRow {
                name: cookie.name().to_owned(),
                value: cookie.value().to_owned(),
                domain,
                host_only,
                path: String::from(&cookie.path),
                expires: match cookie.expires {
                    CookieExpiration::AtUtc(at) => Some(at),
                    CookieExpiration::SessionEnd => None,
                },
                http_only: cookie.http_only().unwrap_or(false),
                secure: cookie.secure().unwrap_or(false),
                same_site: cookie.same_site().map(|s| s.to_string()),
            }
        })
        .collect();
    rows.sort_by(|a, b| (&a.domain, &a.path, &a.name).cmp(&(&b.domain, &b.path, &b.name)));
    rows
}

/// Puts `row` into the jar as it is, replacing any cookie with the same key.
pub(super) fn put(jar: &mut CookieStore, row: &CookieRow) -> Result<(), String> {
    let url = Url::parse(&format!("http://{}{}", row.domain, row.path))
        .map_err(|e| format!("cookie domain “{}” is not a host: {e}", row.domain))?;
    jar.insert_raw(&row.to_raw(), &url)
        .map(|_| ())
        .map_err(|e| format!("the jar refused the cookie: {e}"))
}

/// Closing a browser: session cookies go; a private browser loses everything.
pub(super) fn close(jar: &mut CookieStore, private: bool, now: OffsetDateTime) -> usize {
    let doomed: Vec<CookieKey> = jar
        .iter_any()
        .filter(|c| private || !c.is_persistent() || is_expired_at(c, now))
        .map(key_of)
        .collect();
    remove_all(jar, &doomed);
    doomed.len()
}

fn remove_all(jar: &mut CookieStore, keys: &[CookieKey]) {
    for key in keys {
        jar.remove(&key.domain, &key.path, &key.name);
    }
}

/// Why `cookie` would not go with a request to `url`, or `None` if it would.
fn not_sent_reason(
    cookie: &cookie_store::Cookie<'static>,
    url: &Url,
    enabled: bool,
    options: VisitOptions,
    now: OffsetDateTime,
    rules: Rules,
) -> Option<NotSentReason> {
    if !enabled {
        return Some(NotSentReason::CookiesOff);
    }
    if is_expired_at(cookie, now) {
        return Some(NotSentReason::Expired);
    }
    if !cookie.domain.matches(url) {
        let (domain, host_only) = domain_of(cookie);
        return Some(NotSentReason::DomainMismatch { domain, host_only });
    }
    if !cookie.path.matches(url) {
        return Some(NotSentReason::PathMismatch);
    }
    if rules == Rules::Client {
        return None;
    }
    if cookie.secure().unwrap_or(false) && !is_secure_context(url) {
        return Some(NotSentReason::SecureOnHttp);
    }
    if options.from.is_cross_site(url) {
        // A cross-site navigation carries Lax cookies (and those without SameSite, which
        // browsers treat as Lax), not Strict ones; a cross-site subresource only None ones.
        let same_site = cookie.same_site();
        let goes = match same_site {
            Some(SameSite::None) => true,
            Some(SameSite::Lax) | None => options.from.is_navigation(),
            Some(SameSite::Strict) => false,
        };
        if !goes {
            return Some(NotSentReason::SameSite {
                attribute: same_site_applied(same_site),
                from: options.from,
            });
        }
    }
    None
}

/// https, or http to this machine (browsers treat localhost as a secure context).
fn is_secure_context(url: &Url) -> bool {
    url.scheme() == "https"
        || match url.host() {
            Some(Host::Domain(d)) => d == "localhost",
            Some(Host::Ipv4(ip)) => ip.is_loopback(),
            Some(Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        }
}

fn key_of(cookie: &cookie_store::Cookie<'_>) -> CookieKey {
    CookieKey {
        domain: domain_of(cookie).0,
        path: String::from(&cookie.path),
        name: cookie.name().to_owned(),
    }
}

/// The cookie's domain, and whether it is host-only.
fn domain_of(cookie: &cookie_store::Cookie<'_>) -> (String, bool) {
    match &cookie.domain {
        CookieDomain::HostOnly(host) => (host.clone(), true),
        CookieDomain::Suffix(suffix) => (suffix.clone(), false),
        CookieDomain::NotPresent | CookieDomain::Empty => (String::new(), true),
    }
}

fn parse_same_site(text: &str) -> Option<SameSite> {
    match text.to_ascii_lowercase().as_str() {
        "strict" => Some(SameSite::Strict),
        "lax" => Some(SameSite::Lax),
        "none" => Some(SameSite::None),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::super::site::{APP_HOST, OTHER_SITE_HOST};
    use super::*;

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap()
    }

    fn store(
        jar: &mut CookieStore,
        set_cookies: &[&str],
        at: &str,
        from: RequestFrom,
    ) -> Vec<Blocked> {
        store_response_cookies(
            jar,
            set_cookies.iter().copied(),
            &url(at),
            true,
            VisitOptions { from },
            OffsetDateTime::now_utc(),
            Rules::Browser,
        )
    }

    fn jar_with(set_cookies: &[&str], at: &str) -> CookieStore {
        let mut jar = CookieStore::default();
        let blocked = store(&mut jar, set_cookies, at, RequestFrom::AddressBar);
        assert!(blocked.is_empty(), "{blocked:?}");
        jar
    }

    /// What a browser sends to `to` for a request from `from`, and what it keeps back.
    fn request(jar: &CookieStore, to: &str, from: RequestFrom) -> (Option<String>, Vec<NotSent>) {
        let options = VisitOptions { from };
        request_cookies(
            jar,
            &url(to),
            true,
            options,
            OffsetDateTime::now_utc(),
            Rules::Browser,
        )
    }

    fn header(jar: &CookieStore, to: &str, from: RequestFrom) -> Option<String> {
        request(jar, to, from).0
    }

    /// The cookies sent, sorted (cookies of equal path go in no set order).
    fn sent(jar: &CookieStore, to: &str, from: RequestFrom) -> Vec<String> {
        let mut sent: Vec<String> = header(jar, to, from)
            .unwrap_or_default()
            .split("; ")
            .filter(|c| !c.is_empty())
            .map(str::to_owned)
            .collect();
        sent.sort();
        sent
    }

    fn reasons(jar: &CookieStore, to: &str, from: RequestFrom) -> Vec<(String, NotSentReason)> {
        request(jar, to, from)
            .1
            .into_iter()
            .map(|n| (n.key.name, n.reason))
            .collect()
    }

    const HERE: &str = "http://127.0.0.1:3000/";
    const BAR: RequestFrom = RequestFrom::AddressBar;

    /// A cookie scoped to /admin is not sent to /, and the reason says path mismatch.
    #[test]
    fn path_mismatch_is_explained() {
        let jar = jar_with(
            &["a=1; Path=/admin", "b=2; Path=/"],
            "http://127.0.0.1:3000/admin",
        );
        assert_eq!(header(&jar, HERE, BAR).as_deref(), Some("b=2"));
        assert_eq!(
            reasons(&jar, HERE, BAR),
            [("a".to_owned(), NotSentReason::PathMismatch)]
        );
        assert_eq!(
            header(&jar, "http://127.0.0.1:3000/admin/x", BAR).as_deref(),
            Some("a=1; b=2"),
            "longer path first"
        );
    }

    /// A Secure cookie set over https is withheld from plain http to the same host.
    #[test]
    fn secure_on_http_is_explained() {
        let jar = jar_with(&["s=1; Secure"], "https://example.test/");
        assert_eq!(
            reasons(&jar, "http://example.test/", BAR),
            [("s".to_owned(), NotSentReason::SecureOnHttp)]
        );
        assert!(reasons(&jar, "https://example.test/", BAR).is_empty());
    }

    /// Plain http to a real name may not set a Secure cookie (localhost may), nor anyone a
    /// SameSite=None cookie without Secure: the refusals say why.
    #[test]
    fn insecure_origins_cannot_set_secure_cookies() {
        let mut jar = CookieStore::default();
        let blocked = store(
            &mut jar,
            &["s=1; Secure", "n=1; SameSite=None", "ok=1"],
            "http://app.lab.test/",
            BAR,
        );
        assert_eq!(
            blocked,
            [
                Blocked {
                    name: "s".to_owned(),
                    reason: BlockedReason::SecureFromInsecure
                },
                Blocked {
                    name: "n".to_owned(),
                    reason: BlockedReason::NoneWithoutSecure
                },
            ]
        );
        assert_eq!(rows(&jar).len(), 1);
        // Loopback is a secure context: the same cookie is kept there.
        assert!(store(&mut jar, &["s=1; Secure"], HERE, BAR).is_empty());
    }

    /// An expired cookie (its expiry passed on the lab's clock) is reported as expired.
    #[test]
    fn expired_is_explained() {
        let jar = jar_with(&["e=1; Max-Age=600"], HERE);
        let later = OffsetDateTime::now_utc() + time::Duration::minutes(11);
        let (header, not_sent) = request_cookies(
            &jar,
            &url(HERE),
            true,
            VisitOptions::default(),
            later,
            Rules::Browser,
        );
        assert_eq!(header, None);
        assert_eq!(not_sent[0].reason, NotSentReason::Expired);
    }

    /// A Max-Age counts from the lab's clock, so a clock ahead of the machine's does not
    /// make new cookies look old.
    #[test]
    fn max_age_counts_from_the_lab_clock() {
        let mut jar = CookieStore::default();
        let ahead = OffsetDateTime::now_utc() + time::Duration::days(2);
        let blocked = store_response_cookies(
            &mut jar,
            ["m=1; Max-Age=60"].into_iter(),
            &url(HERE),
            true,
            VisitOptions::default(),
            ahead,
            Rules::Browser,
        );
        assert!(blocked.is_empty());
        let expires = rows(&jar)[0].expires.unwrap();
        assert!((expires - ahead - time::Duration::seconds(60)).abs() < time::Duration::seconds(1));
        let (sent, _) = request_cookies(
            &jar,
            &url(HERE),
            true,
            VisitOptions::default(),
            ahead,
            Rules::Browser,
        );
        assert_eq!(sent.as_deref(), Some("m=1"));
    }

    /// A host-only cookie goes to exactly its host; a Domain=lab.test cookie to every
    /// subdomain; a Domain that does not cover the host is refused.
    #[test]
    fn domain_cookies_reach_sibling_subdomains() {
        let jar = jar_with(&["h=1", "d=1; Domain=lab.test"], "http://app.lab.test/");
        assert_eq!(
            header(&jar, "http://api.lab.test/", BAR).as_deref(),
            Some("d=1")
        );
        assert_eq!(
            reasons(&jar, "http://api.lab.test/", BAR),
            [(
                "h".to_owned(),
                NotSentReason::DomainMismatch {
                    domain: "app.lab.test".to_owned(),
                    host_only: true
                }
            )]
        );
        let elsewhere = reasons(&jar, "http://other-site.test/", BAR);
        let domain_cookie = elsewhere.iter().find(|(name, _)| name == "d").unwrap();
        assert_eq!(
            domain_cookie.1.to_string(),
            "for lab.test and its subdomains only"
        );
        let mut jar = CookieStore::default();
        let blocked = store(&mut jar, &["d=1; Domain=lab.test"], HERE, BAR);
        assert_eq!(
            blocked[0].reason,
            BlockedReason::DomainMismatch {
                domain: "lab.test".to_owned()
            }
        );
    }

    /// As in Chrome: a link from another site carries Lax cookies (and those without
    /// SameSite) but not Strict ones; an image on another site carries only None ones.
    #[test]
    fn same_site_depends_on_link_or_image() {
        let jar = jar_with(
            &[
                "strict=1; SameSite=Strict",
                "lax=1; SameSite=Lax",
                "none=1; SameSite=None; Secure",
                "unset=1",
            ],
            HERE,
        );
        let link = RequestFrom::Link(OTHER_SITE_HOST);
        let image = RequestFrom::Embed(OTHER_SITE_HOST);
        assert_eq!(
            sent(&jar, HERE, BAR),
            ["lax=1", "none=1", "strict=1", "unset=1"]
        );
        assert_eq!(sent(&jar, HERE, link), ["lax=1", "none=1", "unset=1"]);
        assert_eq!(
            reasons(&jar, HERE, link),
            [(
                "strict".to_owned(),
                NotSentReason::SameSite {
                    attribute: "Strict".to_owned(),
                    from: link
                }
            )]
        );
        assert_eq!(header(&jar, HERE, image).as_deref(), Some("none=1"));
        let mut withheld = reasons(&jar, HERE, image);
        withheld.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(withheld.len(), 3);
        assert!(
            withheld
                .iter()
                .all(|(_, r)| matches!(r, NotSentReason::SameSite { .. }))
        );
        assert_eq!(withheld[2].0, "unset");
        assert!(withheld[2].1.to_string().contains("Lax (by default)"));
        // An image on app.lab.test is same-site with api.lab.test: everything goes.
        let jar = jar_with(&["strict=1; SameSite=Strict"], "http://api.lab.test/");
        assert_eq!(
            header(&jar, "http://api.lab.test/", RequestFrom::Embed(APP_HOST)).as_deref(),
            Some("strict=1")
        );
    }

    /// The response to a cross-site image may set only SameSite=None cookies.
    #[test]
    fn cross_site_subresources_cannot_set_lax_cookies() {
        let mut jar = CookieStore::default();
        let image = RequestFrom::Embed(OTHER_SITE_HOST);
        let blocked = store(
            &mut jar,
            &["lax=1", "none=1; SameSite=None; Secure"],
            HERE,
            image,
        );
        assert_eq!(blocked.len(), 1);
        assert_eq!(blocked[0].name, "lax");
        assert!(
            store(
                &mut jar,
                &["lax=1"],
                HERE,
                RequestFrom::Link(OTHER_SITE_HOST)
            )
            .is_empty()
        );
    }

    /// A plain client keeps and sends what a browser would refuse or withhold.
    #[test]
    fn a_client_jar_keeps_what_a_browser_refuses() {
        let mut jar = CookieStore::default();
        let blocked = store_response_cookies(
            &mut jar,
            ["s=1; Secure", "n=1; SameSite=None"].into_iter(),
            &url("http://app.lab.test/"),
            true,
            VisitOptions::default(),
            OffsetDateTime::now_utc(),
            Rules::Client,
        );
        assert!(blocked.is_empty());
        let (sent, _) = request_cookies(
            &jar,
            &url("http://app.lab.test/"),
            true,
            VisitOptions {
                from: RequestFrom::Embed(OTHER_SITE_HOST),
            },
            OffsetDateTime::now_utc(),
            Rules::Client,
        );
        assert_eq!(sent.map(|h| h.len()), Some("s=1; n=1".len()));
    }

    /// Cookies off: nothing is stored, and each Set-Cookie says so.
    #[test]
    fn cookies_off_refuses_every_set_cookie() {
        let mut jar = CookieStore::default();
        let blocked = store_response_cookies(
            &mut jar,
            ["id=1"].into_iter(),
            &url(HERE),
            false,
            VisitOptions::default(),
            OffsetDateTime::now_utc(),
            Rules::Browser,
        );
        assert_eq!(blocked[0].reason, BlockedReason::CookiesOff);
        assert!(rows(&jar).is_empty());
    }

    /// A server deletes a cookie by expiring it; the jar drops it at once.
    #[test]
    fn expired_set_cookie_removes_the_cookie() {
        let mut jar = jar_with(&["id=1"], HERE);
        assert!(store(&mut jar, &["id=; Max-Age=0; Path=/"], HERE, BAR).is_empty());
        assert!(rows(&jar).is_empty());
    }

    /// Closing a normal browser keeps persistent cookies; a private one keeps nothing.
    #[test]
    fn closing_drops_session_cookies() {
        let now = OffsetDateTime::now_utc();
        let mut jar = jar_with(&["s=1", "p=1; Max-Age=600"], HERE);
        assert_eq!(close(&mut jar, false, now), 1);
        assert_eq!(rows(&jar)[0].name, "p");
        assert_eq!(close(&mut jar, true, now), 1);
        assert!(rows(&jar).is_empty());
    }
}
