//! `xmjuris court ...`: a court's identity and staff, through the court database's SQL API.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Subcommand};

#[derive(Debug, Subcommand)]
pub enum CourtCommand {
    /// Set the court's identity and create its greffier (run by the database administrator).
    Init(InitArgs),
    /// Add a staff member (run as the greffier).
    AddUser(AddUserArgs),
    /// Change a staff member's privilege; 0 suspends (run as the greffier).
    SetPrivilege(SetPrivilegeArgs),
    /// Enroll this court at the CJN over MQTT: make its key, send the request with the one-time
    /// code, check the CJN root's fingerprint, install the certificate (resumable: run it again).
    Enroll(EnrollArgs),
    /// Check the audit chain and name the first broken link (greffier or DBA).
    AuditVerify {
        /// Connection string of the court database.
        #[arg(long, value_name = "DATABASE_URL")]
        db: String,
    },
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Connection string of the court database, as its administrator.
    #[arg(long, value_name = "DATABASE_URL")]
    db: String,
    /// The court's code: 5 digits, the first part of every NIU it gives.
    #[arg(long)]
    code: String,
    /// The court's name, as printed.
    #[arg(long)]
    name: String,
    #[arg(long)]
    region: String,
    #[arg(long)]
    departement: String,
    #[arg(long)]
    arrondissement: String,
    /// Login of the greffier (lower case letters, digits, _).
    #[arg(long)]
    greffier: String,
    /// Full name of the greffier, as printed (defaults to the login).
    #[arg(long)]
    greffier_name: Option<String>,
}

#[derive(Debug, Args)]
pub struct EnrollArgs {
    /// The one-time enrollment code the CJN gave (`<court>-<id>-<secret>`); not needed to
    /// resume a request an earlier run kept.
    #[arg(long, env = "XMJURIS_ENROLLMENT_CODE", hide_env_values = true)]
    pub code: Option<String>,
    /// SHA-256 fingerprint of the CJN's root CA, given with the code (by another channel).
    #[arg(long)]
    pub fingerprint: String,
    /// The listener's configuration file: the court, its PKI folder and the broker (password
    /// included, or XMJURIS__BROKER__PASSWORD).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["broker", "state_dir", "broker_user", "broker_ca"])]
    pub config: Option<PathBuf>,
    /// The broker: mqtt://HOST[:PORT], or mqtts://HOST[:PORT] for TLS. The court's broker
    /// password, given by the CJN: XMJURIS_BROKER_PASSWORD, else asked.
    #[arg(long, value_name = "URL", required_unless_present = "config")]
    pub broker: Option<String>,
    /// The broker's user name (the court code by default).
    #[arg(long, value_name = "USER")]
    pub broker_user: Option<String>,
    /// CA certificate (PEM) of the broker's TLS certificate; the system's CAs by default.
    #[arg(long, value_name = "PEM")]
    pub broker_ca: Option<PathBuf>,
    /// The court's PKI folder (the listener's `pki_dir`): the key, the kept request, the
    /// certificates.
    #[arg(long, value_name = "DIR", default_value = "/var/lib/xmjuris/pki")]
    pub state_dir: PathBuf,
    /// Send the request again after this long without an answer.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub resend_secs: u64,
    /// Give up after this long without an answer (the request is kept: run it again).
    #[arg(long, value_name = "SECS", default_value_t = 3600)]
    pub timeout_secs: u64,
    /// Give the PKI folder to this system user (the listener's) once installed.
    #[arg(long, value_name = "USER")]
    pub owner: Option<String>,
}

#[derive(Debug, Args)]
pub struct AddUserArgs {
    /// Connection string of the court database, as the greffier.
    #[arg(long, value_name = "DATABASE_URL")]
    db: String,
    #[arg(long)]
    login: String,
    /// Full name, as printed.
    #[arg(long)]
    name: String,
    /// 1 agent, 2 secrétaire (0 creates a suspended account).
    #[arg(long)]
    privilege: i32,
}

