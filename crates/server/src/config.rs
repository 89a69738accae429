//! How the embedded server sets its session cookie: name, flags, expiry, protection, secret.

use std::fmt;

use sha2::{Digest, Sha512};
use time::OffsetDateTime;
use tower_sessions::cookie::Key;

use crate::clock::LabClock;

/// The `SameSite` attribute of the session cookie.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum SameSitePolicy {
    /// Sent only on same-site requests.
    Strict,
    /// Sent on same-site requests and top-level navigations (the browsers' default).
    Lax,
    /// Sent on every request; browsers require `Secure` with it.
    None,
}

impl SameSitePolicy {
    /// The attribute value as it appears in `Set-Cookie`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Strict => "Strict",
            Self::Lax => "Lax",
            Self::None => "None",
        }
    }
}

/// When a session ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ExpiryPolicy {
    /// The cookie has no `Max-Age`: the browser drops it when it closes. The server keeps the
    /// record for two weeks (tower-sessions' default), like express-session's memory store.
    BrowserSession,
    /// The session ends after this many seconds without a request.
    OnInactivity {
        /// Seconds of inactivity before the session expires.
        secs: i64,
    },
    /// The session ends at a fixed moment.
    AtDateTime(#[serde(with = "time::serde::rfc3339")] OffsetDateTime),
}

impl ExpiryPolicy {
    /// The policy as tower-sessions takes it.
    pub(crate) fn to_expiry(self) -> tower_sessions::Expiry {
        match self {
            Self::BrowserSession => tower_sessions::Expiry::OnSessionEnd,
            Self::OnInactivity { secs } => {
                tower_sessions::Expiry::OnInactivity(time::Duration::seconds(secs))
            }
            Self::AtDateTime(at) => tower_sessions::Expiry::AtDateTime(at),
        }
    }
}

/// Which requests get a `Secure` cookie set: the question a server behind a TLS-terminating
/// proxy answers (the proxy speaks https to the browser, plain http to the server).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum SecureRequests {
    /// Any request (tower-sessions: the cookie is set whatever the connection).
    #[default]
    Any,
    /// Only a request that came over TLS to this server (express-session without `trust
    /// proxy`: behind a proxy, a `Secure` cookie is never set and no session sticks).
    Tls,
    /// A request over TLS, or one a proxy says was (`X-Forwarded-Proto: https`; express-session
    /// with `app.set('trust proxy', 1)`).
    TlsOrProxy,
}

impl SecureRequests {
    /// Whether a request over `tls`, with `forwarded_proto` (the `X-Forwarded-Proto` header)
    /// counts as secure.
    pub fn secure(self, tls: bool, forwarded_proto: Option<&str>) -> bool {
        match self {
            Self::Any => true,
            Self::Tls => tls,
            Self::TlsOrProxy => {
                tls || forwarded_proto.is_some_and(|p| {
                    p.split(',')
                        .next()
                        .is_some_and(|first| first.trim().eq_ignore_ascii_case("https"))
                })
            }
        }
    }

    /// A short word for the settings panel and the log.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Any => "any request",
            Self::Tls => "https only",
            Self::TlsOrProxy => "https or a trusted proxy",
        }
    }
}

/// How the session id is protected inside the cookie.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum CookieProtection {
    /// The bare session id: anyone can read it and forge look-alikes.
    Plain,
    /// The id plus an HMAC signature (express-session's `secret`): readable, not forgeable.
    Signed,
    /// The id encrypted and authenticated: neither readable nor forgeable.
    Private,
}

impl CookieProtection {
    /// A short word for headers and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Plain => "plain",
            Self::Signed => "signed",
            Self::Private => "private",
        }
    }
}

/// Where the server keeps each session's data.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum KeptIn {
    /// In the session store; the cookie carries only the id (express-session, tower-sessions,
    /// PHP, Django's database sessions).
    #[default]
    Store,
    /// In the cookie itself, protected as [`CookieProtection`] says: plain, signed (Express's
    /// cookie-session, Flask) or encrypted (Rails). The store stays empty; logout can only ask
    /// the browser to forget the cookie, so a copy still gets in, and an older copy brings the
    /// older data back.
    Cookie,
}

impl KeptIn {
    /// In words: "the server's store", "the cookie itself".
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Store => "the server's store",
            Self::Cookie => "the cookie itself",
        }
    }
}

/// The secret that signs or encrypts session cookies.
///
/// Its `Debug` output never shows the key: only a short fingerprint, so two secrets can be told
/// apart in the UI and the logs without revealing either.
#[derive(Clone)]
pub struct Secret {
    key: Key,
}

impl Secret {
    /// A secret derived from a pass phrase of any length (SHA-512 stretches it to the 64 bytes
    /// the cookie key needs), so `--secret` and `SESSION_LAB_SECRET` accept whatever users type.
    pub fn from_phrase(phrase: &str) -> Self {
        let digest = Sha512::digest(phrase.as_bytes());
        Self {
            key: Key::from(digest.as_slice()),
        }
    }

