//! Playwright's `storageState` file: `{ "cookies": [...], "origins": [...] }`, each cookie with
//! every attribute — what `browserContext.storageState()` writes and
//! `browser.newContext({ storageState })` reads.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{CookieProblem, ImportError, ImportProblem, Imported, check_cookie, dotted_domain};
use crate::browser::CookieRow;

/// One cookie as Playwright writes it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
struct PlaywrightCookie {
    name: String,
    value: String,
    domain: String,
    path: String,
    /// Unix seconds; -1 for a session cookie.
    expires: f64,
    http_only: bool,
    secure: bool,
    same_site: String,
    /// The top-level site of a `Partitioned` cookie (Playwright's CHIPS field).
    #[serde(skip_serializing_if = "Option::is_none")]
    partition_key: Option<String>,
}

/// One cookie as the readers take it: Playwright's (every attribute but name, value and domain
/// optional, as `addCookies` takes them), Puppeteer's, or the Cookie-Editor extension's
/// (`expirationDate`, `hostOnly`, `session`, `sameSite` as `no_restriction` / `lax` / …).
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReadCookie {
    name: String,
    value: String,
    domain: String,
    #[serde(default = "root_path")]
    path: String,
    #[serde(default, alias = "expirationDate")]
    expires: Option<f64>,
    #[serde(default)]
    http_only: bool,
    #[serde(default)]
    secure: bool,
    #[serde(default)]
    same_site: Option<String>,
    #[serde(default)]
    host_only: Option<bool>,
    #[serde(default)]
    session: Option<bool>,
    #[serde(default)]
    partition_key: Option<String>,
}

fn root_path() -> String {
    "/".to_owned()
}

/// The file: cookies, and the origins' local storage (none: the lab's browsers have none).
#[derive(Clone, Debug, Serialize, Deserialize)]
struct StorageState {
    cookies: Vec<serde_json::Value>,
    #[serde(default)]
    origins: Vec<serde_json::Value>,
}

/// The jar as a `storageState` JSON. A cookie without `SameSite` is written `"Lax"`, the
/// default browsers apply and the value Playwright accepts for it.
pub fn storage_state(cookies: &[CookieRow]) -> String {
    let cookies: Vec<serde_json::Value> = cookies
        .iter()
        .map(|cookie| {
            serde_json::to_value(PlaywrightCookie {
                name: cookie.name.clone(),
                value: cookie.value.clone(),
                domain: dotted_domain(cookie),
                path: cookie.path.clone(),
                expires: cookie.expires.map_or(-1.0, |at| at.unix_timestamp() as f64),
                http_only: cookie.http_only,
                secure: cookie.secure,
                same_site: cookie.same_site.clone().unwrap_or_else(|| "Lax".to_owned()),
                partition_key: cookie.partition.clone(),
            })
            .unwrap_or_default()
        })
        .collect();
    serde_json::to_string_pretty(&StorageState {
        cookies,
        origins: Vec::new(),
    })
    .unwrap_or_default()
}

/// Reads a `storageState` JSON: every cookie it can use, and why each other entry was left
/// out; an error when the text is not such a file at all.
pub fn parse_storage_state(text: &str, now: OffsetDateTime) -> Result<Imported, ImportError> {
    let state: StorageState =
        serde_json::from_str(text).map_err(|e| ImportError::NotStorageState(e.to_string()))?;
    let mut imported = Imported {
        format: "storageState",
        ..Imported::default()
    };
    read_entries(&mut imported, "cookies", state.cookies, now);
    Ok(imported)
}

/// Reads a JSON list of cookies (Puppeteer's `page.cookies()`, the Cookie-Editor extension's
/// export): every cookie it can use, and why each other entry was left out.
pub fn parse_cookie_list(text: &str, now: OffsetDateTime) -> Result<Imported, ImportError> {
    let entries: Vec<serde_json::Value> =
        serde_json::from_str(text).map_err(|e| ImportError::NotCookieList(e.to_string()))?;
    let mut imported = Imported {
        format: "cookie list (JSON)",
        ..Imported::default()
    };
    read_entries(&mut imported, "", entries, now);
    Ok(imported)
}

fn read_entries(
    imported: &mut Imported,
    list: &str,
    entries: Vec<serde_json::Value>,
    now: OffsetDateTime,
) {
    for (index, entry) in entries.into_iter().enumerate() {
        let at = format!("{list}[{index}]");
        match serde_json::from_value::<ReadCookie>(entry)
            .map_err(|e| CookieProblem::NotACookie(e.to_string()))
            .and_then(|c| to_row(c, now))
        {
            Ok(cookie) => imported.cookies.push(cookie),
            Err(reason) => imported.problems.push(ImportProblem { at, reason }),
        }
    }
}

