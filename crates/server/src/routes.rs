//! The routes: `GET /` counts views per session, like the seed's Express app, under the
//! session layer (which also records what each request did to the store for the inspector).

use axum::{
    Form, Json, Router,
    extract::{Query, Request},
    http::StatusCode,
    response::{Html, IntoResponse, Response},
    routing::{get, post},
};
use serde::Deserialize;
use tower_sessions::{
    Session, SessionStore, session,
    session::{Id, Record},
    session_store,
};

use super::{
    SessionId,
    config::ServerConfig,
    inspect::Inspector,
    layer::{SessionLayer, store_unavailable_page},
    locks::SessionLocks,
    site::{ATTACKER_HOSTS, LoginRefused, MAX_EMAIL_CHARS, Site},
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
    let site = config.site.clone();
    let locks = config.settings.lock_per_session.then_some(locks);
    let app = if config.settings.counted_ids {
        let store = CountedIds {
            inner: store,
            site: site.clone(),
        };
        routes(&config, store.clone(), inspector.clone())
            .layer(SessionLayer::new(store, &config, inspector, locks, shared))
    } else {
        routes(&config, store.clone(), inspector.clone())
            .layer(SessionLayer::new(store, &config, inspector, locks, shared))
    };
    // The attacker's site is another host on the same server, outside the app's sessions.
    app.layer(AttackerSiteLayer(site))
}

/// Serves the attacker's host before the app: a plain tower layer, so the app's requests pass
/// with neither a box nor a clone of the service behind it (axum's `from_fn` makes both, at
/// every request).
#[derive(Clone)]
struct AttackerSiteLayer(Site);

impl<S> tower::Layer<S> for AttackerSiteLayer {
    type Service = AttackerSite<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AttackerSite {
            inner,
            site: self.0.clone(),
        }
    }
}

/// [`AttackerSiteLayer`]'s service.
#[derive(Clone)]
struct AttackerSite<S> {
    inner: S,
    site: Site,
}

impl<S> tower::Service<Request> for AttackerSite<S>
where
    S: tower::Service<Request, Response = Response, Error = std::convert::Infallible>,
{
    type Response = Response;
    type Error = std::convert::Infallible;
    type Future = futures::future::Either<
        S::Future,
        std::future::Ready<Result<Response, std::convert::Infallible>>,
    >;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        match attacker_host(&request) {
            None => futures::future::Either::Left(self.inner.call(request)),
            Some(host) => futures::future::Either::Right(std::future::ready(Ok(attacker_page(
                &self.site,
                host,
                request.uri().path(),
            )))),
        }
    }
}

/// The attacker's host a request is for, if it is for one (read without allocating: every
/// request of the app asks).
fn attacker_host(request: &Request) -> Option<&'static str> {
    let host = match request.uri().host() {
        Some(host) => host,
        None => {
            let host = request
                .headers()
                .get(axum::http::header::HOST)?
                .to_str()
                .ok()?;
            host.rsplit_once(':').map_or(host, |(name, _)| name)
        }
    };
    ATTACKER_HOSTS
        .iter()
        .find(|attacker| attacker.eq_ignore_ascii_case(host))
        .copied()
}

/// The app's routes, before the session layer.
fn routes<S: SessionStore + Clone>(
    config: &ServerConfig,
    store: S,
    inspector: Inspector,
) -> Router {
    let settings = &config.settings;
    let regenerate = settings.regenerate_on_login;
    // Cookieless sessions go on in the URL: a login leads to a page whose address carries it.
    let then_account = settings.id_in_url;
    let in_cookie = settings.kept_in == super::KeptIn::Cookie;
    // The weak logout clears the cookie itself, as `res.clearCookie(name)` does.
    let weak_logout = (!settings.destroy_on_logout).then(|| {
        format!(
            "{}=; Path={}; Max-Age=0",
            settings.cookie_name, settings.path
        )
    });
    let site = config.site.clone();
    let (site_post, site_account, site_email, site_email_get) =
        (site.clone(), site.clone(), site.clone(), site);
    Router::new()
        .route("/", get(count_views))
        .route(
            "/login",
            get(move |session, query| login(session, query, regenerate)).post(
                move |session, form| {
                    login_with_password(session, form, site_post, (regenerate, then_account))
                },
            ),
        )
        .route(
            "/logout",
            get(move |session| logout(session, weak_logout.clone(), in_cookie)),
        )
        .route(
            "/logout-others",
            get(move |session| logout_others(session, store, inspector)),
        )
        .route(
            "/account",
            get(move |session| account(session, site_account)),
        )
        .route(
            "/account/email",
            post(move |session, Form(form): Form<EmailForm>| {
                change_email(session, form.email, site_email)
            })
            // The mistake that lets a mere link change state: the route answers GET too.
            .get(move |session, Query(form): Query<EmailForm>| {
                change_email(session, form.email, site_email_get)
            }),
        )
        .route("/regenerate", get(regenerate_id))
        .route("/whoami", get(whoami))
        .fallback(not_found)
}

