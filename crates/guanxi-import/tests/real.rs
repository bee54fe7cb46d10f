//! Real shops' exports (`testdata/real/`, anonymised), imported as they are: each test
//! counts what the files hold on its own (a CSV reader and the file's own rules, not the
//! importer's code) and compares the import's figures with those counts.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;

use common::{Shop, options};
use guanxi_domain::Cents;
use guanxi_import::{CsvExport, Format, Kind, Summary};
use guanxi_store::{Orders as _, Store as _};

fn real(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/real")
        .join(path)
}

/// What a Shopify orders export holds, counted from its rows: orders (by `Name`, rows of
/// one order adjacent), lines, guest orders (no e-mail and no phone on the first row) and
/// buyers (e-mail lower-cased, else the phone's digits).
#[derive(Debug, Default, PartialEq)]
struct Counted {
    orders: u64,
    lines: u64,
    guests: u64,
    buyers: u64,
}

fn count_shopify(files: &[PathBuf]) -> Counted {
    let mut orders: BTreeMap<String, (String, String)> = BTreeMap::new();
    let mut lines = 0;
    let mut seen_rows: BTreeSet<Vec<u8>> = BTreeSet::new();
    for f in files {
        let mut r = csv::Reader::from_path(f).unwrap();
        let h = r.headers().unwrap().clone();
        let col = |name: &str| h.iter().position(|c| c == name).unwrap();
        let (name, email, phone) = (col("Name"), col("Email"), col("Phone"));
        for rec in r.records() {
            let rec = rec.unwrap();
            // Overlapping exports repeat rows identically: a row counts once.
            let bytes = rec.iter().collect::<Vec<_>>().join("\u{1f}").into_bytes();
            if !seen_rows.insert(bytes) {
                continue;
            }
            lines += 1;
            orders.entry(rec[name].to_string()).or_insert_with(|| {
                (
                    rec[email].trim().to_lowercase(),
                    rec[phone].chars().filter(char::is_ascii_digit).collect(),
                )
            });
        }
    }
    let guests = orders.values().filter(|(e, p)| e.is_empty() && p.is_empty()).count() as u64;
    let buyers: BTreeSet<&String> = orders
        .values()
        .filter_map(|(e, p)| {
            if !e.is_empty() {
                Some(e)
            } else if !p.is_empty() {
                Some(p)
            } else {
                None
            }
        })
        .collect();
    Counted {
        orders: orders.len() as u64,
        lines,
        guests,
        buyers: buyers.len() as u64,
    }
}

fn imported(s: &Summary) -> Counted {
    Counted {
        orders: s.orders_total,
        lines: s.order_lines_total,
        guests: s.guest_orders,
        buyers: s.customers_total,
    }
}

async fn shopify_folder(files: &[&str]) -> (Shop, Summary, Counted) {
    let shop = Shop::new().await;
    let files: Vec<PathBuf> = files.iter().map(|f| real(f)).collect();
    let s = shop
        .import(Kind::Orders, Format::Shopify, &files)
        .await
        .unwrap_or_else(|e| panic!("{files:?}: {e}"));
    (shop, s, count_shopify(&files))
}

#[tokio::test]
async fn shopify_exports_import_as_they_are() {
    for folder in [
        "shopify-dna-alvor/orders_export_1.csv",
        "shopify-explorer/orders_export_1.csv",
        "shopify-kidsliving/orders_export.csv",
        "shopify-maison-maria/orders_export_1.csv",
        "shopify-enavant/orders_export_1.csv",
    ] {
        let (_shop, s, counted) = shopify_folder(&[folder]).await;
        assert_eq!(imported(&s), counted, "{folder}");
        assert_eq!(s.rows_read, counted.lines, "{folder}");
    }
}

/// Two overlapping exports of one shop give the union of their orders, and the third
/// file (a strict subset of the second) re-imports unchanged.
#[tokio::test]
async fn shopify_overlapping_exports_give_the_union() {
    let (shop, s, counted) = shopify_folder(&[
        "shopify-monfrere/orders_export_1.csv",
        "shopify-monfrere/Shopify_orders_export_2.csv",
    ])
    .await;
    assert_eq!(imported(&s), counted);
    assert!(counted.orders < 1200 + 1000, "the slices overlap");
    let again = shop
        .import(
            Kind::Orders,
            Format::Shopify,
            &[real(
                "shopify-monfrere/from_Shopify_orders_export_2_zip/orders_export_2.csv",
            )],
        )
        .await
        .unwrap();
    assert_eq!(
        (again.orders_inserted, again.orders_updated, again.orders_unchanged),
        (0, 0, 643)
    );
    assert_eq!(again.orders_total, counted.orders);
}

