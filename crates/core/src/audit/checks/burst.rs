//! Lost updates: a burst of requests on one session, counted.

use super::*;

impl Audit<'_> {
    /// A burst of concurrent requests on one session: are all its changes kept?
    pub(super) async fn lost_updates(&mut self) -> Result<(), AuditError> {
        const CHECK: &str = "lost-updates";
        const NAME: &str = "Concurrent requests of one session";
        const ROUNDS: usize = 2;
        let burst = self.options.burst.max(2);
        self.tell("concurrency", 0, ROUNDS * burst);
        let before = self.findings.len();
        let browser = self.browser()?;
        let url = self.counter_url.clone();
        let start = self.visit(&browser, &url).await?;
        let held = self.jar_value(&browser);
        let Some(first) = last_number(&start.body) else {
            self.check(
                CHECK,
                NAME,
                CheckStatus::Skipped,
                "the counter's answer holds no number (give --counter a route that counts)"
                    .to_owned(),
            );
            return Ok(());
        };
        // Two rounds: the first also opens the connections, so the second's requests leave
        // at once, as a busy page's do. Each round's requests carry the cookies of its start
        // (see `Browser::cookies_at_start`), so the answer does not hang on the scheduler.
        let mut failed = 0;
        for round in 0..ROUNDS {
            let cookies = Arc::new(browser.cookies_at_start(&url, VisitOptions::default())?);
            let mut tasks = JoinSet::new();
            for _ in 0..burst {
                let (browser, url, cookies) = (browser.clone(), url.clone(), cookies.clone());
                tasks.spawn(async move {
                    browser
                        .visit_carrying(&url, VisitOptions::default(), &cookies)
                        .await
                });
            }
            while let Some(done) = tasks.join_next().await {
                if !matches!(done, Ok(Ok(_))) {
                    failed += 1;
                }
            }
            self.tell("concurrency", (round + 1) * burst, ROUNDS * burst);
        }
        let sent = ROUNDS * burst;
        let end = self.visit(&browser, &url).await?;
        // The browser follows the cookie as it changes (a session kept in the cookie changes
        // it on every answer); only a browser that never got one has no session to test.
        if held.is_none() || self.jar_value(&browser).is_none() {
            self.check(
                CHECK,
                NAME,
                CheckStatus::Skipped,
                "the browser held no session cookie through the burst".to_owned(),
            );
            return Ok(());
        }
        let Some(last) = last_number(&end.body) else {
            self.check(
                CHECK,
                NAME,
                CheckStatus::Skipped,
                "the last answer holds no number".to_owned(),
            );
            return Ok(());
        };
        let expected = first + sent as i64 + 1 - failed;
        let lost = expected - last;
        if lost > 0 {
            self.find(
                CHECK,
                "lost-updates",
                Severity::Medium,
                format!("{lost} of {sent} concurrent updates lost"),
                format!(
                    "{ROUNDS} rounds of {burst} requests at once on one session: the count went from {first} to {last} where {expected} was due.{}",
                    if self.kind.kind.client_side() {
                        " Each request carried the same cookie and each answer set its own: the copy the browser kept last wins, and a lock on the server cannot help (there is no session there to lock)."
                    } else {
                        ""
                    }
                ),
                vec![evidence("before the burst", &start), evidence("after the burst", &end)],
            );
        }
        let summary = format!(
            "{ROUNDS} × {burst} at once: {first} to {last}, {}",
            if lost > 0 {
                format!("{lost} lost")
            } else {
                "all counted".to_owned()
            }
        );
        self.close(CHECK, NAME, before, summary);
        Ok(())
    }
}
