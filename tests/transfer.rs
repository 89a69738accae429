//! A browser's state taken out and brought back: jars through `cookies.txt` and
//! `storageState` into another browser, an exchange replayed with its curl command, the HAR
//! checked against the HAR 1.2 JSON schema — all against the real embedded server.

mod common;

use common::{WAIT, id, lab, session_of, visit};
use session_lab::lab::BrowserCommand;
use session_lab::{
    lab::{LogEntry, Logged},
    transfer::{self, parse_cookies},
};

/// Brings `text` into browser `name`'s jar as the window's import does; returns the log entry
/// that reports it.
fn import(
    lab: &session_lab::lab::Lab,
    state: &mut session_lab::lab::LabState,
    name: &str,
    text: &str,
) -> LogEntry {
    let read = parse_cookies(text, time::OffsetDateTime::now_utc()).unwrap();
    assert!(read.problems.is_empty(), "{:?}", read.problems);
    let before = state.logged;
    lab.send(BrowserCommand::ImportCookies {
        browser: id(state, name),
        cookies: read.cookies,
        format: read.format.to_owned(),
    });
    assert!(lab.wait_until(state, WAIT, |s| s.logged > before));
    state.log_since(before).next().unwrap().clone()
}

/// A's jar, exported in either format and imported into B, continues A's session: B reads
/// the next count, and both browsers hold the same session.
#[test]
fn an_exported_jar_continues_the_session_in_another_browser() {
    let (lab, mut state) = lab();
    visit(&lab, &mut state, "A");
    assert_eq!(visit(&lab, &mut state, "A"), "Number of views 2");
    let export = state.export_browser(id(&state, "A")).unwrap();

    let logged = import(&lab, &mut state, "B", &export.cookies_txt);
    assert!(
        matches!(&logged.what, Logged::Jar(_)),
        "the import is logged: {logged:?}"
    );
    assert!(
        logged
            .text()
            .contains("Imported 1 cookie(s) from a cookies.txt file")
    );
    assert_eq!(visit(&lab, &mut state, "B"), "Number of views 3");
    assert_eq!(session_of(&state, "A"), session_of(&state, "B"));

    // The same through Playwright's format, into a third browser.
    lab.send(BrowserCommand::AddBrowser { private: false });
    assert!(lab.wait_until(&mut state, WAIT, |s| s.browser_named("C").is_some()));
    import(&lab, &mut state, "C", &export.storage_state);
    assert_eq!(visit(&lab, &mut state, "C"), "Number of views 4");
    let c = state.browser_named("C").unwrap();
    assert!(c.cookies[0].cookie.http_only, "HttpOnly came through");
    assert_eq!(c.cookies[0].cookie.same_site.as_deref(), Some("Lax"));
}

/// An import the jar cannot take whole changes nothing: the good cookie does not go in alone,
/// and the problem names the cookie the jar refused (here one already expired, which the
/// readers would have left out, sent straight to the jar).
#[test]
fn an_import_is_all_or_nothing() {
    let (lab, mut state) = lab();
    visit(&lab, &mut state, "A");
    let before = state.browser_named("A").unwrap().cookies.clone();
    let text = "127.0.0.1\tFALSE\t/\tFALSE\t0\tgood\t1\n";
    let read = parse_cookies(text, time::OffsetDateTime::now_utc()).unwrap();
    let mut bad = read.cookies[0].clone();
    bad.name = "bad".to_owned();
    bad.expires = Some(time::OffsetDateTime::now_utc() - time::Duration::hours(1));
    let logged = state.logged;
    lab.send(BrowserCommand::ImportCookies {
        browser: id(&state, "A"),
        cookies: vec![read.cookies[0].clone(), bad],
        format: read.format.to_owned(),
    });
    assert!(lab.wait_until(&mut state, WAIT, |s| s.logged > logged));
    let line = state.log_since(logged).next().unwrap();
    assert!(line.text().contains("bad"), "{}", line.text());
    assert_eq!(state.browser_named("A").unwrap().cookies, before);
}

