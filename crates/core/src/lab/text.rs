//! How the lab writes times, ids and data for people: shared by the UI, the log and the demo.

use time::{Duration, OffsetDateTime, UtcOffset};

use crate::browser::RequestFrom;
use crate::server::{
    CookieVerdict, DataText, ExpiryPolicy, InCookie, RejectReason, SecretSource, Served, SessionId,
    StoreChoice, StoreStory, cut_text,
};

pub use crate::words::{count, duration_text, short, short_to};

use super::{
    event::{BrowserSwitch, BurstOutcome, ClockMoved, JarEdit, Problem, SettingChange},
    log::{ExchangeLine, Logged},
};

/// A session id, shortened.
pub fn short_id(id: SessionId) -> String {
    short(&id.to_string())
}

/// Session data as compact JSON; data too long to keep ends in "…" and says its size.
pub fn data_text(data: &DataText) -> String {
    if data.is_cut() {
        format!("{}… ({} bytes)", data.as_str(), data.full_len())
    } else {
        data.as_str().to_owned()
    }
}

/// How long until `at`: "13d 23h", "4h 05m", "2m 09s", "42s", "expired", or "never" (the
/// year 9999: a watched store's session that has no expiry).
pub fn time_left(now: OffsetDateTime, at: OffsetDateTime) -> String {
    if crate::server::never_expires(at) {
        // A watched store's session without an expiry (a Redis key without a TTL).
        return "never".to_owned();
    }
    let left = at - now;
    if left <= Duration::ZERO {
        return "expired".to_owned();
    }
    let secs = left.whole_seconds();
    let (days, hours, minutes, seconds) = (
        secs / 86_400,
        secs % 86_400 / 3600,
        secs % 3600 / 60,
        secs % 60,
    );
    if days > 0 {
        format!("{days}d {hours}h")
    } else if hours > 0 {
        format!("{hours}h {minutes:02}m")
    } else if minutes > 0 {
        format!("{minutes}m {seconds:02}s")
    } else {
        format!("{seconds}s")
    }
}

/// How long until the text of [`time_left`] for `at` changes, so a view can repaint just then.
pub fn time_left_changes_in(
    now: OffsetDateTime,
    at: OffsetDateTime,
) -> Option<std::time::Duration> {
    let left = at - now;
    if left <= Duration::ZERO {
        return None;
    }
    let granularity = if left > Duration::hours(1) {
        Duration::minutes(1)
    } else {
        Duration::seconds(1)
    };
    let until_tick = left.whole_milliseconds() % granularity.whole_milliseconds();
    let millis = if until_tick == 0 {
        granularity.whole_milliseconds()
    } else {
        until_tick
    };
    Some(std::time::Duration::from_millis(
        u64::try_from(millis).unwrap_or(1000),
    ))
}

/// Wall-clock time of day, "01:02:09", in `offset`.
pub fn clock_time(at: OffsetDateTime, offset: UtcOffset) -> String {
    let local = at.to_offset(offset);
    format!(
        "{:02}:{:02}:{:02}",
        local.hour(),
        local.minute(),
        local.second()
    )
}

/// `GET /  Cookie: id=3f2a…  ← 200 "Number of views 3"  · session 3f2a… views 2→3`
pub fn exchange_line(line: &ExchangeLine) -> String {
    let cookie = match &line.cookie_header {
        Some(header) => format!("Cookie: {}", short_cookie_header(header)),
        None => "no cookie".to_owned(),
    };
    let mut text = format!(
        "{} {}  {cookie}  ← {} “{}”",
        line.method, line.path, line.status, line.body
    );
    if line.set_cookie {
        text.push_str("  Set-Cookie");
    }
    if line.from != RequestFrom::AddressBar {
        text.push_str(&format!("  (from {})", line.from.label().to_lowercase()));
    }
    if !line.not_sent.is_empty() {
        let held: Vec<String> = line
            .not_sent
            .iter()
            .map(|(name, reason)| format!("{name} ({reason})"))
            .collect();
        text.push_str(&format!("  · not sent: {}", held.join(", ")));
    }
    if !line.blocked.is_empty() {
        let refused: Vec<String> = line
            .blocked
            .iter()
            .map(|(name, reason)| format!("{name} ({reason})"))
            .collect();
        text.push_str(&format!("  · Set-Cookie refused: {}", refused.join(", ")));
    }
    if let Some(served) = &line.served {
        text.push_str("  · ");
        text.push_str(&story_text(served));
    }
    text
}

