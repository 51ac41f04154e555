//! Every document rendered from its sample data to PDF, its text read back
//! with `pdftotext` (poppler-utils) and its QR code with `zbarimg`
//! (zbar-tools); user templates that override, add, or break.

use std::path::{Path, PathBuf};
use std::process::Command;

use forms::{Forms, FormsError, Lang, Letterhead, LetterheadText, Origin, sample};

fn letterhead() -> Letterhead {
    Letterhead {
        country: "République du Cameroun".into(),
        motto: Some("Paix – Travail – Patrie".into()),
        ministry: Some("Ministère de la Justice".into()),
        registry: "Casier judiciaire national".into(),
        registry_city: Some("Yaoundé".into()),
        currency: "FCFA".into(),
        language: None,
        en: Some(LetterheadText {
            country: Some("Republic of Cameroon".into()),
            motto: Some("Peace – Work – Fatherland".into()),
            ministry: Some("Ministry of Justice".into()),
            registry: Some("National Criminal Record".into()),
            ..Default::default()
        }),
    }
}

fn forms() -> Forms {
    Forms::builtin().with_letterhead(letterhead())
}

fn data(file: &str) -> serde_json::Value {
    sample(file).unwrap_or_else(|| panic!("sample {file} is missing"))
}

fn tool(name: &str) -> Command {
    let probe = Command::new(name).arg("-v").output();
    assert!(
        probe.is_ok(),
        "`{name}` is not installed: install the Debian packages poppler-utils and zbar-tools"
    );
    Command::new(name)
}

