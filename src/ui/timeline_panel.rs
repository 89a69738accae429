//! The timeline: every browser's exchanges in time order as a sequence diagram, browsers and
//! servers as lanes, an arrow for each request and each response. Hover a row for the headers.

use egui::{Align2, Color32, FontId, Pos2, RichText, Stroke, pos2, vec2};
use time::UtcOffset;

use crate::lab::{
    ExchangeRecord, LabState,
    text::{clock_time, short_cookie_header, story_text},
};

use super::theme;

/// The height of one exchange (a request arrow and a response arrow).
const ROW_HEIGHT: f32 = 44.0;

/// Draws the sequence diagram: the browsers that exist (or, with `history`, every browser
/// that made an exchange still kept, gone ones marked), each lane fitting the width.
pub fn timeline_ui(ui: &mut egui::Ui, state: &LabState, offset: UtcOffset, history: &mut bool) {
    ui.checkbox(history, "Browsers that are gone too")
        .on_hover_text(
            "Also the exchanges of browsers removed since (a scenario's, a load's), in lanes \
             marked “gone”",
        );
    let browsers = lanes_for_browsers(state, *history);
    let rows: Vec<usize> = state
        .exchanges
        .iter()
        .enumerate()
        .filter(|(_, record)| browsers.iter().any(|(id, ..)| *id == record.browser))
        .map(|(index, _)| index)
        .collect();
    if rows.is_empty() {
        ui.label(RichText::new("No exchanges yet — every visit will be drawn here as arrows between the browsers and the server.").weak());
        return;
    }
    let servers = lanes_for_servers(state, &rows);
    let lane_count = (browsers.len() + servers.len()).max(2);
    let left = 70.0;
    let width = ui.available_width().max(400.0);
    // Every lane in view, the server's included: the gap shrinks with the lanes.
    let lane_gap = (width - left - 80.0) / (lane_count - 1) as f32;
    let lane_x = |index: usize| left + 40.0 + lane_gap * index as f32;

    // Lane titles.
    let (header, painter) = ui.allocate_painter(vec2(width, 22.0), egui::Sense::hover());
    let text_colour = ui.visuals().text_color();
    for (index, (_, name, colour)) in browsers.iter().enumerate() {
        painter.text(
            pos2(header.rect.left() + lane_x(index), header.rect.center().y),
            Align2::CENTER_CENTER,
            format!("● {name}"),
            FontId::proportional(14.0),
            theme::browser_colour(*colour),
        );
    }
    for (index, origin) in servers.iter().enumerate() {
        let instance = state.instances.iter().position(|i| &i.url == origin);
        let label = match instance {
            Some(n) if state.instances.len() > 1 => format!("server {}", n + 1),
            Some(_) => "server".to_owned(),
            None if Some(origin) == state.server.as_ref().map(|s| &s.url) => "server".to_owned(),
            None => origin
                .trim_start_matches("http://")
                .trim_end_matches('/')
                .to_owned(),
        };
        painter.text(
            pos2(
                header.rect.left() + lane_x(browsers.len() + index),
                header.rect.center().y,
            ),
            Align2::CENTER_CENTER,
            label,
            FontId::proportional(14.0),
            text_colour,
        );
    }

    egui::ScrollArea::vertical()
        .id_salt("timeline")
        .auto_shrink([false, false])
        .stick_to_bottom(true)
        .show_rows(ui, ROW_HEIGHT, rows.len(), |ui, shown| {
            for record in rows[shown].iter().filter_map(|i| state.exchanges.get(*i)) {
                let browser_lane = browsers
                    .iter()
                    .position(|(id, ..)| *id == record.browser)
                    .unwrap_or(0);
                let server_lane = browsers.len()
                    + servers
                        .iter()
                        .position(|o| *o == origin_of(&record.exchange.url))
                        .unwrap_or(0);
                let (response, painter) =
                    ui.allocate_painter(vec2(width, ROW_HEIGHT), egui::Sense::hover());
                let rect = response.rect;
                let weak = ui.visuals().weak_text_color();
                // Lane lines.
                for lane in 0..browsers.len() + servers.len() {
                    let x = rect.left() + lane_x(lane);
                    painter.line_segment(
                        [pos2(x, rect.top()), pos2(x, rect.bottom())],
                        Stroke::new(1.0, weak.gamma_multiply(0.4)),
                    );
                }
                painter.text(
                    pos2(rect.left() + 4.0, rect.top() + 4.0),
                    Align2::LEFT_TOP,
                    clock_time(record.exchange.sent_at, offset),
                    FontId::monospace(11.0),
                    weak,
                );
                let colour = theme::browser_colour(record.colour);
                let from = rect.left() + lane_x(browser_lane);
                let to = rect.left() + lane_x(server_lane);
                let request_y = rect.top() + 15.0;
                let response_y = rect.top() + 35.0;
                arrow(&painter, pos2(from, request_y), pos2(to, request_y), colour);
                arrow(
                    &painter,
                    pos2(to, response_y),
                    pos2(from, response_y),
                    colour.gamma_multiply(0.6),
                );
                let mid = (from + to) / 2.0;
                // About 6.6 px per monospace character at 11 pt: keep labels between lanes.
                let max_chars = (((to - from).abs() - 16.0) / 6.6).max(12.0) as usize;
                painter.text(
                    pos2(mid, request_y - 2.0),
                    Align2::CENTER_BOTTOM,
                    fit(request_label(record), max_chars),
                    FontId::monospace(11.0),
                    text_colour,
                );
                painter.text(
                    pos2(mid, response_y - 2.0),
                    Align2::CENTER_BOTTOM,
                    fit(response_label(record), max_chars),
                    FontId::monospace(11.0),
                    response_colour(ui, record.exchange.status),
                );
                response.on_hover_ui(|ui| details_ui(ui, record));
            }
        });
}

