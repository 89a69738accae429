//! The student's attack, kept as scenario steps by browser name so that it can be played
//! again on a lab started over with the fix: the ids, cookies and addresses it used are
//! written as what they were (`{session:Victim}`, `{next:Attacker}`, `{cookie:Attacker}`, the
//! page another browser was on), so the replay uses the new lab's, as the student would.

use super::Step;
use crate::lab::{BrowserCommand, ClockMove, Command, LabState, RequestCommand, ServerCommand};

/// The most steps an attack keeps (the first ones; an attack is a handful of clicks).
pub const MAX_STEPS: usize = 200;

/// The steps the student played since the scenario opened, in order.
#[derive(Clone, Debug, Default)]
pub struct Attack {
    steps: Vec<Step>,
}

impl Attack {
    /// Keeps `command` as a step, when it is one a scenario can play (a visit, a copied or
    /// edited cookie, a page written, a lure, the clock…); a command that changes nothing the
    /// attack needs (renaming a browser, an audit) is left out.
    pub fn record(&mut self, command: &Command, state: &LabState) {
        if self.steps.len() < MAX_STEPS
            && let Some(step) = step_of(command, state)
        {
            self.steps.push(step);
        }
    }

    /// The steps, in order.
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// Forgets them (a new attempt).
    pub fn clear(&mut self) {
        self.steps.clear();
    }
}

/// `command` as a step by browser name, in the lab `state` shows when it was sent.
pub fn step_of(command: &Command, state: &LabState) -> Option<Step> {
    let name = |id| state.browser(id).map(|b| b.name.clone());
    Some(match command {
        Command::Request(request) => match request {
            RequestCommand::Visit { browser, url } => {
                let to = name(*browser)?;
                // The address another browser is on, pasted: share its page.
                if let Some(from) = state.browsers.iter().find(|b| {
                    b.id != *browser && b.last.as_ref().is_some_and(|page| page.url == *url)
                }) && url.contains("sid=")
                {
                    return Some(Step::SharePage {
                        from: from.name.clone(),
                        to,
                    });
                }
                Step::Visit {
                    browser: to,
                    url: relative(url, state),
                    from: None,
                }
            }
            RequestCommand::VisitFrom { browser, url, from } => Step::Visit {
                browser: name(*browser)?,
                url: relative(url, state),
                from: Some(from.label()),
            },
            RequestCommand::Submit { browser, url, form } => Step::Submit {
                browser: name(*browser)?,
                url: relative(url, state),
                form: form.clone(),
            },
            RequestCommand::Lure { browser, host } => Step::Lure {
                browser: name(*browser)?,
                host: Some(host.clone()),
            },
            RequestCommand::Burst {
                browser,
                url,
                count,
            } => Step::Burst {
                browser: name(*browser)?,
                url: relative(url, state),
                count: *count,
            },
            RequestCommand::RunAudit(_) | RequestCommand::Load { .. } => return None,
        },
        Command::Browser(browser) => match browser {
            BrowserCommand::CopyCookie { from, to, .. } => Step::CopyCookie {
                from: name(*from)?,
                to: name(*to)?,
            },
            BrowserCommand::EditCookie { browser, value, .. } => Step::EditCookie {
                browser: name(*browser)?,
                value: as_placeholder(value, state),
            },
            BrowserCommand::ClearCookies(id) => Step::ClearCookies {
                browser: name(*id)?,
            },
            _ => return None,
        },
        Command::Server(server) => match server {
            ServerCommand::SetAttackerPage(page) => Step::WritePage {
                html: page.html.clone(),
                set_cookie: (!page.set_cookie.is_empty())
                    .then(|| with_cookie_placeholders(&page.set_cookie, state)),
            },
            ServerCommand::RotateSecret { grace_secs } => Step::RotateSecret {
                grace_minutes: grace_secs.map_or(0, |secs| secs.div_ceil(60)),
            },
            ServerCommand::MoveClock(ClockMove::Ahead(by)) if by.whole_minutes() >= 1 => {
                Step::MoveClock {
                    minutes: by.whole_minutes(),
                }
            }
            _ => return None,
        },
    })
}

/// `url` as a scenario step writes it: a path on the embedded server, `{proxy}/path` through
/// the lab's TLS proxy, or the whole address.
fn relative(url: &str, state: &LabState) -> String {
    let server = state.server.as_ref().map(|s| s.url.trim_end_matches('/'));
    if let Some(path) = server.and_then(|s| url.strip_prefix(s))
        && path.starts_with('/')
    {
        return path.to_owned();
    }
    if let Some(rest) = state
        .proxy_url
        .as_deref()
        .and_then(|p| url.strip_prefix(p.trim_end_matches('/')))
        && rest.starts_with('/')
    {
        return format!("{{proxy}}{rest}");
    }
    url.to_owned()
}

/// A typed cookie value as what it was: the id after a browser's session (a guess, checked
/// first: with counted ids the guess is also the next browser's id, and the student guessed
/// it, not read it), a browser's session id, or a browser's session cookie's value — else the
/// value itself.
fn as_placeholder(value: &str, state: &LabState) -> String {
    let sessions = || {
        state
            .browsers
            .iter()
            .filter_map(|b| b.session().map(|session| (b, session)))
    };
    if let Some((browser, _)) =
        sessions().find(|(_, s)| value == crate::server::next_guess(*s).to_string())
    {
        return format!("{{next:{}}}", browser.name);
    }
    // The id after one a browser held before (its earlier session, still in the store): a
    // guess from what that browser saw, never the other browser's id read off the table.
    let owner = |id| {
        state
            .holders(id)
            .first()
            .copied()
            .or_else(|| state.made_by_browser(id))
    };
    if let Some(browser) = state
        .sessions
        .iter()
        .filter(|row| value == crate::server::next_guess(row.id).to_string())
        .find_map(|row| owner(row.id))
    {
        return format!("{{next:{}}}", browser.name);
    }
    if let Some((browser, _)) = sessions().find(|(_, s)| value == s.to_string()) {
        return format!("{{session:{}}}", browser.name);
    }
    if let Some(browser) = state.browsers.iter().find(|b| {
        b.cookies
            .iter()
            .any(|c| c.session.is_some() && c.cookie.value == value)
    }) {
        return format!("{{cookie:{}}}", browser.name);
    }
    value.to_owned()
}

/// A Set-Cookie line with each browser's session cookie (`name=value`) written as
/// `{cookie:NAME}`.
fn with_cookie_placeholders(header: &str, state: &LabState) -> String {
    let mut header = header.to_owned();
    for browser in &state.browsers {
        for held in browser.cookies.iter().filter(|c| c.session.is_some()) {
            let pair = format!("{}={}", held.cookie.name, held.cookie.value);
            if !held.cookie.value.is_empty() && header.contains(&pair) {
                header = header.replace(&pair, &format!("{{cookie:{}}}", browser.name));
            }
        }
    }
    header
}
