//! XMJuris court listener: seals the outbox for the CJN over MQTT and stores the CJN's receipts.
//!
//! The only part of a court that talks to the outside, and only outbound, to the broker.
//!
//! - [`run`]: the daemon. For each database session: `LISTEN xmjuris_outbox` first, then drain
//!   the outbox (oldest first, several messages per sealed envelope up to
//!   `max_envelope_bytes`, never more than `max_in_flight_bytes` nor `max_in_flight_envelopes`
//!   sent and not receipted), then
//!   wait for a NOTIFY, a message from the CJN, a (re)connection to the broker or a timer.
//! - [`run_once`]: the same until the outbox is empty (every message receipted or rejected),
//!   then exits; for cron and tests.
//! - [`status`]: the counts of `juris.transmission_status()`.
//!
//! A row leaves the outbox only when the CJN's receipt, verified by [`protocol::open_messages`],
//! is stored; a PUBACK proves nothing. Anything from the broker that does not open, or is of a
//! kind the listener does not handle, goes to `juris.quarantine` with its reason.
//!
//! What else comes back: rejections (stored for the greffier when they name a message; a
//! rejection of an envelope the CJN could not read names none, and is quarantined with its
//! reason, `rejected_by_cjn: <code>: <detail>`, counted by the status line), answers to
//! requests for extracts, the revocation list (retained on [`protocol::topics::REVOCATIONS`],
//! the raw DER CRL signed by the issuing CA, applied with [`protocol::pki::court_apply_crl`]),
//! and the new certificate after a renewal. The listener asks for one itself
//! ([`protocol::RenewalRequest`], a new key made here) when the court's certificate expires
//! within `renew_before_days`, again after `renewal_retry_secs` without an answer; the answer
//! (an [`protocol::EnrollmentAnswer`], sealed for the old certificate) is installed with
//! [`protocol::pki::court_complete_renewal`], and the old identity is kept in memory to open
//! the answers still sealed for it.
//!
//! Architecture invariant: the MQTT event loop runs in its own task ([`link`]) and never waits
//! for the database; the engine owns the database session and the publishing.

pub mod config;
pub mod enroll;
pub mod link;
pub mod store;

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use protocol::{
    Body, ExtractRequestPayload, Header, Identity, Message, Opened, OutboxPayload, Party, Reason,
    RecoveryAnswer, RecoveryRequest, RenewalRequest, SentenceEventPayload, TrustStore,
};
use rumqttc::{Publish, QoS};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};

pub use config::Config;
use daemon::Backoff;
use link::{Link, LinkEvent};
use store::Store;

/// What can stop the listener.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration cannot be read.
    #[error("configuration: {0}")]
    Config(#[from] daemon::ConfigError),
    /// The court's keys or trust material cannot be loaded, or do not match the court.
    #[error("court PKI: {0}")]
    Pki(String),
    /// A database call failed.
    #[error("database, {what}: {source}")]
    Db {
        /// What was being done.
        what: &'static str,
        /// The driver's error.
        #[source]
        source: tokio_postgres::Error,
    },
    /// The database refused the call (a rule, not an outage): not retried.
    #[error("database, {what}: {message}")]
    Refused {
        /// What was being done.
        what: &'static str,
        /// The database's (French) message.
        message: String,
    },
    /// The database connection is gone.
    #[error("the database connection was lost")]
    DbClosed,
    /// The MQTT client can no longer reach its event loop.
    #[error("MQTT client: {0}")]
    Mqtt(#[from] rumqttc::ClientError),
    /// The MQTT event loop stopped.
    #[error("the MQTT link stopped")]
    LinkGone,
}

impl Error {
    /// Errors after which a new database session may help.
    fn is_db(&self) -> bool {
        matches!(self, Error::Db { .. } | Error::DbClosed)
    }
}

/// How [`run_once`] ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnceReport {
    /// Messages still pending (not receipted nor rejected) when it stopped.
    pub pending: usize,
    /// Whether it stopped because of the time limit (or a shutdown) rather than an empty outbox.
    pub timed_out: bool,
}

/// Fixed cost of the CMS layers around an encoded batch (measured ~580 bytes; some margin).
const SEAL_OVERHEAD_BYTES: usize = 700;
/// Most outbox rows read per drain.
const FETCH_ROWS: i32 = 1000;

/// The daemon: runs until `shutdown` is cancelled. Database and broker outages are waited out.
pub async fn run(config: Config, shutdown: CancellationToken) -> Result<(), Error> {
    let mut engine = Engine::new(config, shutdown.clone())?;
    engine.serve(false).await.map(|_| ())
}

/// Sends what is pending and waits for the receipts (at most `once_timeout_secs`), then returns.
pub async fn run_once(config: Config, shutdown: CancellationToken) -> Result<OnceReport, Error> {
    let mut engine = Engine::new(config, shutdown.clone())?;
    let report = engine.serve(true).await;
    shutdown.cancel();
    report
}