/// The customers export: consent per channel from the export, tags, and Shopify's own
/// Total Orders / Total Spent agree with guanxi's figures from the orders export for at
/// least 90 % of the buyers in both.
#[tokio::test]
async fn shopify_customers_export_gives_consent_and_cross_checks() {
    let (shop, _, _) = shopify_folder(&["shopify-enavant/orders_export_1.csv"]).await;
    let file = real("shopify-enavant/customers_export_1.csv");
    let s = shop
        .import_with(options(Kind::Customers, Format::Shopify), std::slice::from_ref(&file))
        .await
        .unwrap();
    assert_eq!(s.rows_read, 1511);
    assert_eq!(s.customers_inserted + s.customers_updated, 1511);
    // Guanxi's figures per buyer, from its own orders (written back in its CSV).
    let out = export_orders(&shop).await;
    let mut mine: HashMap<String, (BTreeSet<String>, i64)> = HashMap::new();
    let mut r = csv::Reader::from_path(&out).unwrap();
    let h = r.headers().unwrap().clone();
    let col = |n: &str| h.iter().position(|c| c == n).unwrap();
    let (id, customer, amount, refund, status, shipping) = (
        col("order_id"),
        col("customer_id"),
        col("amount"),
        col("refund"),
        col("status"),
        col("shipping_fee"),
    );
    let mut shipped_once = BTreeSet::new();
    for rec in r.records() {
        let rec = rec.unwrap();
        if rec[customer].is_empty() || matches!(&rec[status], "created" | "closed") {
            continue;
        }
        let e = mine.entry(rec[customer].to_string()).or_default();
        e.0.insert(rec[id].to_string());
        let cents = |s: &str| Cents::parse(s).unwrap().0;
        e.1 += cents(&rec[amount]) - cents(&rec[refund]);
        if shipped_once.insert(rec[id].to_string()) {
            e.1 += cents(&rec[shipping]);
        }
    }
    let mut r = csv::Reader::from_path(&file).unwrap();
    let h = r.headers().unwrap().clone();
    let col = |n: &str| h.iter().position(|c| c == n).unwrap();
    let (email, orders, spent) = (col("Email"), col("Total Orders"), col("Total Spent"));
    let (mut compared, mut agree) = (0, 0);
    for rec in r.records() {
        let rec = rec.unwrap();
        let key = rec[email].trim().trim_start_matches('\'').to_lowercase();
        let Some((ids, cents)) = mine.get(&key) else { continue };
        compared += 1;
        let theirs_orders: u64 = rec[orders].parse().unwrap();
        let theirs_spent = Cents::parse(&rec[spent]).unwrap().0;
        if theirs_orders == ids.len() as u64 && (theirs_spent - cents).abs() <= 1 {
            agree += 1;
        }
    }
    eprintln!("Shopify's Total Orders / Total Spent agree with guanxi's for {agree} of {compared} buyers");
    assert!(compared >= 250, "{compared} buyers in both files");
    assert!(agree * 10 >= compared * 9, "{agree} of {compared} agree");
    // Consent from the export, with the export as evidence; tags split.
    let c = shop
        .store
        .customer(&guanxi_domain::CustomerKey {
            source: guanxi_domain::Source::parse("shopify").unwrap(),
            external_id: "cea131a8e@example.com".into(),
        })
        .await
        .unwrap()
        .expect("the first contact")
        .1;
    assert_eq!(c.tags, vec!["newsletter".to_string()]);
    let email = c
        .consents
        .iter()
        .find(|x| x.channel == guanxi_domain::Channel::Email)
        .unwrap();
    assert_eq!(email.state, guanxi_domain::ConsentState::Granted);
    assert!(
        email
            .evidence
            .starts_with("Shopify customers export customers_export_1.csv"),
        "{}",
        email.evidence
    );
    let sms = c
        .consents
        .iter()
        .find(|x| x.channel == guanxi_domain::Channel::Sms)
        .unwrap();
    assert_eq!(sms.state, guanxi_domain::ConsentState::Denied);
    // A re-import changes nothing; guanxi's customers CSV format points to --format shopify.
    let again = shop
        .import_with(options(Kind::Customers, Format::Shopify), std::slice::from_ref(&file))
        .await
        .unwrap();
    assert_eq!(again.customers_unchanged, 1511);
    let wrong = shop
        .import(Kind::Customers, Format::Generic, &[file])
        .await
        .unwrap_err();
    assert!(wrong.to_string().contains("--format shopify"), "{wrong}");
}

