//! What the lab's users ask for ([`Command`]): plain data, in three kinds, each carried out by
//! one exhaustive match in `Lab::send`.

use crate::{
    browser::{CookieKey, CookieRow, RequestFrom},
    server::{ServerSettings, StoreChoice},
};

use super::BrowserId;

/// What the lab's users ask for: one of three kinds, each carried out by one exhaustive match
/// (`Lab::send`), so a new command cannot be left unhandled. `Lab::send` takes any of the
/// three directly (`lab.send(RequestCommand::Visit { .. })`).
#[derive(Clone, Debug)]
#[must_use]
pub enum Command {
    /// A browser or its jar, changed at once.
    Browser(BrowserCommand),
    /// Requests to send, in the background.
    Request(RequestCommand),
    /// The embedded server, its site or the clock.
    Server(ServerCommand),
}

/// Something to do to a browser or its jar, at once.
#[derive(Clone, Debug)]
#[must_use]
pub enum BrowserCommand {
    /// Add a browser with the next free name and colour; a private one forgets everything
    /// when it is closed (restarted).
    AddBrowser {
        /// A private (incognito) browser.
        private: bool,
    },
    /// Remove a browser and drop its jar.
    RemoveBrowser(BrowserId),
    /// Give a browser another name.
    RenameBrowser(BrowserId, String),
    /// Empty a browser's jar.
    ClearCookies(BrowserId),
    /// Delete one cookie from a jar.
    DeleteCookie {
        /// Whose jar.
        browser: BrowserId,
        /// Which cookie.
        cookie: CookieKey,
    },
    /// Change a cookie's value (tampering).
    EditCookie {
        /// Whose jar.
        browser: BrowserId,
        /// Which cookie.
        cookie: CookieKey,
        /// The new value.
        value: String,
    },
    /// Put cookies read from a file into a browser's jar, all or none.
    ImportCookies {
        /// Whose jar.
        browser: BrowserId,
        /// The cookies.
        cookies: Vec<CookieRow>,
        /// The file's format, for the log.
        format: String,
    },
    /// Replace every browser with these (a saved lab, or the seed's two browsers).
    RestoreBrowsers(Vec<super::saved::SavedBrowser>),
    /// Copy a cookie into another browser's jar (hijacking a session).
    CopyCookie {
        /// Whose jar it comes from.
        from: BrowserId,
        /// Whose jar it goes to.
        to: BrowserId,
        /// Which cookie.
        cookie: CookieKey,
    },
    /// Turn a browser's cookies on or off.
    SetCookiesEnabled {
        /// Which browser.
        browser: BrowserId,
        /// On or off.
        enabled: bool,
    },
    /// Where a browser's requests come from: the address bar, or a link or an image on some
    /// site's page.
    SetRequestFrom {
        /// Which browser.
        browser: BrowserId,
        /// Where from.
        from: RequestFrom,
    },
    /// Close and reopen a browser: session cookies go (everything, if private).
    RestartBrowser(BrowserId),
    /// Spread a browser's visits to the embedded server over the instances, round-robin.
    SetSpread {
        /// Which browser.
        browser: BrowserId,
        /// Spread or not.
        spread: bool,
    },
}

impl From<BrowserCommand> for Command {
    fn from(command: BrowserCommand) -> Self {
        Self::Browser(command)
    }
}

/// Requests to send: each runs in the background and answers with events.
#[derive(Clone, Debug)]
#[must_use]
pub enum RequestCommand {
    /// `GET url` from a browser, following redirects.
    Visit {
        /// Which browser.
        browser: BrowserId,
        /// The address typed.
        url: String,
    },
    /// `GET url` from a browser, as if from `from` (a link or an image on some site's page),
    /// whatever the browser's own choice is.
    VisitFrom {
        /// Which browser.
        browser: BrowserId,
        /// The address.
        url: String,
        /// Where the request comes from.
        from: RequestFrom,
    },
    /// Submit a form from a browser: `POST url` with `form` (`application/x-www-form-urlencoded`),
    /// from a page of the same site.
    Submit {
        /// Which browser.
        browser: BrowserId,
        /// Where the form goes.
        url: String,
        /// The form, encoded (`user=alice&password=wonderland`).
        form: String,
    },
    /// Lure a browser to the attacker's page (a link in a mail): it opens the page on `host`
    /// (`other-site.test` or `sandbox.lab.test`), loads its images, submits a form its script
    /// submits and clicks its first link.
    Lure {
        /// Which browser.
        browser: BrowserId,
        /// One of the hosts the attacker's page is served on.
        host: String,
    },
    /// `count` parallel visits from one browser, then a summary of what they did to its
    /// session's counter.
    Burst {
        /// Which browser.
        browser: BrowserId,
        /// The address.
        url: String,
        /// How many visits at once.
        count: usize,
    },
    /// Audit a server's sessions (the embedded one or any URL) with fresh probes.
    RunAudit(AuditRequest),
    /// Send `visits` visits from `browsers` new browsers to the embedded server, timed.
    Load {
        /// How many visits.
        visits: usize,
        /// How many new browsers share them.
        browsers: usize,
    },
}

impl From<RequestCommand> for Command {
    fn from(command: RequestCommand) -> Self {
        Self::Request(command)
    }
}

/// Something to do to the embedded server, its site or the lab's clock.
#[derive(Clone, Debug)]
#[must_use]
pub enum ServerCommand {
    /// Serve this as the attacker's page on `other-site.test` and `sandbox.lab.test`.
    SetAttackerPage(crate::server::AttackerPage),
    /// The accounts and the attacker's page as a new lab has them.
    ResetSite,
    /// Deletes these sessions from the store (the Audit's and Load's, when the lab is reset).
    DeleteSessions(Vec<crate::server::SessionId>),
    /// Apply new cookie settings to the embedded server (its secret is kept).
    ApplySettings(ServerSettings),
    /// Give the embedded server a new random secret. With a grace, the old one still opens
    /// cookies for that long (and each is sealed anew with the new one as it comes back);
    /// without, every old cookie is rejected at once.
    RotateSecret {
        /// Seconds the old secret is still accepted; `None` for none.
        grace_secs: Option<u64>,
    },
    /// Restart the embedded server, on the same store or another: a memory store comes back
    /// empty, a SQLite store keeps its sessions.
    RestartServer(Option<StoreChoice>),
    /// Run this many server instances (1 to 4) with the same store configuration.
    SetInstances(usize),
    /// Move the lab's clock (the server's expiry and the browsers' jars follow at once).
    MoveClock(ClockMove),
    /// Watch another application's session store (`redis://…`, `sqlite:PATH`,
    /// `postgres://…`, `dir:PATH`), read-only, beside the embedded server's; `None` stops
    /// watching.
    WatchStore(Option<String>),
}

impl From<ServerCommand> for Command {
    fn from(command: ServerCommand) -> Self {
        Self::Server(command)
    }
}

/// How to move the lab's clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClockMove {
    /// Ahead by this much (as if that much time passed at once).
    Ahead(time::Duration),
    /// Back to real time.
    ToRealTime,
}

/// An audit the window asks for: the target and the routes it may use, as typed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditRequest {
    /// The target.
    pub url: String,
    /// A route that logs in (`{user}` for the user), if any.
    pub login: String,
    /// A route that logs out, if any.
    pub logout: String,
    /// A route that counts, if not the target itself.
    pub counter: String,
    /// How many fresh ids to test.
    pub samples: usize,
}
