//! Encoding and sealing round trips, with the sizes printed (`--nocapture`).
#![allow(clippy::unwrap_used)]

mod common;

use protocol::{Body, Party, codec, open_messages, samples, seal_messages};

#[test]
fn outbox_json_round_trips_through_cbor() {
    for m in [common::typical(), common::long()] {
        let payload = codec::encode(std::slice::from_ref(&m)).unwrap();
        let back = codec::decode(&payload).unwrap();
        assert_eq!(back, vec![m.clone()]);
        // And JSON for cjn-ingest's SQL function.
        let json = serde_json::to_string(&m).unwrap();
        let again: protocol::Message = serde_json::from_str(&json).unwrap();
        assert_eq!(again, m);
    }
}

#[test]
fn outbox_json_is_strict() {
    let mut v: serde_json::Value =
        serde_json::from_str(protocol::samples::TYPICAL_OUTBOX_JSON).unwrap();
    v["fiche"]["justiciable"]["eye_colour"] = "brown".into();
    assert!(serde_json::from_value::<protocol::OutboxPayload>(v).is_err());
    let mut v: serde_json::Value =
        serde_json::from_str(protocol::samples::TYPICAL_OUTBOX_JSON).unwrap();
    v["niu"] = "12345202600001735".into(); // bad check digits
    assert!(serde_json::from_value::<protocol::OutboxPayload>(v).is_err());
    let mut v: serde_json::Value =
        serde_json::from_str(protocol::samples::TYPICAL_OUTBOX_JSON).unwrap();
    v["fiche"]["justiciable"]["civil_status"] = serde_json::Value::Null;
    v["fiche"]["condamnation"]["warrants"] = serde_json::Value::Null;
    v["fiche"]["condamnation"]["sentence_months"] = serde_json::Value::Null;
    v["motive"] = "Erreur matérielle".into();
    v["kind"] = "fiche_withdrawn".into();
    let m = serde_json::from_value::<protocol::OutboxPayload>(v)
        .unwrap()
        .into_message();
    assert!(matches!(m.body, Body::FicheWithdrawn(_)));
    assert_eq!(
        codec::decode(&codec::encode(std::slice::from_ref(&m)).unwrap()).unwrap(),
        vec![m]
    );
}

/// A sentence event (issue 15) reads from the outbox strictly, round-trips through CBOR and
/// JSON value for value, and seals like any message.
#[test]
fn sentence_event_reads_strictly_and_round_trips() {
    let p = protocol::SentenceEventPayload::from_json(
        protocol::samples::SENTENCE_EVENT_OUTBOX_JSON.as_bytes(),
    )
    .unwrap();
    assert_eq!(p.seq, 18);
    assert_eq!(
        p.event.event_kind,
        protocol::SentenceEventKind::SentenceServed
    );
    assert_eq!(p.event.note.as_deref(), Some("Libération conditionnelle"));
    let m = p.into_message();
    assert_eq!(m.body.kind(), "sentence_event");
    let back = codec::decode(&codec::encode(std::slice::from_ref(&m)).unwrap()).unwrap();
    assert_eq!(back, vec![m.clone()]);
    let json = serde_json::to_string(&m).unwrap();
    assert_eq!(serde_json::from_str::<protocol::Message>(&json).unwrap(), m);
    // A pardon with a cancellation id and the total flag set also round-trip.
    let mut v: serde_json::Value =
        serde_json::from_str(protocol::samples::SENTENCE_EVENT_OUTBOX_JSON).unwrap();
    v["event_kind"] = "cancellation".into();
    v["cancels"] = "0b9a1c52-7d3e-4f4e-9a51-3c2f6d8e1a77".into();
    v["total"] = true.into();
    v["remitted_months"] = 3.into();
    let m = protocol::SentenceEventPayload::from_json(v.to_string().as_bytes())
        .unwrap()
        .into_message();
    let back = codec::decode(&codec::encode(std::slice::from_ref(&m)).unwrap()).unwrap();
    assert_eq!(back, vec![m]);
    // Strict: an unknown field, a wrong kind, a bad NIU are refused.
    for (key, value) in [
        ("colour", serde_json::Value::from("red")),
        ("kind", "fiche_signed".into()),
        ("niu", "12345202600001735".into()),
        ("event_kind", "escape".into()),
    ] {
        let mut v: serde_json::Value =
            serde_json::from_str(protocol::samples::SENTENCE_EVENT_OUTBOX_JSON).unwrap();
        v[key] = value;
        assert!(
            protocol::SentenceEventPayload::from_json(v.to_string().as_bytes()).is_err(),
            "{key} accepted"
        );
    }
}

