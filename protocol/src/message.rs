//! The messages that travel between the courts and the CJN.
//!
//! Every type derives both serde (JSON: the outbox rows written by SQL, and
//! what cjn-ingest hands to its SQL function) and minicbor (the wire: CBOR maps
//! with small integer keys, so the wire schema is explicit in the `#[n(..)]`
//! annotations and never depends on Rust field names).
//!
//! Tolerance of unknown fields:
//! - JSON from the outbox (`OutboxPayload` and the fiche inside it) is strict:
//!   `deny_unknown_fields`. A column added in SQL but unknown here would
//!   otherwise be silently dropped from a signed legal record; refusing makes
//!   the listener leave the row in the outbox and log, until both sides agree.
//! - CBOR on the wire skips unknown map keys (minicbor's default), so a newer
//!   sender can add optional fields for older receivers. Nothing is lost at the
//!   CJN: it keeps the original signed bytes. Incompatible changes raise
//!   [`FORMAT_VERSION`]; `open` refuses versions it does not know.

use minicbor::{Decode, Encode};
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::error::Reason;
use crate::ids::{CourtCode, Niu, Party, Sha256Hash};

/// Version of the message format; carried in every header.
pub const FORMAT_VERSION: u16 = 1;

time::serde::format_description!(iso_date, Date, "[year]-[month]-[day]");

/// JSON for optional dates (`YYYY-MM-DD` or null). Not `iso_date::option`: inside an internally
/// tagged enum ([`Body`]) serde hands a null over as a unit, which that visitor refuses.
mod iso_date_opt {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::Date;