/// Makes the messages from `from_seq` on that the CJN had receipted pending again, so that the
/// running listener sends them again (after the CJN was restored from its backup and lost them:
/// `xmjuris reconcile` names the first); how many.
pub async fn resend_from(config: &Config, from_seq: i64) -> Result<i32, Error> {
    Store::connect(&config.database)
        .await?
        .requeue_messages(from_seq)
        .await
}

/// The transmission counts of the court database (`juris.transmission_status()`).
pub async fn status(config: &Config) -> Result<serde_json::Value, Error> {
    Store::connect(&config.database)
        .await?
        .transmission_status()
        .await
}

/// Loads the court's identity and trust store, checking they are the configured court's.
pub fn load_pki(config: &Config) -> Result<(Identity, TrustStore), Error> {
    let (identity, trust) = protocol::pki::court_load(&config.court.pki_dir)
        .map_err(|e| Error::Pki(format!("{}: {e}", config.court.pki_dir.display())))?;
    if identity.party() != Party::Court(config.court.code) {
        return Err(Error::Pki(format!(
            "the certificate is for {}, the configuration says court {}",
            identity.party(),
            config.court.code
        )));
    }
    if trust.peer_certs(Party::Cjn).next().is_none() {
        return Err(Error::Pki("no CJN certificate in the trust store".into()));
    }
    Ok((identity, trust))
}

/// A message sent and not yet receipted.
#[derive(Debug, Clone, Copy)]
struct Sent {
    at: Instant,
    bytes: usize,
    envelope: u64,
}

enum Exit {
    Shutdown,
    Empty,
    TimedOut,
}

struct Engine {
    config: Config,
    shutdown: CancellationToken,
    identity: Identity,
    trust: TrustStore,
    up: String,
    down: String,
    link: Link,
    connected: bool,
    in_flight: HashMap<String, Sent>,
    /// Messages from the broker not yet handled because the database failed.
    unhandled: VecDeque<Publish>,
    /// Outbox rows that cannot be sent as they stand (recorded as defects, logged once each).
    refused: HashMap<String, ()>,
    /// Number of the next envelope (in-flight accounting).
    next_envelope: u64,
    /// The identity before the last renewal: answers to what it signed are sealed for it.
    previous: Option<Identity>,
    /// When the last renewal request left (or a renewal was installed).
    renewal_at: Option<Instant>,
    /// Message id of the last renewal request (a rejection may name it).
    renewal_request: Option<String>,
    /// The certificate's expiry was already reported (logged once).
    expiry_logged: bool,
    /// SHA-256 of the last revocation list refused (quarantined once, not on every reconnect).
    refused_crl: Option<[u8; 32]>,
    /// When the last recovery request left (a court restored from a backup; see [`Engine::recover`]).
    recovery_asked: Option<Instant>,
}

impl Engine {
    fn new(config: Config, shutdown: CancellationToken) -> Result<Self, Error> {
        let (identity, trust) = load_pki(&config)?;
        let link = link::start(&config, shutdown.clone())?;
        Ok(Engine {
            up: protocol::topics::up(config.court.code),
            down: protocol::topics::down(config.court.code),
            config,
            shutdown,
            identity,
            trust,
            link,
            connected: false,
            in_flight: HashMap::new(),
            unhandled: VecDeque::new(),
            refused: HashMap::new(),
            next_envelope: 0,
            previous: None,
            renewal_at: None,
            renewal_request: None,
            expiry_logged: false,
            refused_crl: None,
            recovery_asked: None,
        })
    }

