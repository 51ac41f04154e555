//! The screens Transmission, Extraits and Impression driven with egui_kittest, the same `XmApp`
//! as `xmjuris-gui`, against a real court database: the listener's part is played through its
//! own SQL API (`juris.store_receipt`, `juris.store_extract_answer`... as the court's listener
//! login), with a genuine extract sealed by a real CJN PKI (`protocol`).

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use admin_gui::config::AppPaths;
use admin_gui::i18n::Lang;
use admin_gui::{AppOptions, XmApp};
use common::*;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

/// The app with a given fallback poll (the notifications are what the tests exercise: the
/// default poll of a minute is longer than any wait here).
fn app_polling(dir: &Path, poll: Duration) -> App {
    let paths = AppPaths::in_dir(dir);
    Harness::builder()
        .with_size(egui::vec2(1366.0, 768.0))
        .with_max_steps(32)
        .build_eframe(move |cc| {
            XmApp::new(
                cc,
                AppOptions {
                    paths,
                    refresh_poll: poll,
                    start: None,
                },
            )
        })
}

/// Steps the app until `done` holds, or panics after `secs` seconds.
fn wait_within(app: &mut App, secs: u64, what: &str, done: impl Fn(&App) -> bool) {
    let start = Instant::now();
    loop {
        app.step();
        if done(app) {
            app.run_ok();
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(secs),
            "not within {secs} s: {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A fiche signed through the SQL API by the staff; its id.
fn signed_fiche(court: &Court, surname: &str) -> i64 {
    let fiche = testkit::sample_fiche_json(surname, "Mangué").replace('\'', "''");
    let id: i64 = court
        .psql_as(AGENT, &format!("select juris.save_fiche('{fiche}'::jsonb)"))
        .lines()
        .find_map(|l| l.trim().parse().ok())
        .expect("fiche id");
    court.psql_as(AGENT, &format!("select juris.submit_fiche({id})"));
    court.psql_as(SECRETAIRE, &format!("select juris.verify_fiche({id})"));
    court.psql_as(GREFFIER, &format!("select juris.sign_fiche({id})"));
    id
}

fn message_of(court: &Court, fiche: i64) -> String {
    sql(
        court,
        &format!("select message_id from court.outbox where fiche_id = {fiche}"),
    )
}

fn state_of(app: &App, fiche: i64) -> Option<String> {
    app.state()
        .state
        .transmission
        .rows()
        .iter()
        .find(|r| r.fiche_id == fiche)
        .map(|r| r.state.clone())
}

#[test]
fn transmission_states_change_on_screen_without_a_click() {
    let court = Court::start();
    listener_login(&court);
    let a = signed_fiche(&court, "Kobila");
    let b = signed_fiche(&court, "Atangana");
    let dir = tempfile::tempdir().expect("tempdir");
    remember_server(dir.path(), court.port(), Lang::Fr);
    let mut app = app_polling(dir.path(), Duration::from_secs(600));
    login(&mut app, GREFFIER, PASSWORD);
    click(&mut app, "Transmission");
    wait_for(&mut app, "the transmissions", |a| {
        a.state().state.transmission.rows().len() == 2
    });
    assert_eq!(state_of(&app, a).as_deref(), Some("waiting"));
    let status = app
        .state()
        .state
        .transmission
        .page
        .as_ref()
        .and_then(|p| p.status.clone())
        .expect("the greffier sees the status");
    assert_eq!((status.pending, status.acknowledged), (2, 0));
    assert!(shows(&app, "jamais joint"), "no contact yet");
    wait_within(&mut app, 10, "listening", |a| a.state().state.live);

    // The listener sends both, the CJN archives one and refuses the other: the screen
    // follows with no click (the poll is 10 minutes away: the notifications did it).
    let (ma, mb) = (message_of(&court, a), message_of(&court, b));
    court.psql_as(
        LISTENER,
        &format!("select juris.record_broker_contact(); select juris.outbox_mark_sent(array['{ma}', '{mb}']::uuid[])"),
    );
    wait_within(&mut app, 10, "sent", |app| {
        state_of(app, a).as_deref() == Some("sent")
    });
    assert!(shows(&app, "Dernier contact du démon"), "the contact shows");
    let receipt = court.receipt_for(&ma);
    court.psql_as(
        LISTENER,
        &format!(
            "select juris.store_receipt('{ma}', '{receipt}', '\\x3082'); \
             select juris.store_rejection('{mb}', 'invalid_content', 'La date des faits est postérieure à la condamnation.', '\\x3082')"
        ),
    );
    wait_within(&mut app, 10, "archived and refused", |app| {
        state_of(app, a).as_deref() == Some("archived")
            && state_of(app, b).as_deref() == Some("refused")
    });
    assert!(shows(&app, "Archivé au CJN"));
    assert_eq!(
        sql(
            &court,
            &format!("select status from court.fiche where fiche_id = {a}")
        ),
        "archivee"
    );
    // The refusal's reason, and the filter of refused messages.
    click(&mut app, "Refusés");
    wait_for(&mut app, "the refused messages", |app| {
        app.state().state.transmission.rows().len() == 1
    });
    assert!(shows(
        &app,
        "La date des faits est postérieure à la condamnation."
    ));
    // The archived message's receipt prints.
    click(&mut app, "Tous");
    wait_for(&mut app, "every message", |app| {
        app.state().state.transmission.rows().len() == 2
    });
    let seq = app
        .state()
        .state
        .transmission
        .rows()
        .iter()
        .find(|r| r.fiche_id == a)
        .map(|r| r.seq)
        .expect("row");
    app.state_mut().state.transmission.selected = Some(seq);
    settle(&mut app);
    click(&mut app, "Imprimer l'accusé de réception");
    wait_for(&mut app, "the receipt's preview", |app| {
        app.state().state.impression.rendered.is_some()
    });
    let r = app
        .state()
        .state
        .impression
        .rendered
        .clone()
        .expect("rendered");
    assert_eq!(r.template, "recu-cjn");
    assert!(r.pdf.starts_with(b"%PDF-"));
}

#[test]
fn a_change_without_notification_shows_on_the_slow_poll() {
    let court = Court::start();
    signed_fiche(&court, "Kobila");
    let dir = tempfile::tempdir().expect("tempdir");
    remember_server(dir.path(), court.port(), Lang::Fr);
    let mut app = app_polling(dir.path(), Duration::from_secs(1));
    login(&mut app, GREFFIER, PASSWORD);
    click(&mut app, "Transmission");
    wait_for(&mut app, "the status", |a| {
        a.state()
            .state
            .transmission
            .page
            .as_ref()
            .is_some_and(|p| p.status.is_some())
    });
    // A DBA's change sends no notification: the poll brings it.
    court.psql("update court.transmission_state set last_contact = now()");
    wait_within(&mut app, 10, "the poll", |a| {
        a.state()
            .state
            .transmission
            .page
            .as_ref()
            .and_then(|p| p.status.as_ref())
            .is_some_and(|s| s.last_contact.is_some())
    });
}

#[test]
fn an_agent_sees_the_backlog_but_not_the_greffiers_status() {
    let court = Court::start();
    signed_fiche(&court, "Kobila");
    let dir = tempfile::tempdir().expect("tempdir");
    remember_server(dir.path(), court.port(), Lang::Fr);
    let mut app = app(dir.path());
    login(&mut app, AGENT, PASSWORD);
    click(&mut app, "Transmission");
    wait_for(&mut app, "the transmissions", |a| {
        a.state().state.transmission.page.is_some()
    });
    let page = app.state().state.transmission.page.clone().expect("page");
    assert_eq!(page.rows.len(), 1);
    assert!(page.status.is_none());
    assert!(shows(&app, "réservés au greffier"));
}

#[test]
fn an_agent_asks_for_a_bulletin_3_reads_why_each_conviction_is_on_it_and_prints_it() {
    let court = Court::start();
    listener_login(&court);
    let dir = tempfile::tempdir().expect("tempdir");
    remember_server(dir.path(), court.port(), Lang::Fr);
    let mut app = app_polling(dir.path(), Duration::from_secs(600));
    login(&mut app, AGENT, PASSWORD);
    click(&mut app, "Extraits");
    wait_for(&mut app, "the bulletins allowed", |a| {
        a.state()
            .state
            .extraits
            .page
            .as_ref()
            .is_some_and(|p| !p.permissions.is_empty())
    });
    // An agent may ask for n°3 only: it is chosen for him, n°1 is not offered.
    assert_eq!(
        app.state().state.extraits.form.bulletin.as_deref(),
        Some("3")
    );
    app.get_by_label("Bulletin").click_accesskit();
    settle(&mut app);
    assert!(!shows(&app, "Bulletin n°1"));
    app.key_press(egui::Key::Escape);
    settle(&mut app);
    // The database refuses a request without purpose, at its field.
    type_into(&mut app, "Nom", "Kobila");
    type_into(&mut app, "Prénoms", "Mangué");
    type_into(&mut app, "Date de naissance", "17041987");
    type_into(&mut app, "Lieu de naissance", "Ekouk");
    click(&mut app, "Demander l'extrait");
    wait_for(&mut app, "the refusal", |a| {
        a.state().state.extraits.errors.contains_key("purpose")
    });
    type_into(&mut app, "Motif", "Demande de l'intéressé, CNI n° 1234567");
    click(&mut app, "Demander l'extrait");
    wait_for(&mut app, "the request listed", |a| {
        a.state().state.extraits.rows().len() == 1
    });
    let row = app.state().state.extraits.rows()[0].clone();
    assert_eq!((row.bulletin, row.state.as_str()), (3, "pending"));
    assert_eq!(
        sql(
            &court,
            "select person ->> 'surname' || '|' || (person ->> 'birth_date') || '|' || requested_by from court.extract_request"
        ),
        format!("Kobila|1987-04-17|{AGENT}")
    );
    assert_eq!(app.state().state.extraits.selected, Some(row.id));

    // The CJN's answer, stored as the listener stores it: the screen shows it by itself.
    let message_id = sql(&court, "select message_id from court.extract_request");
    let pki = tempfile::tempdir().expect("tempdir");
    let (answer, envelope) = cjn_answer(&message_id, &pki.path().join("cjn"));
    let hex: String = envelope.iter().map(|b| format!("{b:02x}")).collect();
    court.psql_as(
        LISTENER,
        &format!(
            "select juris.store_extract_answer('{message_id}', '{}'::jsonb, '\\x{hex}')",
            answer.to_string().replace('\'', "''")
        ),
    );
    wait_within(&mut app, 10, "the answer", |a| {
        a.state()
            .state
            .extraits
            .detail()
            .is_some_and(|d| d.answer.is_some())
    });
    assert!(shows(&app, "2026000000042"), "the extract's number");
    assert!(
        shows(&app, "emprisonnement ferme de plus de 24 mois"),
        "why the conviction is on the bulletin"
    );
    assert!(shows(&app, "Pourquoi elle figure"));

    // Printed: the preview of bulletin n°3, whose QR code is the CJN's seal.
    click(&mut app, "Imprimer le bulletin");
    wait_for(&mut app, "the bulletin's preview", |a| {
        a.state().state.impression.rendered.is_some()
    });
    let r = app
        .state()
        .state
        .impression
        .rendered
        .clone()
        .expect("rendered");
    assert_eq!(r.template, "bulletin-3");
    assert!(!r.pages.is_empty());
    // What is printed: the PDF's first page at 200 dpi (pdftoppm), its QR code read back.
    let pdf_in = dir.path().join("preview.pdf");
    std::fs::write(&pdf_in, r.pdf.as_slice()).expect("write");
    let status = std::process::Command::new("pdftoppm")
        .args(["-r", "200", "-png", "-f", "1", "-l", "1", "-singlefile"])
        .arg(&pdf_in)
        .arg(dir.path().join("page"))
        .status()
        .expect("pdftoppm (poppler-utils)");
    assert!(status.success());
    let png = dir.path().join("page.png");
    let out = std::process::Command::new("zbarimg")
        .args(["--quiet", "--raw", "-Sdisable", "-Sqrcode.enable"])
        .arg(&png)
        .output()
        .expect("zbarimg (zbar-tools)");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        answer["qr_text"].as_str().expect("qr")
    );
    // Saved as a PDF where the user says.
    let pdf = dir.path().join("bulletin.pdf");
    replace(&mut app, "Fichier PDF", pdf.to_str().expect("utf-8"));
    click(&mut app, "Enregistrer le PDF");
    wait_for(&mut app, "the PDF written", |_| pdf.is_file());
    let bytes = std::fs::read(&pdf).expect("read");
    assert!(bytes.starts_with(b"%PDF-"));
}

#[test]
fn imprimer_on_a_fiche_opens_its_preview_in_the_interfaces_language() {
    let court = Court::start();
    let id = signed_fiche(&court, "Kobila");
    let dir = tempfile::tempdir().expect("tempdir");
    remember_server(dir.path(), court.port(), Lang::En);
    let mut app = app(dir.path());
    replace(&mut app, "User name", GREFFIER);
    type_into(&mut app, "Password", PASSWORD);
    click(&mut app, "Log in");
    wait_for(&mut app, "the login", |a| a.state().state.session.is_some());
    click(&mut app, "Search");
    click(&mut app, "Find");
    wait_for(&mut app, "the search", |a| {
        !a.state().state.chercher.rows.is_empty()
    });
    click(&mut app, "Open");
    wait_for(&mut app, "the fiche", |a| {
        a.state()
            .state
            .saisie
            .meta
            .as_ref()
            .is_some_and(|m| m.id == id)
    });
    assert!(enabled(&app, "Print"));
    click(&mut app, "Print");
    wait_for(&mut app, "the preview", |a| {
        a.state().state.impression.rendered.is_some()
    });
    let r = app
        .state()
        .state
        .impression
        .rendered
        .clone()
        .expect("rendered");
    assert_eq!(r.template, "fiche-en");
    assert_eq!(app.state().state.screen, admin_gui::Screen::Impression);
    // French on demand, for this print.
    choose(&mut app, "Language", "Français");
    wait_for(&mut app, "the French preview", |a| {
        a.state()
            .state
            .impression
            .rendered
            .as_ref()
            .is_some_and(|r| r.template == "fiche")
    });
    // A list of fiches over a period, by its dates.
    choose(&mut app, "Document", "List of fiches");
    type_into(&mut app, "From", "01012018");
    type_into(&mut app, "To", "31122018");
    click(&mut app, "Preview");
    wait_for(&mut app, "the list", |a| {
        a.state()
            .state
            .impression
            .rendered
            .as_ref()
            .is_some_and(|r| r.template == "liste-fiches")
    });
}
