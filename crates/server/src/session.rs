//! What the inspector says about one session: its id, its data as bounded JSON text, its times.
//! Plain values, shared by the stores, the change feed, the served-request records and the lab.

use std::{
    collections::HashMap,
    fmt,
    hash::{BuildHasherDefault, Hasher},
    io::Write as _,
};

use serde_json::Value;
use time::OffsetDateTime;
use tower_sessions::session::Id;

/// A session's data as a JSON object, for code that reads individual keys.
pub type SessionData = serde_json::Map<String, Value>;

/// The most bytes of a session's data the inspector keeps as text; the rest is cut, and the cut
/// is marked. Enough for any data the lab's routes write; a 60 KB value cannot grow the window.
pub const DATA_TEXT_MAX: usize = 256;

/// A session id: the 128 random bits the cookie carries (before signing), written as
/// tower-sessions writes it (22 characters of URL-safe base64).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(pub i128);

impl SessionId {
    /// The id's bits in the order its text spells them: the first character of the text is the
    /// top six bits. An id-prefix filter compares these bits instead of formatting every id.
    pub fn text_bits(self) -> u128 {
        u128::from_be_bytes(self.0.to_le_bytes())
    }

    /// The bits a text prefix of an id fixes, as `(mask, value)` over [`Self::text_bits`]:
    /// an id starts with `prefix` exactly when `bits & mask == value`. `None` when the prefix
    /// cannot start any id (a character outside URL-safe base64, or too long).
    pub fn prefix_bits(prefix: &str) -> Option<(u128, u128)> {
        if prefix.len() > 22 {
            return None;
        }
        let mut mask = 0u128;
        let mut value = 0u128;
        for (n, byte) in prefix.bytes().enumerate() {
            let sextet = match byte {
                b'A'..=b'Z' => byte - b'A',
                b'a'..=b'z' => byte - b'a' + 26,
                b'0'..=b'9' => byte - b'0' + 52,
                b'-' => 62,
                b'_' => 63,
                _ => return None,
            };
            let sextet = u128::from(sextet);
            if n < 21 {
                let shift = 128 - 6 * (n as u32 + 1);
                mask |= 0x3f << shift;
                value |= sextet << shift;
            } else {
                // The 22nd character carries the last two bits; its low four bits are padding
                // and must be zero.
                if sextet & 0xf != 0 {
                    return None;
                }
                mask |= 0x3;
                value |= sextet >> 4;
            }
        }
        Some((mask, value))
    }
}

impl From<Id> for SessionId {
    fn from(id: Id) -> Self {
        Self(id.0)
    }
}

impl From<SessionId> for Id {
    fn from(id: SessionId) -> Self {
        Id(id.0)
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Id(self.0).fmt(f)
    }
}

/// Text that is not a session id (tower-sessions' base64url of 128 bits).
#[derive(Debug, thiserror::Error)]
#[error("“{0}” is not a session id")]
pub struct NotASessionId(pub String);

impl std::str::FromStr for SessionId {
    type Err = NotASessionId;

    fn from_str(text: &str) -> Result<Self, NotASessionId> {
        text.parse::<Id>()
            .map(Self::from)
            .map_err(|_| NotASessionId(text.to_owned()))
    }
}

/// A session's data as compact JSON text with its keys in order, cut to [`DATA_TEXT_MAX`]
/// bytes. Equal data always gives equal text, whichever store it came from. Text of up to 24
/// bytes (`{"views":123456}`) is kept inline, without an allocation of its own: a million
/// sessions' data costs no million allocations.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct DataText {
    text: compact_str::CompactString,
    /// The length of the whole text, which is longer than `text` when it was cut.
    full_len: u32,
}

impl DataText {
    /// The data of a tower-sessions record.
    pub fn of_record(data: &HashMap<String, Value>) -> Self {
        let mut writer = Bounded::default();
        // Writing into memory cannot fail; a value serde cannot write is left out.
        let _ = write_canonical(&mut writer, data);
        writer.finish()
    }

    /// Data a store kept as JSON (written by [`encode_data`], so already in key order).
    pub fn from_json(json: &[u8]) -> Self {
        let mut writer = Bounded::default();
        let _ = writer.write_all(json);
        writer.finish()
    }

    /// Its two parts, for compact storage: the text and the whole data's length.
    pub fn into_parts(self) -> (compact_str::CompactString, u32) {
        (self.text, self.full_len)
    }

    /// From the parts [`Self::into_parts`] gave.
    pub fn from_parts(text: compact_str::CompactString, full_len: u32) -> Self {
        Self { text, full_len }
    }

