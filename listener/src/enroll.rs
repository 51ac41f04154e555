//! A court enrolls itself over MQTT (`xmjuris court enroll`): with the one-time code the CJN gave
//! and the CJN root's fingerprint, it makes its key here, sends the request on its
//! `enroll/request` topic, waits for the answer on `enroll/answer`, checks the root's
//! fingerprint, and installs its certificate in its PKI folder — the folder the listener reads.
//!
//! Made for a 15 kbit/s link that may be cut at any time:
//! - the key (`court.key`, 0600) and the request (`enrollment-request.cbor`, 0600, the CSR and its
//!   MAC; never the code) are written before anything is sent, in a folder of mode 0700; a second
//!   run sends the same request again (the same key, the same message id) instead of making a new
//!   key, and needs no code;
//! - the MQTT session is persistent (the court's client id) and keeps its subscription to the
//!   answer topic until the enrollment ends: an answer published while the link was down, or
//!   between two runs, is kept by the broker; the request is sent again after `resend_after`,
//!   and at each reconnection (the CJN answers the same key with the answer it kept);
//! - nothing is installed unless the root CA has the fingerprint given and the whole answer
//!   verifies ([`pki::court_complete_enrollment`]); a refusal of the CJN (a used, unknown or
//!   expired code; a court it does not know) is reported with its reason.
//!
//! Errors are in French, for the operator at the court: what happened and what to do.

use std::path::{Path, PathBuf};
use std::time::Duration;

use daemon::Backoff;
use protocol::pki::{self, EnrollmentReply, files};
use protocol::{CourtCode, Reason};
use rumqttc::{AsyncClient, Event, Packet, QoS};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::config::BrokerConfig;

/// The request kept between runs, in the PKI folder.
pub const PENDING_FILE: &str = "enrollment-request.cbor";

/// What to enroll, and how.
#[derive(Debug, Clone)]
pub struct Enrollment {
    /// The one-time code (`<court>-<id>-<secret>`); `None` to resume the kept request.
    pub code: Option<String>,
    /// The court, when known beforehand (a configuration file): the code must be for it.
    pub court: Option<CourtCode>,
    /// SHA-256 fingerprint of the CJN's root CA, given with the code (hex, colons allowed).
    pub fingerprint: String,
    /// The court's PKI folder (the listener's `pki_dir`).
    pub pki_dir: PathBuf,
    /// The broker, with the court's account.
    pub broker: BrokerConfig,
    /// Send the request again when no answer came after this long.
    pub resend_after: Duration,
    /// Give up after this long without an answer (the request is kept for the next run).
    pub give_up_after: Duration,
}

/// How an enrollment ended well.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The certificate was received and installed now.
    Enrolled {
        /// The court.
        court: CourtCode,
        /// Serial number of its certificate (hex).
        serial: String,
        /// Its end of validity, as OpenSSL prints it.
        not_after: String,
        /// Whether this run resumed a request kept by an earlier one.
        resumed: bool,
    },
    /// A certificate of this court was installed already: nothing was done.
    AlreadyEnrolled {
        /// The court.
        court: CourtCode,
        /// Serial number of its certificate (hex).
        serial: String,
        /// Its end of validity.
        not_after: String,
    },
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Enrolled {
                court,
                serial,
                not_after,
                resumed,
            } => write!(
                f,
                "Inscription réussie{} : la juridiction {court} a reçu du CJN son certificat \
                 (numéro de série {serial}, valable jusqu'au {not_after}), installé avec sa clé ; \
                 l'empreinte de l'autorité racine est celle donnée avec le code. Le listener peut \
                 démarrer.",
                if *resumed { " (demande reprise)" } else { "" }
            ),
            Outcome::AlreadyEnrolled {
                court,
                serial,
                not_after,
            } => write!(
                f,
                "La juridiction {court} est déjà inscrite (certificat {serial}, valable jusqu'au \
                 {not_after}) : rien à faire."
            ),
        }
    }
}

