//! One simulated browser's panel: address bar, Visit and the session routes, switches, the
//! response (with the cookies that stayed home), and its cookie jar with per-cookie actions.

use egui::{Color32, RichText};
use egui_extras::{Column, TableBuilder};
use time::{OffsetDateTime, UtcOffset};

use crate::{
    browser::{CookieKey, RequestFrom},
    lab::{
        BrowserId, BrowserState, Command, ExchangeRecord, JarCookie, MAX_BURST,
        text::{clock_time, short, short_cookie_header, short_to, time_left},
    },
    server::ServerSettings,
};

use super::{UiCommand, theme};

/// The width of one browser panel: wide enough for the address bar and a readable table.
pub const PANEL_WIDTH: f32 = 540.0;

/// The session routes of the embedded server, as buttons: (label, path, what it teaches).
const ROUTES: [(&str, &str, &str); 6] = [
    ("Home", "/", "GET / — the counter: views + 1"),
    (
        "Login",
        "/login",
        "GET /login?user=NAME — stores the user and regenerates the session id (the session-fixation defence)",
    ),
    (
        "Logout",
        "/logout",
        "GET /logout — deletes the session from the store and clears the cookie",
    ),
    (
        "Account",
        "/account",
        "GET /account — the logged-in user's e-mail and the form that changes it (POST /account/email), and Log out my other sessions; log in with a password at /login (no ?user=)",
    ),
    (
        "Regenerate",
        "/regenerate",
        "GET /regenerate — same data, new session id",
    ),
    (
        "Whoami",
        "/whoami",
        "GET /whoami — the session's id and data as JSON",
    ),
];

/// What the user is typing in a browser's panel (kept by the app between frames).
#[derive(Clone, Debug)]
pub struct BrowserDraft {
    /// The address field.
    pub url: String,
    /// The new name while renaming.
    pub rename: Option<String>,
    /// The cookie being edited and its new value.
    pub edit: Option<(CookieKey, String)>,
    /// How many parallel visits a burst sends.
    pub burst: usize,
    /// The import being prepared, while the Import area is open.
    pub import: Option<super::transfer_ui::ImportDraft>,
    /// What the last export or copy did, to tell the user.
    pub notice: Option<String>,
    /// The forms on the page shown, with what the user typed in them.
    pub forms: Option<FormsDraft>,
}

/// The forms of one page, as the user fills them in.
#[derive(Clone, Debug)]
pub struct FormsDraft {
    /// Which page (its address and when it was requested).
    page: (String, OffsetDateTime),
    /// The page's forms, with the values typed.
    forms: Vec<crate::browser::PageForm>,
}

impl BrowserDraft {
    /// A fresh draft with the address field set to `url`.
    pub fn new(url: String) -> Self {
        Self {
            url,
            rename: None,
            edit: None,
            burst: 20,
            import: None,
            notice: None,
            forms: None,
        }
    }
}

/// The other browsers, for "copy cookie to …": (id, name).
pub type Peers<'a> = &'a [(BrowserId, String)];

/// How many of its latest exchanges a browser panel lists.
pub const HISTORY_SHOWN: usize = 50;

/// What a browser panel shows besides the browser itself.
pub struct PanelContext<'a> {
    /// The embedded server's settings (for the burst's safe/naive switch), if it runs.
    pub server: Option<&'a ServerSettings>,
    /// The other browsers, for "copy cookie to …".
    pub peers: Peers<'a>,
    /// This browser's latest exchanges, newest first.
    pub history: &'a [&'a ExchangeRecord],
    /// Now, for countdowns.
    pub now: OffsetDateTime,
    /// The local time zone, for clock times.
    pub offset: UtcOffset,
    /// How many server instances run.
    pub instances: usize,
    /// The embedded server's address, if it runs (the host buttons' 127.0.0.1).
    pub server_url: Option<&'a str>,
    /// The TLS-terminating proxy in front of it, if it listens.
    pub proxy_url: Option<&'a str>,
}