/// A log line for a request the server answered: method, path, user agent, status, story.
pub fn served_line(served: &Served) -> String {
    let agent = served
        .user_agent
        .as_deref()
        .map(|ua| format!(" ({})", short_agent(ua)))
        .unwrap_or_default();
    format!(
        "{} {}{agent}  ← {}  · {}",
        served.method,
        served.path,
        served.status,
        story_text(served)
    )
}

/// Why the server would not use a cookie, in words.
pub fn reject_text(reason: RejectReason) -> &'static str {
    match reason {
        RejectReason::NotUtf8 => "the Cookie header is not valid UTF-8",
        RejectReason::NotAnId => "it does not hold a session id",
        RejectReason::BadSignature => {
            "its signature does not match the server's secret (tampered, forged, or from another secret)"
        }
        RejectReason::DoesNotDecrypt => {
            "it does not decrypt with the server's secret (tampered, forged, or from another secret)"
        }
        RejectReason::Malformed => "the cookie is not well-formed",
    }
}

/// What the request did to the store, in words.
pub fn story_text(served: &Served) -> String {
    let rejected = match &served.cookie {
        CookieVerdict::Rejected { reason } => {
            format!("cookie rejected: {}; ", reject_text(*reason))
        }
        _ => String::new(),
    };
    let story = match &served.story {
        StoreStory::Untouched => in_cookie_text(served),
        StoreStory::Created { id, data } => {
            format!("session {} created {}", short_id(*id), data_text(data))
        }
        StoreStory::Updated { id, before, after } => {
            format!("session {} {}", short_id(*id), diff_text(before, after))
        }
        StoreStory::Unchanged { id } => format!("session {} unchanged", short_id(*id)),
        StoreStory::Regenerated { old, new } => {
            format!(
                "session {} regenerated as {}",
                short_id(*old),
                short_id(*new)
            )
        }
        StoreStory::Deleted { id } => format!("session {} deleted", short_id(*id)),
    };
    format!("{rejected}{story}")
}

/// What a request did to a session kept in the cookie (the store untouched), in words.
fn in_cookie_text(served: &Served) -> String {
    let came = match served.cookie {
        CookieVerdict::Data { values } => Some(format!(
            "the session's data came in the cookie ({values} value{})",
            if values == 1 { "" } else { "s" }
        )),
        _ => None,
    };
    let text = match (came, served.in_cookie) {
        (None, Some(InCookie::Sealed)) => "a new session, its data sealed into the cookie".into(),
        (Some(came), Some(InCookie::Sealed)) => format!("{came} and went back in it, changed"),
        (Some(came), Some(InCookie::Cleared)) => {
            format!("{came}; the cookie cleared (the session emptied)")
        }
        (Some(came), _) => came,
        (None, Some(InCookie::Cleared)) => "the cookie cleared".into(),
        (None, _) => return "no session".to_owned(),
    };
    format!("{text}; the store keeps nothing")
}

/// `views 2→3`, one entry per changed key; data too long to compare says so.
fn diff_text(before: &DataText, after: &DataText) -> String {
    let (Some(before), Some(after)) = (before.parse(), after.parse()) else {
        return format!("saved {}", data_text(after));
    };
    let mut keys: Vec<&String> = before.keys().chain(after.keys()).collect();
    keys.sort();
    keys.dedup();
    let changes: Vec<String> = keys
        .into_iter()
        .filter(|k| before.get(*k) != after.get(*k))
        .map(|k| {
            let show = |v: Option<&serde_json::Value>| {
                v.map_or("∅".to_owned(), |v| short_value(&v.to_string()))
            };
            format!("{k} {}→{}", show(before.get(k)), show(after.get(k)))
        })
        .collect();
    if changes.is_empty() {
        "saved, unchanged".to_owned()
    } else {
        changes.join(", ")
    }
}

fn short_value(text: &str) -> String {
    cut_text(text, 40)
}