/// A horizontal arrow with a small head.
fn arrow(painter: &egui::Painter, from: Pos2, to: Pos2, colour: Color32) {
    const HEAD: f32 = 7.0;
    let stroke = Stroke::new(1.5, colour);
    painter.line_segment([from, to], stroke);
    let back = if to.x >= from.x { -HEAD } else { HEAD };
    painter.line_segment([to, pos2(to.x + back, to.y - HEAD * 0.6)], stroke);
    painter.line_segment([to, pos2(to.x + back, to.y + HEAD * 0.6)], stroke);
}

/// Cuts a label to `max` characters, with an ellipsis.
fn fit(text: String, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

fn request_label(record: &ExchangeRecord) -> String {
    let exchange = &record.exchange;
    let cookie = exchange
        .cookie_header
        .as_deref()
        .map_or_else(|| "no cookie".to_owned(), short_cookie_header);
    format!("{} {}  {cookie}", exchange.method, exchange.path())
}

fn response_label(record: &ExchangeRecord) -> String {
    let exchange = &record.exchange;
    let mut label = exchange.status.to_string();
    if exchange.set_cookies().next().is_some() {
        label.push_str("  Set-Cookie");
    }
    if let Some(served) = &record.served {
        label.push_str("  · ");
        label.push_str(&story_text(served));
    }
    label
}

fn response_colour(ui: &egui::Ui, status: u16) -> Color32 {
    let dark = ui.visuals().dark_mode;
    match status {
        200..=399 => ui.visuals().text_color(),
        400..=499 => theme::warn(dark),
        _ => theme::bad(dark),
    }
}

/// The whole exchange: request line and headers, response status, headers and body.
pub(super) fn details_ui(ui: &mut egui::Ui, record: &ExchangeRecord) {
    let exchange = &record.exchange;
    ui.set_max_width(640.0);
    ui.label(
        RichText::new(format!(
            "Browser {} → {} {}",
            record.name, exchange.method, exchange.url
        ))
        .strong(),
    );
    ui.monospace(format!(
        "Cookie: {}",
        exchange.cookie_header.as_deref().unwrap_or("(none)")
    ));
    for held in &exchange.not_sent {
        ui.monospace(format!("not sent: {} — {}", held.key.name, held.reason));
    }
    for refused in &exchange.blocked {
        ui.monospace(format!(
            "Set-Cookie refused: {} — {}",
            refused.name, refused.reason
        ));
    }
    ui.separator();
    ui.label(
        RichText::new(format!(
            "{} {} · {:.1} ms",
            exchange.status,
            exchange.reason,
            exchange.latency.as_secs_f64() * 1000.0
        ))
        .strong(),
    );
    for (name, value) in &exchange.response_headers {
        ui.monospace(format!("{name}: {value}"));
    }
    ui.separator();
    ui.monospace(&exchange.body);
    if let Some(served) = &record.served {
        ui.separator();
        ui.label(format!("Store: {}", story_text(served)));
    }
}

/// Browsers that appear on the timeline, in panel order: (id, name, colour).
fn lanes_for_browsers(
    state: &LabState,
    history: bool,
) -> Vec<(crate::lab::BrowserId, String, usize)> {
    // The browsers that exist, in the window's order, by their names now.
    let mut lanes: Vec<(crate::lab::BrowserId, String, usize)> = state
        .browsers
        .iter()
        .filter(|b| state.exchanges.iter().any(|r| r.browser == b.id))
        .map(|b| {
            let name = if b.private {
                format!("{} (private)", b.name)
            } else {
                b.name.clone()
            };
            (b.id, name, b.colour)
        })
        .collect();
    if history {
        for record in &state.exchanges {
            if !lanes.iter().any(|(id, ..)| *id == record.browser) {
                lanes.push((
                    record.browser,
                    format!("{} (gone)", record.name),
                    record.colour,
                ));
            }
        }
    }
    lanes
}

/// Server origins on the timeline: the embedded instances first, then others by first use.
fn lanes_for_servers(state: &LabState, rows: &[usize]) -> Vec<String> {
    let mut lanes: Vec<String> = if state.instances.is_empty() {
        state.server.iter().map(|s| s.url.clone()).collect()
    } else {
        state.instances.iter().map(|i| i.url.clone()).collect()
    };
    for record in rows.iter().filter_map(|i| state.exchanges.get(*i)) {
        let origin = origin_of(&record.exchange.url);
        if !lanes.contains(&origin) {
            lanes.push(origin);
        }
    }
    lanes
}

/// `http://host:port/` of a URL.
fn origin_of(url: &str) -> String {
    url::Url::parse(url)
        .map(|u| format!("{}/", u.origin().ascii_serialization()))
        .unwrap_or_else(|_| url.to_owned())
}
