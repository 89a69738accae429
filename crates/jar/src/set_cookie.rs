//! Reading a `Set-Cookie` header as a browser does: RFC 6265bis §5.6 (the parsing algorithm,
//! not the grammar servers should write), with Chrome's choices where it departs
//! (`net/cookies/parsed_cookie.cc`, `canonical_cookie.cc`). Nothing is applied here: the jar
//! decides what a parsed cookie means for the request that brought it.

use std::fmt;

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

/// The most bytes a cookie's name and value may have together (RFC 6265bis §5.6 step 5;
/// Chrome's `kMaxCookieNamePlusValueSize`).
pub const MAX_NAME_VALUE_BYTES: usize = 4096;

/// The most bytes an attribute's value may have; a longer one is ignored, not the cookie
/// (RFC 6265bis §5.6 step 8; Chrome's `kMaxCookieAttributeValueSize`).
pub const MAX_ATTRIBUTE_VALUE_BYTES: usize = 1024;

/// The longest a cookie may live: a later `Expires` or a larger `Max-Age` is cut to this
/// (RFC 6265bis §5.6.1 and §5.6.2; Chrome since M104).
pub const MAX_LIFETIME: time::Duration = time::Duration::days(400);

/// A `SameSite` attribute as written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum SameSite {
    /// Sent on same-site requests only.
    Strict,
    /// Sent on same-site requests and cross-site top-level navigations with a safe method.
    Lax,
    /// Sent everywhere (needs `Secure`).
    None,
}

impl SameSite {
    /// The attribute's value as written in a header: "Strict", "Lax", "None".
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Strict => "Strict",
            Self::Lax => "Lax",
            Self::None => "None",
        }
    }

    /// Reads a value case-insensitively; anything else is `None` (browsers then apply their
    /// default, Lax).
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Strict, Self::Lax, Self::None]
            .into_iter()
            .find(|value| value.as_str().eq_ignore_ascii_case(text))
    }
}

impl fmt::Display for SameSite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a `Set-Cookie` line is no cookie at all (before any rule of the jar).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParseRefusal {
    /// A control character other than a tab (RFC 6265bis §5.6 step 1; Chrome rejects such a
    /// line rather than cutting it).
    ControlCharacter {
        /// The first such byte.
        byte: u8,
    },
    /// Neither a name nor a value (`Set-Cookie: =` or an empty line).
    Empty,
    /// No name, and a value holding '=' (`Set-Cookie: =a=b`): it would read back as the
    /// cookie named `a`.
    NamelessWithEquals,
    /// Name and value together are over the limit.
    TooLarge {
        /// The name's and value's bytes together.
        bytes: usize,
    },
}

impl fmt::Display for ParseRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ControlCharacter { byte } => {
                write!(
                    f,
                    "the line contains a control character (byte 0x{byte:02x})"
                )
            }
            Self::Empty => f.write_str("it has neither a name nor a value"),
            Self::NamelessWithEquals => {
                f.write_str("it has no name and its value holds “=” (it would read as a name)")
            }
            Self::TooLarge { bytes } => {
                write!(
                    f,
                    "name+value is {bytes} bytes, over {MAX_NAME_VALUE_BYTES}"
                )
            }
        }
    }
}

impl std::error::Error for ParseRefusal {}

/// A `Set-Cookie` header's cookie and attributes, as a browser reads them (nothing applied
/// yet): for each attribute its last occurrence, as Chrome reads them (valid or not).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetCookie {
    /// The name (may be empty: `Set-Cookie: foo` is a nameless cookie whose value is `foo`).
    pub name: String,
    /// The value, as sent (quotes kept).
    pub value: String,
    /// `HttpOnly` given.
    pub http_only: bool,
    /// `Secure` given.
    pub secure: bool,
    /// `SameSite`, if given ("Strict", "Lax", "None"); an unknown value counts as not given.
    pub same_site: Option<String>,
    /// `Partitioned` given (CHIPS: kept per top-level site).
    pub partitioned: bool,
    /// `Path`, if the last `Path` given starts with `/` (otherwise the default path applies).
    pub path: Option<String>,
    /// `Domain`, if the last one given is not empty (as written, leading dot and all).
    pub domain: Option<String>,
    /// `Max-Age` in seconds, if the last one given is a number (saturated at the ends of
    /// `i64`).
    pub max_age: Option<i64>,
    /// `Expires`, if the last one given is a date the cookie-date algorithm reads.
    pub expires: Option<OffsetDateTime>,
}

