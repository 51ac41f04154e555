//! `xmjuris setup court` and `xmjuris setup cjn`: a Debian/Ubuntu server set up from one command,
//! idempotent — each step looks first and changes only what is missing or different, says which,
//! and a second run says that nothing changed.
//!
//! Court: the database, `pg_hba.conf` (a marked block: the court's LAN and the local listener,
//! `scram-sha-256`; every other TCP connection to the database refused), the migrations, the
//! court's identity and greffier, the listener's login and `listener.toml`, the enrollment over
//! MQTT (`court enroll`), the system user and the systemd unit of the listener.
//! CJN: the database, `pg_hba.conf`, the migrations, the `ingest` login, the PKI, the courts
//! registered, the broker's configuration (`broker config`), `cjn-ingest.toml`, a first
//! enrollment code for each court that has neither a certificate nor an open code, the system
//! user and the systemd units of cjn-ingest and Mosquitto.
//!
//! Every path is an option (`--etc-dir`, `--state-dir`, `--unit-dir`, `--pg-hba`, the
//! PostgreSQL server with `--pg`), so that the tests run it against a throw-away cluster in a
//! temporary folder, without root.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use protocol::CourtCode;

#[derive(Debug, Subcommand)]
pub enum SetupCommand {
    /// Set up a court server (database, access rules, listener, enrollment, systemd unit).
    Court(CourtArgs),
    /// Set up the CJN (database, access rules, PKI, broker, cjn-ingest, enrollment codes).
    Cjn(CjnArgs),
}

/// What both set-ups take.
#[derive(Debug, Args)]
pub struct Common {
    /// The PostgreSQL server, as a superuser, without a database name (libpq key=value; a
    /// password from PGPASSFILE or ~/.pgpass).
    #[arg(
        long,
        value_name = "CONNINFO",
        default_value = "host=/var/run/postgresql user=postgres"
    )]
    pg: String,
    /// The address the daemons and the staff reach PostgreSQL at (TCP).
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// PostgreSQL's TCP port.
    #[arg(long, default_value_t = 5432)]
    port: u16,
    /// The pg_hba.conf to complete (by default the server's own, `show hba_file`).
    #[arg(long, value_name = "FILE")]
    pg_hba: Option<PathBuf>,
    /// The local network the staff connect from (CIDR, e.g. 192.168.10.0/24); repeatable.
    #[arg(long, value_name = "CIDR")]
    lan: Vec<String>,
    /// Configuration folder (the daemons' TOML files).
    #[arg(long, value_name = "DIR", default_value = "/etc/xmjuris")]
    etc_dir: PathBuf,
    /// State folder (keys and certificates, the broker's data).
    #[arg(long, value_name = "DIR", default_value = "/var/lib/xmjuris")]
    state_dir: PathBuf,
    /// Where the systemd units are written.
    #[arg(long, value_name = "DIR", default_value = "/etc/systemd/system")]
    unit_dir: PathBuf,
    /// The system user the daemons run as (created if missing, when run as root).
    #[arg(long, value_name = "USER", default_value = "xmjuris")]
    system_user: String,
    /// Folder of the daemons' programs (by default the one of this `xmjuris`).
    #[arg(long, value_name = "DIR")]
    bin_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CourtArgs {
    #[command(flatten)]
    common: Common,
    /// The database's name.
    #[arg(long, default_value = "court")]
    database: String,
    /// The court's code (5 digits).
    #[arg(long)]
    code: CourtCode,
    /// The court's name, as printed.
    #[arg(long)]
    name: String,
    #[arg(long)]
    region: String,
    #[arg(long)]
    departement: String,
    #[arg(long)]
    arrondissement: String,
    /// Login of the greffier (password: XMJURIS_PASSWORD, else asked).
    #[arg(long)]
    greffier: String,
    /// Full name of the greffier, as printed.
    #[arg(long)]
    greffier_name: Option<String>,
    /// The broker: mqtt://HOST[:PORT] or mqtts://HOST[:PORT]. The court's broker password,
    /// given by the CJN with the code: XMJURIS_BROKER_PASSWORD (needed on the first run).
    #[arg(long, value_name = "URL")]
    broker: String,
    /// CA certificate (PEM) of the broker's TLS certificate.
    #[arg(long, value_name = "PEM")]
    broker_ca: Option<PathBuf>,
    /// The one-time enrollment code the CJN gave (XMJURIS_ENROLLMENT_CODE).
    #[arg(long, env = "XMJURIS_ENROLLMENT_CODE", hide_env_values = true)]
    enrollment_code: Option<String>,
    /// The CJN root's fingerprint, given with the code.
    #[arg(long)]
    fingerprint: Option<String>,
    /// Give up the enrollment after this long without an answer (run setup again to resume).
    #[arg(long, value_name = "SECS", default_value_t = 3600)]
    enroll_timeout_secs: u64,
}

