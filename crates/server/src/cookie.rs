//! The session cookie: finding it among a request's cookies, opening it (checking its signature
//! or decrypting it) and sealing a session id into the `Set-Cookie` a response carries.
//!
//! Architecture Invariant: what this module reads and writes is byte for byte what
//! tower-sessions' own `SessionManagerLayer` (over tower-cookies) reads and writes for the same
//! settings; `tests/cookie_compat.rs` holds it to that. It exists so that a request parses one
//! cookie instead of a whole jar, and a returning browser's cookie is not signed again.

use std::borrow::Cow;

use axum::http::{HeaderMap, HeaderValue, header};
use base64::{
    Engine,
    prelude::{BASE64_STANDARD, BASE64_URL_SAFE_NO_PAD},
};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use time::OffsetDateTime;
use tower_sessions::{
    Expiry,
    cookie::{Cookie, CookieJar, Key, SameSite},
    session::Id,
};

use crate::clock::LabClock;

use super::{
    config::{CookieProtection, KeptIn, SameSitePolicy, ServerConfig},
    session::SessionId,
};

/// A session's data, as tower-sessions keeps it.
pub(crate) type Data = std::collections::HashMap<String, serde_json::Value>;

/// The most bytes of data a cookie-kept session's cookie is opened for (browsers keep 4096).
const MAX_DATA_BYTES: usize = 8 * 1024;

/// Length of the base64 HMAC-SHA256 tag a signed value starts with (as the cookie crate writes
/// it).
const TAG_LEN: usize = 44;

/// How the server reads and writes its session cookie, built once from a [`ServerConfig`].
pub(crate) struct SessionCookie {
    name: String,
    http_only: bool,
    secure: bool,
    same_site: SameSite,
    path: String,
    domain: Option<String>,
    protection: CookieProtection,
    /// Whether the cookie carries the session's data itself rather than an id.
    data_in_cookie: bool,
    /// The time `Max-Age` of a fixed expiry and the retired secrets' grace are judged by.
    clock: LabClock,
    key: Key,
    /// The HMAC already keyed with the signing key: each use clones it instead of hashing the
    /// key again.
    mac: Hmac<Sha256>,
    /// Retired secrets that still open cookies until their time is up.
    retired: Vec<Retired>,
}

/// A retired secret, ready to open cookies.
struct Retired {
    key: Key,
    mac: Hmac<Sha256>,
    fingerprint: [u8; 4],
    until: OffsetDateTime,
}

/// What the server made of the session cookie a request carried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CookieVerdict {
    /// The request carried no session cookie.
    Absent,
    /// The cookie checked out and names this session id.
    Valid {
        /// The session id.
        id: SessionId,
        /// The fingerprint of the retired secret that opened it, when the current one did not
        /// (graceful rotation): the response seals it again with the current secret.
        retired_key: Option<[u8; 4]>,
    },
    /// The cookie checked out and carries the session's data itself (the session is kept in
    /// the cookie).
    Data {
        /// How many values the data holds.
        values: usize,
    },
    /// The cookie was there but could not be used; the request gets a fresh session.
    Rejected {
        /// Why.
        reason: RejectReason,
    },
}

/// Why a session cookie could not be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RejectReason {
    /// A `Cookie` header is not valid UTF-8.
    NotUtf8,
    /// The cookie is genuine but holds no session id (or, kept in the cookie, no data).
    NotAnId,
    /// Its signature does not match the server's secret.
    BadSignature,
    /// It does not decrypt with the server's secret.
    DoesNotDecrypt,
    /// It is not a well-formed cookie value.
    Malformed,
}

