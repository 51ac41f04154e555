//! XMJuris CJN daemon: opens and verifies what the courts send over MQTT, stores it once and
//! answers with signed receipts.
//!
//! - [`run`]: the daemon. Subscribes (MQTT v5, shared subscriptions, so that several instances
//!   share the load) to every court's `up` topic and enrollment requests; opens each envelope
//!   with [`protocol::open_from_topic`] before anything touches the database; stores its
//!   messages with `cjn.ingest` in one transaction; answers with one sealed envelope of receipts
//!   on the court's `down` topic; acknowledges the MQTT message after the commit. What does not
//!   open is quarantined (`cjn.quarantine`) and, when the court is known, answered with a signed
//!   rejection. Enrollment requests get certificates; the CRL is published retained.
//! - [`run_once`]: the same until no message came for `once_idle_secs`.
//! - [`status`]: the counts of `cjn.ingest_status()`.
//!
//! Architecture invariant: the MQTT event loop runs in its own task ([`link`]) and never waits
//! for the database. A dispatcher hands each message to one of `workers` database sessions (the
//! same one for all of a court's messages, so they are applied in order) and sends the MQTT
//! acknowledgements, in the order the messages came, once each is committed.

mod alarms;
pub mod config;
mod crl;
mod extract;
mod handle;
pub mod link;
mod recovery;
pub mod store;
pub mod trust;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use protocol::Identity;
use protocol::pki::CjnPki;
use rumqttc::v5::AsyncClient;
use rumqttc::v5::mqttbytes::v5::Publish;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

pub use config::Config;
use daemon::Backoff;
use link::LinkEvent;
use store::Store;
use trust::Trust;

/// What can stop the daemon.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration cannot be read.
    #[error("configuration: {0}")]
    Config(#[from] daemon::ConfigError),
    /// The CJN's keys or trust material cannot be loaded.
    #[error("CJN PKI: {0}")]
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
    /// The database refused the data (a rule, not an outage): not retried.
    #[error("database, {what}: {message}")]
    Refused {
        /// What was being done.
        what: &'static str,
        /// The database's message.
        message: String,
        /// Its SQLSTATE.
        code: String,
    },
    /// The MQTT client can no longer reach its event loop.
    #[error("MQTT client: {0}")]
    Mqtt(Box<rumqttc::v5::ClientError>),
    /// The broker refused the connection or a subscription, or could not be reached.
    #[error("broker: {0}")]
    Broker(String),
    /// Something that should not happen (a bug): logged, the message kept for an operator.
    #[error("internal: {0}")]
    Internal(String),
}

impl From<rumqttc::v5::ClientError> for Error {
    fn from(e: rumqttc::v5::ClientError) -> Self {
        Error::Mqtt(Box::new(e))
    }
}

impl Error {
    /// Errors after which trying again (a new database session) may help.
    fn is_transient(&self) -> bool {
        matches!(self, Error::Db { .. })
    }
}

/// How [`run`] or [`run_once`] ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// MQTT messages handled (stored, refused or answered) and acknowledged.
    pub handled: u64,
}

/// What every worker shares.
pub(crate) struct Shared {
    pub(crate) config: Config,
    pub(crate) pki: CjnPki,
    pub(crate) identity: Identity,
    pub(crate) trust: Trust,
    pub(crate) client: AsyncClient,
    pub(crate) shutdown: CancellationToken,
}

/// A message for a worker: its place in the acknowledgement order, and the message.
pub(crate) struct Job {
    pub(crate) n: u64,
    pub(crate) publish: Publish,
}

/// The daemon: runs until `shutdown` is cancelled. Database and broker outages are waited out.
pub async fn run(config: Config, shutdown: CancellationToken) -> Result<Report, Error> {
    serve(config, shutdown, false, None).await
}

/// [`run`], telling `subscribed` once the broker has acknowledged the subscriptions (what
/// courts publish from then on reaches this daemon, or another of its group).
pub async fn run_notifying(
    config: Config,
    shutdown: CancellationToken,
    subscribed: tokio::sync::oneshot::Sender<()>,
) -> Result<Report, Error> {
    serve(config, shutdown, false, Some(subscribed)).await
}

/// Creates this instance's persistent session on the broker, subscribed to every court's
/// topics, then disconnects: from then on the broker keeps what the courts publish for it
/// (for `session_expiry_secs`), even before the daemon first runs. Run at set-up, before any
/// court's listener starts (`cjn-ingest subscribe`). Fails if the broker refuses the account
/// or a subscription (an account that is not the CJN's, or a client id not its own).
pub async fn create_session(config: &Config) -> Result<(), Error> {
    link::create_session(config).await
}

/// Handles what the broker holds for us, and returns once no message came for
/// `once_idle_secs` (for cron and tests).
pub async fn run_once(config: Config, shutdown: CancellationToken) -> Result<Report, Error> {
    serve(config, shutdown, true, None).await
}

/// The counts of the CJN database (`cjn.ingest_status()`).
pub async fn status(config: &Config) -> Result<serde_json::Value, Error> {
    Store::connect(&config.database).await?.status().await
}

