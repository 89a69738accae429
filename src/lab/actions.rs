//! What each command does: browser management, jar edits, server settings, and the burst.

use std::sync::Arc;

use tokio::task::JoinSet;

use crate::{
    browser::Browser,
    server::{Secret, ServerConfig},
};

use super::{
    BrowserId, BrowserSlot, Command, Core, Event, LogLevel, MAX_BROWSERS, MAX_BURST,
    USER_AGENT_PREFIX, server_info, text::short,
};

/// Carries out a command that needs no network.
pub(super) fn apply(core: &Core, command: Command) {
    match command {
        Command::AddBrowser { private } => add_browser(core, private),
        Command::RemoveBrowser(id) => {
            if core.lock_browsers().remove(&id).is_some() {
                core.outbox.send(Event::BrowserRemoved(id));
            }
        }
        Command::RenameBrowser(id, name) => {
            let name = name.trim().to_owned();
            if name.is_empty() {
                return;
            }
            let renamed = match core.lock_browsers().get_mut(&id) {
                Some(slot) => {
                    slot.name = name.clone();
                    true
                }
                None => false,
            };
            if renamed {
                core.outbox.send(Event::BrowserRenamed { id, name });
            }
        }
        Command::ClearCookies(id) => with_browser(core, id, |browser| {
            let count = browser.clear_cookies();
            Ok(format!(
                "Cleared {count} cookie(s): the next visit arrives without a session cookie"
            ))
        }),
        Command::DeleteCookie { browser, cookie } => with_browser(core, browser, |b| {
            if b.delete_cookie(&cookie) {
                Ok(format!(
                    "Deleted cookie “{}” ({}{})",
                    cookie.name, cookie.domain, cookie.path
                ))
            } else {
                Err(format!("Cookie “{}” was already gone", cookie.name))
            }
        }),
        Command::EditCookie {
            browser,
            cookie,
            value,
        } => with_browser(core, browser, |b| {
            b.set_cookie_value(&cookie, &value)?;
            Ok(format!(
                "Edited cookie “{}” to {}: the server will see if it was tampered with",
                cookie.name,
                short(&value)
            ))
        }),
        Command::CopyCookie { from, to, cookie } => copy_cookie(core, from, to, &cookie),
        Command::SetCookiesEnabled { browser, enabled } => {
            set_option(core, browser, |slot| {
                slot.browser.set_cookies_enabled(enabled)
            });
            let text = if enabled {
                "Cookies on"
            } else {
                "Cookies off: this browser neither sends nor stores cookies, so every visit is a stranger"
            };
            core.outbox.note(Some(browser), LogLevel::Info, text);
        }
        Command::SetCrossSite {
            browser,
            cross_site,
        } => {
            set_option(core, browser, |slot| slot.cross_site = cross_site);
            let text = if cross_site {
                "Requests are now cross-site (as if embedded in another site): only SameSite=None cookies go along"
            } else {
                "Requests are same-site again"
            };
            core.outbox.note(Some(browser), LogLevel::Info, text);
        }
        Command::RestartBrowser(id) => {
            let Some(slot) = core.slot(id) else {
                return;
            };
            let dropped = slot.browser.restart(slot.private);
            let text = if slot.private {
                format!(
                    "Closed and reopened (private): the whole jar is gone ({dropped} cookie(s))"
                )
            } else {
                format!(
                    "Closed and reopened: {dropped} session cookie(s) dropped; cookies with an expiry survive"
                )
            };
            core.send_cookies(id, &slot.browser);
            core.outbox.note(Some(id), LogLevel::Info, text);
        }
        Command::ApplySettings(config) => apply_settings(core, config),
        Command::RotateSecret => rotate_secret(core),
        Command::SetSpread { browser, spread } => {
            set_option(core, browser, |slot| slot.spread = spread);
            let text = if spread {
                "Visits now go to the server instances in turn (round-robin); the cookie for 127.0.0.1 goes to every port"
            } else {
                "Visits go to the address as typed again"
            };
            core.outbox.note(Some(browser), LogLevel::Info, text);
        }
        Command::Visit { .. }
        | Command::Burst { .. }
        | Command::Load { .. }
        | Command::RestartServer(_)
        | Command::SetInstances(_) => {
            tracing::error!("network commands are spawned by Lab::send");
        }
    }
}

