//! Where a request comes from, as a browser judges it for `SameSite` (the page that made it,
//! and whether it is a top-level navigation or a subresource), sites by the public suffix list,
//! and secure contexts.

use url::{Host, Url};

/// A page a request can start from: a host, over http or https.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Page {
    /// The page's host.
    pub host: &'static str,
    /// Served over https (a secure context; `https://a.test` and `http://a.test` are
    /// different sites, as Chrome's schemeful same-site has it).
    pub https: bool,
}

impl Page {
    /// A page served over plain http.
    pub const fn http(host: &'static str) -> Self {
        Self { host, https: false }
    }

    /// A page served over https.
    pub const fn https(host: &'static str) -> Self {
        Self { host, https: true }
    }

    /// The page's address (its root).
    pub fn url(self) -> Option<Url> {
        let scheme = if self.https { "https" } else { "http" };
        Url::parse(&format!("{scheme}://{}/", self.host)).ok()
    }
}

impl std::fmt::Display for Page {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.https {
            write!(f, "https://{}", self.host)
        } else {
            f.write_str(self.host)
        }
    }
}

/// Where a request comes from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum RequestFrom {
    /// Typed into the address bar (or a bookmark): a top-level navigation no site started, so
    /// every cookie goes.
    #[default]
    AddressBar,
    /// A link clicked (or a form submitted) on a page: a top-level navigation.
    Link(Page),
    /// An image (or script, or fetch, or iframe) on a page: a subresource.
    Embed(Page),
}

impl RequestFrom {
    /// A short label: "Address bar", "Link on other-site.test", "Image on app.lab.test".
    pub fn label(self) -> String {
        match self {
            Self::AddressBar => "Address bar".to_owned(),
            Self::Link(page) => format!("Link on {page}"),
            Self::Embed(page) => format!("Image on {page}"),
        }
    }

    /// The page the request starts from, if a page starts it.
    pub fn page(self) -> Option<Url> {
        match self {
            Self::AddressBar => None,
            Self::Link(page) | Self::Embed(page) => page.url(),
        }
    }

    /// A top-level navigation (the address bar or a link), not a subresource.
    pub fn is_navigation(self) -> bool {
        !matches!(self, Self::Embed(_))
    }

    /// Whether a request to `target` from here is cross-site: the page's site (scheme and
    /// registrable domain) differs from the target's.
    pub fn is_cross_site(self, target: &Url) -> bool {
        self.page().is_some_and(|page| site(&page) != site(target))
    }

    /// The top-level site a request to `target` is made under (what partitions `Partitioned`
    /// cookies): the target's own for a navigation, the page's for a subresource.
    pub fn top_level_site(self, target: &Url) -> String {
        match self {
            Self::Embed(page) => page.url().map_or_else(|| site(target), |url| site(&url)),
            Self::AddressBar | Self::Link(_) => site(target),
        }
    }

    /// The request in words: "a link on other-site.test".
    pub fn describe(self) -> String {
        match self {
            Self::AddressBar => "a visit typed into the address bar".to_owned(),
            Self::Link(page) => format!("a link on {page}"),
            Self::Embed(page) => format!("an image on {page}"),
        }
    }

    /// The request in words when it crossed sites: "a cross-site navigation (a link on
    /// other-site.test)".
    pub fn describe_cross_site(self) -> String {
        let kind = if self.is_navigation() {
            "navigation"
        } else {
            "subresource"
        };
        format!("a cross-site {kind} ({})", self.describe())
    }
}

/// A URL's site as browsers compare them for `SameSite`: the scheme and the registrable
/// domain, by the public suffix list (its private part too, as Chrome counts it for cookies:
/// `a.github.io` and `b.github.io` are two sites). A name under a suffix the list does not
/// know counts its last label as the suffix (`app.lab.test` and `api.lab.test` are one site,
/// `lab.test`). An IP address, a single-label host or a public suffix itself is its own site.
pub fn site(url: &Url) -> String {
    let host = match url.host() {
        Some(Host::Domain(domain)) => registrable_domain(domain).unwrap_or(domain).to_owned(),
        Some(other) => other.to_string(),
        None => String::new(),
    };
    format!("{}://{host}", url.scheme())
}

