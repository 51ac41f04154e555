//! Every rejection path of `open` and of the enrollment, with its reason code.
#![allow(clippy::unwrap_used)]

mod common;

use protocol::pki::{self, CjnPki};
use protocol::{CourtCode, Party, Reason, codec, open, open_messages, seal, seal_messages};

fn reason<T: std::fmt::Debug>(r: protocol::Result<T>) -> Reason {
    r.unwrap_err().reason()
}

#[test]
fn tampered_truncated_oversized_and_garbage() {
    let s = common::setup();
    let sealed = seal_messages(&[common::typical()], &s.court, s.cjn.identity().cert()).unwrap();
    let me = s.cjn.identity();
    let from = Party::Court(s.court_code);
    assert!(open(&sealed, me, &s.cjn_trust, from).is_ok());
    // A flipped bit anywhere is refused (never accepted, never a panic).
    let mut accepted = Vec::new();
    for i in 0..sealed.len() {
        for bit in [0x01, 0x80] {
            let mut t = sealed.clone();
            t[i] ^= bit;
            if open(&t, me, &s.cjn_trust, from).is_ok() {
                accepted.push((i, bit));
            }
        }
    }
    assert!(accepted.is_empty(), "flipped bits accepted: {accepted:?}");
    // Truncated at every length.
    for n in 0..sealed.len() {
        assert!(
            open(&sealed[..n], me, &s.cjn_trust, from).is_err(),
            "truncated to {n}"
        );
    }
    // Trailing garbage.
    let mut t = sealed.clone();
    t.push(0);
    assert_eq!(reason(open(&t, me, &s.cjn_trust, from)), Reason::Malformed);
    // Oversized.
    let big = vec![0x30; protocol::MAX_SEALED_BYTES + 1];
    assert_eq!(reason(open(&big, me, &s.cjn_trust, from)), Reason::TooLarge);
    // The GCM tag (last bytes) tampered: decryption fails.
    let mut t = sealed.clone();
    let last = t.len() - 1;
    t[last] ^= 0x80;
    assert_eq!(
        reason(open(&t, me, &s.cjn_trust, from)),
        Reason::DecryptionFailed
    );
}

#[test]
fn wrong_recipient() {
    let s = common::setup();
    // Sealed for the court itself, opened by the CJN.
    let other = common::enroll(&s.cjn, &s.tmp.path().join("c2"), "22222".parse().unwrap());
    let sealed = seal_messages(&[common::typical()], &s.court, other.0.cert()).unwrap();
    let e = open(
        &sealed,
        s.cjn.identity(),
        &s.cjn_trust,
        Party::Court(s.court_code),
    )
    .unwrap_err();
    assert_eq!(e.reason(), Reason::WrongRecipient, "{e}");
}

#[test]
fn unknown_signer_and_signer_other_than_claimed() {
    let s = common::setup();
    let from = Party::Court(s.court_code);
    // A second CA's court, unknown to this CJN.
    let tmp = tempfile::tempdir().unwrap();
    let rogue_cjn = CjnPki::init(&tmp.path().join("cjn")).unwrap();
    let (rogue, _) = common::enroll(&rogue_cjn, &tmp.path().join("court"), s.court_code);
    let sealed = seal_messages(&[common::typical()], &rogue, s.cjn.identity().cert()).unwrap();
    assert_eq!(
        reason(open(&sealed, s.cjn.identity(), &s.cjn_trust, from)),
        Reason::UnknownSigner
    );

    // Court 22222 signs a message that claims to come from 12345 (on 12345's topic).
    let (other, _) = common::enroll(&s.cjn, &s.tmp.path().join("c2"), "22222".parse().unwrap());
    let trust = s.cjn.trust_store().unwrap();
    let sealed = seal_messages(&[common::typical()], &other, s.cjn.identity().cert()).unwrap();
    assert_eq!(
        reason(open(&sealed, s.cjn.identity(), &trust, from)),
        Reason::SignerMismatch
    );
    // Signed by 22222 and opened as from 22222, but the header claims 12345.
    assert_eq!(
        reason(open_messages(
            &sealed,
            s.cjn.identity(),
            &trust,
            Party::Court("22222".parse().unwrap())
        )),
        Reason::PartyMismatch
    );
}

