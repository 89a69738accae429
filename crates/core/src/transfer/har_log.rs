//! A browser's history as HAR 1.2 (W3C's HTTP Archive draft, the format DevTools' Network panel
//! imports and exports), for DevTools (*Import HAR file*), proxies and HAR viewers.
//!
//! The types are the part of HAR 1.2 the lab writes and reads, with the spec's field names;
//! reading ignores what they leave out (DevTools' `_initiator`, `pages`, …), so a real
//! browser's HAR loads too.

use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use url::Url;

use crate::browser::{Exchange, SetCookie};

/// A HAR file: `{"log": …}`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Har {
    pub log: Log,
}

/// The log: who wrote it and its entries, oldest first.
#[derive(Debug, Serialize, Deserialize)]
pub struct Log {
    /// "1.2".
    pub version: String,
    pub creator: Creator,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub browser: Option<Creator>,
    #[serde(default)]
    pub entries: Vec<Entry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// The program that wrote the log, or the browser whose history it is.
#[derive(Debug, Serialize, Deserialize)]
pub struct Creator {
    pub name: String,
    pub version: String,
}

/// One request and its response.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    pub started_date_time: String,
    /// The whole exchange, in milliseconds.
    pub time: f64,
    pub request: Request,
    pub response: Response,
    #[serde(default)]
    pub cache: Cache,
    pub timings: Timings,
    #[serde(
        default,
        rename = "serverIPAddress",
        skip_serializing_if = "Option::is_none"
    )]
    pub server_ip_address: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Request {
    pub method: String,
    pub url: String,
    pub http_version: String,
    #[serde(default)]
    pub cookies: Vec<Cookie>,
    #[serde(default)]
    pub headers: Vec<Header>,
    #[serde(default)]
    pub query_string: Vec<Header>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_data: Option<PostData>,
    pub headers_size: i64,
    pub body_size: i64,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Response {
    pub status: i64,
    pub status_text: String,
    pub http_version: String,
    #[serde(default)]
    pub cookies: Vec<Cookie>,
    #[serde(default)]
    pub headers: Vec<Header>,
    pub content: Content,
    #[serde(rename = "redirectURL")]
    pub redirect_url: String,
    pub headers_size: i64,
    pub body_size: i64,
}

/// A header, or a query string's name and value.
#[derive(Debug, Serialize, Deserialize)]
pub struct Header {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cookie {
    pub name: String,
    pub value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_only: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secure: Option<bool>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PostData {
    pub mime_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Content {
    pub size: i64,
    pub mime_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

/// What a cache did (the lab's browsers keep none: always empty).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Cache {}

/// Where the time went, in milliseconds; -1 for a part not measured.
#[derive(Debug, Serialize, Deserialize)]
pub struct Timings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocked: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect: Option<f64>,
    pub send: f64,
    pub wait: f64,
    pub receive: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssl: Option<f64>,
}

fn headers(pairs: &[(String, String)]) -> Vec<Header> {
    pairs
        .iter()
        .map(|(name, value)| Header {
            name: name.clone(),
            value: value.clone(),
        })
        .collect()
}

/// The request's cookies, from the `Cookie` header it sent.
fn request_cookies(header: Option<&str>) -> Vec<Cookie> {
    header
        .into_iter()
        .flat_map(|h| h.split(';'))
        .filter_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            Some(Cookie {
                name: name.to_owned(),
                value: value.to_owned(),
                path: None,
                domain: None,
                expires: None,
                http_only: None,
                secure: None,
            })
        })
        .collect()
}

/// The response's cookies, from its `Set-Cookie` headers, with their attributes.
fn response_cookies(exchange: &Exchange) -> Vec<Cookie> {
    exchange
        .set_cookies()
        .filter_map(SetCookie::parse)
        .map(|cookie| Cookie {
            name: cookie.name,
            value: cookie.value,
            path: cookie.path,
            domain: cookie.domain,
            expires: cookie.expires.and_then(|at| at.format(&Rfc3339).ok()),
            http_only: Some(cookie.http_only),
            secure: Some(cookie.secure),
        })
        .collect()
}

fn entry(exchange: &Exchange) -> Entry {
    let url = Url::parse(&exchange.url).ok();
    let query_string = url
        .iter()
        .flat_map(|u| u.query_pairs())
        .map(|(name, value)| Header {
            name: name.into_owned(),
            value: value.into_owned(),
        })
        .collect();
    let post_data = exchange.request_body.as_ref().map(|body| PostData {
        mime_type: "application/x-www-form-urlencoded".to_owned(),
        text: Some(body.clone()),
    });
    let millis = exchange.latency.as_secs_f64() * 1000.0;
    let mime_type = exchange
        .header_values("content-type")
        .next()
        .unwrap_or("text/plain")
        .to_owned();
    let size = i64::try_from(exchange.body.len()).unwrap_or(i64::MAX);
    Entry {
        started_date_time: exchange
            .sent_at
            .format(&Rfc3339)
            .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_owned()),
        time: millis,
        request: Request {
            method: exchange.method.clone(),
            url: exchange.url.clone(),
            http_version: exchange.http_version.clone(),
            cookies: request_cookies(exchange.cookie_header.as_deref()),
            headers: headers(&exchange.request_headers),
            query_string,
            body_size: exchange
                .request_body
                .as_ref()
                .map_or(0, |b| i64::try_from(b.len()).unwrap_or(i64::MAX)),
            post_data,
            headers_size: -1,
        },
        response: Response {
            status: i64::from(exchange.status),
            status_text: exchange.reason.clone(),
            http_version: exchange.http_version.clone(),
            cookies: response_cookies(exchange),
            headers: headers(&exchange.response_headers),
            content: Content {
                size,
                mime_type,
                text: Some(exchange.body.clone()),
            },
            redirect_url: exchange
                .header_values("location")
                .next()
                .unwrap_or("")
                .to_owned(),
            headers_size: -1,
            body_size: size,
        },
        cache: Cache::default(),
        // The browser times the whole exchange; the parts it cannot see are -1, as HAR says.
        timings: Timings {
            blocked: Some(-1.0),
            dns: Some(-1.0),
            connect: Some(-1.0),
            send: 0.0,
            wait: millis,
            receive: 0.0,
            ssl: Some(-1.0),
        },
        server_ip_address: url
            .as_ref()
            .and_then(|u| u.host_str())
            .filter(|h| h.parse::<std::net::IpAddr>().is_ok())
            .map(str::to_owned),
    }
}

/// `browser`'s `exchanges` (oldest first) as a HAR 1.2 log.
pub fn har_log<'a>(browser: &str, exchanges: impl IntoIterator<Item = &'a Exchange>) -> Har {
    let version = env!("CARGO_PKG_VERSION").to_owned();
    Har {
        log: Log {
            version: "1.2".to_owned(),
            creator: Creator {
                name: "Session Lab".to_owned(),
                version: version.clone(),
            },
            browser: Some(Creator {
                name: format!("Session Lab browser {browser}"),
                version,
            }),
            entries: exchanges.into_iter().map(entry).collect(),
            comment: Some(
                "Response bodies longer than the lab keeps (2 KiB in its history) are cut."
                    .to_owned(),
            ),
        },
    }
}

