//! The guided scenarios, played headlessly as `session-lab scenario check` plays them: each
//! built-in's reference solution solves it, doing nothing does not, and its fix stops the
//! solution; a shortcut the scenario forbids is refused instead of solving.

use session_lab::scenario::{
    Scenario, Step,
    judge::Verdict,
    play::{CheckFailure, Player, check},
    report::check_line,
};

fn built_in(id: &str) -> Scenario {
    Scenario::find(id).expect("a built-in scenario")
}

/// Plays `id` three ways and requires every part to pass.
fn checks(id: &str) {
    let report = check(&built_in(id));
    assert!(report.passed(), "{}", check_line(&report));
}

/// The seed as a scenario: three visits from A, one from B, two sessions.
#[test]
fn two_sessions_checks() {
    checks("two-sessions");
}

/// A copied cookie continues the victim's session half an hour later; a ten-minute idle
/// timeout stops it.
#[test]
fn hijack_copied_cookie_checks() {
    checks("hijack-copied-cookie");
}

/// A plain cookie edited to the victim's id is accepted; a signed one is not.
#[test]
fn tamper_plain_cookie_checks() {
    checks("tamper-plain-cookie");
}

/// Without the per-session lock a burst loses updates (at least one, asserted); with it, none.
#[test]
fn lost_updates_checks() {
    checks("lost-updates");
}

/// A session with three views ends by its idle timeout on the lab's clock.
#[test]
fn idle_timeout_checks() {
    checks("idle-timeout");
}

/// Without a new id at login, a planted id becomes the victim's logged-in session; with it,
/// the planted id is worthless.
#[test]
fn session_fixation_checks() {
    checks("session-fixation");
}

/// A logout that only clears the cookie leaves a copied cookie logged in; destroying the
/// session ends every copy.
#[test]
fn logout_replay_checks() {
    checks("logout-replay");
}

/// A session kept in the cookie outlives logout — the server destroys sessions, but it holds
/// nothing to destroy — so a copy taken before still shows alice; kept in the store, the copy
/// names nothing.
#[test]
fn logout_in_cookie_checks() {
    checks("logout-in-cookie");
}

/// An older copy of a cookie that holds the count, put back, brings the older count back;
/// kept in the store, every copy names the one current count.
#[test]
fn rollback_in_cookie_checks() {
    checks("rollback-in-cookie");
}

/// Starting over is no rollback: clearing the Reader's cookies and counting up again (1, 2
/// after 3) leaves the scenario open — the judge's count starts again at a fresh session.
#[test]
fn a_fresh_session_is_no_rollback() {
    let scenario = built_in("rollback-in-cookie");
    let mut player = Player::open(&scenario, false).unwrap();
    let visit = || Step::Visit {
        browser: "Reader".into(),
        url: "/".into(),
        from: None,
    };
    player
        .play_all(&[
            visit(),
            visit(),
            Step::ExpectPage {
                browser: "Reader".into(),
                says: "Number of views 3".into(),
            },
            Step::ClearCookies {
                browser: "Reader".into(),
            },
            visit(),
            visit(),
            Step::ExpectPage {
                browser: "Reader".into(),
                says: "Number of views 2".into(),
            },
        ])
        .unwrap();
    assert_eq!(player.settle(), Verdict::Open { met: 0, of: 1 });
}

/// A cookie without Secure goes out over plain http to the lab's name; with Secure it stays
/// home.
#[test]
fn secure_over_http_checks() {
    checks("secure-over-http");
}

/// A form on other-site.test posts with a SameSite=None cookie and changes alice's e-mail;
/// under Lax the cookie stays home and the forgery finds nobody logged in.
#[test]
fn csrf_form_checks() {
    checks("csrf-form");
}

/// A link on other-site.test carries a Lax cookie to a route that changes state on GET;
/// Strict keeps it home.
#[test]
fn csrf_link_checks() {
    checks("csrf-link");
}

