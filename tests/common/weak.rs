//! A server that gets sessions wrong on purpose, for the audit to find: sequential ids, any
//! id a client sends adopted, the same id across login, the session alive after logout, the id
//! in a URL, no HttpOnly, a ten-year cookie.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
};

use axum::{
    Router,
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};

/// A server that gets everything wrong, for the audit to find.
#[derive(Default)]
struct Weak {
    next: AtomicU64,
    sessions: Mutex<HashMap<String, u64>>,
}

fn sid(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| pair.trim().strip_prefix("sid=").map(str::to_owned))
}

/// `GET /`: counts views under the cookie's id, whatever it is (a new one if none: the next
/// number); the cookie has no HttpOnly and lives ten years.
async fn weak_counter(State(weak): State<Arc<Weak>>, headers: HeaderMap) -> Response {
    let (id, new) = match sid(&headers) {
        Some(id) => (id, false),
        None => (
            (10_000_000 + weak.next.fetch_add(1, Ordering::Relaxed)).to_string(),
            true,
        ),
    };
    let views = {
        let mut sessions = weak.sessions.lock().unwrap();
        let views = sessions.entry(id.clone()).or_insert(0);
        *views += 1;
        *views
    };
    let mut response = format!("Number of views {views}").into_response();
    if new {
        response.headers_mut().insert(
            header::SET_COOKIE,
            HeaderValue::from_str(&format!("sid={id}; Path=/; Max-Age=315360000")).unwrap(),
        );
    }
    response
}

/// `GET /login`: the same id, and a redirect that puts it in the URL.
async fn weak_login(headers: HeaderMap) -> Response {
    let id = sid(&headers).unwrap_or_default();
    (
        StatusCode::FOUND,
        [(header::LOCATION, format!("/welcome?sid={id}"))],
    )
        .into_response()
}

/// `GET /logout`: says goodbye, deletes nothing, clears nothing.
async fn weak_logout() -> &'static str {
    "Goodbye"
}

/// Starts the weak server on a free port of 127.0.0.1, on the caller's runtime.
pub async fn start() -> std::net::SocketAddr {
    let app = Router::new()
        .route("/", get(weak_counter))
        .route("/login", get(weak_login))
        .route("/logout", get(weak_logout))
        .route("/welcome", get(|| async { "Welcome" }))
        .with_state(Arc::new(Weak::default()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// Starts the weak server on a runtime of its own (for tests without one, like the window's);
/// it runs until the test process ends.
pub fn start_in_background() -> std::net::SocketAddr {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            sender.send(start().await).unwrap();
            std::future::pending::<()>().await;
        });
    });
    receiver.recv().unwrap()
}
