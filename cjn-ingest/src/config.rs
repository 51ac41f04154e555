//! The daemon's configuration: TOML, with `XMJURIS__SECTION__KEY` environment overrides.

use std::path::{Path, PathBuf};

use daemon::ConfigError;
pub use daemon::Secret;
pub use daemon::config::ENV_PREFIX;
use serde::Deserialize;

use crate::Error;

/// Everything cjn-ingest needs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The CJN database.
    pub database: DatabaseConfig,
    /// The MQTT broker.
    pub broker: BrokerConfig,
    /// The CJN's PKI directory.
    pub pki: PkiConfig,
    /// Limits, workers and timers.
    #[serde(default)]
    pub ingest: IngestConfig,
}

/// The CJN database.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// libpq-style connection string without the password, e.g.
    /// `host=127.0.0.1 dbname=cjn user=ingest` (a login in the role `cjn_ingest`).
    pub url: String,
    /// Password of that login (better given as `XMJURIS__DATABASE__PASSWORD`).
    #[serde(default)]
    pub password: Option<Secret>,
}

/// The MQTT broker (MQTT v5).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrokerConfig {
    /// Host name or address.
    pub host: String,
    /// Port (1883, or 8883 with TLS).
    #[serde(default = "default_port")]
    pub port: u16,
    /// Broker user name: one of the CJN's accounts (`cjn-1`, `cjn-2`...), one per instance.
    #[serde(default = "default_username")]
    pub username: String,
    /// MQTT client id: stable (the session is persistent) and different for each instance; the
    /// user name by default, the only one the generated broker configuration lets the account
    /// use (see [`BrokerConfig::client_id`]).
    #[serde(default)]
    pub client_id: Option<String>,
    /// Broker password (better given as `XMJURIS__BROKER__PASSWORD`).
    #[serde(default)]
    pub password: Option<Secret>,
    /// MQTT keep-alive.
    #[serde(default = "default_keep_alive")]
    pub keep_alive_secs: u64,
    /// How long the broker keeps the session (and queues messages) while the daemon is away.
    #[serde(default = "default_session_expiry")]
    pub session_expiry_secs: u32,
    /// Most messages the broker sends before they are acknowledged (MQTT v5 receive maximum).
    #[serde(default = "default_receive_maximum")]
    pub receive_maximum: u16,
    /// TLS to the broker.
    #[serde(default)]
    pub tls: bool,
    /// CA certificate (PEM) of the broker's TLS certificate; the system's CAs when absent.
    #[serde(default)]
    pub tls_ca_file: Option<PathBuf>,
    /// First reconnection delay.
    #[serde(default = "default_backoff_initial")]
    pub backoff_initial_ms: u64,
    /// Longest reconnection delay.
    #[serde(default = "default_backoff_max")]
    pub backoff_max_secs: u64,
}

impl BrokerConfig {
    /// The MQTT client id: `client_id`, or the user name.
    pub fn client_id(&self) -> &str {
        self.client_id.as_deref().unwrap_or(&self.username)
    }
}

/// The CJN's PKI directory, as made by `xmjuris pki init`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PkiConfig {
    /// The directory (root.crt, issuing.crt/.key, cjn.crt/.key, crl.pem, revoked.json, codes/, issued/).
    pub dir: PathBuf,
}

/// Limits, workers and timers.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestConfig {
    /// Database sessions working in parallel (one court's messages always go to the same one).
    #[serde(default = "default_workers")]
    pub workers: usize,
    /// Larger sealed envelopes are refused (quarantined) without being opened.
    #[serde(default = "default_max_sealed")]
    pub max_sealed_bytes: usize,
    /// How often the PKI directory's CRL is looked at (a revocation takes effect within this).
    #[serde(default = "default_crl_check")]
    pub crl_check_secs: u64,
    /// How often the CRL is published again (retained) even when unchanged (a week: each
    /// publication reaches every court, and is queued for every disconnected one; a new CRL,
    /// a revocation or the list signed again at half its validity, is published at once).
    #[serde(default = "default_crl_publish")]
    pub crl_publish_interval_secs: u64,
    /// `--once`: exit after this long without a message.
    #[serde(default = "default_once_idle")]
    pub once_idle_secs: u64,
    /// How many courts' certificates stay parsed (the most recently used; 5–7 kB a court).
    /// Every certificate is kept as DER; a court out of the cache is parsed again (0.5 ms).
    #[serde(default = "default_parsed_courts")]
    pub parsed_courts: usize,
    /// How often the courts' sequence gaps are looked at: a gap open for longer than the CJN's
    /// operation setting (`cjn.set_gap_alarm_after`, 1 hour by default) is logged as an error.
    #[serde(default = "default_gap_check")]
    pub gap_check_secs: u64,
}

impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig {
            workers: default_workers(),
            max_sealed_bytes: default_max_sealed(),
            crl_check_secs: default_crl_check(),
            crl_publish_interval_secs: default_crl_publish(),
            once_idle_secs: default_once_idle(),
            parsed_courts: default_parsed_courts(),
            gap_check_secs: default_gap_check(),
        }
    }
}

fn default_gap_check() -> u64 {
    300
}
fn default_port() -> u16 {
    1883
}
fn default_username() -> String {
    protocol::broker::cjn_account_name(1)
}
fn default_keep_alive() -> u64 {
    60
}
fn default_session_expiry() -> u32 {
    7 * 24 * 3600
}
fn default_receive_maximum() -> u16 {
    64
}
fn default_backoff_initial() -> u64 {
    500
}
fn default_backoff_max() -> u64 {
    30
}
fn default_workers() -> usize {
    4
}
fn default_max_sealed() -> usize {
    256 * 1024
}
fn default_crl_check() -> u64 {
    30
}
fn default_crl_publish() -> u64 {
    7 * 86_400
}
fn default_once_idle() -> u64 {
    5
}
fn default_parsed_courts() -> usize {
    crate::trust::DEFAULT_PARSED_COURTS
}

/// The commented default configuration printed by `generate-config`.
pub const DEFAULT_TOML: &str = r#"# cjn-ingest configuration.
# Every key can be overridden from the environment: XMJURIS__SECTION__KEY,
# e.g. XMJURIS__DATABASE__PASSWORD or XMJURIS__BROKER__PASSWORD (prefer those for secrets).

[database]
# The CJN database, as a login in the role cjn_ingest, e.g. created with
#   create role ingest login password '...' in role cjn_ingest;
url = "host=127.0.0.1 port=5432 dbname=cjn user=ingest"
# password = "..."   # or XMJURIS__DATABASE__PASSWORD

[broker]
host = "broker.example.invalid"
port = 1883
# One of the CJN's broker accounts, a different one for each instance (cjn-1, cjn-2...), as
# `xmjuris broker config --cjn-accounts N` makes them: only they may join the shared
# subscription $share/cjn/..., through which the instances share the courts' messages.
username = "cjn-1"
# The MQTT client id: stable (the session is persistent). The broker binds each account to one
# client id, its user name; leave this out.
# client_id = "cjn-1"
# password = "..."   # or XMJURIS__BROKER__PASSWORD
keep_alive_secs = 60
# The broker keeps the session, and queues the courts' messages, this long while we are away.
session_expiry_secs = 604800
# Messages the broker may send before we acknowledge them (each is acknowledged after its commit).
receive_maximum = 64
tls = false
# tls_ca_file = "/etc/xmjuris/broker-ca.pem"
backoff_initial_ms = 500
backoff_max_secs = 30

[pki]
# The CJN's PKI directory, made by `xmjuris pki init` (issuing CA key, CJN key, codes, issued
# certificates, CRL). cjn-ingest issues certificates there (enrollment, renewal).
dir = "/var/lib/xmjuris/cjn-pki"

