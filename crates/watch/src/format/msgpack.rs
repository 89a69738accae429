//! MessagePack records: tower-sessions' `Record` (written by `rmp_serde::to_vec`, so an array
//! `[id, data, expiry_date]`, or a map with those names) and Flask-Session's session dict.

use rmpv::Value as Pack;
use serde_json::Value;
use time::{Date, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

use super::{Decoded, object};

/// The deepest nesting read (a hostile record cannot exhaust the stack).
const MAX_DEPTH: usize = 64;

fn read(bytes: &[u8]) -> Result<Pack, String> {
    let mut rest = bytes;
    let value = rmpv::decode::read_value_with_max_depth(&mut rest, MAX_DEPTH)
        .map_err(|e| format!("not MessagePack ({e})"))?;
    if !rest.is_empty() {
        return Err(format!("{} bytes after the MessagePack value", rest.len()));
    }
    Ok(value)
}

/// tower-sessions' record.
pub(super) fn tower_record(bytes: &[u8]) -> Decoded {
    let pack = match read(bytes) {
        Ok(pack) => pack,
        Err(reason) => {
            return Decoded::raw(bytes, format!("not a tower-sessions record: {reason}"));
        }
    };
    let (data, expiry) = match &pack {
        Pack::Array(fields) if fields.len() == 3 => (&fields[1], &fields[2]),
        Pack::Map(entries) => {
            let field = |name: &str| {
                entries
                    .iter()
                    .find(|(k, _)| k.as_str() == Some(name))
                    .map(|(_, v)| v)
            };
            match (field("data"), field("expiry_date")) {
                (Some(data), Some(expiry)) => (data, expiry),
                _ => {
                    return Decoded::raw(bytes, "a map without data and expiry_date".into());
                }
            }
        }
        _ => {
            return Decoded::raw(
                bytes,
                "not a tower-sessions record ([id, data, expiry_date])".into(),
            );
        }
    };
    Decoded {
        data: Ok(json(data)),
        expires: offset_date_time(expiry),
    }
}

/// Flask-Session's dict (MessagePack since Flask-Session 0.6; pickle before).
pub(super) fn flask(bytes: &[u8]) -> Decoded {
    if bytes.first() == Some(&0x80) && bytes.last() == Some(&b'.') {
        return Decoded::raw(
            bytes,
            "a Python pickle (Flask-Session before 0.6), which the lab does not unpickle — \
             unpickling runs code"
                .into(),
        );
    }
    match read(bytes) {
        Ok(pack @ Pack::Map(_)) => Decoded {
            data: Ok(json(&pack)),
            expires: None,
        },
        Ok(_) => Decoded::raw(bytes, "Flask-Session MessagePack that is not a dict".into()),
        Err(reason) => Decoded::raw(bytes, format!("not Flask-Session data: {reason}")),
    }
}

/// `time`'s compact serde form: `(year, ordinal, hour, minute, second, nanosecond,
/// offset hours, offset minutes, offset seconds)`.
fn offset_date_time(pack: &Pack) -> Option<OffsetDateTime> {
    let Pack::Array(parts) = pack else {
        return None;
    };
    let n = |i: usize| parts.get(i).and_then(Pack::as_i64);
    let date =
        Date::from_ordinal_date(i32::try_from(n(0)?).ok()?, u16::try_from(n(1)?).ok()?).ok()?;
    let time = Time::from_hms_nano(
        u8::try_from(n(2)?).ok()?,
        u8::try_from(n(3)?).ok()?,
        u8::try_from(n(4)?).ok()?,
        u32::try_from(n(5)?).ok()?,
    )
    .ok()?;
    let offset = UtcOffset::from_hms(
        i8::try_from(n(6)?).ok()?,
        i8::try_from(n(7)?).ok()?,
        i8::try_from(n(8)?).ok()?,
    )
    .ok()?;
    Some(PrimitiveDateTime::new(date, time).assume_offset(offset))
}

/// MessagePack as JSON: binary as `{"bytes": hex}`, keys that are not strings as their JSON.
pub(super) fn json(pack: &Pack) -> Value {
    match pack {
        Pack::Nil => Value::Null,
        Pack::Boolean(b) => Value::Bool(*b),
        Pack::Integer(i) => i
            .as_i64()
            .map(Value::from)
            .or_else(|| i.as_u64().map(Value::from))
            .unwrap_or(Value::Null),
        Pack::F32(f) => {
            serde_json::Number::from_f64(f64::from(*f)).map_or(Value::Null, Value::Number)
        }
        Pack::F64(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
        Pack::String(s) => Value::String(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        Pack::Binary(bytes) => serde_json::json!({ "bytes": hex(bytes) }),
        Pack::Array(items) => Value::Array(items.iter().map(json).collect()),
        Pack::Map(entries) => object(entries.iter().map(|(k, v)| {
            let key = match k {
                Pack::String(s) => String::from_utf8_lossy(s.as_bytes()).into_owned(),
                other => super::key_text(&json(other)),
            };
            (key, json(v))
        })),
        Pack::Ext(kind, bytes) => serde_json::json!({ "ext": kind, "bytes": hex(bytes) }),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(pack: &Pack) -> Vec<u8> {
        let mut out = Vec::new();
        rmpv::encode::write_value(&mut out, pack).unwrap();
        out
    }

    #[test]
    fn a_tower_sessions_record() {
        let record = Pack::Array(vec![
            Pack::Binary(vec![0; 16]),
            Pack::Map(vec![(Pack::from("views"), Pack::from(3))]),
            Pack::Array(
                [2026, 341, 10, 0, 0, 0, 0, 0, 0]
                    .into_iter()
                    .map(Pack::from)
                    .collect(),
            ),
        ]);
        let decoded = tower_record(&encode(&record));
        assert_eq!(decoded.data.unwrap(), serde_json::json!({"views": 3}));
        assert_eq!(
            decoded.expires.unwrap(),
            time::macros::datetime!(2026-12-07 10:00 UTC)
        );
    }

    #[test]
    fn flask_and_pickles() {
        let dict = Pack::Map(vec![
            (Pack::from("_permanent"), Pack::from(true)),
            (Pack::from("views"), Pack::from(1)),
        ]);
        assert_eq!(
            flask(&encode(&dict)).data.unwrap(),
            serde_json::json!({"_permanent": true, "views": 1})
        );
        let pickle = b"\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00}\x94.";
        assert!(flask(pickle).data.unwrap_err().contains("pickle"));
    }

    #[test]
    fn deep_or_cut_records_are_named() {
        let mut deep = vec![0x91u8; 10_000];
        deep.push(0xc0);
        assert!(tower_record(&deep).data.is_err());
        let record = encode(&Pack::Map(vec![(
            Pack::from("k"),
            Pack::from("v".repeat(100)),
        )]));
        assert!(flask(&record[..20]).data.is_err());
    }
}
