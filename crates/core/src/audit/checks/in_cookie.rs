//! A session kept in the cookie itself: what anyone can read, whether a forged or rolled-back cookie is taken.

use super::*;

impl Audit<'_> {
    /// The threats of a session kept in the cookie: its data readable, unsigned data forged, a
    /// changed signature accepted (and a JWT's `alg: none`), an older copy rolling the state
    /// back, and how long a copy stays good.
    pub(super) async fn client_data(&mut self, first: &FirstContact) -> Result<(), AuditError> {
        const CHECK: &str = "client-side-session";
        const NAME: &str = "The session kept in the cookie";
        self.tell("the data in the cookie", 0, 1);
        let before = self.findings.len();
        let name = self.cookie_name.clone();
        let found = self.kind.clone();
        let shown = vec![evidence(
            "the response that set the session cookie",
            &first.exchange,
        )];
        let mut seen = vec![found.kind.describe().to_owned()];
        // Readable data.
        if let Some(data) = &found.data {
            let sensitive = kind::sensitive_fields(data);
            let (severity, also) = if sensitive.is_empty() {
                (Severity::Low, String::new())
            } else {
                (
                    Severity::Medium,
                    format!(
                        " It names fields that look private: {}.",
                        sensitive.join(", ")
                    ),
                )
            };
            self.find(
                CHECK,
                "client-data-readable",
                severity,
                format!("The session's data is readable in the cookie “{name}”"),
                format!(
                    "Anyone who holds the cookie (the user, a script if it is not HttpOnly, a \
                     log) reads {}: {}.{also}",
                    if found.kind == Kind::Jwt {
                        "the token's claims"
                    } else {
                        "the session's data"
                    },
                    excerpt(data, 200)
                ),
                shown.clone(),
            );
            seen.push("its data readable".to_owned());
        }
        // A session of the audit's own, to change and send back.
        let base_browser = self.browser()?;
        let url = self.counter_url.clone();
        self.visit(&base_browser, &url).await?;
        let base = self.copy_of(&base_browser).unwrap_or_else(|| Held {
            value: first.cookie.value.clone(),
            companions: Vec::new(),
        });
        let value = kind::unwrap_value(&base.value);
        let with_value = |value: String| Held {
            value,
            companions: base.companions.clone(),
        };
        // Unsigned data: change it and see whether the server believes it.
        if found.kind == Kind::PlainData
            && let Some(changed) = kind::forged(&value)
        {
            let probe = Forgery {
                id: "client-data-unsigned",
                title: "Anyone can change the session's data: nothing signs it",
                done: "The audit changed the data in the cookie and the server took it as the \
                       session",
                then: "",
                what: "the changed data, sent back",
                called: "changed data",
            };
            self.try_forgery(first, &with_value(changed), &probe, &mut seen)
                .await?;
        }
        // A changed signature: in the value, or in the cookie beside it that carries it.
        let tampered = match kind::tampered(&value, &found) {
            Some(tampered) => Some(with_value(tampered)),
            None => base.companions.first().map(|signature| {
                let mut copy = with_value(value.clone());
                copy.companions[0].value = kind::altered(&signature.value);
                copy
            }),
        };
        if let Some(tampered) = tampered {
            let probe = Forgery {
                id: "client-signature-unchecked",
                title: "The server accepts the session with a changed signature",
                done: "One character of the cookie's signature was changed; the server still \
                       took it as the session",
                then: "",
                what: "the changed signature, sent back",
                called: "a changed signature",
            };
            self.try_forgery(first, &tampered, &probe, &mut seen)
                .await?;
        }
        if found.kind == Kind::Jwt {
            self.jwt_claims(first, &found, &base, &mut seen).await?;
        }
        self.rollback(&mut seen).await?;
        // How long a stolen copy is good for.
        match found.kind {
            Kind::Jwt => {}
            Kind::EncryptedData => {
                seen.push("its expiry, if it carries one, is not visible".to_owned());
            }
            _ => match found.issued_at {
                Some(at) => seen.push(format!(
                    "signed at {} (the server can refuse it after a maximum age it does not show)",
                    unix_text(at)
                )),
                None if !carries_expiry(found.data.as_deref()) => {
                    self.find(
                        CHECK,
                        "client-no-expiry",
                        Severity::Medium,
                        format!(
                            "A copy of the cookie “{name}” is good for as long as the secret is"
                        ),
                        "The value carries no time the server could check (no timestamp, no \
                         expiry in the data): the cookie's own lifetime binds only the browser, \
                         so a copy taken once keeps working."
                            .to_owned(),
                        shown.clone(),
                    );
                    seen.push("no expiry inside".to_owned());
                }
                None => seen.push("an expiry inside its data".to_owned()),
            },
        }
        seen.push(format!(
            "{} bytes",
            first.cookie.name.len() + first.cookie.value.len()
        ));
        self.close(CHECK, NAME, before, seen.join("; "));
        Ok(())
    }

    /// A JWT's `alg: none` and its times.
    pub(super) async fn jwt_claims(
        &mut self,
        first: &FirstContact,
        found: &SessionKind,
        base: &Held,
        seen: &mut Vec<String>,
    ) -> Result<(), AuditError> {
        const CHECK: &str = "client-side-session";
        if let Some(unsigned) = kind::alg_none(&kind::unwrap_value(&base.value)) {
            let copy = Held {
                value: unsigned,
                companions: base.companions.clone(),
            };
            let probe = Forgery {
                id: "jwt-alg-none",
                title: "The server accepts a JWT with alg: none",
                done: "The token with its header changed to alg: none and no signature still \
                       opened the session",
                then: ": anyone can write any claims",
                what: "the alg: none token, sent",
                called: "alg: none",
            };
            self.try_forgery(first, &copy, &probe, seen).await?;
        }
        let start = found
            .issued_at
            .or(found.not_before)
            .unwrap_or_else(|| OffsetDateTime::now_utc().unix_timestamp());
        match found.expires_at {
            None => {
                self.find(
                    CHECK,
                    "jwt-no-exp",
                    Severity::Medium,
                    "The JWT never expires (no exp claim)",
                    format!(
                        "Its claims are {}: with no exp, a copy is good until the signing key \
                         changes.",
                        excerpt(found.data.as_deref().unwrap_or(""), 120)
                    ),
                    vec![evidence("the response that set the token", &first.exchange)],
                );
                seen.push("no exp".to_owned());
            }
            Some(exp) => {
                let span = time::Duration::seconds(exp.saturating_sub(start));
                if span > LONG_LIVED {
                    self.find(
                        CHECK,
                        "jwt-long-lived",
                        Severity::Low,
                        format!("The JWT is good for {} days", span.whole_days()),
                        format!(
                            "exp is {} days after {}: a stolen copy works that long, logout or not.",
                            span.whole_days(),
                            if found.issued_at.is_some() { "iat" } else { "now" }
                        ),
                        vec![evidence("the response that set the token", &first.exchange)],
                    );
                }
                seen.push(format!(
                    "exp {} ({} after {})",
                    unix_text(exp),
                    crate::words::duration_text(span),
                    if found.issued_at.is_some() {
                        "iat"
                    } else {
                        "now"
                    }
                ));
            }
        }
        Ok(())
    }

    /// Sends `copy` (a value the server never issued) from a fresh browser: if the server takes
    /// it as the session, that is `probe`'s finding (high). `seen` says which it was.
    async fn try_forgery(
        &mut self,
        first: &FirstContact,
        copy: &Held,
        probe: &Forgery,
        seen: &mut Vec<String>,
    ) -> Result<(), AuditError> {
        let answer = self.replay(copy).await?;
        if Self::continues(first, &answer) {
            self.find(
                "client-side-session",
                probe.id,
                Severity::High,
                probe.title,
                format!(
                    "{} (it answered “{}”){}.",
                    probe.done,
                    excerpt(&answer.body, 60),
                    probe.then
                ),
                vec![evidence(probe.what, &answer)],
            );
            seen.push(format!("{} accepted", probe.called));
        } else {
            seen.push(format!("{} refused", probe.called));
        }
        Ok(())
    }

    /// Does an older copy of the cookie bring an older state back?
    pub(super) async fn rollback(&mut self, seen: &mut Vec<String>) -> Result<(), AuditError> {
        let browser = self.browser()?;
        let url = self.counter_url.clone();
        let one = self.visit(&browser, &url).await?;
        let Some(old) = self.copy_of(&browser) else {
            return Ok(());
        };
        self.visit(&browser, &url).await?;
        let later = self.visit(&browser, &url).await?;
        let (Some(then), Some(now)) = (last_number(&one.body), last_number(&later.body)) else {
            seen.push("rollback not tested (the counter shows no number)".to_owned());
            return Ok(());
        };
        let again = self.replay(&old).await?;
        match last_number(&again.body) {
            Some(back) if back == then + 1 && back < now + 1 => {
                self.find(
                    "client-side-session",
                    "client-rollback",
                    Severity::Medium,
                    "An older copy of the cookie rolls the session back",
                    format!(
                        "After the count reached {now}, the copy of the cookie from count {then} \
                         answered {back}: whatever the session held then (a balance, a role, a \
                         login) comes back with it."
                    ),
                    vec![
                        evidence("the later state", &later),
                        evidence("the older copy, sent back", &again),
                    ],
                );
                seen.push("an older copy rolls it back".to_owned());
            }
            _ => seen.push("an older copy does not roll it back".to_owned()),
        }
        Ok(())
    }
}