/// Draws one browser; returns what the user asked for.
pub fn browser_ui(
    ui: &mut egui::Ui,
    browser: &BrowserState,
    draft: &mut BrowserDraft,
    context: &PanelContext<'_>,
) -> Vec<UiCommand> {
    let PanelContext {
        server,
        history,
        offset,
        instances,
        ..
    } = *context;
    let mut commands = Vec::new();
    let colour = theme::browser_colour(browser.colour);
    egui::Frame::group(ui.style())
        .stroke(egui::Stroke::new(2.0, colour))
        .corner_radius(8)
        .inner_margin(10)
        .show(ui, |ui| {
            ui.vertical(|ui| {
                ui.set_width(PANEL_WIDTH);
                title_ui(ui, browser, draft, colour, &mut commands);
                ui.add_space(4.0);
                address_ui(ui, browser, draft, &mut commands);
                routes_ui(ui, browser, draft, &mut commands);
                sites_ui(
                    ui,
                    browser,
                    draft,
                    (context.server_url, context.proxy_url),
                    &mut commands,
                );
                switches_ui(ui, browser, draft, (server, instances), &mut commands);
                burst_outcome_ui(ui, browser);
                ui.separator();
                let answered_by = history.first().and_then(|r| r.instance);
                response_ui(ui, browser, answered_by.filter(|_| instances > 1));
                forms_ui(ui, browser, draft, &mut commands);
                ui.separator();
                jar_ui(ui, browser, draft, context, &mut commands);
                history_ui(ui, browser, draft, context, offset);
            });
        });
    commands
}

fn lab(command: Command) -> UiCommand {
    UiCommand::Lab(command)
}

fn title_ui(
    ui: &mut egui::Ui,
    browser: &BrowserState,
    draft: &mut BrowserDraft,
    colour: Color32,
    commands: &mut Vec<UiCommand>,
) {
    let name = &browser.name;
    ui.horizontal(|ui| {
        theme::dot(ui, colour);
        if let Some(new_name) = &mut draft.rename {
            let field = ui
                .add(egui::TextEdit::singleline(new_name).desired_width(120.0).char_limit(24))
                .accessible_name(format!("New name for browser {name}"));
            let entered = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            if ui
                .button("Save")
                .accessible_name(format!("Save name of browser {name}"))
                .clicked()
                || entered
            {
                commands.push(lab(Command::RenameBrowser(browser.id, new_name.clone())));
                draft.rename = None;
            } else if ui
                .button("Cancel")
                .accessible_name(format!("Cancel renaming browser {name}"))
                .clicked()
            {
                draft.rename = None;
            }
        } else {
            ui.label(RichText::new(browser.title()).strong().color(colour).size(16.0));
            if browser.in_flight > 0 {
                ui.spinner()
                    .on_hover_text(format!("{} request(s) in flight", browser.in_flight));
            }
        }
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            if ui
                .small_button("Remove")
                .accessible_name(format!("Remove browser {name}"))
                .on_hover_text("Remove this browser and its cookie jar")
                .clicked()
            {
                commands.push(lab(Command::RemoveBrowser(browser.id)));
            }
            let restart_help = if browser.private {
                "Close and reopen: a private browser forgets every cookie"
            } else {
                "Close and reopen: session cookies (no expiry) are dropped, cookies with an expiry survive"
            };
            if ui
                .small_button("Restart")
                .accessible_name(format!("Restart browser {name}"))
                .on_hover_text(restart_help)
                .clicked()
            {
                commands.push(lab(Command::RestartBrowser(browser.id)));
            }
            if draft.rename.is_none()
                && ui
                    .small_button("Rename")
                    .accessible_name(format!("Rename browser {name}"))
                    .clicked()
            {
                draft.rename = Some(name.clone());
            }
        });
    });
}

fn address_ui(
    ui: &mut egui::Ui,
    browser: &BrowserState,
    draft: &mut BrowserDraft,
    commands: &mut Vec<UiCommand>,
) {
    let name = &browser.name;
    ui.horizontal(|ui| {
        let visit_width = 64.0;
        let field = ui
            .add(
                egui::TextEdit::singleline(&mut draft.url)
                    .font(egui::TextStyle::Monospace)
                    .desired_width(ui.available_width() - visit_width - ui.spacing().item_spacing.x)
                    .hint_text("http://127.0.0.1:3000/"),
            )
            .accessible_name(format!("Address of browser {name}"));
        let entered = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
        let clicked = ui
            .add_sized(
                [visit_width, field.rect.height()],
                egui::Button::new("Visit"),
            )
            .accessible_name(format!("Visit {name}"))
            .on_hover_text(
                "GET this address with this browser's cookies (any http:// or https:// URL)",
            )
            .clicked();
        if clicked || entered {
            commands.push(lab(Command::Visit {
                browser: browser.id,
                url: draft.url.clone(),
            }));
        }
    });
}

/// The address's origin with `path` instead, for the route buttons.
fn route_url(address: &str, path: &str) -> Option<String> {
    let base = crate::browser::parse_http_url(address).ok()?;
    base.join(path).ok().map(|u| u.to_string())
}

