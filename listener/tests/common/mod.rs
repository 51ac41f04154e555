//! Shared set-up: a throw-away court database, a sandbox Mosquitto, the court's PKI (enrolled
//! in process against a test CJN PKI), and a test CJN responder built with `protocol`; or,
//! with the real CJN, cjn-ingest's own test set-up ([`real_cjn`]) and the helpers below.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

/// cjn-ingest's test set-up (a CJN database, courts' databases, broker, PKI, the real daemon)
/// and the helpers both suites use (waiting, a seeded generator, fiches, TLS), shared rather
/// than copied.
#[path = "../../../cjn-ingest/tests/common/mod.rs"]
pub mod real_cjn;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use listener::Config;
use protocol::pki::{self, CjnPki};
use protocol::{Body, CourtCode, Header, Identity, Message, Party, Receipt, TrustStore, topics};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use sandbox::{Broker, BrokerUser, PgCluster};
use time::OffsetDateTime;
use uuid::Uuid;

pub const PASSWORD: &str = "motdepasse-test";
pub const LISTENER_PASSWORD: &str = "listener-secret";
pub const COURT: &str = "12345";
pub const COURT_BROKER_PASSWORD: &str = "court-broker-secret";
pub const CJN_BROKER_PASSWORD: &str = "cjn-broker-secret";
/// The test CJN's broker accounts ([`World::cjn_options`]; client id = user name): the broker
/// binds each account to one client id.
pub const CJN_CLIENTS: &[&str] = &["cjn-test", "forger", "acl-cjn", "crl-publisher"];

pub struct World {
    pub tmp: tempfile::TempDir,
    pub cluster: PgCluster,
    pub broker: Broker,
    pub cjn: CjnPki,
    pub court: CourtCode,
    pub court_dir: PathBuf,
}

impl World {
    pub async fn new() -> World {
        World::build(None).await
    }

    /// With a TLS port on the broker too, serving this certificate and key (PEM).
    pub async fn new_tls(cert_pem: &[u8], key_pem: &[u8]) -> World {
        World::build(Some((cert_pem, key_pem))).await
    }

    async fn build(tls: Option<(&[u8], &[u8])>) -> World {
        let tmp = tempfile::tempdir().unwrap();
        let cluster = PgCluster::start().expect("start PostgreSQL");
        cluster.create_database("court").unwrap();
        db::migrate(&cluster.admin_url("court"), db::Schema::Court)
            .await
            .expect("migrate");
        cluster
            .psql(
                "court",
                &format!(
                    "select juris.init_court('{COURT}', 'Tribunal de test', 'ADAMAOUA', 'FARO ET DEO', \
                     'Biyouha', 'kamdem', 'Kamdem Jean', '{}'); \
                     select juris.create_listener_login('listener', '{}');",
                    db::scram_verifier(PASSWORD),
                    db::scram_verifier(LISTENER_PASSWORD)
                ),
            )
            .expect("init court");
        let w = World {
            broker: {
                let mut users = vec![BrokerUser::court(COURT, COURT_BROKER_PASSWORD)];
                for id in CJN_CLIENTS {
                    users.push(BrokerUser::cjn(id, CJN_BROKER_PASSWORD));
                }
                match tls {
                    Some((cert, key)) => Broker::start_with_tls(&users, cert, key),
                    None => Broker::start(&users),
                }
                .expect("start mosquitto")
            },
            cjn: CjnPki::init(&tmp.path().join("cjn")).unwrap(),
            court: COURT.parse().unwrap(),
            court_dir: tmp.path().join("court-pki"),
            cluster,
            tmp,
        };
        let code = w.cjn.new_enrollment_code(w.court, 1).unwrap();
        let (c, request) = pki::court_prepare_enrollment(&w.court_dir, &code.code).unwrap();
        let answer = w.cjn.handle_enrollment(c, &request).unwrap();
        pki::court_complete_enrollment(&w.court_dir, c, &code.ca_fingerprint, &answer).unwrap();
        let greffier = w.connect("kamdem").await;
        for (login, name, privilege) in
            [("zambo", "Zambo Kenneth", 2), ("mbarga", "Mbarga Paul", 1)]
        {
            greffier
                .execute(
                    "select juris.create_user($1, $2, $3, $4)",
                    &[&login, &name, &db::scram_verifier(PASSWORD), &privilege],
                )
                .await
                .expect("create user");
        }
        w
    }

