//! Assembling orders from rows: the rows of one order are adjacent; they must agree on
//! the order-level fields; an order id is given once per import.

use std::collections::HashMap;

use guanxi_domain::{CustomerKey, Order, OrderKey, OrderLine, Source};

use crate::formats::{Head, OrderFormat, OrderRow};
use crate::problem::Problem;
use crate::table::Row;

/// A row kept for the rejects file, with its own problem if it had one.
pub(crate) type RawRow = (Problem, csv::ByteRecord);

/// What the assembler hands on when an order is complete.
// Orders are the common case and move once; boxing them would allocate per order.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Done {
    /// An order; `again` when an earlier file of the import gave it already (this file's
    /// version replaces that one).
    Order { order: Order, again: bool },
    /// The rows of an order that cannot be imported (kept only with a rejects file).
    Rejected(Vec<RawRow>),
}

struct Group {
    order_id: String,
    file: String,
    first_line: u64,
    head: Option<(Head, u64)>,
    lines: Vec<OrderLine>,
    /// Rows as read, for the rejects file; `None` for rows without a problem of their own.
    raw: Vec<(u64, Option<Problem>, csv::ByteRecord)>,
    bad: bool,
    /// An earlier file gave this order already.
    again: bool,
}

pub(crate) struct Assembler {
    source: Source,
    keep_raw: bool,
    current: Option<Group>,
    /// Orders interrupted by another order's rows, still open (at most `window - 1`).
    held: std::collections::VecDeque<Group>,
    /// How many orders may be open at once: 1 for exports whose rows of an order are
    /// adjacent; more for logs whose writers interleave concurrent invoices (the UCI
    /// Online Retail log), which `--map` reads.
    pub window: usize,
    /// Order ids seen in this import (by hash, to stay small) → file and line.
    seen: HashMap<u64, (u32, u64)>,
    files: Vec<String>,
}

fn id_hash(id: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64(id.as_bytes())
}

impl Assembler {
    pub fn new(source: Source, keep_raw: bool) -> Assembler {
        Assembler {
            source,
            keep_raw,
            current: None,
            held: std::collections::VecDeque::new(),
            window: 1,
            seen: HashMap::new(),
            files: Vec::new(),
        }
    }

    /// Whether this import gave the order `id`.
    pub fn seen(&self, id: &str) -> bool {
        self.seen.contains_key(&id_hash(id))
    }

    /// Takes one row (parsed, or the problem parsing it and the order id if known) and
    /// hands on what it completed: the previous order, and a lone rejected row.
    pub fn feed(
        &mut self,
        row: &Row<'_>,
        parsed: Result<OrderRow, (Option<String>, Problem)>,
        format: &dyn OrderFormat,
        report: &mut dyn FnMut(Problem),
    ) -> [Option<Done>; 2] {
        let (order_id, parsed) = match parsed {
            Ok(r) => (Some(r.order_id.clone()), Ok(r)),
            Err((id, p)) => (id, Err(p)),
        };
        let same = matches!((&self.current, &order_id), (Some(g), Some(id)) if &g.order_id == id);
        let mut out = [None, None];
        if !same {
            let resumed = order_id
                .as_ref()
                .and_then(|id| self.held.iter().position(|g| &g.order_id == id))
                .and_then(|i| self.held.remove(i));
            if let Some(g) = self.current.take() {
                self.held.push_back(g);
            }
            if self.held.len() >= self.window {
                let oldest = self.held.pop_front().expect("held is not empty");
                out[0] = self.complete(oldest, format, report);
            }
            match resumed {
                Some(g) => self.current = Some(g),
                None => {
                    if let Some(id) = &order_id {
                        self.start(id, row, report);
                    }
                }
            }
        }
        let raw = self.keep_raw.then(|| row.raw().clone());
        match parsed {
            Err(problem) => {
                report(problem.clone());
                match self.current.as_mut() {
                    Some(g) => {
                        g.bad = true;
                        if let Some(raw) = raw {
                            g.raw.push((row.at.line, Some(problem), raw));
                        }
                    }
                    // A row whose order id could not be read is rejected on its own.
                    None => out[1] = raw.map(|r| Done::Rejected(vec![(problem, r)])),
                }
            }
            Ok(r) => {
                let g = self.current.as_mut().expect("a group was started for this order id");
                let mut own = None;
                if let Some(head) = r.head {
                    match &g.head {
                        None => g.head = Some((head, row.at.line)),
                        Some((first, line)) => {
                            if let Some((field, there, here)) = first.differs(&head) {
                                let p = row.at.line(format!(
                                    "order {:?} has {field} {here} here but {there} at line {line}: one order id, conflicting data",
                                    g.order_id
                                ));
                                report(p.clone());
                                g.bad = true;
                                own = Some(p);
                            }
                        }
                    }
                }
                g.lines.push(r.line);
                g.lines.extend(r.more);
                if let Some(raw) = raw {
                    g.raw.push((row.at.line, own, raw));
                }
            }
        }
        out
    }

