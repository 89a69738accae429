//! What others hand the lab stays inside it: a scenario file from a stranger can send the lab's
//! browsers only to the lab's own names (no other host, no IP address, no port of its own, not
//! through the attacker's page either) and says which step it refused; its numbers and
//! settings are range-checked where they are read; what a server sends reaches the terminal
//! shown, not obeyed; and a lab file is bounded by what it costs in memory.

mod common;

use std::process::Command;

use common::canned::read_head;
use session_lab::{
    lab::saved::{LabFileError, MAX_LAB_VALUES, SavedLab},
    scenario::{Scenario, confined},
};
use tokio::io::AsyncWriteExt;

const BIN: &str = env!("CARGO_BIN_EXE_session-lab");

/// The two-sessions scenario as a TOML table, to change as a stranger would.
fn base() -> toml::Table {
    let base = Scenario::built_in()
        .into_iter()
        .find(|s| s.id == "two-sessions")
        .expect("the built-in");
    toml::Table::try_from(&base).expect("it writes")
}

/// The two-sessions scenario with `step` as its fifth (last) solution step.
fn with_step(step: &str) -> String {
    let mut table = base();
    let step: toml::Table = toml::from_str(step).expect("the step is TOML");
    table["solution"]
        .as_array_mut()
        .expect("a solution")
        .push(step.into());
    toml::to_string(&table).expect("it writes")
}

fn refused(step: &str) -> String {
    match Scenario::read("stranger.toml", &with_step(step)) {
        Ok(_) => panic!("a scenario with {step:?} was read"),
        Err(error) => error.to_string(),
    }
}

/// Addresses that would reach past the lab are refused at read, naming the step; the lab's
/// own paths, proxy and names are taken.
#[test]
fn a_scenario_cannot_send_the_browsers_out_of_the_lab() {
    for url in [
        "http://127.0.0.1:6379/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:8080/",
        "http://example.com/",
        "http://app.lab.test:22/",
        "http://user@app.lab.test/",
        "{proxy}@evil.test/",
        "//evil.test/x",
        "/\\evil.test/x",
        "file:///etc/passwd",
    ] {
        let why = refused(&format!(
            "do = \"visit\"\nbrowser = \"A\"\nurl = {}",
            toml::Value::from(url)
        ));
        assert!(why.contains("solution step 5"), "{url}: {why}");
        assert!(confined(url).is_err(), "{url}");
    }
    for url in [
        "/",
        "/login?user=alice",
        "{proxy}/login",
        "https://app.lab.test/",
        "http://API.lab.test/x",
    ] {
        assert_eq!(confined(url), Ok(()), "{url}");
    }
}

/// The attacker's page a scenario writes may only point at the lab's names: its links,
/// images and forms are checked too (a lure follows them).
#[test]
fn the_attackers_page_cannot_point_out_of_the_lab() {
    for html in [
        r#"<img src="http://192.168.1.1/reboot">"#,
        r#"<a href="http://localhost:9200/_shutdown">x</a>"#,
        r#"<form action="http://app.lab.test:5432/" method="post"></form>"#,
    ] {
        let why = refused(&format!(
            "do = \"write_page\"\nhtml = {}",
            toml::Value::from(html)
        ));
        assert!(why.contains("the page points at"), "{html}: {why}");
    }
    let fine = with_step(
        "do = \"write_page\"\nhtml = '<img src=\"http://app.lab.test/account/email?email=x\">'",
    );
    Scenario::read("fine.toml", &fine).expect("the lab's own name is fine");
}

