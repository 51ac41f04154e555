//! Throughput through an emulated satellite link: a relay between the listener and the broker
//! that limits each direction to 15 kbit/s and adds 300 ms each way (600 ms round trip), with
//! the real CJN (`cjn-ingest` in process, its own PostgreSQL, on the broker's side of the link).
//! Prints fiches per minute from the listener's start (or the first signature) to the last
//! receipt, and bytes on the wire per fiche. Run on demand:
//! `cargo test -p listener --test satellite -- --ignored --nocapture`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::real_cjn;
use common::*;
use tokio::time::Instant;

/// The emulated link: 15 kbit/s each way, 300 ms each way (600 ms round trip).
const BITS_PER_SEC: u64 = 15_000;
const ONE_WAY: Duration = Duration::from_millis(300);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark (about 30 s for 200 fiches); run with --ignored --nocapture"]
async fn satellite_link_fiches_per_minute() {
    let n: usize = std::env::var("XMJURIS_BENCH_FICHES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    // With XMJURIS_BENCH_TRICKLE_MS, one fiche is signed every so many ms while the listener
    // runs (sustained load); otherwise all are signed first (a backlog after an outage).
    let trickle_ms: Option<u64> = std::env::var("XMJURIS_BENCH_TRICKLE_MS")
        .ok()
        .and_then(|v| v.parse().ok());
    const A: &str = "12345";
    let w = real_cjn::World::new(&[A], &[]).await;
    w.enroll_in_process(A);
    let ids = w.verified_fiches(A, n).await;
    if trickle_ms.is_none() {
        w.sign(A, &ids).await;
    }
    let (stop_cjn, daemon) = real_cjn::spawn_ingest(w.ingest_config("cjn-1")).await;
    let relay = sandbox::SlowRelay::start(w.broker.port(), BITS_PER_SEC, ONE_WAY).unwrap();
    let port = relay.port();
    // The production defaults for batching and windows.
    let text = real_listener_toml(&w, A, port)
        .replace("max_envelope_bytes = 8192", "max_envelope_bytes = 16384")
        .replace("max_batch_messages = 20", "max_batch_messages = 50")
        .replace("resend_after_secs = 8", "resend_after_secs = 300")
        .replace("keep_alive_secs = 30", "keep_alive_secs = 600");
    let config = listener::Config::from_toml(&text, []).unwrap();
    let (stop, handle) = spawn_listener(config.clone());
    let mut t0 = std::time::Instant::now();
    if let Some(ms) = trickle_ms {
        // Let the listener connect first.
        while listener::status(&config).await.unwrap()["last_contact"].is_null() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        t0 = std::time::Instant::now();
        let start = Instant::now();
        for (i, id) in ids.iter().enumerate() {
            tokio::time::sleep_until(start + Duration::from_millis(ms * i as u64)).await;
            w.sign(A, &[*id]).await;
        }
    }
    w.wait_archived(A, &ids, 1200).await;
    // From the start of the listener (backlog) or the first signature (trickle).
    let secs = t0.elapsed().as_secs_f64();
    let (up, down) = (relay.bytes_up(), relay.bytes_down());
    stop.cancel();
    handle.await.unwrap().unwrap();
    stop_cjn.cancel();
    daemon.await.unwrap().unwrap();
    let mode = match trickle_ms {
        Some(ms) => format!("one signed every {ms} ms"),
        None => "all signed before the start".into(),
    };
    println!(
        "{n} fiches ({mode}) through 15 kbit/s, 600 ms RTT: {secs:.1} s to the last receipt, \
         {:.0} fiches/min; bytes on the wire per fiche: {:.0} up, {:.0} down",
        n as f64 / secs * 60.0,
        up as f64 / n as f64,
        down as f64 / n as f64
    );
}
