//! Guided scenarios: a goal in one sentence, who you are and what you may use, hints one at a
//! time, a success condition the lab judges from what really happened (never self-reported),
//! shortcuts that do not count, the server setting that fixes it, and a reference solution.
//!
//! A scenario is a TOML file (the format is documented in `scenarios/README.md`); the built-in
//! ones are the files in `scenarios/`, compiled in. [`judge`] watches a lab's events and says
//! when a scenario is solved; [`play`] plays steps on a headless lab (`session-lab scenario
//! check`, the tests).

pub mod judge;
pub mod labels;
pub mod play;
pub mod replay;
pub mod report;

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use self::play::step_text;

use crate::server::ServerSettings;

/// The built-in scenarios, as files, in the order the list shows them.
const BUILT_IN: &[(&str, &str)] = &[
    (
        "two-sessions.toml",
        include_str!("../../../../scenarios/two-sessions.toml"),
    ),
    (
        "hijack-copied-cookie.toml",
        include_str!("../../../../scenarios/hijack-copied-cookie.toml"),
    ),
    (
        "tamper-plain-cookie.toml",
        include_str!("../../../../scenarios/tamper-plain-cookie.toml"),
    ),
    (
        "lost-updates.toml",
        include_str!("../../../../scenarios/lost-updates.toml"),
    ),
    (
        "idle-timeout.toml",
        include_str!("../../../../scenarios/idle-timeout.toml"),
    ),
    (
        "logout-replay.toml",
        include_str!("../../../../scenarios/logout-replay.toml"),
    ),
    (
        "logout-in-cookie.toml",
        include_str!("../../../../scenarios/logout-in-cookie.toml"),
    ),
    (
        "rollback-in-cookie.toml",
        include_str!("../../../../scenarios/rollback-in-cookie.toml"),
    ),
    (
        "session-fixation.toml",
        include_str!("../../../../scenarios/session-fixation.toml"),
    ),
    (
        "secure-over-http.toml",
        include_str!("../../../../scenarios/secure-over-http.toml"),
    ),
    (
        "csrf-link.toml",
        include_str!("../../../../scenarios/csrf-link.toml"),
    ),
    (
        "csrf-form.toml",
        include_str!("../../../../scenarios/csrf-form.toml"),
    ),
    (
        "weak-ids.toml",
        include_str!("../../../../scenarios/weak-ids.toml"),
    ),
    (
        "secret-rotation.toml",
        include_str!("../../../../scenarios/secret-rotation.toml"),
    ),
    (
        "logout-others.toml",
        include_str!("../../../../scenarios/logout-others.toml"),
    ),
    (
        "cookie-tossing.toml",
        include_str!("../../../../scenarios/cookie-tossing.toml"),
    ),
    (
        "secure-behind-proxy.toml",
        include_str!("../../../../scenarios/secure-behind-proxy.toml"),
    ),
    (
        "id-in-url.toml",
        include_str!("../../../../scenarios/id-in-url.toml"),
    ),
];

/// The largest scenario file read, in bytes.
pub const MAX_FILE_BYTES: usize = 256 * 1024;

/// What is wrong with a scenario file.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// Not TOML of the scenario format.
    #[error("{file}: {message}")]
    Format {
        /// The file.
        file: String,
        /// What the TOML reader said.
        message: String,
    },
    /// Well-formed, but it does not hold together.
    #[error("{file}: {message}")]
    Invalid {
        /// The file.
        file: String,
        /// What is wrong.
        message: String,
    },
    /// The file could not be read.
    #[error(transparent)]
    Read(#[from] crate::files::ReadError),
    /// No scenario has this id.
    #[error("no scenario is called “{0}” (session-lab scenario list shows them)")]
    Unknown(String),
}

