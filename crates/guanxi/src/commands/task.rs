//! `guanxi task …`: the service tasks program steps created for staff — list and close.

use chrono::Utc;

use crate::cli::{Global, TaskCommand};
use crate::commands::customer::{actor, lookup, source};
use crate::commands::default_db;
use crate::open::open;
use crate::output::{done, report};
use guanxi_app::access::Actor;

pub async fn run(global: &Global, cmd: TaskCommand) -> anyhow::Result<()> {
    let o = open(global, default_db()).await?;
    match cmd {
        TaskCommand::List {
            all,
            customer,
            source: src,
            limit,
        } => {
            let customer = match customer {
                Some(id) => Some(lookup(&o, &id, &source(&src)?, true).await?),
                None => None,
            };
            let tasks = guanxi_app::tasks::list(o.store.as_ref(), all, customer, limit).await?;
            let tz = o.tz;
            report(global.json, &tasks, |tasks| {
                if tasks.is_empty() {
                    return "no open tasks\n".into();
                }
                tasks
                    .iter()
                    .map(|t| {
                        let when =
                            |at: chrono::DateTime<Utc>| at.with_timezone(&tz.0).format("%Y-%m-%d %H:%M").to_string();
                        let state = t
                            .done_at
                            .map(|d| format!("done {}", when(d)))
                            .unwrap_or_else(|| "open".into());
                        format!(
                            "{}  due {}  {}  {} ({})  {}  [{}]\n",
                            t.key,
                            when(t.due_at),
                            state,
                            t.customer_name.as_deref().unwrap_or("-"),
                            t.customer_external_id,
                            t.task,
                            t.program
                        )
                    })
                    .collect()
            })
        }
        TaskCommand::Done { key, actor: who } => {
            let by = Actor {
                name: actor(who),
                origin: "cli".into(),
            };
            let task = guanxi_app::tasks::close(o.store.as_ref(), &key, &by, Utc::now()).await?;
            done(
                global.json,
                format!("task {key} closed: {task}"),
                serde_json::json!({"task": key, "text": task}),
            )
        }
    }
}
