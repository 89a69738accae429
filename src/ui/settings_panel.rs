//! The server settings panel: the session cookie's name, flags, expiry and protection, applied
//! to the running server in place, and secret rotation. Each setting names its
//! express-session twin.

use egui::RichText;
use time::OffsetDateTime;

use crate::{
    lab::LabState,
    server::{
        CookieProtection, ExpiryPolicy, KeptIn, SameSitePolicy, SecureRequests, ServerSettings,
        StoreChoice,
    },
};

use super::UiCommand;
use crate::lab::ServerCommand;

/// Which kind of expiry is chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ExpiryKind {
    BrowserSession,
    Inactivity,
    AtTime,
}

/// Which store is chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum StoreKind {
    Memory,
    Sqlite,
    Redis,
}

/// The settings being edited (kept by the app between frames).
#[derive(Clone, Debug)]
pub struct SettingsDraft {
    settings: ServerSettings,
    /// The server's settings when the draft last looked: fields still equal to these are the
    /// ones the user has not touched.
    base: ServerSettings,
    instances: usize,
    instances_base: usize,
    store: StoreKind,
    sqlite_path: String,
    redis_url: String,
    domain: String,
    expiry: ExpiryKind,
    inactivity_secs: i64,
    at_minutes_from_now: i64,
    /// How long a graceful rotation keeps the old secret.
    grace_minutes: u64,
}

impl SettingsDraft {
    /// A draft of the server's settings now.
    pub fn new(settings: &ServerSettings, store: &StoreChoice) -> Self {
        let mut draft = Self::from_settings(settings);
        match store {
            StoreChoice::Memory => draft.store = StoreKind::Memory,
            StoreChoice::Sqlite(path) => {
                draft.store = StoreKind::Sqlite;
                draft.sqlite_path = path.display().to_string();
            }
            StoreChoice::Redis(url) => {
                draft.store = StoreKind::Redis;
                draft.redis_url.clone_from(url);
            }
        }
        draft
    }

    fn from_settings(settings: &ServerSettings) -> Self {
        let (expiry, inactivity_secs) = match settings.expiry {
            ExpiryPolicy::BrowserSession => (ExpiryKind::BrowserSession, 30),
            ExpiryPolicy::OnInactivity { secs } => (ExpiryKind::Inactivity, secs),
            ExpiryPolicy::AtDateTime(_) => (ExpiryKind::AtTime, 30),
        };
        Self {
            settings: settings.clone(),
            base: settings.clone(),
            instances: 1,
            instances_base: 1,
            store: StoreKind::Memory,
            sqlite_path: StoreChoice::default_sqlite_path().display().to_string(),
            redis_url: "redis://127.0.0.1:6379".to_owned(),
            domain: settings.domain.clone().unwrap_or_default(),
            expiry,
            inactivity_secs,
            at_minutes_from_now: 5,
            grace_minutes: 10,
        }
    }

    /// Follows the running server: a setting changed elsewhere (a browser's Safe server switch,
    /// another instance count) shows here too, unless the user has edited it in this draft — so
    /// Apply never silently reverts what was changed meanwhile.
    pub fn follow(&mut self, server: &ServerSettings, instances: usize) {
        macro_rules! follow {
            ($($field:ident),*) => {$(
                if self.settings.$field == self.base.$field {
                    self.settings.$field = server.$field.clone();
                }
            )*};
        }
        if *server != self.base {
            follow!(
                cookie_name,
                http_only,
                secure,
                same_site,
                path,
                protection,
                kept_in,
                always_save,
                lock_per_session,
                regenerate_on_login,
                destroy_on_logout,
                counted_ids,
                id_in_url,
                secure_requests,
                max_sessions,
                store_latency_ms
            );
            // Domain and expiry are edited in fields of their own: compare those.
            if self.domain == self.base.domain.clone().unwrap_or_default() {
                self.domain = server.domain.clone().unwrap_or_default();
            }
            let base = Self::from_settings(&self.base);
            if (self.expiry, self.inactivity_secs) == (base.expiry, base.inactivity_secs) {
                let fresh = Self::from_settings(server);
                (self.expiry, self.inactivity_secs) = (fresh.expiry, fresh.inactivity_secs);
            }
            self.base = server.clone();
        }
        if self.instances == self.instances_base {
            self.instances = instances;
        }
        self.instances_base = instances;
    }

