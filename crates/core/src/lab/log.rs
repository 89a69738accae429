//! What the event log says, as data: who a line is about, how to read it, and what happened
//! (`text.rs` writes it in words; `state.rs` keeps the lines).

use std::sync::Arc;

use crate::{
    browser::{BlockedReason, Exchange, NotSentReason, RequestFrom},
    server::{CookieVerdict, Served, StoreChoice, cut_text},
};

use session_lab_base::bounded::Weigh;
use time::OffsetDateTime;

use super::{
    event::{
        BrowserId, BrowserSwitch, BurstOutcome, ClockMoved, JarEdit, Problem, ServerInfo,
        SettingChange,
    },
    load::LoadReport,
};

pub use super::event::LOG_TEXT_MAX;

/// Who a log line is about.
#[derive(Clone, Debug, PartialEq)]
pub enum LogSource {
    /// A simulated browser.
    Browser {
        /// Its id.
        id: BrowserId,
        /// Its name when the line was written.
        name: String,
        /// Its colour index.
        colour: usize,
    },
    /// A client that is not one of the lab's browsers (a real browser, curl).
    External,
    /// The lab or the server itself.
    Lab,
}

/// How a log line should be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogLevel {
    /// Something happened.
    Info,
    /// Something worth a look (a rejected cookie, a port fallback, a lost update).
    Warning,
    /// Something failed.
    Error,
}

/// One exchange of a simulated browser, as the log tells it: bounded, whatever the exchange.
#[derive(Clone, Debug, PartialEq)]
pub struct ExchangeLine {
    /// Request method.
    pub method: String,
    /// Request path and query (cut).
    pub path: String,
    /// The `Cookie` header sent, if any (cut).
    pub cookie_header: Option<String>,
    /// Response status.
    pub status: u16,
    /// The start of the response body, on one line.
    pub body: String,
    /// Whether the response set cookies.
    pub set_cookie: bool,
    /// Where the request came from.
    pub from: RequestFrom,
    /// Cookies the browser kept back, and why.
    pub not_sent: Vec<(String, NotSentReason)>,
    /// `Set-Cookie`s the browser refused, and why.
    pub blocked: Vec<(String, BlockedReason)>,
    /// What the embedded server recorded of it, if it went there.
    pub served: Option<Arc<Served>>,
}

impl ExchangeLine {
    /// The log's line for an exchange.
    pub fn of(exchange: &Exchange, served: Option<Arc<Served>>) -> Self {
        const BODY_PREVIEW: usize = 60;
        let one_line = cut_text(&exchange.body, 4 * BODY_PREVIEW)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        Self {
            method: exchange.method.clone(),
            path: cut_text(&exchange.path(), LOG_TEXT_MAX),
            cookie_header: exchange
                .cookie_header
                .as_deref()
                .map(|h| cut_text(h, LOG_TEXT_MAX)),
            status: exchange.status,
            body: cut_text(&one_line, BODY_PREVIEW),
            set_cookie: exchange.set_cookies().next().is_some(),
            from: exchange.from,
            not_sent: exchange
                .not_sent
                .iter()
                .take(8)
                .map(|n| (cut_text(&n.key.name, 64), n.reason.clone()))
                .collect(),
            blocked: exchange
                .blocked
                .iter()
                .take(8)
                .map(|b| (cut_text(&b.name, 64), b.reason.clone()))
                .collect(),
            served,
        }
    }
}

