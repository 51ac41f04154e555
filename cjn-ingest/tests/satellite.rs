//! End-to-end time of a request for an extract from a court behind an emulated satellite link
//! (15 kbit/s each way, 300 ms each way: `sandbox::SlowRelay` between court A's listener and the
//! broker), all real parts: court A's `juris.request_extract` → its listener → the link → the
//! broker → cjn-ingest (`cjn.extract`, the seal) → the broker → the link → the listener stores
//! the answer (state `answered`). The person's two fiches were signed at courts B and C, whose
//! listeners reach the broker directly. Prints, for an answer with 2 entries and for "Néant",
//! the median time from the request to the stored answer (from the databases' timestamps, and
//! as the client saw it polling every 150 ms) and its parts, and the bytes that crossed the link
//! each way per request. Run on demand:
//! `cargo test -p cjn-ingest --test satellite -- --ignored --nocapture`
//! (`XMJURIS_BENCH_REQUESTS`: requests of each kind, default 10).
//!
//! The CJN's database here holds only the test's fiches: the cost of `cjn.extract` on a full
//! registry is measured by `cargo run --release -p bench --bin extract`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::*;

const A: &str = "12345";
const B: &str = "23456";
const C: &str = "34567";

async fn staff(w: &World, code: &str, login: &str) -> tokio_postgres::Client {
    db::connect(&w.court_cluster.user_url(login, PASSWORD, &court_db(code)))
        .await
        .unwrap()
}

/// Saves, submits, verifies and signs one fiche at a court; its id.
async fn signed(w: &World, code: &str, fiche: serde_json::Value) -> i64 {
    let agent = staff(w, code, &format!("a{code}")).await;
    let sec = staff(w, code, &format!("s{code}")).await;
    let greffier = staff(w, code, &format!("g{code}")).await;
    let id: i64 = agent
        .query_one("select juris.save_fiche($1)", &[&fiche])
        .await
        .unwrap()
        .get(0);
    agent
        .execute("select juris.submit_fiche($1)", &[&id])
        .await
        .unwrap();
    sec.execute("select juris.verify_fiche($1)", &[&id])
        .await
        .unwrap();
    greffier
        .execute("select juris.sign_fiche($1)", &[&id])
        .await
        .unwrap();
    id
}

fn kobila(
    surname: &str,
    given: &str,
    date: &str,
    class: &str,
    months: i32,
    suspended: i32,
) -> serde_json::Value {
    let mut f = sample_fiche(surname);
    f["justiciable"]["given_names"] = given.into();
    f["condamnation"]["conviction_date"] = date.into();
    f["condamnation"]["offence_date"] = date.into();
    f["condamnation"]["offence_class"] = class.into();
    f["condamnation"]["sentence_months"] = months.into();
    f["condamnation"]["suspended_months"] = suspended.into();
    f
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        f64::NAN
    } else {
        v[v.len() / 2]
    }
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