impl SetCookie {
    /// Reads a `Set-Cookie` header value; `None` if it is no cookie (see [`Self::read`]).
    pub fn parse(header: &str) -> Option<Self> {
        Self::read(header).ok()
    }

    /// Reads a `Set-Cookie` header value, or says why it is no cookie.
    pub fn read(header: &str) -> Result<Self, ParseRefusal> {
        // Step 1: a control character other than HTAB refuses the whole line.
        if let Some(&byte) = header
            .as_bytes()
            .iter()
            .find(|&&b| (b < 0x20 && b != b'\t') || b == 0x7f)
        {
            return Err(ParseRefusal::ControlCharacter { byte });
        }
        let (pair, attributes) = match header.split_once(';') {
            Some((pair, rest)) => (pair, Some(rest)),
            None => (header, None),
        };
        // Step 3: no '=' makes a nameless cookie whose value is the whole pair.
        let (name, value) = match pair.split_once('=') {
            Some((name, value)) => (trim_wsp(name), trim_wsp(value)),
            None => ("", trim_wsp(pair)),
        };
        // Chrome departs from the RFC: a tab left inside the name or the value (after the
        // whitespace around them is trimmed) refuses the cookie (`ParsedCookie::IsValidToken`
        // and `IsValidCookieValue` allow no control character, HTAB included).
        if name.contains('\t') || value.contains('\t') {
            return Err(ParseRefusal::ControlCharacter { byte: b'\t' });
        }
        if name.is_empty() && value.is_empty() {
            return Err(ParseRefusal::Empty);
        }
        // Chrome: a nameless cookie whose value holds '=' would read back as a named one
        // (`CanonicalCookie::Create`'s "=a=b" check), so it is refused.
        if name.is_empty() && value.contains('=') {
            return Err(ParseRefusal::NamelessWithEquals);
        }
        let bytes = crate::raw::wire_len(name) + crate::raw::wire_len(value);
        if bytes > MAX_NAME_VALUE_BYTES {
            return Err(ParseRefusal::TooLarge { bytes });
        }
        let mut cookie = Self {
            name: name.to_owned(),
            value: value.to_owned(),
            http_only: false,
            secure: false,
            same_site: None,
            partitioned: false,
            path: None,
            domain: None,
            max_age: None,
            expires: None,
        };
        for av in attributes.into_iter().flat_map(|rest| rest.split(';')) {
            let (key, value) = match av.split_once('=') {
                Some((key, value)) => (trim_wsp(key), trim_wsp(value)),
                None => (trim_wsp(av), ""),
            };
            if crate::raw::wire_len(value) > MAX_ATTRIBUTE_VALUE_BYTES {
                continue;
            }
            cookie.apply_attribute(key, value);
        }
        Ok(cookie)
    }

    /// One `cookie-av` (RFC 6265bis §5.6.1–§5.6.7); unknown names are ignored.
    fn apply_attribute(&mut self, key: &str, value: &str) {
        match key.to_ascii_lowercase().as_str() {
            // Chrome keeps the last occurrence of each attribute, whatever its value
            // (`ParsedCookie` remembers one index per attribute), then reads it: a last
            // `Expires`, `Max-Age` or `Domain` that is empty or no date or number undoes an
            // earlier valid one (the RFC would keep the earlier one).
            "expires" => self.expires = parse_cookie_date(value),
            "max-age" => self.max_age = parse_max_age(value),
            "domain" => self.domain = (!value.is_empty()).then(|| value.to_owned()),
            // The last Path wins even when it is not a path: then the default path applies.
            "path" => self.path = value.starts_with('/').then(|| value.to_owned()),
            "secure" => self.secure = true,
            "httponly" => self.http_only = true,
            // Chrome: an unknown value means "unspecified" (Lax by default), and it replaces an
            // earlier valid one (WPT multiple-samesite-attributes).
            "samesite" => self.same_site = SameSite::parse(value).map(|s| s.as_str().to_owned()),
            "partitioned" => self.partitioned = true,
            _ => {}
        }
    }

