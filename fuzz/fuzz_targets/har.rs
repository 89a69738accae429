//! Bytes opened as a HAR log: read or refused, never a panic; the exchanges read write a HAR
//! that reads back as as many exchanges.
#![no_main]

use libfuzzer_sys::fuzz_target;
use session_lab::transfer::{exchanges_from_har, har_text};

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    if let Ok(exchanges) = exchanges_from_har(&value) {
        let written: serde_json::Value = serde_json::from_str(&har_text("A", &exchanges)).unwrap();
        assert_eq!(exchanges_from_har(&written).unwrap().len(), exchanges.len());
    }
});