/// What a request's session cookie turned out to be.
#[derive(Debug)]
pub(crate) enum Opened {
    /// No session cookie.
    Absent,
    /// No session cookie could be read: a `Cookie` header is not UTF-8.
    Unreadable,
    /// A genuine cookie naming a session id. `sealed` is the cookie's value as sent: when the
    /// response sets the same id again, it is that value again, without signing anew — unless
    /// a retired secret opened it (`retired_key`), then the response seals it anew.
    Session {
        id: Id,
        sealed: String,
        retired_key: Option<[u8; 4]>,
    },
    /// A genuine cookie carrying the session's data itself (the session is kept in the
    /// cookie). A retired secret that opened it is named, so the response seals it anew.
    Data {
        data: Data,
        retired_key: Option<[u8; 4]>,
    },
    /// A genuine cookie (signature good, or it decrypts, or it is plain) that holds no id.
    NotAnId,
    /// A cookie the server did not make: the reason says how it failed.
    Forged(RejectReason),
}

impl Opened {
    /// The session id the cookie names, if it is genuine.
    pub(crate) fn id(&self) -> Option<Id> {
        match self {
            Self::Session { id, .. } => Some(*id),
            _ => None,
        }
    }

    /// Whether a retired secret opened it (so the response should seal it anew).
    pub(crate) fn needs_resealing(&self) -> bool {
        matches!(
            self,
            Self::Session {
                retired_key: Some(_),
                ..
            } | Self::Data {
                retired_key: Some(_),
                ..
            }
        )
    }

    /// Whether the cookie came from this server (so an empty session clears it).
    pub(crate) fn is_genuine(&self) -> bool {
        matches!(
            self,
            Self::Session { .. } | Self::Data { .. } | Self::NotAnId
        )
    }

    /// What the inspector records of it.
    pub(crate) fn verdict(&self) -> CookieVerdict {
        match self {
            Self::Absent => CookieVerdict::Absent,
            Self::Unreadable => CookieVerdict::Rejected {
                reason: RejectReason::NotUtf8,
            },
            Self::Session {
                id, retired_key, ..
            } => CookieVerdict::Valid {
                id: (*id).into(),
                retired_key: *retired_key,
            },
            Self::Data { data, .. } => CookieVerdict::Data { values: data.len() },
            Self::NotAnId => CookieVerdict::Rejected {
                reason: RejectReason::NotAnId,
            },
            Self::Forged(reason) => CookieVerdict::Rejected { reason: *reason },
        }
    }
}

/// What a response does to the session cookie.
pub(crate) enum Outcome {
    /// Nothing.
    Keep,
    /// Clear it: the session is gone.
    Remove,
    /// Set it to this id.
    Set(Id, Option<Expiry>),
    /// Set it to this data (the session kept in the cookie).
    SetData(Data, Option<Expiry>),
}

impl SessionCookie {
    /// The cookie `config` describes.
    pub(crate) fn new(config: &ServerConfig) -> Self {
        let key = config.secret.key().clone();
        let mac = Hmac::<Sha256>::new_from_slice(key.signing()).expect("HMAC takes any key");
        Self {
            name: config.settings.cookie_name.clone(),
            http_only: config.settings.http_only,
            secure: config.settings.secure,
            same_site: match config.settings.same_site {
                SameSitePolicy::Strict => SameSite::Strict,
                SameSitePolicy::Lax => SameSite::Lax,
                SameSitePolicy::None => SameSite::None,
            },
            path: config.settings.path.clone(),
            domain: config.settings.domain.clone(),
            protection: config.settings.protection,
            data_in_cookie: config.settings.kept_in == KeptIn::Cookie,
            clock: config.clock.clone(),
            key,
            mac,
            retired: config
                .retired
                .iter()
                .map(|old| {
                    let key = old.secret.key().clone();
                    Retired {
                        mac: Hmac::<Sha256>::new_from_slice(key.signing())
                            .expect("HMAC takes any key"),
                        key,
                        fingerprint: old.secret.fingerprint_bytes(),
                        until: old.until,
                    }
                })
                .collect(),
        }
    }

    /// Whether the cookie carries the session's data itself (the session kept in the cookie)
    /// rather than an id.
    pub(crate) fn keeps_data(&self) -> bool {
        self.data_in_cookie
    }

