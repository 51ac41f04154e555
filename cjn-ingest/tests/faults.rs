//! The `cjn-ingest` binary killed (`kill -9`) at random moments, and the broker restarted,
//! while several courts send a stream of fiches: at the end each fiche is stored exactly once
//! and every court shows all its fiches archived. Then `status`, SIGTERM (a clean exit),
//! `--once` and `generate-config`. And the CJN database stopped and started again under load.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

const COURTS: [&str; 3] = ["12345", "23456", "34567"];

fn spawn_bin(config: &std::path::Path, log: &std::path::Path, args: &[&str]) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    Command::new(env!("CARGO_BIN_EXE_cjn-ingest"))
        .arg("--config")
        .arg(config)
        .args(args)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start cjn-ingest")
}

fn wait_exit(child: &mut Child, secs: u64) -> Option<std::process::ExitStatus> {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(secs) {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill9_at_random_moments_loses_and_doubles_nothing() {
    let mut w = World::new(&COURTS, &[]).await;
    for c in COURTS {
        w.enroll_in_process(c);
    }
    let config = w.tmp.path().join("cjn-ingest.toml");
    std::fs::write(&config, w.ingest_toml("cjn-1")).unwrap();
    let log = w.tmp.path().join("cjn-ingest.log");
    let mut child = spawn_bin(&config, &log, &[]);
    wait_subscribed(&log, 1).await;
    let _listeners: Vec<_> = COURTS
        .iter()
        .map(|c| spawn_listener(w.listener_config(c)).drop_guard())
        .collect();
    let mut rng = Rng::seeded();
    let mut ids = Vec::new();
    for c in COURTS {
        ids.push(w.verified_fiches(c, 16).await);
    }
    let mut rest: Vec<&[i64]> = ids.iter().map(Vec::as_slice).collect();
    let mut kills = 0;
    while rest.iter().any(|r| !r.is_empty()) {
        let i = rng.below(COURTS.len() as u64) as usize;
        let n = (1 + rng.below(4) as usize).min(rest[i].len());
        let (now, later) = rest[i].split_at(n);
        if !now.is_empty() {
            w.sign(COURTS[i], now).await;
        }
        rest[i] = later;
        tokio::time::sleep(Duration::from_millis(rng.below(300))).await;
        if rng.below(10) == 0 {
            eprintln!("broker restart");
            w.broker.restart().unwrap();
        } else if rng.below(3) == 0 {
            eprintln!("kill -9");
            kills += 1;
            child.kill().unwrap();
            child.wait().unwrap();
            tokio::time::sleep(Duration::from_millis(rng.below(400))).await;
            child = spawn_bin(&config, &log, &[]);
        }
    }
    eprintln!("{kills} kills");
    for (c, ids) in COURTS.iter().zip(&ids) {
        w.wait_archived(c, ids, 90).await;
    }

    let cjn = w.cjn().await;
    for c in COURTS {
        let row = cjn
            .query_one(
                "select count(*), count(distinct seq), min(seq), max(seq), \
                        count(*) filter (where applied_at is null) \
                   from registry.message where court_code = $1",
                &[&c],
            )
            .await
            .unwrap();
        let got: (i64, i64, i64, i64, i64) =
            (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4));
        assert_eq!(
            got,
            (16, 16, 1, 16, 0),
            "court {c}: each message once, all applied"
        );
        let fiches = cjn
            .query_one(
                "select count(*), count(distinct niu) from registry.fiche where court_code = $1",
                &[&c],
            )
            .await
            .unwrap();
        assert_eq!(
            (fiches.get::<_, i64>(0), fiches.get::<_, i64>(1)),
            (16, 16),
            "court {c}: each fiche once"
        );
        let admin = w.court_admin(c).await;
        let nius: Vec<String> = admin
            .query(
                "select niu from court.fiche where niu is not null order by niu",
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        let central: Vec<String> = cjn
            .query(
                "select niu from registry.fiche where court_code = $1 order by niu",
                &[&c],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(nius, central, "court {c}: the same fiches on both sides");
    }
    assert_eq!(count(&cjn, "select count(*) from registry.alarm").await, 0);
    assert_eq!(
        count(&cjn, "select count(*) from registry.quarantine").await,
        0
    );
    assert_eq!(
        count(
            &cjn,
            "select count(*) from registry.sequence_gap where filled_at is null"
        )
        .await,
        0
    );

    // `status` reads the same counts.
    let out = Command::new(env!("CARGO_BIN_EXE_cjn-ingest"))
        .arg("--config")
        .arg(&config)
        .args(["status", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["messages"], 48);
    assert_eq!(status["courts"], 3);
    assert_eq!(status["certificates"], 3);
    assert_eq!(status["quarantined"], 0);

    // SIGTERM: a clean exit.
    let term = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let status = wait_exit(&mut child, 15).expect("cjn-ingest exits after SIGTERM");
    assert!(status.success(), "exit status {status}");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("Stopped."), "the last lines: {}", tail(&text));
    // No personal name reaches the log.
    for name in ["Kobila", "Ngono", "Mangué", "Ekouk"] {
        assert!(!text.contains(name), "{name} in the log");
    }

    // --once: handles what is there, then exits by itself.
    let mut once = spawn_bin(&config, &log, &["--once"]);
    let status = wait_exit(&mut once, 30).expect("--once exits by itself");
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cjn_database_outage_is_waited_out_without_losing_a_message() {
    let w = World::new(&COURTS[..1], &[]).await;
    let c = COURTS[0];
    w.enroll_in_process(c);
    let (stop, daemon) = spawn_ingest(w.ingest_config("cjn-1")).await;
    let _listener = spawn_listener(w.listener_config(c)).drop_guard();
    let ids = w.verified_fiches(c, 6).await;
    w.sign(c, &ids[..1]).await;
    w.wait_archived(c, &ids[..1], 30).await;
    w.cjn_cluster.stop().unwrap();
    // Signed while the CJN database is down: received, not acknowledged, kept for later.
    for id in &ids[1..] {
        w.sign(c, &[*id]).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        w.statuses(c, &ids[1..]).await,
        ["signee"; 5],
        "nothing is receipted while the CJN database is down"
    );
    w.cjn_cluster.start_again().unwrap();
    w.wait_archived(c, &ids, 60).await;
    let cjn = w.cjn().await;
    assert_eq!(
        count(&cjn, "select count(*) from registry.message").await,
        6
    );
    assert_eq!(count(&cjn, "select count(*) from registry.fiche").await, 6);
    assert_eq!(
        count(&cjn, "select count(*) from registry.quarantine").await,
        0
    );
    stop.cancel();
    daemon.await.unwrap().unwrap();
}

#[test]
fn generate_config_prints_a_configuration_that_loads() {
    let out = Command::new(env!("CARGO_BIN_EXE_cjn-ingest"))
        .arg("generate-config")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let config = cjn_ingest::Config::from_toml(&text, []).unwrap();
    assert_eq!(config.broker.username, "cjn-1");
    assert_eq!(config.broker.client_id(), "cjn-1");
    assert!(text.contains("XMJURIS__DATABASE__PASSWORD"));
}

/// Waits until the log shows the `n`-th subscription (the daemon's session exists from then on).
async fn wait_subscribed(log: &std::path::Path, n: usize) {
    wait_for(
        30,
        "cjn-ingest subscribed",
        || async {
            std::fs::read_to_string(log)
                .unwrap_or_default()
                .matches("Subscribed to the courts")
                .count()
        },
        |c| *c >= n,
    )
    .await;
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// The session created at set-up (`cjn-ingest subscribe`, before any listener starts) keeps
/// what a court sends before the daemon first runs: the court's first envelope is handled as
/// soon as the daemon starts, not at the listener's next re-send (set here to an hour). A
/// court's account cannot create that session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_session_made_at_set_up_keeps_what_courts_send_before_the_daemon_runs() {
    let w = World::new(&[COURTS[0]], &[]).await;
    let c = COURTS[0];
    w.enroll_in_process(c);
    let config = w.tmp.path().join("cjn-ingest.toml");
    std::fs::write(&config, w.ingest_toml("cjn-1")).unwrap();

    // A court's account is refused the CJN's subscriptions.
    let court_config = w.tmp.path().join("as-a-court.toml");
    std::fs::write(
        &court_config,
        w.ingest_toml("cjn-1")
            .replace(
                "username = \"cjn-1\"",
                &format!("username = \"{c}\"\nclient_id = \"court-{c}\""),
            )
            .replace(CJN_BROKER_PASSWORD, &broker_password(c)),
    )
    .unwrap();
    let refused = Command::new(env!("CARGO_BIN_EXE_cjn-ingest"))
        .args(["--config", court_config.to_str().unwrap(), "subscribe"])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success(),
        "a court made the CJN's session: {said}"
    );
    assert!(said.contains("subscription refused"), "{said}");

    let out = Command::new(env!("CARGO_BIN_EXE_cjn-ingest"))
        .args(["--config", config.to_str().unwrap(), "subscribe"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("Session `cjn-1` ready"));

    // The court signs and its listener sends, once, while no cjn-ingest runs.
    let ids = w.verified_fiches(c, 3).await;
    w.sign(c, &ids).await;
    let mut listener = w.listener_config(c);
    listener.transmission.resend_after_secs = 3600;
    let _listener = spawn_listener(listener).drop_guard();
    let admin = w.court_admin(c).await;
    eventually(30, "the listener sent the envelope", || async {
        count(
            &admin,
            "select count(*) from court.outbox where sent_at is not null",
        )
        .await
            == 3
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Now the daemon: the envelope was waiting for it.
    let (stop, daemon) = spawn_ingest(w.ingest_config("cjn-1")).await;
    w.wait_archived(c, &ids, 30).await;
    stop.cancel();
    daemon.await.unwrap().unwrap();
}