fn routes_ui(
    ui: &mut egui::Ui,
    browser: &BrowserState,
    draft: &mut BrowserDraft,
    commands: &mut Vec<UiCommand>,
) {
    ui.horizontal_wrapped(|ui| {
        ui.label(RichText::new("Go to").weak());
        for (label, path, help) in ROUTES {
            let path = if path == "/login" {
                format!("/login?user={}", url_word(&browser.name))
            } else {
                path.to_owned()
            };
            let target = route_url(&draft.url, &path);
            if ui
                .add_enabled(target.is_some(), egui::Button::new(label).small())
                .accessible_name(format!("{label} {}", browser.name))
                .on_hover_text(help)
                .on_disabled_hover_text("Type an http:// address first")
                .clicked()
                && let Some(url) = target
            {
                visit_from_button(browser, draft, url, commands);
            }
        }
    });
}

/// `address` with its host changed to `host` (the lab's names without a port: they lead to
/// the embedded server), or to the server's own address.
fn with_host(address: &str, host: &str, server_url: Option<&str>) -> Option<String> {
    let mut url = crate::browser::parse_http_url(address).ok()?;
    if crate::browser::is_lab_host(host) {
        url.set_host(Some(host)).ok()?;
        url.set_port(None).ok()?;
    } else {
        let server = url::Url::parse(server_url?).ok()?;
        url.set_host(server.host_str()).ok()?;
        url.set_port(server.port()).ok()?;
    }
    Some(url.to_string())
}

/// The host buttons (the embedded server under its own address and under the lab's names) and
/// where requests come from: each origin lesson is one click.
fn sites_ui(
    ui: &mut egui::Ui,
    browser: &BrowserState,
    draft: &mut BrowserDraft,
    (server_url, proxy_url): (Option<&str>, Option<&str>),
    commands: &mut Vec<UiCommand>,
) {
    let name = &browser.name;
    let current_host = crate::browser::parse_http_url(&draft.url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned));
    let server_host = server_url
        .and_then(|u| url::Url::parse(u).ok())
        .and_then(|u| u.host_str().map(str::to_owned));
    ui.horizontal_wrapped(|ui| {
        ui.label(RichText::new("Host").weak())
            .on_hover_text("The same embedded server under other names: the simulated browsers resolve *.lab.test to it (and other-site.test, where it serves the attacker's page of the Other site tab)");
        let hosts = [
            (
                server_host.clone().unwrap_or_else(|| "127.0.0.1".to_owned()),
                "The server's own address: loopback is a secure context, so Secure cookies work over http",
            ),
            (
                crate::browser::APP_HOST.to_owned(),
                "The app under a real name: plain http there is not a secure context, so a Secure cookie is refused",
            ),
            (
                crate::browser::API_HOST.to_owned(),
                "A sibling subdomain: a Domain=lab.test cookie reaches it, a host-only one does not",
            ),
        ];
        for (host, help) in hosts {
            let target = with_host(&draft.url, &host, server_url);
            let selected = current_host.as_deref() == Some(host.as_str());
            if ui
                .add_enabled(
                    target.is_some(),
                    egui::Button::selectable(selected, host.as_str()),
                )
                .accessible_name(format!("Host {host} {name}"))
                .on_hover_text(format!("{help}. Click to visit."))
                .on_disabled_hover_text("Type an http:// address first")
                .clicked()
                && let Some(url) = target
            {
                visit_from_button(browser, draft, url, commands);
            }
        }
        let https = draft.url.trim_start().starts_with("https://");
        let target = crate::browser::parse_http_url(&draft.url).ok().and_then(|mut url| {
            url.set_scheme(if https { "http" } else { "https" }).ok()?;
            Some(url.to_string())
        });
        if ui
            .add_enabled(target.is_some(), egui::Button::selectable(https, "https"))
            .accessible_name(format!("https {name}"))
            .on_hover_text(
                "The same address over https (the embedded server answers both on one port, with \
                 a certificate only these browsers trust): a secure context, so Secure cookies are \
                 kept — and then withheld from plain http. Click to switch and visit.",
            )
            .clicked()
            && let Some(url) = target
        {
            visit_from_button(browser, draft, url, commands);
        }
        // The same path through the lab's TLS-terminating proxy.
        let proxied = proxy_url.and_then(|proxy| {
            let path = crate::browser::parse_http_url(&draft.url).ok()?;
            let mut url = url::Url::parse(proxy).ok()?;
            url.set_path(path.path());
            url.set_query(path.query());
            Some(url)
        });
        let via_proxy = proxy_url
            .and_then(|p| url::Url::parse(p).ok())
            .zip(crate::browser::parse_http_url(&draft.url).ok())
            .is_some_and(|(proxy, here)| proxy.port() == here.port() && here.scheme() == "https");
        if ui
            .add_enabled(proxied.is_some(), egui::Button::selectable(via_proxy, "proxy"))
            .accessible_name(format!("Proxy {name}"))
            .on_hover_text(
                "The same path through the lab's TLS-terminating proxy: https to this browser, \
                 plain http to the server with X-Forwarded-Proto: https (Server settings: Secure \
                 cookie on…). Click to visit.",
            )
            .clicked()
            && let Some(url) = proxied
        {
            visit_from_button(browser, draft, url.to_string(), commands);
        }
    });
    from_ui(ui, browser, commands);
}

