//! The cookie jar, as Chrome keeps one: RFC 6265bis §5.7 (what a response may store) and §5.8
//! (what a request carries, in which order), with Chrome's choices where it departs from the
//! RFC (`net/cookies/canonical_cookie.cc`, `cookie_monster.cc`, `cookie_util.cc`), each named
//! where it is made. Every refusal and every cookie left out carries its reason, as DevTools
//! shows them.
//!
//! The jar is the lab's own rather than `cookie_store`'s: RFC 6265bis keys a cookie by name,
//! domain, host-only flag and path and orders the `Cookie` header by creation time, and
//! `cookie_store` keeps neither the flag apart nor any creation time.
//!
//! Why one file of about a thousand lines: storing (§5.7) and sending (§5.8) share the jar's
//! private index, its eviction and its clock; split, each half would reach into the other's
//! internals. The parsing (`set_cookie.rs`) and the site rules (`site.rs`) stand apart, and the
//! tests are in `jar/tests.rs`.

use std::{collections::HashMap, fmt};

use time::OffsetDateTime;
use url::{Host, Url};

use crate::set_cookie::{ParseRefusal, SameSite, SetCookie};
use crate::site::{
    Page, RequestFrom, is_public_suffix, is_secure_context, registrable_domain, site,
};

/// The most cookies one site (registrable domain) keeps; past it the oldest go, those without
/// `Secure` first, down to [`SITE_COOKIES_AFTER_PURGE`] (Chrome's `kDomainMaxCookies`).
pub const MAX_COOKIES_PER_SITE: usize = 180;
/// What a purge of one site leaves (Chrome's `kDomainPurgeCookies` = 30 fewer).
pub const SITE_COOKIES_AFTER_PURGE: usize = 150;
/// The most cookies a jar keeps (Chrome's `kMaxCookies`); a purge leaves 3,000.
pub const MAX_COOKIES: usize = 3300;
/// What a purge of the whole jar leaves (Chrome's `kPurgeCookies` = 300 fewer).
pub const COOKIES_AFTER_PURGE: usize = 3000;

/// How long a cookie without `SameSite` still goes with a cross-site top-level POST after it
/// was set: Chrome's "Lax-allowing-unsafe" (`kLaxAllowUnsafeMaxAge`, 2 minutes), kept so that
/// sites relying on a cross-site POST right after login did not break when Lax became the
/// default. WPT does not model it.
pub const LAX_ALLOWING_UNSAFE_SECS: i64 = 120;

/// How a visit is made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VisitOptions {
    /// Where the request comes from: the address bar, or a link or an image on some site's
    /// page (which decides which `SameSite` cookies go along).
    pub from: RequestFrom,
    /// The frame whose document makes the request, when that is not the top-level page of
    /// `from` (an iframe that navigates itself): its site counts too.
    pub frame: Option<Page>,
}

/// One request as the jar judges it for `SameSite` (RFC 6265bis §5.2, as Chrome computes it):
/// where it came from and whether its method is safe.
///
/// Chrome departs from the RFC and WPT on redirects: it compares the page that started a
/// request with each URL it reaches, not with every hop on the way, so a same-site request
/// that bounces through another site comes back same-site (Chromium's
/// `kCookieSameSiteConsidersRedirectChain`, off by default; measured with Chromium 156 by
/// `bench/tools/chromium-compare.sh`). The lab does what Chrome does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RequestContext {
    /// Where the request started.
    pub from: RequestFrom,
    /// The frame whose document made it, when not the top-level page.
    pub frame: Option<Page>,
    /// The method is not a safe one (a form's POST).
    pub unsafe_method: bool,
}

impl RequestContext {
    /// Whether a request to `url` is cross-site: the top-level page's site, or the requesting
    /// frame's, differs from the URL's.
    pub fn is_cross_site(&self, url: &Url) -> bool {
        self.from.is_cross_site(url)
            || self
                .frame
                .and_then(Page::url)
                .is_some_and(|frame| site(&frame) != site(url))
    }
}

