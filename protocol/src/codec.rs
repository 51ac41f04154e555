//! Compact encoding: CBOR (integer keys), then raw DEFLATE with a preset dictionary.
//!
//! A payload is one codec byte followed by the body:
//! - [`CODEC_CBOR`]: the CBOR array of messages, as is;
//! - [`CODEC_DEFLATE_DICT1`]: that CBOR compressed with raw DEFLATE (RFC 1951)
//!   primed with dictionary n°1 ([`dictionary`]): the CBOR skeleton of a fiche
//!   message and the words that recur in fiches. Small messages compress well
//!   only with such a dictionary; it can never change (a new one gets a new
//!   codec byte), and a test pins its hash.
//!
//! [`encode`] keeps whichever is smaller. [`decode`] refuses anything that would
//! decompress past [`MAX_PAYLOAD_BYTES`].

use std::cell::RefCell;
use std::sync::OnceLock;
use std::thread::LocalKey;

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use time::macros::{date, datetime};

use crate::error::{Error, Reason, Result};
use crate::ids::{CourtCode, Niu, Party, Sha256Hash};
use crate::message::{
    AuditHead, Body, CivilStatus, Condamnation, FORMAT_VERSION, Fiche, FicheEvent, Header,
    Justiciable, Message, OffenceClass, SentenceType, Sex,
};

/// Codec byte: plain CBOR.
pub const CODEC_CBOR: u8 = 0x01;
/// Codec byte: raw DEFLATE primed with dictionary n°1.
pub const CODEC_DEFLATE_DICT1: u8 = 0x02;
/// Largest decoded payload accepted (a batch of messages, or an extract answer).
pub const MAX_PAYLOAD_BYTES: usize = 4 * 1024 * 1024;
/// Most messages in one envelope.
pub const MAX_BATCH: usize = 1000;

/// Encodes messages as CBOR (no compression).
pub fn to_cbor(messages: &[Message]) -> Result<Vec<u8>> {
    minicbor::to_vec(messages)
        .map_err(|e| Error::new(Reason::SealFailed, format!("CBOR encoding: {e}")))
}

/// Encodes a batch of messages into a payload (codec byte + body), compressed when smaller.
pub fn encode(messages: &[Message]) -> Result<Vec<u8>> {
    if messages.is_empty() || messages.len() > MAX_BATCH {
        return Err(Error::new(
            Reason::SealFailed,
            format!("a batch holds 1 to {MAX_BATCH} messages"),
        ));
    }
    let cbor = to_cbor(messages)?;
    let deflated = deflate(&cbor)?;
    let mut out = Vec::with_capacity(1 + cbor.len().min(deflated.len()));
    if deflated.len() < cbor.len() {
        out.push(CODEC_DEFLATE_DICT1);
        out.extend_from_slice(&deflated);
    } else {
        out.push(CODEC_CBOR);
        out.extend_from_slice(&cbor);
    }
    Ok(out)
}

/// Decodes a payload into its messages. Never panics, whatever the bytes.
pub fn decode(payload: &[u8]) -> Result<Vec<Message>> {
    let (&codec, body) = payload
        .split_first()
        .ok_or_else(|| Error::new(Reason::DecodeFailed, "empty payload"))?;
    let owned;
    let cbor = match codec {
        CODEC_CBOR => body,
        CODEC_DEFLATE_DICT1 => {
            owned = inflate(body)?;
            &owned[..]
        }
        other => {
            return Err(Error::new(
                Reason::UnsupportedFormat,
                format!("codec byte {other:#04x}"),
            ));
        }
    };
    if cbor.len() > MAX_PAYLOAD_BYTES {
        return Err(Error::new(Reason::TooLarge, "payload too large"));
    }
    let messages: Vec<Message> = minicbor::decode(cbor)
        .map_err(|e| Error::new(Reason::DecodeFailed, format!("CBOR: {e}")))?;
    if messages.is_empty() || messages.len() > MAX_BATCH {
        return Err(Error::new(Reason::DecodeFailed, "batch size out of range"));
    }
    for m in &messages {
        if m.header.format == 0 || m.header.format > FORMAT_VERSION {
            return Err(Error::new(
                Reason::UnsupportedFormat,
                format!("message format {}", m.header.format),
            ));
        }
    }
    Ok(messages)
}

thread_local! {
    /// A compressor and a decompressor per thread, reset for each use: their state (about
    /// 300 kB for DEFLATE, zeroed) was allocated, faulted in and freed for every message sealed
    /// or opened (bench/RESULTS.md § Sealing and opening).
    static DEFLATE: RefCell<Option<Compress>> = const { RefCell::new(None) };
    static INFLATE: RefCell<Option<Decompress>> = const { RefCell::new(None) };
}

