//! A browser's requests, as the lab sends them: a visit and what its page asks for next (its
//! images, a form its script submits, a link a lure clicks), which instance answered, the
//! jar afterwards as the state shows it.

use super::*;

/// One request a browser makes: typed, submitted, or asked for by a page.
#[derive(Clone, Debug)]
pub(super) struct Navigation {
    pub(super) url: String,
    /// The form a `POST` sends.
    pub(super) form: Option<String>,
    /// Where the request comes from; `None`: wherever the browser's own choice says.
    pub(super) from: Option<RequestFrom>,
    /// The cookies the request carries when they were read before it left (a burst's
    /// requests all carry the jar as it was at the burst's start); `None`: the jar's, as the
    /// request leaves.
    pub(super) cookies: Option<Arc<crate::browser::CookiesAtStart>>,
}

/// What a browser does after loading `page` (an HTML page of one of the lab's hosts): its
/// images, as subresources of the page; the first form, when a script submits it; and its
/// first link, when `click_first_link`.
pub(super) fn follow_ups(page: &Exchange, click_first_link: bool) -> Vec<Navigation> {
    let Ok(url) = url::Url::parse(&page.url) else {
        return Vec::new();
    };
    let html = page
        .header_values("content-type")
        .any(|value| value.to_ascii_lowercase().contains("text/html"));
    let Some(on) = crate::browser::lab_page(&url).filter(|_| html && page.status < 300) else {
        return Vec::new();
    };
    let parts = crate::browser::read_page(&page.body, &url);
    let mut next: Vec<Navigation> = parts
        .images
        .iter()
        .map(|image| Navigation {
            url: image.to_string(),
            form: None,
            from: Some(RequestFrom::Embed(on)),
            cookies: None,
        })
        .collect();
    if parts.submits_itself
        && let Some(form) = parts.forms.first()
    {
        next.push(Navigation {
            url: form.target().to_string(),
            form: form.post.then(|| form.encoded()),
            from: Some(RequestFrom::Link(on)),
            cookies: None,
        });
    }
    if click_first_link && let Some(link) = parts.links.first() {
        next.push(Navigation {
            url: link.to_string(),
            form: None,
            from: Some(RequestFrom::Link(on)),
            cookies: None,
        });
    }
    next
}

impl Core {
    pub(super) async fn visit(&self, id: BrowserId, url: String) {
        self.visit_carrying(id, url, None).await;
    }

    /// [`Core::visit`], carrying `cookies` read before it left, when given.
    pub(super) async fn visit_carrying(
        &self,
        id: BrowserId,
        url: String,
        cookies: Option<Arc<crate::browser::CookiesAtStart>>,
    ) {
        self.navigate(
            id,
            Navigation {
                url,
                form: None,
                from: None,
                cookies,
            },
            false,
        )
        .await;
    }

    /// Loads `first` in a browser, then does what its page asks of a browser — loads its
    /// images, submits the form its script submits — and, when `click_first_link`, follows its
    /// first link (a victim lured to the page). Only the first page's requests are followed up.
    pub(super) async fn navigate(&self, id: BrowserId, first: Navigation, click_first_link: bool) {
        let Some(slot) = self.slot(id) else {
            return;
        };
        self.outbox.send(BrowserEvent::VisitStarted {
            browser: id,
            url: first.url.clone(),
        });
        let mut queue = std::collections::VecDeque::from([first]);
        let mut following_up = false;
        while let Some(navigation) = queue.pop_front() {
            let options = crate::browser::VisitOptions {
                from: navigation.from.unwrap_or(slot.from),
                frame: None,
            };
            let url = if slot.spread && !following_up {
                let turn = slot.visits.fetch_add(1, Ordering::Relaxed);
                self.spread(&navigation.url, turn)
            } else {
                navigation.url
            };
            let result = match (&navigation.form, &navigation.cookies) {
                (Some(body), _) => slot.browser.submit(&url, body, options).await,
                (None, Some(cookies)) => slot.browser.visit_carrying(&url, options, cookies).await,
                (None, None) => slot.browser.visit(&url, options).await,
            };
            // The jar was updated as the responses arrived; say so first, so whoever sees the
            // finished visit also sees the cookies it set.
            self.send_cookies(id, &slot.browser);
            if !following_up {
                following_up = true;
                let next = result
                    .as_ref()
                    .ok()
                    .and_then(|exchanges| exchanges.last())
                    .map(|page| follow_ups(page, click_first_link))
                    .unwrap_or_default();
                for navigation in &next {
                    self.outbox.send(BrowserEvent::VisitStarted {
                        browser: id,
                        url: navigation.url.clone(),
                    });
                }
                queue.extend(next);
            }
            let hops = |exchanges: Vec<Exchange>| -> Vec<Hop> {
                exchanges
                    .into_iter()
                    .map(|exchange| Hop {
                        served: self.served_record(&exchange),
                        instance: self.instance_of(&exchange.url).map(|(n, _)| n),
                        exchange,
                    })
                    .collect()
            };
            match result {
                Ok(exchanges) => self.outbox.send(BrowserEvent::VisitFinished {
                    browser: id,
                    hops: hops(exchanges),
                }),
                Err(mut err) => self.outbox.send(BrowserEvent::VisitFailed {
                    browser: id,
                    url,
                    hops: hops(err.take_hops()),
                    error: Shared::new(err),
                }),
            }
            self.watch_after(&slot.browser);
        }
    }