fn to_row(cookie: ReadCookie, now: OffsetDateTime) -> Result<CookieRow, CookieProblem> {
    let expires = match (cookie.expires, cookie.session) {
        (_, Some(true)) | (None, _) => None,
        (Some(seconds), _) if seconds < 0.0 => None,
        (Some(seconds), _) => {
            let at = OffsetDateTime::from_unix_timestamp(seconds as i64)
                .map_err(|_| CookieProblem::ExpiryOutOfRange(seconds.to_string()))?;
            if at <= now {
                return Err(CookieProblem::Expired {
                    name: cookie.name,
                    at,
                });
            }
            Some(at)
        }
    };
    let same_site = match cookie
        .same_site
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("unspecified" | "") => None,
        Some("strict") => Some("Strict".to_owned()),
        Some("lax") => Some("Lax".to_owned()),
        Some("none" | "no_restriction") => Some("None".to_owned()),
        Some(other) => {
            return Err(CookieProblem::SameSite {
                name: cookie.name,
                value: other.to_owned(),
            });
        }
    };
    if same_site.as_deref() == Some("None") && !cookie.secure {
        return Err(CookieProblem::NoneWithoutSecure(cookie.name));
    }
    let row = CookieRow {
        host_only: cookie
            .host_only
            .unwrap_or_else(|| !cookie.domain.starts_with('.')),
        domain: cookie.domain.trim_start_matches('.').to_ascii_lowercase(),
        name: cookie.name,
        value: cookie.value,
        path: cookie.path,
        expires,
        http_only: cookie.http_only,
        secure: cookie.secure,
        same_site,
        partition: cookie.partition_key,
    };
    check_cookie(&row)?;
    Ok(row)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every attribute goes out and comes back; a session cookie is -1; bad entries are named.
    #[test]
    fn round_trips_and_names_bad_entries() {
        let cookies = vec![
            CookieRow {
                name: "id".to_owned(),
                value: "abc".to_owned(),
                domain: "127.0.0.1".to_owned(),
                host_only: true,
                path: "/".to_owned(),
                expires: None,
                http_only: true,
                secure: false,
                same_site: Some("Strict".to_owned()),
                partition: None,
            },
            CookieRow {
                name: "wide".to_owned(),
                value: "1".to_owned(),
                domain: "lab.test".to_owned(),
                host_only: false,
                path: "/api".to_owned(),
                expires: Some(OffsetDateTime::from_unix_timestamp(4_000_000_000).unwrap()),
                http_only: false,
                secure: true,
                same_site: Some("None".to_owned()),
                partition: Some("https://lab.test".to_owned()),
            },
        ];
        let text = storage_state(&cookies);
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(json["cookies"][0]["expires"], -1.0);
        assert_eq!(json["cookies"][1]["domain"], ".lab.test");
        assert_eq!(json["cookies"][0]["httpOnly"], true);
        let back = parse_storage_state(&text, OffsetDateTime::UNIX_EPOCH).unwrap();
        assert_eq!(back.cookies, cookies);

        let bad = r#"{"cookies":[{"name":"x"},{"name":"y","value":"1","domain":"h","path":"/",
            "expires":-1,"httpOnly":false,"secure":false,"sameSite":"None"}]}"#;
        let read = parse_storage_state(bad, OffsetDateTime::UNIX_EPOCH).unwrap();
        assert!(read.cookies.is_empty());
        assert_eq!(read.problems[0].at, "cookies[0]");
        assert!(matches!(
            &read.problems[0].reason,
            CookieProblem::NotACookie(why) if why.contains("missing field")
        ));
        assert!(matches!(
            read.problems[1].reason,
            CookieProblem::NoneWithoutSecure(_)
        ));
        assert!(parse_storage_state("[1,2]", OffsetDateTime::UNIX_EPOCH).is_err());
    }

    /// A minimal hand-written cookie takes the defaults; Cookie-Editor's export reads with its
    /// own names (a session cookie, hostOnly, sameSite no_restriction).
    #[test]
    fn other_writers_cookies_read() {
        let minimal = r#"{"cookies":[{"name":"id","value":"1","domain":"127.0.0.1"}]}"#;
        let read = parse_storage_state(minimal, OffsetDateTime::UNIX_EPOCH).unwrap();
        let id = &read.cookies[0];
        assert_eq!(
            (id.path.as_str(), id.expires, id.host_only),
            ("/", None, true)
        );
        let editor = r#"[{"domain":"lab.test","expirationDate":4000000000.5,"hostOnly":false,
            "httpOnly":true,"name":"a","path":"/","sameSite":"no_restriction","secure":true,
            "session":false,"storeId":"0","value":"x"},
            {"domain":"lab.test","hostOnly":true,"name":"b","path":"/","sameSite":"unspecified",
            "secure":false,"session":true,"value":"y"}]"#;
        let read = parse_cookie_list(editor, OffsetDateTime::UNIX_EPOCH).unwrap();
        assert!(read.problems.is_empty(), "{:?}", read.problems);
        let (a, b) = (&read.cookies[0], &read.cookies[1]);
        assert!(!a.host_only && a.http_only && a.secure && a.expires.is_some());
        assert_eq!(a.same_site.as_deref(), Some("None"));
        assert!(b.host_only && b.expires.is_none() && b.same_site.is_none());
    }
}