    /// The secret whose key is these 64 bytes (as kept in the secret file).
    pub(crate) fn from_key_bytes(bytes: &[u8; 64]) -> Self {
        Self {
            key: Key::from(bytes.as_slice()),
        }
    }

    /// A fresh random secret, for this process only.
    pub fn random() -> Self {
        Self {
            key: Key::generate(),
        }
    }

    /// The key that signs and encrypts cookies.
    pub(crate) fn key(&self) -> &Key {
        &self.key
    }

    /// Eight hex digits that identify this secret without revealing it.
    pub fn fingerprint(&self) -> String {
        fingerprint_text(self.fingerprint_bytes())
    }

    /// The fingerprint's four bytes.
    pub fn fingerprint_bytes(&self) -> [u8; 4] {
        let digest = Sha512::digest(self.key.master());
        [digest[0], digest[1], digest[2], digest[3]]
    }
}

/// A secret's fingerprint as eight hex digits.
pub fn fingerprint_text(bytes: [u8; 4]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret(fingerprint {})", self.fingerprint())
    }
}

/// Everything about the session cookie the server hands out, except the secret: what the lab
/// shows and the settings panel edits (the secret never leaves the server side; only its
/// fingerprint does).
///
/// The defaults follow the seed's express-session example: HttpOnly on, Secure off (plain http),
/// SameSite=Lax, Path=/, no Max-Age (a browser-session cookie), signed with a secret.
///
/// Saved with the lab (`serde`; a field a saved lab lacks takes its default).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct ServerSettings {
    /// The cookie's name (express-session: `name`).
    pub cookie_name: String,
    /// Hide the cookie from page scripts (express-session: `cookie.httpOnly`).
    pub http_only: bool,
    /// Send the cookie over https only (express-session: `cookie.secure`).
    pub secure: bool,
    /// Cross-site policy (express-session: `cookie.sameSite`).
    pub same_site: SameSitePolicy,
    /// The cookie's `Path` (express-session: `cookie.path`).
    pub path: String,
    /// The cookie's `Domain`; `None` makes it host-only (express-session: `cookie.domain`).
    pub domain: Option<String>,
    /// When sessions end (express-session: `cookie.maxAge` / `cookie.expires`).
    pub expiry: ExpiryPolicy,
    /// Plain, signed or encrypted cookie value.
    pub protection: CookieProtection,
    /// Where the session's data lives: the store (the cookie holds an id) or the cookie itself
    /// (Express's cookie-session, Flask's default).
    pub kept_in: KeptIn,
    /// Save and re-send the cookie on every response (express-session: `resave` + `rolling`;
    /// tower-sessions: `with_always_save(true)`).
    pub always_save: bool,
    /// Store a new visitor's session (and give it a cookie) even when the request did not
    /// change it (express-session: `saveUninitialized`; tower-sessions stores a session only
    /// once it is changed, as with this off).
    pub save_uninitialized: bool,
    /// Run one request at a time per session, so concurrent requests cannot overwrite each
    /// other's changes (express-session has no such option and loses updates).
    pub lock_per_session: bool,
    /// `/login` gives the session a new id (express-session: `req.session.regenerate()`;
    /// tower-sessions: `session.cycle_id()`). Off, an id planted before login stays valid
    /// after it: session fixation.
    pub regenerate_on_login: bool,
    /// `/logout` deletes the session from the store (express-session:
    /// `req.session.destroy()`; tower-sessions: `session.flush()`). Off, it only tells the
    /// browser to drop the cookie (`res.clearCookie()` alone): a copy of the cookie still works.
    pub destroy_on_logout: bool,
    /// New session ids are counted (1001, 1002, …) instead of 128 random bits: the weak
    /// generator of old servers (express-session: a `genid` such as `() => String(++n)`;
    /// tower-sessions: a store whose `create` assigns the ids). With a plain cookie, the next
    /// visitor's session is the next number.
    pub counted_ids: bool,
    /// Cookieless sessions: the id travels in URLs (`?sid=…`), never in a cookie — links and
    /// redirects in the app's pages are rewritten to carry it (PHP: `session.use_cookies=0`
    /// with `session.use_trans_sid=1`; ASP.NET: `cookieless="UseUri"`; Java: `;jsessionid`).
    /// express-session and tower-sessions have no such mode. Anyone the URL reaches (a shared
    /// link, a log, a Referer) holds the session.
    pub id_in_url: bool,
    /// Which requests get a `Secure` cookie (behind a proxy, express-session's `trust proxy`).
    pub secure_requests: SecureRequests,
    /// The most sessions the memory store keeps; new visitors beyond it get a 503 page.
    pub max_sessions: usize,
    /// Milliseconds every store call waits, like a database across a network (0: none).
    pub store_latency_ms: u64,
}

