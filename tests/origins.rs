//! The cookie attributes on real origins: the simulated browsers reach the embedded server as
//! app.lab.test, api.lab.test and other-site.test too, and apply Secure, Domain and SameSite
//! there as Chrome does. Each lesson is asserted to happen, with the reason the browser gives.

mod common;

use common::{WAIT, apply, id, lab, visit_url};
use session_lab::lab::BrowserCommand;
use session_lab::{
    browser::{
        API_HOST, APP_HOST, BlockedReason, Exchange, NotSentReason, OTHER_SITE_HOST, Page,
        RequestFrom,
    },
    lab::{Lab, LabState, LogSource},
    server::SameSitePolicy,
};

fn from(lab: &Lab, state: &mut LabState, name: &str, from: RequestFrom) {
    let browser = id(state, name);
    lab.send(BrowserCommand::SetRequestFrom { browser, from });
    assert!(lab.wait_until(state, WAIT, |s| s.browser(browser).unwrap().from == from));
}

/// Empties browser `name`'s jar and waits until the lab has said so.
fn clear(lab: &Lab, state: &mut LabState, name: &str) {
    let browser = id(state, name);
    let lines = state.logged;
    lab.send(BrowserCommand::ClearCookies(browser));
    assert!(
        lab.wait_until(state, WAIT, |s| s.log_since(lines).any(
            |l| matches!(&l.source, LogSource::Browser { id, .. } if *id == browser)
        ))
    );
}

fn last(state: &LabState, name: &str) -> Exchange {
    state.browser_named(name).unwrap().last.clone().unwrap()
}

fn at(host: &str) -> String {
    format!("http://{host}/")
}

/// The lab's names lead to the embedded server: the same counter under another name is
/// another host, so another cookie and another session.
#[test]
fn lab_names_reach_the_embedded_server() {
    let (lab, mut state) = lab();
    assert_eq!(
        visit_url(&lab, &mut state, "A", &at(APP_HOST)),
        "Number of views 1"
    );
    assert_eq!(
        visit_url(&lab, &mut state, "A", &at(APP_HOST)),
        "Number of views 2"
    );
    let cookie = &state.browser_named("A").unwrap().cookies[0].cookie;
    assert_eq!((cookie.domain.as_str(), cookie.host_only), (APP_HOST, true));
    let server = lab.server_url().unwrap();
    assert_eq!(
        visit_url(&lab, &mut state, "A", &server),
        "Number of views 1"
    );
    assert!(
        state
            .exchanges
            .iter()
            .rev()
            .take(3)
            .all(|r| r.served.is_some()),
        "the server's record of each visit is found under either name"
    );
}

/// Secure over plain http to a real name: the browser refuses the cookie, so every visit is a
/// stranger; on 127.0.0.1 (a secure context) the same cookie is kept and sent.
#[test]
fn a_secure_cookie_is_refused_over_plain_http() {
    let (lab, mut state) = lab();
    apply(&lab, &mut state, |s| s.secure = true);
    for _ in 0..2 {
        assert_eq!(
            visit_url(&lab, &mut state, "A", &at(APP_HOST)),
            "Number of views 1"
        );
        let exchange = last(&state, "A");
        assert_eq!(exchange.blocked.len(), 1, "{:?}", exchange.blocked);
        assert_eq!(exchange.blocked[0].name, "id");
        assert_eq!(
            exchange.blocked[0].reason,
            BlockedReason::SecureFromInsecure
        );
        assert!(exchange.cookie_header.is_none());
    }
    assert!(state.browser_named("A").unwrap().cookies.is_empty());
    let server = lab.server_url().unwrap();
    assert_eq!(
        visit_url(&lab, &mut state, "A", &server),
        "Number of views 1"
    );
    assert_eq!(
        visit_url(&lab, &mut state, "A", &server),
        "Number of views 2"
    );
    assert!(last(&state, "A").blocked.is_empty());
}

