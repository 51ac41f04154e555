//! The MQTT broker's configuration, generated: Mosquitto 2.0 with its dynamic-security plugin
//! (`mosquitto.conf` and `dynamic-security.json`), from the accounts of the CJN and the courts.
//!
//! One place decides what the broker lets each account do; `xmjuris broker config` (production)
//! and `sandbox::Broker` (every test and the demo) both write what [`BrokerConfig`] produces.
//!
//! What was found by probing Debian's Mosquitto 2.0.11 (see `ARCHITECTURE.md`, "The broker"):
//! - `acl_file` does not check subscriptions at all (`security_default.c` returns success for
//!   SUBSCRIBE: "FIXME - implement ACL subscription strings"), so any account could join
//!   `$share/cjn/...` and have the CJN's messages dropped by its read ACL. The
//!   dynamic-security plugin checks each SUBSCRIBE against the full filter, `$share/<group>/`
//!   included: courts get literal subscriptions to their own topics only, and only the CJN's
//!   accounts the literal `$share/cjn/...` filters.
//! - A dynamic-security client with a `clientid` can connect only with that client id: every
//!   account is bound to one, checked before any session is taken over.
//! - Its ACLs have no `%u` pattern, so every court has a role of its own. A role shared by all
//!   courts (or a group) makes loading quadratic (the role's client list is kept sorted: minutes
//!   for 100 000 courts); one role per court loads 100 000 courts in about 5 s.
//! - It reads its file only at start (not on SIGHUP): a changed file takes a restart.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use openssl::hash::MessageDigest;
use serde_json::{Value, json};

use crate::ids::CourtCode;
use crate::topics;

/// PBKDF2-SHA512 iterations of the password hashes (Mosquitto's own default). Passwords are
/// random secrets of about 128 bits ([`generate_password`]), which no stretching would make
/// stronger; each connection costs one hash, and 100 000 courts reconnect after a restart.
pub const PBKDF2_ITERATIONS: u32 = 101;
/// Salt length of the dynamic-security plugin (it refuses any other).
const SALT_BYTES: usize = 12;
/// Hash length (SHA-512).
const HASH_BYTES: usize = 64;

/// cjn-ingest's default limit for a sealed envelope (`[ingest] max_sealed_bytes`).
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 256 * 1024;
/// Room above the CJN's limit: an envelope a little over it still reaches cjn-ingest, which
/// quarantines it and answers with a rejection, rather than the broker cutting the court off.
pub const PACKET_SLACK_BYTES: usize = 64 * 1024;

/// The largest MQTT packet the broker accepts when the CJN's limit is `max_message_bytes`.
pub fn max_packet_bytes_for(max_message_bytes: usize) -> u32 {
    u32::try_from(max_message_bytes.saturating_add(PACKET_SLACK_BYTES)).unwrap_or(u32::MAX)
}

/// The name of the configuration file of the dynamic-security plugin, next to `mosquitto.conf`.
pub const DYNSEC_FILE: &str = "dynamic-security.json";
/// The broker's main configuration file.
pub const CONF_FILE: &str = "mosquitto.conf";

/// What can go wrong.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// An account or a setting the broker could not take.
    #[error("{0}")]
    Invalid(String),
    /// An existing file that XMJuris did not write, or damaged.
    #[error("{path}: {detail}")]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        detail: String,
    },
    /// Reading or writing a file.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The system's error.
        #[source]
        source: std::io::Error,
    },
    /// OpenSSL (random bytes, PBKDF2).
    #[error("OpenSSL: {0}")]
    Crypto(#[from] openssl::error::ErrorStack),
}

fn io_err(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> ConfigError {
    let what = what.into();
    move |source| ConfigError::Io { what, source }
}

/// A password as the broker keeps it: PBKDF2-HMAC-SHA512, the dynamic-security plugin's format.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash {
    salt: [u8; SALT_BYTES],
    hash: [u8; HASH_BYTES],
    iterations: u32,
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash(<redacted>)")
    }
}

impl PasswordHash {
    /// Hashes `password` with a new random salt.
    pub fn new(password: &str) -> Result<Self, ConfigError> {
        let mut salt = [0u8; SALT_BYTES];
        openssl::rand::rand_bytes(&mut salt)?;
        Self::with_salt(password, salt, PBKDF2_ITERATIONS)
    }

    fn with_salt(
        password: &str,
        salt: [u8; SALT_BYTES],
        iterations: u32,
    ) -> Result<Self, ConfigError> {
        let mut hash = [0u8; HASH_BYTES];
        openssl::pkcs5::pbkdf2_hmac(
            password.as_bytes(),
            &salt,
            iterations as usize,
            MessageDigest::sha512(),
            &mut hash,
        )?;
        Ok(PasswordHash {
            salt,
            hash,
            iterations,
        })
    }

    /// Whether `password` is the one hashed (constant-time comparison).
    pub fn verify(&self, password: &str) -> bool {
        Self::with_salt(password, self.salt, self.iterations)
            .is_ok_and(|h| openssl::memcmp::eq(&h.hash, &self.hash))
    }

    fn to_json(&self) -> (String, String, u32) {
        (
            openssl::base64::encode_block(&self.hash),
            openssl::base64::encode_block(&self.salt),
            self.iterations,
        )
    }

