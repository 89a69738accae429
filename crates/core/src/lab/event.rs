//! What the lab answers ([`Event`]): plain data, in three kinds, each applied by one
//! exhaustive match in `LabState`'s reducer. Events say what happened in fields (`sent`, `before`, `after`, `safe`); `text.rs` turns
//! them into words, and tests assert on the fields.

use std::sync::Arc;

use crate::{
    browser::{CookieKey, CookieRow, Exchange, RequestFrom},
    server::{
        CookieProtection, CookieSession, ExpiryPolicy, KeptIn, SameSitePolicy, SecretSource,
        Served, ServerSettings, SessionChange, SessionId, StoreChoice,
    },
};

use super::{AuditRequest, load::LoadReport, sessions::Maker};

/// A cookie in a browser's jar, and the server session it stands for (if it is a valid
/// session cookie of the embedded server).
#[derive(Clone, Debug, PartialEq)]
pub struct JarCookie {
    /// The cookie itself.
    pub cookie: CookieRow,
    /// The embedded server's session this cookie is, if any: the id it names, or the session's
    /// data itself (kept in the cookie).
    pub session: Option<CookieSession>,
    /// Session data anyone holding the cookie can read (signed is not encrypted), as the
    /// audit decodes it — any server's: ours kept in the cookie, Flask's, a JWT's. Decoded
    /// once, when the jar changes, not every frame.
    pub readable: Option<crate::audit::SessionKind>,
}

impl JarCookie {
    /// The embedded server's session id this cookie names, if any.
    pub fn session_id(&self) -> Option<SessionId> {
        self.session.and_then(CookieSession::id)
    }
}

/// A simulated browser's stable id (names can change; ids do not).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BrowserId(pub u32);

/// What the embedded server is, for the header and the settings panel. It carries the secret's
/// fingerprint, never the secret.
#[derive(Clone, Debug, PartialEq)]
pub struct ServerInfo {
    /// Its base URL.
    pub url: String,
    /// The address asked for, when it was taken and a free port was used instead.
    pub fallback_from: Option<String>,
    /// "memory", …
    pub store_kind: crate::server::StoreKind,
    /// The store in full (`memory`, `sqlite:PATH`).
    pub store: StoreChoice,
    /// Whether other processes may write the store too.
    pub shared_store: bool,
    /// The settings in force.
    pub settings: ServerSettings,
    /// Eight hex digits that identify the secret without revealing it.
    pub secret_fingerprint: String,
    /// Where the secret came from.
    pub secret_source: SecretSource,
    /// Retired secrets that still open cookies: fingerprint and until when.
    pub retired: Vec<(String, time::OffsetDateTime)>,
}

/// One request of a visit (a visit that was redirected has several).
#[derive(Clone, Debug)]
pub struct Hop {
    /// What was sent and received.
    pub exchange: Exchange,
    /// What the embedded server recorded of it, when it went there.
    pub served: Option<Arc<Served>>,
    /// Which server instance answered (0 is the first), when it went to one.
    pub instance: Option<usize>,
}

/// A session's views count at one moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Views {
    /// Which session; `None` when the session is kept in the cookie itself (it has no id).
    pub session: Option<SessionId>,
    /// Its `views` counter.
    pub views: u64,
}

/// What a burst did to its browser's session counter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BurstOutcome {
    /// Which browser sent it.
    pub browser: BrowserId,
    /// How many visits were sent at once.
    pub sent: usize,
    /// The browser's session on the embedded server before the burst, if it had one.
    pub before: Option<Views>,
    /// Its session after the burst.
    pub after: Option<Views>,
    /// Whether the embedded server ran one request at a time per session; `None` when the
    /// burst went to another server.
    pub safe: Option<bool>,
}

impl BurstOutcome {
    /// How many of the burst's increments were lost, when one session was counted throughout.
    pub fn lost(&self) -> Option<u64> {
        let (before, after) = (self.before?, self.after?);
        (before.session == after.session).then(|| {
            let gained = after.views.saturating_sub(before.views);
            (self.sent as u64).saturating_sub(gained)
        })
    }
}

