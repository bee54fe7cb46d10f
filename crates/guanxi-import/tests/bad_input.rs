//! Bad input: each case gives a located problem and leaves the store and the lake exactly
//! as they were.

mod common;

use common::{Shop, at, options, problems};
use guanxi_import::{EncodingChoice, Format, Kind};
use guanxi_store::Orders as _;

const HEADER: &str = "order_id,customer_id,ordered_at,amount,quantity,title,category\n";

/// A shop with some orders already, so that "unchanged" is not just "empty".
async fn shop() -> Shop {
    let shop = Shop::new().await;
    let good = shop.file(
        "good.csv",
        format!("{HEADER}o1,c1,2024-01-05 10:00:00,129.00,1,纸尿裤,diapers\no1,c1,2024-01-05 10:00:00,39.90,2,湿巾,wipes\no2,c2,2024-02-01,268,1,奶粉,formula\n"),
    );
    let s = shop.import(Kind::Orders, Format::Generic, &[good]).await.unwrap();
    assert_eq!(
        (s.orders_inserted, s.customers_inserted, s.order_lines_total),
        (2, 2, 3)
    );
    shop
}

/// Imports `body` as a generic orders file; asserts it fails, changes nothing, and that
/// the first problem starts with `file:line:column: ` and contains `says`.
async fn rejects(body: &[u8], line: u64, column: u64, says: &str) {
    let shop = shop().await;
    let before = shop.state().await;
    let path = shop.file("bad.csv", body);
    let (problems, total) = problems(
        shop.import(Kind::Orders, Format::Generic, std::slice::from_ref(&path))
            .await,
    );
    assert!(total >= 1);
    let first = problems[0].to_string();
    assert!(first.starts_with(&at(&path, line, column)), "{first}");
    assert!(first.contains(says), "{first:?} should say {says:?}");
    assert_eq!(
        shop.state().await,
        before,
        "a failed import leaves everything as it was"
    );
}

#[tokio::test]
async fn wrong_header() {
    rejects(
        b"id,customer,date,amount\n1,2,2024-01-01,3\n",
        1,
        0,
        "unknown columns id, customer, date",
    )
    .await;
}

#[tokio::test]
async fn missing_header_column() {
    rejects(
        b"order_id,customer_id,amount\no9,c9,1.00\n",
        1,
        0,
        "missing required column ordered_at",
    )
    .await;
}

#[tokio::test]
async fn bad_date() {
    let body = format!("{HEADER}o3,c3,2024-01-07,1.00,1,,\no4,c3,2024-13-45,5.00,1,,\n");
    rejects(body.as_bytes(), 3, 3, "ordered_at: expected a date-time").await;
}

#[tokio::test]
async fn negative_quantity() {
    let body = format!("{HEADER}o3,c3,2024-01-07,1.00,-2,,\n");
    rejects(
        body.as_bytes(),
        2,
        5,
        "quantity: expected a whole number of 0 or more, found \"-2\"",
    )
    .await;
}

#[tokio::test]
async fn non_numeric_amount() {
    let body = format!("{HEADER}o3,c3,2024-01-07,twelve,1,,\n");
    rejects(
        body.as_bytes(),
        2,
        4,
        "amount: expected an amount like 12.50, found \"twelve\"",
    )
    .await;
}

#[tokio::test]
async fn truncated_line() {
    let body = format!("{HEADER}o3,c3,2024-01-07,1.00,1,,\no4,c4,2024-01-0");
    rejects(
        body.as_bytes(),
        3,
        0,
        "expected 7 fields as in the header, found 3 (is the line cut short?)",
    )
    .await;
}

#[tokio::test]
async fn invalid_utf8() {
    let mut body = format!("{HEADER}o3,c3,2024-01-07,1.00,1,").into_bytes();
    body.extend_from_slice(b"\xff\xfe bad,toys\n");
    rejects(&body, 2, 6, "title: invalid UTF-8 (byte 0xff at offset 0 of the field)").await;
}

#[tokio::test]
async fn duplicate_order_id_with_conflicting_data() {
    let body = format!("{HEADER}o3,c3,2024-01-07,1.00,1,,\no3,c4,2024-01-07,2.00,1,,\n");
    rejects(
        body.as_bytes(),
        3,
        0,
        "order \"o3\" has customer_id \"c4\" here but \"c3\" at line 2",
    )
    .await;
}

#[tokio::test]
async fn order_id_given_twice_apart() {
    let body = format!("{HEADER}o3,c3,2024-01-07,1.00,1,,\no5,c3,2024-01-07,2.00,1,,\no3,c3,2024-01-07,1.00,1,,\n");
    rejects(body.as_bytes(), 4, 0, "order \"o3\" was already given at line 2").await;
}

