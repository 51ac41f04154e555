//! What a court signs is what the CJN holds, value for value: every field of a fiche travels
//! from the court database through the real listener, the broker and the real cjn-ingest into
//! the CJN's registry — fines, bans, suspensions, a revoked suspension, long names with
//! accents, a fiche with every text at its limit in four-byte characters, one with every
//! optional field empty, a rectification and a withdrawal with their motives at their limit,
//! bans with their own dates and a minority decided by the court (issue 15).
//! A dated event recorded at the court after signature (a release) reaches the CJN value for
//! value and changes the bulletin the CJN computes; its cancellation changes it back.
//! And what cannot be sent is never skipped silently: a payload the protocol refuses, or too
//! large for the CJN, is a defect the greffier sees and the status counts, and the gap it opens
//! at the CJN becomes an alarm there after the configured delay.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::real_cjn::{self, PASSWORD, count, court_db};
use serde_json::{Value, json};

const A: &str = "12345";

/// A fiche with every field set to a non-trivial value.
fn rich_fiche(revoked_niu: &str) -> Value {
    json!({
        "reference": "1033/COR/TPI-Garoua/2025",
        "justiciable": {
            "surname": "Ngo Bassong Épouse Ébénézer-Mbarga",
            "given_names": "Marie-Thérèse Françoise Aïssatou Œuvrée",
            "birth_date": "1979-02-28", "birth_place": "Ngaoundéré (Adamaoua), quartier Château",
            "sex": "F", "father": "Nkoumou Ateba Jean-Baptiste (décédé)",
            "mother": "Ngo Bassong Françoise Cécile", "profession": "Commerçante grossiste « vivriers »",
            "civil_status": "veuf",
            "domicile": "Quartier Mvog-Mbi, derrière la pharmacie du Soleil, Yaoundé IV",
            "nationality": "Camerounaise"
        },
        "condamnation": {
            "conviction_date": "2025-03-14", "offence_date": "2024-11-02",
            "offence_nature": "Abus de confiance aggravé et faux en écriture de commerce",
            "offence_category": "ESCROQUERIE", "offence_class": "delit",
            "warrants": "Mandat de dépôt du 03/11/2024 ; mandat d'arrêt du 01/12/2024",
            "road_traffic": "Permis n° CE-123456 suspendu 6 mois",
            "sentence_type": "emprisonnement_amende", "sentence_months": 36, "suspended_months": 12,
            "fine_amount": 50000, "legal_recidivism": true, "minor": false,
            "excluded_b2": false, "excluded_b3": true, "b3_ordered": true,
            "ban": "Interdiction d'exercer une activité commerciale ; privation des droits civiques",
            "ban_months": 60, "ban_suspended": true, "revoked_suspension_niu": revoked_niu,
            "minor_decided": false, "ban_start": "2025-04-01", "ban_from_release": false
        }
    })
}

/// Text of `n` pseudo-random four-byte characters (U+10000 to U+1FFFF): the most bytes a
/// field of `n` characters can hold, and nearly incompressible.
fn four_byte_text(n: usize, seed: u64) -> String {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from_u32(0x1_0000 + (x % 0x1_0000) as u32).unwrap()
        })
        .collect()
}

/// A fiche with every text field at the length limit the database states
/// (`juris.field_limits()`), in four-byte characters: the largest fiche a court can sign.
fn worst_case_fiche(limits: &BTreeMap<String, usize>) -> Value {
    let mut f = json!({
        "justiciable": {"birth_date": "1990-01-01", "sex": "M", "civil_status": "marie"},
        "condamnation": {
            "conviction_date": "2025-01-10", "offence_date": "2024-01-10", "offence_category": "AUTRE",
            "offence_class": "crime", "sentence_type": "emprisonnement_amende", "sentence_months": 1200,
            "suspended_months": 1200, "fine_amount": 999_999_999_999u64, "ban_months": 1200,
            "legal_recidivism": true, "minor": true, "excluded_b2": true, "excluded_b3": true,
            "b3_ordered": true, "ban_suspended": true, "minor_decided": true, "ban_from_release": true
        }
    });
    let section = |field: &str| match field {
        "reference" => None,
        "surname" | "given_names" | "birth_place" | "father" | "mother" | "profession"
        | "domicile" | "nationality" => Some("justiciable"),
        _ => Some("condamnation"),
    };
    for (i, (field, max)) in limits.iter().enumerate() {
        if [
            "return_comment",
            "rectification_motive",
            "withdrawal_motive",
        ]
        .contains(&field.as_str())
        {
            continue;
        }
        let text = Value::from(four_byte_text(*max, i as u64 + 7));
        match section(field) {
            None => f[field] = text,
            Some(s) => f[s][field] = text,
        }
    }
    f
}

