//! `--plot FILE.svg`: line charts, written as plain SVG (no font or drawing library
//! needed, so the demo builds anywhere).
//!
//! A chart is a stack of [`Panel`]s sharing the time axis, e.g. live tasks on top and
//! latency below.

use std::fmt::Write as _;

/// One line of a panel.
#[derive(Debug, Clone)]
pub struct Series {
    /// Legend text.
    pub name: String,
    /// An SVG colour.
    pub color: &'static str,
    /// `(x, y)` points in x order.
    pub points: Vec<(f64, f64)>,
}

/// One chart panel.
#[derive(Debug, Clone)]
pub struct Panel {
    /// Panel title.
    pub title: String,
    /// What the y axis counts.
    pub y_label: String,
    /// The lines.
    pub series: Vec<Series>,
    /// Labelled vertical lines at these x values (e.g. where each route starts).
    pub markers: Vec<(f64, String)>,
}

const WIDTH: f64 = 960.0;
const PANEL_HEIGHT: f64 = 300.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 30.0;
const TOP: f64 = 60.0;
const BOTTOM: f64 = 50.0;

/// Colours for successive series.
pub const COLORS: [&str; 4] = ["#d62728", "#1f77b4", "#2ca02c", "#9467bd"];

/// Renders `panels` under `title`, with `x_label` on the shared x axis.
pub fn svg(title: &str, x_label: &str, panels: &[Panel]) -> String {
    let height = TOP + panels.len() as f64 * (PANEL_HEIGHT + BOTTOM) + 10.0;
    let x_max = nice_ceiling(
        panels
            .iter()
            .flat_map(|p| p.series.iter())
            .flat_map(|s| s.points.iter().map(|p| p.0))
            .fold(0.0, f64::max),
    );
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(out, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        out,
        r#"<text x="{}" y="28" text-anchor="middle" font-size="16" font-weight="bold">{}</text>"#,
        WIDTH / 2.0,
        escape(title)
    );
    for (i, panel) in panels.iter().enumerate() {
        let top = TOP + i as f64 * (PANEL_HEIGHT + BOTTOM);
        draw_panel(&mut out, panel, top, x_max, x_label);
    }
    out.push_str("</svg>\n");
    out
}

