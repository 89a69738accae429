//! A server-side session's id: fixation (an invented id), a new id at login, and the ids' strength.

use super::*;

impl Audit<'_> {
    /// Does the server keep a session under an id the client invented?
    pub(super) async fn fixation(&mut self) -> Result<(), AuditError> {
        const CHECK: &str = "session-fixation";
        self.tell("fixation", 0, 1);
        let before = self.findings.len();
        let sample = self.session_values.first().cloned().unwrap_or_default();
        let invented = invent_like(&sample);
        let browser = self.browser_holding(&Held {
            value: invented.clone(),
            companions: Vec::new(),
        })?;
        let url = self.counter_url.clone();
        let one = self.visit(&browser, &url).await?;
        let two = self.visit(&browser, &url).await?;
        let replaced = [&one, &two].iter().any(|e| {
            self.session_cookie(e)
                .is_some_and(|c| c.value != invented && !c.value.is_empty())
        });
        let echoed = self
            .session_cookie(&one)
            .is_some_and(|c| c.value == invented);
        let adopted = echoed || (!replaced && one.body != two.body);
        if adopted {
            self.find(
                CHECK,
                "session-fixation-adopted",
                Severity::High,
                "The server adopts a session id the client invented",
                format!(
                    "A browser sent {}={} (made up by the audit); the server kept a session under it: {}.",
                    self.cookie_name,
                    crate::words::short(&invented),
                    if echoed {
                        "it set the very same id back"
                    } else {
                        "the next request with it continued the same state, with no new id"
                    }
                ),
                vec![
                    evidence("the invented id, first request", &one),
                    evidence("the invented id, second request", &two),
                ],
            );
        }
        let summary = if adopted {
            "the server kept a session under an id the client made up".to_owned()
        } else {
            "an id the client made up was replaced by one the server issued".to_owned()
        };
        self.close(CHECK, "Session fixation (invented id)", before, summary);
        Ok(())
    }

    /// Does the id change at login?
    pub(super) async fn login(&mut self) -> Result<(), AuditError> {
        const CHECK: &str = "login-regenerates";
        const NAME: &str = "New id at login";
        let Some(route) = self.options.login.clone() else {
            self.check(
                CHECK,
                NAME,
                CheckStatus::Skipped,
                "give --login (e.g. \"/login?user={user}\" or \"POST /login user={user}\") to check".to_owned(),
            );
            return Ok(());
        };
        self.tell("login", 0, 1);
        let before = self.findings.len();
        let browser = self.browser()?;
        let url = self.counter_url.clone();
        self.visit(&browser, &url).await?;
        let id_before = self.jar_value(&browser);
        let exchange = self.follow(&browser, &route).await?;
        let id_after = self.jar_value(&browser);
        if exchange.status >= 400 {
            self.check(
                CHECK,
                NAME,
                CheckStatus::Skipped,
                format!("the login route answered {}", exchange.status),
            );
            return Ok(());
        }
        if let Some(value) = &id_after {
            self.session_values.push(value.clone());
        }
        let summary = match (&id_before, &id_after) {
            (Some(old), Some(new)) if old == new => {
                self.find(
                    CHECK,
                    "session-fixation-login",
                    Severity::Medium,
                    "The session id does not change at login",
                    format!(
                        "Before and after {route} the browser holds the same {}={}.",
                        self.cookie_name,
                        crate::words::short(old)
                    ),
                    vec![evidence("the login", &exchange)],
                );
                "the same id before and after login".to_owned()
            }
            (Some(_), Some(_)) => {
                // A planted id is dropped at login: adopting it risks only what a session
                // holds before login.
                if let Some(adopted) = self
                    .findings
                    .iter_mut()
                    .find(|f| f.id == "session-fixation-adopted")
                {
                    adopted.severity = Severity::Medium;
                    adopted.detail.push_str(
                        " Login gives a new id, so a planted id never becomes a logged-in \
                         session: what is at risk is what the session holds before login.",
                    );
                }
                "a new id after login".to_owned()
            }
            (None, Some(_)) => "a session first made at login".to_owned(),
            (_, None) => "no session cookie after login".to_owned(),
        };
        self.close(CHECK, NAME, before, summary);
        Ok(())
    }

    /// Collects fresh ids and tests them; values over [`MAX_ID_BYTES`] are left out.
    /// The ids' strength, and the cookie values collected for it.
    pub(super) async fn id_strength(
        &mut self,
    ) -> Result<(Option<entropy::Analysis>, Vec<String>), AuditError> {
        const CHECK: &str = "session-id-strength";
        const NAME: &str = "Session id strength";
        let total = self.options.samples;
        self.tell("collecting ids", 0, total);
        let browser = self.browser()?;
        browser.set_cookies_enabled(false);
        let url = Arc::new(self.counter_url.clone());
        let mut values = Vec::with_capacity(total);
        let mut tasks = JoinSet::new();
        let mut next = 0;
        let deadline = Instant::now() + crate::audit::STAGE_TIMEOUT;
        while values.len() < total {
            while next < total && tasks.len() < SAMPLE_CONCURRENCY {
                let (browser, url) = (browser.clone(), url.clone());
                tasks.spawn(async move { browser.visit(&url, VisitOptions::default()).await });
                next += 1;
            }
            let Some(done) = tasks.join_next().await else {
                break;
            };
            if let Ok(Ok(hops)) = done
                && let Some(cookie) = hops.iter().find_map(|e| self.session_cookie(e))
            {
                values.push(cookie.value);
                if values.len() % 50 == 0 {
                    self.tell("collecting ids", values.len(), total);
                }
            }
            if next >= total && tasks.is_empty() || Instant::now() > deadline {
                break;
            }
        }
        self.tell("testing ids", 0, 1);
        // A value too large to be an id (client-side data, a hostile server's megabyte) is
        // not fed to the randomness tests, whose cost grows with every bit.
        let collected = values.len();
        values.retain(|v| v.len() <= MAX_ID_BYTES);
        let too_large = collected - values.len();
        if values.len() < 100 {
            let why = if too_large > 0 {
                format!(
                    "{too_large} of {collected} session cookie values are over {MAX_ID_BYTES} \
                     bytes, too large to be session ids (data kept in the cookie?)"
                )
            } else {
                format!(
                    "only {} of {total} fresh visits got a session cookie",
                    values.len()
                )
            };
            self.check(CHECK, NAME, CheckStatus::Skipped, why);
            return Ok((None, values));
        }
        let format = inner_id(&values[0]).map(|(_, format)| format);
        let ids: Vec<String> = values
            .iter()
            .map(|v| inner_id(v).map_or_else(|| v.clone(), |(id, _)| id))
            .collect();
        let before = self.findings.len();
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let analysis = entropy::analyse(&ids, self.options.alpha, now);
        let example = ids[0].clone();
        let mut unique = ids.clone();
        unique.sort_unstable();
        unique.dedup();
        let duplicates = ids.len() - unique.len();
        let seen = format!(
            "{} ids like {} ({}{}); {}",
            ids.len(),
            crate::words::short(&example),
            analysis.encoding.describe(),
            format
                .map(|f| format!(", taken from {f}"))
                .unwrap_or_default(),
            entropy_summary(&analysis)
        );
        if duplicates > 0 {
            self.find(
                CHECK,
                "session-id-duplicate",
                Severity::High,
                format!("{duplicates} new visitors got an id already given"),
                seen.clone(),
                vec![],
            );
        }
        if let Some(pattern) = &analysis.pattern {
            self.find(
                CHECK,
                "session-id-guessable",
                Severity::High,
                format!("Session ids are predictable: {pattern}"),
                seen.clone(),
                vec![],
            );
        } else if analysis.entropy_bits() < entropy::MIN_BITS as f64 {
            self.find(
                CHECK,
                "session-id-weak",
                Severity::High,
                format!(
                    "Session ids carry about {:.0} bits of entropy (at least {} needed)",
                    analysis.entropy_bits(),
                    entropy::MIN_BITS
                ),
                seen.clone(),
                vec![],
            );
        }
        self.close(CHECK, NAME, before, seen);
        Ok((Some(analysis), values))
    }
}

