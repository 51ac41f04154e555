//! `xmjuris demo` starts the whole system on this machine (the CJN, two courts, the broker,
//! cjn-ingest and the listeners): cjn-ingest's session is made before any listener starts, every
//! signed sample fiche reaches the CJN at once (no waiting for a re-send), court 10002's request
//! for a bulletin n°1 is answered with a genuine sealed extract showing both courts'
//! convictions, and the demo reports and checks this itself; `--stop` stops every process.
//! Needs the `cjn-ingest` and `xmjuris-listener` binaries (`cargo test --workspace` builds them).

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::Command;

fn xmjuris(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_xmjuris"))
        .args(args)
        .output()
        .expect("run xmjuris")
}

fn pid_alive(dir: &Path, file: &str) -> bool {
    std::fs::read_to_string(dir.join(file))
        .ok()
        .and_then(|p| p.trim().parse::<u32>().ok())
        .is_some_and(|pid| Path::new(&format!("/proc/{pid}")).exists())
}

#[test]
fn the_demo_runs_the_whole_chain_and_stops() {
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_xmjuris"))
        .parent()
        .expect("target dir")
        .to_owned();
    assert!(
        bin_dir.join("cjn-ingest").exists() && bin_dir.join("xmjuris-listener").exists(),
        "build the daemons first: cargo build -p cjn-ingest -p listener (cargo test --workspace does)"
    );
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("demo");
    let dir_s = dir.to_str().expect("utf-8");

    let out = xmjuris(&["demo", "--dir", dir_s]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stop = || xmjuris(&["demo", "--stop", "--dir", dir_s]);
    if !out.status.success() {
        stop();
        panic!("the demo failed:\n{stdout}\n{stderr}");
    }
    assert!(stdout.contains("XMJuris demo is running."), "{stdout}");
    // cjn-ingest's session exists before any listener starts; the demo checks its own result:
    // every signed sample fiche archived, the bulletin n°1 showing both convictions.
    let session = stderr
        .find("cjn-ingest's session is ready on the broker")
        .expect("session created at set-up");
    let listener = stderr.find("Started listener-").expect("listeners started");
    assert!(
        session < listener,
        "the session after a listener:\n{stderr}"
    );
    assert!(
        stderr.contains("Court 10001: 3 of 3 signed fiche(s) archived at the CJN (messages: 3 receipted, 0 sent and awaiting a receipt, 0 not sent yet, 0 refused)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("Court 10002: 2 of 2 signed fiche(s) archived at the CJN"),
        "{stderr}"
    );
    assert!(
        stderr.contains("bulletin n°1 of Kobila Mangué, 2 condamnations"),
        "{stderr}"
    );
    assert!(!stderr.contains("did NOT reach its result"), "{stderr}");
    for name in [
        "credentials.txt",
        "state.json",
        "cjn-ingest.toml",
        "listener-10001.toml",
    ] {
        let mode = std::fs::metadata(dir.join(name))
            .expect(name)
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "{name} must be private: {mode:o}");
    }
    for pid in [
        "cjn-ingest.pid",
        "listener-10001.pid",
        "listener-10002.pid",
        "broker/mosquitto.pid",
    ] {
        assert!(pid_alive(&dir, pid), "{pid} not running");
    }

    // The extract printed by court 10002 is genuine and shows both courts' convictions.
    let pdf = dir.join("extrait-exemple.pdf");
    let verified = xmjuris(&[
        "verify-extract",
        pdf.to_str().expect("utf-8"),
        "--trust",
        dir.join("pki").to_str().expect("utf-8"),
    ]);
    let said = String::from_utf8_lossy(&verified.stdout);
    let ok = verified.status.success();
    let stopped = stop();
    assert!(ok, "{said}\n{}", String::from_utf8_lossy(&verified.stderr));
    assert!(said.contains("Extrait AUTHENTIQUE"), "{said}");
    assert!(said.contains("2 condamnations"), "{said}");

    // --stop stops every process of the demo.
    assert!(
        stopped.status.success(),
        "{}",
        String::from_utf8_lossy(&stopped.stderr)
    );
    for pid in [
        "cjn-ingest.pid",
        "listener-10001.pid",
        "listener-10002.pid",
        "broker/mosquitto.pid",
    ] {
        assert!(!pid_alive(&dir, pid), "{pid} still running after --stop");
    }
    assert!(
        !dir.join("cjn-pg/data/postmaster.pid").exists(),
        "the CJN's PostgreSQL still runs"
    );
    assert!(
        !dir.join("courts-pg/data/postmaster.pid").exists(),
        "the courts' PostgreSQL still runs"
    );
    assert_private(&dir);
}

/// Nothing under the demo's folder is open to the group or others: files and folders are their
/// owner's only (0600, 0700), the folder itself 0700 — or 0710 when root, for the `postgres`
/// group that runs the databases inside (it may pass through, not list).
fn assert_private(dir: &Path) {
    let mut open = Vec::new();
    let mut folders = vec![dir.to_owned()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).expect("read the demo's folder") {
            let path = entry.expect("entry").path();
            let meta = std::fs::symlink_metadata(&path).expect("metadata");
            if meta.file_type().is_symlink() {
                continue;
            }
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                open.push(format!("{mode:o} {}", path.display()));
            }
            if meta.is_dir() {
                folders.push(path);
            }
        }
    }
    assert!(open.is_empty(), "open to others: {open:#?}");
    let top = std::fs::metadata(dir)
        .expect("the demo's folder")
        .permissions()
        .mode()
        & 0o777;
    assert!(top == 0o700 || top == 0o710, "the demo's folder is {top:o}");
}
