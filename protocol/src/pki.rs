//! The XMJuris PKI, installed without manual OpenSSL steps.
//!
//! CJN side ([`CjnPki`], a directory): a root CA (P-256, 20 years; its key is
//! used only by [`CjnPki::init`] and can then be moved offline), an issuing CA
//! (10 years, path length 0) that signs the courts' and the CJN's certificates
//! and the CRL, and the CJN's own certificate (signing and key agreement).
//! One-time enrollment codes are files under `codes/`. A request is checked in
//! this order: the MAC first (constant time; an unknown code, a wrong secret and a
//! MAC over another CSR all get the same refusal, [`Reason::CodeUnknown`], so that
//! nobody without the secret learns whether a code exists, is used or has
//! expired), then the court, the CSR, and the code's state. Only a request that
//! passed every check claims the code: `codes/<id>.used`, created exclusively and
//! synced, names the key of the CSR; the certificate is then issued and the signed
//! answer kept in `codes/<id>.answer`. A refused request (a CSR naming another
//! court, a bad key) leaves the code as it was. The same court asking again with
//! the same key (its answer was lost, or the CJN stopped between claim and answer)
//! gets the kept answer again, or the enrollment completed; any other key is
//! refused ([`Reason::CodeUsed`]). The claim holds across restarts and instances.
//!
//! Court side ([`court_prepare_enrollment`], [`court_complete_enrollment`]): the
//! key is generated locally (file mode 0600) and never leaves; the CSR travels
//! with an HMAC keyed by the code's secret; the answer is trusted only once its
//! root CA has the fingerprint given with the code.
//!
//! Files are PEM, written atomically (temporary file, fsync, rename, fsync of
//! the directory); private keys with mode 0600.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use openssl::asn1::{Asn1Integer, Asn1Time};
use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, PKeyRef, Private, Public};
use openssl::sign::Signer;
use openssl::x509::extension::{
    AuthorityKeyIdentifier, BasicConstraints, CrlNumber, ExtendedKeyUsage, KeyUsage,
    SubjectKeyIdentifier,
};
use openssl::x509::{
    X509, X509Builder, X509Crl, X509CrlBuilder, X509Name, X509NameBuilder, X509Ref, X509Req,
    X509RevokedBuilder,
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tracing::info;

use crate::codec;
use crate::error::{Error, Reason, Result};
use crate::ids::{CourtCode, Party, Sha256Hash, hex, unhex};
use crate::message::{Body, EnrollmentAnswer, EnrollmentRequest, Header, Message};
use crate::seal::{self, Identity, SUBJECT_O, SUBJECT_OU_CJN, SUBJECT_OU_COURT, TrustStore};

/// Validity of the root CA.
pub const ROOT_DAYS: u32 = 20 * 365;
/// Validity of the issuing CA.
pub const ISSUING_DAYS: u32 = 10 * 365;
/// Validity of a court's or the CJN's certificate.
pub const LEAF_DAYS: u32 = 2 * 365;
/// Validity of a CRL (`nextUpdate`); the CJN republishes well before.
pub const CRL_DAYS: u32 = 30;
/// Default lifetime of an enrollment code.
pub const DEFAULT_CODE_HOURS: u32 = 7 * 24;

/// File names, in a CJN or a court PKI directory.
pub mod files {
    /// Root CA certificate (both sides).
    pub const ROOT_CRT: &str = "root.crt";
    /// Root CA key (CJN; move offline after `init`).
    pub const ROOT_KEY: &str = "root.key";
    /// Issuing CA certificate (both sides).
    pub const ISSUING_CRT: &str = "issuing.crt";
    /// Issuing CA key (CJN).
    pub const ISSUING_KEY: &str = "issuing.key";
    /// The CJN's certificate (both sides).
    pub const CJN_CRT: &str = "cjn.crt";
    /// The CJN's key (CJN).
    pub const CJN_KEY: &str = "cjn.key";
    /// The court's certificate (court).
    pub const COURT_CRT: &str = "court.crt";
    /// The court's key (court).
    pub const COURT_KEY: &str = "court.key";
    /// The court's next key, during renewal (court).
    pub const COURT_NEXT_KEY: &str = "court.next.key";
    /// The certificate of the next key, while a renewal is being installed (court).
    pub const COURT_NEXT_CRT: &str = "court.next.crt";
    /// The current CRL (both sides).
    pub const CRL: &str = "crl.pem";
    /// Revoked certificates (CJN).
    pub const REVOKED: &str = "revoked.json";
    /// Enrollment codes (CJN).
    pub const CODES_DIR: &str = "codes";
    /// Issued certificates (CJN).
    pub const ISSUED_DIR: &str = "issued";
}

fn ssl(reason: Reason, what: &'static str) -> impl Fn(openssl::error::ErrorStack) -> Error {
    move |e| Error::ssl(reason, what, &e)
}

/// A new P-256 key.
pub fn generate_key() -> Result<PKey<Private>> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1)
        .map_err(ssl(Reason::SealFailed, "EC group"))?;
    let key = EcKey::generate(&group).map_err(ssl(Reason::SealFailed, "EC key"))?;
    PKey::from_ec_key(key).map_err(ssl(Reason::SealFailed, "EC key"))
}

/// Writes `data` to `path` atomically and durably, with `mode`.
pub fn write_atomic(path: &Path, data: &[u8], mode: u32) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut rnd = [0u8; 6];
    openssl::rand::rand_bytes(&mut rnd).map_err(ssl(Reason::Io, "random"))?;
    let tmp = dir.join(format!(".{name}.{}.tmp", hex(&rnd)));
    let result = (|| {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        fs::File::open(dir)?.sync_all()
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(Error::io(path.display(), &e));
    }
    Ok(())
}

fn read(path: &Path) -> Result<Vec<u8>> {
    fs::read(path).map_err(|e| Error::io(path.display(), &e))
}

/// Reads a PEM private key.
pub fn read_key(path: &Path) -> Result<PKey<Private>> {
    PKey::private_key_from_pem(&read(path)?)
        .map_err(|e| Error::ssl(Reason::BadCertificate, "private key", &e))
}

/// Writes a PEM private key, mode 0600.
pub fn write_key(path: &Path, key: &PKeyRef<Private>) -> Result<()> {
    let pem = key
        .private_key_to_pem_pkcs8()
        .map_err(ssl(Reason::SealFailed, "key PEM"))?;
    write_atomic(path, &pem, 0o600)
}

/// Reads a PEM certificate.
pub fn read_cert(path: &Path) -> Result<X509> {
    X509::from_pem(&read(path)?)
        .map_err(|e| Error::new(Reason::BadCertificate, format!("{}: {e}", path.display())))
}