    pub fn config_toml(&self) -> String {
        format!(
            r#"
[court]
code = "{COURT}"
pki_dir = "{pki}"

[database]
url = "host=127.0.0.1 port={pg} dbname=court user=listener"
password = "{LISTENER_PASSWORD}"

[broker]
host = "127.0.0.1"
port = {mqtt}
password = "{COURT_BROKER_PASSWORD}"
keep_alive_secs = 300
backoff_initial_ms = 100
backoff_max_secs = 2

[transmission]
max_envelope_bytes = 8192
max_batch_messages = 20
max_in_flight_bytes = 32768
resend_after_secs = 10
poll_interval_secs = 2
once_timeout_secs = 60
"#,
            pki = self.court_dir.display(),
            pg = self.cluster.port(),
            mqtt = self.broker.port(),
        )
    }

    pub fn config(&self) -> Config {
        Config::from_toml(&self.config_toml(), []).unwrap()
    }

    pub async fn connect(&self, login: &str) -> tokio_postgres::Client {
        db::connect(&self.cluster.user_url(login, PASSWORD, "court"))
            .await
            .expect("connect")
    }

    pub async fn admin(&self) -> tokio_postgres::Client {
        db::connect(&self.cluster.admin_url("court")).await.unwrap()
    }

    /// Saves, submits and verifies `n` fiches; returns their ids.
    pub async fn verified_fiches(&self, n: usize) -> Vec<i64> {
        let agent = self.connect("mbarga").await;
        let sec = self.connect("zambo").await;
        real_cjn::verify_fiches(&agent, &sec, n).await
    }

    /// Signs these fiches, all in one transaction.
    pub async fn sign(&self, ids: &[i64]) {
        let mut g = self.connect("kamdem").await;
        let tx = g.transaction().await.unwrap();
        for id in ids {
            tx.execute("select juris.sign_fiche($1)", &[id])
                .await
                .expect("sign");
        }
        tx.commit().await.unwrap();
    }

    /// Status of each fiche, by id.
    pub async fn statuses(&self, ids: &[i64]) -> Vec<String> {
        let admin = self.admin().await;
        let mut out = Vec::new();
        for id in ids {
            out.push(
                admin
                    .query_one(
                        "select status::text from court.fiche where fiche_id = $1",
                        &[id],
                    )
                    .await
                    .unwrap()
                    .get(0),
            );
        }
        out
    }

    /// Message ids of the outbox, by seq.
    pub async fn outbox_ids(&self) -> Vec<Uuid> {
        let admin = self.admin().await;
        admin
            .query(
                "select message_id::text from court.outbox order by seq",
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get::<_, String>(0).parse().unwrap())
            .collect()
    }

    pub async fn quarantined(&self) -> i64 {
        let admin = self.admin().await;
        admin
            .query_one("select count(*) from court.quarantine", &[])
            .await
            .unwrap()
            .get(0)
    }

