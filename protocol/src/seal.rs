//! CMS seal and open: SignedData (P-256 ECDSA, no certificates, signer by key
//! id, signing time as the only optional signed attribute) inside
//! AuthEnvelopedData (AES-256-GCM, ECDH key agreement, recipient by key id).

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use openssl::cms::{CMSOptions, CmsContentInfo};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::stack::Stack;
use openssl::symm::Cipher;
use openssl::x509::store::X509StoreBuilder;
use openssl::x509::verify::X509VerifyParam;
use openssl::x509::{CrlStatus, X509, X509Crl, X509Ref, X509StoreContext};
use time::OffsetDateTime;

use crate::der::{self, SignerId};
use crate::error::{Error, Reason, Result};
use crate::ids::{CourtCode, Party};
use crate::message::Message;

/// Largest sealed message `open` looks at.
pub const MAX_SEALED_BYTES: usize = 1024 * 1024;
/// How far in the future a signing time may be (clocks differ).
pub const MAX_CLOCK_SKEW_SECS: i64 = 600;

/// Subject organisation of every XMJuris certificate.
pub const SUBJECT_O: &str = "XMJuris";
/// Subject organisational unit of a court's certificate (CN = court code).
pub const SUBJECT_OU_COURT: &str = "juridiction";
/// Subject organisational unit of the CJN's certificate (CN = `CJN`).
pub const SUBJECT_OU_CJN: &str = "cjn";

/// A party's own key and certificate. The key is never printed.
#[derive(Clone)]
pub struct Identity {
    party: Party,
    key: PKey<Private>,
    cert: X509,
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("party", &self.party)
            .field("key", &"<redacted>")
            .finish()
    }
}

impl Identity {
    /// An identity from a key and its certificate (which must name a party).
    pub fn new(key: PKey<Private>, cert: X509) -> Result<Self> {
        let public = cert
            .public_key()
            .map_err(|e| Error::ssl(Reason::BadCertificate, "certificate key", &e))?;
        if !public.public_eq(&key) {
            return Err(Error::new(
                Reason::CertificateMismatch,
                "the key does not match the certificate",
            ));
        }
        let party = party_of(&cert)
            .ok_or_else(|| Error::new(Reason::BadCertificate, "certificate names no party"))?;
        Ok(Self { party, key, cert })
    }

    /// Loads a PEM key and a PEM certificate.
    pub fn load(key_path: &Path, cert_path: &Path) -> Result<Self> {
        let key = crate::pki::read_key(key_path)?;
        let cert = crate::pki::read_cert(cert_path)?;
        Self::new(key, cert)
    }

    /// Whether `id` names this identity's certificate.
    fn is(&self, id: &SignerId) -> bool {
        match id {
            SignerId::KeyId(k) => self
                .cert
                .subject_key_id()
                .is_some_and(|s| s.as_slice() == k.as_slice()),
            SignerId::IssuerSerial(i, s) => {
                self.cert.issuer_name().to_der().ok().as_deref() == Some(i.as_slice())
                    && self
                        .cert
                        .serial_number()
                        .to_bn()
                        .ok()
                        .map(|b| der::strip_zeros(&b.to_vec()))
                        .as_deref()
                        == Some(s.as_slice())
            }
        }
    }

    /// Who this is.
    pub fn party(&self) -> Party {
        self.party
    }

    /// The certificate.
    pub fn cert(&self) -> &X509 {
        &self.cert
    }

    /// The private key (for the extract seal's raw ECDSA signature).
    pub(crate) fn key(&self) -> &PKey<Private> {
        &self.key
    }
}

/// The party a certificate names: `OU=juridiction, CN=<court code>` or `OU=cjn`.
pub fn party_of(cert: &X509Ref) -> Option<Party> {
    let name = cert.subject_name();
    let text = |nid| {
        let mut it = name.entries_by_nid(nid);
        let first = it.next()?.data().to_string().ok()?;
        it.next().is_none().then_some(first)
    };
    if text(Nid::ORGANIZATIONNAME)? != SUBJECT_O {
        return None;
    }
    match text(Nid::ORGANIZATIONALUNITNAME)?.as_str() {
        SUBJECT_OU_COURT => text(Nid::COMMONNAME)?
            .parse::<CourtCode>()
            .ok()
            .map(Party::Court),
        SUBJECT_OU_CJN => Some(Party::Cjn),
        _ => None,
    }
}