/// The PDF's text, with runs of white space (including no-break spaces) made one space.
fn pdf_text(pdf: &[u8], dir: &Path) -> String {
    let path = dir.join("doc.pdf");
    std::fs::write(&path, pdf).expect("write pdf");
    let out = tool("pdftotext")
        .args(["-enc", "UTF-8"])
        .arg(&path)
        .arg("-")
        .output()
        .expect("run pdftotext");
    assert!(out.status.success(), "pdftotext failed: {out:?}");
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// What `zbarimg` reads on the first page of the PDF, rasterised at 200 dpi.
fn pdf_qr(pdf: &[u8], dir: &Path) -> String {
    let path = dir.join("qr.pdf");
    std::fs::write(&path, pdf).expect("write pdf");
    let prefix = dir.join("page");
    let status = tool("pdftoppm")
        .args(["-r", "200", "-png", "-f", "1", "-l", "1", "-singlefile"])
        .arg(&path)
        .arg(&prefix)
        .status()
        .expect("run pdftoppm");
    assert!(status.success());
    png_qr(&prefix.with_extension("png"))
}

fn png_qr(png: &Path) -> String {
    let out = tool("zbarimg")
        .args(["--quiet", "--raw", "-Sdisable", "-Sqrcode.enable"])
        .arg(png)
        .output()
        .expect("run zbarimg");
    assert!(out.status.success(), "zbarimg found no QR code: {out:?}");
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .trim_end_matches('\n')
        .to_owned()
}

fn assert_contains(text: &str, expected: &[&str]) {
    for needle in expected {
        assert!(text.contains(needle), "`{needle}` not found in:\n{text}");
    }
}

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

#[test]
fn fiche_shows_every_field_of_the_court_screen() {
    let dir = tempdir();
    let pdf = forms()
        .render_pdf("fiche", &data("fiche.json"))
        .expect("render");
    assert!(pdf.starts_with(b"%PDF-"));
    let text = pdf_text(&pdf, dir.path());
    assert_contains(
        &text,
        &[
            "RÉPUBLIQUE DU CAMEROUN",
            "Paix – Travail – Patrie",
            "MINISTÈRE DE LA JUSTICE",
            "Tribunal de première instance de Garoua-Boulaï",
            "ADAMAOUA",
            "FARO ET DEO",
            "Biyouha",
            "12345",
            "Fiche N° 19",
            "archivée",
            "12345202600001735",
            "103/SD/Just/2018",
            "KOBILA Mangué",
            "17/04/2007",
            "Ekouk",
            "Agriculteur",
            "Célibataire",
            "Bikoula Mendomo",
            "Atouba Fabienne",
            "Tsinga",
            "Camerounaise",
            "18/06/2018",
            "15/09/2017",
            "Détournement de fonds publics",
            "Atteinte aux biens publics",
            "Aucun",
            "Accident sans dégâts matériels.",
            "Emprisonnement de 2 ans dont 1 an avec sursis et amende de 500 000 FCFA",
            "Zambo Kenneth",
            "Kamdem Jean",
            "Mbome François",
            "Le Greffier",
            "08/04/2026",
        ],
    );
    assert!(!text.contains("non signée"));
}

/// Issue 15: a ban's own dates and a minority fixed by the court are printed, never a ban with
/// an end shown as « à titre définitif ».
#[test]
fn fiche_prints_a_ban_s_own_dates_and_a_minority_fixed_by_the_court() {
    let dir = tempdir();
    let mut d = data("fiche.json");
    d["condamnation"]["minor"] = true.into();
    d["condamnation"]["minor_decided"] = true.into();
    d["condamnation"]["ban"] = "Interdiction de séjour à Garoua".into();
    d["condamnation"]["ban_start"] = "2018-07-01".into();
    d["condamnation"]["ban_end"] = "2021-07-01".into();
    let text = pdf_text(
        &forms().render_pdf("fiche", &d).expect("render"),
        dir.path(),
    );
    assert_contains(
        &text,
        &[
            "Interdiction de séjour à Garoua",
            "01/07/2021 à compter du 01/07/2018",
            "Oui (fixé par la juridiction)",
        ],
    );
    assert!(!text.contains("à titre définitif"), "{text}");
    d["condamnation"]["ban_start"] = serde_json::Value::Null;
    d["condamnation"]["ban_end"] = serde_json::Value::Null;
    d["condamnation"]["ban_months"] = 24.into();
    d["condamnation"]["ban_from_release"] = true.into();
    let text = pdf_text(
        &forms().render_pdf("fiche", &d).expect("render"),
        dir.path(),
    );
    assert_contains(&text, &["24 mois à compter de la libération"]);
}

#[test]
fn draft_fiche_with_holes_prints_dashes_and_a_watermark() {
    let dir = tempdir();
    let pdf = forms()
        .render_pdf("fiche", &data("fiche-brouillon.json"))
        .expect("render");
    let text = pdf_text(&pdf, dir.path());
    assert_contains(
        &text,
        &[
            "Fiche non signée",
            "ÉBODÉ Françoise Aïssatou",
            "03/12/1990",
            "brouillon",
            "—",
        ],
    );
}

#[test]
fn fiche_renders_from_a_bare_object() {
    // Any field may be missing: the template still prints a page.
    let pdf = forms()
        .render_pdf("fiche", &serde_json::json!({}))
        .expect("render");
    assert!(pdf.starts_with(b"%PDF-"));
}

#[test]
fn list_of_fiches_shows_the_period_and_rows() {
    let dir = tempdir();
    let pdf = forms()
        .render_pdf("liste-fiches", &data("liste-fiches.json"))
        .expect("render");
    let text = pdf_text(&pdf, dir.path());
    assert_contains(
        &text,
        &[
            "LISTE DES FICHES",
            "du 01/04/2026 au 30/04/2026",
            "12345202600002868",
            "NKOULOU Jean-Bosco",
            "Vol aggravé",
            "signée",
            "Nombre de fiches : 3",
        ],
    );
}

#[test]
fn bulletins_show_entries_numbers_and_a_qr_code_that_decodes_to_the_payload() {
    for (template, file) in [
        ("bulletin-1", "bulletin-1.json"),
        ("bulletin-2", "bulletin-2.json"),
        ("bulletin-3", "bulletin-3.json"),
    ] {
        let dir = tempdir();
        let data = data(file);
        let pdf = forms().render_pdf(template, &data).expect("render");
        let text = pdf_text(&pdf, dir.path());
        let b = &data["bulletin"];
        let number = b["number"].to_string();
        assert_contains(
            &text,
            &[
                &format!("BULLETIN N° {number}"),
                b["extract_number"].as_str().expect("extract number"),
                b["verification_code"].as_str().expect("code"),
                "KOBILA",
                "Mangué",
                "17/04/2007",
                "Ekouk",
                "Détournement de fonds publics",
                "103/SD/Just/2018",
                "12345202600001735",
                "Fait à Yaoundé, le 08/04/2026",
            ],
        );
        assert!(!text.contains("Néant"), "{template} has entries");
        assert_eq!(
            pdf_qr(&pdf, dir.path()),
            b["qr_payload"].as_str().expect("payload"),
            "{template}"
        );
    }
}

#[test]
fn bulletin_1_shows_a_free_text_sentence() {
    let dir = tempdir();
    let pdf = forms()
        .render_pdf("bulletin-1", &data("bulletin-1.json"))
        .expect("render");
    let text = pdf_text(&pdf, dir.path());
    assert_contains(
        &text,
        &[
            "Six mois d'emprisonnement avec sursis",
            "Amende de 150 000 FCFA",
            "Cour d'appel de l'Adamaoua",
        ],
    );
}

#[test]
fn empty_bulletin_says_neant() {
    let dir = tempdir();
    let data = data("bulletin-3-neant.json");
    let pdf = forms().render_pdf("bulletin-3", &data).expect("render");
    let text = pdf_text(&pdf, dir.path());
    assert_contains(&text, &["Néant", "ÉBODÉ", "Fille de Ébodé Martin"]);
    assert_eq!(
        pdf_qr(&pdf, dir.path()),
        data["bulletin"]["qr_payload"].as_str().expect("payload")
    );
}

#[test]
fn qr_code_carries_any_payload_exactly() {
    let dir = tempdir();
    let mut data = data("bulletin-3.json");
    let payload = "XMJ1|b3|ÉÀ ü+/=:?&#%|eyJhbGciOiJFUzI1NiJ9.eyJ4IjoxfQ.c2lnbmF0dXJl";
    data["bulletin"]["qr_payload"] = payload.into();
    let pdf = forms().render_pdf("bulletin-3", &data).expect("render");
    assert_eq!(pdf_qr(&pdf, dir.path()), payload);
}

#[test]
fn png_preview_holds_a_decodable_qr_code() {
    let dir = tempdir();
    let data = data("bulletin-3.json");
    let compiled = forms().compile("bulletin-3", &data).expect("compile");
    let image = compiled.image(0, 2.0).expect("render png");
    // A4 at 2 px/pt: 1191 x 1684.
    assert_eq!((image.width, image.height), (1191, 1684));
    assert_eq!(image.rgba.len(), 1191 * 1684 * 4);
    let png = dir.path().join("preview.png");
    std::fs::write(&png, &image.png).expect("write png");
    assert_eq!(
        png_qr(&png),
        data["bulletin"]["qr_payload"].as_str().expect("payload")
    );
    assert!(matches!(
        compiled.image(5, 1.0),
        Err(FormsError::NoSuchPage { page: 5, count: 1 })
    ));
}

#[test]
fn receipt_shows_what_the_cjn_received() {
    let dir = tempdir();
    let pdf = forms()
        .render_pdf("recu-cjn", &data("recu-cjn.json"))
        .expect("render");
    let text = pdf_text(&pdf, dir.path());
    assert_contains(
        &text,
        &[
            "ACCUSÉ DE RÉCEPTION",
            "0192f3a4-7b1c-7e55-9a41-3c2d8e0f6a17",
            "12345202600001735",
            "08/04/2026 à 10 h 15",
            "9f2c4be1 7a0d53e8",
            "SHA-256",
            "Tribunal de première instance de Garoua-Boulaï",
        ],
    );
}

#[test]
fn default_letterhead_names_no_country() {
    let dir = tempdir();
    let pdf = Forms::builtin()
        .render_pdf("fiche", &data("fiche.json"))
        .expect("render");
    let text = pdf_text(&pdf, dir.path());
    assert!(text.starts_with("RÉPUBLIQUE "), "{text}");
    assert!(!text.contains("CAMEROUN"));
}

fn user_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempdir();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).expect("write template");
    }
    dir
}

