//! The page frame: language, navigation with the language switch, the stylesheet.

use maud::{DOCTYPE, Markup, PreEscaped, html};

use crate::i18n::Lang;

/// Inline, so that the server works offline and a page is one request.
const STYLE: &str = r#"
:root { font-family: system-ui, "PingFang SC", "Microsoft YaHei", sans-serif; color: #1d2330; }
body { margin: 0; background: #f6f7f9; }
header { color: #e8ecf3; display: flex; gap: 1.5rem; align-items: center; padding: .75rem 1.5rem; background: #1d2330; }
header a { color: #e8ecf3; text-decoration: none; }
header a[aria-current="page"] { font-weight: 700; text-decoration: underline; }
header .langs { margin-left: auto; display: flex; gap: .75rem; }
main { padding: 1.5rem; max-width: 1100px; }
.kpis { display: grid; grid-template-columns: repeat(auto-fill, minmax(180px, 1fr)); gap: 1rem; padding: 0; }
.kpis li { list-style: none; background: #fff; border-radius: 6px; padding: .75rem 1rem; }
.kpis .value { display: block; font-size: 1.6rem; font-weight: 600; }
.kpis .change { display: block; font-size: .85rem; }
.kpis .up { color: #1b7f3b; }
.kpis .down { color: #b3261e; }
.charts { display: flex; flex-wrap: wrap; gap: 1rem; }
.chart { background: #fff; border-radius: 6px; padding: .75rem; margin: 0; }
.chart rect, .chart polygon { fill: #3b6fd8; }
.chart text { font-size: 12px; fill: #1d2330; }
.chart text.inverse { fill: #fff; font-weight: 600; }
.chart rect.cell { fill: #eef2fb; }
.chart circle { fill: #3b6fd8; fill-opacity: .75; }
table.heatmap { width: auto; margin: 1rem 0; }
table.heatmap caption { text-align: left; font-weight: 600; padding: .35rem 0; }
table { border-collapse: collapse; background: #fff; width: 100%; }
th, td { text-align: left; padding: .35rem .6rem; border-bottom: 1px solid #e3e6eb; }
.error { color: #b3261e; white-space: pre-wrap; font-family: ui-monospace, monospace; }
.tabs { display: flex; gap: 1rem; padding: 0; list-style: none; }
[aria-current] { font-weight: 700; }
input[type=text] { width: 32rem; max-width: 100%; padding: .35rem; }
input[type=search] { width: 20rem; padding: .35rem; }
fieldset.classes { display: flex; flex-wrap: wrap; gap: .5rem 1rem; border: 1px solid #e3e6eb; background: #fff; }
section { margin-top: 1.5rem; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
a:focus, input:focus, button:focus { outline: 3px solid #f2b705; }
"#;

/// The current page, for the navigation's `aria-current`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    Dashboard,
    Customers,
    Reports,
    Programs,
    Campaigns,
    Tasks,
    Audit,
}

pub fn frame(lang: Lang, current: Page, path_and_query: &str, title: &str, body: Markup) -> Markup {
    // Only the pages the viewer's role may open.
    let viewer = crate::auth::viewer();
    let nav: Vec<_> = [
        (Page::Dashboard, "/", lang.t("nav-dashboard")),
        (Page::Customers, "/customers", lang.t("nav-customers")),
        (Page::Reports, "/reports", lang.t("nav-reports")),
        (Page::Programs, "/programs", lang.t("nav-programs")),
        (Page::Campaigns, "/campaigns", lang.t("nav-campaigns")),
        (Page::Tasks, "/tasks", lang.t("nav-tasks")),
        (Page::Audit, "/audit", lang.t("nav-audit")),
    ]
    .into_iter()
    .filter(|(_, href, _)| {
        viewer
            .as_ref()
            .is_none_or(|v| crate::auth::capability(false, href).is_none_or(|c| v.user.role.may(c)))
    })
    .collect();
    page(
        lang,
        title,
        html! {
                header {
                    strong { (lang.t("app-name")) }
                    nav aria-label=(lang.t("nav-dashboard")) {
                        @for (p, href, label) in &nav {
                            a href=(format!("{href}?lang={}", lang.code())) aria-current=[(*p == current).then_some("page")] { (label) } " "
                        }
                    }
                    @if let Some(v) = &viewer {
                        form.signout method="post" action="/logout" {
                            (lang.t1("signed-in-as", "name", v.user.name.clone())) " (" (v.user.role.as_str()) ")"
                            " "
                            (crate::auth::csrf_field())
                            button type="submit" { (lang.t("logout")) }
                        }
                    }
                    div.langs role="group" aria-label=(lang.t("language")) {
                        @for l in Lang::ALL {
                            a href=(with_lang(path_and_query, l)) hreflang=(l.code()) lang=(l.code())
                                aria-current=[(l == lang).then_some("true")] { (l.name()) }
                        }
                    }
                }
                main { h1 { (title) } (body) }
        },
    )
}

/// A whole page: the head (title, style) and `body`, in `lang`.
pub(crate) fn page(lang: Lang, title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · " (lang.t("app-name")) }
                style { (PreEscaped(STYLE)) }
            }
            body { (body) }
        }
    }
}

/// A page that says there is no profile build yet, and how to make one.
pub fn no_build(lang: Lang, current: Page, path_and_query: &str, title: &str) -> Markup {
    frame(
        lang,
        current,
        path_and_query,
        title,
        html! { p { (lang.t("no-build")) } },
    )
}

/// The same page in language `l`: `lang=` replaced in the query.
fn with_lang(path_and_query: &str, l: Lang) -> String {
    let (path, query) = path_and_query.split_once('?').unwrap_or((path_and_query, ""));
    let mut parts: Vec<String> = query
        .split('&')
        .filter(|p| !p.is_empty() && !p.starts_with("lang="))
        .map(str::to_string)
        .collect();
    parts.push(format!("lang={}", l.code()));
    format!("{path}?{}", parts.join("&"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_switch_keeps_the_query() {
        assert_eq!(
            super::with_lang("/customers?q=tier%3D%27vip%27&lang=en", super::Lang::ZhCn),
            "/customers?q=tier%3D%27vip%27&lang=zh-CN"
        );
        assert_eq!(super::with_lang("/", super::Lang::En), "/?lang=en");
    }
}
