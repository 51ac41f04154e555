//! The broker's configuration holds against what a hostile review tried with a court's account
//! (real Mosquitto, started by `sandbox::Broker` with the configuration `xmjuris broker config`
//! generates; clients rumqttc MQTT v5 and 3.1.1, and the stock `mosquitto_sub`):
//! joining the CJN's shared subscription, taking over another client's session, using another
//! court's topics or wildcards, oversized and retained messages, forging the revocation list,
//! connecting anonymously. Each test starts its own broker.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::VecDeque;
use std::time::Duration;

use rumqttc::v5;
use rumqttc::v5::mqttbytes::v5::{Packet as Packet5, PubAckReason, SubscribeReasonCode};
use sandbox::{Broker, BrokerUser};
use tokio::sync::mpsc;

const A: &str = "10001";
const B: &str = "10002";
const PW_A: &str = "password-of-a";
const PW_B: &str = "password-of-b";
const PW_CJN: &str = "password-of-the-cjn";

fn up(c: &str) -> String {
    format!("xmjuris/v1/{c}/up")
}
fn down(c: &str) -> String {
    format!("xmjuris/v1/{c}/down")
}
const CJN_UP: &str = "$share/cjn/xmjuris/v1/+/up";
const REVOCATIONS: &str = "xmjuris/v1/revocations";

fn broker() -> Broker {
    Broker::start(&[
        BrokerUser::court(A, PW_A),
        BrokerUser::court(B, PW_B),
        BrokerUser::cjn("cjn-1", PW_CJN),
        BrokerUser::cjn("cjn-2", PW_CJN),
    ])
    .expect("start mosquitto")
}

/// What a client saw.
#[derive(Debug, Clone, PartialEq)]
enum Seen {
    Publish {
        topic: String,
        payload: Vec<u8>,
    },
    /// One entry per filter: granted?
    SubAck(Vec<bool>),
    /// Accepted? (MQTT 3.1.1 cannot say no: always true.)
    PubAck(bool),
    /// The connection ended (the broker's DISCONNECT, or an error).
    Lost(String),
}

