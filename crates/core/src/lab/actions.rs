//! What each command does: browser management, jar edits, server settings, instances, the
//! burst and the load. Each answers with typed events; the words are in `text.rs`.

use std::sync::Arc;

use tokio::task::JoinSet;

use crate::{
    browser::{Browser, CookieKey, CookieRow, RequestFrom, VisitOptions},
    server::{
        CookieSession, ExpiryPolicy, RetiredSecret, RunningServer, Secret, SecretSource,
        ServerConfig, ServerSettings, SessionId, StoreChoice,
    },
};

use super::{
    AuditFailed, AuditRequest, BrowserCommand, BrowserEvent, BrowserId, BrowserSlot, BrowserSwitch,
    BurstOutcome, ClockMove, ClockMoved, Core, JarEdit, LoadFailed, MAX_BROWSERS, MAX_BURST,
    MAX_INSTANCES, Problem, RunEvent, ServerEvent, SettingChange, Shared, USER_AGENT_PREFIX, Views,
    log::LOG_TEXT_MAX, saved::SavedBrowser, server_info, sessions::Maker,
};

/// The longest an old secret is kept accepted: a hundred years.
const MAX_GRACE_SECS: i64 = 100 * 365 * 24 * 3600;

/// Carries out a browser command: none needs the network.
pub(super) fn change_browser(core: &Core, command: BrowserCommand) {
    match command {
        BrowserCommand::AddBrowser { private } => add_browser(core, private),
        BrowserCommand::RemoveBrowser(id) => {
            if core.lock_browsers().remove(&id).is_some() {
                core.outbox.send(BrowserEvent::BrowserRemoved(id));
            }
        }
        BrowserCommand::RenameBrowser(id, name) => {
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
                core.outbox.send(BrowserEvent::BrowserRenamed { id, name });
            }
        }
        BrowserCommand::ClearCookies(id) => with_browser(core, id, |browser| {
            Ok(JarEdit::Cleared {
                count: browser.clear_cookies(),
            })
        }),
        BrowserCommand::DeleteCookie { browser, cookie } => with_browser(core, browser, |b| {
            if b.delete_cookie(&cookie) {
                Ok(JarEdit::Deleted(cookie))
            } else {
                Err(Problem::CookieGone { name: cookie.name })
            }
        }),
        BrowserCommand::EditCookie {
            browser,
            cookie,
            value,
        } => with_browser(core, browser, |b| {
            b.set_cookie_value(&cookie, &value)
                .map_err(Problem::JarEditFailed)?;
            Ok(JarEdit::Edited {
                cookie,
                value: crate::server::cut_text(&value, LOG_TEXT_MAX),
            })
        }),
        BrowserCommand::CopyCookie { from, to, cookie } => copy_cookie(core, from, to, cookie),
        BrowserCommand::ImportCookies {
            browser,
            cookies,
            format,
        } => import_cookies(core, browser, &cookies, format),
        BrowserCommand::RestoreBrowsers(saved) => restore_browsers(core, saved),
        BrowserCommand::SetCookiesEnabled { browser, enabled } => {
            set_option(core, browser, BrowserSwitch::Cookies(enabled), |slot| {
                slot.browser.set_cookies_enabled(enabled);
            });
        }
        BrowserCommand::SetRequestFrom { browser, from } => {
            set_option(core, browser, BrowserSwitch::From(from), |slot| {
                slot.from = from;
            });
        }
        BrowserCommand::SetSpread { browser, spread } => {
            set_option(core, browser, BrowserSwitch::Spread(spread), |slot| {
                slot.spread = spread;
            });
        }
        BrowserCommand::RestartBrowser(id) => {
            let Some(slot) = core.slot(id) else {
                return;
            };
            let dropped = slot.browser.restart(slot.private);
            core.send_cookies(id, &slot.browser);
            core.outbox.send(BrowserEvent::BrowserRestarted {
                browser: id,
                private: slot.private,
                dropped,
            });
        }
    }
}

/// Changes the lab's site (accounts, the attacker's page) and says what it holds now.
pub(super) fn change_site(core: &Core, change: impl FnOnce(&crate::server::Site)) {
    let Some(inspector) = core.inspector() else {
        return;
    };
    let site = inspector.config().site.clone();
    change(&site);
    core.outbox.send(ServerEvent::SiteChanged {
        page: site.page(),
        emails: site.emails(),
    });
}

