//! The lab's names as the simulated browsers know them: resolved to the embedded server, pages
//! on them to start a request from, and the choices a browser panel offers.

use std::{net::SocketAddr, sync::Arc};

use url::Url;

use session_lab_base::hosts::{APP_HOST, OTHER_SITE_HOST, is_lab_host, lab_host};
use session_lab_jar::{Page, RequestFrom};

/// The choices a browser panel offers for where a request comes from, the address bar first.
pub const FROM_CHOICES: [RequestFrom; 4] = [
    RequestFrom::AddressBar,
    RequestFrom::Link(Page::http(OTHER_SITE_HOST)),
    RequestFrom::Embed(Page::http(OTHER_SITE_HOST)),
    RequestFrom::Embed(Page::http(APP_HOST)),
];

/// The page `url` is on, when its host is one of the lab's names.
pub fn lab_page(url: &Url) -> Option<Page> {
    let host = lab_host(url.host_str()?)?;
    Some(Page {
        host,
        https: url.scheme() == "https",
    })
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

    /// A lab name's page is found in any case and keeps its scheme; another host has none.
    #[test]
    fn pages_are_found_on_the_lab_names_only() {
        let page = lab_page(&Url::parse("https://APP.lab.test/x").unwrap()).unwrap();
        assert_eq!(page, Page::https(APP_HOST));
        assert_eq!(lab_page(&Url::parse("http://example.com/").unwrap()), None);
    }
}