#[test]
fn topic_names_the_sender() {
    let s = common::setup();
    let sealed = seal_messages(&[common::typical()], &s.court, s.cjn.identity().cert()).unwrap();
    let up = protocol::topics::up(s.court_code);
    assert!(protocol::open_from_topic(&up, &sealed, s.cjn.identity(), &s.cjn_trust).is_ok());
    // Published on another court's topic.
    let other = protocol::topics::up("22222".parse().unwrap());
    assert_eq!(
        reason(protocol::open_from_topic(
            &other,
            &sealed,
            s.cjn.identity(),
            &s.cjn_trust
        )),
        Reason::SignerMismatch
    );
    // Wrong direction, or not a topic at all.
    let down = protocol::topics::down(s.court_code);
    assert_eq!(
        reason(protocol::open_from_topic(
            &down,
            &sealed,
            s.cjn.identity(),
            &s.cjn_trust
        )),
        Reason::BadTopic
    );
    assert_eq!(
        reason(protocol::open_from_topic(
            "x/y",
            &sealed,
            s.cjn.identity(),
            &s.cjn_trust
        )),
        Reason::BadTopic
    );
    // A court only opens its own down topic.
    let reply = protocol::Message {
        header: protocol::Header::new(Party::Cjn, Party::Court(s.court_code), 1),
        body: protocol::Body::AuditCheckpoint(protocol::AuditCheckpoint {
            audit_head: protocol::AuditHead {
                seq: 1,
                hash: protocol::Sha256Hash::from_bytes([1; 32]),
            },
            at: time::OffsetDateTime::now_utc(),
        }),
    };
    let sealed = seal_messages(&[reply], s.cjn.identity(), s.court.cert()).unwrap();
    assert!(protocol::open_from_topic(&down, &sealed, &s.court, &s.court_trust).is_ok());
    let other_down = protocol::topics::down("22222".parse().unwrap());
    assert_eq!(
        reason(protocol::open_from_topic(
            &other_down,
            &sealed,
            &s.court,
            &s.court_trust
        )),
        Reason::BadTopic
    );
}

#[test]
fn revoked_signer() {
    let s = common::setup();
    let from = Party::Court(s.court_code);
    let sealed_before =
        seal_messages(&[common::typical()], &s.court, s.cjn.identity().cert()).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1100)); // revocation strictly after signing
    s.cjn.revoke(s.court_code).unwrap();
    let trust = s.cjn.trust_store().unwrap();
    // Signed now (after revocation): refused.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let sealed = seal_messages(&[common::typical()], &s.court, s.cjn.identity().cert()).unwrap();
    let mut trust_with_cert = trust.clone();
    // The trust store of cjn-ingest may still hold the certificate: the CRL decides.
    trust_with_cert.add_peer(s.court.cert().clone()).unwrap();
    assert_eq!(
        reason(open(&sealed, s.cjn.identity(), &trust_with_cert, from)),
        Reason::CertificateRevoked
    );
    // The same key signed a second before revocation: still valid (signing time).
    open(&sealed_before, s.cjn.identity(), &trust_with_cert, from).unwrap();
    // Renewal is refused for a revoked certificate.
    let serial = pki::cert_serial(s.court.cert()).unwrap();
    let csr = pki::court_prepare_renewal(&s.court_dir, s.court_code).unwrap();
    assert_eq!(
        reason(s.cjn.renew(s.court_code, &serial, &csr)),
        Reason::CourtRevoked
    );
}

