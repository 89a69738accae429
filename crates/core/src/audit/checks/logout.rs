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
        let out = self.follow(&browser, &route).await?;
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
            self.find(
                CHECK,
                "logout-session-alive",
                Severity::High,
                "The session outlives logout",
                format!(
                    "After {route}, the old cookie, replayed from another browser, still opened the session (it answered “{}” where a stranger gets “{}”).",
                    excerpt(&again.body, 60),
                    excerpt(&first.stranger_body, 60)
                ),
                vec![evidence("the logout", &out), evidence("the old cookie replayed", &again)],
            );
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
        let summary = match (alive, cleared) {
            (false, true) => "the session is deleted and the cookie cleared".to_owned(),
            (false, false) => "the session is gone, but the cookie is not cleared".to_owned(),
            (true, _) => "the old cookie still opens the session".to_owned(),
        };
        self.close(CHECK, NAME, before, summary);
        Ok(())
    }
}
