//! Interoperability with the stock `openssl cms` command line, both ways.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::Command;

use protocol::pki::files;
use protocol::{Party, codec, open_messages, seal_messages};

fn openssl(args: &[&str], dir: &Path) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn sealed_message_opens_with_openssl_cms() {
    let s = common::setup();
    let cjn = s.tmp.path().join("cjn");
    let court = &s.court_dir;
    let m = common::typical();
    let sealed =
        seal_messages(std::slice::from_ref(&m), &s.court, s.cjn.identity().cert()).unwrap();
    std::fs::write(cjn.join("msg.der"), &sealed).unwrap();
    std::fs::copy(court.join(files::COURT_CRT), cjn.join("court.crt")).unwrap();
    // The CA file: the root, and the issuing CA (the message embeds no certificate,
    // and `openssl cms -verify` builds chains only from the CA file and embedded ones).
    let mut bundle = std::fs::read(cjn.join(files::ROOT_CRT)).unwrap();
    bundle.extend(std::fs::read(cjn.join(files::ISSUING_CRT)).unwrap());
    std::fs::write(cjn.join("ca-bundle.pem"), bundle).unwrap();
    openssl(
        &[
            "cms",
            "-decrypt",
            "-binary",
            "-inform",
            "DER",
            "-in",
            "msg.der",
            "-inkey",
            files::CJN_KEY,
            "-recip",
            files::CJN_CRT,
            "-out",
            "signed.der",
        ],
        &cjn,
    );
    openssl(
        &[
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-in",
            "signed.der",
            "-CAfile",
            "ca-bundle.pem",
            "-certfile",
            "court.crt",
            "-out",
            "payload.bin",
        ],
        &cjn,
    );
    let payload = std::fs::read(cjn.join("payload.bin")).unwrap();
    assert_eq!(codec::decode(&payload).unwrap(), vec![m]);
}

#[test]
fn openssl_cms_message_opens_with_open() {
    let s = common::setup();
    let court = &s.court_dir;
    let m = common::typical();
    let payload = codec::encode(std::slice::from_ref(&m)).unwrap();
    std::fs::write(court.join("payload.bin"), &payload).unwrap();
    // Signed the stock way (certificate embedded, issuer and serial, S/MIME capabilities)...
    openssl(
        &[
            "cms",
            "-sign",
            "-binary",
            "-nodetach",
            "-outform",
            "DER",
            "-in",
            "payload.bin",
            "-signer",
            files::COURT_CRT,
            "-inkey",
            files::COURT_KEY,
            "-out",
            "signed.der",
        ],
        court,
    );
    // ...then encrypted with AES-256-GCM for the CJN.
    openssl(
        &[
            "cms",
            "-encrypt",
            "-binary",
            "-aes-256-gcm",
            "-outform",
            "DER",
            "-in",
            "signed.der",
            "-out",
            "msg.der",
            files::CJN_CRT,
        ],
        court,
    );
    let sealed = std::fs::read(court.join("msg.der")).unwrap();
    let (opened, msgs) = open_messages(
        &sealed,
        s.cjn.identity(),
        &s.cjn_trust,
        Party::Court(s.court_code),
    )
    .unwrap();
    assert_eq!(msgs, vec![m]);
    assert_eq!(opened.signer, Party::Court(s.court_code));
    // The same, signed by key id as XMJuris does.
    openssl(
        &[
            "cms",
            "-sign",
            "-binary",
            "-nodetach",
            "-keyid",
            "-nocerts",
            "-nosmimecap",
            "-outform",
            "DER",
            "-in",
            "payload.bin",
            "-signer",
            files::COURT_CRT,
            "-inkey",
            files::COURT_KEY,
            "-out",
            "signed2.der",
        ],
        court,
    );
    openssl(
        &[
            "cms",
            "-encrypt",
            "-binary",
            "-keyid",
            "-aes-256-gcm",
            "-outform",
            "DER",
            "-in",
            "signed2.der",
            "-out",
            "msg2.der",
            files::CJN_CRT,
        ],
        court,
    );
    let sealed = std::fs::read(court.join("msg2.der")).unwrap();
    assert!(
        open_messages(
            &sealed,
            s.cjn.identity(),
            &s.cjn_trust,
            Party::Court(s.court_code)
        )
        .is_ok()
    );
}