/// Why an enrollment did not end well; every message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum EnrollError {
    /// No code, and no request kept from an earlier run.
    #[error(
        "aucune demande d'inscription en cours dans {0} : donnez le code d'inscription reçu du CJN (--code)"
    )]
    NoCode(PathBuf),
    /// The code is not of the form the CJN gives.
    #[error(
        "code d'inscription mal formé : attendu <juridiction>-<identifiant>-<secret>, \
         par exemple 10001-ABCDEFGH-ABCD-EFGH-JKLM-NPQR"
    )]
    BadCode,
    /// The code is for another court than the configuration's.
    #[error(
        "ce code d'inscription est pour la juridiction {code_court}, et cette installation est celle \
         de la juridiction {configured}"
    )]
    OtherCourt {
        /// The court of the code.
        code_court: CourtCode,
        /// The court of the configuration.
        configured: CourtCode,
    },
    /// The fingerprint given is not a SHA-256 fingerprint.
    #[error(
        "empreinte mal formée : attendu les 64 chiffres hexadécimaux (SHA-256) donnés avec le code"
    )]
    BadFingerprint,
    /// The CJN refused the request.
    #[error("{}", refusal_text(*.reason, .detail))]
    Refused {
        /// The CJN's reason.
        reason: Reason,
        /// The CJN's detail.
        detail: String,
    },
    /// The answer's root CA is not the one whose fingerprint was given.
    #[error(
        "l'autorité racine reçue n'a pas l'empreinte donnée avec le code : rien n'a été installé.\n  \
         empreinte attendue : {expected}\n  empreinte reçue    : {received}\n\
         Vérifiez l'empreinte auprès du CJN (par téléphone) et relancez avec la bonne : la clé et la \
         demande sont gardées. Si elle était juste, la réponse ne vient pas du CJN : prévenez-le."
    )]
    FingerprintMismatch {
        /// The fingerprint given.
        expected: String,
        /// The fingerprint of the root CA received.
        received: String,
    },
    /// No answer in time.
    #[error(
        "pas de réponse du CJN après {waited_secs} s (connecté au broker : {connected}). La clé et la \
         demande sont gardées dans {dir} : relancez la même commande pour reprendre (le code n'est \
         plus nécessaire)."
    )]
    NoAnswer {
        /// How long it waited.
        waited_secs: u64,
        /// Whether the broker accepted the connection at least once.
        connected: String,
        /// The PKI folder.
        dir: PathBuf,
    },
    /// The answer did not verify.
    #[error("réponse du CJN invalide, rien n'a été installé : {0}")]
    BadAnswer(protocol::Error),
    /// A file of the PKI folder.
    #[error("dossier des clés {dir} : {detail}")]
    Files {
        /// The folder.
        dir: PathBuf,
        /// What went wrong.
        detail: String,
    },
    /// The broker's settings (a TLS CA file that cannot be read).
    #[error("configuration du broker : {0}")]
    Broker(String),
    /// Stopped by a signal.
    #[error(
        "interrompu ; la clé et la demande sont gardées : relancez la même commande pour reprendre"
    )]
    Cancelled,
}

fn refusal_text(reason: Reason, detail: &str) -> String {
    let what = match reason {
        Reason::CodeUnknown | Reason::CodeMacInvalid => {
            "code d'inscription inconnu du CJN, ou mal recopié : vérifiez-le (chiffres, lettres, \
             tirets) ; s'il est juste, demandez-en un nouveau au CJN"
        }
        Reason::CodeUsed => {
            "ce code d'inscription a déjà servi, pour une autre clé : un code ne sert qu'une fois. \
             Demandez un nouveau code au CJN"
        }
        Reason::CodeExpired => "ce code d'inscription a expiré : demandez un nouveau code au CJN",
        Reason::CodeOtherCourt => "ce code d'inscription a été donné pour une autre juridiction",
        Reason::CourtUnknown => {
            "cette juridiction n'est pas (ou plus) enregistrée au CJN : le CJN doit l'enregistrer \
             avant de donner un code"
        }
        Reason::CsrInvalid => {
            "le CJN refuse la demande de certificat (clé ou nom de juridiction) : prévenez le CJN"
        }
        _ => "le CJN refuse la demande",
    };
    format!(
        "refusé par le CJN : {what} (motif {}, {detail})",
        reason.name()
    )
}