/// The attacker's page (only `/`; the rest is not found).
fn attacker_page(site: &Site, host: &str, path: &str) -> Response {
    if path != "/" {
        return (
            StatusCode::NOT_FOUND,
            Html(format!("{host} has one page: /")),
        )
            .into_response();
    }
    let page = site.page();
    let mut response = Html(page.html).into_response();
    // What a header may not hold is not sent (the tab says the page is served as written).
    if !page.set_cookie.is_empty()
        && let Ok(value) = axum::http::HeaderValue::from_str(&page.set_cookie)
    {
        response
            .headers_mut()
            .append(axum::http::header::SET_COOKIE, value);
    }
    response
}

/// A session store that hands out counted ids (1001, 1002, …) instead of random ones: the weak
/// generator. Everything else goes to the store it wraps.
#[derive(Clone, Debug)]
struct CountedIds<S> {
    inner: S,
    site: Site,
}

#[async_trait::async_trait]
impl<S: SessionStore> SessionStore for CountedIds<S> {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        record.id = self.site.next_counted();
        self.inner.create(record).await
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        self.inner.save(record).await
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        self.inner.load(id).await
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.inner.delete(id).await
    }
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

/// `GET /login?user=NAME`: the quick login of the lessons (no password), which stores the
/// user and regenerates the session id (when `regenerate`), the defence against session
/// fixation (an id planted before login is worthless after it). Without `user`, the login
/// form.
async fn login(session: Session, Query(query): Query<LoginQuery>, regenerate: bool) -> Response {
    let Some(user) = query.user else {
        return Html(LOGIN_FORM.to_owned()).into_response();
    };
    log_in(&session, user, regenerate).await
}

/// The login form, with the lab's accounts on it.
const LOGIN_FORM: &str = "<h1>Log in</h1>
<form action=\"/login\" method=\"post\">
  <input name=\"user\" value=\"alice\"> <input name=\"password\" type=\"password\">
  <button>Log in</button>
</form>
<p>Accounts: alice (wonderland), bob (builder), mallory (attacker).</p>
<p>Or the quick login of the lessons, with no password: /login?user=NAME</p>
";

/// The form `POST /login` takes.
#[derive(Debug, Deserialize)]
struct LoginForm {
    user: String,
    password: String,
}

/// `POST /login` (`user`, `password`): logs in when the password is the account's.
async fn login_with_password(
    session: Session,
    Form(form): Form<LoginForm>,
    site: Site,
    (regenerate, then_account): (bool, bool),
) -> Response {
    match site.check_password(&form.user, &form.password) {
        Ok(()) => {
            let page = log_in(&session, form.user, regenerate).await;
            if then_account && page.status().is_success() {
                axum::response::Redirect::to("/account").into_response()
            } else {
                page
            }
        }
        Err(refused) => {
            let why = match refused {
                LoginRefused::NoSuchUser => "no account has that name",
                LoginRefused::WrongPassword => "that is not the password",
            };
            (
                StatusCode::UNAUTHORIZED,
                Html(format!("Login refused: {why}. Nothing was stored.")),
            )
                .into_response()
        }
    }
}

/// Stores `user` in the session, under a new id when `regenerate`.
async fn log_in(session: &Session, user: String, regenerate: bool) -> Response {
    if user.trim().is_empty() {
        return (
            StatusCode::BAD_REQUEST,
            Html("Say who is logging in: /login?user=NAME".to_owned()),
        )
            .into_response();
    }
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
            crate::words::html_escape(&user)
        ))
        .into_response();
    }
    if let Err(err) = session.cycle_id().await {
        return store_unavailable(err);
    }
    Html(format!(
        "Logged in as {}. The session id was regenerated (session-fixation defence).",
        crate::words::html_escape(&user)
    ))
    .into_response()
}

