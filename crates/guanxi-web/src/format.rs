//! Numbers as people read them on the pages: thousands grouped (¥2,602,828; 1,000,000
//! customers), money in yuan from integer cents without a detour through floats.

/// `n` with its thousands grouped by commas: `-1234567` → `-1,234,567`.
pub fn grouped(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Cents as yuan to the fen, grouped: `123456789` → `¥1,234,567.89`.
pub fn yuan(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let abs = cents.unsigned_abs();
    format!("{sign}¥{}.{:02}", grouped((abs / 100) as i64), abs % 100)
}

/// Cents as whole yuan (half a yuan rounds away from zero), grouped: `260282849` →
/// `¥2,602,828`.
pub fn yuan_whole(cents: i64) -> String {
    let whole = (i128::from(cents) + if cents < 0 { -50 } else { 50 }) / 100;
    let sign = if whole < 0 { "-" } else { "" };
    format!("{sign}¥{}", grouped(whole.unsigned_abs() as i64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_grouped_by_thousands() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
        assert_eq!(grouped(1_000_000), "1,000,000");
        assert_eq!(grouped(-1_234_567), "-1,234,567");
        assert_eq!(yuan(123_456_789), "¥1,234,567.89");
        assert_eq!(yuan(5), "¥0.05");
        assert_eq!(yuan(-150), "-¥1.50");
        assert_eq!(yuan_whole(260_282_849), "¥2,602,828");
        assert_eq!(yuan_whole(260_282_850), "¥2,602,829");
        assert_eq!(yuan_whole(-250), "-¥3");
        assert_eq!(yuan_whole(i64::MIN), "-¥92,233,720,368,547,758");
    }
}