#[test]
fn expired_certificate() {
    // A court certificate that expired yesterday: sign with it, the CJN refuses.
    let s = common::setup();
    let key = pki::generate_key().unwrap();
    let cert = support::expired_court_cert(&s, &key);
    let mut trust = s.cjn.trust_store().unwrap();
    let err = trust.add_peer(cert.clone()).unwrap_err();
    assert_eq!(err.reason(), Reason::CertificateExpired);
    let id = protocol::Identity::new(key, cert.clone()).unwrap();
    let sealed = seal_messages(&[common::typical()], &id, s.cjn.identity().cert()).unwrap();
    // Even if cjn-ingest had kept the certificate around.
    let trust = support::trust_with_unchecked_peer(&s, cert);
    assert_eq!(
        reason(open(
            &sealed,
            s.cjn.identity(),
            &trust,
            Party::Court(s.court_code)
        )),
        Reason::CertificateExpired
    );
}

/// The trust store remembers a peer's chain once verified (`open` skips the chain's signatures
/// after): a message signed after that certificate expired is refused all the same, by the same
/// store, as is one signed before it was valid.
#[test]
fn a_chain_verified_once_still_expires() {
    let s = common::setup();
    let key = pki::generate_key().unwrap();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let cert = support::court_cert_valid(&s, &key, now - 86_400, now + 3);
    let id = protocol::Identity::new(key, cert.clone()).unwrap();
    let trust = support::trust_with_unchecked_peer(&s, cert);
    let from = Party::Court(s.court_code);
    for _ in 0..2 {
        let sealed = seal_messages(&[common::typical()], &id, s.cjn.identity().cert()).unwrap();
        open(&sealed, s.cjn.identity(), &trust, from).expect("signed while valid");
    }
    std::thread::sleep(std::time::Duration::from_millis(4100));
    let sealed = seal_messages(&[common::typical()], &id, s.cjn.identity().cert()).unwrap();
    assert_eq!(
        reason(open(&sealed, s.cjn.identity(), &trust, from)),
        Reason::CertificateExpired
    );

    // Each peer its own: a certificate that starts in an hour, in a store where another
    // certificate of the same court chained well (the edges themselves: seal.rs's unit test).
    let key = pki::generate_key().unwrap();
    let cert = support::court_cert_valid(&s, &key, now + 3_600, now + 86_400);
    let id = protocol::Identity::new(key, cert.clone()).unwrap();
    let mut trust = support::trust_with_unchecked_peer(&s, s.court.cert().clone());
    let sealed = seal_messages(&[common::typical()], &s.court, s.cjn.identity().cert()).unwrap();
    open(&sealed, s.cjn.identity(), &trust, from).unwrap();
    trust.add_peer_unchecked(cert).unwrap();
    let sealed = seal_messages(&[common::typical()], &id, s.cjn.identity().cert()).unwrap();
    assert_eq!(
        reason(open(&sealed, s.cjn.identity(), &trust, from)),
        Reason::CertificateNotYetValid
    );
}

#[test]
fn unsigned_time_garbage_payload_and_bad_codec() {
    let s = common::setup();
    let from = Party::Court(s.court_code);
    // A sealed payload that is not CBOR.
    let sealed = seal(b"\x02not deflate", &s.court, s.cjn.identity().cert()).unwrap();
    assert_eq!(
        reason(open_messages(&sealed, s.cjn.identity(), &s.cjn_trust, from)),
        Reason::DecodeFailed
    );
    let sealed = seal(b"\x7fwhat", &s.court, s.cjn.identity().cert()).unwrap();
    assert_eq!(
        reason(open_messages(&sealed, s.cjn.identity(), &s.cjn_trust, from)),
        Reason::UnsupportedFormat
    );
    assert!(codec::decode(&[]).is_err());
}