#[test]
fn user_template_overrides_the_builtin_and_adds_documents() {
    let dir = user_dir(&[
        (
            "fiche.typ",
            "// Fiche maison.\n// data: fiche\n#let data = json(\"data.json\")\nFICHE MAISON #data.fiche.niu\n",
        ),
        (
            "attestation.typ",
            "// Attestation de transmission.\n// data: receipt\n#import \"_commun.typ\": *\n#let d = json(\"data.json\")\nAttestation pour le NIU #code(d.receipt.niu), #upper(d.letterhead.country)\n",
        ),
        (
            "letterhead.toml",
            "country = \"République de Démo\"\nregistry = \"Casier judiciaire national\"\n",
        ),
    ]);
    let forms = Forms::with_user_dir(dir.path()).expect("user dir");
    let list = forms.templates().expect("list");
    let fiche = list.iter().find(|t| t.name == "fiche").expect("fiche");
    assert!(fiche.overrides_builtin);
    assert_eq!(fiche.origin, Origin::User(dir.path().join("fiche.typ")));
    let new = list
        .iter()
        .find(|t| t.name == "attestation")
        .expect("new document");
    assert_eq!(new.kind, Some(forms::DataKind::Receipt));
    assert!(!new.overrides_builtin);
    assert!(
        list.iter()
            .any(|t| t.name == "bulletin-3" && t.origin == Origin::BuiltIn)
    );

    let out = tempdir();
    let text = pdf_text(
        &forms
            .render_pdf("fiche", &data("fiche.json"))
            .expect("render"),
        out.path(),
    );
    assert_eq!(text, "FICHE MAISON 12345202600001735");
    let text = pdf_text(
        &forms
            .render_pdf("attestation", &data("recu-cjn.json"))
            .expect("render"),
        out.path(),
    );
    assert_eq!(
        text,
        "Attestation pour le NIU 12345202600001735, RÉPUBLIQUE DE DÉMO"
    );
    // The built-in one stays available.
    let text = pdf_text(
        &forms
            .builtin_only()
            .render_pdf("fiche", &data("fiche.json"))
            .expect("render"),
        out.path(),
    );
    assert_contains(&text, &["RÉPUBLIQUE DE DÉMO", "KOBILA Mangué"]);
}

