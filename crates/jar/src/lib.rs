//! A cookie jar that keeps cookies as Chrome does: RFC 6265bis with Chrome's choices where it
//! departs from the RFC, every refusal and every cookie left out with its reason.
//!
//! # Layout
//!
//! - [`set_cookie`]: a `Set-Cookie` line read as a browser reads it (nothing applied yet).
//! - [`jar`]: the jar itself: what a response may store and what a request carries, in order.
//! - [`site`]: sites by the public suffix list, secure contexts, and where a request comes
//!   from (the page and frame that decide which `SameSite` cookies go along).
//!
//! - [`raw`]: bytes that are not UTF-8, kept as they came (as Chrome keeps them).
//! - [`provider`] (feature `reqwest`): the jar as reqwest's cookie provider, and the scope
//!   that tells it each request's context and hands back what it did.
//!
//! It depends on `time`, `url` and `psl` only; `serde` (for saving rows) and `reqwest` (with
//! tokio, for the provider) are features.

#![warn(missing_docs)]

pub mod jar;
#[cfg(feature = "reqwest")]
pub mod provider;
pub mod raw;
pub mod set_cookie;
pub mod site;

pub use jar::{
    Blocked, BlockedReason, COOKIES_AFTER_PURGE, CookieKey, CookieRow, Jar,
    LAX_ALLOWING_UNSAFE_SECS, MAX_COOKIES, MAX_COOKIES_PER_SITE, NotSent, NotSentReason, Prefix,
    RequestContext, Rules, SITE_COOKIES_AFTER_PURGE, VisitOptions,
};
#[cfg(feature = "reqwest")]
pub use provider::{CookieJar, Exchange, Sent, Trace};
pub use set_cookie::{
    MAX_ATTRIBUTE_VALUE_BYTES, MAX_LIFETIME, MAX_NAME_VALUE_BYTES, ParseRefusal, SameSite,
    SetCookie, parse_cookie_date,
};
pub use site::{Page, RequestFrom, is_public_suffix, is_secure_context, registrable_domain, site};

/// The README's example, compiled with the tests.
#[cfg(all(doctest, feature = "reqwest"))]
#[doc = include_str!("../README.md")]
pub struct ReadmeExample;