/// One setting that changed.
#[derive(Clone, Debug, PartialEq)]
pub enum SettingChange {
    /// The cookie's name.
    CookieName {
        /// Before.
        old: String,
        /// After.
        new: String,
    },
    /// Plain, signed or encrypted.
    Protection {
        /// Before.
        old: CookieProtection,
        /// After.
        new: CookieProtection,
    },
    /// Where the session's data is kept, now (the store, or the cookie itself).
    KeptIn(KeptIn),
    /// HttpOnly, now.
    HttpOnly(bool),
    /// Secure, now.
    Secure(bool),
    /// SameSite, now.
    SameSite(SameSitePolicy),
    /// Path, now.
    Path(String),
    /// Domain, now.
    Domain(Option<String>),
    /// When sessions end, now.
    Expiry(ExpiryPolicy),
    /// Save on every response, now.
    AlwaysSave(bool),
    /// Store untouched new sessions, now.
    SaveUninitialized(bool),
    /// One request at a time per session, now.
    LockPerSession(bool),
    /// A new id at login, now.
    RegenerateOnLogin(bool),
    /// The session deleted at logout, now.
    DestroyOnLogout(bool),
    /// Counted (weak) session ids, now.
    CountedIds(bool),
    /// Which requests get a Secure cookie, now.
    SecureRequests(crate::server::SecureRequests),
    /// Session ids in URLs instead of cookies, now.
    IdInUrl(bool),
    /// The memory store's session limit, now.
    MaxSessions(usize),
    /// Milliseconds each store call waits, now.
    StoreLatency(u64),
}

impl SettingChange {
    /// Every difference between two settings.
    pub fn between(old: &ServerSettings, new: &ServerSettings) -> Vec<Self> {
        let mut changes = Vec::new();
        if old.cookie_name != new.cookie_name {
            changes.push(Self::CookieName {
                old: old.cookie_name.clone(),
                new: new.cookie_name.clone(),
            });
        }
        if old.protection != new.protection {
            changes.push(Self::Protection {
                old: old.protection,
                new: new.protection,
            });
        }
        if old.kept_in != new.kept_in {
            changes.push(Self::KeptIn(new.kept_in));
        }
        if old.http_only != new.http_only {
            changes.push(Self::HttpOnly(new.http_only));
        }
        if old.secure != new.secure {
            changes.push(Self::Secure(new.secure));
        }
        if old.same_site != new.same_site {
            changes.push(Self::SameSite(new.same_site));
        }
        if old.path != new.path {
            changes.push(Self::Path(new.path.clone()));
        }
        if old.domain != new.domain {
            changes.push(Self::Domain(new.domain.clone()));
        }
        if old.expiry != new.expiry {
            changes.push(Self::Expiry(new.expiry));
        }
        if old.regenerate_on_login != new.regenerate_on_login {
            changes.push(Self::RegenerateOnLogin(new.regenerate_on_login));
        }
        if old.destroy_on_logout != new.destroy_on_logout {
            changes.push(Self::DestroyOnLogout(new.destroy_on_logout));
        }
        if old.counted_ids != new.counted_ids {
            changes.push(Self::CountedIds(new.counted_ids));
        }
        if old.id_in_url != new.id_in_url {
            changes.push(Self::IdInUrl(new.id_in_url));
        }
        if old.secure_requests != new.secure_requests {
            changes.push(Self::SecureRequests(new.secure_requests));
        }
        if old.always_save != new.always_save {
            changes.push(Self::AlwaysSave(new.always_save));
        }
        if old.save_uninitialized != new.save_uninitialized {
            changes.push(Self::SaveUninitialized(new.save_uninitialized));
        }
        if old.lock_per_session != new.lock_per_session {
            changes.push(Self::LockPerSession(new.lock_per_session));
        }
        if old.max_sessions != new.max_sessions {
            changes.push(Self::MaxSessions(new.max_sessions));
        }
        if old.store_latency_ms != new.store_latency_ms {
            changes.push(Self::StoreLatency(new.store_latency_ms));
        }
        changes
    }

    /// Whether cookies the server set before this change stop naming their sessions.
    pub fn breaks_cookies(&self) -> bool {
        matches!(
            self,
            Self::CookieName { .. } | Self::Protection { .. } | Self::KeptIn(_)
        )
    }
}

/// A change to a browser's jar made by hand.
#[derive(Clone, Debug, PartialEq)]
pub enum JarEdit {
    /// The jar was emptied.
    Cleared {
        /// How many cookies went.
        count: usize,
    },
    /// One cookie was deleted.
    Deleted(CookieKey),
    /// A cookie's value was changed (tampering).
    Edited {
        /// Which cookie.
        cookie: CookieKey,
        /// Its new value (cut for the log).
        value: String,
    },
    /// A cookie was copied in from another browser's jar (a hijack).
    Copied {
        /// Which cookie.
        cookie: CookieKey,
        /// The browser it came from, by name then.
        from: String,
    },
    /// Cookies were brought in from a file.
    Imported {
        /// How many.
        count: usize,
        /// The file's format ("cookies.txt", "storageState").
        format: String,
    },
}