/// One log line in words (without time and source).
pub fn logged_text(what: &Logged) -> String {
    match what {
        Logged::Exchange(line) => exchange_line(line),
        Logged::External(served) => served_line(served),
        Logged::Skipped { count: skipped } => {
            format!(
                "{} requests came too fast to log one by one",
                count(*skipped)
            )
        }
        Logged::ServerStarted(info) => {
            let mut text = format!(
                "Session server listening on {} ({} store, {} cookie “{}”, secret {} {})",
                info.url,
                info.store_kind,
                info.settings.protection.as_str(),
                info.settings.cookie_name,
                info.secret_fingerprint,
                secret_source_text(&info.secret_source)
            );
            if info.shared_store && !info.secret_source.is_explicit() {
                text.push_str(&format!(
                    " — servers on other machines sharing this store need the same secret: give \
                     them all one --secret ({})",
                    info.store
                ));
            }
            if let Some(wanted) = &info.fallback_from {
                text.push_str(&format!(
                    " — {wanted} was taken, so a free port was used instead"
                ));
            }
            text
        }
        Logged::ServerFailed(message) => format!("Session server not running: {message}"),
        Logged::SettingsApplied {
            changes,
            old_cookies_still_valid,
        } => settings_text(changes, *old_cookies_still_valid),
        Logged::SecretRotated {
            old,
            new,
            old_accepted_until: None,
        } => format!(
            "Secret rotated at once ({old} → {new}): every cookie signed with the old secret is \
             now rejected, so each browser's next visit gets a new session; the old sessions \
             stay in the store until they expire"
        ),
        Logged::SecretRotated {
            old,
            new,
            old_accepted_until: Some(until),
        } => format!(
            "Secret rotated gracefully ({old} → {new}): new cookies are sealed with {new}; the \
             old secret still opens cookies until {} UTC, and each browser's cookie is sealed \
             anew with {new} on its next visit, so no session is lost",
            clock_time(*until, UtcOffset::UTC)
        ),
        Logged::ServerRestarted {
            store,
            sessions_before,
            sessions_after,
        } => match store {
            StoreChoice::Memory => format!(
                "Server restarted on a memory store: {sessions_before} session(s) were in the old \
                 process's memory and are gone ({sessions_after} now). Each browser's next visit \
                 sends a cookie naming a session that no longer exists, so it gets a new one"
            ),
            StoreChoice::Sqlite(path) => format!(
                "Server restarted on the SQLite store {}: {sessions_after} session(s) were kept on \
                 disk, so browsers continue where they were",
                path.display()
            ),
            StoreChoice::Redis(url) => format!(
                "Server restarted on the Redis store {url}: {sessions_after} session(s) were kept \
                 in Redis, so browsers continue where they were"
            ),
        },
        Logged::ScenarioStore { sessions_before } => format!(
            "The scenario starts on a fresh memory store (the {sessions_before} session(s) \
             before it were cleared, as a new server process would)"
        ),
        Logged::Instances { urls, store } => match (store, urls.len()) {
            (_, 1) => "One server instance".to_owned(),
            (StoreChoice::Memory, n) => format!(
                "{n} server instances, each with its own memory store: a browser spreading its \
                 visits over them meets a different session on each ({})",
                urls.join(", ")
            ),
            (StoreChoice::Sqlite(path), n) => format!(
                "{n} server instances sharing the SQLite store {}: one session continues across \
                 all of them ({})",
                path.display(),
                urls.join(", ")
            ),
            (StoreChoice::Redis(url), n) => format!(
                "{n} server instances sharing the Redis store {url}: one session continues across \
                 all of them ({})",
                urls.join(", ")
            ),
        },
        Logged::StoreDown(error) => format!("The session store is not answering: {error}"),
        Logged::StoreBack => "The session store answers again".to_owned(),
        Logged::ProxyStarted(url) => format!(
            "A TLS-terminating proxy listens at {url}: https to the browsers, plain http to the \
             server with X-Forwarded-Proto: https (Server settings: which requests get a Secure \
             cookie)"
        ),
        Logged::SiteChanged {
            page_bytes,
            set_cookie,
        } if !set_cookie.is_empty() => format!(
            "other-site.test and sandbox.lab.test now serve the attacker's page ({page_bytes} \
             bytes) with Set-Cookie: {set_cookie}"
        ),
        Logged::SiteChanged { page_bytes, .. } => {
            format!(
                "other-site.test and sandbox.lab.test now serve the attacker's page \
                 ({page_bytes} bytes)"
            )
        }
        Logged::StoreFull(true) => "The memory store holds its limit of sessions: new visitors \
                                    get a 503 page until sessions expire; visitors with a \
                                    session are served as usual"
            .to_owned(),
        Logged::StoreFull(false) => "The memory store has room for new sessions again".to_owned(),
        Logged::Clock(moved) => clock_text(moved),
        Logged::Burst(outcome) => burst_text(outcome),
        Logged::Jar(edit) => jar_text(edit),
        Logged::Switch(switch) => switch_text(*switch),
        Logged::BrowserRestarted { private, dropped } => {
            if *private {
                format!(
                    "Closed and reopened (private): the whole jar is gone ({dropped} cookie(s))"
                )
            } else {
                format!(
                    "Closed and reopened: {dropped} session cookie(s) dropped; cookies with an expiry survive"
                )
            }
        }
        Logged::VisitFailed { url, error } => format!("GET {url} failed: {error}"),
        Logged::LoadStarted {
            visits,
            browsers,
            concurrency,
        } => format!(
            "Load: {visits} visits from {browsers} new browser(s), {concurrency} at a time…"
        ),
        Logged::LoadFinished(Ok(report)) => format!("Load finished: {}", report.summary()),
        Logged::LoadFinished(Err(error)) => format!("Load failed: {}", failure_text(error)),
        Logged::Audit {
            target,
            outcome: Ok(counts),
        } => format!("Audit of {target} finished: {counts} (the Audit tab has the scorecard)"),
        Logged::Audit {
            target,
            outcome: Err(error),
        } => format!("Audit of {target} could not run: {}", failure_text(error)),
        Logged::Problem(problem) => problem_text(problem),
        Logged::Watch { text, .. } => text.clone(),
    }
}