/// Issue 15's fields of a fiche travel value for value, and a fiche without them encodes to
/// the bytes it had before them (the fields are left out at their default).
#[test]
fn new_fiche_fields_round_trip_and_are_left_out_at_their_default() {
    let m = common::long();
    let before = codec::to_cbor(std::slice::from_ref(&m)).unwrap();
    let mut v: serde_json::Value =
        serde_json::from_str(protocol::samples::LONG_OUTBOX_JSON).unwrap();
    v["fiche"]["condamnation"]["minor_decided"] = false.into();
    v["fiche"]["condamnation"]["ban_start"] = serde_json::Value::Null;
    v["fiche"]["condamnation"]["ban_end"] = serde_json::Value::Null;
    v["fiche"]["condamnation"]["ban_from_release"] = false.into();
    let same = serde_json::from_value::<protocol::OutboxPayload>(v.clone())
        .unwrap()
        .into_message();
    assert_eq!(codec::to_cbor(std::slice::from_ref(&same)).unwrap(), before);
    v["fiche"]["condamnation"]["minor_decided"] = true.into();
    v["fiche"]["condamnation"]["ban_start"] = "2026-04-01".into();
    v["fiche"]["condamnation"]["ban_end"] = "2031-04-01".into();
    v["fiche"]["condamnation"]["ban_months"] = serde_json::Value::Null;
    v["fiche"]["condamnation"]["ban_from_release"] = true.into();
    let m = serde_json::from_value::<protocol::OutboxPayload>(v)
        .unwrap()
        .into_message();
    let back = codec::decode(&codec::encode(std::slice::from_ref(&m)).unwrap()).unwrap();
    assert_eq!(back, vec![m.clone()]);
    let Body::FicheRectified(e) = &back[0].body else {
        panic!("not a rectification")
    };
    assert!(e.fiche.condamnation.minor_decided && e.fiche.condamnation.ban_from_release);
    assert_eq!(
        serde_json::to_value(&e.fiche.condamnation).unwrap()["ban_end"],
        "2031-04-01"
    );
}

#[test]
fn seal_open_both_ways_with_sizes() {
    let s = common::setup();
    let mut long = common::long();
    long.header.sender = Party::Court(s.court_code);
    for (name, m) in [("typical", common::typical()), ("long", long)] {
        let cbor = codec::to_cbor(std::slice::from_ref(&m)).unwrap();
        let payload = codec::encode(std::slice::from_ref(&m)).unwrap();
        let sealed =
            seal_messages(std::slice::from_ref(&m), &s.court, s.cjn.identity().cert()).unwrap();
        if std::env::var_os("XMJURIS_DUMP").is_some() {
            std::fs::write(format!("/tmp/sealed-{name}.der"), &sealed).unwrap();
        }
        let json = serde_json::to_vec(&m).unwrap();
        println!(
            "{name}: json {} B, cbor {} B, payload {} B, sealed {} B",
            json.len(),
            cbor.len(),
            payload.len(),
            sealed.len()
        );
        let (opened, msgs) = open_messages(
            &sealed,
            s.cjn.identity(),
            &s.cjn_trust,
            Party::Court(s.court_code),
        )
        .unwrap();
        assert_eq!(msgs, vec![m]);
        assert_eq!(opened.signer, Party::Court(s.court_code));
        assert!(!opened.signed_der.is_empty());
    }
    // A batch of ten.
    let batch: Vec<_> = (0..10)
        .map(|i| {
            let mut m = common::typical();
            m.header.seq = 17 + i;
            m.header.message_id = protocol::new_message_id();
            m
        })
        .collect();
    let sealed = seal_messages(&batch, &s.court, s.cjn.identity().cert()).unwrap();
    println!(
        "batch of 10 typical: sealed {} B ({} B each)",
        sealed.len(),
        sealed.len() / 10
    );
    let (_, msgs) = open_messages(
        &sealed,
        s.cjn.identity(),
        &s.cjn_trust,
        Party::Court(s.court_code),
    )
    .unwrap();
    assert_eq!(msgs, batch);
    // CJN → court.
    let receipt = protocol::Message {
        header: protocol::Header::new(Party::Cjn, Party::Court(s.court_code), 1),
        body: Body::Receipt(protocol::Receipt {
            message_id: batch[0].header.message_id,
            seq: 17,
            niu: None,
            version: Some(1),
            stored_at: time::OffsetDateTime::now_utc()
                .replace_nanosecond(0)
                .unwrap(),
            signed_hash: protocol::Sha256Hash::from_bytes([7; 32]),
        }),
    };
    let sealed = seal_messages(
        std::slice::from_ref(&receipt),
        s.cjn.identity(),
        s.court.cert(),
    )
    .unwrap();
    println!("receipt: sealed {} B", sealed.len());
    let (_, msgs) = open_messages(&sealed, &s.court, &s.court_trust, Party::Cjn).unwrap();
    assert_eq!(msgs[0].body, receipt.body);
    assert_eq!(msgs[0].header.message_id, receipt.header.message_id);
}

