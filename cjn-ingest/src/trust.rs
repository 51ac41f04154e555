//! What cjn-ingest trusts: the XMJuris CA, every court certificate it knows, and the
//! revocations of the CRL.
//!
//! The court certificates come from `registry.court_certificate` (all of them at start, then a
//! court's again when one of its messages names a key we do not know, at most every
//! [`REFRESH_COURT_SECS`]), plus what the PKI directory's `issued/` holds and the registry does
//! not (certificates issued by another tool), recorded at start.
//!
//! Every certificate is kept as DER, by court (a few hundred bytes each). A parsed certificate
//! costs OpenSSL 3.0 5–7 kB (mostly its key) and 0.5 ms to parse, so only the courts in use are
//! parsed: a court's certificates are parsed on its first message into a small [`TrustStore`] of its own (the CA, the CJN and that court's certificates) kept
//! in a bounded cache of the most recently used courts ([`DEFAULT_PARSED_COURTS`],
//! `ingest.parsed_courts`); a court evicted is parsed again when it comes back. `open` uses the
//! topic's court's store: it finds the signer in constant time whatever the number of courts,
//! and holds no lock while it verifies. A message signed by a certificate its court's store
//! lacks is tried again against every court in the cache, so that one signed by another
//! court's key is refused as `signer_mismatch`, as with one store of every court (a court
//! absent from the cache makes it `unknown_signer`: refused all the same).
//!
//! Revocation is stricter than `protocol::open`'s check at signing time: a message signed with
//! a certificate the CRL lists is refused whenever it was signed (a court's listener seals at
//! sending time, so a re-enrolled court simply sends it again with its new certificate). The
//! stores used by `open` therefore hold no CRL; [`Trust::is_revoked`] is checked right after.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use openssl::x509::{X509, X509Crl, X509Ref};
use protocol::{CourtCode, Identity, Message, Opened, Party, Reason, TrustStore};
use time::OffsetDateTime;

use crate::Error;
use crate::store::CertInfo;

/// A court's certificates are read again from the database at most this often.
pub const REFRESH_COURT_SECS: u64 = 10;

/// How many courts' certificates are kept parsed by default (5–7 kB a court).
pub const DEFAULT_PARSED_COURTS: usize = 2000;

/// The trust of one daemon, shared by its workers.
pub struct Trust {
    /// The CA and the CJN's own certificate: what every court's store starts from.
    base: TrustStore,
    inner: RwLock<Inner>,
    /// Validates CRLs (CA only: root and issuing).
    crl_checker: RwLock<TrustStore>,
    refreshed: std::sync::Mutex<HashMap<CourtCode, Instant>>,
    /// How many courts stay parsed.
    parsed_courts: usize,
    /// Use counter (the cache evicts the least recently used courts).
    clock: AtomicU64,
}

/// A court certificate as the registry holds it.
#[derive(Clone)]
struct Der {
    serial: Box<str>,
    der: Box<[u8]>,
}

/// A court's certificates, parsed.
struct Parsed {
    /// The CA, the CJN's certificate and the court's certificates.
    store: TrustStore,
    /// The court's certificates with their serials, newest last (the one answers are sealed for).
    certs: Vec<(String, X509)>,
    /// How many of the court's DER certificates it was made from.
    from: usize,
    last_used: AtomicU64,
}

struct Inner {
    /// Every court certificate, DER, in the order it came.
    courts: HashMap<CourtCode, Vec<Der>>,
    /// Every known serial.
    serials: HashSet<Box<str>>,
    /// The courts in use, parsed (at most `Trust::parsed_courts`).
    parsed: HashMap<CourtCode, Arc<Parsed>>,
    revoked: HashSet<String>,
    crl_der: Vec<u8>,
}

