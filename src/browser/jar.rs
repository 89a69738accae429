//! The cookie jar's rules, as a browser applies them: what is sent with a request and why the
//! rest is not, what is kept, and the rows the UI lists.

use std::fmt;

use cookie::SameSite;
use cookie_store::{CookieDomain, CookieExpiration, CookieStore, RawCookie};
use time::OffsetDateTime;
use url::{Host, Url};

/// How a visit is made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VisitOptions {
    /// The request comes from another site (an image or script embedded on evil.example):
    /// `SameSite=Strict` and `Lax` cookies stay home.
    pub cross_site: bool,
}

/// Why a cookie in the jar was not sent with a request (as DevTools explains it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NotSentReason {
    /// The browser has cookies turned off.
    CookiesOff,
    /// The cookie's expiry has passed.
    Expired,
    /// The cookie belongs to another host or domain.
    DomainMismatch,
    /// The request path is not under the cookie's path.
    PathMismatch,
    /// A `Secure` cookie is never sent over plain http (loopback counts as secure).
    SecureOnHttp,
    /// A cross-site request does not carry a cookie with this `SameSite` value.
    SameSite(String),
}

impl fmt::Display for NotSentReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::CookiesOff => f.write_str("cookies are off in this browser"),
            Self::Expired => f.write_str("expired"),
            Self::DomainMismatch => f.write_str("domain mismatch"),
            Self::PathMismatch => f.write_str("path mismatch"),
            Self::SecureOnHttp => f.write_str("Secure cookie on plain http"),
            Self::SameSite(value) => write!(f, "SameSite={value} on a cross-site request"),
        }
    }
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

/// One cookie in a browser's jar, with every attribute the jar keeps.
#[derive(Clone, Debug, PartialEq)]
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

