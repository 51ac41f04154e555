//! A real PostgreSQL cluster started for the caller, on a free port.
//!
//! Only the cluster's owner gets in. The superuser has a password generated with the cluster,
//! kept in the cluster's folder in libpq's password-file format ([`PgCluster::passfile`], mode
//! 0600, so it survives restarts of a kept cluster); every connection, through the socket or
//! over TCP, authenticates with SCRAM-SHA-256 (`pg_hba.conf` is written at every start). The
//! cluster's folder and the socket's are private to the server's OS user (0700, socket 0700),
//! and the server listens on 127.0.0.1 only. The password reaches client programs through their
//! environment (`PGPASSFILE`), never their command line.

use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::{Error, Result, find_program, io_err};

/// The superuser that `initdb` creates in every sandbox cluster.
pub const SUPERUSER: &str = "postgres";
/// The system user that runs the server when this process is root.
const SYSTEM_USER: &str = "postgres";
/// The superuser's password file, in the cluster's folder.
const PASSFILE: &str = "superuser.pgpass";

/// The superuser's password; `Debug` does not show it.
#[derive(Clone, Default)]
struct Password(String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

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
    password: Password,
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
        set_mode(&root, 0o700)?;
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
            password: Password::default(),
        };
        if !cluster.data_dir().join("PG_VERSION").exists() {
            cluster.password = Password(new_password()?);
            cluster.initdb()?;
            cluster.write_passfile()?;
        } else {
            match cluster.read_passfile() {
                Some(password) => cluster.password = password,
                None => {
                    // A cluster made before the sandbox used passwords (or whose password file
                    // was lost): stopped, then given a password.
                    if cluster.is_running() {
                        cluster.stop()?;
                    }
                    cluster.password = Password(new_password()?);
                    cluster.set_password_offline()?;
                    cluster.write_passfile()?;
                }
            }
            if let Some(port) = options.port.filter(|_| cluster.is_running()) {
                // A kept cluster already running (the demo started twice): use it as it is.
                cluster.port = port;
                return Ok(cluster);
            }
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

    /// Connection string for the superuser, over the Unix socket, with its password: for this
    /// process's own connections. Never give it to another program on its command line (`ps`
    /// shows it): give that one [`PgCluster::admin_conninfo`] and [`PgCluster::client_env`].
    pub fn admin_url(&self, dbname: &str) -> String {
        format!(
            "{} password='{}'",
            self.admin_conninfo(dbname),
            quote(&self.password.0)
        )
    }

    /// Connection string for the superuser, over the Unix socket, without the password: for
    /// another program, whose environment [`PgCluster::client_env`] completes (`psql`, `pg_prove`,
    /// the `xmjuris` CLI take the password from `PGPASSFILE`).
    pub fn admin_conninfo(&self, dbname: &str) -> String {
        format!(
            "host={} port={} user={SUPERUSER} dbname={dbname}",
            self.socket_dir().display(),
            self.port
        )
    }

    /// The superuser's password file (libpq's format, mode 0600, owned by the server's OS user),
    /// in the cluster's folder.
    pub fn passfile(&self) -> PathBuf {
        self.root.join(PASSFILE)
    }

    /// Gives a client program the superuser's password through its environment: `PGPASSFILE`
    /// (and no `PGPASSWORD` inherited from this process, which libpq would prefer).
    pub fn client_env<'c>(&self, cmd: &'c mut Command) -> &'c mut Command {
        cmd.env("PGPASSFILE", self.passfile())
            .env_remove("PGPASSWORD")
    }

    /// Connection string for a login role, over TCP with its password (SCRAM).
    pub fn user_url(&self, user: &str, password: &str, dbname: &str) -> String {
        format!(
            "host=127.0.0.1 port={} user={user} password='{}' dbname={dbname}",
            self.port,
            quote(password)
        )
    }

    /// Runs a server program of this cluster's version (as `postgres` when we are root), with
    /// the superuser's password in its environment ([`PgCluster::client_env`]).
    pub fn command(&self, program: &str) -> Command {
        let path = self.bindir.join(program);
        let path = if path.is_file() {
            path
        } else {
            PathBuf::from(program)
        };
        let mut cmd = if self.as_postgres {
            let mut cmd = Command::new("runuser");
            cmd.arg("-u").arg(SYSTEM_USER).arg("--").arg(path);
            cmd
        } else {
            Command::new(path)
        };
        self.client_env(&mut cmd);
        cmd
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
        self.client_env(&mut cmd);
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
            set_mode(dir, 0o700)?;
        }
        if self.as_postgres {
            let (uid, gid) = crate::system_user(SYSTEM_USER)?;
            crate::chown_recursive(&self.root, uid, gid)?;
        }
        // initdb reads the password from a file (never its command line); removed after.
        let pwfile = self.root.join(".initdb-password");
        self.write_private(&pwfile, &format!("{}\n", self.password.0))?;
        let mut cmd = self.command("initdb");
        cmd.arg("-D")
            .arg(&data)
            .args(["-U", SUPERUSER, "-E", "UTF8", "--locale=C.UTF-8"])
            .arg(format!("--pwfile={}", pwfile.display()))
            .args([
                "--auth-local=scram-sha-256",
                "--auth-host=scram-sha-256",
                "--no-instructions",
            ]);
        let result = run(cmd, "initdb").map(|_| ());
        let _ = std::fs::remove_file(&pwfile);
        result
    }

    /// Writes `text` to `path`, readable by the server's OS user only (mode 0600), atomically.
    fn write_private(&self, path: &Path, text: &str) -> Result<()> {
        let tmp = path.with_extension("tmp");
        let _ = std::fs::remove_file(&tmp);
        let what = || format!("writing {}", path.display());
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io_err(what()))?;
        f.write_all(text.as_bytes())
            .and_then(|()| f.sync_all())
            .map_err(io_err(what()))?;
        set_mode(&tmp, 0o600)?;
        if self.as_postgres {
            let (uid, gid) = crate::system_user(SYSTEM_USER)?;
            std::os::unix::fs::chown(&tmp, Some(uid), Some(gid))
                .map_err(io_err(format!("chown {}", tmp.display())))?;
        }
        std::fs::rename(&tmp, path).map_err(io_err(what()))
    }

    fn write_passfile(&self) -> Result<()> {
        self.write_private(
            &self.passfile(),
            &format!(
                "# The superuser's password of this XMJuris sandbox cluster (libpq's format).\n\
                 *:*:*:{SUPERUSER}:{}\n",
                self.password.0
            ),
        )
    }

    /// The password kept in the password file, if the file is there.
    fn read_passfile(&self) -> Option<Password> {
        let text = std::fs::read_to_string(self.passfile()).ok()?;
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .find_map(|l| l.strip_prefix(&format!("*:*:*:{SUPERUSER}:")))
            .filter(|p| !p.is_empty())
            .map(|p| Password(p.to_owned()))
    }

    /// Sets the superuser's password of a stopped cluster (single-user mode, the statement on
    /// standard input).
    fn set_password_offline(&self) -> Result<()> {
        let mut cmd = self.command("postgres");
        cmd.arg("--single")
            .arg("-D")
            .arg(self.data_dir())
            .arg("postgres")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .map_err(io_err("cannot run postgres --single"))?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(
                    format!(
                        "alter role \"{SUPERUSER}\" password '{}'\n",
                        self.password.0
                    )
                    .as_bytes(),
                )
                .map_err(io_err("writing to postgres --single"))?;
        }
        let out = child
            .wait_with_output()
            .map_err(io_err("waiting for postgres --single"))?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() || stderr.contains("ERROR") {
            return Err(Error::Command {
                program: "postgres --single".into(),
                status: out.status.to_string(),
                stderr: stderr.trim().to_owned(),
            });
        }
        Ok(())
    }

    fn write_settings(&self, port: u16, durable: bool) -> Result<()> {
        let socket = self.socket_dir();
        std::fs::create_dir_all(&socket)
            .map_err(io_err(format!("creating {}", socket.display())))?;
        set_mode(&socket, 0o700)?;
        let conf = self.data_dir().join("postgresql.auto.conf");
        let mut text = format!(
            "# Written by the XMJuris sandbox.\n\
             port = {port}\n\
             listen_addresses = '127.0.0.1'\n\
             unix_socket_directories = '{}'\n\
             unix_socket_permissions = 0700\n\
             password_encryption = 'scram-sha-256'\n\
             max_connections = 200\n\
             timezone = 'UTC'\n",
            socket.display()
        );
        if !durable {
            text.push_str("fsync = off\nfull_page_writes = off\nsynchronous_commit = off\n");
        }
        std::fs::write(&conf, text).map_err(io_err(format!("writing {}", conf.display())))?;
        // Written at every start, so that a cluster made by an older sandbox gets it too.
        let hba = self.data_dir().join("pg_hba.conf");
        std::fs::write(
            &hba,
            "# Written by the XMJuris sandbox: a password (SCRAM) for everyone, through the socket\n\
             # (its folder private to the server's OS user) and on 127.0.0.1 only.\n\
             local all all scram-sha-256\n\
             host all all 127.0.0.1/32 scram-sha-256\n\
             # Base backups (pg_basebackup) and replicas, by a role with REPLICATION.\n\
             local replication all scram-sha-256\n\
             host replication all 127.0.0.1/32 scram-sha-256\n",
        )
        .map_err(io_err(format!("writing {}", hba.display())))?;
        for path in [&conf, &hba] {
            set_mode(path, 0o600)?;
        }
        if self.as_postgres {
            let (uid, gid) = crate::system_user(SYSTEM_USER)?;
            for path in [&conf, &hba, &socket] {
                std::os::unix::fs::chown(path, Some(uid), Some(gid))
                    .map_err(io_err(format!("chown {}", path.display())))?;
            }
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

/// Quotes a value for a libpq connection string (inside single quotes).
fn quote(value: &str) -> String {
    value.replace('\\', "\\\\").replace('\'', "\\'")
}

fn set_mode(path: &Path, mode: u32) -> Result<()> {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(io_err(format!("chmod {}", path.display())))
}

/// A new password: 32 letters and digits from the kernel's random source.
fn new_password() -> Result<String> {
    use std::io::Read as _;
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(io_err("reading /dev/urandom"))?;
    // 56 symbols: a byte modulo 56 is nearly uniform (and 32 of them are ~185 bits).
    Ok(bytes
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect())
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
