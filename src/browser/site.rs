//! Where a request comes from, as a browser judges it for `SameSite` (the page that made it,
//! and whether it is a top-level navigation or a subresource), and the lab's own host names,
//! which the simulated browsers resolve to the embedded server.

use std::{net::SocketAddr, sync::Arc};

use url::{Host, Url};

/// The app's host: plain http, not a secure context, so `Secure` cookies are refused here.
pub const APP_HOST: &str = "app.lab.test";
/// A sibling subdomain of the app: a `Domain=lab.test` cookie reaches it, a host-only one not.
pub const API_HOST: &str = "api.lab.test";
/// Another site altogether, for cross-site requests.
pub const OTHER_SITE_HOST: &str = "other-site.test";

/// The names the simulated browsers resolve to the embedded server (the `.test` top-level
/// domain is reserved, so they can never mean a real host). Nothing else on the machine knows
/// them.
pub const LAB_HOSTS: [&str; 3] = [APP_HOST, API_HOST, OTHER_SITE_HOST];

/// Whether `host` is one of the lab's names.
pub fn is_lab_host(host: &str) -> bool {
    LAB_HOSTS.iter().any(|h| h.eq_ignore_ascii_case(host))
}

/// Where a request comes from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum RequestFrom {
    /// Typed into the address bar (or a bookmark): a top-level navigation no site started, so
    /// every cookie goes.
    #[default]
    AddressBar,
    /// A link clicked on a page of this host: a top-level navigation.
    Link(&'static str),
    /// An image (or script, or fetch) on a page of this host: a subresource.
    Embed(&'static str),
}

impl RequestFrom {
    /// The choices a browser panel offers, the address bar first.
    pub const CHOICES: [Self; 4] = [
        Self::AddressBar,
        Self::Link(OTHER_SITE_HOST),
        Self::Embed(OTHER_SITE_HOST),
        Self::Embed(APP_HOST),
    ];

    /// A short label: "Address bar", "Link on other-site.test", "Image on app.lab.test".
    pub fn label(self) -> String {
        match self {
            Self::AddressBar => "Address bar".to_owned(),
            Self::Link(host) => format!("Link on {host}"),
            Self::Embed(host) => format!("Image on {host}"),
        }
    }

    /// The page the request starts from, if a page starts it.
    pub fn page(self) -> Option<Url> {
        match self {
            Self::AddressBar => None,
            Self::Link(host) | Self::Embed(host) => Url::parse(&format!("http://{host}/")).ok(),
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

    /// The request in words: "a link on other-site.test".
    pub fn describe(self) -> String {
        match self {
            Self::AddressBar => "a visit typed into the address bar".to_owned(),
            Self::Link(host) => format!("a link on {host}"),
            Self::Embed(host) => format!("an image on {host}"),
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
/// domain. The registrable domain is taken as the last two labels (`app.lab.test` and
/// `api.lab.test` are one site, `lab.test`); no public suffix list is consulted, so hosts
/// under suffixes like `co.uk` are judged more loosely than a browser would. An IP address or a
/// single-label host is its own site.
pub fn site(url: &Url) -> String {
    let host = match url.host() {
        Some(Host::Domain(domain)) => {
            let labels: Vec<&str> = domain.trim_end_matches('.').rsplitn(3, '.').collect();
            match labels.as_slice() {
                [tld, name, ..] => format!("{name}.{tld}"),
                _ => domain.to_owned(),
            }
        }
        Some(other) => other.to_string(),
        None => String::new(),
    };
    format!("{}://{host}", url.scheme())
}

/// Where the lab's names point: asked at every connection, so a server that restarts on
/// another port is found there.
pub type LabTarget = Arc<dyn Fn() -> Option<SocketAddr> + Send + Sync>;

/// Resolves the lab's names to the embedded server, and every other name as the system does.
pub(super) struct LabResolver {
    pub(super) target: LabTarget,
}

impl reqwest::dns::Resolve for LabResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        if is_lab_host(&host) {
            let target = (self.target)();
            return Box::pin(async move {
                let addr = target.ok_or_else(|| {
                    format!(
                        "{host} is the lab's name for the embedded server, which is not running"
                    )
                })?;
                let addrs: reqwest::dns::Addrs = Box::new(std::iter::once(addr));
                Ok(addrs)
            });
        }
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let addrs: reqwest::dns::Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(!RequestFrom::Embed(APP_HOST).is_cross_site(&api));
        assert!(RequestFrom::Embed(OTHER_SITE_HOST).is_cross_site(&api));
        assert!(RequestFrom::Link(OTHER_SITE_HOST).is_cross_site(&api));
        assert!(!RequestFrom::AddressBar.is_cross_site(&api));
        assert!(RequestFrom::Embed(APP_HOST).is_cross_site(&url("http://127.0.0.1:3000/")));
    }
}