    /// Finds the session cookie among the request's cookies and opens it. As with a cookie jar,
    /// the last cookie of the name counts; `Cookie` headers that are not UTF-8 are skipped.
    pub(crate) fn open_request(&self, headers: &HeaderMap) -> Opened {
        let mut found: Option<Cookie<'_>> = None;
        let mut unreadable = false;
        for header in headers.get_all(header::COOKIE) {
            let Ok(text) = std::str::from_utf8(header.as_bytes()) else {
                unreadable = true;
                continue;
            };
            for piece in text.split(';') {
                // Only a piece that may be ours is parsed (names can be percent-encoded).
                let raw_name = piece.split('=').next().unwrap_or("").trim();
                if raw_name != self.name && !raw_name.contains('%') {
                    continue;
                }
                // Percent-decoding finds nothing to decode without a '%': skip it.
                let parsed = if piece.contains('%') {
                    Cookie::parse_encoded(piece)
                } else {
                    Cookie::parse(piece)
                };
                if let Ok(cookie) = parsed
                    && cookie.name() == self.name
                {
                    found = Some(cookie);
                }
            }
        }
        match found {
            Some(cookie) => self.open(cookie.value()),
            None if unreadable => Opened::Unreadable,
            None => Opened::Absent,
        }
    }

    /// Opens a cookie value as a browser stores and sends it: percent-decoded first, as
    /// [`Self::open_request`] does.
    pub(crate) fn open_sent(&self, value: &str) -> Opened {
        if !value.contains('%') {
            return self.open(value);
        }
        match Cookie::parse_encoded(format!("{}={value}", self.name)) {
            Ok(cookie) => self.open(cookie.value()),
            Err(_) => Opened::Forged(RejectReason::Malformed),
        }
    }

    /// Opens a cookie value (already percent-decoded): with the current secret, or else with a
    /// retired one still in its grace.
    pub(crate) fn open(&self, value: &str) -> Opened {
        let (plain, retired_key) = match self.protection {
            CookieProtection::Plain => (Cow::Borrowed(value), None),
            CookieProtection::Signed => match self.verify(value, &self.mac) {
                Some(plain) => (Cow::Borrowed(plain), None),
                None => match self
                    .live_retired()
                    .find_map(|old| Some((self.verify(value, &old.mac)?, old.fingerprint)))
                {
                    Some((plain, by)) => (Cow::Borrowed(plain), Some(by)),
                    None => return Opened::Forged(RejectReason::BadSignature),
                },
            },
            CookieProtection::Private => {
                let decrypt = |key: &Key| {
                    let cookie = Cookie::new(self.name.clone(), value.to_owned());
                    CookieJar::new()
                        .private(key)
                        .decrypt(cookie)
                        .map(|c| c.value().to_owned())
                };
                match decrypt(&self.key) {
                    Some(plain) => (Cow::Owned(plain), None),
                    None => match self
                        .live_retired()
                        .find_map(|old| Some((decrypt(&old.key)?, old.fingerprint)))
                    {
                        Some((plain, by)) => (Cow::Owned(plain), Some(by)),
                        None => return Opened::Forged(RejectReason::DoesNotDecrypt),
                    },
                }
            }
        };
        if self.data_in_cookie {
            return match decode_data(&plain) {
                Some(data) => Opened::Data { data, retired_key },
                None => Opened::NotAnId,
            };
        }
        match plain.parse::<Id>() {
            Ok(id) => Opened::Session {
                id,
                sealed: value.to_owned(),
                retired_key,
            },
            Err(_) => Opened::NotAnId,
        }
    }

    /// The retired secrets still in their grace.
    fn live_retired(&self) -> impl Iterator<Item = &Retired> {
        let now = (!self.retired.is_empty()).then(|| self.clock.now());
        self.retired
            .iter()
            .filter(move |old| now.is_some_and(|now| old.until > now))
    }

