//! `xmjuris broker config`: the MQTT broker's configuration (Mosquitto 2.0 and its
//! dynamic-security plugin) for the CJN's accounts and every active registered court, generated
//! by `protocol::broker` — the same generator the tests' and the demo's brokers use.
//!
//! Passwords: an account new to the broker gets a random password, printed once on standard
//! output (`<account> <password>` a line) for the operator to hand to the court with its
//! enrollment code, or to put in cjn-ingest's configuration; the broker's file keeps only its
//! PBKDF2 hash, and running the command again keeps the hashes it finds there.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use clap::{ArgGroup, Args, Subcommand};
use protocol::CourtCode;
use protocol::broker::{
    self as bc, Account, BrokerConfig, Limits, Listener, LogDest, PasswordHash, Role, TlsFiles,
};

#[derive(Debug, Subcommand)]
pub enum BrokerCommand {
    /// Write the broker's configuration for the CJN and every active registered court; run it
    /// again after registering a court: it says what changed, and prints new passwords only.
    Config(ConfigArgs),
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("registry").required(true).args(["cjn_db", "courts"])))]
pub struct ConfigArgs {
    /// Folder of mosquitto.conf and dynamic-security.json (created; its hashes are kept).
    #[arg(long, value_name = "DIR")]
    pub(crate) out: PathBuf,
    /// The CJN database, as an operator: its active registered courts (cjn.broker_courts()).
    #[arg(long, value_name = "DATABASE_URL")]
    pub(crate) cjn_db: Option<String>,
    /// Or a file of court codes, one a line (`#` starts a comment).
    #[arg(long, value_name = "FILE")]
    pub(crate) courts: Option<PathBuf>,
    /// cjn-ingest instances: broker accounts cjn-1 ... cjn-N.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub(crate) cjn_accounts: u32,
    /// A listener without TLS (ADDRESS:PORT, or PORT for every address); repeatable. Local by
    /// default: the courts connect over TLS (--tls-listen), their passwords never in clear.
    #[arg(long, value_name = "ADDRESS:PORT", default_value = "127.0.0.1:1883")]
    pub(crate) listen: Vec<String>,
    /// A TLS listener (ADDRESS:PORT, or PORT), serving --tls-cert and --tls-key.
    #[arg(long, value_name = "ADDRESS:PORT", requires_all = ["tls_cert", "tls_key"])]
    pub(crate) tls_listen: Option<String>,
    /// The TLS listener's certificate chain (PEM, readable by the broker).
    #[arg(long, value_name = "PEM", requires = "tls_listen")]
    pub(crate) tls_cert: Option<PathBuf>,
    /// The TLS listener's private key (PEM, readable by the broker).
    #[arg(long, value_name = "PEM", requires = "tls_listen")]
    pub(crate) tls_key: Option<PathBuf>,
    /// cjn-ingest's `[ingest] max_sealed_bytes`: the broker refuses packets 64 KiB larger.
    #[arg(long, value_name = "BYTES", default_value_t = bc::DEFAULT_MAX_MESSAGE_BYTES)]
    pub(crate) max_message_bytes: usize,
    /// Folder of the broker's persistent sessions and queued messages (writable by it).
    #[arg(long, value_name = "DIR", default_value = "/var/lib/mosquitto")]
    pub(crate) data_dir: PathBuf,
    /// Log file (standard error by default: the journal under systemd).
    #[arg(long, value_name = "FILE")]
    pub(crate) log_file: Option<PathBuf>,
    /// PID file.
    #[arg(long, value_name = "FILE")]
    pub(crate) pid_file: Option<PathBuf>,
    /// The system user the broker runs as, once started as root (Mosquitto's default:
    /// mosquitto); the files are made readable by its group.
    #[arg(long, value_name = "USER")]
    pub(crate) user: Option<String>,
    /// The dynamic-security plugin (found under /usr/lib by default).
    #[arg(long, value_name = "FILE")]
    pub(crate) dynsec_plugin: Option<PathBuf>,
    /// Give this account a new password (a court code, cjn-N or region-N), printed like a new
    /// account's; repeatable.
    #[arg(long, value_name = "ACCOUNT")]
    pub(crate) new_password: Vec<String>,
    /// At the national broker: region N's broker bridges the courts listed in FILE (one code a
    /// line); gives it the account region-N, allowed their topics only. Repeatable.
    #[arg(long, value_name = "N=FILE", conflicts_with = "bridge_to")]
    pub(crate) region: Vec<String>,
    /// At a regional broker: bridge its courts (--courts) to the national broker at
    /// ADDRESS:PORT. No CJN account is made here: cjn-ingest connects to the national broker.
    #[arg(long, value_name = "ADDRESS:PORT", requires_all = ["bridge_region", "bridge_password_file", "courts"])]
    pub(crate) bridge_to: Option<String>,
    /// The region's number N: the bridge connects as region-N (its password was printed by
    /// the national broker's `broker config --region N=FILE`).
    #[arg(long, value_name = "N", requires = "bridge_to")]
    pub(crate) bridge_region: Option<u16>,
    /// A file holding region-N's password at the national broker (its first line).
    #[arg(long, value_name = "FILE", requires = "bridge_to")]
    pub(crate) bridge_password_file: Option<PathBuf>,
    /// The CA of the national broker's TLS certificate: the bridge uses TLS when given.
    #[arg(long, value_name = "PEM", requires = "bridge_to")]
    pub(crate) bridge_cafile: Option<PathBuf>,
}

