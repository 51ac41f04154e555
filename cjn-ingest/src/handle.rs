//! The workers: each owns a database session and handles the messages the dispatcher gives it,
//! one at a time: open and check (no database), store in one transaction, answer, report done.
//!
//! - On a court's `up` topic: the envelope is opened ([`Trust::open`](crate::trust::Trust::open));
//!   refused, it is quarantined and answered with a rejection when the court is known; opened,
//!   each of its messages is dispatched by kind ([`apply_envelope`]) in one transaction, then
//!   one sealed envelope of answers goes to the court's `down` topic.
//! - On a court's enrollment topic: the one-time code is checked and a certificate issued
//!   ([`protocol::pki::CjnPki::handle_enrollment`]), recorded in the registry and the trust, and
//!   the signed answer published on the court's `enroll/answer` topic.
//!
//! A database outage is waited out (new session, backoff) without losing the message: it is
//! reported done, and so acknowledged, only once its work is committed.

use std::sync::Arc;

use bytes::Bytes;
use openssl::x509::X509;
use protocol::topics::{self, TopicKind};
use protocol::{
    Body, CourtCode, FicheEvent, Header, Message, Opened, Party, Reason, Receipt, Rejection,
};
use rumqttc::v5::mqttbytes::QoS;
use tokio::sync::mpsc;
use tokio_postgres::Transaction;
use tracing::{debug, error, info, warn};
use uuid::Uuid;

use crate::link::Backoff;
use crate::store::{self, Store, db};
use crate::{Error, Job, Shared, connect_retrying, db_backoff};

/// Largest enrollment request looked at.
const MAX_ENROLLMENT_BYTES: usize = 64 * 1024;

/// A refusal of a whole envelope (or enrollment request), before anything is stored.
#[derive(Debug)]
pub(crate) struct Refusal {
    pub(crate) reason: Reason,
    pub(crate) detail: String,
    /// The refused messages, when they could be read authentically (else one nil-id rejection).
    pub(crate) ids: Vec<Uuid>,
}

impl Refusal {
    fn new(reason: Reason, detail: impl Into<String>) -> Self {
        Refusal {
            reason,
            detail: detail.into(),
            ids: Vec::new(),
        }
    }
}

impl From<protocol::Error> for Refusal {
    fn from(e: protocol::Error) -> Self {
        Refusal::new(e.reason(), e.detail())
    }
}

/// A header for a message of the CJN to `court`. The CJN's instances share no counter: its
/// sequence numbers are microseconds since the Unix epoch.
pub(crate) fn cjn_header(court: CourtCode) -> Header {
    let micros = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1000;
    Header::new(
        Party::Cjn,
        Party::Court(court),
        u64::try_from(micros).unwrap_or(0),
    )
}

/// A rejection of `message_id` from the CJN to `court`.
pub(crate) fn rejection(
    court: CourtCode,
    message_id: Uuid,
    reason: Reason,
    detail: impl Into<String>,
) -> Message {
    Message {
        header: cjn_header(court),
        body: Body::Rejection(Rejection {
            message_id,
            reason,
            detail: Some(detail.into()),
        }),
    }
}

/// What a message handler sees: the envelope it came in and the transaction it works in.
pub(crate) struct Ctx<'a> {
    pub(crate) shared: &'a Arc<Shared>,
    pub(crate) tx: &'a Transaction<'a>,
    pub(crate) topic: &'a str,
    pub(crate) court: CourtCode,
    pub(crate) court_code: String,
    pub(crate) opened: &'a Opened,
    /// The sealed envelope, as received (what a quarantine row keeps).
    pub(crate) sealed: &'a [u8],
    /// A savepoint around each fiche's `cjn.ingest` (see [`apply_envelope`]).
    pub(crate) savepoints: bool,
    /// The session's prepared `cjn.ingest` and `cjn.ingest_envelope`.
    pub(crate) ingest: store::IngestStatements,
}