    /// The signed value's payload, if its tag is the one `mac` makes.
    fn verify<'v>(&self, value: &'v str, mac: &Hmac<Sha256>) -> Option<&'v str> {
        if !value.is_char_boundary(TAG_LEN) {
            return None;
        }
        let (tag, payload) = value.split_at(TAG_LEN);
        let tag = BASE64_STANDARD.decode(tag).ok()?;
        let mut mac = mac.clone();
        mac.update(payload.as_bytes());
        mac.verify_slice(&tag).ok().map(|()| payload)
    }

    /// `value` signed: the base64 tag, then the value.
    fn sign(&self, value: &str) -> String {
        let mut mac = self.mac.clone();
        mac.update(value.as_bytes());
        let mut signed = BASE64_STANDARD.encode(mac.finalize().into_bytes());
        signed.push_str(value);
        signed
    }

    /// The `Set-Cookie` value for `outcome`, given what the request's cookie was.
    pub(crate) fn set_cookie(&self, outcome: Outcome, opened: &Opened) -> Option<HeaderValue> {
        let cookie = match outcome {
            Outcome::Keep => return None,
            Outcome::Remove => {
                let mut cookie = Cookie::build((self.name.as_str(), "")).path(self.path.as_str());
                if let Some(domain) = &self.domain {
                    cookie = cookie.domain(domain.as_str());
                }
                let mut cookie = cookie.build();
                cookie.make_removal();
                cookie
            }
            Outcome::Set(id, expiry) => {
                let value = match (self.protection, opened) {
                    // The same id as the request's cookie: the same signed value (signing is
                    // deterministic), without computing it again.
                    (
                        CookieProtection::Signed,
                        Opened::Session {
                            id: sent,
                            sealed,
                            retired_key: None,
                        },
                    ) if *sent == id => sealed.clone(),
                    _ => self.seal(id.to_string())?,
                };
                self.cookie_of(value, expiry)
            }
            Outcome::SetData(data, expiry) => {
                self.cookie_of(self.seal(encode_data(&data))?, expiry)
            }
        };
        HeaderValue::from_str(&cookie.to_string()).ok()
    }

    /// `plain` as the cookie carries it: as it is, signed, or encrypted.
    fn seal(&self, plain: String) -> Option<String> {
        Some(match self.protection {
            CookieProtection::Plain => plain,
            CookieProtection::Signed => self.sign(&plain),
            CookieProtection::Private => {
                let mut jar = CookieJar::new();
                jar.private_mut(&self.key)
                    .add(Cookie::new(self.name.clone(), plain));
                jar.get(&self.name)?.value().to_owned()
            }
        })
    }

    /// The session cookie with `value`, its attributes and the `Max-Age` `expiry` gives.
    fn cookie_of(&self, value: String, expiry: Option<Expiry>) -> Cookie<'_> {
        let mut cookie = Cookie::build((self.name.as_str(), value))
            .http_only(self.http_only)
            .same_site(self.same_site)
            .secure(self.secure)
            .path(self.path.as_str());
        cookie = match expiry {
            Some(Expiry::OnInactivity(duration)) => cookie.max_age(duration),
            Some(Expiry::AtDateTime(at)) => cookie.max_age(at - self.clock.now()),
            Some(Expiry::OnSessionEnd) | None => cookie,
        };
        if let Some(domain) = &self.domain {
            cookie = cookie.domain(domain.as_str());
        }
        cookie.build()
    }
}

/// Session data as a cookie-kept session's cookie carries it before sealing: base64url JSON
/// (the form Flask's and cookie-session's data take, readable by anyone when only signed).
pub(crate) fn encode_data(data: &Data) -> String {
    // Keys in order, so the same data always seals to the same value.
    let ordered: std::collections::BTreeMap<&String, &serde_json::Value> = data.iter().collect();
    BASE64_URL_SAFE_NO_PAD.encode(serde_json::to_vec(&ordered).unwrap_or_default())
}

