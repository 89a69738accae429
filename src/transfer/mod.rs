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
pub use har_log::{exchanges_from_har, har_log, har_text};
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
    /// Why, in words.
    pub reason: String,
}

impl std::fmt::Display for ImportProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.at, self.reason)
    }
}

/// Reads a `cookies.txt`, a `storageState` JSON, or a JSON list of cookies (Puppeteer's
/// `page.cookies()`, the Cookie-Editor extension's export), told apart by the first character
/// that is not white space; an error when the text is none of them.
pub fn parse_cookies(text: &str, now: time::OffsetDateTime) -> Result<Imported, String> {
    // A byte-order mark (some Windows editors write one) is not part of either format.
    let text = text.trim_start_matches('\u{feff}');
    if text.trim().is_empty() {
        return Err("the text is empty: paste a cookies.txt or a storageState JSON".to_owned());
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
fn check_cookie(cookie: &CookieRow) -> Result<(), String> {
    if cookie.name.is_empty() {
        return Err("the cookie has no name".to_owned());
    }
    if cookie.domain.is_empty() {
        return Err(format!("cookie “{}” has no domain", cookie.name));
    }
    if url::Host::parse(&cookie.domain).is_err() || cookie.domain.contains(['/', ':', ' ']) {
        return Err(format!(
            "cookie “{}”: the domain “{}” is not a host name",
            cookie.name, cookie.domain
        ));
    }
    if !cookie.path.starts_with('/') {
        return Err(format!(
            "cookie “{}”: the path “{}” does not start with /",
            cookie.name, cookie.path
        ));
    }
    let bad = |s: &str| s.chars().any(|c| c.is_control() || c == ';');
    if bad(&cookie.name) || cookie.name.contains('=') || bad(&cookie.value) {
        return Err(format!(
            "cookie “{}”: its name or value holds a character a Cookie header cannot carry",
            cookie.name
        ));
    }
    Ok(())
}