/// Where the browser's requests start: its own row, so the label never parts from its choice
/// when the host row wraps.
fn from_ui(ui: &mut egui::Ui, browser: &BrowserState, commands: &mut Vec<UiCommand>) {
    let name = &browser.name;
    ui.horizontal(|ui| {
        ui.label(RichText::new("From").weak());
        let mut from = browser.from;
        egui::ComboBox::from_id_salt(("from", browser.id))
            .selected_text(from.label())
            .show_ui(ui, |ui| {
                for choice in crate::browser::FROM_CHOICES {
                    ui.selectable_value(&mut from, choice, choice.label())
                        .on_hover_text(from_help(choice));
                }
            })
            .response
            .accessible_name(format!("Request from {name}"))
            .on_hover_text(
                "Where the request starts: typed in the address bar, a link on another site \
                 (Lax cookies go, Strict ones stay), or an image on a page (another site's \
                 gets only SameSite=None cookies)",
            );
        if from != browser.from {
            commands.push(lab(Command::SetRequestFrom {
                browser: browser.id,
                from,
            }));
        }
    });
}

fn from_help(from: RequestFrom) -> &'static str {
    match from {
        RequestFrom::AddressBar => "Typed in the address bar: every cookie for the address goes",
        RequestFrom::Link(_) => {
            "A link on another site: a top-level navigation, so Lax cookies go and Strict ones stay"
        }
        RequestFrom::Embed(crate::browser::Page {
            host: crate::browser::APP_HOST,
            ..
        }) => {
            "An image on app.lab.test: same-site with api.lab.test (everything goes), cross-site with 127.0.0.1"
        }
        RequestFrom::Embed(_) => {
            "An image on another site's page: only SameSite=None (and so Secure) cookies go"
        }
    }
}

/// A browser name as it may stand in a query string.
fn url_word(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect::<String>()
        .to_lowercase()
}

fn switches_ui(
    ui: &mut egui::Ui,
    browser: &BrowserState,
    draft: &mut BrowserDraft,
    (server, context_instances): (Option<&ServerSettings>, usize),
    commands: &mut Vec<UiCommand>,
) {
    let name = &browser.name;
    ui.horizontal(|ui| {
        if let Some(enabled) = switch_ui(
            ui,
            browser.cookies_enabled,
            "Cookies",
            format!("Cookies on {name}"),
            "Off: this browser neither sends nor stores cookies, so every visit is a new session",
        ) {
            commands.push(lab(Command::SetCookiesEnabled {
                browser: browser.id,
                enabled,
            }));
        }
        ui.separator();
        ui.add(egui::DragValue::new(&mut draft.burst).range(2..=MAX_BURST).suffix(" at once"))
            .accessible_name(format!("Burst size {name}"))
            .on_hover_text("How many parallel visits a burst sends");
        if ui
            .button("Burst")
            .accessible_name(format!("Burst {name}"))
            .on_hover_text("Send that many visits at once with this browser's cookie: do all the increments count?")
            .clicked()
        {
            commands.push(lab(Command::Burst {
                browser: browser.id,
                url: draft.url.clone(),
                count: draft.burst,
            }));
        }
        if context_instances > 1
            && let Some(spread) = switch_ui(
                ui,
                browser.spread,
                "Spread",
                format!("Spread {name}"),
                "Send each visit to the next server instance in turn (round-robin)",
            )
        {
            commands.push(lab(Command::SetSpread {
                browser: browser.id,
                spread,
            }));
        }
        if let Some(config) = server
            && let Some(safe) = switch_ui(
                ui,
                config.lock_per_session,
                "Safe server",
                format!("Safe server {name}"),
                "On: the server runs one request at a time per session, so a burst counts \
                 every visit. Off: the naive server (like express-session) loses increments \
                 when requests of one session overlap. Applies to the whole server. A session \
                 kept in the cookie has nothing on the server to lock: a burst loses all but \
                 one increment either way.",
            )
        {
            let mut settings = config.clone();
            settings.lock_per_session = safe;
            commands.push(lab(Command::ApplySettings(settings)));
        }
    });
}

