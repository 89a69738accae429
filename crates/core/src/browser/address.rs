//! Where the buttons beside a browser's address bar lead: the address typed, parsed once, and
//! the routes, hosts, scheme and proxy it can switch to. The panel only draws them.

use url::Url;

use super::{is_lab_host, parse_http_url};

/// An address bar's text with the server's and the proxy's addresses, parsed once; keep it
/// while [`Address::is_for`] holds and ask it where each button leads.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Address {
    text: String,
    server_text: Option<String>,
    proxy_text: Option<String>,
    url: Option<Url>,
    server: Option<Url>,
    proxy: Option<Url>,
}

impl Address {
    /// The address typed, the embedded server's base URL and the TLS proxy's, when they run.
    pub fn new(text: &str, server: Option<&str>, proxy: Option<&str>) -> Self {
        Self {
            text: text.to_owned(),
            server_text: server.map(str::to_owned),
            proxy_text: proxy.map(str::to_owned),
            url: parse_http_url(text).ok(),
            server: server.and_then(|s| Url::parse(s).ok()),
            proxy: proxy.and_then(|p| Url::parse(p).ok()),
        }
    }

    /// Whether this was made from these three (when not, make a new one).
    pub fn is_for(&self, text: &str, server: Option<&str>, proxy: Option<&str>) -> bool {
        self.text == text
            && self.server_text.as_deref() == server
            && self.proxy_text.as_deref() == proxy
    }

    /// The address, when it is an http(s) URL.
    pub fn url(&self) -> Option<&Url> {
        self.url.as_ref()
    }

    /// The host the address names.
    pub fn host(&self) -> Option<&str> {
        self.url.as_ref()?.host_str()
    }

    /// The embedded server's own host (`127.0.0.1`).
    pub fn server_host(&self) -> Option<&str> {
        self.server.as_ref()?.host_str()
    }

    /// The address's origin with `path` (and its query) instead.
    pub fn route(&self, path: &str) -> Option<String> {
        self.url.as_ref()?.join(path).ok().map(String::from)
    }

    /// The address under `host`: one of the lab's names, without a port (they lead to the
    /// embedded server), or any other host on the server's own port.
    pub fn with_host(&self, host: &str) -> Option<String> {
        let mut url = self.url.clone()?;
        if is_lab_host(host) {
            url.set_host(Some(host)).ok()?;
            url.set_port(None).ok()?;
        } else {
            let server = self.server.as_ref()?;
            url.set_host(Some(host)).ok()?;
            url.set_port(server.port()).ok()?;
        }
        Some(url.into())
    }

    /// Whether the address is https.
    pub fn is_https(&self) -> bool {
        self.url.as_ref().is_some_and(|u| u.scheme() == "https")
    }

    /// The same address over the other scheme (http ↔ https).
    pub fn other_scheme(&self) -> Option<String> {
        let mut url = self.url.clone()?;
        let other = if url.scheme() == "https" {
            "http"
        } else {
            "https"
        };
        url.set_scheme(other).ok()?;
        Some(url.into())
    }

    /// The address's path and query through the TLS proxy.
    pub fn via_proxy(&self) -> Option<String> {
        let (here, mut url) = (self.url.as_ref()?, self.proxy.clone()?);
        url.set_path(here.path());
        url.set_query(here.query());
        Some(url.into())
    }

    /// Whether the address already goes through the proxy.
    pub fn is_via_proxy(&self) -> bool {
        match (&self.url, &self.proxy) {
            (Some(here), Some(proxy)) => here.scheme() == "https" && here.port() == proxy.port(),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SERVER: Option<&str> = Some("http://127.0.0.1:3000/");
    const PROXY: Option<&str> = Some("https://app.lab.test:3443/");

    /// The route buttons keep the origin and take the path and query given.
    #[test]
    fn routes_keep_the_origin() {
        let address = Address::new("http://app.lab.test/account?x=1", SERVER, PROXY);
        assert_eq!(
            address.route("/login?user=alice").as_deref(),
            Some("http://app.lab.test/login?user=alice")
        );
        // Without a scheme the bar means http, as a browser's does.
        let bare = Address::new("127.0.0.1:3000", SERVER, PROXY);
        assert_eq!(bare.route("/").as_deref(), Some("http://127.0.0.1:3000/"));
        let typed = Address::new("ftp://x", SERVER, PROXY);
        assert_eq!(typed.route("/"), None);
        assert_eq!(typed.host(), None);
    }

    /// A lab name drops the port (the lab resolves it to the server); the server's own host
    /// takes the server's port.
    #[test]
    fn hosts_switch_with_the_right_port() {
        let address = Address::new("http://127.0.0.1:3000/whoami", SERVER, PROXY);
        assert_eq!(address.host(), Some("127.0.0.1"));
        assert_eq!(address.server_host(), Some("127.0.0.1"));
        assert_eq!(
            address.with_host("api.lab.test").as_deref(),
            Some("http://api.lab.test/whoami")
        );
        let on_name = Address::new("http://app.lab.test/whoami", SERVER, PROXY);
        assert_eq!(
            on_name.with_host("127.0.0.1").as_deref(),
            Some("http://127.0.0.1:3000/whoami")
        );
        assert_eq!(
            Address::new("http://app.lab.test/", None, None).with_host("127.0.0.1"),
            None
        );
    }

    /// The https button flips the scheme both ways; the proxy keeps path and query.
    #[test]
    fn scheme_and_proxy() {
        let plain = Address::new("http://app.lab.test/a?b=c", SERVER, PROXY);
        assert!(!plain.is_https());
        assert_eq!(
            plain.other_scheme().as_deref(),
            Some("https://app.lab.test/a?b=c")
        );
        let secure = Address::new("https://app.lab.test/a", SERVER, PROXY);
        assert!(secure.is_https());
        assert_eq!(
            secure.other_scheme().as_deref(),
            Some("http://app.lab.test/a")
        );
        assert_eq!(
            plain.via_proxy().as_deref(),
            Some("https://app.lab.test:3443/a?b=c")
        );
        assert!(!plain.is_via_proxy());
        assert!(Address::new("https://app.lab.test:3443/a", SERVER, PROXY).is_via_proxy());
        assert_eq!(
            Address::new("http://x.test/", SERVER, None).via_proxy(),
            None
        );
    }

    /// It is remade only when one of its three inputs changes.
    #[test]
    fn it_knows_what_it_was_made_from() {
        let address = Address::new("http://a.test/", SERVER, None);
        assert!(address.is_for("http://a.test/", SERVER, None));
        assert!(!address.is_for("http://a.test/x", SERVER, None));
        assert!(!address.is_for("http://a.test/", SERVER, PROXY));
    }
}