/// A value the server never issued, sent to see whether it is taken as the session.
struct Forgery {
    /// The finding if it is.
    id: &'static str,
    /// The finding's title.
    title: &'static str,
    /// What was done, for the detail ("… (it answered “…”)").
    done: &'static str,
    /// What follows in the detail (what acceptance means), or nothing.
    then: &'static str,
    /// The evidence's caption.
    what: &'static str,
    /// Its name in the check's summary ("… accepted" / "… refused").
    called: &'static str,
}

/// A Unix time as a UTC date and time ("2026-12-04 10:00 UTC").
fn unix_text(at: i64) -> String {
    OffsetDateTime::from_unix_timestamp(at).map_or_else(
        |_| format!("{at} (Unix time)"),
        |t| {
            format!(
                "{:04}-{:02}-{:02} {:02}:{:02} UTC",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute()
            )
        },
    )
}

/// Whether session data (JSON) names an expiry of its own.
fn carries_expiry(data: Option<&str>) -> bool {
    let Some(data) = data else { return false };
    let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(data) else {
        return false;
    };
    map.keys().any(|key| {
        let key = key.to_ascii_lowercase();
        [
            "exp",
            "expires",
            "_expires",
            "_expire",
            "expiry",
            "expires_at",
            "iat",
            "issued",
        ]
        .iter()
        .any(|name| key == *name)
    })
}