    fn from_json(hash: &str, salt: &str, iterations: u64) -> Option<Self> {
        let hash: [u8; HASH_BYTES] = openssl::base64::decode_block(hash).ok()?.try_into().ok()?;
        let salt: [u8; SALT_BYTES] = openssl::base64::decode_block(salt).ok()?.try_into().ok()?;
        let iterations = u32::try_from(iterations).ok().filter(|i| *i >= 1)?;
        Some(PasswordHash {
            salt,
            hash,
            iterations,
        })
    }
}

/// A new random password: 22 characters of an alphabet without look-alikes (about 128 bits),
/// safe in TOML strings, environment variables and on the phone.
pub fn generate_password() -> Result<String, ConfigError> {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut out = String::with_capacity(22);
    let mut byte = [0u8; 1];
    while out.len() < 22 {
        openssl::rand::rand_bytes(&mut byte)?;
        // Rejection sampling: no bias towards the first letters.
        let limit = 256 - 256 % ALPHABET.len();
        if usize::from(byte[0]) < limit {
            out.push(char::from(ALPHABET[usize::from(byte[0]) % ALPHABET.len()]));
        }
    }
    Ok(out)
}

/// What an account may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// A court: publishes on its `up` and `enroll/request` topics; subscribes (literally, no
    /// wildcard) to its four topics and to the revocation list.
    Court(CourtCode),
    /// The CJN (cjn-ingest): joins the shared subscriptions `$share/cjn/xmjuris/v1/+/up` and
    /// `.../+/enroll/request`; publishes on every court's `down` and `enroll/answer` topics and
    /// the revocation list. It never subscribes without the group: a member outside it would
    /// see every message twice.
    Cjn,
    /// A gateway standing for many courts (a benchmark's harness): publishes on every court's
    /// `up` and `enroll/request`, subscribes to every court's `down` and `enroll/answer` and to
    /// the revocation list; never the CJN's group, never `up`.
    Gateway,
    /// The bridge of regional broker `n` at the national broker (account `region-<n>`): for the
    /// courts behind it only ([`BrokerConfig::regions`]), what each of them may do itself —
    /// publish on its `up` and `enroll/request`, subscribe literally to its `down` and
    /// `enroll/answer` — and subscribe to the revocation list.
    Region(u16),
}

impl Role {
    fn role_name(self) -> String {
        match self {
            Role::Court(code) => format!("court-{code}"),
            Role::Cjn => "cjn".into(),
            Role::Gateway => "gateway".into(),
            Role::Region(n) => region_account_name(n),
        }
    }

    fn from_role_name(name: &str) -> Option<Role> {
        match name {
            "cjn" => Some(Role::Cjn),
            "gateway" => Some(Role::Gateway),
            _ => {
                if let Some(n) = name.strip_prefix("region-") {
                    return n.parse().ok().map(Role::Region);
                }
                name.strip_prefix("court-")
                    .and_then(|c| c.parse().ok())
                    .map(Role::Court)
            }
        }
    }

    /// The role's ACL entries: (type, topic); `regions` gives the courts behind each region's
    /// bridge.
    fn acls(self, regions: &BTreeMap<u16, BTreeSet<CourtCode>>) -> Vec<(&'static str, String)> {
        const SEND: &str = "publishClientSend";
        const SUB: &str = "subscribeLiteral";
        const SUB_PATTERN: &str = "subscribePattern";
        match self {
            Role::Court(c) => vec![
                (SEND, topics::up(c)),
                (SEND, topics::enroll_request(c)),
                (SUB, topics::down(c)),
                (SUB, topics::enroll_answer(c)),
                (SUB, topics::up(c)),
                (SUB, topics::enroll_request(c)),
                (SUB, topics::REVOCATIONS.to_owned()),
            ],
            Role::Cjn => vec![
                (SUB, topics::CJN_UP_SHARED.to_owned()),
                (SUB, topics::CJN_ENROLL_SHARED.to_owned()),
                (SEND, format!("{}/+/down", topics::PREFIX)),
                (SEND, format!("{}/+/enroll/answer", topics::PREFIX)),
                (SEND, topics::REVOCATIONS.to_owned()),
            ],
            Role::Gateway => vec![
                (SEND, format!("{}/+/up", topics::PREFIX)),
                (SEND, format!("{}/+/enroll/request", topics::PREFIX)),
                (SUB_PATTERN, format!("{}/+/down", topics::PREFIX)),
                (SUB_PATTERN, format!("{}/+/enroll/answer", topics::PREFIX)),
                (SUB, topics::REVOCATIONS.to_owned()),
            ],
            Role::Region(n) => {
                let mut acls = Vec::new();
                for &c in regions.get(&n).into_iter().flatten() {
                    acls.push((SEND, topics::up(c)));
                    acls.push((SEND, topics::enroll_request(c)));
                    acls.push((SUB, topics::down(c)));
                    acls.push((SUB, topics::enroll_answer(c)));
                }
                acls.push((SUB, topics::REVOCATIONS.to_owned()));
                acls
            }
        }
    }
}

/// The national broker's account of region `n`'s bridge: its user name and client id.
pub fn region_account_name(n: u16) -> String {
    format!("region-{n}")
}