fn files_err(dir: &Path) -> impl Fn(String) -> EnrollError + '_ {
    move |detail| EnrollError::Files {
        dir: dir.to_path_buf(),
        detail,
    }
}

/// Normalises a fingerprint as given (colons, spaces, upper case) to lower-case hex.
pub fn normalize_fingerprint(given: &str) -> Result<String, EnrollError> {
    let hex: String = given
        .chars()
        .filter(|c| !matches!(c, ':' | ' ' | '-'))
        .collect::<String>()
        .to_ascii_lowercase();
    if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(hex)
    } else {
        Err(EnrollError::BadFingerprint)
    }
}

/// The installed certificate, if it is this court's and matches its key.
fn installed(dir: &Path, court: Option<CourtCode>) -> Option<(CourtCode, String, String)> {
    if !dir.join(files::COURT_CRT).exists() {
        return None;
    }
    let (identity, _) = pki::court_load(dir).ok()?;
    let protocol::Party::Court(c) = identity.party() else {
        return None;
    };
    if court.is_some_and(|want| want != c) {
        return None;
    }
    let serial = pki::cert_serial(identity.cert()).ok()?;
    Some((c, serial, identity.cert().not_after().to_string()))
}

/// The request to send: the kept one (same code, or no code given), else a new one for `code`
/// (with the kept key if there is one), written before it is sent. Returns the court, the
/// request, and whether it was kept from an earlier run.
fn request_to_send(e: &Enrollment) -> Result<(CourtCode, Vec<u8>, bool), EnrollError> {
    let dir = &e.pki_dir;
    let ferr = files_err(dir);
    let pending_path = dir.join(PENDING_FILE);
    let kept = match std::fs::read(&pending_path) {
        Ok(b) => Some(b),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => None,
        Err(err) => return Err(ferr(format!("{}: {err}", pending_path.display()))),
    };
    let kept = kept.and_then(|bytes| match read_request(&bytes) {
        Some((court, code_id)) => Some((court, code_id, bytes)),
        None => {
            warn!(path = %pending_path.display(), "Kept enrollment request unreadable; a new one is made.");
            None
        }
    });
    let given = match &e.code {
        Some(code) => {
            let (court, code_id, _) = pki::parse_code(code).map_err(|_| EnrollError::BadCode)?;
            Some((court, code_id))
        }
        None => None,
    };
    let court_ok = |court: CourtCode| match e.court {
        Some(configured) if configured != court => Err(EnrollError::OtherCourt {
            code_court: court,
            configured,
        }),
        _ => Ok(court),
    };
    match (given, kept) {
        (None, Some((court, _, bytes))) => Ok((court_ok(court)?, bytes, true)),
        (None, None) => Err(EnrollError::NoCode(dir.clone())),
        (Some((court, code_id)), Some((kc, kid, bytes))) if kc == court && kid == code_id => {
            Ok((court_ok(court)?, bytes, true))
        }
        (Some((court, _)), _) => {
            court_ok(court)?;
            let code = e.code.as_deref().unwrap_or_default();
            // The key is kept if it exists (`court_prepare_enrollment` makes it only when missing).
            let (court, request) = pki::court_prepare_enrollment(dir, code)
                .map_err(|err| ferr(format!("key and request: {err}")))?;
            pki::write_atomic(&pending_path, &request, 0o600)
                .map_err(|err| ferr(format!("{}: {err}", pending_path.display())))?;
            Ok((court, request, false))
        }
    }
}

/// The court and code id of a kept request.
fn read_request(bytes: &[u8]) -> Option<(CourtCode, String)> {
    let messages = protocol::codec::decode(bytes).ok()?;
    let m = messages.first()?;
    let protocol::Party::Court(court) = m.header.sender else {
        return None;
    };
    match &m.body {
        protocol::Body::EnrollmentRequest(r) => Some((court, r.code_id.clone())),
        _ => None,
    }
}

fn private_folder(dir: &Path) -> Result<(), EnrollError> {
    use std::os::unix::fs::PermissionsExt as _;
    let ferr = files_err(dir);
    std::fs::create_dir_all(dir).map_err(|err| ferr(format!("creation: {err}")))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .map_err(|err| ferr(format!("permissions: {err}")))
}

