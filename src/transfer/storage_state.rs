//! Playwright's `storageState` file: `{ "cookies": [...], "origins": [...] }`, each cookie with
//! every attribute — what `browserContext.storageState()` writes and
//! `browser.newContext({ storageState })` reads.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{ImportProblem, Imported, check_cookie, dotted_domain};
use crate::browser::CookieRow;

/// One cookie as Playwright writes it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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
pub fn parse_storage_state(text: &str, now: OffsetDateTime) -> Result<Imported, String> {
    let state: StorageState = serde_json::from_str(text).map_err(|e| {
        format!("not a Playwright storageState file (an object with a \"cookies\" list): {e}")
    })?;
    let mut imported = Imported {
        format: "storageState",
        ..Imported::default()
    };
    for (index, entry) in state.cookies.into_iter().enumerate() {
        let at = format!("cookies[{index}]");
        match serde_json::from_value::<PlaywrightCookie>(entry)
            .map_err(|e| format!("not a cookie Playwright writes: {e}"))
            .and_then(|c| to_row(c, now))
        {
            Ok(cookie) => imported.cookies.push(cookie),
            Err(reason) => imported.problems.push(ImportProblem { at, reason }),
        }
    }
    Ok(imported)
}

fn to_row(cookie: PlaywrightCookie, now: OffsetDateTime) -> Result<CookieRow, String> {
    let expires = if cookie.expires < 0.0 {
        None
    } else {
        let at = OffsetDateTime::from_unix_timestamp(cookie.expires as i64)
            .map_err(|_| format!("the expiry {} is out of range", cookie.expires))?;
        if at <= now {
            return Err(format!("cookie “{}” expired at {at}", cookie.name));
        }
        Some(at)
    };
    let same_site = match cookie.same_site.as_str() {
        "Strict" | "Lax" | "None" => Some(cookie.same_site.clone()),
        other => {
            return Err(format!(
                "cookie “{}”: sameSite “{other}” is none of Strict, Lax, None",
                cookie.name
            ));
        }
    };
    if same_site.as_deref() == Some("None") && !cookie.secure {
        return Err(format!(
            "cookie “{}”: sameSite None without secure, which browsers refuse",
            cookie.name
        ));
    }
    let row = CookieRow {
        host_only: !cookie.domain.starts_with('.'),
        domain: cookie.domain.trim_start_matches('.').to_ascii_lowercase(),
        name: cookie.name,
        value: cookie.value,
        path: cookie.path,
        expires,
        http_only: cookie.http_only,
        secure: cookie.secure,
        same_site,
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
        assert!(read.problems[0].reason.contains("missing field"));
        assert!(read.problems[1].reason.contains("without secure"));
        assert!(parse_storage_state("[1,2]", OffsetDateTime::UNIX_EPOCH).is_err());
    }
}
