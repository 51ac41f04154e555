//! A real PostgreSQL cluster started for the caller, on a free port.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::{Error, Result, find_program, io_err};

/// The superuser that `initdb` creates in every sandbox cluster.
pub const SUPERUSER: &str = "postgres";
/// The system user that runs the server when this process is root.
const SYSTEM_USER: &str = "postgres";

/// How to start a cluster.
#[derive(Debug, Clone, Default)]
pub struct PgOptions {
    /// Keep the cluster in this folder (created if missing, reused if it holds a cluster) instead of
    /// a temporary one; such a cluster is not deleted on drop.
    pub dir: Option<PathBuf>,
    /// Keep `fsync` on (the demo); off by default, for the speed of throw-away test clusters.
    pub durable: bool,
    /// Leave the server running when the [`PgCluster`] is dropped (the demo).
    pub keep_running: bool,
    /// Port to listen on; a free one when `None`.
    pub port: Option<u16>,
}

/// A running PostgreSQL server owned by this process (see the crate docs).
#[derive(Debug)]
pub struct PgCluster {
    root: PathBuf,
    _temp: Option<tempfile::TempDir>,
    port: u16,
    bindir: PathBuf,
    as_postgres: bool,
    keep_running: bool,
}

fn bindir() -> Result<PathBuf> {
    let mut candidates: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|dir| {
            dir.filter_map(|e| e.ok().map(|e| e.path().join("bin")))
                .collect()
        })
        .unwrap_or_default();
    // Newest major version first.
    candidates.sort_by_key(|p| {
        std::cmp::Reverse(
            p.parent()
                .and_then(|v| v.file_name())
                .and_then(|v| v.to_str())
                .and_then(|v| v.parse::<u32>().ok())
                .unwrap_or(0),
        )
    });
    find_program("initdb", "PG_BINDIR", &candidates)
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .ok_or(Error::NoPostgres)
}

impl PgCluster {
    /// Starts a throw-away cluster in a temporary folder, deleted on drop.
    pub fn start() -> Result<Self> {
        Self::start_with(PgOptions::default())
    }

    /// Starts a cluster as `options` say.
    pub fn start_with(options: PgOptions) -> Result<Self> {
        let bindir = bindir()?;
        let as_postgres = crate::running_as_root();
        let (root, temp) = match &options.dir {
            Some(dir) => {
                std::fs::create_dir_all(dir)
                    .map_err(io_err(format!("creating {}", dir.display())))?;
                (dir.clone(), None)
            }
            None => {
                let temp = tempfile::Builder::new()
                    .prefix("xmjuris-pg-")
                    .tempdir()
                    .map_err(io_err("creating a temporary folder"))?;
                (temp.path().to_path_buf(), Some(temp))
            }
        };
        if as_postgres {
            let (uid, gid) = crate::system_user(SYSTEM_USER)?;
            crate::chown_recursive(&root, uid, gid)?;
        }
        let mut cluster = PgCluster {
            root,
            _temp: temp,
            port: 0,
            bindir,
            as_postgres,
            keep_running: options.keep_running,
        };
        if !cluster.data_dir().join("PG_VERSION").exists() {
            cluster.initdb()?;
        } else if let Some(port) = options.port.filter(|_| cluster.is_running()) {
            // A kept cluster already running (the demo started twice): use it as it is.
            cluster.port = port;
            return Ok(cluster);
        }
        let mut last_error = None;
        for _ in 0..5 {
            let port = match options.port {
                Some(p) => p,
                None => crate::free_port()?,
            };
            cluster.port = port;
            cluster.write_settings(port, options.durable)?;
            match cluster.pg_ctl_start() {
                Ok(()) => {
                    tracing::debug!(port, dir = %cluster.root.display(), "PostgreSQL sandbox started.");
                    return Ok(cluster);
                }
                Err(e) => last_error = Some(e),
            }
            if options.port.is_some() {
                break;
            }
        }
        Err(last_error.unwrap_or(Error::NoPostgres))
    }

    /// The cluster's folder (data directory, socket, log).
    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn data_dir(&self) -> PathBuf {
        self.root.join("data")
    }

