//! Text pasted or opened as cookies (cookies.txt, storageState, a JSON cookie list): read or
//! refused with a reason, never a panic; what was read writes and reads back the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use session_lab::transfer::{netscape, parse_cookies, parse_netscape, storage_state};
use time::OffsetDateTime;

fuzz_target!(|text: &str| {
    let now = OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000);
    if let Ok(imported) = parse_cookies(text, now) {
        let again = parse_netscape(&netscape(&imported.cookies), now);
        assert_eq!(again.cookies.len(), imported.cookies.len());
        let _ = parse_cookies(&storage_state(&imported.cookies), now);
    }
});
