//! The MQTT v5 link: one task owns the rumqttc event loop and only polls it, backing off on
//! errors (rumqttc has none of its own); what it sees goes to the dispatcher through a channel.
//!
//! Subscriptions: the courts' `up` topics and enrollment requests, both as MQTT v5 shared
//! subscriptions (group `cjn`), QoS 1, in a persistent session (clean start off, a session
//! expiry), with manual acknowledgements: a message is acknowledged only once what it carried
//! is committed. Each connection has a generation number: an acknowledgement is sent only on
//! the connection the message came in on (after a reconnection the broker sends it again).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::{Filter, Packet, Publish, SubscribeReasonCode};
use rumqttc::v5::{AsyncClient, Event, MqttOptions};
use rumqttc::{TlsConfiguration, Transport};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::Error;
use crate::config::Config;

/// The reconnection backoff, also the workers' (`crate::handle`) for database outages.
pub use daemon::Backoff;

/// The shared subscription to every court's enrollment requests.
pub use protocol::topics::CJN_ENROLL_SHARED;

/// Bytes of MQTT framing allowed above the largest envelope looked at.
const PACKET_SLACK_BYTES: usize = 16 * 1024;

/// What the link reports.
#[derive(Debug)]
// The large variant (a message) is the common one: boxing it would only add an allocation.
#[allow(clippy::large_enum_variant)]
pub enum LinkEvent {
    /// The broker accepted the connection (generation `generation`).
    Connected {
        /// Whether the broker still had our session.
        session_present: bool,
        /// This connection's number.
        generation: u64,
    },
    /// The broker acknowledged the subscriptions.
    Subscribed,
    /// The connection was lost (rumqttc reconnects on the next poll).
    Disconnected,
    /// A message on one of our subscriptions, received on connection `generation`.
    Message {
        /// The message; acknowledge it with [`Link::ack`] once handled.
        publish: Publish,
        /// The connection it came in on.
        generation: u64,
    },
}

/// The client (to publish and acknowledge) and the events of the link.
pub struct Link {
    /// To publish.
    pub client: AsyncClient,
    /// What the event loop saw.
    pub events: mpsc::UnboundedReceiver<LinkEvent>,
    generation: Arc<AtomicU64>,
}

impl Link {
    /// Acknowledges `publish` if it came in on the current connection (QoS 1); returns whether
    /// an acknowledgement was sent. Otherwise the broker delivers it again on this connection.
    pub async fn ack(&self, publish: &Publish, generation: u64) -> Result<bool, Error> {
        if publish.qos == QoS::AtMostOnce {
            return Ok(false);
        }
        if self.generation.load(Ordering::SeqCst) != generation {
            return Ok(false);
        }
        self.client.ack(publish).await?;
        Ok(true)
    }
}