pub async fn run(cmd: BrokerCommand) -> anyhow::Result<()> {
    match cmd {
        BrokerCommand::Config(args) => config(args).await,
    }
}

async fn config(args: ConfigArgs) -> anyhow::Result<()> {
    for (name, password) in write(&args).await?.handed {
        println!("{name} {password}");
    }
    Ok(())
}

/// What [`write`] did.
pub struct Written {
    /// The accounts given a new password, with it (clear: shown once, kept nowhere).
    pub handed: Vec<(String, String)>,
    /// Whether a file changed.
    pub changed: bool,
}

/// Writes the broker's configuration (see the module's documentation); says on standard error
/// what changed, and returns the new passwords.
pub async fn write(args: &ConfigArgs) -> anyhow::Result<Written> {
    let out = std::path::absolute(&args.out)?;
    let courts = match (&args.cjn_db, &args.courts) {
        (Some(url), _) => courts_from_db(url).await?,
        (None, Some(file)) => courts_from_file(file)?,
        (None, None) => bail!("--cjn-db or --courts is required"),
    };
    if args.cjn_accounts == 0 {
        bail!("--cjn-accounts: at least 1 (cjn-ingest needs an account)");
    }
    let bridge = match &args.bridge_to {
        Some(to) => Some(bridge(args, to, &courts)?),
        None => None,
    };
    let mut regions = std::collections::BTreeMap::new();
    for r in &args.region {
        let (n, file) = r
            .split_once('=')
            .with_context(|| format!("--region « {r} »: N=FILE"))?;
        let n: u16 = n
            .parse()
            .with_context(|| format!("--region « {r} »: N is a region number"))?;
        let listed = courts_from_file(Path::new(file))?;
        if regions
            .insert(
                n,
                listed
                    .into_iter()
                    .collect::<std::collections::BTreeSet<_>>(),
            )
            .is_some()
        {
            bail!("--region {n} given twice");
        }
    }
    let existing: std::collections::HashMap<String, PasswordHash> = bc::read_accounts(&out)?
        .into_iter()
        .map(|a| (a.username, a.password))
        .collect();
    let mut wanted: Vec<(String, Role, Option<String>)> = courts
        .iter()
        .map(|c| {
            (
                c.to_string(),
                Role::Court(*c),
                Some(bc::court_client_id(*c)),
            )
        })
        .collect();
    if bridge.is_none() {
        for n in 1..=args.cjn_accounts {
            wanted.push((bc::cjn_account_name(n), Role::Cjn, None));
        }
    }
    for &n in regions.keys() {
        wanted.push((bc::region_account_name(n), Role::Region(n), None));
    }
    for name in &args.new_password {
        if !wanted.iter().any(|(w, _, _)| w == name) {
            bail!(
                "--new-password {name}: no such account (a registered court's code, cjn-1 ... cjn-N, or region-N)"
            );
        }
    }
    let mut accounts = Vec::new();
    let mut handed = Vec::new();
    for (name, role, client_id) in wanted {
        let kept = existing
            .get(&name)
            .filter(|_| !args.new_password.contains(&name))
            .cloned();
        let password = match kept {
            Some(hash) => hash,
            None => {
                let clear = bc::generate_password()?;
                let hash = PasswordHash::new(&clear)?;
                handed.push((name.clone(), clear));
                hash
            }
        };
        let mut account = Account::named(&name, role, password);
        if let Some(id) = client_id {
            account.client_id = id;
        }
        accounts.push(account);
    }

    let mut listeners = Vec::new();
    for l in &args.listen {
        let (address, port) = parse_listen(l)?;
        listeners.push(Listener {
            address,
            port,
            tls: None,
        });
    }
    if let (Some(l), Some(cert), Some(key)) = (&args.tls_listen, &args.tls_cert, &args.tls_key) {
        let (address, port) = parse_listen(l)?;
        for (what, f) in [("--tls-cert", cert), ("--tls-key", key)] {
            if !f.is_file() {
                bail!("{what} {}: no such file", f.display());
            }
        }
        listeners.push(Listener {
            address,
            port,
            tls: Some(TlsFiles {
                cert_file: std::path::absolute(cert)?,
                key_file: std::path::absolute(key)?,
            }),
        });
    }
    let dynsec_plugin = match args.dynsec_plugin.clone() {
        Some(p) => p,
        None => bc::find_dynsec_plugin().context(
            "Mosquitto's dynamic-security plugin (mosquitto_dynamic_security.so, Debian package \
             mosquitto 2.0) was not found: give it with --dynsec-plugin",
        )?,
    };
    let config = BrokerConfig {
        accounts,
        listeners,
        limits: Limits {
            max_packet_bytes: bc::max_packet_bytes_for(args.max_message_bytes),
            ..Limits::default()
        },
        persistence_dir: std::path::absolute(&args.data_dir)?,
        autosave_interval_secs: 60,
        dynsec_plugin,
        log: match &args.log_file {
            Some(f) => LogDest::File(std::path::absolute(f)?),
            None => LogDest::Stderr,
        },
        pid_file: args
            .pid_file
            .as_deref()
            .map(std::path::absolute)
            .transpose()?,
        run_as: args.user.clone(),
        regions,
        bridge,
    };
    // With a bridge, mosquitto.conf holds its password: private to the broker (and its group).
    let changes = bc::write_config(&config, &out, 0o640)
        .with_context(|| format!("writing the broker's configuration in {}", out.display()))?;
    give_to_broker_group(&out, args.user.as_deref())?;

    let changed = !changes.is_empty();
    if changes.is_empty() {
        eprintln!(
            "Broker configuration in {} up to date: nothing changed ({} courts, {} CJN account(s)).",
            out.display(),
            courts.len(),
            args.cjn_accounts
        );
    } else {
        eprintln!(
            "Broker configuration written in {}: {changes}. {} courts, {} CJN account(s).\n\
             Restart Mosquitto to apply it (`mosquitto -c {}`, or `systemctl restart mosquitto`): \
             it reads its accounts at start; the courts reconnect, their sessions and queued \
             messages are kept.",
            out.display(),
            courts.len(),
            args.cjn_accounts,
            out.join(bc::CONF_FILE).display(),
        );
    }
    if !handed.is_empty() {
        eprintln!(
            "{} new password(s) on standard output, one `<account> <password>` a line: give each \
             court its own with its enrollment code (its listener's [broker] password), and each \
             cjn-N to its cjn-ingest. They are kept nowhere: the broker holds only a hash \
             (--new-password ACCOUNT makes another).",
            handed.len()
        );
    }
    Ok(Written { handed, changed })
}

