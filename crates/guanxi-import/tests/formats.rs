//! Each format reads what real exports hold, and re-importing changes nothing.

mod common;

use std::path::PathBuf;

use common::{Shop, options};
use guanxi_domain::{Cents, CustomerKey, OrderKey, OrderStatus, Source};
use guanxi_import::{CsvExport, Format, Kind};
use guanxi_store::{Orders as _, Store};

fn cdnow(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/cdnow")
        .join(name)
}

fn key(source: &str, id: &str) -> OrderKey {
    OrderKey {
        source: Source::parse(source).unwrap(),
        external_id: id.into(),
    }
}

#[tokio::test]
async fn cdnow_master_gives_its_customers_and_lines_and_reimports_unchanged() {
    let shop = Shop::new().await;
    let file = cdnow("CDNOW_master.txt");
    let s = shop
        .import(Kind::Orders, Format::Cdnow, std::slice::from_ref(&file))
        .await
        .unwrap();
    assert_eq!(
        (s.rows_read, s.customers_total, s.order_lines_total, s.orders_total),
        (69_659, 23_570, 69_659, 69_659)
    );
    let lake = shop.lake.stats().unwrap();
    assert_eq!((lake.live_rows, lake.orders), (69_659, 69_659));
    let again = shop.import(Kind::Orders, Format::Cdnow, &[file]).await.unwrap();
    assert_eq!(
        (again.orders_inserted, again.orders_updated, again.orders_unchanged),
        (0, 0, 69_659)
    );
    assert_eq!((again.customers_total, again.order_lines_total), (23_570, 69_659));
    assert_eq!(
        shop.lake.stats().unwrap(),
        lake,
        "an unchanged import appends nothing to the lake"
    );
    // Customer 00002 bought twice on 1997-01-12: two orders, ranked.
    let o = shop
        .store
        .order(&key("cdnow", "00002-19970112-2"))
        .await
        .unwrap()
        .unwrap()
        .order;
    assert_eq!((o.lines[0].quantity, o.lines[0].amount), (5, Cents(7700)));
}

#[tokio::test]
async fn cdnow_sample_reads_the_five_column_layout() {
    let shop = Shop::new().await;
    let s = shop
        .import(Kind::Orders, Format::Cdnow, &[cdnow("CDNOW_sample.txt")])
        .await
        .unwrap();
    assert_eq!((s.rows_read, s.customers_total), (6_919, 2_357));
}

#[tokio::test]
async fn shopify_multi_line_orders() {
    let shop = Shop::new().await;
    let csv = "Name,Email,Financial Status,Paid at,Fulfillment Status,Fulfilled at,Currency,Subtotal,Shipping,Taxes,Total,Discount Code,Discount Amount,Shipping Method,Created at,Lineitem quantity,Lineitem name,Lineitem price,Lineitem sku,Billing Province,Shipping City,Shipping Province Name,Phone,Refunded Amount,Id
#1001,Ann@Example.com,paid,2024-03-01 10:05:00 +0800,fulfilled,2024-03-02 09:00:00 +0800,CNY,300.00,10.00,0.00,290.00,SPRING,20.00,Standard,2024-03-01 10:00:00 +0800,2,Diapers L,100.00,D-L,Zhejiang,Hangzhou,Zhejiang,,0.00,5001
#1001,Ann@Example.com,,,,,,,,,,,,,2024-03-01 10:00:00 +0800,1,Wipes,100.00,W-1,,,,,,5001
#1002,,pending,,unfulfilled,,CNY,50.00,0.00,0.00,50.00,,0.00,,2024-03-03 11:00:00 +0800,1,Toy,50.00,T-1,,,,+86 138 0013 8000,,5002
#1003,bob@example.com,refunded,2024-03-04 10:00:00 +0800,,,CNY,80.00,0.00,0.00,80.00,,0.00,,2024-03-04 09:59:00 +0800,1,Romper,80.00,R-1,,,,,80.00,5003
";
    let path = shop.file("orders_export.csv", csv);
    let s = shop
        .import(Kind::Orders, Format::Shopify, std::slice::from_ref(&path))
        .await
        .unwrap();
    assert_eq!(
        (s.orders_inserted, s.order_lines_total, s.customers_inserted),
        (3, 4, 3)
    );
    let o = shop.store.order(&key("shopify", "#1001")).await.unwrap().unwrap().order;
    assert_eq!(
        o.customer,
        Some(CustomerKey {
            source: Source::parse("shopify").unwrap(),
            external_id: "ann@example.com".into()
        })
    );
    assert_eq!(o.status, OrderStatus::Shipped);
    assert_eq!(o.lines.len(), 2);
    // The order's 20.00 discount is spread over its lines in proportion (200 : 100).
    assert_eq!(
        o.lines.iter().map(|l| l.discount).collect::<Vec<_>>(),
        vec![Cents(1333), Cents(667)]
    );
    assert_eq!(o.goods(), Cents(28000));
    assert_eq!(o.paid(), Cents(29000));
    assert_eq!(o.province.as_deref(), Some("Zhejiang"));
    let pending = shop.store.order(&key("shopify", "#1002")).await.unwrap().unwrap().order;
    assert_eq!(
        (pending.status, pending.customer.as_ref().unwrap().external_id.as_str()),
        (OrderStatus::Created, "13800138000")
    );
    let refunded = shop.store.order(&key("shopify", "#1003")).await.unwrap().unwrap().order;
    assert_eq!(
        (refunded.status, refunded.refund()),
        (OrderStatus::Refunded, Cents(8000))
    );
    let again = shop.import(Kind::Orders, Format::Shopify, &[path]).await.unwrap();
    assert_eq!(again.orders_unchanged, 3);
}

