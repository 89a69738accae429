//! A browser's history as HAR 1.2 (the `har` crate's types), for DevTools' Network panel
//! (*Import HAR file*), proxies and HAR viewers.

use har::{
    Har, Spec,
    v1_2::{
        Cache, Content, Cookies, Creator, Entries, Headers, Log, PostData, QueryString, Request,
        Response, Timings,
    },
};
use time::format_description::well_known::Rfc3339;
use url::Url;

use crate::browser::{Exchange, SetCookie};

fn headers(pairs: &[(String, String)]) -> Vec<Headers> {
    pairs
        .iter()
        .map(|(name, value)| Headers {
            name: name.clone(),
            value: value.clone(),
            comment: None,
        })
        .collect()
}

/// The request's cookies, from the `Cookie` header it sent.
fn request_cookies(header: Option<&str>) -> Vec<Cookies> {
    header
        .into_iter()
        .flat_map(|h| h.split(';'))
        .filter_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            Some(Cookies {
                name: name.to_owned(),
                value: value.to_owned(),
                path: None,
                domain: None,
                expires: None,
                http_only: None,
                secure: None,
                comment: None,
            })
        })
        .collect()
}

/// The response's cookies, from its `Set-Cookie` headers, with their attributes.
fn response_cookies(exchange: &Exchange) -> Vec<Cookies> {
    exchange
        .set_cookies()
        .filter_map(SetCookie::parse)
        .map(|cookie| Cookies {
            name: cookie.name,
            value: cookie.value,
            path: cookie.path,
            domain: cookie.domain,
            expires: cookie.expires.and_then(|at| at.format(&Rfc3339).ok()),
            http_only: Some(cookie.http_only),
            secure: Some(cookie.secure),
            comment: None,
        })
        .collect()
}

fn entry(exchange: &Exchange) -> Entries {
    let url = Url::parse(&exchange.url).ok();
    let query_string = url
        .iter()
        .flat_map(|u| u.query_pairs())
        .map(|(name, value)| QueryString {
            name: name.into_owned(),
            value: value.into_owned(),
            comment: None,
        })
        .collect();
    let post_data = exchange.request_body.as_ref().map(|body| PostData {
        mime_type: "application/x-www-form-urlencoded".to_owned(),
        text: Some(body.clone()),
        params: None,
        comment: None,
    });
    let millis = exchange.latency.as_secs_f64() * 1000.0;
    let mime_type = exchange
        .header_values("content-type")
        .next()
        .unwrap_or("text/plain")
        .to_owned();
    let size = i64::try_from(exchange.body.len()).unwrap_or(i64::MAX);
    Entries {
        pageref: None,
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
            comment: None,
        },
        response: Response {
            status: i64::from(exchange.status),
            status_text: exchange.reason.clone(),
            http_version: exchange.http_version.clone(),
            cookies: response_cookies(exchange),
            headers: headers(&exchange.response_headers),
            content: Content {
                size,
                compression: None,
                mime_type: Some(mime_type),
                text: Some(exchange.body.clone()),
                encoding: None,
                comment: None,
            },
            redirect_url: Some(
                exchange
                    .header_values("location")
                    .next()
                    .unwrap_or("")
                    .to_owned(),
            ),
            headers_size: -1,
            body_size: size,
            comment: None,
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
            comment: None,
        },
        server_ip_address: url
            .as_ref()
            .and_then(|u| u.host_str())
            .filter(|h| h.parse::<std::net::IpAddr>().is_ok())
            .map(str::to_owned),
        connection: None,
        comment: None,
    }
}

/// `browser`'s `exchanges` (oldest first) as a HAR 1.2 log.
pub fn har_log<'a>(browser: &str, exchanges: impl IntoIterator<Item = &'a Exchange>) -> Har {
    let version = env!("CARGO_PKG_VERSION").to_owned();
    Har {
        log: Spec::V1_2(Log {
            creator: Creator {
                name: "Session Lab".to_owned(),
                version: version.clone(),
                comment: None,
            },
            browser: Some(Creator {
                name: format!("Session Lab browser {browser}"),
                version,
                comment: None,
            }),
            pages: None,
            entries: exchanges.into_iter().map(entry).collect(),
            comment: Some(
                "Response bodies longer than the lab keeps (2 KiB in its history) are cut."
                    .to_owned(),
            ),
        }),
    }
}

/// The HAR as pretty JSON.
pub fn har_text<'a>(browser: &str, exchanges: impl IntoIterator<Item = &'a Exchange>) -> String {
    har::to_json(&har_log(browser, exchanges)).unwrap_or_default()
}

/// The exchanges of a HAR 1.2 log (one this module wrote, or DevTools'), oldest first; what
/// HAR does not record (cookies held back, where the request came from) is left empty.
pub fn exchanges_from_har(value: &serde_json::Value) -> Result<Vec<Exchange>, String> {
    let har: Har =
        serde_json::from_value(value.clone()).map_err(|e| format!("not HAR 1.2: {e}"))?;
    let Spec::V1_2(log) = har.log else {
        return Err("only HAR 1.2 is read".to_owned());
    };
    let pairs = |headers: &[Headers]| -> Vec<(String, String)> {
        headers
            .iter()
            .map(|h| (h.name.to_ascii_lowercase(), h.value.clone()))
            .collect()
    };
    log.entries
        .into_iter()
        .map(|entry| {
            let sent_at = time::OffsetDateTime::parse(&entry.started_date_time, &Rfc3339)
                .map_err(|e| format!("startedDateTime “{}”: {e}", entry.started_date_time))?;
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