/// Every order of the shop written back in guanxi's CSV; the file's path.
async fn export_orders(shop: &Shop) -> PathBuf {
    let out = shop.dir.path().join("written.csv");
    let mut export = CsvExport::orders(std::fs::File::create(&out).unwrap()).unwrap();
    let mut after = 0;
    loop {
        let page = shop.store.orders_after(after, 1000).await.unwrap();
        let Some(last) = page.last() else { break };
        after = last.id;
        for o in &page {
            export.order(&o.order).unwrap();
        }
    }
    export.finish().unwrap();
    out
}

/// The orders a shop holds, as guanxi writes them back in its CSV: order id → (buyer,
/// status, lines, goods in cents).
async fn written(shop: &Shop) -> BTreeMap<String, (String, String, u64, i64)> {
    let out = export_orders(shop).await;
    let mut r = csv::Reader::from_path(&out).unwrap();
    let h = r.headers().unwrap().clone();
    let col = |n: &str| h.iter().position(|c| c == n).unwrap();
    let (id, customer, status, amount) = (col("order_id"), col("customer_id"), col("status"), col("amount"));
    let mut orders = BTreeMap::new();
    for rec in r.records() {
        let rec = rec.unwrap();
        let e = orders
            .entry(rec[id].to_string())
            .or_insert_with(|| (rec[customer].to_string(), rec[status].to_string(), 0, 0));
        e.2 += 1;
        e.3 += Cents::parse(&rec[amount]).unwrap().0;
    }
    orders
}

/// Reads a CSV file in UTF-8 or GBK (a record per row, fields trimmed and unwrapped from
/// Taobao's `="…"`), on its own terms.
fn taobao_rows(path: &PathBuf) -> Vec<HashMap<String, String>> {
    let bytes = std::fs::read(path).unwrap();
    let text = match String::from_utf8(bytes.clone()) {
        Ok(t) => t,
        Err(_) => encoding_rs::GB18030.decode(&bytes).0.into_owned(),
    };
    let mut r = csv::ReaderBuilder::new().flexible(true).from_reader(text.as_bytes());
    let h: Vec<String> = r.headers().unwrap().iter().map(|c| c.trim().to_string()).collect();
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            h.iter()
                .cloned()
                .zip(rec.iter().map(|v| {
                    let v = v.trim();
                    v.strip_prefix("=\"")
                        .and_then(|v| v.strip_suffix('"'))
                        .unwrap_or(v)
                        .to_string()
                }))
                .collect()
        })
        .collect()
}