/// A regional broker's bridge to the national broker, from the arguments.
fn bridge(args: &ConfigArgs, to: &str, courts: &[CourtCode]) -> anyhow::Result<bc::Bridge> {
    let (address, port) = parse_listen(to)?;
    let address = address.with_context(|| format!("--bridge-to « {to} »: ADDRESS:PORT"))?;
    let region = args.bridge_region.context("--bridge-region is required")?;
    let file = args
        .bridge_password_file
        .as_deref()
        .context("--bridge-password-file is required")?;
    let password = std::fs::read_to_string(file)
        .with_context(|| format!("reading {}", file.display()))?
        .lines()
        .next()
        .unwrap_or("")
        .trim()
        .to_owned();
    if password.is_empty() {
        bail!("{}: no password on its first line", file.display());
    }
    let cafile = match &args.bridge_cafile {
        Some(f) if !f.is_file() => bail!("--bridge-cafile {}: no such file", f.display()),
        Some(f) => Some(std::path::absolute(f)?),
        None => None,
    };
    Ok(bc::Bridge {
        name: format!("national-{region}"),
        address,
        port,
        region,
        password,
        courts: courts.iter().copied().collect(),
        cafile,
    })
}

/// `ADDRESS:PORT` (`[v6]:PORT` too) or `PORT` (every address).
pub(crate) fn parse_listen(s: &str) -> anyhow::Result<(Option<String>, u16)> {
    let (address, port) = match s.rsplit_once(':') {
        Some((a, p)) => (Some(a.trim_matches(['[', ']']).to_owned()), p),
        None => (None, s),
    };
    let port: u16 = port
        .parse()
        .ok()
        .filter(|p| *p > 0)
        .with_context(|| format!("« {s} »: ADDRESS:PORT or PORT"))?;
    Ok((address.filter(|a| !a.is_empty()), port))
}