#[derive(Debug, Args)]
pub struct CjnArgs {
    #[command(flatten)]
    common: Common,
    /// The database's name.
    #[arg(long, default_value = "cjn")]
    database: String,
    /// A court to register: `CODE;NAME;REGION;DÉPARTEMENT;ARRONDISSEMENT`; repeatable.
    #[arg(long, value_name = "COURT")]
    court: Vec<String>,
    /// The broker's listener without TLS (ADDRESS:PORT): local only, for cjn-ingest.
    #[arg(long, value_name = "ADDRESS:PORT", default_value = "127.0.0.1:1883")]
    broker_listen: String,
    /// The broker's TLS listener for the courts (ADDRESS:PORT), with --broker-tls-cert/-key.
    #[arg(long, value_name = "ADDRESS:PORT", requires_all = ["broker_tls_cert", "broker_tls_key"])]
    broker_tls_listen: Option<String>,
    #[arg(long, value_name = "PEM", requires = "broker_tls_listen")]
    broker_tls_cert: Option<PathBuf>,
    #[arg(long, value_name = "PEM", requires = "broker_tls_listen")]
    broker_tls_key: Option<PathBuf>,
    /// Hours an enrollment code stays valid.
    #[arg(long, default_value_t = protocol::pki::DEFAULT_CODE_HOURS)]
    code_valid_hours: u32,
}

pub async fn run(cmd: SetupCommand) -> anyhow::Result<()> {
    match cmd {
        SetupCommand::Court(a) => court(a).await,
        SetupCommand::Cjn(a) => cjn(a).await,
    }
}

/// What a run did, step by step.
#[derive(Default)]
struct Steps {
    changed: usize,
    kept: usize,
}

impl Steps {
    fn record(&mut self, changed: bool, what: impl std::fmt::Display) {
        if changed {
            self.changed += 1;
            eprintln!("  fait          : {what}");
        } else {
            self.kept += 1;
            eprintln!("  déjà en place : {what}");
        }
    }

    fn finish(&self, what: &str) {
        if self.changed == 0 {
            eprintln!(
                "{what} : rien n'a changé, tout était déjà en place ({} étapes vérifiées).",
                self.kept
            );
        } else {
            eprintln!(
                "{what} : {} étape(s) faite(s), {} déjà en place.",
                self.changed, self.kept
            );
        }
    }
}

/// `--pg` with `dbname` set (any dbname it had removed).
fn pg_url(base: &str, dbname: &str) -> String {
    let kept: Vec<&str> = base
        .split_whitespace()
        .filter(|kv| !kv.starts_with("dbname="))
        .collect();
    format!("{} dbname={dbname}", kept.join(" "))
}

fn check_identifier(what: &str, v: &str) -> anyhow::Result<()> {
    anyhow::ensure!(
        !v.is_empty()
            && v.len() <= 63
            && v.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
            && v.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
        "{what} « {v} » : lettres minuscules, chiffres et _, commençant par une lettre"
    );
    Ok(())
}

/// Creates the database if missing.
async fn ensure_database(c: &Common, name: &str) -> anyhow::Result<bool> {
    check_identifier("base de données", name)?;
    let admin = db::connect(&pg_url(&c.pg, "postgres")).await?;
    let exists: bool = admin
        .query_one(
            "select exists (select from pg_database where datname = $1)",
            &[&name],
        )
        .await?
        .get(0);
    if !exists {
        admin
            .batch_execute(&format!("create database \"{name}\""))
            .await
            .with_context(|| format!("création de la base {name}"))?;
    }
    Ok(!exists)
}

const HBA_BEGIN: &str = "# BEGIN XMJuris";
const HBA_END: &str = "# END XMJuris";

/// The marked block of `pg_hba.conf` written before every other rule (the first match wins):
/// `local` lines, then the allowed TCP lines, then every other TCP connection to the database
/// refused.
fn hba_block(
    what: &str,
    database: &str,
    local: &[(&str, &str)],
    lan_users: &str,
    lan: &[String],
) -> String {
    let mut b = format!(
        "{HBA_BEGIN} ({what}): written by `xmjuris setup`; run it again rather than edit.\n"
    );
    for (user, address) in local {
        b.push_str(&format!(
            "host    {database}    {user}    {address}    scram-sha-256\n"
        ));
    }
    for cidr in lan {
        b.push_str(&format!(
            "host    {database}    {lan_users}    {cidr}    scram-sha-256\n"
        ));
    }
    b.push_str(&format!(
        "host    {database}    all    0.0.0.0/0    reject\nhost    {database}    all    ::/0    reject\n{HBA_END}\n"
    ));
    b
}

