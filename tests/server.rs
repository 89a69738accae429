//! The embedded server over real sockets: the seed's counter, bad cookies, 404s, port fallback.

mod common;

use std::sync::Arc;

use common::raw_get;
use session_lab::server::{
    CookieVerdict, InspectableStore, Inspector, MemoryStore, RejectReason, RunningServer, Secret,
    ServerConfig, SessionLocks, StoreStory, app,
};
use tower::ServiceExt;

fn config() -> ServerConfig {
    ServerConfig::with_secret(Secret::from_phrase("server tests"))
}

async fn server() -> RunningServer {
    RunningServer::start("127.0.0.1:0".parse().unwrap(), config())
        .await
        .expect("server starts")
}

/// The seed's lesson over a real socket: a returning cookie counts up, no cookie starts over.
#[tokio::test]
async fn counts_views_per_session() {
    let server = server().await;
    let first = raw_get(server.addr(), "/", b"").await;
    assert_eq!(first.status, 200);
    assert_eq!(first.body, "Number of views 1");
    let cookie = first.set_cookie_pair().expect("a session cookie is set");
    let set_cookie = first.header("set-cookie").unwrap();
    assert!(set_cookie.contains("HttpOnly"), "{set_cookie}");
    assert!(set_cookie.contains("SameSite=Lax"), "{set_cookie}");
    assert!(set_cookie.contains("Path=/"), "{set_cookie}");
    assert!(!set_cookie.contains("Secure"), "{set_cookie}");
    assert!(
        !set_cookie.contains("Max-Age"),
        "a browser-session cookie: {set_cookie}"
    );

    let header = format!("Cookie: {cookie}\r\n");
    let second = raw_get(server.addr(), "/", header.as_bytes()).await;
    assert_eq!(second.body, "Number of views 2");
    let third = raw_get(server.addr(), "/", header.as_bytes()).await;
    assert_eq!(third.body, "Number of views 3");

    let stranger = raw_get(server.addr(), "/", b"").await;
    assert_eq!(stranger.body, "Number of views 1");
    assert_eq!(server.inspector().sessions().await.unwrap().len(), 2);
}

/// Forged, tampered, malformed, oversized and non-UTF-8 cookies all get a fresh session and a
/// normal page: never a 500.
#[tokio::test]
async fn bad_cookies_get_a_fresh_session() {
    let server = server().await;
    let good = raw_get(server.addr(), "/", b"")
        .await
        .set_cookie_pair()
        .unwrap();
    let (_, good_value) = good.split_once('=').unwrap();
    let mut tampered = good_value.to_owned();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    let forged_id = "id=AAAAAAAAAAAAAAAAAAAAAA".to_owned();
    let oversized = format!("id={}", "x".repeat(16 * 1024));

    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "tampered",
            format!("Cookie: id={tampered}\r\n").into_bytes(),
        ),
        ("forged", format!("Cookie: {forged_id}\r\n").into_bytes()),
        ("empty value", b"Cookie: id=\r\n".to_vec()),
        ("no equals sign", b"Cookie: id\r\n".to_vec()),
        ("garbage", b"Cookie: ;;==;id=%%%;\r\n".to_vec()),
        ("percent noise", b"Cookie: id=%ZZ%00%FF\r\n".to_vec()),
        ("oversized", format!("Cookie: {oversized}\r\n").into_bytes()),
        ("non-UTF-8", b"Cookie: id=\xff\xfe\xfd\r\n".to_vec()),
        (
            "duplicate names",
            format!("Cookie: id=junk; id={tampered}\r\n").into_bytes(),
        ),
    ];
    for (what, header) in cases {
        let response = raw_get(server.addr(), "/", &header).await;
        assert_eq!(response.status, 200, "{what}: {}", response.body);
        assert_eq!(response.body, "Number of views 1", "{what}");
        let fresh = response.set_cookie_pair().expect("a fresh session cookie");
        assert_ne!(fresh, good, "{what}: a new session, not the old one");
    }
}

/// A tampered cookie is reported as rejected, with the reason, and the old session is untouched.
#[tokio::test]
async fn tampered_cookie_is_rejected_visibly() {
    let server = server().await;
    let mut served = server.inspector().served();
    let good = raw_get(server.addr(), "/", b"")
        .await
        .set_cookie_pair()
        .unwrap();
    let first = served.recv().await.unwrap();
    let StoreStory::Created { id: original, .. } = &first.story else {
        panic!("first visit creates a session: {:?}", first.story);
    };
    let tampered = format!("{}x", &good[..good.len() - 1]);
    raw_get(
        server.addr(),
        "/",
        format!("Cookie: {tampered}\r\n").as_bytes(),
    )
    .await;
    let second = served.recv().await.unwrap();
    assert_eq!(
        second.cookie,
        CookieVerdict::Rejected {
            reason: RejectReason::BadSignature
        }
    );
    assert!(matches!(&second.story, StoreStory::Created { id, .. } if id != original));
    let sessions = server.inspector().sessions().await.unwrap();
    let old = sessions
        .iter()
        .find(|s| &s.id == original)
        .expect("old session kept");
    assert_eq!(old.data.views(), Some(1));
}