    /// An order given again in a later file is that file's version of it: files are read
    /// in the order given, as overlapping exports or cumulative snapshots (Taobao's) of
    /// one shop, and the later one stands. Within one file an order is given once.
    fn start(&mut self, id: &str, row: &Row<'_>, report: &mut dyn FnMut(Problem)) {
        if self.files.last() != Some(&row.at.file) {
            self.files.push(row.at.file.clone());
        }
        let file_index = (self.files.len() - 1) as u32;
        let mut bad = false;
        let mut again = false;
        match self.seen.get(&id_hash(id)) {
            Some(&(f, _)) if f < file_index => {
                again = true;
                self.seen.insert(id_hash(id), (file_index, row.at.line));
            }
            Some(&(f, line)) => {
                let where_ = if f == file_index {
                    format!("line {line}")
                } else {
                    format!("{}:{line}", self.files[f as usize])
                };
                report(row.at.line(format!(
                    "order {id:?} was already given at {where_}: the rows of an order must be adjacent, and an order given once"
                )));
                bad = true;
            }
            None => {
                self.seen.insert(id_hash(id), (file_index, row.at.line));
            }
        }
        self.current = Some(Group {
            order_id: id.to_string(),
            file: row.at.file.clone(),
            first_line: row.at.line,
            head: None,
            lines: Vec::new(),
            raw: Vec::new(),
            bad,
            again,
        });
    }

    /// Completes the order being assembled, if any.
    /// Completes every order still open (a file ended).
    pub fn finish(&mut self, format: &dyn OrderFormat, report: &mut dyn FnMut(Problem)) -> Vec<Done> {
        let mut open: Vec<Group> = self.held.drain(..).collect();
        open.extend(self.current.take());
        open.into_iter()
            .filter_map(|g| self.complete(g, format, report))
            .collect()
    }

    fn complete(&mut self, g: Group, format: &dyn OrderFormat, report: &mut dyn FnMut(Problem)) -> Option<Done> {
        let head = match (&g.head, g.bad) {
            (Some((head, _)), false) => Some(head.clone()),
            (None, false) => {
                report(Problem {
                    file: g.file.clone(),
                    line: g.first_line,
                    column: 0,
                    field: None,
                    message: format!(
                        "order {:?}: its first row lacks the order's fields (status, date)",
                        g.order_id
                    ),
                });
                None
            }
            (_, true) => None,
        };
        let Some(head) = head else {
            let reason = Problem {
                file: g.file.clone(),
                line: g.first_line,
                column: 0,
                field: None,
                message: format!("order {:?} was rejected: see its other rows", g.order_id),
            };
            return Some(Done::Rejected(
                g.raw
                    .into_iter()
                    .map(|(line, own, raw)| (own.unwrap_or_else(|| Problem { line, ..reason.clone() }), raw))
                    .collect(),
            ));
        };
        let mut order = Order {
            key: OrderKey {
                source: self.source.clone(),
                external_id: g.order_id,
            },
            customer: head.customer_id.clone().map(|external_id| CustomerKey {
                source: self.source.clone(),
                external_id,
            }),
            status: head.status,
            created_at: head.created_at,
            times: head.times.clone(),
            shipping_fee: head.shipping_fee,
            currency: head.currency.clone(),
            coupon: head.coupon.clone(),
            campaign: head.campaign.clone(),
            province: head.province.clone(),
            city: head.city.clone(),
            lines: g.lines,
        };
        format.finish(&mut order, &head);
        Some(Done::Order { order, again: g.again })
    }
}
