//! Session Lab's session layer against tower-sessions' own `SessionManagerLayer`, over one
//! shared store: each reads the cookies the other writes, and for the same request both write
//! the same `Set-Cookie` bytes, whatever the cookie settings.

use std::sync::Arc;

use axum::{
    Router,
    body::Body,
    http::{Request, Response, header},
    routing::get,
};
use session_lab::server::{
    CookieProtection, ExpiryPolicy, InspectableStore, Inspector, MemoryStore, SameSitePolicy,
    Secret, ServerConfig, ServerSettings, SessionLayer, SessionLocks, app,
};
use sha2::{Digest, Sha512};
use tower::ServiceExt;
use tower_sessions::{Expiry, Session, SessionManagerLayer, cookie::Key, cookie::SameSite};

const PHRASE: &str = "compat tests";

async fn count_views(session: Session) -> String {
    let views = session.get::<u64>("views").await.unwrap().unwrap_or(0) + 1;
    session.insert("views", views).await.unwrap();
    format!("Number of views {views}")
}

async fn logout(session: Session) -> &'static str {
    session.flush().await.unwrap();
    "Logged out"
}

async fn peek(session: Session) -> String {
    let views = session.get::<u64>("views").await.unwrap().unwrap_or(0);
    format!("Views {views}")
}

async fn fail(session: Session) -> (axum::http::StatusCode, &'static str) {
    let views = session.get::<u64>("views").await.unwrap().unwrap_or(0) + 1;
    session.insert("views", views).await.unwrap();
    (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "failed")
}

async fn cycle(session: Session) -> &'static str {
    session.cycle_id().await.unwrap();
    "Cycled"
}

/// The reference: `routes` under tower-sessions' own layer, built the documented way from the
/// same settings.
fn reference(
    routes: Router,
    config: &ServerConfig,
    store: InspectableStore<MemoryStore>,
) -> Router {
    let key = Key::from(Sha512::digest(PHRASE.as_bytes()).as_slice());
    let config = &config.settings;
    let mut layer = SessionManagerLayer::new(store)
        .with_name(config.cookie_name.clone())
        .with_http_only(config.http_only)
        .with_secure(config.secure)
        .with_always_save(config.always_save)
        .with_same_site(match config.same_site {
            SameSitePolicy::Strict => SameSite::Strict,
            SameSitePolicy::Lax => SameSite::Lax,
            SameSitePolicy::None => SameSite::None,
        })
        .with_path(config.path.clone())
        .with_expiry(match config.expiry {
            ExpiryPolicy::BrowserSession => Expiry::OnSessionEnd,
            ExpiryPolicy::OnInactivity { secs } => {
                Expiry::OnInactivity(time::Duration::seconds(secs))
            }
            ExpiryPolicy::AtDateTime(at) => Expiry::AtDateTime(at),
        });
    if let Some(domain) = &config.domain {
        layer = layer.with_domain(domain.clone());
    }
    match config.protection {
        CookieProtection::Plain => routes.layer(layer),
        CookieProtection::Signed => routes.layer(layer.with_signed(key)),
        CookieProtection::Private => routes.layer(layer.with_private(key)),
    }
}

/// The two routers over one store: ours (the app's own routes), and the reference.
fn routers(config: &ServerConfig) -> (Router, Router) {
    let store = InspectableStore::new(MemoryStore::default());
    let inspector = Inspector::new(Arc::new(store.clone()), config.clone());
    let ours = app(
        store.clone(),
        config.clone(),
        inspector,
        SessionLocks::default(),
    );
    let routes = Router::new()
        .route("/", get(count_views))
        .route("/logout", get(logout));
    (ours, reference(routes, config, store))
}

/// The same routes under both layers, over one store: for behaviour the app's routes do not
/// show (a failing handler, a read-only one, an id cycle).
fn layered(config: &ServerConfig) -> (Router, Router) {
    let store = InspectableStore::new(MemoryStore::default());
    let inspector = Inspector::new(Arc::new(store.clone()), config.clone());
    let routes = Router::new()
        .route("/", get(count_views))
        .route("/peek", get(peek))
        .route("/fail", get(fail))
        .route("/cycle", get(cycle));
    let ours = routes.clone().layer(SessionLayer::new(
        store.clone(),
        config,
        inspector,
        None,
        false,
    ));
    (ours, reference(routes, config, store))
}

struct Answer {
    body: String,
    set_cookie: Option<String>,
}

impl Answer {
    /// `name=value` of the cookie set.
    fn pair(&self) -> String {
        let set = self.set_cookie.as_deref().expect("a cookie is set");
        set.split(';').next().unwrap().to_owned()
    }

