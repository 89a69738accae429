//! What a session cookie holds: an id that points into the server's store, the session's data
//! itself (plain, signed or encrypted), or a JWT. The value's shape tells the known formats
//! apart ([`decode`]); an opaque value is judged by how it behaves (see the audit's
//! `identify`). Each kind has threats of its own, and the audit judges it by those only.

use base64::{
    Engine,
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
};
use serde::Serialize;

/// Where the session's state lives, as the cookie shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// An id; the data is in the server's store (express-session, PHP, Django's database
    /// sessions, tower-sessions).
    ServerId,
    /// The data itself, readable and unsigned: anyone can change it.
    PlainData,
    /// The data itself, readable, with a signature (Flask, cookie-session, Django's
    /// signed_cookies, Rails before 5.2).
    SignedData,
    /// The data itself, encrypted (Rails' encrypted cookie store, the lab's private mode).
    EncryptedData,
    /// A JSON Web Token: a header and claims, signed (or not: `alg: none`).
    Jwt,
}

impl Kind {
    /// Whether the cookie is the session (so the server cannot revoke a copy of it).
    pub fn client_side(self) -> bool {
        self != Self::ServerId
    }

    /// In a sentence's words.
    pub fn describe(self) -> &'static str {
        match self {
            Self::ServerId => "a session id: the data stays in the server's store",
            Self::PlainData => "the session's data itself, unsigned, in the cookie",
            Self::SignedData => "the session's data itself, signed, in the cookie",
            Self::EncryptedData => "the session's data itself, encrypted, in the cookie",
            Self::Jwt => "a JSON Web Token: the session's claims, signed, in the cookie",
        }
    }
}

/// The kind of session found, and what shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SessionKind {
    /// Where the state lives.
    pub kind: Kind,
    /// The format recognised ("Flask's session: itsdangerous …").
    pub format: String,
    /// Why the audit says so.
    pub evidence: String,
    /// The data the value carries, decoded (JSON), where it is readable.
    pub data: Option<String>,
    /// A JWT's header (JSON).
    pub header: Option<String>,
    /// When it was signed or issued (Unix seconds): itsdangerous' and Django's timestamp, a
    /// JWT's `iat`.
    pub issued_at: Option<i64>,
    /// When it stops being accepted (a JWT's `exp`).
    pub expires_at: Option<i64>,
    /// Not accepted before (a JWT's `nbf`).
    pub not_before: Option<i64>,
    /// Where in the value the signature (or the authentication tag) is, as a byte range, for
    /// the tampering test.
    #[serde(skip)]
    pub signature: Option<(usize, usize)>,
}

impl SessionKind {
    fn new(kind: Kind, format: impl Into<String>, evidence: impl Into<String>) -> Self {
        Self {
            kind,
            format: format.into(),
            evidence: evidence.into(),
            data: None,
            header: None,
            issued_at: None,
            expires_at: None,
            not_before: None,
            signature: None,
        }
    }

    /// A server-side id in `format`.
    pub fn server_id(format: impl Into<String>, evidence: impl Into<String>) -> Self {
        Self::new(Kind::ServerId, format, evidence)
    }

    /// Opaque data that behaves as the session's state (changes with it, brings an older state
    /// back when replayed): encrypted.
    pub fn opaque_data(evidence: impl Into<String>) -> Self {
        Self::new(
            Kind::EncryptedData,
            "an opaque value (encrypted data, by its behaviour)",
            evidence,
        )
    }

    /// One line: the kind, its format, its data.
    pub fn summary(&self) -> String {
        let mut out = format!("{} ({})", self.kind.describe(), self.format);
        if let Some(header) = &self.header {
            out.push_str(&format!("; header {}", cut(header, 120)));
        }
        if let Some(data) = &self.data {
            out.push_str(&format!("; data anyone can read: {}", cut(data, 200)));
        }
        out
    }
}

fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        format!("{}…", text.chars().take(max).collect::<String>())
    }
}