/// `text` (a pg_hba.conf) with `block` in place of an earlier block, else before the first rule
/// (after the leading comments), since the first matching rule wins.
fn with_hba_block(text: &str, block: &str) -> String {
    match (text.find(HBA_BEGIN), text.find(HBA_END)) {
        (Some(b), Some(e)) if e > b => {
            let end = text[e..].find('\n').map_or(text.len(), |n| e + n + 1);
            format!("{}{block}{}", &text[..b], &text[end..])
        }
        _ => {
            let mut at = 0;
            for line in text.split_inclusive('\n') {
                let t = line.trim();
                if !t.is_empty() && !t.starts_with('#') {
                    break;
                }
                at += line.len();
            }
            format!("{}{block}{}", &text[..at], &text[at..])
        }
    }
}

/// Puts `block` in the hba file (replacing an earlier block, else before the first rule),
/// reloads the server and checks that it took the file without error.
async fn ensure_hba(c: &Common, dbname: &str, block: &str) -> anyhow::Result<(bool, PathBuf)> {
    let admin = db::connect(&pg_url(&c.pg, dbname)).await?;
    let path = match &c.pg_hba {
        Some(p) => p.clone(),
        None => PathBuf::from(
            admin
                .query_one("select current_setting('hba_file')", &[])
                .await?
                .get::<_, String>(0),
        ),
    };
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("lecture de {}", path.display()))?;
    let new = with_hba_block(&text, block);
    if new == text {
        return Ok((false, path));
    }
    let mode = std::fs::metadata(&path)
        .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o777)
        .unwrap_or(0o640);
    protocol::pki::write_atomic(&path, new.as_bytes(), mode)?;
    // Keep the owner (the server's OS user must read it).
    if let Ok(meta) = std::fs::metadata(path.parent().unwrap_or(Path::new("/"))) {
        use std::os::unix::fs::MetadataExt as _;
        let _ = std::os::unix::fs::chown(&path, Some(meta.uid()), Some(meta.gid()));
    }
    admin.batch_execute("select pg_reload_conf()").await?;
    let errors: i64 = admin
        .query_one(
            "select count(*) from pg_hba_file_rules where error is not null",
            &[],
        )
        .await?
        .get(0);
    anyhow::ensure!(
        errors == 0,
        "{} : le serveur y trouve {errors} erreur(s) (pg_hba_file_rules)",
        path.display()
    );
    Ok((true, path))
}

/// Writes `content` to `path` (mode, owner) unless it holds it already.
fn ensure_file(
    path: &Path,
    content: &str,
    mode: u32,
    owner: Option<(u32, u32)>,
) -> anyhow::Result<bool> {
    use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("création de {}", dir.display()))?;
    }
    let same = std::fs::read_to_string(path).is_ok_and(|t| t == content);
    let meta_ok = std::fs::metadata(path).is_ok_and(|m| {
        m.permissions().mode() & 0o777 == mode
            && owner.is_none_or(|(u, g)| m.uid() == u && m.gid() == g)
    });
    if same && meta_ok {
        return Ok(false);
    }
    protocol::pki::write_atomic(path, content.as_bytes(), mode)?;
    if let Some((u, g)) = owner {
        std::os::unix::fs::chown(path, Some(u), Some(g))
            .with_context(|| format!("chown {}", path.display()))?;
    }
    Ok(true)
}

/// A folder with this mode and owner.
fn ensure_dir(path: &Path, mode: u32, owner: Option<(u32, u32)>) -> anyhow::Result<bool> {
    use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
    let existed = path.is_dir();
    std::fs::create_dir_all(path).with_context(|| format!("création de {}", path.display()))?;
    let meta = std::fs::metadata(path)?;
    let mut changed = !existed;
    if meta.permissions().mode() & 0o777 != mode {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
        changed = true;
    }
    if let Some((u, g)) = owner
        && (meta.uid() != u || meta.gid() != g)
    {
        std::os::unix::fs::chown(path, Some(u), Some(g))?;
        changed = true;
    }
    Ok(changed)
}

/// The uid and gid of a system user (`id`), if it exists.
fn user_ids(name: &str) -> Option<(u32, u32)> {
    let id = |flag: &str| -> Option<u32> {
        let out = std::process::Command::new("id")
            .args([flag, name])
            .output()
            .ok()?;
        if !out.status.success() {
            return None;
        }
        String::from_utf8_lossy(&out.stdout).trim().parse().ok()
    };
    Some((id("-u")?, id("-g")?))
}