/// A broker account: a user name bound to one client id, a password hash and a role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// User name.
    pub username: String,
    /// The only client id it may connect with (so that no account can take over another's
    /// session).
    pub client_id: String,
    /// What it may do.
    pub role: Role,
    /// Its password, hashed.
    pub password: PasswordHash,
}

impl Account {
    /// A court's account: user name = the court code, client id `court-<code>` (the listener's
    /// default).
    pub fn court(code: CourtCode, password: PasswordHash) -> Account {
        Account {
            username: code.to_string(),
            client_id: court_client_id(code),
            role: Role::Court(code),
            password,
        }
    }

    /// An account whose client id is its user name (a CJN instance `cjn-1`, a gateway, or a
    /// second account of a court).
    pub fn named(username: &str, role: Role, password: PasswordHash) -> Account {
        Account {
            username: username.to_owned(),
            client_id: username.to_owned(),
            role,
            password,
        }
    }
}

/// The client id the broker binds to a court's account (the listener's default).
pub fn court_client_id(code: CourtCode) -> String {
    format!("court-{code}")
}

/// The CJN account of instance `n` of cjn-ingest (`cjn-1`, `cjn-2`, ...): its user name and
/// client id.
pub fn cjn_account_name(n: u32) -> String {
    format!("cjn-{n}")
}

/// A listener of the broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    /// Address to bind (all when `None`).
    pub address: Option<String>,
    /// Port.
    pub port: u16,
    /// TLS: the server's certificate chain and key (PEM files, readable by the broker).
    pub tls: Option<TlsFiles>,
}

/// A TLS listener's files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// Certificate (chain), PEM.
    pub cert_file: PathBuf,
    /// Private key, PEM.
    pub key_file: PathBuf,
}

/// Where the broker logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogDest {
    /// Standard error (journald under systemd).
    Stderr,
    /// A file.
    File(PathBuf),
}

/// Limits that keep one client from filling the broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest MQTT packet accepted (a larger PUBLISH disconnects its sender); above the CJN's
    /// limit for a sealed envelope ([`max_packet_bytes_for`]).
    pub max_packet_bytes: u32,
    /// QoS 1 messages in flight to an MQTT 3.1.1 client at once (an MQTT v5 client sets its
    /// own receive maximum): a court on a 15 kbit/s link gains nothing from more.
    pub max_inflight_messages: u16,
    /// Messages queued for one client (offline, or beyond its in-flight window); more are
    /// dropped: the courts' listeners send again what the CJN did not receipt.
    pub max_queued_messages: u32,
    /// Bytes queued for one client; with `max_queued_messages`, what one court flooding its
    /// `up` topic while cjn-ingest is away can make the broker hold.
    pub max_queued_bytes: u64,
    /// Days after which the broker forgets the persistent session of a client that never came
    /// back (a closed court): what was queued for it goes, and a listener that does return
    /// sends again what the CJN did not receipt (the CJN answers a duplicate with its receipt).
    pub persistent_client_expiration_days: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_packet_bytes: max_packet_bytes_for(DEFAULT_MAX_MESSAGE_BYTES),
            max_inflight_messages: 20,
            max_queued_messages: 100_000,
            max_queued_bytes: 256 * 1024 * 1024,
            persistent_client_expiration_days: 90,
        }
    }
}

/// Everything the broker's configuration is made from.
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    /// The accounts (user names and client ids unique).
    pub accounts: Vec<Account>,
    /// Listeners (at least one).
    pub listeners: Vec<Listener>,
    /// Limits.
    pub limits: Limits,
    /// Folder of the persistent sessions and queued messages (`mosquitto.db`).
    pub persistence_dir: PathBuf,
    /// How often the sessions are saved (seconds); also on a clean stop.
    pub autosave_interval_secs: u32,
    /// The dynamic-security plugin (see [`find_dynsec_plugin`]).
    pub dynsec_plugin: PathBuf,
    /// Where the broker logs.
    pub log: LogDest,
    /// PID file, if any.
    pub pid_file: Option<PathBuf>,
    /// `user` directive: the system user the broker runs as once started as root (Mosquitto
    /// defaults to `mosquitto`).
    pub run_as: Option<String>,
    /// At the national broker: the courts behind each regional broker's bridge (the accounts
    /// with [`Role::Region`]); empty without regional brokers.
    pub regions: BTreeMap<u16, BTreeSet<CourtCode>>,
    /// At a regional broker: its bridge to the national broker; `None` elsewhere.
    pub bridge: Option<Bridge>,
}

/// A regional broker's bridge to the national broker (Mosquitto's bridge): it carries its
/// courts' `up` and `enroll/request` messages to the national broker, their `down` and
/// `enroll/answer` messages and the revocation list back, at QoS 1, in a persistent session
/// at both ends (nothing is lost while the link is down: each side queues for the other).
#[derive(Clone, PartialEq, Eq)]
pub struct Bridge {
    /// Its name (the section of `mosquitto.conf`).
    pub name: String,
    /// The national broker's address (host name or IP).
    pub address: String,
    /// Its port.
    pub port: u16,
    /// The region's number: the bridge connects as `region-<n>` ([`region_account_name`]).
    pub region: u16,
    /// The account's password at the national broker (in clear in `mosquitto.conf`, which is
    /// private to the broker).
    pub password: String,
    /// The courts behind this broker (the same list as the national broker's for this region).
    pub courts: BTreeSet<CourtCode>,
    /// The CA that signed the national broker's TLS certificate: TLS to it when given.
    pub cafile: Option<PathBuf>,
}

