//! Judging a scenario from what the lab saw: every event the lab applies passes the judge
//! (`LabState::apply`), which notes the shortcuts the scenario forbids, the sessions its
//! browsers held and the counts their pages showed, and after each event checks the
//! scenario's conditions against the state. Solved is latched the moment every condition
//! holds; a forbidden shortcut spoils the run until it is reset.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::Arc,
};

use super::{Condition, Scenario, Shortcut};
use crate::{
    lab::{BrowserEvent, Event, JarEdit, LabState, Referee, ServerEvent},
    server::{DeleteReason, SessionChange, SessionId},
};

/// Where a scenario run stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Not solved yet: how many of the conditions hold now.
    Open {
        /// Conditions that hold.
        met: usize,
        /// All conditions.
        of: usize,
    },
    /// Every condition held at once.
    Solved,
    /// A forbidden shortcut was taken: why it does not count.
    Spoiled(String),
}

/// What a browser's counter pages showed (`RolledBack`).
#[derive(Clone, Copy, Debug, Default)]
struct Counted {
    /// The highest count since the browser's last fresh session (a count of 1).
    top: u64,
    /// The latest count.
    latest: u64,
}

/// One scenario run's judge.
#[derive(Clone, Debug)]
pub struct Judge {
    scenario: Arc<Scenario>,
    /// The run is on the fixed server (the attack should fail).
    fixed: bool,
    /// Every session each browser (by name) has held since the run began.
    held: BTreeMap<String, BTreeSet<SessionId>>,
    /// The views last seen of each session a browser held.
    views: BTreeMap<SessionId, u64>,
    /// Sessions the store's expiry removed, with their last views.
    expired: Vec<(SessionId, u64)>,
    /// `Forged` conditions (by index) that happened.
    forged: BTreeSet<usize>,
    /// Whether the secret was rotated during the run.
    rotated: bool,
    /// Browsers (by name) that loaded a page since the last rotation.
    after_rotation: BTreeSet<String>,
    /// The counts each browser's counter pages showed: the highest since its last fresh
    /// session, and the latest.
    counts: BTreeMap<String, Counted>,
    /// Which conditions hold now.
    met: Vec<bool>,
    verdict: Verdict,
    /// When the run began (after the setup): a page loaded before it is the setup's, not the
    /// student's.
    started: time::OffsetDateTime,
}

impl Referee for Judge {
    fn before(&mut self, event: &Event, state: &LabState) {
        Judge::before(self, event, state);
    }

    fn after(&mut self, state: &LabState) {
        Judge::after(self, state);
    }

    fn solved(&self) -> Option<&str> {
        (self.verdict == Verdict::Solved && !self.fixed).then_some(self.scenario.id.as_str())
    }

    fn clone_boxed(&self) -> Box<dyn Referee> {
        Box::new(self.clone())
    }
}

impl Judge {
    /// The judge of the scenario under way in the lab `state` shows, if one is.
    pub fn of(state: &LabState) -> Option<&Judge> {
        let referee: &dyn std::any::Any = state.judge.as_deref()?;
        referee.downcast_ref()
    }

    /// A judge for a run of `scenario` (on its fixed server, if `fixed`) that starts now, in
    /// the lab `state` shows.
    pub fn new(scenario: Arc<Scenario>, fixed: bool, state: &LabState) -> Self {
        let of = scenario.solved.len();
        let mut judge = Self {
            scenario,
            fixed,
            held: BTreeMap::new(),
            views: BTreeMap::new(),
            expired: Vec::new(),
            forged: BTreeSet::new(),
            rotated: false,
            after_rotation: BTreeSet::new(),
            counts: BTreeMap::new(),
            met: vec![false; of],
            verdict: Verdict::Open { met: 0, of },
            started: state.now(),
        };
        judge.after(state);
        judge
    }

    /// The scenario being judged.
    pub fn scenario(&self) -> &Arc<Scenario> {
        &self.scenario
    }

    /// Whether the run is on the fixed server.
    pub fn fixed(&self) -> bool {
        self.fixed
    }

    /// Where the run stands.
    pub fn verdict(&self) -> &Verdict {
        &self.verdict
    }

