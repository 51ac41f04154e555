//! Only a sandbox cluster's owner gets in: another local user (`nobody`) cannot use the socket
//! (its folder is private) nor log in over TCP without the password (SCRAM everywhere), and
//! cannot read the password file. The owner (this process, root in CI) still connects, and a
//! kept cluster's password survives a restart.
#![allow(clippy::unwrap_used)]

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::{Command, Output};

use sandbox::{PgCluster, PgOptions};

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

/// The superuser's password, read from the cluster's password file (`*:*:*:postgres:<pw>`).
fn password(cluster: &PgCluster) -> String {
    let text = std::fs::read_to_string(cluster.passfile()).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("*:*:*:postgres:"))
        .expect("a password line")
        .to_owned()
}

/// `psql -c 'select current_user'` run as `nobody`, with `args`, and `PGPASSWORD` if given.
fn psql_as_nobody(cluster: &PgCluster, args: &[&str], password: Option<&str>) -> Output {
    let mut cmd = Command::new("runuser");
    cmd.args(["-u", "nobody", "--"])
        .arg(cluster.client_program("psql"))
        .args(args)
        .args(["-X", "-w", "-A", "-t", "-c", "select current_user"])
        .env_remove("PGPASSFILE")
        .env_remove("PGPASSWORD")
        .env("PGCONNECT_TIMEOUT", "10")
        .current_dir("/");
    if let Some(p) = password {
        cmd.env("PGPASSWORD", p);
    }
    cmd.output().unwrap()
}

fn said(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn another_local_user_cannot_connect_to_a_cluster() {
    let cluster = PgCluster::start().unwrap();
    // The owner connects: through `psql` (the password from PGPASSFILE) and a server program.
    assert_eq!(
        cluster
            .psql("postgres", "select current_user")
            .unwrap()
            .trim(),
        "postgres"
    );
    cluster.create_database("court_10001").unwrap();

    // The folders and the password file are private to the server's OS user.
    assert_eq!(mode(cluster.root()), 0o700, "cluster folder");
    assert_eq!(mode(&cluster.socket_dir()), 0o700, "socket folder");
    assert_eq!(mode(&cluster.data_dir()), 0o700, "data folder");
    assert_eq!(mode(&cluster.passfile()), 0o600, "password file");
    let socket = cluster
        .socket_dir()
        .join(format!(".s.PGSQL.{}", cluster.port()));
    assert_eq!(mode(&socket) & 0o077, 0, "socket");
    let log = cluster.log_file();
    assert_eq!(mode(&log) & 0o077, 0, "server log");
    let hba = std::fs::read_to_string(cluster.data_dir().join("pg_hba.conf")).unwrap();
    assert!(
        !hba.lines()
            .any(|l| !l.starts_with('#') && (l.contains("trust") || l.contains("peer"))),
        "{hba}"
    );
    let secret = password(&cluster);
    assert!(secret.len() >= 24);
    // Another cluster has another password.
    assert_ne!(password(&PgCluster::start().unwrap()), secret);

    if !sandbox::running_as_root() {
        eprintln!("Not root: cannot act as another user; the checks as `nobody` are skipped.");
        return;
    }
    let port = cluster.port().to_string();
    let socket_dir = cluster.socket_dir();
    let socket_dir = socket_dir.to_str().unwrap();
    let over_socket = [
        "-h",
        socket_dir,
        "-p",
        &port,
        "-U",
        "postgres",
        "-d",
        "court_10001",
    ];
    let over_tcp = [
        "-h",
        "127.0.0.1",
        "-p",
        &port,
        "-U",
        "postgres",
        "-d",
        "court_10001",
    ];
    // Through the socket: not even with the password (the folder is closed to nobody).
    for pw in [None, Some("wrong"), Some(secret.as_str())] {
        let out = psql_as_nobody(&cluster, &over_socket, pw);
        assert!(
            !out.status.success(),
            "nobody got in through the socket (password {pw:?}): {}",
            said(&out)
        );
        assert!(said(&out).contains("Permission denied"), "{}", said(&out));
    }
    // Over TCP: no password, a wrong one.
    let out = psql_as_nobody(&cluster, &over_tcp, None);
    assert!(!out.status.success(), "no password: {}", said(&out));
    assert!(
        said(&out).contains("no password supplied"),
        "{}",
        said(&out)
    );
    let out = psql_as_nobody(&cluster, &over_tcp, Some("wrong"));
    assert!(!out.status.success(), "a wrong password: {}", said(&out));
    assert!(
        said(&out).contains("password authentication failed"),
        "{}",
        said(&out)
    );
    // The control: with the password, nobody's psql does get in over TCP (so the refusals
    // above are the server's, not a psql that cannot run as nobody).
    let out = psql_as_nobody(&cluster, &over_tcp, Some(&secret));
    assert!(out.status.success(), "{}", said(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "postgres");
    // Nobody cannot read the password file.
    let out = Command::new("runuser")
        .args(["-u", "nobody", "--", "cat"])
        .arg(cluster.passfile())
        .current_dir("/")
        .output()
        .unwrap();
    assert!(!out.status.success(), "nobody read the password file");
}

#[test]
fn a_kept_clusters_password_survives_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pg");
    let options = PgOptions {
        dir: Some(dir.clone()),
        durable: true, // the table must outlive the immediate stop on drop
        ..PgOptions::default()
    };
    let first = PgCluster::start_with(options.clone()).unwrap();
    first.psql("postgres", "create table kept (x int)").unwrap();
    let secret = password(&first);
    drop(first);

    let again = PgCluster::start_with(options.clone()).unwrap();
    assert_eq!(password(&again), secret);
    assert_eq!(
        again
            .psql("postgres", "select count(*) from kept")
            .unwrap()
            .trim(),
        "0"
    );
    drop(again);

    // A cluster without its password file (made by an older sandbox, or the file lost) gets a
    // new password on its next start.
    std::fs::remove_file(dir.join("superuser.pgpass")).unwrap();
    let renewed = PgCluster::start_with(options).unwrap();
    assert_ne!(password(&renewed), secret);
    assert_eq!(mode(&renewed.passfile()), 0o600);
    assert_eq!(
        renewed
            .psql("postgres", "select count(*) from kept")
            .unwrap()
            .trim(),
        "0"
    );
}