    pub fn serialize<S: Serializer>(v: &Option<Date>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(d) => super::iso_date::serialize(d, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Date>, D::Error> {
        let Some(text) = Option::<String>::deserialize(d)? else {
            return Ok(None);
        };
        let format = time::macros::format_description!("[year]-[month]-[day]");
        Date::parse(&text, &format)
            .map(Some)
            .map_err(serde::de::Error::custom)
    }
}

/// One message: who, when, which one; and what.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Encode, Decode)]
#[cbor(map)]
pub struct Message {
    /// Routing and replay protection.
    #[n(0)]
    pub header: Header,
    /// The content.
    #[n(1)]
    pub body: Body,
}

/// What every message carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Encode, Decode)]
#[cbor(map)]
pub struct Header {
    /// Unique id; a duplicate is answered with the same receipt.
    #[cbor(n(0), with = "cbor_uuid")]
    pub message_id: Uuid,
    /// Who sent it; `open` checks it against the signer and the topic.
    #[n(1)]
    pub sender: Party,
    /// Who it is for; `open` checks it is the opener.
    #[n(2)]
    pub recipient: Party,
    /// Per-sender sequence number.
    #[n(3)]
    pub seq: u64,
    /// When the sender created it.
    #[cbor(n(4), with = "cbor_timestamp")]
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// [`FORMAT_VERSION`] of the sender.
    #[n(5)]
    pub format: u16,
}

/// The content of a message, one variant per exchange.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Encode, Decode)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Body {
    /// Court → CJN: a fiche was signed (NIU given).
    #[n(0)]
    FicheSigned(#[n(0)] FicheEvent),
    /// Court → CJN: a signed fiche was rectified (new version).
    #[n(1)]
    FicheRectified(#[n(0)] FicheEvent),
    /// Court → CJN: a signed fiche was withdrawn (déclassée), with a motive.
    #[n(2)]
    FicheWithdrawn(#[n(0)] FicheEvent),
    /// CJN → court: the message was stored (or already was).
    #[n(3)]
    Receipt(#[n(0)] Receipt),
    /// Either way: the message was refused, with a reason code.
    #[n(4)]
    Rejection(#[n(0)] Rejection),
    /// Court → CJN: a request for a bulletin.
    #[n(5)]
    ExtractRequest(#[n(0)] ExtractRequest),
    /// CJN → court: the bulletin's content.
    #[n(6)]
    ExtractAnswer(#[n(0)] ExtractAnswer),
    /// Court → CJN, in clear on the enrollment topic: a CSR with a one-time code.
    #[n(7)]
    EnrollmentRequest(#[n(0)] EnrollmentRequest),
    /// CJN → court: the certificates (after enrollment or renewal).
    #[n(8)]
    EnrollmentAnswer(#[n(0)] EnrollmentAnswer),
    /// CJN → everyone: the current certificate revocation list.
    #[n(9)]
    RevocationList(#[n(0)] RevocationList),
    /// Court → CJN: the head of the court's audit chain, periodically.
    #[n(10)]
    AuditCheckpoint(#[n(0)] AuditCheckpoint),
    /// Court → CJN, sealed with the current certificate: a CSR to renew it.
    #[n(11)]
    RenewalRequest(#[n(0)] RenewalRequest),
    /// Court → CJN: a dated event of a signed conviction (fine paid, sentence served, ...),
    /// signed by the greffier like a rectification.
    #[n(12)]
    SentenceEvent(#[n(0)] SentenceEvent),
    /// Court → CJN: a court restored from a backup asks for its own messages after a sequence
    /// number (the CJN is the court's off-site copy).
    #[n(13)]
    RecoveryRequest(#[n(0)] RecoveryRequest),
    /// CJN → court: the court's own signed envelopes that hold its messages after that number.
    #[n(14)]
    RecoveryAnswer(#[n(0)] RecoveryAnswer),
}

impl Body {
    /// Short name, as in JSON's `kind`; for logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Body::FicheSigned(_) => "fiche_signed",
            Body::FicheRectified(_) => "fiche_rectified",
            Body::FicheWithdrawn(_) => "fiche_withdrawn",
            Body::Receipt(_) => "receipt",
            Body::Rejection(_) => "rejection",
            Body::ExtractRequest(_) => "extract_request",
            Body::ExtractAnswer(_) => "extract_answer",
            Body::EnrollmentRequest(_) => "enrollment_request",
            Body::EnrollmentAnswer(_) => "enrollment_answer",
            Body::RevocationList(_) => "revocation_list",
            Body::AuditCheckpoint(_) => "audit_checkpoint",
            Body::RenewalRequest(_) => "renewal_request",
            Body::SentenceEvent(_) => "sentence_event",
            Body::RecoveryRequest(_) => "recovery_request",
            Body::RecoveryAnswer(_) => "recovery_answer",
        }
    }
}

/// A fiche signed, rectified or withdrawn: the outbox content less the header fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Encode, Decode)]
#[serde(deny_unknown_fields)]
#[cbor(map)]
pub struct FicheEvent {
    /// The fiche's NIU.
    #[n(0)]
    pub niu: Niu,
    /// Version of the fiche (1 at signature, +1 at each rectification or withdrawal).
    #[n(1)]
    pub version: u32,
    /// Why it was rectified or withdrawn.
    #[n(2)]
    pub motive: Option<String>,
    /// The court's audit chain head when this was written.
    #[n(3)]
    pub audit_head: AuditHead,
    /// The fiche as signed.
    #[n(4)]
    pub fiche: Fiche,
}

/// Head of a court's audit hash chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Encode, Decode)]
#[serde(deny_unknown_fields)]
#[cbor(map)]
pub struct AuditHead {
    /// Sequence number of the last audit row.
    #[n(0)]
    pub seq: u64,
    /// Its SHA-256 hash.
    #[n(1)]
    pub hash: Sha256Hash,
}

/// One conviction record as signed by the greffier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Encode, Decode)]
#[serde(deny_unknown_fields)]
#[cbor(map)]
pub struct Fiche {
    /// The court's own number of the fiche.
    #[n(0)]
    pub number: u64,
    /// The court's reference of the judgment, e.g. `103/SD/Just/2018`.
    #[n(1)]
    pub reference: String,
    /// The convicted person.
    #[n(2)]
    pub justiciable: Justiciable,
    /// The judgment's content.
    #[n(3)]
    pub condamnation: Condamnation,
    /// Login of the signing greffier.
    #[n(4)]
    pub signed_by: String,
    /// Full name of the signing greffier.
    #[n(5)]
    pub signed_by_name: String,
    /// When it was signed.
    #[cbor(n(6), with = "cbor_timestamp")]
    #[serde(with = "time::serde::rfc3339")]
    pub signed_at: OffsetDateTime,
}

/// The convicted person.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Encode, Decode)]
#[serde(deny_unknown_fields)]
#[cbor(map)]
pub struct Justiciable {
    /// Nom.
    #[n(0)]
    pub surname: String,
    /// Prénoms.
    #[n(1)]
    pub given_names: String,
    /// Date de naissance.
    #[cbor(n(2), with = "cbor_date")]
    #[serde(with = "iso_date")]
    pub birth_date: Date,
    /// Lieu de naissance.
    #[n(3)]
    pub birth_place: String,
    /// Sexe.
    #[n(4)]
    pub sex: Sex,
    /// Père, when known (the court may leave it empty: optional from format 1 on; a sender
    /// that always filled it still reads).
    #[n(5)]
    pub father: Option<String>,
    /// Mère, when known.
    #[n(6)]
    pub mother: Option<String>,
    /// Profession, when known.
    #[n(7)]
    pub profession: Option<String>,
    /// Situation de famille.
    #[n(8)]
    pub civil_status: Option<CivilStatus>,
    /// Domicile, when known.
    #[n(9)]
    pub domicile: Option<String>,
    /// Nationalité, when known.
    #[n(10)]
    pub nationality: Option<String>,
}

/// Sexe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Encode, Decode)]
#[cbor(index_only)]
pub enum Sex {
    /// Masculin.
    #[n(0)]
    M,
    /// Féminin.
    #[n(1)]
    F,
}

/// Situation de famille.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Encode, Decode)]
#[serde(rename_all = "snake_case")]
#[cbor(index_only)]
#[allow(missing_docs)]
pub enum CivilStatus {
    #[n(0)]
    Celibataire,
    #[n(1)]
    Marie,
    #[n(2)]
    Divorce,
    #[n(3)]
    Veuf,
    #[n(4)]
    UnionLibre,
}

/// Crime, délit or contravention.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Encode, Decode)]
#[serde(rename_all = "snake_case")]
#[cbor(index_only)]
#[allow(missing_docs)]
pub enum OffenceClass {
    #[n(0)]
    Crime,
    #[n(1)]
    Delit,
    #[n(2)]
    Contravention,
}

/// Nature of the sentence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Encode, Decode)]
#[serde(rename_all = "snake_case")]
#[cbor(index_only)]
#[allow(missing_docs)]
pub enum SentenceType {
    #[n(0)]
    Emprisonnement,
    #[n(1)]
    Amende,
    #[n(2)]
    EmprisonnementAmende,
    #[n(3)]
    TravauxInteretGeneral,
    #[n(4)]
    Perpetuite,
    #[n(5)]
    Mort,
    #[n(6)]
    Autre,
}

/// The judgment's content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Encode, Decode)]
#[serde(deny_unknown_fields)]
#[cbor(map)]
pub struct Condamnation {
    /// Date de la condamnation.
    #[cbor(n(0), with = "cbor_date")]
    #[serde(with = "iso_date")]
    pub conviction_date: Date,
    /// Date des faits.
    #[cbor(n(1), with = "cbor_date")]
    #[serde(with = "iso_date")]
    pub offence_date: Date,
    /// Nature de l'infraction, in the court's words.
    #[n(2)]
    pub offence_nature: String,
    /// Category code, for statistics (e.g. `ATT_BIENS_PUBLICS`).
    #[n(3)]
    pub offence_category: String,
    /// Crime, délit, contravention.
    #[n(4)]
    pub offence_class: OffenceClass,
    /// Mandats.
    #[n(5)]
    pub warrants: Option<String>,
    /// Road-traffic details.
    #[n(6)]
    pub road_traffic: Option<String>,
    /// Nature of the sentence.
    #[n(7)]
    pub sentence_type: SentenceType,
    /// Prison, in months.
    #[n(8)]
    pub sentence_months: Option<u32>,
    /// Suspended part, in months.
    #[n(9)]
    pub suspended_months: Option<u32>,
    /// Fine, in whole francs (the court database keeps whole francs: `bigint`, 0 to
    /// 999 999 999 999).
    #[n(10)]
    pub fine_amount: Option<u64>,
    /// Récidive légale.
    #[n(11)]
    pub legal_recidivism: bool,
    /// The person was a minor at the time of the offence.
    #[n(12)]
    pub minor: bool,
    /// Excluded from bulletin n°2.
    #[n(13)]
    pub excluded_b2: bool,
    /// Excluded from bulletin n°3.
    #[n(14)]
    pub excluded_b3: bool,
    /// The court ordered this conviction onto bulletin n°3 (custodial sentence of 2 years or less).
    /// Fields from here on were added in format 1 without a version change: absent means false
    /// or none, so messages written before them still read.
    #[cbor(n(15), default)]
    #[serde(default)]
    pub b3_ordered: bool,
    /// Bans, déchéances or incapacités pronounced, in the court's words.
    #[n(16)]
    #[serde(default)]
    pub ban: Option<String>,
    /// Their duration in months; none with a ban means for life.
    #[n(17)]
    #[serde(default)]
    pub ban_months: Option<u32>,
    /// The bans were ordered with a suspension (sursis).
    #[cbor(n(18), default)]
    #[serde(default)]
    pub ban_suspended: bool,
    /// This conviction revokes the suspension granted by the earlier fiche with this NIU.
    #[n(19)]
    #[serde(default)]
    pub revoked_suspension_niu: Option<Niu>,
    /// The court decided minority itself (an approximate birth date, offences spanning the
    /// birthday): `minor` is then its decision, not checked against the dates.
    /// Fields from here on (issue 15) are left out of the CBOR while at their default (false,
    /// none): the compression dictionary's skeleton keeps its bytes, and a fiche without them
    /// encodes as before.
    #[cbor(n(20), default, skip_if = "is_false")]
    #[serde(default)]
    pub minor_decided: bool,
    /// The bans start on this date rather than on the conviction's.
    #[cbor(n(21), with = "cbor_date_opt", has_nil)]
    #[serde(default, with = "iso_date_opt")]
    pub ban_start: Option<Date>,
    /// The bans end on this date (instead of a duration).
    #[cbor(n(22), with = "cbor_date_opt", has_nil)]
    #[serde(default, with = "iso_date_opt")]
    pub ban_end: Option<Date>,
    /// The bans' duration runs from the release (the end of the prison term served).
    #[cbor(n(23), default, skip_if = "is_false")]
    #[serde(default)]
    pub ban_from_release: bool,
}

/// `skip_if` predicate: a false flag is left out of the CBOR.
fn is_false(v: &bool) -> bool {
    !*v
}

/// What happened after a conviction, as the court recorded it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Encode, Decode)]
#[serde(rename_all = "snake_case")]
#[cbor(index_only)]
pub enum SentenceEventKind {
    /// The fine was paid (Code pénal, art. 70 (4)).
    #[n(0)]
    FinePaid,
    /// The custodial sentence was served: the release, early or not.
    #[n(1)]
    SentenceServed,
    /// The suspension (sursis) was revoked.
    #[n(2)]
    SuspensionRevoked,
    /// The ban was lifted (relèvement).
    #[n(3)]
    BanLifted,
    /// A pardon (grâce) remitted months of imprisonment, or the whole sentence.
    #[n(4)]
    Pardon,
    /// An earlier event, recorded by mistake, is cancelled.
    #[n(5)]
    Cancellation,
}

/// Court → CJN: a dated event of a signed conviction, recorded and signed by the greffier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Encode, Decode)]
#[serde(deny_unknown_fields)]
#[cbor(map)]
pub struct SentenceEvent {
    /// The event's own id (a cancellation names it).
    #[cbor(n(0), with = "cbor_uuid")]
    pub event_id: Uuid,
    /// The fiche's NIU.
    #[n(1)]
    pub niu: Niu,
    /// The fiche's version when the event was recorded.
    #[n(2)]
    pub version: u32,
    /// What happened.
    #[n(3)]
    pub event_kind: SentenceEventKind,
    /// When it happened (payment, release, decision, decree).
    #[cbor(n(4), with = "cbor_date")]
    #[serde(with = "iso_date")]
    pub event_date: Date,
    /// A pardon: the months of imprisonment remitted.
    #[n(5)]
    pub remitted_months: Option<u32>,
    /// A pardon: the whole sentence remitted.
    #[cbor(n(6), default, skip_if = "is_false")]
    #[serde(default)]
    pub total: bool,
    /// A cancellation: the event cancelled.
    #[cbor(n(7), with = "cbor_uuid_opt", has_nil)]
    #[serde(default)]
    pub cancels: Option<Uuid>,
    /// The document it rests on (receipt, release order, decision, decree).
    #[n(8)]
    pub reference: String,
    /// The greffier's note, if any.
    #[n(9)]
    pub note: Option<String>,
    /// Login of the greffier who recorded and signed it.
    #[n(10)]
    pub recorded_by: String,
    /// Full name of the greffier.
    #[n(11)]
    pub recorded_by_name: String,
    /// When it was recorded.
    #[cbor(n(12), with = "cbor_timestamp")]
    #[serde(with = "time::serde::rfc3339")]
    pub recorded_at: OffsetDateTime,
    /// The court's audit chain head when this was written.
    #[n(13)]
    pub audit_head: AuditHead,
}

/// CJN → court: the message `message_id` is stored (now or before: same receipt).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Encode, Decode)]
#[cbor(map)]
pub struct Receipt {
    /// The acknowledged message.
    #[cbor(n(0), with = "cbor_uuid")]
    pub message_id: Uuid,
    /// Its sequence number.
    #[n(1)]
    pub seq: u64,
    /// The NIU it concerned, if any.
    #[n(2)]
    pub niu: Option<Niu>,
    /// The fiche version it concerned, if any.
    #[n(3)]
    pub version: Option<u32>,
    /// When the CJN first stored it.
    #[cbor(n(4), with = "cbor_timestamp")]
    #[serde(with = "time::serde::rfc3339")]
    pub stored_at: OffsetDateTime,
    /// SHA-256 of the signed bytes the CJN keeps (non-repudiation).
    #[n(5)]
    pub signed_hash: Sha256Hash,
}

/// A refusal of the message `message_id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Encode, Decode)]
#[cbor(map)]
pub struct Rejection {
    /// The refused message (nil if it could not even be read).
    #[cbor(n(0), with = "cbor_uuid")]
    pub message_id: Uuid,
    /// Why.
    #[n(1)]
    pub reason: Reason,
    /// Detail for the operator; never personal data.
    #[n(2)]
    pub detail: Option<String>,
}

/// Bulletin n°1, n°2 or n°3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Encode, Decode)]
#[cbor(index_only)]
pub enum Bulletin {
    /// Bulletin n°1: everything, for judicial authorities.
    #[n(1)]
    #[serde(rename = "b1")]
    B1,
    /// Bulletin n°2.
    #[n(2)]
    #[serde(rename = "b2")]
    B2,
    /// Bulletin n°3: delivered to the person.
    #[n(3)]
    #[serde(rename = "b3")]
    B3,
}

/// Court → CJN: who, and which bulletin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Encode, Decode)]
#[cbor(map)]
pub struct ExtractRequest {
    /// Which bulletin.
    #[n(0)]
    pub bulletin: Bulletin,
    /// Nom.
    #[n(1)]
    pub surname: String,
    /// Prénoms.
    #[n(2)]
    pub given_names: String,
    /// Date de naissance.
    #[cbor(n(3), with = "cbor_date")]
    #[serde(with = "iso_date")]
    pub birth_date: Date,
    /// Lieu de naissance, if known.
    #[n(4)]
    pub birth_place: Option<String>,
    /// NIU of a known fiche, if any.
    #[n(5)]
    pub niu: Option<Niu>,
    /// Why it is requested (logged by the CJN).
    #[n(6)]
    pub purpose: String,
    /// Login of the requesting user.
    #[n(7)]
    pub requested_by: String,
    /// Father's name, if known (tells near-namesakes apart).
    #[n(8)]
    #[serde(default)]
    pub father: Option<String>,
    /// Mother's name, if known.
    #[n(9)]
    #[serde(default)]
    pub mother: Option<String>,
}

/// One fiche on a bulletin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Encode, Decode)]
#[cbor(map)]
pub struct ExtractEntry {
    /// NIU.
    #[n(0)]
    pub niu: Niu,
    /// Current version.
    #[n(1)]
    pub version: u32,
    /// The fiche.
    #[n(2)]
    pub fiche: Fiche,
    /// Name of the court that judged (the court's code is in the NIU), as the CJN knows it.
    #[n(3)]
    #[serde(default)]
    pub court_name: Option<String>,
    /// Why the fiche is on this bulletin: the key of the rule of law that keeps it there, as
    /// the CJN's settings name it (e.g. `b3.custodial`). For the court's staff; not
    /// printed and not covered by the extract's seal ([`crate::extract::content_digest`]): the
    /// whole answer is signed by the CJN in transit, and an extract sealed before these fields
    /// existed verifies as before. Absent from answers of older CJNs.
    #[n(4)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// The same reason in French, as the CJN states it.
    #[n(5)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The identity an extract is about: the request's, as the CJN matched it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Encode, Decode)]
#[cbor(map)]
pub struct ExtractPerson {
    /// Nom.
    #[n(0)]
    pub surname: String,
    /// Prénoms.
    #[n(1)]
    pub given_names: String,
    /// Date de naissance.
    #[cbor(n(2), with = "cbor_date")]
    #[serde(with = "iso_date")]
    pub birth_date: Date,
    /// Lieu de naissance, if the request gave it.
    #[n(3)]
    pub birth_place: Option<String>,
}

/// A person of the register whose identity is close to the request's but not
/// equal: listed apart for a human to decide, never counted on the extract.
/// Identity only: no conviction travels for a near match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Encode, Decode)]
#[cbor(map)]
pub struct ExtractNearMatch {
    /// Nom.
    #[n(0)]
    pub surname: String,
    /// Prénoms.
    #[n(1)]
    pub given_names: String,
    /// Date de naissance.
    #[cbor(n(2), with = "cbor_date")]
    #[serde(with = "iso_date")]
    pub birth_date: Date,
    /// Lieu de naissance.
    #[n(3)]
    pub birth_place: Option<String>,
    /// Père.
    #[n(4)]
    pub father: Option<String>,
    /// Mère.
    #[n(5)]
    pub mother: Option<String>,
}

/// CJN → court: the bulletin (no entries: "Néant"), sealed for printing.
///
/// `extract_number`, `bulletin`, `issued_at`, `person` and `entries` are the
/// content that [`crate::extract::seal_extract`] digests and signs
/// ([`ExtractAnswer::content`]); `qr_text` and `verification_code` are its seal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Encode, Decode)]
#[cbor(map)]
pub struct ExtractAnswer {
    /// The request's `message_id`.
    #[cbor(n(0), with = "cbor_uuid")]
    pub request_id: Uuid,
    /// Which bulletin.
    #[n(1)]
    pub bulletin: Bulletin,
    /// When the CJN computed it (the seal keeps whole seconds).
    #[cbor(n(2), with = "cbor_timestamp")]
    #[serde(with = "time::serde::rfc3339")]
    pub issued_at: OffsetDateTime,
    /// Short code printed on the extract (`XXXX-XXXX-XXXX`), derived from the
    /// seal's signature; the CJN keeps it with the consultation.
    #[n(3)]
    pub verification_code: String,
    /// The fiches shown on this bulletin, in print order.
    #[n(4)]
    pub entries: Vec<ExtractEntry>,
    /// The CJN's unique number of this extract, e.g. `B3-2026-000124`.
    #[n(5)]
    pub extract_number: String,
    /// The identity the extract was computed for.
    #[n(6)]
    pub person: ExtractPerson,
    /// People with a close identity, for a human to decide; not on the extract.
    #[n(7)]
    pub near_matches: Vec<ExtractNearMatch>,
    /// The seal, printed as the QR code (`XMJ1:` + base45).
    #[n(8)]
    pub qr_text: String,
}

/// Court → CJN (in clear on `enroll` topics): a CSR, authenticated with the one-time code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Encode, Decode)]
#[cbor(map)]
pub struct EnrollmentRequest {
    /// The code's public id (its secret part never travels).
    #[n(0)]
    pub code_id: String,
    /// PKCS#10 CSR, DER, subject CN = court code.
    #[cbor(n(1), with = "minicbor::bytes")]
    pub csr_der: Vec<u8>,
    /// HMAC-SHA256 keyed with the code's secret over court code, code id and CSR.
    #[n(2)]
    pub mac: Sha256Hash,
}

/// CJN → court: its new certificate and what it needs to trust.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Encode, Decode)]
#[cbor(map)]
pub struct EnrollmentAnswer {
    /// The court's certificate, DER.
    #[cbor(n(0), with = "minicbor::bytes")]
    pub court_cert_der: Vec<u8>,
    /// The issuing CA's certificate, DER.
    #[cbor(n(1), with = "minicbor::bytes")]
    pub issuing_ca_der: Vec<u8>,
    /// The root CA's certificate, DER (the court checks its fingerprint).
    #[cbor(n(2), with = "minicbor::bytes")]
    pub root_ca_der: Vec<u8>,
    /// The CJN's signing and encryption certificate, DER.
    #[cbor(n(3), with = "minicbor::bytes")]
    pub cjn_cert_der: Vec<u8>,
    /// The current CRL, DER.
    #[cbor(n(4), with = "minicbor::bytes")]
    pub crl_der: Vec<u8>,
}

/// The current certificate revocation list (X.509 CRL signed by the issuing CA).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Encode, Decode)]
#[cbor(map)]
pub struct RevocationList {
    /// The CRL, DER.
    #[cbor(n(0), with = "minicbor::bytes")]
    pub crl_der: Vec<u8>,
}

/// The head of the court's audit chain at a point in time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Encode, Decode)]
#[cbor(map)]
pub struct AuditCheckpoint {
    /// The head.
    #[n(0)]
    pub audit_head: AuditHead,
    /// When it was read.
    #[cbor(n(1), with = "cbor_timestamp")]
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

/// Court → CJN, sealed with the still-valid certificate: renew it with this CSR.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Encode, Decode)]
#[cbor(map)]
pub struct RenewalRequest {
    /// PKCS#10 CSR, DER (new key, same court code).
    #[cbor(n(0), with = "minicbor::bytes")]
    pub csr_der: Vec<u8>,
}

/// Court → CJN: send back this court's own messages whose sequence number is above `after_seq`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Encode, Decode)]
#[cbor(map)]
pub struct RecoveryRequest {
    /// The highest sequence number the court holds.
    #[n(0)]
    pub after_seq: u64,
}

/// One envelope as the court signed it and the CJN keeps it: CMS SignedData, DER.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Encode, Decode)]
#[cbor(map)]
pub struct SignedEnvelope {
    /// The SignedData, DER (its content is an encoded batch of messages).
    #[cbor(n(0), with = "minicbor::bytes")]
    pub signed_der: Vec<u8>,
}

/// A certificate, DER.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Encode, Decode)]
#[cbor(map)]
pub struct CertificateDer {
    /// The certificate, DER.
    #[cbor(n(0), with = "minicbor::bytes")]
    pub der: Vec<u8>,
}

/// CJN → court: the court's own signed envelopes holding its messages above `after_seq`, in
/// sequence order (an envelope may hold messages at or below `after_seq` too: the court skips
/// them). The court verifies its own signature on each before it restores anything.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Encode, Decode)]
#[cbor(map)]
pub struct RecoveryAnswer {
    /// The request answered.
    #[cbor(n(0), with = "cbor_uuid")]
    pub request_id: Uuid,
    /// The request's `after_seq`.
    #[n(1)]
    pub after_seq: u64,
    /// The envelopes.
    #[n(2)]
    pub envelopes: Vec<SignedEnvelope>,
    /// The court's certificates the CJN knows (DER), to verify envelopes signed before a renewal.
    #[n(3)]
    pub certificates: Vec<CertificateDer>,
    /// The highest sequence number the CJN holds of this court.
    #[n(4)]
    pub last_seq: u64,
    /// True when these envelopes reach `last_seq`; false when the court must ask again after
    /// the highest number they hold (an answer is kept under the broker's size limit).
    #[n(5)]
    pub complete: bool,
}

/// A fiche event or a sentence event as the court's outbox wrote it, from the message: the
/// body's fields and the header's (`message_id`, `kind`, `court_code`, `seq`, `created_at`).
/// What cjn-ingest stores as the payload, and what a court restored from a backup writes back
/// into its outbox. `None` for other kinds.
pub fn outbox_json(m: &Message) -> Option<serde_json::Value> {
    let (kind, body) = match &m.body {
        Body::FicheSigned(e) => ("fiche_signed", serde_json::to_value(e)),
        Body::FicheRectified(e) => ("fiche_rectified", serde_json::to_value(e)),
        Body::FicheWithdrawn(e) => ("fiche_withdrawn", serde_json::to_value(e)),
        Body::SentenceEvent(e) => ("sentence_event", serde_json::to_value(e)),
        _ => return None,
    };
    let mut body = body.ok()?;
    let Party::Court(court) = m.header.sender else {
        return None;
    };
    let created_at = m
        .header
        .created_at
        .format(&time::format_description::well_known::Rfc3339)
        .ok()?;
    let map = body.as_object_mut()?;
    map.insert("message_id".into(), m.header.message_id.to_string().into());
    map.insert("kind".into(), kind.into());
    map.insert("court_code".into(), court.to_string().into());
    map.insert("seq".into(), m.header.seq.into());
    map.insert("created_at".into(), created_at.into());
    Some(body)
}

/// Which fiche event an outbox row holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FicheEventKind {
    /// Signed.
    FicheSigned,
    /// Rectified.
    FicheRectified,
    /// Withdrawn.
    FicheWithdrawn,
}

/// An outbox row's JSON payload, exactly as the court database writes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboxPayload {
    /// Message id.
    pub message_id: Uuid,
    /// Which event.
    pub kind: FicheEventKind,
    /// The court.
    pub court_code: CourtCode,
    /// The court's sequence number.
    pub seq: u64,
    /// When the row was written.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// NIU.
    pub niu: Niu,
    /// Fiche version.
    pub version: u32,
    /// Motive of a rectification or withdrawal.
    pub motive: Option<String>,
    /// Audit chain head.
    pub audit_head: AuditHead,
    /// The fiche.
    pub fiche: Fiche,
}

/// A pending request for an extract, exactly as the court database lists it
/// (`juris.outbox_pending`, kind `extract_request`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtractRequestPayload {
    /// Message id.
    pub message_id: Uuid,
    /// Always `extract_request`.
    pub kind: String,
    /// The court.
    pub court_code: CourtCode,
    /// The court's sequence number of requests (its own counter, apart from fiche events).
    pub seq: u64,
    /// When the request was made.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// The request.
    pub request: ExtractRequest,
}

/// A pending sentence event, exactly as the court database writes it in its outbox (kind
/// `sentence_event`): the header's fields, then the [`SentenceEvent`]'s (strict, like
/// [`OutboxPayload`]: an unknown field is refused, never dropped).
#[derive(Debug, Clone, PartialEq)]
pub struct SentenceEventPayload {
    /// Message id.
    pub message_id: Uuid,
    /// The court.
    pub court_code: CourtCode,
    /// The court's sequence number (shared with the fiche events).
    pub seq: u64,
    /// When the row was written.
    pub created_at: OffsetDateTime,
    /// The event.
    pub event: SentenceEvent,
}

/// The header's fields of a sentence event's outbox row.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SentenceEventHeader {
    message_id: Uuid,
    kind: String,
    court_code: CourtCode,
    seq: u64,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
}

impl SentenceEventPayload {
    /// The header's fields, as the outbox row names them.
    const HEADER: [&'static str; 5] = ["message_id", "kind", "court_code", "seq", "created_at"];

    /// Parses a pending sentence event's JSON.
    pub fn from_json(json: &[u8]) -> Result<Self, serde_json::Error> {
        use serde::de::Error as _;
        let mut all: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(json)?;
        let mut header = serde_json::Map::new();
        for key in Self::HEADER {
            if let Some(v) = all.remove(key) {
                header.insert(key.to_owned(), v);
            }
        }
        let header: SentenceEventHeader = serde_json::from_value(header.into())?;
        if header.kind != "sentence_event" {
            return Err(serde_json::Error::custom(format!(
                "kind `{}` is not a sentence event",
                header.kind
            )));
        }
        Ok(SentenceEventPayload {
            message_id: header.message_id,
            court_code: header.court_code,
            seq: header.seq,
            created_at: header.created_at,
            event: serde_json::from_value(all.into())?,
        })
    }

    /// The message to send to the CJN.
    pub fn into_message(self) -> Message {
        Message {
            header: Header {
                message_id: self.message_id,
                sender: Party::Court(self.court_code),
                recipient: Party::Cjn,
                seq: self.seq,
                created_at: self.created_at,
                format: FORMAT_VERSION,
            },
            body: Body::SentenceEvent(self.event),
        }
    }
}

impl ExtractRequestPayload {
    /// Parses a pending request's JSON.
    pub fn from_json(json: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(json)
    }

    /// The message to send to the CJN.
    pub fn into_message(self) -> Message {
        Message {
            header: Header {
                message_id: self.message_id,
                sender: Party::Court(self.court_code),
                recipient: Party::Cjn,
                seq: self.seq,
                created_at: self.created_at,
                format: FORMAT_VERSION,
            },
            body: Body::ExtractRequest(self.request),
        }
    }
}

impl OutboxPayload {
    /// Parses an outbox row's JSON.
    pub fn from_json(json: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(json)
    }

    /// The message to send to the CJN.
    pub fn into_message(self) -> Message {
        let event = FicheEvent {
            niu: self.niu,
            version: self.version,
            motive: self.motive,
            audit_head: self.audit_head,
            fiche: self.fiche,
        };
        Message {
            header: Header {
                message_id: self.message_id,
                sender: Party::Court(self.court_code),
                recipient: Party::Cjn,
                seq: self.seq,
                created_at: self.created_at,
                format: FORMAT_VERSION,
            },
            body: match self.kind {
                FicheEventKind::FicheSigned => Body::FicheSigned(event),
                FicheEventKind::FicheRectified => Body::FicheRectified(event),
                FicheEventKind::FicheWithdrawn => Body::FicheWithdrawn(event),
            },
        }
    }
}

impl Header {
    /// A header for a new message with a fresh random id, created now.
    pub fn new(sender: Party, recipient: Party, seq: u64) -> Self {
        Header {
            message_id: new_message_id(),
            sender,
            recipient,
            seq,
            created_at: OffsetDateTime::now_utc(),
            format: FORMAT_VERSION,
        }
    }
}

/// A random (version 4) UUID from OpenSSL's generator.
pub fn new_message_id() -> Uuid {
    let mut b = [0u8; 16];
    if openssl::rand::rand_bytes(&mut b).is_err() {
        // OpenSSL's DRBG does not fail once seeded; fall back on time and a counter anyway.
        let n = OffsetDateTime::now_utc().unix_timestamp_nanos();
        b = n.to_le_bytes();
    }
    uuid::Builder::from_random_bytes(b).into_uuid()
}

/// CBOR for UUIDs: 16 bytes.
pub(crate) mod cbor_uuid {
    use minicbor::{Decoder, Encoder};
    use uuid::Uuid;

    pub fn encode<Ctx, W: minicbor::encode::Write>(
        v: &Uuid,
        e: &mut Encoder<W>,
        _: &mut Ctx,
    ) -> Result<(), minicbor::encode::Error<W::Error>> {
        e.bytes(v.as_bytes())?;
        Ok(())
    }

    pub fn decode<Ctx>(d: &mut Decoder<'_>, _: &mut Ctx) -> Result<Uuid, minicbor::decode::Error> {
        Uuid::from_slice(d.bytes()?).map_err(|_| minicbor::decode::Error::message("bad uuid"))
    }
}

/// CBOR for dates: days since 1970-01-01 (3 bytes for today's dates).
pub(crate) mod cbor_date {
    use minicbor::{Decoder, Encoder};
    use time::Date;

    const UNIX_EPOCH_JULIAN_DAY: i32 = 2_440_588;

    pub fn encode<Ctx, W: minicbor::encode::Write>(
        v: &Date,
        e: &mut Encoder<W>,
        _: &mut Ctx,
    ) -> Result<(), minicbor::encode::Error<W::Error>> {
        e.i32(v.to_julian_day() - UNIX_EPOCH_JULIAN_DAY)?;
        Ok(())
    }

    pub fn decode<Ctx>(d: &mut Decoder<'_>, _: &mut Ctx) -> Result<Date, minicbor::decode::Error> {
        let days = d.i32()?;
        days.checked_add(UNIX_EPOCH_JULIAN_DAY)
            .and_then(|j| Date::from_julian_day(j).ok())
            .ok_or_else(|| minicbor::decode::Error::message("bad date"))
    }
}

/// CBOR for optional UUIDs: 16 bytes, left out when none.
pub(crate) mod cbor_uuid_opt {
    use minicbor::{Decoder, Encoder};
    use uuid::Uuid;

    pub fn encode<Ctx, W: minicbor::encode::Write>(
        v: &Option<Uuid>,
        e: &mut Encoder<W>,
        ctx: &mut Ctx,
    ) -> Result<(), minicbor::encode::Error<W::Error>> {
        match v {
            Some(id) => super::cbor_uuid::encode(id, e, ctx),
            None => {
                e.null()?;
                Ok(())
            }
        }
    }

    pub fn decode<Ctx>(
        d: &mut Decoder<'_>,
        ctx: &mut Ctx,
    ) -> Result<Option<Uuid>, minicbor::decode::Error> {
        if d.datatype()? == minicbor::data::Type::Null {
            d.skip()?;
            return Ok(None);
        }
        super::cbor_uuid::decode(d, ctx).map(Some)
    }

    pub fn is_nil(v: &Option<Uuid>) -> bool {
        v.is_none()
    }

    pub fn nil() -> Option<Option<Uuid>> {
        Some(None)
    }
}

/// CBOR for optional dates: days since 1970-01-01, left out when none.
pub(crate) mod cbor_date_opt {
    use minicbor::{Decoder, Encoder};
    use time::Date;

    pub fn encode<Ctx, W: minicbor::encode::Write>(
        v: &Option<Date>,
        e: &mut Encoder<W>,
        ctx: &mut Ctx,
    ) -> Result<(), minicbor::encode::Error<W::Error>> {
        match v {
            Some(d) => super::cbor_date::encode(d, e, ctx),
            None => {
                e.null()?;
                Ok(())
            }
        }
    }

    pub fn decode<Ctx>(
        d: &mut Decoder<'_>,
        ctx: &mut Ctx,
    ) -> Result<Option<Date>, minicbor::decode::Error> {
        if d.datatype()? == minicbor::data::Type::Null {
            d.skip()?;
            return Ok(None);
        }
        super::cbor_date::decode(d, ctx).map(Some)
    }

    pub fn is_nil(v: &Option<Date>) -> bool {
        v.is_none()
    }

    pub fn nil() -> Option<Option<Date>> {
        Some(None)
    }
}

/// CBOR for instants: microseconds since the Unix epoch, UTC.
pub(crate) mod cbor_timestamp {
    use minicbor::{Decoder, Encoder};
    use time::OffsetDateTime;

    pub fn encode<Ctx, W: minicbor::encode::Write>(
        v: &OffsetDateTime,
        e: &mut Encoder<W>,
        _: &mut Ctx,
    ) -> Result<(), minicbor::encode::Error<W::Error>> {
        let micros = v.unix_timestamp_nanos() / 1000;
        let micros = i64::try_from(micros)
            .map_err(|_| minicbor::encode::Error::message("instant out of range"))?;
        e.i64(micros)?;
        Ok(())
    }

    pub fn decode<Ctx>(
        d: &mut Decoder<'_>,
        _: &mut Ctx,
    ) -> Result<OffsetDateTime, minicbor::decode::Error> {
        let micros = d.i64()?;
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1000)
            .map_err(|_| minicbor::decode::Error::message("bad instant"))
    }
}
