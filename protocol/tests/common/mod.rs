//! Shared set-up: a CJN PKI and an enrolled court in a temporary directory.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::PathBuf;

use protocol::pki::{self, CjnPki};
use protocol::{CourtCode, Identity, Message, OutboxPayload, TrustStore};

pub struct Setup {
    pub tmp: tempfile::TempDir,
    pub cjn: CjnPki,
    pub cjn_trust: TrustStore,
    pub court: Identity,
    pub court_trust: TrustStore,
    pub court_code: CourtCode,
    pub court_dir: PathBuf,
}

/// Enrolls `code` (in process, no broker) and returns the court's identity.
pub fn enroll(cjn: &CjnPki, dir: &std::path::Path, court: CourtCode) -> (Identity, TrustStore) {
    let code = cjn.new_enrollment_code(court, 1).unwrap();
    let (c, request) = pki::court_prepare_enrollment(dir, &code.code).unwrap();
    assert_eq!(c, court);
    let answer = cjn.handle_enrollment(court, &request).unwrap();
    pki::court_complete_enrollment(dir, court, &code.ca_fingerprint, &answer).unwrap()
}

pub fn setup() -> Setup {
    let tmp = tempfile::tempdir().unwrap();
    let cjn = CjnPki::init(&tmp.path().join("cjn")).unwrap();
    let court_code: CourtCode = "12345".parse().unwrap();
    let court_dir = tmp.path().join("court");
    let (court, court_trust) = enroll(&cjn, &court_dir, court_code);
    let cjn_trust = cjn.trust_store().unwrap();
    Setup {
        tmp,
        cjn,
        cjn_trust,
        court,
        court_trust,
        court_code,
        court_dir,
    }
}

pub fn typical() -> Message {
    OutboxPayload::from_json(protocol::samples::TYPICAL_OUTBOX_JSON.as_bytes())
        .unwrap()
        .into_message()
}

pub fn long() -> Message {
    OutboxPayload::from_json(protocol::samples::LONG_OUTBOX_JSON.as_bytes())
        .unwrap()
        .into_message()
}