/// What a party trusts: the root CA, the issuing CA(s), the current CRL, and the
/// certificates of its peers (the CJN's for a court; every court's for the CJN).
#[derive(Clone)]
pub struct TrustStore {
    root: X509,
    intermediates: Vec<X509>,
    crl: Option<std::sync::Arc<X509Crl>>,
    peers: Vec<(Party, X509)>,
    /// For each peer, once its chain was verified: the times at which every certificate of that
    /// chain is valid, so that later messages signed within them skip OpenSSL's chain building
    /// and the signature checks of the chain (about half of `open`'s cost: bench/RESULTS.md §
    /// Sealing and opening). Only a success is kept; the root and issuing CAs never change in a
    /// store, and revocation is checked apart.
    chain_windows: Vec<std::sync::OnceLock<(i64, i64)>>,
    by_key_id: HashMap<Vec<u8>, usize>,
    by_issuer_serial: HashMap<(Vec<u8>, Vec<u8>), usize>,
}

impl fmt::Debug for TrustStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrustStore")
            .field("intermediates", &self.intermediates.len())
            .field("crl", &self.crl.is_some())
            .field("peers", &self.peers.len())
            .finish()
    }
}

fn unix(t: &openssl::asn1::Asn1TimeRef) -> Result<i64> {
    let epoch = openssl::asn1::Asn1Time::from_unix(0)
        .map_err(|e| Error::ssl(Reason::BadCertificate, "time", &e))?;
    let d = epoch
        .diff(t)
        .map_err(|e| Error::ssl(Reason::BadCertificate, "time", &e))?;
    Ok(i64::from(d.days) * 86_400 + i64::from(d.secs))
}

/// The latest notBefore and the earliest notAfter of `certs` (Unix seconds).
fn validity<'a>(certs: impl Iterator<Item = &'a X509Ref>) -> Result<(i64, i64)> {
    let mut window = (i64::MIN, i64::MAX);
    for c in certs {
        window.0 = window.0.max(unix(c.not_before())?);
        window.1 = window.1.min(unix(c.not_after())?);
    }
    Ok(window)
}

/// The CRL number (a CRL without one counts as 0).
fn crl_number(crl: &X509Crl) -> Result<Vec<u8>> {
    let n = crl
        .extension::<openssl::x509::extension::CrlNumber>()
        .map_err(|e| Error::ssl(Reason::BadCertificate, "CRL number", &e))?;
    let Some((_, n)) = n else {
        return Ok(Vec::new());
    };
    let bytes = n
        .to_bn()
        .map_err(|e| Error::ssl(Reason::BadCertificate, "CRL number", &e))?
        .to_vec();
    // Compare as fixed-width big-endian.
    let mut v = vec![0u8; 32usize.saturating_sub(bytes.len())];
    v.extend_from_slice(&bytes);
    Ok(v)
}

impl TrustStore {
    /// A trust store anchored on `root`, with the issuing CA certificates.
    pub fn new(root: X509, intermediates: Vec<X509>) -> Self {
        Self {
            root,
            intermediates,
            crl: None,
            peers: Vec::new(),
            chain_windows: Vec::new(),
            by_key_id: HashMap::new(),
            by_issuer_serial: HashMap::new(),
        }
    }

    /// The root CA certificate.
    pub fn root(&self) -> &X509 {
        &self.root
    }

    /// The issuing CA certificates.
    pub fn intermediates(&self) -> &[X509] {
        &self.intermediates
    }

    /// The current CRL, if any.
    pub fn crl(&self) -> Option<&X509Crl> {
        self.crl.as_deref()
    }

    /// Adds a peer's certificate (several per party are fine: renewals overlap).
    /// It must name a party and chain to the root now.
    pub fn add_peer(&mut self, cert: X509) -> Result<Party> {
        self.verify_chain_at(&cert, OffsetDateTime::now_utc().unix_timestamp())?;
        self.add_peer_unchecked(cert)
    }

    /// Adds a peer's certificate without checking its chain now (for
    /// certificates kept in a database: `open` checks the chain at signing
    /// time anyway).
    pub fn add_peer_unchecked(&mut self, cert: X509) -> Result<Party> {
        let party = party_of(&cert)
            .ok_or_else(|| Error::new(Reason::BadCertificate, "certificate names no party"))?;
        // Every key first: a certificate refused here leaves no index pointing past the peers.
        let issuer = cert
            .issuer_name()
            .to_der()
            .map_err(|e| Error::ssl(Reason::BadCertificate, "issuer", &e))?;
        let serial = cert
            .serial_number()
            .to_bn()
            .map_err(|e| Error::ssl(Reason::BadCertificate, "serial", &e))?
            .to_vec();
        let idx = self.peers.len();
        if let Some(ski) = cert.subject_key_id() {
            self.by_key_id.insert(ski.as_slice().to_vec(), idx);
        }
        self.by_issuer_serial
            .insert((issuer, der::strip_zeros(&serial)), idx);
        self.peers.push((party, cert));
        self.chain_windows.push(std::sync::OnceLock::new());
        Ok(party)
    }

