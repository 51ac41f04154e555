//! The listener binary killed (`kill -9`) at random moments, the broker restarted and the link
//! cut while fiches are signed: at the end the CJN holds each message exactly once and every
//! fiche is archived. Then SIGTERM stops it cleanly, and `status` reports it all.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashSet;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;

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
    let mut w = World::new().await;
    let relay = Relay::start(w.broker.port()).await;
    let _cjn = cjn_responder(&w).await;
    let cjn = _cjn.log.clone();
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("seed {seed}");
    let mut rng = Rng(seed);
    let config = w.tmp.path().join("listener.toml");
    std::fs::write(
        &config,
        w.config_toml().replace(
            &format!("port = {}\n", w.broker.port()),
            &format!("port = {}\n", relay.port),
        ),
    )
    .unwrap();
    let log = w.tmp.path().join("listener.log");
    let mut child = spawn_bin(&config, &log);
    let ids = w.verified_fiches(40).await;
    let mut signed = Vec::new();
    let mut rest = ids.as_slice();
    while !rest.is_empty() {
        let n = (1 + rng.below(5) as usize).min(rest.len());
        let (now, later) = rest.split_at(n);
        w.sign(now).await;
        signed.extend_from_slice(now);
        rest = later;
        tokio::time::sleep(Duration::from_millis(rng.below(400))).await;
        match rng.below(4) {
            0 => {
                eprintln!("kill -9");
                child.kill().unwrap();
                child.wait().unwrap();
                tokio::time::sleep(Duration::from_millis(rng.below(500))).await;
                child = spawn_bin(&config, &log);
            }
            1 => {
                eprintln!("broker restart");
                w.broker.restart().unwrap();
            }
            2 => {
                eprintln!("link cut");
                relay.cut();
                tokio::time::sleep(Duration::from_millis(200 + rng.below(1500))).await;
                relay.restore();
            }
            _ => {}
        }
    }
    w.wait_archived(&signed, 120).await;
    let outbox: HashSet<_> = w.outbox_ids().await.into_iter().collect();
    {
        let log = cjn.lock().unwrap();
        let stored: HashSet<_> = log.stored.iter().copied().collect();
        assert_eq!(log.stored.len(), stored.len(), "stored once each");
        assert_eq!(stored, outbox, "every message reached the CJN");
        let resent = log.received.values().filter(|n| **n > 1).count();
        eprintln!(
            "{} messages, {} received more than once (answered with the same receipt)",
            outbox.len(),
            resent
        );
    }
    let admin = w.admin().await;
    let pending: i64 = admin
        .query_one(
            "select count(*) from court.outbox where state <> 'acknowledged'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(pending, 0);

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_mode_binary_sends_and_exits() {
    let w = World::new().await;
    let ids = w.verified_fiches(2).await;
    w.sign(&ids).await;
    let _cjn = cjn_responder(&w).await;
    let config = w.tmp.path().join("listener.toml");
    std::fs::write(&config, w.config_toml()).unwrap();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_xmjuris-listener"))
            .arg("--config")
            .arg(&config)
            .arg("--once")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(w.statuses(&ids).await, ["archivee", "archivee"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_restart_is_waited_out() {
    let w = World::new().await;
    let _cjn = cjn_responder(&w).await;
    let (stop, handle) = spawn_listener(w.config());
    let ids = w.verified_fiches(2).await;
    w.sign(&ids[..1]).await;
    w.wait_archived(&ids[..1], 30).await;
    w.cluster.stop().unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let out = w
        .cluster
        .command("pg_ctl")
        .arg("start")
        .arg("-w")
        .arg("-D")
        .arg(w.cluster.data_dir())
        .arg("-l")
        .arg(w.cluster.log_file())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Signed after the restart: the listener LISTENs again and sends it.
    w.sign(&ids[1..]).await;
    w.wait_archived(&ids, 60).await;
    stop.cancel();
    handle.await.unwrap().unwrap();
}
