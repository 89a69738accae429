//! The lab's browser beside a real Chromium, case by case: a server on 127.0.0.1 (http and
//! https, the lab's certificate) sets cookies and records the `Cookie` header each visit brings;
//! every case is played by `session_lab::browser::Browser` here and by Chromium through
//! Playwright (`bench/tools/chromium-cases.js`), and every difference is printed.
//!
//! Run it with `bash bench/tools/chromium-compare.sh` (it installs playwright-core and needs
//! Debian's chromium). Without `--chromium-script` it plays the lab's side only.

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use serde::Serialize;
use session_lab::{
    browser::{API_HOST, APP_HOST, Browser, OTHER_SITE_HOST, Page, RequestFrom, VisitOptions},
    clock::LabClock,
    server::LabTls,
};
use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt},
    net::TcpListener,
};

/// One case: cookies set by a visit typed into the address bar, then one request from some
/// context, through a redirect chain or not; what matters is the `Cookie` header it brings.
#[derive(Clone, Debug, Serialize)]
struct Case {
    id: String,
    /// Where the cookies are set (an origin).
    set_on: String,
    /// The `Set-Cookie` lines.
    lines: Vec<String>,
    /// "address", "link", "image" or "form".
    context: &'static str,
    /// The page that makes the request (none for the address bar).
    page: Option<String>,
    /// The first URL requested; it may redirect (307) to the target.
    start: String,
}

#[derive(Default)]
struct Recorded {
    /// The `Set-Cookie` lines each case sets.
    lines: BTreeMap<String, Vec<String>>,
    /// Case and side → the Cookie header the final request brought ("" for none).
    cookies: BTreeMap<(String, String), String>,
}

type Shared = Arc<Mutex<Recorded>>;

fn query<'a>(target: &'a str, key: &str) -> Option<&'a str> {
    target
        .split_once('?')?
        .1
        .split('&')
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
}

