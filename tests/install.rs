//! A real installation, as `docs/install.md` tells it: the CJN with `xmjuris setup cjn`, a court
//! with `xmjuris setup court` (which enrolls it over MQTT), the broker configured by the generator,
//! the real daemons started with the configuration files setup wrote — and no step reads the other
//! side's files: the court gets only what the CJN's operator reads out (code, fingerprint, broker
//! password). Each setup run again changes nothing and says so; the systemd units pass
//! `systemd-analyze verify` (when the machine has it).
//! Needs the `cjn-ingest` and `xmjuris-listener` binaries (`cargo build -p cjn-ingest -p listener`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{PASSWORD, path_str};

const CODE: &str = "12345";

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn bin_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_BIN_EXE_xmjuris"))
        .parent()
        .unwrap()
        .to_owned();
    for b in ["cjn-ingest", "xmjuris-listener"] {
        assert!(
            dir.join(b).exists(),
            "{b} is not built: cargo build -p cjn-ingest -p listener"
        );
    }
    dir
}

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

/// The superuser's connection without a database name (setup adds it).
fn pg(cluster: &sandbox::PgCluster) -> String {
    cluster
        .admin_conninfo("postgres")
        .replace(" dbname=postgres", "")
}

/// The system user the daemons run as: root when the tests run as root (no user is created on
/// the test machine), else the current user.
fn system_user() -> String {
    let out = Command::new("id").arg("-un").output().unwrap();
    text(&out.stdout).trim().to_owned()
}