/// Which rules the jar applies beyond domain, path and expiry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Rules {
    /// A browser's (Chrome's): Secure only over https (and to localhost), SameSite by where
    /// the request came from, prefixes, the public suffix list, refusals of Secure from http
    /// and None without Secure.
    #[default]
    Browser,
    /// A plain HTTP client's, for probing a server (the audit): every cookie the server sets
    /// is kept and sent back, whatever its Secure, SameSite and prefix say.
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
        /// The request is a POST (Lax cookies go only with safe methods).
        unsafe_method: bool,
    },
    /// A `Partitioned` cookie goes only to requests under the top-level site it was set under.
    Partitioned {
        /// The top-level site it was set under.
        partition: String,
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
            Self::SameSite {
                attribute,
                from,
                unsafe_method,
            } => {
                write!(
                    f,
                    "SameSite={attribute}, and this is {}",
                    from.describe_cross_site()
                )?;
                if *unsafe_method {
                    f.write_str(" with POST (Lax goes only with GET)")?;
                }
                Ok(())
            }
            Self::Partitioned { partition } => write!(
                f,
                "Partitioned: kept for pages under {partition}, this request is under another top-level site"
            ),
        }
    }
}

/// A cookie name prefix and what it demands (RFC 6265bis §4.1.3; `__Http-` and
/// `__Host-Http-` from the layered-cookies draft, which Chrome ships).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prefix {
    /// `__Secure-`: Secure.
    Secure,
    /// `__Host-`: Secure, `Path=/`, no `Domain`.
    Host,
    /// `__Http-`: Secure and HttpOnly.
    Http,
    /// `__Host-Http-`: all of `__Host-`, and HttpOnly.
    HostHttp,
}

impl Prefix {
    /// The prefix a cookie name starts with (matched without regard to case, as RFC 6265bis
    /// and current Chrome do), the longest first.
    pub fn of(name: &str) -> Option<Self> {
        let starts = |prefix: &str| {
            name.len() >= prefix.len() && name[..prefix.len()].eq_ignore_ascii_case(prefix)
        };
        [
            ("__Host-Http-", Self::HostHttp),
            // The draft's first spelling, which WPT's `__HostHttp.https.html` still tests.
            ("__HostHttp-", Self::HostHttp),
            ("__Secure-", Self::Secure),
            ("__Host-", Self::Host),
            ("__Http-", Self::Http),
        ]
        .into_iter()
        .find(|(text, _)| name.is_char_boundary(text.len()) && starts(text))
        .map(|(_, prefix)| prefix)
    }

    /// The prefix as written.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Secure => "__Secure-",
            Self::Host => "__Host-",
            Self::Http => "__Http-",
            Self::HostHttp => "__Host-Http-",
        }
    }

    /// What it demands, in words.
    pub fn needs(self) -> &'static str {
        match self {
            Self::Secure => "Secure",
            Self::Host => "Secure, Path=/ and no Domain",
            Self::Http => "Secure and HttpOnly",
            Self::HostHttp => "Secure, HttpOnly, Path=/ and no Domain",
        }
    }

    /// Whether a cookie with these attributes meets it.
    fn is_met_by(self, cookie: &SetCookie) -> bool {
        let host = cookie.secure && cookie.domain.is_none() && cookie.path.as_deref() == Some("/");
        match self {
            Self::Secure => cookie.secure,
            Self::Host => host,
            Self::Http => cookie.secure && cookie.http_only,
            Self::HostHttp => host && cookie.http_only,
        }
    }
}

/// Why a `Set-Cookie` of a response (or a cookie edited or imported by hand) was not stored,
/// as DevTools explains it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BlockedReason {
    /// The browser has cookies turned off.
    CookiesOff,
    /// The line is no cookie at all.
    Malformed(ParseRefusal),
    /// `Secure` from a page that is not a secure context: browsers let only https (and
    /// localhost) set a `Secure` cookie.
    SecureFromInsecure,
    /// `SameSite=None` without `Secure`: browsers refuse it.
    NoneWithoutSecure,
    /// `Partitioned` without `Secure`: Chrome refuses it.
    PartitionedWithoutSecure,
    /// The `Domain` attribute does not cover the host that set it.
    DomainMismatch {
        /// The `Domain` attribute.
        domain: String,
    },
    /// The `Domain` attribute is a public suffix (`org`, `co.uk`): no site may set a cookie
    /// for all of it.
    DomainIsPublicSuffix {
        /// The `Domain` attribute.
        domain: String,
    },
    /// The `Domain` attribute is not a host name.
    DomainInvalid {
        /// The `Domain` attribute.
        domain: String,
    },
    /// The name's prefix demands attributes the cookie lacks.
    Prefix(Prefix),
    /// A nameless cookie whose value starts like a prefixed name (it would read as one in
    /// `document.cookie`).
    NamelessWithPrefix,
    /// An insecure origin may not overwrite or shadow a `Secure` cookie of the same name
    /// ("Leave Secure Cookies Alone", RFC 6265bis §5.7 step 16).
    WouldOverwriteSecure,
    /// The response to a cross-site subresource request may set only `SameSite=None` cookies.
    SameSite {
        /// The cookie's `SameSite`, as the browser applies it.
        attribute: String,
        /// Where the request came from.
        from: RequestFrom,
    },
    /// A name or value a `Cookie` header cannot carry (an edit or an import).
    InvalidCharacter {
        /// "name" or "value".
        part: &'static str,
        /// The character.
        character: char,
    },
    /// A path that does not start with `/` (an edit or an import).
    InvalidPath,
    /// Its expiry has already passed (an edit or an import).
    AlreadyExpired,
}