/// Enrolls the court (see the module's documentation); stops early on `shutdown`.
pub async fn enroll(e: &Enrollment, shutdown: CancellationToken) -> Result<Outcome, EnrollError> {
    let dir = &e.pki_dir;
    let expected = normalize_fingerprint(&e.fingerprint)?;
    let code_court = match &e.code {
        Some(code) => Some(pki::parse_code(code).map_err(|_| EnrollError::BadCode)?.0),
        None => None,
    };
    if let Some((court, serial, not_after)) = installed(dir, e.court.or(code_court)) {
        return Ok(Outcome::AlreadyEnrolled {
            court,
            serial,
            not_after,
        });
    }
    private_folder(dir)?;
    let (court, request, resumed) = request_to_send(e)?;
    let request_id = pki::enrollment_request_id(&request).map_err(EnrollError::BadAnswer)?;
    info!(court = %court, request = %request_id, resumed, "Enrollment request ready.");

    let mut options = crate::link::broker_options(court, &e.broker)
        .map_err(|err| EnrollError::Broker(err.to_string()))?;
    options.set_manual_acks(false);
    let (client, mut eventloop) = AsyncClient::new(options, 16);
    let answer_topic = protocol::topics::enroll_answer(court);
    let request_topic = protocol::topics::enroll_request(court);
    let mut backoff = Backoff::from_config(e.broker.backoff_initial_ms, e.broker.backoff_max_secs);
    let started = Instant::now();
    let deadline = started + e.give_up_after;
    let mut ever_connected = false;
    let mut subscribed = false;
    let mut sent_at: Option<Instant> = None;

    let result = loop {
        let resend_at = sent_at.map(|t| t + e.resend_after);
        let wake = resend_at.map_or(deadline, |r| r.min(deadline));
        let event = tokio::select! {
            _ = shutdown.cancelled() => break Err(EnrollError::Cancelled),
            _ = tokio::time::sleep_until(wake) => None,
            ev = eventloop.poll() => Some(ev),
        };
        if Instant::now() >= deadline {
            break Err(EnrollError::NoAnswer {
                waited_secs: started.elapsed().as_secs(),
                connected: if ever_connected { "oui" } else { "non" }.to_owned(),
                dir: dir.clone(),
            });
        }
        match event {
            None => {
                // No answer since the request was sent: send it again.
                if subscribed {
                    info!(court = %court, "No answer yet; enrollment request sent again.");
                    if client
                        .try_publish(&request_topic, QoS::AtLeastOnce, false, request.clone())
                        .is_ok()
                    {
                        sent_at = Some(Instant::now());
                    }
                }
            }
            Some(Ok(Event::Incoming(Packet::ConnAck(ack)))) => {
                backoff.reset();
                ever_connected = true;
                subscribed = false;
                info!(
                    session_present = ack.session_present,
                    "Connected to the broker."
                );
                if let Err(err) = client.try_subscribe(&answer_topic, QoS::AtLeastOnce) {
                    warn!(error = %err, "Subscription request failed.");
                }
            }
            Some(Ok(Event::Incoming(Packet::SubAck(ack)))) => {
                let granted = ack
                    .return_codes
                    .iter()
                    .all(|c| !matches!(c, rumqttc::SubscribeReasonCode::Failure));
                if !granted {
                    break Err(EnrollError::Broker(format!(
                        "le broker refuse l'abonnement à {answer_topic} : le compte de la \
                         juridiction n'y a pas droit (configuration du broker à refaire au CJN)"
                    )));
                }
                subscribed = true;
                // Subscribed before the request leaves: the answer cannot pass us by.
                if client
                    .try_publish(&request_topic, QoS::AtLeastOnce, false, request.clone())
                    .is_ok()
                {
                    info!(court = %court, bytes = request.len(), "Enrollment request sent.");
                    sent_at = Some(Instant::now());
                }
            }
            Some(Ok(Event::Incoming(Packet::Publish(p)))) if p.topic == answer_topic => {
                match handle_reply(dir, court, &expected, request_id, &p.payload) {
                    Reply::Ignore => {}
                    Reply::Done(r) => break r,
                }
            }
            Some(Ok(_)) => {}
            Some(Err(err)) => {
                subscribed = false;
                sent_at = None;
                let delay = backoff.next_delay();
                let refused = matches!(
                    &err,
                    rumqttc::ConnectionError::ConnectionRefused(
                        rumqttc::ConnectReturnCode::BadUserNamePassword
                            | rumqttc::ConnectReturnCode::NotAuthorized
                    )
                );
                if refused {
                    break Err(EnrollError::Broker(format!(
                        "le broker refuse le compte de la juridiction {court} (nom, mot de passe ou \
                         identifiant de client) : vérifiez le mot de passe du broker donné par le \
                         CJN ({err})"
                    )));
                }
                warn!(error = %err, delay_ms = delay.as_millis() as u64, "Broker connection failed; will retry.");
                tokio::select! {
                    _ = shutdown.cancelled() => break Err(EnrollError::Cancelled),
                    _ = tokio::time::sleep(delay.min(deadline.saturating_duration_since(Instant::now()))) => {}
                }
            }
        }
    };

    // Done: the listener takes over this session and does not need the answer topic. Not done
    // (no answer yet, interrupted): the subscription stays, so that the broker keeps an answer
    // that comes meanwhile for the next run.
    let waiting = matches!(
        result,
        Err(EnrollError::NoAnswer { .. } | EnrollError::Cancelled)
    );
    if ever_connected {
        if !waiting {
            let _ = client.try_unsubscribe(&answer_topic);
        }
        let _ = client.try_disconnect();
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            while eventloop.poll().await.is_ok() {}
        })
        .await;
    }
    let outcome = result?;
    if let Outcome::Enrolled { .. } = &outcome {
        let pending = dir.join(PENDING_FILE);
        if let Err(err) = std::fs::remove_file(&pending) {
            warn!(path = %pending.display(), error = %err, "Kept request not removed.");
        }
    }
    Ok(match outcome {
        Outcome::Enrolled {
            court,
            serial,
            not_after,
            ..
        } => Outcome::Enrolled {
            court,
            serial,
            not_after,
            resumed,
        },
        other => other,
    })
}