    async fn serve(&mut self, once: bool) -> Result<OnceReport, Error> {
        let deadline =
            Instant::now() + Duration::from_secs(self.config.transmission.once_timeout_secs);
        let mut backoff = Backoff::from_config(
            self.config.broker.backoff_initial_ms,
            self.config.broker.backoff_max_secs,
        );
        loop {
            let mut store = match Store::connect(&self.config.database).await {
                Ok(s) => s,
                Err(e) if once => return Err(e),
                Err(e) => {
                    let delay = backoff.next_delay();
                    warn!(error = %e, delay_ms = delay.as_millis() as u64, "Database unreachable; will retry.");
                    tokio::select! {
                        _ = self.shutdown.cancelled() => return Ok(OnceReport { pending: 0, timed_out: true }),
                        _ = tokio::time::sleep(delay) => continue,
                    }
                }
            };
            info!("Database session open; listening to the outbox.");
            let result = match self.session(&mut store, once, deadline).await {
                // The link stops with the shutdown: that is no error.
                Err(_) if self.shutdown.is_cancelled() => Ok(Exit::Shutdown),
                other => other,
            };
            match result {
                Ok(exit) => {
                    let pending = match store.pending(FETCH_ROWS).await {
                        Ok(rows) => rows.len(),
                        Err(_) => self.in_flight.len(),
                    };
                    match exit {
                        Exit::Shutdown => info!(pending, "Shutting down."),
                        Exit::Empty => info!("Outbox empty: every message receipted."),
                        Exit::TimedOut => warn!(pending, "Stopped waiting for receipts."),
                    }
                    return Ok(OnceReport {
                        pending,
                        timed_out: !matches!(exit, Exit::Empty),
                    });
                }
                Err(e) if e.is_db() && !once => {
                    backoff.reset();
                    let delay = backoff.next_delay();
                    warn!(error = %e, "Database session lost; reconnecting.");
                    tokio::select! {
                        _ = self.shutdown.cancelled() => return Ok(OnceReport { pending: 0, timed_out: true }),
                        _ = tokio::time::sleep(delay) => {}
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn session(
        &mut self,
        store: &mut Store,
        once: bool,
        deadline: Instant,
    ) -> Result<Exit, Error> {
        while let Some(p) = self.unhandled.pop_front() {
            if let Err(e) = self.handle_incoming(store, &p).await {
                self.unhandled.push_front(p);
                return Err(e);
            }
            self.link.client.ack(&p).await?;
        }
        self.drain(store).await?;
        let tick_secs = self
            .config
            .transmission
            .poll_interval_secs
            .min(self.config.transmission.resend_after_secs)
            .max(1);
        let mut tick = tokio::time::interval(Duration::from_secs(tick_secs));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            if once && self.in_flight.is_empty() && store.pending(1).await?.is_empty() {
                return Ok(Exit::Empty);
            }
            tokio::select! {
                biased;
                _ = self.shutdown.cancelled() => return Ok(Exit::Shutdown),
                _ = tokio::time::sleep_until(deadline), if once => return Ok(Exit::TimedOut),
                w = store.woken() => match w {
                    Some(()) => self.drain(store).await?,
                    None => return Err(Error::DbClosed),
                },
                ev = self.link.events.recv() => match ev {
                    None => return Err(Error::LinkGone),
                    Some(LinkEvent::Connected { session_present }) => {
                        self.connected = true;
                        // What was in flight on the old connection is sent again: the CJN
                        // answers duplicates with the same receipt.
                        debug!(session_present, in_flight = self.in_flight.len(), "Resending what was in flight.");
                        self.in_flight.clear();
                        store.record_broker_contact().await?;
                        self.recovery_asked = None;
                        self.ask_recovery(store).await?;
                        self.drain(store).await?;
                        self.renew_if_due().await?;
                    }
                    Some(LinkEvent::Disconnected) => self.connected = false,
                    Some(LinkEvent::Message(p)) => {
                        if let Err(e) = self.handle_incoming(store, &p).await {
                            self.unhandled.push_back(p);
                            return Err(e);
                        }
                        self.link.client.ack(&p).await?;
                        self.drain(store).await?;
                    }
                },
                _ = tick.tick() => {
                    self.ask_recovery(store).await?;
                    self.drain(store).await?;
                    self.renew_if_due().await?;
                }
            }
        }
    }

    fn in_flight_bytes(&self) -> usize {
        self.in_flight.values().map(|s| s.bytes).sum()
    }

    fn in_flight_envelopes(&self) -> usize {
        self.in_flight
            .values()
            .map(|s| s.envelope)
            .collect::<std::collections::HashSet<_>>()
            .len()
    }

    /// Sends what the outbox holds and is not in flight, oldest first, within the window.
    async fn drain(&mut self, store: &Store) -> Result<(), Error> {
        if !self.connected {
            return Ok(());
        }
        let resend_after = Duration::from_secs(self.config.transmission.resend_after_secs);
        let now = Instant::now();
        self.in_flight
            .retain(|_, s| now.saturating_duration_since(s.at) < resend_after);
        let rows = store.pending(FETCH_ROWS).await?;
        let max_bytes = self.config.transmission.max_envelope_bytes;
        let max_messages = self
            .config
            .transmission
            .max_batch_messages
            .clamp(1, protocol::codec::MAX_BATCH);
        let mut batch: Vec<Message> = Vec::new();
        for row in rows {
            if self.in_flight.contains_key(&row.message_id)
                || self.refused.contains_key(&row.message_id)
            {
                continue;
            }
            let parsed = match row.kind.as_str() {
                "extract_request" => ExtractRequestPayload::from_json(row.payload.as_bytes())
                    .map(|p| (p.court_code, p.into_message())),
                "sentence_event" => SentenceEventPayload::from_json(row.payload.as_bytes())
                    .map(|p| (p.court_code, p.into_message())),
                _ => OutboxPayload::from_json(row.payload.as_bytes())
                    .map(|p| (p.court_code, p.into_message())),
            };
            let message = match parsed {
                Ok((court, m)) if court == self.config.court.code => m,
                Ok((court, _)) => {
                    error!(message_id = %row.message_id, seq = row.seq, %court, "Outbox message of another court; not sent, recorded as a defect.");
                    let defect = format!(
                        "Le message est au nom d'une autre juridiction ({court}) que celle de ce démon ({}) : il n'est pas transmis. Prévenez l'administrateur.",
                        self.config.court.code
                    );
                    self.set_aside(store, &row.message_id, &defect).await?;
                    continue;
                }
                Err(e) => {
                    // The error's text may quote a value (personal data): the log gets its kind
                    // and position only; the greffier, who may read the fiche, gets the text.
                    error!(message_id = %row.message_id, seq = row.seq, category = ?e.classify(), line = e.line(), column = e.column(), "Outbox payload refused by the protocol; not sent, recorded as a defect (the CJN will see a gap until it is sent).");
                    let defect = format!(
                        "Le message ne respecte pas le protocole de transmission ({e}) : il reste en attente et bloque l'application des messages suivants au CJN. Prévenez l'administrateur (mise à jour du logiciel ou correction)."
                    );
                    self.set_aside(store, &row.message_id, &defect).await?;
                    continue;
                }
            };
            batch.push(message);
            if batch.len() > 1 {
                // A batch that does not encode is split: the culprit then fails alone in `send`.
                let size = protocol::codec::encode(&batch)
                    .map(|b| b.len() + SEAL_OVERHEAD_BYTES)
                    .unwrap_or(usize::MAX);
                if size > max_bytes || batch.len() > max_messages {
                    let last = batch.pop();
                    if !self.send(store, &batch).await? {
                        return Ok(());
                    }
                    batch = last.into_iter().collect();
                }
            }
        }
        if !batch.is_empty() {
            self.send(store, &batch).await?;
        }
        Ok(())
    }

    /// Seals and publishes one envelope; false when the window is full (nothing sent).
    async fn send(&mut self, store: &Store, batch: &[Message]) -> Result<bool, Error> {
        let Some(cjn) = self.trust.peer_certs(Party::Cjn).last().cloned() else {
            return Err(Error::Pki("no CJN certificate in the trust store".into()));
        };
        let limit = self.config.transmission.max_sealed_bytes;
        let sealed = match protocol::seal_messages(batch, &self.identity, &cjn) {
            Ok(s) if s.len() <= limit => s,
            result => {
                if batch.len() > 1 {
                    // One of them is the culprit: each goes alone.
                    for m in batch {
                        if !Box::pin(self.send(store, std::slice::from_ref(m))).await? {
                            return Ok(false);
                        }
                    }
                    return Ok(true);
                }
                // Not an outage: the row stays in the outbox (its sequence number must reach the
                // CJN), set aside with its defect until a corrected listener sends it.
                let defect = match &result {
                    Ok(s) => format!(
                        "Le message scellé compte {} octets, au-delà de la limite du CJN ({limit} octets) : il n'est pas transmis. Prévenez l'administrateur.",
                        s.len()
                    ),
                    Err(e) => format!(
                        "Le message ne peut pas être scellé ({}) : il n'est pas transmis. Prévenez l'administrateur.",
                        e.reason().name()
                    ),
                };
                for m in batch {
                    let id = m.header.message_id.to_string();
                    error!(message_id = %id, seq = m.header.seq, bytes = result.as_ref().map(Vec::len).ok(), reason = result.as_ref().err().map(|e| e.reason().name()), "Message cannot be sent to the CJN; not sent, recorded as a defect.");
                    self.set_aside(store, &id, &defect).await?;
                }
                return Ok(true);
            }
        };
        let window = self.config.transmission.max_in_flight_bytes;
        if !self.in_flight.is_empty()
            && (self.in_flight_bytes() + sealed.len() > window
                || self.in_flight_envelopes()
                    >= self.config.transmission.max_in_flight_envelopes.max(1))
        {
            debug!(
                in_flight = self.in_flight.len(),
                "Window full; waiting for receipts."
            );
            return Ok(false);
        }
        let bytes = sealed.len();
        self.link
            .client
            .publish(self.up.clone(), QoS::AtLeastOnce, false, sealed)
            .await?;
        let ids: Vec<String> = batch
            .iter()
            .map(|m| m.header.message_id.to_string())
            .collect();
        let share = bytes.div_ceil(batch.len());
        let at = Instant::now();
        for id in &ids {
            self.in_flight.insert(
                id.clone(),
                Sent {
                    at,
                    bytes: share,
                    envelope: self.next_envelope,
                },
            );
        }
        self.next_envelope += 1;
        store.mark_sent(&ids).await?;
        info!(
            messages = batch.len(),
            bytes,
            first_seq = batch.first().map(|m| m.header.seq),
            last_seq = batch.last().map(|m| m.header.seq),
            "Envelope published."
        );
        Ok(true)
    }

    /// Sets a message aside until a restart (it is not sent) and records its defect, once, in
    /// the database: the greffier sees it on the fiche, the operator in the status.
    async fn set_aside(
        &mut self,
        store: &Store,
        message_id: &str,
        defect: &str,
    ) -> Result<(), Error> {
        if self.refused.insert(message_id.to_owned(), ()).is_none() {
            store.mark_defective(message_id, defect).await?;
        }
        Ok(())
    }

    /// Opens what the CJN sent and stores it; quarantines what does not open.
    async fn handle_incoming(&mut self, store: &Store, p: &Publish) -> Result<(), Error> {
        let topic = p.topic.as_str();
        if topic == protocol::topics::REVOCATIONS {
            return self.apply_published_crl(store, p).await;
        }
        if topic != self.down {
            debug!(topic, "Message on an unexpected topic ignored.");
            return Ok(());
        }
        let (_, messages) = match self.open_down(&p.payload) {
            Ok(x) => x,
            Err(e) => {
                warn!(
                    reason = e.reason().name(),
                    bytes = p.payload.len(),
                    "Incoming message refused; quarantined."
                );
                let why = format!("{}: {}", e.reason().name(), e.detail());
                return store.quarantine(topic, &p.payload, &why).await;
            }
        };
        for m in messages {
            let message_id = m.header.message_id;
            match m.body {
                Body::Receipt(r) => {
                    let json = serde_json::to_value(&r)
                        .map_err(|e| Error::Pki(format!("receipt {}: {e}", r.message_id)))?;
                    let id = r.message_id.to_string();
                    let stored = match store.store_receipt(&id, &json, &p.payload).await {
                        Err(Error::Refused { message, .. }) => {
                            warn!(message_id = %id, "Receipt refused by the database; quarantined.");
                            store
                                .quarantine(
                                    topic,
                                    &p.payload,
                                    &format!("receipt refused: {message}"),
                                )
                                .await?;
                            continue;
                        }
                        other => other?,
                    };
                    self.in_flight.remove(&id);
                    info!(message_id = %id, seq = r.seq, niu = ?r.niu.map(|n| n.to_string()), stored, "Receipt stored.");
                }
                Body::Rejection(r)
                    if !r.message_id.is_nil()
                        && self.renewal_request.as_deref() == Some(&r.message_id.to_string()) =>
                {
                    error!(%message_id, reason = r.reason.name(), detail = r.detail.as_deref().unwrap_or(""), "The CJN refused to renew the court's certificate; quarantined.");
                    let why = format!(
                        "renewal refused by the CJN: {}: {}",
                        r.reason.name(),
                        r.detail.as_deref().unwrap_or("")
                    );
                    store.quarantine(topic, &p.payload, &why).await?;
                }
                Body::Rejection(r) if r.message_id.is_nil() => {
                    // The CJN could not read which messages the envelope held (it did not open,
                    // or could not be stored): they stay pending and are sent again.
                    warn!(%message_id, reason = r.reason.name(), detail = r.detail.as_deref().unwrap_or(""), "The CJN rejected an envelope without naming its messages; quarantined.");
                    let why = format!(
                        "rejected_by_cjn: {}: {}",
                        r.reason.name(),
                        r.detail.as_deref().unwrap_or("")
                    );
                    store.quarantine(topic, &p.payload, &why).await?;
                }
                Body::Rejection(r) => {
                    let id = r.message_id.to_string();
                    let stored = match store
                        .store_rejection(&id, r.reason.name(), &reason_fr(&r), &p.payload)
                        .await
                    {
                        Err(Error::Refused { message, .. }) => {
                            warn!(message_id = %id, "Rejection refused by the database; quarantined.");
                            store
                                .quarantine(
                                    topic,
                                    &p.payload,
                                    &format!("rejection refused: {message}"),
                                )
                                .await?;
                            continue;
                        }
                        other => other?,
                    };
                    self.in_flight.remove(&id);
                    warn!(message_id = %id, reason = r.reason.name(), stored, "The CJN rejected a message.");
                }
                Body::ExtractAnswer(a) => {
                    let id = a.request_id.to_string();
                    let json = serde_json::to_value(&a)
                        .map_err(|e| Error::Pki(format!("extract answer {id}: {e}")))?;
                    let stored = match store.store_extract_answer(&id, &json, &p.payload).await {
                        Err(Error::Refused { message, .. }) => {
                            warn!(request_id = %id, "Extract answer refused by the database; quarantined.");
                            store
                                .quarantine(
                                    topic,
                                    &p.payload,
                                    &format!("extract answer refused: {message}"),
                                )
                                .await?;
                            continue;
                        }
                        other => other?,
                    };
                    self.in_flight.remove(&id);
                    info!(request_id = %id, entries = a.entries.len(), stored, "Extract answer stored.");
                }
                Body::RevocationList(l) => {
                    match protocol::pki::court_apply_crl(
                        &self.config.court.pki_dir,
                        &mut self.trust,
                        &l.crl_der,
                    ) {
                        Ok(changed) => {
                            info!(%message_id, changed, "Revocation list applied.");
                            self.check_own_revocation();
                        }
                        Err(e) => {
                            warn!(%message_id, reason = e.reason().name(), "Revocation list refused; quarantined.");
                            let why =
                                format!("revocation_list: {}: {}", e.reason().name(), e.detail());
                            store.quarantine(topic, &p.payload, &why).await?;
                        }
                    }
                }
                Body::EnrollmentAnswer(a) => {
                    if let Err(why) = self.install_renewal(&a) {
                        store.quarantine(topic, &p.payload, &why).await?;
                    }
                }
                Body::RecoveryAnswer(a) => self.recover(store, a).await?,
                other => {
                    let kind = other.kind();
                    warn!(%message_id, kind, "Message of a kind the listener does not handle; quarantined.");
                    store
                        .quarantine(topic, &p.payload, &format!("unhandled kind: {kind}"))
                        .await?;
                }
            }
        }
        Ok(())
    }
}

impl Engine {
    /// Opens an envelope from the CJN: sealed for the current certificate, or for the one
    /// before the last renewal (answers to what it signed).
    fn open_down(&self, sealed: &[u8]) -> protocol::Result<(Opened, Vec<Message>)> {
        match protocol::open_messages(sealed, &self.identity, &self.trust, Party::Cjn) {
            Err(e) if e.reason() == Reason::WrongRecipient => match &self.previous {
                Some(prev) => protocol::open_messages(sealed, prev, &self.trust, Party::Cjn),
                None => Err(e),
            },
            other => other,
        }
    }

    /// The revocation list the CJN keeps retained on its topic: the DER CRL, whose issuing
    /// CA's signature [`protocol::pki::court_apply_crl`] checks (an older one is ignored).
    async fn apply_published_crl(&mut self, store: &Store, p: &Publish) -> Result<(), Error> {
        let current = self.trust.crl().and_then(|c| c.to_der().ok());
        if current.as_deref() == Some(&p.payload[..]) {
            debug!("Revocation list unchanged.");
            return Ok(());
        }
        match protocol::pki::court_apply_crl(
            &self.config.court.pki_dir,
            &mut self.trust,
            &p.payload,
        ) {
            Ok(changed) => {
                info!(
                    changed,
                    bytes = p.payload.len(),
                    "Revocation list of the CJN applied."
                );
                self.check_own_revocation();
                Ok(())
            }
            Err(e) => {
                let digest = openssl::sha::sha256(&p.payload);
                if self.refused_crl == Some(digest) {
                    return Ok(());
                }
                self.refused_crl = Some(digest);
                warn!(
                    reason = e.reason().name(),
                    bytes = p.payload.len(),
                    "Revocation list refused; quarantined."
                );
                let why = format!("revocation_list: {}: {}", e.reason().name(), e.detail());
                store
                    .quarantine(protocol::topics::REVOCATIONS, &p.payload, &why)
                    .await
            }
        }
    }

    /// Reports (ERROR) a revocation list that lists the court's own certificate.
    fn check_own_revocation(&self) {
        if let Ok(Some(at)) = self.trust.revoked_at(self.identity.cert()) {
            let serial = protocol::pki::cert_serial(self.identity.cert()).unwrap_or_default();
            error!(
                serial,
                revoked_at = at,
                "The court's certificate is revoked: the CJN refuses what it signs. Enroll again."
            );
        }
    }

    /// Seconds until the court's certificate expires (negative once expired).
    fn secs_to_expiry(&self) -> Result<i64, Error> {
        let now = openssl::asn1::Asn1Time::days_from_now(0)
            .map_err(|e| Error::Pki(format!("time: {e}")))?;
        let d = now
            .diff(self.identity.cert().not_after())
            .map_err(|e| Error::Pki(format!("certificate expiry: {e}")))?;
        Ok(i64::from(d.days) * 86_400 + i64::from(d.secs))
    }

    /// Asks the CJN for a new certificate when the court's expires within
    /// `renew_before_days`, and again after `renewal_retry_secs` without an answer.
    async fn renew_if_due(&mut self) -> Result<(), Error> {
        if !self.connected {
            return Ok(());
        }
        let left = self.secs_to_expiry()?;
        if left > i64::from(self.config.court.renew_before_days) * 86_400 {
            return Ok(());
        }
        if left <= 0 {
            if !self.expiry_logged {
                self.expiry_logged = true;
                error!(
                    "The court's certificate has expired: the CJN refuses what it signs. Enroll again."
                );
            }
            return Ok(());
        }
        let retry = Duration::from_secs(self.config.court.renewal_retry_secs.max(1));
        if self.renewal_at.is_some_and(|t| t.elapsed() < retry) {
            return Ok(());
        }
        let Some(cjn) = self.trust.peer_certs(Party::Cjn).last().cloned() else {
            return Err(Error::Pki("no CJN certificate in the trust store".into()));
        };
        let dir = &self.config.court.pki_dir;
        let court = self.config.court.code;
        let csr_der = protocol::pki::court_prepare_renewal(dir, court)
            .map_err(|e| Error::Pki(format!("preparing the renewal in {}: {e}", dir.display())))?;
        let request = Message {
            header: Header::new(Party::Court(court), Party::Cjn, 0),
            body: Body::RenewalRequest(RenewalRequest { csr_der }),
        };
        let id = request.header.message_id.to_string();
        let sealed = protocol::seal_messages(&[request], &self.identity, &cjn)
            .map_err(|e| Error::Pki(format!("sealing the renewal request: {e}")))?;
        let bytes = sealed.len();
        self.link
            .client
            .publish(self.up.clone(), QoS::AtLeastOnce, false, sealed)
            .await?;
        self.renewal_at = Some(Instant::now());
        info!(
            message_id = %id,
            days_left = left / 86_400,
            bytes,
            "Certificate renewal requested."
        );
        self.renewal_request = Some(id);
        Ok(())
    }

    /// Installs the certificate the CJN sent after a renewal request; the quarantine reason
    /// when it cannot be installed.
    fn install_renewal(&mut self, a: &protocol::EnrollmentAnswer) -> Result<(), String> {
        let dir = self.config.court.pki_dir.clone();
        if !protocol::pki::court_renewal_pending(&dir) {
            // Answered twice (the request was sent again): the first answer is installed.
            let same_key = openssl::x509::X509::from_der(&a.court_cert_der)
                .ok()
                .and_then(|c| c.public_key().ok())
                .zip(self.identity.cert().public_key().ok())
                .is_some_and(|(new, current)| new.public_eq(&current));
            if same_key {
                info!("Another certificate for the key already renewed; ignored.");
                return Ok(());
            }
            warn!("A certificate came without a renewal pending; quarantined.");
            return Err("certificate_update: no renewal pending".into());
        }
        let (identity, mut trust) =
            match protocol::pki::court_complete_renewal(&dir, self.config.court.code, a) {
                Ok(x) => x,
                Err(e) => {
                    error!(
                        reason = e.reason().name(),
                        detail = e.detail(),
                        "The renewed certificate cannot be installed; quarantined."
                    );
                    return Err(format!(
                        "certificate_update: {}: {}",
                        e.reason().name(),
                        e.detail()
                    ));
                }
            };
        // Keep what the old trust knew and the answer may lack: a newer revocation list, an
        // older CJN certificate (what it signed still verifies).
        if let Some(der) = self.trust.crl().and_then(|c| c.to_der().ok())
            && let Err(e) = protocol::pki::court_apply_crl(&dir, &mut trust, &der)
        {
            warn!(
                reason = e.reason().name(),
                "Revocation list not carried over."
            );
        }
        let known: Vec<Vec<u8>> = trust
            .peer_certs(Party::Cjn)
            .filter_map(|c| c.to_der().ok())
            .collect();
        for c in self.trust.peer_certs(Party::Cjn) {
            if c.to_der().is_ok_and(|d| !known.contains(&d)) {
                let _ = trust.add_peer_unchecked(c.clone());
            }
        }
        let serial = protocol::pki::cert_serial(identity.cert()).unwrap_or_default();
        let not_after = identity.cert().not_after().to_string();
        self.previous = Some(std::mem::replace(&mut self.identity, identity));
        self.trust = trust;
        self.renewal_at = Some(Instant::now());
        self.renewal_request = None;
        self.expiry_logged = false;
        info!(serial, not_after, "Renewed certificate installed.");
        Ok(())
    }
}

impl Engine {
    /// While a recovery is open at the court (restored from a backup), asks the CJN for the
    /// court's messages after the highest number it holds; again after `resend_after_secs`
    /// without an answer.
    async fn ask_recovery(&mut self, store: &Store) -> Result<(), Error> {
        if !self.connected {
            return Ok(());
        }
        let resend_after = Duration::from_secs(self.config.transmission.resend_after_secs);
        if self
            .recovery_asked
            .is_some_and(|at| at.elapsed() < resend_after)
        {
            return Ok(());
        }
        let Some(after_seq) = store.recovery_request().await? else {
            self.recovery_asked = None;
            return Ok(());
        };
        let Some(cjn) = self.trust.peer_certs(Party::Cjn).last().cloned() else {
            return Err(Error::Pki("no CJN certificate in the trust store".into()));
        };
        let court = self.config.court.code;
        let request = Message {
            header: Header::new(Party::Court(court), Party::Cjn, 0),
            body: Body::RecoveryRequest(RecoveryRequest {
                after_seq: u64::try_from(after_seq).unwrap_or(0),
            }),
        };
        let id = request.header.message_id;
        let sealed = protocol::seal_messages(&[request], &self.identity, &cjn)
            .map_err(|e| Error::Pki(format!("sealing the recovery request: {e}")))?;
        self.link
            .client
            .publish(self.up.clone(), QoS::AtLeastOnce, false, sealed)
            .await?;
        self.recovery_asked = Some(Instant::now());
        warn!(message_id = %id, after_seq, "Court restored from a backup: its messages after this number asked from the CJN.");
        Ok(())
    }

    /// The CJN's answer to a recovery request: the court's own envelopes, whose signature is
    /// verified with the court's certificates (the CJN's copy cannot be forged, only withheld),
    /// then each message above the number asked is re-created at the court
    /// (`juris.recovery_restore`); asks for more until the answer is complete. What cannot be
    /// verified or restored stops the recovery for an operator (signing stays suspended).
    async fn recover(&mut self, store: &Store, a: RecoveryAnswer) -> Result<(), Error> {
        let me = Party::Court(self.config.court.code);
        let mut trust = self.trust.clone();
        for c in &a.certificates {
            if let Ok(cert) = openssl::x509::X509::from_der(&c.der) {
                // Only the court's own certificates (including expired ones: the chain is
                // checked at each signing time).
                if protocol::party_of(&cert) == Some(me) {
                    let _ = trust.add_peer_unchecked(cert);
                }
            }
        }
        let _ = trust.add_peer_unchecked(self.identity.cert().clone());
        if let Some(prev) = &self.previous {
            let _ = trust.add_peer_unchecked(prev.cert().clone());
        }
        let (mut restored, mut present, mut problem) = (0usize, 0usize, None::<String>);
        'envelopes: for env in &a.envelopes {
            let messages = protocol::verify_signed(env.signed_der.clone(), &trust, me)
                .and_then(|o| protocol::codec::decode(&o.payload));
            let mut messages = match messages {
                Ok(m) => m,
                Err(e) => {
                    problem = Some(format!(
                        "une enveloppe renvoyée par le CJN ne porte pas une signature valide de la juridiction ({}) : rien n'en est repris",
                        e.reason().name()
                    ));
                    break;
                }
            };
            messages.sort_by_key(|m| m.header.seq);
            for m in messages {
                if m.header.sender != me || m.header.seq <= a.after_seq {
                    continue;
                }
                // Audit checkpoints, requests for extracts and renewals are not restored.
                let Some(json) = protocol::outbox_json(&m) else {
                    continue;
                };
                match store.recovery_restore(&json).await {
                    Ok(done) if done == "present" => present += 1,
                    Ok(_) => restored += 1,
                    Err(Error::Refused { message, .. }) => {
                        problem = Some(format!(
                            "message n° {} ({}) : {message}",
                            m.header.seq, m.header.message_id
                        ));
                        break 'envelopes;
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        let last_seq = i64::try_from(a.last_seq).unwrap_or(i64::MAX);
        let state = store
            .recovery_answered(last_seq, a.complete, problem.as_deref())
            .await?;
        if let Some(why) = &problem {
            error!(restored, problem = %why, "Recovery from the CJN stopped: an operator is needed (signing stays suspended).");
            return Ok(());
        }
        info!(
            restored,
            present,
            cjn_last_seq = a.last_seq,
            complete = a.complete,
            recovering = state.get("recovering").and_then(|v| v.as_bool()),
            "Messages taken back from the CJN."
        );
        // More to ask for (the answer was cut to the size limit): at once.
        self.recovery_asked = None;
        if !a.complete {
            self.ask_recovery(store).await?;
        }
        Ok(())
    }
}

/// The greffier's French text for a rejection.
fn reason_fr(r: &protocol::Rejection) -> String {
    let mut text = if r.reason == Reason::SequenceReused {
        "Le CJN a refusé ce message : son numéro est déjà pris au CJN par un autre message de cette \
         juridiction, dont la base a sans doute été restaurée depuis une ancienne sauvegarde. Les \
         signatures sont suspendues et le démon de transmission reprend du CJN les fiches signées \
         depuis ; ce message-ci demande l'administrateur (docs/backup.md)."
            .to_owned()
    } else {
        format!("Le CJN a refusé ce message (motif : {}).", r.reason.name())
    };
    if let Some(d) = &r.detail {
        text.push(' ');
        text.push_str(d);
    }
    text
}