/// The longest cookie value the id-strength test takes as an id: real ids are 16 to 64
/// characters, 100 or so when signed (`s:ID.SIG`); a longer value is data, not an id.
const MAX_ID_BYTES: usize = 512;

/// Requests in flight while collecting ids (few, so the ids arrive in about the order they
/// were issued).
const SAMPLE_CONCURRENCY: usize = 8;

fn entropy_summary(analysis: &entropy::Analysis) -> String {
    if let Some(pattern) = &analysis.pattern {
        return format!("predictable: {pattern}");
    }
    let fips = if analysis.fips.is_empty() {
        String::new()
    } else {
        let passed: Vec<String> = analysis
            .fips
            .iter()
            .map(|f| format!("{} {}/{}", f.test, f.passed, f.blocks))
            .collect();
        format!("; FIPS 140-2 blocks passed: {}", passed.join(", "))
    };
    if !analysis.whole_bits() {
        // The bit-level tests do not apply (uneven bits by construction): say what was judged.
        return format!(
            "about {:.0} bits of effective entropy ({} of {} character positions evenly spread and \
             independent at {})",
            analysis.entropy_bits(),
            analysis.uniform_characters,
            analysis.length,
            analysis.alpha
        );
    }
    format!(
        "about {:.0} bits of effective entropy ({} of {} bit positions pass at {}; {} constant){fips}",
        analysis.entropy_bits(),
        analysis.effective_bits,
        analysis.bit_positions,
        analysis.alpha,
        analysis.constant_bits
    )
}