enum Reply {
    Ignore,
    Done(Result<Outcome, EnrollError>),
}

/// One message on the answer topic: this request's refusal, its answer (checked and
/// installed), or something older to ignore (a refusal of another request, a certificate for
/// another key).
fn handle_reply(
    dir: &Path,
    court: CourtCode,
    expected: &str,
    request_id: uuid::Uuid,
    payload: &[u8],
) -> Reply {
    match pki::enrollment_reply(payload, court) {
        Err(err) => {
            warn!(error = %err, "Unreadable message on the enrollment answer topic; ignored.");
            Reply::Ignore
        }
        Ok(EnrollmentReply::Rejection(r)) if r.message_id == request_id => {
            // The kept request is spent: a new code makes a new one (with the same key).
            let _ = std::fs::remove_file(dir.join(PENDING_FILE));
            Reply::Done(Err(EnrollError::Refused {
                reason: r.reason,
                detail: r.detail.unwrap_or_default(),
            }))
        }
        Ok(EnrollmentReply::Rejection(r)) => {
            debug!(request = %r.message_id, "Refusal of an earlier request; ignored.");
            Reply::Ignore
        }
        Ok(EnrollmentReply::Answer { root_fingerprint }) => {
            if root_fingerprint != expected {
                return Reply::Done(Err(EnrollError::FingerprintMismatch {
                    expected: expected.to_owned(),
                    received: root_fingerprint,
                }));
            }
            match pki::court_complete_enrollment(dir, court, expected, payload) {
                Ok((identity, _)) => Reply::Done(Ok(Outcome::Enrolled {
                    court,
                    serial: pki::cert_serial(identity.cert()).unwrap_or_default(),
                    not_after: identity.cert().not_after().to_string(),
                    resumed: false,
                })),
                Err(err) if err.reason() == Reason::CertificateMismatch => {
                    debug!(error = %err, "A certificate for another key (an earlier request); ignored.");
                    Reply::Ignore
                }
                Err(err) => Reply::Done(Err(EnrollError::BadAnswer(err))),
            }
        }
    }
}
