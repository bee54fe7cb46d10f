//! Names and regions for demo customers.

use guanxi_domain::Gender;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭", "何", "林", "罗",
    "高",
];
const FEMALE: &[&str] = &[
    "芳", "娜", "敏", "静", "丽", "婷", "雪", "慧", "佳怡", "雨涵", "欣怡", "梦瑶", "晓燕", "思琪",
];
const MALE: &[&str] = &["伟", "强", "磊", "洋", "勇", "军", "杰", "涛", "浩然", "子轩"];

/// A name and gender; most buyers of a maternal-and-baby store are mothers.
pub(crate) fn person(r: &mut ChaCha8Rng) -> (String, Gender) {
    let surname = SURNAMES[r.random_range(0..SURNAMES.len())];
    if r.random_bool(0.82) {
        (
            format!("{surname}{}", FEMALE[r.random_range(0..FEMALE.len())]),
            Gender::Female,
        )
    } else {
        (
            format!("{surname}{}", MALE[r.random_range(0..MALE.len())]),
            Gender::Male,
        )
    }
}

/// (province, city, weight): where the shop's parcels go.
const REGIONS: &[(&str, &str, u32)] = &[
    ("广东省", "广州市", 8),
    ("广东省", "深圳市", 8),
    ("浙江省", "杭州市", 7),
    ("浙江省", "宁波市", 3),
    ("江苏省", "南京市", 5),
    ("江苏省", "苏州市", 5),
    ("上海市", "上海市", 7),
    ("北京市", "北京市", 6),
    ("山东省", "济南市", 4),
    ("山东省", "青岛市", 3),
    ("四川省", "成都市", 5),
    ("湖北省", "武汉市", 4),
    ("河南省", "郑州市", 4),
    ("福建省", "厦门市", 3),
    ("湖南省", "长沙市", 3),
    ("陕西省", "西安市", 3),
    ("重庆市", "重庆市", 3),
    ("天津市", "天津市", 2),
    ("辽宁省", "沈阳市", 2),
    ("广西壮族自治区", "南宁市", 2),
];

pub(crate) fn region(r: &mut ChaCha8Rng) -> (&'static str, &'static str) {
    let total: u32 = REGIONS.iter().map(|x| x.2).sum();
    let mut x = r.random_range(0..total);
    for (p, c, w) in REGIONS {
        if x < *w {
            return (p, c);
        }
        x -= w;
    }
    (REGIONS[0].0, REGIONS[0].1)
}
