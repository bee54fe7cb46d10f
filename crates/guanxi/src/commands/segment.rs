//! `guanxi segment count|list|explain|save|delete|saved`: segments over the stored profiles.

use std::time::Instant;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use guanxi_domain::segment::{Expr, SaveError};
use guanxi_domain::{CustomerKey, Source};
use guanxi_store::SavedSegment;
use guanxi_store::segment::Resolved;
use serde::Serialize;

use crate::cli::{Global, SegmentCommand};
use crate::commands::default_db;
use crate::open::{Opened, open};
use crate::output::{BadInput, done, report};

fn syntax(text: &str, origin: &str, e: guanxi_domain::segment::SegmentError) -> anyhow::Error {
    BadInput {
        code: "segment_syntax",
        message: format!("the segment expression is not valid\n{}", e.render(text, origin)),
    }
    .into()
}

/// `asked` (a saved segment's name or an expression) resolved by the one use case.
pub(crate) async fn resolve(o: &Opened, asked: &str) -> anyhow::Result<Resolved> {
    Ok(guanxi_app::segments::resolve(o.store.as_ref(), asked, "expression").await?)
}

/// The as-of moment of the current build: behaviour windows end there.
pub(crate) async fn as_of(o: &Opened) -> anyhow::Result<DateTime<Utc>> {
    Ok(guanxi_app::profiles::current_build(o.store.as_ref()).await?.as_of)
}

#[derive(Serialize)]
struct Counted {
    expression: String,
    customers: u64,
    as_of: DateTime<Utc>,
    elapsed_ms: f64,
}

#[derive(Serialize)]
struct Node {
    depth: usize,
    node: String,
    customers: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    held: Option<bool>,
}

#[derive(Serialize)]
struct Explained {
    expression: String,
    /// Nested segments inlined: what is evaluated.
    evaluated: String,
    as_of: DateTime<Utc>,
    plan: Vec<Node>,
}

/// (depth, label) of every node, in the order of `guanxi_store::segment::nodes`.
fn labels(e: &Expr, depth: usize, out: &mut Vec<(usize, String)>) {
    match e {
        Expr::Or(l, r) | Expr::And(l, r) => {
            out.push((depth, if matches!(e, Expr::Or(..)) { "or" } else { "and" }.into()));
            labels(l, depth + 1, out);
            labels(r, depth + 1, out);
        }
        Expr::Not(x) => {
            out.push((depth, "not".into()));
            labels(x, depth + 1, out);
        }
        Expr::Cond(c) => out.push((depth, c.to_string())),
    }
}