/// Over https (the lab's own certificate, trusted by its browsers) app.lab.test is a secure
/// context: the Secure cookie is stored and sent; over plain http to the same host it stays in
/// the jar, with the reason, and the http response cannot replace it (a new session's cookie
/// is refused there), so back on https the first session goes on.
#[test]
fn a_secure_cookie_is_stored_over_https_and_not_sent_over_http() {
    let (lab, mut state) = lab();
    apply(&lab, &mut state, |s| s.secure = true);
    let https = format!("https://{APP_HOST}/");
    assert_eq!(
        visit_url(&lab, &mut state, "A", &https),
        "Number of views 1"
    );
    assert_eq!(
        visit_url(&lab, &mut state, "A", &https),
        "Number of views 2"
    );
    assert!(
        state.exchanges.back().unwrap().served.is_some(),
        "the server's record is found over https"
    );
    let held = &state.browser_named("A").unwrap().cookies[0];
    let cookie = &held.cookie;
    assert!(cookie.secure && cookie.host_only && cookie.domain == APP_HOST);
    // The map is right on the lab's names: the session is A's, not "external", and the
    // embedded server is not called a foreign one.
    let session = held
        .session_id()
        .expect("the cookie is tied to the embedded server's session");
    let holders: Vec<&str> = state
        .holders(session)
        .iter()
        .map(|b| b.name.as_str())
        .collect();
    assert_eq!(holders, ["A"]);
    assert!(
        state.foreign_origins().is_empty(),
        "{:?}",
        state.foreign_origins()
    );

    assert_eq!(
        visit_url(&lab, &mut state, "A", &at(APP_HOST)),
        "Number of views 1"
    );
    let exchange = last(&state, "A");
    assert!(exchange.cookie_header.is_none());
    assert_eq!(exchange.not_sent[0].reason, NotSentReason::SecureOnHttp);
    assert_eq!(
        exchange.blocked[0].reason,
        BlockedReason::SecureFromInsecure
    );
    assert_eq!(
        visit_url(&lab, &mut state, "A", &https),
        "Number of views 3"
    );
}

/// Domain=lab.test reaches the sibling api.lab.test (one session on both); a host-only cookie
/// does not, and says whose it is.
#[test]
fn a_domain_cookie_reaches_sibling_subdomains_and_a_host_only_one_does_not() {
    let (lab, mut state) = lab();
    visit_url(&lab, &mut state, "A", &at(APP_HOST));
    assert_eq!(
        visit_url(&lab, &mut state, "A", &at(API_HOST)),
        "Number of views 1"
    );
    let exchange = last(&state, "A");
    assert!(exchange.not_sent.iter().any(|n| n.reason
        == NotSentReason::DomainMismatch {
            domain: APP_HOST.to_owned(),
            host_only: true
        }));

    apply(&lab, &mut state, |s| s.domain = Some("lab.test".to_owned()));
    clear(&lab, &mut state, "B");
    visit_url(&lab, &mut state, "B", &at(APP_HOST));
    visit_url(&lab, &mut state, "B", &at(APP_HOST));
    assert_eq!(
        visit_url(&lab, &mut state, "B", &at(API_HOST)),
        "Number of views 3"
    );
    let cookie = &state.browser_named("B").unwrap().cookies[0].cookie;
    assert_eq!(
        (cookie.domain.as_str(), cookie.host_only),
        ("lab.test", false)
    );
    // From 127.0.0.1 the same Domain is refused: it does not cover that host.
    let server = lab.server_url().unwrap();
    visit_url(&lab, &mut state, "B", &server);
    assert_eq!(
        last(&state, "B").blocked[0].reason,
        BlockedReason::DomainMismatch {
            domain: "lab.test".to_owned()
        }
    );
}

