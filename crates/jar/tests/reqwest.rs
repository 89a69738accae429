//! The jar as a plain reqwest client's cookie provider, against a real server on a real
//! socket (a few lines of HTTP on 127.0.0.1): what any reqwest user who plugs it in gets.

#![cfg(feature = "reqwest")]

use std::sync::Arc;

use session_lab_jar::{
    BlockedReason, CookieJar, Exchange, Page, RequestContext, RequestFrom, Trace,
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpListener,
};

/// A server that answers `/login` with two cookies (one a browser refuses over http),
/// `/hop` with a redirect to `/echo`, and `/echo` with the `Cookie` header it received.
async fn server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    let n = socket.read(&mut buf).await.unwrap();
                    if n == 0 {
                        return;
                    }
                    head.extend_from_slice(&buf[..n]);
                }
                let head = String::from_utf8_lossy(&head);
                let path = head.split(' ').nth(1).unwrap_or("/").to_owned();
                let cookie = head
                    .lines()
                    .find_map(|l| l.strip_prefix("cookie: "))
                    .unwrap_or("")
                    .to_owned();
                let (status, extra, body) = match path.as_str() {
                    "/login" => (
                        "200 OK",
                        "Set-Cookie: id=1; SameSite=Strict\r\nSet-Cookie: __Host-x=1; Path=/\r\n",
                        String::new(),
                    ),
                    "/hop" => ("302 Found", "Location: /echo\r\n", String::new()),
                    _ => ("200 OK", "", cookie),
                };
                let answer = format!(
                    "HTTP/1.1 {status}\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(answer.as_bytes()).await;
            });
        }
    });
    format!("http://{addr}")
}

/// A client with `jar` as its cookie provider. (Within the workspace reqwest is built with
/// rustls and no crypto provider, which must then be installed first.)
fn client(jar: &Arc<CookieJar>) -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_plain_client_keeps_cookies_as_a_browser_does() {
    let base = server().await;
    let jar = Arc::new(CookieJar::new());
    let client = client(&jar);

    // No scope: a top-level navigation now. The __Host- cookie is refused over http.
    client.get(format!("{base}/login")).send().await.unwrap();
    let names: Vec<String> = jar.lock().rows().into_iter().map(|r| r.name).collect();
    assert_eq!(names, ["id"]);
    let echoed = client.get(format!("{base}/echo")).send().await.unwrap();
    assert_eq!(echoed.text().await.unwrap(), "id=1");

    // reqwest follows the redirect and asks the jar again for the second hop.
    let hopped = client.get(format!("{base}/hop")).send().await.unwrap();
    assert_eq!(hopped.text().await.unwrap(), "id=1");
}

#[tokio::test]
async fn an_exchange_gives_the_context_and_tells_what_the_jar_did() {
    let base = server().await;
    let jar = Arc::new(CookieJar::new());
    let client = client(&jar);

    let (_, login) = Exchange::default()
        .run(client.get(format!("{base}/login")).send())
        .await;
    assert_eq!(login.blocked.len(), 1, "{login:?}");
    assert_eq!(login.blocked[0].name, "__Host-x");
    assert!(matches!(login.blocked[0].reason, BlockedReason::Prefix(_)));

    // A link on another site: the Strict cookie stays home, and the trace says so.
    let elsewhere = RequestContext {
        from: RequestFrom::Link(Page::http("other.example")),
        ..RequestContext::default()
    };
    let (echoed, trace) = echo(&client, &base, Exchange::new(elsewhere)).await;
    assert_eq!(echoed, "");
    assert_eq!(trace.sent.header, None);
    assert_eq!(trace.sent.not_sent.len(), 1);
    assert_eq!(trace.sent.not_sent[0].key.name, "id");

    // Cookies off: nothing goes, and the trace names the reason.
    let (echoed, trace) = echo(&client, &base, Exchange::default().cookies_on(false)).await;
    assert_eq!(echoed, "");
    assert_eq!(trace.sent.not_sent.len(), 1);
}

/// `GET /echo` in `exchange`: the Cookie header the server received, and the jar's trace.
async fn echo(client: &reqwest::Client, base: &str, exchange: Exchange) -> (String, Trace) {
    let (echoed, trace) = exchange
        .run(async {
            client
                .get(format!("{base}/echo"))
                .send()
                .await?
                .text()
                .await
        })
        .await;
    (echoed.unwrap(), trace)
}
