//! The listener binary killed (`kill -9`) at random moments, the broker restarted and the link
//! cut while fiches are signed, with the real CJN (`cjn-ingest` in process): at the end the CJN
//! holds each message exactly once and every fiche is archived. Then SIGTERM stops it cleanly,
//! and `status` reports it all. (`--once` and a restart of the court's PostgreSQL are in
//! `transmission.rs`.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::real_cjn::{self, count};
use common::*;

const A: &str = "12345";

fn spawn_bin(config: &std::path::Path, log: &std::path::Path) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    Command::new(env!("CARGO_BIN_EXE_xmjuris-listener"))
        .arg("--config")
        .arg(config)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start xmjuris-listener")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill9_broker_restarts_and_cut_links_lose_and_double_nothing() {
    let mut w = real_cjn::World::new(&[A], &[]).await;
    w.enroll_in_process(A);
    let (stop_cjn, daemon) = real_cjn::spawn_ingest(w.ingest_config("cjn-1")).await;
    let relay = Relay::start(w.broker.port()).await;
    let mut rng = real_cjn::Rng::seeded();
    let config = w.tmp.path().join("listener.toml");
    std::fs::write(&config, real_listener_toml(&w, A, relay.port)).unwrap();
    let log = w.tmp.path().join("listener.log");
    let mut child = spawn_bin(&config, &log);
    let ids = w.verified_fiches(A, 40).await;
    let mut signed = Vec::new();
    let mut rest = ids.as_slice();
    let (mut kills, mut restarts, mut cuts) = (0, 0, 0);
    while !rest.is_empty() {
        let n = (1 + rng.below(5) as usize).min(rest.len());
        let (now, later) = rest.split_at(n);
        w.sign(A, now).await;
        signed.extend_from_slice(now);
        rest = later;
        tokio::time::sleep(Duration::from_millis(rng.below(400))).await;
        match rng.below(4) {
            0 => {
                kills += 1;
                child.kill().unwrap();
                child.wait().unwrap();
                tokio::time::sleep(Duration::from_millis(rng.below(500))).await;
                child = spawn_bin(&config, &log);
            }
            1 => {
                restarts += 1;
                w.broker.restart().unwrap();
            }
            2 => {
                cuts += 1;
                relay.cut();
                tokio::time::sleep(Duration::from_millis(200 + rng.below(1500))).await;
                relay.restore();
            }
            _ => {}
        }
    }
    eprintln!("{kills} kill -9, {restarts} broker restarts, {cuts} link cuts");
    w.wait_archived(A, &signed, 120).await;

    // The CJN holds each of the court's messages exactly once (its primary key is the message
    // id: the count is the proof), in sequence, none missing, no alarm.
    let outbox = real_outbox_ids(&w, A).await;
    assert_eq!(outbox.len(), signed.len());
    let cjn = w.cjn().await;
    assert_eq!(cjn_message_ids(&cjn, A).await, outbox);
    assert_eq!(
        count(&cjn, "select count(*) from registry.fiche").await,
        signed.len() as i64
    );
    assert_eq!(
        count(
            &cjn,
            "select count(*) from registry.sequence_gap where filled_at is null"
        )
        .await,
        0
    );
    assert_eq!(count(&cjn, "select count(*) from registry.alarm").await, 0);
    let admin = w.court_admin(A).await;
    assert_eq!(
        count(
            &admin,
            "select count(*) from court.outbox where state <> 'acknowledged'"
        )
        .await,
        0
    );

    // SIGTERM: a clean exit.
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    let start = std::time::Instant::now();
    let exit = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "no exit after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(exit.success(), "exit after SIGTERM: {exit}");

    // The operator's status line.
    let out = Command::new(env!("CARGO_BIN_EXE_xmjuris-listener"))
        .arg("--config")
        .arg(&config)
        .arg("status")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains(&format!("acknowledged {}", signed.len())),
        "{text}"
    );
    assert!(text.contains("pending 0"), "{text}");
    let logs = std::fs::read_to_string(&log).unwrap();
    for name in ["Kobila", "Ngono", "Abena", "Fouda", "Mangué"] {
        assert!(!logs.contains(name), "no names in the logs");
    }
    stop_cjn.cancel();
    daemon.await.unwrap().unwrap();
}

#[test]
fn generate_config_prints_a_valid_commented_default() {
    let out = Command::new(env!("CARGO_BIN_EXE_xmjuris-listener"))
        .arg("generate-config")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("# "));
    let c = listener::Config::from_toml(&text, []).unwrap();
    assert_eq!(c.broker.keep_alive_secs, 600);
}