/// The most store latency the lab simulates, in milliseconds: more and its requests would
/// outlast their own time limits.
pub const MAX_STORE_LATENCY_MS: u64 = 100;

/// The longest inactivity timeout: about ten years, in seconds (more overflows the dates the
/// sessions' expiry is computed in).
pub const MAX_INACTIVITY_SECS: i64 = 10 * 365 * 24 * 3600;

impl ServerSettings {
    /// What in these settings is outside what the lab can run, in words (`None`: nothing):
    /// the limits every way of setting them shares — the settings panel, a saved lab, a
    /// scenario file.
    pub fn out_of_bounds(&self) -> Option<String> {
        if self.store_latency_ms > MAX_STORE_LATENCY_MS {
            return Some(format!(
                "a store latency of {} ms is over the {MAX_STORE_LATENCY_MS} ms the lab simulates",
                self.store_latency_ms
            ));
        }
        if self.max_sessions == 0 {
            return Some("a session limit of 0 would refuse every visitor".to_owned());
        }
        if let ExpiryPolicy::OnInactivity { secs } = self.expiry
            && !(1..=MAX_INACTIVITY_SECS).contains(&secs)
        {
            return Some(format!(
                "an inactivity timeout of {secs} s is outside 1 to {MAX_INACTIVITY_SECS} s"
            ));
        }
        None
    }
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            cookie_name: "id".to_owned(),
            http_only: true,
            secure: false,
            same_site: SameSitePolicy::Lax,
            path: "/".to_owned(),
            domain: None,
            expiry: ExpiryPolicy::BrowserSession,
            protection: CookieProtection::Signed,
            kept_in: KeptIn::Store,
            always_save: false,
            save_uninitialized: false,
            lock_per_session: true,
            regenerate_on_login: true,
            destroy_on_logout: true,
            counted_ids: false,
            secure_requests: SecureRequests::Any,
            id_in_url: false,
            max_sessions: super::store::DEFAULT_MAX_SESSIONS,
            store_latency_ms: 0,
        }
    }
}

/// Where the server's secret came from, for the banner, the header and the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecretSource {
    /// `--secret` on the command line.
    Flag,
    /// The `SESSION_LAB_SECRET` environment variable.
    Environment,
    /// The secret file every Session Lab process of this user shares.
    File {
        /// Where it is.
        path: std::path::PathBuf,
        /// Whether this process made it.
        created: bool,
    },
    /// Made for this process only (a rotation in the window, or code that asked for one).
    ThisProcess,
}

impl SecretSource {
    /// Whether the user chose the secret (so other machines can be given the same one).
    pub fn is_explicit(&self) -> bool {
        matches!(self, Self::Flag | Self::Environment)
    }
}

/// A secret that was replaced but still opens cookies for a while (express-session: the
/// older entries of a `secret` array), so browsers are moved to the new one as they come back.
#[derive(Clone, Debug)]
pub struct RetiredSecret {
    /// The old secret.
    pub secret: Secret,
    /// Until when it still opens cookies.
    pub until: OffsetDateTime,
}

/// The server's settings and the secret that signs or encrypts its cookies.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Everything but the secret.
    pub settings: ServerSettings,
    /// The signing / encryption secret (express-session: `secret`): new cookies are sealed
    /// with it.
    pub secret: Secret,
    /// Where the secret came from.
    pub secret_source: SecretSource,
    /// Secrets replaced by a graceful rotation that still open cookies until their time is up,
    /// newest first.
    pub retired: Vec<RetiredSecret>,
    /// The clock expiry is judged by: the lab's, which the user may move ahead (clones of a
    /// config share it).
    pub clock: LabClock,
    /// https on the same port as http, with a certificate only the lab's browsers trust (the
    /// window's server); `None` serves http only (`serve`).
    pub tls: Option<std::sync::Arc<super::LabTls>>,
    /// The accounts, the attacker's page and the weak id counter (clones of a config share
    /// them, so every instance and every new setting sees the same accounts).
    pub site: super::Site,
}

impl ServerConfig {
    /// The seed's settings with the given secret (made for this process).
    pub fn with_secret(secret: Secret) -> Self {
        Self {
            settings: ServerSettings::default(),
            secret,
            secret_source: SecretSource::ThisProcess,
            retired: Vec::new(),
            clock: LabClock::default(),
            tls: None,
            site: super::Site::default(),
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self::with_secret(Secret::random())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same phrase always gives the same secret, and its Debug output hides the key.
    #[test]
    fn phrase_secrets_are_stable_and_redacted() {
        let a = Secret::from_phrase("keyboard cat");
        let b = Secret::from_phrase("keyboard cat");
        let c = Secret::from_phrase("another");
        assert_eq!(a.fingerprint(), b.fingerprint());
        assert_ne!(a.fingerprint(), c.fingerprint());
        assert_eq!(a.fingerprint().len(), 8);
        assert!(!format!("{a:?}").contains("keyboard"));
    }
}
