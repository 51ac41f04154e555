//! `xmjuris court enroll`: a court enrolls itself over MQTT, with the real daemons and nothing
//! read from the other side's files. The CJN: its database (`xmjuris migrate`), its PKI and an
//! enrollment code (`xmjuris pki`), a Mosquitto configured by `xmjuris broker config` from its
//! registry, the real `cjn-ingest` binary. The court: its database (`xmjuris court init`), the
//! command under test, then the real `xmjuris-listener` binary.
//! Needs the `cjn-ingest` and `xmjuris-listener` binaries (`cargo build -p cjn-ingest -p listener`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{COURT_CODE, PASSWORD, path_str};

const INGEST_PASSWORD: &str = "ingest-secret-for-tests";

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A binary built next to `xmjuris`.
fn sibling(name: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_BIN_EXE_xmjuris"))
        .parent()
        .unwrap()
        .join(name);
    assert!(
        p.exists(),
        "{name} is not built: cargo build -p cjn-ingest -p listener"
    );
    p
}

/// A child process killed when dropped.
struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The CJN's side: database, PKI, broker (generated configuration), cjn-ingest (when started).
struct Cjn {
    tmp: tempfile::TempDir,
    cluster: sandbox::PgCluster,
    pki_dir: PathBuf,
    broker_port: u16,
    /// The passwords `broker config` printed, by account.
    broker_passwords: BTreeMap<String, String>,
    _broker: Daemon,
    ingest: Option<Daemon>,
}

impl Cjn {
    /// The CJN with `courts` registered and the broker running; cjn-ingest not started yet.
    fn new(courts: &[&str]) -> Cjn {
        let tmp = tempfile::tempdir().unwrap();
        let cluster = sandbox::PgCluster::start().expect("start PostgreSQL (CJN)");
        cluster.create_database("cjn").unwrap();
        let run = |args: &[&str]| -> Output {
            let mut cmd = common::xmjuris_cmd(args);
            cluster.client_env(&mut cmd);
            let out = cmd.output().unwrap();
            assert!(
                out.status.success(),
                "xmjuris {args:?}: {}",
                text(&out.stderr)
            );
            out
        };
        run(&["migrate", "--cjn", &cluster.admin_conninfo("cjn")]);
        let mut sql =
            format!("create role ingest login password '{INGEST_PASSWORD}' in role cjn_ingest;\n");
        for c in courts {
            sql.push_str(&format!(
                "select cjn.register_court('{c}', 'Tribunal {c}', 'ADAMAOUA', 'FARO ET DEO', 'Biyouha');\n"
            ));
        }
        cluster.psql("cjn", &sql).unwrap();
        let pki_dir = tmp.path().join("cjn-pki");
        run(&["pki", "init", "--dir", path_str(&pki_dir)]);

        // The broker, configured from the registry by the generator.
        let broker_dir = tmp.path().join("broker");
        let data = tmp.path().join("broker-data");
        std::fs::create_dir_all(&data).unwrap();
        let broker_port = sandbox::free_port().unwrap();
        let listen = format!("127.0.0.1:{broker_port}");
        let mut args = vec![
            "broker",
            "config",
            "--out",
            path_str(&broker_dir),
            "--cjn-db",
            "",
            "--listen",
            &listen,
            "--data-dir",
            path_str(&data),
        ];
        let cjn_db = cluster.admin_conninfo("cjn");
        args[5] = &cjn_db;
        if sandbox::running_as_root() {
            args.extend(["--user", "root"]);
        }
        let out = run(&args);
        let broker_passwords = text(&out.stdout)
            .lines()
            .map(|l| {
                let (a, p) = l.split_once(' ').unwrap();
                (a.to_owned(), p.to_owned())
            })
            .collect();
        let broker = Command::new("mosquitto")
            .arg("-c")
            .arg(broker_dir.join("mosquitto.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start mosquitto");
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", broker_port)).is_err() {
            assert!(start.elapsed() < Duration::from_secs(10), "mosquitto down");
            std::thread::sleep(Duration::from_millis(50));
        }
        Cjn {
            tmp,
            cluster,
            pki_dir,
            broker_port,
            broker_passwords,
            _broker: Daemon(broker),
            ingest: None,
        }
    }