    /// The settings the draft describes.
    fn to_settings(&self, now: OffsetDateTime) -> ServerSettings {
        let mut settings = self.settings.clone();
        settings.domain = Some(self.domain.trim().to_owned()).filter(|d| !d.is_empty());
        settings.expiry = match self.expiry {
            ExpiryKind::BrowserSession => ExpiryPolicy::BrowserSession,
            ExpiryKind::Inactivity => ExpiryPolicy::OnInactivity {
                secs: self.inactivity_secs,
            },
            ExpiryKind::AtTime => {
                ExpiryPolicy::AtDateTime(now + time::Duration::minutes(self.at_minutes_from_now))
            }
        };
        settings
    }
}

/// Draws the settings; returns what the user asked for.
pub fn settings_ui(
    ui: &mut egui::Ui,
    state: &LabState,
    draft: &mut SettingsDraft,
    now: OffsetDateTime,
) -> Option<UiCommand> {
    let mut command = None;
    ui.heading("Server settings");
    ui.label(
        RichText::new("Applied to the running server in place: the store and its sessions stay.")
            .weak(),
    );
    ui.add_space(6.0);
    let Some(server) = &state.server else {
        ui.label("The embedded server is not running.");
        return None;
    };
    egui::ScrollArea::vertical().id_salt("settings").show(ui, |ui| {
        egui::Grid::new("settings-grid")
            .num_columns(2)
            .spacing([10.0, 8.0])
            .show(ui, |ui| {
                let config = &mut draft.settings;
                ui.label("Cookie name").on_hover_text("express-session: name");
                ui.add(egui::TextEdit::singleline(&mut config.cookie_name).desired_width(140.0))
                    .accessible_name("Cookie name")
                    .on_hover_text("express-session: name (default connect.sid; here id)");
                ui.end_row();

                ui.label("Protection").on_hover_text("express-session: secret");
                ui.vertical(|ui| {
                    for (value, label, help) in [
                        (CookieProtection::Plain, "Plain", "The bare session id: readable and forgeable (express-session has no such mode; it always signs)."),
                        (CookieProtection::Signed, "Signed", "express-session: secret — the id plus an HMAC; readable, not forgeable."),
                        (CookieProtection::Private, "Private (encrypted)", "The id encrypted and authenticated: neither readable nor forgeable."),
                    ] {
                        ui.radio_value(&mut config.protection, value, label).on_hover_text(help);
                    }
                });
                ui.end_row();

                ui.label("Session kept in").on_hover_text("Where each session's data lives");
                ui.vertical(|ui| {
                    for (value, label, help) in [
                        (KeptIn::Store, "The server's store", "express-session, tower-sessions, PHP, Django's database sessions: the cookie carries only an id; the data stays on the server, which can delete it at logout."),
                        (KeptIn::Cookie, "The cookie itself", "Express's cookie-session, Flask's and Rails' defaults: the data itself travels in the cookie, protected as Protection says (signed: readable, not forgeable; private: encrypted). The store stays empty; logout only asks the browser to forget the cookie, so a copy still gets in, and an older copy brings older data back."),
                    ] {
                        ui.radio_value(&mut config.kept_in, value, label).on_hover_text(help);
                    }
                });
                ui.end_row();

                ui.label("Expiry").on_hover_text("express-session: cookie.maxAge / cookie.expires / rolling");
                ui.vertical(|ui| {
                    ui.radio_value(&mut draft.expiry, ExpiryKind::BrowserSession, "Browser session")
                        .on_hover_text("express-session: no cookie.maxAge — the cookie lives until the browser closes; the server keeps the session two weeks");
                    ui.horizontal(|ui| {
                        ui.radio_value(&mut draft.expiry, ExpiryKind::Inactivity, "After inactivity of")
                            .on_hover_text("express-session: cookie.maxAge with rolling: true — every save pushes the expiry out");
                        ui.add(egui::DragValue::new(&mut draft.inactivity_secs).range(1..=86_400 * 30).suffix(" s"))
                            .accessible_name("Inactivity seconds");
                    });
                    ui.horizontal(|ui| {
                        ui.radio_value(&mut draft.expiry, ExpiryKind::AtTime, "At a fixed time, in")
                            .on_hover_text("express-session: cookie.expires — one moment for everyone");
                        ui.add(egui::DragValue::new(&mut draft.at_minutes_from_now).range(1..=60 * 24 * 30).suffix(" min"))
                            .accessible_name("Expiry minutes from now");
                    });
                });
                ui.end_row();

                let config = &mut draft.settings;
                ui.label("Flags");
                ui.vertical(|ui| {
                    ui.checkbox(&mut config.http_only, "HttpOnly")
                        .on_hover_text("express-session: cookie.httpOnly — hidden from page scripts");
                    ui.checkbox(&mut config.secure, "Secure")
                        .on_hover_text("express-session: cookie.secure — https only (browsers treat 127.0.0.1 as secure, other hosts over http never get it)");
                    ui.checkbox(&mut config.always_save, "Resave + rolling")
                        .on_hover_text("express-session: resave: true + rolling: true — save the session and re-send its cookie on every response, changed or not (tower-sessions: with_always_save(true))");
                    ui.checkbox(&mut config.save_uninitialized, "Save uninitialized")
                        .on_hover_text("express-session: saveUninitialized — on: every new visitor gets a stored session and a cookie, even a request that does not touch the session (/whoami); off: only once the session is changed (tower-sessions always works this way). Compare two browsers on /whoami with it on and off.");
                    ui.checkbox(&mut config.lock_per_session, "One request at a time per session")
                        .on_hover_text("No express-session twin: express-session loses updates when requests of one session overlap; this lock prevents it");
                });
                ui.end_row();

                ui.label("Login, logout");
                ui.horizontal(|ui| {
                    ui.checkbox(&mut config.regenerate_on_login, "New session id at login")
                        .on_hover_text("express-session: req.session.regenerate() in the login route; tower-sessions: session.cycle_id(). Off, an id planted before login (session fixation) is the logged-in session.");
                    ui.checkbox(&mut config.destroy_on_logout, "Logout deletes the session")
                        .on_hover_text("express-session: req.session.destroy(); tower-sessions: session.flush(). Off, logout only clears the cookie (res.clearCookie alone): a copied cookie still works after logout.");
                });
                ui.end_row();

                ui.label("Secure cookie on")
                    .on_hover_text("Behind a TLS-terminating proxy: express-session's trust proxy");
                ui.horizontal(|ui| {
                    egui::ComboBox::from_id_salt("secure requests")
                        .selected_text(config.secure_requests.as_str())
                        .show_ui(ui, |ui| {
                            for (value, help) in [
                                (SecureRequests::Any, "tower-sessions: the Secure cookie is set on every request, whatever the connection"),
                                (SecureRequests::Tls, "express-session without trust proxy: only on a request that came over TLS — behind the lab's TLS proxy no Secure cookie is ever set, so no session sticks"),
                                (SecureRequests::TlsOrProxy, "express-session with app.set('trust proxy', 1): also when the proxy says X-Forwarded-Proto: https"),
                            ] {
                                ui.selectable_value(&mut config.secure_requests, value, value.as_str())
                                    .on_hover_text(help);
                            }
                        })
                        .response
                        .on_hover_text("Which requests get a Secure cookie: the question behind a TLS-terminating proxy (express-session's trust proxy)");
                });
                ui.end_row();

                ui.label("Session ids");
                ui.horizontal(|ui| {
                    ui.checkbox(&mut config.id_in_url, "In URLs, no cookie")
                        .on_hover_text("Cookieless sessions (PHP: session.use_cookies=0 + use_trans_sid=1; ASP.NET cookieless=\"UseUri\"; Java ;jsessionid — express-session and tower-sessions have none): the id travels as ?sid=… in the links and redirects of the app's pages. Anyone the URL reaches — a shared link, a log — holds the session.");
                    ui.checkbox(&mut config.counted_ids, "Counted (weak)")
                        .on_hover_text("express-session: genid: () => String(++n); tower-sessions: a store whose create() assigns ids. New sessions get 1001, 1002, … instead of 128 random bits: with a plain cookie, the next visitor's id is a guess away.");
                });
                ui.end_row();

                ui.label("SameSite").on_hover_text("express-session: cookie.sameSite");
                ui.horizontal(|ui| {
                    for value in [SameSitePolicy::Strict, SameSitePolicy::Lax, SameSitePolicy::None] {
                        ui.radio_value(&mut config.same_site, value, value.as_str())
                            .on_hover_text("express-session: cookie.sameSite");
                    }
                });
                ui.end_row();

                ui.label("Path").on_hover_text("express-session: cookie.path");
                ui.add(egui::TextEdit::singleline(&mut config.path).desired_width(140.0))
                    .accessible_name("Cookie path")
                    .on_hover_text("express-session: cookie.path — the cookie goes only to paths under it");
                ui.end_row();

                ui.label("Domain").on_hover_text("express-session: cookie.domain");
                ui.add(egui::TextEdit::singleline(&mut draft.domain).desired_width(140.0).hint_text("(host-only)"))
                    .accessible_name("Cookie domain")
                    .on_hover_text("express-session: cookie.domain — empty means host-only");
                ui.end_row();

                ui.label("Store latency").on_hover_text("--store-latency");
                ui.add(
                    egui::Slider::new(&mut draft.settings.store_latency_ms, 0..=100)
                        .suffix(" ms"),
                )
                .accessible_name("Store latency")
                .on_hover_text(
                    "Every store call waits this long, like a database across a network: with a \
                     few milliseconds and Safe server off, a burst loses increments every time",
                );
                ui.end_row();

                ui.label("Most sessions").on_hover_text("The memory store's limit (--max-sessions)");
                ui.add(
                    egui::DragValue::new(&mut draft.settings.max_sessions)
                        .range(1..=100_000_000)
                        .speed(1000.0),
                )
                .accessible_name("Most sessions")
                .on_hover_text(
                    "The memory store keeps at most this many sessions: beyond it, new visitors get \
                     a clear 503 page and visitors with a session are served as usual, so no \
                     flood of new visitors can grow the server without bound",
                );
                ui.end_row();
            });
        ui.add_space(8.0);
        ui.horizontal(|ui| {
            if ui.button("Apply").accessible_name("Apply settings").clicked() {
                command = Some(UiCommand::Lab(ServerCommand::ApplySettings(draft.to_settings(now)).into()));
            }
            if ui
                .button("Reset")
                .accessible_name("Reset settings")
                .on_hover_text("Back to what the server uses now")
                .clicked()
            {
                *draft = SettingsDraft::new(&server.settings, &server.store);
            }
        });
        ui.add_space(12.0);
        ui.separator();
        ui.label(RichText::new("Session store").strong())
            .on_hover_text("express-session: store (its default MemoryStore leaks and does not survive a restart)");
        ui.label(format!("Now: {}", server.store));
        ui.radio_value(&mut draft.store, StoreKind::Memory, "Memory")
            .on_hover_text("Kept in the server process: gone when it restarts");
        ui.horizontal(|ui| {
            ui.radio_value(&mut draft.store, StoreKind::Sqlite, "SQLite file")
                .on_hover_text("Kept on disk: survives restarts, and other processes can share it");
            ui.add(egui::TextEdit::singleline(&mut draft.sqlite_path).desired_width(180.0))
                .accessible_name("SQLite file");
        });
        ui.horizontal(|ui| {
            ui.radio_value(&mut draft.store, StoreKind::Redis, "Redis")
                .on_hover_text("Kept in a Redis server: survives restarts, shared by every instance and process");
            ui.add(egui::TextEdit::singleline(&mut draft.redis_url).desired_width(180.0))
                .accessible_name("Redis URL");
        });
        if ui
            .button("Restart server")
            .on_hover_text("Restart the server on the store chosen above: a memory store comes back empty, a SQLite store keeps every session")
            .clicked()
        {
            let store = match draft.store {
                StoreKind::Memory => StoreChoice::Memory,
                StoreKind::Sqlite => StoreChoice::Sqlite(draft.sqlite_path.trim().into()),
                StoreKind::Redis => StoreChoice::Redis(draft.redis_url.trim().to_owned()),
            };
            command = Some(UiCommand::Lab(ServerCommand::RestartServer(Some(store)).into()));
        }
        ui.add_space(12.0);
        ui.separator();
        ui.label(RichText::new("Server instances").strong()).on_hover_text(
            "Several servers on consecutive ports with the same settings and store \
             configuration, as behind a load balancer",
        );
        ui.horizontal(|ui| {
            ui.add(egui::DragValue::new(&mut draft.instances).range(1..=4))
                .accessible_name("Server instances");
            if ui
                .button("Run")
                .accessible_name("Run server instances")
                .on_hover_text("Start or stop instances; tick Spread in a browser to visit them in turn")
                .clicked()
            {
                command = Some(UiCommand::Lab(ServerCommand::SetInstances(draft.instances).into()));
            }
        });
        ui.label(
            RichText::new(format!("Running: {}", state.instances.len().max(1))).weak(),
        );
        ui.add_space(12.0);
        ui.separator();
        ui.label(format!("Secret fingerprint {}", server.secret_fingerprint))
            .on_hover_text("Identifies the secret without revealing it");
        ui.label(
            RichText::new(crate::lab::text::secret_source_text(&server.secret_source)).weak(),
        )
        .on_hover_text(
            "Without --secret, Session Lab makes a secret once and keeps it, owner-only, in the \
             platform's data directory: every Session Lab process of yours uses it, so sessions \
             kept in SQLite or Redis survive a restart. Servers on other machines need the same \
             --secret.",
        );
        for (fingerprint, until) in &server.retired {
            if *until > now {
                ui.label(
                    RichText::new(format!(
                        "Old secret {fingerprint} still opens cookies until {}",
                        crate::lab::text::clock_time(*until, time::UtcOffset::UTC)
                    ))
                    .weak(),
                )
                .on_hover_text("UTC. Each cookie it opens is sealed anew with the current secret.");
            }
        }
        ui.horizontal(|ui| {
            if ui
                .button("Rotate gracefully")
                .on_hover_text(
                    "express-session: secret: [new, old] — a new random secret seals new cookies; \
                     the old one still opens cookies for the minutes chosen, and each browser's \
                     cookie is sealed anew as it comes back, so no session is lost",
                )
                .clicked()
            {
                command = Some(UiCommand::Lab(ServerCommand::RotateSecret {
                    grace_secs: Some(draft.grace_minutes * 60),
                }.into()));
            }
            ui.add(
                egui::DragValue::new(&mut draft.grace_minutes)
                    .range(1..=1440)
                    .suffix(" min"),
            )
            .accessible_name("Grace minutes");
        });
        if ui
            .button("Rotate at once")
            .on_hover_text("A new random secret, and no grace: every cookie signed with the old one is rejected, so every browser starts a new session")
            .clicked()
        {
            command = Some(UiCommand::Lab(ServerCommand::RotateSecret { grace_secs: None }.into()));
        }
    });
    command
}