impl fmt::Display for BlockedReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::CookiesOff => f.write_str("cookies are off in this browser"),
            Self::Malformed(why) => write!(f, "not a cookie: {why}"),
            Self::SecureFromInsecure => f.write_str(
                "Secure, but set over plain http (only https and localhost may set Secure cookies)",
            ),
            Self::NoneWithoutSecure => f.write_str("SameSite=None without Secure"),
            Self::PartitionedWithoutSecure => f.write_str("Partitioned without Secure"),
            Self::DomainMismatch { domain } => {
                write!(f, "Domain={domain} does not cover the host that set it")
            }
            Self::DomainIsPublicSuffix { domain } => {
                write!(f, "Domain={domain} is a public suffix")
            }
            Self::DomainInvalid { domain } => write!(f, "Domain={domain} is not a host name"),
            Self::Prefix(prefix) => write!(f, "`{}` needs {}", prefix.as_str(), prefix.needs()),
            Self::NamelessWithPrefix => {
                f.write_str("a nameless cookie whose value starts with a name prefix")
            }
            Self::WouldOverwriteSecure => f.write_str("would overwrite a Secure cookie from http"),
            Self::SameSite { attribute, from } => write!(
                f,
                "SameSite={attribute} in the response to {}",
                from.describe_cross_site()
            ),
            Self::InvalidCharacter { part, character } => {
                write!(
                    f,
                    "the {part} contains {character:?}, which a Cookie header cannot carry"
                )
            }
            Self::InvalidPath => f.write_str("the path does not start with /"),
            Self::AlreadyExpired => f.write_str("its expiry has already passed"),
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

/// Names one cookie in a jar: name, domain, host-only flag, path (RFC 6265bis §5.7) and, for a
/// `Partitioned` cookie, its top-level site together are unique.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CookieKey {
    /// The domain (without a leading dot).
    pub domain: String,
    /// A host-only cookie of `domain` and a `Domain=domain` cookie are two cookies.
    pub host_only: bool,
    /// The path.
    pub path: String,
    /// The name.
    pub name: String,
    /// The top-level site a `Partitioned` cookie belongs to.
    pub partition: Option<String>,
}

/// One cookie in a browser's jar, with every attribute the jar keeps (saved with a lab as it
/// is, the expiry as Unix seconds).
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct CookieRow {
    /// The cookie's name (empty for a nameless cookie).
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
    #[cfg_attr(feature = "serde", serde(with = "time::serde::timestamp::option"))]
    pub expires: Option<OffsetDateTime>,
    /// Hidden from page scripts.
    pub http_only: bool,
    /// Sent over https only.
    pub secure: bool,
    /// The `SameSite` attribute, if set.
    pub same_site: Option<String>,
    /// For a `Partitioned` (CHIPS) cookie, the top-level site it is kept under.
    #[cfg_attr(feature = "serde", serde(default))]
    pub partition: Option<String>,
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
            host_only: self.host_only,
            path: self.path.clone(),
            name: self.name.clone(),
            partition: self.partition.clone(),
        }
    }

    /// Whether its expiry has passed at `now`.
    pub fn is_expired_at(&self, now: OffsetDateTime) -> bool {
        self.expires.is_some_and(|at| at <= now)
    }

    /// The cookie as a `Cookie` header writes it: `name=value`, or the value alone for a
    /// nameless cookie (Chrome).
    pub fn pair(&self) -> String {
        if self.name.is_empty() {
            self.value.clone()
        } else {
            format!("{}={}", self.name, self.value)
        }
    }

    /// The `SameSite` the browser applies: the attribute, or Lax when there is none.
    fn same_site_applied(&self) -> String {
        same_site_applied(self.same_site.as_deref().and_then(SameSite::parse))
    }

    /// Whether it would go to `host` (on some path and scheme): the host itself, or for a
    /// domain cookie its subdomains too.
    pub fn domain_matches(&self, host: &str) -> bool {
        if self.host_only {
            host.eq_ignore_ascii_case(&self.domain)
        } else {
            domain_matches(host, &self.domain)
        }
    }
}