/// Writes a PEM certificate, mode 0644.
pub fn write_cert(path: &Path, cert: &X509Ref) -> Result<()> {
    let pem = cert
        .to_pem()
        .map_err(ssl(Reason::SealFailed, "certificate PEM"))?;
    write_atomic(path, &pem, 0o644)
}

/// Reads a PEM CRL.
pub fn read_crl(path: &Path) -> Result<X509Crl> {
    X509Crl::from_pem(&read(path)?).map_err(|e| Error::ssl(Reason::BadCertificate, "CRL", &e))
}

fn name(ou: &str, cn: &str) -> Result<X509Name> {
    let mut b = X509NameBuilder::new().map_err(ssl(Reason::SealFailed, "name"))?;
    b.append_entry_by_nid(Nid::ORGANIZATIONNAME, SUBJECT_O)
        .map_err(ssl(Reason::SealFailed, "name"))?;
    b.append_entry_by_nid(Nid::ORGANIZATIONALUNITNAME, ou)
        .map_err(ssl(Reason::SealFailed, "name"))?;
    b.append_entry_by_nid(Nid::COMMONNAME, cn)
        .map_err(ssl(Reason::SealFailed, "name"))?;
    Ok(b.build())
}

fn random_serial() -> Result<Asn1Integer> {
    let mut b = [0u8; 16];
    openssl::rand::rand_bytes(&mut b).map_err(ssl(Reason::SealFailed, "random"))?;
    b[0] = (b[0] & 0x7f) | 0x01; // positive, 16 bytes
    BigNum::from_slice(&b)
        .and_then(|n| n.to_asn1_integer())
        .map_err(ssl(Reason::SealFailed, "serial"))
}

/// What a certificate is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Profile {
    Root,
    Issuing,
    Leaf,
}

/// Validity window: `not_before` (Unix seconds, backdated 5 minutes for skew) and days.
fn build_cert(
    subject: &X509Name,
    key: &PKeyRef<Public>,
    issuer: Option<(&X509Ref, &PKeyRef<Private>)>,
    self_key: Option<&PKeyRef<Private>>,
    profile: Profile,
    not_before: i64,
    days: u32,
) -> Result<X509> {
    let e = ssl(Reason::SealFailed, "certificate");
    let mut b = X509Builder::new().map_err(&e)?;
    b.set_version(2).map_err(&e)?;
    let serial = random_serial()?;
    b.set_serial_number(&serial).map_err(&e)?;
    b.set_subject_name(subject).map_err(&e)?;
    b.set_issuer_name(issuer.map_or(subject.as_ref(), |(c, _)| c.subject_name()))
        .map_err(&e)?;
    b.set_pubkey(key).map_err(&e)?;
    let not_before_t = Asn1Time::from_unix(not_before - 300).map_err(&e)?;
    let not_after_t = Asn1Time::from_unix(not_before + i64::from(days) * 86_400).map_err(&e)?;
    b.set_not_before(&not_before_t).map_err(&e)?;
    b.set_not_after(&not_after_t).map_err(&e)?;
    match profile {
        Profile::Root => {
            b.append_extension(
                BasicConstraints::new()
                    .critical()
                    .ca()
                    .build()
                    .map_err(&e)?,
            )
            .map_err(&e)?;
            b.append_extension(
                KeyUsage::new()
                    .critical()
                    .key_cert_sign()
                    .crl_sign()
                    .build()
                    .map_err(&e)?,
            )
            .map_err(&e)?;
        }
        Profile::Issuing => {
            b.append_extension(
                BasicConstraints::new()
                    .critical()
                    .ca()
                    .pathlen(0)
                    .build()
                    .map_err(&e)?,
            )
            .map_err(&e)?;
            b.append_extension(
                KeyUsage::new()
                    .critical()
                    .key_cert_sign()
                    .crl_sign()
                    .build()
                    .map_err(&e)?,
            )
            .map_err(&e)?;
        }
        Profile::Leaf => {
            b.append_extension(BasicConstraints::new().critical().build().map_err(&e)?)
                .map_err(&e)?;
            b.append_extension(
                KeyUsage::new()
                    .critical()
                    .digital_signature()
                    .non_repudiation()
                    .key_agreement()
                    .build()
                    .map_err(&e)?,
            )
            .map_err(&e)?;
            b.append_extension(
                ExtendedKeyUsage::new()
                    .email_protection()
                    .client_auth()
                    .build()
                    .map_err(&e)?,
            )
            .map_err(&e)?;
        }
    }
    let ski = SubjectKeyIdentifier::new()
        .build(&b.x509v3_context(issuer.map(|(c, _)| c), None))
        .map_err(&e)?;
    b.append_extension(ski).map_err(&e)?;
    if let Some((ca, _)) = issuer {
        let aki = AuthorityKeyIdentifier::new()
            .keyid(true)
            .build(&b.x509v3_context(Some(ca), None))
            .map_err(&e)?;
        b.append_extension(aki).map_err(&e)?;
    }
    let signing_key = match (issuer, self_key) {
        (Some((_, k)), _) | (None, Some(k)) => k,
        (None, None) => return Err(Error::new(Reason::SealFailed, "no signing key")),
    };
    b.sign(signing_key, MessageDigest::sha256()).map_err(&e)?;
    Ok(b.build())
}

fn public_of(key: &PKeyRef<Private>) -> Result<PKey<Public>> {
    let der = key
        .public_key_to_der()
        .map_err(ssl(Reason::SealFailed, "public key"))?;
    PKey::public_key_from_der(&der).map_err(ssl(Reason::SealFailed, "public key"))
}

fn now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

/// A one-time enrollment code, as shown once to the operator. `Debug` hides the code.
#[derive(Clone)]
pub struct EnrollmentCode {
    /// The court it is bound to.
    pub court: CourtCode,
    /// What the court types: `<court>-<id>-<secret>`. Shown once; never logged.
    pub code: String,
    /// The code's public id.
    pub code_id: String,
    /// When it stops working.
    pub expires_at: OffsetDateTime,
    /// SHA-256 fingerprint of the root CA, hex: the court checks it before trusting anything.
    pub ca_fingerprint: String,
}

impl std::fmt::Debug for EnrollmentCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnrollmentCode")
            .field("court", &self.court)
            .field("code", &"<redacted>")
            .field("code_id", &self.code_id)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

impl EnrollmentCode {
    /// The expiry, RFC 3339.
    pub fn expires_rfc3339(&self) -> String {
        self.expires_at
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_else(|_| self.expires_at.to_string())
    }
}

/// What is stored for a code: never the code itself.
#[derive(Debug, Serialize, Deserialize)]
struct StoredCode {
    court: CourtCode,
    /// HMAC key derived from the secret (hex).
    mac_key: String,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    expires_at: OffsetDateTime,
}

