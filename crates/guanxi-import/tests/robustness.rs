//! No input panics the importer: mutated files (bytes flipped, inserted, cut) either
//! import or fail with located problems, and a failure leaves the store unchanged.

mod common;

use common::{Shop, options};
use guanxi_import::{EncodingChoice, Format, ImportError, Kind};

/// A small deterministic generator (xorshift), so that a failure reproduces exactly.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const INTERESTING: &[u8] = b",\"\n\r\t=-.0123456789:/ \xff\xfe\x81\xe4\xb8";

fn mutate(rng: &mut Rng, base: &[u8]) -> Vec<u8> {
    let mut v = base.to_vec();
    for _ in 0..1 + rng.below(4) {
        if v.is_empty() {
            break;
        }
        let at = rng.below(v.len());
        match rng.below(4) {
            0 => v[at] = INTERESTING[rng.below(INTERESTING.len())],
            1 => v.insert(at, INTERESTING[rng.below(INTERESTING.len())]),
            2 => {
                v.remove(at);
            }
            _ => v.truncate(at),
        }
    }
    v
}

async fn survives(format: Format, base: &[u8], seed: u64, rounds: usize) {
    let shop = Shop::new().await;
    let mut rng = Rng(seed);
    for round in 0..rounds {
        let before = shop.state().await;
        let bytes = mutate(&mut rng, base);
        let path = shop.file(&format!("m{round}.csv"), &bytes);
        let mut opts = options(Kind::Orders, format);
        opts.encoding = EncodingChoice::Auto;
        match shop.import_with(opts, &[path]).await {
            Ok(_) => {}
            Err(ImportError::Invalid { problems, total }) => {
                assert!(total >= 1 && !problems.is_empty());
                assert!(problems.iter().all(|p| p.line >= 1), "{problems:?}");
                assert_eq!(
                    shop.state().await,
                    before,
                    "round {round}: a failed import changed the store"
                );
            }
            Err(e) => panic!(
                "round {round}: unexpected error {e} for {:?}",
                String::from_utf8_lossy(&bytes)
            ),
        }
    }
}

#[tokio::test]
async fn mutated_generic_files_never_panic() {
    let base = "order_id,customer_id,ordered_at,amount,quantity,status,paid_at,title\n\
                o1,c1,2024-01-05 10:00:00,129.00,1,paid,2024-01-05 10:01:00,纸尿裤\n\
                o1,c1,2024-01-05 10:00:00,39.90,2,paid,2024-01-05 10:01:00,湿巾\n\
                o2,c2,2024-02-01,268,1,closed,,奶粉\n";
    survives(Format::Generic, base.as_bytes(), 0x9e37_79b9, 300).await;
}

#[tokio::test]
async fn mutated_taobao_files_never_panic() {
    let base = "订单编号,买家会员名,买家应付货款,订单状态,订单创建时间,订单付款时间,收货地址,退款金额\n\
                =\"1001\",小明,99.00,交易成功,2024-03-01 10:00:00,2024-03-01 10:01:00,浙江省 杭州市 西湖区,0\n\
                1002,小红,50.00,交易关闭,2024-03-02 10:00:00,2024-03-02 10:01:00,北京市朝阳区,50.00\n";
    survives(Format::Taobao, base.as_bytes(), 0x1234_5678, 300).await;
}

#[tokio::test]
async fn mutated_cdnow_files_never_panic() {
    let base = " 00001 19970101  1   11.77\r\n 00002 19970112  1   12.00\r\n 00002 19970112  5   77.00\r\n";
    survives(Format::Cdnow, base.as_bytes(), 0xdead_beef, 300).await;
}
