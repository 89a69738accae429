//! `Cookie` headers sent to the embedded server, signed and private: any bytes get an answer
//! (a fresh session for a cookie the server did not make), never a panic or a 500.
#![no_main]

use std::sync::{Arc, OnceLock};

use axum::{body::Body, http::Request};
use libfuzzer_sys::fuzz_target;
use session_lab::server::{
    CookieProtection, InspectableStore, Inspector, MemoryStore, Secret, ServerConfig, SessionLocks,
    app,
};
use tower::ServiceExt as _;

struct Servers {
    runtime: tokio::runtime::Runtime,
    apps: Vec<axum::Router>,
}

fn servers() -> &'static Servers {
    static SERVERS: OnceLock<Servers> = OnceLock::new();
    SERVERS.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let apps = [
            CookieProtection::Signed,
            CookieProtection::Private,
            CookieProtection::Plain,
        ]
        .into_iter()
        .map(|protection| {
            let mut config = ServerConfig::with_secret(Secret::from_phrase("fuzz"));
            config.settings.protection = protection;
            let store = InspectableStore::new(MemoryStore::default());
            let inspector = Inspector::new(Arc::new(store.clone()), config.clone());
            app(store, config, inspector, SessionLocks::default())
        })
        .collect();
        Servers { runtime, apps }
    })
}

fuzz_target!(|data: &[u8]| {
    let servers = servers();
    for app in &servers.apps {
        let Ok(request) = Request::get("/").header("cookie", data).body(Body::empty()) else {
            return;
        };
        let response = servers
            .runtime
            .block_on(app.clone().oneshot(request))
            .unwrap();
        assert!(
            !response.status().is_server_error(),
            "{}",
            response.status()
        );
    }
});