/// Claim and field names whose values should not ride in a readable cookie.
const SENSITIVE: [&str; 9] = [
    "pass", "secret", "token", "card", "ssn", "email", "phone", "address", "birth",
];

/// The names in `data` (JSON) that look like they hold something private.
pub fn sensitive_fields(data: &str) -> Vec<String> {
    let Ok(value) = serde_json::from_str::<serde_json::Value>(data) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    collect_sensitive(&value, &mut found);
    found.sort_unstable();
    found.dedup();
    found
}

fn collect_sensitive(value: &serde_json::Value, found: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, inner) in map {
                let lower = key.to_ascii_lowercase();
                if SENSITIVE.iter().any(|word| lower.contains(word)) {
                    found.push(key.clone());
                }
                collect_sensitive(inner, found);
            }
        }
        serde_json::Value::Array(items) => {
            for inner in items {
                collect_sensitive(inner, found);
            }
        }
        _ => {}
    }
}

/// The value with its percent-escapes undone and surrounding quotes removed.
pub fn unwrap_value(value: &str) -> String {
    let decoded = percent_decode(value);
    match decoded.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
        Some(inner) => inner.to_owned(),
        None => decoded,
    }
}

/// What the value's shape says, if it is a format the audit knows. `siblings` are the names of
/// the other cookies set with it (cookie-session signs into `NAME.sig`).
pub fn decode(name: &str, value: &str, siblings: &[String]) -> Option<SessionKind> {
    let value = unwrap_value(value);
    jwt(&value)
        .or_else(|| itsdangerous(&value))
        .or_else(|| django_signed(&value))
        .or_else(|| rails(&value))
        .or_else(|| express_signed_id(&value))
        .or_else(|| cookie_crate_signed(&value))
        .or_else(|| base64_json(name, &value, siblings))
}

/// Bytes from base64url (unpadded or padded) or standard base64.
fn base64_any(text: &str) -> Option<Vec<u8>> {
    let trimmed = text.trim_end_matches('=');
    URL_SAFE_NO_PAD
        .decode(trimmed)
        .ok()
        .or_else(|| STANDARD.decode(text).ok())
        .or_else(|| {
            let padded = format!("{trimmed}{}", "=".repeat((4 - trimmed.len() % 4) % 4));
            STANDARD.decode(padded).ok()
        })
}

/// A JSON object, compact, from bytes.
fn json_object(bytes: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    value.is_object().then(|| value.to_string())
}

/// itsdangerous' and Django's payload: base64url JSON, zlib-compressed when it starts with `.`.
fn payload_json(payload: &str) -> Option<String> {
    match payload.strip_prefix('.') {
        Some(compressed) => {
            let bytes = base64_any(compressed)?;
            let mut out = Vec::new();
            let mut reader = flate2::read::ZlibDecoder::new(bytes.as_slice());
            std::io::Read::read_to_end(&mut std::io::Read::take(&mut reader, 64 * 1024), &mut out)
                .ok()?;
            json_object(&out)
        }
        None => json_object(&base64_any(payload)?),
    }
}

fn is_base64url(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn claim(claims: &serde_json::Value, name: &str) -> Option<i64> {
    claims.get(name).and_then(|v| {
        v.as_i64()
            .or_else(|| v.as_f64().map(|f| f as i64))
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
    })
}

/// `header.claims.signature`, each base64url; the header names an `alg`.
fn jwt(value: &str) -> Option<SessionKind> {
    let token = value.strip_prefix("Bearer ").unwrap_or(value);
    let mut parts = token.split('.');
    let (header, claims, signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || !is_base64url(header) || !is_base64url(claims) {
        return None;
    }
    if !signature.is_empty() && !is_base64url(signature) {
        return None;
    }
    let header_json: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).ok()?).ok()?;
    let alg = header_json.get("alg")?.as_str()?.to_owned();
    let claims_json: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims).ok()?).ok()?;
    if !claims_json.is_object() {
        return None;
    }
    let start = value.len() - signature.len();
    let mut kind = SessionKind::new(
        Kind::Jwt,
        format!("a JWT signed with {alg}"),
        "the value is three base64url parts whose first is a JWT header (it names an alg)",
    );
    kind.header = Some(header_json.to_string());
    kind.data = Some(claims_json.to_string());
    kind.issued_at = claim(&claims_json, "iat");
    kind.expires_at = claim(&claims_json, "exp");
    kind.not_before = claim(&claims_json, "nbf");
    kind.signature = Some((start, value.len()));
    Some(kind)
}