/// Counted ids: the id after the attacker's is the victim's; random ids make the guess name
/// nothing.
#[test]
fn weak_ids_checks() {
    checks("weak-ids");
}

/// A rotation with a grace keeps the victim logged in (and without a rotation nothing is
/// solved).
#[test]
fn secret_rotation_checks() {
    checks("secret-rotation");
}

/// /logout-others ends the attacker's own session of alice and keeps the victim's.
#[test]
fn logout_others_checks() {
    checks("logout-others");
}

/// Behind the TLS proxy a cookie without Secure goes out over plain http too; Secure with a
/// trusted proxy keeps it home (and still sets it behind the proxy).
#[test]
fn secure_behind_proxy_checks() {
    checks("secure-behind-proxy");
}

/// A cookieless session's address is the session: a shared link lets the attacker in; with
/// ids in cookies the same link names only a page.
#[test]
fn id_in_url_checks() {
    checks("id-in-url");
}

/// A rotation without a grace logs the victim out: the rotation lesson stays open.
#[test]
fn a_rotation_without_grace_does_not_solve() {
    let scenario = built_in("secret-rotation");
    let mut player = Player::open(&scenario, false).unwrap();
    player
        .play_all(&[
            Step::RotateSecret { grace_minutes: 0 },
            Step::Visit {
                browser: "Victim".into(),
                url: "/whoami".into(),
                from: None,
            },
        ])
        .unwrap();
    assert_eq!(player.settle(), Verdict::Open { met: 0, of: 1 });
}

/// Logging in with alice's password from the attacker's browser is the shortcut the weak-id
/// scenario forbids: it says so instead of solving.
#[test]
fn logging_in_with_the_victims_password_does_not_count() {
    let scenario = built_in("weak-ids");
    let mut player = Player::open(&scenario, false).unwrap();
    player
        .play_all(&[
            Step::Submit {
                browser: "Attacker".into(),
                url: "/login".into(),
                form: "user=alice&password=wonderland".into(),
            },
            Step::Visit {
                browser: "Attacker".into(),
                url: "/whoami".into(),
                from: None,
            },
        ])
        .unwrap();
    let Verdict::Spoiled(why) = player.settle() else {
        panic!("not spoiled: {:?}", player.verdict());
    };
    assert!(why.starts_with("logging in as alice"), "{why}");
}

/// An expectation the solution does not meet fails the check, naming what was expected and
/// what the lab showed instead.
#[test]
fn an_unmet_expectation_fails_the_solution() {
    let mut scenario = built_in("two-sessions");
    scenario.solution.push(Step::ExpectPage {
        browser: "A".into(),
        says: "Number of views 99".into(),
    });
    let report = check(&scenario);
    let why = report.solution_solves.unwrap_err().to_string();
    assert!(
        why.contains("expect A's page to say “Number of views 99”"),
        "{why}"
    );
    assert!(why.contains("A's page says “Number of views 3”"), "{why}");
}

/// A solution without its attack does not solve the scenario, and the check says so: the
/// check can fail.
#[test]
fn a_solution_without_its_attack_fails_the_check() {
    let mut scenario = built_in("lost-updates");
    scenario
        .solution
        .retain(|step| !matches!(step, Step::Burst { .. }));
    let report = check(&scenario);
    assert!(!report.passed());
    assert!(
        report
            .solution_solves
            .as_ref()
            .is_err_and(|why| matches!(why, CheckFailure::NotSolved(_))
                && why.to_string().contains("not solved")),
        "{}",
        check_line(&report)
    );
}

/// A fix that changes nothing does not stop the solution, and the check says so.
#[test]
fn a_fix_that_does_not_fix_fails_the_check() {
    let mut scenario = built_in("lost-updates");
    let fix = scenario.fix.as_mut().unwrap();
    fix.settings = "lock_per_session = false".parse().unwrap();
    let report = check(&scenario);
    assert!(!report.passed());
    assert!(
        report.fix_prevents.as_ref().is_some_and(|r| r
            .as_ref()
            .is_err_and(|why| matches!(why, CheckFailure::FixDoesNotStop))),
        "{}",
        check_line(&report)
    );
}

