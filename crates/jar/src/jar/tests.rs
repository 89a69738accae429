//! The jar's tests: storing, replacing, evicting and sending cookies as Chrome does.

use super::*;
use crate::site::Page;

const APP_HOST: &str = "app.lab.test";
const OTHER_SITE_HOST: &str = "other-site.test";

const OTHER: Page = Page::http(OTHER_SITE_HOST);

fn context(from: RequestFrom) -> RequestContext {
    RequestContext {
        from,
        ..RequestContext::default()
    }
}

fn store_response_cookies(
    jar: &mut Jar,
    set_cookies: impl Iterator<Item = &'static str>,
    url: &Url,
    enabled: bool,
    options: VisitOptions,
    now: OffsetDateTime,
    rules: Rules,
) -> Vec<Blocked> {
    jar.store_response(
        set_cookies.map(str::as_bytes),
        url,
        enabled,
        context(options.from),
        now,
        rules,
    )
}

fn request_cookies(
    jar: &Jar,
    url: &Url,
    enabled: bool,
    options: VisitOptions,
    now: OffsetDateTime,
    rules: Rules,
) -> (Option<String>, Vec<NotSent>) {
    jar.request_cookies(url, enabled, context(options.from), now, rules)
}

fn rows(jar: &Jar) -> Vec<CookieRow> {
    jar.rows()
}

fn url(text: &str) -> Url {
    Url::parse(text).unwrap()
}

