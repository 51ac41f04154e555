//! One enrollment through a real Mosquitto broker, started on a free port.
#![allow(clippy::unwrap_used)]

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use protocol::pki::{self, CjnPki};
use protocol::{CourtCode, Party, topics};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};

struct Broker(Child);

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_broker(dir: &std::path::Path) -> (Broker, u16) {
    let port = free_port();
    let conf = dir.join("mosquitto.conf");
    std::fs::write(
        &conf,
        format!(
            "listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest none\n"
        ),
    )
    .unwrap();
    let child = Command::new("mosquitto")
        .arg("-c")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("mosquitto (Debian package `mosquitto`) must be installed");
    let broker = Broker(child);
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return (broker, port);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("mosquitto did not start on port {port}");
}

fn options(id: &str, port: u16) -> MqttOptions {
    let mut o = MqttOptions::new(id, "127.0.0.1", port);
    o.set_keep_alive(Duration::from_secs(30));
    o.set_max_packet_size(64 * 1024, 64 * 1024);
    o
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrollment_over_mosquitto() {
    let tmp = tempfile::tempdir().unwrap();
    let (_broker, port) = start_broker(tmp.path());
    let cjn = CjnPki::init(&tmp.path().join("cjn")).unwrap();
    let court: CourtCode = "12345".parse().unwrap();
    let code = cjn.new_enrollment_code(court, 1).unwrap();

    // CJN side: answer enrollment requests.
    let (cjn_client, mut cjn_loop) = AsyncClient::new(options("cjn", port), 16);
    cjn_client
        .subscribe(topics::CJN_ENROLL_REQUESTS, QoS::AtLeastOnce)
        .await
        .unwrap();
    let cjn_task = tokio::spawn(async move {
        loop {
            match cjn_loop.poll().await {
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    let Some((court, topics::TopicKind::EnrollRequest)) = topics::parse(&p.topic)
                    else {
                        continue;
                    };
                    let answer = cjn.handle_enrollment(court, &p.payload).unwrap();
                    cjn_client
                        .publish(
                            topics::enroll_answer(court),
                            QoS::AtLeastOnce,
                            false,
                            answer,
                        )
                        .await
                        .unwrap();
                }
                Ok(_) => {}
                Err(e) => panic!("CJN connection: {e}"),
            }
        }
    });

    // Court side.
    let court_dir = tmp.path().join("court");
    let (court_code, request) = pki::court_prepare_enrollment(&court_dir, &code.code).unwrap();
    let (client, mut eventloop) = AsyncClient::new(options("court-12345", port), 16);
    client
        .subscribe(topics::enroll_answer(court_code), QoS::AtLeastOnce)
        .await
        .unwrap();
    let mut published = false;
    let answer = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match eventloop.poll().await.unwrap() {
                Event::Incoming(Packet::SubAck(_)) if !published => {
                    // The CJN may not have subscribed yet: give it a moment.
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    client
                        .publish(
                            topics::enroll_request(court_code),
                            QoS::AtLeastOnce,
                            false,
                            request.clone(),
                        )
                        .await
                        .unwrap();
                    published = true;
                }
                Event::Incoming(Packet::Publish(p)) => return p.payload.to_vec(),
                _ => {}
            }
        }
    })
    .await
    .expect("no enrollment answer within 20 s");
    let (identity, trust) =
        pki::court_complete_enrollment(&court_dir, court_code, &code.ca_fingerprint, &answer)
            .unwrap();
    assert_eq!(identity.party(), Party::Court(court));
    assert_eq!(trust.peer_certs(Party::Cjn).count(), 1);
    cjn_task.abort();
}
