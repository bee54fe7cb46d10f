//! The Taobao/Tmall seller-centre order export (订单报表): Chinese headers, one row per
//! order, in UTF-8 or GBK, with or without BOM. Values may be wrapped to keep
//! spreadsheets from mangling them (`="2024…"`, a leading `'` or tab); these are unwrapped.

use std::collections::HashMap;

use guanxi_domain::{Cents, OrderLine, OrderStatus, StatusTimes, parse_timestamp};

use super::{Context, First, Head, OrderFormat, OrderRow, column_text};
use crate::problem::Problem;
use crate::table::{Columns, Fields, Header, Row, fields};

// A Tmall order report may lack buyers and statuses: its orders are guests', and their
// status follows from payment and refund.
const REQUIRED: &[&str] = &["订单编号", "订单创建时间"];
const COLUMNS: [&str; 15] = [
    "订单编号",
    "买家会员名",
    "买家应付货款",
    "买家应付邮费",
    "总金额",
    "订单状态",
    "订单创建时间",
    "订单付款时间",
    "宝贝标题",
    "宝贝总数量",
    "收货地址",
    "退款金额",
    "发货时间",
    "确认收货时间",
    "买家实际支付金额",
];

#[derive(Default)]
pub(crate) struct Taobao {
    cols: Option<Columns<15>>,
    /// The item reports' lines by order id, read before the order reports.
    items: std::sync::Arc<Items>,
    /// Orders of this file whose items do not account for what was paid.
    mismatches: Vec<String>,
}

impl Taobao {
    pub fn with_items(items: std::sync::Arc<Items>) -> Taobao {
        Taobao {
            cols: None,
            items,
            mismatches: Vec::new(),
        }
    }
}

/// Unwraps `="x"`, `'x`, `"x"` and surrounding tabs; `null` and `-` read as empty.
fn clean(s: &str) -> &str {
    let s = s.trim_matches(|c: char| c.is_whitespace());
    let s = s.strip_prefix('=').unwrap_or(s);
    let s = s.strip_prefix('\'').unwrap_or(s);
    let s = s
        .strip_prefix('"')
        .and_then(|x| x.strip_suffix('"'))
        .unwrap_or(s)
        .trim();
    if s.eq_ignore_ascii_case("null") || s == "-" {
        ""
    } else {
        s
    }
}

fn get(f: &Fields<'_, '_, 15>, col: usize) -> Result<Option<String>, Problem> {
    Ok(f.opt(col)?.map(|v| clean(&v).to_string()).filter(|v| !v.is_empty()))
}

fn money(f: &Fields<'_, '_, 15>, col: usize) -> Result<Option<Cents>, Problem> {
    get(f, col)?
        .map(|v| amount(&v, f.row.decimal()).map_err(|e| f.problem(col, e)))
        .transpose()
}

/// An amount as Taobao writes it, sometimes with its unit: `19.80`, `0元`, `0.00元`.
fn amount(v: &str, mark: guanxi_domain::DecimalMark) -> Result<Cents, String> {
    Cents::parse_non_negative(v.trim_end_matches('元').trim_end(), mark).map_err(|e| e.to_string())
}

fn time(f: &Fields<'_, '_, 15>, col: usize, cx: &Context) -> Result<Option<chrono::DateTime<chrono::Utc>>, Problem> {
    get(f, col)?
        .map(|v| parse_timestamp(&v, cx.tz).map_err(|e| f.problem(col, e.to_string())))
        .transpose()
}

