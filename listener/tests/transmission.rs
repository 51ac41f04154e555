//! The listener against real parts: a throw-away PostgreSQL court, a sandbox Mosquitto and a
//! test CJN responder.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use protocol::pki::CjnPki;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_signed_fiche_received_once_and_archived() {
    let w = World::new().await;
    let cjn = cjn_responder(&w).await;
    let (stop, handle) = spawn_listener(w.config());
    // Signed while the listener runs: the NOTIFY wakes it.
    let ids = w.verified_fiches(3).await;
    for id in &ids {
        w.sign(&[*id]).await;
    }
    w.wait_archived(&ids, 60).await;
    let outbox = w.outbox_ids().await;
    {
        let log = cjn.log.lock().unwrap();
        assert_eq!(log.stored, outbox, "the CJN stored each message, in order");
        assert!(log.received.values().all(|n| *n == 1), "each received once");
    }
    let status = listener::status(&w.config()).await.unwrap();
    assert_eq!(status["acknowledged"], 3);
    assert_eq!(status["pending"], 0);
    assert!(!status["last_contact"].is_null());
    stop.cancel();
    handle.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_fiches_signed_in_one_transaction_all_leave() {
    let w = World::new().await;
    let ids = w.verified_fiches(50).await;
    w.sign(&ids).await;
    let cjn = cjn_responder(&w).await;
    let report = listener::run_once(w.config(), tokio_util::sync::CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(report.pending, 0);
    assert!(!report.timed_out);
    w.wait_archived(&ids, 10).await;
    let outbox = w.outbox_ids().await;
    let log = cjn.log.lock().unwrap();
    assert_eq!(log.stored, outbox);
    assert!(log.received.values().all(|n| *n == 1));
    // Batched: 50 messages in a few envelopes, not 50.
    assert!(log.envelopes < 50, "{} envelopes", log.envelopes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_receipt_is_refused_and_quarantined() {
    let w = World::new().await;
    let ids = w.verified_fiches(1).await;
    w.sign(&ids).await;
    let (stop, handle) = spawn_listener(w.config());
    // Wait until the listener has sent it (no CJN listens yet).
    let admin = w.admin().await;
    let start = std::time::Instant::now();
    loop {
        let attempts: i32 = admin
            .query_one("select attempts from court.outbox", &[])
            .await
            .unwrap()
            .get(0);
        if attempts > 0 {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "never sent");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A forger with a CA and a "CJN" certificate of its own.
    let rogue = CjnPki::init(&w.tmp.path().join("rogue")).unwrap();
    let (court_identity, court_trust) = protocol::pki::court_load(&w.court_dir).unwrap();
    let message_id = w.outbox_ids().await[0];
    publish_forged_receipt(
        &w,
        rogue.identity(),
        &court_trust,
        court_identity.cert(),
        message_id,
    )
    .await;
    let start = std::time::Instant::now();
    while w.quarantined().await == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "never quarantined"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(w.statuses(&ids).await, ["signee"]);
    let state: String = admin
        .query_one("select state from court.outbox", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(state, "pending");
    let reason: String = admin
        .query_one("select reason from court.quarantine", &[])
        .await
        .unwrap()
        .get(0);
    assert!(reason.starts_with("unknown_signer"), "{reason}");
    // The real CJN then answers the re-sent message: archived.
    let _cjn = cjn_responder(&w).await;
    w.wait_archived(&ids, 60).await;
    stop.cancel();
    handle.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejection_is_stored_for_the_greffier() {
    let w = World::new().await;
    let ids = w.verified_fiches(1).await;
    w.sign(&ids).await;
    let _cjn = cjn_responder_with(&w, true).await;
    let report = listener::run_once(w.config(), tokio_util::sync::CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(report.pending, 0);
    let admin = w.admin().await;
    let row = admin
        .query_one(
            "select state, rejection_code, rejection_reason from court.outbox",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "rejected");
    assert_eq!(row.get::<_, String>(1), "decode_failed");
    assert!(row.get::<_, String>(2).starts_with("Le CJN a refusé"));
    assert_eq!(w.statuses(&ids).await, ["signee"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_acl_keeps_a_court_to_its_topics() {
    use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
    let w = World::new().await;
    let mut o = MqttOptions::new("acl-test", "127.0.0.1", w.broker.port());
    o.set_credentials(COURT, COURT_BROKER_PASSWORD);
    let (client, mut eventloop) = AsyncClient::new(o, 8);
    client
        .subscribe("xmjuris/v1/54321/down", QoS::AtLeastOnce)
        .await
        .unwrap();
    client
        .subscribe(format!("xmjuris/v1/{COURT}/down"), QoS::AtLeastOnce)
        .await
        .unwrap();
    let mut subacks = 0;
    while subacks < 2 {
        if let Event::Incoming(Packet::SubAck(_)) = eventloop.poll().await.unwrap() {
            subacks += 1;
        }
    }
    // The CJN publishes on another court's topic, then on this court's.
    let (cjn, mut cjn_loop) = AsyncClient::new(w.cjn_options("acl-cjn"), 8);
    cjn.publish("xmjuris/v1/54321/down", QoS::AtLeastOnce, false, "foreign")
        .await
        .unwrap();
    cjn.publish(
        format!("xmjuris/v1/{COURT}/down"),
        QoS::AtLeastOnce,
        false,
        "own",
    )
    .await
    .unwrap();
    tokio::spawn(async move { while cjn_loop.poll().await.is_ok() {} });
    let mut got = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(3), async {
        loop {
            if let Ok(Event::Incoming(Packet::Publish(p))) = eventloop.poll().await {
                got.push(p.topic.clone());
            }
        }
    })
    .await;
    assert_eq!(
        got,
        [format!("xmjuris/v1/{COURT}/down")],
        "only its own topic"
    );
    // A wrong password is refused.
    let mut o = MqttOptions::new("acl-test-2", "127.0.0.1", w.broker.port());
    o.set_credentials(COURT, "wrong");
    let (_c, mut eventloop) = AsyncClient::new(o, 8);
    assert!(eventloop.poll().await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_list_applied_and_garbage_quarantined() {
    use protocol::{Body, Header, Message, Party, RevocationList, topics};
    use rumqttc::{AsyncClient, Event, Packet, QoS};
    let w = World::new().await;
    let (stop, handle) = spawn_listener(w.config());
    let start = std::time::Instant::now();
    while listener::status(&w.config()).await.unwrap()["last_contact"].is_null() {
        assert!(start.elapsed() < Duration::from_secs(20), "never connected");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let crl_path = w.court_dir.join("crl.pem");
    let before = std::fs::read(&crl_path).unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let crl = w.cjn.write_crl().unwrap();
    let (court_identity, _) = protocol::pki::court_load(&w.court_dir).unwrap();
    let message = Message {
        header: Header::new(Party::Cjn, Party::Court(w.court), 1),
        body: Body::RevocationList(RevocationList {
            crl_der: crl.to_der().unwrap(),
        }),
    };
    let sealed =
        protocol::seal_messages(&[message], w.cjn.identity(), court_identity.cert()).unwrap();
    let (client, mut eventloop) = AsyncClient::new(w.cjn_options("crl-publisher"), 8);
    client
        .publish(topics::down(w.court), QoS::AtLeastOnce, false, sealed)
        .await
        .unwrap();
    client
        .publish(
            topics::down(w.court),
            QoS::AtLeastOnce,
            false,
            vec![0x30, 0x03, 1, 2, 3],
        )
        .await
        .unwrap();
    let mut acks = 0;
    while acks < 2 {
        if let Event::Incoming(Packet::PubAck(_)) = eventloop.poll().await.unwrap() {
            acks += 1;
        }
    }
    let start = std::time::Instant::now();
    while std::fs::read(&crl_path).unwrap() == before || w.quarantined().await == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "CRL not applied or garbage not quarantined"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(std::fs::read(&crl_path).unwrap(), crl.to_pem().unwrap());
    assert_eq!(w.quarantined().await, 1);
    stop.cancel();
    handle.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_to_the_broker() {
    let (cert, key) = self_signed_localhost();
    let w = World::new_tls(&cert, &key).await;
    let ca = w.tmp.path().join("broker-ca.pem");
    std::fs::write(&ca, &cert).unwrap();
    let ids = w.verified_fiches(1).await;
    w.sign(&ids).await;
    let _cjn = cjn_responder(&w).await;
    let text = w.config_toml().replace(
        &format!("port = {}\n", w.broker.port()),
        &format!(
            "port = {}\ntls = true\ntls_ca_file = \"{}\"\n",
            w.broker.tls_port().unwrap(),
            ca.display()
        ),
    );
    let config = listener::Config::from_toml(&text, []).unwrap();
    let report = listener::run_once(config, tokio_util::sync::CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(report.pending, 0);
    assert_eq!(w.statuses(&ids).await, ["archivee"]);
}
