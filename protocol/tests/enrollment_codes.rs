//! Enrollment codes cannot be probed or burnt: a request whose MAC fails gets one refusal
//! whatever the code's state; a correct code with a bad CSR is refused and the code still works;
//! a code is claimed only by a request that passed every check, and then for its key only; an
//! answer lost or an enrollment interrupted does not lock the court out.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::x509::{X509NameBuilder, X509Req};
use protocol::pki::{self, CjnPki, EnrollmentCode};
use protocol::{
    Body, CourtCode, EnrollmentRequest, Header, Message, Party, Reason, Sha256Hash, codec,
};

const COURT: &str = "12345";
const OTHER: &str = "54321";

fn court() -> CourtCode {
    COURT.parse().unwrap()
}

fn other() -> CourtCode {
    OTHER.parse().unwrap()
}

fn refusal<T: std::fmt::Debug>(r: protocol::Result<T>) -> (Reason, String) {
    let e = r.unwrap_err();
    (e.reason(), e.detail().to_owned())
}

/// The same code with another secret (same court, same id).
fn wrong_secret(code: &EnrollmentCode) -> String {
    let (head, secret) = code.code.split_at(15); // "12345-ABCDEFGH-"
    let flipped: String = secret
        .chars()
        .map(|c| match c {
            'A' => 'B',
            '-' => '-',
            _ => 'A',
        })
        .collect();
    assert_ne!(flipped, secret);
    format!("{head}{flipped}")
}

/// A request on `dir`'s key with `code`.
fn request(dir: &Path, code: &str) -> Vec<u8> {
    pki::court_prepare_enrollment(dir, code).unwrap().1
}

fn p256() -> PKey<Private> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap()
}

/// A CSR naming `cn`, for `key`.
fn csr(cn: &str, key: &PKey<Private>) -> Vec<u8> {
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_nid(Nid::ORGANIZATIONNAME, "XMJuris")
        .unwrap();
    name.append_entry_by_nid(Nid::COMMONNAME, cn).unwrap();
    let mut b = X509Req::builder().unwrap();
    b.set_subject_name(&name.build()).unwrap();
    b.set_pubkey(key).unwrap();
    b.sign(key, MessageDigest::sha256()).unwrap();
    b.build().to_der().unwrap()
}

fn issued_count(cjn_dir: &Path, court: &str) -> usize {
    std::fs::read_dir(cjn_dir.join(pki::files::ISSUED_DIR))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with(&format!("{court}-"))
        })
        .count()
}

#[test]
fn a_wrong_mac_gets_one_refusal_whatever_the_codes_state() {
    let tmp = tempfile::tempdir().unwrap();
    let cjn = CjnPki::init(&tmp.path().join("cjn")).unwrap();

    let unused = cjn.new_enrollment_code(court(), 1).unwrap();
    let used = cjn.new_enrollment_code(court(), 1).unwrap();
    cjn.handle_enrollment(court(), &request(&tmp.path().join("c1"), &used.code))
        .unwrap();
    let expired = cjn.new_enrollment_code(court(), 0).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    // Another court's code, presented on this court's topic.
    let others = cjn.new_enrollment_code(other(), 1).unwrap();
    let others = EnrollmentCode {
        code: others.code.replacen(OTHER, COURT, 1),
        ..others
    };
    let unknown = EnrollmentCode {
        code: format!("{COURT}-ZZZZZZZZ-{}", &unused.code[15..]),
        ..unused.clone()
    };

    let mut refusals = Vec::new();
    for (state, code) in [
        ("unused", &unused),
        ("used", &used),
        ("expired", &expired),
        ("another court's", &others),
        ("unknown", &unknown),
    ] {
        let r = refusal(cjn.handle_enrollment(
            court(),
            &request(&tmp.path().join("prober"), &wrong_secret(code)),
        ));
        refusals.push((state, r));
    }
    // A malformed code id, and a well-formed request with an empty MAC.
    let (_, req) = pki::court_prepare_enrollment(&tmp.path().join("prober"), &unused.code).unwrap();
    let mut msgs = codec::decode(&req).unwrap();
    let Body::EnrollmentRequest(r) = &mut msgs[0].body else {
        panic!("not a request")
    };
    let csr_der = r.csr_der.clone();
    for (state, code_id, mac) in [
        ("malformed", "../../x".to_owned(), r.mac),
        (
            "unused, null MAC",
            unused.code_id.clone(),
            Sha256Hash::from_bytes([0; 32]),
        ),
    ] {
        let msg = Message {
            header: Header::new(Party::Court(court()), Party::Cjn, 0),
            body: Body::EnrollmentRequest(EnrollmentRequest {
                code_id,
                csr_der: csr_der.clone(),
                mac,
            }),
        };
        let r = refusal(cjn.handle_enrollment(court(), &codec::encode(&[msg]).unwrap()));
        refusals.push((state, r));
    }
    for (state, r) in &refusals {
        assert_eq!(
            r, &refusals[0].1,
            "a wrong MAC on the {state} code tells something"
        );
    }
    assert_eq!(refusals[0].1.0, Reason::CodeUnknown);

    // None of that consumed the unused code.
    let dir = tmp.path().join("court");
    let answer = cjn
        .handle_enrollment(court(), &request(&dir, &unused.code))
        .unwrap();
    pki::court_complete_enrollment(&dir, court(), &unused.ca_fingerprint, &answer).unwrap();
}