/// Taobao's statuses, matched without punctuation (exports differ in commas).
fn status(s: &str, refunded: bool) -> Result<OrderStatus, String> {
    let s: String = s.chars().filter(|c| !matches!(c, ',' | '，' | ' ' | '、')).collect();
    Ok(match s.as_str() {
        "等待买家付款" => OrderStatus::Created,
        "买家已付款等待卖家发货" | "买家已付款" | "等待卖家发货" | "卖家部分发货" => {
            OrderStatus::Paid
        }
        "卖家已发货等待买家确认" | "卖家已发货" | "等待买家确认收货" => OrderStatus::Shipped,
        "买家已签收" => OrderStatus::Signed,
        "交易成功" => OrderStatus::Completed,
        "交易关闭" if refunded => OrderStatus::Refunded,
        "交易关闭" => OrderStatus::Closed,
        _ => {
            return Err(format!(
                "expected a Taobao order status (等待买家付款, 买家已付款，等待卖家发货, 卖家已发货，等待买家确认, 买家已签收, 交易成功, 交易关闭), found {s:?}"
            ));
        }
    })
}

const MUNICIPALITIES: &[&str] = &["北京", "上海", "天津", "重庆"];
const REGIONS: &[(&str, &str)] = &[
    ("内蒙古", "内蒙古自治区"),
    ("广西", "广西壮族自治区"),
    ("西藏", "西藏自治区"),
    ("宁夏", "宁夏回族自治区"),
    ("新疆", "新疆维吾尔自治区"),
    ("香港", "香港特别行政区"),
    ("澳门", "澳门特别行政区"),
];

/// Province and city from a Chinese address: `浙江省 杭州市 西湖区 …`, `浙江省杭州市西湖区…`,
/// `北京 北京市 朝阳区 …`, `广西壮族自治区南宁市…`.
pub(crate) fn province_city(address: &str) -> (Option<String>, Option<String>) {
    let a = address.trim();
    if let Some(m) = MUNICIPALITIES.iter().find(|m| a.starts_with(*m)) {
        let name = format!("{m}市");
        return (Some(name.clone()), Some(name));
    }
    let mut province = None;
    let mut rest = a;
    for (short, full) in REGIONS {
        if a.starts_with(short) {
            province = Some(full.to_string());
            rest = a.strip_prefix(full).or_else(|| a.strip_prefix(short)).unwrap_or(a);
            break;
        }
    }
    if province.is_none() {
        if let Some(i) = a.find('省') {
            province = Some(a[..i + '省'.len_utf8()].trim().to_string());
            rest = &a[i + '省'.len_utf8()..];
        } else {
            return (None, None);
        }
    }
    let rest = rest.trim_start();
    let city = ["自治州", "地区", "盟", "市"]
        .iter()
        .filter_map(|suffix| rest.find(suffix).map(|i| (i + suffix.len(), i)))
        .min_by_key(|(_, i)| *i)
        .map(|(end, _)| rest[..end].trim().to_string())
        .filter(|c| !c.is_empty() && !c.contains(' '));
    (province, city)
}

impl OrderFormat for Taobao {
    fn first(&mut self, row: &Row<'_>) -> Result<First, Problem> {
        let mut header = Header::read(row)?;
        for n in header.names.iter_mut() {
            *n = clean(n).to_string();
        }
        self.cols = Some(header.columns(&row.at, REQUIRED, COLUMNS)?);
        Ok(First::Header)
    }

    fn take_warnings(&mut self) -> Vec<String> {
        std::mem::take(&mut self.mismatches)
    }

    fn order_id(&self, row: &Row<'_>) -> Option<String> {
        column_text(row, self.cols.as_ref()?.index[0].1).map(|t| clean(&t).to_string())
    }