/// The claim of a code (`codes/<id>.used`): the key it was claimed for.
#[derive(Debug, Serialize, Deserialize)]
struct CodeClaim {
    /// SHA-256 of the claiming CSR's public key (DER SubjectPublicKeyInfo), hex.
    key_sha256: String,
    #[serde(with = "time::serde::rfc3339")]
    claimed_at: OffsetDateTime,
}

/// Outcome of [`CjnPki::claim_code`].
enum Claim {
    /// Claimed by this request.
    New,
    /// Claimed earlier for the same key (an answer lost, or an interrupted enrollment).
    Resumed,
}

/// The one refusal of an enrollment request whose MAC does not verify, whatever the state of
/// the code it names (unknown, malformed, used, expired, another court's): the same reason and
/// the same words, so that it tells nothing about the code.
fn enrollment_refused() -> Error {
    Error::new(
        Reason::CodeUnknown,
        "unknown enrollment code, or a MAC that does not match it",
    )
}

/// Checks a court's CSR: well formed, signed by its key, a P-256 key, naming `court`; its key.
fn check_csr(court: CourtCode, csr_der: &[u8]) -> Result<PKey<Public>> {
    let csr = X509Req::from_der(csr_der).map_err(|e| Error::ssl(Reason::CsrInvalid, "CSR", &e))?;
    let key = csr
        .public_key()
        .map_err(|e| Error::ssl(Reason::CsrInvalid, "CSR key", &e))?;
    if !csr.verify(&key).unwrap_or(false) {
        return Err(Error::new(Reason::CsrInvalid, "CSR signature"));
    }
    let is_p256 = key
        .ec_key()
        .ok()
        .and_then(|k| k.group().curve_name())
        .is_some_and(|n| n == Nid::X9_62_PRIME256V1);
    if !is_p256 {
        return Err(Error::new(Reason::CsrInvalid, "the key must be P-256"));
    }
    let cn = csr
        .subject_name()
        .entries_by_nid(Nid::COMMONNAME)
        .next()
        .and_then(|e| e.data().to_string().ok());
    if cn.as_deref() != Some(court.to_string().as_str()) {
        return Err(Error::new(Reason::CsrInvalid, "CSR names another court"));
    }
    Ok(key)
}

/// SHA-256 of a public key's DER SubjectPublicKeyInfo, hex.
fn key_digest(key: &PKeyRef<Public>) -> Result<String> {
    let der = key
        .public_key_to_der()
        .map_err(ssl(Reason::CsrInvalid, "CSR key"))?;
    Ok(hex(&openssl::sha::sha256(&der)))
}

/// One revoked certificate.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RevokedEntry {
    /// Serial number, hex.
    pub serial: String,
    /// The court it belonged to.
    pub court: CourtCode,
    /// When it was revoked.
    #[serde(with = "time::serde::rfc3339")]
    pub revoked_at: OffsetDateTime,
}

const BASE32: &[u8; 32] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

fn random_base32(n: usize) -> Result<String> {
    let mut b = vec![0u8; n];
    openssl::rand::rand_bytes(&mut b).map_err(ssl(Reason::SealFailed, "random"))?;
    Ok(b.iter()
        .map(|x| char::from(BASE32[usize::from(x & 31)]))
        .collect())
}

fn mac_key(secret: &str) -> Result<Vec<u8>> {
    let mut h = openssl::sha::Sha256::new();
    h.update(b"xmjuris-enroll-v1\0");
    h.update(secret.to_ascii_uppercase().as_bytes());
    Ok(h.finish().to_vec())
}

fn enrollment_mac(
    key: &[u8],
    court: CourtCode,
    code_id: &str,
    csr_der: &[u8],
) -> Result<Sha256Hash> {
    let pkey = PKey::hmac(key).map_err(ssl(Reason::SealFailed, "HMAC"))?;
    let mut s =
        Signer::new(MessageDigest::sha256(), &pkey).map_err(ssl(Reason::SealFailed, "HMAC"))?;
    let e = ssl(Reason::SealFailed, "HMAC");
    s.update(b"xmjuris-enroll-v1\0").map_err(&e)?;
    s.update(court.to_string().as_bytes()).map_err(&e)?;
    s.update(b"\0").map_err(&e)?;
    s.update(code_id.as_bytes()).map_err(&e)?;
    s.update(b"\0").map_err(&e)?;
    s.update(csr_der).map_err(&e)?;
    let v = s.sign_to_vec().map_err(&e)?;
    let arr: [u8; 32] = v
        .try_into()
        .map_err(|_| Error::new(Reason::SealFailed, "HMAC length"))?;
    Ok(Sha256Hash::from_bytes(arr))
}

/// Splits a typed code `<court>-<id>-<secret>` (dashes and case free in the secret).
pub fn parse_code(code: &str) -> Result<(CourtCode, String, String)> {
    let bad = || Error::new(Reason::CodeUnknown, "malformed enrollment code");
    let mut parts = code.trim().splitn(3, '-');
    let court: CourtCode = parts.next().ok_or_else(bad)?.parse().map_err(|_| bad())?;
    let id = parts.next().ok_or_else(bad)?.to_ascii_uppercase();
    let secret: String = parts
        .next()
        .ok_or_else(bad)?
        .chars()
        .filter(|c| *c != '-')
        .collect::<String>()
        .to_ascii_uppercase();
    if id.len() != 8
        || secret.len() != 16
        || !id
            .bytes()
            .chain(secret.bytes())
            .all(|b| BASE32.contains(&b))
    {
        return Err(bad());
    }
    Ok((court, id, secret))
}

/// The CJN's PKI directory.
pub struct CjnPki {
    dir: PathBuf,
    root: X509,
    issuing: X509,
    issuing_key: PKey<Private>,
    identity: Identity,
}