/// A browser switch that was flipped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BrowserSwitch {
    /// Cookies on or off.
    Cookies(bool),
    /// Where requests come from.
    From(RequestFrom),
    /// Visits spread over the instances, or not.
    Spread(bool),
}

/// Something the lab could not do, and why.
#[derive(Clone, Debug, PartialEq)]
pub enum Problem {
    /// The embedded server is not running.
    ServerNotRunning,
    /// No more browsers fit.
    TooManyBrowsers {
        /// The most there may be.
        max: usize,
    },
    /// A browser could not be made.
    BrowserFailed(Shared<crate::browser::BrowserError>),
    /// The cookie to edit, copy or delete is no longer in the jar.
    CookieGone {
        /// Its name.
        name: String,
    },
    /// A jar edit was refused.
    JarEditFailed(crate::browser::JarError),
    /// A saved browser's history (HAR) could not be read back.
    HistoryUnreadable(crate::transfer::HarError),
    /// The inactivity timeout must be positive.
    TimeoutNotPositive,
    /// The settings are outside what the lab can run (and say how).
    SettingsOutOfBounds(String),
    /// The fixed expiry time is already past.
    ExpiryInPast,
    /// The server could not restart on the chosen store, and keeps the one it has.
    RestartFailed(Shared<crate::server::ServerError>),
    /// An additional instance did not restart.
    InstanceRestartFailed(Shared<crate::server::ServerError>),
    /// An additional instance could not start.
    InstanceFailed {
        /// Its number, counted from 1.
        number: usize,
        /// Why.
        error: Shared<crate::server::ServerError>,
    },
    /// Sessions could not be deleted from the store (what the store said).
    DeleteFailed(String),
}

/// What happened, for [`LabState::apply`](super::LabState::apply): one of three kinds, each
/// matched whole by the state's reducer, so a new event cannot be left unhandled.
#[derive(Clone, Debug)]
#[expect(
    clippy::large_enum_variant,
    reason = "as large as the flat enum it replaced (server events carry the server's settings); \
              events pass one at a time through a channel, so a Box per server event buys nothing"
)]
pub enum Event {
    /// The embedded server, its store and settings, the proxy, the site or the clock.
    Server(ServerEvent),
    /// A browser, its visits and its jar.
    Browser(BrowserEvent),
    /// A load or an audit under way.
    Run(RunEvent),
}