fn decode(text: &str) -> String {
    url::form_urlencoded::parse(format!("v={text}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// One request: `/set` sets a case's cookies, `/hop` redirects (307) to `to`, `/page` is a page
/// with a link, an image or a form to `to`, `/echo` records the Cookie header, `/done` tells
/// whether `/echo` was reached.
async fn answer<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, shared: Shared) {
    let mut head = Vec::new();
    let mut buf = [0u8; 8192];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
        if head.len() > 256 * 1024 {
            return;
        }
    }
    let text = String::from_utf8_lossy(&head).into_owned();
    let target = text.split(' ').nth(1).unwrap_or("/").to_owned();
    let cookie = text
        .lines()
        .find_map(|l| {
            l.strip_prefix("Cookie: ")
                .or_else(|| l.strip_prefix("cookie: "))
        })
        .unwrap_or("")
        .to_owned();
    let case = query(&target, "case").unwrap_or("").to_owned();
    let side = query(&target, "side").unwrap_or("").to_owned();
    let to = query(&target, "to").map(decode).unwrap_or_default();
    let path = target.split('?').next().unwrap_or("/");
    let (status, headers, body) = match path {
        "/set" => {
            let lines = shared
                .lock()
                .unwrap()
                .lines
                .get(&case)
                .cloned()
                .unwrap_or_default();
            let headers = lines
                .iter()
                .map(|l| format!("Set-Cookie: {l}\r\n"))
                .collect();
            ("200 OK", headers, "set".to_owned())
        }
        "/hop" => (
            "307 Temporary Redirect",
            format!("Location: {to}\r\n"),
            String::new(),
        ),
        "/page" => {
            let html = match query(&target, "kind") {
                Some("image") => format!("<img src=\"{to}\">"),
                Some("form") => format!(
                    "<form id=f method=POST action=\"{to}\"><input name=x value=1></form>\
                     <script>document.getElementById('f').submit()</script>"
                ),
                _ => format!("<a id=go href=\"{to}\">go</a>"),
            };
            (
                "200 OK",
                "Content-Type: text/html\r\n".to_owned(),
                format!("<!doctype html><body>{html}</body>"),
            )
        }
        "/echo" => {
            shared
                .lock()
                .unwrap()
                .cookies
                .insert((case, side), cookie.clone());
            ("200 OK", String::new(), format!("cookie: {cookie}"))
        }
        "/done" => {
            let done = shared.lock().unwrap().cookies.contains_key(&(case, side));
            (
                "200 OK",
                String::new(),
                if done { "yes" } else { "no" }.to_owned(),
            )
        }
        _ => ("404 Not Found", String::new(), String::new()),
    };
    let response = format!(
        "HTTP/1.1 {status}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

async fn serve(tls: &LabTls, shared: Shared) -> (SocketAddr, SocketAddr) {
    let http = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let https = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addrs = (http.local_addr().unwrap(), https.local_addr().unwrap());
    let plain = shared.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = http.accept().await {
            tokio::spawn(answer(stream, plain.clone()));
        }
    });
    let acceptor = tls.acceptor();
    tokio::spawn(async move {
        while let Ok((stream, _)) = https.accept().await {
            let (acceptor, shared) = (acceptor.clone(), shared.clone());
            tokio::spawn(async move {
                if let Ok(stream) = acceptor.accept(stream).await {
                    answer(stream, shared).await;
                }
            });
        }
    });
    addrs
}

/// The cases: the SameSite matrix (address bar, link, image, form POST; from the same host, a
/// sibling subdomain and another site; direct and through a cross-site or same-site redirect;
/// http and https), Secure on http and https, Domain and host-only, prefixes, ordering and a
/// few odd lines.
fn cases(http: u16, https: u16) -> Vec<Case> {
    let origin = |scheme: &str, host: &str| {
        let port = if scheme == "https" { https } else { http };
        format!("{scheme}://{host}:{port}")
    };
    let mut cases = Vec::new();
    let mut add = |set_on: String, lines: &[&str], context, page: Option<String>, start: String| {
        let id = format!("c{}", cases.len() + 1);
        cases.push(Case {
            id,
            set_on,
            lines: lines.iter().map(|l| (*l).to_owned()).collect(),
            context,
            page,
            start,
        });
    };
    for scheme in ["http", "https"] {
        let target = origin(scheme, APP_HOST);
        let lines: &[&str] = if scheme == "https" {
            &[
                "strict=1; SameSite=Strict; Path=/",
                "lax=1; SameSite=Lax; Path=/",
                "none=1; SameSite=None; Secure; Path=/",
                "unset=1; Path=/",
            ]
        } else {
            &[
                "strict=1; SameSite=Strict; Path=/",
                "lax=1; SameSite=Lax; Path=/",
                "none=1; SameSite=None; Path=/",
                "unset=1; Path=/",
            ]
        };
        for context in ["address", "link", "image", "form"] {
            let pages: Vec<Option<String>> = if context == "address" {
                vec![None]
            } else {
                [APP_HOST, API_HOST, OTHER_SITE_HOST]
                    .iter()
                    .map(|h| Some(origin(scheme, h)))
                    .chain(
                        [Some(origin("http", APP_HOST))]
                            .into_iter()
                            .filter(|_| scheme == "https"),
                    )
                    .collect()
            };
            for page in pages {
                for via in [None, Some(API_HOST), Some(OTHER_SITE_HOST)] {
                    let echo = format!("{target}/echo");
                    let start = match via {
                        None => echo,
                        Some(host) => {
                            format!("{}/hop?to={}", origin(scheme, host), urlencode(&echo))
                        }
                    };
                    add(target.clone(), lines, context, page.clone(), start);
                }
            }
        }
    }
    // Secure, Domain, prefixes, ordering, odd lines: set, then read by the address bar.
    let singles: &[(&str, &str, &[&str], &str, &str)] = &[
        ("http", APP_HOST, &["s=1; Secure", "p=1"], "http", APP_HOST),
        ("https", APP_HOST, &["s=1; Secure", "p=1"], "http", APP_HOST),
        (
            "https",
            APP_HOST,
            &["s=1; Secure", "p=1"],
            "https",
            APP_HOST,
        ),
        ("http", "localhost", &["s=1; Secure"], "http", "localhost"),
        (
            "http",
            APP_HOST,
            &[
                "h=1",
                "d=1; Domain=lab.test",
                "x=1; Domain=other-site.test",
                "t=1; Domain=test",
            ],
            "http",
            API_HOST,
        ),
        (
            "http",
            APP_HOST,
            &["h=1", "d=1; Domain=.lab.test"],
            "http",
            APP_HOST,
        ),
        (
            "https",
            APP_HOST,
            &[
                "__Host-a=1; Secure; Path=/",
                "__Host-b=1; Secure",
                "__Host-c=1; Secure; Path=/; Domain=app.lab.test",
                "__Secure-d=1; Secure",
                "__Secure-e=1",
                "__host-f=1; Secure",
            ],
            "https",
            APP_HOST,
        ),
        (
            "http",
            APP_HOST,
            &["__Host-a=1; Path=/", "__Secure-d=1", "__secure-g=1"],
            "http",
            APP_HOST,
        ),
        (
            "https",
            APP_HOST,
            &[
                "__Http-a=1; Secure; HttpOnly",
                "__Http-b=1; Secure",
                "__Host-Http-c=1; Secure; HttpOnly; Path=/",
            ],
            "https",
            APP_HOST,
        ),
        (
            "http",
            APP_HOST,
            &[
                "c=1; Path=/",
                "b=1; Path=/echo",
                "a=1; Path=/",
                "d=1; Path=/ech",
            ],
            "http",
            APP_HOST,
        ),
        (
            "http",
            APP_HOST,
            &[
                "foo",
                "=bar",
                "sid=x; Max-Age=9223372036854775807",
                "v=é",
                "q=\"quoted\"",
            ],
            "http",
            APP_HOST,
        ),
        (
            "http",
            APP_HOST,
            &[
                "a=1; Max-Age=-1",
                "b=1; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
                "c=1; Max-Age=0; Max-Age=60",
                "d=1; Expires=Wed, 21 Oct 2099 07:28:00 GMT",
            ],
            "http",
            APP_HOST,
        ),
    ];
    for (set_scheme, set_host, lines, read_scheme, read_host) in singles {
        let read = format!("{}/echo", origin(read_scheme, read_host));
        add(origin(set_scheme, set_host), lines, "address", None, read);
    }
    cases
}

fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// `url` with the case and side, before any `to=` (which must stay last: it holds a URL).
fn tagged(url: &str, case: &str, side: &str) -> String {
    match url.split_once("?to=") {
        Some((head, to)) => {
            let to = tagged(&decode(to), case, side);
            format!("{head}?case={case}&side={side}&to={}", urlencode(&to))
        }
        None => format!("{url}?case={case}&side={side}"),
    }
}

async fn play_lab(browser: &Browser, case: &Case) -> Result<(), String> {
    browser.clear_cookies();
    let set = tagged(&format!("{}/set", case.set_on), &case.id, "lab");
    browser
        .visit(&set, VisitOptions::default())
        .await
        .map_err(|e| e.to_string())?;
    let start = tagged(&case.start, &case.id, "lab");
    let page = case.page.as_deref().map(|p| {
        let url = url::Url::parse(p).unwrap();
        let host: &'static str = [APP_HOST, API_HOST, OTHER_SITE_HOST, "localhost"]
            .into_iter()
            .find(|h| Some(*h) == url.host_str())
            .unwrap();
        Page {
            host,
            https: url.scheme() == "https",
        }
    });
    let from = match (case.context, page) {
        (_, None) => RequestFrom::AddressBar,
        ("image", Some(page)) => RequestFrom::Embed(page),
        (_, Some(page)) => RequestFrom::Link(page),
    };
    let options = VisitOptions { from, frame: None };
    let result = if case.context == "form" {
        browser.submit(&start, "x=1", options).await
    } else {
        browser.visit(&start, options).await
    };
    result.map(|_| ()).map_err(|e| e.to_string())
}

#[tokio::main]
async fn main() {
    let script = std::env::args()
        .skip_while(|a| a != "--chromium-script")
        .nth(1);
    let names = [APP_HOST, API_HOST, OTHER_SITE_HOST, "localhost"];
    let tls = LabTls::generate(&names).unwrap();
    let shared: Shared = Arc::default();
    let (http, https) = serve(&tls, shared.clone()).await;
    let cases = cases(http.port(), https.port());
    for case in &cases {
        shared
            .lock()
            .unwrap()
            .lines
            .insert(case.id.clone(), case.lines.clone());
    }
    let hosts: Vec<(&str, SocketAddr)> = names.iter().map(|h| (*h, http)).collect();
    let browser = Browser::with_hosts(
        "lab",
        &hosts,
        Some(tls.authority_der()),
        LabClock::default(),
    )
    .unwrap();
    for case in &cases {
        if let Err(e) = play_lab(&browser, case).await {
            eprintln!("{}: the lab's browser failed: {e}", case.id);
        }
    }
    let Some(script) = script else {
        println!(
            "{} cases played by the lab's browser (no --chromium-script)",
            cases.len()
        );
        return;
    };
    let file = std::env::temp_dir().join(format!("chromium-cases-{}.json", std::process::id()));
    let tagged_cases: Vec<Case> = cases
        .iter()
        .map(|c| Case {
            start: tagged(&c.start, &c.id, "chromium"),
            set_on: c.set_on.clone(),
            ..c.clone()
        })
        .collect();
    std::fs::write(&file, serde_json::to_string(&tagged_cases).unwrap()).unwrap();
    let status = tokio::process::Command::new("node")
        .arg(&script)
        .arg(&file)
        .arg(format!("http://127.0.0.1:{}", http.port()))
        .status()
        .await
        .expect("node runs");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let recorded = shared.lock().unwrap();
    let mut same = 0;
    let mut differ = 0;
    for case in &cases {
        let lab = recorded.cookies.get(&(case.id.clone(), "lab".to_owned()));
        let chromium = recorded
            .cookies
            .get(&(case.id.clone(), "chromium".to_owned()));
        if lab.is_some() && lab == chromium {
            same += 1;
        } else {
            differ += 1;
            println!(
                "DIFFERENT {} [{} from {:?} via {}; set on {}: {:?}]\n  lab:      {:?}\n  chromium: {:?}",
                case.id,
                case.context,
                case.page,
                case.start,
                case.set_on,
                case.lines,
                lab,
                chromium
            );
        }
    }
    println!("{same} cases the same, {differ} different (node exited {status})");
    if differ > 0 || !status.success() {
        std::process::exit(1);
    }
}