    /// The text, cut if the data is longer than [`DATA_TEXT_MAX`].
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the text was cut.
    pub fn is_cut(&self) -> bool {
        self.text.len() < self.full_len as usize
    }

    /// The length in bytes of the whole data as JSON.
    pub fn full_len(&self) -> usize {
        self.full_len as usize
    }

    /// The data as a JSON object, when it was not cut.
    pub fn parse(&self) -> Option<SessionData> {
        if self.is_cut() {
            return None;
        }
        serde_json::from_str(&self.text).ok()
    }

    /// One key's value, when the data was not cut.
    pub fn get(&self, key: &str) -> Option<Value> {
        self.parse()?.remove(key)
    }

    /// The `views` counter the seed's route keeps, if there is one.
    pub fn views(&self) -> Option<u64> {
        self.get("views")?.as_u64()
    }

    /// Bytes this value holds on the heap (for byte budgets).
    pub fn heap_bytes(&self) -> usize {
        if self.text.is_heap_allocated() {
            self.text.len()
        } else {
            0
        }
    }
}

impl fmt::Debug for DataText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_cut() {
            write!(f, "{}… ({} bytes)", self.text, self.full_len)
        } else {
            f.write_str(&self.text)
        }
    }
}

/// A writer that keeps the first [`DATA_TEXT_MAX`] bytes (cut at a character boundary) and
/// counts the rest.
#[derive(Default)]
struct Bounded {
    kept: Vec<u8>,
    total: usize,
}

impl std::io::Write for Bounded {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let room = DATA_TEXT_MAX.saturating_sub(self.kept.len());
        self.kept.extend_from_slice(&bytes[..bytes.len().min(room)]);
        self.total += bytes.len();
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Bounded {
    fn finish(self) -> DataText {
        let text = match String::from_utf8(self.kept) {
            Ok(text) => text,
            // The cut fell inside a character: keep what is whole.
            Err(err) => {
                let valid = err.utf8_error().valid_up_to();
                let mut bytes = err.into_bytes();
                bytes.truncate(valid);
                String::from_utf8(bytes).unwrap_or_default()
            }
        };
        DataText {
            text: text.into(),
            full_len: u32::try_from(self.total).unwrap_or(u32::MAX),
        }
    }
}

/// Writes a record's data as a JSON object with its keys in order (a `HashMap` has none).
fn write_canonical(
    writer: &mut impl std::io::Write,
    data: &HashMap<String, Value>,
) -> serde_json::Result<()> {
    if data.len() < 2 {
        return serde_json::to_writer(writer, data);
    }
    let ordered: std::collections::BTreeMap<&String, &Value> = data.iter().collect();
    serde_json::to_writer(writer, &ordered)
}

/// The most bytes one session's data may take, as JSON: more is refused (a 413 page), never
/// stored, so no client can grow a session without bound.
pub const MAX_SESSION_BYTES: usize = 16 * 1024;

/// Starts the message of a store that refused data over [`MAX_SESSION_BYTES`].
pub(super) const TOO_LARGE: &str = "session data too large";

/// Starts the message of a store that holds its limit of sessions.
pub(super) const STORE_FULL: &str = "session store full";

/// A record's data as the stores keep it: JSON with its keys in order, so the same data is the
/// same bytes in every store and in the inspector.
pub(super) fn encode_data(data: &HashMap<String, Value>) -> serde_json::Result<Vec<u8>> {
    let mut bytes = Vec::with_capacity(16);
    write_canonical(&mut bytes, data)?;
    Ok(bytes)
}

/// [`encode_data`] for a store to keep: refused when over [`MAX_SESSION_BYTES`].
pub(super) fn encode_for_store(
    data: &HashMap<String, Value>,
) -> tower_sessions::session_store::Result<Vec<u8>> {
    use tower_sessions::session_store::Error;
    let bytes = encode_data(data).map_err(|e| Error::Encode(e.to_string()))?;
    if bytes.len() > MAX_SESSION_BYTES {
        return Err(Error::Encode(format!(
            "{TOO_LARGE}: {} bytes, at most {MAX_SESSION_BYTES}",
            bytes.len()
        )));
    }
    Ok(bytes)
}

/// One session as the store holds it, for the server panel.
#[derive(Clone, Debug, PartialEq)]
pub struct SessionRow {
    /// The session id (what the cookie carries, before signing).
    pub id: SessionId,
    /// The session's data.
    pub data: DataText,
    /// When the store will drop the session.
    pub expires_at: OffsetDateTime,
    /// When the session was created, if known.
    pub created_at: Option<OffsetDateTime>,
    /// When the session was last saved, if known.
    pub updated_at: Option<OffsetDateTime>,
    /// The store's own key for a session of a store the lab only watches (another framework's,
    /// whose ids are not tower-sessions ids: `id` is then a hash of this); `None` for the lab's
    /// own stores.
    pub key: Option<compact_str::CompactString>,
}

/// The expiry of a session that has none (a watched store's Redis key without a TTL): the
/// last second of the year 9999. Tell it with [`never_expires`].
pub const NEVER: OffsetDateTime = time::macros::datetime!(9999-12-31 23:59:59 UTC);

/// Whether `at` is [`NEVER`] (or past it).
pub fn never_expires(at: OffsetDateTime) -> bool {
    at >= NEVER
}

/// Why a session left the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeleteReason {
    /// A handler deleted it (logout) or replaced its id (regenerate).
    Deleted,
    /// Its expiry passed and the sweep removed it.
    Expired,
    /// A listing of a store other processes write no longer has it.
    Gone,
}

