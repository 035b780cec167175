//! The pages' words: one message catalogue per language (`templates/i18n/<lang>.toml`), read
//! once, and [`Text`], a message a handler hands to a page without knowing its language.
//!
//! A catalogue is TOML: tables group messages by page, so `[wallet] title = "…"` is the key
//! `wallet.title`. A message may name arguments in braces (`{acr}`), filled from the
//! [`Text`]'s arguments or the template's keyword arguments; `{{` and `}}` write braces.
//! Both catalogues hold the same keys with the same arguments (checked by the tests below,
//! which also check that every key the templates and the Rust code use exists).
//!
//! Written here rather than with Fluent or gettext: the pages need plain messages with named
//! arguments, no plural rules or number formatting, and a twenty-line reader keeps the
//! catalogues checkable by the same tests.

use crate::Lang;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::OnceLock;

/// A catalogue: key to message.
type Catalogue = BTreeMap<String, String>;

const SOURCES: [(Lang, &str); 2] = [
    (Lang::Fr, include_str!("../../../templates/i18n/fr.toml")),
    (Lang::En, include_str!("../../../templates/i18n/en.toml")),
];

fn catalogue(lang: Lang) -> &'static Catalogue {
    static ALL: OnceLock<[Catalogue; 2]> = OnceLock::new();
    let all = ALL.get_or_init(|| SOURCES.map(|(_, src)| parse(src).unwrap_or_default()));
    match lang {
        Lang::Fr => &all[0],
        Lang::En => &all[1],
    }
}

/// Reads a catalogue, flattening its tables into dotted keys.
fn parse(src: &str) -> Result<Catalogue, String> {
    let table: toml::Table = toml::from_str(src).map_err(|e| e.to_string())?;
    let mut out = Catalogue::new();
    flatten("", &table, &mut out)?;
    Ok(out)
}

fn flatten(prefix: &str, table: &toml::Table, out: &mut Catalogue) -> Result<(), String> {
    for (k, v) in table {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            toml::Value::String(s) => {
                out.insert(key, s.clone());
            }
            toml::Value::Table(t) => flatten(&key, t, out)?,
            other => return Err(format!("{key}: a message is a string, not {other}")),
        }
    }
    Ok(())
}

/// The message `key` in `lang`, with `{name}` replaced by the value of `name` in `args`. An
/// unknown key gives the key itself (the tests make sure none is), logged once per render.
pub fn translate(lang: Lang, key: &str, args: &[(&str, &str)]) -> String {
    let Some(message) = catalogue(lang).get(key) else {
        tracing::error!(key, lang = lang.tag(), "message missing from the catalogue");
        return key.to_owned();
    };
    fill(message, args)
}