/// The system user the daemons run as: created (as root) when missing.
fn ensure_system_user(c: &Common) -> anyhow::Result<(bool, (u32, u32))> {
    if let Some(ids) = user_ids(&c.system_user) {
        return Ok((false, ids));
    }
    anyhow::ensure!(
        sandbox::running_as_root(),
        "l'utilisateur système {} n'existe pas : lancez setup en root pour le créer",
        c.system_user
    );
    let status = std::process::Command::new("useradd")
        .args([
            "--system",
            "--user-group",
            "--no-create-home",
            "--shell",
            "/usr/sbin/nologin",
            "--home-dir",
        ])
        .arg(&c.state_dir)
        .arg(&c.system_user)
        .status()
        .context("useradd")?;
    anyhow::ensure!(status.success(), "useradd {} a échoué", c.system_user);
    let ids = user_ids(&c.system_user).context("utilisateur créé introuvable")?;
    Ok((true, ids))
}

fn bin_dir(c: &Common) -> anyhow::Result<PathBuf> {
    match &c.bin_dir {
        Some(d) => Ok(std::path::absolute(d)?),
        None => Ok(std::env::current_exe()?
            .parent()
            .context("the folder of xmjuris")?
            .to_owned()),
    }
}

/// A hardened systemd service: its own system user, nothing writable but `writable`, no new
/// privileges, restarted on failure.
fn unit(
    description: &str,
    user: &str,
    exec: &str,
    after: &str,
    writable: &[&Path],
    readable: &[&Path],
) -> String {
    let rw: Vec<String> = writable.iter().map(|p| p.display().to_string()).collect();
    let ro: Vec<String> = readable.iter().map(|p| p.display().to_string()).collect();
    format!(
        "# Written by `xmjuris setup`: run it again rather than edit.\n\
         [Unit]\n\
         Description={description}\n\
         After=network-online.target {after}\n\
         Wants=network-online.target\n\n\
         [Service]\n\
         Type=simple\n\
         User={user}\n\
         Group={user}\n\
         ExecStart={exec}\n\
         Restart=on-failure\n\
         RestartSec=10s\n\
         UMask=0077\n\
         NoNewPrivileges=yes\n\
         ProtectSystem=strict\n\
         ReadWritePaths={rw}\n\
         ReadOnlyPaths={ro}\n\
         ProtectHome=yes\n\
         PrivateTmp=yes\n\
         PrivateDevices=yes\n\
         ProtectKernelTunables=yes\n\
         ProtectKernelModules=yes\n\
         ProtectKernelLogs=yes\n\
         ProtectControlGroups=yes\n\
         ProtectClock=yes\n\
         ProtectHostname=yes\n\
         RestrictSUIDSGID=yes\n\
         RestrictNamespaces=yes\n\
         RestrictRealtime=yes\n\
         LockPersonality=yes\n\
         MemoryDenyWriteExecute=yes\n\
         RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6\n\
         SystemCallArchitectures=native\n\
         SystemCallFilter=@system-service\n\
         CapabilityBoundingSet=\n\n\
         [Install]\n\
         WantedBy=multi-user.target\n",
        rw = rw.join(" "),
        ro = ro.join(" "),
    )
}

/// A password from the environment variable `var`, if set.
fn env_secret(var: &str) -> Option<String> {
    std::env::var(var).ok().filter(|s| !s.is_empty())
}

/// The value of `key` in `[section]` of a TOML file written earlier, if readable.
fn toml_value(path: &Path, section: &str, key: &str) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let table: toml::Table = toml::from_str(&text).ok()?;
    table.get(section)?.get(key)?.as_str().map(str::to_owned)
}

fn toml_str(s: &str) -> String {
    // TOML basic strings take JSON's escapes.
    serde_json::to_string(s).unwrap_or_default()
}

