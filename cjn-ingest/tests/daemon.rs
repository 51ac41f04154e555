//! cjn-ingest with real parts: courts' PostgreSQL and listeners, Mosquitto, the CJN database.
//!
//! - the end-to-end path: enrollment over MQTT, fiches signed with `juris.sign_fiche` reach
//!   `registry.fiche` and the court shows them archived (status 4), rectification and
//!   withdrawal included; the CRL is published retained;
//! - every refusal path ends in the CJN's quarantine and a rejection the court receives;
//! - two instances share the load: nothing lost, nothing doubled.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use common::*;
use openssl::cms::{CMSOptions, CmsContentInfo};
use openssl::x509::X509Crl;
use protocol::pki;
use protocol::{Body, CourtCode, Header, Identity, Message, OutboxPayload, Party, Reason, topics};

const A: &str = "12345";
const B: &str = "23456";
/// A court with a broker account whose certificate the CJN does not hold (not registered).
const U: &str = "99999";

fn court(code: &str) -> CourtCode {
    code.parse().unwrap()
}

/// A valid fiche message of `code` (from the sample outbox row), with this id and sequence.
fn fiche_message(code: &str, seq: u64) -> Message {
    let mut p =
        OutboxPayload::from_json(protocol::samples::TYPICAL_OUTBOX_JSON.as_bytes()).unwrap();
    p.message_id = protocol::new_message_id();
    p.court_code = court(code);
    p.seq = seq;
    p.niu = protocol::Niu::build(court(code), 2026, 900_000 + seq as u32).unwrap();
    p.into_message()
}

fn message(code: &str, body: Body) -> Message {
    Message {
        header: Header::new(Party::Court(court(code)), Party::Cjn, 1),
        body,
    }
}

/// The court's answers kept in its quarantine (what its listener could not store), opened:
/// (kind, rejection reason if a rejection).
async fn court_quarantine(w: &World, code: &str, me: &Identity) -> Vec<(String, Option<String>)> {
    let (_, trust) = pki::court_load(&w.court_pki_dir(code)).unwrap();
    let admin = w.court_admin(code).await;
    let rows = admin
        .query("select payload from court.quarantine order by 1", &[])
        .await
        .unwrap();
    let mut out = Vec::new();
    for r in rows {
        let payload: Vec<u8> = r.get(0);
        let (_, messages) = protocol::open_messages(&payload, me, &trust, Party::Cjn)
            .expect("what the court quarantined is a genuine message of the CJN");
        for m in messages {
            let reason = match &m.body {
                Body::Rejection(r) => Some(r.reason.name().to_owned()),
                _ => None,
            };
            out.push((m.body.kind().to_owned(), reason));
        }
    }
    out
}

