//! `xmjuris backup` (docs/backup.md): a court's dumps are private and pruned, its restore opens
//! the recovery (signing suspended until the CJN's copy is taken back, tested with the real
//! daemons in listener/tests/backup.rs); the CJN comes back to a point in time from a base
//! backup and its archived WAL, and `xmjuris reconcile` then names what each court must send
//! again, which `juris.requeue_messages` queues.

mod common;

use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Court, PASSWORD, ingest, path_str, verified_fiche, xmjuris_cmd};

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777
}

/// The folder of the cluster's PostgreSQL programs (`--pg-bindir`).
fn bindir(cluster: &sandbox::PgCluster) -> PathBuf {
    cluster
        .client_program("pg_dump")
        .parent()
        .expect("bindir")
        .to_path_buf()
}

#[tokio::test(flavor = "multi_thread")]
async fn backup_court_writes_private_dumps_keeps_the_newest_and_restore_court_suspends_signing() {
    let court = Court::new();
    let agent = court.connect("mbarga").await;
    let secretaire = court.connect("zambo").await;
    let signed_before = verified_fiche(&agent, &secretaire, "Kobila").await;
    court
        .connect("kamdem")
        .await
        .execute("select juris.sign_fiche($1)", &[&signed_before])
        .await
        .expect("sign");
    let later = verified_fiche(&agent, &secretaire, "Atangana").await;

    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("dumps");
    let bin = bindir(&court.cluster);
    for _ in 0..3 {
        let printed = court.xmjuris(&[
            "backup",
            "court",
            "--database",
            &court.admin_conninfo(),
            "--out",
            path_str(&out),
            "--keep",
            "2",
            "--pg-bindir",
            path_str(&bin),
        ]);
        assert!(printed.contains("backup written"), "{printed}");
    }
    let dumps = db::backup::dumps(&out, "court-court").expect("list");
    assert_eq!(dumps.len(), 2, "the 2 newest kept: {dumps:?}");
    assert_eq!(mode(&out), 0o700);
    for d in &dumps {
        assert_eq!(mode(d), 0o600, "{}", d.display());
    }

    // After the dump: a signature (message 2), then the server is lost.
    let greffier = court.connect("kamdem").await;
    greffier
        .execute("select juris.sign_fiche($1)", &[&later])
        .await
        .expect("sign after the backup");
    drop((agent, secretaire, greffier));
    let printed = court.xmjuris(&[
        "backup",
        "restore-court",
        "--file",
        path_str(&dumps[1]),
        "--database",
        &court.admin_conninfo(),
        "--pg-bindir",
        path_str(&bin),
    ]);
    assert!(printed.contains("Recovery 1 open"), "{printed}");

    // The database is the dump's: one message; the staff log in as before; signing waits for
    // the CJN's copy.
    let admin = court.admin().await;
    let messages: i64 = admin
        .query_one("select count(*) from court.outbox", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(messages, 1);
    let greffier = court.connect("kamdem").await;
    let state: serde_json::Value = greffier
        .query_one("select juris.recovery_state()", &[])
        .await
        .expect("recovery state")
        .get(0);
    assert_eq!(state["recovering"], true, "{state}");
    assert_eq!(state["after_seq"], 1, "{state}");
    let refused = greffier
        .execute("select juris.sign_fiche($1)", &[&later])
        .await
        .expect_err("signing is suspended");
    let refused = db::DbError::query("signing", refused);
    assert_eq!(refused.kind(), db::ErrorKind::WrongState);
    assert!(
        refused.to_string().contains("Restauration en cours"),
        "{refused}"
    );
    // New drafts wait too (their number could be one the CJN holds).
    let agent = court.connect("mbarga").await;
    assert!(
        agent
            .execute(
                "select juris.save_fiche($1)",
                &[&common::sample_fiche("Ngono", "Paul")]
            )
            .await
            .is_err()
    );
    // The audit trail says so.
    let audited: i64 = admin
        .query_one(
            "select count(*) from court.audit where action = 'recovery_begin'",
            &[],
        )
        .await
        .expect("audit")
        .get(0);
    assert_eq!(audited, 1);
}

/// The CJN receives the court's message `seq` and the court stores its receipt.
async fn transmit(court: &tokio_postgres::Client, cjn: &tokio_postgres::Client, seq: i64) {
    let payload: serde_json::Value = court
        .query_one("select payload from court.outbox where seq = $1", &[&seq])
        .await
        .expect("outbox")
        .get(0);
    let receipt = ingest(cjn, &payload).await;
    court
        .execute(
            "select juris.store_receipt(($1::jsonb ->> 'message_id')::uuid, $1::jsonb, '\\x3082'::bytea)",
            &[&receipt],
        )
        .await
        .expect("store the receipt");
}

fn reconcile(court: &Court, cjn_url: &str) -> (bool, serde_json::Value) {
    let out = xmjuris_cmd(&[
        "reconcile",
        "--court",
        &court.url("kamdem"),
        "--cjn",
        cjn_url,
        "--json",
    ])
    .output()
    .expect("run reconcile");
    let report = serde_json::from_slice(&out.stdout).expect("a JSON report");
    (out.status.success(), report)
}

/// Copies a folder (a base backup) as it is.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_cjn_restored_to_a_point_in_time_from_a_base_backup_and_its_wal_archive_and_reconcile_names_what_to_resend()
 {
    let court = Court::new();
    // The CJN's cluster, archiving its WAL as docs/backup.md sets it up.
    let cjn_cluster = sandbox::PgCluster::start().expect("start the CJN's PostgreSQL");
    let archive = cjn_cluster.root().join("wal-archive");
    std::fs::create_dir(&archive).expect("archive folder");
    let owner = std::fs::metadata(cjn_cluster.data_dir())
        .expect("data")
        .uid();
    let group = std::fs::metadata(cjn_cluster.data_dir())
        .expect("data")
        .gid();
    std::os::unix::fs::chown(&archive, Some(owner), Some(group)).expect("chown");
    let conf = cjn_cluster.data_dir().join("postgresql.conf");
    let mut text = std::fs::read_to_string(&conf).expect("postgresql.conf");
    text.push_str(&format!(
        "\n# XMJuris: continuous archiving (docs/backup.md)\nwal_level = replica\narchive_mode = on\n\
         archive_command = 'test ! -f {a}/%f && cp %p {a}/%f'\n",
        a = archive.display()
    ));
    std::fs::write(&conf, text).expect("write postgresql.conf");
    cjn_cluster.stop().expect("stop");
    cjn_cluster.start_again().expect("start with archiving");

    cjn_cluster.create_database("cjn").expect("create the CJN");
    let mut migrate = xmjuris_cmd(&["migrate", "--cjn", &cjn_cluster.admin_conninfo("cjn")]);
    cjn_cluster.client_env(&mut migrate);
    assert!(migrate.status().expect("run migrate").success());
    let cjn = db::connect(&cjn_cluster.admin_url("cjn"))
        .await
        .expect("connect to the CJN");
    cjn.batch_execute(&format!(
        "select cjn.register_court('12345', 'Tribunal de Garoua-Boulaï', 'ADAMAOUA', 'FARO ET DEO', 'Biyouha'); \
         create role tg_operator login password '{PASSWORD}' in role cjn_operator;"
    ))
    .await
    .expect("register the court and an operator");
    let cjn_url = cjn_cluster.user_url("tg_operator", PASSWORD, "cjn");

    // Three fiches signed and receipted; then the base backup.
    let agent = court.connect("mbarga").await;
    let secretaire = court.connect("zambo").await;
    let greffier = court.connect("kamdem").await;
    let admin = court.admin().await;
    for name in ["Kobila", "Atangana", "Ngo Bassong", "Fouda", "Essama"] {
        let id = verified_fiche(&agent, &secretaire, name).await;
        greffier
            .execute("select juris.sign_fiche($1)", &[&id])
            .await
            .expect("sign");
    }
    for seq in 1..=3 {
        transmit(&admin, &cjn, seq).await;
    }
    let bases = tempfile::tempdir().expect("tempdir");
    let printed = court.xmjuris_cmd(&[
        "backup",
        "cjn-base",
        "--database",
        &cjn_cluster.admin_conninfo("postgres"),
        "--out",
        path_str(bases.path()),
        "--keep",
        "1",
        "--pg-bindir",
        path_str(&bindir(&cjn_cluster)),
    ]);
    let mut printed = printed;
    cjn_cluster.client_env(&mut printed);
    let out = printed.output().expect("run backup cjn-base");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let base: PathBuf = std::fs::read_dir(bases.path())
        .expect("bases")
        .map(|e| e.expect("entry").path())
        .find(|p| p.is_dir())
        .expect("a base backup");

    // Message 4 after the base backup, a restore point, then message 5; the WAL archived.
    transmit(&admin, &cjn, 4).await;
    cjn.execute("select pg_create_restore_point('before_5')", &[])
        .await
        .expect("restore point");
    transmit(&admin, &cjn, 5).await;
    let wal: String = cjn
        .query_one("select pg_walfile_name(pg_switch_wal())", &[])
        .await
        .expect("switch wal")
        .get(0);
    let start = Instant::now();
    while !archive.join(&wal).exists() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{wal} not archived"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (ok, report) = reconcile(&court, &cjn_url);
    assert!(ok, "{report}");

    // The CJN's server is lost: a new cluster from the base backup and the archive, to the
    // restore point.
    drop(cjn);
    cjn_cluster.stop().expect("stop the CJN");
    let restored_dir = tempfile::tempdir().expect("tempdir");
    let data = restored_dir.path().join("data");
    copy_dir(&base, &data);
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    std::fs::copy(
        cjn_cluster.passfile(),
        restored_dir.path().join("superuser.pgpass"),
    )
    .expect("password file");
    let conf = data.join("postgresql.conf");
    let mut text = std::fs::read_to_string(&conf).expect("postgresql.conf");
    text.push_str(&format!(
        "\n# XMJuris: point-in-time recovery (docs/backup.md)\narchive_mode = off\n\
         restore_command = 'cp {a}/%f %p'\nrecovery_target_name = 'before_5'\n\
         recovery_target_action = 'promote'\n",
        a = archive.display()
    ));
    std::fs::write(&conf, text).expect("write postgresql.conf");
    std::fs::write(data.join("recovery.signal"), "").expect("recovery.signal");
    let restored = sandbox::PgCluster::start_with(sandbox::PgOptions {
        dir: Some(restored_dir.path().to_path_buf()),
        ..Default::default()
    })
    .expect("start the restored CJN");
    let cjn = db::connect(&restored.admin_url("cjn"))
        .await
        .expect("connect to the restored CJN");
    let start = Instant::now();
    loop {
        let recovering: bool = cjn
            .query_one("select pg_is_in_recovery()", &[])
            .await
            .expect("recovery?")
            .get(0);
        if !recovering {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "still recovering"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let seqs: Vec<i64> = cjn
        .query("select seq from registry.message order by seq", &[])
        .await
        .expect("messages")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(seqs, [1, 2, 3, 4], "restored up to the restore point");

    // Reconcile names what the CJN lost and where to resend from.
    let cjn_url = restored.user_url("tg_operator", PASSWORD, "cjn");
    let (ok, report) = reconcile(&court, &cjn_url);
    assert!(!ok, "{report}");
    assert_eq!(report["missing_at_cjn"][0]["seq"], 5, "{report}");
    assert_eq!(report["resend_from"], 5, "{report}");
    let out = xmjuris_cmd(&[
        "reconcile",
        "--court",
        &court.url("kamdem"),
        "--cjn",
        &cjn_url,
    ])
    .output()
    .expect("reconcile");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("xmjuris-listener resend --from-seq 5"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // What `xmjuris-listener resend --from-seq 5` does: message 5 is pending again (in
    // transit: consistent), then the CJN receives it again and the court stores its receipt.
    let n: i32 = admin
        .query_one("select juris.requeue_messages(5)", &[])
        .await
        .expect("requeue")
        .get(0);
    assert_eq!(n, 1);
    let (ok, report) = reconcile(&court, &cjn_url);
    assert!(ok, "{report}");
    assert_eq!(report["in_transit"][0]["seq"], 5, "{report}");
    transmit(&admin, &cjn, 5).await;
    let (ok, report) = reconcile(&court, &cjn_url);
    assert!(ok, "{report}");
    assert_eq!(report["matched"], 5, "{report}");
    assert!(report["resend_from"].is_null(), "{report}");
}

/// The backup units in `deploy/systemd/` pass `systemd-analyze verify` (their `xmjuris` the one
/// just built); skipped where systemd-analyze is missing.
#[test]
fn the_backup_timers_pass_systemd_analyze_verify() {
    if Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("systemd-analyze missing: skipped");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let src: PathBuf = [env!("CARGO_MANIFEST_DIR"), "deploy", "systemd"]
        .iter()
        .collect();
    let mut units = Vec::new();
    for entry in std::fs::read_dir(&src).expect("deploy/systemd") {
        let path = entry.expect("entry").path();
        let text = std::fs::read_to_string(&path).expect("unit");
        let target = dir.path().join(path.file_name().expect("name"));
        std::fs::write(
            &target,
            text.replace("/usr/local/bin/xmjuris", env!("CARGO_BIN_EXE_xmjuris")),
        )
        .expect("write unit");
        units.push(target);
    }
    assert_eq!(units.len(), 4, "{units:?}");
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .args(&units)
        .output()
        .expect("systemd-analyze");
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
