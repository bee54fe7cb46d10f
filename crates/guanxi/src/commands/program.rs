//! `guanxi program …`: the engagement programs.

use guanxi_domain::program::{Action, Program, Trigger, builtin};

use crate::cli::{Global, ProgramCommand};
use crate::output::report;

pub fn run(global: &Global, cmd: ProgramCommand) -> anyhow::Result<()> {
    match cmd {
        ProgramCommand::List => {
            let programs = builtin();
            report(global.json, &programs, |ps| ps.iter().map(text).collect())
        }
    }
}

/// One program as text: its name, title, priority, trigger and steps.
fn text(p: &Program) -> String {
    let trigger = match &p.trigger {
        Trigger::Order(e) => format!("order {e:?}"),
        Trigger::Became { kind, class } => format!("became {kind} = {class}"),
        Trigger::Date(d) => format!("date {d}"),
        Trigger::Segment(s) => format!("segment {s}"),
    };
    let mut out = format!("{} — {} ({:?}; {trigger})\n", p.name, p.title, p.priority);
    for s in &p.steps {
        let wait = s.after.to_string();
        let from = s.on.map_or(String::new(), |e| format!(" after {e:?}"));
        let action = match &s.action {
            Action::Send { send, template } => format!("send {send} {template}"),
            Action::AddTag { add_tag } => format!("add tag {add_tag}"),
            Action::RemoveTag { remove_tag } => format!("remove tag {remove_tag}"),
            Action::Coupon { coupon } => format!("grant coupon {coupon}"),
            Action::Points { points } => format!("grant {points} points"),
            Action::Task { task } => format!("service task: {task}"),
        };
        out += &format!("  {:<10} {wait:>5}{from}: {action}\n", s.name);
    }
    if !p.stop_on.is_empty() {
        out += &format!("  stops on {:?}\n", p.stop_on);
    }
    out
}