/// Connects to the database, waiting out an outage (None on shutdown).
pub(crate) async fn connect_retrying(
    config: &Config,
    shutdown: &CancellationToken,
    backoff: &mut Backoff,
) -> Option<Store> {
    loop {
        match Store::connect(&config.database).await {
            Ok(s) => {
                backoff.reset();
                return Some(s);
            }
            Err(e) => {
                let delay = backoff.next_delay();
                warn!(error = %e, delay_ms = delay.as_millis() as u64, "Database unreachable; will retry.");
                tokio::select! {
                    _ = shutdown.cancelled() => return None,
                    _ = tokio::time::sleep(delay) => {}
                }
            }
        }
    }
}

pub(crate) fn db_backoff() -> Backoff {
    Backoff::new(Duration::from_millis(200), Duration::from_secs(10))
}

/// Loads the court certificates: the registry's, then those of the PKI directory's `issued/`
/// that the registry lacks (recorded now).
async fn load_trust(shared: &Shared, store: &Store) -> Result<(), Error> {
    let started = std::time::Instant::now();
    let rows = store.court_certificates(None).await?;
    let from_db = rows.len();
    for row in rows {
        match row.court_code.parse() {
            Ok(court) => {
                shared.trust.add_der(court, row.serial, row.der);
            }
            Err(_) => {
                warn!(serial = %row.serial, court = %row.court_code, "Certificate of the registry with a bad court code; skipped.")
            }
        }
    }
    let dir = shared.config.pki.dir.join(protocol::pki::files::ISSUED_DIR);
    let entries = std::fs::read_dir(&dir)
        .map_err(|e| Error::Pki(format!("reading {}: {e}", dir.display())))?;
    let mut imported = 0usize;
    for entry in entries {
        let Ok(entry) = entry else { continue };
        let name = entry.file_name().to_string_lossy().into_owned();
        // `<court>-<serial>.crt`
        let Some(serial) = name
            .strip_suffix(".crt")
            .and_then(|s| s.split_once('-'))
            .map(|(_, s)| s.to_owned())
        else {
            continue;
        };
        if shared.trust.knows(&serial) {
            continue;
        }
        let cert = match protocol::pki::read_cert(&entry.path()) {
            Ok(c) => c,
            Err(e) => {
                warn!(file = %name, error = %e, "Issued certificate unreadable; skipped.");
                continue;
            }
        };
        let info = match trust::cert_info(&cert) {
            Ok(i) => i,
            Err(e) => {
                warn!(file = %name, error = %e, "Issued certificate skipped.");
                continue;
            }
        };
        match store::record_certificate(store.client(), &info).await {
            Ok(_) => {}
            Err(Error::Refused { message, .. }) => {
                warn!(file = %name, court = %info.court_code, %message, "Issued certificate not recorded (is the court registered?); skipped.");
                continue;
            }
            Err(e) => return Err(e),
        }
        shared.trust.add(cert)?;
        imported += 1;
    }
    info!(
        from_registry = from_db,
        imported_from_pki_dir = imported,
        certificates = shared.trust.court_certificates(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "Court certificates loaded."
    );
    Ok(())
}

/// A message handed to a worker and not yet acknowledged.
struct InFlight {
    n: u64,
    publish: Publish,
    generation: u64,
    done: bool,
}

async fn serve(
    config: Config,
    shutdown: CancellationToken,
    once: bool,
    mut subscribed: Option<tokio::sync::oneshot::Sender<()>>,
) -> Result<Report, Error> {
    let pki = CjnPki::open(&config.pki.dir)
        .map_err(|e| Error::Pki(format!("{}: {e}", config.pki.dir.display())))?;
    let identity = pki.identity().clone();
    let trust = Trust::with_parsed_courts(&pki, config.ingest.parsed_courts)?;
    let crl_der = pki
        .crl()
        .and_then(|c| {
            c.to_der().map_err(|e| {
                protocol::Error::new(protocol::Reason::BadCertificate, format!("CRL DER: {e}"))
            })
        })
        .map_err(|e| Error::Pki(format!("the CRL: {e}")))?;
    let initial_revocations = trust.set_crl(&crl_der)?.unwrap_or_default();

    // Everything stops after the workers have finished the message at hand.
    let stop = CancellationToken::new();
    let link_stop = CancellationToken::new();
    let mut link = link::start(&config, link_stop.clone())?;
    let shared = Arc::new(Shared {
        config,
        pki,
        identity,
        trust,
        client: link.client.clone(),
        shutdown: stop.clone(),
    });

    {
        // The trust, from the registry (an outage is waited out; loading again is harmless).
        let mut backoff = db_backoff();
        loop {
            let Some(store) = connect_retrying(&shared.config, &shutdown, &mut backoff).await
            else {
                link_stop.cancel();
                return Ok(Report { handled: 0 });
            };
            let loaded = async {
                load_trust(&shared, &store).await?;
                if !initial_revocations.is_empty() {
                    store.record_revocations(&initial_revocations).await?;
                }
                Ok::<(), Error>(())
            }
            .await;
            match loaded {
                Ok(()) => break,
                Err(e) if e.is_transient() => {
                    let delay = backoff.next_delay();
                    warn!(error = %e, delay_ms = delay.as_millis() as u64, "Loading the court certificates failed; will retry.");
                    tokio::select! {
                        _ = shutdown.cancelled() => {
                            link_stop.cancel();
                            return Ok(Report { handled: 0 });
                        }
                        _ = tokio::time::sleep(delay) => {}
                    }
                }
                Err(e) => {
                    link_stop.cancel();
                    return Err(e);
                }
            }
        }
    }

    let crl_task = tokio::spawn(crl::run(shared.clone()));
    let alarm_task = tokio::spawn(alarms::run(shared.clone()));
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<u64>();
    let mut workers = Vec::new();
    let mut senders = Vec::new();
    for i in 0..shared.config.ingest.workers {
        let (tx, rx) = mpsc::unbounded_channel::<Job>();
        senders.push(tx);
        workers.push(tokio::spawn(handle::worker(
            i,
            shared.clone(),
            rx,
            done_tx.clone(),
        )));
    }
    drop(done_tx);

    let mut in_flight: VecDeque<InFlight> = VecDeque::new();
    let mut next_n = 0u64;
    let mut handled = 0u64;
    let mut connected = false;
    let mut last_activity = Instant::now();
    let idle = Duration::from_secs(shared.config.ingest.once_idle_secs.max(1));
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            _ = shutdown.cancelled() => break,
            n = done_rx.recv() => {
                let Some(n) = n else { break };
                if let Some(f) = in_flight.iter_mut().find(|f| f.n == n) {
                    f.done = true;
                }
                match ack_ready(&link, &mut in_flight).await {
                    Ok(k) => handled += k,
                    Err(e) => {
                        warn!(error = %e, "The MQTT link is gone; stopping.");
                        break;
                    }
                }
                last_activity = Instant::now();
            }
            ev = link.events.recv() => match ev {
                None => break,
                Some(LinkEvent::Connected { session_present, generation }) => {
                    connected = true;
                    last_activity = Instant::now();
                    // Messages received on an older connection are delivered again on this one.
                    debug!(session_present, generation, unacknowledged = in_flight.len(), "Connected.");
                }
                Some(LinkEvent::Subscribed) => {
                    if let Some(tx) = subscribed.take() {
                        let _ = tx.send(());
                    }
                }
                Some(LinkEvent::Disconnected) => connected = false,
                Some(LinkEvent::Message { publish, generation }) => {
                    last_activity = Instant::now();
                    let n = next_n;
                    next_n += 1;
                    let worker = worker_for(&publish, senders.len());
                    in_flight.push_back(InFlight { n, publish: publish.clone(), generation, done: false });
                    if senders[worker].send(Job { n, publish }).is_err() {
                        warn!(worker, "A worker stopped; shutting down.");
                        break;
                    }
                }
            },
            _ = tick.tick() => {
                if once && connected && in_flight.is_empty() && last_activity.elapsed() >= idle {
                    info!(handled, "Nothing more to handle.");
                    break;
                }
            }
        }
    }

    // Graceful end: no new message; the workers finish the one at hand, which is acknowledged.
    drop(senders);
    stop.cancel();
    let deadline = tokio::time::sleep(Duration::from_secs(10));
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            n = done_rx.recv() => {
                let Some(n) = n else { break };
                if let Some(f) = in_flight.iter_mut().find(|f| f.n == n) {
                    f.done = true;
                }
                handled += ack_ready(&link, &mut in_flight).await.unwrap_or(0);
            }
            _ = &mut deadline => {
                warn!("Workers still busy after 10 s; their messages will be delivered again.");
                break;
            }
        }
    }
    for w in workers {
        w.abort();
    }
    crl_task.abort();
    alarm_task.abort();
    let unacknowledged = in_flight.len();
    // Let the acknowledgements leave before the link says goodbye.
    tokio::time::sleep(Duration::from_millis(100)).await;
    link_stop.cancel();
    info!(handled, unacknowledged, "Stopped.");
    Ok(Report { handled })
}

/// The worker for a message: by court, so that one court's messages are handled in order.
fn worker_for(publish: &Publish, workers: usize) -> usize {
    let topic = std::str::from_utf8(&publish.topic).unwrap_or("");
    match protocol::topics::parse(topic) {
        Some((court, _)) => court.get() as usize % workers.max(1),
        None => 0,
    }
}

/// Acknowledges, in the order they came, the messages whose work is committed.
async fn ack_ready(link: &link::Link, in_flight: &mut VecDeque<InFlight>) -> Result<u64, Error> {
    let mut n = 0;
    while in_flight.front().is_some_and(|f| f.done) {
        let Some(f) = in_flight.pop_front() else {
            break;
        };
        if !link.ack(&f.publish, f.generation).await? {
            debug!(
                generation = f.generation,
                "Not acknowledged: it came on an earlier connection."
            );
        }
        n += 1;
    }
    Ok(n)
}