impl std::fmt::Debug for CjnPki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CjnPki")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl CjnPki {
    /// Creates the root CA, the issuing CA, the CJN's certificate and an empty
    /// CRL in `dir`. Refuses if a root CA is already there.
    pub fn init(dir: &Path) -> Result<Self> {
        fs::create_dir_all(dir.join(files::CODES_DIR)).map_err(|e| Error::io(dir.display(), &e))?;
        fs::create_dir_all(dir.join(files::ISSUED_DIR))
            .map_err(|e| Error::io(dir.display(), &e))?;
        if dir.join(files::ROOT_CRT).exists() || dir.join(files::ROOT_KEY).exists() {
            return Err(Error::new(
                Reason::Io,
                format!("{} already holds a CA", dir.display()),
            ));
        }
        let t = now();
        let root_key = generate_key()?;
        let root_name = name("ca", "XMJuris CA racine")?;
        let root_pub = public_of(&root_key)?;
        let root = build_cert(
            &root_name,
            &root_pub,
            None,
            Some(&root_key),
            Profile::Root,
            t,
            ROOT_DAYS,
        )?;
        let issuing_key = generate_key()?;
        let issuing_pub = public_of(&issuing_key)?;
        let issuing = build_cert(
            &name("ca", "XMJuris CA émission")?,
            &issuing_pub,
            Some((&root, &root_key)),
            None,
            Profile::Issuing,
            t,
            ISSUING_DAYS,
        )?;
        let cjn_key = generate_key()?;
        let cjn_pub = public_of(&cjn_key)?;
        let cjn = build_cert(
            &name(SUBJECT_OU_CJN, "CJN")?,
            &cjn_pub,
            Some((&issuing, &issuing_key)),
            None,
            Profile::Leaf,
            t,
            LEAF_DAYS,
        )?;
        write_key(&dir.join(files::ROOT_KEY), &root_key)?;
        write_key(&dir.join(files::ISSUING_KEY), &issuing_key)?;
        write_key(&dir.join(files::CJN_KEY), &cjn_key)?;
        write_cert(&dir.join(files::ISSUING_CRT), &issuing)?;
        write_cert(&dir.join(files::CJN_CRT), &cjn)?;
        write_cert(&dir.join(files::ROOT_CRT), &root)?;
        write_atomic(&dir.join(files::REVOKED), b"[]", 0o644)?;
        let pki = Self {
            dir: dir.to_path_buf(),
            root,
            issuing,
            issuing_key,
            identity: Identity::new(cjn_key, cjn)?,
        };
        pki.write_crl()?;
        info!(dir = %dir.display(), "PKI created.");
        Ok(pki)
    }

    /// Opens an existing CJN PKI directory (the root key is not needed).
    pub fn open(dir: &Path) -> Result<Self> {
        Ok(Self {
            dir: dir.to_path_buf(),
            root: read_cert(&dir.join(files::ROOT_CRT))?,
            issuing: read_cert(&dir.join(files::ISSUING_CRT))?,
            issuing_key: read_key(&dir.join(files::ISSUING_KEY))?,
            identity: Identity::load(&dir.join(files::CJN_KEY), &dir.join(files::CJN_CRT))?,
        })
    }

    /// The CJN's identity (to open what courts send and seal answers).
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// The root CA certificate.
    pub fn root(&self) -> &X509 {
        &self.root
    }

    /// The issuing CA certificate.
    pub fn issuing(&self) -> &X509 {
        &self.issuing
    }

    /// SHA-256 fingerprint of the root CA, hex.
    pub fn ca_fingerprint(&self) -> Result<String> {
        seal::fingerprint(&self.root)
    }

    /// The trust store of cjn-ingest: the CA, the current CRL, and every issued
    /// court certificate that is valid now.
    pub fn trust_store(&self) -> Result<TrustStore> {
        let mut trust = TrustStore::new(self.root.clone(), vec![self.issuing.clone()]);
        trust.set_crl(self.crl()?)?;
        let dir = self.dir.join(files::ISSUED_DIR);
        let entries = fs::read_dir(&dir).map_err(|e| Error::io(dir.display(), &e))?;
        for entry in entries {
            let path = entry.map_err(|e| Error::io(dir.display(), &e))?.path();
            if path.extension().is_some_and(|x| x == "crt") {
                let cert = read_cert(&path)?;
                if let Err(e) = trust.add_peer(cert) {
                    tracing::debug!(path = %path.display(), error = %e, "Certificate skipped.");
                }
            }
        }
        Ok(trust)
    }

    /// Creates a one-time code for `court`, valid `hours`.
    pub fn new_enrollment_code(&self, court: CourtCode, hours: u32) -> Result<EnrollmentCode> {
        let code_id = random_base32(8)?;
        let secret = random_base32(16)?;
        let created_at = OffsetDateTime::now_utc();
        let expires_at = created_at + time::Duration::hours(i64::from(hours));
        let stored = StoredCode {
            court,
            mac_key: hex(&mac_key(&secret)?),
            created_at,
            expires_at,
        };
        let json = serde_json::to_vec_pretty(&stored)
            .map_err(|e| Error::new(Reason::Io, e.to_string()))?;
        let path = self
            .dir
            .join(files::CODES_DIR)
            .join(format!("{code_id}.json"));
        if path.exists() {
            return Err(Error::new(Reason::Io, "code id collision; try again"));
        }
        write_atomic(&path, &json, 0o600)?;
        let pretty_secret = format!(
            "{}-{}-{}-{}",
            &secret[0..4],
            &secret[4..8],
            &secret[8..12],
            &secret[12..16]
        );
        info!(court = %court, code_id, "Enrollment code created.");
        Ok(EnrollmentCode {
            court,
            code: format!("{court}-{code_id}-{pretty_secret}"),
            code_id,
            expires_at,
            ca_fingerprint: self.ca_fingerprint()?,
        })
    }

    /// Whether `court` was issued a certificate, or holds a code still open (neither used nor
    /// expired): `xmjuris setup cjn` makes a first code only for a court with neither.
    pub fn court_has_certificate_or_open_code(&self, court: CourtCode) -> Result<bool> {
        let issued = self.dir.join(files::ISSUED_DIR);
        let prefix = format!("{court}-");
        let entries = fs::read_dir(&issued).map_err(|e| Error::io(issued.display(), &e))?;
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(issued.display(), &e))?;
            if entry.file_name().to_string_lossy().starts_with(&prefix) {
                return Ok(true);
            }
        }
        let codes = self.dir.join(files::CODES_DIR);
        let entries = fs::read_dir(&codes).map_err(|e| Error::io(codes.display(), &e))?;
        let now = OffsetDateTime::now_utc();
        for entry in entries {
            let path = entry.map_err(|e| Error::io(codes.display(), &e))?.path();
            if path.extension().is_none_or(|x| x != "json") {
                continue;
            }
            let Ok(bytes) = fs::read(&path) else { continue };
            let Ok(stored) = serde_json::from_slice::<StoredCode>(&bytes) else {
                continue;
            };
            if stored.court == court
                && stored.expires_at > now
                && !path.with_extension("used").exists()
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Handles an enrollment request received on `court`'s enrollment topic and returns the
    /// signed answer to publish. The MAC is checked first (see the module docs: every MAC
    /// failure gets the same refusal), then the court, the CSR and the code's state; the code
    /// is claimed for the CSR's key only once all of that passed, then the certificate is
    /// issued and the answer kept. The same court asking again with the same key gets that
    /// answer again (or the enrollment an interruption left half done, completed).
    pub fn handle_enrollment(&self, topic_court: CourtCode, request: &[u8]) -> Result<Vec<u8>> {
        let messages = codec::decode(request)?;
        let [msg] = messages.as_slice() else {
            return Err(Error::new(
                Reason::DecodeFailed,
                "one enrollment request per message",
            ));
        };
        seal::check_parties(&messages, Party::Court(topic_court), Party::Cjn)?;
        let Body::EnrollmentRequest(req) = &msg.body else {
            return Err(Error::new(
                Reason::DecodeFailed,
                "not an enrollment request",
            ));
        };
        let stored = self.code_with_valid_mac(topic_court, req)?;
        // From here on the requester holds the code's secret: it may learn the code's state.
        if stored.court != topic_court {
            return Err(Error::new(
                Reason::CodeOtherCourt,
                format!("code {} is for another court", req.code_id),
            ));
        }
        let key = check_csr(topic_court, &req.csr_der)?;
        let key_sha256 = key_digest(&key)?;
        let codes = self.dir.join(files::CODES_DIR);
        let answer_path = codes.join(format!("{}.answer", req.code_id));
        match self.claim_code(&req.code_id, &stored, &key_sha256)? {
            Claim::New => {}
            Claim::Resumed => {
                if let Ok(answer) = fs::read(&answer_path) {
                    info!(court = %topic_court, code_id = %req.code_id, "Enrollment asked again with the same key: the answer is sent again.");
                    return Ok(answer);
                }
                info!(court = %topic_court, code_id = %req.code_id, "Enrollment claimed but not answered: completed now.");
            }
        }
        let cert = self.issue_for_key(topic_court, &key)?;
        let answer = self.signed_answer(topic_court, cert)?;
        write_atomic(&answer_path, &answer, 0o600)?;
        info!(court = %topic_court, code_id = %req.code_id, "Court enrolled.");
        Ok(answer)
    }

    /// The stored code named by the request, if the request's MAC verifies with it; else the
    /// one refusal [`enrollment_refused`], whatever the code's state (unknown, malformed, used,
    /// expired, another court's).
    fn code_with_valid_mac(&self, court: CourtCode, req: &EnrollmentRequest) -> Result<StoredCode> {
        let well_formed =
            req.code_id.len() == 8 && req.code_id.bytes().all(|b| BASE32.contains(&b));
        let stored: Option<StoredCode> = if well_formed {
            let path = self
                .dir
                .join(files::CODES_DIR)
                .join(format!("{}.json", req.code_id));
            match fs::read(&path) {
                Ok(b) => Some(
                    serde_json::from_slice(&b)
                        .map_err(|e| Error::new(Reason::Io, format!("code file: {e}")))?,
                ),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(e) => return Err(Error::io(path.display(), &e)),
            }
        } else {
            None
        };
        // Without a stored code the MAC is still computed (with a key nobody has), so that an
        // unknown code takes about as long to refuse as a wrong secret.
        let key = match &stored {
            Some(s) => {
                unhex(&s.mac_key).ok_or_else(|| Error::new(Reason::Io, "code file: bad key"))?
            }
            None => vec![0u8; 32],
        };
        let expected = enrollment_mac(&key, court, &req.code_id, &req.csr_der)?;
        let mac_ok = openssl::memcmp::eq(expected.as_bytes(), req.mac.as_bytes());
        match stored {
            Some(stored) if mac_ok => Ok(stored),
            _ => Err(enrollment_refused()),
        }
    }

    /// Claims the code for the key whose SHA-256 is `key_sha256`: [`Claim::New`] when this
    /// request claimed it now, [`Claim::Resumed`] when it was claimed before for this very key;
    /// [`Reason::CodeUsed`] when claimed for another key, [`Reason::CodeExpired`] when a new
    /// claim comes too late. The claim file is created exclusively and synced with its folder.
    fn claim_code(&self, code_id: &str, stored: &StoredCode, key_sha256: &str) -> Result<Claim> {
        let codes = self.dir.join(files::CODES_DIR);
        let used = codes.join(format!("{code_id}.used"));
        let claimed_for = |used: &Path| -> Result<Claim> {
            let text = fs::read(used).map_err(|e| Error::io(used.display(), &e))?;
            // A claim of an older version (a bare timestamp) names no key: used.
            match serde_json::from_slice::<CodeClaim>(&text) {
                Ok(c) if openssl::memcmp::eq(c.key_sha256.as_bytes(), key_sha256.as_bytes()) => {
                    Ok(Claim::Resumed)
                }
                _ => Err(Error::new(
                    Reason::CodeUsed,
                    format!("code {code_id} already used"),
                )),
            }
        };
        if used.exists() {
            return claimed_for(&used);
        }
        if OffsetDateTime::now_utc() > stored.expires_at {
            return Err(Error::new(
                Reason::CodeExpired,
                format!("code {code_id} expired"),
            ));
        }
        let claim = CodeClaim {
            key_sha256: key_sha256.to_owned(),
            claimed_at: OffsetDateTime::now_utc(),
        };
        let json = serde_json::to_vec(&claim).map_err(|e| Error::new(Reason::Io, e.to_string()))?;
        let written = (|| {
            use std::os::unix::fs::OpenOptionsExt as _;
            let mut f = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&used)?;
            f.write_all(&json)?;
            f.sync_all()?;
            fs::File::open(&codes)?.sync_all()
        })();
        match written {
            Ok(()) => Ok(Claim::New),
            // Another instance claimed it meanwhile: for this key, or not.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => claimed_for(&used),
            Err(e) => {
                // A claim file half written would lock the court out: remove it.
                let _ = fs::remove_file(&used);
                Err(Error::io(used.display(), &e))
            }
        }
    }

    /// Issues a court certificate for a CSR (whose subject must name `court`).
    pub fn issue(&self, court: CourtCode, csr_der: &[u8]) -> Result<X509> {
        let key = check_csr(court, csr_der)?;
        self.issue_for_key(court, &key)
    }

    /// Issues and files (`issued/`) a court certificate for a key already checked.
    fn issue_for_key(&self, court: CourtCode, key: &PKeyRef<Public>) -> Result<X509> {
        let cert = build_cert(
            &name(SUBJECT_OU_COURT, &court.to_string())?,
            key,
            Some((&self.issuing, &self.issuing_key)),
            None,
            Profile::Leaf,
            now(),
            LEAF_DAYS,
        )?;
        let serial = cert_serial(&cert)?;
        write_cert(
            &self
                .dir
                .join(files::ISSUED_DIR)
                .join(format!("{court}-{serial}.crt")),
            &cert,
        )?;
        Ok(cert)
    }

    /// Renewal, requested in a message opened from `court` (so signed with a
    /// certificate valid and not revoked): issues a new certificate for the CSR
    /// and returns the answer to seal back to the court.
    /// `signer_serial` is [`Opened::signer_serial`](crate::Opened::signer_serial).
    pub fn renew(
        &self,
        court: CourtCode,
        signer_serial: &str,
        csr_der: &[u8],
    ) -> Result<EnrollmentAnswer> {
        if self.revoked()?.iter().any(|r| r.serial == signer_serial) {
            return Err(Error::new(
                Reason::CourtRevoked,
                format!("certificate {signer_serial} is revoked"),
            ));
        }
        let cert = self.issue(court, csr_der)?;
        info!(court = %court, "Certificate renewed.");
        self.answer(cert)
    }

    fn answer(&self, court_cert: X509) -> Result<EnrollmentAnswer> {
        let der = |c: &X509Ref| c.to_der().map_err(ssl(Reason::SealFailed, "DER"));
        Ok(EnrollmentAnswer {
            court_cert_der: der(&court_cert)?,
            issuing_ca_der: der(&self.issuing)?,
            root_ca_der: der(&self.root)?,
            cjn_cert_der: der(self.identity.cert())?,
            crl_der: self
                .crl()?
                .to_der()
                .map_err(ssl(Reason::SealFailed, "DER"))?,
        })
    }

    fn signed_answer(&self, court: CourtCode, cert: X509) -> Result<Vec<u8>> {
        let msg = Message {
            header: Header::new(Party::Cjn, Party::Court(court), 0),
            body: Body::EnrollmentAnswer(self.answer(cert)?),
        };
        seal::sign(&codec::encode(&[msg])?, &self.identity)
    }

    /// The revoked certificates.
    pub fn revoked(&self) -> Result<Vec<RevokedEntry>> {
        let path = self.dir.join(files::REVOKED);
        serde_json::from_slice(&read(&path)?)
            .map_err(|e| Error::new(Reason::Io, format!("{}: {e}", path.display())))
    }

    /// Revokes every certificate issued to `court`; writes and returns the new CRL.
    pub fn revoke(&self, court: CourtCode) -> Result<X509Crl> {
        let mut revoked = self.revoked()?;
        let dir = self.dir.join(files::ISSUED_DIR);
        let prefix = format!("{court}-");
        let entries = fs::read_dir(&dir).map_err(|e| Error::io(dir.display(), &e))?;
        let mut count = 0;
        for entry in entries {
            let file = entry
                .map_err(|e| Error::io(dir.display(), &e))?
                .file_name()
                .to_string_lossy()
                .into_owned();
            let Some(serial) = file
                .strip_prefix(&prefix)
                .and_then(|s| s.strip_suffix(".crt"))
            else {
                continue;
            };
            if revoked.iter().any(|r| r.serial == serial) {
                continue;
            }
            revoked.push(RevokedEntry {
                serial: serial.to_string(),
                court,
                revoked_at: OffsetDateTime::now_utc(),
            });
            count += 1;
        }
        let json = serde_json::to_vec_pretty(&revoked)
            .map_err(|e| Error::new(Reason::Io, e.to_string()))?;
        write_atomic(&self.dir.join(files::REVOKED), &json, 0o644)?;
        info!(court = %court, certificates = count, "Court revoked.");
        self.write_crl()
    }

    /// The current CRL.
    pub fn crl(&self) -> Result<X509Crl> {
        read_crl(&self.dir.join(files::CRL))
    }

    /// Builds, signs and writes a fresh CRL from `revoked.json` (republish it
    /// before `nextUpdate`).
    pub fn write_crl(&self) -> Result<X509Crl> {
        let e = ssl(Reason::SealFailed, "CRL");
        let mut b = X509CrlBuilder::new().map_err(&e)?;
        b.set_issuer_name(self.issuing.subject_name()).map_err(&e)?;
        let t = now();
        let last = Asn1Time::from_unix(t).map_err(&e)?;
        let next = Asn1Time::from_unix(t + i64::from(CRL_DAYS) * 86_400).map_err(&e)?;
        b.set_last_update(&last).map_err(&e)?;
        b.set_next_update(&next).map_err(&e)?;
        let dummy = X509Builder::new().map_err(&e)?;
        let aki = AuthorityKeyIdentifier::new()
            .keyid(true)
            .build(&dummy.x509v3_context(Some(&self.issuing), None))
            .map_err(&e)?;
        b.append_extension(aki).map_err(&e)?;
        // CRL number: microseconds since the epoch, increasing without a state file.
        let number = (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1000).to_string();
        let number = BigNum::from_dec_str(&number).map_err(&e)?;
        b.append_extension(CrlNumber::new(number).and_then(|n| n.build()).map_err(&e)?)
            .map_err(&e)?;
        for r in self.revoked()? {
            let serial = unhex(&r.serial)
                .ok_or_else(|| Error::new(Reason::Io, "revoked.json: bad serial"))?;
            let mut rb = X509RevokedBuilder::new().map_err(&e)?;
            let bn = BigNum::from_slice(&serial)
                .and_then(|n| n.to_asn1_integer())
                .map_err(&e)?;
            rb.set_serial_number(&bn).map_err(&e)?;
            let at = Asn1Time::from_unix(r.revoked_at.unix_timestamp()).map_err(&e)?;
            rb.set_revocation_date(&at).map_err(&e)?;
            b.add_revoked(rb.build()).map_err(&e)?;
        }
        b.sort().map_err(&e)?;
        b.sign(&self.issuing_key, MessageDigest::sha256())
            .map_err(&e)?;
        let crl = b.build().map_err(&e)?;
        write_atomic(
            &self.dir.join(files::CRL),
            &crl.to_pem().map_err(&e)?,
            0o644,
        )?;
        Ok(crl)
    }
}