#[test]
fn enrollment_codes_are_one_time_bound_and_expiring() {
    let tmp = tempfile::tempdir().unwrap();
    let cjn = CjnPki::init(&tmp.path().join("cjn")).unwrap();
    let court: CourtCode = "12345".parse().unwrap();
    let code = cjn.new_enrollment_code(court, 1).unwrap();
    let (_, req) = pki::court_prepare_enrollment(&tmp.path().join("court"), &code.code).unwrap();

    // A code for 12345 presented on 54321's topic: refused (before the header check too).
    let other: CourtCode = "54321".parse().unwrap();
    let code_other = cjn.new_enrollment_code(other, 1).unwrap();
    let stolen = code_other.code.replacen("54321", "12345", 1);
    let (_, req_other) =
        pki::court_prepare_enrollment(&tmp.path().join("court-x"), &stolen).unwrap();
    assert_eq!(
        reason(cjn.handle_enrollment(court, &req_other)),
        Reason::CodeOtherCourt
    );
    assert_eq!(
        reason(cjn.handle_enrollment(other, &req)),
        Reason::PartyMismatch
    );

    // A wrong secret.
    let forged = format!("{}AAAA", &code.code[..code.code.len() - 4]);
    let forged = if forged == code.code {
        format!("{}BBBB", &code.code[..code.code.len() - 4])
    } else {
        forged
    };
    let (_, req_forged) =
        pki::court_prepare_enrollment(&tmp.path().join("court-f"), &forged).unwrap();
    assert_eq!(
        reason(cjn.handle_enrollment(court, &req_forged)),
        Reason::CodeUnknown
    );

    // First use works; the same request again gets the same answer (it was lost), also after a
    // restart; another key with the right code is refused.
    let answer = cjn.handle_enrollment(court, &req).unwrap();
    assert_eq!(cjn.handle_enrollment(court, &req).unwrap(), answer);
    let reopened = CjnPki::open(&tmp.path().join("cjn")).unwrap();
    assert_eq!(reopened.handle_enrollment(court, &req).unwrap(), answer);
    let (_, req_other_key) =
        pki::court_prepare_enrollment(&tmp.path().join("court-k"), &code.code).unwrap();
    assert_eq!(
        reason(reopened.handle_enrollment(court, &req_other_key)),
        Reason::CodeUsed
    );

    // The court checks the CA fingerprint given with the code.
    let bad_fp = "00".repeat(32);
    assert_eq!(
        reason(pki::court_complete_enrollment(
            &tmp.path().join("court"),
            court,
            &bad_fp,
            &answer
        )),
        Reason::CaFingerprintMismatch
    );
    let (id, _) = pki::court_complete_enrollment(
        &tmp.path().join("court"),
        court,
        &code.ca_fingerprint,
        &answer,
    )
    .unwrap();
    assert_eq!(id.party(), Party::Court(court));
    // The key file is private.
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(tmp.path().join("court").join(pki::files::COURT_KEY))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    // Expired code.
    let expired = cjn.new_enrollment_code(court, 0).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    let (_, req) =
        pki::court_prepare_enrollment(&tmp.path().join("court-e"), &expired.code).unwrap();
    assert_eq!(
        reason(cjn.handle_enrollment(court, &req)),
        Reason::CodeExpired
    );
    // Unknown code.
    let unknown = format!("12345-ZZZZZZZZ-{}", &code.code[15..]);
    let (_, req) = pki::court_prepare_enrollment(&tmp.path().join("court-u"), &unknown).unwrap();
    assert_eq!(
        reason(cjn.handle_enrollment(court, &req)),
        Reason::CodeUnknown
    );
}