/// A Tmall order report has no buyers and no statuses: every order is a guest's, paid
/// when it has a payment time, refunded when money went back. Both variants (the raw
/// export and the Excel-resaved one, with `2020/2/21 0:00` dates and `21` amounts) give
/// the same orders.
#[tokio::test]
async fn tmall_order_report_imports_as_guest_orders() {
    let mut seen = Vec::new();
    for file in [
        "tmall-order-report-2020/tmall_order_report.csv",
        "tmall-order-report-2020/excel_resaved_variant/tmall_order_report.csv",
    ] {
        let path = real(file);
        let rows = taobao_rows(&path);
        let paid = rows.iter().filter(|r| !r["订单付款时间"].is_empty()).count();
        let refunded = rows
            .iter()
            .filter(|r| !r["订单付款时间"].is_empty() && r["退款金额"].parse::<f64>().unwrap() > 0.0)
            .count();
        let shop = Shop::new().await;
        let s = shop.import(Kind::Orders, Format::Taobao, &[path]).await.unwrap();
        assert_eq!(
            (s.rows_read, s.orders_total, s.guest_orders, s.customers_total),
            (rows.len() as u64, rows.len() as u64, rows.len() as u64, 0),
            "{file}"
        );
        let orders = written(&shop).await;
        let status = |st: &str| orders.values().filter(|o| o.1 == st).count();
        assert_eq!(
            (status("paid") + status("refunded"), status("refunded")),
            (paid, refunded),
            "{file}"
        );
        assert_eq!(status("created"), rows.len() - paid, "{file}");
        // The shop's order report per month, guest orders included, against the file's
        // own counts by the month of 订单创建时间.
        let mut by_month: BTreeMap<String, (u64, u64)> = BTreeMap::new();
        for r in &rows {
            let t = &r["订单创建时间"];
            let (y, rest) = t.split_once(['-', '/']).unwrap();
            let m: u32 = rest.split(['-', '/']).next().unwrap().parse().unwrap();
            let e = by_month.entry(format!("{y}-{m:02}")).or_default();
            e.0 += 1;
            e.1 += u64::from(!r["订单付款时间"].is_empty());
        }
        let mut figures = guanxi_domain::report::OrderFigures::new(
            guanxi_domain::ShopTz::default(),
            guanxi_domain::report::Granularity::Month,
        );
        let mut after = 0;
        loop {
            let page = shop.store.orders_after(after, 5000).await.unwrap();
            let Some(last) = page.last() else { break };
            after = last.id;
            page.iter().for_each(|o| figures.add(&o.order));
        }
        let months = figures.finish();
        let got: BTreeMap<String, (u64, u64)> =
            months.iter().map(|p| (p.period.clone(), (p.created, p.paid))).collect();
        assert_eq!(got, by_month, "{file}");
        assert!(months.iter().all(|p| p.guest == p.created && p.payment_rate <= 1.0));
        assert_eq!(months.iter().map(|p| p.refunded).sum::<u64>() as usize, refunded);
        seen.push(orders);
    }
    assert_eq!(seen[0], seen[1], "the Excel-resaved report reads as the raw one");
}

/// A Taobao shop's four cumulative snapshots of its order report (one GBK and
/// Excel-resaved) with their item reports, in one import: the union of the orders, each
/// with its latest status, and the items on their orders.
#[tokio::test]
async fn taobao_snapshots_with_item_reports_join_items_to_orders() {
    let dir = real("taobao-meiyi-2019");
    let stamps = ["201903101120", "201903121048", "201903141540", "201903291704"];
    let mut files = Vec::new();
    let mut latest: BTreeMap<String, HashMap<String, String>> = BTreeMap::new();
    let mut items: HashMap<String, Vec<HashMap<String, String>>> = HashMap::new();
    for stamp in stamps {
        let list = dir.join(format!("ExportOrderList{stamp}.csv"));
        let detail = dir.join(format!("ExportOrderDetailList{stamp}.csv"));
        for row in taobao_rows(&list) {
            latest.insert(row["订单编号"].clone(), row);
        }
        let mut here: HashMap<String, Vec<HashMap<String, String>>> = HashMap::new();
        for row in taobao_rows(&detail) {
            here.entry(row["订单编号"].clone()).or_default().push(row);
        }
        items.extend(here);
        files.extend([list, detail]);
    }
    let shop = Shop::new().await;
    let s = shop.import(Kind::Orders, Format::Taobao, &files).await.unwrap();
    assert_eq!(s.orders_total, latest.len() as u64);
    let buyers: BTreeSet<&String> = latest.values().map(|r| &r["买家会员名"]).collect();
    assert_eq!(s.customers_total, buyers.len() as u64);
    // Items of orders that no order report gives are reported, one warning each.
    let orphans = items.keys().filter(|id| !latest.contains_key(*id)).count() as u64;
    assert!(orphans > 0);
    assert_eq!(s.warnings_total, orphans, "{:?}", s.warnings);
    let orders = written(&shop).await;
    let mut with_items = 0;
    for (id, row) in &latest {
        let (_, status, lines, goods) = &orders[id];
        // The latest snapshot's status stands.
        let expected = match row["订单状态"].as_str() {
            "交易成功" => "completed",
            "卖家已发货，等待买家确认" => "shipped",
            "买家已付款，等待卖家发货" => "paid",
            _ if row["订单付款时间"].is_empty() || row["订单付款时间"] == "null" => "closed",
            _ => "refunded",
        };
        assert_eq!(status, expected, "{id}");
        let owed = Cents::parse(row["买家应付货款"].trim_end_matches('元')).unwrap().0;
        assert_eq!(*goods, owed, "{id}: the lines add up to the goods owed");
        if let Some(its) = items.get(id) {
            assert_eq!(*lines, its.len() as u64, "{id}: one line per item");
            with_items += 1;
        }
    }
    assert!(with_items >= 100, "{with_items} orders have their items");
}

