//! Logout: whether the session ends on the server, or only in the browser.

use super::*;

impl Audit<'_> {
    /// Does the old cookie still open the session after logout?
    pub(super) async fn logout(&mut self, first: &FirstContact) -> Result<(), AuditError> {
        const CHECK: &str = "logout-invalidates";
        const NAME: &str = "Logout ends the session";
        let Some(route) = self.options.logout.clone() else {
            self.check(
                CHECK,
                NAME,
                CheckStatus::Skipped,
                "give --logout (e.g. /logout) to check".to_owned(),
            );
            return Ok(());
        };
        self.tell("logout", 0, 1);
        let before = self.findings.len();
        let browser = self.browser()?;
        let url = self.counter_url.clone();
        if let Some(login) = self.options.login.clone() {
            self.visit(&browser, &url).await?;
            self.follow(&browser, &login).await?;
        }
        self.visit(&browser, &url).await?;
        let live = self.visit(&browser, &url).await?;
        let Some(copy) = self.copy_of(&browser) else {
            self.check(
                CHECK,
                NAME,
                CheckStatus::Skipped,
                "no session to log out of".to_owned(),
            );
            return Ok(());
        };
        // What the store held before the logout (with a store): whether the user was in it.
        let before_logout = self.record_of(&copy.value).await;
        let out = self.follow(&browser, &route).await?;
        if out.status >= 400 {
            // The logout did not happen: nothing to judge about what it does.
            self.find(
                CHECK,
                "logout-route-fails",
                Severity::Medium,
                format!("The logout route answers {}", out.status),
                format!(
                    "{route} answered {} {}, so the audit did not judge what a logout does to \
                     the session. Users who get this answer may still be logged in.",
                    out.status,
                    excerpt(&out.body, 60)
                ),
                vec![evidence("the logout", &out)],
            );
            self.close(
                CHECK,
                NAME,
                before,
                format!("the logout route answered {}: not judged", out.status),
            );
            return Ok(());
        }
        let cleared = out.set_cookies().filter_map(SetCookie::parse).any(|c| {
            c.name == self.cookie_name
                && (c.is_removal(OffsetDateTime::now_utc()) || c.value.is_empty())
        });
        // The old cookie, replayed by another browser.
        let again = self.replay(&copy).await?;
        let replaced = self
            .session_cookie(&again)
            .is_some_and(|c| c.value != copy.value);
        let client_side = self.kind.kind.client_side();
        // A session kept in the cookie answers a replay with a new value (its data changed):
        // whether the old state went on is what tells.
        let alive = if client_side {
            Self::continues(first, &again)
        } else {
            !replaced && again.body != first.stranger_body && again.body != live.body
        };
        if alive && client_side {
            self.find(
                CHECK,
                "logout-not-revocable",
                Severity::High,
                "Logout cannot end the session: a copy of the cookie still gets in",
                format!(
                    "The cookie is the session itself ({}). After {route}, the cookie from before \
                     it, replayed from another browser, still opened the session (it answered \
                     “{}” where a stranger gets “{}”): the server keeps nothing it could delete.",
                    self.kind.kind.describe(),
                    excerpt(&again.body, 60),
                    excerpt(&first.stranger_body, 60)
                ),
                vec![
                    evidence("the logout", &out),
                    evidence("the old cookie replayed", &again),
                ],
            );
        } else if alive {
            // What the old cookie still opens: still logged in, or an anonymous session whose
            // data goes on (an app that only removed the user)? The store says; else the page,
            // if it shows the user.
            let logged_in_before = self.options.login.is_some();
            let record = self.record_of(&copy.value).await;
            let in_store = record.as_ref().and_then(|r| r.as_ref());
            // The user counts as removed only if the record named it before the logout and
            // does not after (an app may keep a user id the audit cannot recognise).
            let named_before = before_logout
                .as_ref()
                .and_then(|r| r.as_ref())
                .map(super::store::held_user);
            let user_in_record = match (named_before, in_store.map(super::store::held_user)) {
                (Some(true), after) => after,
                (_, Some(true)) => Some(true),
                _ => None,
            };
            let user_on_page = again.body.contains(AUDIT_USER);
            let still_user = logged_in_before && user_in_record.unwrap_or(user_on_page);
            let stored = in_store
                .map(|s| format!(" The store still holds its record, {}.", self.shown_data(s)))
                .unwrap_or_default();
            if logged_in_before && user_in_record == Some(false) {
                self.find(
                    CHECK,
                    "logout-keeps-anonymous-session",
                    Severity::Low,
                    "Logout removes the user but keeps the session",
                    format!(
                        "After {route}, the old cookie, replayed from another browser, still \
                         opens the same session — no longer logged in, but its data goes on (it \
                         answered “{}”).{stored}",
                        excerpt(&again.body, 60),
                    ),
                    vec![
                        evidence("the logout", &out),
                        evidence("the old cookie replayed", &again),
                    ],
                );
            } else {
                let whether = if still_user {
                    format!(" It is still logged in as {AUDIT_USER}.")
                } else if logged_in_before {
                    " Whether it is still logged in does not show on the page (--watch STORE \
                     reads the record)."
                        .to_owned()
                } else {
                    String::new()
                };
                self.find(
                    CHECK,
                    "logout-session-alive",
                    Severity::High,
                    if still_user {
                        "The session outlives logout, still logged in"
                    } else {
                        "The session outlives logout"
                    },
                    format!(
                        "After {route}, the old cookie, replayed from another browser, still opened the session (it answered “{}” where a stranger gets “{}”).{whether}{stored}",
                        excerpt(&again.body, 60),
                        excerpt(&first.stranger_body, 60)
                    ),
                    vec![evidence("the logout", &out), evidence("the old cookie replayed", &again)],
                );
            }
        }
        if !cleared {
            self.find(
                CHECK,
                "logout-cookie-kept",
                Severity::Low,
                "Logout does not clear the session cookie",
                format!(
                    "The answer to {route} sets no expired {} cookie.",
                    self.cookie_name
                ),
                vec![evidence("the logout", &out)],
            );
        }
        let ended = if alive || client_side {
            "the session is deleted"
        } else {
            match self.record_of(&copy.value).await {
                Some(None) => "the session is deleted (the store no longer holds its record)",
                Some(Some(_)) => {
                    "the old cookie no longer opens the session, though the store still holds \
                     its record"
                }
                None => "the session is deleted",
            }
        };
        let summary = match (alive, cleared) {
            (false, true) => format!("{ended} and the cookie cleared"),
            (false, false) => format!("{ended}, but the cookie is not cleared"),
            (true, _) => "the old cookie still opens the session".to_owned(),
        };
        self.close(CHECK, NAME, before, summary);
        Ok(())
    }
}
