//! What a workstation remembers between sessions: the court's server (host, port, database,
//! TLS), the last login and the language, in a small TOML file under the user's configuration
//! folder (`~/.config/xmjuris/workstation.toml` on Linux, `%APPDATA%\xmjuris\` on Windows).
//! Never a password.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::i18n::Lang;

/// How the connection to the server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TlsMode {
    /// No TLS (a court's LAN, or the server's own machine).
    #[default]
    Disable,
    /// TLS required, the server's certificate not checked (protects against listening only).
    Require,
    /// TLS required and the server's certificate checked against the court's CA and its name.
    VerifyFull,
}

impl TlsMode {
    pub const ALL: [TlsMode; 3] = [TlsMode::Disable, TlsMode::Require, TlsMode::VerifyFull];

    /// The catalogue key of its label.
    pub fn key(self) -> &'static str {
        match self {
            TlsMode::Disable => "login.tls_disable",
            TlsMode::Require => "login.tls_require",
            TlsMode::VerifyFull => "login.tls_verify_full",
        }
    }
}

/// The court's server, as the login screen shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    pub host: String,
    pub port: u16,
    pub database: String,
    pub tls: TlsMode,
    /// The CA certificate (PEM) that signed the server's, for `verify-full`.
    pub ca_file: Option<PathBuf>,
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            host: "localhost".into(),
            port: 5432,
            database: "court".into(),
            tls: TlsMode::Disable,
            ca_file: None,
        }
    }
}

/// A server as the command line gives it: `HOST`, `HOST:PORT`, `HOST/DATABASE` or
/// `HOST:PORT/DATABASE`; what is left out is taken from `base` (TLS always is).
pub fn parse_server(text: &str, base: &ServerSettings) -> Result<ServerSettings, String> {
    let (address, database) = match text.split_once('/') {
        Some((a, d)) => (a, Some(d)),
        None => (text, None),
    };
    let (host, port) = match address.rsplit_once(':') {
        Some((h, p)) => (
            h,
            Some(
                p.parse::<u16>()
                    .map_err(|_| format!("{p:?} is not a port number"))?,
            ),
        ),
        None => (address, None),
    };
    if host.is_empty() || database.is_some_and(str::is_empty) {
        return Err(format!("{text:?} is not HOST:PORT/DATABASE"));
    }
    Ok(ServerSettings {
        host: host.to_owned(),
        port: port.unwrap_or(base.port),
        database: database.map_or_else(|| base.database.clone(), str::to_owned),
        ..base.clone()
    })
}

/// Whom to log in at start (`xmjuris-gui --server … --login …`: the demo, a desktop shortcut).
/// The password is never an argument: it is taken where libpq takes it (`PGPASSWORD`, the
/// password file `PGPASSFILE` or `~/.pgpass`); without one the login screen opens, filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartLogin {
    /// The server, when given (else the workstation's).
    pub server: Option<String>,
    pub login: String,
}

/// The workstation file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Workstation {
    pub server: ServerSettings,
    /// The last login that connected from this workstation, offered again.
    pub last_login: Option<String>,
    pub language: Lang,
    /// Printing on this workstation (Impression).
    pub printing: PrintSettings,
}

/// How this workstation prints.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PrintSettings {
    /// The court's folder of templates (often a shared folder of the court's server): its
    /// templates replace the built-in ones of the same name, its `letterhead.toml` sets the
    /// header and the court's language of documents. None: the built-in templates.
    pub forms_dir: Option<PathBuf>,
    /// The printer (`lp -d`); none: the system's default printer.
    pub printer: Option<String>,
    /// Where PDF files were last saved.
    pub save_dir: Option<PathBuf>,
}