    /// The `SameSite` attribute as read (none for an unknown value).
    pub fn same_site(&self) -> Option<SameSite> {
        self.same_site.as_deref().and_then(SameSite::parse)
    }

    /// How long it lives from now: `Max-Age`, else `Expires`, capped at 400 days (never an
    /// overflow, whatever the numbers); `None` for a browser-session cookie. Zero or less
    /// deletes.
    pub fn lifetime(&self, now: OffsetDateTime) -> Option<time::Duration> {
        self.asked_lifetime(now).map(|left| left.min(MAX_LIFETIME))
    }

    /// How long the server asked it to live (`Max-Age`, else `Expires`), before browsers cut
    /// it to 400 days.
    pub fn asked_lifetime(&self, now: OffsetDateTime) -> Option<time::Duration> {
        match (self.max_age, self.expires) {
            (Some(secs), _) => Some(time::Duration::seconds(secs)),
            (None, Some(at)) => Some(at - now),
            (None, None) => None,
        }
    }

    /// When it expires, counted from `now`: `None` for a browser-session cookie. A deleting
    /// cookie gets `now` itself (already due).
    pub fn expiry(&self, now: OffsetDateTime) -> Option<OffsetDateTime> {
        self.lifetime(now)
            .map(|left| now + left.max(time::Duration::ZERO))
    }

    /// Whether it deletes the cookie (an expiry already past, or Max-Age 0 or less).
    pub fn is_removal(&self, now: OffsetDateTime) -> bool {
        self.lifetime(now)
            .is_some_and(|left| left <= time::Duration::ZERO)
    }
}

/// Removes spaces and tabs at both ends (RFC 6265bis's WSP; other whitespace is kept).
fn trim_wsp(text: &str) -> &str {
    text.trim_matches([' ', '\t'])
}

/// `Max-Age` (RFC 6265bis §5.6.2): a digit or '-' first, digits after; out-of-range numbers
/// saturate, as Chrome's `StringToInt64` best effort does.
fn parse_max_age(value: &str) -> Option<i64> {
    let (negative, digits) = match value.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, value),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let magnitude = digits.bytes().fold(0i64, |acc, b| {
        acc.saturating_mul(10).saturating_add(i64::from(b - b'0'))
    });
    Some(if negative { -magnitude } else { magnitude })
}

/// The cookie-date algorithm of RFC 6265bis §5.1.1: tokens split by delimiters, the first
/// time, day, month and year found; years 70–99 are 19xx and 0–69 20xx; an impossible date
/// (31 February, hour 24) is no date, and a year before 1601 is 1 January 1601, as in Chrome.
pub fn parse_cookie_date(text: &str) -> Option<OffsetDateTime> {
    let is_delimiter = |c: char| matches!(c, '\t' | ' '..='/' | ';'..='@' | '['..='`' | '{'..='~');
    let mut time_of_day: Option<(u8, u8, u8)> = None;
    let mut day: Option<u8> = None;
    let mut month: Option<Month> = None;
    let mut year: Option<i32> = None;
    for token in text.split(is_delimiter).filter(|t| !t.is_empty()) {
        if time_of_day.is_none()
            && let Some(found) = parse_time_token(token)
        {
            time_of_day = Some(found);
            continue;
        }
        if day.is_none()
            && let Some(found) = leading_digits(token, 1, 2)
        {
            day = u8::try_from(found).ok();
            continue;
        }
        if month.is_none()
            && let Some(found) = parse_month(token)
        {
            month = Some(found);
            continue;
        }
        if year.is_none()
            && let Some(found) = leading_digits(token, 2, 4)
        {
            year = i32::try_from(found).ok();
        }
    }
    let (hour, minute, second) = time_of_day?;
    let mut year = year?;
    if (70..=99).contains(&year) {
        year += 1900;
    } else if (0..=69).contains(&year) {
        year += 2000;
    }
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    // Chrome saturates a year before 1601 (the start of its clock) to that start
    // (`SaturatedTimeFromUTCExploded`): a date long past, so the cookie is already expired.
    let (month, day) = (month?, day?);
    if year < 1601 {
        return Some(
            PrimitiveDateTime::new(
                Date::from_calendar_date(1601, Month::January, 1).ok()?,
                Time::MIDNIGHT,
            )
            .assume_utc(),
        );
    }
    let date = Date::from_calendar_date(year, month, day).ok()?;
    let time = Time::from_hms(hour, minute, second).ok()?;
    Some(PrimitiveDateTime::new(date, time).assume_utc())
}