async fn court(a: CourtArgs) -> anyhow::Result<()> {
    let c = &a.common;
    eprintln!("Installation de la juridiction {} ({}) :", a.code, a.name);
    let mut steps = Steps::default();
    check_identifier("greffier", &a.greffier)?;

    let (created, ids) = ensure_system_user(c)?;
    steps.record(created, format!("utilisateur système {}", c.system_user));
    let etc = std::path::absolute(&c.etc_dir)?;
    let state = std::path::absolute(&c.state_dir)?;
    let pki_dir = state.join("pki");
    let changed =
        ensure_dir(&etc, 0o750, Some((0, ids.1)))? | ensure_dir(&state, 0o700, Some(ids))?;
    steps.record(
        changed,
        format!("dossiers {} et {}", etc.display(), state.display()),
    );

    steps.record(
        ensure_database(c, &a.database).await?,
        format!("base de données {}", a.database),
    );
    let admin_url = pg_url(&c.pg, &a.database);
    let report = db::migrate(&admin_url, db::Schema::Court).await?;
    steps.record(
        !report.is_noop(),
        format!("schéma de la juridiction ({report})"),
    );

    let listener_login = "listener";
    let block = hba_block(
        &format!("juridiction {}", a.code),
        &a.database,
        &[
            (listener_login, "127.0.0.1/32"),
            (listener_login, "::1/128"),
        ],
        "+agent,+secretaire,+greffier",
        &c.lan,
    );
    let (changed, hba) = ensure_hba(c, &a.database, &block).await?;
    steps.record(
        changed,
        format!(
            "accès dans {} (réseau local {}, listener local, scram-sha-256)",
            hba.display(),
            if c.lan.is_empty() {
                "aucun".to_owned()
            } else {
                c.lan.join(", ")
            }
        ),
    );

    // The court's identity and its greffier.
    let admin = db::connect(&admin_url).await?;
    let existing: Option<String> = admin
        .query_opt("select code from court.court", &[])
        .await?
        .map(|r| r.get(0));
    match existing {
        Some(code) if code == a.code.to_string() => {
            steps.record(false, format!("juridiction {code} et son greffier"))
        }
        Some(code) => bail!(
            "cette base est celle de la juridiction {code}, pas de {}",
            a.code
        ),
        None => {
            let password =
                crate::court::new_password(&format!("Mot de passe du greffier {}", a.greffier))?;
            admin
                .execute(
                    "select juris.init_court($1, $2, $3, $4, $5, $6, $7, $8)",
                    &[
                        &a.code.to_string(),
                        &a.name,
                        &a.region,
                        &a.departement,
                        &a.arrondissement,
                        &a.greffier,
                        &a.greffier_name.as_deref().unwrap_or(&a.greffier),
                        &crate::court::scram_verifier(&password),
                    ],
                )
                .await
                .map_err(|e| db::DbError::query("initialising the court", e))?;
            steps.record(
                true,
                format!("juridiction {} et son greffier {}", a.code, a.greffier),
            );
        }
    }

    // The listener's login and configuration.
    let toml_path = etc.join("listener.toml");
    let registered: bool = admin
        .query_one(
            "select exists (select from court.listener_login where login = $1)",
            &[&listener_login],
        )
        .await?
        .get(0);
    let db_password = match toml_value(&toml_path, "database", "password") {
        Some(p) if registered => {
            steps.record(
                false,
                format!("compte PostgreSQL du listener ({listener_login})"),
            );
            p
        }
        _ => {
            let p = protocol::broker::generate_password()?;
            admin
                .execute(
                    "select juris.create_listener_login($1, $2)",
                    &[&listener_login, &crate::court::scram_verifier(&p)],
                )
                .await
                .map_err(|e| db::DbError::query("creating the listener's login", e))?;
            steps.record(
                true,
                format!("compte PostgreSQL du listener ({listener_login})"),
            );
            p
        }
    };
    let broker_password = match env_secret("XMJURIS_BROKER_PASSWORD")
        .or_else(|| toml_value(&toml_path, "broker", "password"))
    {
        Some(p) => p,
        None => bail!(
            "le mot de passe du broker de la juridiction (donné par le CJN avec le code) manque : \
             XMJURIS_BROKER_PASSWORD"
        ),
    };
    let (tls, host, port) = crate::court::parse_broker_url(&a.broker)?;
    let mut listener_toml = format!(
        "# xmjuris-listener of court {code}: written by `xmjuris setup court`; run it again rather than edit.\n\
         [court]\ncode = \"{code}\"\npki_dir = {pki}\n\n\
         [database]\nurl = {url}\npassword = {dbpw}\n\n\
         [broker]\nhost = {host}\nport = {port}\ntls = {tls}\npassword = {bpw}\n",
        code = a.code,
        pki = toml_str(&pki_dir.to_string_lossy()),
        url = toml_str(&format!(
            "host={} port={} dbname={} user={listener_login}",
            c.host, c.port, a.database
        )),
        dbpw = toml_str(&db_password),
        host = toml_str(&host),
        bpw = toml_str(&broker_password),
    );
    if let Some(ca) = &a.broker_ca {
        listener_toml.push_str(&format!(
            "tls_ca_file = {}\n",
            toml_str(&std::path::absolute(ca)?.to_string_lossy())
        ));
    }
    let changed = ensure_file(&toml_path, &listener_toml, 0o640, Some((0, ids.1)))?;
    steps.record(
        changed,
        format!("configuration du listener {}", toml_path.display()),
    );

    // Enrollment.
    let enrolled = protocol::pki::court_load(&pki_dir).is_ok();
    if enrolled {
        steps.record(
            false,
            format!("certificat de la juridiction dans {}", pki_dir.display()),
        );
    } else if let Some(fingerprint) = &a.fingerprint {
        let args = crate::court::EnrollArgs {
            code: a.enrollment_code.clone(),
            fingerprint: fingerprint.clone(),
            config: Some(toml_path.clone()),
            broker: None,
            broker_user: None,
            broker_ca: None,
            state_dir: pki_dir.clone(),
            resend_secs: 60,
            timeout_secs: a.enroll_timeout_secs,
            owner: Some(c.system_user.clone()),
        };
        let outcome = crate::court::enroll(&args).await?;
        eprintln!("  {outcome}");
        steps.record(
            matches!(outcome, listener::enroll::Outcome::Enrolled { .. }),
            format!("certificat de la juridiction dans {}", pki_dir.display()),
        );
    } else {
        eprintln!(
            "  à faire       : l'inscription au CJN ; relancez avec --enrollment-code et --fingerprint \
             (donnés par le CJN), ou : xmjuris court enroll --config {} --code … --fingerprint …",
            toml_path.display()
        );
    }
    if pki_dir.is_dir() {
        crate::court::give_to(&pki_dir, &c.system_user)?;
    }

    // The listener's unit.
    let exec = format!(
        "{} --config {}",
        bin_dir(c)?.join("xmjuris-listener").display(),
        toml_path.display()
    );
    let unit_text = unit(
        &format!(
            "XMJuris listener of court {}: the signed fiches to the CJN, its receipts back",
            a.code
        ),
        &c.system_user,
        &exec,
        "postgresql.service",
        &[state.as_path()],
        &[etc.as_path()],
    );
    let unit_path = c.unit_dir.join("xmjuris-listener.service");
    let changed = ensure_file(&unit_path, &unit_text, 0o644, None)?;
    steps.record(changed, format!("service systemd {}", unit_path.display()));
    if changed {
        eprintln!(
            "  ensuite       : systemctl daemon-reload && systemctl enable --now xmjuris-listener"
        );
    }
    steps.finish(&format!("Juridiction {}", a.code));
    Ok(())
}