fn add_browser(core: &Core, private: bool) {
    let mut browsers = core.lock_browsers();
    if browsers.len() >= MAX_BROWSERS {
        drop(browsers);
        core.outbox.note(
            None,
            LogLevel::Warning,
            format!("There are already {MAX_BROWSERS} browsers; remove one to add another"),
        );
        return;
    }
    let id = {
        let mut next = core.next_id.lock().unwrap_or_else(|e| e.into_inner());
        let id = BrowserId(*next);
        *next += 1;
        id
    };
    let name = next_free_name(browsers.values().map(|s| s.name.as_str()));
    let colour = (0..)
        .find(|c| browsers.values().all(|s| s.colour != *c))
        .unwrap_or(0);
    let user_agent = format!(
        "{USER_AGENT_PREFIX}{} (simulated browser #{})",
        env!("CARGO_PKG_VERSION"),
        id.0
    );
    let browser = match Browser::new(&user_agent) {
        Ok(browser) => browser,
        Err(err) => {
            drop(browsers);
            core.outbox.note(None, LogLevel::Error, err.to_string());
            return;
        }
    };
    browsers.insert(
        id,
        BrowserSlot {
            name: name.clone(),
            colour,
            private,
            cross_site: false,
            spread: false,
            visits: Arc::default(),
            browser,
        },
    );
    drop(browsers);
    core.outbox.send(Event::BrowserAdded {
        id,
        name,
        colour,
        private,
    });
}

/// Runs a jar edit, then reports the jar and the outcome.
fn with_browser(core: &Core, id: BrowserId, edit: impl FnOnce(&Browser) -> Result<String, String>) {
    let Some(slot) = core.slot(id) else {
        return;
    };
    let outcome = edit(&slot.browser);
    core.send_cookies(id, &slot.browser);
    match outcome {
        Ok(text) => core.outbox.note(Some(id), LogLevel::Info, text),
        Err(text) => core.outbox.note(Some(id), LogLevel::Error, text),
    }
}

fn set_option(core: &Core, id: BrowserId, change: impl FnOnce(&mut BrowserSlot)) {
    let event = {
        let mut browsers = core.lock_browsers();
        let Some(slot) = browsers.get_mut(&id) else {
            return;
        };
        change(slot);
        Event::BrowserOptions {
            browser: id,
            cookies_enabled: slot.browser.cookies_enabled(),
            cross_site: slot.cross_site,
            spread: slot.spread,
        }
    };
    core.outbox.send(event);
}

fn copy_cookie(core: &Core, from: BrowserId, to: BrowserId, key: &crate::browser::CookieKey) {
    let (Some(source), Some(target)) = (core.slot(from), core.slot(to)) else {
        return;
    };
    let Some(row) = source
        .browser
        .cookies()
        .into_iter()
        .find(|c| c.key() == *key)
    else {
        core.outbox.note(
            Some(from),
            LogLevel::Error,
            format!(
                "Cookie “{}” is no longer in {}'s jar",
                key.name, source.name
            ),
        );
        return;
    };
    match target.browser.put_cookie(&row) {
        Ok(()) => {
            core.send_cookies(to, &target.browser);
            core.outbox.note(
                Some(to),
                LogLevel::Warning,
                format!(
                    "Copied cookie “{}” from {}: this browser now presents {}'s session (a hijack)",
                    key.name, source.name, source.name
                ),
            );
        }
        Err(err) => core.outbox.note(Some(to), LogLevel::Error, err),
    }
}

fn apply_settings(core: &Core, mut config: ServerConfig) {
    let Some(server) = &core.server else {
        core.outbox
            .note(None, LogLevel::Error, "The embedded server is not running");
        return;
    };
    let old = server.inspector().config();
    config.secret = old.secret.clone();
    if let ExpiryCheck::Invalid(why) = check_expiry(&config) {
        core.outbox.note(None, LogLevel::Error, why);
        return;
    }
    let text = settings_change_text(&old, &config);
    for instance in core.instances() {
        instance.reconfigure(config.clone());
    }
    core.outbox.send(Event::ServerReconfigured {
        info: server_info(server),
        text,
    });
    refresh_all_jars(core);
}

enum ExpiryCheck {
    Valid,
    Invalid(String),
}

