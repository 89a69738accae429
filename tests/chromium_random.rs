//! Debian's Chromium's answers to random Set-Cookie sequences, replayed without a Chromium:
//! `tests/data/chromium-random.json` holds 1,000 seeded cases (`bench/tools/chromium-random.sh`
//! generated them and recorded what Chromium sent) — a few address-bar navigations whose
//! responses set cookies, then one more whose `Cookie` header is the answer. Every case is
//! replayed (a) through the jar crate alone and (b) through the lab's browser against a raw
//! server on 127.0.0.1, and the `Cookie` header is compared with Chromium's byte for byte.
//!
//! The test fails on any disagreement that is not listed in [`KNOWN`] or
//! [`KNOWN_BROWSER_ONLY`] (case id → the kinds of difference that explain it), and on a listed
//! case that now agrees (so the lists stay true). `CHROMIUM_RANDOM_VERBOSE=1` prints the
//! listed disagreements too; `CHROMIUM_RANDOM_FILE=path` replays another recording of the
//! same format (such as minimal cases played with `chromium-random.js --cases=…`);
//! `CHROMIUM_RANDOM_ANSWERS=path` writes every case's answers (jar, browser, browser errors)
//! there as JSON.

use std::{
    collections::{BTreeMap, HashMap},
    net::SocketAddr,
    sync::{Arc, Mutex},
};

use base64::Engine;
use serde_json::Value;
use session_lab::{
    browser::{Browser, VisitOptions},
    clock::LabClock,
};
use session_lab_jar::{Jar, RequestContext, Rules};
use time::{Duration, OffsetDateTime};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};
use url::Url;

/// The names the cases use besides 127.0.0.1; the lab's browser resolves them to the server.
const HOSTS: [&str; 4] = ["a.test", "sub.a.test", "b.test", "x.sub.a.test"];

// Every kind of difference found so far (each confirmed on a minimal case played in Chromium
// 156) is fixed in the jar; `docs/fidelity.md` lists them with the Chromium source that
// explains each. A new one is listed here as `const KIND: &str = "…"` and named in `KNOWN`.

/// Cases where the jar alone (and so the lab's browser) answers otherwise than Chromium did,
/// and the kinds of difference that explain each: removing that kind's lines from the case
/// made Chromium and the jar agree (several kinds: only removing them all did).
const KNOWN: &[(&str, &[&str])] = &[];

/// Cases where only the lab's browser answers otherwise than Chromium did, and why.
const KNOWN_BROWSER_ONLY: &[(&str, &[&str])] = &[];

struct Step {
    url: Url,
    lines: Vec<Vec<u8>>,
}

struct Case {
    id: String,
    steps: Vec<Step>,
    request_url: Url,
    chromium: Option<Vec<u8>>,
}

/// Bytes as the recording holds them: a string (its UTF-8) or `{"base64": …}`.
fn bytes(value: &Value) -> Vec<u8> {
    match value {
        Value::String(text) => text.as_bytes().to_vec(),
        Value::Object(map) => base64::engine::general_purpose::STANDARD
            .decode(map["base64"].as_str().expect("base64 is a string"))
            .expect("valid base64"),
        other => panic!("not bytes: {other}"),
    }
}

/// Bytes as the recording holds them, back.
fn encode(bytes: &[u8]) -> Value {
    match std::str::from_utf8(bytes) {
        Ok(text) => Value::String(text.to_owned()),
        Err(_) => serde_json::json!({
            "base64": base64::engine::general_purpose::STANDARD.encode(bytes)
        }),
    }
}

fn cases() -> (String, Vec<Case>) {
    let file = std::env::var("CHROMIUM_RANDOM_FILE").unwrap_or_else(|_| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/chromium-random.json"
        )
        .to_owned()
    });
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{file}: {e}"));
    let json: Value = serde_json::from_str(&text).unwrap();
    let url = |v: &Value| Url::parse(v.as_str().unwrap()).unwrap();
    let cases = json["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| Case {
            id: c["id"].as_str().unwrap().to_owned(),
            steps: c["steps"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| Step {
                    url: url(&s["url"]),
                    lines: s["set_cookie"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(bytes)
                        .collect(),
                })
                .collect(),
            request_url: url(&c["request_url"]),
            chromium: (!c["chromium_cookie"].is_null()).then(|| bytes(&c["chromium_cookie"])),
        })
        .collect();
    let version = json["chromium_version"].as_str().unwrap_or("?").to_owned();
    (version, cases)
}