/// `CODE;NAME;REGION;DÉPARTEMENT;ARRONDISSEMENT`.
fn parse_court(s: &str) -> anyhow::Result<(CourtCode, [String; 4])> {
    let parts: Vec<&str> = s.split(';').map(str::trim).collect();
    let [code, name, region, dep, arr] = parts.as_slice() else {
        bail!("--court « {s} » : attendu CODE;NOM;RÉGION;DÉPARTEMENT;ARRONDISSEMENT");
    };
    let code: CourtCode = code.parse().map_err(|_| {
        anyhow::anyhow!("--court « {s} » : code de juridiction invalide (5 chiffres)")
    })?;
    Ok((code, [name, region, dep, arr].map(|v| v.to_string())))
}

async fn cjn(a: CjnArgs) -> anyhow::Result<()> {
    let c = &a.common;
    eprintln!("Installation du CJN :");
    let mut steps = Steps::default();
    let courts: Vec<(CourtCode, [String; 4])> = a
        .court
        .iter()
        .map(|s| parse_court(s))
        .collect::<anyhow::Result<_>>()?;

    let (created, ids) = ensure_system_user(c)?;
    steps.record(created, format!("utilisateur système {}", c.system_user));
    let etc = std::path::absolute(&c.etc_dir)?;
    let state = std::path::absolute(&c.state_dir)?;
    let pki_dir = state.join("pki");
    let broker_dir = etc.join("broker");
    let broker_data = state.join("mosquitto");
    let changed = ensure_dir(&etc, 0o750, Some((0, ids.1)))?
        | ensure_dir(&state, 0o700, Some(ids))?
        | ensure_dir(&broker_data, 0o700, Some(ids))?;
    steps.record(
        changed,
        format!("dossiers {} et {}", etc.display(), state.display()),
    );

    steps.record(
        ensure_database(c, &a.database).await?,
        format!("base de données {}", a.database),
    );
    let admin_url = pg_url(&c.pg, &a.database);
    let report = db::migrate(&admin_url, db::Schema::Cjn).await?;
    steps.record(!report.is_noop(), format!("schéma du CJN ({report})"));
    let block = hba_block(
        "CJN",
        &a.database,
        &[("ingest", "127.0.0.1/32"), ("ingest", "::1/128")],
        "+cjn_operator,+cjn_statistician,+cjn_auditor",
        &c.lan,
    );
    let (changed, hba) = ensure_hba(c, &a.database, &block).await?;
    steps.record(
        changed,
        format!(
            "accès dans {} (réseau local, cjn-ingest local, scram-sha-256)",
            hba.display()
        ),
    );

    // cjn-ingest's login.
    let admin = db::connect(&admin_url).await?;
    let toml_path = etc.join("cjn-ingest.toml");
    let login_exists: bool = admin
        .query_one(
            "select exists (select from pg_roles where rolname = 'ingest')",
            &[],
        )
        .await?
        .get(0);
    let db_password = match toml_value(&toml_path, "database", "password") {
        Some(p) if login_exists => {
            steps.record(false, "compte PostgreSQL de cjn-ingest (ingest)");
            p
        }
        _ => {
            let p = protocol::broker::generate_password()?;
            let verb = if login_exists { "alter" } else { "create" };
            admin
                .batch_execute(&format!(
                    "{verb} role ingest login password '{}'; grant cjn_ingest to ingest;",
                    crate::court::scram_verifier(&p)
                ))
                .await
                .context("the login ingest")?;
            steps.record(true, "compte PostgreSQL de cjn-ingest (ingest)");
            p
        }
    };

    // The PKI.
    let pki = if pki_dir.join(protocol::pki::files::ROOT_CRT).exists() {
        steps.record(
            false,
            format!("autorité de certification dans {}", pki_dir.display()),
        );
        protocol::pki::CjnPki::open(&pki_dir)?
    } else {
        let pki = protocol::pki::CjnPki::init(&pki_dir)?;
        steps.record(
            true,
            format!(
                "autorité de certification dans {} (gardez root.key hors ligne)",
                pki_dir.display()
            ),
        );
        pki
    };
    let fingerprint = pki.ca_fingerprint()?;
    eprintln!("  empreinte de l'autorité racine (SHA-256) : {fingerprint}");

    // The courts.
    for (code, [name, region, dep, arr]) in &courts {
        let same: bool = admin
            .query_one(
                "select exists (select from registry.court where code = $1 and name = $2 and region = $3 \
                 and departement = $4 and arrondissement = $5)",
                &[&code.to_string(), name, region, dep, arr],
            )
            .await?
            .get(0);
        if !same {
            admin
                .execute(
                    "select cjn.register_court($1, $2, $3, $4, $5)",
                    &[&code.to_string(), name, region, dep, arr],
                )
                .await
                .map_err(|e| db::DbError::query("registering a court", e))?;
        }
        steps.record(!same, format!("juridiction {code} enregistrée ({name})"));
    }

    // The broker.
    let ingest_known = toml_value(&toml_path, "broker", "password");
    let args = crate::broker::ConfigArgs {
        out: broker_dir.clone(),
        cjn_db: Some(admin_url.clone()),
        courts: None,
        cjn_accounts: 1,
        listen: vec![a.broker_listen.clone()],
        tls_listen: a.broker_tls_listen.clone(),
        tls_cert: a.broker_tls_cert.clone(),
        tls_key: a.broker_tls_key.clone(),
        max_message_bytes: protocol::broker::DEFAULT_MAX_MESSAGE_BYTES,
        data_dir: broker_data.clone(),
        log_file: None,
        pid_file: None,
        user: Some(c.system_user.clone()),
        dynsec_plugin: None,
        new_password: if ingest_known.is_none()
            && broker_dir.join(protocol::broker::DYNSEC_FILE).exists()
        {
            vec![protocol::broker::cjn_account_name(1)]
        } else {
            Vec::new()
        },
        region: Vec::new(),
        bridge_to: None,
        bridge_region: None,
        bridge_password_file: None,
        bridge_cafile: None,
    };
    let written = crate::broker::write(&args).await?;
    steps.record(
        written.changed,
        format!("configuration du broker dans {}", broker_dir.display()),
    );
    let cjn_account = protocol::broker::cjn_account_name(1);
    let broker_password = written
        .handed
        .iter()
        .find(|(n, _)| *n == cjn_account)
        .map(|(_, p)| p.clone())
        .or(ingest_known)
        .context("le mot de passe du compte cjn-1 du broker est perdu")?;
    let (_, broker_port) = crate::broker::parse_listen(&a.broker_listen)?;
    let ingest_toml = format!(
        "# cjn-ingest: written by `xmjuris setup cjn`; run it again rather than edit.\n\
         [database]\nurl = {url}\npassword = {dbpw}\n\n\
         [broker]\nhost = \"127.0.0.1\"\nport = {broker_port}\nusername = \"{cjn_account}\"\npassword = {bpw}\n\n\
         [pki]\ndir = {pki}\n",
        url = toml_str(&format!(
            "host={} port={} dbname={} user=ingest",
            c.host, c.port, a.database
        )),
        dbpw = toml_str(&db_password),
        bpw = toml_str(&broker_password),
        pki = toml_str(&pki_dir.to_string_lossy()),
    );
    let changed = ensure_file(&toml_path, &ingest_toml, 0o640, Some((0, ids.1)))?;
    steps.record(
        changed,
        format!("configuration de cjn-ingest {}", toml_path.display()),
    );

    // A first enrollment code for every court without a certificate or an open code.
    let registered = admin
        .query("select code from cjn.broker_courts()", &[])
        .await
        .map_err(|e| db::DbError::query("reading the registered courts", e))?;
    let mut codes = 0;
    for row in registered {
        let code: CourtCode = row.get::<_, String>(0).parse()?;
        if pki.court_has_certificate_or_open_code(code)? {
            continue;
        }
        let e = pki.new_enrollment_code(code, a.code_valid_hours)?;
        let password = written
            .handed
            .iter()
            .find(|(n, _)| *n == code.to_string())
            .map(|(_, p)| p.as_str());
        println!("Juridiction {code}");
        println!("  Code d'inscription : {}", e.code);
        println!("  Valable jusqu'au   : {}", e.expires_rfc3339());
        println!("  Empreinte          : {}", e.ca_fingerprint);
        match password {
            Some(p) => println!("  Mot de passe broker : {p}"),
            None => println!(
                "  Mot de passe broker : déjà donné (un autre : xmjuris broker config --new-password {code})"
            ),
        }
        codes += 1;
    }
    if codes > 0 {
        eprintln!(
            "  fait          : {codes} code(s) d'inscription, sur la sortie standard : donnez à chaque \
             juridiction son code, l'empreinte et son mot de passe du broker (par téléphone ou lettre)"
        );
        steps.changed += 1;
    } else {
        steps.record(
            false,
            "codes d'inscription (chaque juridiction a un certificat ou un code valable)",
        );
    }
    crate::court::give_to(&pki_dir, &c.system_user)?;

    // The units.
    let bin = bin_dir(c)?;
    let ingest_unit = unit(
        "XMJuris cjn-ingest: the courts' messages into the national registry",
        &c.system_user,
        &format!(
            "{} --config {}",
            bin.join("cjn-ingest").display(),
            toml_path.display()
        ),
        "postgresql.service xmjuris-broker.service",
        &[state.as_path()],
        &[etc.as_path()],
    );
    let mosquitto = which("mosquitto").unwrap_or_else(|| PathBuf::from("/usr/sbin/mosquitto"));
    let broker_unit = unit(
        "XMJuris MQTT broker (Mosquitto, configuration generated by xmjuris)",
        &c.system_user,
        &format!(
            "{} -c {}",
            mosquitto.display(),
            broker_dir.join(protocol::broker::CONF_FILE).display()
        ),
        "",
        &[broker_data.as_path()],
        &[etc.as_path()],
    );
    let mut changed = false;
    for (name, text) in [
        ("cjn-ingest.service", ingest_unit),
        ("xmjuris-broker.service", broker_unit),
    ] {
        let path = c.unit_dir.join(name);
        let ch = ensure_file(&path, &text, 0o644, None)?;
        steps.record(ch, format!("service systemd {}", path.display()));
        changed |= ch;
    }
    if changed {
        eprintln!(
            "  ensuite       : systemctl daemon-reload && systemctl enable --now xmjuris-broker cjn-ingest"
        );
    }
    steps.finish("CJN");
    Ok(())
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_string_lossy()
        .split(':')
        .map(|d| Path::new(d).join(program))
        .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hba_block_goes_before_the_first_rule_and_is_replaced_in_place() {
        let debian = "# PostgreSQL Client Authentication Configuration File\n#\n\n\
                      local   all   postgres   peer\nhost all all 127.0.0.1/32 scram-sha-256\n";
        let block = hba_block(
            "t",
            "court",
            &[("listener", "127.0.0.1/32")],
            "+greffier",
            &["10.0.0.0/8".into()],
        );
        let once = with_hba_block(debian, &block);
        assert!(once.starts_with(
            "# PostgreSQL Client Authentication Configuration File\n#\n\n# BEGIN XMJuris"
        ));
        let rules: Vec<&str> = once
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .collect();
        assert_eq!(
            rules,
            [
                "host    court    listener    127.0.0.1/32    scram-sha-256",
                "host    court    +greffier    10.0.0.0/8    scram-sha-256",
                "host    court    all    0.0.0.0/0    reject",
                "host    court    all    ::/0    reject",
                "local   all   postgres   peer",
                "host all all 127.0.0.1/32 scram-sha-256",
            ]
        );
        assert_eq!(
            with_hba_block(&once, &block),
            once,
            "the same block again: unchanged"
        );
        let other = hba_block(
            "t",
            "court",
            &[("listener", "127.0.0.1/32")],
            "+greffier",
            &[],
        );
        let twice = with_hba_block(&once, &other);
        assert_eq!(twice.matches(HBA_BEGIN).count(), 1);
        assert!(!twice.contains("10.0.0.0/8") && twice.contains("local   all   postgres   peer"));
    }
}