impl Ctx<'_> {
    /// A savepoint before one message's work (a refusal rolls back to it).
    pub(crate) async fn savepoint(&self) -> Result<(), Error> {
        self.tx
            .batch_execute("savepoint message")
            .await
            .map_err(db("savepoint"))
    }

    /// Keeps the message's work.
    pub(crate) async fn release(&self) -> Result<(), Error> {
        self.tx
            .batch_execute("release savepoint message")
            .await
            .map_err(db("savepoint"))
    }

    /// Undoes the message's work.
    pub(crate) async fn rollback(&self) -> Result<(), Error> {
        self.tx
            .batch_execute("rollback to savepoint message")
            .await
            .map_err(db("savepoint"))
    }

    /// Quarantines the envelope because of one of its messages, in the transaction.
    pub(crate) async fn quarantine(
        &self,
        header: &Header,
        reason: Reason,
        detail: &str,
    ) -> Result<(), Error> {
        let detail = format!("message {}: {detail}", header.message_id);
        store::quarantine(
            self.tx,
            self.topic,
            Some(&self.court_code),
            reason.name(),
            &detail,
            self.sealed,
        )
        .await
    }

    /// Quarantines the envelope and answers one of its messages with a rejection.
    pub(crate) async fn refuse(
        &self,
        header: &Header,
        reason: Reason,
        detail: &str,
    ) -> Result<Vec<Message>, Error> {
        warn!(court = %self.court, message_id = %header.message_id, seq = header.seq, reason = reason.name(), detail, "Message refused; quarantined.");
        self.quarantine(header, reason, detail).await?;
        Ok(vec![rejection(
            self.court,
            header.message_id,
            reason,
            detail,
        )])
    }
}

/// The worker's loop: until the dispatcher closes the channel or the daemon stops while the
/// database is away.
pub(crate) async fn worker(
    index: usize,
    shared: Arc<Shared>,
    mut jobs: mpsc::UnboundedReceiver<Job>,
    done: mpsc::UnboundedSender<u64>,
) {
    let mut w = Worker {
        index,
        shared,
        store: None,
        backoff: db_backoff(),
    };
    while let Some(job) = jobs.recv().await {
        if !w.process(&job).await {
            debug!(
                worker = index,
                "Stopping with a message unfinished; it will come again."
            );
            return;
        }
        if done.send(job.n).is_err() {
            return;
        }
    }
}

struct Worker {
    index: usize,
    shared: Arc<Shared>,
    store: Option<Store>,
    backoff: Backoff,
}

impl Worker {
    /// A database session (a new one after an outage); `None` on shutdown.
    async fn store(&mut self) -> Option<&mut Store> {
        if self.store.as_ref().is_none_or(Store::is_closed) {
            self.store = None;
            let s = connect_retrying(
                &self.shared.config,
                &self.shared.shutdown,
                &mut self.backoff,
            )
            .await?;
            debug!(worker = self.index, "Database session open.");
            self.store = Some(s);
        }
        self.store.as_mut()
    }

    /// After a failed database call: a transient error waits (false on shutdown); anything
    /// else is the caller's.
    async fn pause(&mut self, e: &Error) -> bool {
        let delay = self.backoff.next_delay();
        warn!(worker = self.index, error = %e, delay_ms = delay.as_millis() as u64, "Database call failed; will retry.");
        self.store = None;
        tokio::select! {
            _ = self.shared.shutdown.cancelled() => false,
            _ = tokio::time::sleep(delay) => true,
        }
    }

    /// Handles one message; false if it was left unfinished (shutdown).
    async fn process(&mut self, job: &Job) -> bool {
        let topic = String::from_utf8_lossy(&job.publish.topic).into_owned();
        let sealed = job.publish.payload.clone();
        match topics::parse(&topic) {
            Some((court, TopicKind::Up)) => self.up(&topic, court, &sealed).await,
            Some((court, TopicKind::EnrollRequest)) => self.enroll(&topic, court, &sealed).await,
            _ => {
                warn!(topic, "Message on an unexpected topic; quarantined.");
                let refusal = Refusal::new(Reason::BadTopic, "not a topic the CJN reads");
                self.refuse(&topic, None, &sealed, refusal).await
            }
        }
    }

    /// Opens an envelope (off the async threads).
    async fn open(&self, topic: &str, sealed: &Bytes) -> Result<(Opened, Vec<Message>), Refusal> {
        let shared = self.shared.clone();
        let (topic, sealed) = (topic.to_owned(), sealed.clone());
        tokio::task::spawn_blocking(move || shared.trust.open(&topic, &sealed, &shared.identity))
            .await
            .map_err(|e| Refusal::new(Reason::Malformed, format!("opening failed: {e}")))?
            .map_err(Refusal::from)
    }