/// One scenario, as its file says.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Short, unique, used on the command line.
    pub id: String,
    /// The title the list shows.
    pub title: String,
    /// 1 (first steps) to 3 (harder).
    pub level: u8,
    /// The OWASP Web Security Testing Guide tests it practises (`WSTG-SESS-03`), if any.
    #[serde(default)]
    pub wstg: Vec<String>,
    /// The real-world issue it comes from.
    pub source: String,
    /// The goal, in one sentence.
    pub goal: String,
    /// Who the learner is and what they may use.
    pub you: String,
    /// The browsers, by name (roles such as *Attacker* and *Victim*), in order.
    pub browsers: Vec<String>,
    /// Whose account each browser logs in to with its Login button (`{ Victim = "alice" }`);
    /// a browser not named here, and not the owner of a forbidden `log_in_as`, logs in under
    /// its own name.
    #[serde(default)]
    pub accounts: std::collections::BTreeMap<String, String>,
    /// Server settings that differ from the lab's defaults (the names of
    /// [`ServerSettings`]' fields).
    #[serde(default)]
    pub settings: SettingsChange,
    /// Steps played when the scenario opens (the victim's visits before the learner arrives).
    #[serde(default)]
    pub setup: Vec<Step>,
    /// Hints, from a nudge to nearly the answer.
    pub hints: Vec<String>,
    /// What must all be true for the scenario to be solved.
    pub solved: Vec<Condition>,
    /// What the learner may not do on the way (it says so instead of solving).
    #[serde(default)]
    pub forbidden: Vec<Shortcut>,
    /// The server setting that prevents it, when it is an attack.
    pub fix: Option<Fix>,
    /// A reference solution, played by `scenario check`.
    pub solution: Vec<Step>,
}

/// The server change that prevents the attack.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Fix {
    /// What it is and why it works, in a sentence or two.
    pub explain: String,
    /// The settings that make it (names of [`ServerSettings`]' fields).
    pub settings: SettingsChange,
    /// The same in express-session's and tower-sessions' words.
    pub in_express: String,
    /// The same in tower-sessions' words.
    pub in_tower_sessions: String,
}

/// A fact about the lab that a scenario's success needs.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(tag = "check", rename_all = "snake_case", deny_unknown_fields)]
pub enum Condition {
    /// The page a browser loaded last says this.
    Page {
        /// Which browser.
        browser: String,
        /// Words the page contains.
        says: String,
    },
    /// These browsers hold a cookie of one and the same live session.
    SameSession {
        /// The browsers.
        browsers: Vec<String>,
    },
    /// These browsers each hold a session, no two the same.
    DifferentSessions {
        /// The browsers.
        browsers: Vec<String>,
    },
    /// A browser's latest burst of parallel visits lost at least this many updates.
    LostUpdates {
        /// Which browser.
        browser: String,
        /// How many lost updates are needed.
        at_least: u64,
    },
    /// The browser's latest request went over plain http, to a host that is not a secure
    /// context, carrying the session cookie: anyone on the network could read it.
    SentInClear {
        /// Which browser.
        browser: String,
    },
    /// The browser's latest page came after the other browser's latest (the replay came
    /// after the logout).
    Later {
        /// Which browser.
        browser: String,
        /// The browser whose latest page it must follow.
        than: String,
    },
    /// The browser sent a request to `path` that a page of another site started (a link, a
    /// form or an image there), and the app's answer says `says`: a forged request that
    /// worked.
    Forged {
        /// Which browser was made to send it.
        browser: String,
        /// The app's path it went to (`/account/email`).
        path: String,
        /// Words the answer contains.
        says: String,
    },
    /// The secret was rotated during the run, the browser loaded a page after that, and its
    /// latest page says this.
    AfterRotation {
        /// Which browser.
        browser: String,
        /// Words the page contains.
        says: String,
    },
    /// A session the browser held, with at least this many views, was removed by the store's
    /// expiry sweep (not a logout).
    Expired {
        /// Which browser held it.
        browser: String,
        /// The fewest views it had.
        views_at_least: u64,
    },
    /// The browser's counter went back: its latest counter page shows fewer views than one it
    /// showed before, with no fresh session (a count of 1) in between — an older copy of the
    /// session's state, replayed, brought the older state back.
    RolledBack {
        /// Which browser.
        browser: String,
    },
}

