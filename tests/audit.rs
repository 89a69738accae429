//! The audit, tried where the answers are known: the embedded server in several
//! configurations, and a deliberately weak server written here (sequential ids, adopts any
//! client id, keeps the session after logout, no HttpOnly, the id in a URL). Each expected
//! finding is asserted, and each expected absence.

mod common;

use std::collections::BTreeSet;

use session_lab::{
    audit::{self, AuditOptions, AuditReport, CheckStatus, Severity},
    server::{
        CookieProtection, ExpiryPolicy, RunningServer, SameSitePolicy, Secret, ServerConfig,
        ServerSettings,
    },
};

/// Audits `url` with the routes the embedded server has, and 300 ids (enough for the tests,
/// quicker than the default 1,000).
async fn audit(url: &str, routes: bool) -> AuditReport {
    let mut options = AuditOptions::new(url);
    options.samples = 300;
    if routes {
        options.login = Some("/login?user={user}".parse().unwrap());
        options.logout = Some("/logout".parse().unwrap());
    }
    audit::run(options, |_| {}).await.expect("the audit runs")
}

fn ids(report: &AuditReport) -> BTreeSet<&'static str> {
    report.findings.iter().map(|f| f.id).collect()
}

async fn embedded(change: impl FnOnce(&mut ServerSettings)) -> RunningServer {
    let mut config = ServerConfig::with_secret(Secret::from_phrase("audit tests"));
    change(&mut config.settings);
    RunningServer::start("127.0.0.1:0".parse().unwrap(), config)
        .await
        .expect("server starts")
}

/// The findings no configuration of the embedded server should have: it regenerates at
/// login, deletes at logout, issues 128 random bits, never adopts a client's id, never loses
/// an update, never puts the id in a URL.
const NEVER_ON_EMBEDDED: [&str; 7] = [
    "session-fixation-adopted",
    "session-fixation-login",
    "logout-session-alive",
    "logout-cookie-kept",
    "session-id-guessable",
    "session-id-weak",
    "lost-updates",
];

fn assert_sound(report: &AuditReport) {
    let found = ids(report);
    for id in NEVER_ON_EMBEDDED {
        assert!(
            !found.contains(id),
            "{id} found on the embedded server: {report:#?}"
        );
    }
    assert!(!found.contains("session-id-in-url"));
    let strength = report.entropy.as_ref().expect("ids were tested");
    assert!(strength.entropy_bits() >= 120.0, "{strength:?}");
    assert!(
        report
            .checks
            .iter()
            .all(|c| c.status != CheckStatus::Skipped),
        "with --login and --logout every check runs: {:?}",
        report.checks
    );
}

/// The seed's settings: signed, HttpOnly, Lax, a browser-session cookie over plain http. The
/// scorecard: no Secure (low, as plain http), cacheable responses (low), no visible timeout
/// (info) — and nothing else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_server_with_the_seeds_settings() {
    let server = embedded(|_| {}).await;
    let report = audit(&server.url(), true).await;
    assert_eq!(report.cookie_name, "id");
    assert_eq!(
        ids(&report),
        BTreeSet::from([
            "cookie-no-secure",
            "cache-control-missing",
            "expiry-not-visible"
        ])
    );
    assert_eq!(report.worst(), Some(Severity::Low));
    assert_sound(&report);
    let strength = report.entropy.as_ref().unwrap();
    assert_eq!(
        strength.bit_positions, 132,
        "22 base64 characters, after the signature"
    );
    let summary = &report
        .checks
        .iter()
        .find(|c| c.id == "session-id-strength")
        .unwrap()
        .summary;
    assert!(summary.contains("signed value"), "{summary}");
}

/// Plain (unsigned) cookies: the raw id is tested, and a made-up id is still not adopted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_cookies() {
    let server = embedded(|s| s.protection = CookieProtection::Plain).await;
    let report = audit(&server.url(), true).await;
    assert_sound(&report);
    assert_eq!(report.entropy.as_ref().unwrap().bit_positions, 132);
}

