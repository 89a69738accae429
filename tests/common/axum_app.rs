//! An axum app on tower-sessions' own stores (tower-sessions-redis-store, tower-sessions-sqlx-
//! store on SQLite), as their READMEs set them up: the seed's counter at /, a new id at
//! /login?user=NAME (`cycle_id`), the session flushed at /logout. It runs on a runtime of its
//! own, over a real socket, until dropped.

use std::net::SocketAddr;

use axum::{Router, extract::Query, routing::get};
use tower_sessions_014::{Expiry, Session, SessionManagerLayer, cookie::time::Duration};

/// Which store the app keeps its sessions in.
pub enum AxumStore {
    /// tower-sessions-redis-store, on this Redis URL.
    Redis(String),
    /// tower-sessions-sqlx-store's SqliteStore, in this file.
    Sqlite(std::path::PathBuf),
    /// tower-sessions-sqlx-store's PostgresStore, in this database.
    Postgres(String),
}

/// The running app.
pub struct AxumApp {
    /// Its address, `http://127.0.0.1:PORT/`.
    pub url: String,
    _runtime: tokio::runtime::Runtime,
}

/// What the app's logout does.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Logout {
    /// `session.flush()`: the record deleted, the cookie removed (as the docs show).
    Flush,
    /// Only the `user` key removed: the session, its counter and its cookie go on.
    RemoveUser,
    /// Answers 411 Length Required to a POST without a Content-Length (as WEBrick does), and
    /// flushes otherwise.
    NeedsLength,
    /// Answers 500: the logout is broken.
    Broken,
}

impl AxumApp {
    pub fn start(store: AxumStore) -> Self {
        Self::start_with(store, Logout::Flush)
    }

    pub fn start_with(store: AxumStore, logout_kind: Logout) -> Self {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let addr: SocketAddr = runtime.block_on(async move {
            let logout_route = move |session: Session,
                                     headers: axum::http::HeaderMap,
                                     method: axum::http::Method| async move {
                use axum::http::StatusCode;
                match logout_kind {
                    Logout::Flush => {}
                    Logout::RemoveUser => {
                        let _: Option<String> = session.remove("user").await.unwrap();
                        return (StatusCode::OK, "Logged out");
                    }
                    Logout::NeedsLength => {
                        if method == axum::http::Method::POST
                            && !headers.contains_key(axum::http::header::CONTENT_LENGTH)
                        {
                            return (StatusCode::LENGTH_REQUIRED, "Length Required");
                        }
                    }
                    Logout::Broken => {
                        return (StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
                    }
                }
                session.flush().await.unwrap();
                (StatusCode::OK, "Logged out")
            };
            let routes = Router::new()
                .route("/", get(count))
                .route("/login", get(login))
                .route("/logout", get(logout_route).post(logout_route));
            let expiry = Expiry::OnInactivity(Duration::hours(1));
            let app = match store {
                AxumStore::Redis(url) => {
                    use tower_sessions_redis_store::{RedisStore, fred::prelude::*};
                    let pool =
                        Pool::new(Config::from_url(&url).unwrap(), None, None, None, 1).unwrap();
                    pool.init().await.unwrap();
                    let layer = SessionManagerLayer::new(RedisStore::new(pool))
                        .with_secure(false)
                        .with_expiry(expiry);
                    routes.layer(layer)
                }
                AxumStore::Sqlite(path) => {
                    use tower_sessions_sqlx_store::{SqliteStore, sqlx::SqlitePool};
                    let pool = SqlitePool::connect(&format!("sqlite:{}?mode=rwc", path.display()))
                        .await
                        .unwrap();
                    let store = SqliteStore::new(pool);
                    store.migrate().await.unwrap();
                    let layer = SessionManagerLayer::new(store)
                        .with_secure(false)
                        .with_expiry(expiry);
                    routes.layer(layer)
                }
                AxumStore::Postgres(url) => {
                    use tower_sessions_sqlx_store::{PostgresStore, sqlx::PgPool};
                    let store = PostgresStore::new(PgPool::connect(&url).await.unwrap());
                    store.migrate().await.unwrap();
                    let layer = SessionManagerLayer::new(store)
                        .with_secure(false)
                        .with_expiry(expiry);
                    routes.layer(layer)
                }
            };
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            tokio::spawn(async move { axum::serve(listener, app).await });
            addr
        });
        Self {
            url: format!("http://{addr}/"),
            _runtime: runtime,
        }
    }

    /// The app's address of `path` (no leading slash).
    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }
}

async fn count(session: Session) -> String {
    let views: u64 = session.get("views").await.unwrap().unwrap_or(0) + 1;
    session.insert("views", views).await.unwrap();
    format!("Number of views {views}")
}

#[derive(serde::Deserialize)]
struct Login {
    user: String,
}

async fn login(session: Session, Query(login): Query<Login>) -> String {
    session.cycle_id().await.unwrap();
    session.insert("user", &login.user).await.unwrap();
    format!("Logged in as {}", login.user)
}
