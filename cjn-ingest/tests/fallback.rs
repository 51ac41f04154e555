//! An envelope of fiche events is first stored without a savepoint per message (they cost
//! database CPU); when the database refuses one of its messages, the envelope is stored again
//! with a savepoint per message, so that only that message is refused: the others are
//! receipted, the refused one quarantined and answered with its reason.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use protocol::{Body, CourtCode, OutboxPayload, Party, Reason, topics};

const A: &str = "12345";

fn court() -> CourtCode {
    A.parse().unwrap()
}

/// A fiche event of court A with this sequence number and fiche version.
fn fiche(seq: u64, version: u32) -> protocol::Message {
    let mut p =
        OutboxPayload::from_json(protocol::samples::TYPICAL_OUTBOX_JSON.as_bytes()).unwrap();
    p.message_id = protocol::new_message_id();
    p.court_code = court();
    p.seq = seq;
    p.version = version;
    p.niu = protocol::Niu::build(court(), 2026, 800_000 + seq as u32).unwrap();
    p.into_message()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_refused_fiche_does_not_sink_its_envelope() {
    let w = World::new(&[A], &[]).await;
    let (identity, trust) = w.enroll_in_process(A);
    let (stop, daemon) = spawn_ingest(w.ingest_config("cjn-1")).await;
    let (mqtt, mut inbox) = w.court_mqtt(A, &[topics::down(court())]).await;

    // Version 0 passes the protocol but not the registry (fiche_version_positive).
    let messages = [fiche(1, 1), fiche(2, 0), fiche(3, 1)];
    let ids: Vec<_> = messages.iter().map(|m| m.header.message_id).collect();
    let cjn_cert = w.pki.identity().cert().clone();
    let sealed = protocol::seal_messages(&messages, &identity, &cjn_cert).unwrap();
    publish(&mqtt, &topics::up(court()), sealed).await;

    let answer = tokio::time::timeout(Duration::from_secs(30), inbox.recv())
        .await
        .expect("the CJN answers")
        .unwrap();
    let (_, answers) = protocol::open_messages(&answer.payload, &identity, &trust, Party::Cjn)
        .expect("a genuine answer of the CJN");
    assert_eq!(answers.len(), 3, "{answers:?}");
    match &answers[0].body {
        Body::Receipt(r) => assert_eq!(r.message_id, ids[0]),
        other => panic!("expected a receipt, got {other:?}"),
    }
    match &answers[1].body {
        Body::Rejection(r) => {
            assert_eq!(r.message_id, ids[1]);
            assert_eq!(r.reason, Reason::InvalidContent);
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
    match &answers[2].body {
        Body::Receipt(r) => assert_eq!(r.message_id, ids[2]),
        other => panic!("expected a receipt, got {other:?}"),
    }

    let cjn = w.cjn().await;
    assert_eq!(
        count(&cjn, "select count(*) from registry.message").await,
        2,
        "the refused message is not stored, the other two are"
    );
    assert_eq!(count(&cjn, "select count(*) from registry.fiche").await, 1);
    assert_eq!(
        count(
            &cjn,
            "select count(*) from registry.sequence_gap where seq = 2 and filled_at is null"
        )
        .await,
        1,
        "message 3 waits for a message 2"
    );
    assert_eq!(
        count(
            &cjn,
            "select count(*) from registry.quarantine where reason_code = 'invalid_content'"
        )
        .await,
        1
    );

    stop.cancel();
    daemon.await.unwrap().unwrap();
}