/// A cookie as the jar holds it: the row and the order it was created in (a cookie replaced
/// with the same value keeps its original creation, RFC 6265bis §5.7 step 22; with another
/// value it is created anew, as in Chrome).
#[derive(Clone, Debug)]
struct Stored {
    row: CookieRow,
    created: u64,
    created_at: OffsetDateTime,
    /// The site its domain counts under for Chrome's per-site limit.
    site: String,
}

/// A browser's cookies.
#[derive(Clone, Debug, Default)]
pub struct Jar {
    cookies: HashMap<CookieKey, Stored>,
    /// The creation number the next new cookie gets.
    next_created: u64,
    /// How many cookies each site holds (for Chrome's per-site limit, without a scan).
    per_site: HashMap<String, usize>,
    /// No cookie expires before this (it may be earlier than the earliest: it is only lowered
    /// between the scans that drop expired cookies), so most responses skip that scan.
    next_expiry: Option<OffsetDateTime>,
}

impl Jar {
    /// The `Cookie` header for `url` (if any cookie goes) and the cookies left out, with
    /// reasons. Cookies go longest path first, then oldest first (RFC 6265bis §5.8.3 step 2).
    pub fn request_cookies(
        &self,
        url: &Url,
        enabled: bool,
        context: RequestContext,
        now: OffsetDateTime,
        rules: Rules,
    ) -> (Option<String>, Vec<NotSent>) {
        let request = Request::of(url, context);
        let mut sent: Vec<&Stored> = Vec::new();
        let mut not_sent = Vec::new();
        for stored in self.cookies.values() {
            match not_sent_reason(stored, &request, enabled, now, rules) {
                None => sent.push(stored),
                Some(reason) => not_sent.push(NotSent {
                    key: stored.row.key(),
                    reason,
                }),
            }
        }
        sent.sort_by(|a, b| {
            b.row
                .path
                .len()
                .cmp(&a.row.path.len())
                .then(a.created.cmp(&b.created))
        });
        let header = sent
            .iter()
            .map(|c| c.row.pair())
            .collect::<Vec<_>>()
            .join("; ");
        ((!header.is_empty()).then_some(header), not_sent)
    }

