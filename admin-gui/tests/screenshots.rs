//! Renders the screens to PNG at 1366×768, in French and in English, into
//! `docs/screenshots/`: `scripts/screenshots` runs it (cargo feature `screenshots`: kittest's
//! wgpu renderer on Mesa's software rasteriser, no GPU). Not part of `cargo test --workspace`.

#![cfg(feature = "screenshots")]

mod common;

use std::path::{Path, PathBuf};

use admin_gui::config::AppPaths;
use admin_gui::i18n::Lang;
use admin_gui::{AppOptions, XmApp};
use common::*;
use egui_kittest::Harness;

fn out_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/screenshots");
    std::fs::create_dir_all(&dir).expect("create docs/screenshots");
    dir
}

fn rendering_app(dir: &Path) -> App {
    let paths = AppPaths::in_dir(dir);
    Harness::builder()
        .with_size(egui::vec2(1366.0, 768.0))
        .with_max_steps(32)
        .wgpu()
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

fn shot(app: &mut App, lang: Lang, name: &str) {
    app.remove_cursor();
    settle(app);
    let image = app.render().expect("render");
    let code = match lang {
        Lang::Fr => "fr",
        Lang::En => "en",
    };
    let path = out_dir().join(format!("{code}-{name}.png"));
    image.save(&path).expect("write PNG");
    println!("{}", path.display());
}

fn tr(lang: Lang, fr: &'static str, en: &'static str) -> &'static str {
    match lang {
        Lang::Fr => fr,
        Lang::En => en,
    }
}

fn sample(court: &Court, surname: &str, given: &str) -> i64 {
    let fiche = testkit::sample_fiche_json(surname, given).replace('\'', "''");
    court
        .psql_as(AGENT, &format!("select juris.save_fiche('{fiche}'::jsonb)"))
        .lines()
        .find_map(|l| l.trim().parse().ok())
        .expect("fiche id")
}

