//! The views plot: each browser's "Number of views" over time, one line per browser in its
//! colour — the diverging counters as a picture.

use egui::RichText;
use egui_plot::{Legend, Line, Plot, PlotPoints, Points};

use crate::lab::LabState;

use super::theme;

/// Draws the plot.
pub fn plot_ui(ui: &mut egui::Ui, state: &LabState) {
    let Some(start) = state.exchanges.front().map(|r| r.exchange.sent_at) else {
        ui.label(
            RichText::new(
                "No visits yet — each browser's views count will be drawn here over time.",
            )
            .weak(),
        );
        return;
    };
    let mut series: Vec<(String, usize, Vec<[f64; 2]>)> = Vec::new();
    for record in &state.exchanges {
        let Some(views) = record.views() else {
            continue;
        };
        let x = (record.exchange.sent_at - start).as_seconds_f64();
        match series.iter_mut().find(|(name, ..)| *name == record.name) {
            Some((_, _, points)) => points.push([x, views as f64]),
            None => series.push((record.name.clone(), record.colour, vec![[x, views as f64]])),
        }
    }
    Plot::new("views")
        .legend(Legend::default())
        .x_axis_label("seconds since the first visit")
        .y_axis_label("Number of views")
        .include_y(0.0)
        .allow_scroll(false)
        .show(ui, |plot| {
            for (name, colour, points) in series {
                let colour = theme::browser_colour(colour);
                plot.line(
                    Line::new(format!("Browser {name}"), PlotPoints::from(points.clone()))
                        .color(colour)
                        .width(2.0),
                );
                plot.points(
                    Points::new(format!("Browser {name}"), PlotPoints::from(points))
                        .color(colour)
                        .radius(3.0),
                );
            }
        });
}