    /// Reads a court's certificates again from the registry; whether any was new.
    async fn refresh_court(&mut self, court: CourtCode) -> Option<bool> {
        loop {
            let store = self.store().await?;
            match store.court_certificates(Some(&court.to_string())).await {
                Ok(rows) => {
                    let mut added = false;
                    for row in rows {
                        if self.shared.trust.knows(&row.serial) {
                            continue;
                        }
                        match X509::from_der(&row.der)
                            .map_err(|e| Error::Pki(e.to_string()))
                            .and_then(|c| self.shared.trust.add(c))
                        {
                            Ok(Some(_)) => added = true,
                            Ok(None) => {}
                            Err(e) => {
                                warn!(court = %court, serial = %row.serial, error = %e, "Certificate of the registry skipped.")
                            }
                        }
                    }
                    return Some(added);
                }
                Err(e) if e.is_transient() => {
                    if !self.pause(&e).await {
                        return None;
                    }
                }
                Err(e) => {
                    error!(court = %court, error = %e, "Cannot read the court's certificates.");
                    return Some(false);
                }
            }
        }
    }

    /// A court's envelope.
    async fn up(&mut self, topic: &str, court: CourtCode, sealed: &Bytes) -> bool {
        let max = self.shared.config.ingest.max_sealed_bytes;
        if sealed.len() > max {
            let r = Refusal::new(
                Reason::TooLarge,
                format!(
                    "{} bytes, more than the {max} the CJN accepts",
                    sealed.len()
                ),
            );
            return self.refuse(topic, Some(court), sealed, r).await;
        }
        let mut opened = self.open(topic, sealed).await;
        if let Err(r) = &opened
            && r.reason == Reason::UnknownSigner
            && self.shared.trust.may_refresh(court)
        {
            match self.refresh_court(court).await {
                None => return false,
                Some(true) => opened = self.open(topic, sealed).await,
                Some(false) => {}
            }
        }
        let (opened, messages) = match opened {
            Ok(x) => x,
            Err(r) => return self.refuse(topic, Some(court), sealed, r).await,
        };
        if self.shared.trust.is_revoked(&opened.signer_serial) {
            let r = Refusal {
                reason: Reason::CertificateRevoked,
                detail: format!("certificate {} is revoked", opened.signer_serial),
                ids: messages.iter().map(|m| m.header.message_id).collect(),
            };
            return self.refuse(topic, Some(court), sealed, r).await;
        }
        let answers = loop {
            let shared = self.shared.clone();
            let Some(store) = self.store().await else {
                return false;
            };
            match apply_envelope(&shared, store, topic, court, &opened, &messages, sealed).await {
                Ok(a) => break a,
                Err(e) if e.is_transient() => {
                    if !self.pause(&e).await {
                        return false;
                    }
                }
                Err(e) => {
                    // Not a refusal of one message, not an outage: keep the envelope for an operator.
                    error!(court = %court, error = %e, "Envelope could not be stored; quarantined.");
                    let r = Refusal {
                        reason: Reason::RetryLater,
                        detail: "the CJN could not store it; an operator is warned".into(),
                        ids: Vec::new(),
                    };
                    return self.refuse(topic, Some(court), sealed, r).await;
                }
            }
        };
        self.backoff.reset();
        // Sealed for the certificate that signed the envelope: the court holds its key (after a
        // renewal, the new certificate is not installed until the answer is read).
        let signer = Some(opened.signer_serial.as_str());
        self.answer(court, signer, &topics::down(court), answers)
            .await
    }

    /// Quarantines a refused envelope and, when the court is known, answers with a rejection.
    async fn refuse(
        &mut self,
        topic: &str,
        court: Option<CourtCode>,
        sealed: &[u8],
        r: Refusal,
    ) -> bool {
        self.quarantine_refused(topic, court, sealed, &r).await && self.reject(court, r).await
    }

    /// Quarantines a refused envelope (or enrollment request); false on shutdown.
    async fn quarantine_refused(
        &mut self,
        topic: &str,
        court: Option<CourtCode>,
        sealed: &[u8],
        r: &Refusal,
    ) -> bool {
        warn!(
            topic,
            court = court.map(|c| c.to_string()),
            reason = r.reason.name(),
            detail = %r.detail,
            bytes = sealed.len(),
            messages = r.ids.len(),
            "Envelope refused; quarantined."
        );
        let court_code = court.map(|c| c.to_string());
        loop {
            let Some(store) = self.store().await else {
                return false;
            };
            match store::quarantine(
                store.client(),
                topic,
                court_code.as_deref(),
                r.reason.name(),
                &r.detail,
                sealed,
            )
            .await
            {
                Ok(()) => break,
                Err(e) if e.is_transient() => {
                    if !self.pause(&e).await {
                        return false;
                    }
                }
                Err(e) => {
                    error!(topic, error = %e, "Quarantine refused by the database; message dropped.");
                    break;
                }
            }
        }
        true
    }