/// Replaces each `{name}` of `message` by its argument (left as is when there is none), and
/// `{{` / `}}` by a brace.
fn fill(message: &str, args: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(i) = rest.find(['{', '}']) {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if tail.starts_with("{{") || tail.starts_with("}}") {
            out.push_str(&tail[..1]);
            rest = &tail[2..];
            continue;
        }
        let named = tail
            .strip_prefix('{')
            .and_then(|t| t.split_once('}'))
            .and_then(|(name, after)| {
                let value = args.iter().find(|(n, _)| *n == name)?.1;
                Some((value, after))
            });
        match named {
            Some((value, after)) => {
                out.push_str(value);
                rest = after;
            }
            None => {
                out.push_str(&tail[..1]);
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The argument names a message uses, for the catalogues' checks.
#[cfg(test)]
fn placeholders(message: &str) -> std::collections::BTreeSet<String> {
    let unescaped = message.replace("{{", "").replace("}}", "");
    unescaped
        .split('{')
        .skip(1)
        .filter_map(|s| s.split_once('}').map(|(n, _)| n.to_owned()))
        .collect()
}

/// A message for a page, in whatever language the page is rendered in: a catalogue key and
/// its arguments. Handlers build these; pages turn them into words (`t(text)` in templates).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Text {
    key: &'static str,
    args: Vec<(&'static str, String)>,
}

impl Text {
    /// The message `key` of the catalogues.
    pub const fn new(key: &'static str) -> Self {
        Text {
            key,
            args: Vec::new(),
        }
    }

    /// With the argument `name` set to `value`.
    pub fn arg(mut self, name: &'static str, value: impl fmt::Display) -> Self {
        self.args.push((name, value.to_string()));
        self
    }

    /// Its catalogue key.
    pub fn key(&self) -> &'static str {
        self.key
    }

    /// The words in `lang`.
    pub fn in_lang(&self, lang: Lang) -> String {
        let args: Vec<(&str, &str)> = self.args.iter().map(|(n, v)| (*n, v.as_str())).collect();
        translate(lang, self.key, &args)
    }
}

/// The template function `t`: `t("wallet.title")`, `t("wallet.unmet", acr=acr)`, or `t(text)`
/// for a [`Text`] a handler put in the context; the language is the context's `lang`.
pub(crate) fn template_function(
    state: &minijinja::State,
    what: minijinja::Value,
    kwargs: minijinja::value::Kwargs,
) -> Result<String, minijinja::Error> {
    let lang = state
        .lookup("lang")
        .and_then(|l| l.as_str().and_then(Lang::of_tag))
        .unwrap_or(Lang::Fr);
    let mut args: Vec<(String, String)> = Vec::new();
    let key = if let Some(key) = what.as_str() {
        key.to_owned()
    } else {
        let key = what.get_attr("key")?;
        let key = key.as_str().ok_or_else(|| {
            minijinja::Error::new(
                minijinja::ErrorKind::InvalidOperation,
                "t() takes a key or a Text",
            )
        })?;
        for pair in what.get_attr("args")?.try_iter()? {
            let name = pair.get_item_by_index(0)?.to_string();
            let value = pair.get_item_by_index(1)?.to_string();
            args.push((name, value));
        }
        key.to_owned()
    };
    for name in kwargs.args() {
        let value: minijinja::Value = kwargs.get(name)?;
        args.push((name.to_owned(), value.to_string()));
    }
    kwargs.assert_all_used()?;
    let args: Vec<(&str, &str)> = args.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    Ok(translate(lang, &key, &args))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use std::path::{Path, PathBuf};

    fn repo() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
    }

    fn files(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let p = entry.path();
            if p.is_dir() {
                files(&p, ext, out);
            } else if p.extension().is_some_and(|e| e == ext) {
                out.push(p);
            }
        }
    }

    /// The string literals following `marker` in `src` (`t("` in templates, `Text::new("` or
    /// `i18n::translate(lang, "` in Rust).
    fn keys_after(src: &str, marker: &str) -> Vec<String> {
        src.match_indices(marker)
            .filter_map(|(i, _)| {
                let rest = &src[i + marker.len()..];
                rest.split_once('"').map(|(k, _)| k.to_owned())
            })
            .collect()
    }

    /// Every key the templates and the Rust code ask for, with where.
    fn used_keys() -> BTreeMap<String, String> {
        let mut used = BTreeMap::new();
        let mut templates = Vec::new();
        files(&repo().join("templates"), "html", &mut templates);
        assert!(!templates.is_empty());
        for p in templates {
            let src = std::fs::read_to_string(&p).unwrap();
            for k in keys_after(&src, "t(\"") {
                used.insert(k, p.display().to_string());
            }
        }
        let mut sources = Vec::new();
        files(&repo().join("crates"), "rs", &mut sources);
        files(&repo().join("src"), "rs", &mut sources);
        for p in sources {
            if p.ends_with("i18n.rs") {
                continue;
            }
            let src = std::fs::read_to_string(&p).unwrap();
            for marker in ["Text::new(\"", "i18n::translate(lang, \""] {
                for k in keys_after(&src, marker) {
                    used.insert(k, p.display().to_string());
                }
            }
        }
        used
    }

    #[test]
    fn both_catalogues_parse_and_hold_the_same_messages() {
        let fr = parse(SOURCES[0].1).expect("fr.toml");
        let en = parse(SOURCES[1].1).expect("en.toml");
        let fr_keys: BTreeSet<_> = fr.keys().collect();
        let en_keys: BTreeSet<_> = en.keys().collect();
        assert_eq!(
            fr_keys.difference(&en_keys).collect::<Vec<_>>(),
            Vec::<&&String>::new(),
            "in fr.toml, not en.toml"
        );
        assert_eq!(
            en_keys.difference(&fr_keys).collect::<Vec<_>>(),
            Vec::<&&String>::new(),
            "in en.toml, not fr.toml"
        );
        for (k, m) in &fr {
            assert!(!m.trim().is_empty(), "fr {k} is empty");
            assert!(!en[k].trim().is_empty(), "en {k} is empty");
            assert_eq!(
                placeholders(m),
                placeholders(&en[k]),
                "{k}: fr and en name different arguments"
            );
        }
    }

    #[test]
    fn every_key_used_exists_and_every_message_is_used() {
        let used = used_keys();
        let fr = parse(SOURCES[0].1).unwrap();
        let missing: Vec<_> = used
            .iter()
            .filter(|(k, _)| !fr.contains_key(*k))
            .map(|(k, at)| format!("{k} (used in {at})"))
            .collect();
        assert!(
            missing.is_empty(),
            "keys missing from the catalogues: {missing:#?}"
        );
        let unused: Vec<_> = fr.keys().filter(|k| !used.contains_key(*k)).collect();
        assert!(unused.is_empty(), "messages nothing uses: {unused:#?}");
    }

    #[test]
    fn arguments_fill_their_places_and_braces_escape() {
        assert_eq!(
            fill("niveau {acr} requis, {x}", &[("acr", "eidas2")]),
            "niveau eidas2 requis, {x}"
        );
        assert_eq!(fill("{{acr}} {acr}", &[("acr", "a")]), "{acr} a");
        assert_eq!(fill("}{ {", &[]), "}{ {");
        assert_eq!(
            placeholders("{a} {{b}} {c}"),
            ["a", "c"].iter().map(|s| s.to_string()).collect()
        );
    }

    #[test]
    fn texts_speak_the_page_language() {
        let t = Text::new("error.page_expired.title");
        assert_ne!(t.in_lang(Lang::Fr), t.in_lang(Lang::En));
        assert_eq!(translate(Lang::En, "no.such.key", &[]), "no.such.key");
    }

    #[test]
    fn a_catalogue_refuses_non_text_messages() {
        assert!(parse("[a]\nb = 1\n").is_err());
        assert_eq!(
            parse("[a]\nb = \"x\"\n[a.c]\nd = \"y\"\n").unwrap(),
            [("a.b", "x"), ("a.c.d", "y")]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect()
        );
    }
}