/// Where the secret came from, in words: "from --secret", "kept in PATH", ….
pub fn secret_source_text(source: &SecretSource) -> String {
    match source {
        SecretSource::Flag => "from --secret".to_owned(),
        SecretSource::Environment => "from SESSION_LAB_SECRET".to_owned(),
        SecretSource::File {
            path,
            created: true,
        } => format!("made now and kept in {}", path.display()),
        SecretSource::File {
            path,
            created: false,
        } => format!("kept in {}", path.display()),
        SecretSource::ThisProcess => "made for this process only".to_owned(),
    }
}

/// What a browser's last burst did to its counter, in a line (under its buttons).
pub fn burst_line(outcome: &BurstOutcome) -> String {
    match (outcome.before, outcome.after, outcome.lost()) {
        (Some(before), Some(after), Some(0)) => format!(
            "Last burst: {} at once, views {} to {}, all counted",
            outcome.sent, before.views, after.views
        ),
        (Some(before), Some(after), Some(lost)) => format!(
            "Last burst: {} at once, views {} to {}, {lost} increments lost",
            outcome.sent, before.views, after.views
        ),
        _ => format!("Last burst: {} at once", outcome.sent),
    }
}

/// What a burst did, in full: the log's line and the short line's tooltip.
pub fn burst_text(outcome: &BurstOutcome) -> String {
    let count = outcome.sent;
    let in_cookie = outcome.before.is_some_and(|views| views.session.is_none());
    let mode = match outcome.safe {
        _ if in_cookie => " with the session kept in the cookie",
        Some(true) => " on the safe server (one request at a time per session)",
        Some(false) => " on the naive server (no per-session lock)",
        None => "",
    };
    match (outcome.before, outcome.after, outcome.lost()) {
        (Some(before), Some(after), Some(lost)) if in_cookie && lost > 0 => format!(
            "Burst of {count} parallel visits{mode}: views {} → {}, {lost} of {count} increments \
             lost — every request carried the same cookie, each answer set its own, and the \
             browser kept the last (no lock on the server can help: it keeps nothing to lock)",
            before.views, after.views
        ),
        (Some(before), Some(after), Some(0)) => format!(
            "Burst of {count} parallel visits{mode}: views {} → {}, all {count} counted",
            before.views, after.views
        ),
        (Some(before), Some(after), Some(lost)) => format!(
            "Burst of {count} parallel visits{mode}: views {} → {}, {lost} of {count} increments \
             lost — each request loaded the session, added one and saved over the others (a lost \
             update)",
            before.views, after.views
        ),
        (None, _, _) if outcome.safe.is_some() => format!(
            "Burst of {count} parallel visits without a session cookie: each request got its own \
             new session (visit once first to race on one session)"
        ),
        _ => format!("Burst of {count} parallel visits finished"),
    }
}