/// What the browser's last burst did to its counter, in a line (lost increments in amber).
fn burst_outcome_ui(ui: &mut egui::Ui, browser: &BrowserState) {
    let Some(outcome) = &browser.last_burst else {
        return;
    };
    let dark = ui.visuals().dark_mode;
    let text = crate::lab::text::burst_line(outcome);
    let label = if outcome.lost().unwrap_or(0) > 0 {
        ui.colored_label(theme::warn(dark), text)
    } else {
        ui.label(RichText::new(text).weak())
    };
    label.on_hover_text(crate::lab::text::burst_text(outcome));
}

/// A checkbox for one of the browser's switches; returns the new value when it was flipped.
fn switch_ui(
    ui: &mut egui::Ui,
    value: bool,
    label: &str,
    accessible: String,
    help: &str,
) -> Option<bool> {
    let mut value = value;
    ui.checkbox(&mut value, label)
        .accessible_name(accessible)
        .on_hover_text(help)
        .changed()
        .then_some(value)
}

fn response_ui(ui: &mut egui::Ui, browser: &BrowserState, instance: Option<usize>) {
    let dark = ui.visuals().dark_mode;
    if let Some(error) = &browser.last_error {
        ui.colored_label(theme::bad(dark), error.words());
        ui.label(
            RichText::new("Check the address, or that a server runs there, and Visit again.")
                .weak()
                .small(),
        );
        return;
    }
    let Some(exchange) = &browser.last else {
        ui.label(RichText::new("Not visited yet — click Visit").weak());
        return;
    };
    let status_colour = match exchange.status {
        200..=399 => theme::good(dark),
        400..=499 => theme::warn(dark),
        _ => theme::bad(dark),
    };
    ui.horizontal(|ui| {
        ui.colored_label(
            status_colour,
            RichText::new(format!("{} {}", exchange.status, exchange.reason)).strong(),
        );
        ui.label(
            RichText::new(format!(
                "· {:.1} ms · {} {}",
                exchange.latency.as_secs_f64() * 1000.0,
                exchange.method,
                exchange.url
            ))
            .weak(),
        );
        if let Some(instance) = instance {
            ui.label(RichText::new(format!("· instance {}", instance + 1)).weak())
                .on_hover_text("Which server instance answered");
        }
    });
    egui::ScrollArea::vertical()
        .id_salt(("body", browser.id))
        .max_height(64.0)
        .auto_shrink([false, true])
        .show(ui, |ui| {
            let body = if exchange.body.is_empty() {
                RichText::new("(empty body)").weak()
            } else {
                RichText::new(&exchange.body)
                    .monospace()
                    .size(16.0)
                    .color(ui.visuals().strong_text_color())
            };
            ui.label(body);
        });
    let sent = exchange.cookie_header.as_deref().map_or_else(
        || "no Cookie header".to_owned(),
        |h| format!("Cookie: {}", short_cookie_header(h)),
    );
    ui.label(RichText::new(format!("Sent {sent}")).monospace().small())
        .on_hover_text(exchange.cookie_header.clone().unwrap_or_default());
    for held in &exchange.not_sent {
        ui.colored_label(
            theme::warn(dark),
            RichText::new(format!("Not sent: {} — {}", held.key.name, held.reason)).small(),
        )
        .on_hover_text(format!(
            "Cookie “{}” for {}{} stayed in the jar",
            held.key.name, held.key.domain, held.key.path
        ));
    }
    for refused in &exchange.blocked {
        ui.colored_label(
            theme::warn(dark),
            RichText::new(format!(
                "Set-Cookie refused: {} — {}",
                refused.name, refused.reason
            ))
            .small(),
        )
        .on_hover_text("The browser did not store this cookie, so the next visit will not send it");
    }
}

