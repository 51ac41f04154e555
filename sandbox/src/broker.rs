//! A real Mosquitto broker started for the caller on a free loopback port, with a generated
//! configuration: a password file and an ACL by which a court's user (its court code) may use
//! only `xmjuris/v1/<its code>/#`, and the CJN's user every XMJuris topic. Persistent sessions
//! are kept on disk in the broker's folder, so a [`Broker::restart`] keeps them.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{Error, Result, io_err};

/// A broker account.
#[derive(Debug, Clone)]
pub struct BrokerUser {
    /// User name (a court's code, or `cjn`).
    pub name: String,
    /// Password.
    pub password: String,
    /// True for the CJN: read and write on every `xmjuris/#` topic.
    pub cjn: bool,
}

impl BrokerUser {
    /// A court's account: its own topics only.
    pub fn court(code: &str, password: &str) -> Self {
        BrokerUser {
            name: code.to_owned(),
            password: password.to_owned(),
            cjn: false,
        }
    }

    /// The CJN's account: every XMJuris topic.
    pub fn cjn(name: &str, password: &str) -> Self {
        BrokerUser {
            name: name.to_owned(),
            password: password.to_owned(),
            cjn: true,
        }
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
        write_passwords(&dir, users)?;
        write_acl(&dir, users)?;
        if let Some((cert, key)) = tls {
            for (name, data) in [("tls.crt", cert), ("tls.key", key)] {
                let path = dir.join(name);
                std::fs::write(&path, data)
                    .map_err(io_err(format!("writing {}", path.display())))?;
            }
        }
        let mut broker = Broker {
            dir,
            _tmp: tmp,
            port: 0,
            tls_port: None,
            child: None,
            keep_running: options.keep_running,
        };
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

    fn write_config(&self) -> Result<PathBuf> {
        let d = self.dir.as_path();
        let user = if crate::running_as_root() {
            "user root\n"
        } else {
            ""
        };
        let conf = format!(
            "# Written by the XMJuris sandbox.\n\
             {user}listener {port} 127.0.0.1\n\
             allow_anonymous false\n\
             password_file {pw}\n\
             acl_file {acl}\n\
             persistence true\n\
             persistence_location {d}/\n\
             autosave_interval 1\n\
             max_queued_messages 100000\n\
             max_inflight_messages 0\n\
             log_dest file {d}/mosquitto.log\n\
             log_type error\nlog_type warning\nlog_type notice\n\
             pid_file {d}/mosquitto.pid\n",
            port = self.port,
            pw = d.join("passwd").display(),
            acl = d.join("acl").display(),
            d = d.display(),
        );
        let mut conf = conf;
        if let Some(tls_port) = self.tls_port {
            conf.push_str(&format!(
                "listener {tls_port} 127.0.0.1\ncertfile {}\nkeyfile {}\n",
                d.join("tls.crt").display(),
                d.join("tls.key").display()
            ));
        }
        let path = d.join("mosquitto.conf");
        std::fs::write(&path, conf).map_err(io_err(format!("writing {}", path.display())))?;
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

fn write_passwords(dir: &Path, users: &[BrokerUser]) -> Result<()> {
    let path = dir.join("passwd");
    let text: String = users
        .iter()
        .map(|u| format!("{}:{}\n", u.name, u.password))
        .collect();
    std::fs::write(&path, text).map_err(io_err(format!("writing {}", path.display())))?;
    // Hash the passwords in place.
    let out = Command::new("mosquitto_passwd")
        .arg("-U")
        .arg(&path)
        .output()
        .map_err(io_err("running mosquitto_passwd"))?;
    if !out.status.success() {
        return Err(Error::Command {
            program: "mosquitto_passwd".into(),
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        });
    }
    Ok(())
}

fn write_acl(dir: &Path, users: &[BrokerUser]) -> Result<()> {
    let mut text = String::from(
        "# Written by the XMJuris sandbox.\n\
         # Every court: its own topics only (user name = court code).\n\
         pattern readwrite xmjuris/v1/%u/#\n\
         pattern read xmjuris/v1/revocations\n",
    );
    for u in users.iter().filter(|u| u.cjn) {
        text.push_str(&format!("user {}\ntopic readwrite xmjuris/#\n", u.name));
    }
    let path = dir.join("acl");
    std::fs::write(&path, text).map_err(io_err(format!("writing {}", path.display())))
}