/// The active registered courts, from the CJN database.
async fn courts_from_db(url: &str) -> anyhow::Result<Vec<CourtCode>> {
    let db = db::connect(url).await?;
    let rows = db
        .query("select code from cjn.broker_courts()", &[])
        .await
        .map_err(|e| {
            db::DbError::query(
                "reading the registered courts (cjn.broker_courts(), as an operator)",
                e,
            )
        })?;
    rows.iter()
        .map(|r| {
            let code: String = r.get(0);
            code.parse().map_err(|_| {
                anyhow::anyhow!("the registry holds a malformed court code « {code} »")
            })
        })
        .collect()
}

/// Court codes from a file, one a line.
fn courts_from_file(path: &Path) -> anyhow::Result<Vec<CourtCode>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut codes = std::collections::BTreeSet::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let code: CourtCode = line.parse().map_err(|_| {
            anyhow::anyhow!(
                "{}:{}: « {line} » is not a court code (5 digits)",
                path.display(),
                n + 1
            )
        })?;
        codes.insert(code);
    }
    Ok(codes.into_iter().collect())
}

/// As root, gives the written files to the broker's group (mode 0640 already): Mosquitto reads
/// the plugin's file after dropping its privileges.
fn give_to_broker_group(dir: &Path, user: Option<&str>) -> anyhow::Result<()> {
    if !sandbox::running_as_root() {
        return Ok(());
    }
    let group = user.unwrap_or("mosquitto");
    let Some(gid) = group_id(group) else {
        return Ok(());
    };
    for f in [bc::CONF_FILE, bc::DYNSEC_FILE] {
        let path: PathBuf = dir.join(f);
        std::os::unix::fs::chown(&path, Some(0), Some(gid))
            .with_context(|| format!("giving {} to the group {group}", path.display()))?;
    }
    Ok(())
}

/// The id of a system group, from /etc/group.
fn group_id(name: &str) -> Option<u32> {
    std::fs::read_to_string("/etc/group")
        .ok()?
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.first() == Some(&name))
        .and_then(|f| f.get(2)?.parse().ok())
}
