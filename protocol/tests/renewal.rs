//! Court-side certificate renewal: the next key is kept across repeated requests, and an
//! installation interrupted at any point (a crash between the key's and the certificate's
//! files) is completed by the next `court_load`, never leaving the new key with the old
//! certificate.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use protocol::pki::{self, files};
use protocol::{
    Body, EnrollmentAnswer, Header, Identity, Message, Party, Reason, RenewalRequest,
    open_messages, seal_messages,
};

/// Sends a renewal request (prepared in the court's directory) to the CJN in process and
/// returns the answer as the court opens it.
fn renew(s: &common::Setup, signer: &Identity) -> EnrollmentAnswer {
    let csr_der = pki::court_prepare_renewal(&s.court_dir, s.court_code).unwrap();
    let request = Message {
        header: Header::new(Party::Court(s.court_code), Party::Cjn, 0),
        body: Body::RenewalRequest(RenewalRequest { csr_der }),
    };
    let sealed = seal_messages(&[request], signer, s.cjn.identity().cert()).unwrap();
    let (opened, msgs) = open_messages(
        &sealed,
        s.cjn.identity(),
        &s.cjn_trust,
        Party::Court(s.court_code),
    )
    .unwrap();
    let Body::RenewalRequest(r) = &msgs[0].body else {
        panic!("not a renewal request")
    };
    s.cjn
        .renew(s.court_code, &opened.signer_serial, &r.csr_der)
        .unwrap()
}

fn serial_of(dir: &Path) -> String {
    pki::cert_serial(&pki::read_cert(&dir.join(files::COURT_CRT)).unwrap()).unwrap()
}

#[test]
fn a_repeated_request_keeps_the_next_key_and_a_late_answer_installs() {
    let s = common::setup();
    assert!(!pki::court_renewal_pending(&s.court_dir));
    let first = renew(&s, &s.court);
    assert!(pki::court_renewal_pending(&s.court_dir));
    let next_key = std::fs::read(s.court_dir.join(files::COURT_NEXT_KEY)).unwrap();
    // No answer seen: asked again, with the same next key.
    let second = renew(&s, &s.court);
    assert_eq!(
        std::fs::read(s.court_dir.join(files::COURT_NEXT_KEY)).unwrap(),
        next_key
    );
    // The first answer arrives late: it is for the next key, and installs.
    let (renewed, _) = pki::court_complete_renewal(&s.court_dir, s.court_code, &first).unwrap();
    assert!(!pki::court_renewal_pending(&s.court_dir));
    assert!(!s.court_dir.join(files::COURT_NEXT_CRT).exists());
    let (loaded, _) = pki::court_load(&s.court_dir).unwrap();
    assert_eq!(
        loaded.cert().to_der().unwrap(),
        renewed.cert().to_der().unwrap()
    );
    assert_ne!(
        pki::cert_serial(loaded.cert()).unwrap(),
        pki::cert_serial(s.court.cert()).unwrap()
    );
    // The second answer, with no renewal pending, is refused and changes nothing.
    let err = pki::court_complete_renewal(&s.court_dir, s.court_code, &second).unwrap_err();
    assert_eq!(err.reason(), Reason::Io, "{err}");
    assert_eq!(
        serial_of(&s.court_dir),
        pki::cert_serial(renewed.cert()).unwrap()
    );
}

#[test]
fn an_answer_for_another_key_is_refused_and_writes_nothing() {
    let s = common::setup();
    let answer = renew(&s, &s.court);
    // Another next key than the one the answer certifies.
    std::fs::remove_file(s.court_dir.join(files::COURT_NEXT_KEY)).unwrap();
    pki::court_prepare_renewal(&s.court_dir, s.court_code).unwrap();
    let before = serial_of(&s.court_dir);
    let err = pki::court_complete_renewal(&s.court_dir, s.court_code, &answer).unwrap_err();
    assert_eq!(err.reason(), Reason::CertificateMismatch, "{err}");
    assert_eq!(serial_of(&s.court_dir), before);
    assert!(!s.court_dir.join(files::COURT_NEXT_CRT).exists());
    pki::court_load(&s.court_dir).unwrap();
}

/// The states a crash can leave during the installation of a renewal, each completed by
/// `court_load`.
#[test]
fn an_interrupted_installation_is_completed_by_the_next_load() {
    let s = common::setup();
    let answer = renew(&s, &s.court);
    let new_cert = openssl::x509::X509::from_der(&answer.court_cert_der).unwrap();
    let new_serial = pki::cert_serial(&new_cert).unwrap();
    let next_key = pki::read_key(&s.court_dir.join(files::COURT_NEXT_KEY)).unwrap();
    let old_key = pki::read_key(&s.court_dir.join(files::COURT_KEY)).unwrap();
    let old_cert = s.court.cert().clone();
    let dir = &s.court_dir;
    let reset = || {
        pki::write_key(&dir.join(files::COURT_KEY), &old_key).unwrap();
        pki::write_cert(&dir.join(files::COURT_CRT), &old_cert).unwrap();
        pki::write_key(&dir.join(files::COURT_NEXT_KEY), &next_key).unwrap();
        let _ = std::fs::remove_file(dir.join(files::COURT_NEXT_CRT));
    };
    let states: [(&str, &dyn Fn()); 4] = [
        ("new pair written, nothing promoted", &|| {
            pki::write_cert(&dir.join(files::COURT_NEXT_CRT), &new_cert).unwrap();
        }),
        ("new key promoted, old certificate", &|| {
            pki::write_cert(&dir.join(files::COURT_NEXT_CRT), &new_cert).unwrap();
            pki::write_key(&dir.join(files::COURT_KEY), &next_key).unwrap();
        }),
        ("both promoted, next key left", &|| {
            pki::write_cert(&dir.join(files::COURT_NEXT_CRT), &new_cert).unwrap();
            pki::write_key(&dir.join(files::COURT_KEY), &next_key).unwrap();
            pki::write_cert(&dir.join(files::COURT_CRT), &new_cert).unwrap();
        }),
        (
            "next key removed, next certificate left, old certificate",
            &|| {
                pki::write_cert(&dir.join(files::COURT_NEXT_CRT), &new_cert).unwrap();
                pki::write_key(&dir.join(files::COURT_KEY), &next_key).unwrap();
                std::fs::remove_file(dir.join(files::COURT_NEXT_KEY)).unwrap();
            },
        ),
    ];
    for (what, crash) in states {
        reset();
        crash();
        let (identity, _) =
            pki::court_load(dir).unwrap_or_else(|e| panic!("{what}: not loadable: {e}"));
        assert_eq!(
            pki::cert_serial(identity.cert()).unwrap(),
            new_serial,
            "{what}"
        );
        assert!(!dir.join(files::COURT_NEXT_CRT).exists(), "{what}");
        assert!(!pki::court_renewal_pending(dir), "{what}");
    }
    // A stray next certificate for no key of the court is dropped; the old pair stays.
    reset();
    std::fs::remove_file(dir.join(files::COURT_NEXT_KEY)).unwrap();
    let other = common::setup();
    pki::write_cert(&dir.join(files::COURT_NEXT_CRT), other.court.cert()).unwrap();
    let (identity, _) = pki::court_load(dir).unwrap();
    assert_eq!(
        pki::cert_serial(identity.cert()).unwrap(),
        pki::cert_serial(&old_cert).unwrap()
    );
    assert!(!dir.join(files::COURT_NEXT_CRT).exists());
}