/// itsdangerous' URLSafeTimedSerializer (Flask's session): `payload.timestamp.signature`.
fn itsdangerous(value: &str) -> Option<SessionKind> {
    let (rest, signature) = value.rsplit_once('.')?;
    let (payload, timestamp) = rest.rsplit_once('.')?;
    if !is_base64url(signature) || !is_base64url(timestamp) || signature.len() < 20 {
        return None;
    }
    let stamp = URL_SAFE_NO_PAD.decode(timestamp).ok()?;
    if stamp.is_empty() || stamp.len() > 8 {
        return None;
    }
    let signed_at = stamp.iter().fold(0i64, |n, b| (n << 8) | i64::from(*b));
    let data = payload_json(payload)?;
    let mut kind = SessionKind::new(
        Kind::SignedData,
        "Flask's session (itsdangerous: base64url JSON . timestamp . HMAC signature)",
        "the value is base64url JSON, a timestamp and a signature, joined by dots",
    );
    kind.data = Some(data);
    kind.issued_at = Some(signed_at);
    kind.signature = Some((value.len() - signature.len(), value.len()));
    Some(kind)
}

/// Django's `signing.dumps` (the signed_cookies backend): `payload:timestamp:signature`, the
/// timestamp in base62.
fn django_signed(value: &str) -> Option<SessionKind> {
    let (rest, signature) = value.rsplit_once(':')?;
    let (payload, timestamp) = rest.rsplit_once(':')?;
    if !is_base64url(signature) || timestamp.is_empty() || timestamp.len() > 11 {
        return None;
    }
    const DIGITS: &str = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut signed_at = 0i64;
    for c in timestamp.chars() {
        signed_at = signed_at.checked_mul(62)? + DIGITS.find(c)? as i64;
    }
    let data = payload_json(payload)?;
    let mut kind = SessionKind::new(
        Kind::SignedData,
        "Django's signed_cookies session (base64url JSON : base62 timestamp : HMAC-SHA256)",
        "the value is base64url JSON, a base62 timestamp and a signature, joined by colons",
    );
    kind.data = Some(data);
    kind.issued_at = Some(signed_at);
    kind.signature = Some((value.len() - signature.len(), value.len()));
    Some(kind)
}

/// Rails' cookie store: `data--digest` (signed) or `data--iv--tag` (encrypted, AES-GCM).
fn rails(value: &str) -> Option<SessionKind> {
    let parts: Vec<&str> = value.split("--").collect();
    let all_base64 = |parts: &[&str]| {
        parts
            .iter()
            .all(|p| !p.is_empty() && base64_any(p).is_some())
    };
    match parts.as_slice() {
        [_, _, tag] if all_base64(&parts) => {
            let mut kind = SessionKind::new(
                Kind::EncryptedData,
                "Rails' encrypted cookie store (AES-256-GCM: data--iv--tag)",
                "the value is three base64 parts joined by --",
            );
            kind.signature = Some((value.len() - tag.len(), value.len()));
            Some(kind)
        }
        [data, digest]
            if all_base64(&[data])
                && digest.len() >= 40
                && digest.bytes().all(|b| b.is_ascii_hexdigit()) =>
        {
            let bytes = base64_any(data)?;
            let mut kind = SessionKind::new(
                Kind::SignedData,
                "Rails' signed cookie store (base64 data--hex HMAC)",
                "the value is base64 data and a hex digest joined by --",
            );
            kind.data =
                json_object(&bytes).or_else(|| Some(String::from_utf8_lossy(&bytes).into()));
            kind.signature = Some((value.len() - digest.len(), value.len()));
            Some(kind)
        }
        _ => None,
    }
}

