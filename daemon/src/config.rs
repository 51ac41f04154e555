//! A daemon's configuration: TOML, with `XMJURIS__SECTION__KEY` environment overrides, into the
//! daemon's own `Config` type (its sections are its business).

use std::fmt;
use std::path::Path;

use serde::Deserialize;
use serde::de::DeserializeOwned;

/// A secret (password): never printed.
#[derive(Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// A secret from its text.
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    /// The secret's text, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// The configuration (or a file it names) cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what}: {detail}")]
pub struct ConfigError {
    /// What was being read.
    pub what: String,
    /// Why it failed.
    pub detail: String,
}

impl ConfigError {
    /// An error reading `what`.
    pub fn new(what: impl Into<String>, detail: impl Into<String>) -> Self {
        ConfigError {
            what: what.into(),
            detail: detail.into(),
        }
    }
}

/// Prefix of the environment overrides: `XMJURIS__BROKER__PASSWORD` sets `[broker] password`.
pub const ENV_PREFIX: &str = "XMJURIS__";

/// The text of a file the configuration is, or names.
pub fn read_to_string(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path)
        .map_err(|e| ConfigError::new(format!("reading {}", path.display()), e.to_string()))
}

/// The bytes of a file the configuration names (a CA certificate...).
pub fn read(path: &Path) -> Result<Vec<u8>, ConfigError> {
    std::fs::read(path)
        .map_err(|e| ConfigError::new(format!("reading {}", path.display()), e.to_string()))
}

/// Parses TOML text, applies `vars` (only those starting with [`ENV_PREFIX`]:
/// `XMJURIS__SECTION__KEY`, section and key in any case) and deserializes the result.
///
/// An environment value becomes a number or a boolean when it reads as one, unless the key
/// holds text already in `text`, has `password` in its name, or is one of `text_keys` (keys
/// whose text may look like a number: a client id, a user name).
pub fn from_toml<T: DeserializeOwned>(
    text: &str,
    vars: impl IntoIterator<Item = (String, String)>,
    text_keys: &[&str],
) -> Result<T, ConfigError> {
    let mut table: toml::Table = toml::from_str(text)
        .map_err(|e| ConfigError::new("parsing the configuration", e.to_string()))?;
    for (name, value) in vars {
        let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        let Some((section, key)) = rest.split_once("__") else {
            continue;
        };
        let (section, key) = (section.to_ascii_lowercase(), key.to_ascii_lowercase());
        let entry = table
            .entry(section.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        let toml::Value::Table(t) = entry else {
            return Err(ConfigError::new(
                name.clone(),
                format!("[{section}] is not a table"),
            ));
        };
        let keep_text = matches!(t.get(&key), Some(toml::Value::String(_)))
            || key.contains("password")
            || text_keys.contains(&key.as_str());
        t.insert(key, env_value(&value, keep_text));
    }
    toml::Value::Table(table)
        .try_into()
        .map_err(|e: toml::de::Error| ConfigError::new("reading the configuration", e.to_string()))
}

/// An environment value as TOML: a number or boolean when it reads as one, else text.
fn env_value(raw: &str, keep_text: bool) -> toml::Value {
    if !keep_text
        && let Ok(mut t) = toml::from_str::<toml::Table>(&format!("v = {raw}"))
        && let Some(v) = t.remove("v")
        && matches!(
            v,
            toml::Value::Integer(_) | toml::Value::Boolean(_) | toml::Value::Float(_)
        )
    {
        return v;
    }
    toml::Value::String(raw.to_owned())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Sample {
        net: Net,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Net {
        host: String,
        #[serde(default)]
        port: u16,
        #[serde(default)]
        tls: bool,
        #[serde(default)]
        user: Option<String>,
        #[serde(default)]
        password: Option<Secret>,
    }

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn environment_overrides_typed_values() {
        let s: Sample = from_toml(
            "[net]\nhost = \"a\"\nport = 1\n",
            vars(&[
                ("XMJURIS__NET__PORT", "1884"),
                ("XMJURIS__NET__TLS", "true"),
                ("XMJURIS__NET__HOST", "10"),
                ("XMJURIS__NET__PASSWORD", "1234"),
                ("XMJURIS__NET__USER", "12345"),
                ("xmjuris__net__port", "9"),
                ("XMJURIS__NOSECTION", "x"),
                ("OTHER", "x"),
            ]),
            &["user"],
        )
        .unwrap();
        assert_eq!(s.net.port, 1884);
        assert!(s.net.tls);
        assert_eq!(s.net.host, "10", "a key holding text stays text");
        assert_eq!(s.net.user.as_deref(), Some("12345"));
        assert_eq!(s.net.password.as_ref().unwrap().expose(), "1234");
        assert!(!format!("{s:?}").contains("1234\""));
        assert!(format!("{s:?}").contains("<redacted>"));
    }

    #[test]
    fn refusals_say_what() {
        let e = from_toml::<Sample>("[net]\nhost = \"a\"\nextra = 1\n", [], &[]).unwrap_err();
        assert_eq!(e.what, "reading the configuration");
        let e = from_toml::<Sample>("[net", [], &[]).unwrap_err();
        assert_eq!(e.what, "parsing the configuration");
        let e = from_toml::<Sample>("net = 1\n", vars(&[("XMJURIS__NET__HOST", "a")]), &[])
            .unwrap_err();
        assert_eq!(e.to_string(), "XMJURIS__NET__HOST: [net] is not a table");
        let e = from_toml::<Sample>(
            "[net]\nhost = \"a\"\n",
            vars(&[("XMJURIS__NET__USER", "12345")]),
            &[],
        )
        .unwrap_err();
        assert_eq!(
            e.what, "reading the configuration",
            "a number is no user name"
        );
        let e = read_to_string(Path::new("/nonexistent/x.toml")).unwrap_err();
        assert_eq!(e.what, "reading /nonexistent/x.toml");
    }
}