    /// Stores the cookies a response to `url` set (each header's raw bytes), under the rules
    /// browsers apply, and drops expired ones (a server deletes a cookie by sending it already
    /// expired). A `Max-Age` counts from `now`, the lab's clock. Returns the cookies refused,
    /// with reasons.
    pub fn store_response<'a>(
        &mut self,
        set_cookie_headers: impl Iterator<Item = &'a [u8]>,
        url: &Url,
        enabled: bool,
        context: RequestContext,
        now: OffsetDateTime,
        rules: Rules,
    ) -> Vec<Blocked> {
        let mut blocked = Vec::new();
        for bytes in set_cookie_headers {
            let refuse = |reason| Blocked {
                name: name_of_line(&String::from_utf8_lossy(bytes)),
                reason,
            };
            // Bytes that are not UTF-8 are kept as they came, as Chrome keeps them (`raw`).
            let header = crate::raw::text_of_bytes(bytes);
            let header = header.as_ref();
            if !enabled {
                blocked.push(refuse(BlockedReason::CookiesOff));
                continue;
            }
            let cookie = match SetCookie::read(header) {
                Ok(cookie) => cookie,
                Err(why) => {
                    blocked.push(refuse(BlockedReason::Malformed(why)));
                    continue;
                }
            };
            if let Err(reason) = self.store(&cookie, url, context, now, rules) {
                blocked.push(Blocked {
                    name: cookie.name.clone(),
                    reason,
                });
            }
        }
        self.drop_expired(now);
        blocked
    }

    /// Stores one parsed cookie received from `url` (RFC 6265bis §5.7), or says why not.
    fn store(
        &mut self,
        cookie: &SetCookie,
        url: &Url,
        context: RequestContext,
        now: OffsetDateTime,
        rules: Rules,
    ) -> Result<(), BlockedReason> {
        let row = admit(cookie, url, context, now, rules)?;
        // Leave Secure Cookies Alone: the one rule that depends on what the jar holds.
        if rules == Rules::Browser
            && !row.secure
            && !is_secure_context(url)
            && self.shadows_secure(&row)
        {
            return Err(BlockedReason::WouldOverwriteSecure);
        }
        self.insert(row, now);
        Ok(())
    }

    /// Whether a cookie from an insecure origin would overwrite or shadow a `Secure` one: same
    /// name, one domain within the other, its path within the Secure one's.
    fn shadows_secure(&self, new: &CookieRow) -> bool {
        self.cookies.values().any(|stored| {
            let old = &stored.row;
            old.secure
                && old.name == new.name
                && (domain_matches(&new.domain, &old.domain)
                    || domain_matches(&old.domain, &new.domain))
                && path_matches(&new.path, &old.path)
        })
    }

    /// Puts `row` in the jar, replacing the cookie with its key (which keeps its creation when
    /// the value is the same);
    /// an expired row only removes. Then keeps the jar within Chrome's limits.
    fn insert(&mut self, row: CookieRow, now: OffsetDateTime) {
        let key = row.key();
        if row.is_expired_at(now) {
            self.take(&key);
            return;
        }
        if let Some(at) = row.expires {
            self.next_expiry = Some(self.next_expiry.map_or(at, |next| next.min(at)));
        }
        let (created, created_at, site) = match self.cookies.get(&key) {
            // The same value keeps its place in the `Cookie` header (RFC 6265bis §5.7 step
            // 22); a new value is a new cookie there, at the end (Chrome's
            // `CookieMonster::MaybeDeleteEquivalentCookieAndUpdateStatus` inherits the creation
            // date only when the value is unchanged).
            Some(old) if old.row.value == row.value => {
                (old.created, old.created_at, old.site.clone())
            }
            Some(old) => {
                self.next_created += 1;
                (self.next_created, now, old.site.clone())
            }
            None => {
                self.next_created += 1;
                let site = site_of_domain(&row.domain).to_owned();
                *self.per_site.entry(site.clone()).or_default() += 1;
                (self.next_created, now, site)
            }
        };
        self.cookies.insert(
            key,
            Stored {
                row,
                created,
                created_at,
                site: site.clone(),
            },
        );
        self.purge(&site);
    }

    /// Chrome's garbage collection: a site over its limit loses its oldest cookies (without
    /// `Secure` first), and so does a jar over its own.
    fn purge(&mut self, site: &str) {
        if self
            .per_site
            .get(site)
            .is_some_and(|n| *n > MAX_COOKIES_PER_SITE)
        {
            let of_site: Vec<(&CookieKey, &Stored)> = self
                .cookies
                .iter()
                .filter(|(_, s)| s.site == site)
                .collect();
            for key in oldest(of_site, SITE_COOKIES_AFTER_PURGE) {
                self.take(&key);
            }
        }
        if self.cookies.len() > MAX_COOKIES {
            for key in oldest(self.cookies.iter().collect(), COOKIES_AFTER_PURGE) {
                self.take(&key);
            }
        }
    }

    /// Removes one cookie, keeping the per-site count.
    fn take(&mut self, key: &CookieKey) -> Option<Stored> {
        let stored = self.cookies.remove(key)?;
        if let Some(count) = self.per_site.get_mut(&stored.site) {
            *count -= 1;
            if *count == 0 {
                self.per_site.remove(&stored.site);
            }
        }
        Some(stored)
    }

    /// Keeps the cookies `keep` says yes to; returns how many went. Finds the next expiry anew.
    fn retain(&mut self, mut keep: impl FnMut(&CookieRow) -> bool) -> usize {
        let before = self.cookies.len();
        let per_site = &mut self.per_site;
        let mut next_expiry: Option<OffsetDateTime> = None;
        self.cookies.retain(|_, s| {
            if keep(&s.row) {
                if let Some(at) = s.row.expires {
                    next_expiry = Some(next_expiry.map_or(at, |next| next.min(at)));
                }
                return true;
            }
            if let Some(count) = per_site.get_mut(&s.site) {
                *count -= 1;
            }
            false
        });
        self.per_site.retain(|_, count| *count > 0);
        self.next_expiry = next_expiry;
        before - self.cookies.len()
    }

    /// Removes the cookies expired by `now`; returns how many went.
    pub fn drop_expired(&mut self, now: OffsetDateTime) -> usize {
        if self.next_expiry.is_none_or(|next| next > now) {
            return 0;
        }
        self.retain(|row| !row.is_expired_at(now))
    }

    /// Every cookie in the jar, sorted by domain, path and name.
    pub fn rows(&self) -> Vec<CookieRow> {
        let mut rows: Vec<CookieRow> = self.cookies.values().map(|s| s.row.clone()).collect();
        rows.sort_by(|a, b| {
            (&a.domain, &a.path, &a.name, a.host_only).cmp(&(
                &b.domain,
                &b.path,
                &b.name,
                b.host_only,
            ))
        });
        rows
    }

    /// The cookie with `key`, if the jar holds it.
    pub fn get(&self, key: &CookieKey) -> Option<&CookieRow> {
        self.cookies.get(key).map(|stored| &stored.row)
    }

    /// Empties the jar; returns how many cookies it held.
    pub fn clear(&mut self) -> usize {
        let count = self.cookies.len();
        *self = Self {
            next_created: self.next_created,
            ..Self::default()
        };
        count
    }

    /// Deletes one cookie; returns whether it was there.
    pub fn remove(&mut self, key: &CookieKey) -> bool {
        self.take(key).is_some()
    }

    /// Puts `row` into the jar by hand (an edit, a copy from another jar, an import), under
    /// the same rules a response from the cookie's own origin would meet (https when it is
    /// `Secure`); replaces any cookie with the same key. An expiry past Chrome's 400 days is
    /// cut to it.
    pub fn put(
        &mut self,
        row: &CookieRow,
        now: OffsetDateTime,
        rules: Rules,
    ) -> Result<(), BlockedReason> {
        check_pair(&row.name, &row.value)?;
        if row.is_expired_at(now) {
            return Err(BlockedReason::AlreadyExpired);
        }
        if !row.path.starts_with('/') {
            return Err(BlockedReason::InvalidPath);
        }
        let scheme = if row.secure { "https" } else { "http" };
        let host = row.domain.trim_start_matches('.');
        let url = Url::parse(&format!("{scheme}://{host}{}", row.path)).map_err(|_| {
            BlockedReason::DomainInvalid {
                domain: row.domain.clone(),
            }
        })?;
        let cookie = SetCookie {
            name: row.name.clone(),
            value: row.value.clone(),
            http_only: row.http_only,
            secure: row.secure,
            same_site: row.same_site.clone(),
            partitioned: row.partition.is_some(),
            path: Some(row.path.clone()),
            domain: (!row.host_only).then(|| row.domain.clone()),
            max_age: None,
            expires: row.expires,
        };
        let mut admitted = admit(&cookie, &url, RequestContext::default(), now, rules)?;
        // The partition a copied cookie came with is kept, not recomputed from its domain.
        admitted.partition = row.partition.clone();
        self.insert(admitted, now);
        Ok(())
    }

    /// Closing a browser: session cookies go; a private browser loses everything.
    pub fn close(&mut self, private: bool, now: OffsetDateTime) -> usize {
        self.retain(|row| !private && row.expires.is_some() && !row.is_expired_at(now))
    }
}

