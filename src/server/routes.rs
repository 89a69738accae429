//! The routes: `GET /` counts views per session, like the seed's Express app, under the
//! session layer (which also records what each request did to the store for the inspector).

use axum::{
    Json, Router,
    extract::{Query, Request},
    http::StatusCode,
    response::{Html, IntoResponse, Response},
    routing::get,
};
use serde::Deserialize;
use tower_sessions::{Session, SessionStore, session};

use super::{
    config::ServerConfig,
    inspect::Inspector,
    layer::{SessionLayer, store_unavailable_page},
    locks::SessionLocks,
};

/// The session key the counter lives under, as in the seed (`request.session.views`).
const VIEWS: &str = "views";

/// The session key `/login` stores the user name under.
const USER: &str = "user";

/// The longest user name `/login` takes, in characters.
pub const MAX_USER_CHARS: usize = 64;

/// The session app: the routes under the session layer (configured from `config`).
pub fn app<S: SessionStore + Clone>(
    store: S,
    config: ServerConfig,
    inspector: Inspector,
    locks: SessionLocks,
) -> Router {
    app_sharing(store, config, inspector, locks, false)
}

/// [`app`], for a store other processes share when `shared`: each request then leases its
/// session in the store, so processes take turns on it too.
pub fn app_sharing<S: SessionStore + Clone>(
    store: S,
    config: ServerConfig,
    inspector: Inspector,
    locks: SessionLocks,
    shared: bool,
) -> Router {
    let settings = &config.settings;
    let regenerate_on_login = settings.regenerate_on_login;
    // The weak logout clears the cookie itself, as `res.clearCookie(name)` does.
    let weak_logout = (!settings.destroy_on_logout).then(|| {
        format!(
            "{}=; Path={}; Max-Age=0",
            settings.cookie_name, settings.path
        )
    });
    let routes = Router::new()
        .route("/", get(count_views))
        .route(
            "/login",
            get(move |session, query| login(session, query, regenerate_on_login)),
        )
        .route(
            "/logout",
            get(move |session| logout(session, weak_logout.clone())),
        )
        .route("/regenerate", get(regenerate))
        .route("/whoami", get(whoami))
        .fallback(not_found);
    let locks = config.settings.lock_per_session.then_some(locks);
    routes.layer(SessionLayer::new(store, &config, inspector, locks, shared))
}

/// `GET /`: the seed's handler. Data that is not a number starts the count over rather than
/// failing the request.
async fn count_views(session: Session) -> Response {
    let previous = match session.get::<u64>(VIEWS).await {
        Ok(views) => views.unwrap_or(0),
        Err(session::Error::SerdeJson(err)) => {
            tracing::warn!(%err, "session views is not a number; starting over");
            0
        }
        Err(err) => return store_unavailable(err),
    };
    let views = previous + 1;
    if let Err(err) = session.insert(VIEWS, views).await {
        return store_unavailable(err);
    }
    Html(format!("Number of views {views}")).into_response()
}

/// The query of `/login`.
#[derive(Debug, Deserialize)]
struct LoginQuery {
    user: Option<String>,
}

/// `GET /login?user=NAME`: stores the user and regenerates the session id (when
/// `regenerate`), the defence against session fixation (an id planted before login is
/// worthless after it).
async fn login(session: Session, Query(query): Query<LoginQuery>, regenerate: bool) -> Response {
    let Some(user) = query.user.filter(|u| !u.trim().is_empty()) else {
        return (
            StatusCode::BAD_REQUEST,
            Html("Say who is logging in: /login?user=NAME".to_owned()),
        )
            .into_response();
    };
    if user.chars().count() > MAX_USER_CHARS {
        return (
            StatusCode::BAD_REQUEST,
            Html(format!(
                "A user name has at most {MAX_USER_CHARS} characters; nothing was stored."
            )),
        )
            .into_response();
    }
    if let Err(err) = session.insert(USER, &user).await {
        return store_unavailable(err);
    }
    if !regenerate {
        return Html(format!(
            "Logged in as {}. The session id was kept (no regeneration: open to session \
             fixation).",
            html_escape(&user)
        ))
        .into_response();
    }
    if let Err(err) = session.cycle_id().await {
        return store_unavailable(err);
    }
    Html(format!(
        "Logged in as {}. The session id was regenerated (session-fixation defence).",
        html_escape(&user)
    ))
    .into_response()
}

/// Loads the session the cookie names (if any) and says whether the store holds it.
async fn exists(session: &Session) -> Result<bool, session::Error> {
    // Reading any key loads the record; a cookie naming no live session is then forgotten.
    session.get_value(VIEWS).await?;
    Ok(!session.is_empty().await)
}

/// `GET /logout`: deletes the session from the store and clears the cookie — or, with
/// `weak` (the `Set-Cookie` that clears it), only clears the cookie and leaves the session in
/// the store, as a logout of `res.clearCookie()` alone does.
async fn logout(session: Session, weak: Option<String>) -> Response {
    let had_session = match exists(&session).await {
        Ok(exists) => exists,
        Err(err) => return store_unavailable(err),
    };
    if let Some(clear) = weak {
        let mut page = Html(
            "Logged out: the cookie was cleared, but the session stays in the store \
             (no destroy)."
                .to_owned(),
        )
        .into_response();
        if let Ok(value) = axum::http::HeaderValue::from_str(&clear) {
            page.headers_mut()
                .append(axum::http::header::SET_COOKIE, value);
        }
        return page;
    }
    if let Err(err) = session.flush().await {
        return store_unavailable(err);
    }
    let text = if had_session {
        "Logged out: the session was deleted from the store and its cookie cleared."
    } else {
        "Logged out (there was no session to delete)."
    };
    Html(text.to_owned()).into_response()
}

/// `GET /regenerate`: the same data under a new session id.
async fn regenerate(session: Session) -> Response {
    let exists = match exists(&session).await {
        Ok(exists) => exists,
        Err(err) => return store_unavailable(err),
    };
    if !exists {
        return Html("There is no session to regenerate yet: visit / first.".to_owned())
            .into_response();
    }
    if let Err(err) = session.cycle_id().await {
        return store_unavailable(err);
    }
    Html("Session id regenerated: same data, new id.".to_owned()).into_response()
}

/// `GET /whoami`: the session's id and the data the lab's routes keep (views, user), as JSON.
async fn whoami(session: Session) -> Response {
    let id = match exists(&session).await {
        Ok(true) => session.id(),
        Ok(false) => None,
        Err(err) => return store_unavailable(err),
    };
    let mut data = serde_json::Map::new();
    if id.is_some() {
        for key in [USER, VIEWS] {
            match session.get_value(key).await {
                Ok(Some(value)) => {
                    data.insert(key.to_owned(), value);
                }
                Ok(None) => {}
                Err(err) => return store_unavailable(err),
            }
        }
    }
    Json(serde_json::json!({
        "session": id.map(|id| id.to_string()),
        "data": data,
    }))
    .into_response()
}

/// The page for a store that cannot be reached: a 503 that says what happened.
fn store_unavailable(err: session::Error) -> Response {
    store_unavailable_page(&err.to_string())
}

/// Any other path: Express's wording.
async fn not_found(request: Request) -> Response {
    let path = html_escape(request.uri().path());
    (
        StatusCode::NOT_FOUND,
        Html(format!("Cannot {} {path}", request.method())),
    )
        .into_response()
}

/// Text made safe to put in an HTML page (a path, a store's error message).
pub(super) fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}
