//! curl's Netscape `cookies.txt`: one cookie a line, seven tab-separated fields —
//! domain, include-subdomains, path, secure, expiry (Unix seconds, 0 for a session cookie),
//! name, value. curl marks HttpOnly cookies with a `#HttpOnly_` prefix on the domain.
//! <https://curl.se/docs/http-cookies.html>

use std::fmt::Write as _;

use time::OffsetDateTime;

use super::{CookieProblem, ImportProblem, Imported, check_cookie, dotted_domain};
use crate::browser::CookieRow;

const HTTP_ONLY_PREFIX: &str = "#HttpOnly_";

/// The jar as a `cookies.txt` curl reads with `-b` (and writes with `-c`).
pub fn netscape(cookies: &[CookieRow]) -> String {
    let mut out = String::from(
        "# Netscape HTTP Cookie File\n# https://curl.se/docs/http-cookies.html\n\
         # Written by Session Lab. Use it with: curl -b cookies.txt -c cookies.txt URL\n\n",
    );
    let flag = |b: bool| if b { "TRUE" } else { "FALSE" };
    for cookie in cookies {
        if cookie.name.contains(['\t', '\n', '\r']) || cookie.value.contains(['\t', '\n', '\r']) {
            // A tab would split the line into more fields than the format has.
            let _ = writeln!(
                out,
                "# left out: cookie “{}” (its name or value holds a tab or a line break)",
                cookie.name.replace(['\t', '\n', '\r'], " ")
            );
            continue;
        }
        let _ = writeln!(
            out,
            "{}{}\t{}\t{}\t{}\t{}\t{}\t{}",
            if cookie.http_only {
                HTTP_ONLY_PREFIX
            } else {
                ""
            },
            dotted_domain(cookie),
            flag(!cookie.host_only),
            cookie.path,
            flag(cookie.secure),
            cookie.expires.map_or(0, OffsetDateTime::unix_timestamp),
            cookie.name,
            cookie.value
        );
    }
    out
}

/// Reads a `cookies.txt`: every cookie it can use, and why each other line was left out
/// (comments and blank lines are not problems).
pub fn parse_netscape(text: &str, now: OffsetDateTime) -> Imported {
    let mut imported = Imported {
        format: "cookies.txt",
        ..Imported::default()
    };
    for (index, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        let (line, http_only) = match line.strip_prefix(HTTP_ONLY_PREFIX) {
            Some(rest) => (rest, true),
            None => (line, false),
        };
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        match parse_line(line, http_only, now) {
            Ok(cookie) => imported.cookies.push(cookie),
            Err(reason) => imported.problems.push(ImportProblem {
                at: format!("line {}", index + 1),
                reason,
            }),
        }
    }
    imported
}

