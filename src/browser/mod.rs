//! One simulated browser: a reqwest client with its own cookie jar that can be listed and
//! cleared, and a record of each exchange (what was sent, what came back, how long it took).

use std::{
    sync::{Arc, MutexGuard},
    time::{Duration, Instant},
};

use cookie_store::{CookieDomain, CookieExpiration, CookieStore};
use reqwest::header::{self, HeaderMap};
use reqwest_cookie_store::CookieStoreMutex;
use time::OffsetDateTime;
use url::Url;

/// The most of a response body a browser keeps; the rest is cut (and the cut is said).
const MAX_BODY_BYTES: usize = 256 * 1024;

/// How long a visit may take before the browser gives up.
const VISIT_TIMEOUT: Duration = Duration::from_secs(15);

/// Errors a visit can end in.
#[derive(Debug, thiserror::Error)]
pub enum BrowserError {
    /// The address is not an http URL.
    #[error("“{0}” is not an http:// address")]
    BadUrl(String),
    /// The server could not be reached.
    #[error("could not connect to {url}: is a server running there?")]
    Connect {
        /// The address tried.
        url: String,
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
    /// The HTTP client could not be built.
    #[error("could not start the browser's HTTP client: {0}")]
    Client(String),
}

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

    fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.response_headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
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
}

/// A simulated browser: an HTTP client and its cookie jar.
///
/// Clones share the same client and jar.
#[derive(Clone)]
pub struct Browser {
    client: reqwest::Client,
    jar: Arc<CookieStoreMutex>,
    user_agent: String,
}

impl Browser {
    /// A browser with an empty jar that announces itself with `user_agent`.
    pub fn new(user_agent: &str) -> Result<Self, BrowserError> {
        let jar = Arc::new(CookieStoreMutex::new(CookieStore::default()));
        let client = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .timeout(VISIT_TIMEOUT)
            .build()
            .map_err(|e| BrowserError::Client(e.to_string()))?;
        Ok(Self {
            client,
            jar,
            user_agent: user_agent.to_owned(),
        })
    }

    /// Sends `GET url` with the jar's cookies, stores the cookies the response sets, and
    /// returns the whole exchange.
    pub async fn visit(&self, url: &str) -> Result<Exchange, BrowserError> {
        let parsed = parse_http_url(url)?;
        let cookie_header = self.cookie_header_for(&parsed);
        let sent_at = OffsetDateTime::now_utc();
        let started = Instant::now();
        let response = self
            .client
            .get(parsed.clone())
            .header(header::USER_AGENT, &self.user_agent)
            .send()
            .await
            .map_err(|e| request_error(&parsed, &e))?;
        let status = response.status();
        let response_headers = header_pairs(response.headers());
        let bytes = response
            .bytes()
            .await
            .map_err(|e| request_error(&parsed, &e))?;
        let latency = started.elapsed();
        Ok(Exchange {
            sent_at,
            method: "GET".to_owned(),
            url: parsed.to_string(),
            cookie_header,
            status: status.as_u16(),
            reason: status.canonical_reason().unwrap_or("").to_owned(),
            response_headers,
            body: body_text(&bytes),
            latency,
        })
    }

    /// Every cookie in the jar, expired ones included, sorted by domain, path and name.
    pub fn cookies(&self) -> Vec<CookieRow> {
        let jar = self.jar();
        let mut rows: Vec<CookieRow> = jar
            .iter_any()
            .map(|cookie| {
                let (domain, host_only) = match &cookie.domain {
                    CookieDomain::HostOnly(host) => (host.clone(), true),
                    CookieDomain::Suffix(suffix) => (suffix.clone(), false),
                    CookieDomain::NotPresent | CookieDomain::Empty => (String::new(), true),
                };
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

    /// Empties the jar.
    pub fn clear_cookies(&self) {
        self.jar().clear();
    }

    /// The `Cookie` header the jar would send to `url`, if any.
    fn cookie_header_for(&self, url: &Url) -> Option<String> {
        let jar = self.jar();
        let pairs: Vec<String> = jar
            .get_request_values(url)
            .map(|(name, value)| format!("{name}={value}"))
            .collect();
        (!pairs.is_empty()).then(|| pairs.join("; "))
    }

    fn jar(&self) -> MutexGuard<'_, CookieStore> {
        // A panic elsewhere while holding the jar leaves it usable: cookies are plain data.
        self.jar.lock().unwrap_or_else(|e| e.into_inner())
    }
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
        Ok(url) if url.scheme() == "http" && url.host().is_some() => Ok(url),
        _ => Err(BrowserError::BadUrl(text.to_owned())),
    }
}

fn request_error(url: &Url, err: &reqwest::Error) -> BrowserError {
    let url = url.to_string();
    if err.is_timeout() {
        BrowserError::Timeout {
            url,
            secs: VISIT_TIMEOUT.as_secs(),
        }
    } else if err.is_connect() {
        BrowserError::Connect { url }
    } else {
        let mut message = err.to_string();
        let mut source = std::error::Error::source(err);
        while let Some(cause) = source {
            message = format!("{message}: {cause}");
            source = cause.source();
        }
        BrowserError::Http { url, message }
    }
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

fn body_text(bytes: &[u8]) -> String {
    if bytes.len() <= MAX_BODY_BYTES {
        return String::from_utf8_lossy(bytes).into_owned();
    }
    let mut text = String::from_utf8_lossy(&bytes[..MAX_BODY_BYTES]).into_owned();
    text.push_str(&format!(
        "\n… ({} more bytes not shown)",
        bytes.len() - MAX_BODY_BYTES
    ));
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
        assert!(parse_http_url("ftp://example.com").is_err());
        assert!(parse_http_url("http://").is_err());
        let err = parse_http_url("https://example.com").unwrap_err();
        assert!(err.to_string().contains("http://"));
    }
}
