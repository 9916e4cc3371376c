//! Charts as SVG written on the server: no script, no external request, colours from the
//! stylesheet's classes (`.chart .actual`, `.chart .ideal`, …), so they follow the light and
//! dark colour schemes. Only numbers and escaped text reach the markup.

use std::fmt::Write as _;

use crate::notify::render::escape_html;

/// Width and height of the drawing, in SVG user units (the page scales it).
const W: f64 = 640.0;
const H: f64 = 240.0;
/// Room for the axis labels.
const LEFT: f64 = 48.0;
const BOTTOM: f64 = 28.0;
const TOP: f64 = 12.0;
const RIGHT: f64 = 12.0;

/// One day of a burn-down: the budget left at its end, as a ratio (1 = the whole budget left,
/// 0 = spent, below 0 = overspent).
pub struct BurnPoint {
    /// The day's label on the x axis (`12-01`).
    pub label: String,
    pub actual: f64,
}

/// A burn-down chart of an error budget (the SRE workbook's "budget remaining" over the
/// window): the actual line against the ideal (a steady burn that spends the budget exactly at
/// the window's end), from a full budget at the window's start. The y axis runs from 100 % down
/// to 0 %, or below when the budget is overspent. `title` is the chart's accessible name.
pub fn burn_down(title: &str, points: &[BurnPoint], days_in_window: usize) -> String {
    let floor = points
        .iter()
        .map(|p| p.actual)
        .fold(0.0_f64, f64::min)
        .max(-10.0);
    // The y range: [floor, 1], rounded down to a quarter.
    let low = (floor * 4.0).floor() / 4.0;
    let span = (1.0 - low).max(f64::EPSILON);
    let days = days_in_window.max(1) as f64;
    let x = |day: f64| LEFT + (W - LEFT - RIGHT) * day / days;
    let y = |ratio: f64| TOP + (H - TOP - BOTTOM) * (1.0 - ratio.clamp(low, 1.0)) / span;
    let mut svg = String::with_capacity(4096);
    let _ = write!(
        svg,
        "<svg class=\"chart\" viewBox=\"0 0 {W} {H}\" role=\"img\" aria-labelledby=\"chart-title\" xmlns=\"http://www.w3.org/2000/svg\"><title id=\"chart-title\">{}</title>",
        escape_html(title)
    );
    // Grid lines and their labels: 100 %, and multiples of a round step (at most eight).
    for r in ticks(low) {
        let _ = write!(
            svg,
            "<line class=\"grid\" x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\"/><text class=\"axis\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{:.0}%</text>",
            W - RIGHT,
            LEFT - 6.0,
            y(r) + 4.0,
            r * 100.0,
            y = y(r),
        );
    }
    // The ideal line over the whole window, the actual one over the days so far.
    let _ = write!(
        svg,
        "<line class=\"ideal\" x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\"/>",
        x(0.0),
        y(1.0),
        x(days),
        y(0.0)
    );
    let mut path = format!("M{:.1},{:.1}", x(0.0), y(1.0));
    for (i, p) in points.iter().enumerate() {
        let _ = write!(path, " L{:.1},{:.1}", x(i as f64 + 1.0), y(p.actual));
    }
    let _ = write!(svg, "<path class=\"actual\" d=\"{path}\"/>");
    // A label on the first, middle and last day so far.
    let n = points.len();
    let mut labelled: Vec<usize> = vec![0, n / 2, n.saturating_sub(1)];
    labelled.dedup();
    for i in labelled.into_iter().filter(|i| *i < n) {
        // The last day's label ends at its point, so it stays inside the drawing.
        let anchor = if i + 1 == n { "end" } else { "middle" };
        let _ = write!(
            svg,
            "<text class=\"axis\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\">{}</text>",
            x(i as f64 + 1.0),
            H - 8.0,
            escape_html(&points[i].label)
        );
    }
    let _ = write!(
        svg,
        "<text class=\"legend actual-text\" x=\"{:.1}\" y=\"{:.1}\">actual</text><text class=\"legend ideal-text\" x=\"{:.1}\" y=\"{:.1}\">ideal</text></svg>",
        W - RIGHT - 110.0,
        TOP + 14.0,
        W - RIGHT - 50.0,
        TOP + 14.0
    );
    svg
}

/// The y axis' ticks from 100 % down to `low`: 100 %, then the multiples of the roundest step
/// (25 %, 50 %, 100 %, 200 %, 250 % or 500 %) that gives at most eight of them.
fn ticks(low: f64) -> Vec<f64> {
    let span = 1.0 - low;
    let step = [0.25, 0.5, 1.0, 2.0, 2.5, 5.0]
        .into_iter()
        .find(|s| span / s <= 8.0)
        .unwrap_or(5.0);
    let mut out = vec![1.0];
    let mut k = (1.0 / step).ceil() - 1.0;
    while k * step >= low - 1e-9 {
        out.push(k * step);
        k -= 1.0;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(label: &str, actual: f64) -> BurnPoint {
        BurnPoint {
            label: label.into(),
            actual,
        }
    }

    #[test]
    fn the_actual_line_has_a_point_a_day_and_the_ideal_spans_the_window() {
        let svg = burn_down("budget <left>", &[day("12-01", 0.9), day("12-02", 0.5)], 30);
        assert!(svg.starts_with("<svg class=\"chart\""), "{svg}");
        assert!(svg.contains("<title id=\"chart-title\">budget &lt;left&gt;</title>"));
        // Start plus two days.
        let path = svg.split("class=\"actual\" d=\"").nth(1).unwrap();
        let path = &path[..path.find('"').unwrap()];
        assert_eq!(path.matches(['M', 'L']).count(), 3, "{path}");
        // The ideal line runs from the top left to 0 % at the window's right edge.
        assert!(svg.contains(&format!(
            "<line class=\"ideal\" x1=\"{LEFT:.1}\" y1=\"{TOP:.1}\" x2=\"{:.1}\" y2=\"{:.1}\"/>",
            W - RIGHT,
            H - BOTTOM
        )));
        assert!(svg.contains(">12-01<") && svg.contains(">12-02<"));
        assert!(!svg.contains("style="), "colours come from the stylesheet");
    }

    #[test]
    fn the_axis_has_at_most_nine_round_ticks() {
        assert_eq!(ticks(0.0), vec![1.0, 0.75, 0.5, 0.25, 0.0]);
        assert_eq!(
            ticks(-0.75),
            vec![1.0, 0.75, 0.5, 0.25, 0.0, -0.25, -0.5, -0.75]
        );
        let deep = ticks(-10.0);
        assert_eq!(deep[..3], [1.0, 0.0, -2.0]);
        assert_eq!(*deep.last().unwrap(), -10.0);
        assert!(deep.len() <= 9);
    }

    #[test]
    fn an_overspent_budget_extends_the_axis_below_zero() {
        let svg = burn_down("b", &[day("11-01", -0.6)], 30);
        assert!(svg.contains(">-75%<"), "{svg}");
        assert!(svg.contains(">100%<") && svg.contains(">0%<"));
        let within = burn_down("b", &[day("11-01", 0.4)], 30);
        assert!(!within.contains(">-25%<"), "{within}");
    }
}
