//! Each framework's session record: how it is encoded in the store, which cookie names it, and
//! how that cookie's value leads to the record.

mod django;
mod msgpack;
mod php;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use time::{OffsetDateTime, format_description::well_known::Rfc3339};

use session_lab_server::SessionId;

pub use php::unserialize_session as php_unserialize;

/// A framework's way of keeping sessions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// express-session with connect-redis: `sess:<sid>` keys holding JSON with a `cookie`
    /// object; the cookie `connect.sid` carries `s:<sid>.<signature>`, URL-encoded.
    Express,
    /// tower-sessions' own stores (Redis, SQLx): MessagePack records `[id, data, expiry]`,
    /// keyed by the id; the cookie `id` carries the id (signed: after a 44-character MAC).
    TowerSessions,
    /// Django's database backend: `django_session` rows whose `session_data` is Django's
    /// signed format (base64 JSON, zlib-compressed when it starts with `.`); cookie `sessionid`.
    Django,
    /// PHP's native sessions: a file `sess_<id>` per session in PHP's session encoding
    /// (`views|i:3;`); cookie `PHPSESSID`.
    Php,
    /// Flask-Session on Redis: `session:<sid>` keys holding MessagePack; cookie `session`
    /// (`<sid>.<signature>` when the signer is on).
    Flask,
}

impl Format {
    /// Every format, in the order detection tries them.
    pub const ALL: [Self; 5] = [
        Self::Express,
        Self::Flask,
        Self::TowerSessions,
        Self::Django,
        Self::Php,
    ];

    /// The short name `format=` takes.
    pub fn name(self) -> &'static str {
        match self {
            Self::Express => "express",
            Self::TowerSessions => "tower-sessions",
            Self::Django => "django",
            Self::Php => "php",
            Self::Flask => "flask",
        }
    }

    /// From a `format=` name (a few spellings).
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name.to_ascii_lowercase().as_str() {
            "express" | "express-session" | "connect-redis" => Self::Express,
            "tower" | "tower-sessions" | "axum" => Self::TowerSessions,
            "django" => Self::Django,
            "php" => Self::Php,
            "flask" | "flask-session" => Self::Flask,
            _ => return None,
        })
    }

    /// What wrote it, for people.
    pub fn title(self) -> &'static str {
        match self {
            Self::Express => "express-session (connect-redis)",
            Self::TowerSessions => "tower-sessions",
            Self::Django => "Django (database sessions)",
            Self::Php => "PHP native sessions",
            Self::Flask => "Flask-Session",
        }
    }

    /// The framework's default session cookie name.
    pub fn cookie_name(self) -> &'static str {
        match self {
            Self::Express => "connect.sid",
            Self::TowerSessions => "id",
            Self::Django => "sessionid",
            Self::Php => "PHPSESSID",
            Self::Flask => "session",
        }
    }

    /// The framework's default Redis key prefix (empty: the key is the id).
    pub fn default_prefix(self) -> &'static str {
        match self {
            Self::Express => "sess:",
            Self::Flask => "session:",
            Self::TowerSessions | Self::Django | Self::Php => "",
        }
    }

    /// The session id a cookie value names, by the framework's own rule; `None` when the value
    /// cannot be one of this framework's (the cookie of another app, a tampered value). The
    /// name is not required to be the default: apps rename their cookie.
    pub fn id_from_cookie(self, value: &str) -> Option<String> {
        let id = match self {
            Self::Express => {
                // `s:<sid>.<base64 HMAC>`, URL-encoded by the cookie module.
                let decoded = percent_encoding::percent_decode_str(value)
                    .decode_utf8()
                    .ok()?;
                let signed = decoded.strip_prefix("s:")?;
                let (sid, _signature) = signed.rsplit_once('.')?;
                sid.to_owned()
            }
            Self::TowerSessions => {
                // The id is 22 characters of URL-safe base64; a signed cookie puts a
                // 44-character MAC in front of it.
                let id = match value.len() {
                    22 => value,
                    66 => value.get(44..)?,
                    _ => return None,
                };
                id.to_owned()
            }
            Self::Flask => value.split('.').next()?.to_owned(),
            Self::Django | Self::Php => value.to_owned(),
        };
        let plausible = !id.is_empty()
            && id.len() <= 256
            && id.bytes().all(|b| {
                b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b',' | b'+' | b'/' | b'=')
            });
        plausible.then_some(id)
    }

    /// Decodes one record's bytes (perhaps cut at [`crate::MAX_RECORD_BYTES`]).
    pub fn decode(self, bytes: &[u8]) -> Decoded {
        match self {
            Self::Express => express(bytes),
            Self::TowerSessions => msgpack::tower_record(bytes),
            Self::Django => django::decode(bytes),
            Self::Php => match php::unserialize_session(bytes) {
                Ok(data) => Decoded::data(data),
                Err(reason) => Decoded::raw(bytes, format!("not PHP session data: {reason}")),
            },
            Self::Flask => msgpack::flask(bytes),
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.title())
    }
}

/// What a record holds, decoded.
#[derive(Clone, Debug, PartialEq)]
pub struct Decoded {
    /// The session's data as JSON, or why it could not be decoded.
    pub data: Result<Value, String>,
    /// The expiry the record itself carries (express-session's cookie, tower-sessions'
    /// `expiry_date`), if any.
    pub expires: Option<OffsetDateTime>,
}

impl Decoded {
    fn data(data: Value) -> Self {
        Self {
            data: Ok(data),
            expires: None,
        }
    }

    /// Bytes that could not be decoded, and why.
    pub(crate) fn raw(bytes: &[u8], reason: String) -> Self {
        Self {
            data: Err(format!("{reason} — raw: {}", preview(bytes))),
            expires: None,
        }
    }

