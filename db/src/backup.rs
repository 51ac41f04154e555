//! Backups of a court database and their restore, for `xmjuris backup` and the tests:
//! `pg_dump` in the custom format into a private file (0600, written under a temporary name and
//! renamed once complete), the `keep` newest of a folder kept; `pg_restore --create`, which
//! brings the database back with its settings and its CONNECT grants. After a restore the court
//! must take back from the CJN what it signed since the backup: see `juris.begin_recovery` and
//! docs/backup.md.

use std::fs::OpenOptions;
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Suffix of the dump files (PostgreSQL's custom format).
pub const DUMP_SUFFIX: &str = ".dump";

/// What a backup or a restore can fail on.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// A file or folder could not be read or written.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The system's error.
        #[source]
        source: std::io::Error,
    },
    /// `pg_dump` or `pg_restore` failed.
    #[error("{program} failed ({status}): {stderr}")]
    Command {
        /// The program.
        program: String,
        /// Its exit status.
        status: String,
        /// What it said.
        stderr: String,
    },
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> BackupError {
    let what = what.into();
    move |source| BackupError::Io { what, source }
}

/// Builds the command of a PostgreSQL client program (`pg_dump`, `pg_restore`): its path, and
/// the environment that gives it the password (`PGPASSFILE`), never on its command line.
pub type ProgramFn<'a> = &'a dyn Fn(&str) -> Command;

/// Name of a dump taken now: `<prefix>-YYYYMMDDTHHMMSSmmmZ.dump` (UTC; names sort by time).
fn dump_name(prefix: &str) -> String {
    let now = time::OffsetDateTime::now_utc();
    format!(
        "{prefix}-{:04}{:02}{:02}T{:02}{:02}{:02}{:03}Z{DUMP_SUFFIX}",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second(),
        now.millisecond()
    )
}

/// Dumps the database `conninfo` names into `out_dir` (created 0700 if missing) as
/// `<prefix>-<UTC time>.dump`, mode 0600, then deletes all but the `keep` newest dumps of that
/// prefix (`keep` 0 keeps them all). Returns the new file.
pub fn dump_database(
    program: ProgramFn<'_>,
    conninfo: &str,
    out_dir: &Path,
    prefix: &str,
    keep: usize,
) -> Result<PathBuf, BackupError> {
    if !out_dir.is_dir() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(out_dir)
            .map_err(io(format!("creating {}", out_dir.display())))?;
    }
    let name = dump_name(prefix);
    let path = out_dir.join(&name);
    let partial = out_dir.join(format!(".{name}.partial"));
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&partial)
        .map_err(io(format!("creating {}", partial.display())))?;
    let out = program("pg_dump")
        .args(["--format=custom", "--no-password", "--dbname"])
        .arg(conninfo)
        .stdout(Stdio::from(
            file.try_clone()
                .map_err(io(format!("opening {}", partial.display())))?,
        ))
        .stderr(Stdio::piped())
        .output();
    let finished = match out {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => Err(BackupError::Command {
            program: "pg_dump".into(),
            status: o.status.to_string(),
            stderr: String::from_utf8_lossy(&o.stderr).trim().to_owned(),
        }),
        Err(e) => Err(BackupError::Io {
            what: "running pg_dump".into(),
            source: e,
        }),
    }
    .and_then(|()| {
        let mut f = file;
        f.flush()
            .and_then(|()| f.sync_all())
            .map_err(io(format!("writing {}", partial.display())))
    })
    .and_then(|()| {
        std::fs::rename(&partial, &path).map_err(io(format!("renaming to {}", path.display())))
    });
    if let Err(e) = finished {
        let _ = std::fs::remove_file(&partial);
        return Err(e);
    }
    prune(out_dir, prefix, keep)?;
    Ok(path)
}

/// The dumps of `prefix` in `dir`, oldest first.
pub fn dumps(dir: &Path, prefix: &str) -> Result<Vec<PathBuf>, BackupError> {
    let start = format!("{prefix}-");
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io(format!("reading {}", dir.display())))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&start) && n.ends_with(DUMP_SUFFIX))
        })
        .collect();
    found.sort();
    Ok(found)
}

