//! Properties of every parser that reads outside input, over generated inputs: a `Set-Cookie`
//! header, a `cookies.txt`, a Playwright `storageState`, a JSON cookie list, a HAR log and a
//! saved lab, and a session cookie the audit decodes, never panic whatever they hold, and what the lab writes reads back as it was.
//! (The server's opening of signed and private cookie values has its own properties in
//! `crates/server/src/cookie.rs`; `fuzz/` runs the same parsers under a coverage-guided fuzzer.)

use std::time::Duration;

use proptest::prelude::*;
use serde_json::Value;
use session_lab::{
    audit,
    browser::{CookieRow, Exchange, RequestFrom, SetCookie, parse_cookie_date},
    lab::saved::SavedLab,
    transfer::{
        exchanges_from_har, har_text, netscape, parse_cookie_list, parse_cookies, parse_netscape,
        parse_storage_state, storage_state,
    },
};
use time::OffsetDateTime;

fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
}

/// A token as cookie names are (RFC 6265 `token`), starting with a letter (no `__Host-`
/// prefix and its rules).
fn token() -> impl Strategy<Value = String> {
    "[A-Za-z][A-Za-z0-9!#$&'*+.^_`|~-]{0,11}"
}

/// A cookie as a jar holds one: what every writer must write and read back.
fn cookie_row() -> impl Strategy<Value = CookieRow> {
    (
        token(),
        "[A-Za-z0-9!#$&'()*+./:<=>?@^_`{|}~-]{0,40}",
        "[a-z]{1,10}(\\.[a-z]{2,5}){1,2}",
        any::<bool>(),
        "(/[a-z0-9]{0,6}){1,3}",
        proptest::option::of(1_800_000_100i64..1_900_000_000),
        any::<bool>(),
        any::<bool>(),
        proptest::option::of(prop_oneof![
            Just("Strict".to_owned()),
            Just("Lax".to_owned()),
            Just("None".to_owned())
        ]),
    )
        .prop_map(
            |(name, value, domain, host_only, path, expires, http_only, secure, same_site)| {
                CookieRow {
                    name,
                    value,
                    domain,
                    host_only,
                    path,
                    expires: expires.map(|at| OffsetDateTime::from_unix_timestamp(at).unwrap()),
                    http_only,
                    // As a jar holds it: SameSite=None only with Secure.
                    secure: secure || same_site.as_deref() == Some("None"),
                    same_site,
                    partition: None,
                }
            },
        )
}