/// No HttpOnly, SameSite=None without Secure, a year-long Max-Age, a Domain: each is found,
/// with its evidence (the very Set-Cookie).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weak_cookie_attributes_are_found() {
    let server = embedded(|s| {
        s.http_only = false;
        s.same_site = SameSitePolicy::None;
        s.expiry = ExpiryPolicy::OnInactivity { secs: 365 * 86_400 };
    })
    .await;
    let report = audit(&server.url(), true).await;
    let found = ids(&report);
    for id in [
        "cookie-no-httponly",
        "cookie-samesite-none-insecure",
        "cookie-long-lived",
        "cookie-no-secure",
    ] {
        assert!(found.contains(id), "{id} missing: {found:?}");
    }
    assert!(
        !found.contains("expiry-not-visible"),
        "the Max-Age shows the timeout"
    );
    assert_sound(&report);
    let httponly = report
        .findings
        .iter()
        .find(|f| f.id == "cookie-no-httponly")
        .unwrap();
    assert_eq!(httponly.severity, Severity::Medium);
    assert!(httponly.evidence[0].set_cookie[0].starts_with("id="));
    assert!(httponly.references.contains(&"ZAP 10010"));
    assert!(httponly.fix.contains("httpOnly"));
    let expiry = report.checks.iter().find(|c| c.id == "expiry").unwrap();
    assert!(
        expiry.summary.contains("renews it"),
        "a rolling timeout: {}",
        expiry.summary
    );
}

/// With Secure and SameSite=Lax over http, the audit's probe still follows the session (a
/// browser would refuse the cookie): every check runs; SameSite=None with Secure is flagged
/// as cross-site exposure, not as refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secure_cookies_are_followed_over_plain_http() {
    let server = embedded(|s| {
        s.secure = true;
        s.same_site = SameSitePolicy::None;
    })
    .await;
    let report = audit(&server.url(), true).await;
    let found = ids(&report);
    assert!(!found.contains("cookie-no-secure"));
    assert!(found.contains("cookie-samesite-none"), "{found:?}");
    assert!(!found.contains("cookie-samesite-none-insecure"));
    assert_sound(&report);
}

/// The naive server (no per-session lock) loses updates in the burst, and the audit counts
/// them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_naive_server_loses_updates() {
    let server = embedded(|s| {
        s.lock_per_session = false;
        s.store_latency_ms = 5;
    })
    .await;
    let mut options = AuditOptions::new(&server.url());
    options.samples = 100;
    let report = audit::run(options, |_| {}).await.unwrap();
    let lost = report
        .findings
        .iter()
        .find(|f| f.id == "lost-updates")
        .expect("updates are lost");
    assert_eq!(lost.severity, Severity::Medium);
    assert!(
        lost.title.contains("of 128 concurrent updates lost"),
        "{}",
        lost.title
    );
}

/// The weak server's scorecard: sequential ids, adopted client ids, the same id across login,
/// a session alive after logout, the id in a URL, no HttpOnly, a ten-year cookie — each found
/// with its severity; no lost updates (its counter is atomic) and no duplicates.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_weak_server_fails_what_it_gets_wrong() {
    let addr = common::weak::start().await;
    let report = audit(&format!("http://{addr}/"), true).await;
    assert_eq!(report.cookie_name, "sid");
    let severity = |id: &str| {
        report
            .findings
            .iter()
            .find(|f| f.id == id)
            .map(|f| f.severity)
    };
    for (id, expected) in [
        ("session-id-guessable", Severity::High),
        ("session-fixation-adopted", Severity::High),
        ("logout-session-alive", Severity::High),
        ("session-id-in-url", Severity::High),
        ("session-fixation-login", Severity::Medium),
        ("cookie-no-httponly", Severity::Medium),
        ("cookie-long-lived", Severity::Low),
        ("cookie-no-samesite", Severity::Low),
        ("logout-cookie-kept", Severity::Low),
    ] {
        assert_eq!(severity(id), Some(expected), "{id}: {:#?}", report.findings);
    }
    assert_eq!(severity("lost-updates"), None);
    assert_eq!(severity("session-id-duplicate"), None);
    let guessable = report
        .findings
        .iter()
        .find(|f| f.id == "session-id-guessable")
        .unwrap();
    assert!(
        guessable.title.contains("sequential"),
        "{}",
        guessable.title
    );
    assert!(report.entropy.as_ref().unwrap().entropy_bits() < 1.0);
    assert_eq!(
        report.findings[0].severity,
        Severity::High,
        "most severe first"
    );
    // The same report reads as text, Markdown and JSON.
    let text = audit::text(&report);
    assert!(text.contains("HIGH — The server adopts a session id the client invented"));
    let markdown = audit::markdown(&report);
    assert!(markdown.contains("| Session fixation (invented id) | FAIL |"));
    let json: serde_json::Value = serde_json::to_value(&report).unwrap();
    assert_eq!(json["schema"], 2);
    assert_eq!(json["findings"][0]["severity"], "high");
}