    /// Folder of the server's Unix socket.
    pub fn socket_dir(&self) -> PathBuf {
        self.root.join("socket")
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's log file.
    pub fn log_file(&self) -> PathBuf {
        self.root.join("postgresql.log")
    }

    /// Connection string for the superuser, over the Unix socket (trusted locally).
    pub fn admin_url(&self, dbname: &str) -> String {
        format!(
            "host={} port={} user={SUPERUSER} dbname={dbname}",
            self.socket_dir().display(),
            self.port
        )
    }

    /// Connection string for a login role, over TCP with its password (SCRAM).
    pub fn user_url(&self, user: &str, password: &str, dbname: &str) -> String {
        format!(
            "host=127.0.0.1 port={} user={user} password='{}' dbname={dbname}",
            self.port,
            password.replace('\\', "\\\\").replace('\'', "\\'")
        )
    }

    /// Runs a server program of this cluster's version (as `postgres` when we are root).
    pub fn command(&self, program: &str) -> Command {
        let path = self.bindir.join(program);
        let path = if path.is_file() {
            path
        } else {
            PathBuf::from(program)
        };
        if self.as_postgres {
            let mut cmd = Command::new("runuser");
            cmd.arg("-u").arg(SYSTEM_USER).arg("--").arg(path);
            cmd
        } else {
            Command::new(path)
        }
    }

    /// Creates a database owned by the superuser.
    pub fn create_database(&self, name: &str) -> Result<()> {
        let mut cmd = self.command("createdb");
        cmd.args(["-h"]).arg(self.socket_dir()).args([
            "-p",
            &self.port.to_string(),
            "-U",
            SUPERUSER,
            name,
        ]);
        run(cmd, "createdb").map(|_| ())
    }

    /// Runs SQL through `psql` as the superuser, stopping at the first error; returns its output.
    pub fn psql(&self, dbname: &str, sql: &str) -> Result<String> {
        let mut cmd = Command::new(self.client_program("psql"));
        cmd.arg("-h")
            .arg(self.socket_dir())
            .args(["-p", &self.port.to_string(), "-U", SUPERUSER, "-d", dbname])
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql]);
        let out = run(cmd, "psql")?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// A client program (psql, pg_prove...) from this cluster's version, or from the `PATH`.
    pub fn client_program(&self, program: &str) -> PathBuf {
        let p = self.bindir.join(program);
        if p.is_file() {
            p
        } else {
            PathBuf::from(program)
        }
    }

    fn initdb(&self) -> Result<()> {
        let data = self.data_dir();
        let socket = self.socket_dir();
        for dir in [&data, &socket] {
            std::fs::create_dir_all(dir).map_err(io_err(format!("creating {}", dir.display())))?;
        }
        if self.as_postgres {
            let (uid, gid) = crate::system_user(SYSTEM_USER)?;
            crate::chown_recursive(&self.root, uid, gid)?;
        }
        let mut cmd = self.command("initdb");
        cmd.arg("-D")
            .arg(&data)
            .args(["-U", SUPERUSER, "-E", "UTF8", "--locale=C.UTF-8"])
            .args([
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--no-instructions",
            ]);
        run(cmd, "initdb").map(|_| ())
    }

    fn write_settings(&self, port: u16, durable: bool) -> Result<()> {
        let conf = self.data_dir().join("postgresql.auto.conf");
        let mut text = format!(
            "# Written by the XMJuris sandbox.\n\
             port = {port}\n\
             listen_addresses = '127.0.0.1'\n\
             unix_socket_directories = '{}'\n\
             max_connections = 200\n\
             timezone = 'UTC'\n",
            self.socket_dir().display()
        );
        if !durable {
            text.push_str("fsync = off\nfull_page_writes = off\nsynchronous_commit = off\n");
        }
        std::fs::write(&conf, text).map_err(io_err(format!("writing {}", conf.display())))?;
        if self.as_postgres {
            let (uid, gid) = crate::system_user(SYSTEM_USER)?;
            std::os::unix::fs::chown(&conf, Some(uid), Some(gid))
                .map_err(io_err(format!("chown {}", conf.display())))?;
        }
        Ok(())
    }

    fn pg_ctl_start(&self) -> Result<()> {
        let mut cmd = self.command("pg_ctl");
        cmd.arg("start")
            .arg("-w")
            .args(["-t", "60"])
            .arg("-D")
            .arg(self.data_dir())
            .arg("-l")
            .arg(self.log_file());
        match run(cmd, "pg_ctl start") {
            Ok(_) => Ok(()),
            Err(Error::Command {
                program,
                status,
                stderr,
            }) => {
                let log = std::fs::read_to_string(self.log_file()).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(10).collect();
                let tail: Vec<&str> = tail.into_iter().rev().collect();
                Err(Error::Command {
                    program,
                    status,
                    stderr: format!("{stderr}\n{}", tail.join("\n")),
                })
            }
            Err(e) => Err(e),
        }
    }

    /// True when a server runs on this cluster's data directory.
    pub fn is_running(&self) -> bool {
        let mut cmd = self.command("pg_ctl");
        cmd.arg("status").arg("-D").arg(self.data_dir());
        run(cmd, "pg_ctl status").is_ok()
    }

    /// Starts the server again after [`PgCluster::stop`], with the same data and port; returns
    /// once it accepts connections.
    pub fn start_again(&self) -> Result<()> {
        self.pg_ctl_start()
    }

    /// Stops the server now (fast shutdown).
    pub fn stop(&self) -> Result<()> {
        let mut cmd = self.command("pg_ctl");
        cmd.arg("stop")
            .arg("-w")
            .args(["-m", "fast"])
            .arg("-D")
            .arg(self.data_dir());
        run(cmd, "pg_ctl stop").map(|_| ())
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        if self.keep_running {
            return;
        }
        let mut cmd = self.command("pg_ctl");
        cmd.arg("stop")
            .args(["-m", "immediate"])
            .arg("-D")
            .arg(self.data_dir());
        if let Err(e) = run(cmd, "pg_ctl stop") {
            tracing::warn!(error = %e, "Could not stop the PostgreSQL sandbox.");
        }
    }
}

fn run(mut cmd: Command, program: &str) -> Result<Output> {
    let out = cmd
        .output()
        .map_err(io_err(format!("cannot run {program}")))?;
    if out.status.success() {
        Ok(out)
    } else {
        Err(Error::Command {
            program: program.to_owned(),
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        })
    }
}
