//! Extracts of the criminal record through every real part: court A asks for a person whose
//! fiches were signed at courts B and C; the listeners, the broker and cjn-ingest carry the
//! request and the sealed answer; the CJN computes the bulletin, logs the consultation and
//! seals the extract; court A stores it; anyone verifies the seal offline.
//!
//! `cargo test -p cjn-ingest --test extract`

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use protocol::extract::{trust_from_pem, verification_bundle, verify_extract};

const A: &str = "12345";
const B: &str = "23456";
const C: &str = "34567";

/// A staff session at a court.
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
    let id = verify_fiche(&agent, &sec, &fiche).await;
    greffier
        .execute("select juris.sign_fiche($1)", &[&id])
        .await
        .expect("sign");
    id
}

/// A fiche of `surname` / `given_names` born on `born`, with these parents and this sentence.
fn fiche(
    surname: &str,
    given_names: &str,
    born: &str,
    father: &str,
    conviction: (&str, &str, &str, i32, i32),
) -> serde_json::Value {
    let (date, class, nature, months, suspended) = conviction;
    let mut f = sample_fiche(surname);
    f["justiciable"]["given_names"] = given_names.into();
    f["justiciable"]["birth_date"] = born.into();
    f["justiciable"]["father"] = father.into();
    f["condamnation"]["conviction_date"] = date.into();
    f["condamnation"]["offence_date"] = date.into();
    f["condamnation"]["offence_class"] = class.into();
    f["condamnation"]["offence_nature"] = nature.into();
    f["condamnation"]["sentence_months"] = months.into();
    f["condamnation"]["suspended_months"] = suspended.into();
    f
}

/// Asks for an extract at court A as `login`; the request's id.
async fn ask(w: &World, login: &str, person: serde_json::Value, bulletin: i32) -> i64 {
    staff(w, A, login)
        .await
        .query_one(
            "select juris.request_extract($1, $2, 'Demande de l''intéressé, CNI n° 1234567')",
            &[&person, &bulletin],
        )
        .await
        .expect("request an extract")
        .get(0)
}

