//! Servers that keep sessions the ways the web does, written here with known answers for the
//! audit: Flask's signed data in the cookie (itsdangerous' format), a JWT in a cookie (verified
//! with HS256, but taking `alg: none` as too many libraries once did), and PHP's native
//! sessions as shipped (26 characters of `0-9a-v`, any id a client sends adopted, no new id at
//! login, one request at a time per session).

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::{SystemTime, UNIX_EPOCH},
};

use axum::{
    Router,
    extract::{Query, State},
    http::{HeaderMap, HeaderValue, header},
    response::{IntoResponse, Response},
    routing::get,
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use serde_json::{Map, Value, json};
use sha2::Sha256;

const KEY: &[u8] = b"fixture secret, never a real one";

/// What a cleared cookie's `Set-Cookie` says after the name (Flask's and PHP's words).
const CLEARED: &str = "; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn signature(text: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(KEY).unwrap();
    mac.update(text.as_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    let prefix = format!("{name}=");
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(&prefix).map(str::to_owned))
}

fn with_cookie(body: String, set_cookie: &str) -> Response {
    let mut response = body.into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(set_cookie).unwrap(),
    );
    response
}

#[derive(serde::Deserialize)]
struct Login {
    user: String,
}

async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

// ---- Flask: the data, signed, in the cookie ----------------------------------------------

/// The session in a Flask cookie, if its signature holds.
fn flask_open(headers: &HeaderMap) -> Map<String, Value> {
    let Some(value) = cookie(headers, "session") else {
        return Map::new();
    };
    let Some((signed, sig)) = value.rsplit_once('.') else {
        return Map::new();
    };
    if signature(signed) != sig {
        return Map::new();
    }
    let payload = signed.split('.').next().unwrap_or("");
    URL_SAFE_NO_PAD
        .decode(payload)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

/// `Set-Cookie` for the session: base64url JSON . timestamp . signature (itsdangerous).
fn flask_seal(session: &Map<String, Value>) -> String {
    let payload = URL_SAFE_NO_PAD.encode(Value::Object(session.clone()).to_string());
    let stamp = URL_SAFE_NO_PAD.encode((now() as u32).to_be_bytes());
    let signed = format!("{payload}.{stamp}");
    format!("session={signed}.{}; HttpOnly; Path=/", signature(&signed))
}

/// Flask's default session: `/` counts views, `/login?user=` remembers the user,
/// `/logout` does `session.clear()` (the cookie is cleared; nothing on the server to delete).
pub async fn flask_like() -> SocketAddr {
    let app = Router::new()
        .route(
            "/",
            get(|headers: HeaderMap| async move {
                let mut session = flask_open(&headers);
                let views = session.get("views").and_then(Value::as_u64).unwrap_or(0) + 1;
                session.insert("views".into(), views.into());
                with_cookie(format!("Number of views {views}"), &flask_seal(&session))
            }),
        )
        .route(
            "/login",
            get(
                |headers: HeaderMap, Query(login): Query<Login>| async move {
                    let mut session = flask_open(&headers);
                    session.insert("user".into(), login.user.clone().into());
                    with_cookie(
                        format!("Logged in as {}", login.user),
                        &flask_seal(&session),
                    )
                },
            ),
        )
        .route(
            "/logout",
            get(|| async { with_cookie("Logged out".into(), &format!("session={CLEARED}")) }),
        );
    serve(app).await
}

// ---- A JWT in a cookie ----------------------------------------------------------------------

/// The claims of the `token` cookie: HS256 verified — and `alg: none` taken unverified.
fn jwt_open(headers: &HeaderMap) -> Map<String, Value> {
    let Some(token) = cookie(headers, "token") else {
        return Map::new();
    };
    let parts: Vec<&str> = token.split('.').collect();
    let [header_part, claims_part, sig] = parts.as_slice() else {
        return Map::new();
    };
    let decode = |part: &str| -> Option<Map<String, Value>> {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).ok()?).ok()
    };
    let Some(head) = decode(header_part) else {
        return Map::new();
    };
    let trusted = match head.get("alg").and_then(Value::as_str) {
        Some("HS256") => signature(&format!("{header_part}.{claims_part}")) == *sig,
        // The classic mistake: the token chooses how it is checked.
        Some("none") => true,
        _ => false,
    };
    if !trusted {
        return Map::new();
    }
    decode(claims_part).unwrap_or_default()
}

fn jwt_seal(claims: &mut Map<String, Value>) -> String {
    claims.insert("iat".into(), now().into());
    let head = URL_SAFE_NO_PAD.encode(json!({"alg": "HS256", "typ": "JWT"}).to_string());
    let body = URL_SAFE_NO_PAD.encode(Value::Object(claims.clone()).to_string());
    let signed = format!("{head}.{body}");
    format!(
        "token={signed}.{}; HttpOnly; SameSite=Lax; Path=/",
        signature(&signed)
    )
}