/// Something a scenario forbids, because it would make the goal trivial.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Shortcut {
    /// Copying a cookie from one browser's jar to another's.
    CopyCookie,
    /// Copying a cookie into this browser's jar (`{ copy_cookie_to = "Attacker" }`).
    CopyCookieTo(String),
    /// Bringing cookies in from a file.
    ImportCookies,
    /// Changing the server's settings.
    ChangeSettings,
    /// Logging in as this user from any browser but its owner's (`{ log_in_as = { user =
    /// "alice", owner = "Victim" } }`): knowing the password makes the attack pointless.
    LogInAs {
        /// The account.
        user: String,
        /// The browser whose account it is.
        owner: String,
    },
}

impl Shortcut {
    /// Why it does not count, in words.
    pub fn text(&self) -> String {
        match self {
            Self::CopyCookie => "copying a cookie from another browser is not allowed here".into(),
            Self::CopyCookieTo(to) => {
                format!("copying a cookie into {to}'s jar is not allowed here")
            }
            Self::ImportCookies => "importing cookies from a file is not allowed here".into(),
            Self::ChangeSettings => "changing the server's settings is not allowed here".into(),
            Self::LogInAs { user, owner } => format!(
                "logging in as {user} from a browser other than {owner}'s is not allowed here \
                 (that needs {user}'s password, which you do not have)"
            ),
        }
    }
}

/// One step of a solution or a setup: what a learner would click.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(tag = "do", rename_all = "snake_case", deny_unknown_fields)]
pub enum Step {
    /// Visit a path of the embedded server (or a whole URL) from a browser.
    Visit {
        /// Which browser.
        browser: String,
        /// `/`, `/login?user=alice`, or `http://app.lab.test/`.
        url: String,
        /// Where the request comes from, in the browser panel's words ("Link on
        /// other-site.test", "Image on other-site.test"); by default the browser's own choice
        /// (the address bar).
        #[serde(default)]
        from: Option<String>,
    },
    /// Send many visits at once from one browser.
    Burst {
        /// Which browser.
        browser: String,
        /// The address.
        url: String,
        /// How many at once.
        count: usize,
    },
    /// Copy the session cookie from one browser's jar to another's.
    CopyCookie {
        /// Whose cookie.
        from: String,
        /// Into whose jar.
        to: String,
    },
    /// Change the value of a browser's session cookie. `{session:NAME}` in the value stands
    /// for the id of the session browser NAME holds, as the store lists it.
    EditCookie {
        /// Whose cookie.
        browser: String,
        /// Its new value.
        value: String,
    },
    /// Submit a form from a browser (a `POST` from the app's own page).
    Submit {
        /// Which browser.
        browser: String,
        /// Where the form goes (`/login`).
        url: String,
        /// The form's fields, encoded (`user=alice&password=wonderland`).
        form: String,
    },
    /// Write the attacker's page, served on `other-site.test` and `sandbox.lab.test`.
    WritePage {
        /// Its HTML.
        html: String,
        /// A `Set-Cookie` it answers with. `{cookie:NAME}` stands for the `name=value` of the
        /// session cookie browser NAME holds.
        #[serde(default)]
        set_cookie: Option<String>,
    },
    /// Lure a browser to the attacker's page (a link in a mail): it loads the page's images,
    /// submits a form the page's script submits, and clicks its first link.
    Lure {
        /// Which browser.
        browser: String,
        /// `other-site.test` (the default) or `sandbox.lab.test`.
        #[serde(default)]
        host: Option<String>,
    },
    /// Give the server a new secret; with `grace_minutes`, the old one still opens cookies for
    /// that long.
    RotateSecret {
        /// Minutes the old secret is still accepted (0: not at all).
        grace_minutes: u64,
    },
    /// A browser shares the address of the page it is on (a link pasted in a chat, a mail, a
    /// screenshot), and another opens it.
    SharePage {
        /// Whose address.
        from: String,
        /// Who opens it.
        to: String,
    },
    /// Change server settings (names of [`ServerSettings`]' fields), as the settings panel
    /// does.
    ChangeSettings {
        /// The settings and their new values.
        settings: SettingsChange,
    },
    /// Expect the browser's latest page to contain `says` (the play stops if it does not).
    ExpectPage {
        /// Which browser.
        browser: String,
        /// Words the page contains.
        says: String,
    },
    /// Expect the browser's latest request to have carried (`sent = true`) or kept back
    /// (`sent = false`) its cookie `name` (by default the server's session cookie).
    ExpectCookie {
        /// Which browser.
        browser: String,
        /// The cookie's name; by default the session cookie's.
        #[serde(default)]
        name: Option<String>,
        /// Sent or not.
        sent: bool,
    },
    /// Expect the store to hold the session the browser's cookie names, with `has` in its
    /// data.
    ExpectStore {
        /// Which browser.
        browser: String,
        /// Text the session's data contains (`"user":"alice"`).
        has: String,
    },
    /// Empty a browser's jar.
    ClearCookies {
        /// Whose.
        browser: String,
    },
    /// Move the lab's clock ahead, in minutes.
    MoveClock {
        /// How many minutes.
        minutes: i64,
    },
}