    /// How many peer certificates are known.
    pub fn peer_count(&self) -> usize {
        self.peers.len()
    }

    /// The certificates known for `party`.
    pub fn peer_certs(&self, party: Party) -> impl Iterator<Item = &X509> {
        self.peers
            .iter()
            .filter(move |(p, _)| *p == party)
            .map(|(_, c)| c)
    }

    /// Installs a CRL after checking it is signed by an issuing CA and not older
    /// than the current one. Returns whether it replaced the current one.
    pub fn set_crl(&mut self, crl: X509Crl) -> Result<bool> {
        let signed = self.intermediates.iter().any(|ca| {
            ca.subject_name()
                .try_cmp(crl.issuer_name())
                .is_ok_and(|o| o.is_eq())
                && ca
                    .public_key()
                    .and_then(|k| crl.verify(&k))
                    .unwrap_or(false)
        });
        if !signed {
            return Err(Error::new(
                Reason::BadCertificate,
                "the CRL is not signed by the issuing CA",
            ));
        }
        if let Some(current) = &self.crl
            && crl_number(&crl)? < crl_number(current)?
        {
            return Ok(false);
        }
        self.crl = Some(std::sync::Arc::new(crl));
        Ok(true)
    }

    /// Checks that `cert` chains to the root and that every certificate in the
    /// chain was valid at `at` (Unix seconds).
    pub fn verify_chain_at(&self, cert: &X509Ref, at: i64) -> Result<()> {
        self.chain_window_at(cert, at).map(|_| ())
    }

    /// [`Self::verify_chain_at`] for the peer certificate `idx`, from its chain's validity once
    /// that chain was verified: a time strictly inside it needs no new verification (every
    /// certificate of a chain already verified is valid then).
    fn verify_peer_chain_at(&self, idx: usize, at: i64) -> Result<()> {
        let (Some((_, cert)), Some(window)) = (self.peers.get(idx), self.chain_windows.get(idx))
        else {
            return Err(Error::new(Reason::UnknownSigner, "no such peer"));
        };
        if let Some(&(from, to)) = window.get()
            && from < at
            && at < to
        {
            return Ok(());
        }
        let verified = self.chain_window_at(cert, at)?;
        let _ = window.set(verified);
        Ok(())
    }

    /// Verifies `cert`'s chain at `at`; the latest notBefore and earliest notAfter of the
    /// chain OpenSSL built.
    fn chain_window_at(&self, cert: &X509Ref, at: i64) -> Result<(i64, i64)> {
        let ssl =
            |e: openssl::error::ErrorStack| Error::ssl(Reason::UntrustedCertificate, "chain", &e);
        let mut builder = X509StoreBuilder::new().map_err(ssl)?;
        builder.add_cert(self.root.clone()).map_err(ssl)?;
        let mut param = X509VerifyParam::new().map_err(ssl)?;
        param.set_time(at);
        builder.set_param(&param).map_err(ssl)?;
        let store = builder.build();
        let mut chain = Stack::new().map_err(ssl)?;
        for c in &self.intermediates {
            chain.push(c.clone()).map_err(ssl)?;
        }
        let mut ctx = X509StoreContext::new().map_err(ssl)?;
        let (ok, result, window) = ctx
            .init(&store, cert, &chain, |c| {
                let ok = c.verify_cert()?;
                let window = match c.chain() {
                    Some(built) if ok && !built.is_empty() => Some(validity(built.iter())),
                    _ => None,
                };
                Ok((ok, c.error(), window))
            })
            .map_err(ssl)?;
        if ok {
            return window.unwrap_or_else(|| {
                Err(Error::new(Reason::UntrustedCertificate, "no chain built"))
            });
        }
        let reason = match result.as_raw() {
            9 => Reason::CertificateNotYetValid, // X509_V_ERR_CERT_NOT_YET_VALID
            10 => Reason::CertificateExpired,    // X509_V_ERR_CERT_HAS_EXPIRED
            _ => Reason::UntrustedCertificate,
        };
        Err(Error::new(
            reason,
            format!("certificate chain: {}", result.error_string()),
        ))
    }