impl fmt::Debug for Bridge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bridge")
            .field("name", &self.name)
            .field("address", &self.address)
            .field("port", &self.port)
            .field("region", &self.region)
            .field("password", &"<redacted>")
            .field("courts", &self.courts.len())
            .field("cafile", &self.cafile)
            .finish()
    }
}

impl Bridge {
    /// Its section of `mosquitto.conf` (after the listeners: a `connection` line starts it).
    fn conf_section(&self) -> String {
        let account = region_account_name(self.region);
        let mut c = format!(
            "\n# The bridge to the national broker, as {account}: its courts' messages go up, their\n\
             # answers and the revocation list come down (QoS 1, persistent sessions both ends).\n\
             connection {name}\n\
             address {address}:{port}\n\
             bridge_protocol_version mqttv311\n\
             remote_clientid {account}\n\
             remote_username {account}\n\
             remote_password {password}\n\
             local_clientid bridge-{name}\n\
             cleansession false\n\
             notifications false\n\
             try_private true\n\
             restart_timeout 2 60\n",
            name = self.name,
            address = self.address,
            port = self.port,
            password = self.password,
        );
        if let Some(ca) = &self.cafile {
            c.push_str(&format!(
                "bridge_cafile {}\nbridge_insecure false\n",
                ca.display()
            ));
        }
        for &court in &self.courts {
            c.push_str(&format!(
                "topic {} out 1\ntopic {} out 1\ntopic {} in 1\ntopic {} in 1\n",
                topics::up(court),
                topics::enroll_request(court),
                topics::down(court),
                topics::enroll_answer(court),
            ));
        }
        c.push_str(&format!("topic {} in 1\n", topics::REVOCATIONS));
        c
    }
}

/// Where Debian and Ubuntu (and a build from source) put the dynamic-security plugin.
pub fn find_dynsec_plugin() -> Option<PathBuf> {
    const NAME: &str = "mosquitto_dynamic_security.so";
    if let Some(p) = std::env::var_os("MOSQUITTO_DYNSEC_PLUGIN") {
        return Some(PathBuf::from(p));
    }
    let mut candidates = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/usr/lib") {
        let mut dirs: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_dir())
            .collect();
        dirs.sort();
        candidates.extend(dirs.into_iter().map(|d| d.join(NAME)));
    }
    candidates.extend(
        ["/usr/lib", "/usr/local/lib", "/usr/lib64"]
            .iter()
            .map(|d| Path::new(d).join(NAME)),
    );
    candidates.into_iter().find(|p| p.is_file())
}

/// A value safe on a line of `mosquitto.conf` (which splits on whitespace).
fn conf_value(what: &str, v: &str) -> Result<(), ConfigError> {
    if v.is_empty() || v.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(ConfigError::Invalid(format!(
            "{what} « {v} »: empty, or with a space or a control character (mosquitto.conf cannot hold it)"
        )));
    }
    Ok(())
}

/// User names and client ids: what MQTT tools, TOML and shells take without quoting.
fn check_name(what: &str, v: &str) -> Result<(), ConfigError> {
    let ok = !v.is_empty()
        && v.len() <= 64
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(ConfigError::Invalid(format!(
            "{what} « {v} »: 1 to 64 characters among letters, digits, '-', '_' and '.'"
        )))
    }
}

impl BrokerConfig {
    /// Checks that user names and client ids are well formed and unique (two accounts with one
    /// client id could take over each other's session), and that there is a listener.
    pub fn check(&self) -> Result<(), ConfigError> {
        let mut names = BTreeSet::new();
        let mut ids = BTreeSet::new();
        for a in &self.accounts {
            check_name("user name", &a.username)?;
            check_name("client id", &a.client_id)?;
            if !names.insert(a.username.as_str()) {
                return Err(ConfigError::Invalid(format!(
                    "two accounts named « {} »",
                    a.username
                )));
            }
            if !ids.insert(a.client_id.as_str()) {
                return Err(ConfigError::Invalid(format!(
                    "two accounts bound to the client id « {} »",
                    a.client_id
                )));
            }
        }
        if self.listeners.is_empty() {
            return Err(ConfigError::Invalid("no listener".into()));
        }
        for l in &self.listeners {
            if let Some(a) = &l.address {
                conf_value("listener address", a)?;
            }
            if let Some(t) = &l.tls {
                conf_value("TLS certificate file", &t.cert_file.to_string_lossy())?;
                conf_value("TLS key file", &t.key_file.to_string_lossy())?;
            }
        }
        conf_value(
            "persistence folder",
            &self.persistence_dir.to_string_lossy(),
        )?;
        conf_value("plugin", &self.dynsec_plugin.to_string_lossy())?;
        if let LogDest::File(p) = &self.log {
            conf_value("log file", &p.to_string_lossy())?;
        }
        if let Some(p) = &self.pid_file {
            conf_value("PID file", &p.to_string_lossy())?;
        }
        if let Some(b) = &self.bridge {
            check_name("bridge name", &b.name)?;
            conf_value("bridge address", &b.address)?;
            conf_value("bridge password", &b.password)?;
            if let Some(ca) = &b.cafile {
                conf_value("bridge CA file", &ca.to_string_lossy())?;
            }
            if b.courts.is_empty() {
                return Err(ConfigError::Invalid(format!(
                    "bridge « {} »: no court behind it",
                    b.name
                )));
            }
        }
        for a in &self.accounts {
            if let Role::Region(n) = a.role
                && !self.regions.contains_key(&n)
            {
                return Err(ConfigError::Invalid(format!(
                    "account « {} »: region {n} has no list of courts",
                    a.username
                )));
            }
        }
        if self.limits.max_packet_bytes < 1024 {
            return Err(ConfigError::Invalid(
                "max_packet_size below 1 kB: nothing would pass".into(),
            ));
        }
        Ok(())
    }