impl Workstation {
    /// Reads the file; a missing file is the defaults, an unreadable one too (with a warning:
    /// the user can still type the server).
    pub fn load(path: &Path) -> Workstation {
        match std::fs::read_to_string(path) {
            Ok(text) => match toml::from_str(&text) {
                Ok(w) => w,
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "Workstation file unreadable; defaults used.");
                    Workstation::default()
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Workstation::default(),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "Workstation file unreadable; defaults used.");
                Workstation::default()
            }
        }
    }

    /// Writes the file (creating its folder), atomically (a temporary file renamed over it).
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let text = toml::to_string(self).map_err(std::io::Error::other)?;
        write_atomically(path, text.as_bytes())
    }
}

/// Writes a file through a temporary file in the same folder, renamed over it: a crash leaves
/// the old file or the new one, never half of one. The file is readable by its owner only.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("tmp");
    {
        use std::io::Write as _;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        let mut f = options.open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

/// Where the app keeps its files on this workstation.
#[derive(Debug, Clone)]
pub struct AppPaths {
    /// The workstation file.
    pub workstation: PathBuf,
    /// The folder of unsaved drafts, one file per user and server.
    pub drafts: PathBuf,
}

impl AppPaths {
    /// The user's configuration and local data folders (`dirs`), or `.xmjuris` in the current
    /// folder when the system has none.
    pub fn for_user() -> AppPaths {
        let config = dirs::config_dir()
            .map(|d| d.join("xmjuris"))
            .unwrap_or_else(|| PathBuf::from(".xmjuris"));
        let data = dirs::data_local_dir()
            .map(|d| d.join("xmjuris"))
            .unwrap_or_else(|| PathBuf::from(".xmjuris"));
        AppPaths {
            workstation: config.join("workstation.toml"),
            drafts: data.join("drafts"),
        }
    }

    /// Everything in one folder (tests, portable installs).
    pub fn in_dir(dir: &Path) -> AppPaths {
        AppPaths {
            workstation: dir.join("workstation.toml"),
            drafts: dir.join("drafts"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workstation_round_trips_and_defaults_when_missing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub/workstation.toml");
        assert_eq!(Workstation::load(&path), Workstation::default());
        let w = Workstation {
            server: ServerSettings {
                host: "192.168.1.10".into(),
                port: 5433,
                database: "tpi_garoua".into(),
                tls: TlsMode::VerifyFull,
                ca_file: Some("/etc/xmjuris/ca.pem".into()),
            },
            last_login: Some("mbarga".into()),
            language: Lang::En,
            printing: PrintSettings {
                forms_dir: Some("/srv/xmjuris/formulaires".into()),
                printer: Some("greffe".into()),
                save_dir: None,
            },
        };
        w.save(&path).expect("save");
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(text.contains("tls = \"verify-full\""), "{text}");
        assert!(!text.to_lowercase().contains("password"));
        assert_eq!(Workstation::load(&path), w);
    }

    #[test]
    fn a_server_is_host_port_and_database_with_defaults_for_what_is_left_out() {
        let base = ServerSettings {
            tls: TlsMode::Require,
            ..ServerSettings::default()
        };
        let s = parse_server("10.0.0.5:5433/court_10001", &base).expect("parse");
        assert_eq!(
            (s.host.as_str(), s.port, s.database.as_str(), s.tls),
            ("10.0.0.5", 5433, "court_10001", TlsMode::Require)
        );
        let s = parse_server("serveur", &base).expect("parse");
        assert_eq!((s.port, s.database.as_str()), (5432, "court"));
        let s = parse_server("serveur/tpi", &base).expect("parse");
        assert_eq!((s.port, s.database.as_str()), (5432, "tpi"));
        assert!(parse_server("serveur:port/tpi", &base).is_err());
        assert!(parse_server(":5432/tpi", &base).is_err());
        assert!(parse_server("serveur/", &base).is_err());
    }

    #[test]
    fn an_unreadable_file_gives_the_defaults() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("workstation.toml");
        std::fs::write(&path, "server = 3").expect("write");
        assert_eq!(Workstation::load(&path), Workstation::default());
    }
}
