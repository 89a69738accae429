//! What the jar costs per request with 1,000 cookies in it: storing one `Set-Cookie` and
//! building the `Cookie` header (with the reasons for every cookie kept back), as a visit does.
//! 1,000 cookies over 20 hosts of 10 sites (Chrome keeps at most 180 a site), 10 paths each.
//!
//! `cargo bench --bench jar`.

use std::time::Instant;

use session_lab::browser::{Jar, RequestContext, Rules};
use time::OffsetDateTime;
use url::Url;

const ROUNDS: u32 = 20_000;

/// One `Set-Cookie` line from `url`, stored as a response stores it.
fn store(jar: &mut Jar, url: &Url, line: &str, now: OffsetDateTime) -> usize {
    let blocked = jar.store_response(
        [line.as_bytes()].into_iter(),
        url,
        true,
        RequestContext::default(),
        now,
        Rules::Browser,
    );
    blocked.len()
}

fn main() {
    let now = OffsetDateTime::now_utc();
    let mut jar = Jar::default();
    for n in 0..1_000 {
        let url = Url::parse(&format!(
            "http://h{}.site{}.test/p{}/x",
            n % 20,
            n % 10,
            n % 10
        ))
        .unwrap();
        let line = format!("c{n}=value{n}; Path=/p{}; Max-Age=3600", n % 10);
        assert_eq!(store(&mut jar, &url, &line, now), 0, "{line} refused");
    }
    assert_eq!(jar.rows().len(), 1_000);
    let url = Url::parse("http://h3.site3.test/p3/x").unwrap();

    let started = Instant::now();
    let mut sent = 0;
    for _ in 0..ROUNDS {
        let (header, not_sent) =
            jar.request_cookies(&url, true, RequestContext::default(), now, Rules::Browser);
        sent += header.map_or(0, |h| h.len()) + not_sent.len();
    }
    let send = started.elapsed() / ROUNDS;

    let started = Instant::now();
    for n in 0..ROUNDS {
        store(
            &mut jar,
            &url,
            &format!("c3=v{n}; Path=/p3; Max-Age=3600"),
            now,
        );
    }
    let store_time = started.elapsed() / ROUNDS;
    println!(
        "jar of 1,000 cookies: send {send:?} per request, store {store_time:?} per Set-Cookie ({sent} bytes seen)"
    );
}
