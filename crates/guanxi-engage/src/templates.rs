//! Message templates with personalisation, in zh-CN and English (minijinja). The built-ins
//! are `templates.toml`; a shop's own file may add or replace templates by name.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::EngageError;

/// One template in one language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Text {
    pub subject: String,
    pub text: String,
}

/// A message rendered for one customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
}

/// What a template may name.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Vars {
    pub name: String,
    pub shop: String,
    pub order: String,
    pub items: String,
    pub link: String,
    /// The code of the coupon the message's program issued the customer last.
    pub coupon: String,
}

impl Vars {
    /// How a message addresses the customer: their name, else a greeting that needs none
    /// (亲, the way Chinese shops address a buyer; "there" in English).
    pub fn addressing(name: Option<&str>, language: &str) -> String {
        match name.map(str::trim).filter(|n| !n.is_empty()) {
            Some(n) => n.to_string(),
            None if language == "en" => "there".into(),
            None => "亲".into(),
        }
    }
}

/// Templates by name, then language.
#[derive(Debug, Clone)]
pub struct Templates {
    by_name: BTreeMap<String, BTreeMap<String, Text>>,
    /// The variables each template uses in any language (read once, when compiled: the
    /// worker asks for every message whether it needs the coupon).
    uses: BTreeMap<String, std::collections::BTreeSet<String>>,
    env: minijinja::Environment<'static>,
}

const BUILTIN: &str = include_str!("templates.toml");

impl Templates {
    /// The built-in templates.
    pub fn builtin() -> Templates {
        Templates::parse(BUILTIN, "templates.toml").expect("the built-in templates parse")
    }

    /// Reads templates from TOML (`[name.zh-CN] subject = … text = …`); every template is
    /// compiled here, so a syntax error is reported with the file and template, not at
    /// the first send.
    pub fn parse(text: &str, origin: &str) -> Result<Templates, EngageError> {
        let by_name: BTreeMap<String, BTreeMap<String, Text>> = toml::from_str(text).map_err(|e| {
            let at = e.span().map_or(0, |s| s.start);
            let before = &text[..at.min(text.len())];
            EngageError::Template(format!(
                "{origin}:{}:{}: {}",
                before.matches('\n').count() + 1,
                before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1,
                e.message()
            ))
        })?;
        let mut t = Templates {
            by_name: BTreeMap::new(),
            uses: BTreeMap::new(),
            env: env(),
        };
        t.extend(by_name, origin)?;
        Ok(t)
    }

    /// Adds or replaces templates from a shop's file.
    pub fn merge(&mut self, text: &str, origin: &str) -> Result<(), EngageError> {
        let other = Templates::parse(text, origin)?;
        self.extend(other.by_name, origin)
    }

    fn extend(&mut self, more: BTreeMap<String, BTreeMap<String, Text>>, origin: &str) -> Result<(), EngageError> {
        for (name, langs) in more {
            let mut uses = std::collections::BTreeSet::new();
            for (lang, t) in &langs {
                for (part, src) in [("subject", &t.subject), ("text", &t.text)] {
                    let compiled = self
                        .env
                        .template_from_str(src)
                        .map_err(|e| EngageError::Template(format!("{origin}: [{name}.{lang}] {part}: {e}")))?;
                    uses.extend(compiled.undeclared_variables(false));
                }
            }
            self.uses.insert(name.clone(), uses);
            self.by_name.insert(name, langs);
        }
        Ok(())
    }

    /// Whether there is a template `name`.
    pub fn has(&self, name: &str) -> bool {
        self.by_name.contains_key(name)
    }

    /// Whether template `name` (in any language) uses variable `var`.
    pub fn names(&self, name: &str, var: &str) -> bool {
        self.uses.get(name).is_some_and(|uses| uses.contains(var))
    }