/// A report holds no live session: every cookie value the server issued shows only as its
/// start and length in the evidence, text and JSON alike; with `show_secrets` the same audit
/// shows them whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evidence_hides_live_values_unless_asked() {
    let server = embedded(|s| s.http_only = false).await;
    let url = server.url();
    let run = |show_secrets| {
        let mut options = AuditOptions::new(&url);
        options.samples = 100;
        options.login = Some("/login?user={user}".parse().unwrap());
        options.logout = Some("/logout".parse().unwrap());
        options.show_secrets = show_secrets;
        audit::run(options, |_| {})
    };
    let shown = |report: &AuditReport| {
        let printed = format!(
            "{}{}{}",
            serde_json::to_string(report).unwrap(),
            audit::text(report),
            audit::markdown(report)
        );
        report
            .issued
            .iter()
            .filter(|value| printed.contains(value.as_str()))
            .count()
    };
    let report = run(false).await.unwrap();
    assert!(!report.findings.iter().all(|f| f.evidence.is_empty()));
    assert_eq!(shown(&report), 0, "{}", audit::text(&report));
    assert!(audit::text(&report).contains("bytes)"));
    let report = run(true).await.unwrap();
    assert!(shown(&report) > 0, "{}", audit::text(&report));
}

/// The severity of finding `id`, if found.
fn severity_of(report: &AuditReport, id: &str) -> Option<Severity> {
    report
        .findings
        .iter()
        .find(|f| f.id == id)
        .map(|f| f.severity)
}

/// Each finding found with its severity.
fn assert_found(report: &AuditReport, expected: &[(&str, Severity)]) {
    for (id, severity) in expected {
        assert_eq!(
            severity_of(report, id),
            Some(*severity),
            "{id}: {}",
            audit::text(report)
        );
    }
}

/// None of these findings made.
fn assert_absent<'a>(report: &AuditReport, ids: impl IntoIterator<Item = &'a str>) {
    for id in ids {
        assert_eq!(
            severity_of(report, id),
            None,
            "{id}: {}",
            audit::text(report)
        );
    }
}

fn status_of(report: &AuditReport, id: &str) -> CheckStatus {
    report
        .checks
        .iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("no check {id}: {:?}", report.checks))
        .status
}

/// What an id audit finds and a session kept in the cookie cannot have: none of these may be
/// reported for signed data or a JWT.
const ONLY_FOR_IDS: [&str; 6] = [
    "session-id-duplicate",
    "session-id-weak",
    "session-id-guessable",
    "session-fixation-adopted",
    "session-fixation-login",
    "logout-session-alive",
];