fn check_expiry(config: &ServerConfig) -> ExpiryCheck {
    use crate::server::ExpiryPolicy;
    match config.expiry {
        ExpiryPolicy::OnInactivity { secs } if secs <= 0 => {
            ExpiryCheck::Invalid("The inactivity timeout must be at least one second".to_owned())
        }
        ExpiryPolicy::AtDateTime(at) if at <= time::OffsetDateTime::now_utc() => {
            ExpiryCheck::Invalid("The expiry time is already past; choose a later one".to_owned())
        }
        _ => ExpiryCheck::Valid,
    }
}

fn rotate_secret(core: &Core) {
    let Some(server) = &core.server else {
        return;
    };
    let mut config = (*server.inspector().config()).clone();
    let old = config.secret.fingerprint();
    config.secret = Secret::random();
    let new = config.secret.fingerprint();
    for instance in core.instances() {
        instance.reconfigure(config.clone());
    }
    core.outbox.send(Event::ServerReconfigured {
        info: server_info(server),
        text: format!(
            "Secret rotated ({old} → {new}): every cookie signed with the old secret is now \
             rejected, so each browser's next visit gets a new session; the old sessions stay \
             in the store until they expire"
        ),
    });
    refresh_all_jars(core);
}

/// Which cookies carry which session depends on the settings: re-tag every jar.
fn refresh_all_jars(core: &Core) {
    let slots: Vec<(BrowserId, Browser)> = core
        .lock_browsers()
        .iter()
        .map(|(id, slot)| (*id, slot.browser.clone()))
        .collect();
    for (id, browser) in slots {
        core.send_cookies(id, &browser);
    }
}

/// What changed between two settings, and what it means for existing sessions.
fn settings_change_text(old: &ServerConfig, new: &ServerConfig) -> String {
    let mut changes = Vec::new();
    let mut breaks_cookies = false;
    if old.cookie_name != new.cookie_name {
        changes.push(format!(
            "cookie name {} → {}",
            old.cookie_name, new.cookie_name
        ));
        breaks_cookies = true;
    }
    if old.protection != new.protection {
        changes.push(format!(
            "protection {} → {}",
            old.protection.as_str(),
            new.protection.as_str()
        ));
        breaks_cookies = true;
    }
    let flags = [
        ("HttpOnly", old.http_only != new.http_only),
        ("Secure", old.secure != new.secure),
        ("SameSite", old.same_site != new.same_site),
        ("Path", old.path != new.path),
        ("Domain", old.domain != new.domain),
        ("expiry", old.expiry != new.expiry),
        ("always-save", old.always_save != new.always_save),
        (
            "per-session lock",
            old.lock_per_session != new.lock_per_session,
        ),
    ];
    changes.extend(
        flags
            .iter()
            .filter(|(_, changed)| *changed)
            .map(|(name, _)| (*name).to_owned()),
    );
    if changes.is_empty() {
        return "Settings applied: nothing changed".to_owned();
    }
    let consequence = if breaks_cookies {
        "existing cookies are no longer recognised, so every browser's next visit starts a new \
         session (the old sessions stay in the store until they expire)"
    } else {
        "existing sessions continue; the new attributes apply to cookies set from now on"
    };
    format!(
        "Settings applied in place ({}): {consequence}",
        changes.join(", ")
    )
}

/// Sends `count` visits at once and tells what they did to the session's counter.
pub(super) async fn burst(core: &std::sync::Arc<Core>, id: BrowserId, url: String, count: usize) {
    let count = count.clamp(1, MAX_BURST);
    let Some(slot) = core.slot(id) else {
        return;
    };
    let ours = core.is_ours(&url);
    let mode = match core.inspector() {
        Some(inspector) if ours && inspector.config().lock_per_session => {
            " on the safe server (one request at a time per session)"
        }
        Some(_) if ours => " on the naive server (no per-session lock)",
        _ => "",
    };
    let before = session_views(core, &slot.browser).await;
    let mut visits = JoinSet::new();
    for _ in 0..count {
        let core = core.clone();
        let url = url.clone();
        visits.spawn(async move { core.visit(id, url).await });
    }
    while visits.join_next().await.is_some() {}
    let after = session_views(core, &slot.browser).await;
    let text = match (ours, before, after) {
        (true, Some((id_before, views_before)), Some((id_after, views_after)))
            if id_before == id_after =>
        {
            let gained = views_after.saturating_sub(views_before);
            let lost = (count as u64).saturating_sub(gained);
            if lost == 0 {
                format!(
                    "Burst of {count} parallel visits{mode}: views {views_before} → {views_after}, all {count} counted"
                )
            } else {
                format!(
                    "Burst of {count} parallel visits{mode}: views {views_before} → {views_after}, \
                     {lost} of {count} increments lost — each request loaded the session, added \
                     one and saved over the others (a lost update)"
                )
            }
        }
        (true, None, _) => format!(
            "Burst of {count} parallel visits without a session cookie: each request got its own \
             new session (visit once first to race on one session)"
        ),
        _ => format!("Burst of {count} parallel visits finished"),
    };
    let level = if text.contains("lost") {
        LogLevel::Warning
    } else {
        LogLevel::Info
    };
    core.outbox.note(Some(id), level, text);
}

