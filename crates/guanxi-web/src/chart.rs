//! Charts drawn on the server as inline SVG: they need no script and no network, print,
//! and read the same in every browser. Each bar carries its figure as a label and as a
//! tooltip (`<title>`), and the chart an accessible name.

use guanxi_domain::profile::Tier;
use guanxi_store::{ClassTotal, ClvBucket};
use maud::{Markup, html};

use crate::Lang;

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

/// A line over periods (e.g. a rate by quarter), each point labelled with its figure.
pub fn line(title: &str, points: &[(String, f64)], format: impl Fn(f64) -> String) -> Markup {
    const WIDTH: f64 = 640.0;
    const HEIGHT: f64 = 220.0;
    const PAD: f64 = 36.0;
    let max = points
        .iter()
        .map(|(_, v)| *v)
        .fold(0.0f64, f64::max)
        .max(f64::MIN_POSITIVE);
    let step = if points.len() > 1 {
        (WIDTH - 2.0 * PAD) / (points.len() - 1) as f64
    } else {
        0.0
    };
    let xy: Vec<(f64, f64)> = points
        .iter()
        .enumerate()
        .map(|(i, (_, v))| (PAD + step * i as f64, HEIGHT - PAD - (HEIGHT - 2.0 * PAD) * v / max))
        .collect();
    let path: Vec<String> = xy.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
    // Every label when they fit, else about ten.
    let every = points.len().div_ceil(10).max(1);
    html! {
        figure.chart {
            figcaption { (title) }
            svg role="img" aria-label=(title) viewBox=(format!("0 0 {WIDTH} {HEIGHT}")) width=(WIDTH) height=(HEIGHT) {
                line x1=(PAD) y1=(HEIGHT - PAD) x2=(WIDTH - PAD) y2=(HEIGHT - PAD) stroke="#c5cad3" {}
                polyline points=(path.join(" ")) fill="none" stroke="#3b6fd8" stroke-width="2" {}
                @for (i, ((label, value), (x, y))) in points.iter().zip(&xy).enumerate() {
                    g {
                        title { (label) ": " (format(*value)) }
                        circle cx=(x) cy=(y) r="4" fill="#3b6fd8" {}
                        @if i % every == 0 || i + 1 == points.len() {
                            text x=(x) y=(y - 8.0) text-anchor="middle" { (format(*value)) }
                            text x=(x) y=(HEIGHT - PAD + 16.0) text-anchor="middle" { (label) }
                        }
                    }
                }
            }
        }
    }
}

/// The value pyramid: one band per tier, the top tier first and narrowest (the shape is
/// the model's, not the counts'), each labelled with its customers and share of profit.
pub fn pyramid(title: &str, tiers: &[(String, u64, f64)]) -> Markup {
    const WIDTH: f64 = 560.0;
    const ROW: f64 = 40.0;
    const TOP: f64 = 220.0;
    let height = ROW * tiers.len() as f64 + 8.0;
    let width_at = |i: usize| TOP + (WIDTH - 20.0 - TOP) * i as f64 / tiers.len().max(1) as f64;
    html! {
        figure.chart {
            figcaption { (title) }
            svg role="img" aria-label=(title) viewBox=(format!("0 0 {WIDTH} {height}")) width=(WIDTH) height=(height) {
                @for (i, (label, customers, share)) in tiers.iter().enumerate() {
                    @let (top, bottom) = (width_at(i), width_at(i + 1));
                    @let y = 4.0 + ROW * i as f64;
                    @let text = format!("{label}: {customers} · {:.1}%", share * 100.0);
                    @let (c, h) = (WIDTH / 2.0, ROW - 4.0);
                    g {
                        title { (text) }
                        polygon points=(format!("{},{y} {},{y} {},{} {},{}", c - top / 2.0, c + top / 2.0, c + bottom / 2.0, y + h, c - bottom / 2.0, y + h)) {}
                        text.inverse x=(c) y=(y + h / 2.0 + 4.0) text-anchor="middle" { (text) }
                    }
                }
            }
        }
    }
}

