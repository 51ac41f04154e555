//! Sizes and speed of the sealed messages: for a typical and a long fiche, the
//! bytes of payload (JSON, CBOR, compressed) and sealed, and seal and open
//! operations per second on one core (median of several runs).
//!
//! `cargo run --release -p bench --bin seal`

use std::time::{Duration, Instant};

use anyhow::Context as _;
use protocol::pki::{self, CjnPki};
use protocol::{Message, OutboxPayload, Party, codec, open_messages, samples, seal_messages};

const RUNS: usize = 7;
const RUN_TIME: Duration = Duration::from_millis(700);
/// MQTT PUBLISH overhead per message (fixed header, topic `xmjuris/v1/12345/up`, packet id).
const MQTT_OVERHEAD: usize = 2 + 2 + 19 + 2;
const LINK_BITS_PER_SEC: usize = 15_000;

fn median_ops(mut f: impl FnMut() -> anyhow::Result<()>) -> anyhow::Result<f64> {
    let mut rates = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let start = Instant::now();
        let mut n = 0u64;
        while start.elapsed() < RUN_TIME {
            f()?;
            n += 1;
        }
        rates.push(n as f64 / start.elapsed().as_secs_f64());
    }
    rates.sort_by(f64::total_cmp);
    Ok(rates[RUNS / 2])
}

fn per_minute(bytes: usize) -> usize {
    LINK_BITS_PER_SEC / 8 * 60 / bytes
}

fn main() -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("xmjuris-bench-seal-{}", std::process::id()));
    let result = run(&dir);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn run(dir: &std::path::Path) -> anyhow::Result<()> {
    let cjn = CjnPki::init(&dir.join("cjn"))?;
    let court: protocol::CourtCode = "12345".parse()?;
    let code = cjn.new_enrollment_code(court, 1)?;
    let (_, req) = pki::court_prepare_enrollment(&dir.join("court"), &code.code)?;
    let answer = cjn.handle_enrollment(court, &req)?;
    let (court_id, _) =
        pki::court_complete_enrollment(&dir.join("court"), court, &code.ca_fingerprint, &answer)?;
    let trust = cjn.trust_store()?;

    let typical = OutboxPayload::from_json(samples::TYPICAL_OUTBOX_JSON.as_bytes())?.into_message();
    let mut long = OutboxPayload::from_json(samples::LONG_OUTBOX_JSON.as_bytes())?.into_message();
    long.header.sender = Party::Court(court);

    println!(
        "link: {LINK_BITS_PER_SEC} bit/s; MQTT overhead {MQTT_OVERHEAD} B per publish; {RUNS} runs, median"
    );
    println!(
        "{:<10} {:>6} {:>6} {:>10} {:>7} {:>9} {:>9} {:>12}",
        "fiche", "json", "cbor", "compressed", "sealed", "seal/s", "open/s", "fiches/min"
    );
    for (name, m) in [("typical", &typical), ("long", &long)] {
        let batch = std::slice::from_ref(m);
        let json = serde_json::to_vec(m)?.len();
        let cbor = codec::to_cbor(batch)?.len();
        let payload = codec::encode(batch)?.len();
        let sealed = seal_messages(batch, &court_id, cjn.identity().cert())?;
        let seal_rate = median_ops(|| {
            seal_messages(batch, &court_id, cjn.identity().cert())?;
            Ok(())
        })?;
        let open_rate = median_ops(|| {
            open_messages(&sealed, cjn.identity(), &trust, Party::Court(court)).context("open")?;
            Ok(())
        })?;
        println!(
            "{name:<10} {json:>6} {cbor:>6} {payload:>10} {:>7} {seal_rate:>9.0} {open_rate:>9.0} {:>12}",
            sealed.len(),
            per_minute(sealed.len() + MQTT_OVERHEAD)
        );
    }
    // Where `open` goes, for the typical fiche: OpenSSL's decryption alone (AuthEnvelopedData:
    // ECDH and AES-GCM), then the signed content checked (CMS signature, signer's chain,
    // revocation) as `open` does with its trust store (the chain remembered once verified), and
    // the chain verified afresh by OpenSSL each time (what every `open` did before).
    let sealed = seal_messages(
        std::slice::from_ref(&typical),
        &court_id,
        cjn.identity().cert(),
    )?;
    let cjn_key = pki::read_key(&dir.join("cjn").join(pki::files::CJN_KEY))?;
    let envelope = openssl::cms::CmsContentInfo::from_der(&sealed)?;
    let signed = envelope.decrypt(&cjn_key, cjn.identity().cert())?;
    let decrypt_rate = median_ops(|| {
        openssl::cms::CmsContentInfo::from_der(&sealed)?
            .decrypt(&cjn_key, cjn.identity().cert())?;
        Ok(())
    })?;
    let verify_rate = median_ops(|| {
        protocol::verify_signed(signed.clone(), &trust, Party::Court(court))?;
        Ok(())
    })?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let chain_rate = median_ops(|| {
        trust.verify_chain_at(court_id.cert(), now)?;
        Ok(())
    })?;
    let open_rate = median_ops(|| {
        open_messages(&sealed, cjn.identity(), &trust, Party::Court(court))?;
        Ok(())
    })?;
    let us = |rate: f64| 1e6 / rate;
    println!(
        "open, typical fiche, µs each (one core): all {:.0}; OpenSSL's decryption alone {:.0} (floor); \
         signature, chain and revocation checked {:.0}; a chain verified afresh {:.0}",
        us(open_rate),
        us(decrypt_rate),
        us(verify_rate),
        us(chain_rate)
    );
    // Backlog: ten different fiches in one envelope.
    let batch: Vec<Message> = (0..10u64)
        .map(|i| {
            let mut m = if i % 3 == 2 {
                long.clone()
            } else {
                typical.clone()
            };
            m.header.message_id = protocol::new_message_id();
            m.header.seq += i;
            if let protocol::Body::FicheSigned(e) | protocol::Body::FicheRectified(e) = &mut m.body
            {
                e.fiche.number += i;
                e.fiche.justiciable.surname = format!(
                    "{} {}",
                    ["Essomba", "Ngono", "Fouda", "Abena", "Tchinda"][(i % 5) as usize],
                    i
                );
                e.fiche.justiciable.given_names =
                    ["Paul", "Aminatou", "Jean-Marie", "Cécile", "Ibrahim"][(i % 5) as usize]
                        .into();
                e.niu = protocol::Niu::build(court, 2026, 100 + i as u32)?;
            }
            Ok(m)
        })
        .collect::<anyhow::Result<_>>()?;
    let sealed = seal_messages(&batch, &court_id, cjn.identity().cert())?;
    let payload = codec::encode(&batch)?.len();
    println!(
        "batch of 10 (7 typical, 3 long, different people): compressed {payload} B, sealed {} B, {} B per fiche, {} fiches/min",
        sealed.len(),
        sealed.len() / 10,
        per_minute(sealed.len() + MQTT_OVERHEAD) * 10
    );
    Ok(())
}