/// Runs `f` on this thread's state in `key`: reset, or made by `fresh` on first use; on a fresh
/// one where the thread's is gone (in a thread-local's destructor) or already in use.
fn with_reused<S, T>(
    key: &'static LocalKey<RefCell<Option<S>>>,
    fresh: impl Fn() -> S,
    reset: impl Fn(&mut S),
    f: impl Fn(&mut S) -> T,
) -> T {
    key.try_with(|cell| {
        let mut slot = cell.try_borrow_mut().ok()?;
        let state = match &mut *slot {
            Some(state) => {
                reset(state);
                state
            }
            None => slot.insert(fresh()),
        };
        Some(f(state))
    })
    .ok()
    .flatten()
    .unwrap_or_else(|| f(&mut fresh()))
}

/// Raw DEFLATE (level 9) primed with dictionary n°1.
pub fn deflate(data: &[u8]) -> Result<Vec<u8>> {
    with_reused(
        &DEFLATE,
        || Compress::new(Compression::best(), false),
        Compress::reset,
        |c| deflate_with(c, data),
    )
}

fn deflate_with(c: &mut Compress, data: &[u8]) -> Result<Vec<u8>> {
    let fail = |what: &str| Error::new(Reason::SealFailed, format!("deflate: {what}"));
    c.set_dictionary(dictionary())
        .map_err(|e| fail(&e.to_string()))?;
    let mut out = Vec::with_capacity(data.len() / 2 + 64);
    loop {
        if out.len() == out.capacity() {
            out.reserve(out.capacity().max(64));
        }
        let consumed = usize::try_from(c.total_in()).map_err(|_| fail("size"))?;
        let input = data.get(consumed..).ok_or_else(|| fail("size"))?;
        match c.compress_vec(input, &mut out, FlushCompress::Finish) {
            Ok(Status::StreamEnd) => return Ok(out),
            Ok(_) => {}
            Err(e) => return Err(fail(&e.to_string())),
        }
    }
}

/// Inverse of [`deflate`], refusing output past [`MAX_PAYLOAD_BYTES`].
pub fn inflate(data: &[u8]) -> Result<Vec<u8>> {
    with_reused(
        &INFLATE,
        || Decompress::new(false),
        |d| d.reset(false),
        |d| inflate_with(d, data),
    )
}

fn inflate_with(d: &mut Decompress, data: &[u8]) -> Result<Vec<u8>> {
    let bad = |what: String| Error::new(Reason::DecodeFailed, format!("inflate: {what}"));
    d.set_dictionary(dictionary())
        .map_err(|e| bad(e.to_string()))?;
    let mut out = Vec::with_capacity((data.len() * 4).min(MAX_PAYLOAD_BYTES));
    loop {
        if out.len() == out.capacity() {
            if out.len() >= MAX_PAYLOAD_BYTES {
                return Err(Error::new(
                    Reason::TooLarge,
                    "payload decompresses past the limit",
                ));
            }
            out.reserve(out.len().clamp(1024, MAX_PAYLOAD_BYTES - out.len()));
        }
        let consumed = usize::try_from(d.total_in()).map_err(|_| bad("size".into()))?;
        let input = data.get(consumed..).ok_or_else(|| bad("size".into()))?;
        let before = (d.total_in(), d.total_out());
        match d.decompress_vec(input, &mut out, FlushDecompress::Finish) {
            Ok(Status::StreamEnd) => {
                if d.total_in() != data.len() as u64 {
                    return Err(bad("trailing bytes".into()));
                }
                return Ok(out);
            }
            Ok(_) => {
                if (d.total_in(), d.total_out()) == before && out.len() < out.capacity() {
                    return Err(bad("truncated".into()));
                }
            }
            Err(e) => return Err(bad(e.to_string())),
        }
    }
}

/// Dictionary n°1: a fiche message's CBOR skeleton, then recurring words (the
/// most frequent last, where DEFLATE reaches them with the shortest distances).
pub fn dictionary() -> &'static [u8] {
    static DICT: OnceLock<Vec<u8>> = OnceLock::new();
    DICT.get_or_init(|| {
        let mut d = Vec::with_capacity(2048);
        d.extend_from_slice(WORDS.as_bytes());
        if let Ok(skeleton) = to_cbor(&[skeleton_message()]) {
            d.extend_from_slice(&skeleton);
        }
        d
    })
}

