//! The views plot: each browser's "Number of views" over time, one line per browser in its
//! colour — the diverging counters as a picture. Only the browsers that exist are drawn, by
//! their names now; only counter pages count (a page whose words end with its count, not the
//! digits of an id on /whoami); time is the lab's clock with its jumps taken out and marked, so
//! one "+1 h" is a dashed line, not an hour of empty axis.

use egui::RichText;
use egui_plot::{Legend, Line, LineStyle, Plot, PlotPoint, PlotPoints, Points, Text, VLine};
use time::{Duration, OffsetDateTime};

use crate::lab::{LabState, text::duration_text};

use super::theme;

/// One browser's line: its title, its colour, and its counter pages (when, how many views).
type Series = (String, usize, Vec<(OffsetDateTime, u64)>);

/// Seconds from `start` to `at` on the lab's clock, less the clock's jumps in between.
fn seconds_without_jumps(
    start: OffsetDateTime,
    at: OffsetDateTime,
    moves: &std::collections::VecDeque<(OffsetDateTime, Duration)>,
) -> f64 {
    let jumped: Duration = moves
        .iter()
        .filter(|(moved_at, _)| *moved_at > start && *moved_at <= at)
        .map(|(_, by)| *by)
        .sum();
    (at - start - jumped).as_seconds_f64()
}

/// Draws the plot.
pub fn plot_ui(ui: &mut egui::Ui, state: &LabState) {
    // Each existing browser's counter pages, in order.
    let mut series: Vec<Series> = state
        .browsers
        .iter()
        .map(|b| (b.title(), b.colour, Vec::new()))
        .collect();
    for record in &state.exchanges {
        let Some(index) = state.browsers.iter().position(|b| b.id == record.browser) else {
            continue;
        };
        if let Some(views) = record.views() {
            series[index].2.push((record.exchange.sent_at, views));
        }
    }
    let Some(start) = series
        .iter()
        .filter_map(|(_, _, points)| points.first().map(|(at, _)| *at))
        .min()
    else {
        ui.label(
            RichText::new(
                "No counter pages yet — each browser's views count will be drawn here over time.",
            )
            .weak(),
        );
        return;
    };
    let end = series
        .iter()
        .filter_map(|(_, _, points)| points.last().map(|(at, _)| *at))
        .max()
        .unwrap_or(start);
    let top = series
        .iter()
        .flat_map(|(_, _, points)| points.iter().map(|(_, views)| *views))
        .max()
        .unwrap_or(1) as f64;
    let jumps: Vec<(f64, Duration)> = state
        .clock_moves
        .iter()
        .filter(|(at, by)| *at > start && *at <= end && by.is_positive())
        .map(|(at, by)| (seconds_without_jumps(start, *at, &state.clock_moves), *by))
        .collect();
    let weak = ui.visuals().weak_text_color();
    Plot::new("views")
        .legend(Legend::default())
        .x_axis_label("seconds of visits (the lab clock's jumps left out, dashed)")
        .y_axis_label("Number of views")
        .include_y(0.0)
        .allow_scroll(false)
        .show(ui, |plot| {
            for (x, by) in &jumps {
                plot.vline(
                    VLine::new("Lab clock moved ahead", *x)
                        .color(weak)
                        .style(LineStyle::dashed_loose()),
                );
                plot.text(
                    Text::new(
                        "Lab clock moved ahead",
                        PlotPoint::new(*x, top * 1.05),
                        format!("clock +{}", duration_text(*by)),
                    )
                    .color(weak),
                );
            }
            for (name, colour, points) in series {
                if points.is_empty() {
                    continue;
                }
                let points: Vec<[f64; 2]> = points
                    .iter()
                    .map(|(at, views)| {
                        [
                            seconds_without_jumps(start, *at, &state.clock_moves),
                            *views as f64,
                        ]
                    })
                    .collect();
                let colour = theme::browser_colour(colour);
                plot.line(
                    Line::new(name.clone(), PlotPoints::from(points.clone()))
                        .color(colour)
                        .width(2.0),
                );
                plot.points(
                    Points::new(name, PlotPoints::from(points))
                        .color(colour)
                        .radius(3.0),
                );
            }
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A jump of the clock between two visits is taken out of the time between them.
    #[test]
    fn the_clocks_jumps_are_left_out() {
        let start = OffsetDateTime::UNIX_EPOCH;
        let moves = [(start + Duration::seconds(65), Duration::hours(1))].into();
        let after = start + Duration::seconds(3600 + 70);
        assert_eq!(seconds_without_jumps(start, after, &moves), 70.0);
        assert_eq!(
            seconds_without_jumps(start, start + Duration::seconds(30), &moves),
            30.0
        );
    }
}