/// The forms on the page shown (the login form, the account's), to fill in and submit.
fn forms_ui(
    ui: &mut egui::Ui,
    browser: &BrowserState,
    draft: &mut BrowserDraft,
    commands: &mut Vec<UiCommand>,
) {
    let Some(page) = browser
        .last
        .as_ref()
        .filter(|_| browser.last_error.is_none())
    else {
        draft.forms = None;
        return;
    };
    let key = (page.url.clone(), page.sent_at);
    if draft.forms.as_ref().is_none_or(|f| f.page != key) {
        let forms = if page.body.contains("<form") {
            url::Url::parse(&page.url)
                .map(|url| crate::browser::read_page(&page.body, &url).forms)
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        draft.forms = Some(FormsDraft { page: key, forms });
    }
    let Some(forms) = draft.forms.as_mut() else {
        return;
    };
    for form in &mut forms.forms {
        ui.horizontal_wrapped(|ui| {
            let method = if form.post { "POST" } else { "GET" };
            ui.label(RichText::new(format!("Form → {method} {}", form.action.path())).weak());
            for (name, value) in &mut form.fields {
                ui.label(RichText::new(name.as_str()).small());
                ui.add(egui::TextEdit::singleline(value).desired_width(90.0))
                    .accessible_name(format!("{} form field {name}", browser.name));
            }
            if ui
                .button("Submit")
                .accessible_name(format!("Submit {}", browser.name))
                .on_hover_text(format!("{method} this form from {}", browser.name))
                .clicked()
            {
                let command = if form.post {
                    Command::Submit {
                        browser: browser.id,
                        url: form.action.to_string(),
                        form: form.encoded(),
                    }
                } else {
                    Command::Visit {
                        browser: browser.id,
                        url: form.target().to_string(),
                    }
                };
                commands.push(lab(command));
            }
        });
    }
}

/// A button that visits `url`: the address field shows it, and the lab visits it.
fn visit_from_button(
    browser: &BrowserState,
    draft: &mut BrowserDraft,
    url: String,
    commands: &mut Vec<UiCommand>,
) {
    draft.url.clone_from(&url);
    commands.push(lab(Command::Visit {
        browser: browser.id,
        url,
    }));
}

/// The browser's latest exchanges, newest first; hover one for its headers and body, click
/// *curl* for the command that sends it again.
fn history_ui(
    ui: &mut egui::Ui,
    browser: &BrowserState,
    draft: &mut BrowserDraft,
    context: &PanelContext<'_>,
    offset: UtcOffset,
) {
    let history = context.history;
    egui::CollapsingHeader::new(format!("History ({})", history.len()))
        .id_salt(("history", browser.id))
        .show(ui, |ui| {
            if history.is_empty() {
                ui.label(RichText::new("No requests yet.").weak());
            }
            for record in history {
                let exchange = &record.exchange;
                let line = format!(
                    "{}  {} {}  → {}  {:.1} ms",
                    clock_time(exchange.sent_at, offset),
                    exchange.method,
                    exchange.path(),
                    exchange.status,
                    exchange.latency.as_secs_f64() * 1000.0
                );
                ui.horizontal(|ui| {
                    if ui
                        .small_button("curl")
                        .accessible_name(format!(
                            "Copy as curl {} {}",
                            exchange.method,
                            exchange.path()
                        ))
                        .on_hover_text(
                            "Copy as curl: the command that sends this request again — method, \
                             URL, Cookie header and user agent as sent",
                        )
                        .clicked()
                    {
                        ui.ctx()
                            .copy_text(crate::transfer::curl_command(exchange, context.server_url));
                        draft.notice = Some(format!(
                            "Copied the curl command for {} {}",
                            exchange.method,
                            exchange.path()
                        ));
                    }
                    ui.add(egui::Label::new(RichText::new(line).monospace().size(11.0)).truncate())
                        .on_hover_ui(|ui| super::timeline_panel::details_ui(ui, record));
                });
            }
        });
}

fn jar_ui(
    ui: &mut egui::Ui,
    browser: &BrowserState,
    draft: &mut BrowserDraft,
    context: &PanelContext<'_>,
    commands: &mut Vec<UiCommand>,
) {
    let dark = ui.visuals().dark_mode;
    ui.horizontal(|ui| {
        ui.label(RichText::new(format!("Cookies ({})", browser.cookies.len())).strong())
            .on_hover_text("What this browser's cookie jar holds, for every site it visited");
        if !browser.cookies_enabled {
            ui.colored_label(theme::warn(dark), "cookies off");
        }
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            if ui
                .add_enabled(
                    !browser.cookies.is_empty(),
                    egui::Button::new("Clear").small(),
                )
                .accessible_name(format!("Clear cookies {}", browser.name))
                .on_hover_text("Empty the jar: the next visit arrives without a session cookie")
                .clicked()
            {
                commands.push(lab(Command::ClearCookies(browser.id)));
            }
            if ui
                .selectable_label(draft.import.is_some(), "Import")
                .accessible_name(format!("Import cookies {}", browser.name))
                .on_hover_text(
                    "Bring cookies in: a cookies.txt (curl, Python, browser extensions), a \
                     Playwright storageState file, or a JSON list of cookies (Puppeteer, \
                     Cookie-Editor)",
                )
                .clicked()
            {
                draft.import = match draft.import {
                    Some(_) => None,
                    None => Some(Default::default()),
                };
            }
            super::transfer_ui::export_menu(ui, browser, commands);
        });
    });
    if let Some(notice) = &draft.notice {
        ui.label(RichText::new(notice).small().weak());
    }
    if let Some(import) = &mut draft.import
        && super::transfer_ui::import_ui(ui, browser, import, context.now, commands)
    {
        draft.import = None;
    }
    if let Some((key, value)) = &mut draft.edit {
        let mut done = false;
        ui.horizontal(|ui| {
            ui.label(format!("Edit “{}”:", key.name));
            let field = ui
                .add(
                    egui::TextEdit::singleline(value)
                        .font(egui::TextStyle::Monospace)
                        .desired_width(PANEL_WIDTH - 200.0),
                )
                .accessible_name(format!(
                    "New value of cookie {} of {}",
                    key.name, browser.name
                ));
            let entered = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            if ui
                .button("Save")
                .accessible_name(format!("Save cookie {} of {}", key.name, browser.name))
                .clicked()
                || entered
            {
                commands.push(lab(Command::EditCookie {
                    browser: browser.id,
                    cookie: key.clone(),
                    value: value.clone(),
                }));
                done = true;
            }
            if ui
                .button("Cancel")
                .accessible_name(format!(
                    "Cancel editing cookie {} of {}",
                    key.name, browser.name
                ))
                .clicked()
            {
                done = true;
            }
        });
        if done {
            draft.edit = None;
        }
    }
    if browser.cookies.is_empty() {
        ui.label(RichText::new("No cookies yet — click Visit").weak());
        return;
    }
    egui::ScrollArea::horizontal()
        .id_salt(("jar", browser.id))
        .show(ui, |ui| {
            ui.style_mut().wrap_mode = Some(egui::TextWrapMode::Extend);
            cookie_table_ui(ui, browser, draft, context, commands);
        });
}