    /// Waits until every fiche is archived (or panics after `secs`).
    pub async fn wait_archived(&self, ids: &[i64], secs: u64) {
        let start = std::time::Instant::now();
        loop {
            let s = self.statuses(ids).await;
            if s.iter().all(|s| s == "archivee") {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(secs),
                "not archived after {secs} s: {:?}",
                s.iter().filter(|s| *s != "archivee").count()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// A CJN account's MQTT options (`id` one of [`CJN_CLIENTS`]).
    pub fn cjn_options(&self, id: &str) -> MqttOptions {
        assert!(CJN_CLIENTS.contains(&id), "{id} is not a CJN account");
        let mut o = MqttOptions::new(id, "127.0.0.1", self.broker.port());
        o.set_credentials(id, CJN_BROKER_PASSWORD);
        o.set_keep_alive(Duration::from_secs(30));
        o.set_max_packet_size(2 << 20, 2 << 20);
        o
    }
}

/// What the test CJN saw.
#[derive(Default)]
pub struct CjnLog {
    /// How many times each message id arrived.
    pub received: HashMap<Uuid, usize>,
    /// Stored messages (first arrival), in arrival order.
    pub stored: Vec<Uuid>,
    /// When each was first stored.
    pub stored_at: HashMap<Uuid, OffsetDateTime>,
    /// Envelopes that did not open.
    pub refused: usize,
    /// Envelopes received.
    pub envelopes: usize,
}

pub struct CjnResponder {
    pub log: Arc<Mutex<CjnLog>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for CjnResponder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts the test CJN: opens every envelope on `xmjuris/v1/+/up` (in the CJN's shared
/// subscription, as cjn-ingest: the broker allows the CJN no other), stores each message id once,
/// and answers each envelope with one sealed envelope of receipts. Returns once subscribed.
pub async fn cjn_responder(w: &World) -> CjnResponder {
    cjn_responder_with(w, false).await
}

/// The test CJN; with `reject`, it answers every message with a rejection instead.
pub async fn cjn_responder_with(w: &World, reject: bool) -> CjnResponder {
    let identity = w.cjn.identity().clone();
    let trust = w.cjn.trust_store().unwrap();
    let mut options = w.cjn_options("cjn-test");
    // A persistent session: what courts send while the CJN reconnects waits for it.
    options.set_clean_session(false);
    let (client, mut eventloop) = AsyncClient::new(options, 64);
    client
        .subscribe(topics::CJN_UP_SHARED, QoS::AtLeastOnce)
        .await
        .unwrap();
    let log = Arc::new(Mutex::new(CjnLog::default()));
    // Wait for the SUBACK before returning.
    loop {
        if let Event::Incoming(Packet::SubAck(_)) = eventloop.poll().await.unwrap() {
            break;
        }
    }
    let l = log.clone();
    let task = tokio::spawn(async move {
        let mut seq = 0u64;
        loop {
            let p = match eventloop.poll().await {
                Ok(Event::Incoming(Packet::Publish(p))) => p,
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    let _ = client.try_subscribe(topics::CJN_UP_SHARED, QoS::AtLeastOnce);
                    continue;
                }
                Ok(_) => continue,
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let Some((court, topics::TopicKind::Up)) = topics::parse(&p.topic) else {
                continue;
            };
            let opened =
                protocol::open_messages(&p.payload, &identity, &trust, Party::Court(court));
            let Ok((opened, messages)) = opened else {
                l.lock().unwrap().refused += 1;
                continue;
            };
            let hash = protocol::Sha256Hash::from_bytes(openssl::sha::sha256(&opened.signed_der));
            let mut receipts = Vec::new();
            {
                let mut log = l.lock().unwrap();
                log.envelopes += 1;
                for m in &messages {
                    let id = m.header.message_id;
                    *log.received.entry(id).or_default() += 1;
                    if !log.stored_at.contains_key(&id) {
                        log.stored.push(id);
                        log.stored_at.insert(id, OffsetDateTime::now_utc());
                    }
                    let (niu, version) = match &m.body {
                        Body::FicheSigned(e)
                        | Body::FicheRectified(e)
                        | Body::FicheWithdrawn(e) => (Some(e.niu), Some(e.version)),
                        _ => (None, None),
                    };
                    seq += 1;
                    if reject {
                        receipts.push(Message {
                            header: Header::new(Party::Cjn, Party::Court(court), seq),
                            body: Body::Rejection(protocol::Rejection {
                                message_id: id,
                                reason: protocol::Reason::DecodeFailed,
                                detail: Some("test".into()),
                            }),
                        });
                        continue;
                    }
                    receipts.push(Message {
                        header: Header::new(Party::Cjn, Party::Court(court), seq),
                        body: Body::Receipt(Receipt {
                            message_id: id,
                            seq: m.header.seq,
                            niu,
                            version,
                            stored_at: log.stored_at[&id],
                            signed_hash: hash,
                        }),
                    });
                }
            }
            let court_cert = trust
                .peer_certs(Party::Court(court))
                .last()
                .unwrap()
                .clone();
            let sealed = protocol::seal_messages(&receipts, &identity, &court_cert).unwrap();
            let _ = client
                .publish(topics::down(court), QoS::AtLeastOnce, false, sealed)
                .await;
        }
    });
    CjnResponder { log, task }
}

/// Seals a receipt for `message_id` with `signer` (a forger's identity) and publishes it on the
/// court's down topic.
pub async fn publish_forged_receipt(
    w: &World,
    signer: &Identity,
    court_trust: &TrustStore,
    court_cert: &openssl::x509::X509,
    message_id: Uuid,
) {
    let _ = court_trust;
    let receipt = Message {
        header: Header::new(Party::Cjn, Party::Court(w.court), 1),
        body: Body::Receipt(Receipt {
            message_id,
            seq: 1,
            niu: None,
            version: Some(1),
            stored_at: OffsetDateTime::now_utc(),
            signed_hash: protocol::Sha256Hash::from_bytes([7; 32]),
        }),
    };
    let sealed = protocol::seal_messages(&[receipt], signer, court_cert).unwrap();
    let (client, mut eventloop) = AsyncClient::new(w.cjn_options("forger"), 16);
    client
        .publish(topics::down(w.court), QoS::AtLeastOnce, false, sealed)
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let Ok(Event::Incoming(Packet::PubAck(_))) = eventloop.poll().await {
                break;
            }
        }
    })
    .await
    .expect("forged receipt published");
}

/// Runs the listener in this process until the returned token is cancelled.
pub fn spawn_listener(
    config: Config,
) -> (
    tokio_util::sync::CancellationToken,
    tokio::task::JoinHandle<Result<(), listener::Error>>,
) {
    let token = tokio_util::sync::CancellationToken::new();
    let t = token.clone();
    let handle = tokio::spawn(async move { listener::run(config, t).await });
    (token, handle)
}

/// A TCP relay between the listener and the broker, whose link can be cut.
pub struct Relay {
    pub port: u16,
    cut: Arc<std::sync::atomic::AtomicBool>,
    conns: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
        for c in self.conns.lock().unwrap().drain(..) {
            c.abort();
        }
    }
}

impl Relay {
    pub async fn start(target_port: u16) -> Relay {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let cut = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let conns: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>> = Arc::default();
        let (c, cs) = (cut.clone(), conns.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    continue;
                };
                if c.load(std::sync::atomic::Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let h = tokio::spawn(async move {
                    if let Ok(mut out) =
                        tokio::net::TcpStream::connect(("127.0.0.1", target_port)).await
                    {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut out).await;
                    }
                });
                cs.lock().unwrap().push(h);
            }
        });
        Relay {
            port,
            cut,
            conns,
            task,
        }
    }

    /// Cuts every connection and refuses new ones until [`Relay::restore`].
    pub fn cut(&self) {
        self.cut.store(true, std::sync::atomic::Ordering::SeqCst);
        for c in self.conns.lock().unwrap().drain(..) {
            c.abort();
        }
    }

    pub fn restore(&self) {
        self.cut.store(false, std::sync::atomic::Ordering::SeqCst);
    }
}