/// Flask's default session (the data, signed, in the cookie): the audit says so and shows the
/// data; it finds what is true of it — logout cannot revoke a copy, an older copy rolls the
/// count back, the data is readable — and none of the id
/// findings that misjudged it before (duplicate ids, 0 bits of entropy).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flasks_signed_session_is_judged_as_data() {
    let addr = common::kinds::flask_like().await;
    let report = audit(&format!("http://{addr}/"), true).await;
    assert_eq!(
        report.kind.kind,
        audit::Kind::SignedData,
        "{:?}",
        report.kind
    );
    assert!(
        report.kind.format.starts_with("Flask"),
        "{}",
        report.kind.format
    );
    assert!(report.kind.data.as_deref().unwrap().contains("\"views\":1"));
    assert_found(
        &report,
        &[
            ("logout-not-revocable", Severity::High),
            ("client-rollback", Severity::Medium),
            ("client-data-readable", Severity::Low),
        ],
    );
    // (Whether this fixture loses concurrent updates depends on timing: it answers at once.
    // The embedded server's test below asserts the loss where it must happen.)
    assert_absent(
        &report,
        ONLY_FOR_IDS.into_iter().chain([
            "client-signature-unchecked",
            "client-no-expiry",
            "logout-cookie-kept",
        ]),
    );
    for id in [
        "session-fixation",
        "login-regenerates",
        "session-id-strength",
    ] {
        assert_eq!(status_of(&report, id), CheckStatus::Skipped);
    }
    assert_eq!(
        status_of(&report, "logout-invalidates"),
        CheckStatus::Failed
    );
    assert!(report.entropy.is_none());
    let text = audit::text(&report);
    assert!(
        text.contains("Session kept in: the session's data itself, signed"),
        "{text}"
    );
    let json: serde_json::Value = serde_json::to_value(&report).unwrap();
    assert_eq!(json["kind"]["kind"], "signed-data");
}

/// A JWT in a cookie, verified with HS256 but taking `alg: none`, with no `exp`: the header
/// and claims are decoded, and alg: none, the missing exp and the logout it cannot make are
/// found; a changed signature is refused, so that is not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jwt_is_judged_by_its_own_threats() {
    let addr = common::kinds::jwt_app().await;
    let report = audit(&format!("http://{addr}/"), true).await;
    assert_eq!(report.kind.kind, audit::Kind::Jwt, "{:?}", report.kind);
    assert!(report.kind.header.as_deref().unwrap().contains("HS256"));
    assert!(report.kind.issued_at.is_some());
    assert_found(
        &report,
        &[
            ("jwt-alg-none", Severity::High),
            ("logout-not-revocable", Severity::High),
            ("jwt-no-exp", Severity::Medium),
            ("client-rollback", Severity::Medium),
            ("client-data-readable", Severity::Low),
        ],
    );
    assert_absent(
        &report,
        ONLY_FOR_IDS
            .into_iter()
            .chain(["client-signature-unchecked"]),
    );
}

/// PHP's native sessions as shipped: an id in the server's store, read at its true strength
/// (26 characters of 0-9a-v: 130 bits, with tests that agree with the verdict); the adopted
/// invented id and the id kept across login found; no lost updates (PHP locks the session);
/// and nothing only a session in the cookie could have.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn phps_sessions_are_judged_as_ids() {
    let addr = common::kinds::php_like(false).await;
    let report = audit(&format!("http://{addr}/"), true).await;
    assert_eq!(report.kind.kind, audit::Kind::ServerId, "{:?}", report.kind);
    assert_eq!(report.cookie_name, "PHPSESSID");
    assert_found(
        &report,
        &[
            ("session-fixation-adopted", Severity::High),
            ("session-fixation-login", Severity::Medium),
        ],
    );
    assert_absent(
        &report,
        [
            "lost-updates",
            "logout-session-alive",
            "logout-cookie-kept",
            "session-id-weak",
            "session-id-duplicate",
            "logout-not-revocable",
            "client-rollback",
            "client-data-readable",
        ],
    );
    let strength = report.entropy.as_ref().expect("ids were tested");
    assert!(
        (120.0..=131.0).contains(&strength.entropy_bits()),
        "{strength:?}"
    );
    assert_eq!(status_of(&report, "lost-updates"), CheckStatus::Passed);
}