/// Serial number of a certificate, hex.
pub fn cert_serial(cert: &X509Ref) -> Result<String> {
    let bn = cert
        .serial_number()
        .to_bn()
        .map_err(ssl(Reason::BadCertificate, "serial"))?;
    Ok(hex(&bn.to_vec()))
}

fn csr_for(court: CourtCode, key: &PKeyRef<Private>) -> Result<Vec<u8>> {
    let e = ssl(Reason::SealFailed, "CSR");
    let mut b = X509Req::builder().map_err(&e)?;
    let subject = name(SUBJECT_OU_COURT, &court.to_string())?;
    b.set_subject_name(&subject).map_err(&e)?;
    b.set_pubkey(key).map_err(&e)?;
    b.sign(key, MessageDigest::sha256()).map_err(&e)?;
    b.build().to_der().map_err(&e)
}

fn load_or_generate_key(path: &Path) -> Result<PKey<Private>> {
    if path.exists() {
        return read_key(path);
    }
    let key = generate_key()?;
    write_key(path, &key)?;
    Ok(key)
}

/// Court side, step 1: generates the court's key in `dir` (0600; kept if it
/// exists) and returns the enrollment request to publish on
/// [`topics::enroll_request`](crate::topics::enroll_request).
pub fn court_prepare_enrollment(dir: &Path, code: &str) -> Result<(CourtCode, Vec<u8>)> {
    let (court, _, _) = parse_code(code)?;
    fs::create_dir_all(dir).map_err(|e| Error::io(dir.display(), &e))?;
    let key = load_or_generate_key(&dir.join(files::COURT_KEY))?;
    enrollment_request(code, csr_for(court, &key)?)
}

