//! PHP's session encodings, read into JSON: the default `php` handler (`name|VALUE` repeated,
//! `views|i:3;user|s:5:"alice";`) and `php_serialize` (one serialized array). Values are PHP's
//! `serialize()` format; objects become JSON objects with a `__class` member, references are
//! named, not followed. Depth and length are bounded: a file from a stranger cannot stall the
//! lab or exhaust its memory.

use serde_json::{Map, Value};

/// The deepest nesting read.
const MAX_DEPTH: usize = 64;

/// Reads a session file's contents.
pub fn unserialize_session(bytes: &[u8]) -> Result<Value, String> {
    if bytes.is_empty() {
        return Ok(Value::Object(Map::new()));
    }
    // php_serialize: the whole file is one array.
    if bytes.starts_with(b"a:") {
        let mut reader = Reader { bytes, at: 0 };
        if let Ok(value) = reader.value(0)
            && reader.at == bytes.len()
        {
            return Ok(value);
        }
    }
    let mut reader = Reader { bytes, at: 0 };
    let mut out = Map::new();
    while reader.at < bytes.len() {
        let bar = bytes[reader.at..]
            .iter()
            .position(|&b| b == b'|')
            .ok_or_else(|| format!("no `|` after a name at byte {}", reader.at))?;
        let name = String::from_utf8_lossy(&bytes[reader.at..reader.at + bar]).into_owned();
        reader.at += bar + 1;
        let value = reader.value(0)?;
        out.insert(name, value);
    }
    Ok(Value::Object(out))
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn fail<T>(&self, what: &str) -> Result<T, String> {
        Err(format!("{what} at byte {}", self.at))
    }

    fn expect(&mut self, byte: u8) -> Result<(), String> {
        if self.bytes.get(self.at) == Some(&byte) {
            self.at += 1;
            Ok(())
        } else {
            self.fail(&format!("expected `{}`", byte as char))
        }
    }

    /// Bytes up to `end` (not included), which is skipped.
    fn until(&mut self, end: u8) -> Result<&str, String> {
        let rest = &self.bytes[self.at..];
        let Some(n) = rest.iter().position(|&b| b == end).filter(|&n| n <= 64) else {
            return self.fail(&format!("expected `{}`", end as char));
        };
        let text = std::str::from_utf8(&rest[..n])
            .map_err(|_| format!("not a number at byte {}", self.at))?;
        self.at += n + 1;
        Ok(text)
    }

    fn number<T: std::str::FromStr>(&mut self, end: u8) -> Result<T, String> {
        let at = self.at;
        self.until(end)?
            .parse()
            .map_err(|_| format!("not a number at byte {at}"))
    }

    /// `LEN:"BYTES"` (the quotes counted apart from LEN).
    fn counted(&mut self) -> Result<String, String> {
        let len: usize = self.number(b':')?;
        self.expect(b'"')?;
        let Some(text) = self.bytes.get(self.at..self.at.saturating_add(len)) else {
            return self.fail(&format!("a string of {len} bytes runs past the end"));
        };
        let text = String::from_utf8_lossy(text).into_owned();
        self.at += len;
        self.expect(b'"')?;
        Ok(text)
    }

    fn value(&mut self, depth: usize) -> Result<Value, String> {
        if depth > MAX_DEPTH {
            return self.fail("nested too deep");
        }
        let Some(&tag) = self.bytes.get(self.at) else {
            return self.fail("ends before a value");
        };
        self.at += 1;
        if tag == b'N' {
            self.expect(b';')?;
            return Ok(Value::Null);
        }
        self.expect(b':')?;
        Ok(match tag {
            b'b' => Value::Bool(self.number::<u8>(b';')? != 0),
            b'i' => Value::from(self.number::<i64>(b';')?),
            b'd' => {
                let text = self.until(b';')?.to_owned();
                match text.parse::<f64>() {
                    Ok(f) if f.is_finite() => Value::from(f),
                    _ => Value::String(text),
                }
            }
            b's' => {
                let text = self.counted()?;
                self.expect(b';')?;
                Value::String(text)
            }
            b'a' => Value::Object(self.members(depth)?),
            b'O' => {
                let class = self.counted()?;
                self.expect(b':')?;
                let mut members = self.members(depth)?;
                members.insert("__class".into(), Value::String(class));
                Value::Object(members)
            }
            b'E' => {
                let case = self.counted()?;
                self.expect(b';')?;
                Value::String(case)
            }
            b'r' | b'R' => {
                let n: u64 = self.number(b';')?;
                Value::String(format!("(reference to value {n})"))
            }
            b'C' => {
                let class = self.counted()?;
                self.expect(b':')?;
                let inner = self.counted_braces()?;
                serde_json::json!({ "__class": class, "serialized": inner })
            }
            other => return self.fail(&format!("unknown type `{}`", other as char)),
        })
    }

    /// `N:{KEY;VALUE;…}` (arrays and objects).
    fn members(&mut self, depth: usize) -> Result<Map<String, Value>, String> {
        let n: usize = self.number(b':')?;
        self.expect(b'{')?;
        let mut out = Map::new();
        for _ in 0..n {
            let key = match self.value(depth + 1)? {
                Value::String(s) => s,
                other => super::key_text(&other),
            };
            let value = self.value(depth + 1)?;
            out.insert(key, value);
        }
        self.expect(b'}')?;
        Ok(out)
    }

    /// `LEN:{BYTES}` of a custom-serialized object.
    fn counted_braces(&mut self) -> Result<String, String> {
        let len: usize = self.number(b':')?;
        self.expect(b'{')?;
        let Some(text) = self.bytes.get(self.at..self.at.saturating_add(len)) else {
            return self.fail("custom data runs past the end");
        };
        let text = String::from_utf8_lossy(text).into_owned();
        self.at += len;
        self.expect(b'}')?;
        Ok(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_php_handler() {
        let v = unserialize_session(
            br#"views|i:3;user|s:5:"alice";cart|a:2:{i:0;s:3:"tea";i:1;d:2.5;}ok|b:1;none|N;"#,
        )
        .unwrap();
        assert_eq!(
            v,
            json!({"views": 3, "user": "alice", "cart": {"0": "tea", "1": 2.5}, "ok": true, "none": null})
        );
    }

    #[test]
    fn php_serialize_handler_and_objects() {
        let v = unserialize_session(br#"a:1:{s:4:"user";O:4:"User":1:{s:4:"name";s:3:"bob";}}"#)
            .unwrap();
        assert_eq!(v, json!({"user": {"name": "bob", "__class": "User"}}));
    }

    #[test]
    fn multibyte_lengths_are_bytes() {
        let v = unserialize_session("name|s:6:\"héhé\";".as_bytes()).unwrap();
        assert_eq!(v, json!({"name": "héhé"}));
    }

    #[test]
    fn hostile_input_is_an_error_not_a_panic() {
        for bad in [
            &b"views|i:3"[..],
            b"views|s:999999999999:\"x\";",
            b"x|a:99999999999999999999:{",
            b"no bar here",
            b"x|Z:1;",
            b"x|s:-1:\"\";",
        ] {
            assert!(
                unserialize_session(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        // Arrays as keys, nested: never serialised into ever longer key strings.
        let keys = format!("x|{}i:0;{}", "a:1:{".repeat(40), "i:0;}".repeat(40));
        let started = std::time::Instant::now();
        let text = unserialize_session(keys.as_bytes())
            .map(|v| v.to_string())
            .unwrap_or_default();
        assert!(
            text.len() < 10_000 && started.elapsed() < std::time::Duration::from_secs(1),
            "{}",
            text.len()
        );
        let deep = format!("x|{}i:1;{}", "a:1:{i:0;".repeat(200), "}".repeat(200));
        let err = unserialize_session(deep.as_bytes()).unwrap_err();
        assert!(err.contains("too deep"), "{err}");
    }
}
