//! `xmjuris replica`: a streaming replica of the CJN's database made with pg_basebackup, where a
//! statistician reads the `stat` schema while ingest goes on at the primary; the replica
//! refuses writes, catches up by itself, and a second run changes nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Court, PASSWORD, ingest, verified_fiche};

/// Signs fiches for `names` at the court and ingests their messages at the CJN.
async fn sign_and_ingest(court: &Court, cjn: &tokio_postgres::Client, names: &[&str]) {
    let agent = court.connect("mbarga").await;
    let secretaire = court.connect("zambo").await;
    let greffier = court.connect("kamdem").await;
    let admin = court.admin().await;
    for name in names {
        let id = verified_fiche(&agent, &secretaire, name).await;
        greffier
            .execute("select juris.sign_fiche($1)", &[&id])
            .await
            .expect("sign");
        let payload: serde_json::Value = admin
            .query_one(
                "select payload from court.outbox where fiche_id = $1 order by seq desc limit 1",
                &[&id],
            )
            .await
            .expect("its message")
            .get(0);
        ingest(cjn, &payload).await;
    }
}

/// Stops the replica's server when the test ends (the primary's sandbox stops its own).
struct Stop<'a>(&'a Path);

impl Drop for Stop<'_> {
    fn drop(&mut self) {
        let mut cmd = if sandbox::running_as_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--", "pg_ctl"]);
            c
        } else {
            Command::new("pg_ctl")
        };
        let bindir = std::fs::read_dir("/usr/lib/postgresql")
            .ok()
            .and_then(|d| d.filter_map(|e| e.ok()).map(|e| e.path().join("bin")).max());
        if let Some(b) = bindir {
            let path = std::env::var("PATH").unwrap_or_default();
            cmd.env("PATH", format!("{}:{path}", b.display()));
        }
        let _ = cmd
            .args(["stop", "-m", "immediate", "-D"])
            .arg(self.0)
            .output();
    }
}

async fn activity(client: &tokio_postgres::Client) -> i64 {
    client
        .query_one(
            "select coalesce(sum(fiches_signed), 0)::bigint from stat.court_activity",
            &[],
        )
        .await
        .expect("stat.court_activity")
        .get(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn statistics_answer_on_the_replica_while_ingest_goes_on_at_the_primary() {
    let court = Court::new();
    court
        .cluster
        .create_database("cjn")
        .expect("create the CJN");
    court.xmjuris(&["migrate", "--cjn", &court.cluster.admin_conninfo("cjn")]);
    let cjn = db::connect(&court.cluster.admin_url("cjn"))
        .await
        .expect("connect to the CJN");
    cjn.batch_execute(&format!(
        "select cjn.register_court('12345', 'Tribunal de Garoua-Boulaï', 'ADAMAOUA', 'FARO ET DEO', 'Biyouha'); \
         create role tg_stat login password '{PASSWORD}' in role cjn_statistician;"
    ))
    .await
    .expect("register the court and a statistician");
    sign_and_ingest(&court, &cjn, &["Kobila", "Atangana", "Ngo Bassong"]).await;

    // Without a replication line in the primary's pg_hba.conf: refused, saying which line.
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    let pgdata = root.join("replica");
    let sockets = root.join("sockets");
    std::fs::create_dir_all(&sockets).unwrap();
    if sandbox::running_as_root() {
        let (uid, gid) = sandbox::system_user("postgres").unwrap();
        sandbox::chown_recursive(root, uid, gid).unwrap();
    }
    let replica_port = sandbox::free_port().unwrap();
    let primary_port = court.cluster.port().to_string();
    let replica_port_s = replica_port.to_string();
    let args = [
        "replica",
        "--primary",
        &court.cluster.admin_conninfo("cjn"),
        "--primary-host",
        "127.0.0.1",
        "--primary-port",
        &primary_port,
        "--pgdata",
        pgdata.to_str().unwrap(),
        "--port",
        &replica_port_s,
        "--socket-dir",
        sockets.to_str().unwrap(),
        "--start",
    ];
    let hba = court.cluster.data_dir().join("pg_hba.conf");
    let sandbox_hba = std::fs::read_to_string(&hba).unwrap();
    let without: String = sandbox_hba
        .lines()
        .filter(|l| !l.contains("replication"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&hba, without).unwrap();
    cjn.batch_execute("select pg_reload_conf()").await.unwrap();
    let refused = court.xmjuris_cmd(&args).output().expect("run xmjuris");
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("host replication cjn_replication"), "{said}");
    assert!(!pgdata.join("PG_VERSION").exists(), "nothing made");

    let mut lines: String = sandbox_hba
        .lines()
        .filter(|l| !l.contains("replication"))
        .map(|l| format!("{l}\n"))
        .collect();
    lines.push_str("host replication cjn_replication 127.0.0.1/32 scram-sha-256\n");
    std::fs::write(&hba, lines).unwrap();
    cjn.batch_execute("select pg_reload_conf()").await.unwrap();

    let _stop = Stop(&pgdata);
    let out = court.xmjuris_cmd(&args).output().expect("run xmjuris");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{said}");
    assert!(
        said.contains("The replica streams from the primary"),
        "{said}"
    );
    let passfile = root.join("cjn_replica.pgpass");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&passfile).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o600, "the replication password is private");

    // The statistician reads the replica, which refuses writes.
    let url =
        format!("host=127.0.0.1 port={replica_port} user=tg_stat password='{PASSWORD}' dbname=cjn");
    let stat = db::connect(&url)
        .await
        .expect("the statistician on the replica");
    let in_recovery: bool = stat
        .query_one("select pg_is_in_recovery()", &[])
        .await
        .unwrap()
        .get(0);
    assert!(in_recovery, "a replica");
    assert_eq!(activity(&stat).await, 3);
    let convictions = stat
        .query(
            "select people, suppressed from stat.convictions(array['year'])",
            &[],
        )
        .await
        .expect("stat.convictions on the replica");
    assert!(!convictions.is_empty());
    let write = stat
        .batch_execute("create temporary table t (x int); insert into stat.settings values (1)")
        .await
        .expect_err("a write on the replica");
    assert!(
        write.to_string().contains("read-only") || format!("{write:?}").contains("read-only"),
        "{write:?}"
    );

    // A long statistics query on the replica while three more fiches are ingested at the
    // primary: both finish, the query with the snapshot it began with.
    let long = tokio::spawn(async move {
        let row = stat
            .query_one(
                "select (select coalesce(sum(fiches_signed), 0)::bigint from stat.court_activity), \
                 pg_sleep(2)::text",
                &[],
            )
            .await
            .expect("a long query on the replica");
        (row.get::<_, i64>(0), stat)
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    sign_and_ingest(&court, &cjn, &["Mvondo", "Ekotto", "Abena"]).await;
    let (seen, stat) = long.await.unwrap();
    assert_eq!(seen, 3, "the long query kept its snapshot");
    let primary_now = activity(&cjn).await;
    assert_eq!(primary_now, 6);
    let start = Instant::now();
    while activity(&stat).await != primary_now {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the replica does not catch up"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Again: nothing changes.
    let again = court.xmjuris_cmd(&args).output().expect("run xmjuris");
    let said = String::from_utf8_lossy(&again.stderr);
    assert!(again.status.success(), "{said}");
    assert!(
        said.contains("already holds a replica: nothing changed"),
        "{said}"
    );
}