fn jar_text(edit: &JarEdit) -> String {
    match edit {
        JarEdit::Cleared { count } => {
            format!("Cleared {count} cookie(s): the next visit arrives without a session cookie")
        }
        JarEdit::Deleted(key) => {
            format!("Deleted cookie “{}” ({}{})", key.name, key.domain, key.path)
        }
        JarEdit::Edited { cookie, value } => format!(
            "Edited cookie “{}” to {}: the server will see if it was tampered with",
            cookie.name,
            short(value)
        ),
        JarEdit::Copied { cookie, from } => format!(
            "Copied cookie “{}” from {from}: this browser now presents {from}'s session (a hijack)",
            cookie.name
        ),
        JarEdit::Imported { count, format } => {
            format!("Imported {count} cookie(s) from a {format} file: the next visit presents them")
        }
    }
}

fn switch_text(switch: BrowserSwitch) -> String {
    let text = match switch {
        BrowserSwitch::Cookies(true) => "Cookies on",
        BrowserSwitch::Cookies(false) => {
            "Cookies off: this browser neither sends nor stores cookies, so every visit is a stranger"
        }
        BrowserSwitch::From(RequestFrom::AddressBar) => {
            "Requests come from the address bar again: every cookie for the address goes"
        }
        BrowserSwitch::From(from @ RequestFrom::Link(_)) => {
            return format!(
                "Requests now come from {}: a navigation from another site carries Lax cookies, not Strict ones",
                from.describe()
            );
        }
        BrowserSwitch::From(from @ RequestFrom::Embed(_)) => {
            return format!(
                "Requests now come from {}: a request embedded in another site's page carries only SameSite=None cookies",
                from.describe()
            );
        }
        BrowserSwitch::Spread(true) => {
            "Visits now go to the server instances in turn (round-robin); the cookie for 127.0.0.1 goes to every port"
        }
        BrowserSwitch::Spread(false) => "Visits go to the address as typed again",
    };
    text.to_owned()
}

/// What changed between two settings, and what it means for existing sessions.
pub fn settings_text(changes: &[SettingChange], old_cookies_still_valid: bool) -> String {
    if changes.is_empty() {
        return "Settings applied: nothing changed".to_owned();
    }
    let names: Vec<String> = changes.iter().map(setting_change_text).collect();
    let consequence = if old_cookies_still_valid {
        "existing sessions continue; the new attributes apply to cookies set from now on"
    } else {
        "existing cookies are no longer recognised, so every browser's next visit starts a new \
         session (the old sessions stay in the store until they expire)"
    };
    format!(
        "Settings applied in place ({}): {consequence}",
        names.join(", ")
    )
}

