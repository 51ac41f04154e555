//! What cjn-ingest trusts: the XMJuris CA, every court certificate it knows, and the
//! revocations of the CRL.
//!
//! The court certificates come from `registry.court_certificate` (all of them at start, then a
//! court's again when one of its messages names a key we do not know, at most every
//! [`REFRESH_COURT_SECS`]), plus what the PKI directory's `issued/` holds and the registry does
//! not (certificates issued by another tool), recorded at start. They live in one
//! [`TrustStore`] indexed by key id, so `open` finds a signer in constant time whatever the
//! number of courts; a second index gives each court's newest certificate (to seal answers).
//!
//! Parsing a certificate takes OpenSSL 3.0 about 0.4 ms (its key decoders): 40 s for 100 000
//! courts. So the registry's certificates are kept as DER at start and parsed per court when
//! that court's first message comes (before `open`), while a background task
//! ([`Trust::warm_up`]) parses the rest in small steps; the daemon serves at once.
//!
//! Revocation is stricter than `protocol::open`'s check at signing time: a message signed with
//! a certificate the CRL lists is refused whenever it was signed (a court's listener seals at
//! sending time, so a re-enrolled court simply sends it again with its new certificate). The
//! store used by `open` therefore holds no CRL; [`Trust::is_revoked`] is checked right after.

use std::collections::{HashMap, HashSet};
use std::sync::RwLock;
use std::time::{Duration, Instant};

use openssl::x509::{X509, X509Crl, X509Ref};
use protocol::{CourtCode, Identity, Message, Opened, Party, TrustStore};
use time::OffsetDateTime;

use crate::Error;
use crate::store::CertInfo;

/// A court's certificates are read again from the database at most this often.
pub const REFRESH_COURT_SECS: u64 = 10;

/// The trust of one daemon, shared by its workers.
pub struct Trust {
    inner: RwLock<Inner>,
    /// Validates CRLs (CA only: root and issuing).
    crl_checker: RwLock<TrustStore>,
    refreshed: std::sync::Mutex<HashMap<CourtCode, Instant>>,
}

struct Inner {
    store: TrustStore,
    by_court: HashMap<CourtCode, Vec<X509>>,
    /// Every known serial, parsed or not.
    serials: HashSet<String>,
    /// Certificates read from the registry and not parsed yet (serial, DER), by court.
    unparsed: HashMap<CourtCode, Vec<(String, Vec<u8>)>>,
    revoked: HashSet<String>,
    crl_der: Vec<u8>,
}

