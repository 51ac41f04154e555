//! The seal of a printed extract: verification by anyone, offline.
//!
//! A bulletin computed by the CJN carries a seal that its QR code holds:
//!
//! ```text
//! qr_text = "XMJ1:" + base45( CBOR map of the seal || ECDSA signature, 64 bytes r‖s )
//! ```
//!
//! The CBOR map (integer keys, [`SEAL_FORMAT`] 1): 0 format, 1 extract number,
//! 2 bulletin (1, 2, 3), 3 issue time (Unix seconds), 4 surname, 5 given names,
//! 6 birth date (days since 1970-01-01), 7 birth place (absent if unknown),
//! 8 number of entries (0 = "Néant"), 9 SHA-256 of the extract's full content
//! ([`content_digest`]), 10 subject key id of the CJN certificate that signs.
//! The signature is ECDSA P-256 / SHA-256 by the CJN's key over
//! [`SIGNATURE_DOMAIN`] followed by the CBOR bytes exactly as they travel,
//! with a low `s` (so a signature has one form only). Base45 (RFC 9285) keeps
//! to the QR code's alphanumeric mode: a typical seal is about 200 bytes, 300
//! characters, a version 10 or 11 QR code at level M.
//!
//! The verification code printed beside it (`XXXX-XXXX-XXXX`, Crockford
//! base32, 60 bits) is derived from the signature (SHA-256 of a tag and r‖s): the
//! CJN stores it with the consultation, so an extract can also be checked by
//! phone, and the code printed must be the one `verify-extract` shows.
//!
//! [`verify_extract`] refuses, with a stable [`Reason`]: anything that is not a
//! well-formed seal ([`Reason::Malformed`], [`Reason::UnsupportedFormat`]), a
//! signer key id unknown to the trust store ([`Reason::UnknownSigner`]), a
//! signer that is not the CJN, such as a court ([`Reason::SignerMismatch`]), a
//! signature that does not match the bytes ([`Reason::BadSignature`]: any
//! change of name, count or digest lands here), a certificate that does not
//! chain to the XMJuris root or was not valid at the issue time
//! ([`Reason::UntrustedCertificate`], [`Reason::CertificateExpired`],
//! [`Reason::CertificateNotYetValid`]), a revoked signer certificate
//! ([`Reason::CertificateRevoked`], whatever the revocation date: the issue time
//! is written by the key itself, and a stolen key backdates; extracts of a
//! revoked key are confirmed with the CJN by their code, or issued again), and
//! an issue time in the future ([`Reason::SigningTimeInFuture`]).

use minicbor::{Decode, Encode};
use openssl::bn::{BigNum, BigNumContext};
use openssl::ec::EcKey;
use openssl::ecdsa::EcdsaSig;
use openssl::nid::Nid;
use openssl::pkey::{HasPublic, PKeyRef, Public};
use openssl::x509::{X509, X509Crl};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::der::SignerId;
use crate::error::{Error, Reason, Result};
use crate::ids::{Party, Sha256Hash, hex};
use crate::message::{
    Bulletin, ExtractAnswer, ExtractEntry, ExtractNearMatch, ExtractPerson, OffenceClass,
    SentenceType, cbor_date,
};
use crate::seal::{Identity, MAX_CLOCK_SKEW_SECS, TrustStore, party_of};

/// Prefix of the QR text; the digit is the text format's version.
pub const QR_PREFIX: &str = "XMJ1:";
/// Version of the seal's CBOR map.
pub const SEAL_FORMAT: u16 = 1;
/// Version of the canonical content encoding digested by [`content_digest`].
pub const CONTENT_FORMAT: u16 = 1;
/// What the signature covers, before the seal's CBOR bytes.
pub const SIGNATURE_DOMAIN: &[u8] = b"XMJuris extract seal v1\0";
/// Longest QR text looked at (a QR code holds at most 4296 alphanumeric characters).
pub const MAX_QR_TEXT: usize = 4296;

const CONTENT_DOMAIN: &str = "XMJuris extract content v1";
const CODE_DOMAIN: &[u8] = b"XMJuris verification code v1\0";
const SIGNATURE_LEN: usize = 64;

/// What the CJN seals: the extract as it will be printed.
#[derive(Debug, Clone, PartialEq)]
pub struct ExtractContent {
    /// The CJN's unique number of this extract, e.g. `B3-2026-000124`.
    pub extract_number: String,
    /// Which bulletin.
    pub bulletin: Bulletin,
    /// When the CJN computed it (the seal keeps whole seconds).
    pub issued_at: OffsetDateTime,
    /// The identity the extract was computed for.
    pub person: ExtractPerson,
    /// The fiches shown, in print order; none is "Néant".
    pub entries: Vec<ExtractEntry>,
}

/// A sealed extract: what the CJN puts in its [`ExtractAnswer`] and stores
/// with the consultation.
#[derive(Debug, Clone, PartialEq)]
pub struct SealedExtract {
    /// The QR code's text: `XMJ1:` + base45.
    pub qr_text: String,
    /// The short code printed on the extract, `XXXX-XXXX-XXXX`.
    pub verification_code: String,
    /// SHA-256 of the content's canonical encoding (in the seal).
    pub content_digest: Sha256Hash,
    /// The issue time as sealed (whole seconds).
    pub issued_at: OffsetDateTime,
}

/// What [`verify_extract`] proves: the CJN issued an extract saying this.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedExtract {
    /// The extract's number.
    pub extract_number: String,
    /// Which bulletin.
    pub bulletin: Bulletin,
    /// When the CJN issued it.
    pub issued_at: OffsetDateTime,
    /// Whom it is about.
    pub person: ExtractPerson,
    /// How many convictions it lists; 0 is "Néant".
    pub entry_count: u32,
    /// SHA-256 of the full content.
    pub content_digest: Sha256Hash,
    /// The code that must be printed beside the QR code.
    pub verification_code: String,
    /// Serial number (hex) of the CJN certificate that signed.
    pub signer_serial: String,
}