/// Waits until court A holds the CJN's answer (or refusal) to a request; `juris.get_extract`.
async fn answered(w: &World, login: &str, id: i64) -> serde_json::Value {
    let c = staff(w, A, login).await;
    wait_for(
        60,
        "the CJN's answer at court A",
        || async {
            c.query_one("select juris.get_extract($1)", &[&id])
                .await
                .unwrap()
                .get::<_, serde_json::Value>(0)
        },
        |e| e["state"] != "pending",
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn court_a_gets_the_sealed_bulletin_of_a_person_judged_at_courts_b_and_c() {
    let w = World::new(&[A, B, C], &[]).await;
    for c in [A, B, C] {
        w.enroll_in_process(c);
    }
    let (stop, daemon) = spawn_ingest(w.ingest_config("cjn-1")).await;
    let listeners: Vec<_> = [A, B, C]
        .iter()
        .map(|c| spawn_listener(w.listener_config(c)))
        .collect();

    // Kobila Mangué: a délit at court B (2 years, 1 suspended: not on n°3), a crime at court C
    // (3 years, no suspension: on n°3), entered there in capitals and without accents.
    let b1 = signed(
        &w,
        B,
        fiche(
            "Kobila",
            "Mangué",
            "1987-04-17",
            "Bikoula Mendomo",
            ("2018-06-18", "delit", "Vol", 24, 12),
        ),
    )
    .await;
    let c1 = signed(
        &w,
        C,
        fiche(
            "KOBILA",
            "MANGUE",
            "1987-04-17",
            "Bikoula Mendomo",
            ("2021-03-02", "crime", "Vol aggravé", 36, 0),
        ),
    )
    .await;
    // A near namesake (one letter more, same birth date): listed apart, never on the extract.
    let c2 = signed(
        &w,
        C,
        fiche(
            "Kobilla",
            "Mangué",
            "1987-04-17",
            "Ndzana Paul",
            ("2020-01-10", "delit", "Escroquerie", 30, 0),
        ),
    )
    .await;
    // Two namesakes born the same day, of other fathers, judged at B and at C.
    let b2 = signed(
        &w,
        B,
        fiche(
            "Ngo Bassong",
            "Marie",
            "1990-01-01",
            "Bassong Pierre",
            ("2019-05-05", "delit", "Abus de confiance", 14, 0),
        ),
    )
    .await;
    let c3 = signed(
        &w,
        C,
        fiche(
            "Ngo Bassong",
            "Marie",
            "1990-01-01",
            "Mbida Jacques",
            ("2022-02-02", "delit", "Faux", 6, 0),
        ),
    )
    .await;
    w.wait_archived(B, &[b1, b2], 60).await;
    w.wait_archived(C, &[c1, c2, c3], 60).await;

    let kobila = serde_json::json!({
        "surname": "Kobila", "given_names": "Mangué", "birth_date": "1987-04-17",
        "birth_place": "Ekouk", "father": "Bikoula Mendomo", "mother": "Atouba Fabienne"
    });
    // Bulletin n°1 (the greffier): both convictions, from B and from C.
    let r1 = ask(&w, &format!("g{A}"), kobila.clone(), 1).await;
    // Bulletin n°3 (an agent, for the person): only the 3-year unsuspended term.
    let r3 = ask(&w, &format!("a{A}"), kobila.clone(), 3).await;
    // Nobody of that identity: "Néant".
    let r0 = ask(
        &w,
        &format!("a{A}"),
        serde_json::json!({"surname": "Essomba", "given_names": "Rose", "birth_date": "1975-12-24"}),
        3,
    )
    .await;
    // Namesakes the CJN cannot tell apart without the parents: no bulletin.
    let rx = ask(
        &w,
        &format!("a{A}"),
        serde_json::json!({"surname": "Ngo Bassong", "given_names": "Marie", "birth_date": "1990-01-01"}),
        3,
    )
    .await;

    let e1 = answered(&w, &format!("g{A}"), r1).await;
    assert_eq!(e1["state"], "answered", "{e1}");
    assert_eq!(e1["entries_count"], 2, "{e1}");
    let courts: Vec<&str> = e1["answer"]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["fiche"]["reference"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(courts.len(), 2);
    let nius: Vec<String> = e1["answer"]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["niu"].as_str().unwrap().to_owned())
        .collect();
    assert!(nius.iter().any(|n| n.starts_with(B)), "{nius:?}");
    assert!(nius.iter().any(|n| n.starts_with(C)), "{nius:?}");
    assert_eq!(e1["near_matches_count"], 1, "Kobilla is listed apart: {e1}");
    assert_eq!(e1["answer"]["near_matches"][0]["surname"], "Kobilla");

    let e3 = answered(&w, &format!("a{A}"), r3).await;
    assert_eq!(e3["entries_count"], 1, "{e3}");
    assert!(
        e3["answer"]["entries"][0]["niu"]
            .as_str()
            .unwrap()
            .starts_with(C)
    );
    // Why each conviction is on the bulletin: the CJN's rule and its reason in French
    // (cjn._bulletin), carried by the sealed answer.
    for e in e1["answer"]["entries"].as_array().unwrap() {
        assert_eq!(e["rule"], "b1.recorded", "{e}");
        assert!(e["reason"].as_str().is_some_and(|r| !r.is_empty()), "{e}");
    }
    let why = &e3["answer"]["entries"][0];
    assert_eq!(why["rule"], "b3.custodial", "{why}");
    assert!(
        why["reason"].as_str().is_some_and(|r| !r.is_empty()),
        "{why}"
    );
    let e0 = answered(&w, &format!("a{A}"), r0).await;
    assert_eq!(e0["state_label"], "reçu : néant", "{e0}");
    let ex = answered(&w, &format!("a{A}"), rx).await;
    assert_eq!(ex["state"], "rejected", "{ex}");
    assert!(
        ex["rejection_reason"]
            .as_str()
            .unwrap()
            .contains("Identité à préciser"),
        "{ex}"
    );

    // Anyone verifies the seal offline with the public bundle; it names the person and says
    // how many convictions the paper must show.
    let trust = trust_from_pem(verification_bundle(&w.pki).unwrap().as_bytes()).unwrap();
    let v3 = verify_extract(e3["answer"]["qr_text"].as_str().unwrap(), &trust).expect("genuine");
    assert_eq!(v3.extract_number, e3["extract_number"].as_str().unwrap());
    // The answer as stored, reasons included, is the very content sealed.
    let stored: protocol::ExtractAnswer = serde_json::from_value(e3["answer"].clone()).unwrap();
    assert!(stored.entries[0].reason.is_some());
    assert_eq!(v3.content_mismatches(&stored.content()).unwrap(), vec![]);
    assert_eq!(v3.entry_count, 1);
    assert_eq!(v3.person.surname, "Kobila");
    let v0 = verify_extract(e0["answer"]["qr_text"].as_str().unwrap(), &trust).expect("genuine");
    assert!(v0.is_neant());

    // The CJN logged every consultation with its seal; an operator checks an extract by code.
    let cjn = w.cjn().await;
    assert_eq!(
        count(
            &cjn,
            &format!("select count(*) from registry.consultation where requester_court = '{A}'")
        )
        .await,
        4
    );
    assert_eq!(
        count(&cjn, "select count(*) from registry.extract_seal").await,
        3
    );
    let check: serde_json::Value = cjn
        .query_one(
            "select cjn.check_extract($1, lower($2))",
            &[
                &e3["extract_number"].as_str().unwrap(),
                &e3["verification_code"].as_str().unwrap(),
            ],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(check["genuine"], true, "{check}");
    let wrong: serde_json::Value = cjn
        .query_one(
            "select cjn.check_extract($1, 'AAAA-AAAA-AAAA')",
            &[&e3["extract_number"].as_str().unwrap()],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(wrong["genuine"], false, "{wrong}");

    for l in listeners {
        l.cancel();
    }
    stop.cancel();
    daemon.await.unwrap().unwrap();
}