/// The cookie a response to `url` would store, by every rule of RFC 6265bis §5.7 and Chrome
/// that does not depend on what the jar already holds; or why it would not be stored.
fn admit(
    cookie: &SetCookie,
    url: &Url,
    context: RequestContext,
    now: OffsetDateTime,
    rules: Rules,
) -> Result<CookieRow, BlockedReason> {
    let browser = rules == Rules::Browser;
    let secure_origin = is_secure_context(url);
    let (domain, host_only) = cookie_domain(cookie.domain.as_deref(), url, browser)?;
    let path = cookie.path.clone().unwrap_or_else(|| default_path(url));
    if browser {
        if cookie.secure && !secure_origin {
            return Err(BlockedReason::SecureFromInsecure);
        }
        if cookie.same_site() == Some(SameSite::None) && !cookie.secure {
            return Err(BlockedReason::NoneWithoutSecure);
        }
        if cookie.partitioned && !cookie.secure {
            return Err(BlockedReason::PartitionedWithoutSecure);
        }
        if context.is_cross_site(url)
            && !context.from.is_navigation()
            && cookie.same_site() != Some(SameSite::None)
        {
            return Err(BlockedReason::SameSite {
                attribute: same_site_applied(cookie.same_site()),
                from: context.from,
            });
        }
        if cookie.name.is_empty() && Prefix::of(&cookie.value).is_some() {
            return Err(BlockedReason::NamelessWithPrefix);
        }
        if let Some(prefix) = Prefix::of(&cookie.name)
            && !prefix.is_met_by(cookie)
        {
            return Err(BlockedReason::Prefix(prefix));
        }
    }
    let partition = (browser && cookie.partitioned).then(|| context.from.top_level_site(url));
    Ok(CookieRow {
        name: cookie.name.clone(),
        value: cookie.value.clone(),
        domain,
        host_only,
        path,
        expires: cookie.expiry(now),
        http_only: cookie.http_only,
        secure: cookie.secure,
        same_site: cookie.same_site.clone(),
        partition,
    })
}