/// Copying the victim's cookie where the scenario forbids it spoils the run: the attacker is
/// in the victim's session, and the status says why that does not count.
#[test]
fn a_forbidden_shortcut_does_not_solve() {
    let scenario = built_in("tamper-plain-cookie");
    let mut player = Player::open(&scenario, false).unwrap();
    player
        .play_all(&[
            Step::CopyCookie {
                from: "Victim".into(),
                to: "Attacker".into(),
            },
            Step::Visit {
                browser: "Attacker".into(),
                url: "/".into(),
                from: None,
            },
        ])
        .unwrap();
    let verdict = player.settle();
    assert_eq!(
        verdict,
        Verdict::Spoiled("copying a cookie from another browser is not allowed here".into())
    );
    let state = player.state();
    assert_eq!(
        state.browser_named("Attacker").unwrap().session(),
        state.browser_named("Victim").unwrap().session(),
        "the shortcut itself worked"
    );
}

/// In the fixation scenario, taking the victim's cookie after login is hijacking, not
/// fixation: the copy into the attacker's jar is refused as a shortcut, while the copy the
/// other way (planting) is the attack itself.
#[test]
fn a_copy_into_the_attacker_is_not_fixation() {
    let scenario = built_in("session-fixation");
    let mut player = Player::open(&scenario, false).unwrap();
    player
        .play_all(&[
            Step::Visit {
                browser: "Victim".into(),
                url: "/login?user=alice".into(),
                from: None,
            },
            Step::CopyCookie {
                from: "Victim".into(),
                to: "Attacker".into(),
            },
            Step::Visit {
                browser: "Attacker".into(),
                url: "/whoami".into(),
                from: None,
            },
        ])
        .unwrap();
    assert_eq!(
        player.settle(),
        Verdict::Spoiled("copying a cookie into Attacker's jar is not allowed here".into())
    );
}

/// Cookie tossing: the sandbox's Domain cookie lands in the Victim's jar and the login joins
/// the attacker's session; with the fix the browser refuses the tossed `__Host-` cookie for
/// its prefix, so the Victim logs in to a session of its own.
#[test]
fn cookie_tossing_checks_and_the_prefix_refuses_the_tossed_cookie() {
    checks("cookie-tossing");
    let scenario = built_in("cookie-tossing");
    let mut player = Player::open(&scenario, true).unwrap();
    player.play_all(&scenario.solution).unwrap();
    let state = player.state();
    let toss = state
        .exchanges
        .iter()
        .find(|r| r.name == "Victim" && r.exchange.url.contains("sandbox.lab.test"))
        .expect("the Victim opened the sandbox page");
    assert!(
        toss.exchange.blocked.iter().any(|b| b.name == "__Host-id"
            && matches!(b.reason, session_lab::browser::BlockedReason::Prefix(_))),
        "{:?}",
        toss.exchange.blocked
    );
    assert_ne!(
        state.browser_named("Victim").unwrap().session(),
        state.browser_named("Attacker").unwrap().session()
    );
}

/// A step that cannot be played says why as a variant: copying a cookie from a browser that
/// holds none stops at that step, numbered, with `NoSessionCookie`, and the lab is unharmed.
#[test]
fn a_step_that_cannot_be_played_says_why() {
    use session_lab::scenario::play::{PlayError, StepError};
    let scenario = built_in("two-sessions");
    let mut player = Player::open(&scenario, false).expect("the scenario opens");
    let first = scenario.browsers[0].clone();
    let second = scenario.browsers[1].clone();
    let copy = Step::CopyCookie {
        from: first.clone(),
        to: second,
    };
    let err = player.play_all(&[copy]).expect_err("no cookie to copy");
    assert!(
        matches!(&err, PlayError::Step(StepError::Step { number: 1, why, .. })
            if **why == StepError::NoSessionCookie(first.clone())),
        "{err}"
    );
    let visit = Step::Visit {
        browser: first,
        url: "/".to_owned(),
        from: None,
    };
    player.play_all(&[visit]).expect("the lab goes on");
}