    /// Answers a refused envelope with a rejection on the court's `down` topic, sealed for its
    /// newest certificate (none if the CJN holds no certificate of the court).
    async fn reject(&self, court: Option<CourtCode>, r: Refusal) -> bool {
        let Some(court) = court else {
            return true;
        };
        let answers: Vec<Message> = if r.ids.is_empty() {
            vec![rejection(court, Uuid::nil(), r.reason, &r.detail)]
        } else {
            r.ids
                .iter()
                .map(|id| rejection(court, *id, r.reason, &r.detail))
                .collect()
        };
        self.answer(court, None, &topics::down(court), answers)
            .await
    }

    /// Seals `answers` for the court's certificate `serial` (its newest when `None` or
    /// unknown) and publishes them on `topic`; false if the link is gone.
    async fn answer(
        &self,
        court: CourtCode,
        serial: Option<&str>,
        topic: &str,
        answers: Vec<Message>,
    ) -> bool {
        if answers.is_empty() {
            return true;
        }
        let Some(cert) = self.shared.trust.recipient(court, serial) else {
            debug!(court = %court, "No certificate for the court: no answer.");
            return true;
        };
        let shared = self.shared.clone();
        let count = answers.len();
        let sealed = tokio::task::spawn_blocking(move || {
            protocol::seal_messages(&answers, &shared.identity, &cert)
        })
        .await;
        let sealed = match sealed {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                error!(court = %court, reason = e.reason().name(), error = %e, "Answer cannot be sealed.");
                return true;
            }
            Err(e) => {
                error!(court = %court, error = %e, "Sealing task failed.");
                return true;
            }
        };
        let bytes = sealed.len();
        match self
            .shared
            .client
            .publish(topic, QoS::AtLeastOnce, false, sealed)
            .await
        {
            Ok(()) => {
                debug!(court = %court, messages = count, bytes, "Answer published.");
                true
            }
            Err(e) => {
                warn!(court = %court, error = %e, "Answer not published: the link is gone.");
                false
            }
        }
    }

    /// An enrollment request on `xmjuris/v1/<court>/enroll/request`.
    async fn enroll(&mut self, topic: &str, court: CourtCode, request: &Bytes) -> bool {
        let refused = |reason: Reason, detail: String| Refusal::new(reason, detail);
        let result: Result<Vec<u8>, Refusal> = if request.len() > MAX_ENROLLMENT_BYTES {
            Err(refused(
                Reason::TooLarge,
                format!("enrollment request of {} bytes", request.len()),
            ))
        } else {
            let registered = loop {
                let Some(store) = self.store().await else {
                    return false;
                };
                match store.court_registered(&court.to_string()).await {
                    Ok(r) => break r,
                    Err(e) if e.is_transient() => {
                        if !self.pause(&e).await {
                            return false;
                        }
                    }
                    Err(e) => {
                        error!(court = %court, error = %e, "Cannot look the court up.");
                        break false;
                    }
                }
            };
            if registered {
                let shared = self.shared.clone();
                let request = request.clone();
                match tokio::task::spawn_blocking(move || {
                    shared.pki.handle_enrollment(court, &request)
                })
                .await
                {
                    Ok(r) => r.map_err(Refusal::from),
                    Err(e) => Err(refused(Reason::Io, format!("enrollment task: {e}"))),
                }
            } else {
                Err(refused(
                    Reason::CourtUnknown,
                    format!("court {court} is not registered at the CJN"),
                ))
            }
        };
        let answer = match result {
            Ok(a) => a,
            Err(r) => return self.refuse_enrollment(topic, court, request, r).await,
        };
        // The certificate issued is recorded before the court gets it.
        match issued_certificate(&self.shared, &answer).and_then(|cert| {
            let info = crate::trust::cert_info(&cert)?;
            Ok((cert, info))
        }) {
            Ok((cert, info)) => {
                if !self.record_issued(court, cert, &info).await {
                    return false;
                }
                info!(court = %court, serial = %info.serial, "Court enrolled; answer published.");
            }
            // Not expected; the court still gets its certificate, imported from `issued/` at the
            // next start.
            Err(e) => error!(court = %court, error = %e, "Cannot read back the enrollment answer."),
        }
        self.publish_plain(&topics::enroll_answer(court), answer)
            .await
    }

    /// Records an issued certificate in the registry (waiting out an outage) and trusts it;
    /// false on shutdown.
    async fn record_issued(
        &mut self,
        court: CourtCode,
        cert: X509,
        info: &store::CertInfo,
    ) -> bool {
        loop {
            let Some(store) = self.store().await else {
                // Issued but not recorded: it is imported from the PKI directory at next start.
                return false;
            };
            match store::record_certificate(store.client(), info).await {
                Ok(_) => break,
                Err(e) if e.is_transient() => {
                    if !self.pause(&e).await {
                        return false;
                    }
                }
                Err(e) => {
                    error!(court = %court, serial = %info.serial, error = %e, "Certificate not recorded in the registry.");
                    break;
                }
            }
        }
        if let Err(e) = self.shared.trust.add(cert) {
            error!(court = %court, error = %e, "Issued certificate not trusted.");
        }
        true
    }

    /// Quarantines a refused enrollment request and publishes a signed rejection on the
    /// court's answer topic (signed only: the court has no certificate to seal it for).
    async fn refuse_enrollment(
        &mut self,
        topic: &str,
        court: CourtCode,
        request: &[u8],
        r: Refusal,
    ) -> bool {
        let id = protocol::codec::decode(request)
            .ok()
            .and_then(|m| m.first().map(|m| m.header.message_id))
            .unwrap_or_else(Uuid::nil);
        if !self
            .quarantine_refused(topic, Some(court), request, &r)
            .await
        {
            return false;
        }
        let msg = rejection(court, id, r.reason, r.detail);
        let signed = protocol::codec::encode(&[msg])
            .and_then(|payload| protocol::sign(&payload, &self.shared.identity));
        match signed {
            Ok(s) => self.publish_plain(&topics::enroll_answer(court), s).await,
            Err(e) => {
                error!(court = %court, error = %e, "Enrollment rejection cannot be signed.");
                true
            }
        }
    }

    async fn publish_plain(&self, topic: &str, payload: Vec<u8>) -> bool {
        match self
            .shared
            .client
            .publish(topic, QoS::AtLeastOnce, false, payload)
            .await
        {
            Ok(()) => true,
            Err(e) => {
                warn!(topic, error = %e, "Not published: the link is gone.");
                false
            }
        }
    }
}