/// `hms-time`: 1–2 digits, ':', 1–2 digits, ':', 1–2 digits, then anything that is not a digit.
fn parse_time_token(token: &str) -> Option<(u8, u8, u8)> {
    let mut parts = token.splitn(3, ':');
    let hour = exact_digits(parts.next()?, 1, 2)?;
    let minute = exact_digits(parts.next()?, 1, 2)?;
    let second = leading_digits(parts.next()?, 1, 2)?;
    Some((
        u8::try_from(hour).ok()?,
        u8::try_from(minute).ok()?,
        u8::try_from(second).ok()?,
    ))
}

/// `min..=max` digits and nothing else.
fn exact_digits(text: &str, min: usize, max: usize) -> Option<u32> {
    (text.bytes().all(|b| b.is_ascii_digit())).then_some(())?;
    leading_digits(text, min, max)
}

/// `min..=max` digits at the start, followed by the end or a non-digit.
fn leading_digits(text: &str, min: usize, max: usize) -> Option<u32> {
    let count = text.bytes().take_while(u8::is_ascii_digit).count();
    if count < min || count > max {
        return None;
    }
    text[..count].parse().ok()
}

/// A month's first three letters, any case, starting the token.
fn parse_month(token: &str) -> Option<Month> {
    let prefix = token.get(..3)?.to_ascii_lowercase();
    Some(match prefix.as_str() {
        "jan" => Month::January,
        "feb" => Month::February,
        "mar" => Month::March,
        "apr" => Month::April,
        "may" => Month::May,
        "jun" => Month::June,
        "jul" => Month::July,
        "aug" => Month::August,
        "sep" => Month::September,
        "oct" => Month::October,
        "nov" => Month::November,
        "dec" => Month::December,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(line: &str) -> SetCookie {
        SetCookie::read(line).unwrap()
    }

    /// A pair without '=' is a nameless cookie; '=' alone is nothing.
    #[test]
    fn nameless_cookies_keep_their_value() {
        let c = read("foo");
        assert_eq!((c.name.as_str(), c.value.as_str()), ("", "foo"));
        let c = read("=foo; Path=/");
        assert_eq!((c.name.as_str(), c.value.as_str()), ("", "foo"));
        assert_eq!(SetCookie::read(" = "), Err(ParseRefusal::Empty));
    }

    /// Control characters other than a tab refuse the whole line; a tab refuses it inside the
    /// name or the value (Chrome), and is whitespace around them.
    #[test]
    fn control_characters_refuse_the_line() {
        assert_eq!(
            SetCookie::read("a=b\x01c"),
            Err(ParseRefusal::ControlCharacter { byte: 1 })
        );
        let tab = Err(ParseRefusal::ControlCharacter { byte: b'\t' });
        assert_eq!(SetCookie::read("a=b\tc"), tab);
        assert_eq!(SetCookie::read("a\tb=c"), tab);
        assert_eq!(read("\ta=b\t; Path=/").value, "b");
    }

    /// Name+value over 4,096 bytes is refused; an attribute value over 1,024 is ignored.
    #[test]
    fn size_limits_follow_chrome() {
        let ok = format!("a={}", "b".repeat(4095));
        assert!(SetCookie::read(&ok).is_ok());
        let big = format!("a={}", "b".repeat(4096));
        assert_eq!(
            SetCookie::read(&big),
            Err(ParseRefusal::TooLarge { bytes: 4097 })
        );
        let long_path = format!("a=b; Path=/{}", "p".repeat(1024));
        assert_eq!(read(&long_path).path, None);
        let path = format!("a=b; Path=/{}", "p".repeat(1023));
        assert!(read(&path).path.is_some());
    }

    /// Repeated attributes: the last one wins even when it is empty or invalid (Chrome): an
    /// empty Domain makes the cookie host-only, a Path that is not a path puts the default
    /// back, an unknown SameSite replaces a known one, and a Max-Age or Expires that is no
    /// number or date undoes an earlier one.
    #[test]
    fn last_attribute_wins() {
        let c = read(
            "a=b; Path=/x; Path=/y; Domain=one.test; Domain=; SameSite=Strict; SameSite=bogus; Secure=no; HTTPONLY",
        );
        assert_eq!(c.path.as_deref(), Some("/y"));
        assert_eq!(c.domain, None);
        assert_eq!(c.same_site, None);
        assert!(c.secure && c.http_only);
        assert_eq!(read("a=b; Path=/x; Path=rel").path, None);
        assert_eq!(
            read("a=b; Domain=.; Domain=one.test").domain.as_deref(),
            Some("one.test")
        );
        assert_eq!(read("a=b; Max-Age=-1; Max-Age=abc").max_age, None);
        assert_eq!(read("a=b; Max-Age=-1; Max-Age=").max_age, None);
        let c = read("a=b; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Expires=garbage");
        assert_eq!(c.expires, None);
        assert!(!c.is_removal(OffsetDateTime::now_utc()), "a session cookie");
    }

    /// A nameless cookie whose value holds '=' is refused (Chrome): it would read as a name.
    #[test]
    fn nameless_with_equals_is_refused() {
        for line in ["=a=b", "  =a=b", "==x"] {
            assert_eq!(
                SetCookie::read(line),
                Err(ParseRefusal::NamelessWithEquals),
                "{line}"
            );
        }
        assert_eq!(read("=ab").value, "ab");
    }

    /// Any Max-Age, however absurd, reads without overflow and lives at most 400 days.
    #[test]
    fn max_age_saturates_and_is_capped() {
        let now = OffsetDateTime::now_utc();
        let c = read("sid=x; Max-Age=9223372036854775807");
        assert_eq!(c.max_age, Some(i64::MAX));
        assert_eq!(c.lifetime(now), Some(MAX_LIFETIME));
        assert_eq!(c.expiry(now), Some(now + MAX_LIFETIME));
        let c = read("sid=x; Max-Age=99999999999999999999999999");
        assert_eq!(c.max_age, Some(i64::MAX));
        let c = read("sid=x; Max-Age=-99999999999999999999999999");
        assert!(c.is_removal(now));
        assert_eq!(c.expiry(now), Some(now));
        assert_eq!(read("sid=x; Max-Age=+5").max_age, None);
        assert_eq!(read("sid=x; Max-Age=5s").max_age, None);
        let c = read("sid=x; Expires=Fri, 31 Dec 9999 23:59:59 GMT");
        assert_eq!(c.lifetime(now), Some(MAX_LIFETIME));
        let c = read("sid=x; Max-Age=0; Expires=Fri, 31 Dec 9999 23:59:59 GMT");
        assert!(c.is_removal(now), "Max-Age wins over Expires");
    }

    /// The cookie-date algorithm reads the formats servers send and refuses impossible dates.
    #[test]
    fn cookie_dates() {
        let date = |text| parse_cookie_date(text).map(|d| d.unix_timestamp());
        let expected = Some(1_445_412_480); // 2015-10-21 07:28:00 UTC
        assert_eq!(date("Wed, 21 Oct 2015 07:28:00 GMT"), expected);
        assert_eq!(date("Wednesday, 21-Oct-15 07:28:00 GMT"), expected);
        assert_eq!(date("Wed Oct 21 07:28:00 2015"), expected);
        assert_eq!(date("21 oct 2015 7:28:0"), expected);
        assert_eq!(date("Wed, 31 Feb 2015 07:28:00 GMT"), None);
        assert_eq!(date("Wed, 21 Oct 2015 24:00:00 GMT"), None);
        // Before 1601: the start of Chrome's clock, long past.
        let start = Some(-11_644_473_600); // 1601-01-01 00:00:00 UTC
        assert_eq!(date("Wed, 21 Oct 1600 07:28:00 GMT"), start);
        assert_eq!(date("Mon, 01 Jan 1000 00:00:00 GMT"), start);
        assert_eq!(date("Mon, 01 Jan 1601 00:00:00 GMT"), start);
        assert_eq!(date("Wed, 21 Oct 2015"), None);
        assert_eq!(date(""), None);
    }
}
