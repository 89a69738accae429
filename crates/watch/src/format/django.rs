//! Django's `session_data`: readable without the secret key, which only signs it.
//!
//! Django 3.1 and later store `signing.dumps(data, compress=True)`: `PAYLOAD:TIMESTAMP:MAC`,
//! where PAYLOAD is URL-safe base64 (no padding) of the JSON, and of its zlib compression when
//! it starts with `.`. Older Django stored base64 of `HASH:JSON`.

use base64::Engine as _;
use serde_json::Value;

use super::Decoded;

/// The most bytes a compressed payload may inflate to (a zip bomb stops there).
const MAX_INFLATED: u64 = 1 << 20;

pub(super) fn decode(bytes: &[u8]) -> Decoded {
    match data(bytes) {
        Ok(value) => Decoded::data(value),
        Err(reason) => Decoded::raw(bytes, format!("not Django session data: {reason}")),
    }
}

fn data(bytes: &[u8]) -> Result<Value, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "not text".to_owned())?;
    let text = text.trim();
    if let Some((payload, _signed)) = text.split_once(':') {
        let (compressed, payload) = match payload.strip_prefix('.') {
            Some(rest) => (true, rest),
            None => (false, payload),
        };
        if let Ok(raw) =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload.trim_end_matches('='))
        {
            let json = if compressed { inflate(&raw)? } else { raw };
            return serde_json::from_slice(&json)
                .map_err(|e| format!("the payload is not JSON ({e})"));
        }
    }
    // Before Django 3.1: standard base64 of `HASH:JSON`.
    let raw = base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|_| "neither Django's signed format nor its legacy base64".to_owned())?;
    let at = raw
        .iter()
        .position(|&b| b == b':')
        .ok_or_else(|| "legacy format without its hash".to_owned())?;
    serde_json::from_slice(&raw[at + 1..])
        .map_err(|e| format!("the legacy payload is not JSON ({e})"))
}

fn inflate(raw: &[u8]) -> Result<Vec<u8>, String> {
    use std::io::Read as _;
    let mut out = Vec::new();
    flate2::read::ZlibDecoder::new(raw)
        .take(MAX_INFLATED + 1)
        .read_to_end(&mut out)
        .map_err(|e| format!("the compressed payload does not inflate ({e})"))?;
    if out.len() as u64 > MAX_INFLATED {
        return Err(format!("the payload inflates past {MAX_INFLATED} bytes"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    fn signed(json: &str, compress: bool) -> String {
        let payload = if compress {
            let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
            z.write_all(json.as_bytes()).unwrap();
            format!(
                ".{}",
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(z.finish().unwrap())
            )
        } else {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
        };
        format!("{payload}:1vABCd:Zm9vYmFyYmF6cXV4")
    }

    #[test]
    fn plain_and_compressed_payloads() {
        for compress in [false, true] {
            let text = signed(r#"{"views":3,"user":"alice"}"#, compress);
            assert_eq!(
                decode(text.as_bytes()).data.unwrap(),
                serde_json::json!({"views": 3, "user": "alice"})
            );
        }
    }

    #[test]
    fn the_legacy_format() {
        let text = base64::engine::general_purpose::STANDARD.encode(r#"abc123:{"views":2}"#);
        assert_eq!(
            decode(text.as_bytes()).data.unwrap(),
            serde_json::json!({"views": 2})
        );
    }

    #[test]
    fn garbage_is_named_not_a_panic() {
        let d = decode(b"\xff\xfe");
        assert!(d.data.unwrap_err().contains("not Django session data"));
        let d = decode(b".!!!:x:y");
        assert!(d.data.is_err());
    }

    #[test]
    fn a_zip_bomb_stops_at_the_bound() {
        let json = format!(r#"{{"x":"{}"}}"#, "a".repeat(4 << 20));
        let text = signed(&json, true);
        let err = decode(text.as_bytes()).data.unwrap_err();
        assert!(err.contains("inflates past"), "{err}");
    }
}