/// A student's attack, kept as the window keeps it (each command sent, by browser name, its
/// ids and cookies written as whose they were), replays: on a fresh lab without the fix it
/// solves the scenario again with that lab's own ids, and with the fix it does not — for
/// every built-in scenario that has a fix.
#[test]
fn a_recorded_attack_replays_and_the_fix_stops_it() {
    use session_lab::scenario::replay::Attack;
    let attacks: Vec<Scenario> = Scenario::built_in()
        .into_iter()
        .filter(|s| s.fix.is_some())
        .collect();
    assert!(
        attacks.len() >= 10,
        "{} scenarios with a fix",
        attacks.len()
    );
    std::thread::scope(|scope| {
        for scenario in &attacks {
            scope.spawn(move || {
                let id = &scenario.id;
                let mut attack = Attack::default();
                let mut first = Player::open(scenario, false).expect("opens");
                first
                    .play_recorded(&scenario.solution, &mut attack)
                    .unwrap_or_else(|e| panic!("{id}: the solution plays: {e}"));
                assert_eq!(first.settle(), Verdict::Solved, "{id}: the solution solves");
                assert!(!attack.steps().is_empty(), "{id}: the attack was kept");

                let mut again = Player::open(scenario, false).expect("opens");
                again.play_all(attack.steps()).unwrap_or_else(|e| {
                    panic!("{id}: the replay plays: {e} ({:?})", attack.steps())
                });
                assert_eq!(
                    again.settle(),
                    Verdict::Solved,
                    "{id}: the replay solves a fresh lab: {:?}",
                    attack.steps()
                );

                let mut fixed = Player::open(scenario, true).expect("opens");
                // A step the fix makes impossible (no session to copy) is the attack failing.
                let _ = fixed.play_all(attack.steps());
                assert_ne!(
                    fixed.settle(),
                    Verdict::Solved,
                    "{id}: the fix stops the replay"
                );
            });
        }
    });
}

/// A guessed id is kept as a guess: in weak-ids, an Attacker who got a new session before
/// typing the id after its first one (the Victim's) is recorded as `{next:Attacker}`, not as
/// the Victim's id read off the table — so the replay with random ids fails, as the attack
/// does.
#[test]
fn a_guessed_id_replays_as_a_guess() {
    use session_lab::scenario::replay::Attack;
    let scenario = built_in("weak-ids");
    let mut attack = Attack::default();
    let mut first = Player::open(&scenario, false).expect("opens");
    let steps = [
        Step::ClearCookies {
            browser: "Attacker".to_owned(),
        },
        Step::Visit {
            browser: "Attacker".to_owned(),
            url: "/".to_owned(),
            from: None,
        },
        // The Victim's id: the one after the Attacker's first session.
        Step::EditCookie {
            browser: "Attacker".to_owned(),
            value: "{session:Victim}".to_owned(),
        },
        Step::Visit {
            browser: "Attacker".to_owned(),
            url: "/whoami".to_owned(),
            from: None,
        },
    ];
    first.play_recorded(&steps, &mut attack).expect("plays");
    assert_eq!(first.settle(), Verdict::Solved);
    assert!(
        attack.steps().contains(&Step::EditCookie {
            browser: "Attacker".to_owned(),
            value: "{next:Attacker}".to_owned(),
        }),
        "{:?}",
        attack.steps()
    );
    let mut fixed = Player::open(&scenario, true).expect("opens");
    let _ = fixed.play_all(attack.steps());
    assert_ne!(fixed.settle(), Verdict::Solved);
}