fn mapped(map: &str) -> guanxi_import::Options {
    let mut o = options(Kind::Orders, Format::Generic);
    o.mapping = Some(guanxi_import::Mapping::parse(map).unwrap());
    o
}

/// The UCI Online Retail log (its first 25,000 lines) through a mapping: invoices are
/// orders, rows without a CustomerID are guest orders, `C…` invoices (negative
/// quantities) are returns, imported closed.
#[tokio::test]
async fn online_retail_log_imports_through_a_mapping() {
    let path = real("online-retail-uci/online_retail_first_25000.csv");
    let mut invoices: BTreeMap<String, (String, bool)> = BTreeMap::new();
    let mut customers = BTreeSet::new();
    let mut rows = 0;
    let mut r = csv::Reader::from_path(&path).unwrap();
    for rec in r.records() {
        let rec = rec.unwrap();
        rows += 1;
        // A return: negative quantities (the `C…` cancellations, stock write-offs).
        invoices.insert(rec[0].to_string(), (rec[6].to_string(), rec[3].starts_with('-')));
        if !rec[6].is_empty() {
            customers.insert(rec[6].to_string());
        }
    }
    let guests = invoices.values().filter(|(c, _)| c.is_empty()).count() as u64;
    let returns = invoices.values().filter(|(_, ret)| *ret).count();
    let shop = Shop::new().await;
    let map = "order_id=InvoiceNo,customer_id=CustomerID,ordered_at=InvoiceDate,sku=StockCode,title=Description,quantity=Quantity,unit_price=UnitPrice";
    let s = shop
        .import_with(mapped(map), std::slice::from_ref(&path))
        .await
        .unwrap();
    assert_eq!(
        (
            s.rows_read,
            s.order_lines_total,
            s.orders_total,
            s.guest_orders,
            s.customers_total
        ),
        (rows, rows, invoices.len() as u64, guests, customers.len() as u64)
    );
    assert!(guests > 0 && returns > invoices.keys().filter(|i| i.starts_with('C')).count() / 2);
    let orders = written(&shop).await;
    assert_eq!(orders.values().filter(|o| o.1 == "closed").count(), returns);
    // 536365: 7 lines, £139.12 (the log's first invoice).
    assert_eq!((orders["536365"].2, orders["536365"].3), (7, 13_912));
    // A wrong mapping names the column it did not find.
    let wrong = shop
        .import_with(
            mapped("order_id=Invoice,customer_id=CustomerID,ordered_at=InvoiceDate,amount=UnitPrice"),
            &[path],
        )
        .await
        .unwrap_err();
    assert!(
        wrong
            .to_string()
            .contains("--map order_id=Invoice: the header has no column \"Invoice\""),
        "{wrong}"
    );
}