/// A part of a full content that does not agree with the seal ([`VerifiedExtract::content_mismatches`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentField {
    /// The extract number.
    ExtractNumber,
    /// The bulletin number.
    Bulletin,
    /// The issue time.
    IssuedAt,
    /// The person's identity.
    Person,
    /// The number of entries.
    EntryCount,
    /// The digest: something in the entries themselves differs.
    Digest,
}

/// The seal's CBOR map (the signed bytes).
#[derive(Debug, Clone, PartialEq, Encode, Decode)]
#[cbor(map)]
struct SealBody {
    #[n(0)]
    format: u16,
    #[n(1)]
    extract_number: String,
    #[n(2)]
    bulletin: Bulletin,
    #[n(3)]
    issued_at: i64,
    #[n(4)]
    surname: String,
    #[n(5)]
    given_names: String,
    #[cbor(n(6), with = "cbor_date")]
    birth_date: Date,
    #[n(7)]
    birth_place: Option<String>,
    #[n(8)]
    entry_count: u32,
    #[n(9)]
    content_digest: Sha256Hash,
    #[cbor(n(10), with = "minicbor::bytes")]
    key_id: Vec<u8>,
}

/// Seals `content` with the CJN's identity: digest, signature, QR text and
/// verification code. Sealing does not check who `signer` is: verifiers
/// accept only a CJN certificate.
pub fn seal_extract(signer: &Identity, content: &ExtractContent) -> Result<SealedExtract> {
    let entry_count = u32::try_from(content.entries.len())
        .map_err(|_| Error::new(Reason::SealFailed, "too many entries"))?;
    let key_id = signer
        .cert()
        .subject_key_id()
        .map(|k| k.as_slice().to_vec())
        .ok_or_else(|| {
            Error::new(
                Reason::BadCertificate,
                "the signing certificate has no subject key identifier",
            )
        })?;
    let content_digest = content_digest(content)?;
    let issued_at = content.issued_at.unix_timestamp();
    let body = SealBody {
        format: SEAL_FORMAT,
        extract_number: content.extract_number.clone(),
        bulletin: content.bulletin,
        issued_at,
        surname: content.person.surname.clone(),
        given_names: content.person.given_names.clone(),
        birth_date: content.person.birth_date,
        birth_place: content.person.birth_place.clone(),
        entry_count,
        content_digest,
        key_id,
    };
    let mut bytes = minicbor::to_vec(&body)
        .map_err(|e| Error::new(Reason::SealFailed, format!("seal CBOR: {e}")))?;
    let signature = sign_raw(signer.key(), &bytes)?;
    bytes.extend_from_slice(&signature);
    let issued_at = OffsetDateTime::from_unix_timestamp(issued_at)
        .map_err(|_| Error::new(Reason::SealFailed, "issue time out of range"))?;
    Ok(SealedExtract {
        qr_text: format!("{QR_PREFIX}{}", base45::encode(&bytes)),
        verification_code: verification_code(&signature),
        content_digest,
        issued_at,
    })
}

/// Verifies a seal's QR text offline against `trust` (root and issuing CA,
/// the CJN's certificate(s), and a CRL if it has one). See the module's doc
/// for what is refused and why.
pub fn verify_extract(qr_text: &str, trust: &TrustStore) -> Result<VerifiedExtract> {
    let text = qr_text.trim();
    if text.len() > MAX_QR_TEXT {
        return Err(Error::new(Reason::TooLarge, "QR text too long"));
    }
    let encoded = text.strip_prefix(QR_PREFIX).ok_or_else(|| {
        if text.starts_with("XMJ") {
            Error::new(Reason::UnsupportedFormat, "unknown seal text version")
        } else {
            Error::new(Reason::Malformed, "not an XMJuris extract seal")
        }
    })?;
    let bytes =
        base45::decode(encoded).ok_or_else(|| Error::new(Reason::Malformed, "not valid base45"))?;
    let split = bytes
        .len()
        .checked_sub(SIGNATURE_LEN)
        .ok_or_else(|| Error::new(Reason::Malformed, "seal too short"))?;
    let (signed, signature) = bytes.split_at(split);
    let mut decoder = minicbor::Decoder::new(signed);
    let body: SealBody = decoder
        .decode()
        .map_err(|e| Error::new(Reason::Malformed, format!("seal CBOR: {e}")))?;
    if decoder.position() != signed.len() {
        return Err(Error::new(
            Reason::Malformed,
            "bytes between the seal and its signature",
        ));
    }
    if body.format != SEAL_FORMAT {
        return Err(Error::new(
            Reason::UnsupportedFormat,
            format!("seal format {}", body.format),
        ));
    }
    let (party, cert) = trust
        .signer_cert(&SignerId::KeyId(body.key_id.clone()))
        .ok_or_else(|| {
            Error::new(
                Reason::UnknownSigner,
                format!("no known certificate has key id {}", hex(&body.key_id)),
            )
        })?;
    if *party != Party::Cjn {
        return Err(Error::new(
            Reason::SignerMismatch,
            format!("signed by {party}, not by the CJN"),
        ));
    }
    let public = cert
        .public_key()
        .map_err(|e| Error::ssl(Reason::BadCertificate, "certificate key", &e))?;
    verify_raw(&public, signed, signature)?;
    let now = OffsetDateTime::now_utc().unix_timestamp();
    if body.issued_at > now + MAX_CLOCK_SKEW_SECS {
        return Err(Error::new(
            Reason::SigningTimeInFuture,
            format!("issued at {}", body.issued_at),
        ));
    }
    trust.verify_chain_at(cert, body.issued_at)?;
    if let Some(revoked) = trust.revoked_at(cert)? {
        return Err(Error::new(
            Reason::CertificateRevoked,
            format!("the CJN certificate was revoked at {revoked}"),
        ));
    }
    let issued_at = OffsetDateTime::from_unix_timestamp(body.issued_at)
        .map_err(|_| Error::new(Reason::Malformed, "issue time out of range"))?;
    let serial = cert
        .serial_number()
        .to_bn()
        .map_err(|e| Error::ssl(Reason::BadCertificate, "serial", &e))?
        .to_vec();
    Ok(VerifiedExtract {
        extract_number: body.extract_number,
        bulletin: body.bulletin,
        issued_at,
        person: ExtractPerson {
            surname: body.surname,
            given_names: body.given_names,
            birth_date: body.birth_date,
            birth_place: body.birth_place,
        },
        entry_count: body.entry_count,
        content_digest: body.content_digest,
        verification_code: verification_code(signature),
        signer_serial: hex(&serial),
    })
}

