//! `xmjuris broker config`: the configuration it writes runs on a real Mosquitto, from a file
//! of court codes or from the CJN's registry; running it again changes nothing and says so;
//! adding, removing a court or giving a new password changes only that, and the passwords it
//! prints are the ones the broker takes. (What the configuration forbids a court is tested
//! rule by rule in `sandbox/tests/broker.rs`, with the same generator.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt as _;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn xmjuris(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xmjuris"))
        .args(args)
        .output()
        .expect("run xmjuris")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The `<account> <password>` lines a run printed.
fn passwords(out: &Output) -> BTreeMap<String, String> {
    text(&out.stdout)
        .lines()
        .map(|l| {
            let (a, p) = l.split_once(' ').expect("<account> <password>");
            (a.to_owned(), p.to_owned())
        })
        .collect()
}

struct Setup {
    _tmp: tempfile::TempDir,
    out: PathBuf,
    data: PathBuf,
    courts: PathBuf,
    port: u16,
}

impl Setup {
    fn new() -> Setup {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("broker");
        let data = tmp.path().join("data");
        std::fs::create_dir_all(&data).unwrap();
        let courts = tmp.path().join("courts.txt");
        Setup {
            out,
            data,
            courts,
            port: sandbox::free_port().unwrap(),
            _tmp: tmp,
        }
    }

    /// `broker config` with the court file (or the extra arguments).
    fn config(&self, extra: &[&str]) -> Output {
        let listen = format!("127.0.0.1:{}", self.port);
        let mut args = vec![
            "broker",
            "config",
            "--out",
            self.out.to_str().unwrap(),
            "--listen",
            &listen,
            "--data-dir",
            self.data.to_str().unwrap(),
        ];
        if !extra.contains(&"--cjn-db") {
            args.extend(["--courts", self.courts.to_str().unwrap()]);
        }
        if sandbox::running_as_root() {
            args.extend(["--user", "root"]);
        }
        args.extend(extra);
        let out = xmjuris(&args);
        assert!(
            out.status.success(),
            "broker config failed: {}",
            text(&out.stderr)
        );
        out
    }

    fn start(&self) -> Mosquitto {
        let child = Command::new("mosquitto")
            .arg("-c")
            .arg(self.out.join("mosquitto.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start mosquitto");
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "mosquitto not listening"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Mosquitto(child)
    }

    /// Publishes one message (QoS 1) as `user`; whether the broker let it connect.
    fn connects(&self, user: &str, password: &str, client_id: &str) -> bool {
        Command::new("mosquitto_pub")
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(["-u", user, "-P", password, "-i", client_id, "-q", "1"])
            .args(["-t", &format!("xmjuris/v1/{user}/up"), "-m", "x"])
            .output()
            .expect("mosquitto_pub (Debian package mosquitto-clients)")
            .status
            .success()
    }
}

struct Mosquitto(Child);

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn court(code: &str) -> String {
    format!("court-{code}")
}

#[test]
fn broker_config_from_a_file_runs_on_mosquitto_and_updates_what_changed() {
    let s = Setup::new();
    std::fs::write(&s.courts, "# the courts\n10001\n10002 # Mfoundi\n\n").unwrap();
    let first = s.config(&[]);
    let pw = passwords(&first);
    assert_eq!(
        pw.keys().collect::<Vec<_>>(),
        ["10001", "10002", "cjn-1"],
        "a password for every new account"
    );
    assert!(pw.values().all(|p| p.len() == 22));
    assert!(text(&first.stderr).contains("accounts added: 10001, 10002, cjn-1"));
    for f in ["mosquitto.conf", "dynamic-security.json"] {
        let mode = std::fs::metadata(s.out.join(f))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o640, "{f}: {mode:o}");
    }
    let json = std::fs::read_to_string(s.out.join("dynamic-security.json")).unwrap();
    for p in pw.values() {
        assert!(!json.contains(p.as_str()), "a clear password on disk");
    }

