//! Upgrading databases made by an older release to this one. Courts (migrations V1–V5): what they
//! hold must pass the new integrity migration (V6), stay workable, and never open a door.
//! The old state is made with the old schema alone (`db::migrate_until`), filled by plain SQL
//! as the old functions would have: a signed fiche past today's text limits, fines as
//! numeric(14, 2) in the outbox, two courts' listeners in one cluster. The CJN (migrations
//! V1–V7): messages stored with their envelope's bytes and their receipts, as the old
//! `cjn.ingest` stored them, must keep their receipts once each envelope is stored once (V8).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;

/// A valid NIU of `code`, year 2026, sequence `seq` (ISO 7064 MOD 97-10 check).
fn niu(code: &str, seq: u32) -> String {
    let base = format!("{code}2026{seq:06}");
    let n: u128 = base.parse().unwrap();
    format!("{base}{:02}", 98 - (n * 100) % 97)
}

/// Fills a V5 court database: the court, its greffier, an archived fiche whose father's name
/// is 5 000 characters long, a signed fiche with a fine of 500000.00 whose message is still to
/// send, and (optionally) a draft with centimes.
async fn old_court(url: &str, code: &str, with_cents: bool) {
    let c = db::connect(url).await.unwrap();
    let long_father = "y".repeat(5000);
    let (niu1, niu2) = (niu(code, 1), niu(code, 2));
    let payload = json!({
        "message_id": "6f1c1f0e-0000-4000-8000-0000000000b2", "kind": "fiche_signed",
        "court_code": code, "seq": 2, "created_at": "2026-01-02T10:00:00.000000Z",
        "niu": niu2, "version": 1, "motive": null,
        "audit_head": {"seq": 7, "hash": "ab".repeat(32)},
        "fiche": {"number": 2, "reference": "2/SD/2026", "signed_by": "kamdem",
                  "signed_by_name": "Kamdem Jean", "signed_at": "2026-01-02T10:00:00.000000Z",
                  "justiciable": {"surname": "Ngono", "given_names": "Paul", "birth_date": "1980-01-01",
                                  "birth_place": "Garoua", "sex": "M"},
                  "condamnation": {"conviction_date": "2025-01-01", "offence_date": "2024-01-01",
                                   "offence_nature": "Vol", "offence_category": "VOL", "offence_class": "delit",
                                   "sentence_type": "amende", "fine_amount": 500000.00,
                                   "legal_recidivism": false, "minor": false, "excluded_b2": false,
                                   "excluded_b3": false}}
    });
    c.batch_execute(&format!(
        "insert into court.court (code, name, region, departement, arrondissement)
             values ('{code}', 'Tribunal {code}', 'NORD', 'BENOUE', 'Garoua I');
         create role kamdem{code} login in role greffier;
         insert into court.app_user (login, full_name, privilege) values ('kamdem{code}', 'Kamdem Jean', 3);
         insert into court.fiche (number, status, niu, reference, surname, given_names, birth_date, birth_place,
                sex, father, conviction_date, offence_date, offence_nature, offence_category, offence_class,
                sentence_type, sentence_months, created_by, updated_by, signed_by, signed_at, archived_at)
             values (1, 'archivee', '{niu1}', '1/SD/2026', 'Kobila', 'Mangué', '1987-04-17', 'Ekouk',
                'M', '{long_father}', '2025-01-01', '2024-01-01', 'Vol', 'VOL', 'delit', 'emprisonnement', 12,
                'agent1', 'agent1', 'kamdem{code}', now(), now());
         insert into court.fiche (number, status, niu, reference, surname, given_names, birth_date, birth_place,
                sex, conviction_date, offence_date, offence_nature, offence_category, offence_class,
                sentence_type, fine_amount, created_by, updated_by, signed_by, signed_at)
             values (2, 'signee', '{niu2}', '2/SD/2026', 'Ngono', 'Paul', '1980-01-01', 'Garoua',
                'M', '2025-01-01', '2024-01-01', 'Vol', 'VOL', 'delit', 'amende', 500000.00,
                'agent1', 'agent1', 'kamdem{code}', now());
         insert into court.outbox (message_id, seq, kind, fiche_id, niu, version, payload)
             select (p ->> 'message_id')::uuid, 2, 'fiche_signed', f.fiche_id, f.niu, 1, p
               from court.fiche f, (select $${payload}$$::jsonb as p) x where f.number = 2;"
    ))
    .await
    .unwrap();
    if with_cents {
        c.batch_execute(
            "insert into court.fiche (number, status, surname, fine_amount, created_by, updated_by)
                 values (3, 'brouillon', 'Abena', 10.50, 'agent1', 'agent1');",
        )
        .await
        .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_court_of_the_previous_release_upgrades_and_stays_workable() {
    let cluster = sandbox::PgCluster::start().expect("start PostgreSQL");
    for db in ["o1", "o2", "o3"] {
        cluster.create_database(db).unwrap();
        db::migrate_until(&cluster.admin_url(db), db::Schema::Court, 5)
            .await
            .unwrap();
    }
    old_court(&cluster.admin_url("o1"), "10001", false).await;
    old_court(&cluster.admin_url("o2"), "10002", false).await;
    old_court(&cluster.admin_url("o3"), "10003", true).await;
    // Two courts' listeners in one cluster, as the old release created them.
    cluster
        .psql(
            "o1",
            "create role listener_10001 login in role juris_listener; \
             create role listener_10002 login in role juris_listener;",
        )
        .unwrap();

    // Centimes cannot be converted: refused, and the message says which fiche (not only
    // "error applying migrations").
    let refused = db::migrate(&cluster.admin_url("o3"), db::Schema::Court)
        .await
        .expect_err("a fine with centimes stops the upgrade");
    let text = refused.to_string();
    assert!(
        text.contains("Amendes non entières") && text.contains("n° 3"),
        "{text}"
    );

    // The rest upgrades, with the text past its limit kept for its version.
    db::migrate(&cluster.admin_url("o1"), db::Schema::Court)
        .await
        .expect("upgrade court 10001");
    let c = db::connect(&cluster.admin_url("o1")).await.unwrap();
    let exempt: Option<i32> = c
        .query_one(
            "select limits_exempt_version from court.fiche where number = 1",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(exempt, Some(1), "the long text is kept for version 1");
    // The pending message's fine is whole francs now, as the protocol reads it.
    let payload: serde_json::Value = c
        .query_one("select payload from court.outbox where seq = 2", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        payload["fiche"]["condamnation"]["fine_amount"],
        json!(500000)
    );
    protocol::OutboxPayload::from_json(payload.to_string().as_bytes())
        .expect("the protocol reads the rewritten message");
    // Two listeners in the cluster: neither is registered for this court (each court's DBA
    // names its own), so neither may read its outbox.
    let registered: i64 = c
        .query_one("select count(*) from court.listener_login", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(registered, 0);
    // The signed fiche past today's limit can still be withdrawn (its text unchanged), and a
    // rectification of it must fit.
    let id: i64 = c
        .query_one("select fiche_id from court.fiche where number = 1", &[])
        .await
        .unwrap()
        .get(0);
    c.batch_execute(&format!(
        "set session authorization kamdem10001; \
         select juris.withdraw_fiche({id}, 'Annulation en appel'); \
         reset session authorization;"
    ))
    .await
    .expect("a fiche recorded before the limits is withdrawn");
    // No failed statement (personal data, a clear password) reaches the server's log.
    let setting: String = c
        .query_one(
            "select array_to_string(s.setconfig, ',') from pg_db_role_setting s \
             join pg_database d on d.oid = s.setdatabase where d.datname = 'o1' and s.setrole = 0",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(
        setting.contains("log_min_error_statement=panic"),
        "{setting}"
    );
    // A second migrate changes nothing.
    let again = db::migrate(&cluster.admin_url("o1"), db::Schema::Court)
        .await
        .unwrap();
    assert!(again.is_noop(), "{again}");
}

/// A CJN payload as cjn-ingest passes it to `cjn.ingest` (a fiche signed).
fn cjn_payload(id: &str, code: &str, seq: i64, niu: &str, surname: &str) -> serde_json::Value {
    json!({
        "message_id": id, "kind": "fiche_signed", "court_code": code, "seq": seq,
        "created_at": "2026-01-02T10:00:00.000000Z", "niu": niu, "version": 1, "motive": null,
        "audit_head": {"seq": seq * 3, "hash": "cd".repeat(32)},
        "fiche": {"number": seq, "reference": format!("{seq}/SD/2026"), "signed_by": "kamdem",
                  "signed_by_name": "Kamdem Jean", "signed_at": "2026-01-02T10:00:00.000000Z",
                  "justiciable": {"surname": surname, "given_names": "Paul", "birth_date": "1980-01-01",
                                  "birth_place": "Garoua", "sex": "M"},
                  "condamnation": {"conviction_date": "2025-01-01", "offence_date": "2024-01-01",
                                   "offence_nature": "Vol", "offence_category": "VOL", "offence_class": "delit",
                                   "sentence_type": "emprisonnement", "sentence_months": 6,
                                   "legal_recidivism": false, "minor": false, "excluded_b2": false,
                                   "excluded_b3": false}}
    })
}

/// A CJN of the previous release (V7: every message with its whole envelope's signed bytes and
/// its receipt) upgrades to envelopes stored once (V8) without changing what it answers: a
/// duplicate gets the receipt it got before, a conflict is still one, and a message that waited
/// for its turn keeps its payload until it is applied.
#[tokio::test(flavor = "multi_thread")]
async fn a_cjn_of_the_previous_release_keeps_its_receipts_and_stores_each_envelope_once() {
    let cluster = sandbox::PgCluster::start().expect("start PostgreSQL");
    cluster.create_database("cjn").unwrap();
    let url = cluster.admin_url("cjn");
    db::migrate_until(&url, db::Schema::Cjn, 7).await.unwrap();
    let code = "10001";
    let ids = [
        "6f1c1f0e-0000-4000-8000-000000000001",
        "6f1c1f0e-0000-4000-8000-000000000002",
        "6f1c1f0e-0000-4000-8000-000000000004",
    ];
    let payloads = [
        cjn_payload(ids[0], code, 1, &niu(code, 1), "Kobila"),
        cjn_payload(ids[1], code, 2, &niu(code, 2), "Ngono"),
        cjn_payload(ids[2], code, 4, &niu(code, 4), "Abena"),
    ];
    // As the old cjn.ingest stored them: messages 1 and 2 in one envelope (its bytes twice),
    // applied; message 4 in another, waiting for 3 (a gap).
    let c = db::connect(&url).await.unwrap();
    c.batch_execute(&format!(
        "insert into registry.court (code, name, region, departement, arrondissement, applied_seq, last_seq)
             values ('{code}', 'Tribunal {code}', 'NORD', 'BENOUE', 'Garoua I', 2, 4);
         insert into registry.sequence_gap (court_code, seq) values ('{code}', 3);"
    ))
    .await
    .unwrap();
    for (i, p) in payloads.iter().enumerate() {
        let (signed, applied): (&[u8], bool) = if i < 2 {
            (b"\x30\x82envelope-one", true)
        } else {
            (b"\x30\x82envelope-two", false)
        };
        c.execute(
            "insert into registry.message (message_id, court_code, seq, kind, created_at, payload, signed,
                                           signed_hash, receipt, applied_at, received_at)
             select ($1::text)::uuid, $2::text, ($3::jsonb ->> 'seq')::bigint, 'fiche_signed', '2026-01-02 10:00:00+00', $3::jsonb,
                    $4::bytea, sha256($4::bytea),
                    jsonb_build_object('message_id', $1::text, 'seq', ($3::jsonb ->> 'seq')::bigint, 'niu', $3::jsonb ->> 'niu',
                                       'version', 1, 'stored_at', t, 'signed_hash', encode(sha256($4::bytea), 'hex')),
                    case when $5::boolean then t end, t
               from (select timestamptz '2026-01-02 10:00:01.234567+00' as t) x",
            &[&ids[i], &code, p, &signed, &applied],
        )
        .await
        .unwrap();
    }
    let old_receipt: serde_json::Value = c
        .query_one("select receipt from registry.message where seq = 1", &[])
        .await
        .unwrap()
        .get(0);

    db::migrate(&url, db::Schema::Cjn)
        .await
        .expect("upgrade the CJN");
    let counts: (i64, i64, i64) = {
        let r = c
            .query_one(
                "select (select count(*) from registry.envelope),
                        (select count(*) from registry.message where payload is not null),
                        (select count(*) from registry.message m join registry.envelope e using (signed_hash)
                          where m.payload_hash = sha256(convert_to(($1::jsonb)::text, 'UTF8')) and m.seq = 1)",
                &[&payloads[0]],
            )
            .await
            .unwrap();
        (r.get(0), r.get(1), r.get(2))
    };
    assert_eq!(
        counts,
        (2, 1, 1),
        "two envelopes once each; only the waiting message keeps its payload"
    );

    // Message 1 again, as cjn-ingest would pass it: the same receipt as before the upgrade.
    let ingest = "select cjn.ingest(($1::text)::uuid, $2, $3, 'fiche_signed', '2026-01-02 10:00:00+00', $4, $5)";
    let again: serde_json::Value = c
        .query_one(
            ingest,
            &[
                &ids[0],
                &code,
                &1i64,
                &payloads[0],
                &b"\x30\x82envelope-one".as_slice(),
            ],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        again, old_receipt,
        "a duplicate gets the receipt it got before the upgrade"
    );
    // The same id with other content is a conflict; the original stays.
    let mut other = payloads[0].clone();
    other["fiche"]["reference"] = json!("autre");
    let conflict: serde_json::Value = c
        .query_one(
            ingest,
            &[
                &ids[0],
                &code,
                &1i64,
                &other,
                &b"\x30\x82envelope-one".as_slice(),
            ],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(conflict["conflict"], json!(true));
    // Message 3 fills the gap: 3 and the waiting 4 are applied, 4 leaves its payload.
    let id3 = "6f1c1f0e-0000-4000-8000-000000000003";
    let p3 = cjn_payload(id3, code, 3, &niu(code, 3), "Essomba");
    let r3: serde_json::Value = c
        .query_one(
            ingest,
            &[
                &id3,
                &code,
                &3i64,
                &p3,
                &b"\x30\x82envelope-three".as_slice(),
            ],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(r3["seq"], json!(3));
    let after: (i64, i64, i64) = {
        let r = c
            .query_one(
                "select (select applied_seq from registry.court),
                        (select count(*) from registry.message where payload is not null),
                        (select count(*) from registry.fiche where niu in ($1, $2))",
                &[&niu(code, 3), &niu(code, 4)],
            )
            .await
            .unwrap();
        (r.get(0), r.get(1), r.get(2))
    };
    assert_eq!(
        after,
        (4, 0, 2),
        "3 and the message that waited for it are applied"
    );
    let again = db::migrate(&url, db::Schema::Cjn).await.unwrap();
    assert!(again.is_noop(), "{again}");
}

/// A release that changes only the CJN's functions rebuilds them in a session of its own, where
/// no migration has loaded pg_trgm: its settings, named in the SET clauses of
/// `cjn.ingest_envelope` and `cjn.find_person`, must still be accepted from cjn_owner.
#[tokio::test(flavor = "multi_thread")]
async fn a_cjn_rebuilds_changed_functions_in_a_new_session() {
    let cluster = sandbox::PgCluster::start().expect("start PostgreSQL");
    cluster.create_database("cjn").unwrap();
    let url = cluster.admin_url("cjn");
    db::migrate(&url, db::Schema::Cjn).await.unwrap();
    db::connect(&url)
        .await
        .unwrap()
        .batch_execute("update registry.functions_applied set digest = 'an earlier release'")
        .await
        .unwrap();
    let report = db::migrate(&url, db::Schema::Cjn)
        .await
        .expect("rebuild the functions alone");
    assert!(report.applied.is_empty(), "no migration was pending");
    assert!(report.functions_rebuilt, "the functions were rebuilt");
    let threshold: String = db::connect(&url)
        .await
        .unwrap()
        .query_one(
            "select c from pg_proc p, unnest(p.proconfig) c
              where p.oid = 'cjn.ingest_envelope'::regproc and c like 'pg_trgm.%'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(threshold, "pg_trgm.similarity_threshold=0.39");
}