/// A link on other-site.test carries a Lax cookie (the session goes on) but not a Strict
/// one (the server sees a stranger).
#[test]
fn a_link_from_another_site_sends_lax_cookies_not_strict_ones() {
    let (lab, mut state) = lab();
    let app = at(APP_HOST);
    visit_url(&lab, &mut state, "A", &app);
    from(
        &lab,
        &mut state,
        "A",
        RequestFrom::Link(Page::http(OTHER_SITE_HOST)),
    );
    assert_eq!(
        visit_url(&lab, &mut state, "A", &app),
        "Number of views 2",
        "Lax goes"
    );

    apply(&lab, &mut state, |s| s.same_site = SameSitePolicy::Strict);
    from(&lab, &mut state, "B", RequestFrom::AddressBar);
    visit_url(&lab, &mut state, "B", &app);
    assert_eq!(visit_url(&lab, &mut state, "B", &app), "Number of views 2");
    from(
        &lab,
        &mut state,
        "B",
        RequestFrom::Link(Page::http(OTHER_SITE_HOST)),
    );
    assert_eq!(
        visit_url(&lab, &mut state, "B", &app),
        "Number of views 1",
        "Strict stays"
    );
    let exchange = last(&state, "B");
    assert!(exchange.cookie_header.is_none());
    assert_eq!(
        exchange.not_sent[0].reason,
        NotSentReason::SameSite {
            attribute: "Strict".to_owned(),
            from: RequestFrom::Link(Page::http(OTHER_SITE_HOST)),
            unsafe_method: false,
        }
    );
    assert!(
        exchange.not_sent[0]
            .reason
            .to_string()
            .contains("cross-site navigation"),
        "{}",
        exchange.not_sent[0].reason
    );
}

/// An image on other-site.test carries only a `SameSite=None; Secure` cookie: a Lax one stays
/// home (and the response may not replace it); on app.lab.test's own page api.lab.test is
/// same-site and everything goes.
#[test]
fn a_cross_site_image_sends_only_same_site_none_secure() {
    let (lab, mut state) = lab();
    let server = lab.server_url().unwrap();
    visit_url(&lab, &mut state, "A", &server);
    from(
        &lab,
        &mut state,
        "A",
        RequestFrom::Embed(Page::http(OTHER_SITE_HOST)),
    );
    assert_eq!(
        visit_url(&lab, &mut state, "A", &server),
        "Number of views 1"
    );
    let exchange = last(&state, "A");
    assert!(matches!(
        exchange.not_sent[0].reason,
        NotSentReason::SameSite { .. }
    ));
    assert!(
        matches!(exchange.blocked[0].reason, BlockedReason::SameSite { .. }),
        "a cross-site image's response may not set a Lax cookie"
    );
    from(&lab, &mut state, "A", RequestFrom::AddressBar);
    assert_eq!(
        visit_url(&lab, &mut state, "A", &server),
        "Number of views 2",
        "the jar kept the first session"
    );

    // SameSite=None; Secure (kept on 127.0.0.1, a secure context) crosses sites.
    apply(&lab, &mut state, |s| {
        s.same_site = SameSitePolicy::None;
        s.secure = true;
    });
    clear(&lab, &mut state, "B");
    visit_url(&lab, &mut state, "B", &server);
    from(
        &lab,
        &mut state,
        "B",
        RequestFrom::Embed(Page::http(OTHER_SITE_HOST)),
    );
    assert_eq!(
        visit_url(&lab, &mut state, "B", &server),
        "Number of views 2"
    );
    assert!(last(&state, "B").not_sent.is_empty());

    // Same site, other subdomain: an image on app.lab.test sends a Strict cookie to api.
    apply(&lab, &mut state, |s| {
        s.same_site = SameSitePolicy::Strict;
        s.secure = false;
        s.domain = Some("lab.test".to_owned());
    });
    clear(&lab, &mut state, "B");
    from(&lab, &mut state, "B", RequestFrom::AddressBar);
    visit_url(&lab, &mut state, "B", &at(APP_HOST));
    from(
        &lab,
        &mut state,
        "B",
        RequestFrom::Embed(Page::http(APP_HOST)),
    );
    assert_eq!(
        visit_url(&lab, &mut state, "B", &at(API_HOST)),
        "Number of views 2"
    );
}