fn draw_panel(out: &mut String, panel: &Panel, top: f64, x_max: f64, x_label: &str) {
    let plot_w = WIDTH - LEFT - RIGHT;
    let bottom = top + PANEL_HEIGHT - 20.0;
    let plot_h = bottom - (top + 20.0);
    let y_max = nice_ceiling(
        panel
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.1))
            .fold(0.0, f64::max),
    );
    let x = |v: f64| LEFT + v / x_max * plot_w;
    let y = |v: f64| bottom - v / y_max * plot_h;

    let _ = writeln!(
        out,
        r#"<text x="{LEFT}" y="{}" font-size="14" font-weight="bold">{}</text>"#,
        top + 10.0,
        escape(&panel.title)
    );
    // Grid and ticks.
    for i in 0..=5 {
        let v = y_max * f64::from(i) / 5.0;
        let _ = writeln!(
            out,
            r##"<line x1="{LEFT}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">{}</text>"##,
            LEFT + plot_w,
            LEFT - 6.0,
            y(v) + 4.0,
            tick(v),
            y = y(v)
        );
        let t = x_max * f64::from(i) / 5.0;
        let _ = writeln!(
            out,
            r##"<line x1="{xx:.1}" x2="{xx:.1}" y1="{bottom}" y2="{}" stroke="#444"/><text x="{xx:.1}" y="{}" text-anchor="middle">{}</text>"##,
            bottom + 5.0,
            bottom + 18.0,
            tick(t),
            xx = x(t)
        );
    }
    let _ = writeln!(
        out,
        r##"<line x1="{LEFT}" x2="{}" y1="{bottom}" y2="{bottom}" stroke="#444"/><line x1="{LEFT}" x2="{LEFT}" y1="{}" y2="{bottom}" stroke="#444"/>"##,
        LEFT + plot_w,
        top + 20.0
    );
    let _ = writeln!(
        out,
        r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
        LEFT + plot_w / 2.0,
        bottom + 36.0,
        escape(x_label)
    );
    let _ = writeln!(
        out,
        r#"<text transform="translate(18 {:.1}) rotate(-90)" text-anchor="middle">{}</text>"#,
        (top + bottom) / 2.0,
        escape(&panel.y_label)
    );
    // Markers: a dashed line and a label at the top, turned to fit.
    for (mx, label) in &panel.markers {
        let _ = writeln!(
            out,
            r##"<line x1="{xx:.1}" x2="{xx:.1}" y1="{}" y2="{bottom}" stroke="#999" stroke-dasharray="4 3"/><text transform="translate({:.1} {}) rotate(-90)" text-anchor="end" fill="#555" font-size="11">{}</text>"##,
            top + 20.0,
            x(*mx) + 12.0,
            top + 24.0,
            escape(label),
            xx = x(*mx)
        );
    }
    // Lines and legend.
    for (i, series) in panel.series.iter().enumerate() {
        if !series.points.is_empty() {
            let mut path = String::new();
            for (j, (px, py)) in series.points.iter().enumerate() {
                let _ = write!(
                    path,
                    "{}{:.1},{:.1}",
                    if j == 0 { "M" } else { " L" },
                    x(*px),
                    y(*py)
                );
            }
            let _ = writeln!(
                out,
                r#"<path d="{path}" fill="none" stroke="{}" stroke-width="2"/>"#,
                series.color
            );
        }
        // Legends sit in a row above the plot area, right-aligned.
        let ly = top + 6.0;
        let lx = LEFT + plot_w - 150.0 * (panel.series.len() - i) as f64;
        let _ = writeln!(
            out,
            r#"<line x1="{lx}" x2="{}" y1="{ly}" y2="{ly}" stroke="{}" stroke-width="3"/><text x="{}" y="{}">{}</text>"#,
            lx + 20.0,
            series.color,
            lx + 26.0,
            ly + 4.0,
            escape(&series.name)
        );
    }
}

/// A round axis maximum at or above `v` (1, 2 or 5 times a power of ten).
fn nice_ceiling(v: f64) -> f64 {
    if v <= 0.0 || !v.is_finite() {
        return 1.0;
    }
    let magnitude = 10f64.powf(v.log10().floor());
    for step in [1.0, 2.0, 5.0, 10.0] {
        if step * magnitude >= v {
            return step * magnitude;
        }
    }
    10.0 * magnitude
}

fn tick(v: f64) -> String {
    if v == v.round() {
        format!("{v:.0}")
    } else if v >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_end_on_round_numbers() {
        assert_eq!(nice_ceiling(103.0), 200.0);
        assert_eq!(nice_ceiling(50.0), 50.0);
        assert_eq!(nice_ceiling(0.3), 0.5);
        assert_eq!(nice_ceiling(0.0), 1.0);
    }

    #[test]
    fn draws_every_series_with_a_legend() {
        let panel = Panel {
            title: "live tasks".into(),
            y_label: "tasks".into(),
            series: vec![
                Series {
                    name: "leaky <server>".into(),
                    color: COLORS[0],
                    points: vec![(0.0, 3.0), (1.0, 53.0), (2.0, 103.0)],
                },
                Series {
                    name: "fixed".into(),
                    color: COLORS[1],
                    points: vec![(0.0, 3.0), (2.0, 3.0)],
                },
            ],
            markers: vec![(1.0, "L1".into())],
        };
        let svg = svg("demo", "seconds", &[panel]);
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<path ").count(), 2);
        assert!(svg.contains("leaky &lt;server&gt;"));
        assert!(svg.contains(">L1</text>"));
    }
}