    fn row(&mut self, row: &Row<'_>, cx: &Context) -> Result<OrderRow, Problem> {
        let f = fields(self.cols.as_ref(), row)?;
        let required = |col: usize| get(&f, col)?.ok_or_else(|| f.problem(col, "a value is required here"));
        let order_id = required(0)?;
        // A report without buyers (a Tmall order report) or an empty nickname: a guest order.
        let customer_id = get(&f, 1)?;
        let created_at = time(&f, 6, cx)?.ok_or_else(|| f.problem(6, "a value is required here"))?;
        let paid_at = time(&f, 7, cx)?;
        let shipping = money(&f, 3)?.unwrap_or(Cents::ZERO);
        let goods = match (money(&f, 2)?, money(&f, 4)?) {
            (Some(g), _) => g,
            (None, Some(total)) => total - shipping,
            (None, None) => return Err(f.problem(2, "a value is required here (or 总金额)")),
        };
        let refund = money(&f, 11)?.unwrap_or(Cents::ZERO);
        let refunded = refund > Cents::ZERO && paid_at.is_some();
        let status = match (get(&f, 5)?, f.cols.index[5].1) {
            (Some(s), _) => status(&s, refunded).map_err(|e| f.problem(5, e))?,
            (None, Some(_)) => return Err(f.problem(5, "a value is required here")),
            // A report without statuses (Tmall's): paid or not, refunded or not.
            (None, None) if refunded => OrderStatus::Refunded,
            (None, None) if paid_at.is_some() => OrderStatus::Paid,
            (None, None) => OrderStatus::Created,
        };
        let quantity = match get(&f, 9)? {
            Some(q) => q
                .parse::<u32>()
                .map_err(|_| f.problem(9, format!("expected a whole number of 0 or more, found {q:?}")))?,
            None => 1,
        };
        let (province, city) = get(&f, 10)?.map(|a| province_city(&a)).unwrap_or((None, None));
        // The item report's lines replace the order's one summary line when they account
        // for its goods (their list prices add up to at least what was paid; the
        // difference is the order's discount, spread over them).
        let items = self.items.lines.get(&order_id).filter(|i| !i.is_empty());
        let listed: Cents = items.map_or(Cents::ZERO, |i| i.iter().map(|i| i.line.amount).sum());
        let (mut lines, order_discount) = match items {
            Some(items) if listed >= goods => (items.iter().map(|i| i.line.clone()).collect(), listed - goods),
            _ => {
                if let Some(items) = items {
                    self.mismatches.push(format!(
                        "{}:{}: order {order_id:?}: its items ({}, {}) list {listed}, less than the {goods} paid for goods: kept as one line",
                        row.at.file,
                        row.at.line,
                        items.len(),
                        items[0].at,
                    ));
                }
                (
                    vec![OrderLine {
                        sku: None,
                        title: get(&f, 8)?,
                        category: None,
                        quantity,
                        amount: goods,
                        discount: Cents::ZERO,
                        cost: None,
                        refund: Cents::ZERO,
                    }],
                    Cents::ZERO,
                )
            }
        };
        Ok(OrderRow {
            order_id,
            head: Some(Head {
                customer_id,
                status,
                created_at,
                times: StatusTimes {
                    paid_at,
                    shipped_at: time(&f, 12, cx)?,
                    completed_at: time(&f, 13, cx)?,
                    ..Default::default()
                },
                shipping_fee: shipping,
                currency: None,
                coupon: None,
                campaign: None,
                province,
                city,
                order_discount,
                order_refund: refund.min(goods),
            }),
            line: lines.remove(0),
            more: lines,
        })
    }
}

/// The lines of Taobao item reports (宝贝报表, `ExportOrderDetailList*.csv`) by order id,
/// read before the order reports they belong to.
#[derive(Default)]
pub(crate) struct Items {
    pub lines: HashMap<String, Vec<Item>>,
}

pub(crate) struct Item {
    pub line: OrderLine,
    /// `file:line` of the item, for messages.
    pub at: String,
}

/// Whether a header is an item report's rather than an order report's.
pub(crate) fn is_item_report(header: &Header) -> bool {
    ["标题", "价格", "购买数量"].iter().all(|c| header.find(c).is_some()) && header.find("买家会员名").is_none()
}

const ITEM_COLUMNS: [&str; 7] = [
    "订单编号",
    "标题",
    "价格",
    "购买数量",
    "商家编码",
    "商品属性",
    "外部系统编号",
];