/// A fiche with every optional field empty.
fn minimal_fiche() -> Value {
    json!({
        "reference": "7/CRIM/2025",
        "justiciable": {"surname": "Abena", "given_names": "Paul", "birth_date": "1960-12-31",
                        "birth_place": "Kribi", "sex": "M"},
        "condamnation": {"conviction_date": "2025-05-05", "offence_date": "2025-01-01",
                         "offence_nature": "Vol simple", "offence_category": "VOL",
                         "offence_class": "contravention", "sentence_type": "autre"}
    })
}

async fn login(w: &real_cjn::World, who: &str) -> tokio_postgres::Client {
    db::connect(
        &w.court_cluster
            .user_url(&format!("{who}{A}"), PASSWORD, &court_db(A)),
    )
    .await
    .unwrap()
}

/// Each fiche with a NIU at the court: NIU → (version, content, signer's login, name, time).
async fn court_fiches(w: &real_cjn::World) -> BTreeMap<String, (i32, Value, Value)> {
    w.court_admin(A)
        .await
        .query(
            "select f.niu, f.version, juris._fiche_content(f), \
             jsonb_build_object('signed_by', f.signed_by, 'signed_by_name', juris._full_name(f.signed_by), \
                                'signed_at', juris._iso(f.signed_at)) \
             from court.fiche f where f.niu is not null",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), (r.get(1), r.get(2), r.get(3))))
        .collect()
}