/// Restarts the embedded server (on another store, if asked) and says what became of the
/// sessions.
pub(super) async fn restart_server(core: &Core, store: Option<crate::server::StoreChoice>) {
    let Some(server) = &core.server else {
        core.outbox
            .note(None, LogLevel::Error, "The embedded server is not running");
        return;
    };
    let before = server.session_count().await.unwrap_or(0);
    let choice = store.unwrap_or_else(|| server.store_choice());
    if let Err(err) = server.restart_with(choice.clone()).await {
        core.outbox.note(
            None,
            LogLevel::Error,
            format!("Restart failed, the server keeps its current store: {err}"),
        );
        return;
    }
    let extras: Vec<Arc<crate::server::RunningServer>> =
        core.lock_extra().iter().map(|e| e.server.clone()).collect();
    for extra in extras {
        if let Err(err) = extra.restart_with(choice.clone()).await {
            core.outbox.note(
                None,
                LogLevel::Error,
                format!("An instance did not restart: {err}"),
            );
        }
    }
    let after = server.session_count().await.unwrap_or(0);
    let text = match &choice {
        crate::server::StoreChoice::Memory => format!(
            "Server restarted on a memory store: {before} session(s) were in the old process's \
             memory and are gone ({after} now). Each browser's next visit sends a cookie naming \
             a session that no longer exists, so it gets a new one"
        ),
        crate::server::StoreChoice::Sqlite(path) => format!(
            "Server restarted on the SQLite store {}: {after} session(s) were kept on disk, so \
             browsers continue where they were",
            path.display()
        ),
        crate::server::StoreChoice::Redis(url) => format!(
            "Server restarted on the Redis store {url}: {after} session(s) were kept in Redis, \
             so browsers continue where they were"
        ),
    };
    core.outbox.send(Event::ServerReconfigured {
        info: server_info(server),
        text,
    });
    refresh_all_jars(core);
}

/// Starts or stops additional server instances so that `count` run (1 to 4), each on the
/// next free port after the first, with the same settings and store configuration.
pub(super) async fn set_instances(core: &Core, count: usize) {
    let count = count.clamp(1, super::MAX_INSTANCES);
    let Some(first) = &core.server else {
        core.outbox
            .note(None, LogLevel::Error, "The embedded server is not running");
        return;
    };
    let config = (*first.inspector().config()).clone();
    let choice = first.store_choice();
    loop {
        let running = 1 + core.lock_extra().len();
        if running == count {
            break;
        }
        if running > count {
            if let Some(extra) = core.lock_extra().pop() {
                for watcher in &extra.watchers {
                    watcher.abort();
                }
                extra.server.shutdown();
            }
            continue;
        }
        // The port after the last instance's, or a free one if that is taken.
        let last_port = core
            .instances()
            .last()
            .map_or(first.addr().port(), |s| s.addr().port());
        let mut addr = first.addr();
        addr.set_port(last_port.saturating_add(1));
        let started = crate::server::RunningServer::start_sharing(
            addr,
            config.clone(),
            choice.clone(),
            first.locks(),
        )
        .await;
        match started {
            Ok(server) => {
                let server = Arc::new(server);
                let instance = running;
                let inspector = server.inspector().clone();
                let watchers = vec![
                    tokio::spawn(super::watch_store(
                        instance,
                        inspector.clone(),
                        core.outbox.clone(),
                    )),
                    tokio::spawn(super::watch_external(
                        instance,
                        inspector,
                        core.outbox.clone(),
                    )),
                ];
                core.lock_extra().push(super::Extra { server, watchers });
            }
            Err(err) => {
                core.outbox.note(
                    None,
                    LogLevel::Error,
                    format!("Could not start instance {}: {err}", running + 1),
                );
                break;
            }
        }
    }
    let urls: Vec<String> = core.instances().iter().map(|s| s.url()).collect();
    let text = match (&choice, urls.len()) {
        (_, 1) => "One server instance".to_owned(),
        (crate::server::StoreChoice::Memory, n) => format!(
            "{n} server instances, each with its own memory store: a browser spreading its \
             visits over them meets a different session on each ({})",
            urls.join(", ")
        ),
        (crate::server::StoreChoice::Sqlite(path), n) => format!(
            "{n} server instances sharing the SQLite store {}: one session continues across \
             all of them ({})",
            path.display(),
            urls.join(", ")
        ),
        (crate::server::StoreChoice::Redis(url), n) => format!(
            "{n} server instances sharing the Redis store {url}: one session continues across \
             all of them ({})",
            urls.join(", ")
        ),
    };
    core.outbox.send(Event::Instances(urls));
    core.outbox.note(None, LogLevel::Info, text);
}