/// The embedded server with *Session kept in: the cookie itself*, signed and then encrypted
/// (the cookie-session twin): the audit finds exactly the lessons of a session kept in the
/// cookie — a copy outlives logout, an older copy rolls the count back, no expiry inside, the
/// data readable when only signed (not when encrypted), concurrent updates lost (no id to lock
/// on) — and the store keeps nothing throughout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_server_keeping_sessions_in_the_cookie() {
    for protection in [CookieProtection::Signed, CookieProtection::Private] {
        let server = embedded(|s| {
            s.kept_in = session_lab::server::KeptIn::Cookie;
            s.protection = protection;
        })
        .await;
        let report = audit(&server.url(), true).await;
        let signed = protection == CookieProtection::Signed;
        let expected_kind = if signed {
            audit::Kind::SignedData
        } else {
            audit::Kind::EncryptedData
        };
        assert_eq!(report.kind.kind, expected_kind, "{:?}", report.kind);
        let mut expected = vec![
            ("logout-not-revocable", Severity::High),
            ("client-rollback", Severity::Medium),
            ("lost-updates", Severity::Medium),
        ];
        if signed {
            expected.push(("client-no-expiry", Severity::Medium));
            expected.push(("client-data-readable", Severity::Low));
            assert!(report.kind.data.as_deref().unwrap().contains("\"views\":1"));
        } else {
            assert_absent(&report, ["client-data-readable"]);
        }
        assert_found(&report, &expected);
        assert_absent(
            &report,
            ONLY_FOR_IDS.into_iter().chain([
                "client-signature-unchecked",
                "client-data-unsigned",
                "logout-cookie-kept",
            ]),
        );
        assert_eq!(
            server.session_count().await.unwrap(),
            0,
            "the store stays empty"
        );
    }
}

/// Kept in the cookie with no protection at all, the data is forgeable, and the audit proves
/// it: data it changed (the count raised by 1,000) is taken as the session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsigned_data_in_the_cookie_is_forged() {
    let server = embedded(|s| {
        s.kept_in = session_lab::server::KeptIn::Cookie;
        s.protection = CookieProtection::Plain;
    })
    .await;
    let report = audit(&server.url(), true).await;
    assert_eq!(
        report.kind.kind,
        audit::Kind::PlainData,
        "{:?}",
        report.kind
    );
    assert_found(&report, &[("client-data-unsigned", Severity::High)]);
}

/// PHP as its manual advises (a new id at login) still adopts an invented id before login:
/// found, but at medium — a planted id never becomes a logged-in session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_adopted_id_matters_less_when_login_renews_it() {
    let addr = common::kinds::php_like(true).await;
    let report = audit(&format!("http://{addr}/"), true).await;
    assert_found(&report, &[("session-fixation-adopted", Severity::Medium)]);
    assert_absent(&report, ["session-fixation-login"]);
    assert_eq!(status_of(&report, "login-regenerates"), CheckStatus::Passed);
}

/// Sessions kept in the cookie whose value carries its own end: Koa's koa-session (`_expire`
/// inside the signed value) and an Express app keeping a JWT (`exp`) in a cookie that has no
/// Max-Age or Expires. The audit reads the expiry the value carries instead of reporting a
/// session without one.
#[test]
fn an_expiry_inside_the_cookie_value_is_read_not_reported_missing() {
    for (app, words) in [
        ("koa-session", "its value carries its own expiry"),
        (
            "express-jwt",
            "a browser-session cookie whose value carries its own expiry",
        ),
    ] {
        let Some(running) = common::apps::App::start(app, &[]) else {
            return;
        };
        let mut options = AuditOptions::new(&running.url);
        options.login = Some("/login?user={user}".parse().unwrap());
        options.logout = Some("/logout".parse().unwrap());
        options.samples = 100;
        options.burst = 8;
        let report = tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(audit::run(options, |_| {}))
            .unwrap();
        assert!(
            !ids(&report).contains("expiry-not-visible"),
            "{app}: {:?}",
            ids(&report)
        );
        let expiry = report.checks.iter().find(|c| c.id == "expiry").unwrap();
        assert!(expiry.summary.contains(words), "{app}: {}", expiry.summary);
        if app == "koa-session" {
            assert!(
                report.kind.format.contains("koa-session"),
                "{}",
                report.kind.format
            );
        }
    }
}