/// The data [`encode_data`] wrote, if `plain` is that.
fn decode_data(plain: &str) -> Option<Data> {
    if plain.len() > MAX_DATA_BYTES * 4 / 3 + 4 {
        return None;
    }
    let bytes = BASE64_URL_SAFE_NO_PAD.decode(plain).ok()?;
    serde_json::from_slice(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Secret;

    fn cookie(protection: CookieProtection) -> SessionCookie {
        let mut config = ServerConfig::with_secret(Secret::from_phrase("keyboard cat"));
        config.settings.protection = protection;
        SessionCookie::new(&config)
    }

    /// The `name=value` a browser keeps from the cookie set for a new session `id`.
    fn new_pair(jar: &SessionCookie, id: Id) -> String {
        let set = jar
            .set_cookie(Outcome::Set(id, None), &Opened::Absent)
            .unwrap();
        name_value(&set)
    }

    /// The `name=value` of a `Set-Cookie`.
    fn name_value(set_cookie: &HeaderValue) -> String {
        set_cookie
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned()
    }

    fn headers(cookies: &[&[u8]]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in cookies {
            headers.append(header::COOKIE, HeaderValue::from_bytes(value).unwrap());
        }
        headers
    }

    /// A sealed id opens to the same id under every protection; a forged one does not.
    #[test]
    fn seals_and_opens() {
        for protection in [
            CookieProtection::Plain,
            CookieProtection::Signed,
            CookieProtection::Private,
        ] {
            let jar = cookie(protection);
            let id = Id::default();
            let pair = new_pair(&jar, id);
            let opened = jar.open_request(&headers(&[pair.as_bytes()]));
            assert_eq!(opened.id(), Some(id), "{protection:?}");
        }
        let signed = cookie(CookieProtection::Signed);
        let forged = format!("id={}", Id::default());
        assert!(matches!(
            signed.open_request(&headers(&[forged.as_bytes()])),
            Opened::Forged(_)
        ));
    }

    /// The last cookie of the name counts, other cookies are ignored, and a header that is not
    /// UTF-8 is reported when nothing else is found.
    #[test]
    fn finds_the_session_cookie() {
        let jar = cookie(CookieProtection::Plain);
        let (a, b) = (Id::default(), Id::default());
        let opened = jar.open_request(&headers(&[
            format!("theme=dark; id={a}").as_bytes(),
            format!("idx=1; id={b}").as_bytes(),
        ]));
        assert_eq!(opened.id(), Some(b));
        assert!(matches!(
            jar.open_request(&headers(&[b"theme=dark"])),
            Opened::Absent
        ));
        assert!(matches!(
            jar.open_request(&headers(&[b"id=\xff"])),
            Opened::Unreadable
        ));
        assert!(matches!(
            jar.open_request(&headers(&[b"id=not-an-id"])),
            Opened::NotAnId
        ));
    }

    /// A value as a browser stores it is percent-decoded before it is opened, as the server
    /// does with the request's header.
    #[test]
    fn opens_percent_encoded_values() {
        let jar = cookie(CookieProtection::Signed);
        let id = Id::default();
        let pair = new_pair(&jar, id);
        let value = pair.split_once('=').unwrap().1.replace('=', "%3D");
        assert_eq!(jar.open_sent(&value).id(), Some(id));
        assert!(matches!(jar.open(&value), Opened::Forged(_)));
    }

    /// After a graceful rotation the old secret opens cookies until its time is up, and says
    /// so; once it is up, they are rejected as forged.
    #[test]
    fn retired_secrets_open_cookies_until_their_time() {
        let old = cookie(CookieProtection::Signed);
        let id = Id::default();
        let pair = new_pair(&old, id);
        let value = pair.split_once('=').unwrap().1.to_owned();
        let mut config = ServerConfig::with_secret(Secret::from_phrase("the new one"));
        let retired = crate::RetiredSecret {
            secret: Secret::from_phrase("keyboard cat"),
            until: OffsetDateTime::now_utc() + time::Duration::minutes(5),
        };
        config.retired = vec![retired.clone()];
        let rotated = SessionCookie::new(&config);
        let opened = rotated.open(&value);
        assert_eq!(opened.id(), Some(id));
        assert!(opened.needs_resealing());
        let again = rotated.set_cookie(Outcome::Set(id, None), &opened).unwrap();
        let resealed = name_value(&again);
        assert_ne!(resealed, pair, "sealed anew with the new secret");
        assert!(
            !rotated
                .open(resealed.split_once('=').unwrap().1)
                .needs_resealing()
        );

        config.retired = vec![crate::RetiredSecret {
            until: OffsetDateTime::now_utc() - time::Duration::seconds(1),
            ..retired
        }];
        let expired = SessionCookie::new(&config);
        assert!(matches!(
            expired.open(&value),
            Opened::Forged(RejectReason::BadSignature)
        ));
    }

    /// A returning browser's cookie is set again with the very value it sent.
    #[test]
    fn reuses_the_sent_value() {
        let jar = cookie(CookieProtection::Signed);
        let id = Id::default();
        let first = jar
            .set_cookie(Outcome::Set(id, None), &Opened::Absent)
            .unwrap();
        let pair = name_value(&first);
        let opened = jar.open_request(&headers(&[pair.as_bytes()]));
        let again = jar.set_cookie(Outcome::Set(id, None), &opened).unwrap();
        assert_eq!(again, first);
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;

        const PROTECTIONS: [CookieProtection; 3] = [
            CookieProtection::Plain,
            CookieProtection::Signed,
            CookieProtection::Private,
        ];

        proptest! {
            /// Any bytes in `Cookie` headers open without a panic, and in a signed or private
            /// cookie never to a session: only the server's own values name one.
            #[test]
            fn any_cookie_header_opens_without_panic(
                raw in proptest::collection::vec(any::<u8>(), 0..300),
                value in ".{0,200}",
            ) {
                for protection in PROTECTIONS {
                    let jar = cookie(protection);
                    // What hyper lets through as a header value (no CR, LF or NUL).
                    if let Ok(raw) = HeaderValue::from_bytes(&raw) {
                        let mut map = HeaderMap::new();
                        map.append(header::COOKIE, raw);
                        let _ = jar.open_request(&map);
                    }
                    let Ok(header) = HeaderValue::from_str(&format!("id={value}")) else {
                        continue;
                    };
                    let mut map = HeaderMap::new();
                    map.append(header::COOKIE, header);
                    let opened = jar.open_request(&map);
                    if protection != CookieProtection::Plain {
                        prop_assert!(opened.id().is_none(), "{protection:?} opened {value:?}");
                    }
                    let _ = jar.open_sent(&value);
                }
            }

            /// Every id the server seals opens back to itself, and a value with any one byte
            /// changed opens to no session (signed, private).
            #[test]
            fn sealed_ids_round_trip_and_resist_tampering(id in any::<i128>(), at in any::<usize>(), flip in 1u8..) {
                for protection in PROTECTIONS {
                    let jar = cookie(protection);
                    let pair = new_pair(&jar, Id(id));
                    let opened = jar.open_request(&headers(&[pair.as_bytes()]));
                    prop_assert_eq!(opened.id(), Some(Id(id)));
                    if protection == CookieProtection::Plain {
                        continue;
                    }
                    let value = pair.split_once('=').unwrap().1;
                    let mut bytes = value.as_bytes().to_vec();
                    let at = at % bytes.len();
                    bytes[at] ^= flip;
                    if let Ok(tampered) = String::from_utf8(bytes) && tampered != value {
                        let opened = jar.open_sent(&tampered);
                        prop_assert!(opened.id().is_none() || opened.id() == Some(Id(id)),
                            "{protection:?}: {tampered:?} opened to another session");
                    }
                }
            }
        }
    }
}