/// The id in express-session's `s:ID.SIGNATURE` (already percent-decoded).
fn express_id(value: &str) -> Option<&str> {
    let (id, signature) = value.strip_prefix("s:")?.rsplit_once('.')?;
    (!id.is_empty() && !signature.is_empty()).then_some(id)
}

/// What follows the cookie crate's 44-character base64 HMAC-SHA256 tag (as tower-sessions
/// and the lab write a signed value), if `value` starts with one.
fn after_cookie_crate_tag(value: &str) -> Option<&str> {
    let (tag, rest) = (value.get(..44)?, value.get(44..)?);
    let tag_ok = tag.ends_with('=')
        && tag[..43]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/');
    (tag_ok && !rest.is_empty()).then_some(rest)
}

/// The id inside a signed cookie value (percent-encoded or not), and the format it was
/// recognised as: what the id-strength test takes from each value.
pub(super) fn inner_id(value: &str) -> Option<(String, &'static str)> {
    let decoded = percent_decode(value);
    if let Some(id) = express_id(&decoded) {
        return Some((
            id.to_owned(),
            "express-session's signed value s:ID.SIGNATURE",
        ));
    }
    after_cookie_crate_tag(&decoded).map(|id| {
        (
            id.to_owned(),
            "a signed value: base64 HMAC-SHA256, then the id (the cookie crate's, as tower-sessions writes it)",
        )
    })
}

/// express-session's `s:ID.SIGNATURE`.
fn express_signed_id(value: &str) -> Option<SessionKind> {
    express_id(value).map(|_| {
        SessionKind::server_id(
            "express-session's signed value s:ID.SIGNATURE",
            "the value is s:, an id, a dot and a signature",
        )
    })
}

/// The cookie crate's signed value (as tower-sessions and the lab write it): 44 characters of
/// base64 HMAC-SHA256, then the value — an id, or base64url JSON data.
fn cookie_crate_signed(value: &str) -> Option<SessionKind> {
    let rest = after_cookie_crate_tag(value)?;
    match base64_any(rest).as_deref().and_then(json_object) {
        Some(data) => {
            let mut kind = SessionKind::new(
                Kind::SignedData,
                "the cookie crate's signed value: base64 HMAC-SHA256, then base64url JSON data",
                "the value is a 44-character HMAC tag, then base64url JSON",
            );
            kind.data = Some(data);
            kind.signature = Some((0, 44));
            Some(kind)
        }
        None => Some(SessionKind::server_id(
            "the cookie crate's signed value: base64 HMAC-SHA256, then the id (as tower-sessions writes it)",
            "the value is a 44-character HMAC tag, then an id",
        )),
    }
}

/// base64 JSON: Express's cookie-session (signed in a `NAME.sig` cookie beside it), or data
/// nobody signed; `data.signature` is signed data of some other framework.
fn base64_json(name: &str, value: &str, siblings: &[String]) -> Option<SessionKind> {
    if let Some(data) = json_object(value.as_bytes()) {
        let mut kind = SessionKind::new(
            Kind::PlainData,
            "plain JSON",
            "the value is JSON as it stands",
        );
        kind.data = Some(data);
        return Some(kind);
    }
    if let Some(data) = base64_any(value).as_deref().and_then(json_object) {
        let sig_name = format!("{name}.sig");
        let signed = siblings.iter().any(|s| s == &sig_name);
        let mut kind = if signed {
            SessionKind::new(
                Kind::SignedData,
                if data.contains("\"_expire\"") || data.contains("\"_session\"") {
                    // koa-session writes its own `_expire` / `_session` beside the data.
                    format!("Koa's koa-session: base64 JSON, signed in the cookie {sig_name}")
                } else {
                    format!(
                        "Express's cookie-session: base64 JSON, signed in the cookie {sig_name}"
                    )
                },
                format!("the value is base64 JSON, and a {sig_name} cookie is set beside it"),
            )
        } else {
            SessionKind::new(
                Kind::PlainData,
                "base64 JSON with no signature",
                "the value is base64 JSON, and no signature comes with it",
            )
        };
        kind.data = Some(data);
        return Some(kind);
    }
    let (payload, signature) = value.rsplit_once('.')?;
    let data = base64_any(payload).as_deref().and_then(json_object)?;
    if !is_base64url(signature.trim_end_matches('=')) {
        return None;
    }
    let mut kind = SessionKind::new(
        Kind::SignedData,
        "base64 JSON, a dot, then a signature",
        "the value is base64 JSON and a signature joined by a dot",
    );
    kind.data = Some(data);
    kind.signature = Some((value.len() - signature.len(), value.len()));
    Some(kind)
}

