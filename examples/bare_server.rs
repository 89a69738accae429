//! The reference for Session Lab's own overhead: a bare axum + tower-sessions server with the
//! seed's handler, tower-sessions' own memory store and a signed cookie, nothing else (no
//! inspector, no per-session lock). Used by `bench/run.sh`.
//!
//! `cargo run --release --example bare_server -- 3002`

use axum::{Router, response::Html, routing::get};
use tower_sessions::{
    Expiry, MemoryStore, Session, SessionManagerLayer,
    cookie::{Key, SameSite},
};

/// The same allocator as `session-lab`, so the comparison measures only the layers.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

async fn count_views(session: Session) -> Html<String> {
    let views = session
        .get::<u64>("views")
        .await
        .ok()
        .flatten()
        .unwrap_or(0)
        + 1;
    // The bare server keeps it minimal: a failed insert would surface as a 500 from the layer.
    let _ = session.insert("views", views).await;
    Html(format!("Number of views {views}"))
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(3002);
    let layer = SessionManagerLayer::new(MemoryStore::default())
        .with_secure(false)
        .with_same_site(SameSite::Lax)
        .with_expiry(Expiry::OnSessionEnd)
        .with_signed(Key::generate());
    let app = Router::new().route("/", get(count_views)).layer(layer);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("bare axum + tower-sessions on http://127.0.0.1:{port}/");
    axum::serve(listener, app).await
}