/// The listener's TOML for court `code` of a real-CJN world (for the binary).
pub fn real_listener_toml(w: &real_cjn::World, code: &str, broker_port: u16) -> String {
    format!(
        r#"
[court]
code = "{code}"
pki_dir = "{pki}"

[database]
url = "host=127.0.0.1 port={pg} dbname={db} user=l{code}"
password = "{password}"

[broker]
host = "127.0.0.1"
port = {broker_port}
password = "{bp}"
keep_alive_secs = 30
backoff_initial_ms = 100
backoff_max_secs = 1

[transmission]
max_envelope_bytes = 8192
max_batch_messages = 20
resend_after_secs = 8
poll_interval_secs = 2
once_timeout_secs = 60
"#,
        pki = w.court_pki_dir(code).display(),
        pg = w.court_cluster.port(),
        db = real_cjn::court_db(code),
        password = real_cjn::PASSWORD,
        bp = real_cjn::broker_password(code),
    )
}

/// Message ids of a court's outbox, by seq.
pub async fn real_outbox_ids(w: &real_cjn::World, code: &str) -> Vec<String> {
    w.court_admin(code)
        .await
        .query(
            "select message_id::text from court.outbox order by seq",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// What the CJN stored for a court: message ids by seq.
pub async fn cjn_message_ids(cjn: &tokio_postgres::Client, code: &str) -> Vec<String> {
    cjn.query(
        "select message_id::text from registry.message where court_code = $1 order by seq",
        &[&code],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}