/// The BTYD package's CDNOW event log (CSV, no order ids): each row an order of the
/// master id, the same customers and purchases as the sample's text file.
#[tokio::test]
async fn cdnow_event_log_imports_through_a_mapping() {
    let path = real("cdnow-btyd/btyd_R/cdnowElog.csv");
    let shop = Shop::new().await;
    let s = shop
        .import_with(
            mapped("customer_id=masterid,ordered_at=date,quantity=cds,amount=sales"),
            std::slice::from_ref(&path),
        )
        .await
        .unwrap();
    let text = Shop::new().await;
    let sample = text
        .import(
            Kind::Orders,
            Format::Cdnow,
            &[PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/cdnow/CDNOW_sample.txt")],
        )
        .await
        .unwrap();
    assert_eq!((s.rows_read, s.orders_total, s.customers_total), (6_919, 6_919, 2_357));
    assert_eq!(
        (s.orders_total, s.customers_total),
        (sample.orders_total, sample.customers_total)
    );
}

/// A grocery purchase log of customer and date only: each row an order, no amounts (the
/// import says so).
#[tokio::test]
async fn grocery_log_of_dates_imports_with_a_warning() {
    let path = real("grocery-btydplus/derived_csv/groceryElog.csv");
    let mut r = csv::Reader::from_path(&path).unwrap();
    let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    let customers: BTreeSet<&str> = rows.iter().map(|r| &r[0]).collect();
    let shop = Shop::new().await;
    let s = shop
        .import_with(mapped("customer_id=cust,ordered_at=date"), std::slice::from_ref(&path))
        .await
        .unwrap();
    assert_eq!(
        (s.rows_read, s.orders_total, s.customers_total),
        (rows.len() as u64, rows.len() as u64, customers.len() as u64)
    );
    assert!(s.warnings[0].contains("every line's amount is 0"), "{:?}", s.warnings);
}

/// Rows of concurrent invoices interleave in the full Online Retail log (lines 78,088 to
/// 78,096, copied here): with a mapping, an order's rows need not be adjacent.
#[tokio::test]
async fn interleaved_invoices_of_a_log_are_assembled() {
    let shop = Shop::new().await;
    let path = shop.file(
        "interleaved.csv",
        "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country
542806,48194,DOORMAT HEARTS,1,2011-02-01 11:19:00,7.95,12836,United Kingdom
542806,21524,DOORMAT SPOTTY HOME SWEET HOME,1,2011-02-01 11:19:00,7.95,12836,United Kingdom
C542805,22156,HEART DECORATION WITH PEARLS ,-1,2011-02-01 11:19:00,0.85,14606,United Kingdom
C542805,85054,FRENCH ENAMEL POT W LID,-1,2011-02-01 11:19:00,2.95,14606,United Kingdom
542806,22692,DOORMAT WELCOME TO OUR HOME,2,2011-02-01 11:20:00,7.95,12836,United Kingdom
542806,22788,BROCANTE COAT RACK,2,2011-02-01 11:20:00,9.95,12836,United Kingdom
A563185,B,Adjust bad debt,1,2011-08-12 14:50:00,-11062.06,,United Kingdom
C580605,AMAZONFEE,AMAZON FEE,-1,2011-12-05 11:36:00,0.001,,United Kingdom
",
    );
    let map = "order_id=InvoiceNo,customer_id=CustomerID,ordered_at=InvoiceDate,sku=StockCode,title=Description,quantity=Quantity,unit_price=UnitPrice";
    let s = shop.import_with(mapped(map), &[path]).await.unwrap();
    assert_eq!((s.orders_total, s.order_lines_total, s.guest_orders), (4, 8, 2));
    let orders = written(&shop).await;
    // One invoice over two minutes and around another: 4 lines, at its first row's time.
    assert_eq!(
        orders["542806"],
        ("12836".into(), "paid".into(), 4, 795 + 795 + 1590 + 1990)
    );
    // A cancellation, a bad-debt adjustment (negative price), a fee below a cent: returns.
    assert_eq!(orders["C542805"].1, "closed");
    assert_eq!(orders["A563185"], (String::new(), "closed".into(), 1, 1_106_206));
    assert_eq!(orders["C580605"].3, 0);
}

/// A Taobao book shop's 5-column order reports (no order ids; unpaid orders with no time
/// at all): each row an order of its buyer, the undated ones counted and named, not
/// imported.
#[tokio::test]
async fn book_shop_reports_import_with_their_undated_rows_counted() {
    let files: Vec<PathBuf> = ["2018", "2019"]
        .iter()
        .map(|y| real(&format!("taobao-mingrisoft-2018-2019/derived_csv/{y}.csv")))
        .collect();
    let (mut dated, mut undated) = (0u64, 0u64);
    let mut buyers = BTreeSet::new();
    for f in &files {
        let mut r = csv::Reader::from_path(f).unwrap();
        for rec in r.records() {
            let rec = rec.unwrap();
            if rec[4].trim().is_empty() {
                undated += 1;
            } else {
                dated += 1;
                buyers.insert(rec[0].to_string());
            }
        }
    }
    let shop = Shop::new().await;
    let s = shop
        .import_with(
            mapped("customer_id=买家会员名,amount=买家实际支付金额,quantity=宝贝总数量,title=宝贝标题,ordered_at=订单付款时间"),
            &files,
        )
        .await
        .unwrap();
    assert_eq!(
        (s.orders_total, s.undated_rows, s.customers_total),
        (dated, undated, buyers.len() as u64)
    );
    assert!(undated > 600);
    assert!(
        s.warnings.iter().any(|w| w.contains("ordered_at is empty")),
        "{:?}",
        s.warnings
    );
}