/// Numbers a step could overflow or stall the lab with are refused where they are read, and
/// scenario settings get the limits every other way of setting them has.
#[test]
fn a_scenarios_numbers_and_settings_are_bounded() {
    for (step, words) in [
        (
            "do = \"move_clock\"\nminutes = 9223372036854775807",
            "the clock moves ahead",
        ),
        ("do = \"move_clock\"\nminutes = -5", "the clock moves ahead"),
        (
            "do = \"rotate_secret\"\ngrace_minutes = 9223372036854775807",
            "old secret",
        ),
        (
            "do = \"burst\"\nbrowser = \"A\"\nurl = \"/\"\ncount = 100000",
            "a burst sends",
        ),
    ] {
        let why = refused(step);
        assert!(why.contains(words), "{step}: {why}");
    }
    for (settings, words) in [
        ("store_latency_ms = 100000", "store latency"),
        ("max_sessions = 0", "session limit"),
        (
            "expiry = { OnInactivity = { secs = 0 } }",
            "inactivity timeout",
        ),
    ] {
        let mut table = base();
        table.insert(
            "settings".into(),
            toml::from_str::<toml::Table>(settings).unwrap().into(),
        );
        let text = toml::to_string(&table).unwrap();
        let error = Scenario::read("x.toml", &text).unwrap_err().to_string();
        assert!(error.contains(words), "{settings}: {error}");
    }
}

/// A server whose page and cookie carry terminal escapes, a carriage return and a
/// right-to-left override.
async fn hostile_server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                while read_head(&mut stream).await.is_some() {
                    let body = "Number of views 1\u{1b}[2J\u{1b}]8;;http://evil.test\u{7}ok\u{1b}]8;;\u{7}\rFAILED\u{202e}txt.exe";
                    let response = format!(
                        "HTTP/1.1 200 OK\r\nset-cookie: sid=abc; Path=/\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    if stream.write_all(response.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    format!("http://{addr}/")
}

/// `demo --url` and `audit --url` (text and Markdown) print what the server sent shown, not
/// obeyed: no escape, carriage return or bidi override reaches the terminal.
#[test]
fn what_a_server_sends_is_shown_not_obeyed() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let url = runtime.block_on(hostile_server());
    let data = std::env::temp_dir().join(format!("untrusted-{}", std::process::id()));
    for args in [
        vec!["demo", "--url", url.as_str()],
        vec!["audit", "--url", url.as_str(), "--samples", "100"],
        vec![
            "audit",
            "--url",
            url.as_str(),
            "--samples",
            "100",
            "--markdown",
        ],
    ] {
        let output = Command::new(BIN)
            .env("XDG_DATA_HOME", &data)
            .args(&args)
            .output()
            .expect("runs");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        for text in [&stdout, &stderr] {
            let obeyed: Vec<char> = text
                .chars()
                .filter(|c| {
                    (c.is_control() && *c != '\n' && *c != '\t')
                        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
                })
                .collect();
            assert!(obeyed.is_empty(), "{args:?} printed {obeyed:?}:\n{text}");
        }
        if args[0] == "demo" {
            assert!(stdout.contains("\\u{1b}[2J"), "shown: {stdout}");
        }
    }
    drop(runtime);
}

/// A lab file of a million empty objects is refused before it is built, in its words, not
/// after taking twenty times its size in memory.
#[test]
fn a_lab_file_is_bounded_by_what_it_costs_in_memory() {
    let history = vec!["{}"; MAX_LAB_VALUES + 1].join(",");
    let text = format!(
        r#"{{"format":1,"written_by":"x","browsers":[{{"name":"A","colour":0,"private":false,"cookies_enabled":true,"from":"","spread":false,"url":"/","cookies":[],"history":[{history}]}}],"settings":{{}},"store":null}}"#
    );
    match SavedLab::from_json(&text) {
        Err(error @ LabFileError::TooManyValues { .. }) => {
            assert!(error.to_string().contains("more than"), "{error}");
        }
        other => panic!("read as {other:?}"),
    }
    // A lab as the lab writes it reads back.
    let seed = SavedLab::seed("http://127.0.0.1:3000/");
    SavedLab::from_json(&seed.to_json()).expect("the seed lab reads");
}