#[test]
fn broken_template_gives_file_line_and_message_and_the_builtin_remains() {
    let dir = user_dir(&[(
        "fiche.typ",
        "// data: fiche\n#let data = json(\"data.json\")\n\nNom : #data.justiciable.surnom\n",
    )]);
    let forms = Forms::with_user_dir(dir.path()).expect("user dir");
    let error = forms
        .render_pdf("fiche", &data("fiche.json"))
        .expect_err("broken");
    let FormsError::Template {
        template,
        diagnostics,
    } = &error
    else {
        panic!("unexpected error {error:?}");
    };
    assert_eq!(template, "fiche");
    let first = &diagnostics[0];
    let path = dir.path().join("fiche.typ").display().to_string();
    assert_eq!(first.file.as_deref(), Some(path.as_str()));
    assert_eq!(first.line, Some(4));
    assert!(first.message.contains("surnom"), "{first}");
    let shown = error.to_string();
    assert!(shown.contains(&format!("{path}:4:")), "{shown}");

    let (compiled, user_error) = forms
        .compile_or_builtin("fiche", &data("fiche.json"))
        .expect("built-in fallback");
    assert_eq!(compiled.origin(), &Origin::BuiltIn);
    assert!(matches!(user_error, Some(FormsError::Template { .. })));
    assert!(compiled.pdf().expect("pdf").starts_with(b"%PDF-"));
}

