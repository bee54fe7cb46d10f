//! Languages: every label comes from the Fluent catalogues in `locales/` (zh-CN and
//! English), chosen by `?lang=`, else the browser's Accept-Language, else English.

use std::collections::HashMap;
use std::sync::LazyLock;

use fluent_templates::fluent_bundle::FluentValue;
use fluent_templates::{LanguageIdentifier, Loader, static_loader};
use guanxi_domain::profile::Rfm8;

static_loader! {
    static LOCALES = {
        locales: "./locales",
        fallback_language: "en",
        // No Unicode isolation marks around arguments: the pages are plain HTML.
        customise: |bundle| bundle.set_use_isolating(false),
    };
}

static EN: LazyLock<LanguageIdentifier> = LazyLock::new(|| "en".parse().expect("a language tag"));
static ZH: LazyLock<LanguageIdentifier> = LazyLock::new(|| "zh-CN".parse().expect("a language tag"));

/// A language of the pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    ZhCn,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::ZhCn, Lang::En];

    /// The BCP 47 tag (also the `?lang=` value and the `lang` attribute).
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::ZhCn => "zh-CN",
        }
    }

    /// The language's own name, for the switch.
    pub fn name(self) -> &'static str {
        match self {
            Lang::En => "English",
            Lang::ZhCn => "中文",
        }
    }

    fn id(self) -> &'static LanguageIdentifier {
        match self {
            Lang::En => &EN,
            Lang::ZhCn => &ZH,
        }
    }

    /// The label `key`.
    pub fn t(self, key: &str) -> String {
        LOCALES.lookup(self.id(), key)
    }

    /// The label `key`, if the catalogue has it.
    pub fn try_t(self, key: &str) -> Option<String> {
        LOCALES.try_lookup(self.id(), key)
    }

    /// The label `key` with one argument.
    pub fn t1(self, key: &str, name: &'static str, value: impl Into<FluentValue<'static>>) -> String {
        let args: HashMap<std::borrow::Cow<'static, str>, FluentValue<'static>> =
            HashMap::from([(name.into(), value.into())]);
        LOCALES.lookup_with_args(self.id(), key, &args)
    }

    /// The label `key` with several arguments.
    pub fn t_args(self, key: &str, args: &[(&'static str, FluentValue<'static>)]) -> String {
        let args: HashMap<std::borrow::Cow<'static, str>, FluentValue<'static>> =
            args.iter().map(|(k, v)| ((*k).into(), v.clone())).collect();
        LOCALES.lookup_with_args(self.id(), key, &args)
    }

    /// A class's name in this language: `class-KIND-SLUG` in the catalogue, the slug
    /// being the class's ASCII name lowercased with dashes, or for the 8-class RFM model
    /// (named in Chinese) its position; an unknown class as it is.
    pub fn class(self, kind: &str, class: &str) -> String {
        let slug = if kind == "rfm8" {
            match Rfm8::ALL.iter().position(|c| c.as_str() == class) {
                Some(i) => i.to_string(),
                None => return class.to_string(),
            }
        } else {
            class
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() {
                        c.to_ascii_lowercase()
                    } else {
                        '-'
                    }
                })
                .collect()
        };
        LOCALES
            .try_lookup(self.id(), &format!("class-{kind}-{slug}"))
            .unwrap_or_else(|| class.to_string())
    }

    /// `?lang=` if it names a language, else the first language of Accept-Language
    /// (by quality) we have, else English.
    pub fn negotiate(query: Option<&str>, accept_language: Option<&str>) -> Lang {
        if let Some(l) = query.and_then(Lang::from_tag) {
            return l;
        }
        let mut offered: Vec<(f32, Lang)> = accept_language
            .unwrap_or_default()
            .split(',')
            .filter_map(|part| {
                let mut it = part.split(';');
                let lang = Lang::from_tag(it.next()?.trim())?;
                let q = it
                    .find_map(|p| p.trim().strip_prefix("q="))
                    .and_then(|q| q.parse::<f32>().ok())
                    .unwrap_or(1.0);
                Some((q, lang))
            })
            .collect();
        // Stable: equal qualities keep the browser's order.
        offered.sort_by(|a, b| b.0.total_cmp(&a.0));
        offered.first().map_or(Lang::En, |(_, l)| *l)
    }

    fn from_tag(tag: &str) -> Option<Lang> {
        let tag = tag.to_ascii_lowercase();
        if tag.starts_with("zh") {
            Some(Lang::ZhCn)
        } else if tag.starts_with("en") {
            Some(Lang::En)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_prefers_the_query_then_quality() {
        assert_eq!(Lang::negotiate(Some("en"), Some("zh-CN")), Lang::En);
        assert_eq!(Lang::negotiate(None, Some("fr;q=1, zh-TW;q=0.5, en;q=0.8")), Lang::En);
        assert_eq!(Lang::negotiate(None, Some("zh-CN,zh;q=0.9,en;q=0.8")), Lang::ZhCn);
        assert_eq!(Lang::negotiate(Some("xx"), None), Lang::En);
    }

    #[test]
    fn every_label_exists_in_both_languages() {
        let en = include_str!("../locales/en/main.ftl");
        let zh = include_str!("../locales/zh-CN/main.ftl");
        let keys = |s: &str| -> Vec<String> {
            let mut k: Vec<String> = s
                .lines()
                .filter_map(|l| l.split_once(" = ").map(|(k, _)| k.trim().to_string()))
                .collect();
            k.sort();
            k
        };
        for catalogue in [en, zh] {
            // A key defined twice makes the catalogue fail to load at the first lookup.
            let mut once = keys(catalogue);
            once.dedup();
            assert_eq!(once, keys(catalogue), "a key defined twice");
        }
        assert_eq!(keys(en), keys(zh));
        assert_eq!(Lang::ZhCn.class("relationship", "loyal"), "忠诚客户");
        assert_eq!(Lang::En.class("rfm8", "重要价值"), "Important value");
        assert_eq!(Lang::ZhCn.class("rfm8", "重要价值"), "重要价值客户");
        assert_eq!(Lang::ZhCn.class("rfm11", "Can't Lose Them"), "不能失去");
        assert_eq!(Lang::En.class("quadrant", "true-friend"), "True friend");
        // Every class of every kind has a name in both languages.
        for (kind, names) in guanxi_domain::segment::class_kinds() {
            for name in names {
                for lang in Lang::ALL {
                    // English RFM segment names are the classes' own names.
                    if !(kind == "rfm11" && lang == Lang::En) {
                        assert_ne!(lang.class(kind, name), *name, "{kind} {name} in {lang:?}");
                    }
                }
            }
        }
        assert_eq!(Lang::ZhCn.t1("customers-count", "count", 3), "共 3 位客户");
    }
}
