//! Concurrent requests on one session: none of their increments may be lost, and expired
//! sessions do not pile up.

mod common;

use std::time::{Duration, Instant};

use session_lab::server::{ExpiryPolicy, RunningServer, Secret, ServerConfig};

fn config() -> ServerConfig {
    ServerConfig::with_secret(Secret::from_phrase("concurrency tests"))
}

fn views(body: &str) -> u64 {
    body.trim_start_matches("Number of views ")
        .parse()
        .expect("the counter page")
}

/// 64 concurrent connections send 10,000 requests with one browser's cookie: views rise by
/// exactly 10,000.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_lost_updates_under_64_way_concurrency() {
    const CONNECTIONS: usize = 64;
    const REQUESTS: usize = 10_000;
    let server = RunningServer::start("127.0.0.1:0".parse().unwrap(), config())
        .await
        .unwrap();
    let url = server.url();
    let first = common::raw_get(server.addr(), "/", b"").await;
    let cookie = first.set_cookie_pair().unwrap();
    assert_eq!(views(&first.body), 1);

    // reqwest is built without a TLS provider of its own (the crate picks ring).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(CONNECTIONS)
        .build()
        .unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for task in 0..CONNECTIONS {
        let (client, url, cookie) = (client.clone(), url.clone(), cookie.clone());
        let share = REQUESTS / CONNECTIONS + usize::from(task < REQUESTS % CONNECTIONS);
        tasks.spawn(async move {
            for _ in 0..share {
                let response = client
                    .get(&url)
                    .header("cookie", &cookie)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 200);
                response.bytes().await.unwrap();
            }
        });
    }
    while let Some(result) = tasks.join_next().await {
        result.unwrap();
    }
    let last = common::raw_get(
        server.addr(),
        "/",
        format!("Cookie: {cookie}\r\n").as_bytes(),
    )
    .await;
    assert_eq!(
        views(&last.body),
        1 + REQUESTS as u64 + 1,
        "every increment counted"
    );
}

/// While one session's requests queue on its lock, another session's request does not wait
/// behind them: with every store call taking 100 ms, A's 20 requests take turns for about 4 s,
/// yet B's answers within 1.5 s while most of A's are still queued, and both counters come
/// out exact. If requests of different sessions took turns, B's would wait behind A's queue.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_sessions_do_not_wait() {
    const FLOOD: usize = 20;
    const LATENCY_MS: u64 = 100;
    let mut config = config();
    config.settings.store_latency_ms = LATENCY_MS;
    let server = RunningServer::start("127.0.0.1:0".parse().unwrap(), config)
        .await
        .unwrap();
    let a = common::raw_get(server.addr(), "/", b"")
        .await
        .set_cookie_pair()
        .unwrap();
    let b = common::raw_get(server.addr(), "/", b"")
        .await
        .set_cookie_pair()
        .unwrap();
    let a_done = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut flood = tokio::task::JoinSet::new();
    for _ in 0..FLOOD {
        let header = format!("Cookie: {a}\r\n");
        let (addr, a_done) = (server.addr(), a_done.clone());
        flood.spawn(async move {
            let response = common::raw_get(addr, "/", header.as_bytes()).await;
            a_done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            response
        });
    }
    // The first of A's requests to finish held A's lock for a load and a save; by then the
    // others have long been sent, and wait for the lock one after another.
    flood.join_next().await.unwrap().unwrap();
    let waiting = FLOOD - a_done.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        waiting >= FLOOD / 2,
        "A's requests were meant to queue, but only {waiting} of {FLOOD} still wait"
    );
    assert_eq!(server.locks().in_use(), 1, "A's lock is held, B's is not");

    let started = Instant::now();
    let b_response = tokio::time::timeout(
        Duration::from_millis(1500),
        common::raw_get(server.addr(), "/", format!("Cookie: {b}\r\n").as_bytes()),
    )
    .await
    .unwrap_or_else(|_| {
        panic!(
            "B's request waited over 1.5 s while A's {} queued requests took turns",
            FLOOD - a_done.load(std::sync::atomic::Ordering::SeqCst)
        )
    });
    let b_took = started.elapsed();
    let a_still_waiting = FLOOD - a_done.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(b_response.body, "Number of views 2");
    assert!(
        a_still_waiting > 0,
        "B answered in {b_took:?} only once A's flood was over: it waited behind it"
    );

    while let Some(result) = flood.join_next().await {
        result.unwrap();
    }
    let a_last = common::raw_get(server.addr(), "/", format!("Cookie: {a}\r\n").as_bytes()).await;
    assert_eq!(
        a_last.body,
        format!("Number of views {}", FLOOD + 2),
        "every increment of A counted"
    );
}

/// Sessions that expire are deleted continuously: the store empties by itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_sessions_leave_the_store() {
    let mut config = config();
    config.settings.expiry = ExpiryPolicy::OnInactivity { secs: 600 };
    let clock = config.clock.clone();
    let server = RunningServer::start("127.0.0.1:0".parse().unwrap(), config)
        .await
        .unwrap();
    for _ in 0..200 {
        common::raw_get(server.addr(), "/", b"").await;
    }
    assert_eq!(server.session_count().await.unwrap(), 200);
    clock.advance(time::Duration::minutes(11));
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.session_count().await.unwrap() > 0 {
        assert!(Instant::now() < deadline, "sessions are left after 10 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(server.inspector().sessions().await.unwrap().is_empty());
}
