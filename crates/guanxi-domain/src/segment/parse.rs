//! The segment language's lexer and recursive-descent parser.
//!
//! ```text
//! expr      = and { "or" and }
//! and       = unary { "and" unary }
//! unary     = "not" unary | primary
//! primary   = "(" expr ")" | "in" "segment" TEXT | behaviour [ op INTEGER ]
//!           | ATTR op value | ATTR "in" "(" value { "," value } ")"
//!           | ATTR "between" value "and" value
//! behaviour = ("bought" | "received" | "complaints") "(" [ arg { "," arg } ] ")"
//! arg       = NAME "=" (TEXT | DURATION) | "open"
//! value     = NUMBER | TEXT | "true" | "false"      DURATION = INTEGER ("d" | "w")
//! ```
//! Keywords are case-insensitive; text is in single quotes (`''` for a quote).

use std::fmt;

use unicode_width::UnicodeWidthStr;

use super::{Attr, Behaviour, Cond, Expr, Kind, Number, Op, Value};
use crate::Channel;

/// A located parse error: the byte offset in the text, what was expected, what was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("column {column}: expected {expected}, found {found}")]
pub struct SegmentError {
    /// Byte offset into the text.
    pub offset: usize,
    /// 1-based column in characters.
    pub column: usize,
    pub expected: String,
    pub found: String,
}

impl SegmentError {
    /// The message with the text and a caret under the place, e.g.
    /// ```text
    /// segment:1:13: expected a comparison (=, !=, <, <=, >, >=, in, between), found `is`
    ///   recency_days is 30
    ///                ^
    /// ```
    pub fn render(&self, text: &str, origin: &str) -> String {
        let before = &text[..self.offset.min(text.len())];
        let pad = UnicodeWidthStr::width(before);
        format!(
            "{origin}:1:{}: expected {}, found {}\n  {text}\n  {}^",
            self.column,
            self.expected,
            self.found,
            " ".repeat(pad)
        )
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Text(String),
    Number(Number),
    Days(u32),
    Op(Op),
    Open,
    Close,
    Comma,
    End,
}

impl fmt::Display for Tok {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tok::Word(w) => write!(f, "`{w}`"),
            Tok::Text(t) => write!(f, "{}", Value::Text(t.clone())),
            Tok::Number(n) => write!(f, "`{n}`"),
            Tok::Days(d) => write!(f, "`{d}d`"),
            Tok::Op(o) => write!(f, "`{}`", o.as_str()),
            Tok::Open => f.write_str("`(`"),
            Tok::Close => f.write_str("`)`"),
            Tok::Comma => f.write_str("`,`"),
            Tok::End => f.write_str("the end"),
        }
    }
}

struct Lexer<'a> {
    text: &'a str,
    toks: Vec<(usize, Tok)>,
}

fn error(text: &str, offset: usize, expected: impl Into<String>, found: impl Into<String>) -> SegmentError {
    SegmentError {
        offset,
        column: text[..offset.min(text.len())].chars().count() + 1,
        expected: expected.into(),
        found: found.into(),
    }
}