/// Deletes `ids` from the store; a failure is shown as the lab's problem, with its reason.
pub(super) async fn delete_sessions(core: &Core, ids: &[crate::server::SessionId]) {
    let Some(inspector) = core.inspector() else {
        return;
    };
    if let Err(e) = inspector.delete_sessions(ids).await {
        core.outbox
            .problem(None, Problem::DeleteFailed(e.to_string()));
    }
}

/// Moves the clock; the store's sweep wakes by itself, the browsers drop what expired.
pub(super) fn move_clock(core: &Core, how: ClockMove) {
    let by = match how {
        ClockMove::Ahead(by) => {
            core.clock.advance(by);
            Some(by)
        }
        ClockMove::ToRealTime => {
            core.clock.reset();
            None
        }
    };
    let slots: Vec<(BrowserId, Browser)> = core
        .lock_browsers()
        .iter()
        .map(|(id, slot)| (*id, slot.browser.clone()))
        .collect();
    let mut cookies_dropped = 0;
    for (id, browser) in slots {
        let dropped = browser.drop_expired();
        if dropped > 0 {
            cookies_dropped += dropped;
            core.send_cookies(id, &browser);
        }
    }
    core.outbox.send(ServerEvent::ClockMoved(ClockMoved {
        by,
        ahead: core.clock.ahead(),
        cookies_dropped,
    }));
}

fn add_browser(core: &Core, private: bool) {
    new_browser(core, private, None);
}

/// Adds a browser — the next free name and colour, or those given — and returns it.
fn new_browser(
    core: &Core,
    private: bool,
    named: Option<(String, usize)>,
) -> Option<(BrowserId, Browser)> {
    let mut browsers = core.lock_browsers();
    if browsers.len() >= MAX_BROWSERS {
        drop(browsers);
        core.outbox
            .problem(None, Problem::TooManyBrowsers { max: MAX_BROWSERS });
        return None;
    }
    let id = {
        let mut next = core.next_id.lock();
        let id = BrowserId(*next);
        *next += 1;
        id
    };
    let (name, colour) = named.unwrap_or_else(|| {
        let name = next_free_name(browsers.values().map(|s| s.name.as_str()));
        let colour = (0..)
            .find(|c| browsers.values().all(|s| s.colour != *c))
            .unwrap_or(0);
        (name, colour)
    });
    let user_agent = format!(
        "{USER_AGENT_PREFIX}{} (simulated browser #{}; lab {})",
        env!("CARGO_PKG_VERSION"),
        id.0,
        core.tag
    );
    let authority = core.start.1.tls.as_ref().map(|tls| tls.authority_der());
    let browser = match Browser::in_lab(
        &user_agent,
        core.lab_target(),
        core.clock.clone(),
        authority,
    ) {
        Ok(browser) => browser,
        Err(err) => {
            drop(browsers);
            core.outbox
                .problem(None, Problem::BrowserFailed(Shared::new(err)));
            return None;
        }
    };
    let handle = browser.clone();
    browsers.insert(
        id,
        BrowserSlot {
            name: name.clone(),
            colour,
            private,
            from: RequestFrom::AddressBar,
            spread: false,
            visits: Arc::default(),
            browser,
        },
    );
    drop(browsers);
    core.outbox.send(BrowserEvent::BrowserAdded {
        id,
        name,
        colour,
        private,
    });
    Some((id, handle))
}