impl VerifiedExtract {
    /// Whether the extract says "Néant" (no conviction).
    pub fn is_neant(&self) -> bool {
        self.entry_count == 0
    }

    /// Compares a full content (the CJN's answer, as stored) with what was
    /// sealed; empty when it is the very content sealed.
    pub fn content_mismatches(&self, content: &ExtractContent) -> Result<Vec<ContentField>> {
        let mut out = Vec::new();
        if content.extract_number != self.extract_number {
            out.push(ContentField::ExtractNumber);
        }
        if content.bulletin != self.bulletin {
            out.push(ContentField::Bulletin);
        }
        if content.issued_at.unix_timestamp() != self.issued_at.unix_timestamp() {
            out.push(ContentField::IssuedAt);
        }
        if content.person != self.person {
            out.push(ContentField::Person);
        }
        if u32::try_from(content.entries.len()).ok() != Some(self.entry_count) {
            out.push(ContentField::EntryCount);
        }
        if content_digest(content)? != self.content_digest {
            out.push(ContentField::Digest);
        }
        Ok(out)
    }
}

impl ExtractAnswer {
    /// The CJN's answer for `request_id`: the sealed content, the near matches
    /// listed apart, and the seal.
    pub fn new(
        request_id: Uuid,
        content: ExtractContent,
        near_matches: Vec<ExtractNearMatch>,
        sealed: &SealedExtract,
    ) -> Self {
        ExtractAnswer {
            request_id,
            bulletin: content.bulletin,
            issued_at: sealed.issued_at,
            verification_code: sealed.verification_code.clone(),
            entries: content.entries,
            extract_number: content.extract_number,
            person: content.person,
            near_matches,
            qr_text: sealed.qr_text.clone(),
        }
    }

    /// The content that the seal digests.
    pub fn content(&self) -> ExtractContent {
        ExtractContent {
            extract_number: self.extract_number.clone(),
            bulletin: self.bulletin,
            issued_at: self.issued_at,
            person: self.person.clone(),
            entries: self.entries.clone(),
        }
    }
}

/// The bulletin's number, 1 to 3.
pub fn bulletin_number(b: Bulletin) -> u8 {
    match b {
        Bulletin::B1 => 1,
        Bulletin::B2 => 2,
        Bulletin::B3 => 3,
    }
}

/// SHA-256 of the canonical encoding of `content` (format [`CONTENT_FORMAT`]).
///
/// The encoding is a CBOR array, definite lengths, shortest integers, UTF-8
/// strings as given, dates as `YYYY-MM-DD` text, null for an absent value:
/// `["XMJuris extract content v1", 1, extract number, bulletin (1-3), issue
/// time (Unix seconds), surname, given names, birth date, birth place,
/// [entry, ...]]`, each entry being `[NIU (integer), version, court code
/// (integer), court name, reference, conviction date, offence date, offence
/// nature, offence class ("crime", "delit", "contravention"), sentence type
/// (the fiche's JSON code, e.g. "emprisonnement"), sentence months, suspended
/// months, fine amount, ban, ban months, ban suspended (boolean)]`: what a
/// bulletin prints. It changes only with a new [`CONTENT_FORMAT`].
///
/// An entry's `rule` and `reason` (why the CJN put the fiche on the bulletin) are left out on
/// purpose: they explain the bulletin to the court's staff and are not printed, the answer that
/// carries them is signed by the CJN in transit, and extracts sealed before they existed must
/// keep verifying.
pub fn content_digest(content: &ExtractContent) -> Result<Sha256Hash> {
    let bytes = canonical_content(content)
        .map_err(|e| Error::new(Reason::SealFailed, format!("content encoding: {e}")))?;
    Ok(Sha256Hash::from_bytes(openssl::sha::sha256(&bytes)))
}

fn canonical_content(
    c: &ExtractContent,
) -> Result<Vec<u8>, minicbor::encode::Error<std::convert::Infallible>> {
    let mut e = minicbor::Encoder::new(Vec::new());
    e.array(10)?
        .str(CONTENT_DOMAIN)?
        .u16(CONTENT_FORMAT)?
        .str(&c.extract_number)?
        .u8(bulletin_number(c.bulletin))?
        .i64(c.issued_at.unix_timestamp())?
        .str(&c.person.surname)?
        .str(&c.person.given_names)?
        .str(&iso_date(c.person.birth_date))?;
    opt_str(&mut e, c.person.birth_place.as_deref())?;
    e.array(c.entries.len() as u64)?;
    for entry in &c.entries {
        let f = &entry.fiche;
        let k = &f.condamnation;
        e.array(16)?
            .u64(entry.niu.get())?
            .u32(entry.version)?
            .u32(entry.niu.court().get())?;
        opt_str(&mut e, entry.court_name.as_deref())?;
        e.str(&f.reference)?
            .str(&iso_date(k.conviction_date))?
            .str(&iso_date(k.offence_date))?
            .str(&k.offence_nature)?
            .str(offence_class_code(k.offence_class))?
            .str(sentence_type_code(k.sentence_type))?;
        opt_u64(&mut e, k.sentence_months.map(u64::from))?;
        opt_u64(&mut e, k.suspended_months.map(u64::from))?;
        opt_u64(&mut e, k.fine_amount)?;
        opt_str(&mut e, k.ban.as_deref())?;
        opt_u64(&mut e, k.ban_months.map(u64::from))?;
        e.bool(k.ban_suspended)?;
    }
    Ok(e.into_writer())
}

type Enc = minicbor::Encoder<Vec<u8>>;
type EncResult = Result<(), minicbor::encode::Error<std::convert::Infallible>>;

fn opt_str(e: &mut Enc, v: Option<&str>) -> EncResult {
    match v {
        Some(s) => e.str(s)?,
        None => e.null()?,
    };
    Ok(())
}