impl Step {
    /// The browsers the step names.
    fn browsers(&self) -> Vec<&str> {
        match self {
            Self::Visit { browser, .. }
            | Self::Burst { browser, .. }
            | Self::Submit { browser, .. }
            | Self::ExpectPage { browser, .. }
            | Self::ExpectCookie { browser, .. }
            | Self::ExpectStore { browser, .. }
            | Self::Lure { browser, .. }
            | Self::ClearCookies { browser } => vec![browser],
            Self::WritePage {
                set_cookie: Some(set_cookie),
                ..
            } => placeholders(set_cookie).map(|(_, name)| name).collect(),
            Self::EditCookie { browser, value } => {
                let mut named = vec![browser.as_str()];
                named.extend(placeholders(value).map(|(_, name)| name));
                named
            }
            Self::CopyCookie { from, to } | Self::SharePage { from, to } => vec![from, to],
            Self::MoveClock { .. }
            | Self::WritePage { .. }
            | Self::RotateSecret { .. }
            | Self::ChangeSettings { .. } => Vec::new(),
        }
    }
}

impl Condition {
    /// The browsers the condition names.
    fn browsers(&self) -> Vec<&str> {
        match self {
            Self::Page { browser, .. }
            | Self::LostUpdates { browser, .. }
            | Self::SentInClear { browser }
            | Self::Forged { browser, .. }
            | Self::AfterRotation { browser, .. }
            | Self::Expired { browser, .. }
            | Self::RolledBack { browser } => vec![browser],
            Self::SameSession { browsers } | Self::DifferentSessions { browsers } => {
                browsers.iter().map(String::as_str).collect()
            }
            Self::Later { browser, than } => vec![browser, than],
        }
    }
}

/// The placeholders in `value`: `{session:NAME}` (the id of the session browser NAME holds),
/// `{next:NAME}` (the id an attacker would guess comes after it) and `{cookie:NAME}` (the
/// `name=value` of NAME's session cookie), as (kind, NAME).
pub(crate) fn placeholders(value: &str) -> impl Iterator<Item = (&str, &str)> {
    value.split('{').skip(1).filter_map(|rest| {
        let (inside, _) = rest.split_once('}')?;
        let (kind, name) = inside.split_once(':')?;
        matches!(kind, "session" | "next" | "cookie").then_some((kind, name))
    })
}

impl Scenario {
    /// The account `browser` logs in to with its Login button: the one `accounts` gives it,
    /// else the account a forbidden `log_in_as` says it owns, else none (its own name).
    pub fn account_of(&self, browser: &str) -> Option<&str> {
        self.accounts.get(browser).map(String::as_str).or_else(|| {
            self.forbidden.iter().find_map(|shortcut| match shortcut {
                Shortcut::LogInAs { user, owner } if owner == browser => Some(user.as_str()),
                _ => None,
            })
        })
    }

    /// Reads a scenario from the text of its file (`file` names it in errors).
    pub fn read(file: &str, text: &str) -> Result<Self, ScenarioError> {
        let scenario: Self = toml::from_str(text).map_err(|e| ScenarioError::Format {
            file: file.to_owned(),
            message: e.to_string(),
        })?;
        scenario.check(file)?;
        Ok(scenario)
    }