/// The court certificate in an enrollment answer the CJN just signed.
fn issued_certificate(shared: &Shared, answer: &[u8]) -> Result<X509, Error> {
    let opened = shared
        .trust
        .verify_own(answer)
        .map_err(|e| Error::Pki(format!("enrollment answer: {e}")))?;
    let messages = protocol::codec::decode(&opened.payload)
        .map_err(|e| Error::Pki(format!("enrollment answer: {e}")))?;
    let Some(Body::EnrollmentAnswer(a)) = messages.into_iter().next().map(|m| m.body) else {
        return Err(Error::Pki("not an enrollment answer".into()));
    };
    X509::from_der(&a.court_cert_der).map_err(|e| Error::Pki(format!("court certificate: {e}")))
}

/// Stores the messages of an opened envelope in one transaction; the answers to send.
///
/// An envelope of fiche and sentence events only (what courts send) is stored with one call of
/// `cjn.ingest_envelope`: its signed bytes once, its messages in one round trip. A savepoint
/// around each message made it about five times dearer in database CPU (subtransactions: 2.2 ms
/// instead of 0.4 ms a fiche, `bench --bin ingest`); so if the database refuses one of its
/// messages, that transaction is rolled back and the envelope stored again a message at a time
/// (`cjn.ingest`), each under a savepoint, so that only that message is refused. Other envelopes
/// (renewals, audit checkpoints, extracts, recovery requests: rare) always go a message at a
/// time under savepoints.
async fn apply_envelope(
    shared: &Arc<Shared>,
    store: &mut Store,
    topic: &str,
    court: CourtCode,
    opened: &Opened,
    messages: &[Message],
    sealed: &[u8],
) -> Result<Vec<Message>, Error> {
    let at_once = messages
        .iter()
        .all(|m| sequence_body(&m.body).is_some() && i64::try_from(m.header.seq).is_ok());
    if at_once {
        match store_envelope(shared, store, topic, court, opened, messages, sealed, false).await {
            Err(Error::Refused { .. }) => {
                debug!(court = %court, "A message was refused; storing the envelope again, a savepoint per message.");
            }
            other => return other,
        }
    }
    store_envelope(shared, store, topic, court, opened, messages, sealed, true).await
}

