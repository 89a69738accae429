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
    assert_eq!(json["schema"], 1);
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