/// `%XX` escapes undone (bytes that are not UTF-8 shown as U+FFFD).
pub fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(byte) = value
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `value` (as [`unwrap_value`] gives it) with one character of its signature changed; `None`
/// when the kind has no signature the audit can find.
pub fn tampered(value: &str, kind: &SessionKind) -> Option<String> {
    let (start, end) = kind.signature?;
    let signature = value.get(start..end).filter(|s| !s.is_empty())?;
    Some(format!(
        "{}{}{}",
        &value[..start],
        altered(signature),
        &value[end..]
    ))
}

/// `text` with one character a third of the way in changed (not at the end: the last
/// characters of base64 may carry padding bits only).
pub fn altered(text: &str) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    if chars.is_empty() {
        return "A".to_owned();
    }
    let at = chars.len() / 3;
    chars[at] = match chars[at] {
        'A' => 'B',
        'a' => 'b',
        '0' => '1',
        _ => 'A',
    };
    chars.into_iter().collect()
}

/// A JWT made from `token` with `alg: none` and no signature.
pub fn alg_none(token: &str) -> Option<String> {
    let mut parts = token.split('.');
    let (header, claims) = (parts.next()?, parts.next()?);
    let mut header: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).ok()?).ok()?;
    header.as_object_mut()?.insert("alg".into(), "none".into());
    Some(format!(
        "{}.{claims}.",
        URL_SAFE_NO_PAD.encode(header.to_string())
    ))
}