/// The enrollment request (to publish on [`topics::enroll_request`](crate::topics::enroll_request))
/// for a CSR made elsewhere (a key kept in a device): the CSR with its MAC keyed by `code`.
pub fn enrollment_request(code: &str, csr_der: Vec<u8>) -> Result<(CourtCode, Vec<u8>)> {
    let (court, code_id, secret) = parse_code(code)?;
    let mac = enrollment_mac(&mac_key(&secret)?, court, &code_id, &csr_der)?;
    let msg = Message {
        header: Header::new(Party::Court(court), Party::Cjn, 0),
        body: Body::EnrollmentRequest(EnrollmentRequest {
            code_id,
            csr_der,
            mac,
        }),
    };
    Ok((court, codec::encode(&[msg])?))
}

/// Reads the content of a SignedData without verifying it (to find the
/// certificates that will verify it).
fn unverified_content(signed_der: &[u8]) -> Result<Vec<u8>> {
    crate::der::signed_content(signed_der)
        .ok_or_else(|| Error::new(Reason::Malformed, "SignedData content"))
}

fn cert_from_der(der: &[u8]) -> Result<X509> {
    X509::from_der(der).map_err(|e| Error::ssl(Reason::BadCertificate, "certificate", &e))
}

/// Checks an [`EnrollmentAnswer`] against the expected CA fingerprint and the
/// court's key, and installs the certificates and the CRL in `dir`.
fn install_answer(
    dir: &Path,
    court: CourtCode,
    key_file: &str,
    answer: &EnrollmentAnswer,
    ca_fingerprint: &str,
) -> Result<(Identity, TrustStore)> {
    let root = cert_from_der(&answer.root_ca_der)?;
    let got = seal::fingerprint(&root)?;
    let want = ca_fingerprint.replace(':', "").to_ascii_lowercase();
    if got.len() != want.len() || !openssl::memcmp::eq(got.as_bytes(), want.as_bytes()) {
        return Err(Error::new(
            Reason::CaFingerprintMismatch,
            "the CA is not the one given with the code",
        ));
    }
    let issuing = cert_from_der(&answer.issuing_ca_der)?;
    let mut trust = TrustStore::new(root.clone(), vec![issuing.clone()]);
    let cjn = cert_from_der(&answer.cjn_cert_der)?;
    if trust.add_peer(cjn.clone())? != Party::Cjn {
        return Err(Error::new(
            Reason::CertificateMismatch,
            "the CJN certificate names a court",
        ));
    }
    let crl = X509Crl::from_der(&answer.crl_der)
        .map_err(|e| Error::ssl(Reason::BadCertificate, "CRL", &e))?;
    let crl_pem = crl.to_pem().map_err(ssl(Reason::SealFailed, "CRL"))?;
    trust.set_crl(crl)?;
    let court_cert = cert_from_der(&answer.court_cert_der)?;
    trust.verify_chain_at(&court_cert, now())?;
    let key = read_key(&dir.join(key_file))?;
    let identity = Identity::new(key, court_cert.clone())?;
    if identity.party() != Party::Court(court) {
        return Err(Error::new(
            Reason::CertificateMismatch,
            "the certificate names another court",
        ));
    }
    write_cert(&dir.join(files::ROOT_CRT), &root)?;
    write_cert(&dir.join(files::ISSUING_CRT), &issuing)?;
    write_cert(&dir.join(files::CJN_CRT), &cjn)?;
    write_atomic(&dir.join(files::CRL), &crl_pem, 0o644)?;
    if key_file == files::COURT_KEY {
        write_cert(&dir.join(files::COURT_CRT), &court_cert)?;
    } else {
        // A renewal replaces a key and its certificate, two files: the complete new pair is
        // written first, then promoted, so that a crash at any point leaves either the old pair
        // or something `court_finish_renewal` completes (never the new key with the old
        // certificate, which would lock the court out).
        write_cert(&dir.join(files::COURT_NEXT_CRT), &court_cert)?;
        court_finish_renewal(dir)?;
    }
    Ok((identity, trust))
}