    /// Starts the real cjn-ingest and waits until its subscriptions are made.
    fn start_ingest(&mut self) {
        let toml = self.tmp.path().join("cjn-ingest.toml");
        std::fs::write(
            &toml,
            format!(
                "[database]\nurl = \"host=127.0.0.1 port={pg} dbname=cjn user=ingest\"\n\
                 password = \"{INGEST_PASSWORD}\"\n\n\
                 [broker]\nhost = \"127.0.0.1\"\nport = {mqtt}\nusername = \"cjn-1\"\n\
                 password = \"{bpw}\"\nkeep_alive_secs = 30\nbackoff_initial_ms = 100\nbackoff_max_secs = 1\n\n\
                 [pki]\ndir = \"{pki}\"\n",
                pg = self.cluster.port(),
                mqtt = self.broker_port,
                bpw = self.broker_passwords["cjn-1"],
                pki = self.pki_dir.display(),
            ),
        )
        .unwrap();
        let log = self.tmp.path().join("cjn-ingest.log");
        let child = Command::new(sibling("cjn-ingest"))
            .arg("--config")
            .arg(&toml)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start cjn-ingest");
        self.ingest = Some(Daemon(child));
        let start = Instant::now();
        while !std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("Subscribed")
        {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "cjn-ingest not subscribed: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A one-time code for `court`: (code, CA fingerprint), as `xmjuris pki enrollment-code`
    /// prints them for the operator to read to the court.
    fn enrollment_code(&self, court: &str) -> (String, String) {
        let out = common::xmjuris_cmd(&[
            "pki",
            "enrollment-code",
            "--dir",
            path_str(&self.pki_dir),
            "--court",
            court,
        ])
        .output()
        .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        let stdout = text(&out.stdout);
        let field = |name: &str| {
            stdout
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .map(|v| v.trim().to_owned())
                .unwrap_or_else(|| panic!("no {name} in {stdout}"))
        };
        (field("Code:"), field("CA fingerprint:"))
    }

    /// `xmjuris court enroll` as the court's operator runs it, with the broker password the CJN
    /// gave in the environment.
    fn enroll(&self, court: &str, state_dir: &Path, extra: &[&str]) -> Output {
        self.enroll_via(self.broker_port, court, state_dir, extra)
    }

    /// The same, reaching the broker at `port` (a relay).
    fn enroll_via(&self, port: u16, court: &str, state_dir: &Path, extra: &[&str]) -> Output {
        let broker = format!("mqtt://127.0.0.1:{port}");
        let mut args = vec![
            "court",
            "enroll",
            "--broker",
            &broker,
            "--state-dir",
            path_str(state_dir),
            "--resend-secs",
            "2",
        ];
        args.extend(extra);
        Command::new(env!("CARGO_BIN_EXE_xmjuris"))
            .args(&args)
            .env("XMJURIS_BROKER_PASSWORD", &self.broker_passwords[court])
            .env_remove("XMJURIS_ENROLLMENT_CODE")
            .output()
            .unwrap()
    }
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[tokio::test(flavor = "multi_thread")]
async fn a_court_enrolls_over_mqtt_resumes_after_a_cut_and_its_listener_sees_its_fiche_archived() {
    let mut cjn = Cjn::new(&[COURT_CODE]);
    let court = tokio::task::spawn_blocking(common::Court::new)
        .await
        .unwrap();
    let (code, fingerprint) = cjn.enrollment_code(COURT_CODE);
    let pki = cjn.tmp.path().join("court-pki");

    // cjn-ingest is not running yet: no answer; the key and the request are kept.
    let first = cjn.enroll(
        COURT_CODE,
        &pki,
        &[
            "--code",
            &code,
            "--fingerprint",
            &fingerprint,
            "--timeout-secs",
            "3",
        ],
    );
    assert!(!first.status.success());
    let said = text(&first.stderr);
    assert!(said.contains("pas de réponse du CJN"), "{said}");
    assert!(said.contains("relancez la même commande"), "{said}");
    let key = std::fs::read(pki.join("court.key")).expect("the key is kept");
    assert_eq!(mode(&pki), 0o700);
    assert_eq!(mode(&pki.join("court.key")), 0o600);
    assert_eq!(mode(&pki.join("enrollment-request.cbor")), 0o600);
    assert!(!pki.join("court.crt").exists());

    // The CJN comes up; the second run resumes without the code, with the same key.
    cjn.start_ingest();
    let second = cjn.enroll(
        COURT_CODE,
        &pki,
        &["--fingerprint", &fingerprint, "--timeout-secs", "60"],
    );
    let said = text(&second.stdout);
    assert!(second.status.success(), "{}", text(&second.stderr));
    assert!(
        said.contains("Inscription réussie (demande reprise)"),
        "{said}"
    );
    assert_eq!(
        std::fs::read(pki.join("court.key")).unwrap(),
        key,
        "a new key"
    );
    assert!(!pki.join("enrollment-request.cbor").exists());
    for f in ["court.crt", "root.crt", "issuing.crt", "cjn.crt", "crl.pem"] {
        assert!(pki.join(f).exists(), "{f} not installed");
    }
    assert_eq!(mode(&pki), 0o700);
    assert_eq!(mode(&pki.join("court.key")), 0o600);

    // Once more: nothing to do.
    let third = cjn.enroll(COURT_CODE, &pki, &["--fingerprint", &fingerprint]);
    assert!(third.status.success(), "{}", text(&third.stderr));
    assert!(text(&third.stdout).contains("déjà inscrite"));

    // The court's listener, with this folder, transmits a signed fiche: archived at both ends.
    let admin = court.admin().await;
    admin
        .execute(
            "select juris.create_listener_login('listener', $1)",
            &[&db::scram_verifier(PASSWORD)],
        )
        .await
        .unwrap();
    let agent = court.connect("mbarga").await;
    let secretaire = court.connect("zambo").await;
    let id = common::verified_fiche(&agent, &secretaire, "Bikoula").await;
    let niu: String = court
        .connect("kamdem")
        .await
        .query_one("select juris.sign_fiche($1)", &[&id])
        .await
        .unwrap()
        .get(0);
    let toml = cjn.tmp.path().join("listener.toml");
    std::fs::write(
        &toml,
        format!(
            "[court]\ncode = \"{COURT_CODE}\"\npki_dir = \"{pki}\"\n\n\
             [database]\nurl = \"host=127.0.0.1 port={pg} dbname=court user=listener\"\n\
             password = \"{PASSWORD}\"\n\n\
             [broker]\nhost = \"127.0.0.1\"\nport = {mqtt}\npassword = \"{bpw}\"\n\
             backoff_initial_ms = 100\nbackoff_max_secs = 1\n\n\
             [transmission]\nonce_timeout_secs = 60\n",
            pki = pki.display(),
            pg = court.cluster.port(),
            mqtt = cjn.broker_port,
            bpw = cjn.broker_passwords[COURT_CODE],
        ),
    )
    .unwrap();
    let out = Command::new(sibling("xmjuris-listener"))
        .args(["--once", "--config", path_str(&toml)])
        .output()
        .unwrap();
    assert!(out.status.success(), "listener: {}", text(&out.stderr));
    let status: String = admin
        .query_one(
            "select status::text from court.fiche where fiche_id = $1",
            &[&id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(status, "archivee");
    let at_cjn = cjn
        .cluster
        .psql(
            "cjn",
            &format!("select count(*) from registry.fiche where niu = '{niu}'"),
        )
        .unwrap();
    assert_eq!(at_cjn.trim(), "1", "the fiche is in the CJN's registry");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_fingerprint_installs_nothing_and_a_used_code_is_refused() {
    let mut cjn = Cjn::new(&[COURT_CODE]);
    cjn.start_ingest();
    let (code, fingerprint) = cjn.enrollment_code(COURT_CODE);
    let pki = cjn.tmp.path().join("court-pki");

    // A fingerprint that is not the CJN's (a mistyped one, or a broker that is not the CJN's).
    let wrong = "ab".repeat(32);
    let out = cjn.enroll(
        COURT_CODE,
        &pki,
        &["--code", &code, "--fingerprint", &wrong],
    );
    assert!(!out.status.success());
    let said = text(&out.stderr);
    assert!(
        said.contains("l'autorité racine reçue n'a pas l'empreinte donnée avec le code : rien n'a été installé"),
        "{said}"
    );
    assert!(
        said.contains(&wrong) && said.contains(&fingerprint),
        "{said}"
    );
    for f in ["court.crt", "root.crt", "issuing.crt", "cjn.crt", "crl.pem"] {
        assert!(
            !pki.join(f).exists(),
            "{f} installed with a wrong fingerprint"
        );
    }
    // A fingerprint that is not one at all.
    let out = cjn.enroll(COURT_CODE, &pki, &["--fingerprint", "12:34"]);
    assert!(text(&out.stderr).contains("empreinte mal formée"));

    // With the right one, the kept request is answered again (same key): enrolled.
    let out = cjn.enroll(COURT_CODE, &pki, &["--fingerprint", &fingerprint]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(pki.join("court.crt").exists());

    // The same code from another installation (another key): refused, nothing installed.
    let other = cjn.tmp.path().join("other-pki");
    let out = cjn.enroll(
        COURT_CODE,
        &other,
        &["--code", &code, "--fingerprint", &fingerprint],
    );
    assert!(!out.status.success());
    let said = text(&out.stderr);
    assert!(
        said.contains("ce code d'inscription a déjà servi") && said.contains("code_used"),
        "{said}"
    );
    assert!(!other.join("court.crt").exists());

    // A code mistyped: the CJN's one refusal for every code it cannot match.
    let mut typo = code.clone();
    let last = typo.pop().unwrap();
    typo.push(if last == 'A' { 'B' } else { 'A' });
    let out = cjn.enroll(
        COURT_CODE,
        &cjn.tmp.path().join("third-pki"),
        &["--code", &typo, "--fingerprint", &fingerprint],
    );
    assert!(text(&out.stderr).contains("code d'inscription inconnu du CJN, ou mal recopié"));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_enrollment_over_an_emulated_satellite_link_takes_seconds_and_a_few_kilobytes() {
    let mut cjn = Cjn::new(&[COURT_CODE]);
    cjn.start_ingest();
    let (code, fingerprint) = cjn.enrollment_code(COURT_CODE);
    let pki = cjn.tmp.path().join("court-pki");
    // 15 kbit/s and 300 ms each way, as a remote court's satellite link.
    let relay =
        sandbox::SlowRelay::start(cjn.broker_port, 15_000, Duration::from_millis(300)).unwrap();
    let start = Instant::now();
    let out = cjn.enroll_via(
        relay.port(),
        COURT_CODE,
        &pki,
        &["--code", &code, "--fingerprint", &fingerprint],
    );
    let took = start.elapsed();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(pki.join("court.crt").exists());
    eprintln!(
        "enrollment over 15 kbit/s, 300 ms each way: {:.1} s, {} bytes up, {} bytes down",
        took.as_secs_f64(),
        relay.bytes_up(),
        relay.bytes_down()
    );
    assert!(took < Duration::from_secs(20), "{took:?}");
    assert!(relay.bytes_up() < 4096 && relay.bytes_down() < 16384);
}