/// Reads an item report's rows: order id, title (with the item's attributes, 商品属性,
/// such as colour and size), list price × quantity, 商家编码 (else 外部系统编号) as the SKU.
pub(crate) struct ItemReport {
    cols: Columns<7>,
}

impl ItemReport {
    pub fn header(row: &Row<'_>) -> Result<Option<ItemReport>, Problem> {
        let mut header = Header::read(row)?;
        for n in header.names.iter_mut() {
            *n = clean(n).to_string();
        }
        if !is_item_report(&header) {
            return Ok(None);
        }
        Ok(Some(ItemReport {
            cols: header.columns(&row.at, &["订单编号", "标题", "价格", "购买数量"], ITEM_COLUMNS)?,
        }))
    }

    pub fn row(&self, row: &Row<'_>) -> Result<(String, Item), Problem> {
        let f = fields(Some(&self.cols), row)?;
        let text = |col: usize| -> Result<Option<String>, Problem> {
            Ok(f.opt(col)?.map(|v| clean(&v).to_string()).filter(|v| !v.is_empty()))
        };
        let required = |col: usize| text(col)?.ok_or_else(|| f.problem(col, "a value is required here"));
        let order_id = required(0)?;
        let price = amount(&required(2)?, f.row.decimal()).map_err(|e| f.problem(2, e))?;
        let q = required(3)?;
        let quantity: u32 = q
            .parse()
            .map_err(|_| f.problem(3, format!("expected a whole number of 0 or more, found {q:?}")))?;
        let listed = price
            .times(i64::from(quantity))
            .ok_or_else(|| f.problem(3, format!("{quantity} × {price} is more than any order")))?;
        let title = match text(5)? {
            Some(attrs) => format!("{}（{attrs}）", required(1)?),
            None => required(1)?,
        };
        let line = OrderLine {
            // The seller's own code, else the platform's (often the same).
            sku: text(4)?.or(text(6)?),
            title: Some(title),
            category: None,
            quantity,
            amount: listed,
            discount: Cents::ZERO,
            cost: None,
            refund: Cents::ZERO,
        };
        Ok((
            order_id,
            Item {
                line,
                at: format!("{}:{}", row.at.file, row.at.line),
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provinces_and_cities_from_addresses() {
        let pc = |a: &str| province_city(a);
        assert_eq!(
            pc("浙江省 杭州市 西湖区 文三路100号"),
            (Some("浙江省".into()), Some("杭州市".into()))
        );
        assert_eq!(
            pc("浙江省杭州市西湖区文三路100号"),
            (Some("浙江省".into()), Some("杭州市".into()))
        );
        assert_eq!(
            pc("北京 北京市 朝阳区 建国路"),
            (Some("北京市".into()), Some("北京市".into()))
        );
        assert_eq!(
            pc("广西壮族自治区南宁市青秀区"),
            (Some("广西壮族自治区".into()), Some("南宁市".into()))
        );
        assert_eq!(
            pc("湖北省 恩施土家族苗族自治州 恩施市"),
            (Some("湖北省".into()), Some("恩施土家族苗族自治州".into()))
        );
        assert_eq!(pc("somewhere"), (None, None));
    }

    #[test]
    fn wrapped_values_unwrap() {
        assert_eq!(clean("=\"2024123456\""), "2024123456");
        assert_eq!(clean("'2024123456"), "2024123456");
        assert_eq!(clean("\t2024123456\t"), "2024123456");
        assert_eq!(clean("null"), "");
    }

    #[test]
    fn statuses_map_to_ours() {
        assert_eq!(status("买家已付款，等待卖家发货", false), Ok(OrderStatus::Paid));
        assert_eq!(status("卖家已发货,等待买家确认", false), Ok(OrderStatus::Shipped));
        assert_eq!(status("交易关闭", true), Ok(OrderStatus::Refunded));
        assert_eq!(status("交易关闭", false), Ok(OrderStatus::Closed));
        assert!(status("发货中", false).is_err());
    }
}