fn setting_change_text(change: &SettingChange) -> String {
    let on = |b: &bool| if *b { "on" } else { "off" };
    match change {
        SettingChange::CookieName { old, new } => format!("cookie name {old} → {new}"),
        SettingChange::Protection { old, new } => {
            format!("protection {} → {}", old.as_str(), new.as_str())
        }
        SettingChange::KeptIn(kept_in) => format!("session kept in {}", kept_in.as_str()),
        SettingChange::HttpOnly(value) => format!("HttpOnly {}", on(value)),
        SettingChange::Secure(value) => format!("Secure {}", on(value)),
        SettingChange::SameSite(value) => format!("SameSite={}", value.as_str()),
        SettingChange::Path(path) => format!("Path={path}"),
        SettingChange::Domain(Some(domain)) => format!("Domain={domain}"),
        SettingChange::Domain(None) => "host-only (no Domain)".to_owned(),
        SettingChange::Expiry(policy) => format!("expiry: {}", expiry_text(policy)),
        SettingChange::AlwaysSave(value) => format!("resave + rolling {}", on(value)),
        SettingChange::RegenerateOnLogin(true) => "a new session id at login".to_owned(),
        SettingChange::RegenerateOnLogin(false) => {
            "the same session id after login (open to fixation)".to_owned()
        }
        SettingChange::DestroyOnLogout(true) => "logout deletes the session".to_owned(),
        SettingChange::DestroyOnLogout(false) => {
            "logout only clears the cookie (the session lives on)".to_owned()
        }
        SettingChange::CountedIds(true) => "counted session ids (weak: guessable)".to_owned(),
        SettingChange::CountedIds(false) => "random 128-bit session ids".to_owned(),
        SettingChange::IdInUrl(true) => {
            "session ids in URLs, no cookie (cookieless: anyone the URL reaches holds the session)"
                .to_owned()
        }
        SettingChange::IdInUrl(false) => "session ids in cookies, not in URLs".to_owned(),
        SettingChange::SecureRequests(which) => {
            format!("a Secure cookie is set on {}", which.as_str())
        }
        SettingChange::SaveUninitialized(value) => format!("saveUninitialized {}", on(value)),
        SettingChange::LockPerSession(true) => "per-session lock on (safe server)".to_owned(),
        SettingChange::LockPerSession(false) => "per-session lock off (naive server)".to_owned(),
        SettingChange::MaxSessions(limit) => format!("at most {} sessions", count(*limit as u64)),
        SettingChange::StoreLatency(0) => "no store latency".to_owned(),
        SettingChange::StoreLatency(ms) => {
            format!(
                "store latency {ms} ms (each store call waits, like a database across a network)"
            )
        }
    }
}

/// The cookie settings in a line, to label an audit: "signed cookie “id”: HttpOnly, Secure,
/// SameSite=Lax, ends when the browser closes".
pub fn settings_summary(settings: &crate::server::ServerSettings) -> String {
    let mut flags = Vec::new();
    if settings.http_only {
        flags.push("HttpOnly".to_owned());
    }
    if settings.secure {
        flags.push("Secure".to_owned());
    }
    flags.push(format!("SameSite={}", settings.same_site.as_str()));
    if let Some(domain) = &settings.domain {
        flags.push(format!("Domain={domain}"));
    }
    if !settings.lock_per_session {
        flags.push("no per-session lock".to_owned());
    }
    if settings.kept_in == crate::server::KeptIn::Cookie {
        flags.push("the session's data in the cookie".to_owned());
    }
    format!(
        "{} cookie “{}”: {}, ends {}",
        settings.protection.as_str(),
        settings.cookie_name,
        flags.join(", "),
        expiry_text(&settings.expiry)
    )
}

/// When sessions end, in words.
pub fn expiry_text(policy: &ExpiryPolicy) -> String {
    match policy {
        ExpiryPolicy::BrowserSession => "when the browser closes".to_owned(),
        ExpiryPolicy::OnInactivity { secs } => format!("after {secs} s without a request"),
        ExpiryPolicy::AtDateTime(at) => format!("at {at}"),
    }
}

fn problem_text(problem: &Problem) -> String {
    match problem {
        Problem::ServerNotRunning => "The embedded server is not running".to_owned(),
        Problem::TooManyBrowsers { max } => {
            format!("There are already {max} browsers; remove one to add another")
        }
        Problem::BrowserFailed(error) => error.words().to_owned(),
        Problem::CookieGone { name } => format!("Cookie “{name}” is no longer in the jar"),
        Problem::JarEditFailed(error) => error.to_string(),
        Problem::HistoryUnreadable(why) => format!("its saved history cannot be read: {why}"),
        Problem::TimeoutNotPositive => {
            "The inactivity timeout must be at least one second".to_owned()
        }
        Problem::ExpiryInPast => "The expiry time is already past; choose a later one".to_owned(),
        Problem::SettingsOutOfBounds(why) => format!("These settings cannot run: {why}"),
        Problem::RestartFailed(error) => {
            format!("Restart failed, the server keeps its current store: {error}")
        }
        Problem::InstanceRestartFailed(error) => format!("An instance did not restart: {error}"),
        Problem::InstanceFailed { number, error } => {
            format!("Could not start instance {number}: {error}")
        }
        Problem::DeleteFailed(why) => {
            format!("Could not delete the Audit's and Load's sessions from the store: {why}")
        }
    }
}