/// The jar crate alone: each response stored a second after the one before, as an
/// address-bar navigation (the default context), then the last request's `Cookie` header.
fn jar_answer(case: &Case) -> Option<Vec<u8>> {
    let start = OffsetDateTime::from_unix_timestamp(1_767_225_600).unwrap(); // 2026-01-01
    let mut jar = Jar::default();
    let mut now = start;
    for step in &case.steps {
        jar.store_response(
            step.lines.iter().map(Vec::as_slice),
            &step.url,
            true,
            RequestContext::default(),
            now,
            Rules::Browser,
        );
        now += Duration::seconds(1);
    }
    jar.request_cookies(
        &case.request_url,
        true,
        RequestContext::default(),
        now,
        Rules::Browser,
    )
    .0
    // Bytes that came as no UTF-8 go back as they came.
    .map(|header| session_lab_jar::raw::bytes_of_text(&header).into_owned())
}

/// What the server answers (case and step → raw Set-Cookie lines) and what the last requests
/// brought (case → raw Cookie header, if any).
#[derive(Default)]
struct Served {
    answers: HashMap<(String, String), Vec<Vec<u8>>>,
    cookies: HashMap<String, Option<Vec<u8>>>,
}

fn query<'a>(target: &'a str, key: &str) -> Option<&'a str> {
    target
        .split_once('?')?
        .1
        .split('&')
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
}

/// One request on a raw connection: `?c=<case>&s=<step>` answers that step's lines raw,
/// `s=last` records the Cookie header.
async fn answer(mut stream: TcpStream, served: Arc<Mutex<Served>>) {
    let mut head = Vec::new();
    let mut buf = [0u8; 16384];
    let end = loop {
        if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            break end;
        }
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
        if head.len() > 1 << 20 {
            return;
        }
    };
    let mut lines = head[..end]
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let first = String::from_utf8_lossy(lines.next().unwrap_or_default()).into_owned();
    let target = first.split(' ').nth(1).unwrap_or("/");
    let cookie = lines
        .filter(|l| l.len() >= 7 && l[..7].eq_ignore_ascii_case(b"cookie:"))
        .map(|l| l[7..].trim_ascii_start().to_vec())
        .next_back();
    let (case, step) = (query(target, "c"), query(target, "s"));
    let mut set_cookie = Vec::new();
    let mut status = "404 Not Found";
    if let (Some(case), Some(step)) = (case, step) {
        let mut served = served.lock().unwrap();
        if step == "last" {
            served.cookies.insert(case.to_owned(), cookie);
            status = "200 OK";
        } else if let Some(lines) = served.answers.get(&(case.to_owned(), step.to_owned())) {
            set_cookie.clone_from(lines);
            status = "200 OK";
        }
    }
    let body = b"<!doctype html><title>case</title>ok";
    let mut response = format!("HTTP/1.1 {status}\r\n").into_bytes();
    for line in set_cookie {
        response.extend_from_slice(b"Set-Cookie: ");
        response.extend_from_slice(&line);
        response.extend_from_slice(b"\r\n");
    }
    response.extend_from_slice(
        format!(
            "Content-Type: text/html\r\nCache-Control: no-store\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    );
    response.extend_from_slice(body);
    let _ = stream.write_all(&response).await;
    let _ = stream.shutdown().await;
}

/// `url` on the server's port, tagged with the case and step.
fn on_port(url: &Url, port: u16, case: &str, step: &str) -> String {
    let mut url = url.clone();
    url.set_port(Some(port)).unwrap();
    url.set_query(Some(&format!("c={case}&s={step}")));
    url.into()
}

/// The lab's browser, a fresh one per case: every step visited from the address bar, then the
/// last request; the server records its Cookie header. Failed visits are returned too.
async fn browser_answers(cases: &[Case]) -> Vec<(Option<Vec<u8>>, Vec<String>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let served = Arc::new(Mutex::new(Served::default()));
    {
        let mut served = served.lock().unwrap();
        for case in cases {
            for (i, step) in case.steps.iter().enumerate() {
                served
                    .answers
                    .insert((case.id.clone(), i.to_string()), step.lines.clone());
            }
        }
    }
    let server = served.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(answer(stream, server.clone()));
        }
    });
    let hosts: Vec<(&str, SocketAddr)> = HOSTS.iter().map(|h| (*h, addr)).collect();
    let mut answers = Vec::new();
    for case in cases {
        let browser = Browser::with_hosts("lab", &hosts, None, LabClock::default()).unwrap();
        let mut errors = Vec::new();
        for (i, step) in case.steps.iter().enumerate() {
            let url = on_port(&step.url, addr.port(), &case.id, &i.to_string());
            if let Err(e) = browser.visit(&url, VisitOptions::default()).await {
                errors.push(format!("step {i}: {e}"));
            }
        }
        let url = on_port(&case.request_url, addr.port(), &case.id, "last");
        if let Err(e) = browser.visit(&url, VisitOptions::default()).await {
            errors.push(format!("last request: {e}"));
        }
        let cookie = served.lock().unwrap().cookies.remove(&case.id).flatten();
        answers.push((cookie, errors));
    }
    answers
}