#[test]
fn renewal_without_a_new_code() {
    let s = common::setup();
    let csr = pki::court_prepare_renewal(&s.court_dir, s.court_code).unwrap();
    let request = protocol::Message {
        header: protocol::Header::new(Party::Court(s.court_code), Party::Cjn, 99),
        body: protocol::Body::RenewalRequest(protocol::RenewalRequest { csr_der: csr }),
    };
    let sealed = seal_messages(&[request], &s.court, s.cjn.identity().cert()).unwrap();
    let (opened, msgs) = open_messages(
        &sealed,
        s.cjn.identity(),
        &s.cjn_trust,
        Party::Court(s.court_code),
    )
    .unwrap();
    let protocol::Body::RenewalRequest(r) = &msgs[0].body else {
        panic!()
    };
    let answer = s
        .cjn
        .renew(s.court_code, &opened.signer_serial, &r.csr_der)
        .unwrap();
    let reply = protocol::Message {
        header: protocol::Header::new(Party::Cjn, Party::Court(s.court_code), 1),
        body: protocol::Body::EnrollmentAnswer(answer),
    };
    let sealed = seal_messages(&[reply], s.cjn.identity(), s.court.cert()).unwrap();
    let (_, msgs) = open_messages(&sealed, &s.court, &s.court_trust, Party::Cjn).unwrap();
    let protocol::Body::EnrollmentAnswer(a) = &msgs[0].body else {
        panic!()
    };
    let (new_id, _) = pki::court_complete_renewal(&s.court_dir, s.court_code, a).unwrap();
    assert_ne!(
        pki::cert_serial(new_id.cert()).unwrap(),
        opened.signer_serial
    );
    // The new identity works, and is what the directory now holds.
    let (loaded, _) = pki::court_load(&s.court_dir).unwrap();
    assert_eq!(
        loaded.cert().to_der().unwrap(),
        new_id.cert().to_der().unwrap()
    );
    let trust = s.cjn.trust_store().unwrap();
    let sealed = seal_messages(&[common::typical()], &loaded, s.cjn.identity().cert()).unwrap();
    assert!(
        open(
            &sealed,
            s.cjn.identity(),
            &trust,
            Party::Court(s.court_code)
        )
        .is_ok()
    );
}

mod support {
    use super::common::Setup;
    use openssl::pkey::{PKey, Private};
    use openssl::x509::X509;

    /// A court certificate issued by the real issuing CA, expired yesterday.
    pub fn expired_court_cert(s: &Setup, key: &PKey<Private>) -> X509 {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        court_cert_valid(s, key, now - 10 * 86_400, now - 86_400)
    }

    /// A certificate of court 12345 for `key`, valid from `not_before` to `not_after` (Unix
    /// seconds), issued by the test CJN's issuing CA.
    pub fn court_cert_valid(
        s: &Setup,
        key: &PKey<Private>,
        not_before: i64,
        not_after: i64,
    ) -> X509 {
        let dir = s.tmp.path().join("cjn");
        let issuing_key = protocol::pki::read_key(&dir.join("issuing.key")).unwrap();
        let mut b = X509::builder().unwrap();
        b.set_version(2).unwrap();
        let serial = openssl::bn::BigNum::from_u32(4242)
            .unwrap()
            .to_asn1_integer()
            .unwrap();
        b.set_serial_number(&serial).unwrap();
        let mut n = openssl::x509::X509NameBuilder::new().unwrap();
        n.append_entry_by_text("O", "XMJuris").unwrap();
        n.append_entry_by_text("OU", "juridiction").unwrap();
        n.append_entry_by_text("CN", "12345").unwrap();
        let n = n.build();
        b.set_subject_name(&n).unwrap();
        b.set_issuer_name(s.cjn.issuing().subject_name()).unwrap();
        b.set_pubkey(key).unwrap();
        b.set_not_before(&openssl::asn1::Asn1Time::from_unix(not_before).unwrap())
            .unwrap();
        b.set_not_after(&openssl::asn1::Asn1Time::from_unix(not_after).unwrap())
            .unwrap();
        let ski = openssl::x509::extension::SubjectKeyIdentifier::new()
            .build(&b.x509v3_context(Some(s.cjn.issuing()), None))
            .unwrap();
        b.append_extension(ski).unwrap();
        b.sign(&issuing_key, openssl::hash::MessageDigest::sha256())
            .unwrap();
        b.build()
    }

    /// A trust store holding `cert` as a peer although it no longer verifies now.
    pub fn trust_with_unchecked_peer(s: &Setup, cert: X509) -> protocol::TrustStore {
        let mut t = protocol::TrustStore::new(s.cjn.root().clone(), vec![s.cjn.issuing().clone()]);
        t.add_peer_unchecked(cert).unwrap();
        t
    }
}