    /// `mosquitto.conf`, naming the plugin's file `dynsec_file`.
    pub fn mosquitto_conf(&self, dynsec_file: &Path) -> Result<String, ConfigError> {
        self.check()?;
        conf_value("plugin file", &dynsec_file.to_string_lossy())?;
        let l = &self.limits;
        let mut c = String::from(
            "# Written by XMJuris (`xmjuris broker config`, or the sandbox): do not edit, generate again.\n\
             # Accounts, client ids and ACLs are in the dynamic-security plugin's file, read at start.\n\n",
        );
        if let Some(user) = &self.run_as {
            conf_value("user", user)?;
            c.push_str(&format!("user {user}\n"));
        }
        c.push_str(&format!(
            "per_listener_settings false\n\
             allow_anonymous false\n\
             plugin {plugin}\n\
             plugin_opt_config_file {dynsec}\n\n\
             # A PUBLISH larger than this disconnects its sender (the CJN's own limit is lower).\n\
             max_packet_size {packet}\n\
             max_inflight_messages {inflight}\n\
             max_queued_messages {queued}\n\
             max_queued_bytes {queued_bytes}\n\
             persistent_client_expiration {expiration}d\n\n\
             persistence true\n\
             persistence_location {persistence}/\n\
             autosave_interval {autosave}\n\n",
            plugin = self.dynsec_plugin.display(),
            dynsec = dynsec_file.display(),
            packet = l.max_packet_bytes,
            inflight = l.max_inflight_messages,
            queued = l.max_queued_messages,
            queued_bytes = l.max_queued_bytes,
            expiration = l.persistent_client_expiration_days,
            persistence = self
                .persistence_dir
                .display()
                .to_string()
                .trim_end_matches('/'),
            autosave = self.autosave_interval_secs,
        ));
        match &self.log {
            LogDest::Stderr => c.push_str("log_dest stderr\n"),
            LogDest::File(p) => c.push_str(&format!("log_dest file {}\n", p.display())),
        }
        c.push_str("log_type error\nlog_type warning\nlog_type notice\nconnection_messages true\n");
        if let Some(p) = &self.pid_file {
            c.push_str(&format!("pid_file {}\n", p.display()));
        }
        for listener in &self.listeners {
            c.push('\n');
            match &listener.address {
                Some(a) => c.push_str(&format!("listener {} {a}\n", listener.port)),
                None => c.push_str(&format!("listener {}\n", listener.port)),
            }
            if let Some(t) = &listener.tls {
                c.push_str(&format!(
                    "certfile {}\nkeyfile {}\n",
                    t.cert_file.display(),
                    t.key_file.display()
                ));
            }
        }
        if let Some(b) = &self.bridge {
            c.push_str(&b.conf_section());
        }
        Ok(c)
    }

    /// The dynamic-security plugin's file: one client per account (bound to its client id), one
    /// role per court, nothing allowed by default but receiving what a permitted subscription
    /// matches. One entry a line, accounts ordered by user name: the same accounts give the
    /// same bytes.
    pub fn dynsec_json(&self) -> Result<String, ConfigError> {
        self.check()?;
        let mut accounts: Vec<&Account> = self.accounts.iter().collect();
        accounts.sort_by(|a, b| a.username.cmp(&b.username));
        let roles: BTreeSet<Role> = accounts.iter().map(|a| a.role).collect();
        let clients = accounts.iter().map(|a| {
            let (password, salt, iterations) = a.password.to_json();
            json!({
                "username": a.username,
                "clientid": a.client_id,
                "password": password,
                "salt": salt,
                "iterations": iterations,
                "roles": [{"rolename": a.role.role_name()}],
            })
        });
        let roles = roles.iter().map(|r| {
            let acls: Vec<Value> = r
                .acls(&self.regions)
                .into_iter()
                .map(|(t, topic)| json!({"acltype": t, "topic": topic, "allow": true}))
                .collect();
            json!({"rolename": r.role_name(), "acls": acls})
        });
        let lines = |items: Vec<Value>| {
            items
                .iter()
                .map(Value::to_string)
                .collect::<Vec<_>>()
                .join(",\n")
        };
        // Receiving is allowed by default: a client receives only what its subscriptions
        // match, and every subscription was checked, literally, when it was made. Per-court
        // receive ACLs would cost a quarter more memory (measured) and change nothing.
        Ok(format!(
            "{{\"defaultACLAccess\":{{\"publishClientSend\":false,\"publishClientReceive\":true,\"subscribe\":false,\"unsubscribe\":true}},\n\
             \"groups\":[],\n\
             \"clients\":[\n{}\n],\n\
             \"roles\":[\n{}\n]}}\n",
            lines(clients.collect()),
            lines(roles.collect()),
        ))
    }
}