/// Unsigned data with its first number raised by 1,000 (or a field added), re-encoded as it
/// came: the forgery a client can make when nothing is signed.
pub fn forged(value: &str) -> Option<String> {
    let plain = json_object(value.as_bytes()).is_some();
    let bytes = if plain {
        value.as_bytes().to_vec()
    } else {
        base64_any(value)?
    };
    let mut data: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let map = data.as_object_mut()?;
    let number = map
        .iter()
        .find_map(|(k, v)| v.as_i64().map(|n| (k.clone(), n)));
    match number {
        Some((key, n)) => {
            map.insert(key, (n + 1000).into());
        }
        None => {
            map.insert("audit".into(), "forged".into());
        }
    }
    let text = data.to_string();
    Some(if plain {
        text
    } else if value.contains(['-', '_']) || !value.ends_with('=') && !value.contains(['+', '/']) {
        URL_SAFE_NO_PAD.encode(text)
    } else {
        STANDARD.encode(text)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(value: &str) -> Option<Kind> {
        decode("session", value, &[]).map(|k| k.kind)
    }

    /// Flask's, Django's, Rails', cookie-session's values, JWTs and express-session's ids are
    /// each recognised, and their data decoded.
    #[test]
    fn known_formats_are_told_apart() {
        // Flask 3.1: {"views":1}, signed.
        let flask = decode(
            "session",
            "eyJ2aWV3cyI6MX0.Z1BvKg.dGhpcyBpcyBub3QgYSByZWFsIHNpZw",
            &[],
        )
        .unwrap();
        assert_eq!(flask.kind, Kind::SignedData);
        assert_eq!(flask.data.as_deref(), Some(r#"{"views":1}"#));
        assert_eq!(flask.issued_at, Some(0x6750_6F2A));
        // A compressed Flask value starts with a dot.
        let compressed = {
            use std::io::Write as _;
            let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
            z.write_all(br#"{"user":"alice","views":3}"#).unwrap();
            format!(
                ".{}.Z1BvKg.c2lnbmF0dXJlc2lnbmF0dXJlMTIz",
                URL_SAFE_NO_PAD.encode(z.finish().unwrap())
            )
        };
        assert_eq!(
            decode("session", &compressed, &[]).unwrap().data.as_deref(),
            Some(r#"{"user":"alice","views":3}"#)
        );
        // Django's signed_cookies.
        let django = decode(
            "sessionid",
            "eyJ2aWV3cyI6MX0:1tXyZa:Yx1t2TXrVq9dh0gqYJ4aJf9RbKkQ3oTzWd5Lm0Pq1uA",
            &[],
        )
        .unwrap();
        assert_eq!(django.kind, Kind::SignedData);
        assert!(django.format.starts_with("Django"));
        // cookie-session, with and without its .sig cookie.
        let value = "eyJ2aWV3cyI6MX0=";
        assert_eq!(
            decode("session", value, &["session.sig".into()]).map(|k| k.kind),
            Some(Kind::SignedData)
        );
        assert_eq!(kind(value), Some(Kind::PlainData));
        // A JWT.
        let jwt = decode(
            "token",
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSIsImlhdCI6MTAwLCJleHAiOjIwMH0.c2ln",
            &[],
        )
        .unwrap();
        assert_eq!(jwt.kind, Kind::Jwt);
        assert_eq!((jwt.issued_at, jwt.expires_at), (Some(100), Some(200)));
        assert!(jwt.header.unwrap().contains("HS256"));
        // Rails.
        assert_eq!(
            kind("bG9uZ2RhdGE%3D--aXZpdml2aXY%3D--dGFndGFndGFn"),
            Some(Kind::EncryptedData)
        );
        // Server-side ids.
        assert_eq!(kind("s%3AabcDEF123.sigSIG"), Some(Kind::ServerId));
        assert_eq!(
            kind(&format!("{}=Xyz_-0123456789abcdefg", "A".repeat(43))),
            Some(Kind::ServerId)
        );
        // PHP's and random ids are not recognised by shape: behaviour decides.
        assert_eq!(kind("k3v9q0d7m1c2b8h4n5j6r0s1t2"), None);
        assert_eq!(kind("zx5qH1p9Y3rKcW8s0dNfVb"), None);
    }

    /// A tampered value differs from the original only in its signature; alg:none keeps the
    /// claims; a forged value raises the count.
    #[test]
    fn tampering_forgeries_are_well_formed() {
        let value = "eyJ2aWV3cyI6MX0.Z1BvKg.dGhpcyBpcyBub3QgYSByZWFsIHNpZw";
        let k = decode("session", value, &[]).unwrap();
        let t = tampered(value, &k).unwrap();
        assert_ne!(t, value);
        assert!(t.starts_with("eyJ2aWV3cyI6MX0.Z1BvKg."));
        let token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2ln";
        let none = alg_none(token).unwrap();
        let k = decode("token", &none, &[]).unwrap();
        assert_eq!(k.format, "a JWT signed with none");
        assert_eq!(k.data.as_deref(), Some(r#"{"sub":"alice"}"#));
        let forged_value = forged("eyJ2aWV3cyI6MX0=").unwrap();
        assert_eq!(
            decode("s", &forged_value, &[]).unwrap().data.as_deref(),
            Some(r#"{"views":1001}"#)
        );
        assert_eq!(
            sensitive_fields(r#"{"user":"a","Email":"x","n":{"password":1}}"#),
            ["Email", "password"]
        );
    }
}
