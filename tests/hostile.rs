//! A hostile server cannot hurt a simulated browser: an endless body is cut at the browser's
//! cap and the visit ends, a redirect loop ends with a clear error, a `Max-Age` of 2^63 and a
//! `Set-Cookie` that is not UTF-8 are taken as a browser takes them, a head that never ends, a
//! response cut mid-head and broken chunking each end the visit with an error that says so,
//! and thousands of cookies in one response leave the jar at its limit. Each case ends on its
//! own.

mod common;

use std::time::{Duration, Instant};

use common::canned::read_head;
use session_lab::browser::{Browser, BrowserError, VisitOptions};
use tokio::{
    io::AsyncWriteExt,
    net::{TcpListener, TcpStream},
};

/// Serves every connection with `respond` after reading the request head.
async fn server(respond: fn(TcpStream) -> tokio::task::JoinHandle<()>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            if read_head(&mut stream).await.is_some() {
                respond(stream);
            }
        }
    });
    format!("http://{addr}/")
}

/// A body that never ends: chunks of 64 KiB until the browser hangs up.
fn endless(stream: TcpStream) -> tokio::task::JoinHandle<()> {
    let chunk = format!("10000\r\n{}\r\n", "x".repeat(0x10000));
    tokio::spawn(async move {
        write_then_repeat(
            stream,
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
            chunk.as_bytes(),
        )
        .await;
    })
}

/// A redirect to itself, forever.
fn redirect_loop(mut stream: TcpStream) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let _ = stream
            .write_all(b"HTTP/1.1 302 Found\r\nLocation: /again\r\nContent-Length: 0\r\n\r\n")
            .await;
    })
}

/// A cookie for "forever" and one that is not UTF-8.
fn absurd_cookies(mut stream: TcpStream) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let _ = stream
            .write_all(
                b"HTTP/1.1 200 OK\r\nSet-Cookie: sid=x; Max-Age=9223372036854775807\r\n\
                  Set-Cookie: latin=caf\xe9\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
            )
            .await;
    })
}

/// An endless body is read up to the cap and no further; the visit ends and says so.
#[tokio::test]
async fn an_endless_body_is_cut_at_the_cap() {
    let url = server(endless).await;
    let browser = Browser::new("hostile").unwrap();
    let started = Instant::now();
    let hops = browser.visit(&url, VisitOptions::default()).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(10));
    let body = &hops[0].body;
    assert!(
        body.ends_with("(cut at 256 KiB: the rest was not read)"),
        "{}",
        &body[body.len() - 80..]
    );
    assert!(body.len() < 300 * 1024);
}

/// A `Set-Cookie` line with a byte HTTP does not allow (DEL) and one without.
fn a_line_with_del(mut stream: TcpStream) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let _ = stream
            .write_all(
                b"HTTP/1.1 200 OK\r\nSet-Cookie: bad=1\x7f2\r\nSet-Cookie: good=1\r\n\
                  Content-Length: 2\r\n\r\nok",
            )
            .await;
    })
}

/// A `Set-Cookie` line with a DEL byte loses that line only, as in Chromium: the page loads
/// and the other line's cookie is kept.
#[tokio::test]
async fn a_line_with_a_forbidden_byte_is_dropped_and_the_visit_goes_on() {
    let url = server(a_line_with_del).await;
    let browser = Browser::new("hostile").unwrap();
    let hops = browser.visit(&url, VisitOptions::default()).await.unwrap();
    assert_eq!(hops[0].body, "ok");
    let names: Vec<String> = browser.cookies().into_iter().map(|c| c.name).collect();
    assert_eq!(names, ["good"]);
}

/// A redirect loop ends at the browser's limit with an error that says so, and keeps the
/// requests it made.
#[tokio::test]
async fn a_redirect_loop_ends_with_a_clear_error() {
    let url = server(redirect_loop).await;
    let browser = Browser::new("hostile").unwrap();
    let error = browser
        .visit(&url, VisitOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(error.cause(), BrowserError::TooManyRedirects { .. }),
        "{error}"
    );
    assert!(
        error.to_string().contains("redirected more than 10 times"),
        "{error}"
    );
    let mut error = error;
    assert_eq!(error.take_hops().len(), 11, "{error}");
}

/// A Max-Age of 2^63 lives 400 days (no overflow, no panic); bytes that are not UTF-8 are
/// kept as they came, as Chromium keeps them, and go back the same.
#[tokio::test]
async fn absurd_cookies_are_taken_as_a_browser_takes_them() {
    let url = server(absurd_cookies).await;
    let browser = Browser::new("hostile").unwrap();
    let hops = browser.visit(&url, VisitOptions::default()).await.unwrap();
    assert!(hops[0].blocked.is_empty(), "{:?}", hops[0].blocked);
    let cookies = browser.cookies();
    assert_eq!(cookies.len(), 2);
    let sid = cookies.iter().find(|c| c.name == "sid").unwrap();
    let left = sid.expires.unwrap() - time::OffsetDateTime::now_utc();
    assert!(left > time::Duration::days(399) && left <= time::Duration::days(400));
    let latin = cookies.iter().find(|c| c.name == "latin").unwrap();
    assert_eq!(
        session_lab_jar::raw::bytes_of_text(&latin.value).as_ref(),
        b"caf\xe9"
    );
}

/// A fresh 2,000-byte cookie on every visit (data, not an id).
fn huge_cookie(mut stream: TcpStream) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let value: String = (0..2000)
            .map(|_| char::from(b'a' + rand::random::<u8>() % 26))
            .collect();
        let response = format!(
            "HTTP/1.1 200 OK\r\nSet-Cookie: sid={value}; HttpOnly\r\nContent-Length: 2\r\n\
             Connection: close\r\n\r\nok"
        );
        let _ = stream.write_all(response.as_bytes()).await;
    })
}