const TAOBAO: &str = "订单编号,买家会员名,买家应付货款,买家应付邮费,总金额,买家实际支付金额,订单状态,订单创建时间,订单付款时间 ,宝贝标题 ,宝贝总数量,收货地址 ,联系手机,退款金额
=\"2024030112345678\",小明妈妈,199.00,0.00,199.00,199.00,交易成功,2024-03-01 10:00:00,2024-03-01 10:01:00,花王纸尿裤 L 码,2,浙江省 杭州市 西湖区 文三路100号,13800138000,0.00
'2024030212345679,小红,58.00,8.00,66.00,0.00,等待买家付款,2024-03-02 11:00:00,,婴儿湿巾,1,广东省深圳市南山区科技园,13900139000,
2024030312345680,小明妈妈,268.00,0.00,268.00,268.00,交易关闭,2024-03-03 12:00:00,2024-03-03 12:02:00,奶粉,1,北京 北京市 朝阳区,13800138000,268.00
";

#[tokio::test]
async fn taobao_utf8_with_bom_and_gbk_read_the_same() {
    for (name, bytes) in [
        ("utf8-bom.csv", [b"\xEF\xBB\xBF".as_slice(), TAOBAO.as_bytes()].concat()),
        ("gbk.csv", encoding_rs::GBK.encode(TAOBAO).0.into_owned()),
    ] {
        let shop = Shop::new().await;
        let path = shop.file(name, bytes);
        let s = shop.import(Kind::Orders, Format::Taobao, &[path]).await.unwrap();
        assert_eq!((s.orders_inserted, s.customers_inserted), (3, 2), "{name}");
        let o = shop
            .store
            .order(&key("taobao", "2024030112345678"))
            .await
            .unwrap()
            .unwrap()
            .order;
        assert_eq!(o.status, OrderStatus::Completed);
        assert_eq!(
            (o.province.as_deref(), o.city.as_deref()),
            (Some("浙江省"), Some("杭州市")),
            "{name}"
        );
        assert_eq!(
            (o.lines[0].quantity, o.lines[0].title.as_deref()),
            (2, Some("花王纸尿裤 L 码"))
        );
        let unpaid = shop
            .store
            .order(&key("taobao", "2024030212345679"))
            .await
            .unwrap()
            .unwrap()
            .order;
        assert_eq!(
            (unpaid.status, unpaid.paid(), unpaid.city.as_deref()),
            (OrderStatus::Created, Cents::ZERO, Some("深圳市"))
        );
        let refunded = shop
            .store
            .order(&key("taobao", "2024030312345680"))
            .await
            .unwrap()
            .unwrap()
            .order;
        assert_eq!(
            (refunded.status, refunded.province.as_deref()),
            (OrderStatus::Refunded, Some("北京市"))
        );
    }
}