#[test]
fn a_correct_code_with_a_bad_csr_is_refused_and_the_code_still_works() {
    let tmp = tempfile::tempdir().unwrap();
    let cjn_dir = tmp.path().join("cjn");
    let cjn = CjnPki::init(&cjn_dir).unwrap();
    let code = cjn.new_enrollment_code(court(), 1).unwrap();

    let rsa = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
    let bad_csrs: [(&str, Vec<u8>); 4] = [
        ("names another court", csr(OTHER, &p256())),
        ("names no court", csr("tribunal", &p256())),
        ("an RSA key", csr(COURT, &rsa)),
        ("not a CSR", b"not a CSR at all".to_vec()),
    ];
    for (what, der) in bad_csrs {
        let (c, req) = pki::enrollment_request(&code.code, der).unwrap();
        assert_eq!(c, court());
        assert_eq!(
            refusal(cjn.handle_enrollment(court(), &req)).0,
            Reason::CsrInvalid,
            "a CSR with {what}"
        );
    }
    assert_eq!(issued_count(&cjn_dir, COURT), 0, "nothing issued");

    // The code was not consumed: the court enrolls with it.
    let dir = tmp.path().join("court");
    let answer = cjn
        .handle_enrollment(court(), &request(&dir, &code.code))
        .unwrap();
    let (identity, _) =
        pki::court_complete_enrollment(&dir, court(), &code.ca_fingerprint, &answer).unwrap();
    assert_eq!(identity.party(), Party::Court(court()));
    assert_eq!(issued_count(&cjn_dir, COURT), 1);

    // Then it is used: another key with the same code is refused, even after a restart.
    let reopened = CjnPki::open(&cjn_dir).unwrap();
    assert_eq!(
        refusal(
            reopened.handle_enrollment(court(), &request(&tmp.path().join("thief"), &code.code))
        )
        .0,
        Reason::CodeUsed
    );
    assert_eq!(issued_count(&cjn_dir, COURT), 1);
}

#[test]
fn a_lost_answer_or_an_interrupted_enrollment_does_not_lock_the_court_out() {
    let tmp = tempfile::tempdir().unwrap();
    let cjn_dir = tmp.path().join("cjn");
    let cjn = CjnPki::init(&cjn_dir).unwrap();

    // The answer is lost on the way: the court asks again (same key, a new CSR and MAC) and gets
    // the same answer, also from another instance.
    let code = cjn.new_enrollment_code(court(), 1).unwrap();
    let dir = tmp.path().join("court");
    let lost = cjn
        .handle_enrollment(court(), &request(&dir, &code.code))
        .unwrap();
    let again = CjnPki::open(&cjn_dir)
        .unwrap()
        .handle_enrollment(court(), &request(&dir, &code.code))
        .unwrap();
    assert_eq!(again, lost);
    assert_eq!(issued_count(&cjn_dir, COURT), 1);
    pki::court_complete_enrollment(&dir, court(), &code.ca_fingerprint, &again).unwrap();

    // The CJN fails after the claim, before the certificate is issued (`issued/` unwritable).
    let code = cjn.new_enrollment_code(other(), 1).unwrap();
    let dir = tmp.path().join("other");
    let issued = cjn_dir.join(pki::files::ISSUED_DIR);
    let aside = cjn_dir.join("issued.aside");
    std::fs::rename(&issued, &aside).unwrap();
    std::fs::write(&issued, b"not a folder").unwrap();
    assert_eq!(
        refusal(cjn.handle_enrollment(other(), &request(&dir, &code.code))).0,
        Reason::Io
    );
    std::fs::remove_file(&issued).unwrap();
    std::fs::rename(&aside, &issued).unwrap();
    // Claimed by the court's key: another key cannot take it over...
    assert_eq!(
        refusal(cjn.handle_enrollment(other(), &request(&tmp.path().join("thief"), &code.code))).0,
        Reason::CodeUsed
    );
    // ... and the court, asking again, is enrolled.
    let answer = cjn
        .handle_enrollment(other(), &request(&dir, &code.code))
        .unwrap();
    let (identity, _) =
        pki::court_complete_enrollment(&dir, other(), &code.ca_fingerprint, &answer).unwrap();
    assert_eq!(identity.party(), Party::Court(other()));
    assert_eq!(issued_count(&cjn_dir, OTHER), 1);
}

#[test]
fn two_instances_racing_on_one_code_issue_one_certificate() {
    let tmp = tempfile::tempdir().unwrap();
    let cjn_dir = tmp.path().join("cjn");
    let cjn = CjnPki::init(&cjn_dir).unwrap();
    let rounds = 8;
    for round in 0..rounds {
        let code = cjn.new_enrollment_code(court(), 1).unwrap();
        let requests: Vec<Vec<u8>> = (0..2)
            .map(|i| request(&tmp.path().join(format!("c{round}-{i}")), &code.code))
            .collect();
        let results: Vec<protocol::Result<Vec<u8>>> = std::thread::scope(|s| {
            let handles: Vec<_> = requests
                .iter()
                .map(|req| {
                    let cjn_dir = &cjn_dir;
                    s.spawn(move || {
                        CjnPki::open(cjn_dir)
                            .unwrap()
                            .handle_enrollment(court(), req)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let ok = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(ok, 1, "round {round}: {results:?}");
        for r in results.iter().filter_map(|r| r.as_ref().err()) {
            assert_eq!(r.reason(), Reason::CodeUsed);
        }
    }
    assert_eq!(issued_count(&cjn_dir, COURT), rounds);
}