    /// When `cert` was revoked, if the current CRL lists it.
    pub fn revoked_at(&self, cert: &X509Ref) -> Result<Option<i64>> {
        let Some(crl) = &self.crl else {
            return Ok(None);
        };
        match crl.get_by_serial(cert.serial_number()) {
            CrlStatus::Revoked(r) => Ok(Some(unix(r.revocation_date())?)),
            CrlStatus::NotRevoked | CrlStatus::RemoveFromCrl(_) => Ok(None),
        }
    }

    pub(crate) fn signer_cert(&self, sid: &SignerId) -> Option<&(Party, X509)> {
        self.peers.get(self.signer_index(sid)?)
    }

    fn signer_index(&self, sid: &SignerId) -> Option<usize> {
        match sid {
            SignerId::KeyId(k) => self.by_key_id.get(k).copied(),
            SignerId::IssuerSerial(i, s) => {
                self.by_issuer_serial.get(&(i.clone(), s.clone())).copied()
            }
        }
    }
}

/// Signs `payload` (CMS SignedData, DER, no certificates, signing time only).
pub fn sign(payload: &[u8], signer: &Identity) -> Result<Vec<u8>> {
    let flags = CMSOptions::BINARY
        | CMSOptions::NOSMIMECAP
        | CMSOptions::USE_KEYID
        | CMSOptions::CMS_NOCERTS;
    let signed = CmsContentInfo::sign(
        Some(&signer.cert),
        Some(&signer.key),
        None,
        Some(payload),
        flags,
    )
    .map_err(|e| Error::ssl(Reason::SealFailed, "CMS sign", &e))?;
    signed
        .to_der()
        .map_err(|e| Error::ssl(Reason::SealFailed, "CMS sign", &e))
}

/// Seals `payload`: signed by `signer`, then encrypted for `recipient` (AES-256-GCM).
pub fn seal(payload: &[u8], signer: &Identity, recipient: &X509Ref) -> Result<Vec<u8>> {
    let signed = sign(payload, signer)?;
    let fail = |e: openssl::error::ErrorStack| Error::ssl(Reason::SealFailed, "CMS encrypt", &e);
    let mut certs = Stack::new().map_err(fail)?;
    certs.push(recipient.to_owned()).map_err(fail)?;
    let env = CmsContentInfo::encrypt(
        &certs,
        &signed,
        Cipher::aes_256_gcm(),
        CMSOptions::BINARY | CMSOptions::USE_KEYID,
    )
    .map_err(fail)?;
    env.to_der().map_err(fail)
}

/// Encodes and seals a batch of messages.
pub fn seal_messages(
    messages: &[Message],
    signer: &Identity,
    recipient: &X509Ref,
) -> Result<Vec<u8>> {
    seal(&crate::codec::encode(messages)?, signer, recipient)
}

/// What `open` returns once every check has passed.
#[derive(Debug, Clone)]
pub struct Opened {
    /// The verified payload.
    pub payload: Vec<u8>,
    /// Who signed it (always the expected sender).
    pub signer: Party,
    /// The signer certificate's serial number, hex.
    pub signer_serial: String,
    /// The signed (decrypted) CMS SignedData, DER: keep it for non-repudiation.
    pub signed_der: Vec<u8>,
    /// The signing time from the signed attributes.
    pub signing_time: OffsetDateTime,
}

/// Opens a sealed message: size, CMS structure, decryption for `me`, signature
/// by a certificate of `expected_sender`, its chain to the CA and its validity
/// and revocation at signing time. Nothing is returned unless all hold.
pub fn open(
    sealed: &[u8],
    me: &Identity,
    trust: &TrustStore,
    expected_sender: Party,
) -> Result<Opened> {
    if sealed.len() > MAX_SEALED_BYTES {
        return Err(Error::new(
            Reason::TooLarge,
            format!("{} bytes", sealed.len()),
        ));
    }
    match der::content_type(sealed) {
        Some((oid, true)) if oid == der::OID_AUTH_ENVELOPED_DATA => {}
        Some((_, true)) => return Err(Error::new(Reason::Malformed, "not an AuthEnvelopedData")),
        _ => return Err(Error::new(Reason::Malformed, "not a DER CMS message")),
    }
    let recipients = der::check_envelope(sealed)
        .ok_or_else(|| Error::new(Reason::Malformed, "unexpected AuthEnvelopedData fields"))?;
    if !recipients.iter().any(|r| me.is(r)) {
        return Err(Error::new(
            Reason::WrongRecipient,
            "not encrypted for this certificate",
        ));
    }
    let env =
        CmsContentInfo::from_der(sealed).map_err(|e| Error::ssl(Reason::Malformed, "CMS", &e))?;
    if env.to_der().ok().as_deref() != Some(sealed) {
        return Err(Error::new(Reason::Malformed, "not canonical DER"));
    }
    let signed_der = env
        .decrypt(&me.key, &me.cert)
        .map_err(|e| Error::ssl(Reason::DecryptionFailed, "CMS decrypt", &e))?;
    verify_signed(signed_der, trust, expected_sender)
}