    /// Each condition, in words, and whether it holds now.
    pub fn conditions(&self) -> impl Iterator<Item = (String, bool)> + '_ {
        self.scenario
            .solved
            .iter()
            .zip(&self.met)
            .map(|(condition, met)| (condition_text(condition), *met))
    }

    /// Sees `event` before the state applies it: a forbidden shortcut, a session the store
    /// expired (while its row, with its views, is still in the state).
    pub fn before(&mut self, event: &Event, state: &LabState) {
        let shortcut = match event {
            Event::Browser(BrowserEvent::JarEdited {
                browser,
                edit: JarEdit::Copied { .. },
            }) => {
                let into = state
                    .browser(*browser)
                    .map(|b| Shortcut::CopyCookieTo(b.name.clone()));
                if into
                    .as_ref()
                    .is_some_and(|into| self.scenario.forbidden.contains(into))
                {
                    into
                } else {
                    Some(Shortcut::CopyCookie)
                }
            }
            Event::Browser(BrowserEvent::JarEdited {
                edit: JarEdit::Imported { .. },
                ..
            }) => Some(Shortcut::ImportCookies),
            Event::Server(ServerEvent::SettingsApplied { .. }) => Some(Shortcut::ChangeSettings),
            Event::Server(ServerEvent::SecretRotated { .. }) => {
                self.rotated = true;
                self.after_rotation.clear();
                None
            }
            Event::Browser(BrowserEvent::VisitFinished { browser, hops }) => {
                let name = state.browser(*browser).map(|b| b.name.clone());
                name.and_then(|name| self.saw_visit(name, hops))
            }
            Event::Server(ServerEvent::SessionChanges { changes, .. }) => {
                for change in changes {
                    if let SessionChange::Removed {
                        id,
                        reason: DeleteReason::Expired,
                    } = change
                        && self.views.contains_key(id)
                    {
                        let views = state
                            .session_data(*id)
                            .and_then(|data| data.views())
                            .or_else(|| self.views.get(id).copied())
                            .unwrap_or(0);
                        self.expired.push((*id, views));
                    }
                }
                None
            }
            _ => None,
        };
        if let Some(shortcut) = shortcut
            && self.scenario.forbidden.contains(&shortcut)
            && self.verdict != Verdict::Solved
        {
            self.verdict = Verdict::Spoiled(shortcut.text());
        }
    }

    /// Notes what a finished visit of browser `name` did: forged requests, pages after a
    /// rotation; returns the forbidden login it was, if it was one.
    fn saw_visit(&mut self, name: String, hops: &[crate::lab::Hop]) -> Option<Shortcut> {
        let mut shortcut = None;
        for hop in hops {
            let exchange = &hop.exchange;
            let Ok(url) = url::Url::parse(&exchange.url) else {
                continue;
            };
            for (i, condition) in self.scenario.solved.iter().enumerate() {
                if let Condition::Forged {
                    browser,
                    path,
                    says,
                } = condition
                    && *browser == name
                    && url.path() == path
                    && exchange.from.page().is_some()
                    && exchange.from.is_cross_site(&url)
                    && exchange.status < 400
                    && exchange.body.contains(says.as_str())
                {
                    self.forged.insert(i);
                }
            }
            if url.path() == "/login" && exchange.status < 400 {
                let fields = url
                    .query_pairs()
                    .chain(url::form_urlencoded::parse(
                        exchange.request_body.as_deref().unwrap_or("").as_bytes(),
                    ))
                    .filter(|(key, _)| key == "user")
                    .map(|(_, user)| user.into_owned())
                    .collect::<Vec<_>>();
                shortcut = self
                    .scenario
                    .forbidden
                    .iter()
                    .find(|s| {
                        matches!(s, Shortcut::LogInAs { user, owner }
                            if *owner != name && fields.contains(user))
                    })
                    .cloned()
                    .or(shortcut);
            }
        }
        // The counter's page (the seed's `/`): a count of 1 is a fresh session, and starts over.
        if let Some(page) = hops.last().map(|hop| &hop.exchange)
            && page.status == 200
            && url::Url::parse(&page.url).is_ok_and(|url| url.path() == "/")
            && let Some(views) = crate::browser::views_shown(&page.body)
        {
            let counted = self.counts.entry(name.clone()).or_default();
            counted.top = if views <= 1 {
                views
            } else {
                counted.top.max(views)
            };
            counted.latest = views;
        }
        if self.rotated && !hops.is_empty() {
            self.after_rotation.insert(name);
        }
        shortcut
    }

    /// Looks at the state after an event: who holds which session now, and whether every
    /// condition holds (then the run is solved, for good).
    pub fn after(&mut self, state: &LabState) {
        for browser in &state.browsers {
            if !self.scenario.browsers.contains(&browser.name) {
                continue;
            }
            if let Some(id) = browser.session() {
                self.held
                    .entry(browser.name.clone())
                    .or_default()
                    .insert(id);
                let views = state.session_data(id).and_then(|data| data.views());
                if let Some(views) = views {
                    self.views.insert(id, views);
                } else {
                    self.views.entry(id).or_insert(0);
                }
            }
        }
        for (i, condition) in self.scenario.solved.iter().enumerate() {
            self.met[i] = self.holds(condition, state);
        }
        if matches!(self.verdict, Verdict::Open { .. }) {
            let met = self.met.iter().filter(|m| **m).count();
            self.verdict = if met == self.met.len() {
                Verdict::Solved
            } else {
                Verdict::Open {
                    met,
                    of: self.met.len(),
                }
            };
        }
    }

    fn holds(&self, condition: &Condition, state: &LabState) -> bool {
        let session_of = |name: &str| {
            state
                .browser_named(name)?
                .session()
                .filter(|id| state.session_data(*id).is_some())
        };
        match condition {
            Condition::Page { browser, says } => state
                .browser_named(browser)
                .and_then(|b| b.last.as_ref().filter(|_| b.last_error.is_none()))
                .is_some_and(|page| page.body.contains(says.as_str())),
            Condition::SameSession { browsers } => {
                let ids: Vec<Option<SessionId>> = browsers.iter().map(|b| session_of(b)).collect();
                ids.first()
                    .copied()
                    .flatten()
                    .is_some_and(|first| ids.iter().all(|id| *id == Some(first)))
            }
            Condition::DifferentSessions { browsers } => {
                let ids: Option<BTreeSet<SessionId>> =
                    browsers.iter().map(|b| session_of(b)).collect();
                ids.is_some_and(|ids| ids.len() == browsers.len())
            }
            Condition::LostUpdates { browser, at_least } => state
                .browser_named(browser)
                .and_then(|b| b.last_burst.as_ref())
                .and_then(|burst| burst.lost())
                .is_some_and(|lost| lost >= *at_least),
            Condition::SentInClear { browser } => {
                let Some(name) = state.server.as_ref().map(|s| &s.settings.cookie_name) else {
                    return false;
                };
                state
                    .browser_named(browser)
                    .and_then(|b| b.last.as_ref())
                    .is_some_and(|page| {
                        url::Url::parse(&page.url)
                            .is_ok_and(|url| !crate::browser::is_secure_context(&url))
                            && page.cookie_header.as_deref().is_some_and(|header| {
                                header
                                    .split(';')
                                    .any(|pair| pair.trim().split('=').next() == Some(name))
                            })
                    })
            }
            Condition::Later { browser, than } => state
                .exchanges
                .iter()
                .rev()
                .find(|r| r.name == *browser || r.name == *than)
                .is_some_and(|r| r.name == *browser && r.exchange.sent_at >= self.started),
            Condition::Forged { .. } => self
                .scenario
                .solved
                .iter()
                .position(|c| c == condition)
                .is_some_and(|i| self.forged.contains(&i)),
            Condition::AfterRotation { browser, says } => {
                self.rotated
                    && self.after_rotation.contains(browser)
                    && self.holds(
                        &Condition::Page {
                            browser: browser.clone(),
                            says: says.clone(),
                        },
                        state,
                    )
            }
            Condition::Expired {
                browser,
                views_at_least,
            } => self.held.get(browser).is_some_and(|held| {
                self.expired
                    .iter()
                    .any(|(id, views)| held.contains(id) && views >= views_at_least)
            }),
            Condition::RolledBack { browser } => self
                .counts
                .get(browser)
                .is_some_and(|counted| counted.latest < counted.top),
        }
    }
}