impl Parsed {
    /// The store of `certs` (sorted here, newest last).
    fn new(
        base: &TrustStore,
        mut certs: Vec<(String, X509)>,
        from: usize,
        now: u64,
    ) -> Result<Parsed, Error> {
        certs.sort_by(|(_, a), (_, b)| {
            a.not_before()
                .compare(b.not_before())
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        let mut store = base.clone();
        for (serial, cert) in &certs {
            store
                .add_peer_unchecked(cert.clone())
                .map_err(|e| Error::Pki(format!("certificate {serial}: {e}")))?;
        }
        Ok(Parsed {
            store,
            certs,
            from,
            last_used: AtomicU64::new(now),
        })
    }

    /// Parses a court's DER certificates (those naming another court, or unreadable, skipped).
    fn parse(base: &TrustStore, court: CourtCode, ders: &[Der], now: u64) -> Parsed {
        let mut certs = Vec::with_capacity(ders.len());
        for Der { serial, der } in ders {
            match X509::from_der(der) {
                Ok(cert) => match protocol::seal::party_of(&cert) {
                    Some(Party::Court(c)) if c == court => certs.push((serial.to_string(), cert)),
                    _ => {
                        tracing::warn!(%serial, court = %court, "Certificate of the registry names another party; skipped.")
                    }
                },
                Err(e) => {
                    tracing::warn!(%serial, court = %court, error = %e, "Certificate of the registry skipped.")
                }
            }
        }
        // Each certificate names the court: adding it to a store cannot fail.
        Parsed::new(base, certs, ders.len(), now).unwrap_or_else(|e| {
            tracing::warn!(court = %court, error = %e, "Certificates of the registry skipped.");
            Parsed {
                store: base.clone(),
                certs: Vec::new(),
                from: ders.len(),
                last_used: AtomicU64::new(now),
            }
        })
    }
}

impl Inner {
    /// Caches a court's parsed certificates, evicting the least recently used courts (an
    /// eighth of the cache at once) when it is full.
    fn cache(&mut self, court: CourtCode, parsed: Arc<Parsed>, capacity: usize) {
        if !self.parsed.contains_key(&court) && self.parsed.len() >= capacity {
            let evict = (self.parsed.len() + 1 - capacity + capacity / 8).min(self.parsed.len());
            if evict > 0 {
                let mut ticks: Vec<u64> = self
                    .parsed
                    .values()
                    .map(|p| p.last_used.load(Ordering::Relaxed))
                    .collect();
                let (_, cutoff, _) = ticks.select_nth_unstable(evict - 1);
                let cutoff = *cutoff;
                self.parsed
                    .retain(|_, p| p.last_used.load(Ordering::Relaxed) > cutoff);
            }
        }
        self.parsed.insert(court, parsed);
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
    /// be read back), no court yet; [`DEFAULT_PARSED_COURTS`] courts kept parsed.
    pub fn new(pki: &protocol::pki::CjnPki) -> Result<Trust, Error> {
        Trust::with_parsed_courts(pki, DEFAULT_PARSED_COURTS)
    }

    /// As [`Trust::new`], with the certificates of at most `parsed_courts` courts kept parsed.
    pub fn with_parsed_courts(
        pki: &protocol::pki::CjnPki,
        parsed_courts: usize,
    ) -> Result<Trust, Error> {
        let ca = TrustStore::new(pki.root().clone(), vec![pki.issuing().clone()]);
        let mut base = ca.clone();
        base.add_peer(pki.identity().cert().clone())
            .map_err(|e| Error::Pki(format!("the CJN certificate: {e}")))?;
        Ok(Trust {
            base,
            inner: RwLock::new(Inner {
                courts: HashMap::new(),
                serials: HashSet::new(),
                parsed: HashMap::new(),
                revoked: HashSet::new(),
                crl_der: Vec::new(),
            }),
            crl_checker: RwLock::new(ca),
            refreshed: std::sync::Mutex::new(HashMap::new()),
            parsed_courts: parsed_courts.max(1),
            clock: AtomicU64::new(0),
        })
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|p| p.into_inner())
    }

    fn tick(&self) -> u64 {
        self.clock.fetch_add(1, Ordering::Relaxed)
    }

    /// Whether a certificate with this serial is known.
    pub fn knows(&self, serial: &str) -> bool {
        self.read().serials.contains(serial)
    }

    /// Adds a court certificate (its chain is checked by `open`, at signing time); returns its
    /// court, or `None` if it was known already.
    pub fn add(&self, cert: X509) -> Result<Option<CourtCode>, Error> {
        let serial = serial_hex(&cert)?;
        let Some(Party::Court(court)) = protocol::seal::party_of(&cert) else {
            return Err(Error::Pki(format!("certificate {serial} names no court")));
        };
        let der = cert.to_der().map_err(ssl("certificate DER"))?;
        let mut inner = self.write();
        if inner.serials.contains(serial.as_str()) {
            return Ok(None);
        }
        // Parsed already (an enrollment or a renewal): the court's store gets it at once.
        let from = inner.courts.get(&court).map_or(0, Vec::len) + 1;
        let updated = match inner.parsed.get(&court) {
            Some(old) if old.from + 1 == from => {
                let mut certs = old.certs.clone();
                certs.push((serial.clone(), cert));
                Some(Parsed::new(&self.base, certs, from, self.tick())?)
            }
            _ => None,
        };
        match updated {
            Some(p) => {
                inner.parsed.insert(court, Arc::new(p));
            }
            None => {
                inner.parsed.remove(&court);
            }
        }
        inner.serials.insert(serial.clone().into());
        inner.courts.entry(court).or_default().push(Der {
            serial: serial.into(),
            der: der.into(),
        });
        Ok(Some(court))
    }

    /// Adds a certificate of the registry, kept as DER until its court needs it; false if its
    /// serial was known already.
    pub fn add_der(&self, court: CourtCode, serial: String, der: Vec<u8>) -> bool {
        let mut inner = self.write();
        if inner.serials.contains(serial.as_str()) {
            return false;
        }
        inner.serials.insert(serial.clone().into());
        inner.courts.entry(court).or_default().push(Der {
            serial: serial.into(),
            der: der.into(),
        });
        inner.parsed.remove(&court);
        true
    }

    /// The court's certificates, parsed (from the cache, or now: outside the lock, then cached
    /// unless the court got another certificate meanwhile); `None` if it has none.
    fn parsed(&self, court: CourtCode) -> Option<Arc<Parsed>> {
        loop {
            let ders = {
                let inner = self.read();
                if let Some(p) = inner.parsed.get(&court) {
                    p.last_used.store(self.tick(), Ordering::Relaxed);
                    return Some(p.clone());
                }
                inner.courts.get(&court)?.clone()
            };
            let parsed = Arc::new(Parsed::parse(&self.base, court, &ders, self.tick()));
            let mut inner = self.write();
            if let Some(p) = inner.parsed.get(&court) {
                return Some(p.clone());
            }
            if inner.courts.get(&court).map_or(0, Vec::len) == ders.len() {
                inner.cache(court, parsed.clone(), self.parsed_courts);
                return Some(parsed);
            }
        }
    }

    /// How many court certificates are known (parsed or not).
    pub fn court_certificates(&self) -> usize {
        self.read().serials.len()
    }

    /// How many courts' certificates are parsed now.
    pub fn parsed_courts(&self) -> usize {
        self.read().parsed.len()
    }

    /// Opens an envelope received on `topic` (CPU-bound: call it off the async threads).
    pub fn open(
        &self,
        topic: &str,
        sealed: &[u8],
        me: &Identity,
    ) -> protocol::Result<(Opened, Vec<Message>)> {
        let court = protocol::topics::parse(topic).map(|(court, _)| court);
        let parsed = court.and_then(|c| self.parsed(c));
        let store = parsed.as_ref().map_or(&self.base, |p| &p.store);
        match protocol::open_from_topic(topic, sealed, me, store) {
            Err(e) if e.reason() == Reason::UnknownSigner => {
                // Signed by another court's certificate? (Then `signer_mismatch`.)
                let wide = self.every_parsed_court(store);
                if wide.peer_count() == store.peer_count() {
                    return Err(e);
                }
                protocol::open_from_topic(topic, sealed, me, &wide)
            }
            r => r,
        }
    }

    /// `store` and the certificates of every court in the cache.
    fn every_parsed_court(&self, store: &TrustStore) -> TrustStore {
        let mut wide = store.clone();
        let others: Vec<Arc<Parsed>> = self.read().parsed.values().cloned().collect();
        for p in others {
            for (_, cert) in &p.certs {
                let _ = wide.add_peer_unchecked(cert.clone());
            }
        }
        wide
    }

    /// Verifies a SignedData of the CJN's own (the enrollment answers it just made).
    pub fn verify_own(&self, signed: &[u8]) -> protocol::Result<Opened> {
        protocol::verify_signed(signed.to_vec(), &self.base, Party::Cjn)
    }

    /// The court's certificate `serial` (its newest when `None` or not the court's), to seal
    /// answers for it (even if revoked: it still holds the key that reads our rejection).
    pub fn recipient(&self, court: CourtCode, serial: Option<&str>) -> Option<X509> {
        let parsed = self.parsed(court)?;
        serial
            .and_then(|s| parsed.certs.iter().find(|(x, _)| x == s))
            .or_else(|| parsed.certs.last())
            .map(|(_, c)| c.clone())
    }

    /// Whether the CRL lists this serial.
    pub fn is_revoked(&self, serial: &str) -> bool {
        self.read().revoked.contains(serial)
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use openssl::asn1::Asn1Time;
    use openssl::hash::MessageDigest;
    use openssl::nid::Nid;
    use openssl::x509::{X509Builder, X509NameBuilder};

    /// A certificate of `court` (serial `serial`, valid from `days` from now).
    fn cert(
        pki: &protocol::pki::CjnPki,
        dir: &std::path::Path,
        court: &str,
        serial: u32,
        days: u32,
    ) -> X509 {
        let key = protocol::pki::generate_key().unwrap();
        let issuing_key =
            protocol::pki::read_key(&dir.join(protocol::pki::files::ISSUING_KEY)).unwrap();
        let mut name = X509NameBuilder::new().unwrap();
        name.append_entry_by_nid(Nid::ORGANIZATIONNAME, "XMJuris")
            .unwrap();
        name.append_entry_by_nid(Nid::ORGANIZATIONALUNITNAME, "juridiction")
            .unwrap();
        name.append_entry_by_nid(Nid::COMMONNAME, court).unwrap();
        let name = name.build();
        let mut b = X509Builder::new().unwrap();
        b.set_version(2).unwrap();
        let serial = openssl::bn::BigNum::from_u32(serial).unwrap();
        b.set_serial_number(&serial.to_asn1_integer().unwrap())
            .unwrap();
        b.set_subject_name(&name).unwrap();
        b.set_issuer_name(pki.issuing().subject_name()).unwrap();
        b.set_pubkey(&key).unwrap();
        b.set_not_before(&Asn1Time::days_from_now(days).unwrap())
            .unwrap();
        b.set_not_after(&Asn1Time::days_from_now(days + 700).unwrap())
            .unwrap();
        b.sign(&issuing_key, MessageDigest::sha256()).unwrap();
        b.build()
    }

    #[test]
    fn courts_parsed_on_demand_in_a_bounded_cache() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("pki");
        let pki = protocol::pki::CjnPki::init(&dir).unwrap();
        let trust = Trust::with_parsed_courts(&pki, 8).unwrap();
        let mut serials = Vec::new();
        for i in 1..=40u32 {
            let court: CourtCode = format!("{i:05}").parse().unwrap();
            let c = cert(&pki, &dir, &court.to_string(), 100 + i, 0);
            let serial = serial_hex(&c).unwrap();
            assert!(trust.add_der(court, serial.clone(), c.to_der().unwrap()));
            assert!(!trust.add_der(court, serial.clone(), c.to_der().unwrap()));
            serials.push((court, serial));
        }
        assert_eq!(trust.court_certificates(), 40);
        assert_eq!(trust.parsed_courts(), 0);
        // Every court found, twice over, with at most 8 parsed at a time.
        for _ in 0..2 {
            for (court, serial) in &serials {
                let c = trust.recipient(*court, None).unwrap();
                assert_eq!(&serial_hex(&c).unwrap(), serial);
                assert!(trust.parsed_courts() <= 8);
            }
        }
        assert!(trust.recipient("99999".parse().unwrap(), None).is_none());

        // A renewal of a court parsed: the newest certificate at once, the old one still found.
        let (court, old) = serials[39].clone();
        let renewed = cert(&pki, &dir, &court.to_string(), 999, 1);
        assert_eq!(trust.add(renewed.clone()).unwrap(), Some(court));
        assert_eq!(trust.add(renewed).unwrap(), None);
        let newest = serial_hex(&trust.recipient(court, None).unwrap()).unwrap();
        assert_eq!(newest, "03e7");
        let again = trust.recipient(court, Some(&old)).unwrap();
        assert_eq!(serial_hex(&again).unwrap(), old);
        // And of a court not parsed (evicted).
        let (court, _) = serials[0].clone();
        trust
            .add(cert(&pki, &dir, &court.to_string(), 1000, 1))
            .unwrap();
        let newest = serial_hex(&trust.recipient(court, None).unwrap()).unwrap();
        assert_eq!(newest, "03e8");
        assert!(trust.knows("03e8"));
    }
}
