//! The trust store at the scale of the country (ignored; run on demand):
//! `cargo test -p cjn-ingest --test scale -- --ignored --nocapture`
//! (`XMJURIS_SCALE_COURTS`, default 100 000 court certificates).
//!
//! Issues one certificate per court (a real P-256 key each, signed by the issuing CA), records
//! them in a real CJN database, then measures what cjn-ingest does at start (read every
//! certificate from `cjn.court_certificates()` and index it) and what it costs per message
//! (open an envelope with that many certificates known, against a handful).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use cjn_ingest::store::Store;
use cjn_ingest::trust::Trust;
use openssl::asn1::Asn1Time;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::PKey;
use openssl::x509::extension::SubjectKeyIdentifier;
use openssl::x509::{X509, X509Builder, X509NameBuilder};
use protocol::pki::{self, CjnPki};
use protocol::{CourtCode, Party, topics};

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap()
}

fn court_cert(code: u32, issuing: &X509, issuing_key: &PKey<openssl::pkey::Private>) -> X509 {
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
    b.build()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement, run on demand"]
async fn trust_store_of_every_court() {
    let n: u32 = std::env::var("XMJURIS_SCALE_COURTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000)
        .clamp(10, 99_999);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("cjn-pki");
    let cjn = CjnPki::init(&dir).unwrap();
    let issuing_key = pki::read_key(&dir.join(pki::files::ISSUING_KEY)).unwrap();

    // One real court (enrolled, to seal a real message) and n - 1 others.
    let court: CourtCode = "00001".parse().unwrap();
    let code = cjn.new_enrollment_code(court, 1).unwrap();
    let court_dir = tmp.path().join("court");
    let (c, request) = pki::court_prepare_enrollment(&court_dir, &code.code).unwrap();
    let answer = cjn.handle_enrollment(c, &request).unwrap();
    let (identity, _) =
        pki::court_complete_enrollment(&court_dir, c, &code.ca_fingerprint, &answer).unwrap();
    let started = Instant::now();
    let mut certs = vec![identity.cert().clone()];
    for code in 2..=n {
        certs.push(court_cert(code, cjn.issuing(), &issuing_key));
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

    // What cjn-ingest does at start.
    let rss_before = rss_kib();
    let started = Instant::now();
    let store = Store::connect(&cjn_ingest::config::DatabaseConfig {
        url: format!(
            "host=127.0.0.1 port={} dbname=cjn user=ingest",
            cluster.port()
        ),
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
    let kept = started.elapsed();
    let rss_kept = rss_kib();
    while trust.warm_up(1000) > 0 {}
    let loaded = started.elapsed();
    let rss_after = rss_kib();
    assert_eq!(trust.court_certificates(), n as usize);
    eprintln!(
        "start: {n} certificates read in {:.2} s and kept as DER in {:.2} s more (+{} MiB): serving; \
         all parsed in {:.1} s more; resident memory then +{} MiB ({} bytes per certificate)",
        read.as_secs_f64(),
        (kept - read).as_secs_f64(),
        rss_kept.saturating_sub(rss_before) / 1024,
        (loaded - kept).as_secs_f64(),
        rss_after.saturating_sub(rss_before) / 1024,
        rss_after.saturating_sub(rss_before) * 1024 / u64::from(n)
    );

    // Per message: open an envelope with every court known, against a handful.
    let msg = protocol::OutboxPayload::from_json(protocol::samples::TYPICAL_OUTBOX_JSON.as_bytes())
        .unwrap();
    let mut msg = msg;
    msg.court_code = court;
    msg.niu = protocol::Niu::build(court, 2026, 1).unwrap();
    let sealed =
        protocol::seal_messages(&[msg.into_message()], &identity, cjn.identity().cert()).unwrap();
    let topic = topics::up(court);
    let small = Trust::new(&cjn).unwrap();
    small.add(identity.cert().clone()).unwrap();
    for (label, t) in [("every court known", &trust), ("one court known", &small)] {
        let rounds = 300;
        let started = Instant::now();
        for _ in 0..rounds {
            let (opened, _) = t.open(&topic, &sealed, cjn.identity()).unwrap();
            assert_eq!(opened.signer, Party::Court(court));
            assert!(t.recipient(court, Some(&opened.signer_serial)).is_some());
        }
        eprintln!(
            "open + recipient lookup, {label}: {:.0} µs each",
            started.elapsed().as_secs_f64() * 1e6 / f64::from(rounds)
        );
    }
}
