//! `xmjuris verify-extract` end to end: a real PKI made by `xmjuris pki init`,
//! extracts sealed with the CJN's key, printed by `xmjuris print extract`,
//! rendered with `pdftoppm`, decoded by `zbarimg` and by verify-extract's own
//! decoder; forged (self-made CA, a court's key), altered (a fake "Néant", a
//! changed name, a changed content) and revoked extracts refused.
//! Needs poppler-utils (`pdftoppm`, `pdftotext`) and zbar-tools (`zbarimg`).

mod common;

use common::{page_png, path_str, pdf_text, zbarimg};

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use protocol::extract::{ExtractContent, base45};
use protocol::pki::{self, CjnPki};
use protocol::{
    CourtCode, ExtractAnswer, ExtractEntry, ExtractPerson, Identity, OutboxPayload, samples,
};

fn xmjuris(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xmjuris"))
        .args(args)
        .env_remove("XMJURIS_TRUST")
        .env_remove("XMJURIS_PKI_DIR")
        .env_remove("XMJURIS_FORMS_DIR")
        .env_remove("XMJURIS_LETTERHEAD")
        .output()
        .expect("run xmjuris")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn ok(args: &[&str]) -> String {
    let out = xmjuris(args);
    assert!(
        out.status.success(),
        "xmjuris {args:?} failed ({:?}):\n{}\n{}",
        out.status.code(),
        stdout(&out),
        String::from_utf8_lossy(&out.stderr)
    );
    stdout(&out)
}

/// `xmjuris verify-extract <input> --trust <trust> [extra]`: (exit code, stdout, stderr).
fn verify(input: &str, trust: &Path, extra: &[&str]) -> (i32, String, String) {
    let mut args = vec!["verify-extract", input, "--trust", path_str(trust)];
    args.extend_from_slice(extra);
    let out = xmjuris(&args);
    (
        out.status.code().expect("exit code"),
        stdout(&out),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn assert_refused(input: &str, trust: &Path, extra: &[&str], because: &str) {
    let (code, out, err) = verify(input, trust, extra);
    assert_eq!(code, 1, "not refused:\n{out}\n{err}");
    assert!(
        out.starts_with("Extrait NON AUTHENTIQUE") && out.contains(because),
        "expected « {because} »:\n{out}"
    );
}

/// A CJN PKI created by the CLI, with its public verification bundle.
struct Cjn {
    dir: tempfile::TempDir,
    pki: CjnPki,
    bundle: PathBuf,
}

impl Cjn {
    fn new() -> Cjn {
        let dir = tempfile::tempdir().expect("temp dir");
        let pki_dir = dir.path().join("pki");
        ok(&["pki", "init", "--dir", path_str(&pki_dir)]);
        let bundle = dir.path().join("verification.pem");
        let said = ok(&[
            "pki",
            "verification-bundle",
            "--dir",
            path_str(&pki_dir),
            "-o",
            path_str(&bundle),
        ]);
        assert!(said.contains("Verification bundle written"), "{said}");
        let pki = CjnPki::open(&pki_dir).expect("open pki");
        Cjn { dir, pki, bundle }
    }

    fn pki_dir(&self) -> PathBuf {
        self.dir.path().join("pki")
    }

    /// A court enrolled with a one-time code: its identity (a valid court key).
    fn court(&self, code: u32) -> Identity {
        let court = CourtCode::new(code).expect("court code");
        let dir = self.dir.path().join(format!("court-{code}"));
        let enrollment = self.pki.new_enrollment_code(court, 1).expect("code");
        let (_, request) = pki::court_prepare_enrollment(&dir, &enrollment.code).expect("request");
        let answer = self
            .pki
            .handle_enrollment(court, &request)
            .expect("enrollment answer");
        pki::court_complete_enrollment(&dir, court, &enrollment.ca_fingerprint, &answer)
            .expect("enrolled")
            .0
    }
}

fn entry(json: &str, court_name: &str) -> ExtractEntry {
    let p = OutboxPayload::from_json(json.as_bytes()).expect("sample payload");
    ExtractEntry {
        niu: p.niu,
        version: p.version,
        fiche: p.fiche,
        court_name: Some(court_name.into()),
        rule: None,
        reason: None,
    }
}

/// Bulletin n°2 of Kobila Mangué: two convictions from two courts, or none.
fn content(convictions: usize) -> ExtractContent {
    let entries = [
        entry(
            samples::TYPICAL_OUTBOX_JSON,
            "Tribunal de première instance de Garoua-Boulaï",
        ),
        entry(
            samples::LONG_OUTBOX_JSON,
            "Tribunal de grande instance du Wouri",
        ),
    ];
    ExtractContent {
        extract_number: "B2-2026-000042".into(),
        bulletin: protocol::Bulletin::B2,
        issued_at: time::OffsetDateTime::now_utc(),
        person: ExtractPerson {
            surname: "Kobila".into(),
            given_names: "Mangué".into(),
            birth_date: time::macros::date!(2007 - 04 - 17),
            birth_place: Some("Ekouk".into()),
        },
        entries: entries.into_iter().take(convictions).collect(),
    }
}

/// Seals `content` with `signer` and writes the CJN's answer as JSON in `dir`.
fn answer(signer: &Identity, content: ExtractContent, dir: &Path, name: &str) -> ExtractAnswer {
    let sealed = protocol::seal_extract(signer, &content).expect("seal");
    let answer = ExtractAnswer::new(protocol::new_message_id(), content, Vec::new(), &sealed);
    std::fs::write(
        dir.join(name),
        serde_json::to_vec_pretty(&answer).expect("json"),
    )
    .expect("write answer");
    answer
}

/// Re-encodes a seal's text after `f` changed its decoded bytes (a forger's edit).
fn edit_seal(qr_text: &str, f: impl FnOnce(&mut Vec<u8>)) -> String {
    let mut bytes = base45::decode(qr_text.strip_prefix("XMJ1:").expect("prefix")).expect("b45");
    f(&mut bytes);
    format!("XMJ1:{}", base45::encode(&bytes))
}

fn replace_once(bytes: &mut [u8], from: &[u8], to: &[u8]) {
    assert_eq!(from.len(), to.len());
    let at = bytes
        .windows(from.len())
        .position(|w| w == from)
        .expect("pattern in the seal");
    assert!(
        bytes[at + 1..].windows(from.len()).all(|w| w != from),
        "pattern found twice"
    );
    bytes[at..at + from.len()].copy_from_slice(to);
}

#[test]
fn genuine_extract_is_accepted_from_text_png_and_pdf() {
    let cjn = Cjn::new();
    let dir = cjn.dir.path();
    let answer = answer(cjn.pki.identity(), content(2), dir, "answer.json");

    // Printed by the court from the CJN's answer.
    let pdf = dir.join("b2.pdf");
    let said = ok(&[
        "print",
        "extract",
        "--data",
        path_str(&dir.join("answer.json")),
        "-o",
        path_str(&pdf),
    ]);
    assert!(said.starts_with("bulletin-2:"), "{said}");
    let text = pdf_text(&pdf);
    for needle in [
        "BULLETIN N° 2",
        "B2-2026-000042",
        answer.verification_code.as_str(),
        "KOBILA",
        "12345202600001726",
        "Tribunal de grande instance du Wouri",
    ] {
        assert!(text.contains(needle), "{needle} not printed: {text}");
    }

    // The QR code on paper: zbarimg and verify-extract's own decoder read the same seal.
    let png = page_png(&pdf, 200);
    assert_eq!(zbarimg(&png), answer.qr_text);

    let (code, from_text, err) = verify(&answer.qr_text, &cjn.bundle, &[]);
    assert_eq!(code, 0, "{from_text}\n{err}");
    for needle in [
        "Extrait AUTHENTIQUE",
        "Bulletin :             n° 2",
        "Extrait n° :           B2-2026-000042",
        "KOBILA Mangué, né(e) le 17 avril 2007 à Ekouk",
        "Condamnations :        2 condamnations",
        answer.verification_code.as_str(),
    ] {
        assert!(from_text.contains(needle), "{needle} not in:\n{from_text}");
    }
    let (code, from_png, err) = verify(path_str(&png), &cjn.bundle, &[]);
    assert_eq!(code, 0, "{from_png}\n{err}");
    assert_eq!(from_png, from_text);
    let (code, from_pdf, err) = verify(path_str(&pdf), &cjn.bundle, &[]);
    assert_eq!(code, 0, "{from_pdf}\n{err}");
    assert_eq!(from_pdf, from_text);

    // A lower-resolution scan, and the PKI directory instead of the bundle.
    let (code, out, err) = verify(path_str(&page_png(&pdf, 150)), &cjn.pki_dir(), &[]);
    assert_eq!(code, 0, "{out}\n{err}");

    // The full content, as stored, matches the digest; the printed code matches.
    let (code, out, err) = verify(
        &answer.qr_text,
        &cjn.bundle,
        &[
            "--content",
            path_str(&dir.join("answer.json")),
            "--code",
            &answer.verification_code.to_lowercase(),
        ],
    );
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("Contenu complet :      CONFORME au sceau"),
        "{out}"
    );
    assert!(out.contains("Détournement de fonds publics"), "{out}");

    // A "Néant" says so.
    let neant = self::answer(cjn.pki.identity(), content(0), dir, "neant.json");
    let (code, out, _) = verify(&neant.qr_text, &cjn.bundle, &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Condamnations :        Néant"), "{out}");
}

#[test]
fn forged_extracts_are_refused() {
    let cjn = Cjn::new();
    let dir = cjn.dir.path();

    // A forger's own CA, complete with a "CJN" certificate.
    let forger = Cjn::new();
    let forged = answer(forger.pki.identity(), content(0), dir, "forged.json");
    assert_refused(&forged.qr_text, &cjn.bundle, &[], "ne connaît pas");
    // The forger's bundle does accept it: the refusal is about whom we trust.
    assert_eq!(verify(&forged.qr_text, &forger.bundle, &[]).0, 0);

    // A court's valid key: unknown to a verifier's bundle, and not the CJN when known.
    let court = cjn.court(23456);
    let by_court = answer(&court, content(0), dir, "court.json");
    assert_refused(&by_court.qr_text, &cjn.bundle, &[], "ne connaît pas");
    let with_court = dir.join("with-court.pem");
    let mut pem = std::fs::read(&cjn.bundle).expect("bundle");
    pem.extend(court.cert().to_pem().expect("pem"));
    std::fs::write(&with_court, pem).expect("write");
    assert_refused(
        &by_court.qr_text,
        &with_court,
        &[],
        "signé par une juridiction, pas par le casier judiciaire national",
    );
}

#[test]
fn altered_extracts_are_refused() {
    let cjn = Cjn::new();
    let dir = cjn.dir.path();
    let genuine = answer(cjn.pki.identity(), content(2), dir, "answer.json");
    assert_eq!(verify(&genuine.qr_text, &cjn.bundle, &[]).0, 0);

    // The classic fraud: two convictions made into "Néant" (map key 8, the count,
    // followed by key 9, the digest: a 32-byte string).
    let fake_neant = edit_seal(&genuine.qr_text, |b| {
        replace_once(
            b,
            &[0x08, 0x02, 0x09, 0x58, 0x20],
            &[0x08, 0x00, 0x09, 0x58, 0x20],
        )
    });
    assert_refused(&fake_neant, &cjn.bundle, &[], "extrait falsifié ou modifié");
    // Another person's name.
    let renamed = edit_seal(&genuine.qr_text, |b| replace_once(b, b"Kobila", b"Kabila"));
    assert_refused(&renamed, &cjn.bundle, &[], "extrait falsifié ou modifié");
    // The verification code printed beside a genuine QR code must be its own.
    assert_refused(
        &genuine.qr_text,
        &cjn.bundle,
        &["--code", "AAAA-BBBB-CCCC"],
        "le code de vérification imprimé",
    );

    // The stored content altered: a sentence lightened, or a conviction dropped.
    let mut lighter = genuine.clone();
    lighter.entries[1].fiche.condamnation.sentence_months = Some(1);
    let mut dropped = genuine.clone();
    dropped.entries.remove(0);
    for (name, altered, because) in [
        ("lighter.json", lighter, "(empreinte du contenu)"),
        (
            "dropped.json",
            dropped,
            "(nombre de condamnations, empreinte du contenu)",
        ),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, serde_json::to_vec(&altered).expect("json")).expect("write");
        assert_refused(
            &genuine.qr_text,
            &cjn.bundle,
            &["--content", path_str(&path)],
            because,
        );
        let (_, out, _) = verify(
            &genuine.qr_text,
            &cjn.bundle,
            &["--content", path_str(&path)],
        );
        assert!(out.contains("NON CONFORME au sceau"), "{out}");
    }
}

#[test]
fn extract_of_a_revoked_cjn_certificate_is_refused() {
    use openssl::asn1::Asn1Time;
    use openssl::bn::BigNum;
    use openssl::hash::MessageDigest;
    use openssl::x509::extension::{AuthorityKeyIdentifier, CrlNumber};
    use openssl::x509::{X509Builder, X509CrlBuilder, X509RevokedBuilder};

    let cjn = Cjn::new();
    let dir = cjn.dir.path();
    let genuine = answer(cjn.pki.identity(), content(1), dir, "answer.json");
    assert_eq!(verify(&genuine.qr_text, &cjn.bundle, &[]).0, 0);

    // The issuing CA revokes the CJN's certificate (`pki revoke` revokes courts only).
    let issuing_key =
        pki::read_key(&cjn.pki_dir().join(pki::files::ISSUING_KEY)).expect("issuing key");
    let mut crl = X509CrlBuilder::new().expect("crl");
    crl.set_issuer_name(cjn.pki.issuing().subject_name())
        .expect("issuer");
    let now = Asn1Time::days_from_now(0).expect("now");
    crl.set_last_update(&now).expect("last update");
    crl.set_next_update(&Asn1Time::days_from_now(30).expect("later"))
        .expect("next update");
    let ctx = X509Builder::new().expect("builder");
    crl.append_extension(
        AuthorityKeyIdentifier::new()
            .keyid(true)
            .build(&ctx.x509v3_context(Some(cjn.pki.issuing()), None))
            .expect("aki"),
    )
    .expect("aki");
    let number = (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1000 + 1).to_string();
    crl.append_extension(
        CrlNumber::new(BigNum::from_dec_str(&number).expect("number"))
            .and_then(|n| n.build())
            .expect("crl number"),
    )
    .expect("crl number");
    let mut revoked = X509RevokedBuilder::new().expect("revoked");
    revoked
        .set_serial_number(cjn.pki.identity().cert().serial_number())
        .expect("serial");
    revoked.set_revocation_date(&now).expect("date");
    crl.add_revoked(revoked.build()).expect("add");
    crl.sign(&issuing_key, MessageDigest::sha256())
        .expect("sign");
    let crl_path = dir.join("revoked.pem");
    std::fs::write(&crl_path, crl.build().expect("crl").to_pem().expect("pem")).expect("write");

    assert_refused(
        &genuine.qr_text,
        &cjn.bundle,
        &["--crl", path_str(&crl_path)],
        "est révoqué",
    );
}

#[test]
fn what_cannot_be_checked_offline_says_so() {
    let cjn = Cjn::new();
    // A verification code alone is checked with the CJN, not here.
    let (code, _, err) = verify("7K2M-Q9XD-4HZC", &cjn.bundle, &[]);
    assert_eq!(code, 2);
    assert!(err.contains("code de vérification"), "{err}");
    // An image without a QR code.
    let dir = cjn.dir.path();
    let pdf = dir.join("fiche.pdf");
    ok(&[
        "print",
        "fiche",
        "--data",
        path_str(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("forms/samples/fiche.json")),
        "-o",
        path_str(&pdf),
    ]);
    let (code, _, err) = verify(path_str(&page_png(&pdf, 100)), &cjn.bundle, &[]);
    assert_eq!(code, 2);
    assert!(err.contains("no QR code found"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_court_prints_a_stored_answer_from_its_database_and_it_verifies() {
    let cjn = Cjn::new();
    let dir = cjn.dir.path();
    let court = common::Court::new();
    let greffier = court.connect("kamdem").await;
    let person = serde_json::json!({
        "surname": "Kobila", "given_names": "Mangué", "birth_date": "2007-04-17",
        "birth_place": "Ekouk", "father": "Bikoula Mendomo"
    });
    let id: i64 = greffier
        .query_one(
            "select juris.request_extract($1, 2, 'Recrutement dans la fonction publique')",
            &[&person],
        )
        .await
        .expect("request")
        .get(0);
    let court_url = court.url("kamdem");
    let pdf = dir.join("from-db.pdf");
    let id_text = id.to_string();
    let print = |pdf: &Path, url: &str| {
        xmjuris(&[
            "print",
            "extract",
            "--request",
            &id_text,
            "--db",
            url,
            "-o",
            path_str(pdf),
        ])
    };

    // Not answered yet: nothing to print, and the clerk is told why.
    let out = print(&pdf, &court_url);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("n'a pas d'extrait à imprimer : en attente d'envoi"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The CJN's sealed answer, stored as the listener stores it.
    let admin = court.admin().await;
    let request_id: String = admin
        .query_one(
            "select message_id::text from court.extract_request where extract_request_id = $1",
            &[&id],
        )
        .await
        .expect("request row")
        .get(0);
    let content = content(2);
    let sealed = protocol::seal_extract(cjn.pki.identity(), &content).expect("seal");
    let answer = ExtractAnswer::new(
        request_id.parse().expect("uuid"),
        content,
        Vec::new(),
        &sealed,
    );
    let stored: bool = admin
        .query_one(
            "select juris.store_extract_answer($1::text::uuid, $2, '\\x3082')",
            &[&request_id, &serde_json::to_value(&answer).expect("json")],
        )
        .await
        .expect("store the answer")
        .get(0);
    assert!(stored);

    let out = print(&pdf, &court_url);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = pdf_text(&pdf);
    for needle in [
        "BULLETIN N° 2",
        answer.extract_number.as_str(),
        answer.verification_code.as_str(),
        "Tribunal de première instance de Garoua-Boulaï",
        "Recrutement dans la fonction publique",
        "Bikoula Mendomo",
    ] {
        assert!(text.contains(needle), "{needle} not printed: {text}");
    }
    let (code, out, err) = verify(path_str(&pdf), &cjn.bundle, &[]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("Condamnations :        2 condamnations"),
        "{out}"
    );

    // An agent may not read a bulletin n°2, so may not print it either.
    let out = print(&dir.join("agent.pdf"), &court.url("mbarga"));
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("réservée aux secrétaires et au greffier"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