fn parse_line(
    line: &str,
    http_only: bool,
    now: OffsetDateTime,
) -> Result<CookieRow, CookieProblem> {
    let fields: Vec<&str> = line.split('\t').collect();
    // curl writes a cookie without a value with six fields.
    let (domain, subdomains, path, secure, expires, name, value) = match fields.as_slice() {
        [d, f, p, s, e, n, v] => (*d, *f, *p, *s, *e, *n, *v),
        [d, f, p, s, e, n] => (*d, *f, *p, *s, *e, *n, ""),
        _ => return Err(CookieProblem::Fields(fields.len())),
    };
    let flag = |text: &str, field: &'static str| match text.to_ascii_uppercase().as_str() {
        "TRUE" => Ok(true),
        "FALSE" => Ok(false),
        other => Err(CookieProblem::NotAFlag {
            field,
            text: other.to_owned(),
        }),
    };
    let subdomains = flag(subdomains, "include-subdomains")?;
    let secure = flag(secure, "secure")?;
    // Python's MozillaCookieJar (and yt-dlp) leave a session cookie's expiry empty; curl reads
    // that as 0.
    let seconds: i64 = match expires.trim() {
        "" => 0,
        text => text
            .parse()
            .map_err(|_| CookieProblem::ExpiryNotANumber(expires.to_owned()))?,
    };
    let expires = match seconds {
        0 => None,
        s => Some(
            OffsetDateTime::from_unix_timestamp(s)
                .map_err(|_| CookieProblem::ExpiryOutOfRange(s.to_string()))?,
        ),
    };
    if let Some(at) = expires
        && at <= now
    {
        return Err(CookieProblem::Expired {
            name: name.to_owned(),
            at,
        });
    }
    let host_only = !subdomains && !domain.starts_with('.');
    let cookie = CookieRow {
        name: name.to_owned(),
        value: value.to_owned(),
        domain: domain.trim_start_matches('.').to_ascii_lowercase(),
        host_only,
        path: path.to_owned(),
        expires,
        http_only,
        secure,
        same_site: None,
        partition: None,
    };
    check_cookie(&cookie)?;
    Ok(cookie)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, host_only: bool, http_only: bool, expires: Option<i64>) -> CookieRow {
        CookieRow {
            name: name.to_owned(),
            value: "v=1".to_owned(),
            domain: if host_only { "127.0.0.1" } else { "lab.test" }.to_owned(),
            host_only,
            path: "/".to_owned(),
            expires: expires.map(|s| OffsetDateTime::from_unix_timestamp(s).unwrap()),
            http_only,
            secure: !host_only,
            same_site: None,
            partition: None,
        }
    }

    /// HttpOnly cookies carry curl's prefix, session cookies expiry 0, domain cookies a dot
    /// and TRUE; what is written reads back the same.
    #[test]
    fn writes_what_curl_reads_and_reads_it_back() {
        let cookies = vec![
            row("id", true, true, None),
            row("theme", false, false, Some(4_000_000_000)),
        ];
        let text = netscape(&cookies);
        assert!(text.contains("#HttpOnly_127.0.0.1\tFALSE\t/\tFALSE\t0\tid\tv=1\n"));
        assert!(text.contains("\n.lab.test\tTRUE\t/\tTRUE\t4000000000\ttheme\tv=1\n"));
        let back = parse_netscape(&text, OffsetDateTime::UNIX_EPOCH);
        assert_eq!(back.cookies, cookies);
        assert!(back.problems.is_empty());
    }

    /// Each bad line is named with its number and reason; the good ones still read.
    #[test]
    fn bad_lines_are_named() {
        let text = "# comment\n\n127.0.0.1\tFALSE\t/\tFALSE\t0\tok\t1\n\
                    only\tthree\tfields\n\
                    127.0.0.1\tMAYBE\t/\tFALSE\t0\tx\t1\n\
                    127.0.0.1\tFALSE\t/\tFALSE\tsoon\tx\t1\n\
                    127.0.0.1\tFALSE\t/\tFALSE\t100\told\t1\n\
                    127.0.0.1\tFALSE\t/\tFALSE\t0\tnovalue\n\
                    no such host!\tFALSE\t/\tFALSE\t0\tx\t1\n";
        let read = parse_netscape(text, OffsetDateTime::from_unix_timestamp(1_000).unwrap());
        let names: Vec<&str> = read.cookies.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["ok", "novalue"]);
        let at: Vec<&str> = read.problems.iter().map(|p| p.at.as_str()).collect();
        assert_eq!(at, ["line 4", "line 5", "line 6", "line 7", "line 9"]);
        let reasons: Vec<&CookieProblem> = read.problems.iter().map(|p| &p.reason).collect();
        assert!(matches!(reasons[0], CookieProblem::Fields(3)));
        assert!(matches!(reasons[1], CookieProblem::NotAFlag { text, .. } if text == "MAYBE"));
        assert!(matches!(reasons[2], CookieProblem::ExpiryNotANumber(text) if text == "soon"));
        assert!(matches!(reasons[3], CookieProblem::Expired { .. }));
        assert!(matches!(reasons[4], CookieProblem::BadDomain { .. }));
    }

    /// A session cookie with an empty expiry (Python's cookie jars) reads as a session cookie;
    /// a value with a tab is left out of the export, with a comment, not written broken.
    #[test]
    fn other_writers_quirks() {
        let read = parse_netscape(
            "127.0.0.1\tFALSE\t/\tFALSE\t\tsid\tx\n",
            OffsetDateTime::UNIX_EPOCH,
        );
        assert_eq!(read.cookies[0].expires, None);
        let mut tabbed = row("tabbed", true, false, None);
        tabbed.value = "a\tb".to_owned();
        let text = netscape(&[tabbed, row("ok", true, false, None)]);
        assert!(text.contains("# left out: cookie “tabbed”"));
        let back = parse_netscape(&text, OffsetDateTime::UNIX_EPOCH);
        assert_eq!(back.cookies.len(), 1);
        assert!(back.problems.is_empty());
    }
}