#[tokio::test]
async fn an_order_given_again_in_a_later_file_is_that_files_version() {
    // Overlapping exports and cumulative snapshots of one shop: the second file repeats
    // an order of the first (here with its newer status); the union is imported, the
    // later file's version standing. Within one file an order is still given once.
    let shop = shop().await;
    let header = "order_id,customer_id,ordered_at,amount,status\n";
    let a = shop.file(
        "a.csv",
        format!("{header}o7,c7,2024-01-07,1.00,created\no8,c7,2024-01-08,3.00,paid\n"),
    );
    let b = shop.file("b.csv", format!("{header}o7,c7,2024-01-07,1.00,paid\n"));
    let s = shop.import(Kind::Orders, Format::Generic, &[a, b]).await.unwrap();
    assert_eq!((s.orders_inserted, s.orders_total), (2, 4));
    let o7 = shop
        .store
        .order(&guanxi_domain::OrderKey {
            source: guanxi_domain::Source::parse("generic").unwrap(),
            external_id: "o7".into(),
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(o7.order.status, guanxi_domain::OrderStatus::Paid);
}

#[tokio::test]
async fn empty_file() {
    rejects(b"", 1, 0, "the file is empty").await;
    rejects(b"\n  \n", 1, 0, "the file is empty").await;
}

#[tokio::test]
async fn invalid_gbk() {
    let shop = shop().await;
    let before = shop.state().await;
    let text = "订单编号,买家会员名,买家应付货款,订单状态,订单创建时间,宝贝标题\n1001,小明,99.00,交易成功,2024-03-01 10:00:00,奶瓶\n1002,小红,50.00,交易成功,2024-03-02 10:00:00,";
    let (mut bytes, _, _) = encoding_rs::GBK.encode(text);
    bytes.to_mut().extend_from_slice(b"\x81\x20\n"); // a lead byte without its trail byte
    let path = shop.file("taobao.csv", &bytes);
    let mut opts = options(Kind::Orders, Format::Taobao);
    opts.encoding = EncodingChoice::Fixed(guanxi_import::Encoding::Gbk);
    let (p, total) = problems(shop.import_with(opts, std::slice::from_ref(&path)).await);
    assert_eq!(total, 1);
    let s = p[0].to_string();
    assert!(
        s.starts_with(&at(&path, 3, 6)) && s.contains("宝贝标题: invalid GBK"),
        "{s}"
    );
    assert_eq!(shop.state().await, before);
}

#[tokio::test]
async fn every_problem_is_counted_and_twenty_listed() {
    let shop = shop().await;
    let mut body = HEADER.to_string();
    for i in 0..30 {
        body += &format!("x{i},c,2024-01-01,bad,1,,\n");
    }
    let path = shop.file("many.csv", body);
    let err = shop
        .import(Kind::Orders, Format::Generic, std::slice::from_ref(&path))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("… and 10 more problems"), "{text}");
    assert!(text.contains("nothing was imported: 30 problems"), "{text}");
    let (p, total) = problems(Err(err));
    assert_eq!((p.len(), total), (20, 30));
}

#[tokio::test]
async fn skip_bad_rows_imports_the_rest_and_writes_rejects() {
    let shop = shop().await;
    let body = format!(
        "{HEADER}o3,c3,2024-01-07,1.00,1,,\no4,c4,2024-01-07,1.00,1,,\no4,c4,2024-01-07,oops,1,,\no5,c5,2024-01-08,3.00,1,,\n"
    );
    let path = shop.file("mixed.csv", body);
    let rejects = shop.dir.path().join("rejects.csv");
    let mut opts = options(Kind::Orders, Format::Generic);
    opts.rejects = Some(rejects.clone());
    let s = shop.import_with(opts, std::slice::from_ref(&path)).await.unwrap();
    assert_eq!(
        (s.orders_inserted, s.rejected),
        (2, 2),
        "o3 and o5 in; both rows of o4 out"
    );
    let written = std::fs::read_to_string(&rejects).unwrap();
    assert_eq!(written.lines().count(), 3, "{written}");
    assert!(written.contains("amount,\"expected an amount like 12.50"), "{written}");
    assert!(written.contains("order \"\"o4\"\" was rejected"), "{written}");
    assert_eq!(shop.state().await.0.orders, 4);
}

#[tokio::test]
async fn bad_customers_rows_are_located() {
    let shop = shop().await;
    let before = shop.state().await;
    let path = shop.file(
        "customers.csv",
        "customer_id,name,gender,birthday,consent_sms\nc1,李娜,女,1990-05-17,\nc2,王芳,x,1991-02-30,yes\n",
    );
    let (p, total) = problems(
        shop.import(Kind::Customers, Format::Generic, std::slice::from_ref(&path))
            .await,
    );
    assert_eq!(total, 1, "one problem per row: the first found");
    assert!(p[0].to_string().starts_with(&at(&path, 3, 3)), "{}", p[0]);
    assert!(p[0].message.contains("expected female, male or unknown"));
    assert_eq!(shop.state().await, before);
}

#[tokio::test]
async fn a_decimal_comma_is_an_error_unless_the_command_says_so() {
    let body = format!("{HEADER}o3,c3,2024-01-07,\"12,50\",1,,\n");
    rejects(
        body.as_bytes(),
        2,
        4,
        "amount: expected an amount like 12.50, found \"12,50\"",
    )
    .await;
    rejects(body.as_bytes(), 2, 4, "pass --decimal-comma").await;
    // With the locale said, the same file reads 12.50.
    let shop = shop().await;
    let path = shop.file("comma.csv", &body);
    let mut opts = options(Kind::Orders, Format::Generic);
    opts.decimal = guanxi_domain::DecimalMark::Comma;
    shop.import_with(opts, &[path]).await.unwrap();
    let o = shop
        .store
        .order(&guanxi_domain::OrderKey {
            source: guanxi_domain::Source::parse("generic").unwrap(),
            external_id: "o3".into(),
        })
        .await
        .unwrap()
        .expect("o3 imported");
    assert_eq!(o.order.goods(), guanxi_domain::Cents(1250));
}

#[tokio::test]
async fn thousands_separators_only_in_groups_of_three() {
    let body = format!("{HEADER}o3,c3,2024-01-07,\"1,2,3\",1,,\n");
    rejects(body.as_bytes(), 2, 4, "between groups of three digits").await;
    let body = format!("{HEADER}o3,c3,2024-01-07,\"12345678901.00\",1,,\n");
    rejects(body.as_bytes(), 2, 4, "too large").await;
}
