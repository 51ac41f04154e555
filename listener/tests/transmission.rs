//! The listener against real parts: throw-away PostgreSQL clusters, a sandbox Mosquitto, and
//! the real CJN daemon (`cjn-ingest`, in process, with its own CJN database: the set-up of its
//! tests, `cjn-ingest/tests/common`) — or, where the CJN must misbehave (a forged receipt, a
//! rejection of everything, a revocation list inside an envelope, garbage), a test CJN
//! responder built with `protocol` (`common`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

use common::real_cjn::{self, count};
use common::*;
use protocol::pki::{self, CjnPki, files};
use protocol::topics;

const A: &str = "12345";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_signed_fiche_reaches_the_real_cjn_once_and_is_archived() {
    let w = real_cjn::World::new(&[A], &[]).await;
    w.enroll_in_process(A);
    let (stop_cjn, daemon) = real_cjn::spawn_ingest(w.ingest_config("cjn-1")).await;
    let cjn = w.cjn().await;

    // 50 fiches signed in one transaction, sent by `xmjuris-listener --once`: all leave.
    let fifty = w.verified_fiches(A, 50).await;
    w.sign(A, &fifty).await;
    let config = w.tmp.path().join("listener.toml");
    std::fs::write(&config, real_listener_toml(&w, A, w.broker.port())).unwrap();
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
        "--once: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(w.statuses(A, &fifty).await.iter().all(|s| s == "archivee"));
    // Batched: 50 messages in a few envelopes (each envelope's signed bytes are kept once at
    // the CJN, registry.envelope), not 50.
    let envelopes = count(
        &cjn,
        "select count(distinct signed_hash) from registry.message",
    )
    .await;
    assert!((1..=10).contains(&envelopes), "{envelopes} envelopes");

    // The daemon: fiches signed one by one while it runs (the NOTIFY wakes it), then a
    // restart of the court's PostgreSQL, waited out (LISTEN again, then drain).
    let (stop, handle) = spawn_listener(w.listener_config(A));
    let singles = w.verified_fiches(A, 4).await;
    for id in &singles[..3] {
        w.sign(A, &[*id]).await;
    }
    w.wait_archived(A, &singles[..3], 60).await;
    w.court_cluster.stop().unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    w.court_cluster.start_again().unwrap();
    w.sign(A, &singles[3..]).await;
    w.wait_archived(A, &singles, 60).await;

    // The CJN holds each message once, the court's, in order, with no gap and no alarm; its
    // NIUs are the court's.
    let outbox = real_outbox_ids(&w, A).await;
    assert_eq!(outbox.len(), 54);
    assert_eq!(cjn_message_ids(&cjn, A).await, outbox);
    let court_nius: BTreeSet<String> = w
        .court_admin(A)
        .await
        .query("select niu from court.fiche where niu is not null", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let cjn_nius: BTreeSet<String> = cjn
        .query("select niu from registry.fiche", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(cjn_nius, court_nius);
    assert_eq!(
        count(
            &cjn,
            "select count(*) from registry.sequence_gap where filled_at is null"
        )
        .await,
        0
    );
    assert_eq!(count(&cjn, "select count(*) from registry.alarm").await, 0);
    assert_eq!(
        count(&cjn, "select count(*) from registry.quarantine").await,
        0
    );
    let status = listener::status(&w.listener_config(A)).await.unwrap();
    assert_eq!(status["acknowledged"], 54);
    assert_eq!(status["pending"], 0);
    assert_eq!(status["quarantined"], 0);
    assert!(!status["last_contact"].is_null());
    stop.cancel();
    handle.await.unwrap().unwrap();
    stop_cjn.cancel();
    daemon.await.unwrap().unwrap();
}

/// A certificate for the court's current key that expires in `days`, issued by the CJN's
/// issuing CA as if enrolled two years ago: installed as the court's certificate, and in the
/// CJN's `issued/` (which cjn-ingest imports at start). Returns its serial.
fn install_short_lived_certificate(w: &real_cjn::World, code: &str, days: u32) -> String {
    use openssl::asn1::Asn1Time;
    use openssl::bn::{BigNum, MsbOption};
    use openssl::hash::MessageDigest;
    use openssl::x509::X509Builder;
    use openssl::x509::extension::{
        AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectKeyIdentifier,
    };
    let dir = w.court_pki_dir(code);
    let key = pki::read_key(&dir.join(files::COURT_KEY)).unwrap();
    let current = pki::read_cert(&dir.join(files::COURT_CRT)).unwrap();
    let issuing = w.pki.issuing().clone();
    let issuing_key = pki::read_key(&w.pki_dir.join(files::ISSUING_KEY)).unwrap();
    let mut b = X509Builder::new().unwrap();
    b.set_version(2).unwrap();
    let mut serial = BigNum::new().unwrap();
    serial.rand(64, MsbOption::MAYBE_ZERO, false).unwrap();
    b.set_serial_number(&serial.to_asn1_integer().unwrap())
        .unwrap();
    b.set_subject_name(current.subject_name()).unwrap();
    b.set_issuer_name(issuing.subject_name()).unwrap();
    b.set_pubkey(&key).unwrap();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    b.set_not_before(&Asn1Time::from_unix(now - 3600).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::days_from_now(days).unwrap())
        .unwrap();
    b.append_extension(BasicConstraints::new().critical().build().unwrap())
        .unwrap();
    b.append_extension(
        KeyUsage::new()
            .critical()
            .digital_signature()
            .non_repudiation()
            .key_agreement()
            .build()
            .unwrap(),
    )
    .unwrap();
    b.append_extension(
        ExtendedKeyUsage::new()
            .email_protection()
            .client_auth()
            .build()
            .unwrap(),
    )
    .unwrap();
    let ski = SubjectKeyIdentifier::new()
        .build(&b.x509v3_context(Some(&issuing), None))
        .unwrap();
    b.append_extension(ski).unwrap();
    let aki = AuthorityKeyIdentifier::new()
        .keyid(true)
        .build(&b.x509v3_context(Some(&issuing), None))
        .unwrap();
    b.append_extension(aki).unwrap();
    b.sign(&issuing_key, MessageDigest::sha256()).unwrap();
    let cert = b.build();
    let serial = pki::cert_serial(&cert).unwrap();
    pki::write_cert(&dir.join(files::COURT_CRT), &cert).unwrap();
    pki::write_cert(
        &w.pki_dir
            .join(files::ISSUED_DIR)
            .join(format!("{code}-{serial}.crt")),
        &cert,
    )
    .unwrap();
    serial
}

fn court_serial(w: &real_cjn::World, code: &str) -> String {
    let cert = pki::read_cert(&w.court_pki_dir(code).join(files::COURT_CRT)).unwrap();
    pki::cert_serial(&cert).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificate_renewed_before_expiry_and_revocation_list_applied_from_the_real_cjn() {
    let w = real_cjn::World::new(&[A], &[]).await;
    w.enroll_in_process(A);
    let short = install_short_lived_certificate(&w, A, 10);
    // Someone watching the court's `up` topic (its own account may read it).
    let (_watch, mut up) = w.court_mqtt(A, &[topics::up(A.parse().unwrap())]).await;
    // The listener starts before the CJN: its first renewal request is lost (nobody
    // subscribed); without an answer it asks again after `renewal_retry_secs`.
    let mut config = w.listener_config(A);
    assert_eq!(config.court.renew_before_days, 30);
    config.court.renewal_retry_secs = 2;
    let (stop, handle) = spawn_listener(config);
    for n in 1..=2 {
        tokio::time::timeout(Duration::from_secs(20), up.recv())
            .await
            .unwrap_or_else(|_| panic!("renewal request {n} not sent"))
            .unwrap();
    }
    assert!(pki::court_renewal_pending(&w.court_pki_dir(A)));
    // The CJN comes: the next request is answered, the new certificate installed.
    let (stop_cjn, daemon) = real_cjn::spawn_ingest(w.ingest_config("cjn-1")).await;
    real_cjn::eventually(30, "the renewed certificate is installed", || async {
        court_serial(&w, A) != short
    })
    .await;
    let renewed = pki::read_cert(&w.court_pki_dir(A).join(files::COURT_CRT)).unwrap();
    assert!(!pki::court_renewal_pending(&w.court_pki_dir(A)));
    assert!(
        renewed.not_after() > openssl::asn1::Asn1Time::days_from_now(700).unwrap(),
        "a full-length certificate"
    );
    let cjn = w.cjn().await;
    let recorded: i64 = cjn
        .query_one(
            "select count(*) from registry.court_certificate where court_code = $1 and serial = $2",
            &[&A, &court_serial(&w, A)],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(recorded, 1, "the new certificate is the CJN's");
    // Once: no more requests with a certificate far from expiry.
    while up.try_recv().is_ok() {}
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(
        up.try_recv().is_err(),
        "no renewal request after the renewal"
    );
    // Fiches now leave signed with the new key and are archived.
    let ids = w.verified_fiches(A, 2).await;
    w.sign(A, &ids).await;
    w.wait_archived(A, &ids, 30).await;
    let ski = protocol::ids::hex(renewed.subject_key_id().unwrap().as_slice());
    let signed: Vec<String> = cjn
        .query(
            "select encode(e.signed, 'hex') from registry.message m join registry.envelope e using (signed_hash)",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(signed.len(), 2);
    assert!(
        signed.iter().all(|s| s.contains(&ski)),
        "signed with the renewed key"
    );

    // A new revocation list at the CJN: published retained on the revocations topic, the
    // listener applies it (its court's `crl.pem` becomes the CJN's).
    let crl_path = w.court_pki_dir(A).join(files::CRL);
    let crl = w.pki.revoke("54321".parse().unwrap()).unwrap();
    let want = crl.to_pem().unwrap();
    assert_ne!(std::fs::read(&crl_path).unwrap(), want);
    real_cjn::eventually(
        20,
        "the court applies the CJN's revocation list",
        || async { std::fs::read(&crl_path).unwrap() == want },
    )
    .await;
    // Nothing was quarantined: the answers sealed for the old certificate were opened too.
    assert_eq!(
        count(
            &w.court_admin(A).await,
            "select count(*) from court.quarantine"
        )
        .await,
        0
    );
    stop.cancel();
    handle.await.unwrap().unwrap();
    stop_cjn.cancel();
    daemon.await.unwrap().unwrap();
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
    let mut o = MqttOptions::new(format!("court-{COURT}"), "127.0.0.1", w.broker.port());
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
    let mut granted = Vec::new();
    while granted.len() < 2 {
        if let Event::Incoming(Packet::SubAck(a)) = eventloop.poll().await.unwrap() {
            granted.push(matches!(
                a.return_codes[0],
                rumqttc::SubscribeReasonCode::Success(_)
            ));
        }
    }
    assert_eq!(
        granted,
        [false, true],
        "another court's topic refused, its own granted"
    );
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
    let mut o = MqttOptions::new(format!("court-{COURT}"), "127.0.0.1", w.broker.port());
    o.set_credentials(COURT, "wrong");
    let (_c, mut eventloop) = AsyncClient::new(o, 8);
    assert!(eventloop.poll().await.is_err());
}

/// What the real CJN does not do: a revocation list inside a sealed envelope, garbage on the
/// court's topic, and a rejection naming no message (the real CJN sends those for an envelope
/// it could not read; provoking one from a genuine listener is not possible).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_list_applied_garbage_and_unnamed_rejection_quarantined() {
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
    let unnamed = Message {
        header: Header::new(Party::Cjn, Party::Court(w.court), 2),
        body: Body::Rejection(protocol::Rejection {
            message_id: uuid::Uuid::nil(),
            reason: protocol::Reason::DecryptionFailed,
            detail: Some("CMS decrypt".into()),
        }),
    };
    let unnamed =
        protocol::seal_messages(&[unnamed], w.cjn.identity(), court_identity.cert()).unwrap();
    let (client, mut eventloop) = AsyncClient::new(w.cjn_options("crl-publisher"), 8);
    client
        .publish(topics::down(w.court), QoS::AtLeastOnce, false, sealed)
        .await
        .unwrap();
    client
        .publish(topics::down(w.court), QoS::AtLeastOnce, false, unnamed)
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
    while acks < 3 {
        if let Event::Incoming(Packet::PubAck(_)) = eventloop.poll().await.unwrap() {
            acks += 1;
        }
    }
    let start = std::time::Instant::now();
    while std::fs::read(&crl_path).unwrap() == before || w.quarantined().await < 2 {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "CRL not applied or garbage not quarantined"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(std::fs::read(&crl_path).unwrap(), crl.to_pem().unwrap());
    assert_eq!(w.quarantined().await, 2);
    let reasons: Vec<String> = w
        .admin()
        .await
        .query("select reason from court.quarantine order by 1", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(
        reasons
            .iter()
            .any(|r| r == "rejected_by_cjn: decryption_failed: CMS decrypt"),
        "{reasons:?}"
    );
    // The operator's status counts them.
    assert_eq!(
        listener::status(&w.config()).await.unwrap()["quarantined"],
        2
    );
    stop.cancel();
    handle.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_to_the_broker() {
    let (cert, key) = real_cjn::self_signed_localhost();
    let w = World::new_tls(&cert, &key).await;
    let ids = w.verified_fiches(1).await;
    w.sign(&ids).await;
    let _cjn = cjn_responder(&w).await;
    let text = real_cjn::broker_tls_toml(&w.config_toml(), &w.broker, &cert, w.tmp.path());
    let config = listener::Config::from_toml(&text, []).unwrap();
    let report = listener::run_once(config, tokio_util::sync::CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(report.pending, 0);
    assert_eq!(w.statuses(&ids).await, ["archivee"]);
}