    // Again: nothing changes, no password is printed.
    let again = s.config(&[]);
    assert!(again.stdout.is_empty(), "{}", text(&again.stdout));
    assert!(
        text(&again.stderr).contains("nothing changed"),
        "{}",
        text(&again.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(s.out.join("dynamic-security.json")).unwrap(),
        json
    );

    {
        let _broker = s.start();
        assert!(s.connects("10001", &pw["10001"], &court("10001")));
        assert!(
            !s.connects("10001", &pw["10002"], &court("10001")),
            "wrong password"
        );
        assert!(
            !s.connects("10001", &pw["10001"], &court("10002")),
            "another's client id"
        );
        assert!(
            !s.connects("10001", &pw["10001"], "cjn-1"),
            "the CJN's client id"
        );
        let shared = Command::new("mosquitto_sub")
            .args(["-h", "127.0.0.1", "-p", &s.port.to_string(), "-V", "mqttv5"])
            .args(["-u", "10001", "-P", &pw["10001"], "-i", &court("10001")])
            .args(["-t", "$share/cjn/xmjuris/v1/+/up", "-W", "3"])
            .output()
            .unwrap();
        assert!(
            text(&shared.stdout).contains("denied") || text(&shared.stderr).contains("denied"),
            "a court joined the CJN's group: {}",
            text(&shared.stderr)
        );
    }

    // A court added, one closed: only that changes; the kept passwords still work.
    std::fs::write(&s.courts, "10001\n10003\n").unwrap();
    let third = s.config(&[]);
    let new = passwords(&third);
    assert_eq!(new.keys().collect::<Vec<_>>(), ["10003"]);
    let said = text(&third.stderr);
    assert!(
        said.contains("accounts added: 10003; accounts removed: 10002"),
        "{said}"
    );
    assert!(said.contains("Restart Mosquitto"), "{said}");
    // A new password for a court.
    let fourth = s.config(&["--new-password", "10001"]);
    let renewed = passwords(&fourth);
    assert_eq!(renewed.keys().collect::<Vec<_>>(), ["10001"]);
    assert!(text(&fourth.stderr).contains("accounts changed: 10001"));
    let bad = xmjuris(&[
        "broker",
        "config",
        "--out",
        s.out.to_str().unwrap(),
        "--courts",
        s.courts.to_str().unwrap(),
        "--new-password",
        "10002",
    ]);
    assert!(!bad.status.success(), "a new password for a removed court");

    let _broker = s.start();
    assert!(s.connects("10003", &new["10003"], &court("10003")));
    assert!(
        !s.connects("10002", &pw["10002"], &court("10002")),
        "a removed court"
    );
    assert!(
        !s.connects("10001", &pw["10001"], &court("10001")),
        "the old password"
    );
    assert!(s.connects("10001", &renewed["10001"], &court("10001")));
}

#[test]
fn broker_config_reads_the_active_courts_of_the_registry() {
    let s = Setup::new();
    let cluster = sandbox::PgCluster::start().expect("start PostgreSQL");
    cluster.create_database("cjn").unwrap();
    let url = cluster.admin_url("cjn");
    let migrated = xmjuris(&["migrate", "--cjn", &url]);
    assert!(migrated.status.success(), "{}", text(&migrated.stderr));
    cluster
        .psql(
            "cjn",
            "select cjn.register_court('10001', 'Tribunal A', 'ADAMAOUA', 'FARO ET DEO', 'Biyouha');\n\
             select cjn.register_court('10002', 'Tribunal B', 'CENTRE', 'MFOUNDI', 'Yaoundé I');\n\
             select cjn.register_court('10009', 'Tribunal fermé', 'CENTRE', 'MFOUNDI', 'Yaoundé II');\n\
             update registry.court set active = false where code = '10009';",
        )
        .unwrap();
    let out = s.config(&["--cjn-db", &url, "--cjn-accounts", "2"]);
    let pw = passwords(&out);
    assert_eq!(
        pw.keys().collect::<Vec<_>>(),
        ["10001", "10002", "cjn-1", "cjn-2"],
        "the active courts and two CJN instances"
    );
    // A court registered later: the next run adds it, and only it.
    cluster
        .psql(
            "cjn",
            "select cjn.register_court('10003', 'Tribunal C', 'SUD', 'OCEAN', 'Kribi I');",
        )
        .unwrap();
    let again = s.config(&["--cjn-db", &url, "--cjn-accounts", "2"]);
    assert_eq!(passwords(&again).keys().collect::<Vec<_>>(), ["10003"]);
    let _broker = s.start();
    assert!(s.connects("10002", &pw["10002"], &court("10002")));
    assert!(!s.connects("10009", "x", &court("10009")));
    let cjn2 = Command::new("mosquitto_pub")
        .args(["-h", "127.0.0.1", "-p", &s.port.to_string(), "-q", "1"])
        .args(["-u", "cjn-2", "-P", &pw["cjn-2"], "-i", "cjn-2"])
        .args(["-t", "xmjuris/v1/10001/down", "-m", "receipt"])
        .output()
        .unwrap();
    assert!(cjn2.status.success(), "{}", text(&cjn2.stderr));
}
