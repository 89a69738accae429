//! Bytes that are not UTF-8, kept as they came. Chrome keeps a cookie whose name or value holds
//! such bytes (0x80–0xFF outside a UTF-8 sequence) and sends the same bytes back; the jar keeps
//! names and values as text, so each such byte becomes one character of Unicode's private use
//! plane 16 (U+10FE80–U+10FEFF) on the way in and the byte again on the way out. A server that
//! sends those private use characters themselves (as UTF-8) gets the bytes back instead — a
//! collision no real cookie is known to make.

use std::borrow::Cow;

/// The character a raw byte `b` (0x80–0xFF) becomes: `RAW_BASE + b`.
const RAW_BASE: u32 = 0x10_FE00;

/// `bytes` as text: UTF-8 as it is, every other byte as its private use character.
pub fn text_of_bytes(bytes: &[u8]) -> Cow<'_, str> {
    if let Ok(text) = std::str::from_utf8(bytes) {
        return Cow::Borrowed(text);
    }
    let mut text = String::with_capacity(bytes.len() + 8);
    for chunk in bytes.utf8_chunks() {
        text.push_str(chunk.valid());
        for &byte in chunk.invalid() {
            // Invalid bytes are never ASCII, so every one has its character.
            text.extend(char::from_u32(RAW_BASE + u32::from(byte)));
        }
    }
    Cow::Owned(text)
}

/// The raw byte a character stands for, if it stands for one.
fn raw_byte(c: char) -> Option<u8> {
    u32::from(c)
        .checked_sub(RAW_BASE)
        .and_then(|b| u8::try_from(b).ok())
        .filter(|b| *b >= 0x80)
}

/// `text` as the bytes it came as ([`text_of_bytes`] undone).
pub fn bytes_of_text(text: &str) -> Cow<'_, [u8]> {
    if !text.chars().any(|c| raw_byte(c).is_some()) {
        return Cow::Borrowed(text.as_bytes());
    }
    let mut bytes = Vec::with_capacity(text.len());
    for c in text.chars() {
        match raw_byte(c) {
            Some(byte) => bytes.push(byte),
            None => bytes.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
        }
    }
    Cow::Owned(bytes)
}

/// How many bytes `text` was on the wire (a raw byte's character counts one).
pub fn wire_len(text: &str) -> usize {
    text.len() - 3 * text.chars().filter(|c| raw_byte(*c).is_some()).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_that_are_not_utf8_come_back_as_they_came() {
        let line = b"a=v\xe9x\xff; \xc3\xa9=1";
        let text = text_of_bytes(line);
        assert!(text.contains('\u{c9}') || text.contains('é'));
        assert_eq!(bytes_of_text(&text).as_ref(), line);
        assert_eq!(wire_len(&text), line.len());
        assert!(matches!(text_of_bytes(b"plain"), Cow::Borrowed("plain")));
        assert!(matches!(bytes_of_text("é"), Cow::Borrowed(_)));
    }
}
