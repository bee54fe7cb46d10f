//! The product catalogue: products and keyword rules fill order lines' missing category,
//! title and cost, for orders imported before the catalogue and after it.

mod common;

use std::path::PathBuf;

use common::{Shop, at, options, problems};
use guanxi_domain::{Cents, OrderKey, OrderLine, Source};
use guanxi_import::{Format, Kind};
use guanxi_store::{Orders as _, Store};

const ORDERS: &str = "order_id,customer_id,ordered_at,amount,paid_at,sku,title,quantity,category,cost\n\
    A1,c1,2026-01-05 10:00:00,30.00,2026-01-05 10:01:00,B-1,Python 入门,2,,\n\
    A1,c1,2026-01-05 10:00:00,5.00,2026-01-05 10:01:00,,邮费补拍,1,,\n\
    A2,c2,2026-01-06 10:00:00,12.00,2026-01-06 10:01:00,B-2,童话书,1,gifts,3.00\n";

const PRODUCTS: &str = "sku,title,category,unit_cost\n\
    B-1,Python 入门,programming,4.50\n\
    B-2,童话书,books,2.00\n";

const KEYWORDS: &str = "keyword,category\n邮费,postage\n书,books\n";

async fn lines(shop: &Shop, id: &str) -> Vec<OrderLine> {
    let key = OrderKey {
        source: Source::parse("generic").unwrap(),
        external_id: id.into(),
    };
    shop.store.order(&key).await.unwrap().unwrap().order.lines
}

fn categories(lines: &[OrderLine]) -> Vec<Option<&str>> {
    lines.iter().map(|l| l.category.as_deref()).collect()
}

#[tokio::test]
async fn a_catalogue_imported_after_the_orders_completes_them_in_store_and_lake() {
    let shop = Shop::new().await;
    let orders = shop.file("orders.csv", ORDERS);
    shop.import(Kind::Orders, Format::Generic, std::slice::from_ref(&orders))
        .await
        .unwrap();
    let lake_before = shop.lake.stats().unwrap();

    let files = [shop.file("products.csv", PRODUCTS), shop.file("keywords.csv", KEYWORDS)];
    let s = shop.import(Kind::Products, Format::Generic, &files).await.unwrap();
    assert_eq!((s.records_inserted, s.keyword_rules), (2, 2));
    assert_eq!((s.orders_updated, s.orders_inserted), (1, 0), "only A1 lacked anything");

    let a1 = lines(&shop, "A1").await;
    assert_eq!(categories(&a1), [Some("programming"), Some("postage")]);
    assert_eq!(a1[0].cost, Some(Cents(900)), "4.50 × 2");
    assert_eq!(a1[1].cost, None, "postage has no SKU, so no cost");
    let a2 = lines(&shop, "A2").await;
    assert_eq!(categories(&a2), [Some("gifts")], "the export's category stands");
    assert_eq!(a2[0].cost, Some(Cents(300)), "the export's cost stands");
    let lake_after = shop.lake.stats().unwrap();
    assert_eq!(
        lake_after.live_rows, lake_before.live_rows,
        "the lake holds the new revision of A1 in place of the old"
    );
    assert!(lake_after.rows > lake_before.rows, "A1's new revision went to the lake");

    // The same catalogue again changes nothing; the orders re-imported are unchanged.
    let s = shop.import(Kind::Products, Format::Generic, &files).await.unwrap();
    assert_eq!((s.records_unchanged, s.orders_updated), (2, 0));
    let s = shop.import(Kind::Orders, Format::Generic, &[orders]).await.unwrap();
    assert_eq!((s.orders_unchanged, s.orders_updated), (2, 0));
}

#[tokio::test]
async fn orders_imported_after_the_catalogue_are_completed_as_they_come() {
    let shop = Shop::new().await;
    let files = [shop.file("keywords.csv", KEYWORDS), shop.file("products.csv", PRODUCTS)];
    let s = shop.import(Kind::Products, Format::Generic, &files).await.unwrap();
    assert_eq!((s.orders_updated, s.orders_total), (0, 0));
    shop.import(Kind::Orders, Format::Generic, &[shop.file("orders.csv", ORDERS)])
        .await
        .unwrap();
    assert_eq!(
        categories(&lines(&shop, "A1").await),
        [Some("programming"), Some("postage")]
    );

    // New keyword rules replace the old ones; products stay.
    let s = shop
        .import(
            Kind::Products,
            Format::Generic,
            &[shop.file("k2.csv", "keyword,category\n补拍,top-up\n")],
        )
        .await
        .unwrap();
    assert_eq!(s.keyword_rules, 1);
    assert_eq!(shop.store.catalogue().await.unwrap().products(), 2);
    // A line completed before keeps its category: the catalogue only fills blanks.
    assert_eq!(
        categories(&lines(&shop, "A1").await),
        [Some("programming"), Some("postage")]
    );
}