/// Verifies a CMS SignedData (DER) from `expected_sender` as `open` does after decryption.
pub fn verify_signed(
    signed_der: Vec<u8>,
    trust: &TrustStore,
    expected_sender: Party,
) -> Result<Opened> {
    if signed_der.len() > MAX_SEALED_BYTES {
        return Err(Error::new(Reason::TooLarge, "signed content too large"));
    }
    match der::content_type(&signed_der) {
        Some((oid, true)) if oid == der::OID_SIGNED => {}
        _ => return Err(Error::new(Reason::Malformed, "not a DER SignedData")),
    }
    let facts =
        der::signer_facts(&signed_der).map_err(|_| Error::new(Reason::Malformed, "SignedData"))?;
    let (idx, (signer, cert)) = trust
        .signer_index(&facts.sid)
        .and_then(|idx| Some((idx, trust.peers.get(idx)?)))
        .ok_or_else(|| Error::new(Reason::UnknownSigner, "no known certificate for the signer"))?;
    if *signer != expected_sender {
        return Err(Error::new(
            Reason::SignerMismatch,
            format!("signed by {signer}, expected {expected_sender}"),
        ));
    }
    let mut cms = CmsContentInfo::from_der(&signed_der)
        .map_err(|e| Error::ssl(Reason::Malformed, "CMS", &e))?;
    let mut certs = Stack::new().map_err(|e| Error::ssl(Reason::Malformed, "stack", &e))?;
    certs
        .push(cert.clone())
        .map_err(|e| Error::ssl(Reason::Malformed, "stack", &e))?;
    let mut payload = Vec::new();
    cms.verify(
        Some(&certs),
        None,
        None,
        Some(&mut payload),
        CMSOptions::BINARY | CMSOptions::NOINTERN | CMSOptions::NO_SIGNER_CERT_VERIFY,
    )
    .map_err(|e| Error::ssl(Reason::BadSignature, "CMS verify", &e))?;
    let signing_time = facts
        .signing_time
        .ok_or_else(|| Error::new(Reason::SigningTimeMissing, "no signing time"))?;
    if signing_time > OffsetDateTime::now_utc().unix_timestamp() + MAX_CLOCK_SKEW_SECS {
        return Err(Error::new(
            Reason::SigningTimeInFuture,
            format!("signed at {signing_time}"),
        ));
    }
    trust.verify_peer_chain_at(idx, signing_time)?;
    if let Some(revoked) = trust.revoked_at(cert)?
        && revoked <= signing_time
    {
        return Err(Error::new(
            Reason::CertificateRevoked,
            format!("revoked at {revoked}"),
        ));
    }
    let serial = cert
        .serial_number()
        .to_bn()
        .map_err(|e| Error::ssl(Reason::BadCertificate, "serial", &e))?
        .to_vec();
    let signing_time = OffsetDateTime::from_unix_timestamp(signing_time)
        .map_err(|_| Error::new(Reason::Malformed, "signing time out of range"))?;
    Ok(Opened {
        payload,
        signer: *signer,
        signer_serial: crate::ids::hex(&serial),
        signed_der,
        signing_time,
    })
}

/// Opens a sealed batch and decodes it; every message must come from
/// `expected_sender` (the topic's court, or the CJN) and be addressed to `me`.
pub fn open_messages(
    sealed: &[u8],
    me: &Identity,
    trust: &TrustStore,
    expected_sender: Party,
) -> Result<(Opened, Vec<Message>)> {
    let opened = open(sealed, me, trust, expected_sender)?;
    let messages = crate::codec::decode(&opened.payload)?;
    check_parties(&messages, expected_sender, me.party)?;
    Ok((opened, messages))
}