    /// Renders `name` in `language` (falling back to zh-CN, then any).
    pub fn render(&self, name: &str, language: &str, vars: &Vars) -> Result<Rendered, EngageError> {
        let langs = self
            .by_name
            .get(name)
            .ok_or_else(|| EngageError::Template(format!("no template named {name:?}")))?;
        let t = langs
            .get(language)
            .or_else(|| langs.get("zh-CN"))
            .or_else(|| langs.values().next())
            .ok_or_else(|| EngageError::Template(format!("template {name:?} has no language")))?;
        let render = |src: &str| {
            self.env
                .render_str(src, minijinja::value::Serde(vars))
                .map_err(|e| EngageError::Template(format!("template {name:?}: {e}")))
        };
        Ok(Rendered {
            subject: render(&t.subject)?,
            text: render(&t.text)?,
        })
    }
}

/// A template environment without HTML escaping (messages are text; the gateway body
/// escapes with `tojson`), strict about unknown variables.
pub(crate) fn env() -> minijinja::Environment<'static> {
    let mut env = minijinja::Environment::new();
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_program_template_exists_in_both_languages() {
        let t = Templates::builtin();
        for p in guanxi_domain::program::builtin() {
            for step in &p.steps {
                if let guanxi_domain::program::Action::Send { template, .. } = &step.action {
                    for lang in ["zh-CN", "en"] {
                        assert!(
                            t.by_name.get(template).is_some_and(|l| l.contains_key(lang)),
                            "{template} in {lang}"
                        );
                    }
                }
            }
        }
        let vars = Vars {
            name: "李娜".into(),
            shop: "好孩子旗舰店".into(),
            order: "T1001".into(),
            items: "纸尿裤 L × 2".into(),
            link: "http://x/r/1".into(),
            coupon: "GX-7K2MQ-9XD4R".into(),
        };
        let r = t.render("birthday-greeting", "zh-CN", &vars).unwrap();
        assert!(r.text.contains("券码 GX-7K2MQ-9XD4R"), "{}", r.text);
        assert!(t.names("birthday-greeting", "coupon"));
        assert!(!t.names("payment-reminder-1", "coupon"));
        let r = t.render("payment-reminder-1", "zh-CN", &vars).unwrap();
        assert_eq!(
            r.text,
            "李娜您好，您在好孩子旗舰店的订单T1001（纸尿裤 L × 2）还未付款，库存有限，请尽快完成支付哦。"
        );
        let r = t.render("payment-reminder-1", "en", &vars).unwrap();
        assert!(r.text.starts_with("Hello 李娜, your order T1001"), "{}", r.text);
        assert!(t.render("nope", "en", &vars).is_err());
    }

    #[test]
    fn a_shops_templates_are_checked_when_read() {
        let mut t = Templates::builtin();
        let e = t
            .merge(
                "[welcome.en]\nsubject = \"Hi\"\ntext = \"Hello {{ name \"\n",
                "mine.toml",
            )
            .unwrap_err();
        assert!(e.to_string().contains("mine.toml: [welcome.en] text"), "{e}");
        let e = t.merge("[welcome.en]\nsubjet = \"Hi\"\n", "mine.toml").unwrap_err();
        assert!(e.to_string().starts_with("template: mine.toml:2:1"), "{e}");
        t.merge(
            "[welcome.en]\nsubject = \"Hi\"\ntext = \"Hi {{ name }}\"\n",
            "mine.toml",
        )
        .unwrap();
        let r = t
            .render(
                "welcome",
                "zh-CN",
                &Vars {
                    name: "Ann".into(),
                    ..Vars::default()
                },
            )
            .unwrap();
        assert_eq!(r.text, "Hi Ann", "falls back to the language there is");
        // An unknown variable is an error, not an empty hole in a customer's message.
        t.merge("[oops.en]\nsubject = \"x\"\ntext = \"{{ nmae }}\"\n", "mine.toml")
            .unwrap();
        assert!(t.render("oops", "en", &Vars::default()).is_err());
    }
}