/// [`apply_envelope`]'s transaction: the envelope at once, or a message at a time under
/// savepoints.
#[allow(clippy::too_many_arguments)]
async fn store_envelope(
    shared: &Arc<Shared>,
    store: &mut Store,
    topic: &str,
    court: CourtCode,
    opened: &Opened,
    messages: &[Message],
    sealed: &[u8],
    savepoints: bool,
) -> Result<Vec<Message>, Error> {
    let ingest = store.ingest_statements();
    let tx = store.transaction().await?;
    let ctx = Ctx {
        shared,
        tx: &tx,
        topic,
        court,
        court_code: court.to_string(),
        opened,
        sealed,
        savepoints,
        ingest,
    };
    let answers = if savepoints {
        let mut answers = Vec::with_capacity(messages.len());
        for m in messages {
            answers.append(&mut handle_one(&ctx, m).await?);
        }
        answers
    } else {
        store_at_once(&ctx, messages).await?
    };
    tx.commit().await.map_err(db("committing"))?;
    let refused = answers
        .iter()
        .filter(|x| matches!(x.body, Body::Rejection(_)))
        .count();
    info!(
        court = %court,
        messages = messages.len(),
        stored = messages.len().saturating_sub(refused),
        refused,
        first_seq = messages.first().map(|m| m.header.seq),
        last_seq = messages.last().map(|m| m.header.seq),
        "Envelope stored."
    );
    Ok(answers)
}

/// One message of an envelope, under its own savepoint where it writes.
async fn handle_one(ctx: &Ctx<'_>, m: &Message) -> Result<Vec<Message>, Error> {
    let h = &m.header;
    if let Some(body) = sequence_body(&m.body) {
        let (kind, payload) = body?;
        let answers = ingest_payload(ctx, h, kind, payload).await?;
        debug!(court = %ctx.court, message_id = %h.message_id, seq = h.seq, kind, "Handled.");
        return Ok(answers);
    }
    match &m.body {
        Body::AuditCheckpoint(c) => audit_checkpoint(ctx, h, c).await,
        Body::RenewalRequest(r) => renewal(ctx, h, r).await,
        Body::ExtractRequest(r) => crate::extract::request(ctx, h, r).await,
        Body::RecoveryRequest(r) => crate::recovery::answer(ctx, h, r).await,
        other => {
            let detail = format!("a court does not send {} messages", other.kind());
            ctx.refuse(h, Reason::UnsupportedKind, &detail).await
        }
    }
}

/// A message of the court's sequence — a fiche signed, rectified or withdrawn, or a sentence
/// event (issue 15) — as `cjn.ingest` takes it: its kind and its body as JSON. `None` for the
/// other messages.
fn sequence_body(body: &Body) -> Option<Result<(&'static str, serde_json::Value), Error>> {
    fn json<T: serde::Serialize>(
        kind: &'static str,
        v: &T,
    ) -> Result<(&'static str, serde_json::Value), Error> {
        serde_json::to_value(v)
            .map(|p| (kind, p))
            .map_err(|e| Error::Internal(format!("{kind} as JSON: {e}")))
    }
    Some(match body {
        Body::FicheSigned(e) => json::<FicheEvent>("fiche_signed", e),
        Body::FicheRectified(e) => json::<FicheEvent>("fiche_rectified", e),
        Body::FicheWithdrawn(e) => json::<FicheEvent>("fiche_withdrawn", e),
        Body::SentenceEvent(e) => json("sentence_event", e),
        _ => return None,
    })
}

