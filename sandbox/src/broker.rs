//! A real Mosquitto broker started for the caller on a free loopback port, with the configuration
//! XMJuris generates for production ([`protocol::broker`]): no anonymous access, every account
//! bound to one client id, a court's account limited to its own topics (literal subscriptions,
//! no wildcard, no `$share`), the CJN's accounts alone in the shared subscription `$share/cjn/...`,
//! a maximum packet size. Persistent sessions are kept on disk in the broker's folder, so a
//! [`Broker::restart`] keeps them.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use protocol::broker::{self as bc, Account, PasswordHash, Role};

use crate::{Error, Result, io_err};

/// What a broker account may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BrokerRole {
    /// A court (its code): its own topics only.
    Court(String),
    /// The CJN: the shared subscription `$share/cjn/...`, every court's `down` topics.
    Cjn,
    /// Stands for many courts (a test harness, a bridge): every court's `up`, `down`.
    Gateway,
}

/// A broker account.
#[derive(Debug, Clone)]
pub struct BrokerUser {
    /// User name.
    pub name: String,
    /// Password.
    pub password: String,
    /// The only client id it may connect with.
    pub client_id: String,
    /// What it may do.
    pub role: BrokerRole,
}

impl BrokerUser {
    /// A court's account: user name = its code, client id `court-<code>` (the listener's
    /// default); its own topics only.
    pub fn court(code: &str, password: &str) -> Self {
        BrokerUser {
            name: code.to_owned(),
            password: password.to_owned(),
            client_id: format!("court-{code}"),
            role: BrokerRole::Court(code.to_owned()),
        }
    }

    /// Another account of a court (client id = `name`), with the same rights: to act as the
    /// court, or watch its topics, beside its listener.
    pub fn court_spare(code: &str, name: &str, password: &str) -> Self {
        BrokerUser {
            name: name.to_owned(),
            password: password.to_owned(),
            client_id: name.to_owned(),
            role: BrokerRole::Court(code.to_owned()),
        }
    }

    /// A CJN account (client id = `name`; one per cjn-ingest instance, e.g. `cjn-1`).
    pub fn cjn(name: &str, password: &str) -> Self {
        BrokerUser {
            name: name.to_owned(),
            password: password.to_owned(),
            client_id: name.to_owned(),
            role: BrokerRole::Cjn,
        }
    }

    /// A gateway account standing for every court (client id = `name`).
    pub fn gateway(name: &str, password: &str) -> Self {
        BrokerUser {
            name: name.to_owned(),
            password: password.to_owned(),
            client_id: name.to_owned(),
            role: BrokerRole::Gateway,
        }
    }

    fn account(&self) -> Result<Account> {
        let role = match &self.role {
            BrokerRole::Court(code) => Role::Court(
                code.parse()
                    .map_err(|_| Error::Config(format!("court code « {code} »")))?,
            ),
            BrokerRole::Cjn => Role::Cjn,
            BrokerRole::Gateway => Role::Gateway,
        };
        let password =
            PasswordHash::new(&self.password).map_err(|e| Error::Config(e.to_string()))?;
        Ok(Account {
            username: self.name.clone(),
            client_id: self.client_id.clone(),
            role,
            password,
        })
    }
}

/// A running Mosquitto owned by this process; killed (and its folder deleted) on drop, unless
/// started with [`BrokerOptions::keep_running`].
#[derive(Debug)]
pub struct Broker {
    dir: PathBuf,
    /// The temporary folder, deleted on drop (none for a folder the caller chose).
    _tmp: Option<tempfile::TempDir>,
    port: u16,
    tls_port: Option<u16>,
    child: Option<Child>,
    keep_running: bool,
    /// The accounts, hashed once (the plugin's file is written at start).
    accounts: Vec<Account>,
    limits: bc::Limits,
}

/// How [`Broker::start_with`] runs the broker.
#[derive(Debug, Clone, Default)]
pub struct BrokerOptions {
    /// Its folder (configuration, passwords, ACL, saved sessions, log); a temporary one if none.
    pub dir: Option<PathBuf>,
    /// Its port; a free one if none.
    pub port: Option<u16>,
    /// Leave it running when the [`Broker`] is dropped (in its own process group, so that the
    /// terminal's signals do not reach it); stop it with the PID in `mosquitto.pid`.
    pub keep_running: bool,
}