    /// The data as the sessions table shows it: the JSON, or an object naming why it could not
    /// be read, with the first bytes.
    pub fn json_text(&self) -> String {
        match &self.data {
            Ok(value) => value.to_string(),
            Err(reason) => serde_json::json!({ "undecodable": reason }).to_string(),
        }
    }
}

/// The first bytes of a record, printable: text as it is, other bytes as `\xNN`.
fn preview(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes[..bytes.len().min(48)].utf8_chunks() {
        for c in chunk.valid().chars() {
            if c.is_control() {
                out.push_str(&c.escape_default().to_string());
            } else {
                out.push(c);
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    if bytes.len() > 48 {
        out.push('…');
    }
    out
}

/// A map key that is not a string, as JSON object keys must be: a scalar as its text, anything
/// else as a placeholder — never the nested value's JSON, which a hostile record could make
/// double in size at every level.
pub(crate) fn key_text(key: &Value) -> String {
    match key {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.chars().take(256).collect(),
        Value::Array(_) => "(an array as a key)".to_owned(),
        Value::Object(_) => "(a map as a key)".to_owned(),
    }
}

/// A key as a message may quote it: control characters escaped, at most 64 characters.
pub(crate) fn shown_key(key: &str) -> String {
    let mut out: String = key
        .chars()
        .take(64)
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect();
    if key.chars().count() > 64 {
        out.push('…');
    }
    out
}

/// express-session's record: JSON whose `cookie` object is the session cookie's settings
/// (its `expires` is when the session ends); everything else is the app's data.
fn express(bytes: &[u8]) -> Decoded {
    let mut value: Value = match serde_json::from_slice(bytes) {
        Ok(value) => value,
        Err(e) => return Decoded::raw(bytes, format!("not express-session JSON ({e})")),
    };
    let Some(object) = value.as_object_mut() else {
        return Decoded::raw(bytes, "express-session JSON that is not an object".into());
    };
    let expires = object
        .remove("cookie")
        .and_then(|cookie| {
            cookie
                .get("expires")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .and_then(|at| OffsetDateTime::parse(&at, &Rfc3339).ok());
    Decoded {
        data: Ok(Value::Object(std::mem::take(object))),
        expires,
    }
}

/// A session's id in the lab's tables: the store's own key, hashed to 128 bits (other
/// frameworks' ids are strings of their own shape).
pub fn key_id(key: &str) -> SessionId {
    let digest = Sha256::digest(key.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    SessionId(i128::from_be_bytes(bytes))
}

/// An object with the keys sorted (serde_json's map keeps insertion order only with a feature
/// the lab does not turn on; this keeps the output stable either way).
pub(crate) fn object(entries: impl IntoIterator<Item = (String, Value)>) -> Value {
    Value::Object(entries.into_iter().collect::<Map<String, Value>>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn express_cookie_values_lead_to_their_sid() {
        let value =
            "s%3AqXK6sDk3mZ1Zh8r0bqP2iGm0aKj0oSxV.3Lk4Wl1m%2F2b8qfX0mH9g0Yk2dN9bQ0rXz8hQy1aB2cE";
        assert_eq!(
            Format::Express.id_from_cookie(value).as_deref(),
            Some("qXK6sDk3mZ1Zh8r0bqP2iGm0aKj0oSxV")
        );
        assert_eq!(Format::Express.id_from_cookie("qXK6sDk3"), None, "unsigned");
        assert_eq!(
            Format::Express.id_from_cookie("s:a<b>.sig"),
            None,
            "not an id"
        );
    }

    #[test]
    fn tower_sessions_cookies_plain_and_signed() {
        let id = "AAAAAAAAAAAAAAAAAAAAAA";
        assert_eq!(
            Format::TowerSessions.id_from_cookie(id).as_deref(),
            Some(id)
        );
        let signed = format!("{}{id}", "x".repeat(44));
        assert_eq!(
            Format::TowerSessions.id_from_cookie(&signed).as_deref(),
            Some(id)
        );
        assert_eq!(Format::TowerSessions.id_from_cookie("short"), None);
        // 66 bytes whose 45th falls inside a character: no id, no panic.
        let odd = format!("{}é{}", "a".repeat(43), "a".repeat(21));
        assert_eq!(odd.len(), 66);
        assert_eq!(Format::TowerSessions.id_from_cookie(&odd), None);
    }

    #[test]
    fn flask_signed_and_bare() {
        assert_eq!(
            Format::Flask.id_from_cookie("abc_-1.sig").as_deref(),
            Some("abc_-1")
        );
        assert_eq!(
            Format::Flask.id_from_cookie("abc_-1").as_deref(),
            Some("abc_-1")
        );
    }

    #[test]
    fn express_records_split_the_cookie_from_the_data() {
        let record = br#"{"cookie":{"originalMaxAge":null,"expires":"2026-12-07T10:00:00.000Z","httpOnly":true,"path":"/"},"views":3,"user":"alice"}"#;
        let decoded = Format::Express.decode(record);
        assert_eq!(
            decoded.data.unwrap(),
            serde_json::json!({"views": 3, "user": "alice"})
        );
        assert_eq!(
            decoded.expires.unwrap(),
            time::macros::datetime!(2026-12-07 10:00 UTC)
        );
        let bad = Format::Express.decode(b"\x00\x01garbage");
        assert!(bad.data.unwrap_err().contains("not express-session JSON"));
    }

    #[test]
    fn key_ids_are_stable_and_distinct() {
        assert_eq!(key_id("abc"), key_id("abc"));
        assert_ne!(key_id("abc"), key_id("abd"));
    }
}