/// *Copy as curl*: the command, run by a shell, sends what A sent — its cookie included — so
/// the server counts on in A's session.
#[test]
fn copy_as_curl_replays_the_request() {
    let (lab, mut state) = lab();
    visit(&lab, &mut state, "A");
    assert_eq!(visit(&lab, &mut state, "A"), "Number of views 2");
    let a = id(&state, "A");
    let record = state
        .exchanges
        .iter()
        .rev()
        .find(|r| r.browser == a)
        .unwrap()
        .clone();
    let command = state.curl_for(&record);
    assert!(command.contains("-H 'Cookie: id="), "{command}");
    if !common::have_curl() {
        return;
    }
    let output = std::process::Command::new("sh")
        .args(["-c", &format!("{command} --silent")])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&output.stdout), "Number of views 3");
    assert_eq!(visit(&lab, &mut state, "A"), "Number of views 4");
}

/// The HAR is valid HAR 1.2 by the har-schema JSON schema (bundled in tests/fixtures) and
/// reads back into HAR's types; it holds every exchange with its cookies and timings.
#[test]
fn the_har_is_valid_har_1_2() {
    let (lab, mut state) = lab();
    visit(&lab, &mut state, "A");
    let url = lab.server_url().unwrap();
    common::visit_url(&lab, &mut state, "A", &format!("{url}login?user=ann"));
    let export = state.export_browser(id(&state, "A")).unwrap();
    let har: serde_json::Value = serde_json::from_str(&export.har).unwrap();
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/har-1.2.schema.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let errors = common::json_schema::errors(&schema, &har);
    assert!(errors.is_empty(), "{errors:#?}");
    // The schema bites: a log without entries, a status that is text, a date that is not one.
    for (path, change) in [
        (
            "/log",
            serde_json::json!({"version": "1.2", "creator": har["log"]["creator"]}),
        ),
        ("/log/entries/0/response/status", serde_json::json!("200")),
        (
            "/log/entries/0/startedDateTime",
            serde_json::json!("yesterday"),
        ),
    ] {
        let mut broken = har.clone();
        *broken.pointer_mut(path).unwrap() = change;
        assert!(
            !common::json_schema::errors(&schema, &broken).is_empty(),
            "{path} broken, yet valid"
        );
    }

    let log = serde_json::from_str::<transfer::har_log::Har>(&export.har)
        .unwrap()
        .log;
    assert_eq!(log.version, "1.2");
    // The visit and the login.
    assert_eq!(log.entries.len(), 2);
    assert_eq!(log.creator.name, "Session Lab");
    let first = &log.entries[0];
    assert_eq!(first.response.status, 200);
    assert_eq!(first.response.cookies[0].name, "id");
    assert_eq!(first.response.cookies[0].http_only, Some(true));
    assert!(
        first.request.cookies.is_empty(),
        "the first visit had no cookie"
    );
    assert_eq!(log.entries[1].request.cookies[0].name, "id");
    assert_eq!(log.entries[1].request.query_string[0].name, "user");
    assert!(first.time >= 0.0 && first.timings.wait >= 0.0);

    // It reads back as the exchanges it was made from (what a saved lab's history restores).
    let back = transfer::exchanges_from_har(&har).unwrap();
    let a = id(&state, "A");
    let original: Vec<_> = state
        .exchanges
        .iter()
        .filter(|r| r.browser == a)
        .map(|r| &r.exchange)
        .collect();
    assert_eq!(back.len(), original.len());
    for (back, original) in back.iter().zip(original) {
        assert_eq!(
            (&back.method, &back.url, back.status, &back.body),
            (
                &original.method,
                &original.url,
                original.status,
                &original.body
            )
        );
        assert_eq!(back.cookie_header, original.cookie_header);
        assert_eq!(back.response_headers, original.response_headers);
        assert_eq!(back.sent_at, original.sent_at);
    }

    // The folder `demo --export` and the window write.
    let dir = std::env::temp_dir().join(format!("session-lab-export-{}", std::process::id()));
    let folder = export.write_to(&dir).unwrap();
    for name in [
        transfer::COOKIES_TXT,
        transfer::STORAGE_STATE_JSON,
        transfer::HISTORY_HAR,
    ] {
        assert!(folder.join(name).is_file(), "{name}");
    }
    let _ = std::fs::remove_dir_all(dir);
}
