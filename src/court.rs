//! `xmjuris court ...`: a court's identity and staff, through the court database's SQL API.

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
fn new_password(prompt: &str) -> anyhow::Result<String> {
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
