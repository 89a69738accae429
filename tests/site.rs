//! What the embedded server keeps beside sessions, through the lab's real browsers: accounts
//! with passwords (login by form), the account page that a forged request changes, the
//! attacker's page on other-site.test and what a lured browser does with it (SameSite
//! applied), counted ids, and ending a user's other sessions.

mod common;

use common::{WAIT, apply, browse, id, lab, session_of, visit_url};
use session_lab::lab::{BrowserCommand, RequestCommand, ServerCommand};
use session_lab::{
    browser::NotSentReason,
    lab::{Lab, LabState},
    server::{AttackerPage, counted_id},
};

fn app(path: &str) -> String {
    format!("http://app.lab.test{path}")
}

fn submit(lab: &Lab, state: &mut LabState, name: &str, url: &str, form: &str) -> String {
    let browser = id(state, name);
    browse(
        lab,
        state,
        name,
        RequestCommand::Submit {
            browser,
            url: url.to_owned(),
            form: form.to_owned(),
        }
        .into(),
    )
}

/// A wrong password stores nothing; the right one logs in; the account page shows the e-mail
/// and a POST changes it; without a login the account answers 401.
#[test]
fn password_login_and_the_account_page() {
    let (lab, mut state) = lab();
    let refused = submit(
        &lab,
        &mut state,
        "A",
        &app("/login"),
        "user=alice&password=x",
    );
    assert!(
        refused.contains("Login refused: that is not the password"),
        "{refused}"
    );
    assert_eq!(
        session_of(&state, "A"),
        None,
        "a refused login stores nothing"
    );
    let nobody = submit(&lab, &mut state, "A", &app("/login"), "user=eve&password=x");
    assert!(nobody.contains("no account has that name"), "{nobody}");
    let form = visit_url(&lab, &mut state, "A", &app("/login"));
    assert!(
        form.contains(r#"<form action="/login" method="post">"#),
        "{form}"
    );

    let body = submit(
        &lab,
        &mut state,
        "A",
        &app("/login"),
        "user=alice&password=wonderland",
    );
    assert!(body.starts_with("Logged in as alice"), "{body}");
    let account = visit_url(&lab, &mut state, "A", &app("/account"));
    assert!(account.contains("E-mail: alice@app.lab.test"), "{account}");
    let changed = submit(
        &lab,
        &mut state,
        "A",
        &app("/account/email"),
        "email=a%40new.test",
    );
    assert_eq!(changed, "The e-mail address of alice is now a@new.test.");
    let account = visit_url(&lab, &mut state, "A", &app("/account"));
    assert!(account.contains("E-mail: a@new.test"), "{account}");

    let stranger = visit_url(&lab, &mut state, "B", &app("/account"));
    assert!(stranger.starts_with("Not logged in"), "{stranger}");
    let forged = submit(
        &lab,
        &mut state,
        "B",
        &app("/account/email"),
        "email=x%40y.test",
    );
    assert!(forged.starts_with("Not logged in"), "{forged}");
}

/// other-site.test serves the attacker's page, not the app; a lured browser, logged in with a
/// SameSite=Lax cookie, loads the page's image and submits its form without the cookie (both
/// kept back as cross-site) and clicks its link with it (a top-level GET): only the link's
/// change lands.
#[test]
fn a_lured_browser_acts_on_the_attackers_page_with_samesite_applied() {
    let (lab, mut state) = lab();
    submit(
        &lab,
        &mut state,
        "A",
        &app("/login"),
        "user=alice&password=wonderland",
    );
    let page = r#"<h1>Prize</h1>
<img src="http://app.lab.test/account/email?email=image%40evil.test">
<form action="http://app.lab.test/account/email" method="post">
  <input type="hidden" name="email" value="form@evil.test">
</form>
<script>document.forms[0].submit()</script>
<a href="http://app.lab.test/account/email?email=link%40evil.test">Claim</a>"#;
    let attacker = AttackerPage {
        html: page.to_owned(),
        set_cookie: String::new(),
    };
    lab.send(ServerCommand::SetAttackerPage(attacker.clone()));
    assert!(
        lab.wait_until(&mut state, WAIT, |s| s.attacker_page.as_ref()
            == Some(&attacker))
    );
    // B, not logged in, opens it from the address bar: the page is the attacker's, and B
    // too loads the image and submits the form (to no effect: B has no session).
    let b = id(&state, "B");
    let last = visit_url(&lab, &mut state, "B", "http://other-site.test/");
    assert!(last.starts_with("Not logged in"), "{last}");
    let served = state
        .exchanges
        .iter()
        .find(|r| r.browser == b && r.exchange.url == "http://other-site.test/")
        .expect("B's request to other-site.test");
    assert_eq!(
        served.exchange.body, page,
        "other-site.test serves the attacker's page"
    );
    let a = id(&state, "A");
    let before = state.exchanges.len();
    let last = browse(
        &lab,
        &mut state,
        "A",
        RequestCommand::Lure {
            browser: a,
            host: "other-site.test".to_owned(),
        }
        .into(),
    );
    assert_eq!(last, "The e-mail address of alice is now link@evil.test.");
    let made: Vec<_> = state
        .exchanges
        .iter()
        .skip(before)
        .filter(|r| r.browser == a)
        .map(|r| &r.exchange)
        .collect();
    let to = |needle: &str| {
        made.iter()
            .find(|e| {
                e.url.contains(needle)
                    || e.request_body
                        .as_deref()
                        .is_some_and(|b| b.contains(needle))
            })
            .unwrap_or_else(|| panic!("a request with {needle}: {made:#?}"))
    };
    for kept_back in ["image%40evil", "form%40evil"] {
        let exchange = to(kept_back);
        assert_eq!(exchange.cookie_header, None, "{kept_back}");
        assert!(
            exchange.body.starts_with("Not logged in"),
            "{}",
            exchange.body
        );
        assert!(
            exchange
                .not_sent
                .iter()
                .any(|n| matches!(n.reason, NotSentReason::SameSite { .. })),
            "{:?}",
            exchange.not_sent
        );
    }
    assert!(to("link%40evil").cookie_header.is_some());
    assert_eq!(made.len(), 4, "the page, its image, its form, its link");
}

/// With counted ids, new sessions are numbered one after another and readable in the cookie.
#[test]
fn counted_ids_follow_each_other() {
    let (lab, mut state) = lab();
    apply(&lab, &mut state, |s| {
        s.counted_ids = true;
        s.protection = session_lab::server::CookieProtection::Plain;
    });
    visit_url(&lab, &mut state, "A", &app("/"));
    visit_url(&lab, &mut state, "B", &app("/"));
    let (a, b) = (
        session_of(&state, "A").unwrap(),
        session_of(&state, "B").unwrap(),
    );
    assert_eq!(session_lab::server::next_guess(a), b);
    let text = a.to_string();
    let digits = text.strip_suffix('A').expect("a counted id ends in A");
    let n: u64 = digits.parse().expect("a counted id is a number");
    assert_eq!(a, counted_id(n));
    assert!(n > 1000, "{text}");
}

/// /logout-others ends every other session of the user and keeps this one and other users'.
#[test]
fn logout_others_ends_only_the_users_other_sessions() {
    let (lab, mut state) = lab();
    lab.send(BrowserCommand::AddBrowser { private: false });
    assert!(lab.wait_until(&mut state, WAIT, |s| s.browsers.len() == 3));
    let third = state.browsers[2].name.clone();
    submit(
        &lab,
        &mut state,
        "A",
        &app("/login"),
        "user=alice&password=wonderland",
    );
    submit(
        &lab,
        &mut state,
        "B",
        &app("/login"),
        "user=alice&password=wonderland",
    );
    submit(
        &lab,
        &mut state,
        &third,
        &app("/login"),
        "user=bob&password=builder",
    );
    let ended = visit_url(&lab, &mut state, "A", &app("/logout-others"));
    assert_eq!(ended, "Ended 1 other session of alice; this one stays.");
    let who = |lab: &Lab, state: &mut LabState, name: &str| {
        let body = visit_url(lab, state, name, &app("/whoami"));
        serde_json::from_str::<serde_json::Value>(&body).unwrap()["data"]["user"].clone()
    };
    assert_eq!(who(&lab, &mut state, "A"), "alice");
    assert_eq!(who(&lab, &mut state, "B"), serde_json::Value::Null);
    assert_eq!(who(&lab, &mut state, &third), "bob");
}

/// Behind the lab's TLS-terminating proxy, express-session's rule holds: with Secure and no
/// trust in the proxy, the server sets no cookie and no session sticks (every visit is the
/// first); trusting X-Forwarded-Proto, the Secure cookie is set and the counter counts.
#[test]
fn secure_cookies_behind_the_proxy_need_trust() {
    let (lab, mut state) = lab();
    assert!(lab.wait_until(&mut state, WAIT, |s| s.proxy_url.is_some()));
    let proxy = state.proxy_url.clone().unwrap();
    apply(&lab, &mut state, |s| {
        s.secure = true;
        s.secure_requests = session_lab::server::SecureRequests::Tls;
    });
    for _ in 0..2 {
        assert_eq!(
            visit_url(&lab, &mut state, "A", &proxy),
            "Number of views 1"
        );
    }
    assert_eq!(
        session_of(&state, "A"),
        None,
        "no cookie was set behind the proxy"
    );
    // Straight to the server over TLS, the same rule sets it.
    let direct = app("/").replace("http://", "https://");
    visit_url(&lab, &mut state, "B", &direct);
    assert_eq!(
        visit_url(&lab, &mut state, "B", &direct),
        "Number of views 2"
    );

    apply(&lab, &mut state, |s| {
        s.secure_requests = session_lab::server::SecureRequests::TlsOrProxy;
    });
    assert_eq!(
        visit_url(&lab, &mut state, "A", &proxy),
        "Number of views 1"
    );
    assert_eq!(
        visit_url(&lab, &mut state, "A", &proxy),
        "Number of views 2"
    );
    let cookie = &state.browser_named("A").unwrap().cookies[0].cookie;
    assert!(cookie.secure, "{cookie:?}");
}

/// Cookieless sessions: the login redirects to an address that carries the id, the page's
/// links carry it too, no cookie is set — and whoever opens the address is in the session,
/// while the same browser typing an address without it is not.
#[test]
fn cookieless_sessions_travel_in_urls() {
    let (lab, mut state) = lab();
    apply(&lab, &mut state, |s| s.id_in_url = true);
    let account = submit(
        &lab,
        &mut state,
        "A",
        &app("/login"),
        "user=alice&password=wonderland",
    );
    assert!(account.contains("Account of alice"), "{account}");
    assert!(account.contains("href=\"/logout-others?sid="), "{account}");
    let a = state.browser_named("A").unwrap();
    let address = a.last.as_ref().unwrap().url.clone();
    assert!(address.contains("/account?sid="), "{address}");
    assert!(a.cookies.is_empty(), "no cookie: {:?}", a.cookies);
    assert!(
        visit_url(&lab, &mut state, "B", &address).contains("Account of alice"),
        "the address is the session"
    );
    assert!(visit_url(&lab, &mut state, "A", &app("/account")).starts_with("Not logged in"));

    apply(&lab, &mut state, |s| s.id_in_url = false);
    let page = submit(
        &lab,
        &mut state,
        "A",
        &app("/login"),
        "user=bob&password=builder",
    );
    assert!(page.starts_with("Logged in as bob"), "{page}");
    assert!(session_of(&state, "A").is_some(), "a cookie again");
}