/// Bytes shown as Rust would escape them (UTF-8 where valid), the generator's long runs of
/// `abcdefghij` shortened to `<N×abcdefghij>`.
fn show(bytes: &[u8]) -> String {
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => format!("{text:?}"),
        Err(_) => format!("b\"{}\"", bytes.escape_ascii()),
    };
    const UNIT: &str = "abcdefghij";
    let (mut out, mut rest) = (String::new(), text.as_str());
    while let Some(at) = rest.find(UNIT) {
        out += &rest[..at];
        rest = &rest[at..];
        let mut n = 0;
        while let Some(after) = rest.strip_prefix(UNIT) {
            n += 1;
            rest = after;
        }
        out += &if n >= 3 {
            format!("<{n}×{UNIT}>")
        } else {
            UNIT.repeat(n)
        };
    }
    out + rest
}

fn show_answer(answer: Option<&[u8]>) -> String {
    answer.map_or_else(|| "(no Cookie header)".to_owned(), show)
}

fn describe(case: &Case) -> String {
    let mut text = String::new();
    for step in &case.steps {
        text += &format!("    {}\n", step.url);
        for line in &step.lines {
            text += &format!("      Set-Cookie: {}\n", show(line));
        }
    }
    text + &format!("    then {}\n", case.request_url)
}

/// Compares one side's answers with Chromium's; returns the report lines that should fail.
fn compare(
    side: &str,
    cases: &[Case],
    answers: &[(Option<Vec<u8>>, Vec<String>)],
    known: &[(&str, &[&str])],
    verbose: bool,
) -> Vec<String> {
    let known: BTreeMap<&str, String> = known
        .iter()
        .map(|(id, kinds)| (*id, kinds.join("; and ")))
        .collect();
    let mut failures = Vec::new();
    let mut agree = 0;
    let mut listed_differ = 0;
    for (case, (answer, errors)) in cases.iter().zip(answers) {
        let same = answer == &case.chromium;
        agree += usize::from(same);
        let listed = known.get(case.id.as_str());
        listed_differ += usize::from(!same && listed.is_some());
        let detail = || {
            format!(
                "{side} {}{}:\n{}    chromium: {}\n    {side}: {}\n{}",
                case.id,
                listed
                    .map(|why| format!(" (known: {why})"))
                    .unwrap_or_default(),
                describe(case),
                show_answer(case.chromium.as_deref()),
                show_answer(answer.as_deref()),
                errors
                    .iter()
                    .map(|e| format!("    {e}\n"))
                    .collect::<String>()
            )
        };
        match (same, listed) {
            (false, None) => failures.push(detail()),
            (false, Some(_)) if verbose => println!("{}", detail()),
            (true, Some(why)) => failures.push(format!(
                "{side} {}: listed as known ({why}) but now agrees with Chromium: remove it",
                case.id
            )),
            _ => {}
        }
    }
    println!(
        "{side}: {agree} of {} agree with Chromium ({listed_differ} known differences, {} \
         unexpected or stale)",
        cases.len(),
        failures.len()
    );
    failures
}

#[tokio::test(flavor = "multi_thread")]
async fn chromium_random_cases_agree() {
    let (version, cases) = cases();
    let verbose = std::env::var_os("CHROMIUM_RANDOM_VERBOSE").is_some();
    println!("{} cases recorded with Chromium {version}", cases.len());
    let jar: Vec<_> = cases.iter().map(|c| (jar_answer(c), Vec::new())).collect();
    let browser = browser_answers(&cases).await;
    if let Some(path) = std::env::var_os("CHROMIUM_RANDOM_ANSWERS") {
        let text = |a: &Option<Vec<u8>>| a.as_deref().map_or(Value::Null, encode);
        let answers: serde_json::Map<String, Value> = cases
            .iter()
            .zip(jar.iter().zip(&browser))
            .map(|(case, ((jar, _), (browser, errors)))| {
                let answer = serde_json::json!({
                    "chromium": text(&case.chromium),
                    "jar": text(jar),
                    "browser": text(browser),
                    "browser_errors": errors,
                });
                (case.id.clone(), answer)
            })
            .collect();
        std::fs::write(path, Value::Object(answers).to_string()).unwrap();
    }
    let mut failures = compare("jar", &cases, &jar, KNOWN, verbose);
    let browser_known: Vec<_> = KNOWN.iter().chain(KNOWN_BROWSER_ONLY).copied().collect();
    failures.extend(compare(
        "browser",
        &cases,
        &browser,
        &browser_known,
        verbose,
    ));
    assert!(
        failures.is_empty(),
        "{} disagreements with Chromium not listed as known:\n\n{}",
        failures.len(),
        failures.join("\n")
    );
}
