//! Colours with meaning: one per browser, and the status colours, tuned for light and dark.

use egui::Color32;

/// Sixteen browser colours, far apart in hue so side-by-side panels are easy to tell apart.
const BROWSER_COLOURS: [(u8, u8, u8); 16] = [
    (59, 130, 246), // blue
    (249, 115, 22), // orange
    (16, 185, 129), // emerald
    (168, 85, 247), // purple
    (236, 72, 153), // pink
    (202, 138, 4),  // amber
    (6, 182, 212),  // cyan
    (101, 163, 13), // lime
    (225, 29, 72),  // rose
    (99, 102, 241), // indigo
    (13, 148, 136), // teal
    (192, 38, 211), // fuchsia
    (180, 83, 9),   // brown
    (2, 132, 199),  // sky
    (22, 163, 74),  // green
    (124, 58, 237), // violet
];

/// The colour of browser number `index` (beyond sixteen the palette repeats, darker).
pub fn browser_colour(index: usize) -> Color32 {
    let (r, g, b) = BROWSER_COLOURS[index % BROWSER_COLOURS.len()];
    let colour = Color32::from_rgb(r, g, b);
    if index >= BROWSER_COLOURS.len() {
        colour.gamma_multiply(0.7)
    } else {
        colour
    }
}

/// Created / running / success.
pub fn good(dark: bool) -> Color32 {
    if dark {
        Color32::from_rgb(74, 222, 128)
    } else {
        Color32::from_rgb(21, 128, 61)
    }
}

/// Expiring soon / fell back / worth a look.
pub fn warn(dark: bool) -> Color32 {
    if dark {
        Color32::from_rgb(251, 191, 36)
    } else {
        Color32::from_rgb(180, 83, 9)
    }
}

/// Deleted / failed.
pub fn bad(dark: bool) -> Color32 {
    if dark {
        Color32::from_rgb(248, 113, 113)
    } else {
        Color32::from_rgb(185, 28, 28)
    }
}

/// A small filled dot in `colour`, the browser's mark wherever it appears.
pub fn dot(ui: &mut egui::Ui, colour: Color32) -> egui::Response {
    let size = ui.text_style_height(&egui::TextStyle::Body) * 0.7;
    let (rect, response) = ui.allocate_exact_size(egui::vec2(size, size), egui::Sense::hover());
    ui.painter()
        .circle_filled(rect.center(), size / 2.0, colour);
    response
}
