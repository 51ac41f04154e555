//! Every string the user reads, from one catalogue per language (`admin-gui/i18n/*.toml`).
//!
//! French is the default; English is chosen at login (Cameroon's two official languages). A
//! catalogue is a TOML file whose tables group the keys (`[login] title = "Connexion"` is the
//! key `login.title`); `{name}` in a text is replaced by [`Tr::f`]. The database's own refusals
//! stay in French (they are the database's words, shown as they come).

use std::collections::BTreeMap;

/// A language of the interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum Lang {
    #[default]
    #[serde(rename = "fr")]
    Fr,
    #[serde(rename = "en")]
    En,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::Fr, Lang::En];

    /// The language's own name, as a user looks for it.
    pub fn native_name(self) -> &'static str {
        match self {
            Lang::Fr => "Français",
            Lang::En => "English",
        }
    }

    fn source(self) -> &'static str {
        match self {
            Lang::Fr => include_str!("../i18n/fr.toml"),
            Lang::En => include_str!("../i18n/en.toml"),
        }
    }
}

/// A parsed catalogue: flat keys (`section.key`) to texts.
#[derive(Debug, Clone)]
pub struct Catalogue {
    texts: BTreeMap<String, String>,
}

impl Catalogue {
    /// Parses a catalogue's TOML text.
    pub fn parse(source: &str) -> Result<Catalogue, String> {
        let table: toml::Table = source.parse().map_err(|e| format!("{e}"))?;
        let mut texts = BTreeMap::new();
        flatten("", &table, &mut texts)?;
        Ok(Catalogue { texts })
    }

    /// The built-in catalogue of a language.
    pub fn builtin(lang: Lang) -> Catalogue {
        // The catalogues are part of the program and tested (`catalogues_parse`): a broken one
        // is a build defect, and an empty catalogue still shows the keys.
        Catalogue::parse(lang.source()).unwrap_or_else(|e| {
            tracing::error!(error = %e, "Built-in catalogue does not parse.");
            Catalogue {
                texts: BTreeMap::new(),
            }
        })
    }

    /// The keys, sorted.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.texts.keys().map(String::as_str)
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.texts.get(key).map(String::as_str)
    }
}

fn flatten(
    prefix: &str,
    table: &toml::Table,
    out: &mut BTreeMap<String, String>,
) -> Result<(), String> {
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
            other => return Err(format!("{key}: text expected, found {}", other.type_str())),
        }
    }
    Ok(())
}

/// The translator of the running app: the catalogue of the language in use.
#[derive(Debug, Clone)]
pub struct Tr {
    lang: Lang,
    catalogue: Catalogue,
}

impl Tr {
    pub fn new(lang: Lang) -> Tr {
        Tr {
            lang,
            catalogue: Catalogue::builtin(lang),
        }
    }

    pub fn lang(&self) -> Lang {
        self.lang
    }

    /// The text of `key`; the key itself when missing (a test keeps that from happening).
    pub fn t<'a>(&'a self, key: &'a str) -> &'a str {
        self.catalogue.get(key).unwrap_or(key)
    }

    /// The text of `key` with each `{name}` replaced by its value.
    pub fn f(&self, key: &str, args: &[(&str, &str)]) -> String {
        let mut s = self.t(key).to_owned();
        for (name, value) in args {
            s = s.replace(&format!("{{{name}}}"), value);
        }
        s
    }

    /// A number with the language's thousands separator (a narrow no-break space, U+202F, in
    /// French; a comma in English).
    pub fn number(&self, n: i64) -> String {
        let digits = n.unsigned_abs().to_string();
        let sep = match self.lang {
            Lang::Fr => '\u{202F}',
            Lang::En => ',',
        };
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push(sep);
            }
            out.push(c);
        }
        if n < 0 { format!("-{out}") } else { out }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogues_parse() {
        for lang in Lang::ALL {
            Catalogue::parse(lang.source()).unwrap_or_else(|e| panic!("{lang:?}: {e}"));
        }
    }

    /// A text missing from one language would show its key to the user.
    #[test]
    fn both_catalogues_have_the_same_keys() {
        let fr_cat = Catalogue::builtin(Lang::Fr);
        let fr: Vec<&str> = fr_cat.keys().collect();
        let en_cat = Catalogue::builtin(Lang::En);
        let en: Vec<&str> = en_cat.keys().collect();
        let only_fr: Vec<&&str> = fr.iter().filter(|k| en_cat.get(k).is_none()).collect();
        let only_en: Vec<&&str> = en.iter().filter(|k| fr_cat.get(k).is_none()).collect();
        assert!(
            only_fr.is_empty() && only_en.is_empty(),
            "only in fr.toml: {only_fr:?}; only in en.toml: {only_en:?}"
        );
        for key in &fr {
            let (a, b) = (fr_cat.get(key).unwrap_or(""), en_cat.get(key).unwrap_or(""));
            assert_eq!(
                placeholders(a),
                placeholders(b),
                "the placeholders of {key} differ between fr and en"
            );
        }
    }

    fn placeholders(s: &str) -> Vec<String> {
        let mut out: Vec<String> = s
            .split('{')
            .skip(1)
            .filter_map(|p| p.split_once('}').map(|(name, _)| name.to_owned()))
            .collect();
        out.sort();
        out
    }

    /// Every key the code asks for (`t("...")`, `f("...")`, `tkey!`-style literals passed to
    /// them) is in the catalogue: a typo would show a key to the user.
    #[test]
    fn every_key_used_in_the_code_exists() {
        let fr = Catalogue::builtin(Lang::Fr);
        let mut missing = Vec::new();
        let src = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
        let mut files = Vec::new();
        collect_rs(std::path::Path::new(src), &mut files);
        assert!(!files.is_empty());
        for file in files {
            let text = std::fs::read_to_string(&file).expect("read source");
            for pattern in [".t(\"", ".f(\"", "key: \"", "tk(\""] {
                for (i, _) in text.match_indices(pattern) {
                    let rest = &text[i + pattern.len()..];
                    if let Some(end) = rest.find('"') {
                        let key = &rest[..end];
                        if key.contains('.') && !key.contains(' ') && fr.get(key).is_none() {
                            missing.push(format!("{}: {key}", file.display()));
                        }
                    }
                }
            }
        }
        assert!(
            missing.is_empty(),
            "keys missing from fr.toml: {missing:#?}"
        );
    }

    fn collect_rs(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("read src").flatten() {
            let p = entry.path();
            if p.is_dir() {
                collect_rs(&p, out);
            } else if p.extension().is_some_and(|e| e == "rs") {
                out.push(p);
            }
        }
    }

    #[test]
    fn numbers_use_the_language_separator() {
        assert_eq!(
            Tr::new(Lang::Fr).number(1_234_567),
            "1\u{202F}234\u{202F}567"
        );
        assert_eq!(Tr::new(Lang::En).number(1_234_567), "1,234,567");
        assert_eq!(Tr::new(Lang::Fr).number(999), "999");
        assert_eq!(Tr::new(Lang::Fr).number(-1000), "-1\u{202F}000");
    }
}