#[tokio::test]
async fn bad_catalogue_files_are_refused_with_their_place() {
    let shop = Shop::new().await;
    let typo = shop.file("p.csv", "sku,titel\nB-1,x\n");
    let (p, _) = problems(
        shop.import(Kind::Products, Format::Generic, std::slice::from_ref(&typo))
            .await,
    );
    assert!(p[0].to_string().starts_with(&at(&typo, 1, 0)), "{}", p[0]);
    assert!(p[0].message.contains("unknown column titel"), "{}", p[0]);
    assert!(p[0].message.contains("keyword,category"), "{}", p[0]);

    let comma = shop.file("c.csv", "sku,unit_cost\nB-1,\"12,50\"\n");
    let (p, _) = problems(
        shop.import(Kind::Products, Format::Generic, std::slice::from_ref(&comma))
            .await,
    );
    assert_eq!(p[0].field.as_deref(), Some("unit_cost"), "{}", p[0]);
    assert_eq!(p[0].line, 2);

    let twice = shop.file("t.csv", "sku\nB-1\nB-1\n");
    let (p, _) = problems(
        shop.import(Kind::Products, Format::Generic, std::slice::from_ref(&twice))
            .await,
    );
    assert!(p[0].message.contains("already given at line 2"), "{}", p[0]);

    let blank = shop.file("k.csv", "keyword,category\n\" \",x\n");
    let (p, _) = problems(
        shop.import(Kind::Products, Format::Generic, std::slice::from_ref(&blank))
            .await,
    );
    assert_eq!(p[0].field.as_deref(), Some("keyword"), "{}", p[0]);

    let shopify = options(Kind::Products, Format::Shopify);
    let e = shop.import_with(shopify, &[typo]).await.unwrap_err();
    assert!(e.to_string().contains("products files are read in guanxi's CSV"), "{e}");
    assert_eq!(
        shop.store.catalogue().await.unwrap().products(),
        0,
        "nothing half-written"
    );
}

/// A real Taobao shop's item reports have titles but no category: keyword rules give
/// every line whose title names the product kind its category.
#[tokio::test]
async fn keyword_rules_give_a_real_taobao_shops_lines_their_categories() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/real/taobao-meiyi-2019");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "csv"))
        .collect();
    files.sort();
    let shop = Shop::new().await;
    shop.import(Kind::Orders, Format::Taobao, &files).await.unwrap();
    let rules = "keyword,category\n数据线,cables\n充电宝,power banks\n移动电源,power banks\n手柄,gamepads\n";
    let s = shop
        .import(Kind::Products, Format::Generic, &[shop.file("k.csv", rules)])
        .await
        .unwrap();
    assert!(s.orders_updated > 100, "{s:?}");

    let (mut expected, mut found) = (0, 0);
    let mut after = 0;
    loop {
        let page = shop.store.orders_after(after, 500).await.unwrap();
        let Some(last) = page.last() else { break };
        after = last.id;
        for l in page.iter().flat_map(|o| &o.order.lines) {
            let title = l.title.as_deref().unwrap_or("");
            // Counted here from the rules' meaning, not the catalogue's code.
            let want = if title.contains("数据线") {
                Some("cables")
            } else if title.contains("充电宝") || title.contains("移动电源") {
                Some("power banks")
            } else if title.contains("手柄") {
                Some("gamepads")
            } else {
                None
            };
            expected += u32::from(want.is_some());
            found += u32::from(want.is_some() && l.category.as_deref() == want);
            if want.is_none() {
                assert_eq!(l.category, None, "{title}");
            }
        }
    }
    assert!(expected > 100, "{expected}");
    assert_eq!(found, expected);
}