#[derive(Debug, Args)]
pub struct SetPrivilegeArgs {
    /// Connection string of the court database, as the greffier.
    #[arg(long, value_name = "DATABASE_URL")]
    db: String,
    #[arg(long)]
    login: String,
    /// 0 suspended, 1 agent, 2 secrétaire.
    #[arg(long)]
    privilege: i32,
}

pub async fn run(cmd: CourtCommand) -> anyhow::Result<()> {
    match cmd {
        CourtCommand::Init(a) => {
            let password = new_password(&format!("Mot de passe du greffier {}", a.greffier))?;
            let client = db::connect(&a.db).await?;
            client
                .execute(
                    "select juris.init_court($1, $2, $3, $4, $5, $6, $7, $8)",
                    &[
                        &a.code,
                        &a.name,
                        &a.region,
                        &a.departement,
                        &a.arrondissement,
                        &a.greffier,
                        &a.greffier_name.as_deref().unwrap_or(&a.greffier),
                        &scram_verifier(&password),
                    ],
                )
                .await
                .map_err(|e| db::DbError::query("initialising the court", e))?;
            println!(
                "Juridiction {} initialisée ; greffier : {}.",
                a.code, a.greffier
            );
            Ok(())
        }
        CourtCommand::AddUser(a) => {
            let password = new_password(&format!("Mot de passe de {}", a.login))?;
            let client = db::connect(&a.db).await?;
            client
                .execute(
                    "select juris.create_user($1, $2, $3, $4)",
                    &[&a.login, &a.name, &scram_verifier(&password), &a.privilege],
                )
                .await
                .map_err(|e| db::DbError::query("creating the user", e))?;
            println!("Utilisateur {} créé (privilège {}).", a.login, a.privilege);
            Ok(())
        }
        CourtCommand::SetPrivilege(a) => {
            let client = db::connect(&a.db).await?;
            client
                .execute(
                    "select juris.set_privilege($1, $2)",
                    &[&a.login, &a.privilege],
                )
                .await
                .map_err(|e| db::DbError::query("changing the privilege", e))?;
            println!("Privilège de {} : {}.", a.login, a.privilege);
            Ok(())
        }
        CourtCommand::Enroll(a) => {
            let outcome = enroll(&a).await?;
            println!("{outcome}");
            Ok(())
        }
        CourtCommand::AuditVerify { db } => {
            let client = db::connect(&db).await?;
            let row = client
                .query_one("select * from juris.audit_verify()", &[])
                .await
                .map_err(|e| db::DbError::query("verifying the audit chain", e))?;
            let ok: bool = row.get("ok");
            let checked: i64 = row.get("rows_checked");
            if ok {
                println!("Journal d'audit intact : {checked} ligne(s) vérifiée(s).");
                Ok(())
            } else {
                let seq: Option<i64> = row.get("first_broken_seq");
                let problem: Option<String> = row.get("problem");
                anyhow::bail!(
                    "Journal d'audit rompu à la ligne {} : {}",
                    seq.unwrap_or_default(),
                    problem.unwrap_or_default()
                )
            }
        }
    }
}

/// A new password: from `XMJURIS_PASSWORD`, else typed twice at a prompt; never from the
/// command line (it would show in the process list and the shell history).
pub(crate) fn new_password(prompt: &str) -> anyhow::Result<String> {
    if let Ok(p) = std::env::var("XMJURIS_PASSWORD") {
        anyhow::ensure!(
            p.chars().count() >= 8,
            "XMJURIS_PASSWORD: le mot de passe doit compter au moins 8 caractères"
        );
        return Ok(p);
    }
    let first = rpassword::prompt_password(format!("{prompt} : "))
        .context("cannot read the password (no terminal? set XMJURIS_PASSWORD)")?;
    anyhow::ensure!(
        first.chars().count() >= 8,
        "le mot de passe doit compter au moins 8 caractères"
    );
    let again = rpassword::prompt_password("Confirmez : ").context("cannot read the password")?;
    anyhow::ensure!(first == again, "les deux mots de passe diffèrent");
    Ok(first)
}