    /// Reads a scenario file from disk (a regular file of at most [`MAX_FILE_BYTES`]).
    pub fn open(path: &std::path::Path) -> Result<Self, ScenarioError> {
        let file = path.display().to_string();
        let bytes = crate::files::read_regular_file(path, MAX_FILE_BYTES)?;
        let text = String::from_utf8(bytes).map_err(|_| ScenarioError::Format {
            file: file.clone(),
            message: "not UTF-8 text".to_owned(),
        })?;
        Self::read(&file, &text)
    }

    /// Every built-in scenario.
    pub fn built_in() -> Vec<Self> {
        BUILT_IN
            .iter()
            .map(|(file, text)| {
                Self::read(file, text).unwrap_or_else(|e| panic!("built-in scenario: {e}"))
            })
            .collect()
    }

    /// The built-in scenario with this id, or the file at this path.
    pub fn find(id_or_file: &str) -> Result<Self, ScenarioError> {
        if let Some(found) = Self::built_in().into_iter().find(|s| s.id == id_or_file) {
            return Ok(found);
        }
        let path = std::path::Path::new(id_or_file);
        if path.extension().is_some_and(|e| e == "toml") || path.exists() {
            return Self::open(path);
        }
        Err(ScenarioError::Unknown(id_or_file.to_owned()))
    }

    /// The server settings the scenario starts with.
    pub fn start_settings(&self) -> ServerSettings {
        self.settings.apply(&ServerSettings::default())
    }

    /// The settings with the fix applied, if there is one.
    pub fn fixed_settings(&self) -> Option<ServerSettings> {
        let fix = self.fix.as_ref()?;
        Some(fix.settings.apply(&self.start_settings()))
    }

    /// That the file holds together: browsers named where they are used, at least one
    /// condition and one step, settings that exist.
    fn check(&self, file: &str) -> Result<(), ScenarioError> {
        let invalid = |message: String| ScenarioError::Invalid {
            file: file.to_owned(),
            message,
        };
        if self.id.is_empty()
            || !self
                .id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            return Err(invalid(format!(
                "the id “{}” must be letters, digits and dashes",
                self.id
            )));
        }
        if self.browsers.is_empty() || self.browsers.len() > 4 {
            return Err(invalid("a scenario has one to four browsers".to_owned()));
        }
        let names: BTreeSet<&str> = self.browsers.iter().map(String::as_str).collect();
        if names.len() != self.browsers.len() {
            return Err(invalid("two browsers have the same name".to_owned()));
        }
        if self.solved.is_empty() {
            return Err(invalid("“solved” needs at least one condition".to_owned()));
        }
        if self.solution.is_empty() {
            return Err(invalid("“solution” needs at least one step".to_owned()));
        }
        if self.hints.is_empty() {
            return Err(invalid("give at least one hint".to_owned()));
        }
        for (n, hint) in self.hints.iter().enumerate() {
            labels::check_hint(hint, &self.browsers)
                .map_err(|why| invalid(format!("hint {}: {why}", n + 1)))?;
        }
        let named = self
            .setup
            .iter()
            .chain(&self.solution)
            .flat_map(Step::browsers)
            .chain(self.accounts.keys().map(String::as_str))
            .chain(self.solved.iter().flat_map(Condition::browsers))
            .chain(self.forbidden.iter().filter_map(|shortcut| match shortcut {
                Shortcut::LogInAs { owner, .. } => Some(owner.as_str()),
                _ => None,
            }));
        for name in named {
            if !names.contains(name) {
                return Err(invalid(format!(
                    "“{name}” is not one of the scenario's browsers ({})",
                    self.browsers.join(", ")
                )));
            }
        }
        for (n, step) in self.setup.iter().chain(&self.solution).enumerate() {
            let which = if n < self.setup.len() {
                format!("setup step {}", n + 1)
            } else {
                format!("solution step {}", n - self.setup.len() + 1)
            };
            step.stays_in_bounds()
                .map_err(|why| invalid(format!("{which} ({}): {why}", step_text(step))))?;
            if let Step::Visit {
                from: Some(from), ..
            } = step
                && request_from(from).is_none()
            {
                let known: Vec<String> = crate::browser::FROM_CHOICES
                    .iter()
                    .map(|c| format!("“{}”", c.label()))
                    .collect();
                return Err(invalid(format!(
                    "a visit comes from {}, not from “{from}”",
                    known.join(", ")
                )));
            }
            if let Step::Lure {
                host: Some(host), ..
            } = step
                && !crate::server::ATTACKER_HOSTS.contains(&host.as_str())
            {
                return Err(invalid(format!(
                    "a lure goes to {}, not to {host}",
                    crate::server::ATTACKER_HOSTS.join(" or ")
                )));
            }
        }
        Ok(())
    }
}