/// The HAR as pretty JSON.
pub fn har_text<'a>(browser: &str, exchanges: impl IntoIterator<Item = &'a Exchange>) -> String {
    serde_json::to_string_pretty(&har_log(browser, exchanges)).unwrap_or_default()
}

/// Why a HAR log cannot be read back.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HarError {
    /// Not HAR (the parser's words).
    #[error("not HAR 1.2: {0}")]
    NotHar(String),
    /// Another HAR version.
    #[error("only HAR 1.2 is read, not {0}")]
    Version(String),
    /// An entry's `startedDateTime` that is not an RFC 3339 date.
    #[error("startedDateTime “{value}”: {reason}")]
    Date {
        /// What it said.
        value: String,
        /// The parser's words.
        reason: String,
    },
}

/// The exchanges of a HAR 1.2 log (one this module wrote, or DevTools'), oldest first; what
/// HAR does not record (cookies held back, where the request came from) is left empty.
pub fn exchanges_from_har(value: &serde_json::Value) -> Result<Vec<Exchange>, HarError> {
    let har = Har::deserialize(value).map_err(|e| HarError::NotHar(e.to_string()))?;
    let log = har.log;
    if log.version != "1.2" {
        return Err(HarError::Version(log.version));
    }
    let pairs = |headers: &[Header]| -> Vec<(String, String)> {
        headers
            .iter()
            .map(|h| (h.name.to_ascii_lowercase(), h.value.clone()))
            .collect()
    };
    log.entries
        .into_iter()
        .map(|entry| {
            let sent_at =
                time::OffsetDateTime::parse(&entry.started_date_time, &Rfc3339).map_err(|e| {
                    HarError::Date {
                        value: entry.started_date_time.clone(),
                        reason: e.to_string(),
                    }
                })?;
            let request_headers = pairs(&entry.request.headers);
            let cookie_header = request_headers
                .iter()
                .find(|(name, _)| name == "cookie")
                .map(|(_, value)| value.clone());
            Ok(Exchange {
                sent_at,
                method: entry.request.method,
                url: entry.request.url,
                cookie_header,
                request_headers,
                request_body: entry.request.post_data.and_then(|p| p.text),
                http_version: entry.response.http_version,
                not_sent: Vec::new(),
                from: Default::default(),
                blocked: Vec::new(),
                status: u16::try_from(entry.response.status).unwrap_or(0),
                reason: entry.response.status_text,
                response_headers: pairs(&entry.response.headers),
                body: entry.response.content.text.unwrap_or_default(),
                latency: std::time::Duration::try_from_secs_f64(entry.time / 1000.0)
                    .unwrap_or_default(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What cannot be read back says why: not HAR, another version, a date that is not one.
    #[test]
    fn unreadable_logs_name_their_fault() {
        assert!(matches!(
            exchanges_from_har(&serde_json::json!({"entries": []})),
            Err(HarError::NotHar(_))
        ));
        let log = |version: &str, date: &str| {
            serde_json::json!({"log": {
                "version": version,
                "creator": {"name": "t", "version": "1"},
                "entries": [{
                    "startedDateTime": date,
                    "time": 1.0,
                    "request": {"method": "GET", "url": "http://a.test/", "httpVersion": "HTTP/1.1",
                                "headersSize": -1, "bodySize": 0},
                    "response": {"status": 200, "statusText": "OK", "httpVersion": "HTTP/1.1",
                                 "content": {"size": 0, "mimeType": "text/plain"},
                                 "redirectURL": "", "headersSize": -1, "bodySize": 0},
                    "timings": {"send": 0, "wait": 1, "receive": 0}
                }]
            }})
        };
        assert_eq!(
            exchanges_from_har(&log("1.1", "2026-12-03T10:00:00Z")),
            Err(HarError::Version("1.1".into()))
        );
        assert!(matches!(
            exchanges_from_har(&log("1.2", "yesterday")),
            Err(HarError::Date { value, .. }) if value == "yesterday"
        ));
        assert_eq!(
            exchanges_from_har(&log("1.2", "2026-12-03T10:00:00Z"))
                .unwrap()
                .len(),
            1
        );
    }
}