/// The accounts of a `dynamic-security.json` that [`BrokerConfig::dynsec_json`] wrote.
pub fn parse_dynsec_accounts(text: &str) -> Result<Vec<Account>, String> {
    let v: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let clients = v
        .get("clients")
        .and_then(Value::as_array)
        .ok_or("no \"clients\" list")?;
    let mut out = Vec::new();
    for c in clients {
        let s = |k: &str| c.get(k).and_then(Value::as_str);
        let username = s("username").ok_or("a client without a user name")?;
        let client_id =
            s("clientid").ok_or_else(|| format!("client « {username} » bound to no client id"))?;
        let password = match (s("password"), s("salt"), c.get("iterations")) {
            (Some(p), Some(salt), Some(i)) => {
                i.as_u64().and_then(|i| PasswordHash::from_json(p, salt, i))
            }
            _ => None,
        }
        .ok_or_else(|| format!("client « {username} »: no valid password hash"))?;
        let roles = c
            .get("roles")
            .and_then(Value::as_array)
            .map(|r| {
                r.iter()
                    .filter_map(|r| r.get("rolename").and_then(Value::as_str))
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        let role = match roles.as_slice() {
            [one] => Role::from_role_name(one),
            _ => None,
        }
        .ok_or_else(|| format!("client « {username} »: not one XMJuris role"))?;
        out.push(Account {
            username: username.to_owned(),
            client_id: client_id.to_owned(),
            role,
            password,
        });
    }
    Ok(out)
}

/// What [`write_config`] changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    /// Accounts that were not there (user names).
    pub added: Vec<String>,
    /// Accounts no longer there.
    pub removed: Vec<String>,
    /// Accounts whose password, client id or role changed.
    pub changed: Vec<String>,
    /// Whether `mosquitto.conf` changed (listeners, limits, folders).
    pub settings_changed: bool,
}

impl Changes {
    /// True when both files are as they were.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty()
            && self.removed.is_empty()
            && self.changed.is_empty()
            && !self.settings_changed
    }
}

impl fmt::Display for Changes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("nothing changed");
        }
        let mut parts = Vec::new();
        let list = |v: &[String]| {
            if v.len() > 20 {
                format!("{}, ... ({} in all)", v[..20].join(", "), v.len())
            } else {
                v.join(", ")
            }
        };
        if !self.added.is_empty() {
            parts.push(format!("accounts added: {}", list(&self.added)));
        }
        if !self.removed.is_empty() {
            parts.push(format!("accounts removed: {}", list(&self.removed)));
        }
        if !self.changed.is_empty() {
            parts.push(format!("accounts changed: {}", list(&self.changed)));
        }
        if self.settings_changed {
            parts.push("settings changed (mosquitto.conf)".into());
        }
        f.write_str(&parts.join("; "))
    }
}