/// The keys of the oldest cookies beyond the `keep` newest, those without `Secure` first.
fn oldest(mut cookies: Vec<(&CookieKey, &Stored)>, keep: usize) -> Vec<CookieKey> {
    let excess = cookies.len().saturating_sub(keep);
    cookies.sort_by_key(|(_, s)| (s.row.secure, s.created));
    cookies
        .into_iter()
        .take(excess)
        .map(|(key, _)| key.clone())
        .collect()
}

/// The site a cookie's domain counts under for the per-site limit.
fn site_of_domain(domain: &str) -> &str {
    registrable_domain(domain).unwrap_or(domain)
}

/// What the jar asks of a request for every cookie, worked out once per request rather than
/// once per cookie (a site is a public-suffix lookup).
struct Request<'a> {
    host: &'a str,
    path: &'a str,
    secure: bool,
    cross_site: bool,
    top_level_site: String,
    context: RequestContext,
}

impl<'a> Request<'a> {
    fn of(url: &'a Url, context: RequestContext) -> Self {
        Self {
            host: url.host_str().unwrap_or_default(),
            path: url.path(),
            secure: is_secure_context(url),
            cross_site: context.is_cross_site(url),
            top_level_site: context.from.top_level_site(url),
            context,
        }
    }
}

/// Why `stored` would not go with `request`, or `None` if it would.
fn not_sent_reason(
    stored: &Stored,
    request: &Request<'_>,
    enabled: bool,
    now: OffsetDateTime,
    rules: Rules,
) -> Option<NotSentReason> {
    let cookie = &stored.row;
    let context = request.context;
    if !enabled {
        return Some(NotSentReason::CookiesOff);
    }
    if cookie.is_expired_at(now) {
        return Some(NotSentReason::Expired);
    }
    if !cookie.domain_matches(request.host) {
        return Some(NotSentReason::DomainMismatch {
            domain: cookie.domain.clone(),
            host_only: cookie.host_only,
        });
    }
    if !path_matches(request.path, &cookie.path) {
        return Some(NotSentReason::PathMismatch);
    }
    if rules == Rules::Client {
        return None;
    }
    if cookie.secure && !request.secure {
        return Some(NotSentReason::SecureOnHttp);
    }
    if let Some(partition) = &cookie.partition
        && *partition != request.top_level_site
    {
        return Some(NotSentReason::Partitioned {
            partition: partition.clone(),
        });
    }
    if request.cross_site {
        let same_site = cookie.same_site.as_deref().and_then(SameSite::parse);
        let navigation = context.from.is_navigation();
        let goes = match same_site {
            Some(SameSite::None) => true,
            Some(SameSite::Strict) => false,
            Some(SameSite::Lax) => navigation && !context.unsafe_method,
            // Lax by default; Chrome still lets a young one go with a cross-site top-level POST.
            None => {
                navigation
                    && (!context.unsafe_method
                        || (now - stored.created_at).whole_seconds() < LAX_ALLOWING_UNSAFE_SECS)
            }
        };
        if !goes {
            return Some(NotSentReason::SameSite {
                attribute: cookie.same_site_applied(),
                from: context.from,
                unsafe_method: context.unsafe_method && navigation,
            });
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

/// The domain a cookie from `url` is kept under, and whether it is host-only: Chrome's
/// `cookie_util::GetCookieDomainWithString`. With `Domain`, the host must be the domain or a
/// subdomain of it, and both must have the same registrable domain (so a public suffix is
/// refused); a host without one (an IP address, `localhost`, a suffix itself) may name only
/// itself, which makes a host-only cookie.
fn cookie_domain(
    attribute: Option<&str>,
    url: &Url,
    browser: bool,
) -> Result<(String, bool), BlockedReason> {
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    let Some(attribute) = attribute else {
        return Ok((host, true));
    };
    let written = attribute.to_owned();
    let invalid = || BlockedReason::DomainInvalid {
        domain: written.clone(),
    };
    let stripped = attribute.strip_prefix('.').unwrap_or(attribute);
    // Chrome: a `Domain` of a lone dot canonicalises to no host at all, and refuses the
    // cookie (`cookie_util::GetCookieDomainWithString`), where the RFC would ignore it.
    if attribute == "." {
        return Err(invalid());
    }
    let is_ip = matches!(url.host(), Some(Host::Ipv4(_) | Host::Ipv6(_)));
    if stripped.is_empty() || (is_ip && stripped.eq_ignore_ascii_case(&host)) {
        return Ok((host, true));
    }
    // Chrome: no %-escapes in a cookie's domain.
    if stripped.contains('%') {
        return Err(invalid());
    }
    let domain = match Host::parse(stripped).map_err(|_| invalid())? {
        Host::Domain(domain) => domain,
        ip => ip.to_string(),
    };
    let mismatch = || BlockedReason::DomainMismatch {
        domain: written.clone(),
    };
    let Some(host_site) = registrable_domain(&host).filter(|_| !is_ip) else {
        return if domain == host {
            Ok((host, true))
        } else if browser && is_public_suffix(&domain) {
            Err(BlockedReason::DomainIsPublicSuffix {
                domain: written.clone(),
            })
        } else {
            Err(mismatch())
        };
    };
    if browser && registrable_domain(&domain) != Some(host_site) {
        return Err(if is_public_suffix(&domain) {
            BlockedReason::DomainIsPublicSuffix {
                domain: written.clone(),
            }
        } else {
            mismatch()
        });
    }
    if !domain_matches(&host, &domain) {
        return Err(mismatch());
    }
    Ok((domain, false))
}

/// RFC 6265bis §5.1.3: `host` is `domain`, or ends with `.domain` (and is a name, not an IP).
pub(crate) fn domain_matches(host: &str, domain: &str) -> bool {
    if host.eq_ignore_ascii_case(domain) {
        return true;
    }
    host.len() > domain.len()
        && host.as_bytes()[host.len() - domain.len() - 1] == b'.'
        && host[host.len() - domain.len()..].eq_ignore_ascii_case(domain)
        && host.parse::<std::net::IpAddr>().is_err()
}

/// RFC 6265bis §5.1.4: the directory of the request's path ("/" when there is none).
fn default_path(url: &Url) -> String {
    let path = url.path();
    match path.rfind('/') {
        Some(0) | None => "/".to_owned(),
        Some(end) => path[..end].to_owned(),
    }
}

/// RFC 6265bis §5.1.4: the request path is the cookie's path, or under it at a `/`. Paths are
/// compared as written (`%6F` is not `o`: WPT `path/match-percent-encoded`).
pub(crate) fn path_matches(request_path: &str, cookie_path: &str) -> bool {
    request_path == cookie_path
        || (request_path.starts_with(cookie_path)
            && (cookie_path.ends_with('/')
                || request_path.as_bytes().get(cookie_path.len()) == Some(&b'/')))
}

/// A name and value a `Set-Cookie` line could carry as they are.
fn check_pair(name: &str, value: &str) -> Result<(), BlockedReason> {
    let bad = |part, text: &str, extra: &[char]| {
        text.chars()
            .find(|&c| (c.is_control() && c != '\t') || extra.contains(&c))
            .map(|character| BlockedReason::InvalidCharacter { part, character })
    };
    if let Some(reason) = bad("name", name, &[';', '=']).or_else(|| bad("value", value, &[';'])) {
        return Err(reason);
    }
    // A parser trims spaces and tabs at either end, so such a name or value cannot be sent.
    let padded = |text: &str| text.trim_matches([' ', '\t']) != text;
    if let Some(part) = [("name", name), ("value", value)]
        .into_iter()
        .find_map(|(part, text)| padded(text).then_some(part))
    {
        return Err(BlockedReason::InvalidCharacter {
            part,
            character: ' ',
        });
    }
    if name.is_empty() && value.is_empty() {
        return Err(BlockedReason::Malformed(ParseRefusal::Empty));
    }
    let bytes = name.len() + value.len();
    if bytes > super::set_cookie::MAX_NAME_VALUE_BYTES {
        return Err(BlockedReason::Malformed(ParseRefusal::TooLarge { bytes }));
    }
    Ok(())
}

/// A cookie's name as a refusal shows it: the line up to its first `=` or `;`, cut.
fn name_of_line(line: &str) -> String {
    line.split(['=', ';'])
        .next()
        .unwrap_or("")
        .trim()
        .chars()
        .take(64)
        .collect()
}

#[cfg(test)]
mod tests;
