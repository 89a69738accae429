//! A hostile server cannot hurt a simulated browser: an endless body is cut at the browser's
//! cap and the visit ends, a redirect loop ends with a clear error, a `Max-Age` of 2^63 and a
//! `Set-Cookie` that is not UTF-8 are taken as a browser takes them. Each case ends on its own.

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
fn endless(mut stream: TcpStream) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
        if stream.write_all(head.as_bytes()).await.is_err() {
            return;
        }
        let chunk = format!("10000\r\n{}\r\n", "x".repeat(0x10000));
        while stream.write_all(chunk.as_bytes()).await.is_ok() {}
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

/// A redirect loop ends at the browser's limit with an error that says so.
#[tokio::test]
async fn a_redirect_loop_ends_with_a_clear_error() {
    let url = server(redirect_loop).await;
    let browser = Browser::new("hostile").unwrap();
    let error = browser
        .visit(&url, VisitOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(error, BrowserError::TooManyRedirects { .. }),
        "{error}"
    );
}

/// A Max-Age of 2^63 lives 400 days (no overflow, no panic); bytes that are not UTF-8 are
/// refused with that reason.
#[tokio::test]
async fn absurd_cookies_are_taken_as_a_browser_takes_them() {
    let url = server(absurd_cookies).await;
    let browser = Browser::new("hostile").unwrap();
    let hops = browser.visit(&url, VisitOptions::default()).await.unwrap();
    let cookies = browser.cookies();
    assert_eq!(cookies.len(), 1);
    let left = cookies[0].expires.unwrap() - time::OffsetDateTime::now_utc();
    assert!(left > time::Duration::days(399) && left <= time::Duration::days(400));
    assert_eq!(hops[0].blocked.len(), 1);
    assert_eq!(
        hops[0].blocked[0].reason,
        session_lab::browser::BlockedReason::NotUtf8
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