/// Court side: completes a renewal whose installation was interrupted (a crash between the
/// files of the new key and certificate). Does nothing unless `court.next.crt` exists; a
/// `court.next.crt` that matches neither `court.next.key` nor `court.key` is removed.
/// Returns whether a certificate was installed. [`court_load`] calls it first.
pub fn court_finish_renewal(dir: &Path) -> Result<bool> {
    let next_crt = dir.join(files::COURT_NEXT_CRT);
    if !next_crt.exists() {
        return Ok(false);
    }
    let cert = read_cert(&next_crt)?;
    let next_key = dir.join(files::COURT_NEXT_KEY);
    let installed = if next_key.exists() {
        let key = read_key(&next_key)?;
        if Identity::new(key.clone(), cert.clone()).is_ok() {
            // Order matters: the next key is removed before the next certificate, so that
            // a crash in between still finds `court.next.crt` matching `court.key`.
            write_key(&dir.join(files::COURT_KEY), &key)?;
            write_cert(&dir.join(files::COURT_CRT), &cert)?;
            fs::remove_file(&next_key).map_err(|e| Error::io(next_key.display(), &e))?;
            true
        } else {
            false
        }
    } else {
        let key = read_key(&dir.join(files::COURT_KEY))?;
        if Identity::new(key, cert.clone()).is_ok() {
            write_cert(&dir.join(files::COURT_CRT), &cert)?;
            true
        } else {
            false
        }
    };
    fs::remove_file(&next_crt).map_err(|e| Error::io(next_crt.display(), &e))?;
    if installed {
        info!("Renewed certificate installed.");
    }
    Ok(installed)
}

/// What arrived on a court's [`topics::enroll_answer`](crate::topics::enroll_answer) topic, read
/// before anything is verified (the court has no trust yet): an answer to check and install with
/// [`court_complete_enrollment`], or the CJN's refusal of a request.
#[derive(Debug, Clone, PartialEq)]
pub enum EnrollmentReply {
    /// A certificate: check it with [`court_complete_enrollment`]. The SHA-256 fingerprint of
    /// the root CA it carries (hex), to tell the operator which one came.
    Answer {
        /// The root CA's fingerprint, lower-case hex.
        root_fingerprint: String,
    },
    /// A refusal: its signature is not verified (a forged one can only stop an enrollment, as
    /// anyone able to publish on the topic could anyway); the request it names, the reason and
    /// the CJN's detail.
    Rejection(crate::message::Rejection),
}