fn opt_u64(e: &mut Enc, v: Option<u64>) -> EncResult {
    match v {
        Some(n) => e.u64(n)?,
        None => e.null()?,
    };
    Ok(())
}

fn iso_date(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

fn offence_class_code(c: OffenceClass) -> &'static str {
    match c {
        OffenceClass::Crime => "crime",
        OffenceClass::Delit => "delit",
        OffenceClass::Contravention => "contravention",
    }
}

fn sentence_type_code(t: SentenceType) -> &'static str {
    match t {
        SentenceType::Emprisonnement => "emprisonnement",
        SentenceType::Amende => "amende",
        SentenceType::EmprisonnementAmende => "emprisonnement_amende",
        SentenceType::TravauxInteretGeneral => "travaux_interet_general",
        SentenceType::Perpetuite => "perpetuite",
        SentenceType::Mort => "mort",
        SentenceType::Autre => "autre",
    }
}

fn ssl(what: &'static str) -> impl Fn(openssl::error::ErrorStack) -> Error {
    move |e| Error::ssl(Reason::SealFailed, what, &e)
}

fn p256<T: HasPublic>(key: &PKeyRef<T>, reason: Reason) -> Result<EcKey<T>> {
    let ec = key
        .ec_key()
        .map_err(|_| Error::new(reason, "not an EC key"))?;
    if ec.group().curve_name() != Some(Nid::X9_62_PRIME256V1) {
        return Err(Error::new(reason, "not a P-256 key"));
    }
    Ok(ec)
}

/// The curve order n and n / 2.
fn order_and_half(group: &openssl::ec::EcGroupRef) -> Result<(BigNum, BigNum)> {
    let mut ctx = BigNumContext::new().map_err(ssl("bignum"))?;
    let mut n = BigNum::new().map_err(ssl("bignum"))?;
    group.order(&mut n, &mut ctx).map_err(ssl("curve order"))?;
    let mut half = BigNum::new().map_err(ssl("bignum"))?;
    half.rshift1(&n).map_err(ssl("bignum"))?;
    Ok((n, half))
}

fn signed_digest(bytes: &[u8]) -> [u8; 32] {
    let mut h = openssl::sha::Sha256::new();
    h.update(SIGNATURE_DOMAIN);
    h.update(bytes);
    h.finish()
}

/// ECDSA P-256 over [`SIGNATURE_DOMAIN`] || `bytes`: r‖s, 32 bytes each, low s.
fn sign_raw(key: &PKeyRef<openssl::pkey::Private>, bytes: &[u8]) -> Result<[u8; SIGNATURE_LEN]> {
    let ec = p256(key, Reason::BadCertificate)?;
    let sig = EcdsaSig::sign(&signed_digest(bytes), &ec).map_err(ssl("ECDSA sign"))?;
    let (n, half) = order_and_half(ec.group())?;
    let r = sig.r().to_owned().map_err(ssl("bignum"))?;
    let mut s = sig.s().to_owned().map_err(ssl("bignum"))?;
    if s > half {
        let mut low = BigNum::new().map_err(ssl("bignum"))?;
        low.checked_sub(&n, &s).map_err(ssl("bignum"))?;
        s = low;
    }
    let mut out = [0u8; SIGNATURE_LEN];
    out[..32].copy_from_slice(&r.to_vec_padded(32).map_err(ssl("signature"))?);
    out[32..].copy_from_slice(&s.to_vec_padded(32).map_err(ssl("signature"))?);
    Ok(out)
}

fn verify_raw(key: &PKeyRef<Public>, bytes: &[u8], signature: &[u8]) -> Result<()> {
    let bad = |what: &str| Error::new(Reason::BadSignature, what.to_owned());
    let ec = p256(key, Reason::BadCertificate)?;
    let (r, s) = signature.split_at(SIGNATURE_LEN / 2);
    let r = BigNum::from_slice(r).map_err(|_| bad("signature r"))?;
    let s = BigNum::from_slice(s).map_err(|_| bad("signature s"))?;
    let (_, half) = order_and_half(ec.group())?;
    if s > half {
        return Err(bad("signature not in low-s form"));
    }
    let sig = EcdsaSig::from_private_components(r, s).map_err(|_| bad("signature"))?;
    match sig.verify(&signed_digest(bytes), &ec) {
        Ok(true) => Ok(()),
        _ => Err(bad("the signature does not match the seal")),
    }
}

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// The verification code of a seal's signature: the first 60 bits of
/// SHA-256([`CODE_DOMAIN`] || signature), 12 Crockford base32 characters in
/// groups of 4 (`7K2M-Q9XD-4HZC`).
fn verification_code(signature: &[u8]) -> String {
    let mut h = openssl::sha::Sha256::new();
    h.update(CODE_DOMAIN);
    h.update(signature);
    let d = h.finish();
    let mut bits = u64::from_be_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]]) >> 4;
    let mut chars = [0u8; 12];
    for c in chars.iter_mut().rev() {
        *c = CROCKFORD[(bits & 31) as usize];
        bits >>= 5;
    }
    let mut out = String::with_capacity(14);
    for (i, c) in chars.iter().enumerate() {
        if i > 0 && i % 4 == 0 {
            out.push('-');
        }
        out.push(char::from(*c));
    }
    out
}

/// A verification code as typed (any case, with or without dashes or spaces,
/// `O` for `0`, `I`/`L` for `1`), in its printed form `XXXX-XXXX-XXXX`; `None`
/// if it cannot be one.
pub fn normalize_verification_code(typed: &str) -> Option<String> {
    let mut chars = Vec::with_capacity(12);
    for c in typed.chars() {
        let c = match c.to_ascii_uppercase() {
            '-' | ' ' => continue,
            'O' => '0',
            'I' | 'L' => '1',
            c => c,
        };
        if !c.is_ascii() || !CROCKFORD.contains(&(c as u8)) {
            return None;
        }
        chars.push(c);
    }
    if chars.len() != 12 {
        return None;
    }
    let mut out = String::with_capacity(14);
    for (i, c) in chars.into_iter().enumerate() {
        if i > 0 && i % 4 == 0 {
            out.push('-');
        }
        out.push(c);
    }
    Some(out)
}