/// The latest version of each fiche at the CJN: NIU → (version, content less the signature,
/// the signature's fields; its time as the court writes it: RFC 3339 as serialised on the way
/// drops a trailing zero of the microseconds, the instant is the same).
async fn cjn_fiches(cjn: &tokio_postgres::Client) -> BTreeMap<String, (i32, Value, Value)> {
    cjn.query(
        "select distinct on (niu) niu, version, content - 'signed_by' - 'signed_by_name' - 'signed_at', \
         jsonb_build_object('signed_by', content -> 'signed_by', 'signed_by_name', content -> 'signed_by_name', \
                            'signed_at', to_char((content ->> 'signed_at')::timestamptz at time zone 'UTC', \
                                                 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')) \
         from registry.fiche order by niu, version desc",
        &[],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get(0), (r.get(1), r.get(2), r.get(3))))
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_field_of_every_fiche_reaches_the_cjn_value_for_value() {
    let w = real_cjn::World::new(&[A], &[]).await;
    w.enroll_in_process(A);
    let (stop_cjn, daemon) = real_cjn::spawn_ingest(w.ingest_config("cjn-1")).await;
    let cjn = w.cjn().await;
    let agent = login(&w, "a").await;
    let secretaire = login(&w, "s").await;
    let greffier = login(&w, "g").await;
    let limits: BTreeMap<String, usize> = greffier
        .query("select field, max_length from juris.field_limits()", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get::<_, i32>(1) as usize))
        .collect();
    assert!(limits.len() >= 16, "{limits:?}");

    // An earlier conviction whose suspension the rich fiche revokes, with a ban ending on a date.
    let mut first = real_cjn::sample_fiche("Ngo Bassong");
    first["condamnation"]["ban"] = "Interdiction de séjour à Kribi".into();
    first["condamnation"]["ban_end"] = "2020-01-01".into();
    let first = real_cjn::verify_fiche(&agent, &secretaire, &first).await;
    let first_niu: String = greffier
        .query_one("select juris.sign_fiche($1)", &[&first])
        .await
        .unwrap()
        .get(0);
    let rich = real_cjn::verify_fiche(&agent, &secretaire, &rich_fiche(&first_niu)).await;
    let worst = real_cjn::verify_fiche(&agent, &secretaire, &worst_case_fiche(&limits)).await;
    let minimal = real_cjn::verify_fiche(&agent, &secretaire, &minimal_fiche()).await;
    w.sign(A, &[rich, worst, minimal]).await;
    let listener = real_cjn::spawn_listener(w.listener_config(A));
    w.wait_archived(A, &[first, rich, worst, minimal], 60).await;

    // A rectification of the worst case (new content, motive at its limit) and a withdrawal of
    // the minimal one (motive at its limit).
    let mut rectified = worst_case_fiche(&limits);
    rectified["justiciable"]["surname"] = four_byte_text(limits["surname"], 99).into();
    greffier
        .execute(
            "select juris.propose_rectification($1, $2, $3)",
            &[
                &worst,
                &rectified,
                &four_byte_text(limits["rectification_motive"], 5),
            ],
        )
        .await
        .unwrap();
    secretaire
        .execute("select juris.verify_rectification($1)", &[&worst])
        .await
        .unwrap();
    greffier
        .execute("select juris.apply_rectification($1)", &[&worst])
        .await
        .unwrap();
    greffier
        .execute(
            "select juris.withdraw_fiche($1, $2)",
            &[&minimal, &four_byte_text(limits["withdrawal_motive"], 6)],
        )
        .await
        .unwrap();
    w.wait_archived(A, &[worst], 60).await;
    real_cjn::eventually(60, "every message receipted", || async {
        count(
            &w.court_admin(A).await,
            "select count(*) from court.outbox where state <> 'acknowledged'",
        )
        .await
            == 0
    })
    .await;
    real_cjn::eventually(30, "every message applied at the CJN", || async {
        count(
            &cjn,
            "select count(*) from registry.message where applied_at is null",
        )
        .await
            == 0
    })
    .await;

    // Value for value: content, version and signature of every fiche.
    let court = court_fiches(&w).await;
    let held = cjn_fiches(&cjn).await;
    assert_eq!(court.len(), 4);
    assert_eq!(
        court.keys().collect::<Vec<_>>(),
        held.keys().collect::<Vec<_>>()
    );
    for (niu, (version, content, signature)) in &court {
        let (v, c, s) = &held[niu];
        assert_eq!(v, version, "version of {niu}");
        assert_eq!(
            c, content,
            "content of {niu} at the CJN differs from the court's"
        );
        assert_eq!(s, signature, "signature of {niu}");
    }
    // Issue 15's fields, as entered.
    let issue15: Vec<(String, String, String, String)> = cjn
        .query(
            "select coalesce(content -> 'condamnation' ->> 'ban_start', '-'), coalesce(content -> 'condamnation' ->> 'ban_end', '-'), \
             content -> 'condamnation' ->> 'ban_from_release', content -> 'condamnation' ->> 'minor_decided' \
             from registry.fiche where state = 'active' order by niu",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    assert!(
        issue15.contains(&(
            "-".into(),
            "2020-01-01".into(),
            "false".into(),
            "false".into()
        )) && issue15.contains(&(
            "2025-04-01".into(),
            "-".into(),
            "false".into(),
            "false".into()
        )) && issue15.contains(&("-".into(), "-".into(), "true".into(), "true".into())),
        "{issue15:?}"
    );
    // The fine and the judgment's figures in the registry's own columns too.
    let row = cjn
        .query_one(
            "select fine_amount::text, sentence_months, suspended_months, content -> 'condamnation' ->> 'ban_months', \
             content -> 'condamnation' ->> 'revoked_suspension_niu' \
             from registry.fiche where state = 'active' and content -> 'condamnation' ->> 'fine_amount' = '50000'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "50000");
    assert_eq!(row.get::<_, i32>(1), 36);
    assert_eq!(row.get::<_, i32>(2), 12);
    assert_eq!(row.get::<_, String>(3), "60");
    assert_eq!(row.get::<_, String>(4), first_niu);
    // The withdrawal and the rectification, with their motives, as signed.
    let motives: Vec<(String, String)> = cjn
        .query(
            "select kind, motive from registry.fiche_event where kind <> 'signed' order by kind",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        motives,
        [
            (
                "rectified".to_owned(),
                four_byte_text(limits["rectification_motive"], 5)
            ),
            (
                "withdrawn".to_owned(),
                four_byte_text(limits["withdrawal_motive"], 6)
            ),
        ]
    );
    // The largest fiche a court can sign seals far under the CJN's limit.
    let largest = count(
        &cjn,
        "select max(octet_length(signed))::bigint from registry.envelope",
    )
    .await;
    println!("largest sealed envelope: {largest} bytes (the CJN's limit: 262144)");
    assert!(largest < 64 * 1024, "{largest} bytes");
    // The digests `xmjuris reconcile` compares agree too.
    let court_digests: Vec<(String, String)> = greffier
        .query(
            "select niu, content_digest from juris.fiche_manifest()",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let cjn_digests: Vec<(String, String)> = cjn
        .query(
            "select niu, content_digest from cjn.court_fiches($1)",
            &[&A],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(court_digests, cjn_digests);
    assert_eq!(
        count(&cjn, "select count(*) from registry.quarantine").await,
        0
    );
    assert_eq!(count(&cjn, "select count(*) from registry.alarm").await, 0);

    listener.cancel();
    stop_cjn.cancel();
    daemon.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_that_cannot_be_sent_is_a_defect_the_greffier_sees_and_an_alarm_at_the_cjn() {
    let w = real_cjn::World::new(&[A], &[]).await;
    w.enroll_in_process(A);
    let (stop_cjn, daemon) = real_cjn::spawn_ingest(w.ingest_config("cjn-1")).await;
    let cjn = w.cjn().await;
    let admin = w.court_admin(A).await;
    let greffier = w.greffier(A).await;
    let ids = w.verified_fiches(A, 4).await;
    w.sign(A, &ids).await;
    // A listener older or newer than the database would meet payloads it cannot read: here,
    // the superuser writes a fine with centimes into message 2 (the database refuses them at
    // entry since the fix) and a 150 000-character random domicile (sealing past the CJN's 256 KiB) into message 4.
    admin
        .batch_execute(&format!(
            "update court.outbox set payload = jsonb_set(payload, '{{fiche,condamnation,fine_amount}}', '50000.5') where seq = 2; \
             update court.outbox set payload = jsonb_set(payload, '{{fiche,justiciable,domicile}}', to_jsonb('{}'::text)) where seq = 4;",
            four_byte_text(150_000, 3)
        ))
        .await
        .unwrap();
    let listener = real_cjn::spawn_listener(w.listener_config(A));
    w.wait_archived(A, &[ids[0], ids[2]], 60).await;
    real_cjn::eventually(30, "both defects recorded", || async {
        count(
            &admin,
            "select count(*) from court.outbox where defect is not null",
        )
        .await
            == 2
    })
    .await;

    // The greffier sees each defect on its fiche, in French; the status counts them.
    let seen: Vec<(String, String)> = greffier
        .query(
            "select t.state, t.defect from unnest($1::bigint[]) i, juris.fiche_transmissions(i) t order by t.seq",
            &[&vec![ids[1], ids[3]]],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(seen.len(), 2);
    assert!(
        seen.iter().all(|(s, _)| s.starts_with("bloqué")),
        "{seen:?}"
    );
    assert!(seen[0].1.contains("protocole"), "{seen:?}");
    assert!(
        seen[1].1.contains("octets") && seen[1].1.contains("limite du CJN"),
        "{seen:?}"
    );
    let status = listener::status(&w.listener_config(A)).await.unwrap();
    assert_eq!(status["defective"], 2, "{status}");
    // Nothing too large was ever sent: the CJN refused nothing.
    assert_eq!(
        count(&cjn, "select count(*) from registry.quarantine").await,
        0
    );

    // At the CJN: message 3 is held behind the gap at 2; once the gap is older than the alarm
    // delay, court_health and the daemon's status say so.
    assert_eq!(
        count(
            &cjn,
            "select count(*) from registry.sequence_gap where filled_at is null"
        )
        .await,
        1
    );
    assert_eq!(
        count(
            &cjn,
            "select count(*) from cjn.court_health where gap_alarm"
        )
        .await,
        0
    );
    cjn.batch_execute("update registry.sequence_gap set detected_at = now() - interval '2 hours'")
        .await
        .unwrap();
    assert_eq!(
        count(
            &cjn,
            "select count(*) from cjn.court_health where gap_alarm"
        )
        .await,
        1
    );
    let s = cjn_ingest::status(&w.ingest_config("cjn-2")).await.unwrap();
    assert_eq!(s["gap_alarms"], 1, "{s}");
    let missing: Vec<i64> = cjn
        .query_one("select missing_seqs from cjn.gap_alarms()", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(missing, [2]);

    // Corrected (the payloads restored), and the listener restarted: everything arrives, the
    // gap fills, the alarm clears, the held message is applied.
    let fine: Value = admin
        .query_one(
            "select coalesce(to_jsonb(fine_amount), 'null') from court.fiche where fiche_id = $1",
            &[&ids[1]],
        )
        .await
        .unwrap()
        .get(0);
    let domicile: Value = admin
        .query_one(
            "select coalesce(to_jsonb(domicile), 'null') from court.fiche where fiche_id = $1",
            &[&ids[3]],
        )
        .await
        .unwrap()
        .get(0);
    admin
        .execute(
            "update court.outbox set payload = jsonb_set(payload, '{fiche,condamnation,fine_amount}', $1) where seq = 2",
            &[&fine],
        )
        .await
        .unwrap();
    admin
        .execute(
            "update court.outbox set payload = jsonb_set(payload, '{fiche,justiciable,domicile}', $1) where seq = 4",
            &[&domicile],
        )
        .await
        .unwrap();
    listener.cancel();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let listener = real_cjn::spawn_listener(w.listener_config(A));
    w.wait_archived(A, &ids, 60).await;
    real_cjn::eventually(30, "the gap filled and every message applied", || async {
        count(
            &cjn,
            "select count(*) from registry.message where applied_at is null",
        )
        .await
            == 0
    })
    .await;
    assert_eq!(
        count(
            &cjn,
            "select count(*) from cjn.court_health where gap_alarm"
        )
        .await,
        0
    );
    assert_eq!(count(&cjn, "select count(*) from registry.fiche").await, 4);
    let status = listener::status(&w.listener_config(A)).await.unwrap();
    assert_eq!(status["defective"], 0, "{status}");

    listener.cancel();
    stop_cjn.cancel();
    daemon.await.unwrap().unwrap();
}

/// The bulletin n°2 decision of a fiche at the CJN on 2025-01-01: (appears, changes on, reason).
async fn b2_on_2025(cjn: &tokio_postgres::Client, niu: &str) -> (bool, Option<String>, String) {
    let r = cjn
        .query_one(
            "select appears, changes_on::text, reason from cjn.bulletin_decision($1, '2025-01-01') where bulletin = 2",
            &[&niu],
        )
        .await
        .unwrap();
    (r.get(0), r.get(1), r.get(2))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_recorded_at_the_court_changes_the_bulletin_at_the_cjn() {
    let w = real_cjn::World::new(&[A], &[]).await;
    w.enroll_in_process(A);
    let (stop_cjn, daemon) = real_cjn::spawn_ingest(w.ingest_config("cjn-1")).await;
    let cjn = w.cjn().await;
    let agent = login(&w, "a").await;
    let secretaire = login(&w, "s").await;
    let greffier = login(&w, "g").await;
    let listener = real_cjn::spawn_listener(w.listener_config(A));

    // Sentenced in 2019 to 8 months, released in 2022 (the issue's example).
    let mut f = real_cjn::sample_fiche("Ateba");
    f["condamnation"]["conviction_date"] = "2019-03-01".into();
    f["condamnation"]["offence_date"] = "2019-01-05".into();
    f["condamnation"]["sentence_months"] = 8.into();
    f["condamnation"]["suspended_months"] = 0.into();
    let id = real_cjn::verify_fiche(&agent, &secretaire, &f).await;
    let niu: String = greffier
        .query_one("select juris.sign_fiche($1)", &[&id])
        .await
        .unwrap()
        .get(0);
    w.wait_archived(A, &[id], 60).await;

    // Without an event, the CJN assumes the term ended as pronounced (01/11/2019): rehabilitated
    // by law 5 years later, in 2024, and says that it assumed so.
    real_cjn::eventually(30, "the fiche at the CJN", || async {
        count(&cjn, "select count(*) from registry.fiche").await == 1
    })
    .await;
    let (appears, _, reason) = b2_on_2025(&cjn, &niu).await;
    assert!(!appears, "{reason}");
    assert!(
        reason.contains("fin de peine supposée le 01/11/2019"),
        "{reason}"
    );

    // The greffier records the release; the listener sends it; the CJN applies it.
    let event_id: String = greffier
        .query_one(
            "select juris.record_sentence_event($1, $2)::text",
            &[
                &id,
                &serde_json::json!({"kind": "sentence_served", "date": "2022-06-01",
                                    "reference": "Billet de sortie n° 412/PCY/2022", "note": "Libération conditionnelle"}),
            ],
        )
        .await
        .unwrap()
        .get(0);
    real_cjn::eventually(60, "the event receipted by the CJN", || async {
        count(
            &w.court_admin(A).await,
            "select count(*) from court.outbox where kind = 'sentence_event' and state = 'acknowledged'",
        )
        .await
            == 1
    })
    .await;
    let (appears, changes_on, reason) = b2_on_2025(&cjn, &niu).await;
    assert!(appears, "{reason}");
    assert_eq!(changes_on.as_deref(), Some("2027-06-01"));
    assert!(
        reason.contains("libération enregistrée le 01/06/2022"),
        "{reason}"
    );

    // Value for value: the event at the court and at the CJN.
    let court_events = event_rows(&w.court_admin(A).await, "court.sentence_event").await;
    let cjn_events = event_rows(&cjn, "registry.sentence_event").await;
    assert_eq!(court_events.len(), 1);
    assert_eq!(court_events, cjn_events);
    assert_eq!(court_events[0][0], event_id);

    // A cancellation (the release was recorded on the wrong fiche): back to the assumption.
    greffier
        .execute(
            "select juris.record_sentence_event($1, $2)",
            &[
                &id,
                &serde_json::json!({"kind": "cancellation", "cancels": event_id,
                                    "reference": "Erreur de fiche"}),
            ],
        )
        .await
        .unwrap();
    real_cjn::eventually(60, "the cancellation applied at the CJN", || async {
        count(
            &cjn,
            "select count(*) from registry.sentence_event where cancelled_by is not null",
        )
        .await
            == 1
    })
    .await;
    let (appears, _, reason) = b2_on_2025(&cjn, &niu).await;
    assert!(!appears, "{reason}");
    assert!(reason.contains("fin de peine supposée"), "{reason}");
    assert_eq!(count(&cjn, "select count(*) from registry.alarm").await, 0);
    assert_eq!(
        count(&cjn, "select count(*) from registry.quarantine").await,
        0
    );

    listener.cancel();
    stop_cjn.cancel();
    daemon.await.unwrap().unwrap();
}

/// The events of a table (court.sentence_event or registry.sentence_event), field by field.
async fn event_rows(c: &tokio_postgres::Client, table: &str) -> Vec<Vec<String>> {
    let sql = format!(
        "select event_id::text, niu, event_kind, event_date::text, coalesce(remitted_months, 0), total, \
         reference, coalesce(note, ''), recorded_by, to_char(recorded_at at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'), \
         coalesce(cancels::text, '') from {table} order by recorded_at, event_id"
    );
    c.query(&sql, &[])
        .await
        .unwrap()
        .iter()
        .map(|r| {
            (0..11)
                .map(|i| match i {
                    4 => r.get::<_, i32>(i).to_string(),
                    5 => r.get::<_, bool>(i).to_string(),
                    _ => r.get::<_, String>(i),
                })
                .collect()
        })
        .collect()
}