/// The most a scenario moves the clock at once: ten years, in minutes.
pub const MAX_CLOCK_MINUTES: i64 = 10 * 365 * 24 * 60;

/// The longest a scenario keeps an old secret accepted: a year, in minutes.
pub const MAX_GRACE_MINUTES: u64 = 365 * 24 * 60;

impl Step {
    /// That the step stays inside the lab and its numbers within what the lab can do: every
    /// address it sends a browser to, and every one the attacker's page it writes links,
    /// loads or submits to, is one of the lab's own (see [`confined`]).
    fn stays_in_bounds(&self) -> Result<(), String> {
        match self {
            Self::Visit { url, .. } | Self::Burst { url, .. } | Self::Submit { url, .. } => {
                confined(url)?;
            }
            Self::WritePage { html, .. } => {
                let base = url::Url::parse(&format!("http://{}/", crate::server::ATTACKER_HOST))
                    .map_err(|e| e.to_string())?;
                let page = crate::browser::read_page(html, &base);
                let forms = page.forms.iter().map(|f| &f.action);
                for target in page.images.iter().chain(&page.links).chain(forms) {
                    confined_url(target)
                        .map_err(|why| format!("the page points at {target}: {why}"))?;
                }
            }
            _ => {}
        }
        match self {
            Self::Burst { count, .. } if !(1..=crate::lab::MAX_BURST).contains(count) => {
                Err(format!(
                    "a burst sends 1 to {} visits, not {count}",
                    crate::lab::MAX_BURST
                ))
            }
            Self::MoveClock { minutes } if !(1..=MAX_CLOCK_MINUTES).contains(minutes) => Err(
                format!("the clock moves ahead 1 to {MAX_CLOCK_MINUTES} minutes, not {minutes}"),
            ),
            Self::RotateSecret { grace_minutes } if *grace_minutes > MAX_GRACE_MINUTES => {
                Err(format!(
                    "an old secret is kept at most {MAX_GRACE_MINUTES} minutes, not {grace_minutes}"
                ))
            }
            _ => Ok(()),
        }
    }
}

/// Whether `url`, as a scenario names it, stays inside the lab: a path on the lab's server
/// (`/whoami`), on its TLS proxy (`{proxy}/login`), or an http(s) address on one of the lab's
/// names (`https://app.lab.test/`). Anything else — another host, an IP address, a port of
/// its own (the lab's names resolve to loopback, so a port would reach any local service) —
/// would let a file from a stranger send the lab's browsers, with their cookies, into the
/// user's own network.
pub fn confined(url: &str) -> Result<(), String> {
    let (rest, base) = match url.strip_prefix("{proxy}") {
        Some(rest) => (rest, "https://proxy.lab.invalid:1/"),
        None if !url.contains("://") => (url, "http://server.lab.invalid:1/"),
        None => {
            let parsed = url::Url::parse(url).map_err(|e| format!("“{url}” is no address: {e}"))?;
            return confined_url(&parsed);
        }
    };
    if !rest.is_empty() && !rest.starts_with('/') {
        return Err(format!("“{url}” must be a path that starts with /"));
    }
    let base = url::Url::parse(base).map_err(|e| e.to_string())?;
    let joined = base
        .join(rest)
        .map_err(|e| format!("“{url}” is no path: {e}"))?;
    if joined.origin() != base.origin() {
        return Err(format!(
            "“{url}” leaves the lab's server (for {})",
            joined.origin().ascii_serialization()
        ));
    }
    Ok(())
}