#[test]
fn syntax_error_in_a_module_points_at_the_module() {
    let dir = user_dir(&[("_commun.typ", "#let val(x) = {\n  x +\n")]);
    let forms = Forms::with_user_dir(dir.path()).expect("user dir");
    let error = forms
        .render_pdf("recu-cjn", &data("recu-cjn.json"))
        .expect_err("broken");
    let FormsError::Template { diagnostics, .. } = &error else {
        panic!("unexpected error {error:?}");
    };
    let path: PathBuf = dir.path().join("_commun.typ");
    assert!(
        diagnostics.iter().any(
            |d| d.file.as_deref() == Some(path.display().to_string().as_str()) && d.line.is_some()
        ),
        "{error}"
    );
}

#[test]
fn blank_template_is_an_error_not_a_blank_page() {
    let dir = user_dir(&[(
        "fiche.typ",
        "// data: fiche\n#let data = json(\"data.json\")\n",
    )]);
    let forms = Forms::with_user_dir(dir.path()).expect("user dir");
    let error = forms
        .render_pdf("fiche", &data("fiche.json"))
        .expect_err("blank");
    assert!(matches!(error, FormsError::BlankDocument { .. }), "{error}");
}

#[test]
fn wrong_data_and_unknown_documents_are_clear_errors() {
    let error = forms()
        .render_pdf("fiche", &serde_json::json!({"fiche": {"number": "dix"}}))
        .expect_err("bad data");
    assert!(matches!(error, FormsError::Data { .. }), "{error}");
    let error = forms()
        .render_pdf("bulletin-9", &data("bulletin-3.json"))
        .expect_err("unknown");
    assert!(error.to_string().contains("bulletin-3"), "{error}");
}

#[test]
fn check_compiles_every_document_and_reports_each_broken_one() {
    let outcomes = forms().check().expect("check");
    assert_eq!(
        outcomes.len(),
        12,
        "six documents, each in French and English"
    );
    for outcome in &outcomes {
        assert!(
            outcome.result.is_ok(),
            "{}: {:?}",
            outcome.template.name,
            outcome.result
        );
    }

    let dir = user_dir(&[
        ("bulletin-3.typ", "// data: bulletin\n#nope\n"),
        ("divers.typ", "Sans type de données.\n"),
        ("recu-cjn.typ", "// data: recu\nx\n"),
    ]);
    let outcomes = Forms::with_user_dir(dir.path())
        .expect("user dir")
        .check()
        .expect("check");
    let failed: Vec<&str> = outcomes
        .iter()
        .filter(|o| o.result.is_err())
        .map(|o| o.template.name.as_str())
        .collect();
    assert_eq!(failed, ["bulletin-3", "divers", "recu-cjn"]);
}

#[test]
fn renderer_can_run_off_the_ui_thread() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Forms>();
    send_sync::<forms::Compiled>();
    let forms = forms();
    let handle = std::thread::spawn(move || {
        forms
            .compile("recu-cjn", &data("recu-cjn.json"))
            .map(|c| c.page_count())
    });
    assert_eq!(handle.join().expect("thread").expect("compile"), 1);
}

// ---------------------------------------------------------------------------
// English documents
// ---------------------------------------------------------------------------