    /// The `Set-Cookie` without its `Expires` date (a removal cookie's is "a year ago", to the
    /// second of the call).
    fn set_cookie_undated(&self) -> Option<String> {
        self.set_cookie.as_ref().map(|set| {
            set.split("; ")
                .filter(|part| !part.starts_with("Expires="))
                .collect::<Vec<_>>()
                .join("; ")
        })
    }
}

async fn visit(router: &Router, path: &str, cookie: Option<&str>) -> Answer {
    let mut request = Request::get(path);
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    let response: Response<Body> = router
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let set_cookie = response
        .headers()
        .get(header::SET_COOKIE)
        .map(|v| v.to_str().unwrap().to_owned());
    let body = axum::body::to_bytes(response.into_body(), 1024)
        .await
        .unwrap();
    Answer {
        body: String::from_utf8(body.to_vec()).unwrap(),
        set_cookie,
    }
}

fn configs() -> Vec<ServerConfig> {
    let base = ServerSettings::default();
    let mut settings = Vec::new();
    for protection in [
        CookieProtection::Signed,
        CookieProtection::Plain,
        CookieProtection::Private,
    ] {
        settings.push(ServerSettings {
            protection,
            ..base.clone()
        });
    }
    settings.push(ServerSettings {
        cookie_name: "connect.sid".to_owned(),
        http_only: false,
        secure: true,
        same_site: SameSitePolicy::Strict,
        path: "/app".to_owned(),
        domain: Some("example.test".to_owned()),
        expiry: ExpiryPolicy::OnInactivity { secs: 600 },
        ..base.clone()
    });
    settings.push(ServerSettings {
        same_site: SameSitePolicy::None,
        secure: true,
        ..base
    });
    settings
        .into_iter()
        .map(|settings| ServerConfig {
            settings,
            ..ServerConfig::with_secret(Secret::from_phrase(PHRASE))
        })
        .collect()
}

/// A session begun by either layer continues in the other, and both answer a returning
/// browser with the same `Set-Cookie`.
#[tokio::test]
async fn each_layer_continues_the_others_sessions() {
    for config in configs() {
        let label = format!(
            "{:?} {}",
            config.settings.protection, config.settings.cookie_name
        );
        let (ours, reference) = routers(&config);
        let begun_there = visit(&reference, "/", None).await;
        let cookie = begun_there.pair();
        let here = visit(&ours, "/", Some(&cookie)).await;
        assert_eq!(here.body, "Number of views 2", "{label}");
        let there = visit(&reference, "/", Some(&cookie)).await;
        assert_eq!(there.body, "Number of views 3", "{label}");
        if config.settings.protection != CookieProtection::Private {
            // Deterministic sealing: the same bytes, and the cookie the browser already has.
            assert_eq!(here.set_cookie, there.set_cookie, "{label}");
            assert_eq!(here.set_cookie, begun_there.set_cookie, "{label}");
        }

        let begun_here = visit(&ours, "/", None).await;
        let cookie = begun_here.pair();
        let there = visit(&reference, "/", Some(&cookie)).await;
        assert_eq!(there.body, "Number of views 2", "{label}");
        let attributes = |answer: &Answer| {
            let set = answer.set_cookie.clone().unwrap();
            set.split_once(';').unwrap().1.to_owned()
        };
        assert_eq!(attributes(&begun_here), attributes(&there), "{label}");
    }
}