/// Replaces every browser with `saved` (a saved lab, or the seed's two): names, colours,
/// options and jars; cookies whose expiry has passed stay out.
fn restore_browsers(core: &Core, saved: Vec<SavedBrowser>) {
    let ids: Vec<BrowserId> = core.lock_browsers().keys().copied().collect();
    for id in ids {
        if core.lock_browsers().remove(&id).is_some() {
            core.outbox.send(BrowserEvent::BrowserRemoved(id));
        }
    }
    let now = core.clock.now();
    for saved in saved.into_iter().take(MAX_BROWSERS) {
        let Some((id, browser)) = new_browser(
            core,
            saved.private,
            Some((saved.name.clone(), saved.colour)),
        ) else {
            continue;
        };
        if !saved.cookies_enabled {
            change_browser(
                core,
                BrowserCommand::SetCookiesEnabled {
                    browser: id,
                    enabled: false,
                },
            );
        }
        let from = saved.request_from();
        if from != RequestFrom::AddressBar {
            change_browser(core, BrowserCommand::SetRequestFrom { browser: id, from });
        }
        if saved.spread {
            change_browser(
                core,
                BrowserCommand::SetSpread {
                    browser: id,
                    spread: true,
                },
            );
        }
        // One at a time: a cookie this jar refuses costs only itself here; those whose expiry
        // passed since stay out.
        for cookie in saved.cookies.iter().filter(|c| !c.is_expired_at(now)) {
            let _ = browser.put_cookie(cookie);
        }
        core.send_cookies(id, &browser);
        if let Some(history) = &saved.history {
            match crate::transfer::exchanges_from_har(history) {
                Ok(exchanges) => core.outbox.send(BrowserEvent::HistoryRestored {
                    browser: id,
                    exchanges,
                }),
                Err(err) => core
                    .outbox
                    .problem(Some(id), Problem::HistoryUnreadable(err)),
            }
        }
    }
    core.outbox.send(BrowserEvent::BrowsersRestored);
}

/// Runs a jar edit, then reports the jar and the outcome.
fn with_browser(
    core: &Core,
    id: BrowserId,
    edit: impl FnOnce(&Browser) -> Result<JarEdit, Problem>,
) {
    let Some(slot) = core.slot(id) else {
        return;
    };
    let outcome = edit(&slot.browser);
    core.send_cookies(id, &slot.browser);
    match outcome {
        Ok(edit) => core
            .outbox
            .send(BrowserEvent::JarEdited { browser: id, edit }),
        Err(problem) => core.outbox.problem(Some(id), problem),
    }
}

fn set_option(
    core: &Core,
    id: BrowserId,
    flipped: BrowserSwitch,
    change: impl FnOnce(&mut BrowserSlot),
) {
    let event = {
        let mut browsers = core.lock_browsers();
        let Some(slot) = browsers.get_mut(&id) else {
            return;
        };
        change(slot);
        BrowserEvent::BrowserOptions {
            browser: id,
            cookies_enabled: slot.browser.cookies_enabled(),
            from: slot.from,
            spread: slot.spread,
            flipped,
        }
    };
    core.outbox.send(event);
}

fn copy_cookie(core: &Core, from: BrowserId, to: BrowserId, key: CookieKey) {
    let (Some(source), Some(target)) = (core.slot(from), core.slot(to)) else {
        return;
    };
    let Some(row) = source
        .browser
        .cookies()
        .into_iter()
        .find(|c| c.key() == key)
    else {
        core.outbox
            .problem(Some(from), Problem::CookieGone { name: key.name });
        return;
    };
    match target.browser.put_cookie(&row) {
        Ok(()) => {
            core.send_cookies(to, &target.browser);
            core.outbox.send(BrowserEvent::JarEdited {
                browser: to,
                edit: JarEdit::Copied {
                    cookie: key,
                    from: source.name,
                },
            });
        }
        Err(err) => core.outbox.problem(Some(to), Problem::JarEditFailed(err)),
    }
}

fn import_cookies(core: &Core, id: BrowserId, cookies: &[CookieRow], format: String) {
    let Some(slot) = core.slot(id) else {
        return;
    };
    match slot.browser.import_cookies(cookies) {
        Ok(()) => {
            core.send_cookies(id, &slot.browser);
            core.outbox.send(BrowserEvent::JarEdited {
                browser: id,
                edit: JarEdit::Imported {
                    count: cookies.len(),
                    format,
                },
            });
        }
        Err(err) => core.outbox.problem(Some(id), Problem::JarEditFailed(err)),
    }
}