/// [`confined`] for an address already read: http or https, one of the lab's names, no port
/// and no user.
fn confined_url(url: &url::Url) -> Result<(), String> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("{url} is not http or https"));
    }
    let Some(url::Host::Domain(host)) = url.host() else {
        return Err(format!(
            "{url} names a host by address; a scenario may only use the lab's names ({})",
            crate::browser::LAB_HOSTS.join(", ")
        ));
    };
    if !crate::browser::is_lab_host(host) {
        return Err(format!(
            "{host} is not one of the lab's names ({})",
            crate::browser::LAB_HOSTS.join(", ")
        ));
    }
    if url.port().is_some() {
        return Err(format!(
            "{url} names a port; the lab's names lead to its server without one"
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!("{url} carries a user name"));
    }
    Ok(())
}

/// Where a request comes from, read from the browser panel's words ("Link on
/// other-site.test").
pub fn request_from(label: &str) -> Option<crate::browser::RequestFrom> {
    crate::browser::FROM_CHOICES
        .into_iter()
        .find(|from| from.label().eq_ignore_ascii_case(label.trim()))
}

/// Why a scenario's settings cannot be applied.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum SettingsChangeError {
    /// A name that is no setting.
    #[error("no setting is called “{name}” (there are: {})", known.join(", "))]
    Unknown {
        /// The name given.
        name: String,
        /// The settings there are.
        known: Vec<String>,
    },
    /// A value the setting cannot take.
    #[error("{0}")]
    Value(crate::lab::Shared<serde_json::Error>),
    /// Values outside what the lab can run.
    #[error("{0}")]
    OutOfBounds(String),
}

/// Server settings to change, by the names and values of [`ServerSettings`]' fields (as a
/// saved lab writes them): read once, when the scenario file is, and every name and value
/// checked then, so applying it cannot fail.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(try_from = "toml::Table", into = "toml::Table")]
pub struct SettingsChange(toml::Table);

impl SettingsChange {
    /// The changes `table` names, if each is a setting, its value fits it, and the settings
    /// stay within the limits every other way of setting them has.
    pub fn new(table: toml::Table) -> Result<Self, SettingsChangeError> {
        let changed = with_changes(&ServerSettings::default(), &table)?;
        if let Some(why) = changed.out_of_bounds() {
            return Err(SettingsChangeError::OutOfBounds(why));
        }
        Ok(Self(table))
    }

    /// `base` with these changes.
    pub fn apply(&self, base: &ServerSettings) -> ServerSettings {
        // Every name is a field and every value fits it (checked in `new`), and the rest is
        // `base` as it serialises, which reads back (tests/properties.rs): this cannot fail.
        // Were it ever to, the settings stay as they were, and the play that waits for them
        // says so.
        with_changes(base, &self.0).unwrap_or_else(|error| {
            tracing::error!(%error, "a checked settings change did not apply");
            base.clone()
        })
    }

    /// Each setting's name and new value.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &toml::Value)> {
        self.0.iter()
    }
}

impl TryFrom<toml::Table> for SettingsChange {
    type Error = SettingsChangeError;

    fn try_from(table: toml::Table) -> Result<Self, Self::Error> {
        Self::new(table)
    }
}

impl From<SettingsChange> for toml::Table {
    fn from(change: SettingsChange) -> Self {
        change.0
    }
}

impl std::str::FromStr for SettingsChange {
    type Err = String;

    /// Reads `name = value` lines, as a scenario file holds them.
    fn from_str(text: &str) -> Result<Self, String> {
        let table: toml::Table = toml::from_str(text).map_err(|e| e.to_string())?;
        Self::new(table).map_err(|e| e.to_string())
    }
}