/// French words of the built-in documents that an English one must not print (the data's own
/// French, such as the offence's nature, is the court's and stays).
const FRENCH_LABELS: &[&str] = &[
    "Date de naissance",
    "Nom du père",
    "Juridiction",
    "Condamnation",
    "Fait à",
    "Emprisonnement",
    "Page 1 / 1",
    "RÉPUBLIQUE",
    "Accusé",
    "Néant",
];

fn assert_english(text: &str, template: &str) {
    for word in FRENCH_LABELS {
        assert!(
            !text.contains(word),
            "{template} prints the French `{word}`:\n{text}"
        );
    }
}

#[test]
fn every_document_has_an_english_version_chosen_by_language() {
    let forms = forms();
    for name in [
        "fiche",
        "liste-fiches",
        "bulletin-1",
        "bulletin-2",
        "bulletin-3",
        "recu-cjn",
    ] {
        assert_eq!(forms.localized(name, Lang::Fr).expect("list"), name);
        let english = forms.localized(name, Lang::En).expect("list");
        assert_eq!(english, format!("{name}-en"));
        let info = forms
            .templates()
            .expect("list")
            .into_iter()
            .find(|t| t.name == english)
            .expect("the English template");
        assert_eq!(info.lang, Lang::En, "{english}");
        let french = forms
            .templates()
            .expect("list")
            .into_iter()
            .find(|t| t.name == name);
        assert_eq!(french.map(|t| t.lang), Some(Lang::Fr));
        assert_eq!(
            info.kind,
            forms::DataKind::from_template_name(name),
            "{english}"
        );
    }
    // A court's own document with no English version prints in its one language.
    let dir = user_dir(&[(
        "attestation.typ",
        "// data: fiche\n// Attestation.\n= Attestation\n",
    )]);
    let user = Forms::with_user_dir(dir.path()).expect("folder");
    assert_eq!(
        user.localized("attestation", Lang::En).expect("list"),
        "attestation"
    );
}

#[test]
fn english_fiche_shows_every_field_in_english() {
    let dir = tempdir();
    let pdf = forms()
        .render_pdf("fiche-en", &data("fiche.json"))
        .expect("render");
    let text = pdf_text(&pdf, dir.path());
    assert_contains(
        &text,
        &[
            "REPUBLIC OF CAMEROON",
            "Peace – Work – Fatherland",
            "MINISTRY OF JUSTICE",
            "CONVICTION RECORD",
            "Record No. 19",
            "archived",
            "12345202600001735",
            "KOBILA Mangué",
            "Date of birth",
            "17/04/2007",
            "Male",
            "Single",
            "Father’s name",
            "Bikoula Mendomo",
            "Imprisonment for 2 years of which 1 year suspended and fine of 500 000 FCFA",
            "Felony",
            "The Registrar",
            "Done at",
            "Page 1 of 1",
            // The court's own words stay as entered.
            "Détournement de fonds publics",
        ],
    );
    assert_english(&text, "fiche-en");
    // An unsigned record says so in English.
    let text = pdf_text(
        &forms()
            .render_pdf("fiche-en", &data("fiche-brouillon.json"))
            .expect("render"),
        dir.path(),
    );
    assert_contains(&text, &["Status draft", "Unsigned record"]);
}