[ingest]
# Database sessions working in parallel; one court's messages always go to the same one. Four
# keep two cores busy (while one worker opens or seals an envelope, another waits on the database).
workers = 4
# Larger envelopes are refused (quarantined) unopened.
max_sealed_bytes = 262144
# Look at the PKI directory's CRL this often (revocations take effect within this delay).
crl_check_secs = 30
# Publish the CRL again (retained) this often even when unchanged: once a week. A new CRL (a
# revocation, or the list signed again when half its 30 days are gone) is published at once;
# each publication reaches every court over its satellite link, and is queued for each
# disconnected one (bench/RESULTS.md § Link and satellite); the broker keeps the retained one.
crl_publish_interval_secs = 604800
# --once: exit after this long without a message.
once_idle_secs = 5
# Courts whose certificates stay parsed (the most recently used, 5–7 kB each); the others are
# kept as DER and parsed again when they send (0.5 ms).
parsed_courts = 2000
# Look at the courts' sequence gaps this often; one open longer than the CJN's setting
# (cjn.set_gap_alarm_after, 1 hour by default) is logged as an error until it is filled.
gap_check_secs = 300
"#;

impl Config {
    /// Reads `path`, then applies the `XMJURIS__...` variables of the environment.
    pub fn load(path: &Path) -> Result<Config, Error> {
        Config::from_toml(&daemon::config::read_to_string(path)?, std::env::vars())
    }

    /// Parses TOML text and applies `vars` (only those starting with [`ENV_PREFIX`]).
    pub fn from_toml(
        text: &str,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, Error> {
        let config: Config = daemon::config::from_toml(text, vars, &["client_id", "username"])?;
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> Result<(), Error> {
        let bad = |what: &str, detail: &str| Err(ConfigError::new(what, detail).into());
        if self.ingest.workers == 0 || self.ingest.workers > 64 {
            return bad("[ingest] workers", "between 1 and 64");
        }
        if self.ingest.max_sealed_bytes == 0
            || self.ingest.max_sealed_bytes > protocol::MAX_SEALED_BYTES
        {
            return bad(
                "[ingest] max_sealed_bytes",
                &format!("between 1 and {}", protocol::MAX_SEALED_BYTES),
            );
        }
        if self.ingest.parsed_courts == 0 {
            return bad("[ingest] parsed_courts", "at least 1");
        }
        if self.broker.username.trim().is_empty() {
            return bad("[broker] username", "must not be empty");
        }
        if self.broker.client_id().trim().is_empty() {
            return bad("[broker] client_id", "must not be empty");
        }
        if self.broker.receive_maximum == 0 {
            return bad("[broker] receive_maximum", "at least 1");
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn default_parses_and_env_overrides() {
        let c = Config::from_toml(DEFAULT_TOML, []).unwrap();
        assert_eq!(c.broker.username, "cjn-1");
        assert_eq!(c.broker.client_id(), "cjn-1", "the user name by default");
        assert_eq!(c.ingest.max_sealed_bytes, 262_144);
        assert_eq!(c.ingest.parsed_courts, crate::trust::DEFAULT_PARSED_COURTS);
        let c = Config::from_toml(
            DEFAULT_TOML,
            [
                ("XMJURIS__BROKER__PORT".to_string(), "1884".to_string()),
                ("XMJURIS__BROKER__PASSWORD".to_string(), "1234".to_string()),
                ("XMJURIS__BROKER__CLIENT_ID".to_string(), "2".to_string()),
                ("XMJURIS__INGEST__WORKERS".to_string(), "3".to_string()),
                ("XMJURIS__BROKER__TLS".to_string(), "true".to_string()),
                ("OTHER".to_string(), "x".to_string()),
            ],
        )
        .unwrap();
        assert_eq!(c.broker.port, 1884);
        assert!(c.broker.tls);
        assert_eq!(c.broker.client_id(), "2");
        assert_eq!(c.ingest.workers, 3);
        assert_eq!(c.broker.password.as_ref().unwrap().expose(), "1234");
        assert!(!format!("{c:?}").contains("1234\""));
    }

    #[test]
    fn unknown_key_and_bad_values_refused() {
        let text = format!("{DEFAULT_TOML}\n[extra]\nx = 1\n");
        assert!(Config::from_toml(&text, []).is_err());
        let zero = [("XMJURIS__INGEST__WORKERS".to_string(), "0".to_string())];
        assert!(Config::from_toml(DEFAULT_TOML, zero).is_err());
        let huge = [(
            "XMJURIS__INGEST__MAX_SEALED_BYTES".to_string(),
            "99999999".to_string(),
        )];
        assert!(Config::from_toml(DEFAULT_TOML, huge).is_err());
    }
}