/// A JWT in the `token` cookie, with no `exp`: `/` counts views in a claim, `/login?user=`
/// sets `sub`, `/logout` clears the cookie.
pub async fn jwt_app() -> SocketAddr {
    let app = Router::new()
        .route(
            "/",
            get(|headers: HeaderMap| async move {
                let mut claims = jwt_open(&headers);
                let views = claims.get("views").and_then(Value::as_u64).unwrap_or(0) + 1;
                claims.insert("views".into(), views.into());
                with_cookie(format!("Number of views {views}"), &jwt_seal(&mut claims))
            }),
        )
        .route(
            "/login",
            get(
                |headers: HeaderMap, Query(login): Query<Login>| async move {
                    let mut claims = jwt_open(&headers);
                    claims.insert("sub".into(), login.user.clone().into());
                    with_cookie(
                        format!("Logged in as {}", login.user),
                        &jwt_seal(&mut claims),
                    )
                },
            ),
        )
        .route(
            "/logout",
            get(|| async { with_cookie("Logged out".into(), &format!("token={CLEARED}")) }),
        );
    serve(app).await
}

// ---- PHP's native sessions ------------------------------------------------------------------

/// PHP's sessions: files keyed by id (a map here), each read and written under a lock.
#[derive(Default)]
struct Php {
    sessions: Mutex<HashMap<String, Map<String, Value>>>,
}

/// 26 characters of `0-9a-v`: 130 random bits, as PHP 8 makes them by default.
fn php_id() -> String {
    const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuv";
    (0..26)
        .map(|_| char::from(ALPHABET[rand::random_range(0..ALPHABET.len())]))
        .collect()
}

/// `session_start()` as shipped (`use_strict_mode=0`): the id the client sent, known or not,
/// or a new one (and then a `Set-Cookie`). Runs `change` on the session under the lock.
fn php_session(
    php: &Php,
    headers: &HeaderMap,
    change: impl FnOnce(&mut Map<String, Value>) -> String,
) -> Response {
    let sent = cookie(headers, "PHPSESSID").filter(|id| {
        !id.is_empty()
            && id.len() <= 128
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b',')
    });
    let (id, new) = match sent {
        Some(id) => (id, false),
        None => (php_id(), true),
    };
    let body = {
        let mut sessions = php.sessions.lock().unwrap();
        change(sessions.entry(id.clone()).or_default())
    };
    let mut response = body.into_response();
    let headers = response.headers_mut();
    // session.cache_limiter = nocache
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store, no-cache, must-revalidate"),
    );
    if new {
        headers.insert(
            header::SET_COOKIE,
            HeaderValue::from_str(&format!("PHPSESSID={id}; path=/")).unwrap(),
        );
    }
    response
}

/// PHP's built-in server running the usual counter, login and logout pages; with `regenerate`
/// the login page calls `session_regenerate_id(true)`, as PHP's manual recommends.
pub async fn php_like(regenerate: bool) -> SocketAddr {
    let php = Arc::new(Php::default());
    let app = Router::new()
        .route(
            "/",
            get(
                |State(php): State<Arc<Php>>, headers: HeaderMap| async move {
                    php_session(&php, &headers, |session| {
                        let views = session.get("views").and_then(Value::as_u64).unwrap_or(0) + 1;
                        session.insert("views".into(), views.into());
                        format!("Number of views {views}")
                    })
                },
            ),
        )
        .route(
            "/login",
            get(
                move |State(php): State<Arc<Php>>,
                      headers: HeaderMap,
                      Query(login): Query<Login>| async move {
                    if !regenerate {
                        return php_session(&php, &headers, |session| {
                            session.insert("user".into(), login.user.clone().into());
                            format!("Logged in as {}", login.user)
                        });
                    }
                    // session_regenerate_id(true): the data moves to a new id; the old
                    // one is gone.
                    let old = cookie(&headers, "PHPSESSID").unwrap_or_default();
                    let id = php_id();
                    {
                        let mut sessions = php.sessions.lock().unwrap();
                        let mut session = sessions.remove(&old).unwrap_or_default();
                        session.insert("user".into(), login.user.clone().into());
                        sessions.insert(id.clone(), session);
                    }
                    with_cookie(
                        format!("Logged in as {}", login.user),
                        &format!("PHPSESSID={id}; path=/"),
                    )
                },
            ),
        )
        .route(
            "/logout",
            get(
                |State(php): State<Arc<Php>>, headers: HeaderMap| async move {
                    // session_destroy() and an expired cookie.
                    if let Some(id) = cookie(&headers, "PHPSESSID") {
                        php.sessions.lock().unwrap().remove(&id);
                    }
                    with_cookie("Logged out".into(), &format!("PHPSESSID={CLEARED}"))
                },
            ),
        )
        .with_state(php);
    serve(app).await
}