/// Opens a batch received on an MQTT `topic`: the expected sender is the
/// topic's court on `.../up` (opened by the CJN), the CJN on `.../down`
/// (opened by that very court). Anything else is [`Reason::BadTopic`].
pub fn open_from_topic(
    topic: &str,
    sealed: &[u8],
    me: &Identity,
    trust: &TrustStore,
) -> Result<(Opened, Vec<Message>)> {
    use crate::topics::{self, TopicKind};
    let bad = || {
        Error::new(
            Reason::BadTopic,
            format!("not a topic for {}: {topic}", me.party),
        )
    };
    let (court, kind) = topics::parse(topic).ok_or_else(bad)?;
    let expected = match (kind, me.party) {
        (TopicKind::Up, Party::Cjn) => Party::Court(court),
        (TopicKind::Down, Party::Court(c)) if c == court => Party::Cjn,
        _ => return Err(bad()),
    };
    open_messages(sealed, me, trust, expected)
}

impl Opened {
    /// SHA-256 of [`Opened::signed_der`], for the [`Receipt`](crate::Receipt).
    pub fn signed_hash(&self) -> crate::Sha256Hash {
        crate::Sha256Hash::from_bytes(openssl::sha::sha256(&self.signed_der))
    }
}

pub(crate) fn check_parties(messages: &[Message], sender: Party, recipient: Party) -> Result<()> {
    for m in messages {
        if m.header.sender != sender || m.header.recipient != recipient {
            return Err(Error::new(
                Reason::PartyMismatch,
                format!(
                    "message {} from {} to {}, expected from {sender} to {recipient}",
                    m.header.message_id, m.header.sender, m.header.recipient
                ),
            ));
        }
    }
    Ok(())
}

/// SHA-256 fingerprint of a certificate (DER), lower-case hex.
pub fn fingerprint(cert: &X509Ref) -> Result<String> {
    cert.digest(MessageDigest::sha256())
        .map(|d| crate::ids::hex(&d))
        .map_err(|e| Error::ssl(Reason::BadCertificate, "fingerprint", &e))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::pki::{self, CjnPki};

    /// A chain remembered once verified answers as OpenSSL would at every time around its
    /// window's edges: valid from the latest notBefore, expired from the earliest notAfter.
    #[test]
    fn a_remembered_chain_answers_as_openssl_at_its_edges() {
        let dir = tempfile::tempdir().unwrap();
        let cjn = CjnPki::init(&dir.path().join("cjn")).unwrap();
        let court: CourtCode = "12345".parse().unwrap();
        let code = cjn.new_enrollment_code(court, 1).unwrap();
        let (_, req) =
            pki::court_prepare_enrollment(&dir.path().join("court"), &code.code).unwrap();
        let answer = cjn.handle_enrollment(court, &req).unwrap();
        let (court_id, _) = pki::court_complete_enrollment(
            &dir.path().join("court"),
            court,
            &code.ca_fingerprint,
            &answer,
        )
        .unwrap();
        let trust = cjn.trust_store().unwrap();
        let ski = court_id
            .cert()
            .subject_key_id()
            .unwrap()
            .as_slice()
            .to_vec();
        let idx = trust.signer_index(&SignerId::KeyId(ski)).unwrap();
        let now = OffsetDateTime::now_utc().unix_timestamp();
        assert!(trust.chain_windows[idx].get().is_none());
        trust.verify_peer_chain_at(idx, now).unwrap();
        let (from, to) = *trust.chain_windows[idx].get().expect("remembered");
        assert!(from <= now && now < to);
        let reason = |r: Result<()>| r.err().map(|e| e.reason());
        for (at, expected) in [
            (from - 1, Some(Reason::CertificateNotYetValid)),
            (from, None),
            (from + 1, None),
            (to - 1, None),
            (to, Some(Reason::CertificateExpired)),
            (to + 1, Some(Reason::CertificateExpired)),
        ] {
            assert_eq!(
                reason(trust.verify_peer_chain_at(idx, at)),
                expected,
                "remembered chain at {at} (window {from}..{to})"
            );
            assert_eq!(
                reason(trust.verify_chain_at(court_id.cert(), at)),
                expected,
                "OpenSSL at {at}"
            );
        }
        // A peer index that does not exist is an unknown signer, not a panic.
        assert_eq!(
            reason(trust.verify_peer_chain_at(trust.peers.len(), now)),
            Some(Reason::UnknownSigner)
        );
    }
}
