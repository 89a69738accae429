//! The seed's scenario, headless: browser A visits three times, browser B once, and the
//! report shows the transcript and which session each browser ended with.

use std::{fmt, time::Duration};

use super::RequestCommand;
use super::{BrowserId, Lab, LabState, LogSource, text::short};

/// How long one visit of the demo may take.
const VISIT_TIMEOUT: Duration = Duration::from_secs(20);

/// The visits the demo makes, in order: (browser name, how many visits).
pub const SCENARIO: [(&str, usize); 2] = [("A", 3), ("B", 1)];

/// Why the demo could not finish.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The lab has no browser of that name.
    #[error("the lab has no browser {0}")]
    MissingBrowser(String),
    /// A visit did not come back in time.
    #[error("browser {browser}'s visit to {url} did not finish within {secs} s")]
    Timeout {
        /// Which browser.
        browser: String,
        /// Where to.
        url: String,
        /// The limit.
        secs: u64,
    },
    /// A visit failed.
    #[error("browser {browser}'s visit failed: {error}")]
    Visit {
        /// Which browser.
        browser: String,
        /// Why.
        error: super::Shared<crate::browser::BrowserError>,
    },
}

/// One browser's outcome.
#[derive(Clone, Debug, PartialEq)]
pub struct DemoRow {
    /// The browser's name.
    pub browser: String,
    /// The session id its cookie carries (the embedded server's id, or the raw cookie value
    /// for another server).
    pub session: Option<String>,
    /// The views count of its session.
    pub views: Option<u64>,
}

/// What the demo prints.
#[derive(Clone, Debug)]
pub struct DemoReport {
    /// One line per exchange.
    pub transcript: Vec<String>,
    /// One row per browser.
    pub rows: Vec<DemoRow>,
}

/// Runs the scenario against `url` with the lab's browsers A and B.
pub fn run(lab: &Lab, state: &mut LabState, url: &str) -> Result<DemoReport, DemoError> {
    lab.wait_until(state, VISIT_TIMEOUT, |s| {
        SCENARIO
            .iter()
            .all(|(name, _)| s.browser_named(name).is_some())
    });
    let first_line = state.logged;
    for (name, visits) in SCENARIO {
        let id = browser_id(state, name)?;
        for _ in 0..visits {
            visit_and_wait(lab, state, id, name, url)?;
        }
    }
    // The store listing may trail the last response by a moment.
    lab.wait_until(state, Duration::from_millis(500), state_is_settled);
    let transcript = state
        .log_since(first_line)
        .filter(|line| matches!(line.source, LogSource::Browser { .. }))
        .map(|line| {
            let who = match &line.source {
                LogSource::Browser { name, .. } => name.as_str(),
                _ => "",
            };
            format!("{who}  {}", line.text())
        })
        .collect();
    let rows = SCENARIO
        .iter()
        .filter_map(|(name, _)| state.browser_named(name))
        .map(|browser| {
            let session = browser
                .session()
                .map(|id| id.to_string())
                .or_else(|| browser.cookies.first().map(|c| c.cookie.value.clone()));
            let stored_views = browser
                .session()
                .and_then(|id| state.session_data(id))
                .and_then(|data| data.views());
            let views = stored_views.or_else(|| {
                browser
                    .last
                    .as_ref()
                    .and_then(|exchange| crate::browser::views_shown(&exchange.body))
            });
            DemoRow {
                browser: browser.name.clone(),
                session,
                views,
            }
        })
        .collect();
    Ok(DemoReport { transcript, rows })
}

fn browser_id(state: &LabState, name: &str) -> Result<BrowserId, DemoError> {
    state
        .browser_named(name)
        .map(|b| b.id)
        .ok_or_else(|| DemoError::MissingBrowser(name.to_owned()))
}

fn visit_and_wait(
    lab: &Lab,
    state: &mut LabState,
    id: BrowserId,
    name: &str,
    url: &str,
) -> Result<(), DemoError> {
    let before = state.browser(id).and_then(|b| b.last.clone());
    lab.send(RequestCommand::Visit {
        browser: id,
        url: url.to_owned(),
    });
    let finished = lab.wait_until(state, VISIT_TIMEOUT, |s| {
        s.browser(id)
            .is_some_and(|b| b.in_flight == 0 && (b.last != before || b.last_error.is_some()))
    });
    if !finished {
        return Err(DemoError::Timeout {
            browser: name.to_owned(),
            url: url.to_owned(),
            secs: VISIT_TIMEOUT.as_secs(),
        });
    }
    match state.browser(id).and_then(|b| b.last_error.clone()) {
        Some(error) => Err(DemoError::Visit {
            browser: name.to_owned(),
            error,
        }),
        None => Ok(()),
    }
}

/// Every browser's session cookie is listed in the store (or the store is not ours).
fn state_is_settled(state: &LabState) -> bool {
    state.browsers.iter().all(|b| {
        b.cookies
            .iter()
            .filter_map(|c| c.session_id())
            .all(|id| state.sessions.contains(id))
    })
}

impl fmt::Display for DemoReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for line in &self.transcript {
            writeln!(f, "{line}")?;
        }
        writeln!(f)?;
        writeln!(f, "{:<8} {:<24} {:>5}", "browser", "session id", "views")?;
        for row in &self.rows {
            let session = row.session.as_deref().map_or_else(
                || "-".to_owned(),
                |s| {
                    if s.len() > 24 { short(s) } else { s.to_owned() }
                },
            );
            let views = row.views.map_or_else(|| "-".to_owned(), |v| v.to_string());
            writeln!(f, "{:<8} {:<24} {:>5}", row.browser, session, views)?;
        }
        Ok(())
    }
}