/// The `Cookie` header for `url` (if any cookie goes) and the cookies left out, with reasons.
pub(super) fn request_cookies(
    jar: &CookieStore,
    url: &Url,
    enabled: bool,
    options: VisitOptions,
) -> (Option<String>, Vec<NotSent>) {
    let mut sent: Vec<&cookie_store::Cookie<'static>> = Vec::new();
    let mut not_sent = Vec::new();
    for cookie in jar.iter_any() {
        match not_sent_reason(cookie, url, enabled, options) {
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

/// Stores the cookies a response set at `url` and drops expired ones, as browsers do (a
/// server deletes a cookie by sending it already expired).
pub(super) fn store_response_cookies<'a>(
    jar: &mut CookieStore,
    set_cookie_headers: impl Iterator<Item = &'a str>,
    url: &Url,
) {
    let cookies = set_cookie_headers.filter_map(|v| RawCookie::parse(v.to_owned()).ok());
    jar.store_response_cookies(cookies, url);
    let expired: Vec<CookieKey> = jar
        .iter_any()
        .filter(|c| c.is_expired())
        .map(key_of)
        .collect();
    remove_all(jar, &expired);
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
pub(super) fn close(jar: &mut CookieStore, private: bool) -> usize {
    let doomed: Vec<CookieKey> = jar
        .iter_any()
        .filter(|c| private || !c.is_persistent() || c.is_expired())
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
) -> Option<NotSentReason> {
    if !enabled {
        return Some(NotSentReason::CookiesOff);
    }
    if cookie.is_expired() {
        return Some(NotSentReason::Expired);
    }
    if !cookie.domain.matches(url) {
        return Some(NotSentReason::DomainMismatch);
    }
    if !cookie.path.matches(url) {
        return Some(NotSentReason::PathMismatch);
    }
    if cookie.secure().unwrap_or(false) && !is_secure_context(url) {
        return Some(NotSentReason::SecureOnHttp);
    }
    if options.cross_site {
        // Browsers treat a cookie without SameSite as Lax; only None crosses sites.
        match cookie.same_site() {
            Some(SameSite::None) => {}
            Some(other) => return Some(NotSentReason::SameSite(other.to_string())),
            None => return Some(NotSentReason::SameSite("Lax (by default)".to_owned())),
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
    use super::*;

    fn jar_with(set_cookies: &[&str], at: &str) -> CookieStore {
        let mut jar = CookieStore::default();
        store_response_cookies(
            &mut jar,
            set_cookies.iter().copied(),
            &Url::parse(at).unwrap(),
        );
        jar
    }

    fn reasons(
        jar: &CookieStore,
        url: &str,
        options: VisitOptions,
    ) -> Vec<(String, NotSentReason)> {
        let (_, not_sent) = request_cookies(jar, &Url::parse(url).unwrap(), true, options);
        not_sent
            .into_iter()
            .map(|n| (n.key.name, n.reason))
            .collect()
    }

    /// A cookie scoped to /admin is not sent to /, and the reason says path mismatch.
    #[test]
    fn path_mismatch_is_explained() {
        let jar = jar_with(
            &["a=1; Path=/admin", "b=2; Path=/"],
            "http://127.0.0.1:3000/admin",
        );
        let (header, _) = request_cookies(
            &jar,
            &Url::parse("http://127.0.0.1:3000/").unwrap(),
            true,
            VisitOptions::default(),
        );
        assert_eq!(header.as_deref(), Some("b=2"));
        assert_eq!(
            reasons(&jar, "http://127.0.0.1:3000/", VisitOptions::default()),
            [("a".to_owned(), NotSentReason::PathMismatch)]
        );
        let (header, _) = request_cookies(
            &jar,
            &Url::parse("http://127.0.0.1:3000/admin/x").unwrap(),
            true,
            VisitOptions::default(),
        );
        assert_eq!(header.as_deref(), Some("a=1; b=2"), "longer path first");
    }

    /// A Secure cookie set for a real host over https is withheld from plain http.
    #[test]
    fn secure_on_http_is_explained() {
        let jar = jar_with(&["s=1; Secure"], "https://example.test/");
        assert_eq!(
            reasons(&jar, "http://example.test/", VisitOptions::default()),
            [("s".to_owned(), NotSentReason::SecureOnHttp)]
        );
        assert!(reasons(&jar, "https://example.test/", VisitOptions::default()).is_empty());
    }

    /// An expired cookie (put back by hand) is reported as expired, not sent.
    #[test]
    fn expired_is_explained() {
        let mut jar = jar_with(&["e=1; Max-Age=600"], "http://127.0.0.1:3000/");
        let mut row = rows(&jar).remove(0);
        // Expire it "later": rebuild it with a past expiry without going through the store's
        // own expiry check.
        row.expires = Some(OffsetDateTime::now_utc() + time::Duration::milliseconds(30));
        put(&mut jar, &row).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(60));
        assert_eq!(
            reasons(&jar, "http://127.0.0.1:3000/", VisitOptions::default()),
            [("e".to_owned(), NotSentReason::Expired)]
        );
    }

    /// Cookies go only to their own host; another host's request lists them as mismatched.
    #[test]
    fn domain_mismatch_is_explained() {
        let jar = jar_with(&["h=1"], "http://127.0.0.1:3000/");
        assert_eq!(
            reasons(&jar, "http://localhost:3000/", VisitOptions::default()),
            [("h".to_owned(), NotSentReason::DomainMismatch)]
        );
    }

    /// Cross-site requests carry only SameSite=None cookies.
    #[test]
    fn same_site_is_explained() {
        let jar = jar_with(
            &[
                "strict=1; SameSite=Strict",
                "lax=1; SameSite=Lax",
                "none=1; SameSite=None; Secure",
                "unset=1",
            ],
            "http://127.0.0.1:3000/",
        );
        let cross = VisitOptions { cross_site: true };
        let (header, _) = request_cookies(
            &jar,
            &Url::parse("http://127.0.0.1:3000/").unwrap(),
            true,
            cross,
        );
        assert_eq!(header.as_deref(), Some("none=1"));
        let reasons = reasons(&jar, "http://127.0.0.1:3000/", cross);
        assert_eq!(reasons.len(), 3);
        assert!(
            reasons
                .iter()
                .all(|(_, r)| matches!(r, NotSentReason::SameSite(_)))
        );
    }

    /// A server deletes a cookie by expiring it; the jar drops it at once.
    #[test]
    fn expired_set_cookie_removes_the_cookie() {
        let mut jar = jar_with(&["id=1"], "http://127.0.0.1:3000/");
        store_response_cookies(
            &mut jar,
            ["id=; Max-Age=0; Path=/"].into_iter(),
            &Url::parse("http://127.0.0.1:3000/").unwrap(),
        );
        assert!(rows(&jar).is_empty());
    }

    /// Closing a normal browser keeps persistent cookies; a private one keeps nothing.
    #[test]
    fn closing_drops_session_cookies() {
        let mut jar = jar_with(&["s=1", "p=1; Max-Age=600"], "http://127.0.0.1:3000/");
        assert_eq!(close(&mut jar, false), 1);
        assert_eq!(rows(&jar)[0].name, "p");
        assert_eq!(close(&mut jar, true), 1);
        assert!(rows(&jar).is_empty());
    }
}
