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

/// While one session is flooded with 200 concurrent requests, another session is served too,
/// and both counters come out exact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_sessions_do_not_wait() {
    let server = RunningServer::start("127.0.0.1:0".parse().unwrap(), config())
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
    // Many requests of A in flight at once; B's single request must still answer.
    let mut flood = tokio::task::JoinSet::new();
    for _ in 0..200 {
        let header = format!("Cookie: {a}\r\n");
        let addr = server.addr();
        flood.spawn(async move { common::raw_get(addr, "/", header.as_bytes()).await });
    }
    let b_response =
        common::raw_get(server.addr(), "/", format!("Cookie: {b}\r\n").as_bytes()).await;
    assert_eq!(b_response.body, "Number of views 2");
    while flood.join_next().await.is_some() {}
    let a_last = common::raw_get(server.addr(), "/", format!("Cookie: {a}\r\n").as_bytes()).await;
    assert_eq!(a_last.body, "Number of views 202");
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