impl Inner {
    /// Indexes a parsed certificate; its court.
    fn insert(&mut self, cert: X509, serial: &str) -> Result<CourtCode, Error> {
        let Some(Party::Court(court)) = protocol::seal::party_of(&cert) else {
            return Err(Error::Pki(format!("certificate {serial} names no court")));
        };
        self.store
            .add_peer_unchecked(cert.clone())
            .map_err(|e| Error::Pki(format!("certificate {serial}: {e}")))?;
        let list = self.by_court.entry(court).or_default();
        list.push(cert);
        // Newest last: the one answers are sealed for.
        list.sort_by(|a, b| {
            a.not_before()
                .compare(b.not_before())
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        Ok(court)
    }

    /// Parses and indexes the certificates of `court` kept as DER; how many there were.
    fn parse_court(&mut self, court: CourtCode) -> usize {
        let Some(list) = self.unparsed.remove(&court) else {
            return 0;
        };
        let n = list.len();
        for (serial, der) in list {
            let parsed = X509::from_der(&der)
                .map_err(|e| Error::Pki(format!("certificate {serial}: {e}")))
                .and_then(|cert| self.insert(cert, &serial));
            match parsed {
                Ok(c) if c == court => {}
                Ok(c) => {
                    tracing::warn!(serial, court = %court, names = %c, "Certificate of the registry names another court.")
                }
                Err(e) => {
                    tracing::warn!(serial, court = %court, error = %e, "Certificate of the registry skipped.")
                }
            }
        }
        n
    }
}

/// Serial number of a certificate, hex (as `protocol::pki::cert_serial` and `Opened::signer_serial`).
pub fn serial_hex(cert: &X509Ref) -> Result<String, Error> {
    protocol::pki::cert_serial(cert).map_err(|e| Error::Pki(format!("certificate serial: {e}")))
}

fn ssl(what: &'static str) -> impl Fn(openssl::error::ErrorStack) -> Error {
    move |e| Error::Pki(format!("{what}: {e}"))
}

/// An ASN.1 time as an instant.
fn instant(t: &openssl::asn1::Asn1TimeRef) -> Result<OffsetDateTime, Error> {
    let epoch = openssl::asn1::Asn1Time::from_unix(0).map_err(ssl("time"))?;
    let d = epoch.diff(t).map_err(ssl("time"))?;
    OffsetDateTime::from_unix_timestamp(i64::from(d.days) * 86_400 + i64::from(d.secs))
        .map_err(|e| Error::Pki(format!("time: {e}")))
}

/// What the registry records of a court certificate.
pub fn cert_info(cert: &X509Ref) -> Result<CertInfo, Error> {
    let Some(Party::Court(court)) = protocol::seal::party_of(cert) else {
        return Err(Error::Pki("the certificate names no court".into()));
    };
    let ski = cert
        .subject_key_id()
        .map(|k| protocol::ids::hex(k.as_slice()))
        .ok_or_else(|| Error::Pki("certificate without subject key id".into()))?;
    Ok(CertInfo {
        court_code: court.to_string(),
        serial: serial_hex(cert)?,
        subject_key_id: ski,
        not_before: instant(cert.not_before())?,
        not_after: instant(cert.not_after())?,
        der: cert.to_der().map_err(ssl("certificate DER"))?,
    })
}

/// The revoked serials of a CRL, with their revocation times.
pub fn crl_entries(crl: &X509Crl) -> Result<Vec<(String, OffsetDateTime)>, Error> {
    let mut out = Vec::new();
    if let Some(stack) = crl.get_revoked() {
        for r in stack {
            let serial = r
                .serial_number()
                .to_bn()
                .map_err(ssl("CRL serial"))?
                .to_vec();
            out.push((protocol::ids::hex(&serial), instant(r.revocation_date())?));
        }
    }
    Ok(out)
}

impl Trust {
    /// The CA of `pki`, and the CJN's own certificate (so that the CJN's signed answers can
    /// be read back), no court yet.
    pub fn new(pki: &protocol::pki::CjnPki) -> Result<Trust, Error> {
        let ca = TrustStore::new(pki.root().clone(), vec![pki.issuing().clone()]);
        let mut store = ca.clone();
        store
            .add_peer(pki.identity().cert().clone())
            .map_err(|e| Error::Pki(format!("the CJN certificate: {e}")))?;
        Ok(Trust {
            inner: RwLock::new(Inner {
                store,
                by_court: HashMap::new(),
                serials: HashSet::new(),
                unparsed: HashMap::new(),
                revoked: HashSet::new(),
                crl_der: Vec::new(),
            }),
            crl_checker: RwLock::new(ca),
            refreshed: std::sync::Mutex::new(HashMap::new()),
        })
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether a certificate with this serial is known.
    pub fn knows(&self, serial: &str) -> bool {
        self.read().serials.contains(serial)
    }

    /// Adds a court certificate (its chain is checked by `open`, at signing time); returns its
    /// court, or `None` if it was known already.
    pub fn add(&self, cert: X509) -> Result<Option<CourtCode>, Error> {
        let serial = serial_hex(&cert)?;
        let mut inner = self.write();
        if inner.serials.contains(&serial) {
            return Ok(None);
        }
        let court = inner.insert(cert, &serial)?;
        inner.serials.insert(serial);
        Ok(Some(court))
    }

    /// Adds a certificate of the registry, kept as DER until its court needs it; false if its
    /// serial was known already.
    pub fn add_der(&self, court: CourtCode, serial: String, der: Vec<u8>) -> bool {
        let mut inner = self.write();
        if !inner.serials.insert(serial.clone()) {
            return false;
        }
        inner.unparsed.entry(court).or_default().push((serial, der));
        true
    }

    /// Parses the certificates of `court` still kept as DER (under the write lock: a court has
    /// a few certificates, and nobody may see it half-loaded).
    fn prepare(&self, court: CourtCode) {
        if !self.read().unparsed.contains_key(&court) {
            return;
        }
        let mut inner = self.write();
        inner.parse_court(court);
    }

    /// Parses up to about `budget` certificates kept as DER; returns how many courts remain.
    pub fn warm_up(&self, budget: usize) -> usize {
        let mut inner = self.write();
        let mut done = 0;
        while done < budget {
            let Some(court) = inner.unparsed.keys().next().copied() else {
                break;
            };
            done += inner.parse_court(court);
        }
        inner.unparsed.len()
    }

    /// How many court certificates are known (parsed or not).
    pub fn court_certificates(&self) -> usize {
        self.read().serials.len()
    }

    /// Opens an envelope received on `topic` (CPU-bound: call it off the async threads).
    pub fn open(
        &self,
        topic: &str,
        sealed: &[u8],
        me: &Identity,
    ) -> protocol::Result<(Opened, Vec<Message>)> {
        if let Some((court, _)) = protocol::topics::parse(topic) {
            self.prepare(court);
        }
        let inner = self.read();
        protocol::open_from_topic(topic, sealed, me, &inner.store)
    }

    /// Verifies a SignedData of the CJN's own (the enrollment answers it just made).
    pub fn verify_own(&self, signed: &[u8]) -> protocol::Result<Opened> {
        let inner = self.read();
        protocol::verify_signed(signed.to_vec(), &inner.store, Party::Cjn)
    }

    /// Whether the CRL lists this serial.
    pub fn is_revoked(&self, serial: &str) -> bool {
        self.read().revoked.contains(serial)
    }

    /// The court's certificate `serial` (its newest when `None` or not the court's), to seal
    /// answers for it (even if revoked: it still holds the key that reads our rejection).
    pub fn recipient(&self, court: CourtCode, serial: Option<&str>) -> Option<X509> {
        self.prepare(court);
        let inner = self.read();
        let list = inner.by_court.get(&court)?;
        serial
            .and_then(|s| {
                list.iter()
                    .find(|c| serial_hex(c).is_ok_and(|x| x == s))
                    .cloned()
            })
            .or_else(|| list.last().cloned())
    }

    /// The current CRL, DER (empty before the first [`Trust::set_crl`]).
    pub fn crl_der(&self) -> Vec<u8> {
        self.read().crl_der.clone()
    }

    /// Installs a CRL after checking it is signed by the issuing CA and not older than the
    /// current one; returns its entries if it replaced the current one.
    pub fn set_crl(&self, crl_der: &[u8]) -> Result<Option<Vec<(String, OffsetDateTime)>>, Error> {
        if self.read().crl_der == crl_der {
            return Ok(None);
        }
        let crl = X509Crl::from_der(crl_der).map_err(ssl("CRL"))?;
        let entries = crl_entries(&crl)?;
        let newer = self
            .crl_checker
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .set_crl(crl)
            .map_err(|e| Error::Pki(format!("CRL: {e}")))?;
        if !newer {
            return Ok(None);
        }
        let mut inner = self.write();
        inner.revoked = entries.iter().map(|(s, _)| s.clone()).collect();
        inner.crl_der = crl_der.to_vec();
        Ok(Some(entries))
    }

    /// Whether this court's certificates may be read again from the database now (rate limit).
    pub fn may_refresh(&self, court: CourtCode) -> bool {
        let mut map = self.refreshed.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        match map.get(&court) {
            Some(t) if now.duration_since(*t) < Duration::from_secs(REFRESH_COURT_SECS) => false,
            _ => {
                map.insert(court, now);
                true
            }
        }
    }
}