/// Reads the accounts of `dir/dynamic-security.json`, if the file exists.
pub fn read_accounts(dir: &Path) -> Result<Vec<Account>, ConfigError> {
    let path = dir.join(DYNSEC_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => parse_dynsec_accounts(&text).map_err(|detail| ConfigError::Unreadable {
            path: path.clone(),
            detail,
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(io_err(format!("reading {}", path.display()))(e)),
    }
}

/// Writes `dir/mosquitto.conf` and `dir/dynamic-security.json` (mode `mode`), each only if its
/// content changed (atomically: a new file renamed over the old one); says what changed.
pub fn write_config(config: &BrokerConfig, dir: &Path, mode: u32) -> Result<Changes, ConfigError> {
    std::fs::create_dir_all(dir).map_err(io_err(format!("creating {}", dir.display())))?;
    let dynsec_path = dir.join(DYNSEC_FILE);
    let conf_path = dir.join(CONF_FILE);
    let conf = config.mosquitto_conf(&dynsec_path)?;
    let json = config.dynsec_json()?;
    let before: BTreeMap<String, Account> = read_accounts(dir)?
        .into_iter()
        .map(|a| (a.username.clone(), a))
        .collect();
    let after: BTreeMap<&str, &Account> = config
        .accounts
        .iter()
        .map(|a| (a.username.as_str(), a))
        .collect();
    let mut changes = Changes {
        added: after
            .keys()
            .filter(|k| !before.contains_key(**k))
            .map(|k| k.to_string())
            .collect(),
        removed: before
            .keys()
            .filter(|k| !after.contains_key(k.as_str()))
            .cloned()
            .collect(),
        changed: after
            .iter()
            .filter(|(k, a)| before.get(**k).is_some_and(|b| b != **a))
            .map(|(k, _)| k.to_string())
            .collect(),
        settings_changed: false,
    };
    changes.settings_changed = write_if_changed(&conf_path, &conf, mode)?;
    let json_changed = write_if_changed(&dynsec_path, &json, mode)?;
    if json_changed && changes.added.is_empty() && changes.removed.is_empty() {
        // Same accounts, other bytes (an older format, a role's ACL changed): say so.
        if changes.changed.is_empty() {
            changes.settings_changed = true;
        }
    }
    Ok(changes)
}

/// Writes `text` to `path` unless it holds it already; true when written.
fn write_if_changed(path: &Path, text: &str, mode: u32) -> Result<bool, ConfigError> {
    use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
    if let Ok(old) = std::fs::read(path)
        && old == text.as_bytes()
    {
        // Same content; the mode is still made right.
        let perms = std::fs::Permissions::from_mode(mode);
        std::fs::set_permissions(path, perms)
            .map_err(io_err(format!("setting the mode of {}", path.display())))?;
        return Ok(false);
    }
    let tmp = path.with_extension("new");
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)
        .map_err(io_err(format!("writing {}", tmp.display())))?;
    f.write_all(text.as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(io_err(format!("writing {}", tmp.display())))?;
    std::fs::rename(&tmp, path).map_err(io_err(format!("renaming {}", tmp.display())))?;
    Ok(true)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn code(s: &str) -> CourtCode {
        s.parse().unwrap()
    }

    fn config(accounts: Vec<Account>) -> BrokerConfig {
        BrokerConfig {
            accounts,
            listeners: vec![Listener {
                address: Some("127.0.0.1".into()),
                port: 1883,
                tls: None,
            }],
            limits: Limits::default(),
            persistence_dir: "/var/lib/mosquitto".into(),
            autosave_interval_secs: 60,
            dynsec_plugin: "/usr/lib/mosquitto_dynamic_security.so".into(),
            log: LogDest::Stderr,
            pid_file: None,
            run_as: None,
            regions: Default::default(),
            bridge: None,
        }
    }

    #[test]
    fn password_hash_verifies_and_round_trips() {
        let h = PasswordHash::new("secret").unwrap();
        assert!(h.verify("secret"));
        assert!(!h.verify("secreT"));
        let (p, s, i) = h.to_json();
        assert_eq!(PasswordHash::from_json(&p, &s, u64::from(i)).unwrap(), h);
        assert!(
            PasswordHash::from_json(&p, "AAAA", 101).is_none(),
            "salt of 3 bytes"
        );
        assert!(!format!("{h:?}").contains(&p));
        let pw = generate_password().unwrap();
        assert_eq!(pw.len(), 22);
        assert_ne!(pw, generate_password().unwrap());
    }

    /// The hash Mosquitto's own tool made for "adminpw" (`mosquitto_ctrl dynsec init`).
    #[test]
    fn hash_is_mosquittos() {
        let h = PasswordHash::from_json(
            "sFM4wsLNxYw1ml2RXh6dSQkzKHLrylEoh4rxheft25OkU44pVIblWnPFEI/1SYgXXNoa6ekmFI+3FPiyBGIj6Q==",
            "9UhhFqP352qFoS03",
            101,
        )
        .unwrap();
        assert!(h.verify("adminpw"));
        assert!(!h.verify("adminpw2"));
    }

    #[test]
    fn accounts_round_trip_and_output_is_stable() {
        let a = Account::court(code("10002"), PasswordHash::new("a").unwrap());
        let b = Account::court(code("10001"), PasswordHash::new("b").unwrap());
        let c = Account::named(
            &cjn_account_name(1),
            Role::Cjn,
            PasswordHash::new("c").unwrap(),
        );
        let cfg = config(vec![a.clone(), b.clone(), c.clone()]);
        let json = cfg.dynsec_json().unwrap();
        let back = parse_dynsec_accounts(&json).unwrap();
        assert_eq!(
            back,
            vec![b.clone(), a.clone(), c.clone()],
            "sorted by user name"
        );
        // Given in another order, the same bytes.
        assert_eq!(config(vec![c, a, b]).dynsec_json().unwrap(), json);
        assert!(json.contains(r#""clientid":"court-10001""#));
        assert!(json.contains(r#""topic":"$share/cjn/xmjuris/v1/+/up""#));
        assert!(!json.contains("xmjuris/#"), "no wildcard for anyone");
    }

    #[test]
    fn duplicate_names_or_client_ids_refused() {
        let p = PasswordHash::new("x").unwrap();
        let court = Account::court(code("10001"), p.clone());
        let mut twin = Account::named("other", Role::Cjn, p.clone());
        twin.client_id = "court-10001".into();
        assert!(config(vec![court.clone(), twin]).check().is_err());
        assert!(config(vec![court.clone(), court.clone()]).check().is_err());
        assert!(
            config(vec![Account::named("a b", Role::Cjn, p)])
                .check()
                .is_err()
        );
    }

    #[test]
    fn a_regions_bridge_may_act_only_for_its_courts() {
        let p = PasswordHash::new("x").unwrap();
        let mut cfg = config(vec![
            Account::named(&region_account_name(1), Role::Region(1), p.clone()),
            Account::named(&region_account_name(2), Role::Region(2), p.clone()),
        ]);
        assert!(cfg.check().is_err(), "a region without its list of courts");
        cfg.regions.insert(1, [code("10001")].into());
        cfg.regions.insert(2, [code("10002"), code("10003")].into());
        let json = cfg.dynsec_json().unwrap();
        let back = parse_dynsec_accounts(&json).unwrap();
        assert_eq!(back[0].role, Role::Region(1));
        let roles: Value = serde_json::from_str(&json).unwrap();
        let acls = |name: &str| -> Vec<String> {
            roles["roles"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["rolename"] == name)
                .unwrap()["acls"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| {
                    format!(
                        "{} {}",
                        a["acltype"].as_str().unwrap(),
                        a["topic"].as_str().unwrap()
                    )
                })
                .collect()
        };
        assert_eq!(
            acls("region-1"),
            [
                "publishClientSend xmjuris/v1/10001/up",
                "publishClientSend xmjuris/v1/10001/enroll/request",
                "subscribeLiteral xmjuris/v1/10001/down",
                "subscribeLiteral xmjuris/v1/10001/enroll/answer",
                "subscribeLiteral xmjuris/v1/revocations",
            ]
        );
        assert_eq!(acls("region-2").len(), 9);
    }

    #[test]
    fn a_regional_broker_bridges_its_courts_topics_and_hides_the_password() {
        let mut cfg = config(vec![Account::court(
            code("10001"),
            PasswordHash::new("x").unwrap(),
        )]);
        cfg.bridge = Some(Bridge {
            name: "national-1".into(),
            address: "cjn.example".into(),
            port: 8883,
            region: 1,
            password: "s3cret".into(),
            courts: [code("10001")].into(),
            cafile: Some("/etc/xmjuris/cjn-ca.pem".into()),
        });
        let conf = cfg
            .mosquitto_conf(Path::new("/etc/x/dynamic-security.json"))
            .unwrap();
        let bridge = conf.split_once("connection national-1\n").unwrap().1;
        for line in [
            "address cjn.example:8883",
            "remote_username region-1",
            "remote_clientid region-1",
            "remote_password s3cret",
            "cleansession false",
            "bridge_cafile /etc/xmjuris/cjn-ca.pem",
            "topic xmjuris/v1/10001/up out 1",
            "topic xmjuris/v1/10001/enroll/request out 1",
            "topic xmjuris/v1/10001/down in 1",
            "topic xmjuris/v1/10001/enroll/answer in 1",
            "topic xmjuris/v1/revocations in 1",
        ] {
            assert!(bridge.contains(line), "{line} missing from:\n{bridge}");
        }
        assert!(
            bridge
                .lines()
                .filter(|l| l.starts_with("topic "))
                .all(|l| !l.contains('+') && !l.contains('#')),
            "a wildcard would carry other courts' messages: {bridge}"
        );
        assert!(!format!("{cfg:?}").contains("s3cret"));
        cfg.bridge.as_mut().unwrap().courts.clear();
        assert!(cfg.check().is_err(), "a bridge for no court");
    }

    #[test]
    fn conf_names_the_plugin_limits_and_listeners() {
        let mut cfg = config(vec![]);
        cfg.listeners.push(Listener {
            address: None,
            port: 8883,
            tls: Some(TlsFiles {
                cert_file: "/etc/xmjuris/broker.crt".into(),
                key_file: "/etc/xmjuris/broker.key".into(),
            }),
        });
        let conf = cfg
            .mosquitto_conf(Path::new("/etc/x/dynamic-security.json"))
            .unwrap();
        for line in [
            "allow_anonymous false",
            "plugin_opt_config_file /etc/x/dynamic-security.json",
            "max_packet_size 327680",
            "listener 1883 127.0.0.1",
            "listener 8883\ncertfile /etc/xmjuris/broker.crt\nkeyfile /etc/xmjuris/broker.key",
            "persistence_location /var/lib/mosquitto/",
            "persistent_client_expiration 90d",
        ] {
            assert!(conf.contains(line), "{line} missing from:\n{conf}");
        }
        cfg.persistence_dir = "/var/lib/a b".into();
        assert!(cfg.mosquitto_conf(Path::new("/x.json")).is_err());
    }

    #[test]
    fn write_says_what_changed_and_is_idempotent() {
        let dir = tempfile::tempdir().unwrap();
        let p = |s| PasswordHash::new(s).unwrap();
        let mut cfg = config(vec![
            Account::court(code("10001"), p("a")),
            Account::named("cjn-1", Role::Cjn, p("c")),
        ]);
        let first = write_config(&cfg, dir.path(), 0o600).unwrap();
        assert_eq!(first.added, ["10001", "cjn-1"]);
        assert!(first.settings_changed);
        assert!(write_config(&cfg, dir.path(), 0o600).unwrap().is_empty());
        // The accounts read back keep their hashes: a new court is the only change.
        let mut kept = read_accounts(dir.path()).unwrap();
        kept.push(Account::court(code("10003"), p("n")));
        cfg.accounts = kept;
        let second = write_config(&cfg, dir.path(), 0o600).unwrap();
        assert_eq!(second.added, ["10003"]);
        assert!(second.removed.is_empty() && second.changed.is_empty());
        assert!(!second.settings_changed, "{second}");
        cfg.accounts.retain(|a| a.username != "10001");
        cfg.limits.max_packet_bytes = 100_000;
        let third = write_config(&cfg, dir.path(), 0o600).unwrap();
        assert_eq!(third.removed, ["10001"]);
        assert!(third.settings_changed);
        assert_eq!(
            third.to_string(),
            "accounts removed: 10001; settings changed (mosquitto.conf)"
        );
    }
}