/// Logging out clears the cookie with the same removal cookie (date aside); a forged or
/// absent cookie on logout clears nothing in either.
#[tokio::test]
async fn both_clear_the_cookie_alike() {
    for config in configs() {
        let label = format!(
            "{:?} {}",
            config.settings.protection, config.settings.cookie_name
        );
        let (ours, reference) = routers(&config);
        let name = config.settings.cookie_name.clone();
        let a = visit(&ours, "/", None).await.pair();
        let b = visit(&ours, "/", None).await.pair();
        let here = visit(&ours, "/logout", Some(&a)).await;
        let there = visit(&reference, "/logout", Some(&b)).await;
        assert!(here.set_cookie.is_some(), "{label}");
        assert_eq!(
            here.set_cookie_undated(),
            there.set_cookie_undated(),
            "{label}"
        );
        // The session is gone: a later visit with the old cookie starts over in both.
        assert_eq!(visit(&ours, "/", Some(&b)).await.body, "Number of views 1");

        let forged = format!("{name}=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
        for cookie in [Some(forged.as_str()), None] {
            let here = visit(&ours, "/logout", cookie).await;
            let there = visit(&reference, "/logout", cookie).await;
            assert_eq!(here.set_cookie, there.set_cookie, "{label} {cookie:?}");
        }
    }
}

/// Several cookies, duplicates and noise in one header: both layers pick the same session.
#[tokio::test]
async fn both_pick_the_same_cookie() {
    let config = configs().remove(0);
    let (ours, reference) = routers(&config);
    let a = visit(&ours, "/", None).await.pair();
    let b = visit(&ours, "/", None).await.pair();
    let header = format!("theme=dark; {a}; junk; {b}; other=%41");
    let here = visit(&ours, "/", Some(&header)).await;
    let there = visit(&reference, "/", Some(&header)).await;
    assert_eq!(here.body, "Number of views 2");
    assert_eq!(
        there.body, "Number of views 3",
        "the same session, counted on"
    );
    assert_eq!(here.set_cookie, there.set_cookie);
}

/// A percent-encoded cookie (as some clients send `+`, `/` and `=`) opens in both layers.
#[tokio::test]
async fn both_decode_percent_encoded_cookies() {
    let config = configs().remove(0);
    let (ours, reference) = routers(&config);
    let pair = visit(&ours, "/", None).await.pair();
    let (name, value) = pair.split_once('=').unwrap();
    let encoded: String = value
        .chars()
        .map(|c| match c {
            '+' | '/' | '=' => format!("%{:02X}", c as u32),
            c => c.to_string(),
        })
        .collect();
    assert_ne!(encoded, value, "the signed value has characters to encode");
    let header = format!("{name}={encoded}");
    assert_eq!(
        visit(&ours, "/", Some(&header)).await.body,
        "Number of views 2"
    );
    assert_eq!(
        visit(&reference, "/", Some(&header)).await.body,
        "Number of views 3"
    );
}

/// A handler that changes the session and answers 500: neither layer saves it or sets a
/// cookie, for a new visitor or a returning one.
#[tokio::test]
async fn a_server_error_saves_nothing_in_either() {
    for config in configs() {
        let (ours, reference) = layered(&config);
        for router in [&ours, &reference] {
            let fresh = visit(router, "/fail", None).await;
            assert_eq!(fresh.set_cookie, None);
            let cookie = visit(router, "/", None).await.pair();
            let failed = visit(router, "/fail", Some(&cookie)).await;
            assert_eq!(failed.set_cookie, None);
            assert_eq!(visit(router, "/peek", Some(&cookie)).await.body, "Views 1");
        }
    }
}

/// With always-save on, a request that only reads the session still saves it and sets the
/// cookie again, the same bytes in both.
#[tokio::test]
async fn always_save_agrees() {
    for mut config in configs() {
        config.settings.always_save = true;
        config.settings.expiry = ExpiryPolicy::OnInactivity { secs: 600 };
        let (ours, reference) = layered(&config);
        let cookie = visit(&ours, "/", None).await.pair();
        let here = visit(&ours, "/peek", Some(&cookie)).await;
        let there = visit(&reference, "/peek", Some(&cookie)).await;
        assert_eq!(here.body, "Views 1");
        assert!(here.set_cookie.is_some() && there.set_cookie.is_some());
        if config.settings.protection != CookieProtection::Private {
            assert_eq!(here.set_cookie, there.set_cookie);
        }
    }
}

/// A fixed expiry date: both set the same attributes, and a Max-Age within a second of each
/// other (each counts from its own now).
#[tokio::test]
async fn a_fixed_expiry_date_agrees() {
    for mut config in configs() {
        let at = time::OffsetDateTime::now_utc() + time::Duration::hours(2);
        config.settings.expiry = ExpiryPolicy::AtDateTime(at);
        let (ours, reference) = layered(&config);
        let here = visit(&ours, "/", None).await.set_cookie.unwrap();
        let there = visit(&reference, "/", None).await.set_cookie.unwrap();
        let split = |set: &str| {
            let mut max_age = None;
            let rest: Vec<String> = set
                .split("; ")
                .skip(1)
                .filter_map(|part| match part.strip_prefix("Max-Age=") {
                    Some(secs) => {
                        max_age = secs.parse::<i64>().ok();
                        None
                    }
                    None => Some(part.to_owned()),
                })
                .collect();
            (rest, max_age.expect("a Max-Age"))
        };
        let (here_rest, here_age) = split(&here);
        let (there_rest, there_age) = split(&there);
        assert_eq!(here_rest, there_rest);
        assert!((here_age - there_age).abs() <= 1, "{here} / {there}");
        assert!((7190..=7200).contains(&here_age), "{here}");
    }
}

/// A new id for the same data (`cycle_id`): both drop the old id and set the new one, and
/// either continues the session under the id the other gave it.
#[tokio::test]
async fn cycle_id_agrees() {
    for config in configs() {
        let (ours, reference) = layered(&config);
        for (first, second) in [(&ours, &reference), (&reference, &ours)] {
            let old = visit(first, "/", None).await.pair();
            let cycled = visit(first, "/cycle", Some(&old)).await;
            let new = cycled.pair();
            assert_ne!(new, old);
            assert_eq!(visit(second, "/peek", Some(&new)).await.body, "Views 1");
            assert_eq!(visit(second, "/peek", Some(&old)).await.body, "Views 0");
        }
    }
}