/// What happened to the embedded server, its store and settings, the proxy, the attacker's site or the clock.
#[derive(Clone, Debug)]
pub enum ServerEvent {
    /// The embedded server is listening.
    ServerStarted(ServerInfo),
    /// The embedded server could not start.
    ServerFailed(Arc<crate::server::ServerError>),
    /// New settings were applied in place.
    SettingsApplied {
        /// The server now.
        info: ServerInfo,
        /// What changed.
        changes: Vec<SettingChange>,
        /// Whether cookies set before still name their sessions.
        old_cookies_still_valid: bool,
    },
    /// The secret was replaced by a random one.
    SecretRotated {
        /// The server now.
        info: ServerInfo,
        /// The old secret's fingerprint.
        old: String,
        /// The new secret's fingerprint.
        new: String,
        /// Until when the old secret still opens cookies (`None`: it no longer does).
        old_accepted_until: Option<time::OffsetDateTime>,
    },
    /// The server restarted on a store.
    ServerRestarted {
        /// The server now.
        info: ServerInfo,
        /// Sessions in the store before.
        sessions_before: usize,
        /// Sessions in the store after (kept by a persistent store).
        sessions_after: usize,
    },
    /// The server instances now running: their base URLs, the first first.
    InstancesChanged {
        /// Their URLs.
        urls: Vec<String>,
        /// The store configuration they share.
        store: StoreChoice,
    },
    /// The attacker's page changed (or the accounts were reset): what `other-site.test` serves
    /// now, and every account's e-mail.
    SiteChanged {
        /// The page.
        page: crate::server::AttackerPage,
        /// Each account's user and e-mail address.
        emails: Vec<(String, String)>,
    },
    /// The TLS-terminating proxy in front of the server listens (https to the browsers, plain
    /// http to the server).
    ProxyStarted {
        /// Its address under the app's name.
        url: String,
    },
    /// The lab watches this store now (its format is detected in the background), or, with
    /// `None`, no store any more.
    Watching(Option<String>),
    /// A store address that cannot be watched: why.
    WatchRefused(String),
    /// What the watched store's reader found out (its format, an error, its count).
    WatchStatus(crate::watch::WatchStatus),
    /// Changes to the watched store, as its reader found them.
    WatchedChanges {
        /// The view of the watched store is stale: drop it first.
        reset: bool,
        /// The changes, at most one per session.
        changes: Vec<SessionChange>,
    },
    /// Changes to one instance's store, as the store announced them.
    SessionChanges {
        /// Which instance (0 is the first).
        instance: usize,
        /// The view of that instance's store is stale: drop it first.
        reset: bool,
        /// The changes, at most one per session.
        changes: Vec<SessionChange>,
    },
    /// The session store stopped answering (it is marked down until a listing succeeds).
    StoreDown(Shared<crate::server::StoreCallError>),
    /// The session store answers again.
    StoreBack,
    /// The memory store holds its limit of sessions (new visitors get a 503 page), or no
    /// longer does.
    StoreFull(bool),
    /// The lab's clock moved.
    ClockMoved(ClockMoved),
    /// A client outside the lab (a real browser, curl) was served.
    External(Arc<Served>),
    /// Requests that came too fast to log one by one.
    RequestsSkipped {
        /// How many.
        count: u64,
    },
    /// An instance has answered this many requests in all.
    RequestsServed {
        /// Which instance.
        instance: usize,
        /// How many.
        count: u64,
    },
}

impl From<ServerEvent> for Event {
    fn from(event: ServerEvent) -> Self {
        Self::Server(event)
    }
}

/// What happened to a browser: added, changed, a visit, its jar, or a problem it met.
#[derive(Clone, Debug)]
pub enum BrowserEvent {
    /// A browser was added.
    BrowserAdded {
        /// Its id.
        id: BrowserId,
        /// Its name.
        name: String,
        /// Its colour index.
        colour: usize,
        /// Whether it is private.
        private: bool,
    },
    /// A browser was removed.
    BrowserRemoved(BrowserId),
    /// A browser was renamed.
    BrowserRenamed {
        /// Its id.
        id: BrowserId,
        /// Its new name.
        name: String,
    },
    /// A browser's switches changed.
    BrowserOptions {
        /// Which browser.
        browser: BrowserId,
        /// Cookies on.
        cookies_enabled: bool,
        /// Where requests come from.
        from: RequestFrom,
        /// Visits spread over the server instances.
        spread: bool,
        /// The switch that was flipped.
        flipped: BrowserSwitch,
    },
    /// A browser was closed and reopened.
    BrowserRestarted {
        /// Which browser.
        browser: BrowserId,
        /// Whether it is private (its whole jar went).
        private: bool,
        /// How many cookies were dropped.
        dropped: usize,
    },
    /// A visit was sent.
    VisitStarted {
        /// From which browser.
        browser: BrowserId,
        /// To where.
        url: String,
    },
    /// A visit came back (every hop of it, the page shown last).
    VisitFinished {
        /// From which browser.
        browser: BrowserId,
        /// The requests it took.
        hops: Vec<Hop>,
    },
    /// A visit failed.
    VisitFailed {
        /// From which browser.
        browser: BrowserId,
        /// To where.
        url: String,
        /// The requests it made before it failed (a redirect to a dead server): they happened
        /// and their cookies were stored, so they are shown like any other.
        hops: Vec<Hop>,
        /// Why.
        error: Shared<crate::browser::BrowserError>,
    },
    /// A browser's jar, after a change.
    Cookies {
        /// Whose jar.
        browser: BrowserId,
        /// Every cookie in it.
        cookies: Vec<JarCookie>,
    },
    /// A jar was edited by hand (the jar itself follows as [`BrowserEvent::Cookies`]).
    JarEdited {
        /// Whose jar.
        browser: BrowserId,
        /// What was done.
        edit: JarEdit,
    },
    /// A burst finished.
    BurstFinished(BurstOutcome),
    /// Every browser of a restore (`BrowserCommand::RestoreBrowsers`) is in place, jars and histories
    /// included.
    BrowsersRestored,
    /// A restored browser's history (from a saved lab), oldest first.
    HistoryRestored {
        /// Whose.
        browser: BrowserId,
        /// The exchanges.
        exchanges: Vec<Exchange>,
    },
    /// Something the lab could not do.
    Problem {
        /// About which browser, if one.
        browser: Option<BrowserId>,
        /// What went wrong.
        problem: Problem,
    },
}

