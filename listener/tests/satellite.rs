//! The link as a court pays for it, through an emulated satellite link: a relay between the
//! listener and the broker that limits each direction's rate and adds 300 ms each way (600 ms
//! round trip), with the real CJN (`cjn-ingest` in process, its own PostgreSQL, on the broker's
//! side of the link). Three benchmarks, run on demand (`--ignored --nocapture`), each printing
//! its figures (bench/RESULTS.md § Link and satellite):
//! - [`satellite_link_fiches_per_minute`]: a backlog (or a trickle) at 15 kbit/s each way:
//!   fiches per minute to the last receipt, bytes on the wire per fiche;
//! - [`satellite_link_one_fiche_to_archived`]: a fiche signed alone on an idle link (15 kbit/s
//!   up, 60 kbit/s down): time from the signature to "archivee" at the court, median and p95,
//!   beside the link's floor for the same bytes;
//! - [`satellite_link_idle_bytes`]: the bytes a court exchanges with nothing to send
//!   (keep-alives), and those of a revocation list published to every court, extrapolated to a
//!   month.
//!
//! `cargo test -p listener --test satellite -- --ignored --nocapture`
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::real_cjn;
use common::*;
use tokio::time::Instant;

/// The emulated link: 15 kbit/s each way, 300 ms each way (600 ms round trip).
const BITS_PER_SEC: u64 = 15_000;
/// A VSAT terminal's way back from the hub (the link: 15 kbit/s up, 60 kbit/s down).
const DOWN_BITS_PER_SEC: u64 = 60_000;
const ONE_WAY: Duration = Duration::from_millis(300);
const A: &str = "12345";

/// The listener's production configuration (listener::config::DEFAULT_TOML's transmission and
/// keep-alive), against the real CJN's world, through `port`.
fn production_listener(w: &real_cjn::World, port: u16) -> listener::Config {
    let text = real_listener_toml(w, A, port)
        .replace("max_envelope_bytes = 8192", "max_envelope_bytes = 16384")
        .replace("max_batch_messages = 20", "max_batch_messages = 50")
        .replace("resend_after_secs = 8", "resend_after_secs = 300")
        .replace("poll_interval_secs = 2", "poll_interval_secs = 60")
        .replace("keep_alive_secs = 30", "keep_alive_secs = 600");
    listener::Config::from_toml(&text, []).unwrap()
}

/// Waits until the listener has been in contact with the broker.
/// The satellite link as a court pays for it: 15 kbit/s up, 60 down, 600 ms round trip.
fn asymmetric_link(w: &real_cjn::World) -> sandbox::SlowRelay {
    sandbox::SlowRelay::start_asymmetric(w.broker.port(), BITS_PER_SEC, DOWN_BITS_PER_SEC, ONE_WAY)
        .unwrap()
}