/// `xmjuris setup ...` with the superuser's password file; asserts success.
fn setup(cluster: &sandbox::PgCluster, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xmjuris"));
    cmd.arg("setup").args(args);
    cluster.client_env(&mut cmd);
    cmd.env_remove("XMJURIS_PASSWORD")
        .env_remove("XMJURIS_BROKER_PASSWORD")
        .env_remove("XMJURIS_ENROLLMENT_CODE");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    // What setup says, step by step (standard error holds no secret).
    eprintln!("xmjuris setup {}:\n{}", args[0], text(&out.stderr));
    assert!(
        out.status.success(),
        "setup {args:?}:\n{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    out
}

/// `Label : value` on standard output.
fn field(out: &str, label: &str) -> String {
    out.lines()
        .find_map(|l| l.trim().strip_prefix(label))
        .map(|v| v.trim().trim_start_matches(':').trim().to_owned())
        .unwrap_or_else(|| panic!("no « {label} » in:\n{out}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn setup_cjn_and_setup_court_install_a_court_that_enrolls_over_mqtt_and_gets_its_fiches_archived()
 {
    let bin = bin_dir();
    let tmp = tempfile::tempdir().unwrap();
    let user = system_user();
    let (cjn_pg, court_pg) = std::thread::scope(|s| {
        let a = s.spawn(|| sandbox::PgCluster::start().expect("PostgreSQL (CJN)"));
        let b = sandbox::PgCluster::start().expect("PostgreSQL (court)");
        (a.join().unwrap(), b)
    });

    // The CJN.
    let cjn_dir = tmp.path().join("cjn");
    let broker_port = sandbox::free_port().unwrap();
    let cjn_port = cjn_pg.port().to_string();
    let listen = format!("127.0.0.1:{broker_port}");
    let (etc, var, units) = (
        cjn_dir.join("etc"),
        cjn_dir.join("var"),
        cjn_dir.join("systemd"),
    );
    let cjn_pg_conn = pg(&cjn_pg);
    let cjn_args = [
        "cjn",
        "--pg",
        &cjn_pg_conn,
        "--port",
        &cjn_port,
        "--lan",
        "127.0.0.0/8",
        "--etc-dir",
        path_str(&etc),
        "--state-dir",
        path_str(&var),
        "--unit-dir",
        path_str(&units),
        "--system-user",
        &user,
        "--bin-dir",
        path_str(&bin),
        "--broker-listen",
        &listen,
        "--court",
        "12345;Tribunal de première instance de Garoua-Boulaï;ADAMAOUA;LOM ET DJEREM;Garoua-Boulaï",
    ];
    let first = setup(&cjn_pg, &cjn_args, &[]);
    let printed = text(&first.stdout);
    let code = field(&printed, "Code d'inscription");
    let fingerprint = field(&printed, "Empreinte");
    let broker_password = field(&printed, "Mot de passe broker");
    assert!(code.starts_with("12345-"), "{printed}");
    let again = setup(&cjn_pg, &cjn_args, &[]);
    assert!(
        text(&again.stderr).contains("CJN : rien n'a changé"),
        "{}",
        text(&again.stderr)
    );
    assert!(
        again.stdout.is_empty(),
        "a second code: {}",
        text(&again.stdout)
    );
    assert_eq!(mode(&etc.join("cjn-ingest.toml")), 0o640);
    assert_eq!(mode(&var), 0o700);
    let hba = std::fs::read_to_string(cjn_pg.data_dir().join("pg_hba.conf")).unwrap();
    assert!(
        hba.contains("host    cjn    ingest    127.0.0.1/32    scram-sha-256"),
        "{hba}"
    );

    // The CJN's daemons, from the files setup wrote.
    let broker = Daemon(
        Command::new("mosquitto")
            .arg("-c")
            .arg(etc.join("broker/mosquitto.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", broker_port)).is_err() {
        assert!(start.elapsed() < Duration::from_secs(10), "mosquitto down");
        std::thread::sleep(Duration::from_millis(50));
    }
    let ingest_log = tmp.path().join("cjn-ingest.log");
    let ingest = Daemon(
        Command::new(bin.join("cjn-ingest"))
            .arg("--config")
            .arg(etc.join("cjn-ingest.toml"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&ingest_log).unwrap())
            .spawn()
            .unwrap(),
    );
    let start = Instant::now();
    while !std::fs::read_to_string(&ingest_log)
        .unwrap_or_default()
        .contains("Subscribed")
    {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "cjn-ingest: {}",
            std::fs::read_to_string(&ingest_log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // The court, with what the CJN read out to it and nothing else.
    let court_dir = tmp.path().join("court");
    let (cetc, cvar, cunits) = (
        court_dir.join("etc"),
        court_dir.join("var"),
        court_dir.join("systemd"),
    );
    let court_port = court_pg.port().to_string();
    let broker_url = format!("mqtt://127.0.0.1:{broker_port}");
    let court_pg_conn = pg(&court_pg);
    let court_args = [
        "court",
        "--pg",
        &court_pg_conn,
        "--port",
        &court_port,
        "--lan",
        "127.0.0.0/8",
        "--etc-dir",
        path_str(&cetc),
        "--state-dir",
        path_str(&cvar),
        "--unit-dir",
        path_str(&cunits),
        "--system-user",
        &user,
        "--bin-dir",
        path_str(&bin),
        "--code",
        CODE,
        "--name",
        "Tribunal de première instance de Garoua-Boulaï",
        "--region",
        "ADAMAOUA",
        "--departement",
        "LOM ET DJEREM",
        "--arrondissement",
        "Garoua-Boulaï",
        "--greffier",
        "kamdem",
        "--greffier-name",
        "Kamdem Jean",
        "--broker",
        &broker_url,
        "--fingerprint",
        &fingerprint,
    ];
    let first = setup(
        &court_pg,
        &court_args,
        &[
            ("XMJURIS_PASSWORD", PASSWORD),
            ("XMJURIS_BROKER_PASSWORD", &broker_password),
            ("XMJURIS_ENROLLMENT_CODE", &code),
        ],
    );
    let said = text(&first.stderr);
    assert!(said.contains("Inscription réussie"), "{said}");
    let pki = cvar.join("pki");
    assert_eq!(mode(&pki), 0o700);
    assert_eq!(mode(&pki.join("court.key")), 0o600);
    assert_eq!(mode(&cetc.join("listener.toml")), 0o640);
    // Again, without the secrets: nothing changes.
    let again = setup(&court_pg, &court_args, &[]);
    assert!(
        text(&again.stderr).contains("Juridiction 12345 : rien n'a changé"),
        "{}",
        text(&again.stderr)
    );

    // The units pass systemd's own check.
    match Command::new("systemd-analyze").arg("--version").output() {
        Ok(o) if o.status.success() => {
            for unit in [
                cunits.join("xmjuris-listener.service"),
                units.join("cjn-ingest.service"),
                units.join("xmjuris-broker.service"),
            ] {
                let out = Command::new("systemd-analyze")
                    .args(["verify", "--man=no"])
                    .arg(&unit)
                    .output()
                    .unwrap();
                let complaints = text(&out.stderr);
                assert!(
                    out.status.success() && !complaints.contains(&unit.display().to_string()),
                    "systemd-analyze verify {}:\n{complaints}",
                    unit.display()
                );
            }
        }
        _ => eprintln!("systemd-analyze is not installed: the units were not verified"),
    }

    // pg_hba.conf admits the staff and the listener, and no other login over TCP.
    court_pg
        .psql(
            "court",
            &format!("create role intrus login password '{PASSWORD}'; grant connect on database court to intrus;"),
        )
        .unwrap();
    let Err(refused) = db::connect(&court_pg.user_url("intrus", PASSWORD, "court")).await else {
        panic!("a login outside the staff and the listener connected over TCP");
    };
    assert!(
        format!("{refused} {refused:?}").contains("pg_hba.conf rejects connection"),
        "{refused:?}"
    );

    // The greffier's staff sign a fiche; the listener, from setup's file, sends it: archived.
    let url = |login: &str| court_pg.user_url(login, PASSWORD, "court");
    let greffier = db::connect(&url("kamdem")).await.unwrap();
    for (login, privilege) in [("zambo", 2), ("mbarga", 1)] {
        greffier
            .execute(
                "select juris.create_user($1, $2, $3, $4)",
                &[&login, &login, &db::scram_verifier(PASSWORD), &privilege],
            )
            .await
            .unwrap();
    }
    let agent = db::connect(&url("mbarga")).await.unwrap();
    let secretaire = db::connect(&url("zambo")).await.unwrap();
    let mut ids = Vec::new();
    for name in ["Bikoula", "Atangana"] {
        let id = common::verified_fiche(&agent, &secretaire, name).await;
        greffier
            .query_one("select juris.sign_fiche($1)", &[&id])
            .await
            .unwrap();
        ids.push(id);
    }
    let out = Command::new(bin.join("xmjuris-listener"))
        .args(["--once", "--config"])
        .arg(cetc.join("listener.toml"))
        .output()
        .unwrap();
    assert!(out.status.success(), "listener: {}", text(&out.stderr));
    let admin = db::connect(&court_pg.admin_url("court")).await.unwrap();
    let archived: i64 = admin
        .query_one(
            "select count(*) from court.fiche where status = 'archivee' and fiche_id = any($1)",
            &[&ids],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(archived, 2, "both fiches archived");
    let at_cjn = cjn_pg
        .psql("cjn", "select count(*) from registry.fiche")
        .unwrap();
    assert_eq!(at_cjn.trim(), "2");
    drop((ingest, broker));
}