/// The messages of an envelope of the court's sequence, with one call of
/// `cjn.ingest_envelope`; a receipt or a rejection for each.
async fn store_at_once(ctx: &Ctx<'_>, messages: &[Message]) -> Result<Vec<Message>, Error> {
    let mut items = Vec::with_capacity(messages.len());
    for m in messages {
        let h = &m.header;
        let (kind, payload) = sequence_body(&m.body).ok_or_else(|| {
            Error::Internal(format!("{} is not in the court's sequence", m.body.kind()))
        })??;
        items.push(serde_json::json!({
            "message_id": h.message_id.to_string(),
            "seq": h.seq,
            "kind": kind,
            // microseconds, as PostgreSQL keeps them (what a timestamptz parameter sends)
            "created_at": to_json(Rfc3339(h.created_at.replace_nanosecond(h.created_at.microsecond() * 1000)
                .unwrap_or(h.created_at)))?,
            "payload": sequence_payload(ctx, h, kind, payload)?,
        }));
    }
    let results = store::ingest_envelope(
        ctx.tx,
        &ctx.ingest.envelope,
        &ctx.court_code,
        &ctx.opened.signed_der,
        &serde_json::Value::Array(items),
    )
    .await?;
    if results.len() != messages.len() {
        return Err(Error::Internal(format!(
            "cjn.ingest_envelope answered {} results for {} messages",
            results.len(),
            messages.len()
        )));
    }
    let mut answers = Vec::with_capacity(messages.len());
    for (m, result) in messages.iter().zip(results) {
        answers.append(&mut stored_answer(ctx, &m.header, result).await?);
    }
    Ok(answers)
}

/// A value as JSON.
fn to_json<T: serde::Serialize>(v: T) -> Result<serde_json::Value, Error> {
    serde_json::to_value(v).map_err(|e| Error::Internal(format!("as JSON: {e}")))
}

/// The payload as the court's outbox wrote it: the body's fields and the header's.
fn sequence_payload(
    ctx: &Ctx<'_>,
    h: &Header,
    kind: &'static str,
    mut payload: serde_json::Value,
) -> Result<serde_json::Value, Error> {
    let Some(map) = payload.as_object_mut() else {
        return Err(Error::Internal(format!("{kind} is not a JSON object")));
    };
    map.insert("message_id".into(), h.message_id.to_string().into());
    map.insert("kind".into(), kind.into());
    map.insert("court_code".into(), ctx.court_code.clone().into());
    map.insert("seq".into(), h.seq.into());
    map.insert("created_at".into(), to_json(Rfc3339(h.created_at))?);
    Ok(payload)
}

/// Stores a message of the court's sequence (a fiche event or a sentence event) with
/// `cjn.ingest`, under a savepoint: a receipt, or a rejection when the database refuses it or
/// holds another message with this id or sequence number.
pub(crate) async fn ingest_payload(
    ctx: &Ctx<'_>,
    h: &Header,
    kind: &'static str,
    payload: serde_json::Value,
) -> Result<Vec<Message>, Error> {
    let payload = sequence_payload(ctx, h, kind, payload)?;
    let Ok(seq) = i64::try_from(h.seq) else {
        return ctx
            .refuse(h, Reason::InvalidContent, "sequence number out of range")
            .await;
    };
    let args = store::IngestArgs {
        message_id: h.message_id.to_string(),
        court_code: &ctx.court_code,
        seq,
        kind,
        created_at: h.created_at,
        payload: &payload,
        signed: &ctx.opened.signed_der,
    };
    if ctx.savepoints {
        ctx.savepoint().await?;
    }
    match store::ingest(ctx.tx, &ctx.ingest.one, &args).await {
        Ok(v) => {
            if ctx.savepoints {
                ctx.release().await?;
            }
            stored_answer(ctx, h, v).await
        }
        // Without a savepoint the transaction is lost: the envelope is stored again with them.
        Err(e @ Error::Refused { .. }) if !ctx.savepoints => Err(e),
        Err(Error::Refused { message, code, .. }) => {
            ctx.rollback().await?;
            // The database's own messages (XJ) name no person; others may quote a value.
            let detail = if code.starts_with("XJ") {
                message
            } else {
                format!("refused by the CJN database (SQLSTATE {code})")
            };
            ctx.refuse(h, Reason::InvalidContent, &detail).await
        }
        Err(e) => Err(e),
    }
}