/// The CJN's quarantine: (reason, claimed court).
async fn quarantine_reasons(cjn: &tokio_postgres::Client) -> BTreeSet<(String, Option<String>)> {
    cjn.query(
        "select reason_code, claimed_court from registry.quarantine",
        &[],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect()
}

/// The reasons of the court's rejected messages.
async fn rejected(w: &World, code: &str) -> Vec<String> {
    let admin = w.court_admin(code).await;
    admin
        .query(
            "select rejection_code from court.outbox where state = 'rejected'",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fiches_signed_at_a_court_reach_the_registry_and_the_court_archives_them() {
    let w = World::new(&[A], &[]).await;
    let (stop, daemon) = spawn_ingest(w.ingest_config("cjn-1")).await;
    let (mqtt, mut inbox) = w
        .court_mqtt(
            A,
            &[
                topics::REVOCATIONS.to_owned(),
                topics::enroll_answer(court(A)),
            ],
        )
        .await;

    // The CRL is published retained, signed by the issuing CA.
    let crl = tokio::time::timeout(Duration::from_secs(20), inbox.recv())
        .await
        .expect("the CRL is published")
        .unwrap();
    assert_eq!(crl.topic, topics::REVOCATIONS);
    let crl = X509Crl::from_der(&crl.payload).unwrap();
    assert!(crl.verify(&w.pki.issuing().public_key().unwrap()).unwrap());

    // Enrollment over MQTT, through cjn-ingest.
    let code = w.pki.new_enrollment_code(court(A), 1).unwrap();
    let dir = w.court_pki_dir(A);
    let (c, request) = pki::court_prepare_enrollment(&dir, &code.code).unwrap();
    publish(&mqtt, &topics::enroll_request(c), request).await;
    let answer = tokio::time::timeout(Duration::from_secs(20), inbox.recv())
        .await
        .expect("an enrollment answer")
        .unwrap();
    assert_eq!(answer.topic, topics::enroll_answer(c));
    let (identity, _) =
        pki::court_complete_enrollment(&dir, c, &code.ca_fingerprint, &answer.payload).unwrap();
    let serial = pki::cert_serial(identity.cert()).unwrap();
    let cjn = w.cjn().await;
    let recorded: Vec<String> = cjn
        .query(
            "select serial from registry.court_certificate where court_code = $1",
            &[&A],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        recorded,
        vec![serial],
        "the issued certificate is in the registry"
    );

    // Fiches signed at the court: five in one transaction (a batch), then three one by one.
    let _listener = spawn_listener(w.listener_config(A)).drop_guard();
    let ids = w.verified_fiches(A, 8).await;
    let mut nius = w.sign(A, &ids[..5]).await;
    for id in &ids[5..] {
        nius.extend(w.sign(A, &[*id]).await);
    }
    w.wait_archived(A, &ids, 60).await;

    // A rectification and a withdrawal travel too.
    let g = w.greffier(A).await;
    let mut corrected = varied_fiche(0);
    corrected["condamnation"]["sentence_months"] = 7.into();
    g.execute(
        "select juris.propose_rectification($1, $2, 'Erreur matérielle')",
        &[&ids[0], &corrected],
    )
    .await
    .unwrap();
    w.secretaire(A)
        .await
        .execute("select juris.verify_rectification($1)", &[&ids[0]])
        .await
        .unwrap();
    g.execute("select juris.apply_rectification($1)", &[&ids[0]])
        .await
        .unwrap();
    g.execute("select juris.withdraw_fiche($1, 'Amnistie')", &[&ids[1]])
        .await
        .unwrap();
    let (n0, n1) = (nius[0].clone(), nius[1].clone());
    eventually(60, "the rectification and the withdrawal reach the registry", || {
        let cjn = &cjn;
        let (n0, n1) = (n0.clone(), n1.clone());
        async move {
            let states: Vec<(String, i32, String)> = cjn
                .query(
                    "select niu, version, state::text from registry.fiche where niu in ($1, $2) order by 1, 2",
                    &[&n0, &n1],
                )
                .await
                .unwrap()
                .iter()
                .map(|r| (r.get(0), r.get(1), r.get(2)))
                .collect();
            states
                == vec![
                    (n0.clone(), 1, "superseded".into()),
                    (n0.clone(), 2, "active".into()),
                    (n1.clone(), 1, "withdrawn".into()),
                ]
        }
    })
    .await;
    w.wait_archived(A, &ids[..1], 30).await;

    // The registry holds each fiche once, with the signed bytes and the receipt's digest.
    let in_registry: BTreeSet<String> = cjn
        .query("select distinct niu from registry.fiche", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(in_registry, nius.iter().cloned().collect::<BTreeSet<_>>());
    assert_eq!(
        count(&cjn, "select count(*) from registry.message").await,
        10,
        "8 signatures, a rectification and a withdrawal, each stored once"
    );
    assert_eq!(
        count(
            &cjn,
            "select count(*) from registry.message m left join registry.envelope e using (signed_hash) \
             where e.signed is null or m.signed_hash <> sha256(e.signed) or m.applied_at is null"
        )
        .await,
        0
    );
    let stored: HashMap<String, String> = cjn
        .query(
            "select message_id::text, encode(signed_hash, 'hex') from registry.message",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let admin = w.court_admin(A).await;
    let receipts = admin
        .query(
            "select message_id::text, state, receipt ->> 'signed_hash' from court.outbox",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(receipts.len(), 10);
    for r in receipts {
        let (id, state, hash): (String, String, Option<String>) = (r.get(0), r.get(1), r.get(2));
        assert_eq!(state, "acknowledged");
        assert_eq!(hash.as_ref(), stored.get(&id), "receipt of {id}");
    }
    assert_eq!(
        count(&cjn, "select count(*) from registry.quarantine").await,
        0
    );
    assert_eq!(count(&cjn, "select count(*) from registry.alarm").await, 0);

    stop.cancel();
    let report = daemon.await.unwrap().unwrap();
    assert!(report.handled >= 3, "{report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_refusal_is_quarantined_and_answered_and_the_daemon_keeps_serving() {
    let w = World::new(&[A, B], &[U]).await;
    let (a_identity, _) = w.enroll_in_process(A);
    let (b_identity, _) = w.enroll_in_process(B);
    // U's certificate is issued, but U is not registered: the CJN does not trust it.
    let (u_identity, _) = w.enroll_in_process(U);
    let cjn_cert = w.pki.identity().cert().clone();
    let (stop, daemon) = spawn_ingest(w.ingest_config("cjn-1")).await;
    let _la = spawn_listener(w.listener_config(A)).drop_guard();
    let _lb = spawn_listener(w.listener_config(B)).drop_guard();
    let (a_mqtt, _) = w.court_mqtt(A, &[]).await;
    let (b_mqtt, _) = w.court_mqtt(B, &[]).await;
    let (u_mqtt, mut u_inbox) = w
        .court_mqtt(
            U,
            &[topics::down(court(U)), topics::enroll_answer(court(U))],
        )
        .await;
    let cjn = w.cjn().await;
    let up_a = topics::up(court(A));

    // Oversized, unopened.
    publish(&a_mqtt, &up_a, vec![0x30; 70_000]).await;
    // Malformed.
    publish(&a_mqtt, &up_a, b"not a CMS message at all".to_vec()).await;
    // Bad signature: A's SignedData with its signature altered, encrypted for the CJN.
    let payload = protocol::codec::encode(&[fiche_message(A, 1)]).unwrap();
    let mut signed = protocol::sign(&payload, &a_identity).unwrap();
    let last = signed.len() - 1;
    signed[last] ^= 0x01;
    let mut certs = openssl::stack::Stack::new().unwrap();
    certs.push(cjn_cert.clone()).unwrap();
    let forged = CmsContentInfo::encrypt(
        &certs,
        &signed,
        openssl::symm::Cipher::aes_256_gcm(),
        CMSOptions::BINARY | CMSOptions::USE_KEYID,
    )
    .unwrap()
    .to_der()
    .unwrap();
    publish(&a_mqtt, &up_a, forged).await;
    // A kind a court does not send (a receipt), well signed.
    let receipt = message(
        A,
        Body::Receipt(protocol::Receipt {
            message_id: protocol::new_message_id(),
            seq: 1,
            niu: None,
            version: None,
            stored_at: time::OffsetDateTime::now_utc(),
            signed_hash: protocol::Sha256Hash::from_bytes([1; 32]),
        }),
    );
    let sealed = protocol::seal_messages(&[receipt], &a_identity, &cjn_cert).unwrap();
    publish(&a_mqtt, &up_a, sealed).await;
    // A request for an extract without its purpose: refused by the CJN's database (answered
    // with its reason, not quarantined: the envelope was genuine).
    let extract: protocol::ExtractRequest = serde_json::from_value(serde_json::json!({
        "bulletin": "b3", "surname": "Kobila", "given_names": "Mangué",
        "birth_date": "1987-04-17", "birth_place": null, "niu": null,
        "purpose": " ", "requested_by": "g12345"
    }))
    .unwrap();
    let sealed = protocol::seal_messages(
        &[message(A, Body::ExtractRequest(extract))],
        &a_identity,
        &cjn_cert,
    )
    .unwrap();
    publish(&a_mqtt, &up_a, sealed).await;
    // Court ≠ topic: A's envelope on B's topic. The daemon names the signer (signer_mismatch)
    // when the signing court is among those it keeps parsed, i.e. has been active lately: wait
    // until A's genuine envelopes above were handled (another worker may take B's topic first).
    wait_for(
        30,
        "A's genuine envelopes are handled",
        || quarantine_reasons(&cjn),
        |got| got.contains(&("unsupported_kind".to_owned(), Some(A.to_owned()))),
    )
    .await;
    let sealed = protocol::seal_messages(&[fiche_message(A, 1)], &a_identity, &cjn_cert).unwrap();
    publish(&b_mqtt, &topics::up(court(B)), sealed).await;
    // Unknown court: U's (genuine) envelope; the CJN has no certificate of U to answer with.
    let sealed = protocol::seal_messages(&[fiche_message(U, 1)], &u_identity, &cjn_cert).unwrap();
    publish(&u_mqtt, &topics::up(court(U)), sealed).await;
    // Enrollment of an unregistered court, and with a code that does not exist.
    let code = w.pki.new_enrollment_code(court(U), 1).unwrap();
    let (_, request) =
        pki::court_prepare_enrollment(&w.tmp.path().join("u-again"), &code.code).unwrap();
    publish(&u_mqtt, &topics::enroll_request(court(U)), request).await;
    let bogus = format!("{A}-ABCDEFGH-ABCD-EFGH-JKLM-NPQR");
    let (_, request) =
        pki::court_prepare_enrollment(&w.tmp.path().join("a-again"), &bogus).unwrap();
    publish(&a_mqtt, &topics::enroll_request(court(A)), request).await;

    // Conflict: a message of A (well signed: a court database restored from an old backup)
    // takes the sequence number of A's next fiche; when that fiche comes, it conflicts.
    let admin_a = w.court_admin(A).await;
    let next_seq = count(
        &admin_a,
        "select coalesce(max(seq), 0) + 1 from court.outbox where kind like 'fiche%'",
    )
    .await as u64;
    let older = fiche_message(A, next_seq);
    let older_id = older.header.message_id.to_string();
    let sealed = protocol::seal_messages(&[older], &a_identity, &cjn_cert).unwrap();
    publish(&a_mqtt, &up_a, sealed).await;
    eventually(30, "the older message is stored", || {
        let (cjn, id) = (&cjn, older_id.clone());
        async move {
            cjn.query_one(
                "select count(*) from registry.message where message_id = $1::text::uuid",
                &[&id],
            )
            .await
            .unwrap()
            .get::<_, i64>(0)
                == 1
        }
    })
    .await;
    let conflicting = w.verified_fiches(A, 1).await;
    w.sign(A, &conflicting).await;

    // Revoked court: B is revoked (as `xmjuris pki revoke` does); its next fiche is refused.
    w.pki.revoke(court(B)).unwrap();
    eventually(30, "the daemon applies the new CRL", || async {
        count(
            &cjn,
            "select count(*) from registry.court_certificate where court_code = '23456' and revoked_at is not null",
        )
        .await
            == 1
    })
    .await;
    let revoked = w.verified_fiches(B, 1).await;
    w.sign(B, &revoked).await;

    // The CJN's quarantine holds each refusal with its reason.
    let expected: BTreeSet<(&str, Option<&str>)> = [
        ("too_large", Some(A)),
        ("malformed", Some(A)),
        ("bad_signature", Some(A)),
        ("unsupported_kind", Some(A)),
        ("signer_mismatch", Some(B)),
        ("unknown_signer", Some(U)),
        ("court_unknown", Some(U)),
        ("code_unknown", Some(A)),
        ("sequence_reused", Some(A)),
        ("certificate_revoked", Some(B)),
    ]
    .into_iter()
    .collect();
    let got = wait_for(
        60,
        "every refusal is quarantined",
        || quarantine_reasons(&cjn),
        |got| got.len() >= expected.len(),
    )
    .await;
    let got: BTreeSet<(&str, Option<&str>)> = got
        .iter()
        .map(|(r, c)| (r.as_str(), c.as_deref()))
        .collect();
    assert_eq!(got, expected);
    assert_eq!(
        count(&cjn, "select count(*) from registry.quarantine").await,
        expected.len() as i64,
        "each refusal quarantined once"
    );
    assert_eq!(
        count(
            &cjn,
            "select count(*) from registry.alarm where kind = 'reused_sequence'"
        )
        .await,
        1
    );

    // The courts: the conflicting and the revoked fiches' messages are rejected with their
    // reasons (juris.store_rejection through the listener)...
    wait_for(
        30,
        "the courts store the rejections",
        || async { (rejected(&w, A).await, rejected(&w, B).await) },
        |(a, b)| a == &["sequence_reused"] && b == &["certificate_revoked"],
    )
    .await;
    assert_eq!(w.statuses(A, &conflicting).await, ["signee"]);
    assert_eq!(w.statuses(B, &revoked).await, ["signee"]);
    // ... and the answers naming no message of theirs reach them too, genuine, with the reason.
    let mut a_answers = wait_for(
        30,
        "court A receives the other answers",
        || court_quarantine(&w, A, &a_identity),
        |a| a.len() >= 6,
    )
    .await;
    a_answers.sort();
    let r = |s: &str| Some(s.to_owned());
    assert_eq!(
        a_answers,
        vec![
            ("receipt".into(), None), // of the older message, unknown to the court
            ("rejection".into(), r("bad_signature")),
            ("rejection".into(), r("invalid_content")), // the extract request
            ("rejection".into(), r("malformed")),
            ("rejection".into(), r("too_large")),
            ("rejection".into(), r("unsupported_kind")), // the receipt sent up
        ]
    );
    wait_for(
        30,
        "court B receives the signer mismatch",
        || court_quarantine(&w, B, &b_identity),
        |b| b == &vec![("rejection".to_owned(), r("signer_mismatch"))],
    )
    .await;
    // The unregistered court gets a signed refusal of its enrollment, and nothing on `down`.
    let mut trust = protocol::TrustStore::new(w.pki.root().clone(), vec![w.pki.issuing().clone()]);
    trust.add_peer(cjn_cert.clone()).unwrap();
    let answer = tokio::time::timeout(Duration::from_secs(10), u_inbox.recv())
        .await
        .expect("an answer to U")
        .unwrap();
    assert_eq!(answer.topic, topics::enroll_answer(court(U)));
    let opened = protocol::verify_signed(answer.payload.to_vec(), &trust, Party::Cjn).unwrap();
    let m = protocol::codec::decode(&opened.payload).unwrap();
    assert!(
        matches!(&m[0].body, Body::Rejection(r) if r.reason == Reason::CourtUnknown),
        "{m:?}"
    );
    assert!(u_inbox.try_recv().is_err(), "nothing else for U");

    // Court A stopped signing: its recovery cannot take the older message back (the court
    // holds another under that number) and waits for an operator (docs/backup.md), who closes
    // it once he has acted.
    let state: serde_json::Value = wait_for(
        30,
        "court A's recovery stops on the reused number",
        || async {
            admin_a
                .query_one("select juris.recovery_state()", &[])
                .await
                .unwrap()
                .get(0)
        },
        |s: &serde_json::Value| s["recovering"] == true && !s["problem"].is_null(),
    )
    .await;
    assert!(
        state["problem"].as_str().unwrap().contains(&older_id),
        "{state}"
    );
    admin_a
        .execute(
            "select juris.end_recovery('Message refusé ressaisi ; le message ancien est gardé au CJN.')",
            &[],
        )
        .await
        .unwrap();

    // The daemon kept serving.
    let later = w.verified_fiches(A, 2).await;
    w.sign(A, &later).await;
    w.wait_archived(A, &later, 30).await;
    assert!(!daemon.is_finished());
    stop.cancel();
    daemon.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_the_load_and_lose_or_double_nothing() {
    let w = World::new(&[A, B], &[]).await;
    w.enroll_in_process(A);
    w.enroll_in_process(B);
    let (stop1, d1) = spawn_ingest(w.ingest_config("cjn-1")).await;
    let (stop2, d2) = spawn_ingest(w.ingest_config("cjn-2")).await;
    let _la = spawn_listener(w.listener_config(A)).drop_guard();
    let _lb = spawn_listener(w.listener_config(B)).drop_guard();
    let mut rng = Rng::seeded();
    let ids_a = w.verified_fiches(A, 24).await;
    let ids_b = w.verified_fiches(B, 24).await;
    let (mut ra, mut rb) = (ids_a.as_slice(), ids_b.as_slice());
    while !ra.is_empty() || !rb.is_empty() {
        for (code, rest) in [(A, &mut ra), (B, &mut rb)] {
            let n = (1 + rng.below(4) as usize).min(rest.len());
            let (now, later) = rest.split_at(n);
            if !now.is_empty() {
                w.sign(code, now).await;
            }
            *rest = later;
        }
        tokio::time::sleep(Duration::from_millis(rng.below(150))).await;
    }
    w.wait_archived(A, &ids_a, 60).await;
    w.wait_archived(B, &ids_b, 60).await;
    stop1.cancel();
    stop2.cancel();
    let (r1, r2) = (d1.await.unwrap().unwrap(), d2.await.unwrap().unwrap());
    eprintln!(
        "instance 1 handled {}, instance 2 handled {}",
        r1.handled, r2.handled
    );
    assert!(r1.handled > 0 && r2.handled > 0, "both instances worked");

    let cjn = w.cjn().await;
    for code in [A, B] {
        let row = cjn
            .query_one(
                "select count(*), count(distinct seq), min(seq), max(seq), count(*) filter (where applied_at is null) \
                 from registry.message where court_code = $1",
                &[&code],
            )
            .await
            .unwrap();
        let (n, distinct, min, max, unapplied): (i64, i64, i64, i64, i64) =
            (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4));
        assert_eq!(
            (n, distinct, min, max, unapplied),
            (24, 24, 1, 24, 0),
            "court {code}"
        );
    }
    assert_eq!(
        count(&cjn, "select count(distinct niu) from registry.fiche").await,
        48
    );
    assert_eq!(count(&cjn, "select count(*) from registry.fiche").await, 48);
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
}

/// Seals `body` as court `code` for the CJN, publishes it on the court's `up` topic, and
/// returns the CJN's answers from `down`, opened as the court.
async fn exchange(
    w: &World,
    code: &str,
    mqtt: &rumqttc::AsyncClient,
    inbox: &mut tokio::sync::mpsc::UnboundedReceiver<rumqttc::Publish>,
    body: Body,
) -> Vec<Message> {
    let (identity, trust) = pki::court_load(&w.court_pki_dir(code)).unwrap();
    let m = message(code, body);
    let sealed = protocol::seal_messages(&[m], &identity, w.pki.identity().cert()).unwrap();
    publish(mqtt, &topics::up(court(code)), sealed).await;
    let answer = tokio::time::timeout(Duration::from_secs(20), inbox.recv())
        .await
        .expect("an answer on down")
        .unwrap();
    protocol::open_messages(&answer.payload, &identity, &trust, Party::Cjn)
        .unwrap()
        .1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_checkpoints_renewal_and_tls_to_the_broker() {
    let (cert, key) = self_signed_localhost();
    let w = World::new_tls(&[A], &cert, &key).await;
    w.enroll_in_process(A);
    let toml = broker_tls_toml(&w.ingest_toml("cjn-1"), &w.broker, &cert, w.tmp.path());
    let config = cjn_ingest::Config::from_toml(&toml, []).unwrap();
    assert!(config.broker.tls);
    let (stop, daemon) = spawn_ingest(config).await;
    let (mqtt, mut inbox) = w.court_mqtt(A, &[topics::down(court(A))]).await;
    let cjn = w.cjn().await;

    // Audit checkpoints: recorded and receipted; another hash at the same number is a fork.
    let head = |seq: u64, byte: u8| {
        Body::AuditCheckpoint(protocol::AuditCheckpoint {
            audit_head: protocol::AuditHead {
                seq,
                hash: protocol::Sha256Hash::from_bytes([byte; 32]),
            },
            at: time::OffsetDateTime::now_utc(),
        })
    };
    let answers = exchange(&w, A, &mqtt, &mut inbox, head(42, 7)).await;
    assert!(
        matches!(
            &answers[..],
            [Message {
                body: Body::Receipt(_),
                ..
            }]
        ),
        "{answers:?}"
    );
    let recorded = cjn
        .query_one(
            "select audit_seq, audit_hash from registry.court where code = $1",
            &[&A],
        )
        .await
        .unwrap();
    assert_eq!(recorded.get::<_, Option<i64>>(0), Some(42));
    assert_eq!(recorded.get::<_, Option<String>>(1), Some("07".repeat(32)));
    exchange(&w, A, &mqtt, &mut inbox, head(42, 8)).await;
    assert_eq!(
        count(
            &cjn,
            "select count(*) from registry.alarm where kind = 'audit_fork'"
        )
        .await,
        1
    );

    // Renewal: a new key, a certificate issued and recorded, trusted at once.
    let dir = w.court_pki_dir(A);
    let csr_der = pki::court_prepare_renewal(&dir, court(A)).unwrap();
    let answers = exchange(
        &w,
        A,
        &mqtt,
        &mut inbox,
        Body::RenewalRequest(protocol::RenewalRequest { csr_der }),
    )
    .await;
    let [
        Message {
            body: Body::EnrollmentAnswer(answer),
            ..
        },
    ] = &answers[..]
    else {
        panic!("{answers:?}")
    };
    let (renewed, _) = pki::court_complete_renewal(&dir, court(A), answer).unwrap();
    assert_eq!(
        count(
            &cjn,
            "select count(*) from registry.court_certificate where court_code = '12345'"
        )
        .await,
        2
    );
    // The listener, with the renewed certificate, over the plain port.
    let _listener = spawn_listener(w.listener_config(A)).drop_guard();
    let ids = w.verified_fiches(A, 2).await;
    w.sign(A, &ids).await;
    w.wait_archived(A, &ids, 30).await;
    let signer: String = cjn
        .query_one(
            "select encode(e.signed, 'hex') from registry.message m join registry.envelope e using (signed_hash) limit 1",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let ski = protocol::ids::hex(renewed.cert().subject_key_id().unwrap().as_slice());
    assert!(signer.contains(&ski), "signed with the renewed key");
    stop.cancel();
    daemon.await.unwrap().unwrap();
}