/// A `Cookie` header with each value shortened: `id=3f2a9c01…; theme=dark`.
pub fn short_cookie_header(header: &str) -> String {
    header
        .split("; ")
        .map(|pair| match pair.split_once('=') {
            Some((name, value)) => format!("{name}={}", short(value)),
            None => pair.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn short_agent(agent: &str) -> String {
    const KEEP: usize = 40;
    match agent.char_indices().nth(KEEP) {
        Some((cut, _)) => format!("{}…", &agent[..cut]),
        None => agent.to_owned(),
    }
}

/// "Clock moved ahead 1 h: it now runs 1 h ahead of real time; sessions and cookies that fell
/// due in that hour are gone (2 cookies dropped)".
fn clock_text(moved: &ClockMoved) -> String {
    let dropped = match moved.cookies_dropped {
        0 => String::new(),
        1 => " (1 expired cookie dropped by the browsers)".to_owned(),
        n => format!(" ({n} expired cookies dropped by the browsers)"),
    };
    match moved.by {
        Some(by) => format!(
            "Clock moved ahead {}: it now runs {} ahead of real time; whatever fell due meanwhile \
             expired at once, on the server and in the jars{dropped}",
            duration_text(by),
            duration_text(moved.ahead)
        ),
        None => format!(
            "Clock back to real time: what expired stays expired; sessions and cookies made while \
             it ran ahead keep the dates they got{dropped}"
        ),
    }
}

/// Why a load, an audit or a scenario's step could not run, as the log and the panels write
/// it: the error's words, cut to the log's bound (a route typed in the Audit tab can be long;
/// a [`Shared`](super::Shared) error inside is cut already).
pub fn failure_text(error: &dyn std::fmt::Display) -> String {
    cut_text(&error.to_string(), super::log::LOG_TEXT_MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The diff names each changed key with its old and new value.
    #[test]
    fn diff_names_changed_keys() {
        let before = DataText::from_json(br#"{"views":2}"#);
        let after = DataText::from_json(br#"{"views":3}"#);
        assert_eq!(diff_text(&before, &after), "views 2→3");
    }

    /// Big counts are grouped in thousands.
    #[test]
    fn counts_are_grouped() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1000), "1,000");
        assert_eq!(count(100_001), "100,001");
        assert_eq!(count(1_000_000), "1,000,000");
    }

    /// Ids are cut to eight characters with an ellipsis; short text is left alone.
    #[test]
    fn short_cuts_long_ids() {
        assert_eq!(short("3f2a9c01deadbeef"), "3f2a9c01…");
        assert_eq!(short("abc"), "abc");
    }

    /// Time left reads like the design: days and hours far out, seconds near the end.
    #[test]
    fn time_left_reads_naturally() {
        let now = OffsetDateTime::UNIX_EPOCH;
        let at = |secs| now + Duration::seconds(secs);
        assert_eq!(time_left(now, at(14 * 86_400 - 3600)), "13d 23h");
        assert_eq!(time_left(now, at(3 * 3600 + 5 * 60)), "3h 05m");
        assert_eq!(time_left(now, at(129)), "2m 09s");
        assert_eq!(time_left(now, at(42)), "42s");
        assert_eq!(time_left(now, at(-1)), "expired");
    }

    /// Far-off expiries ask for a repaint within a minute, near ones within a second.
    #[test]
    fn repaint_follows_the_text() {
        let now = OffsetDateTime::UNIX_EPOCH;
        let far = time_left_changes_in(now, now + Duration::days(3)).unwrap();
        let near = time_left_changes_in(now, now + Duration::milliseconds(42_500)).unwrap();
        assert!(far <= std::time::Duration::from_secs(60));
        assert_eq!(near, std::time::Duration::from_millis(500));
        assert!(time_left_changes_in(now, now - Duration::seconds(1)).is_none());
    }
}