/// Reads what arrived on the enrollment answer topic of `court` (see [`EnrollmentReply`]).
pub fn enrollment_reply(answer: &[u8], court: CourtCode) -> Result<EnrollmentReply> {
    if answer.len() > seal::MAX_SEALED_BYTES {
        return Err(Error::new(Reason::TooLarge, "answer too large"));
    }
    let messages = codec::decode(&unverified_content(answer)?)?;
    seal::check_parties(&messages, Party::Cjn, Party::Court(court))?;
    match messages.into_iter().next().map(|m| m.body) {
        Some(Body::EnrollmentAnswer(a)) => {
            let root = cert_from_der(&a.root_ca_der)?;
            Ok(EnrollmentReply::Answer {
                root_fingerprint: seal::fingerprint(&root)?,
            })
        }
        Some(Body::Rejection(r)) => Ok(EnrollmentReply::Rejection(r)),
        _ => Err(Error::new(
            Reason::DecodeFailed,
            "neither an enrollment answer nor a rejection",
        )),
    }
}

/// The message id of an enrollment request (to match the CJN's rejection to it).
pub fn enrollment_request_id(request: &[u8]) -> Result<uuid::Uuid> {
    codec::decode(request)?
        .first()
        .map(|m| m.header.message_id)
        .ok_or_else(|| Error::new(Reason::DecodeFailed, "empty enrollment request"))
}

/// Court side, step 2: checks the answer received on
/// [`topics::enroll_answer`](crate::topics::enroll_answer) (root CA fingerprint
/// = the one given with the code, signed by the CJN's certificate that chains to
/// it, certificate for this court and this key) and installs everything in `dir`.
pub fn court_complete_enrollment(
    dir: &Path,
    court: CourtCode,
    ca_fingerprint: &str,
    answer: &[u8],
) -> Result<(Identity, TrustStore)> {
    if answer.len() > seal::MAX_SEALED_BYTES {
        return Err(Error::new(Reason::TooLarge, "answer too large"));
    }
    let messages = codec::decode(&unverified_content(answer)?)?;
    seal::check_parties(&messages, Party::Cjn, Party::Court(court))?;
    let [
        Message {
            body: Body::EnrollmentAnswer(ans),
            ..
        },
    ] = messages.as_slice()
    else {
        return Err(Error::new(Reason::DecodeFailed, "not an enrollment answer"));
    };
    // Check the fingerprint and chains first, then the CJN's signature.
    let (identity, trust) = install_answer_checked(dir, court, ans, ca_fingerprint, answer)?;
    info!(court = %court, "Enrollment complete.");
    Ok((identity, trust))
}

fn install_answer_checked(
    dir: &Path,
    court: CourtCode,
    ans: &EnrollmentAnswer,
    ca_fingerprint: &str,
    signed: &[u8],
) -> Result<(Identity, TrustStore)> {
    // Verify before writing anything: build the trust as install_answer would.
    let root = cert_from_der(&ans.root_ca_der)?;
    let got = seal::fingerprint(&root)?;
    let want = ca_fingerprint.replace(':', "").to_ascii_lowercase();
    if got.len() != want.len() || !openssl::memcmp::eq(got.as_bytes(), want.as_bytes()) {
        return Err(Error::new(
            Reason::CaFingerprintMismatch,
            "the CA is not the one given with the code",
        ));
    }
    let mut trust = TrustStore::new(root, vec![cert_from_der(&ans.issuing_ca_der)?]);
    trust.add_peer(cert_from_der(&ans.cjn_cert_der)?)?;
    seal::verify_signed(signed.to_vec(), &trust, Party::Cjn)?;
    install_answer(dir, court, files::COURT_KEY, ans, ca_fingerprint)
}

/// Court side, renewal step 1: the next key in `court.next.key` (0600; generated the first
/// time, the same key for every request until a renewal is installed, so that whichever
/// answer arrives, even late, matches it) and the CSR to send in a
/// [`RenewalRequest`](crate::RenewalRequest), sealed with the current certificate.
pub fn court_prepare_renewal(dir: &Path, court: CourtCode) -> Result<Vec<u8>> {
    let key = load_or_generate_key(&dir.join(files::COURT_NEXT_KEY))?;
    csr_for(court, &key)
}

/// Court side: whether a renewal was requested and not installed yet (`court.next.key` exists).
pub fn court_renewal_pending(dir: &Path) -> bool {
    dir.join(files::COURT_NEXT_KEY).exists()
}

/// Court side, renewal step 2: installs the answer (opened from the CJN with
/// [`open_messages`](crate::open_messages)); the CA must be the installed one and the
/// certificate must be for `court.next.key` (else [`Reason::CertificateMismatch`], nothing
/// written). Crash-safe: see [`court_finish_renewal`].
pub fn court_complete_renewal(
    dir: &Path,
    court: CourtCode,
    answer: &EnrollmentAnswer,
) -> Result<(Identity, TrustStore)> {
    let root = read_cert(&dir.join(files::ROOT_CRT))?;
    let fp = seal::fingerprint(&root)?;
    install_answer(dir, court, files::COURT_NEXT_KEY, answer, &fp)
}

/// Loads a court's identity and trust store from its PKI directory (first completing a
/// renewal a crash interrupted: [`court_finish_renewal`]).
pub fn court_load(dir: &Path) -> Result<(Identity, TrustStore)> {
    court_finish_renewal(dir)?;
    let identity = Identity::load(&dir.join(files::COURT_KEY), &dir.join(files::COURT_CRT))?;
    let mut trust = TrustStore::new(
        read_cert(&dir.join(files::ROOT_CRT))?,
        vec![read_cert(&dir.join(files::ISSUING_CRT))?],
    );
    trust.add_peer(read_cert(&dir.join(files::CJN_CRT))?)?;
    let crl_path = dir.join(files::CRL);
    if crl_path.exists() {
        trust.set_crl(read_crl(&crl_path)?)?;
    }
    Ok((identity, trust))
}

/// Court side: applies a CRL received from the CJN (signature checked, older
/// ones ignored) and saves it in `dir`.
pub fn court_apply_crl(dir: &Path, trust: &mut TrustStore, crl_der: &[u8]) -> Result<bool> {
    let crl =
        X509Crl::from_der(crl_der).map_err(|e| Error::ssl(Reason::BadCertificate, "CRL", &e))?;
    let pem = crl.to_pem().map_err(ssl(Reason::SealFailed, "CRL"))?;
    if trust.set_crl(crl)? {
        write_atomic(&dir.join(files::CRL), &pem, 0o644)?;
        return Ok(true);
    }
    Ok(false)
}