/// The audit does not feed cookie values too large to be session ids into its randomness
/// tests: the id-strength check is skipped, and says why.
#[tokio::test]
async fn the_audit_skips_values_too_large_to_be_ids() {
    let url = server(huge_cookie).await;
    let mut options = session_lab::audit::AuditOptions::new(&url);
    options.samples = 100;
    let report = session_lab::audit::run(options, |_| {}).await.unwrap();
    let strength = report
        .checks
        .iter()
        .find(|c| c.id == "session-id-strength")
        .unwrap();
    assert_eq!(strength.status, session_lab::audit::CheckStatus::Skipped);
    assert!(
        strength.summary.contains("too large to be session ids"),
        "{}",
        strength.summary
    );
}

/// Writes `head` and then `tail` over and over until the browser hangs up.
async fn write_then_repeat(mut stream: TcpStream, head: &[u8], tail: &[u8]) {
    if stream.write_all(head).await.is_err() {
        return;
    }
    while stream.write_all(tail).await.is_ok() {}
}

/// A response head that never ends: one header line gigabytes long.
fn endless_head(stream: TcpStream) -> tokio::task::JoinHandle<()> {
    tokio::spawn(write_then_repeat(
        stream,
        b"HTTP/1.1 200 OK\r\nX-Endless: ",
        &[b'a'; 64 * 1024],
    ))
}

/// A response that stops in the middle of a header line and closes.
fn cut_mid_head(mut stream: TcpStream) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nSet-Cook").await;
    })
}

/// A chunked body whose chunk size is not a number.
fn broken_chunks(mut stream: TcpStream) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let _ = stream
            .write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\nhello\r\n")
            .await;
    })
}

/// A gzip-encoded body that never ends (a bomb, if anyone were to decompress it).
fn endless_gzip(stream: TcpStream) -> tokio::task::JoinHandle<()> {
    tokio::spawn(write_then_repeat(
        stream,
        b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 10000000000\r\n\r\n\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03",
        &[0u8; 64 * 1024],
    ))
}

/// 3,000 different cookies in one response.
fn thousands_of_cookies(mut stream: TcpStream) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut response = String::from("HTTP/1.1 200 OK\r\n");
        for i in 0..3000 {
            response.push_str(&format!("Set-Cookie: c{i}={i}\r\n"));
        }
        response.push_str("Content-Length: 2\r\nConnection: close\r\n\r\nok");
        let _ = stream.write_all(response.as_bytes()).await;
    })
}

/// Visits `respond`'s server once and returns the error the visit must end in, within 10 s.
async fn visit_error(respond: fn(TcpStream) -> tokio::task::JoinHandle<()>) -> BrowserError {
    let url = server(respond).await;
    let browser = Browser::new("hostile").unwrap();
    let started = Instant::now();
    let error = browser
        .visit(&url, VisitOptions::default())
        .await
        .expect_err("the visit fails");
    assert!(started.elapsed() < Duration::from_secs(10), "{error}");
    error
}

/// A head that never ends is refused once it passes the browser's limit (not read forever,
/// not held in memory), with a message that says so.
#[tokio::test]
async fn a_head_that_never_ends_is_refused() {
    let error = visit_error(endless_head).await;
    assert!(
        matches!(error, BrowserError::HeadTooLarge { .. }),
        "{error}"
    );
    assert!(error.to_string().contains("too large to read"), "{error}");
}

/// A response cut in the middle of its head ends the visit with "closed … before its response
/// was whole".
#[tokio::test]
async fn a_response_cut_mid_head_says_so() {
    let error = visit_error(cut_mid_head).await;
    assert!(matches!(error, BrowserError::Incomplete { .. }), "{error}");
    assert!(
        error
            .to_string()
            .contains("closed the connection before its response was whole"),
        "{error}"
    );
}

/// A chunk size that is not a number is broken HTTP, and the visit says so.
#[tokio::test]
async fn broken_chunking_is_not_http() {
    let error = visit_error(broken_chunks).await;
    // The head came (its cookies would be stored), then the body broke: the request is kept.
    assert!(
        matches!(error.cause(), BrowserError::NotHttp { .. }),
        "{error}"
    );
    assert!(
        matches!(&error, BrowserError::Partway { at: 1, hops, .. } if hops.len() == 1),
        "{error}"
    );
    assert!(error.to_string().contains("chunk"), "{error}");
}

/// The browsers do not decompress: a gzip body that would expand without end is read as the
/// bytes it is, up to the cap.
#[tokio::test]
async fn a_gzip_bomb_is_read_as_bytes_up_to_the_cap() {
    let url = server(endless_gzip).await;
    let browser = Browser::new("hostile").unwrap();
    let hops = browser.visit(&url, VisitOptions::default()).await.unwrap();
    let body = &hops[0].body;
    assert!(body.starts_with('\u{1f}'), "not decompressed");
    assert!(body.ends_with("(cut at 256 KiB: the rest was not read)"));
    assert!(body.len() < 300 * 1024 * 3, "{}", body.len());
}

/// 3,000 cookies in one response are read (Chrome counts no header lines), and the jar keeps
/// no more than Chrome's 180 a site.
#[tokio::test]
async fn thousands_of_cookies_leave_the_jar_at_its_limit() {
    let url = server(thousands_of_cookies).await;
    let browser = Browser::new("hostile").unwrap();
    browser.visit(&url, VisitOptions::default()).await.unwrap();
    let kept = browser.cookies().len();
    assert!((150..=180).contains(&kept), "{kept}");
}
