//! Throw-away PostgreSQL clusters (and brokers) on free ports, for the tests, the benchmarks and the demo.
//!
//! A [`PgCluster`] is a real PostgreSQL server: `initdb` in a folder of its own, started on a free
//! loopback port with its Unix socket inside that folder, stopped (and, when temporary, deleted)
//! on drop. It never touches a server already running on the machine.
//!
//! PostgreSQL refuses to run as root; when this process is root (as in CI), the cluster's files
//! belong to the `postgres` system user and its programs run through `runuser`.
//!
//! Nobody but the cluster's owner (and root) gets in: its folder and socket are private to the
//! server's OS user, and every connection needs a password (SCRAM), the superuser's generated
//! with the cluster and kept in its folder (see [`PgCluster::passfile`]).

pub mod broker;
mod postgres;
pub mod relay;

pub use broker::{Broker, BrokerOptions, BrokerRole, BrokerUser};
pub use postgres::{PgCluster, PgOptions};
pub use relay::SlowRelay;

use std::path::PathBuf;

/// What can go wrong while starting or driving a throw-away server.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "cannot find the PostgreSQL server programs (initdb, pg_ctl): install postgresql, or set PG_BINDIR"
    )]
    NoPostgres,
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{program} failed ({status}): {stderr}")]
    Command {
        program: String,
        status: String,
        stderr: String,
    },
    #[error("the system user `{0}` needed to run PostgreSQL as root does not exist")]
    NoUser(String),
    #[error("no free port on 127.0.0.1: {0}")]
    NoPort(std::io::Error),
    #[error("broker configuration: {0}")]
    Config(String),
}

pub type Result<T> = std::result::Result<T, Error>;

fn io_err(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
    let what = what.into();
    move |source| Error::Io { what, source }
}

/// A free TCP port on 127.0.0.1 (free when asked; the caller binds it soon after).
pub fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).map_err(Error::NoPort)?;
    let port = listener.local_addr().map_err(Error::NoPort)?.port();
    Ok(port)
}

/// True when this process runs as root (uid 0), read from `/proc/self/status`.
pub fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|euid| euid == "0"))
        })
        .unwrap_or(false)
}

/// Uid and gid of a system user, read from `/etc/passwd`.
pub fn system_user(name: &str) -> Result<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").map_err(io_err("reading /etc/passwd"))?;
    passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.first() == Some(&name))
        .and_then(|f| Some((f.get(2)?.parse().ok()?, f.get(3)?.parse().ok()?)))
        .ok_or_else(|| Error::NoUser(name.to_owned()))
}

/// Gives a path (recursively) to a user, so that an unprivileged server can use it.
pub fn chown_recursive(path: &std::path::Path, uid: u32, gid: u32) -> Result<()> {
    std::os::unix::fs::chown(path, Some(uid), Some(gid))
        .map_err(io_err(format!("chown {}", path.display())))?;
    if path.is_dir() {
        for entry in
            std::fs::read_dir(path).map_err(io_err(format!("reading {}", path.display())))?
        {
            let entry = entry.map_err(io_err(format!("reading {}", path.display())))?;
            chown_recursive(&entry.path(), uid, gid)?;
        }
    }
    Ok(())
}

/// Where a program is: `$dir_env/name` if that variable is set, else the first of `candidates`
/// that holds it, else the `PATH`.
pub(crate) fn find_program(name: &str, dir_env: &str, candidates: &[PathBuf]) -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os(dir_env) {
        let p = PathBuf::from(dir).join(name);
        return p.is_file().then_some(p);
    }
    candidates
        .iter()
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .or_else(|| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|d| d.join(name))
                    .find(|p| p.is_file())
            })
        })
}
