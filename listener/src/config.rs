//! The listener's configuration: TOML, with `XMJURIS__SECTION__KEY` environment overrides.

use std::path::{Path, PathBuf};

pub use daemon::Secret;
pub use daemon::config::ENV_PREFIX;
use protocol::CourtCode;
use serde::Deserialize;

use crate::Error;

/// Everything the listener needs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Which court, and its keys.
    pub court: CourtConfig,
    /// The court database.
    pub database: DatabaseConfig,
    /// The MQTT broker.
    pub broker: BrokerConfig,
    /// Batching, windows and timers.
    #[serde(default)]
    pub transmission: TransmissionConfig,
}

/// The court.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CourtConfig {
    /// Court code (5 digits); must match the court's certificate.
    #[serde(deserialize_with = "code_from_any")]
    pub code: CourtCode,
    /// PKI directory installed by enrollment (court.key, court.crt, cjn.crt, root.crt, issuing.crt, crl.pem).
    pub pki_dir: PathBuf,
    /// Ask the CJN for a new certificate when the court's expires within this many days.
    #[serde(default = "default_renew_before_days")]
    pub renew_before_days: u32,
    /// Ask again if no certificate came back after this long.
    #[serde(default = "default_renewal_retry_secs")]
    pub renewal_retry_secs: u64,
}

/// The court database.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// libpq-style connection string without the password, e.g. `host=127.0.0.1 dbname=court user=listener`.
    pub url: String,
    /// Password of the listener's login role (better given as `XMJURIS__DATABASE__PASSWORD`).
    #[serde(default)]
    pub password: Option<Secret>,
}

/// The MQTT broker.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrokerConfig {
    /// Host name or address.
    pub host: String,
    /// Port (1883, or 8883 with TLS).
    #[serde(default = "default_port")]
    pub port: u16,
    /// MQTT client id; `court-<code>` by default, the only one the generated broker configuration
    /// accepts for the court's account. Must stay the same: the session is persistent.
    #[serde(default)]
    pub client_id: Option<String>,
    /// Broker user name; the court code by default.
    #[serde(default)]
    pub username: Option<String>,
    /// Broker password (better given as `XMJURIS__BROKER__PASSWORD`).
    #[serde(default)]
    pub password: Option<Secret>,
    /// MQTT keep-alive: long on satellite links, where every ping is paid for.
    #[serde(default = "default_keep_alive")]
    pub keep_alive_secs: u64,
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
    /// A broker at `host:port` with the defaults of the configuration file (no password).
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        BrokerConfig {
            host: host.into(),
            port,
            client_id: None,
            username: None,
            password: None,
            keep_alive_secs: default_keep_alive(),
            tls: false,
            tls_ca_file: None,
            backoff_initial_ms: default_backoff_initial(),
            backoff_max_secs: default_backoff_max(),
        }
    }
}

/// Batching, windows and timers.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransmissionConfig {
    /// Most bytes in one sealed envelope (several messages are packed when a backlog builds up).
    #[serde(default = "default_envelope_bytes")]
    pub max_envelope_bytes: usize,
    /// Most messages in one envelope.
    #[serde(default = "default_batch")]
    pub max_batch_messages: usize,
    /// The CJN's size limit for a sealed envelope (its `[ingest] max_sealed_bytes`): a message
    /// that alone seals past it is never sent (the CJN would refuse it for ever); it is recorded
    /// as a defect the greffier and the operator see, and stays pending.
    #[serde(default = "default_max_sealed")]
    pub max_sealed_bytes: usize,
    /// Most bytes sent and not yet receipted (one window); a cut link wastes at most this.
    #[serde(default = "default_in_flight")]
    pub max_in_flight_bytes: usize,
    /// Most envelopes sent and not yet receipted: while they travel, new messages accumulate
    /// and leave together in the next envelope (batching grows with the load).
    #[serde(default = "default_in_flight_envelopes")]
    pub max_in_flight_envelopes: usize,
    /// Re-send a message not receipted after this long.
    #[serde(default = "default_resend")]
    pub resend_after_secs: u64,
    /// Look at the outbox at least this often, even without NOTIFY.
    #[serde(default = "default_poll")]
    pub poll_interval_secs: u64,
    /// `--once`: give up waiting for receipts after this long.
    #[serde(default = "default_once_timeout")]
    pub once_timeout_secs: u64,
}

impl Default for TransmissionConfig {
    fn default() -> Self {
        TransmissionConfig {
            max_envelope_bytes: default_envelope_bytes(),
            max_batch_messages: default_batch(),
            max_sealed_bytes: default_max_sealed(),
            max_in_flight_bytes: default_in_flight(),
            max_in_flight_envelopes: default_in_flight_envelopes(),
            resend_after_secs: default_resend(),
            poll_interval_secs: default_poll(),
            once_timeout_secs: default_once_timeout(),
        }
    }
}

