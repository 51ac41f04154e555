//! The trust store at the scale of the country (ignored; run on demand):
//! `cargo test -p cjn-ingest --test scale -- --ignored --nocapture`
//! (`XMJURIS_SCALE_COURTS`, default 100 000 court certificates).
//!
//! Issues one certificate per court (a real P-256 key each, signed by the issuing CA), records
//! them in a real CJN database and seals an envelope from each of a few hundred of them. Then a
//! fresh process (this test binary again, so that the memory of issuing is not counted) does
//! what cjn-ingest does: reads every certificate from `cjn.court_certificates()` at start, then
//! uses every court once (the certificate answers are sealed for), and opens envelopes of courts
//! met for the first time and again; it prints its resident memory (VmRSS, and the peak VmHWM)
//! at each step and the time per open.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Instant;

use cjn_ingest::store::Store;
use cjn_ingest::trust::Trust;
use openssl::asn1::Asn1Time;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::x509::extension::SubjectKeyIdentifier;
use openssl::x509::{X509, X509Builder, X509NameBuilder};
use protocol::pki::{self, CjnPki};
use protocol::{CourtCode, Identity, Party, topics};

/// Courts that seal an envelope each (the others only have a certificate).
const SENDERS: u32 = 300;

/// VmRSS and VmHWM, KiB.
fn memory_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap()
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn memory(step: &str) {
    let (rss, hwm) = memory_kib();
    eprintln!(
        "  {step}: VmRSS {} MiB, VmHWM {} MiB",
        rss / 1024,
        hwm / 1024
    );
}

fn court_cert(
    code: u32,
    issuing: &X509,
    issuing_key: &PKey<openssl::pkey::Private>,
) -> (X509, PKey<Private>) {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    let key = PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_nid(Nid::ORGANIZATIONNAME, "XMJuris")
        .unwrap();
    name.append_entry_by_nid(Nid::ORGANIZATIONALUNITNAME, "juridiction")
        .unwrap();
    name.append_entry_by_nid(Nid::COMMONNAME, &format!("{code:05}"))
        .unwrap();
    let name = name.build();
    let mut b = X509Builder::new().unwrap();
    b.set_version(2).unwrap();
    let serial = openssl::bn::BigNum::from_u32(1_000_000 + code).unwrap();
    b.set_serial_number(&serial.to_asn1_integer().unwrap())
        .unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_issuer_name(issuing.subject_name()).unwrap();
    b.set_pubkey(&key).unwrap();
    b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::days_from_now(700).unwrap())
        .unwrap();
    let ski = SubjectKeyIdentifier::new()
        .build(&b.x509v3_context(Some(issuing), None))
        .unwrap();
    b.append_extension(ski).unwrap();
    b.sign(issuing_key, MessageDigest::sha256()).unwrap();
    (b.build(), key)
}

fn court(code: u32) -> CourtCode {
    format!("{code:05}").parse().unwrap()
}