/// Milliseconds since the Unix epoch.
pub fn unix_millis(at: OffsetDateTime) -> i64 {
    // Seconds and milliseconds separately: no 128-bit division on every request.
    at.unix_timestamp()
        .saturating_mul(1000)
        .saturating_add(i64::from(at.millisecond()))
}

/// The moment `millis` after the Unix epoch.
pub fn from_unix_millis(millis: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(millis.div_euclid(1000))
        .map(|at| at + time::Duration::milliseconds(millis.rem_euclid(1000)))
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// Now, in Unix milliseconds.
pub fn now_millis() -> i64 {
    unix_millis(OffsetDateTime::now_utc())
}

/// Hashes keys that are already uniformly random (session ids from a CSPRNG, keyed hashes) by
/// folding their bits: no need to hash them again.
#[derive(Default)]
pub struct FoldHasher(u64);

impl Hasher for FoldHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Not used by the keys above; a plain FNV-1a fallback keeps it correct for any key.
        for byte in bytes {
            self.0 = (self.0 ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }

    fn write_i128(&mut self, n: i128) {
        self.0 = (n as u64) ^ ((n >> 64) as u64);
    }
}

/// A hash map for already-random keys.
pub type FoldMap<K, V> = HashMap<K, V, BuildHasherDefault<FoldHasher>>;

#[cfg(test)]
mod tests {
    use super::*;

    /// Keys come out in order, so equal data is equal text in every store.
    #[test]
    fn data_text_is_canonical() {
        let data = HashMap::from([
            ("views".to_owned(), serde_json::json!(3)),
            ("user".to_owned(), serde_json::json!("ann")),
        ]);
        let text = DataText::of_record(&data);
        assert_eq!(text.as_str(), r#"{"user":"ann","views":3}"#);
        assert_eq!(text.views(), Some(3));
        assert_eq!(
            DataText::from_json(&encode_data(&data).unwrap()),
            text,
            "stored bytes read back as the same text"
        );
    }

    /// Data longer than the budget is cut at a character boundary and says how long it was.
    #[test]
    fn long_data_is_cut_and_marked() {
        let data = HashMap::from([("user".to_owned(), serde_json::json!("é".repeat(30_000)))]);
        let text = DataText::of_record(&data);
        assert!(text.is_cut());
        assert!(text.as_str().len() <= DATA_TEXT_MAX);
        assert_eq!(text.full_len(), 60_000 + r#"{"user":""}"#.len());
        assert_eq!(text.parse(), None, "a cut text is not read as data");
    }

    /// An id prefix selects exactly the ids whose text starts with it.
    #[test]
    fn prefix_bits_match_the_text() {
        for _ in 0..200 {
            let id = SessionId::from(Id::default());
            let text = id.to_string();
            for len in [0, 1, 5, 21, 22] {
                let (mask, value) = SessionId::prefix_bits(&text[..len]).unwrap();
                assert_eq!(
                    id.text_bits() & mask,
                    value,
                    "{text} starts with {}",
                    &text[..len]
                );
            }
            let other = SessionId::from(Id::default());
            let (mask, value) = SessionId::prefix_bits(&text[..6]).unwrap();
            assert_eq!(
                other.text_bits() & mask == value,
                other.to_string().starts_with(&text[..6])
            );
        }
        assert!(SessionId::prefix_bits("ab!").is_none());
    }
}
