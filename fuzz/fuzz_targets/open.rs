//! Fuzzes `open_messages` (and the layers under it) with any bytes.
//!
//! The first byte picks where the rest goes:
//! - `0xff`: XORed over a valid sealed message (near-valid envelopes);
//! - `0xfe`: XORed over the valid signed content, then `verify_signed`
//!   (what a court could send after decryption);
//! - `0xfd`: `codec::decode` (compressed CBOR);
//! - anything else: the whole input to `open_messages`.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use protocol::pki::{self, CjnPki};
use protocol::{
    Identity, OutboxPayload, Party, TrustStore, codec, open_messages, seal_messages, verify_signed,
};

struct World {
    cjn: Identity,
    trust: TrustStore,
    sealed: Vec<u8>,
    signed: Vec<u8>,
    court: Party,
}

fn world() -> &'static World {
    static W: OnceLock<World> = OnceLock::new();
    W.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("xmjuris-fuzz-{}", std::process::id()));
        let cjn = CjnPki::init(&dir.join("cjn")).expect("pki");
        let court = "12345".parse().expect("court");
        let code = cjn.new_enrollment_code(court, 1).expect("code");
        let (_, req) =
            pki::court_prepare_enrollment(&dir.join("court"), &code.code).expect("prepare");
        let answer = cjn.handle_enrollment(court, &req).expect("enroll");
        let (id, _) = pki::court_complete_enrollment(
            &dir.join("court"),
            court,
            &code.ca_fingerprint,
            &answer,
        )
        .expect("complete");
        let m = OutboxPayload::from_json(protocol::samples::TYPICAL_OUTBOX_JSON.as_bytes())
            .expect("sample")
            .into_message();
        let sealed = seal_messages(&[m], &id, cjn.identity().cert()).expect("seal");
        let trust = cjn.trust_store().expect("trust");
        let signed = protocol::open(&sealed, cjn.identity(), &trust, Party::Court(court))
            .expect("open")
            .signed_der;
        let _ = std::fs::remove_dir_all(&dir);
        World {
            cjn: cjn.identity().clone(),
            trust,
            sealed,
            signed,
            court: Party::Court(court),
        }
    })
}

fn xor_over(base: &[u8], mask: &[u8]) -> Vec<u8> {
    let mut v = base.to_vec();
    for (i, m) in mask.iter().enumerate() {
        match v.get_mut(i) {
            Some(b) => *b ^= m,
            None => v.push(*m),
        }
    }
    v
}

fuzz_target!(|data: &[u8]| {
    let w = world();
    match data.split_first() {
        Some((0xff, rest)) => {
            let _ = open_messages(&xor_over(&w.sealed, rest), &w.cjn, &w.trust, w.court);
        }
        Some((0xfe, rest)) => {
            let _ = verify_signed(xor_over(&w.signed, rest), &w.trust, w.court);
        }
        Some((0xfd, rest)) => {
            let _ = codec::decode(rest);
        }
        _ => {
            let _ = open_messages(data, &w.cjn, &w.trust, w.court);
        }
    }
});