impl<'a> Lexer<'a> {
    fn run(text: &'a str) -> Result<Vec<(usize, Tok)>, SegmentError> {
        let mut lx = Lexer { text, toks: Vec::new() };
        let bytes = text.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let c = text[i..].chars().next().unwrap_or(' ');
            let start = i;
            match c {
                c if c.is_whitespace() => i += c.len_utf8(),
                '(' => {
                    lx.toks.push((start, Tok::Open));
                    i += 1;
                }
                ')' => {
                    lx.toks.push((start, Tok::Close));
                    i += 1;
                }
                ',' => {
                    lx.toks.push((start, Tok::Comma));
                    i += 1;
                }
                '=' | '!' | '<' | '>' => {
                    let two = text.get(i..i + 2).unwrap_or("");
                    let (op, len) = match two {
                        "!=" | "<>" => (Op::Ne, 2),
                        "<=" => (Op::Le, 2),
                        ">=" => (Op::Ge, 2),
                        _ => match c {
                            '=' => (Op::Eq, 1),
                            '<' => (Op::Lt, 1),
                            '>' => (Op::Gt, 1),
                            _ => return Err(error(text, start, "`!=`", format!("`{c}`"))),
                        },
                    };
                    lx.toks.push((start, Tok::Op(op)));
                    i += len;
                }
                '\'' => {
                    let mut s = String::new();
                    let mut j = i + 1;
                    loop {
                        let Some(ch) = text[j..].chars().next() else {
                            return Err(error(text, start, "a closing `'` for this text", "the end"));
                        };
                        j += ch.len_utf8();
                        if ch == '\'' {
                            if text[j..].starts_with('\'') {
                                s.push('\'');
                                j += 1;
                            } else {
                                break;
                            }
                        } else {
                            s.push(ch);
                        }
                    }
                    lx.toks.push((start, Tok::Text(s)));
                    i = j;
                }
                c if c.is_ascii_digit() || (c == '-' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit)) => {
                    i = lx.number(i)?;
                }
                c if c.is_alphabetic() || c == '_' => {
                    let end = text[i..]
                        .char_indices()
                        .find(|(_, ch)| !(ch.is_alphanumeric() || *ch == '_'))
                        .map_or(text.len(), |(k, _)| i + k);
                    lx.toks.push((start, Tok::Word(text[i..end].to_string())));
                    i = end;
                }
                other => {
                    return Err(error(
                        text,
                        start,
                        "a name, a value, an operator or a parenthesis",
                        format!("`{other}`"),
                    ));
                }
            }
        }
        lx.toks.push((text.len(), Tok::End));
        Ok(lx.toks)
    }

    /// A number (`-12.5`) or a duration (`90d`, `2w`) starting at `i`; returns the end.
    fn number(&mut self, i: usize) -> Result<usize, SegmentError> {
        let text = self.text;
        let rest = &text[i..];
        let len = rest
            .char_indices()
            .skip(1)
            .find(|(_, c)| !(c.is_ascii_digit() || *c == '.'))
            .map_or(rest.len(), |(k, _)| k);
        let lit = &rest[..len];
        let after = rest[len..].chars().next();
        let bad = |what: &str| error(text, i, what, format!("`{lit}`"));
        if let Some(unit @ ('d' | 'w')) = after {
            let more = rest[len + 1..].chars().next();
            if !more.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                let n: u32 = lit
                    .parse()
                    .map_err(|_| bad("a whole number of days or weeks, as in 90d or 2w"))?;
                let days =
                    if unit == 'w' { n.checked_mul(7) } else { Some(n) }.ok_or_else(|| bad("a shorter duration"))?;
                self.toks.push((i, Tok::Days(days)));
                return Ok(i + len + 1);
            }
        }
        if after.is_some_and(|c| c.is_alphabetic() || c == '_') {
            return Err(error(
                text,
                i + len,
                "a space after the number (durations end in d or w, as in 90d)",
                format!("`{}`", after.unwrap_or(' ')),
            ));
        }
        let (neg, digits) = lit.strip_prefix('-').map_or((false, lit), |d| (true, d));
        let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
        if int.is_empty() || frac.len() > 4 || frac.contains('.') || (digits.contains('.') && frac.is_empty()) {
            return Err(bad("a number with at most 4 decimals, as in 12 or 0.25"));
        }
        let whole: i64 = int.parse().map_err(|_| bad("a smaller number"))?;
        let frac_value: i64 = if frac.is_empty() {
            0
        } else {
            format!("{frac:0<4}").parse().map_err(|_| bad("a number"))?
        };
        let scaled = whole
            .checked_mul(Number::SCALE)
            .and_then(|w| w.checked_add(frac_value))
            .ok_or_else(|| bad("a smaller number"))?;
        self.toks
            .push((i, Tok::Number(Number(if neg { -scaled } else { scaled }))));
        Ok(i + len)
    }
}

struct Parser<'a> {
    text: &'a str,
    toks: Vec<(usize, Tok)>,
    at: usize,
    /// `(` and `not` open around the current token.
    depth: usize,
    /// Conditions read so far.
    conditions: usize,
}

/// How deeply `(` and `not` may nest. Every pass over an expression (printing, expanding,
/// compiling to SQL, dropping) recurses over its tree, so its depth is bounded where it is
/// read: an expression from a URL cannot overflow the stack.
pub const MAX_NESTING: usize = 32;
/// How many conditions one expression may hold (after saved segments are inlined too); a
/// chain of `and`s is as deep as it is long.
pub const MAX_CONDITIONS: usize = 200;

