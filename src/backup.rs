//! `xmjuris backup`: a court's scheduled dump (`backup court`, run by the systemd timer
//! `deploy/systemd/xmjuris-backup-court.timer`), its restore (`backup restore-court`, which
//! opens the recovery from the CJN), and the CJN's base backups (`backup cjn-base`, beside
//! continuous WAL archiving). See docs/backup.md.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context as _;
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum BackupCommand {
    /// Dump a court database (pg_dump, custom format) into a private file (0600) in DIR, and
    /// keep the N newest dumps there.
    Court {
        /// Connection string of the court database (key=value form), as a superuser or its owner.
        #[arg(long, value_name = "CONNINFO")]
        database: String,
        /// Folder of the dumps (created 0700 if missing).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// How many dumps to keep (0: all).
        #[arg(long, default_value_t = 14)]
        keep: usize,
        /// Start of the file names (default: `court-<database name>`).
        #[arg(long)]
        prefix: Option<String>,
        /// Folder of the PostgreSQL programs (default: `PG_BINDIR`, else the `PATH`).
        #[arg(long, value_name = "DIR", env = "PG_BINDIR")]
        pg_bindir: Option<PathBuf>,
    },
    /// Restore a court database from a dump (the database is dropped and created again), bring
    /// its schema up to date, and open the recovery: the listener takes back from the CJN what
    /// the court signed after the dump, and the court signs nothing new until it is done.
    RestoreCourt {
        /// The dump (`xmjuris backup court`).
        #[arg(long, value_name = "FILE")]
        file: PathBuf,
        /// Connection string of the court database (key=value form), as a superuser. Nobody may
        /// be connected to it (stop the listener and the workstations first).
        #[arg(long, value_name = "CONNINFO")]
        database: String,
        /// Why (kept in the audit trail).
        #[arg(long, default_value = "Base restaurée depuis une sauvegarde.")]
        reason: String,
        /// Folder of the PostgreSQL programs (default: `PG_BINDIR`, else the `PATH`).
        #[arg(long, value_name = "DIR", env = "PG_BINDIR")]
        pg_bindir: Option<PathBuf>,
    },
    /// A base backup of the CJN's cluster (pg_basebackup) into DIR/base-<time>; the N newest kept.
    CjnBase {
        /// Connection string (key=value form) of a role with REPLICATION.
        #[arg(long, value_name = "CONNINFO")]
        database: String,
        /// Folder of the base backups.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// How many base backups to keep (0: all).
        #[arg(long, default_value_t = 7)]
        keep: usize,
        /// Folder of the PostgreSQL programs (default: `PG_BINDIR`, else the `PATH`).
        #[arg(long, value_name = "DIR", env = "PG_BINDIR")]
        pg_bindir: Option<PathBuf>,
    },
}

fn program(bindir: Option<&Path>) -> impl Fn(&str) -> Command + '_ {
    move |name: &str| match bindir {
        Some(dir) => Command::new(dir.join(name)),
        None => Command::new(name),
    }
}

/// The value of `key` in a key=value connection string.
fn conninfo_value<'a>(conninfo: &'a str, key: &str) -> Option<&'a str> {
    conninfo.split_whitespace().rev().find_map(|kv| {
        kv.split_once('=')
            .filter(|(k, _)| *k == key)
            .map(|(_, v)| v.trim_matches('\''))
    })
}

pub async fn run(cmd: BackupCommand) -> anyhow::Result<()> {
    match cmd {
        BackupCommand::Court {
            database,
            out,
            keep,
            prefix,
            pg_bindir,
        } => {
            let prefix = prefix.unwrap_or_else(|| {
                format!(
                    "court-{}",
                    conninfo_value(&database, "dbname").unwrap_or("db")
                )
            });
            let path = db::backup::dump_database(
                &program(pg_bindir.as_deref()),
                &database,
                &out,
                &prefix,
                keep,
            )
            .context("backing up the court database")?;
            let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            println!(
                "Sauvegarde écrite / backup written: {} ({bytes} bytes; the {keep} newest kept).",
                path.display()
            );
        }
        BackupCommand::RestoreCourt {
            file,
            database,
            reason,
            pg_bindir,
        } => {
            if conninfo_value(&database, "dbname").is_none() {
                anyhow::bail!("--database must name the court database (dbname=...)");
            }
            let maintenance = format!("{database} dbname=postgres");
            // The sessions still open on the court's database (workstations left open) would
            // keep it from being dropped: closed first.
            let name = conninfo_value(&database, "dbname")
                .unwrap_or_default()
                .to_owned();
            let admin = db::connect(&maintenance).await?;
            for _ in 0..50 {
                let open: i64 = admin
                    .query_one(
                        "select count(pg_terminate_backend(pid)) from pg_stat_activity \
                         where datname = $1 and pid <> pg_backend_pid()",
                        &[&name],
                    )
                    .await
                    .map_err(|e| {
                        db::DbError::query("closing the sessions on the court database", e)
                    })?
                    .get(0);
                if open == 0 {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
            drop(admin);
            db::backup::restore_database(&program(pg_bindir.as_deref()), &maintenance, &file)
                .with_context(|| format!("restoring {}", file.display()))?;
            db::migrate(&database, db::Schema::Court)
                .await
                .context("bringing the restored database up to date")?;
            let client = db::connect(&database).await?;
            let id: i64 = client
                .query_one("select juris.begin_recovery($1)", &[&reason])
                .await
                .map_err(|e| db::DbError::query("opening the recovery (juris.begin_recovery)", e))?
                .get(0);
            println!(
                "Base restaurée depuis {}. Restauration n° {id} ouverte : le démon de transmission reprend \
                 du CJN les fiches signées depuis la sauvegarde ; aucune signature avant la fin \
                 (select juris.recovery_state()).\n\
                 Database restored from {}. Recovery {id} open: the listener takes back from the CJN \
                 what was signed after the backup; nothing can be signed until it is done.",
                file.display(),
                file.display()
            );
        }
        BackupCommand::CjnBase {
            database,
            out,
            keep,
            pg_bindir,
        } => {
            let path =
                db::backup::base_backup(&program(pg_bindir.as_deref()), &database, &out, keep)
                    .context("taking a base backup of the CJN")?;
            println!(
                "Sauvegarde de base écrite / base backup written: {} (the {keep} newest kept).",
                path.display()
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conninfo_values_are_read_last_one_winning() {
        let c = "host=/tmp port=5432 dbname=court_1 user=postgres dbname='court_2'";
        assert_eq!(conninfo_value(c, "dbname"), Some("court_2"));
        assert_eq!(conninfo_value(c, "password"), None);
    }
}