pub(super) fn apply_settings(core: &Core, settings: ServerSettings) {
    let Some(first) = core.first() else {
        core.outbox.problem(None, Problem::ServerNotRunning);
        return;
    };
    if let Err(problem) = check_expiry(settings.expiry, core.clock.now()) {
        core.outbox.problem(None, problem);
        return;
    }
    if let Some(why) = settings.out_of_bounds() {
        core.outbox.problem(None, Problem::SettingsOutOfBounds(why));
        return;
    }
    let old = first.inspector().config();
    let changes = SettingChange::between(&old.settings, &settings);
    let config = ServerConfig {
        settings,
        secret: old.secret.clone(),
        secret_source: old.secret_source.clone(),
        retired: old.retired.clone(),
        clock: old.clock.clone(),
        tls: old.tls.clone(),
        site: old.site.clone(),
    };
    for server in core.servers() {
        server.reconfigure(config.clone());
    }
    core.outbox.send(ServerEvent::SettingsApplied {
        info: server_info(&first),
        old_cookies_still_valid: !changes.iter().any(SettingChange::breaks_cookies),
        changes,
    });
    refresh_all_jars(core);
}

fn check_expiry(expiry: ExpiryPolicy, now: time::OffsetDateTime) -> Result<(), Problem> {
    match expiry {
        ExpiryPolicy::OnInactivity { secs } if secs <= 0 => Err(Problem::TimeoutNotPositive),
        ExpiryPolicy::AtDateTime(at) if at <= now => Err(Problem::ExpiryInPast),
        _ => Ok(()),
    }
}