async fn wait_connected(config: &listener::Config) {
    while listener::status(config).await.unwrap()["last_contact"].is_null() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The value at quantile `q` of sorted values (nearest rank).
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

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
    let w = real_cjn::World::new(&[A], &[]).await;
    w.enroll_in_process(A);
    let ids = w.verified_fiches(A, n).await;
    if trickle_ms.is_none() {
        w.sign(A, &ids).await;
    }
    let (stop_cjn, daemon) = real_cjn::spawn_ingest(w.ingest_config("cjn-1")).await;
    let relay = sandbox::SlowRelay::start(w.broker.port(), BITS_PER_SEC, ONE_WAY).unwrap();
    let port = relay.port();
    let config = production_listener(&w, port);
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark (about 1 min for 20 fiches); run with --ignored --nocapture"]
async fn satellite_link_one_fiche_to_archived() {
    let n: usize = std::env::var("XMJURIS_BENCH_FICHES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let w = real_cjn::World::new(&[A], &[]).await;
    w.enroll_in_process(A);
    let ids = w.verified_fiches(A, n).await;
    let (stop_cjn, daemon) = real_cjn::spawn_ingest(w.ingest_config("cjn-1")).await;
    let relay = asymmetric_link(&w);
    let config = production_listener(&w, relay.port());
    let (stop, handle) = spawn_listener(config.clone());
    wait_connected(&config).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let court = w.court_admin(A).await;
    let (mut times, mut floors, mut ups, mut downs) = (vec![], vec![], vec![], vec![]);
    for id in &ids {
        let (up0, down0) = (relay.bytes_up(), relay.bytes_down());
        let t0 = std::time::Instant::now();
        w.sign(A, &[*id]).await;
        loop {
            let status: String = court
                .query_one(
                    "select status::text from court.fiche where fiche_id = $1",
                    &[id],
                )
                .await
                .unwrap()
                .get(0);
            if status == "archivee" {
                break;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(60),
                "fiche {id} not archived"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        times.push(t0.elapsed().as_secs_f64());
        // The link idle again (the receipt's acknowledgement crosses it) before the next one.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let (up, down) = (relay.bytes_up() - up0, relay.bytes_down() - down0);
        ups.push(up as f64);
        downs.push(down as f64);
        // What the link alone costs for these bytes: one way there, one way back, and each
        // direction's bytes at its rate.
        floors.push(
            2.0 * ONE_WAY.as_secs_f64()
                + up as f64 * 8.0 / BITS_PER_SEC as f64
                + down as f64 * 8.0 / DOWN_BITS_PER_SEC as f64,
        );
    }
    stop.cancel();
    handle.await.unwrap().unwrap();
    stop_cjn.cancel();
    daemon.await.unwrap().unwrap();
    for v in [&mut times, &mut floors, &mut ups, &mut downs] {
        v.sort_by(f64::total_cmp);
    }
    let (p50, p95) = (quantile(&times, 0.5), quantile(&times, 0.95));
    let floor = quantile(&floors, 0.5);
    println!(
        "{n} fiches signed one at a time on an idle link (15 kbit/s up, 60 kbit/s down, 600 ms RTT): \
         signature to archived median {p50:.2} s, p95 {p95:.2} s, max {:.2} s; \
         link floor for the same bytes {floor:.2} s (median {:.1} × the floor); \
         bytes per fiche (median) {:.0} up, {:.0} down",
        times[times.len() - 1],
        p50 / floor,
        quantile(&ups, 0.5),
        quantile(&downs, 0.5),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark (XMJURIS_BENCH_IDLE_SECS, 1 800 s by default); run with --ignored --nocapture"]
async fn satellite_link_idle_bytes() {
    let idle_secs: u64 = std::env::var("XMJURIS_BENCH_IDLE_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1800);
    const B: &str = "54321";
    let w = real_cjn::World::new(&[A], &[B]).await;
    w.enroll_in_process(A);
    w.enroll_in_process(B);
    // cjn-ingest as in production: the revocation list published at start, on change (a
    // revocation, or signed again at half its validity), and again every
    // crl_publish_interval_secs (its default, a week).
    let ingest_toml = w.ingest_toml("cjn-1").replace(
        "crl_publish_interval_secs = 3600",
        "crl_publish_interval_secs = 604800",
    );
    let ingest = cjn_ingest::Config::from_toml(&ingest_toml, []).unwrap();
    assert_eq!(
        ingest.ingest.crl_publish_interval_secs,
        cjn_ingest::Config::from_toml(cjn_ingest::config::DEFAULT_TOML, [])
            .unwrap()
            .ingest
            .crl_publish_interval_secs,
        "the benchmark runs cjn-ingest's default"
    );
    let publish_interval = ingest.ingest.crl_publish_interval_secs;
    let (stop_cjn, daemon) = real_cjn::spawn_ingest(ingest).await;
    let relay = asymmetric_link(&w);
    let config = production_listener(&w, relay.port());
    let keep_alive = config.broker.keep_alive_secs;
    let (stop, handle) = spawn_listener(config.clone());
    wait_connected(&config).await;
    // The connection's start (session, subscriptions, the retained revocation list) is over.
    tokio::time::sleep(Duration::from_secs(10)).await;
    let (up0, down0) = (relay.bytes_up(), relay.bytes_down());
    let (cu0, cd0) = (relay.chunks_up(), relay.chunks_down());
    tokio::time::sleep(Duration::from_secs(idle_secs)).await;
    let (idle_up, idle_down) = (relay.bytes_up() - up0, relay.bytes_down() - down0);
    let idle_chunks = relay.chunks_up() - cu0 + relay.chunks_down() - cd0;
    // A revocation (another court's certificate): the new list reaches every court at once.
    let (up1, down1) = (relay.bytes_up(), relay.bytes_down());
    let (cu1, cd1) = (relay.chunks_up(), relay.chunks_down());
    w.pki.revoke(B.parse().unwrap()).unwrap();
    tokio::time::sleep(Duration::from_secs(15)).await;
    let crl_bytes = relay.bytes_up() - up1 + relay.bytes_down() - down1;
    let crl_chunks = relay.chunks_up() - cu1 + relay.chunks_down() - cd1;
    stop.cancel();
    handle.await.unwrap().unwrap();
    stop_cjn.cancel();
    daemon.await.unwrap().unwrap();
    assert!(crl_bytes > 0, "the new revocation list reached the court");
    // TCP/IP headers: 40 bytes (IPv4 and TCP, no options) on each packet, and a bare
    // acknowledgement (40 bytes) for each, as the link bills them; chunks stand for packets.
    const HEADERS: f64 = 80.0;
    let month = 30.0 * 86_400.0;
    let idle_wire = (idle_up + idle_down) as f64 + HEADERS * idle_chunks as f64;
    let crl_wire = crl_bytes as f64 + HEADERS * crl_chunks as f64;
    let per_month_idle = idle_wire / idle_secs as f64 * month;
    // Lists a month: one every crl_publish_interval_secs, and one each time the list is signed
    // again (every CRL_DAYS / 2 days), the ones a revocation sends besides.
    let lists = month / publish_interval as f64 + 30.0 / f64::from(protocol::pki::CRL_DAYS / 2);
    let per_month_crl = crl_wire * lists;
    println!(
        "idle court for {idle_secs} s (keep-alive {keep_alive} s): {idle_up} bytes up, {idle_down} down \
         in {idle_chunks} packets ({idle_wire:.0} bytes with TCP/IP headers); \
         a revocation list published: {crl_bytes} bytes in {crl_chunks} packets ({crl_wire:.0} with headers); \
         a month: {:.0} kB idle + {:.0} kB for {lists:.1} lists = {:.0} kB",
        per_month_idle / 1000.0,
        per_month_crl / 1000.0,
        (per_month_idle + per_month_crl) / 1000.0,
    );
}