fn mosquitto() -> Result<PathBuf> {
    crate::find_program(
        "mosquitto",
        "MOSQUITTO_BINDIR",
        &[PathBuf::from("/usr/sbin"), PathBuf::from("/usr/local/sbin")],
    )
    .ok_or_else(|| Error::Io {
        what: "finding mosquitto (Debian package `mosquitto`)".into(),
        source: std::io::Error::from(std::io::ErrorKind::NotFound),
    })
}

impl Broker {
    /// Starts a broker with these accounts.
    pub fn start(users: &[BrokerUser]) -> Result<Self> {
        Self::start_inner(users, None)
    }

    /// Starts a broker with these accounts and, besides the plain port, a TLS port serving this
    /// certificate and key (PEM).
    pub fn start_with_tls(users: &[BrokerUser], cert_pem: &[u8], key_pem: &[u8]) -> Result<Self> {
        Self::start_inner(users, Some((cert_pem, key_pem)))
    }

    /// Starts a broker with these accounts, in a folder and on a port of the caller's choice,
    /// possibly left running after this process (a demo's broker).
    pub fn start_with(users: &[BrokerUser], options: BrokerOptions) -> Result<Self> {
        Self::start_inner_with(users, None, options)
    }

    fn start_inner(users: &[BrokerUser], tls: Option<(&[u8], &[u8])>) -> Result<Self> {
        Self::start_inner_with(users, tls, BrokerOptions::default())
    }