/// A verifier's trust store from a PEM bundle (`xmjuris pki verification-bundle`):
/// exactly one self-signed root CA, the issuing CA(s), the CJN certificate(s),
/// and optionally CRLs (the newest valid one is kept). Text outside the PEM
/// blocks is ignored.
pub fn trust_from_pem(pem: &[u8]) -> Result<TrustStore> {
    let text = std::str::from_utf8(pem)
        .map_err(|_| Error::new(Reason::BadCertificate, "the bundle is not PEM text"))?;
    let mut certs = Vec::new();
    let mut crls = Vec::new();
    for (label, block) in pem_blocks(text) {
        match label {
            "CERTIFICATE" => certs.push(
                X509::from_pem(block.as_bytes())
                    .map_err(|e| Error::ssl(Reason::BadCertificate, "certificate", &e))?,
            ),
            "X509 CRL" => crls.push(
                X509Crl::from_pem(block.as_bytes())
                    .map_err(|e| Error::ssl(Reason::BadCertificate, "CRL", &e))?,
            ),
            _ => {}
        }
    }
    let mut roots = Vec::new();
    let mut cas = Vec::new();
    let mut leaves = Vec::new();
    for cert in certs {
        if party_of(&cert).is_some() {
            leaves.push(cert);
        } else if self_signed(&cert) {
            roots.push(cert);
        } else {
            cas.push(cert);
        }
    }
    let root = match <[X509; 1]>::try_from(roots) {
        Ok([root]) => root,
        Err(roots) => {
            return Err(Error::new(
                Reason::BadCertificate,
                format!(
                    "the bundle must hold exactly one root CA, it holds {}",
                    roots.len()
                ),
            ));
        }
    };
    let mut trust = TrustStore::new(root, cas);
    for cert in leaves {
        trust.add_peer_unchecked(cert)?;
    }
    for crl in crls {
        trust.set_crl(crl)?;
    }
    Ok(trust)
}

fn self_signed(cert: &X509) -> bool {
    cert.subject_name()
        .try_cmp(cert.issuer_name())
        .is_ok_and(|o| o.is_eq())
        && cert
            .public_key()
            .and_then(|k| cert.verify(&k))
            .unwrap_or(false)
}

/// The PEM blocks of `text`: (label, whole block with its BEGIN and END lines).
fn pem_blocks(text: &str) -> Vec<(&str, &str)> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        let after = &rest[start + 11..];
        let Some(label_end) = after.find("-----") else {
            break;
        };
        let label = &after[..label_end];
        let end_marker = format!("-----END {label}-----");
        let Some(end) = rest[start..].find(&end_marker) else {
            break;
        };
        let stop = start + end + end_marker.len();
        out.push((label, &rest[start..stop]));
        rest = &rest[stop..];
    }
    out
}

/// The public bundle a verifier needs, PEM: the root CA, the issuing CA, the
/// CJN's certificate and the current CRL, each after a comment line. No secret.
pub fn verification_bundle(pki: &crate::pki::CjnPki) -> Result<String> {
    let pem = |c: &X509| {
        c.to_pem()
            .map_err(ssl("certificate PEM"))
            .and_then(|p| String::from_utf8(p).map_err(|_| Error::new(Reason::SealFailed, "PEM")))
    };
    let mut out = String::new();
    out.push_str("# XMJuris: what a verifier of extracts needs (public; no secret).\n");
    out.push_str(&format!(
        "# Root CA, SHA-256 fingerprint {}\n",
        pki.ca_fingerprint()?
    ));
    out.push_str(&pem(pki.root())?);
    out.push_str("# Issuing CA\n");
    out.push_str(&pem(pki.issuing())?);
    out.push_str(&format!(
        "# CJN certificate, serial {}\n",
        crate::pki::cert_serial(pki.identity().cert())?
    ));
    out.push_str(&pem(pki.identity().cert())?);
    let crl = pki.crl()?;
    out.push_str(&format!(
        "# Revocation list of {} (fetch a new bundle to see later revocations)\n",
        crl.last_update()
    ));
    let crl_pem = crl.to_pem().map_err(ssl("CRL PEM"))?;
    out.push_str(
        &String::from_utf8(crl_pem).map_err(|_| Error::new(Reason::SealFailed, "CRL PEM"))?,
    );
    Ok(out)
}

/// Base45 (RFC 9285): two bytes in three characters of the QR code's
/// alphanumeric set.
pub mod base45 {
    const ALPHABET: &[u8; 45] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";

    /// Encodes `data`.
    pub fn encode(data: &[u8]) -> String {
        let mut out = String::with_capacity(data.len().div_ceil(2) * 3);
        let push = |out: &mut String, v: usize| out.push(char::from(ALPHABET[v % 45]));
        for pair in data.chunks(2) {
            match *pair {
                [a, b] => {
                    let n = usize::from(a) * 256 + usize::from(b);
                    push(&mut out, n);
                    push(&mut out, n / 45);
                    push(&mut out, n / 2025);
                }
                [a] => {
                    let n = usize::from(a);
                    push(&mut out, n);
                    push(&mut out, n / 45);
                }
                _ => {}
            }
        }
        out
    }

