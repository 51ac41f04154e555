//! Driving the real app (the `XmApp` that `xmjuris-gui` runs) with egui_kittest against a
//! throw-away court database (`testkit`), finding widgets by their visible labels.

#![allow(dead_code, unused_imports)]

use std::path::Path;
use std::time::{Duration, Instant};

use admin_gui::config::{AppPaths, ServerSettings, Workstation};
use admin_gui::i18n::Lang;
use admin_gui::{AppOptions, XmApp};
use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT as _, Queryable};

pub use testkit::{AGENT, AGENT2, Court, GREFFIER, PASSWORD, SECRETAIRE, SUSPENDED};

pub type App = Harness<'static, XmApp>;

/// How long the tests wait for the database to answer before failing.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// Writes the workstation file that the login screen reads (the server remembered).
pub fn remember_server(dir: &Path, port: u16, lang: Lang) {
    let w = Workstation {
        server: ServerSettings {
            host: "127.0.0.1".into(),
            port,
            database: testkit::DB.into(),
            ..Default::default()
        },
        last_login: None,
        language: lang,
        ..Default::default()
    };
    w.save(&AppPaths::in_dir(dir).workstation)
        .expect("write the workstation file");
}

/// The app, in a window of 1366×768, its files in `dir`.
pub fn app(dir: &Path) -> App {
    let paths = AppPaths::in_dir(dir);
    Harness::builder()
        .with_size(egui::vec2(1366.0, 768.0))
        .with_max_steps(32)
        .build_eframe(move |cc| {
            XmApp::new(
                cc,
                AppOptions {
                    paths,
                    ..AppOptions::default()
                },
            )
        })
}

/// Steps the app until `done` holds (the database answers on its own thread), or panics.
pub fn wait_for(app: &mut App, what: &str, done: impl Fn(&App) -> bool) {
    let start = Instant::now();
    loop {
        app.step();
        if done(app) {
            // Let the screen settle on what it just received.
            app.run_ok();
            return;
        }
        assert!(start.elapsed() < PATIENCE, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(15));
    }
}

/// Runs a few frames, so that queued input and what it caused are handled.
pub fn settle(app: &mut App) {
    app.run_ok();
}

/// Types into the input labelled `label` (replacing nothing: the field is expected empty).
pub fn type_into(app: &mut App, label: &str, text: &str) {
    app.get_by_label(label).focus();
    app.step();
    app.get_by_label(label).type_text(text);
    app.step();
    settle(app);
}

/// Replaces the content of the input labelled `label`.
pub fn replace(app: &mut App, label: &str, text: &str) {
    app.get_by_label(label).focus();
    app.step();
    app.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    app.step();
    app.get_by_label(label).type_text(text);
    app.step();
    settle(app);
}

/// The value of the input labelled `label`.
pub fn value(app: &App, label: &str) -> String {
    app.get_by_label(label).value().unwrap_or_default()
}

/// Picks `option` in the combo box labelled `label`.
pub fn choose(app: &mut App, label: &str, option: &str) {
    for _ in 0..3 {
        app.get_by_label(label).click_accesskit();
        settle(app);
        if app.query_by_role_and_label(Role::Button, option).is_some() {
            app.get_by_role_and_label(Role::Button, option)
                .click_accesskit();
            settle(app);
            return;
        }
    }
    let names: Vec<String> = app
        .get_all_by_role(Role::Button)
        .filter_map(|n| n.accesskit_node().label())
        .collect();
    panic!("the combo box {label:?} offers no {option:?}; buttons: {names:?}");
}

/// Clicks the button with this text.
pub fn click(app: &mut App, button: &str) {
    app.get_by_role_and_label(Role::Button, button)
        .click_accesskit();
    settle(app);
}

/// Clicks the last of the buttons with this text (e.g. the detail's "Ouvrir" below a table).
pub fn click_last(app: &mut App, button: &str) {
    let node = app
        .get_all_by_role_and_label(Role::Button, button)
        .last()
        .expect("a button");
    node.click_accesskit();
    settle(app);
}

/// True when a button with this text is shown and enabled.
pub fn enabled(app: &App, button: &str) -> bool {
    let node = app.get_by_role_and_label(Role::Button, button);
    !node.accesskit_node().is_disabled()
}