pub async fn run(global: &Global, cmd: SegmentCommand) -> anyhow::Result<()> {
    let o = open(global, default_db()).await?;
    match cmd {
        SegmentCommand::Count { expr } => {
            let r = resolve(&o, &expr).await?;
            let as_of = as_of(&o).await?;
            let started = Instant::now();
            let customers = o.store.segment_count(&r.expr, as_of).await?;
            let c = Counted {
                expression: r.text,
                customers,
                as_of,
                elapsed_ms: started.elapsed().as_secs_f64() * 1000.0,
            };
            report(global.json, &c, |c| {
                format!(
                    "{} customers ({:.1} ms, as of {})\n",
                    c.customers, c.elapsed_ms, c.as_of
                )
            })
        }
        SegmentCommand::List { expr, limit, after } => {
            let m = guanxi_app::segments::members(o.store.as_ref(), &expr, "expression", after, limit).await?;
            report(global.json, &m, |m| {
                let mut out = String::new();
                for c in &m.members {
                    out += &format!(
                        "#{:<8} {}:{}  {}\n",
                        c.id,
                        c.source,
                        c.external_id,
                        c.name.as_deref().unwrap_or("")
                    );
                }
                if let Some(n) = m.next_after {
                    out += &format!("more: --after {n}\n");
                }
                out
            })
        }
        SegmentCommand::Explain { expr, customer, source } => {
            let r = resolve(&o, &expr).await?;
            let as_of = as_of(&o).await?;
            let who = match customer {
                Some(id) => {
                    let key = CustomerKey {
                        source: Source::parse(&source).map_err(|e| anyhow::anyhow!("--source: {e}"))?,
                        external_id: id.clone(),
                    };
                    Some(
                        o.store
                            .customer_id(&key)
                            .await?
                            .with_context(|| format!("no customer {id:?} in source {source:?}"))?,
                    )
                }
                None => None,
            };
            let plan = o.store.segment_plan(&r.expr, as_of, who).await?;
            let mut l = Vec::new();
            labels(&r.expr, 0, &mut l);
            let nodes = l
                .into_iter()
                .enumerate()
                .map(|(i, (depth, node))| Node {
                    depth,
                    node,
                    customers: plan.counts.get(i).copied().unwrap_or_default(),
                    held: plan.held.as_ref().and_then(|h| h.get(i).copied()),
                })
                .collect();
            let e = Explained {
                expression: r.text,
                evaluated: r.expr.to_string(),
                as_of,
                plan: nodes,
            };
            report(global.json, &e, |e| {
                let mut out = format!("{}\nas of {}; each condition alone:\n", e.evaluated, e.as_of);
                for n in &e.plan {
                    let mark = match n.held {
                        Some(true) => "✓ ",
                        Some(false) => "✗ ",
                        None => "",
                    };
                    out += &format!("{}{mark}{}  [{}]\n", "  ".repeat(n.depth + 1), n.node, n.customers);
                }
                out
            })
        }
        SegmentCommand::Save {
            name,
            expr,
            description,
        } => {
            let parsed = guanxi_app::segments::save(
                o.store.as_ref(),
                &name,
                &expr,
                &description,
                &guanxi_app::access::Actor::cli(),
            )
            .await?
            .map_err(|e| match e {
                SaveError::NoName => BadInput {
                    code: "segment_name",
                    message: e.to_string(),
                }
                .into(),
                SaveError::Syntax(e) => syntax(&expr, "expression", e),
                SaveError::Reference(e) => anyhow::Error::from(BadInput {
                    code: "segment_reference",
                    message: e.to_string(),
                }),
            })?
            .expression;
            done(
                global.json,
                format!("saved segment '{name}': {parsed}"),
                serde_json::json!({ "name": name, "expression": parsed }),
            )
        }
        SegmentCommand::Delete { name } => {
            let users = guanxi_engage::schedule::programs_using(o.store.as_ref(), &name).await?;
            if !users.is_empty() {
                return Err(crate::output::BadInput {
                    code: "segment_in_use",
                    message: format!(
                        "segment '{name}' is used by program{} {}: disable {} first (guanxi program disable NAME)",
                        if users.len() == 1 { "" } else { "s" },
                        users.iter().map(|u| format!("'{u}'")).collect::<Vec<_>>().join(", "),
                        if users.len() == 1 { "it" } else { "them" }
                    ),
                }
                .into());
            }
            if !o.store.delete_segment(&name).await? {
                anyhow::bail!("no saved segment is named '{name}'");
            }
            guanxi_app::access::record(
                o.store.as_ref(),
                &guanxi_app::access::Actor::cli(),
                "segment.delete",
                format!("segment:{name}"),
                String::new(),
            )
            .await?;
            done(
                global.json,
                format!("deleted segment '{name}'"),
                serde_json::json!({ "name": name }),
            )
        }
        SegmentCommand::Saved => {
            let segments = o.store.segments().await?;
            #[derive(Serialize)]
            struct Row {
                #[serde(flatten)]
                segment: SavedSegment,
                customers: Option<u64>,
            }
            let as_of = o.store.latest_build().await?.map(|b| b.as_of);
            let mut rows = Vec::new();
            for s in segments {
                let customers = match as_of {
                    Some(t) => Some(o.store.segment_count(&resolve(&o, &s.name).await?.expr, t).await?),
                    None => None,
                };
                rows.push(Row { segment: s, customers });
            }
            report(global.json, &rows, |rows| {
                let mut out = String::new();
                for r in rows {
                    out += &format!(
                        "{}  [{}]  {}\n    {}\n",
                        r.segment.name,
                        r.customers.map_or("-".to_string(), |c| c.to_string()),
                        r.segment.description,
                        r.segment.expression
                    );
                }
                out
            })
        }
    }
}