/// The user the session is logged in as, if any.
async fn user_of(session: &Session) -> Result<Option<String>, session::Error> {
    session.get::<String>(USER).await.or_else(|err| match err {
        // Data that is not a name is nobody logged in.
        session::Error::SerdeJson(_) => Ok(None),
        err => Err(err),
    })
}

/// The page for a request that needs a logged-in user.
fn not_logged_in() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        Html("Not logged in: log in first (/login).".to_owned()),
    )
        .into_response()
}

/// `GET /account`: the user's e-mail address and the form that changes it.
async fn account(session: Session, site: Site) -> Response {
    let user = match user_of(&session).await {
        Ok(Some(user)) => user,
        Ok(None) => return not_logged_in(),
        Err(err) => return store_unavailable(err),
    };
    let email = site.email(&user).unwrap_or_default();
    Html(format!(
        "<h1>Account of {user}</h1>
<p>E-mail: {email}</p>
<form action=\"/account/email\" method=\"post\">
  <input name=\"email\" value=\"{email}\"> <button>Change e-mail</button>
</form>
<p><a href=\"/logout-others\">Log out my other sessions</a> · <a href=\"/logout\">Log out</a></p>
",
        user = crate::words::html_escape(&user),
        email = crate::words::html_escape(&email),
    ))
    .into_response()
}

/// The form (or query) `/account/email` takes.
#[derive(Debug, Deserialize)]
struct EmailForm {
    email: String,
}

/// `POST /account/email` (and, the mistake, `GET /account/email?email=`): changes the logged-in
/// user's e-mail address, the state a forged request changes.
async fn change_email(session: Session, email: String, site: Site) -> Response {
    let user = match user_of(&session).await {
        Ok(Some(user)) => user,
        Ok(None) => return not_logged_in(),
        Err(err) => return store_unavailable(err),
    };
    if email.trim().is_empty() || email.chars().count() > MAX_EMAIL_CHARS {
        return (
            StatusCode::BAD_REQUEST,
            Html(format!(
                "An e-mail address has 1 to {MAX_EMAIL_CHARS} characters; nothing was changed."
            )),
        )
            .into_response();
    }
    if !site.set_email(&user, &email) {
        return (
            StatusCode::NOT_FOUND,
            Html(format!(
                "{} has no account here (log in with a password to have one); nothing was \
                 changed.",
                crate::words::html_escape(&user)
            )),
        )
            .into_response();
    }
    Html(format!(
        "The e-mail address of {} is now {}.",
        crate::words::html_escape(&user),
        crate::words::html_escape(&email)
    ))
    .into_response()
}

/// `GET /logout-others`: deletes every other session of the logged-in user (the store is
/// listed for them), as "log out everywhere else" does; this one stays.
async fn logout_others<S: SessionStore>(
    session: Session,
    store: S,
    inspector: Inspector,
) -> Response {
    let user = match user_of(&session).await {
        Ok(Some(user)) => user,
        Ok(None) => return not_logged_in(),
        Err(err) => return store_unavailable(err),
    };
    let this = session.id().map(SessionId::from);
    let rows = match inspector.sessions().await {
        Ok(rows) => rows,
        Err(err) => return store_unavailable_page(&err.to_string()),
    };
    let mut ended = 0usize;
    for row in rows {
        if Some(row.id) != this
            && row.data.get(USER).as_ref().and_then(|u| u.as_str()) == Some(user.as_str())
        {
            if let Err(err) = store.delete(&row.id.into()).await {
                return store_unavailable_page(&err.to_string());
            }
            ended += 1;
        }
    }
    Html(format!(
        "Ended {ended} other session{} of {}; this one stays.",
        if ended == 1 { "" } else { "s" },
        crate::words::html_escape(&user)
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
async fn logout(session: Session, weak: Option<String>, in_cookie: bool) -> Response {
    if in_cookie {
        // The session is the cookie: emptied, the layer clears the cookie; a copy lives on.
        if let Err(err) = session.flush().await {
            return store_unavailable(err);
        }
        return Html(
            "Logged out: the cookie was cleared. The session was the cookie itself, so the \
             server kept nothing to delete: a copy of the old cookie still gets in."
                .to_owned(),
        )
        .into_response();
    }
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
async fn regenerate_id(session: Session) -> Response {
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
    let path = crate::words::html_escape(request.uri().path());
    (
        StatusCode::NOT_FOUND,
        Html(format!("Cannot {} {path}", request.method())),
    )
        .into_response()
}