pub use db::scram_verifier;

/// `court enroll`: the enrollment over MQTT (`listener::enroll`), then the folder given to the
/// listener's user.
pub async fn enroll(a: &EnrollArgs) -> anyhow::Result<listener::enroll::Outcome> {
    use listener::enroll::Enrollment;
    let (court, pki_dir, broker) = match &a.config {
        Some(path) => {
            let c = listener::Config::load(path)
                .with_context(|| format!("lecture de {}", path.display()))?;
            (Some(c.court.code), c.court.pki_dir, c.broker)
        }
        None => {
            let url = a.broker.as_deref().unwrap_or_default();
            let (tls, host, port) = parse_broker_url(url)?;
            let password = match std::env::var("XMJURIS__BROKER__PASSWORD")
                .or_else(|_| std::env::var("XMJURIS_BROKER_PASSWORD"))
            {
                Ok(p) => p,
                Err(_) => rpassword::prompt_password("Mot de passe du broker (donné par le CJN) : ")
                    .context("lecture du mot de passe du broker (pas de terminal ? donnez XMJURIS_BROKER_PASSWORD)")?,
            };
            let mut broker = listener::config::BrokerConfig::new(host, port);
            broker.tls = tls;
            // A short keep-alive and reconnection delays: an operator waits at the terminal.
            broker.keep_alive_secs = 60;
            broker.backoff_max_secs = 30;
            broker.username = a.broker_user.clone();
            broker.password = Some(listener::config::Secret::new(password));
            broker.tls_ca_file = a.broker_ca.clone();
            (None, a.state_dir.clone(), broker)
        }
    };
    let enrollment = Enrollment {
        code: a.code.clone(),
        court,
        fingerprint: a.fingerprint.clone(),
        pki_dir: pki_dir.clone(),
        broker,
        resend_after: std::time::Duration::from_secs(a.resend_secs.max(1)),
        give_up_after: std::time::Duration::from_secs(a.timeout_secs.max(1)),
    };
    let shutdown = daemon::process::shutdown_on_signals("Signal reçu : inscription interrompue.");
    let outcome = listener::enroll::enroll(&enrollment, shutdown)
        .await
        .map_err(|e| anyhow::anyhow!("inscription de la juridiction : {e}"))?;
    if let Some(owner) = &a.owner {
        give_to(&pki_dir, owner)?;
    }
    Ok(outcome)
}

/// `mqtt://host[:port]` or `mqtts://host[:port]`: (TLS, host, port).
pub(crate) fn parse_broker_url(url: &str) -> anyhow::Result<(bool, String, u16)> {
    let (tls, rest) = if let Some(r) = url.strip_prefix("mqtts://") {
        (true, r)
    } else if let Some(r) = url.strip_prefix("mqtt://") {
        (false, r)
    } else {
        anyhow::bail!("--broker {url} : attendu mqtt://HÔTE[:PORT] ou mqtts://HÔTE[:PORT]");
    };
    let rest = rest.trim_end_matches('/');
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) => (
            h.to_owned(),
            p.parse()
                .with_context(|| format!("--broker {url} : port « {p} » invalide"))?,
        ),
        None => (rest.to_owned(), if tls { 8883 } else { 1883 }),
    };
    anyhow::ensure!(!host.is_empty(), "--broker {url} : hôte manquant");
    Ok((tls, host, port))
}

/// Gives a folder and its files to a system user (and its group), recursively.
pub fn give_to(dir: &std::path::Path, owner: &str) -> anyhow::Result<()> {
    let status = std::process::Command::new("chown")
        .arg("-R")
        .arg(format!("{owner}:{owner}"))
        .arg(dir)
        .status()
        .context("chown")?;
    anyhow::ensure!(
        status.success(),
        "chown -R {owner}: {} a échoué",
        dir.display()
    );
    Ok(())
}