impl From<BrowserEvent> for Event {
    fn from(event: BrowserEvent) -> Self {
        Self::Browser(event)
    }
}

/// How a load or an audit is going.
#[derive(Clone, Debug)]
pub enum RunEvent {
    /// An audit has come this far.
    AuditProgress(crate::audit::Progress),
    /// An audit finished (or could not run).
    AuditFinished {
        /// What was asked.
        request: AuditRequest,
        /// The scorecard, or why there is none.
        outcome: Result<Arc<crate::audit::AuditReport>, AuditFailed>,
    },
    /// A load began.
    LoadStarted {
        /// Visits in all.
        visits: usize,
        /// New browsers sharing them.
        browsers: usize,
        /// Visits in flight at once.
        concurrency: usize,
    },
    /// A load is under way.
    LoadProgress {
        /// Visits answered so far.
        done: usize,
        /// Visits in all.
        total: usize,
    },
    /// The sessions a load's browsers hold, or an audit's probes were given (they made them).
    MadeSessions {
        /// The load or the audit.
        by: Maker,
        /// The sessions.
        sessions: Vec<SessionId>,
    },
    /// A load finished (or could not run).
    LoadFinished(Result<LoadReport, LoadFailed>),
}

impl From<RunEvent> for Event {
    fn from(event: RunEvent) -> Self {
        Self::Run(event)
    }
}

/// The lab's clock moved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClockMoved {
    /// How far it was moved (`None`: back to real time).
    pub by: Option<time::Duration>,
    /// How far ahead of real time it runs now.
    pub ahead: time::Duration,
    /// How many cookies the browsers dropped because they expired.
    pub cookies_dropped: usize,
}

/// Why a load from the window could not run.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum LoadFailed {
    /// No embedded server to send it to.
    #[error("the embedded server is not running")]
    NoServer,
    /// Its browsers could not be made, or the server could not be reached.
    #[error(transparent)]
    Browser(Shared<crate::browser::BrowserError>),
}

/// Why an audit from the Audit tab could not run.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum AuditFailed {
    /// The login or logout route typed in the tab.
    #[error(transparent)]
    Route(#[from] crate::audit::BadRoute),
    /// The audit itself stopped (the target unreachable, no session cookie).
    #[error(transparent)]
    Audit(Shared<crate::audit::AuditError>),
}

/// The most bytes of any one text the log keeps (a URL, a cookie value, an error's words):
/// here, beside the events whose texts are cut to it, so the log uses the events and not the
/// other way round.
pub const LOG_TEXT_MAX: usize = 256;

/// An error as the events, the state and the log carry it: shared, since errors are rarely
/// `Clone`, with its words (its `Display`, cut to the log's bound) written once, here, so a
/// panel or a log line that shows it every frame formats nothing; two are equal when they say
/// the same.
#[derive(Debug)]
pub struct Shared<E> {
    error: Arc<E>,
    words: Arc<str>,
}

impl<E: std::fmt::Display> Shared<E> {
    /// Shares `error`, its words written now.
    pub fn new(error: E) -> Self {
        let words = crate::server::cut_text(&error.to_string(), LOG_TEXT_MAX);
        Self {
            error: Arc::new(error),
            words: words.into(),
        }
    }
}

impl<E> Shared<E> {
    /// What it says, as the log and the panels show it.
    pub fn words(&self) -> &str {
        &self.words
    }
}

impl<E> Clone for Shared<E> {
    fn clone(&self) -> Self {
        Self {
            error: self.error.clone(),
            words: self.words.clone(),
        }
    }
}

impl<E> std::ops::Deref for Shared<E> {
    type Target = E;

    fn deref(&self) -> &E {
        &self.error
    }
}

impl<E> std::fmt::Display for Shared<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.words)
    }
}

impl<E: std::error::Error> std::error::Error for Shared<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.error.source()
    }
}

impl<E> PartialEq for Shared<E> {
    fn eq(&self, other: &Self) -> bool {
        self.words == other.words
    }
}