/// A connected client (v5 or 3.1.1) whose event loop runs in a task.
struct Client {
    v5: Option<v5::AsyncClient>,
    v4: Option<rumqttc::AsyncClient>,
    seen: mpsc::UnboundedReceiver<Seen>,
    kept: VecDeque<Seen>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Client {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Connects with MQTT v5 (persistent session when `persistent`); Err with the reason when the
/// broker refuses.
async fn connect5(
    broker: &Broker,
    user: Option<(&str, &str)>,
    client_id: &str,
    persistent: bool,
) -> Result<Client, String> {
    let mut o = v5::MqttOptions::new(client_id, "127.0.0.1", broker.port());
    if let Some((u, p)) = user {
        o.set_credentials(u, p);
    }
    o.set_keep_alive(Duration::from_secs(30));
    o.set_clean_start(!persistent);
    if persistent {
        o.set_session_expiry_interval(Some(3600));
    }
    o.set_max_packet_size(Some(4 << 20));
    let (client, mut el) = v5::AsyncClient::new(o, 64);
    match tokio::time::timeout(Duration::from_secs(10), el.poll()).await {
        Ok(Ok(v5::Event::Incoming(Packet5::ConnAck(_)))) => {}
        Ok(Ok(other)) => return Err(format!("not a CONNACK: {other:?}")),
        Ok(Err(e)) => return Err(e.to_string()),
        Err(_) => return Err("no CONNACK within 10 s".into()),
    }
    let (tx, seen) = mpsc::unbounded_channel();
    let task = tokio::spawn(async move {
        loop {
            let s = match el.poll().await {
                Ok(v5::Event::Incoming(Packet5::Publish(p))) => Seen::Publish {
                    topic: String::from_utf8_lossy(&p.topic).into_owned(),
                    payload: p.payload.to_vec(),
                },
                Ok(v5::Event::Incoming(Packet5::SubAck(s))) => Seen::SubAck(
                    s.return_codes
                        .iter()
                        .map(|c| matches!(c, SubscribeReasonCode::Success(_)))
                        .collect(),
                ),
                Ok(v5::Event::Incoming(Packet5::PubAck(a))) => Seen::PubAck(matches!(
                    a.reason,
                    PubAckReason::Success | PubAckReason::NoMatchingSubscribers
                )),
                Ok(v5::Event::Incoming(Packet5::Disconnect(d))) => {
                    Seen::Lost(format!("DISCONNECT {:?}", d.reason_code))
                }
                Ok(_) => continue,
                Err(e) => {
                    let _ = tx.send(Seen::Lost(e.to_string()));
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
            };
            if tx.send(s).is_err() {
                break;
            }
        }
    });
    Ok(Client {
        v5: Some(client),
        v4: None,
        seen,
        kept: VecDeque::new(),
        task,
    })
}

/// Connects with MQTT 3.1.1, as a court's listener does (persistent session when `persistent`).
async fn connect4(
    broker: &Broker,
    user: Option<(&str, &str)>,
    client_id: &str,
    persistent: bool,
) -> Result<Client, String> {
    use rumqttc::{Event, Packet, SubscribeReasonCode};
    let mut o = rumqttc::MqttOptions::new(client_id, "127.0.0.1", broker.port());
    if let Some((u, p)) = user {
        o.set_credentials(u, p);
    }
    o.set_keep_alive(Duration::from_secs(30));
    o.set_clean_session(!persistent);
    o.set_max_packet_size(4 << 20, 4 << 20);
    let (client, mut el) = rumqttc::AsyncClient::new(o, 64);
    match tokio::time::timeout(Duration::from_secs(10), el.poll()).await {
        Ok(Ok(Event::Incoming(Packet::ConnAck(_)))) => {}
        Ok(Ok(other)) => return Err(format!("not a CONNACK: {other:?}")),
        Ok(Err(e)) => return Err(e.to_string()),
        Err(_) => return Err("no CONNACK within 10 s".into()),
    }
    let (tx, seen) = mpsc::unbounded_channel();
    let task = tokio::spawn(async move {
        loop {
            let s = match el.poll().await {
                Ok(Event::Incoming(Packet::Publish(p))) => Seen::Publish {
                    topic: p.topic.clone(),
                    payload: p.payload.to_vec(),
                },
                Ok(Event::Incoming(Packet::SubAck(s))) => Seen::SubAck(
                    s.return_codes
                        .iter()
                        .map(|c| matches!(c, SubscribeReasonCode::Success(_)))
                        .collect(),
                ),
                Ok(Event::Incoming(Packet::PubAck(_))) => Seen::PubAck(true),
                Ok(_) => continue,
                Err(e) => {
                    let _ = tx.send(Seen::Lost(e.to_string()));
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
            };
            if tx.send(s).is_err() {
                break;
            }
        }
    });
    Ok(Client {
        v5: None,
        v4: Some(client),
        seen,
        kept: VecDeque::new(),
        task,
    })
}

impl Client {
    /// Subscribes (QoS 1) to each filter in one SUBSCRIBE; whether each was granted.
    async fn subscribe(&mut self, filters: &[&str]) -> Vec<bool> {
        if let Some(c) = &self.v5 {
            let filters = filters
                .iter()
                .map(|f| v5::mqttbytes::v5::Filter::new(*f, v5::mqttbytes::QoS::AtLeastOnce));
            c.subscribe_many(filters).await.unwrap();
        } else if let Some(c) = &self.v4 {
            let filters = filters
                .iter()
                .map(|f| rumqttc::SubscribeFilter::new(f.to_string(), rumqttc::QoS::AtLeastOnce));
            c.subscribe_many(filters).await.unwrap();
        }
        loop {
            match self.next_raw(Duration::from_secs(10)).await {
                Some(Seen::SubAck(granted)) => return granted,
                Some(other) => self.kept.push_back(other),
                None => panic!("no SUBACK within 10 s"),
            }
        }
    }

    /// Publishes (QoS 1); whether the broker accepted it (its PUBACK), None when the connection
    /// was lost instead.
    async fn publish(&mut self, topic: &str, payload: Vec<u8>, retain: bool) -> Option<bool> {
        if let Some(c) = &self.v5 {
            c.publish(topic, v5::mqttbytes::QoS::AtLeastOnce, retain, payload)
                .await
                .unwrap();
        } else if let Some(c) = &self.v4 {
            c.publish(topic, rumqttc::QoS::AtLeastOnce, retain, payload)
                .await
                .unwrap();
        }
        loop {
            match self.next_raw(Duration::from_secs(10)).await {
                Some(Seen::PubAck(ok)) => return Some(ok),
                Some(Seen::Lost(_)) => return None,
                Some(other) => self.kept.push_back(other),
                None => panic!("no PUBACK within 10 s"),
            }
        }
    }

    async fn next_raw(&mut self, within: Duration) -> Option<Seen> {
        tokio::time::timeout(within, self.seen.recv())
            .await
            .ok()
            .flatten()
    }

    /// Everything seen until `quiet` passes without an event.
    async fn drain(&mut self, quiet: Duration) -> Vec<Seen> {
        let mut out: Vec<Seen> = self.kept.drain(..).collect();
        while let Some(s) = self.next_raw(quiet).await {
            out.push(s);
        }
        out
    }

    /// The payloads published to this client, until `quiet` passes without an event.
    async fn received(&mut self, quiet: Duration) -> Vec<(String, Vec<u8>)> {
        self.drain(quiet)
            .await
            .into_iter()
            .filter_map(|s| match s {
                Seen::Publish { topic, payload } => Some((topic, payload)),
                _ => None,
            })
            .collect()
    }
}

fn quiet() -> Duration {
    Duration::from_millis(1500)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_wrong_password_and_unbound_client_ids_are_refused() {
    let broker = broker();
    assert!(connect4(&broker, None, "court-10001", false).await.is_err());
    assert!(connect5(&broker, None, "court-10001", false).await.is_err());
    assert!(
        connect4(&broker, Some((A, "wrong")), "court-10001", false)
            .await
            .is_err()
    );
    assert!(
        connect4(&broker, Some(("99999", PW_A)), "court-99999", false)
            .await
            .is_err(),
        "an unknown account"
    );
    // The right password, but a client id other than the account's.
    for id in ["court-100010", "anything", ""] {
        let refused = connect4(&broker, Some((A, PW_A)), id, false).await;
        assert!(refused.is_err(), "client id « {id} » accepted");
    }
    let ok = connect4(&broker, Some((A, PW_A)), "court-10001", false).await;
    assert!(ok.is_ok(), "{:?}", ok.err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_cjn_may_join_its_shared_subscription() {
    let broker = broker();
    let mut cjn = connect5(&broker, Some(("cjn-1", PW_CJN)), "cjn-1", true)
        .await
        .unwrap();
    assert_eq!(cjn.subscribe(&[CJN_UP]).await, [true]);

    // Court A tries to join the CJN's group, in MQTT v5 and 3.1.1, and other groups.
    let mut a5 = connect5(&broker, Some((A, PW_A)), "court-10001", false)
        .await
        .unwrap();
    assert_eq!(
        a5.subscribe(&[
            CJN_UP,
            "$share/cjn/xmjuris/v1/10002/up",
            "$share/other/xmjuris/v1/+/up",
            "$share/a/xmjuris/v1/10001/down",
        ])
        .await,
        [false, false, false, false]
    );
    drop(a5);
    let mut a4 = connect4(&broker, Some((A, PW_A)), "court-10001", true)
        .await
        .unwrap();
    assert_eq!(a4.subscribe(&[CJN_UP]).await, [false]);

    // The review's own command, with and without a client id.
    let port = broker.port().to_string();
    for id in [Some("court-10001"), None] {
        let mut args = vec![
            "-h",
            "127.0.0.1",
            "-p",
            &port,
            "-V",
            "mqttv5",
            "-u",
            A,
            "-P",
            PW_A,
            "-t",
            CJN_UP,
            "-W",
            "3",
        ];
        if let Some(id) = id {
            args.extend(["-i", id]);
        }
        let out = std::process::Command::new("mosquitto_sub")
            .args(&args)
            .output()
            .expect("mosquitto_sub (Debian package mosquitto-clients)");
        let said = String::from_utf8_lossy(&out.stderr).into_owned()
            + &String::from_utf8_lossy(&out.stdout);
        assert!(
            said.contains("denied") || said.to_lowercase().contains("not authori"),
            "mosquitto_sub {id:?}: {said}"
        );
    }

    // Court B publishes while A stays connected: every message reaches the CJN.
    let mut b = connect4(&broker, Some((B, PW_B)), "court-10002", true)
        .await
        .unwrap();
    for i in 0..20u8 {
        assert_eq!(b.publish(&up(B), vec![i], false).await, Some(true));
    }
    let got = cjn.received(quiet()).await;
    let mut payloads: Vec<u8> = got
        .iter()
        .filter(|(t, _)| *t == up(B))
        .map(|(_, p)| p[0])
        .collect();
    payloads.sort();
    assert_eq!(payloads, (0..20).collect::<Vec<u8>>(), "every message of B");
    assert!(a4.received(Duration::from_millis(200)).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_account_takes_over_another_ones_session() {
    let broker = broker();
    let mut cjn = connect5(&broker, Some(("cjn-1", PW_CJN)), "cjn-1", true)
        .await
        .unwrap();
    assert_eq!(cjn.subscribe(&[CJN_UP]).await, [true]);
    let mut b = connect4(&broker, Some((B, PW_B)), "court-10002", true)
        .await
        .unwrap();
    assert_eq!(b.subscribe(&[&down(B)]).await, [true]);

    // Court A with the client ids of cjn-ingest and of court B, in both protocols; another CJN
    // account with cjn-1's client id.
    for (user, password, id) in [
        (A, PW_A, "cjn-1"),
        (A, PW_A, "court-10002"),
        ("cjn-2", PW_CJN, "cjn-1"),
        ("cjn-2", PW_CJN, "court-10002"),
    ] {
        let v4 = connect4(&broker, Some((user, password)), id, true).await;
        assert!(v4.is_err(), "{user} connected as {id} (3.1.1)");
        let v5 = connect5(&broker, Some((user, password)), id, true).await;
        assert!(v5.is_err(), "{user} connected as {id} (v5)");
    }

    // The victims are still connected, with their sessions.
    assert_eq!(
        b.publish(&up(B), b"after".to_vec(), false).await,
        Some(true)
    );
    let got = cjn.drain(quiet()).await;
    assert!(
        !got.iter().any(|s| matches!(s, Seen::Lost(_))),
        "cjn-1 lost its connection: {got:?}"
    );
    assert!(got.contains(&Seen::Publish {
        topic: up(B),
        payload: b"after".to_vec()
    }));
    let cjn5 = cjn.v5.clone().unwrap();
    cjn5.publish(
        down(B),
        v5::mqttbytes::QoS::AtLeastOnce,
        false,
        b"receipt".to_vec(),
    )
    .await
    .unwrap();
    let got = b.drain(quiet()).await;
    assert!(
        !got.iter().any(|s| matches!(s, Seen::Lost(_))),
        "court B lost its connection: {got:?}"
    );
    assert!(got.contains(&Seen::Publish {
        topic: down(B),
        payload: b"receipt".to_vec()
    }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_court_publishes_and_subscribes_only_on_its_own_topics() {
    let broker = broker();
    let mut cjn = connect5(&broker, Some(("cjn-1", PW_CJN)), "cjn-1", true)
        .await
        .unwrap();
    assert_eq!(
        cjn.subscribe(&[CJN_UP, "$share/cjn/xmjuris/v1/+/enroll/request"])
            .await,
        [true, true]
    );
    let mut b = connect4(&broker, Some((B, PW_B)), "court-10002", true)
        .await
        .unwrap();
    assert_eq!(b.subscribe(&[&down(B), REVOCATIONS]).await, [true, true]);

    let mut a = connect5(&broker, Some((A, PW_A)), "court-10001", false)
        .await
        .unwrap();
    // Writing where it may not: another court's topics, its own down, the revocation list.
    for topic in [
        up(B),
        down(B),
        "xmjuris/v1/10002/enroll/request".to_owned(),
        down(A),
        "xmjuris/v1/10001/enroll/answer".to_owned(),
        REVOCATIONS.to_owned(),
        "xmjuris/v1/10001".to_owned(),
        "other/topic".to_owned(),
    ] {
        assert_eq!(
            a.publish(&topic, b"forged".to_vec(), false).await,
            Some(false),
            "A published on {topic}"
        );
    }
    assert!(
        cjn.received(quiet()).await.is_empty(),
        "the CJN got a forgery"
    );
    assert!(b.received(Duration::from_millis(300)).await.is_empty());
    // Its own topics are fine.
    assert_eq!(a.publish(&up(A), b"mine".to_vec(), false).await, Some(true));
    assert_eq!(
        a.publish("xmjuris/v1/10001/enroll/request", b"enroll".to_vec(), false)
            .await,
        Some(true)
    );
    let got = cjn.received(quiet()).await;
    assert_eq!(got.len(), 2, "{got:?}");

    // Subscribing: another court's topics, wildcards, the broker's own topics.
    let refused = [
        "xmjuris/#",
        "#",
        "xmjuris/v1/+/down",
        "xmjuris/v1/+/up",
        "xmjuris/v1/10001/#",
        "xmjuris/v1/10001/+",
        "xmjuris/v1/10002/down",
        "xmjuris/v1/10002/up",
        "+/v1/10001/down",
        "$SYS/#",
        "$CONTROL/dynamic-security/v1",
    ];
    assert_eq!(a.subscribe(&refused).await, vec![false; refused.len()]);
    assert_eq!(
        a.subscribe(&[&down(A), "xmjuris/v1/10001/enroll/answer", REVOCATIONS])
            .await,
        [true, true, true]
    );
    // The CJN writes to both courts: A gets only its own.
    let cjn5 = cjn.v5.clone().unwrap();
    for c in [A, B] {
        cjn5.publish(
            down(c),
            v5::mqttbytes::QoS::AtLeastOnce,
            false,
            c.as_bytes().to_vec(),
        )
        .await
        .unwrap();
    }
    let got = a.received(quiet()).await;
    assert_eq!(got, [(down(A), A.as_bytes().to_vec())]);
    assert_eq!(
        b.received(quiet()).await,
        [(down(B), B.as_bytes().to_vec())]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_over_the_size_limit_is_refused() {
    let broker = broker();
    let limit = broker.max_packet_bytes() as usize;
    assert!(
        (256 * 1024..1024 * 1024).contains(&limit),
        "above the CJN's 256 kB, well below a MB: {limit}"
    );
    let mut cjn = connect5(&broker, Some(("cjn-1", PW_CJN)), "cjn-1", true)
        .await
        .unwrap();
    assert_eq!(cjn.subscribe(&[CJN_UP]).await, [true]);

    // MQTT 3.1.1 (a listener): the broker closes the connection; nothing reaches the CJN.
    let mut a = connect4(&broker, Some((A, PW_A)), "court-10001", true)
        .await
        .unwrap();
    assert_eq!(a.publish(&up(A), vec![b'x'; limit + 1], false).await, None);
    // The review's 10 MB, retained, with MQTT v5: refused too.
    let mut a5 = connect5(&broker, Some((A, PW_A)), "court-10001", true)
        .await
        .unwrap();
    let big = a5.publish(&up(A), vec![b'y'; 10 << 20], true).await;
    assert_ne!(big, Some(true), "a 10 MB message was accepted");
    let got = cjn.received(quiet()).await;
    assert!(
        got.iter().all(|(_, p)| p.len() <= limit),
        "an oversized message reached the CJN"
    );
    assert!(got.is_empty(), "{} message(s)", got.len());
    // Just under the limit passes.
    let mut a = connect4(&broker, Some((A, PW_A)), "court-10001", true)
        .await
        .unwrap();
    let fits = limit - 1024;
    assert_eq!(a.publish(&up(A), vec![b'z'; fits], false).await, Some(true));
    let got = cjn.received(quiet()).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].1.len(), fits);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retained_messages_only_on_a_courts_exact_topics() {
    let broker = broker();
    let mut a = connect5(&broker, Some((A, PW_A)), "court-10001", false)
        .await
        .unwrap();
    for topic in [
        "xmjuris/v1/10001/junk",
        "xmjuris/v1/10001/up/1",
        "xmjuris/v1/10001/x/y/z",
        "xmjuris/v1/10001",
        "junk",
    ] {
        assert_eq!(
            a.publish(topic, vec![0; 1000], true).await,
            Some(false),
            "retained on {topic}"
        );
    }
    // On its own up topic a retained message replaces the previous one: at most one per topic.
    for n in 1..=3u8 {
        assert_eq!(a.publish(&up(A), vec![n; 1000], true).await, Some(true));
    }
    assert_eq!(a.subscribe(&[&up(A)]).await, [true]);
    let got = a.received(quiet()).await;
    assert_eq!(got.len(), 1, "one retained message on the topic");
    assert_eq!(got[0].1[0], 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_revocation_list_is_read_by_courts_and_written_only_by_the_cjn() {
    let broker = broker();
    let mut cjn = connect5(&broker, Some(("cjn-1", PW_CJN)), "cjn-1", false)
        .await
        .unwrap();
    assert_eq!(
        cjn.publish(REVOCATIONS, b"crl-1".to_vec(), true).await,
        Some(true)
    );
    let mut a = connect4(&broker, Some((A, PW_A)), "court-10001", true)
        .await
        .unwrap();
    assert_eq!(a.subscribe(&[REVOCATIONS]).await, [true]);
    assert_eq!(
        a.received(quiet()).await,
        [(REVOCATIONS.to_owned(), b"crl-1".to_vec())]
    );
    // A forges a list (3.1.1 gets a PUBACK, MQTT 3.1.1 has no refusal code; v5 is told).
    assert_eq!(
        a.publish(REVOCATIONS, b"forged".to_vec(), true).await,
        Some(true)
    );
    let mut a5 = connect5(&broker, Some((A, PW_A)), "court-10001", false)
        .await
        .unwrap();
    assert_eq!(
        a5.publish(REVOCATIONS, b"forged".to_vec(), true).await,
        Some(false)
    );
    // Court B subscribing now gets the CJN's list, not the forgery.
    let mut b = connect4(&broker, Some((B, PW_B)), "court-10002", false)
        .await
        .unwrap();
    assert_eq!(b.subscribe(&[REVOCATIONS]).await, [true]);
    assert_eq!(
        b.received(quiet()).await,
        [(REVOCATIONS.to_owned(), b"crl-1".to_vec())]
    );
}

/// Point 10 of the review, at the broker: once cjn-ingest's persistent session exists (created
/// at set-up), what courts publish while no instance is connected waits for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cjns_session_keeps_what_courts_send_while_it_is_away() {
    let broker = broker();
    {
        let mut setup = connect5(&broker, Some(("cjn-1", PW_CJN)), "cjn-1", true)
            .await
            .unwrap();
        assert_eq!(setup.subscribe(&[CJN_UP]).await, [true]);
        setup.v5.as_ref().unwrap().disconnect().await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let mut b = connect4(&broker, Some((B, PW_B)), "court-10002", true)
        .await
        .unwrap();
    for i in 0..5u8 {
        assert_eq!(b.publish(&up(B), vec![i], false).await, Some(true));
    }
    // Back, without subscribing again: the session has the messages.
    let mut cjn = connect5(&broker, Some(("cjn-1", PW_CJN)), "cjn-1", true)
        .await
        .unwrap();
    let got: Vec<u8> = cjn
        .received(quiet())
        .await
        .iter()
        .map(|(_, p)| p[0])
        .collect();
    assert_eq!(got, [0, 1, 2, 3, 4]);
}