/// Column titles and what each attribute means.
const COOKIE_COLUMNS: [(&str, &str); 8] = [
    (
        "",
        "Edit (tamper), copy to another browser (hijack), or delete this cookie.",
    ),
    (
        "Name",
        "The cookie's name; the session cookie is the server's cookie name.",
    ),
    (
        "Value",
        "The value the server set. A signed session cookie carries the id plus a signature. Click to copy.",
    ),
    (
        "Domain",
        "Where the cookie is sent. Host-only: exactly this host (no Domain attribute); .domain: that domain and its subdomains.",
    ),
    ("Path", "Sent only for request paths under this prefix."),
    (
        "Expires",
        "Time left until the browser drops it (hover for the clock time). “Session”: no Max-Age/Expires, so it lives until the browser closes.",
    ),
    (
        "Attributes",
        "HttpOnly: hidden from page scripts (document.cookie). Secure: sent over https only (and to localhost / 127.0.0.1). SameSite: Strict, Lax (links from other sites) or None (every request); unset acts as Lax.",
    ),
    (
        "Size",
        "Bytes of name plus value; browsers cap a cookie at about 4096.",
    ),
];

fn cookie_table_ui(
    ui: &mut egui::Ui,
    browser: &BrowserState,
    draft: &mut BrowserDraft,
    context: &PanelContext<'_>,
    commands: &mut Vec<UiCommand>,
) {
    let PanelContext {
        peers, now, offset, ..
    } = *context;
    let dark = ui.visuals().dark_mode;
    let row_height = ui.text_style_height(&egui::TextStyle::Monospace) + 8.0;
    TableBuilder::new(ui)
        .id_salt(("cookies", browser.id))
        .striped(true)
        .vscroll(false)
        .columns(Column::auto().at_least(24.0), COOKIE_COLUMNS.len())
        .header(row_height, |mut header| {
            for (title, help) in COOKIE_COLUMNS {
                header.col(|ui| {
                    ui.label(RichText::new(title).strong()).on_hover_text(help);
                });
            }
        })
        .body(|body| {
            body.rows(row_height, browser.cookies.len(), |mut row| {
                let held = &browser.cookies[row.index()];
                let JarCookie {
                    cookie, readable, ..
                } = held;
                let session_id = held.session_id();
                let who = format!("{} of {}", cookie.name, browser.name);
                row.col(|ui| {
                    ui.menu_button("…", |ui| {
                        if ui
                            .button("Edit value (tamper)")
                            .accessible_name(format!("Edit cookie {who}"))
                            .on_hover_text("Change the value and see what the server makes of it")
                            .clicked()
                        {
                            draft.edit = Some((cookie.key(), cookie.value.clone()));
                            ui.close();
                        }
                        for (peer, peer_name) in peers {
                            if ui
                                .button(format!("Copy to browser {peer_name} (hijack)"))
                                .accessible_name(format!("Copy cookie {who} to {peer_name}"))
                                .on_hover_text("That browser then presents this session")
                                .clicked()
                            {
                                commands.push(lab(Command::CopyCookie {
                                    from: browser.id,
                                    to: *peer,
                                    cookie: cookie.key(),
                                }));
                                ui.close();
                            }
                        }
                        if ui
                            .button("Delete")
                            .accessible_name(format!("Delete cookie {who}"))
                            .clicked()
                        {
                            commands.push(lab(Command::DeleteCookie {
                                browser: browser.id,
                                cookie: cookie.key(),
                            }));
                            ui.close();
                        }
                    })
                    .response
                    .accessible_name(format!("Actions for cookie {who}"))
                    .on_hover_text("Edit (tamper), copy to another browser (hijack), or delete");
                });
                row.col(|ui| {
                    if cookie.name.is_empty() {
                        ui.label(RichText::new("(no name)").weak().italics())
                            .on_hover_text(
                                "A nameless cookie (a Set-Cookie without '='): browsers keep it and send its value alone",
                            );
                    } else {
                        ui.monospace(&cookie.name);
                    }
                });
                row.col(|ui| {
                    let mut hover = format!("{}\n\nClick to copy.", cookie.value);
                    if let Some(id) = session_id {
                        hover = format!("Session {id}\n{hover}");
                    }
                    // Data anyone holding the cookie can read: shown beside the value.
                    let mut shown = short(&cookie.value);
                    if let Some(kind) = readable {
                        // The data is the news here: the value gives way to it (a few
                        // characters, whole on hover), so the table keeps to the panel.
                        let data = kind.data.as_deref().unwrap_or_default();
                        shown = format!(
                            "{} → {}",
                            short_to(&cookie.value, 4),
                            short_to(data, 40)
                        );
                        hover = format!(
                            "Readable by anyone who holds it: {data}\n{}\n\n{hover}",
                            kind.summary()
                        );
                    }
                    let value = ui
                        .add(
                            egui::Label::new(RichText::new(shown).monospace())
                                .sense(egui::Sense::click()),
                        )
                        .on_hover_text(hover);
                    if value.clicked() {
                        ui.ctx().copy_text(cookie.value.clone());
                    }
                });
                row.col(|ui| {
                    if cookie.host_only {
                        ui.monospace(&cookie.domain).on_hover_text(
                            "Host-only (no Domain attribute): sent to exactly this host, not its subdomains",
                        );
                    } else {
                        ui.monospace(format!(".{}", cookie.domain)).on_hover_text(format!(
                            "Domain={}: sent to this domain and every subdomain",
                            cookie.domain
                        ));
                    }
                });
                row.col(|ui| {
                    ui.monospace(&cookie.path);
                });
                row.col(|ui| {
                    match cookie.expires {
                        Some(at) => {
                            let left = time_left(now, at);
                            let hover = format!("Expires {} ({at})", clock_time(at, offset));
                            if at - now < time::Duration::minutes(1) {
                                ui.colored_label(theme::warn(dark), left).on_hover_text(hover);
                            } else {
                                ui.label(left).on_hover_text(hover);
                            }
                        }
                        None => {
                            ui.label("Session")
                                .on_hover_text("No Max-Age or Expires: dropped when the browser closes");
                        }
                    };
                });
                row.col(|ui| {
                    ui.label(attributes_text(cookie))
                        .on_hover_text(attributes_help(cookie));
                });
                row.col(|ui| {
                    ui.label(format!("{} B", cookie.size()));
                });
            });
        });
}

