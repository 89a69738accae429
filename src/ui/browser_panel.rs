//! One simulated browser's panel: address bar, Visit and the session routes, switches, the
//! response (with the cookies that stayed home), and its cookie jar with per-cookie actions.

use egui::{Color32, RichText};
use time::{OffsetDateTime, UtcOffset};

use crate::{
    browser::{CookieKey, RequestFrom},
    lab::{
        BrowserId, BrowserState, Command, ExchangeRecord, MAX_BURST,
        text::{clock_time, short_cookie_header},
    },
    server::ServerSettings,
};

use super::{UiCommand, theme};

mod jar;
use crate::lab::{BrowserCommand, RequestCommand, ServerCommand};
use jar::jar_ui;

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
    /// The address field parsed, with where its buttons lead (remade when the text changes).
    address: crate::browser::Address,
    /// The page the address field last followed (its address and when it was requested).
    followed: Option<(String, OffsetDateTime)>,
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
            address: crate::browser::Address::default(),
            followed: None,
        }
    }

    /// The address field follows the browser to `page` when a new page is shown, as a real
    /// browser's does after a redirect, a form posted from another site or a link: the field
    /// says where the browser is, not where it was told to go. An image or script a site loads
    /// is not where the browser is, so it leaves the field alone.
    pub fn follow(&mut self, page: Option<&crate::browser::Exchange>) {
        let Some(page) = page else {
            return;
        };
        let key = (page.url.clone(), page.sent_at);
        if self.followed.as_ref() == Some(&key) {
            return;
        }
        if page.from.is_navigation() {
            self.url.clone_from(&page.url);
        }
        self.followed = Some(key);
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
    /// The account the Login button logs in to (the open scenario's for this browser); by
    /// default the browser's own name.
    pub account: Option<&'a str>,
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
        // A private window is darker, as browsers draw theirs.
        .fill(if browser.private {
            ui.visuals().extreme_bg_color
        } else {
            Color32::TRANSPARENT
        })
        .corner_radius(8)
        .inner_margin(10)
        .show(ui, |ui| {
            ui.vertical(|ui| {
                ui.set_width(PANEL_WIDTH);
                title_ui(ui, browser, draft, colour, &mut commands);
                ui.add_space(4.0);
                address_ui(ui, browser, draft, &mut commands);
                let (server_url, proxy_url) = (context.server_url, context.proxy_url);
                if !draft.address.is_for(&draft.url, server_url, proxy_url) {
                    draft.address = crate::browser::Address::new(&draft.url, server_url, proxy_url);
                }
                routes_ui(ui, browser, draft, context.account, &mut commands);
                sites_ui(ui, browser, draft, &mut commands);
                switches_ui(ui, browser, draft, (server, instances), &mut commands);
                burst_outcome_ui(ui, browser);
                ui.separator();
                let answered_by = history.first().and_then(|r| r.instance);
                response_ui(
                    ui,
                    browser,
                    answered_by.filter(|_| instances > 1),
                    &mut commands,
                );
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
                commands.push(lab(BrowserCommand::RenameBrowser(browser.id, new_name.clone()).into()));
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
            if browser.private {
                let dark = ui.visuals().dark_mode;
                ui.label(
                    RichText::new("PRIVATE")
                        .small()
                        .strong()
                        .color(if dark { Color32::BLACK } else { Color32::WHITE })
                        .background_color(ui.visuals().strong_text_color()),
                )
                .on_hover_text(
                    "A private window: its jar is forgotten when it restarts, and a saved lab \
                     keeps none of its cookies",
                );
            }
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
                commands.push(lab(BrowserCommand::RemoveBrowser(browser.id).into()));
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
                commands.push(lab(BrowserCommand::RestartBrowser(browser.id).into()));
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
        let (visit_width, copy_width) = (56.0, 44.0);
        let field = ui
            .add(
                egui::TextEdit::singleline(&mut draft.url)
                    .font(egui::TextStyle::Monospace)
                    .desired_width(
                        ui.available_width()
                            - visit_width
                            - copy_width
                            - 2.0 * ui.spacing().item_spacing.x,
                    )
                    .hint_text("http://127.0.0.1:3000/"),
            )
            .accessible_name(format!("Address of browser {name}"));
        if ui
            .add_sized([copy_width, field.rect.height()], egui::Button::new("Copy"))
            .accessible_name(format!("Copy address of browser {name}"))
            .on_hover_text("Copy this address, to paste it into another browser's")
            .clicked()
        {
            ui.ctx().copy_text(draft.url.clone());
            draft.notice = Some("Copied the address".to_owned());
        }
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
            commands.push(lab(RequestCommand::Visit {
                browser: browser.id,
                url: draft.url.clone(),
            }
            .into()));
        }
    });
}

fn routes_ui(
    ui: &mut egui::Ui,
    browser: &BrowserState,
    draft: &mut BrowserDraft,
    account: Option<&str>,
    commands: &mut Vec<UiCommand>,
) {
    ui.horizontal_wrapped(|ui| {
        ui.label(RichText::new("Go to").weak());
        for (label, path, help) in ROUTES {
            let (path, help) = if path == "/login" {
                let user = account.unwrap_or(&browser.name);
                (
                    format!("/login?user={}", url_word(user)),
                    format!("Log in as {user}. {help}"),
                )
            } else {
                (path.to_owned(), help.to_owned())
            };
            let target = draft.address.route(&path);
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

/// The host buttons (the embedded server under its own address and under the lab's names) and
/// where requests come from: each origin lesson is one click.
fn sites_ui(
    ui: &mut egui::Ui,
    browser: &BrowserState,
    draft: &mut BrowserDraft,
    commands: &mut Vec<UiCommand>,
) {
    let name = &browser.name;
    let address = draft.address.clone();
    let current_host = address.host();
    ui.horizontal_wrapped(|ui| {
        ui.label(RichText::new("Host").weak())
            .on_hover_text("The same embedded server under other names: the simulated browsers resolve *.lab.test to it (and other-site.test, where it serves the attacker's page of the Other site tab)");
        let hosts = [
            (
                address.server_host().unwrap_or("127.0.0.1").to_owned(),
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
            let target = address.with_host(&host);
            let selected = current_host == Some(host.as_str());
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
        let https = address.is_https();
        let target = address.other_scheme();
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
        let proxied = address.via_proxy();
        let via_proxy = address.is_via_proxy();
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
            visit_from_button(browser, draft, url, commands);
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
            commands.push(lab(BrowserCommand::SetRequestFrom {
                browser: browser.id,
                from,
            }
            .into()));
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
            commands.push(lab(BrowserCommand::SetCookiesEnabled {
                browser: browser.id,
                enabled,
            }.into()));
        }
        ui.separator();
        // A menu, not a number field: the field looked like a button, and a click on Burst
        // right after editing it only ended the edit.
        egui::ComboBox::from_id_salt(("burst size", browser.id))
            .selected_text(format!("{} at once", draft.burst))
            .width(76.0)
            .show_ui(ui, |ui| {
                for count in [2, 5, 10, 20, 50, 100, 200, MAX_BURST] {
                    ui.selectable_value(&mut draft.burst, count, format!("{count} at once"));
                }
            })
            .response
            .accessible_name(format!("Burst size {name}"))
            .on_hover_text("How many parallel visits a burst sends");
        if ui
            .button("Burst")
            .accessible_name(format!("Burst {name}"))
            .on_hover_text("Send that many visits at once with this browser's cookie: do all the increments count?")
            .clicked()
        {
            commands.push(lab(RequestCommand::Burst {
                browser: browser.id,
                url: draft.url.clone(),
                count: draft.burst,
            }.into()));
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
            commands.push(lab(BrowserCommand::SetSpread {
                browser: browser.id,
                spread,
            }.into()));
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
            commands.push(lab(ServerCommand::ApplySettings(settings).into()));
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

fn response_ui(
    ui: &mut egui::Ui,
    browser: &BrowserState,
    instance: Option<usize>,
    commands: &mut Vec<UiCommand>,
) {
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
        if let Some(instance) = instance {
            ui.label(RichText::new(format!("· instance {}", instance + 1)).weak())
                .on_hover_text("Which server instance answered");
        }
        // Cut to the panel's width (a long address would widen the panel and push the next
        // browser off the screen); whole on hover, and in the address field.
        ui.add(
            egui::Label::new(
                RichText::new(format!(
                    "· {:.1} ms · {} {}",
                    exchange.latency.as_secs_f64() * 1000.0,
                    exchange.method,
                    exchange.url
                ))
                .weak(),
            )
            .truncate(),
        );
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
    let line = ui
        .add(
            egui::Label::new(RichText::new(format!("Sent {sent}")).monospace().size(13.0))
                .sense(egui::Sense::click()),
        )
        .on_hover_text(
            exchange
                .cookie_header
                .as_ref()
                .map_or_else(String::new, |header| {
                    format!("{header}\n\nClick to pin it whole above the sessions table.")
                }),
        );
    if line.clicked()
        && let Some(header) = &exchange.cookie_header
    {
        commands.push(UiCommand::Pin {
            what: format!("Cookie {} sent", browser.name),
            value: header.clone(),
        });
    }
    for held in &exchange.not_sent {
        ui.colored_label(
            theme::warn(dark),
            RichText::new(format!("Not sent: {} — {}", held.key.name, held.reason)),
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
            )),
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
        draft.forms = Some(FormsDraft {
            page: key,
            forms: browser.forms.clone(),
        });
    }
    if !browser.links.is_empty() {
        ui.horizontal_wrapped(|ui| {
            ui.label(RichText::new("Links").weak());
            for link in &browser.links {
                let mut shown = match link.query() {
                    Some(query) => format!("{}?{query}", link.path()),
                    None => link.path().to_owned(),
                };
                if shown.chars().count() > 40 {
                    shown = format!("{}…", shown.chars().take(39).collect::<String>());
                }
                if ui
                    .small_button(&shown)
                    .accessible_name(format!("Link {shown} {}", browser.name))
                    .on_hover_text(format!("Follow this link of the page: GET {link}"))
                    .clicked()
                {
                    commands.push(lab(RequestCommand::Visit {
                        browser: browser.id,
                        url: link.to_string(),
                    }
                    .into()));
                }
            }
        });
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
                    RequestCommand::Submit {
                        browser: browser.id,
                        url: form.action.to_string(),
                        form: form.encoded(),
                    }
                } else {
                    RequestCommand::Visit {
                        browser: browser.id,
                        url: form.target().to_string(),
                    }
                };
                commands.push(lab(command.into()));
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
    commands.push(lab(RequestCommand::Visit {
        browser: browser.id,
        url,
    }
    .into()));
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