fn default_renew_before_days() -> u32 {
    30
}
fn default_renewal_retry_secs() -> u64 {
    6 * 3600
}
fn default_port() -> u16 {
    1883
}
fn default_keep_alive() -> u64 {
    600
}
fn default_backoff_initial() -> u64 {
    500
}
fn default_backoff_max() -> u64 {
    300
}
fn default_envelope_bytes() -> usize {
    16 * 1024
}
fn default_batch() -> usize {
    50
}
fn default_max_sealed() -> usize {
    256 * 1024
}
fn default_in_flight() -> usize {
    64 * 1024
}
fn default_in_flight_envelopes() -> usize {
    2
}
fn default_resend() -> u64 {
    300
}
fn default_poll() -> u64 {
    60
}
fn default_once_timeout() -> u64 {
    120
}

fn code_from_any<'de, D: serde::Deserializer<'de>>(d: D) -> Result<CourtCode, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Any {
        Int(u32),
        Text(String),
    }
    let text = match Any::deserialize(d)? {
        Any::Int(n) => format!("{n:05}"),
        Any::Text(s) => s,
    };
    text.parse().map_err(serde::de::Error::custom)
}

/// The commented default configuration printed by `generate-config`.
pub const DEFAULT_TOML: &str = r#"# xmjuris-listener configuration.
# Every key can be overridden from the environment: XMJURIS__SECTION__KEY,
# e.g. XMJURIS__DATABASE__PASSWORD or XMJURIS__BROKER__PASSWORD (prefer those for secrets).

[court]
# Court code (5 digits); it must be the one of the court's certificate.
code = "12345"
# PKI directory installed by enrollment (xmjuris pki ...).
pki_dir = "/var/lib/xmjuris/pki"
# The listener asks the CJN for a new certificate (a new key, made here) when the court's
# expires within this many days, and asks again if no certificate came back after
# renewal_retry_secs.
renew_before_days = 30
renewal_retry_secs = 21600

[database]
# The court database, as the listener's own login role (a member of juris_listener,
# created with: select juris.create_listener_login('listener', '<password>')).
url = "host=127.0.0.1 port=5432 dbname=court user=listener"
# password = "..."   # or XMJURIS__DATABASE__PASSWORD

[broker]
host = "broker.example.invalid"
port = 1883
# client_id = "court-12345"   # the broker binds the court's account to this one
# username = "12345"          # the court code by default
# password = "..."            # or XMJURIS__BROKER__PASSWORD
# Satellite links bill every byte: a long keep-alive.
keep_alive_secs = 600
tls = false
# tls_ca_file = "/etc/xmjuris/broker-ca.pem"
backoff_initial_ms = 500
backoff_max_secs = 300

[transmission]
# Pack several messages into one sealed envelope, up to this size.
max_envelope_bytes = 16384
max_batch_messages = 50
# The CJN's limit for one sealed envelope (its [ingest] max_sealed_bytes): never send more.
max_sealed_bytes = 262144
# Never more than this many bytes sent and not yet receipted by the CJN.
max_in_flight_bytes = 65536
# ... and never more than this many envelopes: meanwhile new messages wait and are packed together.
max_in_flight_envelopes = 2
# Send again what the CJN has not receipted after this long.
resend_after_secs = 300
# Look at the outbox at least this often, even without a NOTIFY.
poll_interval_secs = 60
# --once: stop waiting for receipts after this long.
once_timeout_secs = 120
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
        // A court's broker user name is its code, and client ids may be digits: kept as text.
        Ok(daemon::config::from_toml(
            text,
            vars,
            &["client_id", "username", "code"],
        )?)
    }

    /// The MQTT client id.
    pub fn client_id(&self) -> String {
        self.broker
            .client_id
            .clone()
            .unwrap_or_else(|| format!("court-{}", self.court.code))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn default_parses_and_env_overrides() {
        let c = Config::from_toml(DEFAULT_TOML, []).unwrap();
        assert_eq!(c.court.code.to_string(), "12345");
        assert_eq!(c.broker.keep_alive_secs, 600);
        assert_eq!(c.court.renew_before_days, 30);
        assert_eq!(c.court.renewal_retry_secs, 21600);
        let c = Config::from_toml(
            DEFAULT_TOML,
            [
                ("XMJURIS__BROKER__PORT".to_string(), "1884".to_string()),
                ("XMJURIS__BROKER__PASSWORD".to_string(), "98765".to_string()),
                ("XMJURIS__COURT__CODE".to_string(), "01234".to_string()),
                ("XMJURIS__BROKER__TLS".to_string(), "true".to_string()),
                ("XMJURIS__BROKER__USERNAME".to_string(), "01234".to_string()),
                ("XMJURIS__BROKER__CLIENT_ID".to_string(), "4711".to_string()),
                ("OTHER".to_string(), "x".to_string()),
            ],
        )
        .unwrap();
        assert_eq!(c.broker.port, 1884);
        assert!(c.broker.tls);
        assert_eq!(c.broker.password.as_ref().unwrap().expose(), "98765");
        assert_eq!(c.court.code.to_string(), "01234");
        assert_eq!(c.broker.username.as_deref(), Some("01234"));
        assert_eq!(c.broker.client_id.as_deref(), Some("4711"));
        assert!(!format!("{c:?}").contains("98765"));
    }

    #[test]
    fn unknown_key_refused() {
        let text = format!("{DEFAULT_TOML}\n[extra]\nx = 1\n");
        assert!(Config::from_toml(&text, []).is_err());
    }
}
