//! A simulated browser's state in the formats other tools use, and real state brought in.
//!
//! Out: *Copy as curl* for an exchange ([`curl_command`]), the jar as curl's
//! Netscape `cookies.txt` ([`netscape`]) and as a Playwright `storageState` file
//! ([`storage_state`]), and the browser's history as HAR 1.2 ([`har_log`], its types
//! written with serde). In: [`parse_cookies`] reads either jar format into cookies the jar can take,
//! with a message for every line or entry it cannot use — nothing is applied here.
//!
//! Plain functions of plain data (`CookieRow`, `Exchange`): no lab, no window, no network.

mod curl;
pub mod har_log;
mod netscape;
mod storage_state;

pub use curl::curl_command;
pub use har_log::{HarError, exchanges_from_har, har_log, har_text};
pub use netscape::{netscape, parse_netscape};
pub use storage_state::{parse_cookie_list, parse_storage_state, storage_state};

use crate::browser::CookieRow;

/// The file names `demo --export` and the window's *Save all* write for one browser.
pub const COOKIES_TXT: &str = "cookies.txt";
/// The Playwright file's name.
pub const STORAGE_STATE_JSON: &str = "storageState.json";
/// The HAR file's name.
pub const HISTORY_HAR: &str = "history.har";

/// Cookies read from a file, and what could not be used.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Imported {
    /// Which format the text was.
    pub format: &'static str,
    /// The cookies the jar can take, in file order.
    pub cookies: Vec<CookieRow>,
    /// Lines or entries that were left out, and why.
    pub problems: Vec<ImportProblem>,
}

/// One line or entry an import cannot use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportProblem {
    /// Where: "line 4" or "cookies[2]".
    pub at: String,
    /// Why.
    pub reason: CookieProblem,
}

/// Why a whole text cannot be imported.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    /// Nothing but white space.
    #[error("the text is empty: paste a cookies.txt or a storageState JSON")]
    Empty,
    /// JSON that is not a `storageState` file (the parser's words).
    #[error("not a Playwright storageState file (an object with a \"cookies\" list): {0}")]
    NotStorageState(String),
    /// JSON that is not a list of cookies (the parser's words).
    #[error("not a JSON list of cookies: {0}")]
    NotCookieList(String),
}

/// Why one line or entry of an import was left out.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CookieProblem {
    /// A `cookies.txt` line without its seven fields.
    #[error(
        "{0} tab-separated fields where cookies.txt has 7 (domain, subdomains, path, secure, \
         expiry, name, value)"
    )]
    Fields(usize),
    /// A `cookies.txt` flag that is neither TRUE nor FALSE.
    #[error("the {field} field is “{text}”, not TRUE or FALSE")]
    NotAFlag {
        /// Which field.
        field: &'static str,
        /// What it said.
        text: String,
    },
    /// An expiry that is not a number.
    #[error("the expiry “{0}” is not a number of seconds")]
    ExpiryNotANumber(String),
    /// An expiry no date can hold.
    #[error("the expiry {0} is out of range")]
    ExpiryOutOfRange(String),
    /// A cookie already expired (a browser would drop it at once).
    #[error("cookie “{name}” expired at {at}")]
    Expired {
        /// The cookie.
        name: String,
        /// When.
        at: time::OffsetDateTime,
    },
    /// A JSON entry that is not a cookie (the parser's words).
    #[error("not a cookie (name, value and domain at least): {0}")]
    NotACookie(String),
    /// A `sameSite` no browser knows.
    #[error("cookie “{name}”: sameSite “{value}” is none of Strict, Lax, None")]
    SameSite {
        /// The cookie.
        name: String,
        /// What it said.
        value: String,
    },
    /// `SameSite=None` without `Secure`.
    #[error("cookie “{0}”: sameSite None without secure, which browsers refuse")]
    NoneWithoutSecure(String),
    /// No name.
    #[error("the cookie has no name")]
    NoName,
    /// No domain.
    #[error("cookie “{0}” has no domain")]
    NoDomain(String),
    /// A domain that is not a host name.
    #[error("cookie “{name}”: the domain “{domain}” is not a host name")]
    BadDomain {
        /// The cookie.
        name: String,
        /// Its domain.
        domain: String,
    },
    /// A path that does not start with `/`.
    #[error("cookie “{name}”: the path “{path}” does not start with /")]
    BadPath {
        /// The cookie.
        name: String,
        /// Its path.
        path: String,
    },
    /// A name or value a `Cookie` header cannot carry.
    #[error("cookie “{0}”: its name or value holds a character a Cookie header cannot carry")]
    BadCharacter(String),
}

impl std::fmt::Display for ImportProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.at, self.reason)
    }
}

/// Reads a `cookies.txt`, a `storageState` JSON, or a JSON list of cookies (Puppeteer's
/// `page.cookies()`, the Cookie-Editor extension's export), told apart by the first character
/// that is not white space; an error when the text is none of them.
pub fn parse_cookies(text: &str, now: time::OffsetDateTime) -> Result<Imported, ImportError> {
    // A byte-order mark (some Windows editors write one) is not part of either format.
    let text = text.trim_start_matches('\u{feff}');
    if text.trim().is_empty() {
        return Err(ImportError::Empty);
    }
    match text.trim_start().chars().next() {
        Some('{') => parse_storage_state(text, now),
        Some('[') => parse_cookie_list(text, now),
        _ => Ok(parse_netscape(text, now)),
    }
}

/// A cookie's domain as files write it: a leading dot for a domain cookie, the bare host for
/// a host-only one.
fn dotted_domain(cookie: &CookieRow) -> String {
    if cookie.host_only {
        cookie.domain.clone()
    } else {
        format!(".{}", cookie.domain.trim_start_matches('.'))
    }
}

/// Checks what every format needs of a cookie: a name, a host, a path, no control
/// characters.
fn check_cookie(cookie: &CookieRow) -> Result<(), CookieProblem> {
    let name = || cookie.name.clone();
    if cookie.name.is_empty() {
        return Err(CookieProblem::NoName);
    }
    if cookie.domain.is_empty() {
        return Err(CookieProblem::NoDomain(name()));
    }
    if url::Host::parse(&cookie.domain).is_err() || cookie.domain.contains(['/', ':', ' ']) {
        return Err(CookieProblem::BadDomain {
            name: name(),
            domain: cookie.domain.clone(),
        });
    }
    if !cookie.path.starts_with('/') {
        return Err(CookieProblem::BadPath {
            name: name(),
            path: cookie.path.clone(),
        });
    }
    let bad = |s: &str| s.chars().any(|c| c.is_control() || c == ';');
    if bad(&cookie.name) || cookie.name.contains('=') || bad(&cookie.value) {
        return Err(CookieProblem::BadCharacter(name()));
    }
    Ok(())
}