#[tokio::test]
async fn customers_service_and_reviews_import_and_reimport_unchanged() {
    let shop = Shop::new().await;
    let customers = shop.file(
        "customers.csv",
        "customer_id,name,gender,birthday,mobile,email,tags,consent_sms,consent_email,consent_at,max_messages_per_week\n\
         c1,李娜,女,1990-05-17,138-0013-8000,li@Example.com,vip;宝妈,yes,no,2024-01-01,2\n\
         c2,王芳,female,,12345,not-an-email,,,,,\n",
    );
    let service = shop.file(
        "service.csv",
        "record_id,customer_id,order_id,kind,status,opened_at,closed_at,satisfaction,cost,note\n\
         s1,c1,o1,投诉,,2024-02-01 10:00,2024-02-02 10:00,2,15.00,物流太慢\n\
         s2,c3,,praise,closed,2024-02-05,,5,,好评\n",
    );
    let reviews = shop.file(
        "reviews.csv",
        "review_id,customer_id,order_id,item_rating,service_rating,logistics_rating,text,created_at\nr1,c1,o1,5,4,3,不错,2024-02-03\n",
    );
    let mut opts = options(Kind::Customers, Format::Generic);
    opts.source = Some(Source::parse("shop").unwrap());
    let s = shop
        .import_with(opts.clone(), std::slice::from_ref(&customers))
        .await
        .unwrap();
    assert_eq!(s.customers_inserted, 2);
    let (_, c1) = shop
        .store
        .customer(&CustomerKey {
            source: Source::parse("shop").unwrap(),
            external_id: "c1".into(),
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c1.tags, vec!["vip".to_string(), "宝妈".to_string()]);
    assert_eq!(c1.consents.len(), 2);
    assert_eq!(c1.mobile.unwrap().normalised.unwrap().as_str(), "13800138000");
    let (_, c2) = shop
        .store
        .customer(&CustomerKey {
            source: Source::parse("shop").unwrap(),
            external_id: "c2".into(),
        })
        .await
        .unwrap()
        .unwrap();
    assert!(
        !c2.mobile.unwrap().is_valid() && !c2.email.unwrap().is_valid(),
        "invalid contacts are kept, flagged"
    );
    opts.kind = Kind::Service;
    let s = shop
        .import_with(opts.clone(), std::slice::from_ref(&service))
        .await
        .unwrap();
    assert_eq!(
        (s.records_inserted, s.customers_inserted),
        (2, 1),
        "c3 was not known yet"
    );
    opts.kind = Kind::Reviews;
    let s = shop
        .import_with(opts.clone(), std::slice::from_ref(&reviews))
        .await
        .unwrap();
    assert_eq!(s.records_inserted, 1);
    for (kind, file) in [
        (Kind::Customers, &customers),
        (Kind::Service, &service),
        (Kind::Reviews, &reviews),
    ] {
        opts.kind = kind;
        let s = shop
            .import_with(opts.clone(), std::slice::from_ref(file))
            .await
            .unwrap();
        assert_eq!(
            s.customers_inserted + s.customers_updated + s.records_inserted + s.records_updated,
            0
        );
    }
    let c = shop.store.counts().await.unwrap();
    assert_eq!((c.customers, c.service_records, c.reviews), (3, 2, 1));
}

#[tokio::test]
async fn generic_export_imports_back_to_the_same_orders() {
    let shop = Shop::new().await;
    let cfg = guanxi_demo::DemoConfig {
        customers: 300,
        ..Default::default()
    };
    let demo: Vec<_> = guanxi_demo::customers(&cfg).collect();
    let mut csv = CsvExport::orders(Vec::new()).unwrap();
    for c in &demo {
        for o in &c.orders {
            csv.order(o).unwrap();
        }
    }
    let path = shop.file("demo-orders.csv", csv.finish().unwrap());
    let mut opts = options(Kind::Orders, Format::Generic);
    opts.source = Some(Source::parse("demo").unwrap());
    let s = shop.import_with(opts, &[path]).await.unwrap();
    let orders: Vec<_> = demo.iter().flat_map(|c| c.orders.iter()).collect();
    assert_eq!(s.orders_inserted as usize, orders.len());
    for o in orders.iter().step_by(7) {
        let back = shop.store.order(&o.key).await.unwrap().unwrap().order;
        assert_eq!(&back, *o);
    }
}