/// MQTT v5 options: persistent session, manual acks, receive maximum, packet size.
pub fn options(config: &Config) -> Result<MqttOptions, Error> {
    let b = &config.broker;
    let mut o = MqttOptions::new(b.client_id(), b.host.clone(), b.port);
    o.set_keep_alive(Duration::from_secs(b.keep_alive_secs.max(5)));
    o.set_clean_start(false);
    o.set_session_expiry_interval(Some(b.session_expiry_secs));
    o.set_receive_maximum(Some(b.receive_maximum));
    o.set_manual_acks(true);
    // Larger than the envelope limit, so that an oversized envelope reaches us and is
    // quarantined rather than silently dropped by the broker.
    let max_packet = (config.ingest.max_sealed_bytes.saturating_mul(2))
        .max(protocol::MAX_SEALED_BYTES)
        .saturating_add(PACKET_SLACK_BYTES);
    o.set_max_packet_size(Some(u32::try_from(max_packet).unwrap_or(u32::MAX)));
    let password = b
        .password
        .as_ref()
        .map(|p| p.expose().to_owned())
        .unwrap_or_default();
    o.set_credentials(b.username.clone(), password);
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

/// The shared subscriptions of the CJN: every court's `up` topic and enrollment requests.
fn filters() -> [Filter; 2] {
    [protocol::topics::CJN_UP_SHARED, CJN_ENROLL_SHARED].map(|t| Filter::new(t, QoS::AtLeastOnce))
}

/// See [`crate::create_session`].
pub async fn create_session(config: &Config) -> Result<(), Error> {
    let (client, mut eventloop) = AsyncClient::new(options(config)?, 8);
    let work = async {
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    client.subscribe_many(filters()).await?;
                }
                Ok(Event::Incoming(Packet::SubAck(ack))) => {
                    if let Some(refused) = ack
                        .return_codes
                        .iter()
                        .find(|c| !matches!(c, SubscribeReasonCode::Success(_)))
                    {
                        return Err(Error::Broker(format!(
                            "subscription refused ({refused:?}): is `{}` one of the CJN's accounts?",
                            config.broker.username
                        )));
                    }
                    client.disconnect().await?;
                }
                Ok(Event::Outgoing(rumqttc::Outgoing::Disconnect)) => {
                    // Flushed: the broker keeps the session.
                    let _ = tokio::time::timeout(Duration::from_secs(1), eventloop.poll()).await;
                    return Ok(());
                }
                Ok(_) => {}
                Err(e) => return Err(Error::Broker(e.to_string())),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(30), work)
        .await
        .map_err(|_| Error::Broker("no answer within 30 s".into()))?
}

/// Starts the link's task; it stops on `shutdown`.
pub fn start(config: &Config, shutdown: CancellationToken) -> Result<Link, Error> {
    let (client, mut eventloop) = AsyncClient::new(options(config)?, 256);
    let (tx, events) = mpsc::unbounded_channel();
    let generation = Arc::new(AtomicU64::new(0));
    let mut backoff = Backoff::from_config(
        config.broker.backoff_initial_ms,
        config.broker.backoff_max_secs,
    );
    let sub = client.clone();
    let current = generation.clone();
    let config_username = config.broker.username.clone();
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
                    let generation = current.fetch_add(1, Ordering::SeqCst) + 1;
                    tracing::info!(
                        session_present = ack.session_present,
                        generation,
                        "Connected to the broker."
                    );
                    if let Err(e) = sub.try_subscribe_many(filters()) {
                        tracing::warn!(error = %e, "Subscription request failed.");
                    }
                    let _ = tx.send(LinkEvent::Connected {
                        session_present: ack.session_present,
                        generation,
                    });
                }
                Ok(Event::Incoming(Packet::Publish(publish))) => {
                    let generation = current.load(Ordering::SeqCst);
                    let _ = tx.send(LinkEvent::Message {
                        publish,
                        generation,
                    });
                }
                Ok(Event::Incoming(Packet::SubAck(ack))) => {
                    if ack
                        .return_codes
                        .iter()
                        .all(|c| matches!(c, SubscribeReasonCode::Success(_)))
                    {
                        tracing::info!(codes = ?ack.return_codes, "Subscribed to the courts' topics.");
                    } else {
                        // Nothing will arrive: say it loudly (an account that is not the CJN's).
                        tracing::error!(
                            codes = ?ack.return_codes,
                            username = %config_username,
                            "The broker refused a subscription to the courts' topics: is [broker] username one of the CJN's accounts?"
                        );
                    }
                    let _ = tx.send(LinkEvent::Subscribed);
                }
                Ok(Event::Incoming(Packet::Disconnect(d))) => {
                    tracing::warn!(reason = ?d.reason_code, "The broker closed the connection.");
                }
                Ok(_) => {}
                Err(e) => {
                    if connected {
                        connected = false;
                        // Acknowledgements of what came before are not sent on the next connection.
                        current.fetch_add(1, Ordering::SeqCst);
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
    Ok(Link {
        client,
        events,
        generation,
    })
}
