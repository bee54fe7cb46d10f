//! Charts drawn on the server as inline SVG: they need no script and no network, print,
//! and read the same in every browser. Each bar carries its figure as a label and as a
//! tooltip (`<title>`), and the chart an accessible name.

use maud::{Markup, html};

/// A horizontal bar chart of (label, value) with the values printed by `format`.
pub fn bars(title: &str, rows: &[(String, f64)], format: impl Fn(f64) -> String) -> Markup {
    const ROW: f64 = 26.0;
    const LABEL: f64 = 130.0;
    const WIDTH: f64 = 460.0;
    let max = rows.iter().map(|(_, v)| *v).fold(0.0f64, f64::max);
    let height = ROW * rows.len() as f64 + 8.0;
    let bar_space = WIDTH - LABEL - 70.0;
    html! {
        figure.chart {
            figcaption { (title) }
            svg role="img" aria-label=(title) viewBox=(format!("0 0 {WIDTH} {height}")) width=(WIDTH) height=(height) {
                @for (i, (label, value)) in rows.iter().enumerate() {
                    @let y = 4.0 + ROW * i as f64;
                    @let w = if max > 0.0 { bar_space * value / max } else { 0.0 };
                    g {
                        title { (label) ": " (format(*value)) }
                        text x=(LABEL - 6.0) y=(y + 16.0) text-anchor="end" { (label) }
                        rect x=(LABEL) y=(y + 3.0) width=(w.max(1.0)) height=(ROW - 8.0) rx="2" {}
                        text x=(LABEL + w + 6.0) y=(y + 16.0) { (format(*value)) }
                    }
                }
            }
        }
    }
}