/// The compression dictionary is part of the wire format (every stored message was compressed
/// with it): its bytes never change, whatever happens to the Rust types it is built from.
#[test]
fn the_compression_dictionary_never_changes() {
    let d = protocol::codec::dictionary();
    let digest: String = openssl::sha::sha256(d)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(d.len(), 2015);
    assert_eq!(
        digest,
        "16078ea3764028b4d132e2d3f8cd26381b72105b854be6ee9786f09bdbbb7ebc"
    );
}

/// The compressor and decompressor are kept per thread and reset for each use: the same input
/// gives the same bytes every time (as a fresh one did), and a refused payload leaves nothing
/// behind for the next one.
#[test]
fn compression_state_is_reset_between_uses() {
    let data = samples::TYPICAL_OUTBOX_JSON.as_bytes();
    let first = codec::deflate(data).unwrap();
    let other = codec::deflate(samples::LONG_OUTBOX_JSON.as_bytes()).unwrap();
    assert_ne!(first, other);
    assert_eq!(
        codec::deflate(data).unwrap(),
        first,
        "deflate is deterministic across uses"
    );
    // A truncated stream is refused, and the next stream decodes whole.
    assert!(codec::inflate(&first[..first.len() / 2]).is_err());
    assert!(codec::inflate(b"\xff\xfe garbage").is_err());
    assert_eq!(codec::inflate(&first).unwrap(), data);
    assert_eq!(
        codec::inflate(&other).unwrap(),
        samples::LONG_OUTBOX_JSON.as_bytes()
    );
    // On another thread, with its own state: the same bytes.
    let again = std::thread::spawn(move || codec::deflate(data).unwrap())
        .join()
        .unwrap();
    assert_eq!(again, first);
}

/// What a message decompressed before stays out of the next one: a stream whose references
/// reach back past the dictionary, into bytes the previous message decompressed to, is
/// refused (a decompressor that kept its window would rebuild it from those bytes).
#[test]
fn inflate_does_not_reach_into_the_previous_message() {
    use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress};
    // 1 000 bytes found nowhere in the dictionary.
    let prev: Vec<u8> = (0..1000u32)
        .map(|i| b'a' + (i.wrapping_mul(2_654_435_761) >> 27) as u8 % 26)
        .collect();
    let raw = |dict: &[u8], data: &[u8]| {
        let mut c = Compress::new(Compression::best(), false);
        c.set_dictionary(dict).unwrap();
        let mut out = Vec::with_capacity(4096);
        c.compress_vec(data, &mut out, FlushCompress::Finish)
            .unwrap();
        out
    };
    // The same bytes compressed as if `prev` preceded the dictionary.
    let mut reaching = prev.clone();
    reaching.extend_from_slice(codec::dictionary());
    let crafted = raw(&reaching, &prev);
    assert!(crafted.len() < 100, "the stream refers back to prev");
    // It decodes only where prev precedes the dictionary.
    let mut d = Decompress::new(false);
    d.set_dictionary(&reaching).unwrap();
    let mut out = Vec::with_capacity(2048);
    d.decompress_vec(&crafted, &mut out, FlushDecompress::Finish)
        .unwrap();
    assert_eq!(out, prev);
    // The codec has just decompressed prev (its window holds it) and must still refuse it.
    let honest = raw(codec::dictionary(), &prev);
    assert_eq!(codec::inflate(&honest).unwrap(), prev);
    assert!(codec::inflate(&crafted).is_err());
}