pub(super) fn rotate_secret(core: &Core, grace_secs: Option<u64>) {
    let Some(first) = core.first() else {
        core.outbox.problem(None, Problem::ServerNotRunning);
        return;
    };
    let mut config = (*first.inspector().config()).clone();
    let old = config.secret.fingerprint();
    let now = core.clock.now();
    // However long the grace asked for, it ends within a century (an old secret kept for ever
    // is no rotation), and the sum cannot overflow.
    let old_accepted_until = grace_secs.filter(|secs| *secs > 0).map(|secs| {
        let secs = i64::try_from(secs).unwrap_or(i64::MAX).min(MAX_GRACE_SECS);
        now.saturating_add(time::Duration::seconds(secs))
    });
    match old_accepted_until {
        // Graceful: the old secret still opens cookies for a while (newest first).
        Some(until) => {
            config.retired.retain(|r| r.until > now);
            config.retired.insert(
                0,
                RetiredSecret {
                    secret: config.secret.clone(),
                    until,
                },
            );
        }
        // At once: no old secret opens anything any more.
        None => config.retired.clear(),
    }
    config.secret = Secret::random();
    config.secret_source = SecretSource::ThisProcess;
    let new = config.secret.fingerprint();
    for server in core.servers() {
        server.reconfigure(config.clone());
    }
    core.outbox.send(ServerEvent::SecretRotated {
        info: server_info(&first),
        old,
        new,
        old_accepted_until,
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

/// Sends `count` visits at once and tells what they did to the session's counter.
pub(super) async fn burst(core: &Arc<Core>, id: BrowserId, url: String, count: usize) {
    let count = count.clamp(1, MAX_BURST);
    let Some(slot) = core.slot(id) else {
        return;
    };
    let safe = core
        .inspector()
        .filter(|_| core.is_ours(&url))
        .map(|inspector| inspector.config().settings.lock_per_session);
    let before = session_views(core, &slot.browser).await;
    // All the burst's requests carry the jar as it was at its start, as a page's fetches do
    // when all start before the first answer (see `Browser::cookies_at_start`); a URL the
    // browser cannot visit is left to each visit to report.
    let options = VisitOptions {
        from: slot.from,
        frame: None,
    };
    let cookies = slot
        .browser
        .cookies_at_start(&url, options)
        .ok()
        .map(Arc::new);
    let mut visits = JoinSet::new();
    for _ in 0..count {
        let (core, url, cookies) = (core.clone(), url.clone(), cookies.clone());
        visits.spawn(async move { core.visit_carrying(id, url, cookies).await });
    }
    while visits.join_next().await.is_some() {}
    let after = session_views(core, &slot.browser).await;
    core.watch_after(&slot.browser);
    core.outbox.send(BrowserEvent::BurstFinished(BurstOutcome {
        browser: id,
        sent: count,
        before,
        after,
        safe,
    }));
}

/// Restarts the embedded server (on another store, if asked) and says what became of the
/// sessions; starts it, if it could not start before (its store was unreachable).
pub(super) async fn restart_server(core: &Arc<Core>, store: Option<StoreChoice>) {
    let servers = core.servers();
    let Some(first) = servers.first() else {
        let (bind, config) = core.start.clone();
        let choice = store.unwrap_or_default();
        match RunningServer::start_with(bind, config, choice).await {
            Ok(server) => {
                core.outbox
                    .send(ServerEvent::ServerStarted(server_info(&server)));
                core.add_instance(Arc::new(server));
                refresh_all_jars(core);
            }
            Err(err) => core.outbox.send(ServerEvent::ServerFailed(Arc::new(err))),
        }
        return;
    };
    let sessions_before = first.session_count().await.unwrap_or(0);
    let choice = store.unwrap_or_else(|| first.store_choice());
    if let Err(err) = first.restart_with(choice.clone()).await {
        core.outbox
            .problem(None, Problem::RestartFailed(Shared::new(err)));
        return;
    }
    for extra in &servers[1..] {
        if let Err(err) = extra.restart_with(choice.clone()).await {
            core.outbox
                .problem(None, Problem::InstanceRestartFailed(Shared::new(err)));
        }
    }
    let sessions_after = first.session_count().await.unwrap_or(0);
    core.outbox.send(ServerEvent::ServerRestarted {
        info: server_info(first),
        sessions_before,
        sessions_after,
    });
    refresh_all_jars(core);
}

/// Starts or stops additional server instances so that `count` run (1 to 4), each on the
/// next free port after the first, with the same settings and store configuration.
pub(super) async fn set_instances(core: &Arc<Core>, count: usize) {
    let count = count.clamp(1, MAX_INSTANCES);
    let Some(first) = core.first() else {
        core.outbox.problem(None, Problem::ServerNotRunning);
        return;
    };
    let config = (*first.inspector().config()).clone();
    let choice = first.store_choice();
    loop {
        let running = core.read_instances().len();
        if running == count {
            break;
        }
        if running > count {
            core.remove_last_instance();
            continue;
        }
        // The port after the last instance's, or a free one if that is taken.
        let last_port = core
            .servers()
            .last()
            .map_or(first.addr().port(), |s| s.addr().port());
        let mut addr = first.addr();
        addr.set_port(last_port.saturating_add(1));
        match RunningServer::start_sharing(addr, config.clone(), choice.clone(), first.locks())
            .await
        {
            Ok(server) => core.add_instance(Arc::new(server)),
            Err(err) => {
                core.outbox.problem(
                    None,
                    Problem::InstanceFailed {
                        number: running + 1,
                        error: Shared::new(err),
                    },
                );
                break;
            }
        }
    }
    let urls: Vec<String> = core.servers().iter().map(|s| s.url()).collect();
    core.outbox.send(ServerEvent::InstancesChanged {
        urls,
        store: choice,
    });
}

/// Sends a timed load of visits from new browsers to the embedded server.
/// Audits the target with probes that reach what the lab's browsers reach (the lab's names,
/// https with the lab's authority) but keep every cookie, as a client does.
pub(super) async fn audit(core: &Core, request: AuditRequest) {
    let outcome = async {
        let route = |text: &str| -> Result<Option<crate::audit::Route>, AuditFailed> {
            let text = text.trim();
            if text.is_empty() {
                Ok(None)
            } else {
                Ok(Some(text.parse()?))
            }
        };
        let mut options = crate::audit::AuditOptions::new(request.url.trim());
        options.login = route(&request.login)?;
        options.logout = route(&request.logout)?;
        let counter = request.counter.trim();
        options.counter = (!counter.is_empty()).then(|| counter.to_owned());
        options.samples = request.samples;
        // An audit of another app reads the store the lab watches (the embedded server's own
        // sessions are not in it).
        let ours = url::Url::parse(request.url.trim()).is_ok_and(|url| {
            crate::browser::lab_page(&url).is_some()
                || (core.lab_target())().is_some_and(|addr| {
                    url.port_or_known_default() == Some(addr.port())
                        && url
                            .host_str()
                            .is_some_and(|h| h == "127.0.0.1" || h == "localhost")
                })
        });
        if !ours {
            options.watch = core.watch.lock().as_ref().map(|w| w.address().clone());
        }
        let (target, clock) = (core.lab_target(), core.clock.clone());
        let authority = core
            .start
            .1
            .tls
            .as_ref()
            .map(|tls| tls.authority_der().to_vec());
        options.browsers = Arc::new(move || {
            Ok(Browser::in_lab(
                crate::audit::USER_AGENT,
                target.clone(),
                clock.clone(),
                authority.as_deref(),
            )?
            .into_client())
        });
        let outbox = core.outbox.clone();
        crate::audit::run(options, move |progress| {
            outbox.send(RunEvent::AuditProgress(progress));
        })
        .await
        .map(Arc::new)
        .map_err(|e| AuditFailed::Audit(Shared::new(e)))
    }
    .await;
    // The sessions the probes were given on the embedded server are the audit's: tagged so,
    // not "external".
    if let (Ok(report), Some(server)) = (&outcome, core.first()) {
        let inspector = server.inspector();
        let sessions: Vec<SessionId> = report
            .issued
            .iter()
            .filter_map(|value| {
                inspector
                    .session_of_cookie(&report.cookie_name, value)?
                    .id()
            })
            .collect();
        if !sessions.is_empty() {
            core.outbox.send(RunEvent::MadeSessions {
                by: Maker::Audit,
                sessions,
            });
        }
    }
    core.outbox
        .send(RunEvent::AuditFinished { request, outcome });
}

pub(super) async fn load(core: &Core, visits: usize, browsers: usize) {
    let Some(first) = core.first() else {
        core.outbox
            .send(RunEvent::LoadFinished(Err(LoadFailed::NoServer)));
        return;
    };
    let plan = super::load::LoadPlan {
        url: first.url(),
        visits: visits.clamp(1, super::load::MAX_VISITS),
        browsers: browsers.max(1),
        concurrency: 64,
        cookies: true,
        lab: Some(core.tag.clone()),
    };
    core.outbox.send(RunEvent::LoadStarted {
        visits: plan.visits,
        browsers: plan.browsers,
        concurrency: plan.concurrency,
    });
    let total = plan.visits;
    let outbox = core.outbox.clone();
    let browsers = match super::load::browsers(&plan) {
        Ok(browsers) => browsers,
        Err(err) => {
            core.outbox
                .send(RunEvent::LoadFinished(Err(LoadFailed::Browser(
                    Shared::new(err),
                ))));
            return;
        }
    };
    let result = super::load::run_with(&plan, &browsers, move |done| {
        outbox.send(RunEvent::LoadProgress { done, total });
    })
    .await;
    // The sessions the load's browsers hold are the load's: tagged so, not "external".
    let held: Vec<SessionId> = browsers
        .iter()
        .filter_map(|browser| {
            core.jar_cookies(browser)
                .into_iter()
                .find_map(|c| c.session_id())
        })
        .collect();
    core.outbox.send(RunEvent::MadeSessions {
        by: Maker::Load,
        sessions: held,
    });
    core.outbox.send(RunEvent::LoadFinished(
        result.map_err(|e| LoadFailed::Browser(Shared::new(e))),
    ));
}

/// The browser's session on the embedded server and its views count, read from the store,
/// or from the cookie itself when the session is kept there.
async fn session_views(core: &Core, browser: &Browser) -> Option<Views> {
    let inspector = core.inspector()?;
    match core.jar_cookies(browser).iter().find_map(|c| c.session)? {
        CookieSession::Id(session) => {
            let row = inspector.session(session).await.ok()??;
            Some(Views {
                session: Some(session),
                views: row.data.views()?,
            })
        }
        // The session kept in the cookie: its counter travels in the browser's cookie.
        CookieSession::Data { views } => Some(Views {
            session: None,
            views: views?,
        }),
    }
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

    /// Renaming the cookie breaks old cookies; a flag change does not.
    #[test]
    fn setting_changes_say_what_they_break() {
        let old = ServerSettings::default();
        let mut renamed = old.clone();
        renamed.cookie_name = "sid".into();
        let changes = SettingChange::between(&old, &renamed);
        assert_eq!(
            changes,
            [SettingChange::CookieName {
                old: "id".into(),
                new: "sid".into()
            }]
        );
        assert!(changes[0].breaks_cookies());
        let mut flagged = old.clone();
        flagged.secure = true;
        let changes = SettingChange::between(&old, &flagged);
        assert_eq!(changes, [SettingChange::Secure(true)]);
        assert!(!changes[0].breaks_cookies());
    }
}