/// Deletes all but the `keep` newest dumps of `prefix` (0: none deleted); the deleted files.
pub fn prune(dir: &Path, prefix: &str, keep: usize) -> Result<Vec<PathBuf>, BackupError> {
    let all = dumps(dir, prefix)?;
    if keep == 0 || all.len() <= keep {
        return Ok(Vec::new());
    }
    let old = all[..all.len() - keep].to_vec();
    for p in &old {
        std::fs::remove_file(p).map_err(io(format!("deleting {}", p.display())))?;
    }
    Ok(old)
}

/// Restores a dump with `pg_restore --create --clean --if-exists --exit-on-error`, connected
/// to a maintenance database (`maintenance_conninfo`, e.g. `... dbname=postgres`): the court's
/// database is dropped if it exists (nobody may be connected to it) and created again as the
/// dump holds it, with its settings and grants. Roles are the cluster's: they must exist
/// (`pg_dumpall --roles-only`, or `xmjuris setup court` on a new server).
pub fn restore_database(
    program: ProgramFn<'_>,
    maintenance_conninfo: &str,
    file: &Path,
) -> Result<(), BackupError> {
    let out = program("pg_restore")
        .args([
            "--create",
            "--clean",
            "--if-exists",
            "--exit-on-error",
            "--no-password",
            "--dbname",
        ])
        .arg(maintenance_conninfo)
        .arg(file)
        .output()
        .map_err(io("running pg_restore"))?;
    if !out.status.success() {
        return Err(BackupError::Command {
            program: "pg_restore".into(),
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    Ok(())
}

/// Takes a base backup of the CJN's cluster with `pg_basebackup` (plain format, the WAL needed
/// to make it consistent streamed with it, checkpoint at once) into `out_dir/base-<UTC time>`,
/// then deletes all but the `keep` newest base backups there. With continuous archiving
/// (`archive_mode`, `archive_command`: docs/backup.md), a base backup and the archived WAL
/// restore the cluster to any point after it. Returns the new folder.
pub fn base_backup(
    program: ProgramFn<'_>,
    conninfo: &str,
    out_dir: &Path,
    keep: usize,
) -> Result<PathBuf, BackupError> {
    if !out_dir.is_dir() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(out_dir)
            .map_err(io(format!("creating {}", out_dir.display())))?;
    }
    let name = dump_name("base");
    let name = name.trim_end_matches(DUMP_SUFFIX);
    let path = out_dir.join(name);
    let out = program("pg_basebackup")
        .args([
            "--format=plain",
            "--wal-method=stream",
            "--checkpoint=fast",
            "--no-password",
            "--pgdata",
        ])
        .arg(&path)
        .arg("--dbname")
        .arg(conninfo)
        .output()
        .map_err(io("running pg_basebackup"))?;
    if !out.status.success() {
        let _ = std::fs::remove_dir_all(&path);
        return Err(BackupError::Command {
            program: "pg_basebackup".into(),
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    if keep > 0 {
        let mut all: Vec<PathBuf> = std::fs::read_dir(out_dir)
            .map_err(io(format!("reading {}", out_dir.display())))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.is_dir()
                    && p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("base-"))
            })
            .collect();
        all.sort();
        if all.len() > keep {
            for p in &all[..all.len() - keep] {
                std::fs::remove_dir_all(p).map_err(io(format!("deleting {}", p.display())))?;
            }
        }
    }
    Ok(path)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn names_sort_by_time_and_prune_keeps_the_newest() {
        let dir = tempfile::tempdir().unwrap();
        for stamp in [
            "20250101T000000000Z",
            "20250102T000000000Z",
            "20250103T000000000Z",
        ] {
            std::fs::write(dir.path().join(format!("court-1-{stamp}.dump")), b"x").unwrap();
        }
        std::fs::write(dir.path().join("other-20240101T000000000Z.dump"), b"x").unwrap();
        let gone = prune(dir.path(), "court-1", 2).unwrap();
        assert_eq!(gone.len(), 1);
        assert!(gone[0].ends_with("court-1-20250101T000000000Z.dump"));
        assert_eq!(dumps(dir.path(), "court-1").unwrap().len(), 2);
        assert_eq!(dumps(dir.path(), "other").unwrap().len(), 1);
        assert!(dump_name("court-1").as_str() > "court-1-20250103T000000000Z.dump");
    }
}