/// A cookie's flags as a Set-Cookie header would carry them: "HttpOnly · Secure · Lax".
fn attributes_text(cookie: &crate::browser::CookieRow) -> String {
    let mut parts = Vec::new();
    if cookie.http_only {
        parts.push("HttpOnly".to_owned());
    }
    if cookie.secure {
        parts.push("Secure".to_owned());
    }
    parts.push(match cookie.same_site.as_deref() {
        Some(value) => value.to_owned(),
        None => "(Lax)".to_owned(),
    });
    if cookie.partition.is_some() {
        parts.push("Partitioned".to_owned());
    }
    parts.join(" · ")
}

fn attributes_help(cookie: &crate::browser::CookieRow) -> String {
    let scripts = if cookie.http_only {
        "HttpOnly: page scripts cannot read it (document.cookie)"
    } else {
        "Not HttpOnly: page scripts can read it"
    };
    let secure = if cookie.secure {
        "Secure: sent over https (and to localhost) only"
    } else {
        "Not Secure: sent over plain http too"
    };
    let same_site = match cookie.same_site.as_deref() {
        Some("Strict") => "SameSite=Strict: never sent with a request another site started",
        Some("Lax") => "SameSite=Lax: sent with links from other sites, not their images or forms",
        Some("None") => "SameSite=None: sent with every request, from any site",
        _ => "No SameSite: browsers treat it as Lax",
    };
    let partition = match &cookie.partition {
        Some(site) => format!(
            "\nPartitioned (CHIPS): kept for pages under {site} only; under another top-level site this browser has no such cookie"
        ),
        None => String::new(),
    };
    format!("{scripts}\n{secure}\n{same_site}{partition}")
}