#[test]
fn render_the_screens() {
    let court = Court::start();
    // A register with fiches in every state.
    sample(&court, "Kobila", "Mangué");
    for (surname, given, steps) in [
        ("Atangana", "Paul Éric", 1),
        ("Mbida", "Françoise", 2),
        ("Ndongo", "Épiphanie", 3),
        ("Kobila", "Jean-Noël", 3),
        ("Essomba", "Rose", 1),
    ] {
        let id = sample(&court, surname, given);
        court.psql_as(AGENT, &format!("select juris.submit_fiche({id})"));
        if steps >= 2 {
            court.psql_as(SECRETAIRE, &format!("select juris.verify_fiche({id})"));
        }
        if steps >= 3 {
            court.psql_as(GREFFIER, &format!("select juris.sign_fiche({id})"));
        }
    }
    // Transmissions in every state, and a request for an extract answered by the CJN.
    listener_login(&court);
    let signed: Vec<(String, i64)> = sql(
        &court,
        "select message_id || ' ' || fiche_id from court.outbox order by seq",
    )
    .lines()
    .filter_map(|l| {
        let (m, f) = l.split_once(' ')?;
        Some((m.to_owned(), f.parse().ok()?))
    })
    .collect();
    let extra = sample(&court, "Mbarga", "Thérèse");
    court.psql_as(AGENT, &format!("select juris.submit_fiche({extra})"));
    court.psql_as(SECRETAIRE, &format!("select juris.verify_fiche({extra})"));
    court.psql_as(GREFFIER, &format!("select juris.sign_fiche({extra})"));
    let ids: Vec<&str> = signed.iter().map(|(m, _)| m.as_str()).collect();
    let receipt = court.receipt_for(ids[0]);
    court.psql_as(
        LISTENER,
        &format!(
            "select juris.record_broker_contact(); \
             select juris.outbox_mark_sent(array['{}', '{}']::uuid[]); \
             select juris.store_receipt('{}', '{receipt}', '\\x3082'); \
             select juris.store_rejection('{}', 'invalid_content', 'La date des faits est postérieure à la date de condamnation.', '\\x3082')",
            ids[0], ids[1], ids[0], ids[1]
        ),
    );
    court.psql_as(
        GREFFIER,
        "select juris.request_extract('{\"surname\": \"Kobila\", \"given_names\": \"Mangué\", \
         \"birth_date\": \"1987-04-17\", \"birth_place\": \"Ekouk\"}', 3, 'Demande de l''intéressé, CNI n° 1234567')",
    );
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
    court.psql_as(
        GREFFIER,
        "select juris.request_extract('{\"surname\": \"Essomba\", \"given_names\": \"Rose\", \
         \"birth_date\": \"1975-12-24\"}', 2, 'Recrutement dans la fonction publique')",
    );

    for lang in [Lang::Fr, Lang::En] {
        let dir = tempfile::tempdir().expect("tempdir");
        remember_server(dir.path(), court.port(), lang);
        let mut app = rendering_app(dir.path());
        let (user, password, connect) = match lang {
            Lang::Fr => ("Utilisateur", "Mot de passe", "Se connecter"),
            Lang::En => ("User name", "Password", "Log in"),
        };
        type_into(&mut app, user, GREFFIER);
        shot(&mut app, lang, "01-connexion");
        type_into(&mut app, password, "pas-le-bon");
        click(&mut app, connect);
        wait_for(&mut app, "the refusal", |a| {
            a.state().state.login.error.is_some()
        });
        shot(&mut app, lang, "02-connexion-erreur");
        type_into(&mut app, password, PASSWORD);
        click(&mut app, connect);
        wait_for(&mut app, "the login", |a| a.state().state.session.is_some());
        wait_for(&mut app, "the actions", |a| {
            !a.state().state.saisie.actions.is_empty()
        });
        wait_for(&mut app, "the categories", |a| {
            !a.state().state.categories.is_empty()
        });
        shot(&mut app, lang, "03-saisie-nouvelle");

        // Chercher: every fiche, then one selected with its history.
        let (search, find, open) = match lang {
            Lang::Fr => ("Chercher", "Rechercher", "Ouvrir"),
            Lang::En => ("Search", "Find", "Open"),
        };
        click(&mut app, search);
        click(&mut app, find);
        wait_for(&mut app, "the search", |a| {
            a.state().state.chercher.rows.len() >= 5
        });
        shot(&mut app, lang, "04-chercher");
        let first = app
            .state()
            .state
            .chercher
            .rows
            .iter()
            .find(|r| r.status == 3)
            .map(|r| r.fiche_id)
            .expect("a signed fiche");
        let label = {
            let r = app
                .state()
                .state
                .chercher
                .rows
                .iter()
                .find(|r| r.fiche_id == first)
                .expect("row");
            format!(
                "{} {}",
                r.surname.clone().unwrap_or_default(),
                r.given_names.clone().unwrap_or_default()
            )
        };
        use egui_kittest::kittest::Queryable as _;
        app.get_by_label(&label).click();
        settle(&mut app);
        wait_for(&mut app, "the history", |a| {
            !a.state().state.chercher.history.is_empty()
        });
        shot(&mut app, lang, "05-chercher-historique");

        // A signed fiche in Saisie.
        click_last(&mut app, open);
        wait_for(&mut app, "the fiche", |a| {
            a.state()
                .state
                .saisie
                .meta
                .as_ref()
                .is_some_and(|m| m.id == first)
        });
        shot(&mut app, lang, "06-saisie-signee");

        // A verified fiche, and the signature's confirmation.
        let verified = sql(
            &court,
            "select fiche_id from court.fiche where status = 'verifiee' limit 1",
        );
        let verified: i64 = verified.parse().expect("id");
        click(&mut app, search);
        wait_for(&mut app, "the search", |a| {
            !a.state().state.chercher.rows.is_empty()
        });
        let label = {
            let r = app
                .state()
                .state
                .chercher
                .rows
                .iter()
                .find(|r| r.fiche_id == verified)
                .expect("row");
            format!(
                "{} {}",
                r.surname.clone().unwrap_or_default(),
                r.given_names.clone().unwrap_or_default()
            )
        };
        app.get_by_label(&label).click();
        settle(&mut app);
        click_last(&mut app, open);
        wait_for(&mut app, "the fiche", |a| {
            a.state()
                .state
                .saisie
                .meta
                .as_ref()
                .is_some_and(|m| m.id == verified)
        });
        shot(&mut app, lang, "07-saisie-verifiee");
        let sign = match lang {
            Lang::Fr => "Signer…",
            Lang::En => "Sign…",
        };
        click(&mut app, sign);
        shot(&mut app, lang, "08-signer-confirmation");
        click(
            &mut app,
            match lang {
                Lang::Fr => "Annuler",
                Lang::En => "Cancel",
            },
        );

        // Utilisateurs (the greffier's, a user selected) and Statistiques.
        click(&mut app, tr(lang, "Utilisateurs", "Users"));
        wait_for(&mut app, "the staff", |a| {
            a.state().state.utilisateurs.page.is_some()
        });
        click(&mut app, SECRETAIRE);
        shot(&mut app, lang, "14-utilisateurs");
        click(&mut app, tr(lang, "Statistiques", "Statistics"));
        wait_for(&mut app, "the statistics", |a| {
            a.state().state.statistiques.stats.is_some()
        });
        shot(&mut app, lang, "15-statistiques");

        // Transmission, Extraits (the answer selected) and Impression (its preview).
        click(&mut app, tr(lang, "Transmission", "Transmission"));
        wait_for(&mut app, "the transmissions", |a| {
            a.state()
                .state
                .transmission
                .page
                .as_ref()
                .is_some_and(|p| p.status.is_some() && p.rows.len() >= 3)
        });
        let refused = app
            .state()
            .state
            .transmission
            .rows()
            .iter()
            .find(|r| r.state == "refused")
            .map(|r| r.seq);
        app.state_mut().state.transmission.selected = refused;
        settle(&mut app);
        shot(&mut app, lang, "11-transmission");
        click(&mut app, tr(lang, "Extraits", "Extracts"));
        wait_for(&mut app, "the requests", |a| {
            a.state().state.extraits.rows().len() == 2
        });
        app.get_by_label("KOBILA Mangué").click();
        settle(&mut app);
        wait_for(&mut app, "the answer", |a| {
            a.state()
                .state
                .extraits
                .detail()
                .is_some_and(|d| d.answer.is_some())
        });
        shot(&mut app, lang, "12-extraits");
        click(
            &mut app,
            tr(lang, "Imprimer le bulletin", "Print the bulletin"),
        );
        wait_for(&mut app, "the preview", |a| {
            a.state().state.impression.rendered.is_some()
        });
        shot(&mut app, lang, "13-impression");
        std::mem::forget(app);

        // An agent's new fiche, with a field refused by the database.
        let dir = tempfile::tempdir().expect("tempdir");
        remember_server(dir.path(), court.port(), lang);
        let mut app = rendering_app(dir.path());
        type_into(&mut app, user, AGENT);
        type_into(&mut app, password, PASSWORD);
        click(&mut app, connect);
        wait_for(&mut app, "the login", |a| a.state().state.session.is_some());
        wait_for(&mut app, "the actions", |a| {
            !a.state().state.saisie.actions.is_empty()
        });
        wait_for(&mut app, "the categories", |a| {
            !a.state().state.categories.is_empty()
        });
        let labels = match lang {
            Lang::Fr => [
                "Référence du jugement",
                "Nom",
                "Prénoms",
                "Date de naissance",
                "Lieu de naissance",
                "Date des infractions",
                "Enregistrer",
            ],
            Lang::En => [
                "Judgment reference",
                "Surname",
                "Given names",
                "Date of birth",
                "Place of birth",
                "Date of offences",
                "Save",
            ],
        };
        type_into(&mut app, labels[0], "103/SD/Just/2018");
        type_into(&mut app, labels[1], "Kobila");
        type_into(&mut app, labels[2], "Mangué");
        type_into(&mut app, labels[3], "17042019");
        type_into(&mut app, labels[4], "Ekouk");
        type_into(&mut app, labels[5], "15092017");
        click(&mut app, labels[6]);
        wait_for(&mut app, "the refusal", |a| {
            !a.state().state.saisie.errors.is_empty()
        });
        shot(&mut app, lang, "10-saisie-erreur");
        std::mem::forget(app);
    }
}