/// The registrable domain ("eTLD+1") of a host name by the public suffix list, or `None` when
/// it has none (a public suffix itself, a single label such as `localhost`).
pub fn registrable_domain(host: &str) -> Option<&str> {
    let found = psl::domain_str(host)?;
    // The list's answer keeps no trailing dot; hand back the host's own spelling of it.
    let start = host.trim_end_matches('.').len().checked_sub(found.len())?;
    host.get(start..)
}

/// Whether `domain` is a public suffix (`org`, `co.uk`, `github.io`): no site can set a cookie
/// for all of it.
pub fn is_public_suffix(domain: &str) -> bool {
    let trimmed = domain.trim_end_matches('.');
    !trimmed.is_empty() && psl::suffix_str(trimmed) == Some(trimmed)
}

/// A potentially trustworthy origin, as Chrome judges one for cookies: https, or http to this
/// machine (`localhost`, `*.localhost`, 127.0.0.0/8, `[::1]`).
pub fn is_secure_context(url: &Url) -> bool {
    url.scheme() == "https"
        || match url.host() {
            Some(Host::Domain(d)) => {
                let d = d.trim_end_matches('.');
                d.eq_ignore_ascii_case("localhost")
                    || d.to_ascii_lowercase().ends_with(".localhost")
            }
            Some(Host::Ipv4(ip)) => ip.is_loopback(),
            Some(Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        }
}

#[cfg(test)]
mod tests {
    use super::*;

    const APP_HOST: &str = "app.lab.test";
    const OTHER_SITE_HOST: &str = "other-site.test";

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap()
    }

    /// Subdomains of one registrable domain are one site; another domain, another scheme or
    /// an IP address is another.
    #[test]
    fn sites_are_scheme_and_registrable_domain() {
        assert_eq!(site(&url("http://app.lab.test/")), "http://lab.test");
        assert_eq!(site(&url("http://api.lab.test:8080/x")), "http://lab.test");
        assert_eq!(
            site(&url("http://other-site.test/")),
            "http://other-site.test"
        );
        assert_eq!(site(&url("http://127.0.0.1:3000/")), "http://127.0.0.1");
        assert_eq!(site(&url("http://localhost/")), "http://localhost");
        assert_ne!(
            site(&url("https://app.lab.test/")),
            site(&url("http://app.lab.test/"))
        );
    }

    /// A page on app.lab.test embedding api.lab.test is same-site; other-site.test is not;
    /// the address bar never is cross-site.
    #[test]
    fn cross_site_is_judged_by_the_page() {
        let api = url("http://api.lab.test/");
        let app = Page::http(APP_HOST);
        let other = Page::http(OTHER_SITE_HOST);
        assert!(!RequestFrom::Embed(app).is_cross_site(&api));
        assert!(RequestFrom::Embed(other).is_cross_site(&api));
        assert!(RequestFrom::Link(other).is_cross_site(&api));
        assert!(!RequestFrom::AddressBar.is_cross_site(&api));
        assert!(RequestFrom::Embed(app).is_cross_site(&url("http://127.0.0.1:3000/")));
        // Schemeful: an https page is another site than the same host over http.
        assert!(RequestFrom::Link(Page::https(APP_HOST)).is_cross_site(&api));
    }

    /// The public suffix list decides sites and suffixes, its private part included.
    #[test]
    fn sites_follow_the_public_suffix_list() {
        assert_eq!(
            site(&url("https://a.b.example.co.uk/")),
            "https://example.co.uk"
        );
        assert_eq!(site(&url("https://me.github.io/")), "https://me.github.io");
        assert_eq!(
            registrable_domain("home.example.org."),
            Some("example.org.")
        );
        assert_eq!(registrable_domain("org"), None);
        assert!(
            is_public_suffix("org") && is_public_suffix("co.uk") && is_public_suffix("github.io")
        );
        assert!(!is_public_suffix("example.org") && !is_public_suffix("lab.test"));
        assert!(is_secure_context(&url("http://127.0.0.2:80/")));
        assert!(is_secure_context(&url("http://x.localhost/")));
        assert!(!is_secure_context(&url("http://app.lab.test/")));
    }
}