/// The answer to a message the database took: its receipt, or a rejection when it holds another
/// message with this id (other content) or this sequence number (the alarm it raised is kept).
async fn stored_answer(
    ctx: &Ctx<'_>,
    h: &Header,
    v: serde_json::Value,
) -> Result<Vec<Message>, Error> {
    if v.get("conflict").and_then(|c| c.as_bool()) != Some(true) {
        let receipt: Receipt = serde_json::from_value(v)
            .map_err(|e| Error::Internal(format!("receipt of cjn.ingest: {e}")))?;
        return Ok(vec![Message {
            header: cjn_header(ctx.court),
            body: Body::Receipt(receipt),
        }]);
    }
    if v.get("reason").and_then(|r| r.as_str()) == Some("reused_sequence") {
        // The court's own message that holds the number (ids only, no personal data).
        let detail = format!(
            "sequence number {} already holds message {} (NIU {}, version {}) of this court, with other content",
            h.seq,
            v.get("held_message_id")
                .and_then(|x| x.as_str())
                .unwrap_or("?"),
            v.get("held_niu").and_then(|x| x.as_str()).unwrap_or("-"),
            v.get("held_version").and_then(|x| x.as_i64()).unwrap_or(0),
        );
        return ctx.refuse(h, Reason::SequenceReused, &detail).await;
    }
    ctx.refuse(
        h,
        Reason::Conflict,
        "the CJN holds another message with this id and other content",
    )
    .await
}

/// RFC 3339 as the court's outbox writes instants.
struct Rfc3339(time::OffsetDateTime);

impl serde::Serialize for Rfc3339 {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        time::serde::rfc3339::serialize(&self.0, s)
    }
}

/// The court's audit chain head: recorded (an alarm if it went back or forked); receipted.
async fn audit_checkpoint(
    ctx: &Ctx<'_>,
    h: &Header,
    c: &protocol::AuditCheckpoint,
) -> Result<Vec<Message>, Error> {
    let Ok(audit_seq) = i64::try_from(c.audit_head.seq) else {
        return ctx
            .refuse(h, Reason::InvalidContent, "audit sequence out of range")
            .await;
    };
    ctx.savepoint().await?;
    let verdict = store::record_audit_checkpoint(
        ctx.tx,
        &ctx.court_code,
        &h.message_id.to_string(),
        audit_seq,
        &c.audit_head.hash.to_hex(),
        c.at,
    )
    .await;
    match verdict {
        Ok(v) => {
            ctx.release().await?;
            if let Some(alarm) = v.get("alarm").and_then(|a| a.as_str()) {
                warn!(court = %ctx.court, message_id = %h.message_id, audit_seq, alarm, "Audit checkpoint raised an alarm.");
            } else {
                debug!(court = %ctx.court, audit_seq, "Audit checkpoint recorded.");
            }
            Ok(vec![Message {
                header: cjn_header(ctx.court),
                body: Body::Receipt(Receipt {
                    message_id: h.message_id,
                    seq: h.seq,
                    niu: None,
                    version: None,
                    stored_at: time::OffsetDateTime::now_utc(),
                    signed_hash: ctx.opened.signed_hash(),
                }),
            }])
        }
        Err(Error::Refused { message, .. }) => {
            ctx.rollback().await?;
            ctx.refuse(h, Reason::InvalidContent, &message).await
        }
        Err(e) => Err(e),
    }
}

/// A certificate renewal, sealed with the court's current (valid, unrevoked) certificate.
async fn renewal(
    ctx: &Ctx<'_>,
    h: &Header,
    r: &protocol::RenewalRequest,
) -> Result<Vec<Message>, Error> {
    let shared = ctx.shared;
    let court = ctx.court;
    let issued = {
        let serial = ctx.opened.signer_serial.clone();
        let csr = r.csr_der.clone();
        let shared = shared.clone();
        tokio::task::spawn_blocking(move || shared.pki.renew(court, &serial, &csr))
            .await
            .map_err(|e| Error::Internal(format!("renewal task: {e}")))?
    };
    let answer = match issued {
        Ok(a) => a,
        Err(e) => return ctx.refuse(h, e.reason(), e.detail()).await,
    };
    let cert = X509::from_der(&answer.court_cert_der)
        .map_err(|e| Error::Pki(format!("renewed certificate: {e}")))?;
    let info = crate::trust::cert_info(&cert)?;
    store::record_certificate(ctx.tx, &info).await?;
    shared.trust.add(cert)?;
    info!(court = %court, serial = %info.serial, "Certificate renewed.");
    Ok(vec![Message {
        header: cjn_header(court),
        body: Body::EnrollmentAnswer(answer),
    }])
}