/// The loyalty × profit quadrant: four cells (loyal on the right, profitable on top),
/// each with its customers and profit; the dot's area follows the customers.
pub fn quadrant(title: &str, cells: [(String, u64, String); 4], axes: (&str, &str)) -> Markup {
    const SIZE: f64 = 360.0;
    const HALF: f64 = SIZE / 2.0;
    let max = cells.iter().map(|c| c.1).max().unwrap_or(0).max(1) as f64;
    // Order: top-left, top-right, bottom-left, bottom-right.
    let origin = [(0.0, 0.0), (HALF, 0.0), (0.0, HALF), (HALF, HALF)];
    html! {
        figure.chart {
            figcaption { (title) }
            svg role="img" aria-label=(title) viewBox=(format!("-20 0 {} {}", SIZE + 20.0, SIZE + 20.0)) width=(SIZE + 20.0) height=(SIZE + 20.0) {
                @for ((label, customers, profit), (x, y)) in cells.iter().zip(origin) {
                    @let r = 8.0 + 52.0 * (*customers as f64 / max).sqrt();
                    g {
                        title { (label) ": " (customers) " · " (profit) }
                        rect.cell x=(x + 2.0) y=(y + 2.0) width=(HALF - 4.0) height=(HALF - 4.0) {}
                        circle cx=(x + HALF / 2.0) cy=(y + HALF / 2.0 + 10.0) r=(r) {}
                        text x=(x + 8.0) y=(y + 20.0) { (label) }
                        text x=(x + 8.0) y=(y + HALF - 26.0) { (customers) }
                        text x=(x + 8.0) y=(y + HALF - 10.0) { (profit) }
                    }
                }
                text x=(HALF) y=(SIZE + 16.0) text-anchor="middle" { (axes.0) " →" }
                text x="-6" y=(HALF) text-anchor="middle" transform=(format!("rotate(-90 -6 {HALF})")) { (axes.1) " →" }
            }
        }
    }
}

/// A table whose cells are shaded by their value in [0, 1] (cohort retention, a movement
/// matrix's shares); the text of each cell is shown as given.
pub fn heatmap(caption: &str, corner: &str, columns: &[String], rows: &[(String, Vec<(f64, String)>)]) -> Markup {
    html! {
        table.heatmap {
            caption { (caption) }
            thead { tr { th scope="col" { (corner) } @for c in columns { th scope="col" { (c) } } } }
            tbody {
                @for (label, cells) in rows {
                    tr {
                        th scope="row" { (label) }
                        @for (share, text) in cells {
                            @let alpha = share.clamp(0.0, 1.0);
                            td.num style=(format!("background: rgba(59, 111, 216, {alpha:.3}); color: {}", if alpha > 0.55 { "#fff" } else { "#1d2330" })) title=(text) { (text) }
                        }
                    }
                }
            }
        }
    }
}

/// The value pyramid of a build's class totals (the tier rows of `totals`): customers and
/// share of the tiers' profit per tier, the top tier first whatever the store's order.
pub fn value_pyramid(lang: Lang, totals: &[ClassTotal]) -> Markup {
    let tiers: Vec<&ClassTotal> = totals.iter().filter(|t| t.kind == "tier").collect();
    let total_profit: i64 = tiers.iter().map(|t| t.profit_cents.max(0)).sum();
    let rows: Vec<(String, u64, f64)> = Tier::ALL
        .iter()
        .filter_map(|k| tiers.iter().find(|t| t.class == k.as_str()))
        .map(|t| {
            let share = if total_profit > 0 {
                t.profit_cents.max(0) as f64 / total_profit as f64
            } else {
                0.0
            };
            (lang.class("tier", &t.class), t.customers, share)
        })
        .collect();
    pyramid(&lang.t("chart-tier"), &rows)
}

/// Customers per predicted-CLV bucket, labelled in yuan.
pub fn clv_bars(lang: Lang, buckets: &[ClvBucket]) -> Markup {
    let rows: Vec<(String, f64)> = buckets
        .iter()
        .map(|b| {
            let from = b.from_cents / 100;
            let label = b
                .to_cents
                .map_or(format!("{from}+"), |to| format!("{from}–{}", to / 100));
            (label, b.customers as f64)
        })
        .collect();
    bars(&lang.t("chart-clv"), &rows, |v| format!("{v:.0}"))
}
