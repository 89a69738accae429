//! What the target's own store proves (`--watch STORE`): the record a cookie names, read
//! read-only; login's old record; the record's lifetime against the cookie's; the records
//! anonymous requests leave behind; what a session holds (secrets redacted).

use serde_json::Value;

use super::*;
use crate::watch::WatchedSession;

/// How many cookieless requests the growth probe sends.
const ANONYMOUS_REQUESTS: usize = 50;

/// A record's lifetime and the cookie's may differ by this much before it is a finding.
const LIFETIME_SLACK: time::Duration = time::Duration::minutes(5);

/// The path the growth probe asks for: one no app uses (a 404 page still passes through the
/// session middleware of most frameworks).
const PROBE_PATH: &str = "/session-lab-anonymous-probe";

impl Audit<'_> {
    /// The record a session cookie's value names, read from the store now: `None` without a
    /// store (or a value that names no record by the format's rule), `Some(None)` when the
    /// store does not hold it.
    pub(super) async fn record_of(&mut self, value: &str) -> Option<Option<WatchedSession>> {
        let reader = self.store.as_mut()?;
        let key = reader.key_of_cookie(value)?;
        let read = reader.read(std::slice::from_ref(&key)).await.ok()?;
        read.into_iter().next().map(|(_, session)| session)
    }

    /// A record's data as a report shows it: JSON, secrets redacted unless `--show-secrets`,
    /// cut to a line.
    pub(super) fn shown_data(&self, session: &WatchedSession) -> String {
        let text = match &session.decoded.data {
            Ok(data) => {
                let mut data = data.clone();
                if !self.options.show_secrets {
                    redact(&mut data);
                }
                data.to_string()
            }
            Err(why) => format!("undecodable: {why}"),
        };
        format!("holding {}", excerpt(&text, 160))
    }

    /// The store's check: what it proves beyond the answers.
    pub(super) async fn store_proofs(&mut self, first: &FirstContact) -> Result<(), AuditError> {
        const CHECK: &str = "store";
        const NAME: &str = "What the store holds";
        // Without a store given, the check is not part of the audit.
        let Some(reader) = &self.store else {
            if let Some(note) = self.store_note.clone() {
                self.check(
                    CHECK,
                    NAME,
                    CheckStatus::Skipped,
                    format!("{note} — a new visitor's session left nothing in it"),
                );
            }
            return Ok(());
        };
        let format = reader.format();
        let store = reader.address().shown();
        self.tell("store", 0, 1);
        let before = self.findings.len();
        let mut seen: Vec<String> = vec![format!("{} in {store}", format.title())];
        let now = OffsetDateTime::now_utc();

        // The first session's record against its cookie.
        match self.record_of(&first.cookie.value).await {
            None => seen.push(format!(
                "the cookie {} names no record by {}'s rule",
                self.cookie_name,
                format.title()
            )),
            Some(None) => seen.push("the first visitor's record is not in the store".to_owned()),
            Some(Some(_)) if format == crate::watch::Format::Php => seen.push(
                "PHP keeps no expiry in the file: it is collected once older than \
                 session.gc_maxlifetime (not compared with the cookie: the app's setting is not \
                 visible)"
                    .to_owned(),
            ),
            Some(Some(record)) => {
                let cookie_ends = first
                    .cookie
                    .lifetime(now)
                    .and_then(|l| now.checked_add(l.max(time::Duration::ZERO)));
                // Only the store's own expiry (a TTL, an expiry column) ends a record.
                let store_ends = if record.expiry_from_store {
                    record.expires
                } else {
                    None
                };
                match (store_ends, cookie_ends) {
                    (None, _) => self.find(
                        CHECK,
                        "store-record-never-expires",
                        Severity::Medium,
                        "The store keeps sessions forever",
                        format!(
                            "The record of a new visitor's session in {store} has no expiry (no TTL, no expiry column): every session ever made stays until something deletes it."
                        ),
                        vec![evidence("the response that made the session", &first.exchange)],
                    ),
                    (Some(record_ends), Some(cookie_ends))
                        if (record_ends - cookie_ends).abs() > LIFETIME_SLACK =>
                    {
                        let (longer, by) = if record_ends > cookie_ends {
                            ("longer than the cookie lives", record_ends - cookie_ends)
                        } else {
                            ("shorter than the cookie lives: users are logged out early", cookie_ends - record_ends)
                        };
                        self.find(
                            CHECK,
                            "store-ttl-mismatch",
                            Severity::Low,
                            "The store's lifetime and the cookie's differ",
                            format!(
                                "The record lives until {} (the store's own expiry), the cookie until {}: the store keeps it {} {longer}.",
                                rfc3339(record_ends),
                                rfc3339(cookie_ends),
                                crate::words::duration_text(by.abs())
                            ),
                            vec![evidence("the response that set the cookie", &first.exchange)],
                        );
                    }
                    (Some(record_ends), Some(_)) => seen.push(format!(
                        "the record expires with the cookie ({})",
                        crate::words::duration_text((record_ends - now).abs())
                    )),
                    (Some(record_ends), None) => seen.push(format!(
                        "the record expires in {} (the cookie ends with the browser)",
                        crate::words::duration_text((record_ends - now).abs())
                    )),
                }
            }
        }

        // Login: a new id, and the old record gone.
        if let Some(login) = self.options.login.clone() {
            let browser = self.browser()?;
            let url = self.counter_url.clone();
            self.visit(&browser, &url).await?;
            let old = self.jar_value(&browser);
            let answer = self.follow(&browser, &login).await?;
            let new = self.jar_value(&browser);
            if let (Some(old), Some(new), true) = (&old, &new, answer.status < 400) {
                if old != new {
                    match self.record_of(old).await {
                        Some(Some(record)) => {
                            let shown = self.shown_data(&record);
                            self.find(
                                CHECK,
                                "login-old-record-kept",
                                Severity::Low,
                                "Login leaves the old session's record in the store",
                                format!(
                                    "{login} gave a new id, but the store still holds the record of the id before it, {shown}: the old cookie still opens the pre-login session until it expires."
                                ),
                                vec![evidence("the login", &answer)],
                            );
                        }
                        Some(None) => seen.push(
                            "login regenerated the id and the store deleted the old record"
                                .to_owned(),
                        ),
                        None => {}
                    }
                }
                if let Some(Some(record)) = self.record_of(new).await {
                    seen.push(format!(
                        "a logged-in session's record is {}",
                        self.shown_data(&record)
                    ));
                }
            }
        }

        // Cookieless requests that do not use the session: do they leave records?
        self.tell("store", 0, ANONYMOUS_REQUESTS);
        let probe = parse_http_url(&self.target)?
            .join(PROBE_PATH)
            .map_err(|e| AuditError::Options(e.to_string()))?
            .to_string();
        let mut values = Vec::new();
        for n in 0..ANONYMOUS_REQUESTS {
            let browser = self.browser()?;
            let hops = browser.visit(&probe, VisitOptions::default()).await?;
            values.extend(hops.iter().flat_map(|h| {
                h.set_cookies()
                    .filter_map(SetCookie::parse)
                    .filter(|c| c.name == self.cookie_name && !c.value.is_empty())
                    .map(|c| c.value)
                    .collect::<Vec<_>>()
            }));
            self.tell("store", n + 1, ANONYMOUS_REQUESTS);
        }
        values.sort_unstable();
        values.dedup();
        let mut made = 0usize;
        for value in &values {
            if let Some(Some(_)) = self.record_of(value).await {
                made += 1;
            }
        }
        let per_thousand = made * 1000 / ANONYMOUS_REQUESTS;
        if made > 0 {
            self.find(
                CHECK,
                "store-grows-anonymous",
                Severity::Medium,
                format!(
                    "Anonymous requests leave sessions in the store ({made} of {ANONYMOUS_REQUESTS}: {per_thousand} records per 1,000)"
                ),
                format!(
                    "{ANONYMOUS_REQUESTS} cookieless requests to {PROBE_PATH} (a page that does not use the session) left {made} new records in {store}: a crawler or a bot fills the store at {per_thousand} records per 1,000 requests."
                ),
                Vec::new(),
            );
        } else {
            seen.push(format!(
                "{ANONYMOUS_REQUESTS} cookieless requests to a page that does not use the session left no record"
            ));
        }
        self.close(CHECK, NAME, before, seen.join("; "));
        Ok(())
    }
}

/// Whether a record's data names the audit's user (a login it still holds).
pub(super) fn held_user(session: &WatchedSession) -> bool {
    fn names(value: &Value) -> bool {
        match value {
            Value::String(s) => s == AUDIT_USER,
            Value::Array(items) => items.iter().any(names),
            Value::Object(map) => map.values().any(names),
            _ => false,
        }
    }
    session.decoded.data.as_ref().is_ok_and(names)
}

/// Replaces the values of keys that look secret (a password, a token, a key) with `•••`.
fn redact(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map.iter_mut() {
                let key = key.to_ascii_lowercase();
                if ["pass", "secret", "token", "csrf", "key", "auth", "otp"]
                    .iter()
                    .any(|w| key.contains(w))
                {
                    *inner = Value::String("•••".into());
                } else {
                    redact(inner);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| at.to_string())
}