    fn start_inner_with(
        users: &[BrokerUser],
        tls: Option<(&[u8], &[u8])>,
        options: BrokerOptions,
    ) -> Result<Self> {
        let (dir, tmp) = match options.dir {
            Some(dir) => {
                std::fs::create_dir_all(&dir)
                    .map_err(io_err(format!("creating {}", dir.display())))?;
                (dir, None)
            }
            None => {
                let tmp = tempfile::Builder::new()
                    .prefix("xmjuris-mqtt-")
                    .tempdir()
                    .map_err(io_err("creating a temporary folder"))?;
                (tmp.path().to_owned(), Some(tmp))
            }
        };
        let accounts = users
            .iter()
            .map(BrokerUser::account)
            .collect::<Result<Vec<_>>>()?;
        if let Some((cert, key)) = tls {
            for (name, data) in [("tls.crt", cert), ("tls.key", key)] {
                write_private(&dir.join(name), data)?;
            }
        }
        let mut broker = Broker {
            dir,
            _tmp: tmp,
            port: 0,
            tls_port: None,
            child: None,
            keep_running: options.keep_running,
            accounts,
            limits: bc::Limits::default(),
        };
        let dynsec = broker.config()?.dynsec_json().map_err(config_err)?;
        write_private(&broker.dir.join(bc::DYNSEC_FILE), dynsec.as_bytes())?;
        if let Some(port) = options.port {
            broker.port = port;
            broker.spawn()?;
            return Ok(broker);
        }
        let mut last = None;
        for _ in 0..5 {
            broker.port = crate::free_port()?;
            if tls.is_some() {
                broker.tls_port = Some(crate::free_port()?);
            }
            match broker.spawn() {
                Ok(()) => return Ok(broker),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or(Error::NoPort(std::io::Error::from(
            std::io::ErrorKind::AddrInUse,
        ))))
    }

    /// The port it listens on (127.0.0.1); the same across restarts.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The TLS port, when started with [`Broker::start_with_tls`].
    pub fn tls_port(&self) -> Option<u16> {
        self.tls_port
    }

    /// The broker's folder (configuration, passwords, ACL, persistence, log).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether the broker process is running.
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// The largest MQTT packet it accepts (a larger PUBLISH disconnects its sender).
    pub fn max_packet_bytes(&self) -> u32 {
        self.limits.max_packet_bytes
    }

    /// The configuration, as `xmjuris broker config` would generate it, on this folder and
    /// these ports.
    fn config(&self) -> Result<bc::BrokerConfig> {
        let d = self.dir.as_path();
        let mut listeners = vec![bc::Listener {
            address: Some("127.0.0.1".into()),
            port: self.port,
            tls: None,
        }];
        if let Some(tls_port) = self.tls_port {
            listeners.push(bc::Listener {
                address: Some("127.0.0.1".into()),
                port: tls_port,
                tls: Some(bc::TlsFiles {
                    cert_file: d.join("tls.crt"),
                    key_file: d.join("tls.key"),
                }),
            });
        }
        Ok(bc::BrokerConfig {
            accounts: self.accounts.clone(),
            listeners,
            limits: self.limits.clone(),
            persistence_dir: d.to_owned(),
            autosave_interval_secs: 1,
            dynsec_plugin: bc::find_dynsec_plugin().ok_or_else(|| Error::Io {
                what: "finding Mosquitto's dynamic-security plugin (Debian package `mosquitto`; \
                       or set MOSQUITTO_DYNSEC_PLUGIN)"
                    .into(),
                source: std::io::Error::from(std::io::ErrorKind::NotFound),
            })?,
            log: bc::LogDest::File(d.join("mosquitto.log")),
            pid_file: Some(d.join("mosquitto.pid")),
            run_as: crate::running_as_root().then(|| "root".to_owned()),
            regions: Default::default(),
            bridge: None,
        })
    }

    fn write_config(&self) -> Result<PathBuf> {
        let conf = self
            .config()?
            .mosquitto_conf(&self.dir.join(bc::DYNSEC_FILE))
            .map_err(config_err)?;
        let path = self.dir.join(bc::CONF_FILE);
        write_private(&path, conf.as_bytes())?;
        Ok(path)
    }

    fn spawn(&mut self) -> Result<()> {
        let conf = self.write_config()?;
        let mut command = Command::new(mosquitto()?);
        command
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if self.keep_running {
            std::os::unix::process::CommandExt::process_group(&mut command, 0);
        }
        let mut child = command.spawn().map_err(io_err("starting mosquitto"))?;
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(status)) = child.try_wait() {
                let log =
                    std::fs::read_to_string(self.dir.join("mosquitto.log")).unwrap_or_default();
                return Err(Error::Command {
                    program: "mosquitto".into(),
                    status: status.to_string(),
                    stderr: log,
                });
            }
            let up = |port| std::net::TcpStream::connect(("127.0.0.1", port)).is_ok();
            if up(self.port) && self.tls_port.is_none_or(up) {
                self.child = Some(child);
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(30));
        }
        let _ = child.kill();
        let _ = child.wait();
        Err(Error::Command {
            program: "mosquitto".into(),
            status: "not listening after 10 s".into(),
            stderr: String::new(),
        })
    }

    /// Stops the broker: SIGTERM (it saves its sessions), or SIGKILL when `hard`.
    pub fn stop(&mut self, hard: bool) -> Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        if hard {
            let _ = child.kill();
        } else {
            let status = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status()
                .map_err(io_err("running kill"))?;
            if !status.success() {
                let _ = child.kill();
            }
        }
        child.wait().map_err(io_err("waiting for mosquitto"))?;
        Ok(())
    }

    /// Starts it again on the same port, with the sessions it saved.
    pub fn restart(&mut self) -> Result<()> {
        self.stop(false)?;
        let start = Instant::now();
        loop {
            match self.spawn() {
                Ok(()) => return Ok(()),
                // The port may linger a moment after the old process.
                Err(e) if start.elapsed() > Duration::from_secs(10) => return Err(e),
                Err(_) => std::thread::sleep(Duration::from_millis(200)),
            }
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if self.keep_running {
            return;
        }
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn config_err(e: bc::ConfigError) -> Error {
    Error::Config(e.to_string())
}

/// Writes a file only its owner can read (mode 0600).
fn write_private(path: &Path, data: &[u8]) -> Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
    let what = || format!("writing {}", path.display());
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(io_err(what()))?;
    f.set_permissions(std::fs::Permissions::from_mode(0o600))
        .map_err(io_err(what()))?;
    f.write_all(data).map_err(io_err(what()))
}