/// True when some text of the screen contains `text`.
pub fn shows(app: &App, text: &str) -> bool {
    app.query_all_by_label_contains(text).next().is_some()
}

/// Logs in on the login screen (server remembered) and waits for the Saisie screen.
pub fn login(app: &mut App, login: &str, password: &str) {
    replace(app, "Utilisateur", login);
    type_into(app, "Mot de passe", password);
    click(app, "Se connecter");
    wait_for(app, "the login", |a| a.state().state.session.is_some());
    wait_for(app, "the actions of a new fiche", |a| {
        !a.state().state.saisie.actions.is_empty()
    });
}

/// Fills a complete fiche through the form, as an agent types it.
pub fn fill_fiche(app: &mut App, surname: &str) {
    type_into(app, "Référence du jugement", "103/SD/Just/2018");
    type_into(app, "Nom", surname);
    type_into(app, "Prénoms", "Mangué");
    type_into(app, "Date de naissance", "17041987");
    type_into(app, "Lieu de naissance", "Ekouk");
    choose(app, "Sexe", "Masculin");
    choose(app, "État civil", "Célibataire");
    type_into(app, "Nom du père", "Bikoula Mendomo");
    type_into(app, "Nom de la mère", "Atouba Fabienne");
    type_into(app, "Profession", "Agriculteur");
    type_into(app, "Nationalité", "Camerounaise");
    type_into(app, "Domicile", "Tsinga");
    type_into(app, "Date de condamnation", "18062018");
    type_into(app, "Date des infractions", "15092017");
    type_into(
        app,
        "Nature des infractions",
        "Détournement de fonds publics",
    );
    choose(
        app,
        "Catégorie d'infraction",
        "Atteintes aux biens publics, détournement de fonds publics",
    );
    choose(app, "Qualification", "Délit");
    choose(app, "Peine prononcée", "Emprisonnement");
    type_into(app, "Durée (mois)", "24");
    type_into(app, "Dont sursis (mois)", "12");
}

/// A value read with psql as the superuser (unaligned, no header).
pub fn sql(court: &Court, query: &str) -> String {
    court.psql(query).trim().to_owned()
}

/// The court's listener login (`juris.create_listener_login`).
pub const LISTENER: &str = "tk_listener";

/// Registers the court's listener login, to play the listener's part through its SQL API.
pub fn listener_login(court: &Court) {
    court.psql(&format!(
        "select juris.create_listener_login('{LISTENER}', '{}')",
        db::scram_verifier("listener-secret")
    ));
}

/// A genuine answer of the CJN to a request: bulletin n°3 with one conviction and why it is
/// there, sealed with a real CJN key (the seal a printed extract carries), and its envelope.
pub fn cjn_answer(request_id: &str, pki_dir: &Path) -> (serde_json::Value, Vec<u8>) {
    use protocol::extract::{ExtractContent, seal_extract};
    let pki = protocol::pki::CjnPki::init(pki_dir).expect("CJN PKI");
    let p = protocol::OutboxPayload::from_json(protocol::samples::TYPICAL_OUTBOX_JSON.as_bytes())
        .expect("sample");
    let content = ExtractContent {
        extract_number: "2026000000042".into(),
        bulletin: protocol::Bulletin::B3,
        issued_at: time::OffsetDateTime::now_utc(),
        person: protocol::ExtractPerson {
            surname: "Kobila".into(),
            given_names: "Mangué".into(),
            birth_date: time::macros::date!(1987 - 04 - 17),
            birth_place: Some("Ekouk".into()),
        },
        entries: vec![protocol::ExtractEntry {
            niu: p.niu,
            version: p.version,
            fiche: p.fiche,
            court_name: Some("Tribunal de première instance de Garoua-Boulaï".into()),
            rule: Some("b3.custodial".into()),
            reason: Some("emprisonnement ferme de plus de 24 mois".into()),
        }],
    };
    let sealed = seal_extract(pki.identity(), &content).expect("seal");
    let answer =
        protocol::ExtractAnswer::new(request_id.parse().expect("uuid"), content, vec![], &sealed);
    let json = serde_json::to_value(&answer).expect("json");
    let envelope = protocol::seal::seal(
        &serde_json::to_vec(&json).expect("bytes"),
        pki.identity(),
        pki.identity().cert(),
    )
    .expect("envelope");
    (json, envelope)
}