/// `"user":"alice"` as (`user`, `alice`); `"session":null` as (`session`, `null`).
fn json_pair(says: &str) -> Option<(&str, &str)> {
    let (key, value) = says.strip_prefix('"')?.split_once("\":")?;
    let value = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value);
    (!key.contains('"') && !value.contains('"')).then_some((key, value))
}

/// A condition in words, for the scenario's checklist.
pub fn condition_text(condition: &Condition) -> String {
    match condition {
        Condition::Page { browser, says } => match json_pair(says) {
            // `"user":"alice"` reads as quotes inside quotes: say it as the page shows it.
            Some((key, value)) => format!("{browser}'s page shows {key}: {value}"),
            None => format!("{browser}'s page says “{says}”"),
        },
        Condition::SameSession { browsers } => {
            format!("{} are in one session", browsers.join(" and "))
        }
        Condition::DifferentSessions { browsers } => {
            format!(
                "{} each have a session of their own",
                browsers.join(" and ")
            )
        }
        Condition::LostUpdates { browser, at_least } => format!(
            "{browser}'s burst loses at least {at_least} update{}",
            if *at_least == 1 { "" } else { "s" }
        ),
        Condition::Later { browser, than } => {
            format!("{browser}'s page comes after {than}'s")
        }
        Condition::SentInClear { browser } => {
            format!("{browser}'s session cookie crosses the network in clear text (plain http)")
        }
        Condition::Forged {
            browser,
            path,
            says,
        } => format!(
            "a page on another site makes {browser}'s browser send {path}, and the app answers \
             “{says}”"
        ),
        Condition::AfterRotation { browser, says } => match json_pair(says) {
            Some((key, value)) => {
                format!("after a new secret, {browser}'s page still shows {key}: {value}")
            }
            None => format!("after a new secret, {browser}'s page still says “{says}”"),
        },
        Condition::Expired {
            browser,
            views_at_least,
        } => {
            format!("a session of {browser}'s with at least {views_at_least} views ends by expiry")
        }
        Condition::RolledBack { browser } => format!(
            "{browser}'s counter goes back: a page shows fewer views than one before it, with no \
             fresh session between"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A page condition on JSON reads as the page shows it, not as quotes inside quotes.
    #[test]
    fn a_checklist_line_reads_without_nested_quotes() {
        let page = |says: &str| Condition::Page {
            browser: "Attacker".to_owned(),
            says: says.to_owned(),
        };
        assert_eq!(
            condition_text(&page(r#""user":"alice""#)),
            "Attacker's page shows user: alice"
        );
        assert_eq!(
            condition_text(&page(r#""session":null"#)),
            "Attacker's page shows session: null"
        );
        assert_eq!(
            condition_text(&page("Number of views 4")),
            "Attacker's page says “Number of views 4”"
        );
    }
}