/// Any JSON, built from the words the lab's formats use, so that generated documents reach
/// past the first field check.
fn json() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        Just("log"),
        Just("entries"),
        Just("request"),
        Just("response"),
        Just("method"),
        Just("url"),
        Just("headers"),
        Just("name"),
        Just("value"),
        Just("status"),
        Just("cookies"),
        Just("domain"),
        Just("path"),
        Just("expires"),
        Just("httpOnly"),
        Just("secure"),
        Just("sameSite"),
        Just("format"),
        Just("browsers"),
        Just("settings"),
        Just("origins"),
        Just("partitionKey"),
        Just("version"),
        Just("creator"),
        Just("x"),
    ]
    .prop_map(str::to_owned);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        ".{0,20}".prop_map(Value::from),
        Just(Value::from("1.2")),
        Just(Value::from(1)),
    ];
    leaf.prop_recursive(5, 64, 8, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map(key.clone(), inner, 0..8)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// An exchange as the browsers record one (the fields HAR keeps).
fn exchange() -> impl Strategy<Value = Exchange> {
    let header = || (token(), "[ -~]{0,30}");
    (
        prop_oneof![Just("GET".to_owned()), Just("POST".to_owned())],
        "[a-z]{1,10}(/[a-z0-9]{0,6}){0,3}",
        proptest::collection::vec(header(), 0..5),
        proptest::option::of("[a-z]{1,5}=[a-z0-9]{0,10}"),
        100u16..600,
        proptest::collection::vec(header(), 0..5),
        ".{0,100}",
    )
        .prop_map(
            |(method, path, request_headers, request_body, status, response_headers, body)| {
                Exchange {
                    sent_at: now(),
                    request_body: (method == "POST").then(|| request_body.unwrap_or_default()),
                    method,
                    url: format!("http://127.0.0.1:3000/{path}"),
                    cookie_header: None,
                    request_headers,
                    http_version: "HTTP/1.1".to_owned(),
                    not_sent: Vec::new(),
                    from: RequestFrom::AddressBar,
                    blocked: Vec::new(),
                    status,
                    reason: String::new(),
                    response_headers,
                    body,
                    latency: Duration::from_millis(3),
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig {
        // The failing case is printed; nothing is written into the source tree.
        failure_persistence: None,
        ..ProptestConfig::with_cases(512)
    })]

    /// Any cookie value — text, or shaped like the session formats the audit reads (dots,
    /// colons, `--`, base64 of anything, a compressed payload) — is read or left opaque by the
    /// audit's decoder: no panic.
    #[test]
    fn any_session_cookie_value_is_decoded_or_left_opaque(
        text in ".{0,200}",
        parts in proptest::collection::vec("[A-Za-z0-9_=+/-]{0,40}", 1..4),
        joiner in "[.:]|--",
        bytes in proptest::collection::vec(any::<u8>(), 0..120),
    ) {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&bytes);
        for value in [
            text.clone(),
            parts.join(&joiner),
            format!("{b64}.{}", parts.join(".")),
            format!(".{b64}:{}", parts.join(":")),
            format!("eyJhbGciOiJub25lIn0.{b64}.{}", parts[0]),
        ] {
            if let Some(kind) = audit::decode_cookie("session", &value, &["session.sig".into()]) {
                let _ = kind.summary();
            }
        }
    }

    /// Any text as a `Set-Cookie` header, or as a cookie date, is read or refused: no panic.
    #[test]
    fn any_set_cookie_is_read_or_refused(header in ".{0,300}", attributes in "(; ?[A-Za-z-]{0,12}(=.{0,30})?){0,6}") {
        let _ = SetCookie::read(&header);
        let _ = SetCookie::read(&format!("id=x{attributes}"));
        let _ = parse_cookie_date(&header);
    }

    /// A well-formed `Set-Cookie` reads back the name, value and attributes it was written with.
    #[test]
    fn a_written_set_cookie_reads_back(
        name in token(), value in "[A-Za-z0-9._~-]{0,40}", path in "/[a-z0-9/]{0,10}",
        max_age in -1000i64..100_000_000, http_only in any::<bool>(), secure in any::<bool>(),
    ) {
        let mut header = format!("{name}={value}; Path={path}; Max-Age={max_age}");
        if http_only { header.push_str("; HttpOnly"); }
        if secure { header.push_str("; Secure"); }
        let read = SetCookie::read(&header).unwrap();
        prop_assert_eq!(read.name, name);
        prop_assert_eq!(read.value, value);
        prop_assert_eq!(read.path.as_deref(), Some(path.as_str()));
        prop_assert_eq!(read.max_age, Some(max_age));
        prop_assert_eq!((read.http_only, read.secure), (http_only, secure));
    }

    /// Any text pasted or opened as cookies (cookies.txt, storageState, a JSON list) is read
    /// or refused with a reason: no panic.
    #[test]
    fn any_cookie_file_is_read_or_refused(text in ".{0,400}", value in json()) {
        let _ = parse_cookies(&text, now());
        let _ = parse_netscape(&text, now());
        let json = value.to_string();
        let _ = parse_cookies(&json, now());
        let _ = parse_storage_state(&json, now());
        let _ = parse_cookie_list(&json, now());
    }

    /// What the lab writes as cookies.txt and as storageState reads back as the same cookies,
    /// but for what the format cannot hold: cookies.txt has no SameSite column, and
    /// storageState no "unset" SameSite (a cookie without one is written as Chrome treats it,
    /// `Lax`, as Playwright does).
    #[test]
    fn cookie_files_round_trip(cookies in proptest::collection::vec(cookie_row(), 0..8)) {
        let from_txt = parse_netscape(&netscape(&cookies), now());
        prop_assert!(from_txt.problems.is_empty(), "{:?}", from_txt.problems);
        let mut unset = cookies.clone();
        for cookie in &mut unset {
            cookie.same_site = None;
        }
        prop_assert_eq!(&from_txt.cookies, &unset);
        let from_state = parse_storage_state(&storage_state(&cookies), now()).unwrap();
        prop_assert!(from_state.problems.is_empty(), "{:?}", from_state.problems);
        let mut lax = cookies.clone();
        for cookie in &mut lax {
            cookie.same_site.get_or_insert_with(|| "Lax".to_owned());
        }
        prop_assert_eq!(&from_state.cookies, &lax);
    }

    /// Any JSON opened as a HAR log is read or refused: no panic; a HAR the lab wrote reads
    /// back as the exchanges it was written from, and survives any one value in it changed.
    #[test]
    fn har_logs_round_trip_and_never_panic(
        exchanges in proptest::collection::vec(exchange(), 0..4),
        value in json(), at in any::<usize>(),
    ) {
        let _ = exchanges_from_har(&value);
        let text = har_text("A", &exchanges);
        let mut har: Value = serde_json::from_str(&text).unwrap();
        let back = exchanges_from_har(&har).unwrap();
        prop_assert_eq!(back.len(), exchanges.len());
        for (back, sent) in back.iter().zip(&exchanges) {
            prop_assert_eq!(&back.method, &sent.method);
            prop_assert_eq!(&back.url, &sent.url);
            prop_assert_eq!(back.status, sent.status);
            prop_assert_eq!(&back.body, &sent.body);
            prop_assert_eq!(&back.request_body, &sent.request_body);
        }
        replace_nth_leaf(&mut har, at, value);
        let _ = exchanges_from_har(&har);
    }

    /// Any JSON opened as a saved lab is read or refused with a reason: no panic; a lab read
    /// and written again reads back the same.
    #[test]
    fn lab_files_never_panic_and_round_trip(value in json(), at in any::<usize>()) {
        let _ = SavedLab::from_json(&value.to_string());
        let mut seed: Value = serde_json::from_str(&SavedLab::seed("http://127.0.0.1:3000/").to_json()).unwrap();
        replace_nth_leaf(&mut seed, at, value);
        if let Ok(mut lab) = SavedLab::from_json(&seed.to_string()) {
            let _ = lab.sanitise(now());
            let again = SavedLab::from_json(&lab.to_json()).unwrap();
            prop_assert_eq!(again, lab);
        }
    }
}

/// Replaces the `n`-th leaf (counted depth first, wrapping around) of `value` with `with`.
fn replace_nth_leaf(value: &mut Value, n: usize, with: Value) {
    fn leaves(value: &Value) -> usize {
        match value {
            Value::Array(items) => items.iter().map(leaves).sum::<usize>().max(1),
            Value::Object(map) => map.values().map(leaves).sum::<usize>().max(1),
            _ => 1,
        }
    }
    fn replace(value: &mut Value, mut n: usize, with: Value) -> Option<Value> {
        let children: Vec<&mut Value> = match value {
            Value::Array(items) if !items.is_empty() => items.iter_mut().collect(),
            Value::Object(map) if !map.is_empty() => map.values_mut().collect(),
            _ => {
                *value = with;
                return None;
            }
        };
        for child in children {
            let count = leaves(child);
            if n < count {
                return replace(child, n, with);
            }
            n -= count;
        }
        Some(with)
    }
    let total = leaves(value);
    let _ = replace(value, n % total, with);
}