fn store(jar: &mut Jar, set_cookies: &[&'static str], at: &str, from: RequestFrom) -> Vec<Blocked> {
    store_response_cookies(
        jar,
        set_cookies.iter().copied(),
        &url(at),
        true,
        VisitOptions { from, frame: None },
        OffsetDateTime::now_utc(),
        Rules::Browser,
    )
}

fn jar_with(set_cookies: &[&'static str], at: &str) -> Jar {
    let mut jar = Jar::default();
    let blocked = store(&mut jar, set_cookies, at, RequestFrom::AddressBar);
    assert!(blocked.is_empty(), "{blocked:?}");
    jar
}

/// What a browser sends to `to` for a request from `from`, and what it keeps back.
fn request(jar: &Jar, to: &str, from: RequestFrom) -> (Option<String>, Vec<NotSent>) {
    let options = VisitOptions { from, frame: None };
    request_cookies(
        jar,
        &url(to),
        true,
        options,
        OffsetDateTime::now_utc(),
        Rules::Browser,
    )
}

fn header(jar: &Jar, to: &str, from: RequestFrom) -> Option<String> {
    request(jar, to, from).0
}

/// The cookies sent, sorted (cookies of equal path go in no set order).
fn sent(jar: &Jar, to: &str, from: RequestFrom) -> Vec<String> {
    let mut sent: Vec<String> = header(jar, to, from)
        .unwrap_or_default()
        .split("; ")
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
        .collect();
    sent.sort();
    sent
}

fn reasons(jar: &Jar, to: &str, from: RequestFrom) -> Vec<(String, NotSentReason)> {
    request(jar, to, from)
        .1
        .into_iter()
        .map(|n| (n.key.name, n.reason))
        .collect()
}

const HERE: &str = "http://127.0.0.1:3000/";
const BAR: RequestFrom = RequestFrom::AddressBar;

/// A cookie scoped to /admin is not sent to /, and the reason says path mismatch.
#[test]
fn path_mismatch_is_explained() {
    let jar = jar_with(
        &["a=1; Path=/admin", "b=2; Path=/"],
        "http://127.0.0.1:3000/admin",
    );
    assert_eq!(header(&jar, HERE, BAR).as_deref(), Some("b=2"));
    assert_eq!(
        reasons(&jar, HERE, BAR),
        [("a".to_owned(), NotSentReason::PathMismatch)]
    );
    assert_eq!(
        header(&jar, "http://127.0.0.1:3000/admin/x", BAR).as_deref(),
        Some("a=1; b=2"),
        "longer path first"
    );
}

/// A Secure cookie set over https is withheld from plain http to the same host.
#[test]
fn secure_on_http_is_explained() {
    let jar = jar_with(&["s=1; Secure"], "https://example.test/");
    assert_eq!(
        reasons(&jar, "http://example.test/", BAR),
        [("s".to_owned(), NotSentReason::SecureOnHttp)]
    );
    assert!(reasons(&jar, "https://example.test/", BAR).is_empty());
}

/// Plain http to a real name may not set a Secure cookie (localhost may), nor anyone a
/// SameSite=None cookie without Secure: the refusals say why.
#[test]
fn insecure_origins_cannot_set_secure_cookies() {
    let mut jar = Jar::default();
    let blocked = store(
        &mut jar,
        &["s=1; Secure", "n=1; SameSite=None", "ok=1"],
        "http://app.lab.test/",
        BAR,
    );
    assert_eq!(
        blocked,
        [
            Blocked {
                name: "s".to_owned(),
                reason: BlockedReason::SecureFromInsecure
            },
            Blocked {
                name: "n".to_owned(),
                reason: BlockedReason::NoneWithoutSecure
            },
        ]
    );
    assert_eq!(rows(&jar).len(), 1);
    // Loopback is a secure context: the same cookie is kept there.
    assert!(store(&mut jar, &["s=1; Secure"], HERE, BAR).is_empty());
}

/// An expired cookie (its expiry passed on the lab's clock) is reported as expired.
#[test]
fn expired_is_explained() {
    let jar = jar_with(&["e=1; Max-Age=600"], HERE);
    let later = OffsetDateTime::now_utc() + time::Duration::minutes(11);
    let (header, not_sent) = request_cookies(
        &jar,
        &url(HERE),
        true,
        VisitOptions::default(),
        later,
        Rules::Browser,
    );
    assert_eq!(header, None);
    assert_eq!(not_sent[0].reason, NotSentReason::Expired);
}

/// A Max-Age counts from the lab's clock, so a clock ahead of the machine's does not
/// make new cookies look old.
#[test]
fn max_age_counts_from_the_lab_clock() {
    let mut jar = Jar::default();
    let ahead = OffsetDateTime::now_utc() + time::Duration::days(2);
    let blocked = store_response_cookies(
        &mut jar,
        ["m=1; Max-Age=60"].into_iter(),
        &url(HERE),
        true,
        VisitOptions::default(),
        ahead,
        Rules::Browser,
    );
    assert!(blocked.is_empty());
    let expires = rows(&jar)[0].expires.unwrap();
    assert!((expires - ahead - time::Duration::seconds(60)).abs() < time::Duration::seconds(1));
    let (sent, _) = request_cookies(
        &jar,
        &url(HERE),
        true,
        VisitOptions::default(),
        ahead,
        Rules::Browser,
    );
    assert_eq!(sent.as_deref(), Some("m=1"));
}

/// A host-only cookie goes to exactly its host; a Domain=lab.test cookie to every
/// subdomain; a Domain that does not cover the host is refused.
#[test]
fn domain_cookies_reach_sibling_subdomains() {
    let jar = jar_with(&["h=1", "d=1; Domain=lab.test"], "http://app.lab.test/");
    assert_eq!(
        header(&jar, "http://api.lab.test/", BAR).as_deref(),
        Some("d=1")
    );
    assert_eq!(
        reasons(&jar, "http://api.lab.test/", BAR),
        [(
            "h".to_owned(),
            NotSentReason::DomainMismatch {
                domain: "app.lab.test".to_owned(),
                host_only: true
            }
        )]
    );
    let elsewhere = reasons(&jar, "http://other-site.test/", BAR);
    let domain_cookie = elsewhere.iter().find(|(name, _)| name == "d").unwrap();
    assert_eq!(
        domain_cookie.1.to_string(),
        "for lab.test and its subdomains only"
    );
    let mut jar = Jar::default();
    let blocked = store(&mut jar, &["d=1; Domain=lab.test"], HERE, BAR);
    assert_eq!(
        blocked[0].reason,
        BlockedReason::DomainMismatch {
            domain: "lab.test".to_owned()
        }
    );
}

/// As in Chrome: a link from another site carries Lax cookies (and those without
/// SameSite) but not Strict ones; an image on another site carries only None ones.
#[test]
fn same_site_depends_on_link_or_image() {
    let jar = jar_with(
        &[
            "strict=1; SameSite=Strict",
            "lax=1; SameSite=Lax",
            "none=1; SameSite=None; Secure",
            "unset=1",
        ],
        HERE,
    );
    let link = RequestFrom::Link(OTHER);
    let image = RequestFrom::Embed(OTHER);
    assert_eq!(
        sent(&jar, HERE, BAR),
        ["lax=1", "none=1", "strict=1", "unset=1"]
    );
    assert_eq!(sent(&jar, HERE, link), ["lax=1", "none=1", "unset=1"]);
    assert_eq!(
        reasons(&jar, HERE, link),
        [(
            "strict".to_owned(),
            NotSentReason::SameSite {
                attribute: "Strict".to_owned(),
                from: link,
                unsafe_method: false,
            }
        )]
    );
    assert_eq!(header(&jar, HERE, image).as_deref(), Some("none=1"));
    let mut withheld = reasons(&jar, HERE, image);
    withheld.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(withheld.len(), 3);
    assert!(
        withheld
            .iter()
            .all(|(_, r)| matches!(r, NotSentReason::SameSite { .. }))
    );
    assert_eq!(withheld[2].0, "unset");
    assert!(withheld[2].1.to_string().contains("Lax (by default)"));
    // An image on app.lab.test is same-site with api.lab.test: everything goes.
    let jar = jar_with(&["strict=1; SameSite=Strict"], "http://api.lab.test/");
    assert_eq!(
        header(
            &jar,
            "http://api.lab.test/",
            RequestFrom::Embed(Page::http(APP_HOST))
        )
        .as_deref(),
        Some("strict=1")
    );
}

/// The response to a cross-site image may set only SameSite=None cookies.
#[test]
fn cross_site_subresources_cannot_set_lax_cookies() {
    let mut jar = Jar::default();
    let image = RequestFrom::Embed(OTHER);
    let blocked = store(
        &mut jar,
        &["lax=1", "none=1; SameSite=None; Secure"],
        HERE,
        image,
    );
    assert_eq!(blocked.len(), 1);
    assert_eq!(blocked[0].name, "lax");
    assert!(store(&mut jar, &["lax=1"], HERE, RequestFrom::Link(OTHER)).is_empty());
}

/// A plain client keeps and sends what a browser would refuse or withhold.
#[test]
fn a_client_jar_keeps_what_a_browser_refuses() {
    let mut jar = Jar::default();
    let blocked = store_response_cookies(
        &mut jar,
        ["s=1; Secure", "n=1; SameSite=None"].into_iter(),
        &url("http://app.lab.test/"),
        true,
        VisitOptions::default(),
        OffsetDateTime::now_utc(),
        Rules::Client,
    );
    assert!(blocked.is_empty());
    let (sent, _) = request_cookies(
        &jar,
        &url("http://app.lab.test/"),
        true,
        VisitOptions {
            from: RequestFrom::Embed(OTHER),
            frame: None,
        },
        OffsetDateTime::now_utc(),
        Rules::Client,
    );
    assert_eq!(sent.map(|h| h.len()), Some("s=1; n=1".len()));
}

/// Cookies off: nothing is stored, and each Set-Cookie says so.
#[test]
fn cookies_off_refuses_every_set_cookie() {
    let mut jar = Jar::default();
    let blocked = store_response_cookies(
        &mut jar,
        ["id=1"].into_iter(),
        &url(HERE),
        false,
        VisitOptions::default(),
        OffsetDateTime::now_utc(),
        Rules::Browser,
    );
    assert_eq!(blocked[0].reason, BlockedReason::CookiesOff);
    assert!(rows(&jar).is_empty());
}

/// A server deletes a cookie by expiring it; the jar drops it at once.
#[test]
fn expired_set_cookie_removes_the_cookie() {
    let mut jar = jar_with(&["id=1"], HERE);
    assert!(store(&mut jar, &["id=; Max-Age=0; Path=/"], HERE, BAR).is_empty());
    assert!(rows(&jar).is_empty());
}

/// Closing a normal browser keeps persistent cookies; a private one keeps nothing.
#[test]
fn closing_drops_session_cookies() {
    let now = OffsetDateTime::now_utc();
    let mut jar = jar_with(&["s=1", "p=1; Max-Age=600"], HERE);
    assert_eq!(jar.close(false, now), 1);
    assert_eq!(rows(&jar)[0].name, "p");
    assert_eq!(jar.close(true, now), 1);
    assert!(rows(&jar).is_empty());
}

/// Cookies go longest path first, then in the order they were created — and a cookie set
/// again with the same value keeps its place (RFC 6265bis §5.8.3), while a new value moves it
/// to the end, as in Chrome — the same every time.
#[test]
fn cookie_header_order_is_path_then_creation() {
    let at = "http://127.0.0.1:3000/a/b/c";
    let mut jar = jar_with(&["z=1; Path=/", "y=1; Path=/", "x=1; Path=/a/b"], at);
    for _ in 0..20 {
        assert_eq!(header(&jar, at, BAR).as_deref(), Some("x=1; z=1; y=1"));
    }
    assert!(store(&mut jar, &["z=1; Path=/"], at, BAR).is_empty());
    assert_eq!(header(&jar, at, BAR).as_deref(), Some("x=1; z=1; y=1"));
    assert!(store(&mut jar, &["z=2; Path=/"], at, BAR).is_empty());
    assert_eq!(header(&jar, at, BAR).as_deref(), Some("x=1; y=1; z=2"));
    // Two cookies of one name on different paths: the deeper one first.
    let jar = jar_with(&["id=root; Path=/", "id=deep; Path=/a"], at);
    assert_eq!(header(&jar, at, BAR).as_deref(), Some("id=deep; id=root"));
}

/// A nameless cookie is kept and sent as its value alone; a huge Max-Age lives 400 days.
#[test]
fn nameless_and_forever_cookies() {
    let jar = jar_with(&["foo", "sid=x; Max-Age=9223372036854775807"], HERE);
    assert_eq!(sent(&jar, HERE, BAR), ["foo", "sid=x"]);
    let sid = rows(&jar).into_iter().find(|c| c.name == "sid").unwrap();
    let left = sid.expires.unwrap() - OffsetDateTime::now_utc();
    assert!(left <= time::Duration::days(400) && left > time::Duration::days(399));
}

/// A Domain that is a public suffix is refused with that reason; a host-only cookie and a
/// Domain cookie of the same host are two cookies.
#[test]
fn public_suffixes_and_host_only_keys() {
    let mut jar = Jar::default();
    let blocked = store(
        &mut jar,
        &["a=1; Domain=org", "b=1; Domain=example.com"],
        "http://www.example.org/",
        BAR,
    );
    assert_eq!(
        blocked[0].reason,
        BlockedReason::DomainIsPublicSuffix {
            domain: "org".to_owned()
        }
    );
    assert!(matches!(
        blocked[1].reason,
        BlockedReason::DomainMismatch { .. }
    ));
    assert!(
        store(
            &mut jar,
            &["a=host", "a=domain; Domain=www.example.org"],
            "http://www.example.org/",
            BAR
        )
        .is_empty()
    );
    assert_eq!(rows(&jar).len(), 2);
    assert_eq!(
        header(&jar, "http://www.example.org/", BAR).as_deref(),
        Some("a=host; a=domain")
    );
}

/// Name prefixes are enforced, case-insensitively, with the reason saying what is missing.
#[test]
fn prefixes_demand_their_attributes() {
    let mut jar = Jar::default();
    let blocked = store(
        &mut jar,
        &[
            "__Host-a=1; Secure; Path=/; Domain=example.test",
            "__hOsT-b=1; Secure",
            "__Secure-c=1",
            "__Http-d=1; Secure",
            "=__Host-e",
            "__Host-ok=1; Secure; Path=/",
            "__Host-Http-ok=1; Secure; Path=/; HttpOnly",
            "__Secure-ok=1; Secure; Domain=example.test",
        ],
        "https://www.example.test/",
        BAR,
    );
    let reasons: Vec<String> = blocked.iter().map(|b| b.reason.to_string()).collect();
    assert_eq!(
        reasons,
        [
            "`__Host-` needs Secure, Path=/ and no Domain",
            "`__Host-` needs Secure, Path=/ and no Domain",
            "`__Secure-` needs Secure",
            "`__Http-` needs Secure and HttpOnly",
            "a nameless cookie whose value starts with a name prefix",
        ]
    );
    assert_eq!(rows(&jar).len(), 3);
    // Plain http stores no prefixed cookie at all.
    let blocked = store(
        &mut Jar::default(),
        &["__Secure-x=1; Secure"],
        "http://www.example.test/",
        BAR,
    );
    assert_eq!(blocked[0].reason, BlockedReason::SecureFromInsecure);
}

/// Plain http can neither overwrite nor shadow a Secure cookie of the same name.
#[test]
fn insecure_responses_leave_secure_cookies_alone() {
    let mut jar = jar_with(&["id=secret; Secure; Path=/"], "https://www.example.test/");
    let blocked = store(
        &mut jar,
        &[
            "id=evil",
            "id=evil; Path=/deeper; Domain=example.test",
            "other=1",
        ],
        "http://www.example.test/deeper/x",
        BAR,
    );
    assert_eq!(blocked.len(), 2);
    assert!(
        blocked
            .iter()
            .all(|b| b.reason == BlockedReason::WouldOverwriteSecure)
    );
    assert_eq!(
        header(&jar, "https://www.example.test/", BAR).as_deref(),
        Some("id=secret")
    );
}

/// A cross-site POST carries no Lax cookie; a cookie without SameSite goes only while it is
/// younger than two minutes (Chrome's Lax-allowing-unsafe). A request bounced through
/// another site is judged by where it started and where it lands, as Chrome does; a frame of
/// another site makes its own requests cross-site.
#[test]
fn same_site_for_posts_redirects_and_frames() {
    let jar = jar_with(
        &[
            "lax=1; SameSite=Lax",
            "unset=1",
            "strict=1; SameSite=Strict",
        ],
        HERE,
    );
    let post = RequestContext {
        from: RequestFrom::Link(OTHER),
        frame: None,
        unsafe_method: true,
    };
    let now = OffsetDateTime::now_utc();
    let (header, not_sent) = jar.request_cookies(&url(HERE), true, post, now, Rules::Browser);
    assert_eq!(header.as_deref(), Some("unset=1"));
    assert!(
        not_sent
            .iter()
            .any(|n| n.reason.to_string().contains("with POST"))
    );
    let later = now + time::Duration::minutes(3);
    assert_eq!(
        jar.request_cookies(&url(HERE), true, post, later, Rules::Browser)
            .0,
        None
    );
    let jar = jar_with(&["strict=1; SameSite=Strict"], "http://api.lab.test/");
    let api = url("http://api.lab.test/");
    let from_app = RequestContext {
        from: RequestFrom::Embed(Page::http(APP_HOST)),
        ..RequestContext::default()
    };
    assert_eq!(
        jar.request_cookies(&api, true, from_app, now, Rules::Browser)
            .0
            .as_deref(),
        Some("strict=1")
    );
    let framed = RequestContext {
        frame: Some(OTHER),
        ..from_app
    };
    let (header, not_sent) = jar.request_cookies(&api, true, framed, now, Rules::Browser);
    assert_eq!(header, None);
    assert!(matches!(not_sent[0].reason, NotSentReason::SameSite { .. }));
}

/// Partitioned cookies need Secure and go only under the top-level site they were set
/// under.
#[test]
fn partitioned_cookies_are_kept_per_top_level_site() {
    let mut jar = Jar::default();
    let target = "https://widget.example.test/";
    let embed = RequestContext {
        from: RequestFrom::Embed(Page::https(APP_HOST)),
        ..RequestContext::default()
    };
    let now = OffsetDateTime::now_utc();
    let blocked = jar.store_response(
        [
            "p=1; Secure; SameSite=None; Partitioned",
            "q=1; Partitioned",
        ]
        .into_iter()
        .map(str::as_bytes),
        &url(target),
        true,
        embed,
        now,
        Rules::Browser,
    );
    assert_eq!(blocked[0].reason, BlockedReason::PartitionedWithoutSecure);
    assert_eq!(rows(&jar)[0].partition.as_deref(), Some("https://lab.test"));
    assert_eq!(
        jar.request_cookies(&url(target), true, embed, now, Rules::Browser)
            .0
            .as_deref(),
        Some("p=1")
    );
    let (header, not_sent) = jar.request_cookies(
        &url(target),
        true,
        RequestContext::default(),
        now,
        Rules::Browser,
    );
    assert_eq!(header, None);
    assert!(matches!(
        not_sent[0].reason,
        NotSentReason::Partitioned { .. }
    ));
}

/// Edits and imports meet the same rules, and a refusal says why.
#[test]
fn put_applies_the_rules_and_says_why() {
    let now = OffsetDateTime::now_utc();
    let mut jar = Jar::default();
    let mut row = CookieRow {
        name: "__Host-id".to_owned(),
        value: "1".to_owned(),
        domain: "app.lab.test".to_owned(),
        host_only: false,
        path: "/".to_owned(),
        expires: None,
        http_only: false,
        secure: true,
        same_site: None,
        partition: None,
    };
    assert_eq!(
        jar.put(&row, now, Rules::Browser),
        Err(BlockedReason::Prefix(Prefix::Host))
    );
    row.host_only = true;
    assert_eq!(jar.put(&row, now, Rules::Browser), Ok(()));
    row.value = "a;b".to_owned();
    assert!(matches!(
        jar.put(&row, now, Rules::Browser),
        Err(BlockedReason::InvalidCharacter { part: "value", .. })
    ));
    row.value = "2".to_owned();
    row.expires = Some(now - time::Duration::seconds(1));
    assert_eq!(
        jar.put(&row, now, Rules::Browser),
        Err(BlockedReason::AlreadyExpired)
    );
    row.expires = Some(now + time::Duration::days(4000));
    assert_eq!(jar.put(&row, now, Rules::Browser), Ok(()));
    assert!(rows(&jar)[0].expires.unwrap() <= now + time::Duration::days(400));
}

/// A site keeps at most 180 cookies: the oldest go first.
#[test]
fn a_site_keeps_at_most_180_cookies() {
    let mut jar = Jar::default();
    let now = OffsetDateTime::now_utc();
    let lines: Vec<String> = (0..200).map(|i| format!("c{i}=1")).collect();
    jar.store_response(
        lines.iter().map(|l| l.as_bytes()),
        &url(HERE),
        true,
        RequestContext::default(),
        now,
        Rules::Browser,
    );
    assert!(rows(&jar).len() <= MAX_COOKIES_PER_SITE);
    assert!(rows(&jar).iter().any(|c| c.name == "c199"));
    assert!(!rows(&jar).iter().any(|c| c.name == "c0"));
}