/// Unknown paths get Express's 404 page, not a session.
#[tokio::test]
async fn unknown_paths_are_404() {
    let server = server().await;
    let response = raw_get(server.addr(), "/nope?x=1", b"").await;
    assert_eq!(response.status, 404);
    assert_eq!(response.body, "Cannot GET /nope");
    assert!(response.set_cookie_pair().is_none());
    assert!(server.inspector().sessions().await.unwrap().is_empty());
}

/// A busy port falls back to a free one and says which port was wanted.
#[tokio::test]
async fn busy_port_falls_back() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let wanted = taken.local_addr().unwrap();
    let server = RunningServer::start(wanted, config())
        .await
        .expect("starts anyway");
    assert_eq!(server.fallback_from(), Some(wanted));
    assert_ne!(server.addr(), wanted);
    let response = raw_get(server.addr(), "/", b"").await;
    assert_eq!(response.body, "Number of views 1");
}

/// Stopping lets the server finish and frees the port.
#[tokio::test]
async fn stops_cleanly() {
    let mut server = server().await;
    let addr = server.addr();
    assert!(server.is_running());
    server.stop().await.expect("stops without error");
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

/// The router works in-process too (for tests that need no socket), sending the request
/// number back so clients can find the inspector's record.
#[tokio::test]
async fn router_answers_in_process() {
    let store = InspectableStore::new(MemoryStore::default());
    let inspector = Inspector::new(Arc::new(store.clone()), config());
    let router = app(store, config(), inspector.clone(), SessionLocks::default());
    let response = router
        .oneshot(
            axum::http::Request::get("/")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let number: u64 = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let served = inspector.served_request(number).expect("recorded");
    assert_eq!(served.path, "/");
    assert!(matches!(served.story, StoreStory::Created { .. }));
    let body = axum::body::to_bytes(response.into_body(), 1024)
        .await
        .unwrap();
    assert_eq!(&body[..], b"Number of views 1");
}

/// The memory store keeps at most its limit of sessions: new visitors beyond it get a clear
/// 503 page and nothing is stored, while a visitor with a session is served as usual; when a
/// session goes, there is room again.
#[tokio::test]
async fn a_full_memory_store_refuses_new_sessions_only() {
    let mut config = config();
    config.settings.max_sessions = 3;
    let server = RunningServer::start("127.0.0.1:0".parse().unwrap(), config)
        .await
        .unwrap();
    let mut cookies = Vec::new();
    for _ in 0..3 {
        let answer = raw_get(server.addr(), "/", b"").await;
        assert_eq!(answer.status, 200);
        cookies.push(answer.set_cookie_pair().unwrap());
    }
    let refused = raw_get(server.addr(), "/", b"").await;
    assert_eq!(refused.status, 503);
    assert!(
        refused.body.starts_with("No new session"),
        "{}",
        refused.body
    );
    assert!(
        refused.header("set-cookie").is_none(),
        "no session, so no cookie"
    );
    assert_eq!(server.session_count().await.unwrap(), 3);
    assert!(server.inspector().store_is_full());
    let returning = raw_get(
        server.addr(),
        "/",
        format!("Cookie: {}\r\n", cookies[0]).as_bytes(),
    )
    .await;
    assert_eq!(returning.body, "Number of views 2");
    raw_get(
        server.addr(),
        "/logout",
        format!("Cookie: {}\r\n", cookies[1]).as_bytes(),
    )
    .await;
    assert!(!server.inspector().store_is_full());
    assert_eq!(raw_get(server.addr(), "/", b"").await.status, 200);
}

/// A user name longer than the limit is refused with a clear 400 page, and nothing is stored.
#[tokio::test]
async fn long_user_names_are_refused() {
    let server = server().await;
    let name = "n".repeat(session_lab::server::MAX_USER_CHARS + 1);
    let answer = raw_get(server.addr(), &format!("/login?user={name}"), b"").await;
    assert_eq!(answer.status, 400);
    assert!(
        answer.body.contains("at most 64 characters"),
        "{}",
        answer.body
    );
    assert_eq!(server.session_count().await.unwrap(), 0);
    let ok = raw_get(server.addr(), "/login?user=ann", b"").await;
    assert_eq!(ok.status, 200);
}