    /// Decodes `text`; `None` for a character outside the alphabet, a
    /// dangling character or a group out of range.
    pub fn decode(text: &str) -> Option<Vec<u8>> {
        let values = text
            .bytes()
            .map(|c| ALPHABET.iter().position(|&a| a == c))
            .collect::<Option<Vec<usize>>>()?;
        let mut out = Vec::with_capacity(values.len() / 3 * 2 + 1);
        for group in values.chunks(3) {
            match *group {
                [c, d, e] => {
                    let n = c + d * 45 + e * 2025;
                    let n = u16::try_from(n).ok()?;
                    out.extend_from_slice(&n.to_be_bytes());
                }
                [c, d] => out.push(u8::try_from(c + d * 45).ok()?),
                _ => return None,
            }
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::CourtCode;
    use crate::message::{Fiche, OutboxPayload};
    use crate::pki::CjnPki;

    #[test]
    fn base45_matches_rfc_9285_examples() {
        assert_eq!(base45::encode(b"AB"), "BB8");
        assert_eq!(base45::encode(b"Hello!!"), "%69 VD92EX0");
        assert_eq!(base45::encode(b"base-45"), "UJCLQE7W581");
        assert_eq!(base45::decode("QED8WEX0").as_deref(), Some(&b"ietf!"[..]));
        assert_eq!(
            base45::decode("%69 VD92EX0").as_deref(),
            Some(&b"Hello!!"[..])
        );
        // 65536 does not fit two bytes; a lone character is no group; lower case is not base45.
        assert_eq!(base45::decode("GGW"), None);
        assert_eq!(base45::decode("BB8A"), None);
        assert_eq!(base45::decode("bb8"), None);
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(base45::decode(&base45::encode(&all)), Some(all));
    }

    #[test]
    fn verification_codes_normalise() {
        assert_eq!(
            normalize_verification_code("7k2m q9xd 4hzc").as_deref(),
            Some("7K2M-Q9XD-4HZC")
        );
        assert_eq!(
            normalize_verification_code("OIL0-0000-0000").as_deref(),
            Some("0110-0000-0000")
        );
        assert_eq!(normalize_verification_code("7K2M-Q9XD-4HZ"), None);
        assert_eq!(normalize_verification_code("7K2M-Q9XD-4HZU"), None);
    }

    struct Pki {
        _dir: tempfile::TempDir,
        pki: CjnPki,
    }

    fn pki() -> Pki {
        let dir = tempfile::tempdir().expect("temp dir");
        let pki = CjnPki::init(&dir.path().join("cjn")).expect("pki init");
        Pki { _dir: dir, pki }
    }

    /// The verifier's view: root, issuing CA, CJN certificate, CRL.
    fn bundle_trust(pki: &CjnPki) -> TrustStore {
        trust_from_pem(verification_bundle(pki).expect("bundle").as_bytes()).expect("trust")
    }

    fn entry(json: &str, court_name: &str) -> ExtractEntry {
        let p = OutboxPayload::from_json(json.as_bytes()).expect("sample");
        let fiche: Fiche = p.fiche;
        ExtractEntry {
            niu: p.niu,
            version: p.version,
            fiche,
            court_name: Some(court_name.into()),
            rule: None,
            reason: None,
        }
    }

    fn content(entries: usize) -> ExtractContent {
        let all = [
            entry(crate::samples::TYPICAL_OUTBOX_JSON, "TPI de Garoua-Boulaï"),
            entry(crate::samples::LONG_OUTBOX_JSON, "TGI de Douala"),
        ];
        ExtractContent {
            extract_number: "B2-2026-000042".into(),
            bulletin: Bulletin::B2,
            issued_at: OffsetDateTime::now_utc(),
            person: ExtractPerson {
                surname: "Kobila".into(),
                given_names: "Mangué".into(),
                birth_date: time::macros::date!(2007 - 04 - 17),
                birth_place: Some("Ekouk".into()),
            },
            entries: all.into_iter().take(entries).collect(),
        }
    }

    fn reason(r: Result<VerifiedExtract>) -> Reason {
        r.expect_err("must be refused").reason()
    }

    /// Re-encodes a genuine seal with its body changed by `f`, keeping the old signature.
    fn tampered(qr: &str, f: impl FnOnce(&mut SealBody)) -> String {
        let bytes = base45::decode(qr.strip_prefix(QR_PREFIX).expect("prefix")).expect("b45");
        let (signed, sig) = bytes.split_at(bytes.len() - SIGNATURE_LEN);
        let mut body: SealBody = minicbor::decode(signed).expect("cbor");
        f(&mut body);
        let mut out = minicbor::to_vec(&body).expect("cbor");
        out.extend_from_slice(sig);
        format!("{QR_PREFIX}{}", base45::encode(&out))
    }

    #[test]
    fn genuine_extract_is_accepted_with_what_it_says() {
        let p = pki();
        let c = content(2);
        let sealed = seal_extract(p.pki.identity(), &c).expect("seal");
        assert!(sealed.qr_text.starts_with(QR_PREFIX));
        assert!(
            sealed.qr_text.len() < 400,
            "QR text of {} characters",
            sealed.qr_text.len()
        );
        let v = verify_extract(&sealed.qr_text, &bundle_trust(&p.pki)).expect("genuine");
        assert_eq!(v.extract_number, "B2-2026-000042");
        assert_eq!(v.bulletin, Bulletin::B2);
        assert_eq!(v.person, c.person);
        assert_eq!(v.entry_count, 2);
        assert!(!v.is_neant());
        assert_eq!(v.issued_at.unix_timestamp(), c.issued_at.unix_timestamp());
        assert_eq!(v.verification_code, sealed.verification_code);
        assert_eq!(v.content_mismatches(&c).expect("digest"), vec![]);
        // The CJN's own trust store (every court too) accepts it as well.
        let cjn_trust = p.pki.trust_store().expect("cjn trust");
        let mut cjn_trust = cjn_trust;
        cjn_trust
            .add_peer(p.pki.identity().cert().clone())
            .expect("cjn cert");
        verify_extract(&sealed.qr_text, &cjn_trust).expect("genuine for the CJN too");
    }

    #[test]
    fn why_an_entry_appears_travels_outside_the_seal_and_older_entries_still_read() {
        let p = pki();
        // Sealed as a CJN without the reasons sealed it.
        let before = content(2);
        let sealed = seal_extract(p.pki.identity(), &before).expect("seal");
        // The same answer with the reasons given: the seal still holds for it.
        let mut after = before.clone();
        for e in &mut after.entries {
            e.rule = Some("b2.on_b1".into());
            e.reason = Some("condamnation inscrite au bulletin n°1".into());
        }
        assert_eq!(
            content_digest(&after).expect("digest"),
            sealed.content_digest
        );
        let v = verify_extract(&sealed.qr_text, &bundle_trust(&p.pki)).expect("genuine");
        assert_eq!(v.content_mismatches(&after).expect("digest"), vec![]);

        // On the wire: an entry without reasons is the same CBOR as before they existed (no
        // key 4 or 5), and an older reader skips them when they are there.
        let plain = minicbor::to_vec(&before.entries[0]).expect("cbor");
        let with = minicbor::to_vec(&after.entries[0]).expect("cbor");
        assert!(with.len() > plain.len());
        let back: ExtractEntry = minicbor::decode(&plain).expect("older entry");
        assert_eq!(back.rule, None);
        let back: ExtractEntry = minicbor::decode(&with).expect("newer entry");
        assert_eq!(back.reason.as_deref(), after.entries[0].reason.as_deref());
        #[derive(minicbor::Decode)]
        #[cbor(map)]
        struct OlderEntry {
            #[n(0)]
            niu: crate::ids::Niu,
            #[n(3)]
            court_name: Option<String>,
        }
        let old: OlderEntry = minicbor::decode(&with).expect("an older reader skips keys 4 and 5");
        assert_eq!(old.niu, after.entries[0].niu);
        assert_eq!(old.court_name, after.entries[0].court_name);
        // JSON (what the court stores): absent when unknown, read back when given.
        let json = serde_json::to_value(&before.entries[0]).expect("json");
        assert!(json.get("rule").is_none());
        let json = serde_json::to_value(&after.entries[0]).expect("json");
        assert_eq!(json["rule"], "b2.on_b1");
    }

    #[test]
    fn verification_code_is_derived_from_the_signature() {
        let p = pki();
        let c = content(0);
        let a = seal_extract(p.pki.identity(), &c).expect("seal");
        let b = seal_extract(p.pki.identity(), &c).expect("seal");
        for code in [&a.verification_code, &b.verification_code] {
            assert_eq!(code.len(), 14);
            assert_eq!(
                normalize_verification_code(code).as_deref(),
                Some(code.as_str())
            );
        }
        // ECDSA is randomised: two seals of one content have two codes.
        assert_ne!(a.verification_code, b.verification_code);
        assert_eq!(a.content_digest, b.content_digest);
    }

    #[test]
    fn neant_forged_from_two_convictions_is_refused() {
        let p = pki();
        let trust = bundle_trust(&p.pki);
        let sealed = seal_extract(p.pki.identity(), &content(2)).expect("seal");
        let fake_neant = tampered(&sealed.qr_text, |b| b.entry_count = 0);
        assert_eq!(
            reason(verify_extract(&fake_neant, &trust)),
            Reason::BadSignature
        );
        let renamed = tampered(&sealed.qr_text, |b| b.surname = "Ngono".into());
        assert_eq!(
            reason(verify_extract(&renamed, &trust)),
            Reason::BadSignature
        );
        // The untouched seal still passes: the refusals come from the changes.
        assert!(verify_extract(&sealed.qr_text, &trust).is_ok());
    }

    #[test]
    fn altered_content_does_not_match_the_digest() {
        let p = pki();
        let c = content(2);
        let sealed = seal_extract(p.pki.identity(), &c).expect("seal");
        let v = verify_extract(&sealed.qr_text, &bundle_trust(&p.pki)).expect("genuine");
        let mut lighter = c.clone();
        lighter.entries[0].fiche.condamnation.sentence_months = Some(2);
        assert_eq!(
            v.content_mismatches(&lighter).expect("digest"),
            vec![ContentField::Digest]
        );
        let mut none = c.clone();
        none.entries.clear();
        assert_eq!(
            v.content_mismatches(&none).expect("digest"),
            vec![ContentField::EntryCount, ContentField::Digest]
        );
        let mut other = c;
        other.person.given_names = "Mangue".into();
        assert_eq!(
            v.content_mismatches(&other).expect("digest"),
            vec![ContentField::Person, ContentField::Digest]
        );
    }

    #[test]
    fn seal_of_a_self_made_ca_is_refused() {
        let genuine = pki();
        let forger = pki();
        let forged = seal_extract(forger.pki.identity(), &content(0)).expect("seal");
        let trust = bundle_trust(&genuine.pki);
        assert_eq!(
            reason(verify_extract(&forged.qr_text, &trust)),
            Reason::UnknownSigner
        );
        // Even with the forger's "CJN" certificate slipped into the trust store,
        // it does not chain to the XMJuris root.
        let mut slipped = trust;
        slipped
            .add_peer_unchecked(forger.pki.identity().cert().clone())
            .expect("peer");
        assert_eq!(
            reason(verify_extract(&forged.qr_text, &slipped)),
            Reason::UntrustedCertificate
        );
    }

    #[test]
    fn seal_of_a_court_key_is_refused() {
        let p = pki();
        let court = CourtCode::new(12345).expect("court");
        let dir = tempfile::tempdir().expect("court dir");
        let code = p.pki.new_enrollment_code(court, 1).expect("code");
        let (_, request) =
            crate::pki::court_prepare_enrollment(dir.path(), &code.code).expect("request");
        let answer = p.pki.handle_enrollment(court, &request).expect("answer");
        let (court_id, _) =
            crate::pki::court_complete_enrollment(dir.path(), court, &code.ca_fingerprint, &answer)
                .expect("enrolled");
        let forged = seal_extract(&court_id, &content(0)).expect("seal");
        // The CJN knows every court's certificate: it is valid, but not the CJN's.
        let mut cjn_trust = p.pki.trust_store().expect("cjn trust");
        cjn_trust
            .add_peer(p.pki.identity().cert().clone())
            .expect("cjn cert");
        assert_eq!(
            reason(verify_extract(&forged.qr_text, &cjn_trust)),
            Reason::SignerMismatch
        );
        // A verifier with the public bundle does not know the court's key at all.
        assert_eq!(
            reason(verify_extract(&forged.qr_text, &bundle_trust(&p.pki))),
            Reason::UnknownSigner
        );
    }

    #[test]
    fn seal_of_a_revoked_cjn_certificate_is_refused() {
        use openssl::asn1::Asn1Time;
        use openssl::hash::MessageDigest;
        use openssl::x509::{X509CrlBuilder, X509RevokedBuilder};
        let p = pki();
        let sealed = seal_extract(p.pki.identity(), &content(1)).expect("seal");
        let trust = bundle_trust(&p.pki);
        assert!(verify_extract(&sealed.qr_text, &trust).is_ok());
        // The issuing CA revokes the CJN's certificate (now: after the issue).
        let issuing_key = crate::pki::read_key(
            &p._dir
                .path()
                .join("cjn")
                .join(crate::pki::files::ISSUING_KEY),
        )
        .expect("issuing key");
        let mut b = X509CrlBuilder::new().expect("crl");
        b.set_issuer_name(p.pki.issuing().subject_name())
            .expect("issuer");
        let now = Asn1Time::days_from_now(0).expect("time");
        b.set_last_update(&now).expect("last");
        b.set_next_update(&Asn1Time::days_from_now(30).expect("time"))
            .expect("next");
        let mut r = X509RevokedBuilder::new().expect("revoked");
        r.set_serial_number(p.pki.identity().cert().serial_number())
            .expect("serial");
        r.set_revocation_date(&now).expect("date");
        b.add_revoked(r.build()).expect("add");
        let ctx = openssl::x509::X509Builder::new().expect("builder");
        let aki = openssl::x509::extension::AuthorityKeyIdentifier::new()
            .keyid(true)
            .build(&ctx.x509v3_context(Some(p.pki.issuing()), None))
            .expect("aki");
        b.append_extension(aki).expect("aki");
        // Newer than the CRL in the bundle (numbered in microseconds since the epoch).
        let number = (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1000 + 1).to_string();
        let number = BigNum::from_dec_str(&number).expect("number");
        let number = openssl::x509::extension::CrlNumber::new(number)
            .and_then(|n| n.build())
            .expect("crl number");
        b.append_extension(number).expect("crl number");
        let mut revoked = trust.clone();
        b.sign(&issuing_key, MessageDigest::sha256()).expect("sign");
        assert!(revoked.set_crl(b.build().expect("crl")).expect("set crl"));
        assert_eq!(
            reason(verify_extract(&sealed.qr_text, &revoked)),
            Reason::CertificateRevoked
        );
    }

    #[test]
    fn garbage_is_malformed_never_a_panic() {
        let p = pki();
        let trust = bundle_trust(&p.pki);
        let sealed = seal_extract(p.pki.identity(), &content(1)).expect("seal");
        assert_eq!(reason(verify_extract("", &trust)), Reason::Malformed);
        assert_eq!(
            reason(verify_extract("https://x.invalid", &trust)),
            Reason::Malformed
        );
        assert_eq!(
            reason(verify_extract("XMJ2:ABC", &trust)),
            Reason::UnsupportedFormat
        );
        assert_eq!(
            reason(verify_extract("XMJ1:bb8", &trust)),
            Reason::Malformed
        );
        for cut in [6, 40, sealed.qr_text.len() - 3] {
            let r = verify_extract(&sealed.qr_text[..cut], &trust);
            assert!(r.is_err(), "truncated at {cut} accepted");
        }
        // One signature bit flipped.
        let mut bytes = base45::decode(&sealed.qr_text[QR_PREFIX.len()..]).expect("b45");
        if let Some(last) = bytes.last_mut() {
            *last ^= 1;
        }
        let flipped = format!("{QR_PREFIX}{}", base45::encode(&bytes));
        assert_eq!(
            reason(verify_extract(&flipped, &trust)),
            Reason::BadSignature
        );
        // A format this version does not know.
        let format = tampered(&sealed.qr_text, |b| b.format = 2);
        assert_eq!(
            reason(verify_extract(&format, &trust)),
            Reason::UnsupportedFormat
        );
    }

    #[test]
    fn high_s_twin_of_a_valid_signature_is_refused() {
        // (r, n - s) is as valid as (r, s) for ECDSA; only the low form is
        // accepted, so each seal has one signature and one verification code.
        let p = pki();
        let trust = bundle_trust(&p.pki);
        let sealed = seal_extract(p.pki.identity(), &content(1)).expect("seal");
        let mut bytes = base45::decode(&sealed.qr_text[QR_PREFIX.len()..]).expect("b45");
        let at = bytes.len() - 32;
        let s = BigNum::from_slice(&bytes[at..]).expect("s");
        let ec = p.pki.identity().key().ec_key().expect("ec");
        let (n, _) = order_and_half(ec.group()).expect("order");
        let mut high = BigNum::new().expect("bn");
        high.checked_sub(&n, &s).expect("sub");
        bytes[at..].copy_from_slice(&high.to_vec_padded(32).expect("pad"));
        let twin = format!("{QR_PREFIX}{}", base45::encode(&bytes));
        // OpenSSL alone would accept the twin: the low-s rule is what refuses it.
        let body = &bytes[..bytes.len() - SIGNATURE_LEN];
        let r = BigNum::from_slice(&bytes[bytes.len() - 64..at]).expect("r");
        let twin_sig = EcdsaSig::from_private_components(r, high).expect("sig");
        assert!(twin_sig.verify(&signed_digest(body), &ec).expect("verify"));
        assert_eq!(reason(verify_extract(&twin, &trust)), Reason::BadSignature);
    }

    #[test]
    fn answer_carries_the_sealed_content() {
        let p = pki();
        let c = content(1);
        let sealed = seal_extract(p.pki.identity(), &c).expect("seal");
        let answer = ExtractAnswer::new(Uuid::nil(), c, Vec::new(), &sealed);
        let json = serde_json::to_string(&answer).expect("json");
        let back: ExtractAnswer = serde_json::from_str(&json).expect("json back");
        let cbor = minicbor::to_vec(&back).expect("cbor");
        let back: ExtractAnswer = minicbor::decode(&cbor).expect("cbor back");
        let v = verify_extract(&back.qr_text, &bundle_trust(&p.pki)).expect("genuine");
        assert_eq!(
            v.content_mismatches(&back.content()).expect("digest"),
            vec![]
        );
        assert_eq!(v.verification_code, back.verification_code);
    }
}