fn sealed_path(dir: &Path, code: u32) -> std::path::PathBuf {
    dir.join(format!("sealed-{code:05}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement, run on demand"]
async fn trust_store_of_every_court() {
    if let Ok(dir) = std::env::var("XMJURIS_SCALE_CHILD") {
        return measure(Path::new(&dir)).await;
    }
    let n: u32 = std::env::var("XMJURIS_SCALE_COURTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000)
        .clamp(SENDERS + 10, 99_999);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("cjn-pki");
    let cjn = CjnPki::init(&dir).unwrap();
    let issuing_key = pki::read_key(&dir.join(pki::files::ISSUING_KEY)).unwrap();

    // n courts; the first SENDERS seal an envelope each.
    let started = Instant::now();
    let mut certs = Vec::new();
    for code in 1..=n {
        let (cert, key) = court_cert(code, cjn.issuing(), &issuing_key);
        if code <= SENDERS {
            let identity = Identity::new(key, cert.clone()).unwrap();
            let mut msg = protocol::OutboxPayload::from_json(
                protocol::samples::TYPICAL_OUTBOX_JSON.as_bytes(),
            )
            .unwrap();
            msg.court_code = court(code);
            msg.niu = protocol::Niu::build(court(code), 2026, 1).unwrap();
            let sealed =
                protocol::seal_messages(&[msg.into_message()], &identity, cjn.identity().cert())
                    .unwrap();
            std::fs::write(sealed_path(tmp.path(), code), sealed).unwrap();
        }
        certs.push(cert);
    }
    eprintln!(
        "{} certificates issued in {:.1} s",
        certs.len(),
        started.elapsed().as_secs_f64()
    );

    // Recorded in a real CJN database, as cjn-ingest finds them at start.
    let cluster = sandbox::PgCluster::start().unwrap();
    cluster.create_database("cjn").unwrap();
    db::migrate(&cluster.admin_url("cjn"), db::Schema::Cjn)
        .await
        .unwrap();
    let admin = db::connect(&cluster.admin_url("cjn")).await.unwrap();
    admin
        .batch_execute(&format!(
            "insert into registry.court (code, name, region, departement, arrondissement) \
             select lpad(g::text, 5, '0'), 'Tribunal', 'R', 'D', 'A' from generate_series(1, {n}) g"
        ))
        .await
        .unwrap();
    let started = Instant::now();
    for chunk in certs.chunks(5000) {
        let mut codes = Vec::new();
        let mut serials = Vec::new();
        let mut skis = Vec::new();
        let mut ders = Vec::new();
        for cert in chunk {
            let info = cjn_ingest::trust::cert_info(cert).unwrap();
            codes.push(info.court_code);
            serials.push(info.serial);
            skis.push(info.subject_key_id);
            ders.push(info.der);
        }
        admin
            .execute(
                "insert into registry.court_certificate (court_code, serial, subject_key_id, not_before, not_after, der) \
                 select c, s, k, now() - interval '1 day', now() + interval '700 days', d \
                   from unnest($1::text[], $2::text[], $3::text[], $4::bytea[]) as u(c, s, k, d)",
                &[&codes, &serials, &skis, &ders],
            )
            .await
            .unwrap();
    }
    eprintln!(
        "recorded in the registry in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    admin
        .batch_execute("create role ingest login password 'x' in role cjn_ingest")
        .await
        .unwrap();
    drop(certs);
    std::fs::write(tmp.path().join("port"), cluster.port().to_string()).unwrap();
    std::fs::write(tmp.path().join("courts"), n.to_string()).unwrap();

    // The measurement, in a fresh process.
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "trust_store_of_every_court",
            "--nocapture",
        ])
        .env("XMJURIS_SCALE_CHILD", tmp.path())
        .status()
        .unwrap();
    assert!(status.success());
}

/// What cjn-ingest does, in a process of its own.
async fn measure(tmp: &Path) {
    let read = |name: &str| -> u32 {
        std::fs::read_to_string(tmp.join(name))
            .unwrap()
            .parse()
            .unwrap()
    };
    let (port, n) = (read("port"), read("courts"));
    let cjn = CjnPki::open(&tmp.join("cjn-pki")).unwrap();
    let sealed: Vec<Vec<u8>> = (1..=SENDERS)
        .map(|c| std::fs::read(sealed_path(tmp, c)).unwrap())
        .collect();
    eprintln!("a fresh process, {n} courts:");
    memory("before");

    // Start.
    let started = Instant::now();
    let store = Store::connect(&cjn_ingest::config::DatabaseConfig {
        url: format!("host=127.0.0.1 port={port} dbname=cjn user=ingest"),
        password: Some(cjn_ingest::config::Secret::new("x")),
    })
    .await
    .unwrap();
    let rows = store.court_certificates(None).await.unwrap();
    let read = started.elapsed();
    let trust = Trust::new(&cjn).unwrap();
    for row in rows {
        trust.add_der(row.court_code.parse().unwrap(), row.serial, row.der);
    }
    assert_eq!(trust.court_certificates(), n as usize);
    eprintln!(
        "  start: certificates read in {:.2} s, kept in {:.2} s more: serving",
        read.as_secs_f64(),
        (started.elapsed() - read).as_secs_f64()
    );
    memory("serving");

    // Opening envelopes of courts met for the first time, then again.
    let open_all = |label: &str| {
        let started = Instant::now();
        for (i, sealed) in sealed.iter().enumerate() {
            let c = court(i as u32 + 1);
            let (opened, _) = trust.open(&topics::up(c), sealed, cjn.identity()).unwrap();
            assert_eq!(opened.signer, Party::Court(c));
            assert!(trust.recipient(c, Some(&opened.signer_serial)).is_some());
        }
        eprintln!(
            "  open + recipient, {label}: {:.0} µs each ({SENDERS} courts)",
            started.elapsed().as_secs_f64() * 1e6 / f64::from(SENDERS)
        );
    };
    open_all("first message of each court");
    open_all("next message");

    // Every court used once (its certificate looked up to seal an answer).
    let started = Instant::now();
    for c in 1..=n {
        assert!(trust.recipient(court(c), None).is_some());
    }
    eprintln!(
        "  every court used once in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    memory("every court used once");
    open_all("again after every court was used");

    // Against a trust store that knows one court.
    let small = Trust::new(&cjn).unwrap();
    let first = store.court_certificates(Some("00001")).await.unwrap();
    small.add(X509::from_der(&first[0].der).unwrap()).unwrap();
    let rounds = 300;
    let started = Instant::now();
    for _ in 0..rounds {
        let (opened, _) = small
            .open(&topics::up(court(1)), &sealed[0], cjn.identity())
            .unwrap();
        assert!(
            small
                .recipient(court(1), Some(&opened.signer_serial))
                .is_some()
        );
    }
    eprintln!(
        "  open + recipient, one court known: {:.0} µs each",
        started.elapsed().as_secs_f64() * 1e6 / f64::from(rounds)
    );
}
