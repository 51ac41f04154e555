//! The MQTT link: one task owns the rumqttc event loop and only polls it, backing off on errors
//! (rumqttc has none of its own); what it sees goes to the engine through a channel.

use std::time::Duration;

use daemon::Backoff;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, Publish, QoS, TlsConfiguration, Transport};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::Error;
use crate::config::{BrokerConfig, Config};
use protocol::CourtCode;

/// What the link reports.
#[derive(Debug)]
pub enum LinkEvent {
    /// The broker accepted the connection.
    Connected {
        /// Whether the broker still had our session.
        session_present: bool,
    },
    /// The connection was lost (rumqttc reconnects on the next poll).
    Disconnected,
    /// A message on one of our topics (the court's `down`, the revocation list); acknowledge it
    /// with [`AsyncClient::ack`] once handled.
    Message(Publish),
}

/// The client (to publish and acknowledge) and the events of the link.
pub struct Link {
    /// To publish and acknowledge.
    pub client: AsyncClient,
    /// What the event loop saw.
    pub events: mpsc::UnboundedReceiver<LinkEvent>,
}

/// MQTT options from the configuration: persistent session, long keep-alive, manual acks.
pub fn options(config: &Config) -> Result<MqttOptions, Error> {
    let mut o = broker_options(config.court.code, &config.broker)?;
    o.set_manual_acks(true);
    Ok(o)
}

/// MQTT options for the court's account on the broker (the listener's, and
/// [`crate::enroll`]'s): the client id the broker binds to it, a persistent session, the
/// keep-alive, the court code as user name unless another is given, TLS.
pub fn broker_options(court: CourtCode, b: &BrokerConfig) -> Result<MqttOptions, Error> {
    let client_id = b
        .client_id
        .clone()
        .unwrap_or_else(|| protocol::broker::court_client_id(court));
    let mut o = MqttOptions::new(client_id, b.host.clone(), b.port);
    o.set_keep_alive(Duration::from_secs(b.keep_alive_secs.max(5)));
    o.set_clean_session(false);
    o.set_max_packet_size(
        protocol::MAX_SEALED_BYTES + 4096,
        protocol::MAX_SEALED_BYTES + 4096,
    );
    let user = b.username.clone().unwrap_or_else(|| court.to_string());
    let password = b
        .password
        .as_ref()
        .map(|p| p.expose().to_owned())
        .unwrap_or_default();
    o.set_credentials(user, password);
    if b.tls {
        let tls = match &b.tls_ca_file {
            Some(path) => TlsConfiguration::SimpleNative {
                ca: daemon::config::read(path)?,
                client_auth: None,
            },
            None => TlsConfiguration::Native,
        };
        o.set_transport(Transport::tls_with_config(tls));
    }
    Ok(o)
}

/// Starts the link's task; it stops on `shutdown`.
pub fn start(config: &Config, shutdown: CancellationToken) -> Result<Link, Error> {
    let (client, mut eventloop) = AsyncClient::new(options(config)?, 64);
    let (tx, events) = mpsc::unbounded_channel();
    let down = protocol::topics::down(config.court.code);
    let mut backoff = Backoff::from_config(
        config.broker.backoff_initial_ms,
        config.broker.backoff_max_secs,
    );
    let sub = client.clone();
    tokio::spawn(async move {
        let mut connected = false;
        loop {
            let event = tokio::select! {
                _ = shutdown.cancelled() => break,
                e = eventloop.poll() => e,
            };
            match event {
                Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                    backoff.reset();
                    connected = true;
                    tracing::info!(
                        session_present = ack.session_present,
                        "Connected to the broker."
                    );
                    // The court's own answers, and the CJN's revocation list (retained: the
                    // broker sends the current one on every subscription).
                    for topic in [down.as_str(), protocol::topics::REVOCATIONS] {
                        if let Err(e) = sub.try_subscribe(topic, QoS::AtLeastOnce) {
                            tracing::warn!(topic, error = %e, "Subscription request failed.");
                        }
                    }
                    let _ = tx.send(LinkEvent::Connected {
                        session_present: ack.session_present,
                    });
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    let _ = tx.send(LinkEvent::Message(p));
                }
                Ok(Event::Incoming(Packet::SubAck(ack))) => {
                    tracing::debug!(codes = ?ack.return_codes, "Subscribed.");
                }
                Ok(_) => {}
                Err(e) => {
                    if connected {
                        connected = false;
                        let _ = tx.send(LinkEvent::Disconnected);
                    }
                    let delay = backoff.next_delay();
                    tracing::warn!(
                        error = %e,
                        delay_ms = delay.as_millis() as u64,
                        "Broker connection failed; will retry."
                    );
                    tokio::select! {
                        _ = shutdown.cancelled() => break,
                        _ = tokio::time::sleep(delay) => {}
                    }
                }
            }
        }
        // Say goodbye if we can, within a second.
        if connected && sub.try_disconnect().is_ok() {
            let _ = tokio::time::timeout(Duration::from_secs(1), async {
                while eventloop.poll().await.is_ok() {}
            })
            .await;
        }
    });
    Ok(Link { client, events })
}