/// Parses a segment expression; see the module docs for the grammar.
pub fn parse(text: &str) -> Result<Expr, SegmentError> {
    let toks = Lexer::run(text)?;
    let mut p = Parser {
        text,
        toks,
        at: 0,
        depth: 0,
        conditions: 0,
    };
    let e = p.or()?;
    match p.peek() {
        Tok::End => Ok(e),
        Tok::Close => Err(p.fail("`and`, `or` or the end (this `)` closes nothing)")),
        _ => Err(p.fail("`and`, `or` or the end")),
    }
}

const COMPARISONS: &str = "a comparison (=, !=, <, <=, >, >=, in, between)";

fn is_kw(t: &Tok, kw: &str) -> bool {
    matches!(t, Tok::Word(w) if w.eq_ignore_ascii_case(kw))
}

impl Parser<'_> {
    fn peek(&self) -> &Tok {
        &self.toks[self.at].1
    }

    fn offset(&self) -> usize {
        self.toks[self.at].0
    }

    fn next(&mut self) -> Tok {
        let t = self.toks[self.at].1.clone();
        if self.at + 1 < self.toks.len() {
            self.at += 1;
        }
        t
    }

    fn fail(&self, expected: impl Into<String>) -> SegmentError {
        error(self.text, self.offset(), expected, self.peek().to_string())
    }

    fn fail_at(&self, offset: usize, expected: impl Into<String>, found: impl Into<String>) -> SegmentError {
        error(self.text, offset, expected, found)
    }

    fn keyword(&mut self, kw: &str) -> bool {
        if is_kw(self.peek(), kw) {
            self.next();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, tok: Tok, what: &str) -> Result<(), SegmentError> {
        if *self.peek() == tok {
            self.next();
            Ok(())
        } else {
            Err(self.fail(what))
        }
    }

    fn or(&mut self) -> Result<Expr, SegmentError> {
        let mut e = self.and()?;
        while self.keyword("or") {
            e = Expr::Or(Box::new(e), Box::new(self.and()?));
        }
        Ok(e)
    }

    fn and(&mut self) -> Result<Expr, SegmentError> {
        let mut e = self.unary()?;
        while self.keyword("and") {
            e = Expr::And(Box::new(e), Box::new(self.unary()?));
        }
        Ok(e)
    }

    fn unary(&mut self) -> Result<Expr, SegmentError> {
        if is_kw(self.peek(), "not") {
            self.enter()?;
            self.next();
            let e = Expr::Not(Box::new(self.unary()?));
            self.depth -= 1;
            return Ok(e);
        }
        self.primary()
    }

    /// One more level of nesting, refused past [`MAX_NESTING`].
    fn enter(&mut self) -> Result<(), SegmentError> {
        if self.depth >= MAX_NESTING {
            return Err(self.fail(format!(
                "at most {MAX_NESTING} levels of `(` and `not` nested in one another"
            )));
        }
        self.depth += 1;
        Ok(())
    }

    fn primary(&mut self) -> Result<Expr, SegmentError> {
        let start = self.offset();
        if *self.peek() != Tok::Open {
            if self.conditions >= MAX_CONDITIONS {
                return Err(self.fail(format!(
                    "at most {MAX_CONDITIONS} conditions in one expression (save parts as segments? they count too)"
                )));
            }
            self.conditions += 1;
        }
        match self.peek().clone() {
            Tok::Open => {
                self.enter()?;
                self.next();
                let e = self.or()?;
                self.depth -= 1;
                if *self.peek() != Tok::Close {
                    return Err(self.fail(format!(
                        "`)` to close the `(` at column {}",
                        self.text[..start].chars().count() + 1
                    )));
                }
                self.next();
                Ok(e)
            }
            Tok::Word(w) if w.eq_ignore_ascii_case("in") => {
                self.next();
                if !self.keyword("segment") {
                    return Err(self.fail("`segment` (as in: in segment 'vip-at-risk')"));
                }
                match self.next() {
                    Tok::Text(name) if !name.trim().is_empty() => Ok(Expr::Cond(Cond::InSegment(name))),
                    t => Err(self.fail_at(
                        self.toks[self.at.saturating_sub(1)].0,
                        "a segment name in quotes",
                        t.to_string(),
                    )),
                }
            }
            Tok::Word(w) if matches!(w.to_ascii_lowercase().as_str(), "bought" | "received" | "complaints") => {
                self.next();
                let behaviour = self.behaviour(&w.to_ascii_lowercase())?;
                let (op, count) = match self.peek().clone() {
                    Tok::Op(op) => {
                        self.next();
                        let at = self.offset();
                        match self.next() {
                            Tok::Number(n) => match n.as_int().and_then(|v| u32::try_from(v).ok()) {
                                Some(v) => (op, v),
                                None => return Err(self.fail_at(at, "a whole count ≥ 0", format!("`{n}`"))),
                            },
                            t => return Err(self.fail_at(at, "a count, as in >= 2", t.to_string())),
                        }
                    }
                    _ => (Op::Ge, 1),
                };
                Ok(Expr::Cond(Cond::Count { behaviour, op, count }))
            }
            Tok::Word(w) => {
                let Ok(attr) = Attr::parse(&w.to_ascii_lowercase()) else {
                    return Err(self.fail(format!(
                        "a condition: an attribute ({}), bought(…), received(…), complaints(…), in segment '…', not or `(`",
                        Attr::ALL.iter().map(|a| a.as_str()).collect::<Vec<_>>().join(", ")
                    )));
                };
                self.next();
                self.condition(attr).map(Expr::Cond)
            }
            _ => Err(self.fail("a condition (an attribute such as lifecycle, bought(…), in segment '…', not or `(`)")),
        }
    }

    fn condition(&mut self, attr: Attr) -> Result<Cond, SegmentError> {
        let kind = attr.kind();
        if self.keyword("in") {
            if matches!(kind, Kind::Bool) {
                return Err(self.fail_at(self.toks[self.at - 1].0, format!("`=` or `!=` after {attr}"), "`in`"));
            }
            self.expect(Tok::Open, "`(` to start the list of values")?;
            let mut values = vec![self.value(attr)?];
            while *self.peek() == Tok::Comma {
                self.next();
                values.push(self.value(attr)?);
            }
            self.expect(Tok::Close, "`,` or `)` to end the list of values")?;
            return Ok(Cond::In { attr, values });
        }
        if is_kw(self.peek(), "between") {
            if !matches!(kind, Kind::Integer | Kind::Decimal | Kind::Money) {
                return Err(self.fail(format!("`=`, `!=` or `in` after {attr} (between needs a number)")));
            }
            self.next();
            let low = self.value(attr)?;
            if !self.keyword("and") {
                return Err(self.fail("`and` between the two bounds"));
            }
            let high = self.value(attr)?;
            return Ok(Cond::Between { attr, low, high });
        }
        let Tok::Op(op) = self.peek().clone() else {
            return Err(self.fail(COMPARISONS));
        };
        if !matches!(op, Op::Eq | Op::Ne) && matches!(kind, Kind::Class(_) | Kind::Bool | Kind::Text | Kind::Tag) {
            return Err(self.fail(format!("`=`, `!=` or `in` after {attr} (it is not a number)")));
        }
        self.next();
        let value = self.value(attr)?;
        Ok(Cond::Compare { attr, op, value })
    }

    /// A value of the attribute's kind.
    fn value(&mut self, attr: Attr) -> Result<Value, SegmentError> {
        let at = self.offset();
        let tok = self.next();
        let bad = |p: &Self, expected: String| p.fail_at(at, expected, tok.to_string());
        match (attr.kind(), &tok) {
            (Kind::Class(names), Tok::Text(t)) => {
                if names.contains(&t.as_str()) {
                    Ok(Value::Text(t.clone()))
                } else {
                    let quoted: Vec<String> = names.iter().map(|n| format!("'{n}'")).collect();
                    Err(bad(self, format!("a {attr} class: one of {}", quoted.join(", "))))
                }
            }
            (Kind::Text | Kind::Tag, Tok::Text(t)) => Ok(Value::Text(t.clone())),
            (Kind::Bool, Tok::Word(w)) if w.eq_ignore_ascii_case("true") || w.eq_ignore_ascii_case("false") => {
                Ok(Value::Bool(w.eq_ignore_ascii_case("true")))
            }
            (Kind::Integer, Tok::Number(n)) if n.as_int().is_some() => Ok(Value::Number(*n)),
            (Kind::Money, Tok::Number(n)) if n.as_cents().is_some() => Ok(Value::Number(*n)),
            (Kind::Decimal, Tok::Number(n)) => Ok(Value::Number(*n)),
            (Kind::Class(_), _) => Err(bad(self, format!("a {attr} class in quotes, as in {attr} = '…'"))),
            (Kind::Text | Kind::Tag, _) => Err(bad(self, format!("a text in quotes for {attr}"))),
            (Kind::Bool, _) => Err(bad(self, format!("true or false for {attr}"))),
            (Kind::Integer, _) => Err(bad(self, format!("a whole number for {attr}"))),
            (Kind::Money, _) => Err(bad(
                self,
                format!("an amount for {attr}, at most 2 decimals (as in 199.90)"),
            )),
            (Kind::Decimal, _) => Err(bad(self, format!("a number for {attr}"))),
        }
    }

    fn behaviour(&mut self, name: &str) -> Result<Behaviour, SegmentError> {
        self.expect(Tok::Open, &format!("`(` after {name}, as in {name}(within = 30d)"))?;
        let allowed: &[&str] = match name {
            "bought" => &["category", "sku", "within"],
            "received" => &["program", "channel", "within"],
            _ => &["open", "within"],
        };
        let mut args: Vec<(String, usize, Tok)> = Vec::new();
        if *self.peek() != Tok::Close {
            loop {
                let at = self.offset();
                let arg = match self.peek().clone() {
                    Tok::Word(w) if allowed.contains(&w.to_ascii_lowercase().as_str()) => w.to_ascii_lowercase(),
                    _ => return Err(self.fail(format!("an argument of {name}: {}", allowed.join(", ")))),
                };
                self.next();
                if args.iter().any(|(a, ..)| *a == arg) {
                    return Err(self.fail_at(
                        at,
                        format!("each argument once ({arg} is given twice)"),
                        format!("`{arg}`"),
                    ));
                }
                if arg == "open" {
                    args.push((arg, at, Tok::End));
                } else {
                    self.expect(Tok::Op(Op::Eq), &format!("`=` after {arg}"))?;
                    let vat = self.offset();
                    let v = self.next();
                    let ok = match (arg.as_str(), &v) {
                        ("within", Tok::Days(d)) => *d > 0,
                        ("within", _) => false,
                        ("channel", Tok::Text(t)) => Channel::parse(t).is_ok(),
                        (_, Tok::Text(t)) => !t.is_empty(),
                        _ => false,
                    };
                    if !ok {
                        let expected = match arg.as_str() {
                            "within" => "a duration of at least a day, as in 90d or 2w".to_string(),
                            "channel" => format!(
                                "a channel in quotes: one of {}",
                                Channel::ALL
                                    .iter()
                                    .map(|c| format!("'{c}'"))
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                            _ => format!("a non-empty text in quotes for {arg}"),
                        };
                        return Err(self.fail_at(vat, expected, v.to_string()));
                    }
                    args.push((arg, at, v));
                }
                match self.peek() {
                    Tok::Comma => {
                        self.next();
                    }
                    Tok::Close => break,
                    _ => return Err(self.fail(format!("`,` or `)` to end {name}(…)"))),
                }
            }
        }
        self.next();
        let text = |key: &str| {
            args.iter().find(|(a, ..)| a == key).and_then(|(_, _, t)| match t {
                Tok::Text(s) => Some(s.clone()),
                _ => None,
            })
        };
        let within_days = args.iter().find_map(|(a, _, t)| match (a.as_str(), t) {
            ("within", Tok::Days(d)) => Some(*d),
            _ => None,
        });
        Ok(match name {
            "bought" => Behaviour::Bought {
                category: text("category"),
                sku: text("sku"),
                within_days,
            },
            "received" => Behaviour::Received {
                program: text("program"),
                channel: text("channel").and_then(|c| Channel::parse(&c).ok()),
                within_days,
            },
            _ => Behaviour::Complaints {
                open: args.iter().any(|(a, ..)| a == "open"),
                within_days,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        parse(text).unwrap_err().render(text, "segment")
    }

    #[test]
    fn the_issue_examples_parse() {
        for text in [
            "lifecycle = 'decline'",
            "rfm8 = '重要挽留'",
            "bought(category = 'diapers', within = 90d) >= 2",
            "not bought(within = 30d)",
            "received(program = 'second-purchase', within = 14d)",
            "complaints(open) > 0",
            "in segment 'vip-at-risk'",
            "tier in ('vip', 'major') and (recency_days between 90 and 180 or not tag = 'blocked')",
            "profit > -12.5 AND won_back = TRUE",
        ] {
            let e = parse(text).unwrap_or_else(|e| panic!("{text}: {}", e.render(text, "segment")));
            assert_eq!(parse(&e.to_string()).unwrap(), e, "{text}");
        }
    }

    #[test]
    fn errors_say_where_and_what_was_expected() {
        assert_eq!(
            err("recency_days is 30"),
            "segment:1:14: expected a comparison (=, !=, <, <=, >, >=, in, between), found `is`\n  recency_days is 30\n               ^"
        );
        let e = err("lifecycle = 'dying'");
        assert!(e.starts_with("segment:1:13: expected a lifecycle class: one of 'exploration', 'formation', 'stability', 'decline', found 'dying'"), "{e}");
        // The caret sits under the value even after wide characters.
        let e = err("rfm8 = '重要挽留' and r = 'x'");
        assert!(
            e.ends_with("\n  rfm8 = '重要挽留' and r = 'x'\n                            ^"),
            "{e}"
        );
        assert!(err("(r = 1 or f = 2").contains("expected `)` to close the `(` at column 1, found the end"));
        assert!(err("r = 1)").contains("this `)` closes nothing"));
        assert!(err("bought(within = 0d)").contains("1:17: expected a duration of at least a day"));
        assert!(err("bought(colour = 'red')").contains("expected an argument of bought: category, sku, within"));
        assert!(err("bought(within = 9d, within = 3d)").contains("within is given twice"));
        assert!(err("received(channel = 'fax')").contains("one of 'sms', 'email', 'wechat', 'webhook'"));
        assert!(err("paid_amount > 19.999").contains("at most 2 decimals"));
        assert!(err("r = 1.5").contains("a whole number for r"));
        assert!(err("lifecycle > 'decline'").contains("`=`, `!=` or `in` after lifecycle"));
        assert!(err("name = 'x'").contains("1:1: expected a condition: an attribute (relationship,"));
        assert!(err("tag = 'unclosed").contains("1:7: expected a closing `'`"));
        assert!(err("r = 1 and").contains("found the end"));
        assert!(err("in 'x'").contains("expected `segment`"));
        assert!(
            err("r = 5 # comment").contains("1:7: expected a name, a value, an operator or a parenthesis, found `#`")
        );
        assert!(err("bought() >= 1.5").contains("a whole count"));
        assert!(err("recency_days > 30days").contains("a space after the number"));
        assert!(err("won_back in (true)").contains("`=` or `!=` after won_back"));
        assert!(err("").contains("found the end"));
    }
}

#[cfg(test)]
mod limits {
    use super::*;

    #[test]
    fn deep_nesting_is_a_located_error_not_a_stack_overflow() {
        // 2,000 parentheses (the 12 KB URL that stopped the server).
        let text = format!("{}r = 1{}", "(".repeat(2000), ")".repeat(2000));
        let e = parse(&text).unwrap_err();
        assert_eq!(e.column, MAX_NESTING + 1, "{e}");
        assert!(e.expected.contains("at most 32 levels"), "{e}");
        let nots = format!("{}r = 1", "not ".repeat(100_000));
        assert!(parse(&nots).unwrap_err().expected.contains("levels"));
        // At the limit it parses, and prints back to itself.
        let ok = format!("{}r = 1{}", "(".repeat(MAX_NESTING), ")".repeat(MAX_NESTING));
        assert_eq!(parse(&ok).unwrap().to_string(), "r = 1");
    }

    #[test]
    fn long_chains_are_bounded() {
        let chain = |n: usize| vec!["r = 1"; n].join(" and ");
        assert!(parse(&chain(MAX_CONDITIONS)).is_ok());
        let e = parse(&chain(MAX_CONDITIONS + 1)).unwrap_err();
        assert!(e.expected.contains("at most 200 conditions"), "{e}");
        assert_eq!(e.offset, MAX_CONDITIONS * "r = 1 and ".len());
    }
}
