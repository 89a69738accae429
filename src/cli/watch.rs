//! `session-lab watch STORE`, and the watched store's part of `demo --watch`: an
//! application's sessions as its own store holds them, with the lab's browsers that hold them.

use std::{collections::HashSet, process::ExitCode, sync::Arc, time::Duration};

use anyhow::Context as _;
use serde_json::{Value, json};
use session_lab_base::words::{json_visible, visible};
use time::{OffsetDateTime, format_description::well_known::Rfc3339};

use crate::{
    lab::{LabState, WatchedState, text::time_left},
    server::{SessionChange, SessionRow},
    watch::{StoreAddress, Watch, WatchStatus},
};

/// How long the store may take to be opened and its format found.
const OPEN_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the first listing may take before `watch` says so.
const FIRST_LISTING_TIMEOUT: Duration = Duration::from_secs(30);

/// Follows the store until Ctrl-C (or prints it once).
pub fn follow(store: &str, once: bool, json_out: bool) -> anyhow::Result<ExitCode> {
    let address = StoreAddress::parse(store)?;
    let runtime = super::runtime()?;
    runtime.block_on(async move {
        let watch = Watch::start(address.clone());
        let bell = Arc::new(tokio::sync::Notify::new());
        let ring = bell.clone();
        watch.feed().listen(Arc::new(move || ring.notify_one()));
        let mut status = watch.wait_for_format(OPEN_TIMEOUT).await;
        if let Some(waiting) = &status.waiting {
            if once {
                if json_out {
                    let object = json!({ "store": address.shown(), "format": null, "sessions": [], "waiting": waiting });
                    println!("{}", json_visible(&serde_json::to_string_pretty(&object)?));
                } else {
                    println!("{}", visible(waiting));
                }
                return Ok(ExitCode::SUCCESS);
            }
            eprintln!("{}; waiting (Ctrl-C stops)…", visible(waiting));
            loop {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => return Ok(ExitCode::SUCCESS),
                    () = tokio::time::sleep(Duration::from_millis(200)) => {}
                }
                status = watch.status();
                if status.format.is_some() || status.error.is_some() {
                    break;
                }
            }
        }
        let Some(format) = status.format else {
            let why = status
                .error
                .unwrap_or_else(|| format!("{address}: no answer within {} s", OPEN_TIMEOUT.as_secs()));
            anyhow::bail!("{why}");
        };
        let status = watch.wait_for_listings(1, FIRST_LISTING_TIMEOUT).await;
        let mut known: HashSet<crate::server::SessionId> = HashSet::new();
        let mut first: Vec<SessionRow> = Vec::new();
        for change in watch.feed().take().into_vec() {
            if let SessionChange::Written(row) = change {
                known.insert(row.id);
                first.push(row);
            }
        }
        first.sort_by(|a, b| a.key.cmp(&b.key));
        let now = OffsetDateTime::now_utc();
        if json_out {
            let sessions: Vec<Value> = first.iter().map(|r| row_json(r, now, &[])).collect();
            let object = json!({
                "store": address.shown(),
                "format": format.name(),
                "framework": format.title(),
                "sessions": sessions,
                "partial": status.partial,
                "error": status.error,
                "live": status.live,
            });
            let text = if once {
                serde_json::to_string_pretty(&object)?
            } else {
                object.to_string()
            };
            println!("{}", json_visible(&text));
        } else {
            println!(
                "{} — {}, {} session{} (read-only){}",
                visible(&address.shown()),
                format.title(),
                first.len(),
                if first.len() == 1 { "" } else { "s" },
                status.partial.as_deref().map_or(String::new(), |p| format!("; {p}"))
            );
            for row in &first {
                println!("  {}", row_line(row, now));
            }
        }
        if let Some(error) = &status.error {
            // A listing that failed is no empty store.
            eprintln!("! {}", visible(error));
            if once {
                return Ok(ExitCode::FAILURE);
            }
        }
        if once {
            return Ok(ExitCode::SUCCESS);
        }
        if !json_out {
            match &status.live {
                Some(pattern) => println!(
                    "Following it (Redis keyspace notifications, {pattern}); Ctrl-C stops."
                ),
                None => println!("Following it; Ctrl-C stops."),
            }
        }
        let mut last_error: Option<String> = None;
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => break,
                () = bell.notified() => {}
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
            let status = watch.status();
            if status.error != last_error {
                match &status.error {
                    Some(error) => eprintln!("! {}", visible(error)),
                    None => eprintln!("  the store can be read again"),
                }
                last_error = status.error.clone();
            }
            let now = OffsetDateTime::now_utc();
            let batch = watch.feed().take();
            if batch.reset {
                // The watch started over (it fell behind): what follows is the whole store.
                known.clear();
                if !json_out {
                    println!("(the store is listed again from the start)");
                }
            }
            for change in batch.into_vec() {
                let (what, line) = match &change {
                    SessionChange::Written(row) => {
                        let new = known.insert(row.id);
                        (if new { "new" } else { "changed" }, row_json(row, now, &[]))
                    }
                    SessionChange::Removed { id, reason } => {
                        known.remove(id);
                        let reason = match reason {
                            crate::server::DeleteReason::Expired => "expired",
                            _ => "gone",
                        };
                        (reason, json!({ "id_hash": id.to_string() }))
                    }
                };
                if json_out {
                    let text = json!({ "change": what, "session": line }).to_string();
                    println!("{}", json_visible(&text));
                } else {
                    match change {
                        SessionChange::Written(row) => println!("{} {}", mark(what), row_line(&row, now)),
                        SessionChange::Removed { .. } => println!("- left ({what})"),
                    }
                }
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

fn mark(what: &str) -> &'static str {
    if what == "new" { "+" } else { "~" }
}

/// One session as a line: id, time left, data.
fn row_line(row: &SessionRow, now: OffsetDateTime) -> String {
    format!(
        "{:<44} {:>9}  {}",
        visible(row.key.as_deref().unwrap_or("?")),
        time_left(now, row.expires_at),
        visible(&crate::lab::text::data_text(&row.data))
    )
}

/// One session as JSON: its id, holders, data (JSON where it decoded), expiry.
fn row_json(row: &SessionRow, now: OffsetDateTime, holders: &[String]) -> Value {
    let data: Value = serde_json::from_str(row.data.as_str())
        .unwrap_or_else(|_| Value::String(row.data.as_str().to_owned()));
    let never = crate::server::never_expires(row.expires_at);
    json!({
        "id": row.key.as_deref(),
        "holders": holders,
        "data": data,
        "data_cut": row.data.is_cut(),
        "expires": (!never).then(|| row.expires_at.format(&Rfc3339).ok()).flatten(),
        "expires_in_secs": (!never).then(|| (row.expires_at - now).whole_seconds()),
        "updated": row.updated_at.and_then(|at| at.format(&Rfc3339).ok()),
    })
}

/// The watched store's sessions in the lab's state, each with the browsers that hold it, as
/// JSON.
pub fn watched_json(watched: &WatchedState, state: &LabState) -> Value {
    let now = OffsetDateTime::now_utc();
    let sessions: Vec<Value> = watched
        .sessions
        .ordered()
        .map(|view| {
            let holders: Vec<String> = watched
                .holders
                .of(view.id)
                .iter()
                .filter_map(|name| {
                    state
                        .browsers
                        .iter()
                        .find(|b| b.name.eq_ignore_ascii_case(name))
                })
                .map(|b| b.name.clone())
                .collect();
            let row = SessionRow {
                id: view.id,
                data: view.data.clone(),
                expires_at: view.expires_at(),
                created_at: view.created_at(),
                updated_at: view.updated_at(),
                key: watched.key(view.id).map(Into::into),
            };
            row_json(&row, now, &holders)
        })
        .collect();
    json!({
        "store": watched.address,
        "format": watched.format().map(|f| f.name()),
        "framework": watched.format().map(|f| f.title()),
        "sessions": sessions,
        "partial": watched.status.partial,
        "error": watched.status.error,
    })
}

/// The watched store's sessions as text: holder, id, time left, data.
pub fn watched_text(watched: &WatchedState) -> String {
    let now = OffsetDateTime::now_utc();
    let status: &WatchStatus = &watched.status;
    let mut out = format!(
        "Watched store {} — {}, {} session{}{}\n",
        visible(&watched.address),
        watched.format().map_or("format unknown", |f| f.title()),
        watched.sessions.len(),
        if watched.sessions.len() == 1 { "" } else { "s" },
        status
            .partial
            .as_deref()
            .map_or(String::new(), |p| format!("; {p}"))
    );
    if let Some(error) = &status.error {
        out.push_str(&format!("  cannot be read: {}\n", visible(error)));
    }
    out.push_str(&format!(
        "{:<8} {:<44} {:>9}  data\n",
        "browser", "session id", "expires"
    ));
    // The browsers' sessions first, then a few of the rest.
    let (held, others): (Vec<_>, Vec<_>) = watched
        .sessions
        .ordered()
        .partition(|view| !watched.holders.of(view.id).is_empty());
    let hidden = others.len().saturating_sub(MAX_UNHELD_SHOWN);
    for view in held
        .into_iter()
        .chain(others.into_iter().take(MAX_UNHELD_SHOWN))
    {
        let holders = watched.holders.of(view.id);
        let holder = if holders.is_empty() {
            "-".to_owned()
        } else {
            holders
                .iter()
                .map(|h| h.to_uppercase())
                .collect::<Vec<_>>()
                .join(",")
        };
        out.push_str(&format!(
            "{:<8} {:<44} {:>9}  {}\n",
            holder,
            visible(watched.key(view.id).unwrap_or("?")),
            time_left(now, view.expires_at()),
            visible(&crate::lab::text::data_text(&view.data))
        ));
    }
    if hidden > 0 {
        out.push_str(&format!(
            "… and {hidden} more that no browser of the lab holds (session-lab watch lists them all)\n"
        ));
    }
    out
}

/// How many sessions no browser of the lab holds the text lists after the browsers' own.
const MAX_UNHELD_SHOWN: usize = 10;

/// Starts watching `store` in the lab and waits for its format (or its failure).
pub fn start_in_lab(
    lab: &crate::lab::Lab,
    state: &mut LabState,
    store: &str,
) -> anyhow::Result<()> {
    StoreAddress::parse(store)?;
    lab.send(crate::lab::ServerCommand::WatchStore(Some(
        store.to_owned(),
    )));
    lab.wait_until(state, OPEN_TIMEOUT, |s| {
        s.watched.as_ref().is_some_and(|w| {
            w.status.format.is_some() || w.status.error.is_some() || w.status.waiting.is_some()
        })
    });
    let watched = state
        .watched
        .as_ref()
        .context("the lab did not start watching the store")?;
    if watched.status.format.is_none() && watched.status.waiting.is_none() {
        anyhow::bail!(
            "{}",
            watched.status.error.clone().unwrap_or_else(|| format!(
                "{}: no answer within {} s",
                watched.address,
                OPEN_TIMEOUT.as_secs()
            ))
        );
    }
    Ok(())
}

/// Waits until the watched store has been listed since the browsers' last request and holds
/// the sessions they hold (or `timeout` passes).
pub fn settle(lab: &crate::lab::Lab, state: &mut LabState, timeout: Duration) {
    let listings = state.watched.as_ref().map_or(0, |w| w.status.listings);
    lab.wait_until(state, timeout, |s| {
        s.watched.as_ref().is_some_and(|w| {
            w.status.format.is_some()
                && w.status.listings > listings
                && w.held_keys(&s.browsers)
                    .iter()
                    .flat_map(|(_, keys)| keys)
                    .all(|k| w.sessions.contains(crate::watch::key_id(k)))
        })
    });
}