/// Sends a timed load of visits from new browsers to the embedded server.
pub(super) async fn load(core: &Core, visits: usize, browsers: usize) {
    let Some(server) = &core.server else {
        core.outbox.send(Event::LoadFinished(Err(
            "the embedded server is not running".to_owned(),
        )));
        return;
    };
    let plan = super::load::LoadPlan {
        url: server.url(),
        visits: visits.clamp(1, super::load::MAX_VISITS),
        browsers: browsers.max(1),
        concurrency: 64,
        cookies: true,
    };
    core.outbox.note(
        None,
        LogLevel::Info,
        format!(
            "Load: {} visits from {} new browser(s), 64 at a time…",
            plan.visits, plan.browsers
        ),
    );
    let total = plan.visits;
    let outbox = core.outbox.clone();
    let result = super::load::run(&plan, move |done| {
        outbox.send(Event::LoadProgress { done, total });
    })
    .await;
    core.outbox
        .send(Event::LoadFinished(result.map_err(|e| e.to_string())));
}

/// The browser's session on the embedded server and its views count, read from the store.
async fn session_views(core: &Core, browser: &Browser) -> Option<(String, u64)> {
    let inspector = core.inspector()?;
    let session = core
        .jar_cookies(browser)
        .into_iter()
        .find_map(|c| c.session_id)?;
    let row = inspector.session(&session).await.ok()??;
    let views = row.data.get("views").and_then(serde_json::Value::as_u64)?;
    Some((session, views))
}

/// A, B, …, Z, then A2, B2, …: the first name no browser has.
fn next_free_name<'a>(taken: impl Iterator<Item = &'a str> + Clone) -> String {
    (1..)
        .flat_map(|round: u32| {
            ('A'..='Z').map(move |letter| {
                if round == 1 {
                    letter.to_string()
                } else {
                    format!("{letter}{round}")
                }
            })
        })
        .find(|name| !taken.clone().any(|t| t == name))
        .unwrap_or_else(|| "?".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Names go A, B, … and reuse the first gap.
    #[test]
    fn names_fill_the_first_gap() {
        assert_eq!(next_free_name(["A", "B"].into_iter()), "C");
        assert_eq!(next_free_name(["A", "C"].into_iter()), "B");
        let all: Vec<String> = ('A'..='Z').map(String::from).collect();
        assert_eq!(next_free_name(all.iter().map(String::as_str)), "A2");
    }

    /// Renaming the cookie warns that existing cookies stop working; a flag change does not.
    #[test]
    fn settings_text_names_the_consequence() {
        let old = ServerConfig::with_secret(Secret::from_phrase("x"));
        let mut renamed = old.clone();
        renamed.cookie_name = "sid".into();
        assert!(settings_change_text(&old, &renamed).contains("no longer recognised"));
        let mut flagged = old.clone();
        flagged.secure = true;
        let text = settings_change_text(&old, &flagged);
        assert!(
            text.contains("Secure") && text.contains("continue"),
            "{text}"
        );
    }
}