    /// After a browser's requests, the watched store reads the sessions its cookies name at
    /// once (a listing of a big store may be seconds away).
    pub(super) fn watch_after(&self, browser: &Browser) {
        let Some(watch) = self.watch.lock().clone() else {
            return;
        };
        let Some(format) = watch.format() else {
            return;
        };
        let keys = browser
            .cookies()
            .into_iter()
            .filter_map(|cookie| format.id_from_cookie(&cookie.value))
            .collect();
        watch.look_at(keys);
    }

    pub(super) fn send_cookies(&self, id: BrowserId, browser: &Browser) {
        self.outbox.send(BrowserEvent::Cookies {
            browser: id,
            cookies: self.jar_cookies(browser),
        });
    }

    /// Which instance `url` points at, and its inspector.
    pub(super) fn instance_of(&self, url: &str) -> Option<(usize, Inspector)> {
        let url = url::Url::parse(url).ok()?;
        let instances = self.read_instances();
        // The lab's names lead to the first instance, or to the port given with them.
        if url.host_str().is_some_and(is_lab_host) {
            let first = instances.first()?.server.addr();
            let port = url.port().unwrap_or(first.port());
            return instances.iter().enumerate().find_map(|(n, instance)| {
                (instance.server.addr().port() == port)
                    .then(|| (n, instance.server.inspector().clone()))
            });
        }
        instances.iter().enumerate().find_map(|(n, instance)| {
            let addr = instance.server.addr();
            (url.host_str() == Some(&addr.ip().to_string())
                && url.port_or_known_default() == Some(addr.port()))
            .then(|| (n, instance.server.inspector().clone()))
        })
    }

    /// Whether `url` points at an embedded server instance.
    pub(super) fn is_ours(&self, url: &str) -> bool {
        self.instance_of(url).is_some()
    }

    /// `url` moved to instance `turn % instances` when it points at the first instance.
    pub(super) fn spread(&self, url: &str, turn: usize) -> String {
        let servers = self.servers();
        let (Some(first), Ok(mut parsed)) = (servers.first(), url::Url::parse(url)) else {
            return url.to_owned();
        };
        if parsed.port_or_known_default() != Some(first.addr().port()) || servers.len() < 2 {
            return url.to_owned();
        }
        let target = servers[turn % servers.len()].addr().port();
        if parsed.set_port(Some(target)).is_err() {
            return url.to_owned();
        }
        parsed.to_string()
    }

    /// The embedded server's record of an exchange, if the exchange went to an instance.
    pub(super) fn served_record(&self, exchange: &Exchange) -> Option<Arc<Served>> {
        let (_, inspector) = self.instance_of(&exchange.url)?;
        inspector.served_request(exchange.request_id()?)
    }

    /// A browser's cookies, each tagged with the embedded server's session it carries: any
    /// cookie the browser would send to the embedded server under one of its names (its
    /// address, `localhost`, the lab's names; http or https).
    pub(super) fn jar_cookies(&self, browser: &Browser) -> Vec<JarCookie> {
        let first = self.first();
        let names: Vec<String> = first
            .iter()
            .flat_map(|s| [s.addr().ip().to_string(), "localhost".to_owned()])
            .chain(LAB_HOSTS.iter().map(|h| (*h).to_owned()))
            .collect();
        let cookies = browser.cookies();
        // cookie-session signs into a `NAME.sig` cookie beside the data.
        let siblings: Vec<String> = cookies.iter().map(|c| c.name.clone()).collect();
        cookies
            .into_iter()
            .map(|cookie| {
                let session = match &first {
                    Some(server) if names.iter().any(|h| cookie.domain_matches(h)) => server
                        .inspector()
                        .session_of_cookie(&cookie.name, &cookie.value),
                    _ => None,
                };
                let readable = crate::audit::decode_cookie(&cookie.name, &cookie.value, &siblings)
                    .filter(|kind| kind.data.is_some());
                JarCookie {
                    cookie,
                    session,
                    readable,
                }
            })
            .collect()
    }
}
