//! The lab's own host names, which the simulated browsers resolve to the embedded server and
//! the server answers as the app, its sibling and another site. They live at the bottom so the
//! server (which serves them) and the browsers (which resolve them) read one list.

/// The app's host: plain http, not a secure context, so `Secure` cookies are refused here.
pub const APP_HOST: &str = "app.lab.test";
/// A sibling subdomain of the app: a `Domain=lab.test` cookie reaches it, a host-only one not.
pub const API_HOST: &str = "api.lab.test";
/// Another site altogether, for cross-site requests.
pub const OTHER_SITE_HOST: &str = "other-site.test";
/// A sibling subdomain whose pages anyone may write (as user-content hosts once were): same
/// site as the app, so a `Domain=lab.test` cookie set here reaches the app (cookie tossing).
pub const SANDBOX_HOST: &str = "sandbox.lab.test";

/// The names the simulated browsers resolve to the embedded server (the `.test` top-level
/// domain is reserved, so they can never mean a real host). Nothing else on the machine knows
/// them.
pub const LAB_HOSTS: [&str; 4] = [APP_HOST, API_HOST, OTHER_SITE_HOST, SANDBOX_HOST];

/// Whether `host` is one of the lab's names.
pub fn is_lab_host(host: &str) -> bool {
    LAB_HOSTS.iter().any(|h| h.eq_ignore_ascii_case(host))
}

/// The lab's spelling of `host` when it is one of the lab's names (a `'static` name, as a
/// page's host is kept).
pub fn lab_host(host: &str) -> Option<&'static str> {
    LAB_HOSTS
        .iter()
        .find(|h| h.eq_ignore_ascii_case(host))
        .copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lab's names are found whatever their case, and nothing else is one.
    #[test]
    fn lab_hosts_are_found_in_any_case() {
        assert!(is_lab_host("APP.lab.test"));
        assert_eq!(lab_host("Other-Site.TEST"), Some(OTHER_SITE_HOST));
        assert!(!is_lab_host("lab.test"));
        assert_eq!(lab_host("example.com"), None);
    }
}
