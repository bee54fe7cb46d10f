//! Points and tiers over a real store: an order earns at the tier its member held
//! before it (the qualifying order at the old rate, the next at the new), a refund takes
//! back its order's share, and a re-run posts and records nothing again.

use chrono::{DateTime, Duration, TimeZone as _, Utc};
use guanxi_domain::Cents;
use guanxi_domain::points::{Event, Rules};
use guanxi_domain::tier::Tiers;
use guanxi_store::{Points as _, Store};
use guanxi_store_sqlite::SqliteStore;

fn day(n: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap() + Duration::days(n)
}

/// An order of one line of `yuan`, no shipping or discount, paid on day `paid`.
fn order(id: &str, yuan: i64, paid: i64) -> guanxi_domain::Order {
    let mut o = guanxi_store::testsuite::order(id, "m", 1);
    o.shipping_fee = Cents::ZERO;
    o.lines[0].amount = Cents(yuan * 100);
    o.lines[0].discount = Cents::ZERO;
    o.lines[0].quantity = 1;
    o.created_at = day(paid);
    o.times.paid_at = Some(day(paid));
    o
}

#[tokio::test]
async fn orders_earn_at_the_tier_held_before_them_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("t.db")).await.unwrap();
    let mut tx = store.begin().await.unwrap();
    // ¥1,200 on day 0 (qualifies for 银卡: ¥1,000), ¥100 on day 7 (earns at 银卡, ×1.2).
    tx.upsert_orders(&[order("o1", 1_200, 0), order("o2", 100, 7)])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let tiers = Tiers::default();
    let until = day(30);
    let evaluated = guanxi_app::points::evaluate(&store, &tiers, until).await.unwrap();
    assert_eq!(
        (evaluated.members, evaluated.changes),
        (1, 1),
        "joined at 银卡: {evaluated:?}"
    );
    assert_eq!(evaluated.tiers[1], ("银卡".to_string(), 1));
    let earned = guanxi_app::points::earn(&store, Rules::default(), &tiers, day(-1), until)
        .await
        .unwrap();
    assert_eq!(
        earned.earned,
        1_200 + 120,
        "the qualifying order at ×1, the next at ×1.2: {earned:?}"
    );
    let customer = store.points_members(0, 10).await.unwrap()[0];
    let member = guanxi_app::points::show(&store, customer).await.unwrap();
    let points: Vec<u64> = member
        .history
        .iter()
        .map(|e| match e.event {
            Event::Earn { points, .. } => points,
            _ => 0,
        })
        .collect();
    assert_eq!(points, [1_200, 120]);
    // Again: nothing posted, nothing recorded.
    let again = guanxi_app::points::earn(&store, Rules::default(), &tiers, day(-1), until)
        .await
        .unwrap();
    assert_eq!((again.earned, again.replayed), (0, 2));
    assert_eq!(
        guanxi_app::points::evaluate(&store, &tiers, until)
            .await
            .unwrap()
            .changes,
        0
    );
    // Half of the second order refunded: half of what it earned comes back.
    let mut refunded = order("o2", 100, 7);
    refunded.lines[0].refund = Cents(5_000);
    refunded.times.refunded_at = Some(day(9));
    let mut tx = store.begin().await.unwrap();
    tx.upsert_orders(&[refunded]).await.unwrap();
    tx.commit().await.unwrap();
    let back = guanxi_app::points::earn(&store, Rules::default(), &tiers, day(-1), until)
        .await
        .unwrap();
    assert_eq!(back.taken_back, 60, "{back:?}");
    // Again: the earnings and the refund are found posted; nothing moves.
    let again = guanxi_app::points::earn(&store, Rules::default(), &tiers, day(-1), until)
        .await
        .unwrap();
    assert_eq!((again.earned, again.taken_back, again.replayed), (0, 0, 2), "{again:?}");
    assert_eq!(guanxi_app::points::show(&store, customer).await.unwrap().balance, 1_260);
    assert!(guanxi_app::points::verify(&store).await.unwrap().differences.is_empty());
    // The liability: 1,260 points at 1 fen; of what left the lots (the 60 taken back) none
    // expired; the lots of days 0 and 7 expire in the month before their anniversary.
    let l = guanxi_app::points::liability(&store, Rules::default(), until)
        .await
        .unwrap();
    assert_eq!(
        (l.outstanding, l.value_cents, l.debt, l.breakage_rate),
        (1_260, 1_260, 0, Some(0.0))
    );
    assert_eq!(l.expiring_next_month, 0);
    let near = guanxi_app::points::liability(&store, Rules::default(), day(360))
        .await
        .unwrap();
    assert_eq!(
        near.expiring_next_month, 1_260,
        "both lots expire within a month of day 360"
    );
    // Past their day but not yet taken by an expiry run: still outstanding, and counted
    // as expiring.
    let overdue = guanxi_app::points::liability(&store, Rules::default(), day(400))
        .await
        .unwrap();
    assert_eq!((overdue.outstanding, overdue.expiring_next_month), (1_260, 1_260));
    guanxi_app::points::expire(&store, "2027-01", day(400)).await.unwrap();
    let after = guanxi_app::points::liability(&store, Rules::default(), day(400))
        .await
        .unwrap();
    assert_eq!(after.outstanding, 0);
    assert_eq!(
        after.breakage_rate,
        Some(1_260.0 / 1_320.0),
        "expired of all that left the lots"
    );
}
