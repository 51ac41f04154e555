//! Runs the pgTAP tests of `db/tests/` with `pg_prove`, against a throw-away cluster migrated by
//! `xmjuris migrate`. Each test file rolls back what it did.

use std::process::Command;

#[test]
fn pgtap_suite_passes() {
    let cluster = sandbox::PgCluster::start().expect("start PostgreSQL");
    cluster
        .create_database("court")
        .expect("create the court database");
    let status = Command::new(env!("CARGO_BIN_EXE_xmjuris"))
        .args(["migrate", "--court", &cluster.admin_url("court")])
        .status()
        .expect("run xmjuris migrate");
    assert!(status.success(), "xmjuris migrate failed");
    cluster
        .psql("court", "create extension if not exists pgtap")
        .expect("install pgTAP (Debian package postgresql-15-pgtap)");

    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/db/tests");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("read db/tests")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "sql"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no pgTAP test file in db/tests");

    let out = Command::new("pg_prove")
        .arg("--host")
        .arg(cluster.socket_dir())
        .args(["--port", &cluster.port().to_string()])
        .args([
            "--username",
            "postgres",
            "--dbname",
            "court",
            "--verbose",
            "--failures",
        ])
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
}