/// `base` with the fields `changes` names set to its values (the names and values of the
/// saved lab's settings).
pub fn with_changes(
    base: &ServerSettings,
    changes: &toml::Table,
) -> Result<ServerSettings, SettingsChangeError> {
    let value_error = |e| SettingsChangeError::Value(crate::lab::Shared::new(e));
    let mut value = serde_json::to_value(base).map_err(value_error)?;
    let serde_json::Value::Object(fields) = &mut value else {
        unreachable!("ServerSettings is a struct: it serialises to a table")
    };
    for (name, new) in changes {
        if !fields.contains_key(name) {
            return Err(SettingsChangeError::Unknown {
                name: name.clone(),
                known: fields.keys().cloned().collect(),
            });
        }
        fields.insert(
            name.clone(),
            serde_json::to_value(new).map_err(value_error)?,
        );
    }
    serde_json::from_value(value).map_err(value_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every built-in scenario reads, and their ids are unique.
    #[test]
    fn built_ins_read() {
        let all = Scenario::built_in();
        assert_eq!(all.len(), BUILT_IN.len());
        let ids: BTreeSet<&str> = all.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids.len(), all.len(), "unique ids");
    }

    /// Login's account: the scenario's `accounts`, else what a forbidden `log_in_as` says a
    /// browser owns, else none; an account for a browser the scenario lacks is refused, and so
    /// is a hint naming a control the window does not have.
    #[test]
    fn accounts_and_hints_are_checked() {
        let all = Scenario::built_in();
        let fixation = all.iter().find(|s| s.id == "session-fixation").unwrap();
        assert_eq!(fixation.account_of("Victim"), Some("alice"));
        assert_eq!(fixation.account_of("Attacker"), None);
        let base = BUILT_IN[0].1;
        let given = base.replacen("\nhints", "\naccounts = { A = \"bob\" }\nhints", 1);
        assert_eq!(
            Scenario::read("x.toml", &given).unwrap().account_of("A"),
            Some("bob")
        );
        let stranger = base.replacen("\nhints", "\naccounts = { Z = \"bob\" }\nhints", 1);
        let err = Scenario::read("x.toml", &stranger).unwrap_err().to_string();
        assert!(err.contains("“Z” is not one of"), "{err}");
        let hint = base.replacen("\"Each browser", "\"Click **Log in**. Each browser", 1);
        let err = Scenario::read("x.toml", &hint).unwrap_err().to_string();
        assert!(
            err.contains("hint 1") && err.contains("**Log in**"),
            "{err}"
        );
    }

    /// A file that names a browser it does not have, a setting that does not exist or an
    /// unknown field is refused with a message that says which.
    #[test]
    fn mistakes_are_named() {
        let base = BUILT_IN[0].1;
        let stranger = base.replace("browser = \"B\"", "browser = \"Z\"");
        let err = Scenario::read("x.toml", &stranger).unwrap_err().to_string();
        assert!(err.contains("“Z” is not one of"), "{err}");
        let setting = format!(
            "{base}\n[fix]\nexplain = \"\"\nin_express = \"\"\nin_tower_sessions = \"\"\nsettings = {{ colour = 1 }}\n"
        );
        let err = Scenario::read("x.toml", &setting).unwrap_err().to_string();
        assert!(err.contains("no setting is called “colour”"), "{err}");
        let field = format!("surprise = 1\n{base}");
        let err = Scenario::read("x.toml", &field).unwrap_err().to_string();
        assert!(err.contains("surprise"), "{err}");
    }

    /// Settings change by name, typed as the saved lab types them; a value that does not fit
    /// and a name that is no setting are refused, each as its own variant.
    #[test]
    fn settings_change_by_name() {
        let changes: toml::Table = toml::from_str(
            "lock_per_session = false\nstore_latency_ms = 20\nprotection = \"Plain\"\nexpiry = { OnInactivity = { secs = 300 } }",
        )
        .unwrap();
        let changed = with_changes(&ServerSettings::default(), &changes).unwrap();
        assert!(!changed.lock_per_session);
        assert_eq!(changed.store_latency_ms, 20);
        assert_eq!(changed.protection, crate::server::CookieProtection::Plain);
        assert_eq!(
            changed.expiry,
            crate::server::ExpiryPolicy::OnInactivity { secs: 300 }
        );
        let wrong: toml::Table = toml::from_str("store_latency_ms = \"slow\"").unwrap();
        assert!(matches!(
            with_changes(&ServerSettings::default(), &wrong),
            Err(SettingsChangeError::Value(_))
        ));
        let unknown: toml::Table = toml::from_str("latency = 5").unwrap();
        assert!(matches!(
            with_changes(&ServerSettings::default(), &unknown),
            Err(SettingsChangeError::Unknown { name, known })
                if name == "latency" && known.iter().any(|k| k == "store_latency_ms")
        ));
    }
}
