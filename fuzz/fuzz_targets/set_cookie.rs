//! A `Set-Cookie` header and a cookie date, as any server may send them: read or refused,
//! never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use session_lab::browser::{SetCookie, parse_cookie_date};

fuzz_target!(|text: &str| {
    let _ = SetCookie::read(text);
    let _ = parse_cookie_date(text);
});