#[test]
fn english_list_bulletins_and_receipt_print_in_english() {
    let dir = tempdir();
    let forms = forms();
    let text = pdf_text(
        &forms
            .render_pdf("liste-fiches-en", &data("liste-fiches.json"))
            .expect("render"),
        dir.path(),
    );
    assert_contains(
        &text,
        &["LIST OF RECORDS", "Number of records", "Certified true"],
    );
    assert_english(&text, "liste-fiches-en");

    for (template, file) in [
        ("bulletin-1-en", "bulletin-1.json"),
        ("bulletin-2-en", "bulletin-2.json"),
        ("bulletin-3-en", "bulletin-3.json"),
    ] {
        let data = data(file);
        let pdf = forms.render_pdf(template, &data).expect("render");
        let text = pdf_text(&pdf, dir.path());
        let b = &data["bulletin"];
        assert_contains(
            &text,
            &[
                &format!("BULLETIN NO. {}", b["number"]),
                "EXTRACT FROM THE CRIMINAL RECORD",
                b["verification_code"].as_str().expect("code"),
                "KOBILA",
                "17/04/2007 at Ekouk",
                "Number of convictions recorded",
                "Done at Yaoundé, on 08/04/2026",
                "For the National Criminal Record,",
            ],
        );
        assert_english(&text, template);
        assert_eq!(
            pdf_qr(&pdf, dir.path()),
            b["qr_payload"].as_str().expect("payload"),
            "{template}"
        );
    }
    let text = pdf_text(
        &forms
            .render_pdf("bulletin-3-en", &data("bulletin-3-neant.json"))
            .expect("render"),
        dir.path(),
    );
    assert_contains(&text, &["NIL", "Daughter of Ébodé Martin"]);

    let text = pdf_text(
        &forms
            .render_pdf("recu-cjn-en", &data("recu-cjn.json"))
            .expect("render"),
        dir.path(),
    );
    assert_contains(
        &text,
        &[
            "Transmission from a court to the National Criminal Record",
            "08/04/2026 at 10:15",
            "9f2c4be1 7a0d53e8",
            "SHA-256",
        ],
    );
    assert_english(&text, "recu-cjn-en");
}

#[test]
fn english_letterhead_translates_the_defaults_and_takes_the_courts_words() {
    let dir = tempdir();
    // No letterhead configured: the neutral header, in English.
    let text = pdf_text(
        &Forms::builtin()
            .render_pdf("fiche-en", &data("fiche.json"))
            .expect("render"),
        dir.path(),
    );
    assert!(text.starts_with("REPUBLIC "), "{text}");
    assert!(text.contains("MINISTRY OF JUSTICE"), "{text}");
    // A folder's letterhead.toml: the court prints in English by default, with its [en] words.
    let folder = user_dir(&[(
        "letterhead.toml",
        "country = \"République du Cameroun\"\nlanguage = \"en\"\nregistry_city = \"Yaoundé\"\n\
         [en]\ncountry = \"Republic of Cameroon\"\nmotto = \"Peace – Work – Fatherland\"\n",
    )]);
    let court = Forms::with_user_dir(folder.path()).expect("folder");
    assert_eq!(court.language(), Some(Lang::En));
    let english = court.localized("fiche", court.language().unwrap_or_default());
    let english = english.expect("list");
    let text = pdf_text(
        &court
            .render_pdf(&english, &data("fiche.json"))
            .expect("render"),
        dir.path(),
    );
    assert_contains(
        &text,
        &["REPUBLIC OF CAMEROON", "Peace – Work – Fatherland"],
    );
    // The French documents keep the French header.
    let text = pdf_text(
        &court
            .render_pdf("fiche", &data("fiche.json"))
            .expect("render"),
        dir.path(),
    );
    assert_contains(&text, &["RÉPUBLIQUE DU CAMEROUN"]);
    assert!(!text.contains("Peace"));
    // A court's own English fiche replaces the built-in English one only.
    let folder = user_dir(&[(
        "fiche-en.typ",
        "// data: fiche\n// Our record.\n= Our own record\n",
    )]);
    let court = Forms::with_user_dir(folder.path()).expect("folder");
    let text = pdf_text(
        &court
            .render_pdf("fiche-en", &data("fiche.json"))
            .expect("render"),
        dir.path(),
    );
    assert!(text.contains("Our own record"), "{text}");
    assert!(
        court
            .templates()
            .expect("list")
            .iter()
            .any(|t| t.name == "fiche" && t.origin == Origin::BuiltIn)
    );
    assert!(matches!(
        Letterhead::from_toml("[en]\ncountri = \"x\"\n"),
        Err(message) if message.contains("countri")
    ));
}
