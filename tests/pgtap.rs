//! Runs the pgTAP tests with `pg_prove`, against throw-away clusters migrated by
//! `xmjuris migrate`: `db/tests/*.sql` on a court database, `db/tests/cjn/*.sql` on a CJN
//! database. Each test file rolls back what it did.

use std::path::PathBuf;
use std::process::Command;

/// Migrates a new database of a fresh cluster with `xmjuris migrate --<flag>`, then runs the
/// pgTAP files of `dir` on it; fails with pg_prove's report if any test fails.
fn prove(flag: &str, dir: &str) {
    let cluster = sandbox::PgCluster::start().expect("start PostgreSQL");
    cluster.create_database("xm").expect("create the database");
    let status = cluster
        .client_env(&mut Command::new(env!("CARGO_BIN_EXE_xmjuris")))
        .args(["migrate", flag, &cluster.admin_conninfo("xm")])
        .status()
        .expect("run xmjuris migrate");
    assert!(status.success(), "xmjuris migrate {flag} failed");
    cluster
        .psql("xm", "create extension if not exists pgtap")
        .expect("install pgTAP (Debian package postgresql-15-pgtap)");

    let dir: PathBuf = [env!("CARGO_MANIFEST_DIR"), dir].iter().collect();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("read the test folder")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "sql"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no pgTAP test file in {}", dir.display());

    let out = cluster
        .client_env(&mut Command::new("pg_prove"))
        .arg("--host")
        .arg(cluster.socket_dir())
        .args(["--port", &cluster.port().to_string()])
        .args(["--username", "postgres", "--dbname", "xm"])
        .args(["--verbose", "--failures"])
        .args(&files)
        .output()
        .expect("run pg_prove (Debian package libtap-parser-sourcehandler-pgtap-perl)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}\n{stderr}");
    assert!(
        out.status.success(),
        "pgTAP tests failed:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("All tests successful"),
        "pg_prove did not report success"
    );
    // pgTAP prints this when a test file ran fewer tests than planned.
    assert!(
        !stdout.contains("Looks like you planned"),
        "a test plan was not met:\n{stdout}"
    );
}

#[test]
fn court_pgtap_suite_passes() {
    prove("--court", "db/tests");
}

#[test]
fn cjn_pgtap_suite_passes() {
    prove("--cjn", "db/tests/cjn");
}