#[derive(Default)]
struct Runs {
    wall_ms: Vec<f64>,
    total_ms: Vec<f64>,
    to_sent_ms: Vec<f64>,
    sent_to_cjn_ms: Vec<f64>,
    cjn_to_stored_ms: Vec<f64>,
    up: Vec<f64>,
    down: Vec<f64>,
    sealed: Vec<f64>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark (about a minute); run with --ignored --nocapture"]
async fn extract_request_through_a_15_kbit_600_ms_link() {
    let n: usize = std::env::var("XMJURIS_BENCH_REQUESTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let w = World::new(&[A, B, C], &[]).await;
    for c in [A, B, C] {
        w.enroll_in_process(c);
    }
    let (stop, daemon) = spawn_ingest(w.ingest_config("cjn-1")).await;
    let direct: Vec<_> = [B, C]
        .iter()
        .map(|c| spawn_listener(w.listener_config(c)))
        .collect();
    // Kobila Mangué: a délit at B, a crime at C — both on bulletin n°1.
    let b1 = signed(
        &w,
        B,
        kobila("Kobila", "Mangué", "2018-06-18", "delit", 24, 12),
    )
    .await;
    let c1 = signed(
        &w,
        C,
        kobila("KOBILA", "MANGUE", "2021-03-02", "crime", 36, 0),
    )
    .await;
    w.wait_archived(B, &[b1], 60).await;
    w.wait_archived(C, &[c1], 60).await;

    // Court A behind the link, with the production keep-alive (no pings during the runs).
    let relay =
        sandbox::SlowRelay::start(w.broker.port(), 15_000, Duration::from_millis(300)).unwrap();
    let mut config = w.listener_config(A);
    config.broker.port = relay.port();
    config.broker.keep_alive_secs = 600;
    let stop_a = spawn_listener(config.clone());
    eventually(
        60,
        "court A's listener connected through the link",
        || async { !listener::status(&config).await.unwrap()["last_contact"].is_null() },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;

    let greffier = staff(&w, A, &format!("g{A}")).await;
    let court = w.court_admin(A).await;
    let cjn = w.cjn().await;
    let known = serde_json::json!({
        "surname": "Kobila", "given_names": "Mangué", "birth_date": "1987-04-17",
        "birth_place": "Ekouk", "father": "Bikoula Mendomo", "mother": "Atouba Fabienne"
    });
    let unknown = serde_json::json!({
        "surname": "Essomba", "given_names": "Rose Clarisse", "birth_date": "1975-12-24",
        "birth_place": "Mbalmayo", "father": "Essomba Paul", "mother": "Ngo Bassong Marie"
    });
    let kinds = [
        ("bulletin n°1, 2 entries", known, 1, 2),
        ("bulletin n°3, néant", unknown, 3, 0),
    ];
    let mut runs: Vec<Runs> = kinds.iter().map(|_| Runs::default()).collect();
    let load_before = loadavg();
    // One request first, not counted (the first envelope of the session, cold caches).
    for round in 0..=n {
        for (k, (_, person, bulletin, entries)) in kinds.iter().enumerate() {
            let (up0, down0) = (relay.bytes_up(), relay.bytes_down());
            let t = Instant::now();
            let id: i64 = greffier
                .query_one(
                    "select juris.request_extract($1, $2, 'Demande de l''intéressé, CNI n° 1234567')",
                    &[person, bulletin],
                )
                .await
                .unwrap()
                .get(0);
            let state = wait_for(
                120,
                "the answer stored at court A",
                || async {
                    court
                        .query_one(
                            "select state from court.extract_request where extract_request_id = $1",
                            &[&id],
                        )
                        .await
                        .unwrap()
                        .get::<_, String>(0)
                },
                |s| s != "pending",
            )
            .await;
            let wall = t.elapsed().as_secs_f64() * 1000.0;
            assert_eq!(state, "answered");
            // Let the acknowledgements cross the link before counting.
            tokio::time::sleep(Duration::from_millis(1500)).await;
            let (up, down) = (relay.bytes_up() - up0, relay.bytes_down() - down0);
            let r = court
                .query_one(
                    "select message_id::text, entries_count,
                            (extract(epoch from sent_at - requested_at) * 1000)::float8,
                            (extract(epoch from answered_at - requested_at) * 1000)::float8,
                            extract(epoch from requested_at)::float8, length(answer_sealed)
                       from court.extract_request where extract_request_id = $1",
                    &[&id],
                )
                .await
                .unwrap();
            assert_eq!(r.get::<_, i32>(1), *entries);
            let message_id: String = r.get(0);
            let asked: f64 = cjn
                .query_one(
                    "select extract(epoch from asked_at)::float8 from registry.consultation
                      where requester_court = $1 and request_id = $2",
                    &[&A, &message_id],
                )
                .await
                .unwrap()
                .get(0);
            let to_sent: f64 = r.get(2);
            let to_stored: f64 = r.get(3);
            let requested: f64 = r.get(4);
            if round == 0 {
                println!(
                    "first request ({}): {wall:.0} ms to the stored answer, {up} bytes up, {down} down",
                    kinds[k].0
                );
                continue;
            }
            let to_cjn = (asked - requested) * 1000.0;
            let x = &mut runs[k];
            x.wall_ms.push(wall);
            x.total_ms.push(to_stored);
            x.to_sent_ms.push(to_sent);
            x.sent_to_cjn_ms.push(to_cjn - to_sent);
            x.cjn_to_stored_ms.push(to_stored - to_cjn);
            x.up.push(up as f64);
            x.down.push(down as f64);
            x.sealed.push(f64::from(r.get::<_, i32>(5)));
        }
    }
    println!(
        "extract requests from court A through 15 kbit/s, 600 ms round trip ({n} of each kind, one at a time; \
         load average {load_before} before, {} after); medians:",
        loadavg()
    );
    println!(
        "{:<26} {:>11} {:>11} {:>13} {:>16} {:>16} {:>9} {:>9} {:>13}",
        "request",
        "end to end",
        "(polled)",
        "court→sent",
        "sent→CJN logged",
        "CJN→court stored",
        "bytes up",
        "down",
        "sealed answer"
    );
    for (k, x) in runs.into_iter().enumerate() {
        println!(
            "{:<26} {:>8.0} ms {:>8.0} ms {:>10.0} ms {:>13.0} ms {:>13.0} ms {:>9.0} {:>9.0} {:>11.0} B",
            kinds[k].0,
            median(x.total_ms),
            median(x.wall_ms),
            median(x.to_sent_ms),
            median(x.sent_to_cjn_ms),
            median(x.cjn_to_stored_ms),
            median(x.up),
            median(x.down),
            median(x.sealed)
        );
    }
    stop_a.cancel();
    for l in direct {
        l.cancel();
    }
    stop.cancel();
    daemon.await.unwrap().unwrap();
}