/// A value shaped like `sample` that no server issued: the id part made up from the same
/// characters (a signed format keeps its shape, with a made-up signature).
fn invent_like(sample: &str) -> String {
    let made_up = |like: &str| -> String {
        let chars: Vec<char> = {
            let mut set: Vec<char> = like.chars().collect();
            set.sort_unstable();
            set.dedup();
            if set.len() < 2 {
                "abcdefghijklmnopqrstuvwxyz0123456789".chars().collect()
            } else {
                set
            }
        };
        (0..like.chars().count().max(16))
            .map(|_| chars[rand::random_range(0..chars.len())])
            .collect()
    };
    match inner_id(sample) {
        Some((id, format)) if format.starts_with("express") => {
            format!(
                "s%3A{}.{}",
                made_up(&id),
                made_up(
                    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefghijk"
                )
            )
        }
        Some((id, _)) => {
            let signature: String =
                made_up("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/");
            format!("{}={}", &signature[..43.min(signature.len())], made_up(&id))
        }
        None => made_up(sample),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// express-session's and the cookie crate's signed values give up their ids.
    #[test]
    fn signed_values_give_up_their_ids() {
        assert_eq!(
            inner_id("s%3AabcDEF123.sigSIG")
                .map(|(id, _)| id)
                .as_deref(),
            Some("abcDEF123")
        );
        let signed = format!("{}{}", "A".repeat(43) + "=", "Xyz_-0123456789abcdefg");
        assert_eq!(
            inner_id(&signed).map(|(id, _)| id).as_deref(),
            Some("Xyz_-0123456789abcdefg")
        );
        assert_eq!(inner_id("plainvalue"), None);
        let invented = invent_like(&signed);
        assert_eq!(invented.len(), signed.len());
        assert!(inner_id(&invented).is_some());
        assert_ne!(invented, signed);
    }

    /// Django's ids (32 characters of a-z0-9, not a whole number of bits each) are summed up by
    /// the character tests that judged them, never as "0 of 192 bit positions pass" beside a
    /// pass.
    #[test]
    fn the_summary_says_what_judged_the_ids() {
        let alphabet: Vec<char> = "abcdefghijklmnopqrstuvwxyz0123456789".chars().collect();
        let django: Vec<String> = (0..400)
            .map(|_| {
                (0..32)
                    .map(|_| alphabet[rand::random_range(0..alphabet.len())])
                    .collect()
            })
            .collect();
        let analysis = entropy::analyse(&django, entropy::DEFAULT_ALPHA, 0);
        let summary = entropy_summary(&analysis);
        assert!(summary.contains("character positions"), "{summary}");
        assert!(!summary.contains("bit positions"), "{summary}");
        assert!(analysis.entropy_bits() > 150.0, "{summary}");
    }
}
