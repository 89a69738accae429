//! Text opened as a saved lab (a colleague's file): read or refused with a reason, never a
//! panic; a lab read, made safe and written again reads back the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use session_lab::lab::saved::SavedLab;
use time::OffsetDateTime;

fuzz_target!(|text: &str| {
    if let Ok(mut lab) = SavedLab::from_json(text) {
        let _ = lab.sanitise(OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000));
        assert_eq!(SavedLab::from_json(&lab.to_json()).unwrap(), lab);
    }
});