/// What a log line says, as data; `text.rs` writes it in words.
#[derive(Clone, Debug, PartialEq)]
pub enum Logged {
    /// A simulated browser's exchange.
    Exchange(Box<ExchangeLine>),
    /// A request from a client outside the lab.
    External(Arc<Served>),
    /// Requests that came too fast to log one by one.
    Skipped {
        /// How many.
        count: u64,
    },
    /// The server started.
    ServerStarted(Box<ServerInfo>),
    /// The server could not start.
    ServerFailed(Arc<crate::server::ServerError>),
    /// Settings were applied in place.
    SettingsApplied {
        /// What changed.
        changes: Vec<SettingChange>,
        /// Whether old cookies still name their sessions.
        old_cookies_still_valid: bool,
    },
    /// The secret was rotated.
    SecretRotated {
        /// The old fingerprint.
        old: String,
        /// The new fingerprint.
        new: String,
        /// Until when the old one still opens cookies, if at all.
        old_accepted_until: Option<OffsetDateTime>,
    },
    /// The server restarted on a store.
    ServerRestarted {
        /// Which store.
        store: StoreChoice,
        /// Sessions before.
        sessions_before: usize,
        /// Sessions after.
        sessions_after: usize,
    },
    /// A scenario started on a fresh memory store (the restart it asked for).
    ScenarioStore {
        /// Sessions in the store before.
        sessions_before: usize,
    },
    /// The set of instances changed.
    Instances {
        /// Their URLs.
        urls: Vec<String>,
        /// Their store configuration.
        store: StoreChoice,
    },
    /// The store stopped answering.
    StoreDown(super::Shared<crate::server::StoreCallError>),
    /// The store answers again.
    StoreBack,
    /// The memory store became full, or has room again.
    StoreFull(bool),
    /// The lab's clock moved.
    Clock(ClockMoved),
    /// A burst's outcome.
    Burst(BurstOutcome),
    /// A jar edited by hand.
    Jar(JarEdit),
    /// A browser switch flipped.
    Switch(BrowserSwitch),
    /// A browser closed and reopened.
    BrowserRestarted {
        /// Whether it is private.
        private: bool,
        /// Cookies dropped.
        dropped: usize,
    },
    /// The TLS-terminating proxy listens here.
    ProxyStarted(String),
    /// The attacker's page on other-site.test changed, or the accounts were reset.
    SiteChanged {
        /// The page's size in bytes.
        page_bytes: usize,
        /// The `Set-Cookie` it answers with (empty: none).
        set_cookie: String,
    },
    /// A visit failed.
    VisitFailed {
        /// Where to.
        url: String,
        /// Why.
        error: super::Shared<crate::browser::BrowserError>,
    },
    /// A load began.
    LoadStarted {
        /// Visits.
        visits: usize,
        /// Browsers.
        browsers: usize,
        /// At once.
        concurrency: usize,
    },
    /// A load finished.
    LoadFinished(Result<LoadReport, super::event::LoadFailed>),
    /// An audit finished: the target, and its findings counted (or why it could not run).
    Audit {
        /// The target.
        target: String,
        /// "0 high, 1 medium, 2 low, 1 info", or why it could not run.
        outcome: Result<String, super::event::AuditFailed>,
    },
    /// Something the lab could not do.
    Problem(Problem),
    /// The watched store: watching began or ended, its format was found, or it failed.
    Watch {
        /// What happened, in a sentence.
        text: String,
        /// Whether it is a problem (the store cannot be read).
        problem: bool,
    },
}

impl Logged {
    /// How to read it.
    pub fn level(&self) -> LogLevel {
        match self {
            Self::Exchange(line) => match (&line.served, line.status) {
                (_, 500..) => LogLevel::Error,
                (Some(served), _) if matches!(served.cookie, CookieVerdict::Rejected { .. }) => {
                    LogLevel::Warning
                }
                _ => LogLevel::Info,
            },
            Self::External(served) if served.status >= 500 => LogLevel::Error,
            Self::ServerStarted(info) if info.fallback_from.is_some() => LogLevel::Warning,
            Self::StoreFull(true) => LogLevel::Warning,
            Self::ServerFailed(_)
            | Self::StoreDown(_)
            | Self::VisitFailed { .. }
            | Self::LoadFinished(Err(_))
            | Self::Audit {
                outcome: Err(_), ..
            }
            | Self::Problem(_)
            | Self::Watch { problem: true, .. } => LogLevel::Error,
            Self::SettingsApplied { .. }
            | Self::SecretRotated { .. }
            | Self::ServerRestarted { .. }
            | Self::Jar(JarEdit::Copied { .. }) => LogLevel::Warning,
            Self::Burst(outcome) if outcome.lost().unwrap_or(0) > 0 => LogLevel::Warning,
            _ => LogLevel::Info,
        }
    }

    /// Roughly how many bytes it holds beside its own size (for the log's byte budget).
    pub(super) fn heap_bytes(&self) -> usize {
        match self {
            Self::Exchange(line) => {
                std::mem::size_of::<ExchangeLine>()
                    + line.path.len()
                    + line.body.len()
                    + line.cookie_header.as_ref().map_or(0, String::len)
                    + (line.not_sent.len() + line.blocked.len()) * 96
                    + line.served.as_ref().map_or(0, |s| s.weight())
            }
            Self::External(served) => served.weight(),
            Self::ServerStarted(info) => std::mem::size_of::<ServerInfo>() + info.url.len(),
            Self::ServerFailed(_) => 256,
            Self::StoreDown(error) => error.words().len(),
            Self::SettingsApplied { changes, .. } => changes.len() * 64,
            Self::Instances { urls, .. } => urls.iter().map(String::len).sum(),
            Self::Jar(JarEdit::Edited { value, .. }) => value.len() + 64,
            Self::VisitFailed { url, error } => url.len() + error.words().len(),
            Self::LoadFinished(Err(_)) => 256,
            Self::Audit { target, outcome } => {
                target.len() + outcome.as_ref().map_or(256, String::len)
            }
            Self::Watch { text, .. } => text.len(),
            _ => 0,
        }
    }
}