const WORDS: &str = "\
Vol aggravé Vol simple Recel Abus de confiance Escroquerie Faux et usage de faux \
Coups et blessures volontaires Homicide involontaire Meurtre Assassinat Viol \
Trafic de stupéfiants Détention illégale d'arme Corruption Outrage à magistrat \
Atteinte à la propriété foncière Violences conjugales Conduite en état d'ivresse \
Délit de fuite Défaut de permis de conduire Blessures involontaires Mandat de dépôt \
Mandat d'arrêt Contrainte par corps Avec sursis Tribunal de première instance \
Tribunal de grande instance Cour d'appel Yaoundé Douala Garoua Bamenda Bafoussam \
Maroua Ngaoundéré Bertoua Ebolowa Buea Kribi Limbé Mbalmayo Nkongsamba Edéa Kumba \
Mvog-Mbi Biyem-Assi Essos Mokolo Bonabéri Akwa Bepanda Cité Verte Nlongkak \
Agriculteur Cultivateur Commerçant Commerçante Ménagère Élève Étudiant Étudiante \
Chauffeur Mécanicien Menuisier Maçon Couturière Sans profession Enseignant Fonctionnaire \
Moto-taximan Pêcheur Éleveur Infirmier Comptable Gendarme Policier Militaire \
Jean Pierre Paul Joseph Marie Emmanuel Christian Martin Albert André Jacques Samuel \
Nkou Ngono Mballa Atangana Essomba Fouda Manga Ondoa Owona Abega Mbarga Ngoa Eto'o \
Tchoua Kamga Fotso Tchinda Nguimfack Djoumessi Nana Moussa Abdou Aminatou \
Hamadou Oumarou Bello Aïssatou Fadimatou Mohamadou Ibrahim Ngo Nga \
Mbida Zambo Akono Ateba Ekotto Nguema Obama Essono Abena Mvondo Belinga \
Pauline Jeanne Françoise Thérèse Bernadette Cécile Florence Rose Béatrice \
Aucun Aucune Néant Inconnu Inconnue de père inconnu Camerounais Camerounaise \
Nigériane Tchadien Centrafricain Gabonais Équato-guinéen Congolais \
emprisonnement amende mois ans ferme sursis /TPI/ /TGI/ /CA/ /SD/Just/ /COR/ /CRIM/ \
Détournement de fonds publics ATT_BIENS_PUBLICS ATT_PERSONNES ATT_BIENS ATT_MOEURS \
STUPEFIANTS CIRCULATION ";

fn skeleton_message() -> Message {
    let court = CourtCode::from_raw(12345);
    Message {
        header: Header {
            message_id: uuid::Uuid::nil(),
            sender: Party::Court(court),
            recipient: Party::Cjn,
            seq: 1000,
            created_at: datetime!(2026-01-01 00:00:00 UTC),
            format: FORMAT_VERSION,
        },
        body: Body::FicheSigned(FicheEvent {
            niu: Niu::from_raw(12_345_202_600_100_084),
            version: 1,
            motive: None,
            audit_head: AuditHead {
                seq: 1000,
                hash: Sha256Hash::from_bytes([0; 32]),
            },
            fiche: Fiche {
                number: 1000,
                reference: "/2026".into(),
                justiciable: Justiciable {
                    surname: String::new(),
                    given_names: String::new(),
                    birth_date: date!(1990 - 01 - 01),
                    birth_place: String::new(),
                    sex: Sex::M,
                    // `Some("")`, not `None`: the skeleton's CBOR is part of the dictionary (wire
                    // format) and must keep the bytes it had when these fields were `String`.
                    father: Some(String::new()),
                    mother: Some(String::new()),
                    profession: Some(String::new()),
                    civil_status: Some(CivilStatus::Celibataire),
                    domicile: Some(String::new()),
                    nationality: Some("Camerounaise".into()),
                },
                condamnation: Condamnation {
                    conviction_date: date!(2026 - 01 - 01),
                    offence_date: date!(2025 - 01 - 01),
                    offence_nature: String::new(),
                    offence_category: String::new(),
                    offence_class: OffenceClass::Delit,
                    warrants: Some("Aucun".into()),
                    road_traffic: None,
                    sentence_type: SentenceType::Emprisonnement,
                    sentence_months: Some(12),
                    suspended_months: None,
                    fine_amount: Some(100_000),
                    legal_recidivism: false,
                    minor: false,
                    excluded_b2: false,
                    excluded_b3: false,
                    b3_ordered: false,
                    ban: None,
                    ban_months: None,
                    ban_suspended: false,
                    revoked_suspension_niu: None,
                    // Left out of the CBOR at these values: the skeleton keeps its bytes.
                    minor_decided: false,
                    ban_start: None,
                    ban_end: None,
                    ban_from_release: false,
                },
                signed_by: String::new(),
                signed_by_name: String::new(),
                signed_at: datetime!(2026-01-01 00:00:00 UTC),
            },
        }),
    }
}
