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

    // A register of some size, through the API: 300 more fiches, convicted from 2019 on, two
    // thirds submitted, one third verified (Chercher pages through them).
    let base = testkit::sample_fiche_json("X", "X").replace('\'', "''");
    court.psql_as(
        AGENT,
        &format!(
            "create temporary table bulk as
             select juris.save_fiche(jsonb_set(jsonb_set(jsonb_set(jsonb_set(jsonb_set('{base}'::jsonb,
                        '{{justiciable,surname}}', to_jsonb((array['Abena', 'Ayissi', 'Belinga', 'Biyong', 'Ebogo',
                            'Ekambi', 'Essomba', 'Fouda', 'Kamga', 'Mballa', 'Mbida', 'Moukoko', 'Ndzana', 'Ngah',
                            'Nkoulou', 'Onana', 'Owona', 'Tagne', 'Tchoua', 'Zambo'])[1 + i % 20])),
                        '{{justiciable,given_names}}', to_jsonb((array['Alice', 'Brice', 'Cédric', 'Chantal', 'Élise',
                            'Gaëlle', 'Hamadou', 'Joseph', 'Léon', 'Marie', 'Oumarou', 'Samuel', 'Yannick'])[1 + (i * 7) % 13])),
                        '{{justiciable,birth_date}}', to_jsonb((date '1960-01-01' + i * 37)::text)),
                        '{{condamnation,conviction_date}}', to_jsonb((date '2019-01-07' + i * 5)::text)),
                        '{{condamnation,offence_date}}', to_jsonb((date '2019-01-07' + i * 5 - 60)::text))) as id,
                    i
               from generate_series(1, 300) i;
             select count(juris.submit_fiche(id)) from bulk where i % 3 <> 0;
             select string_agg(id::text, ',') from bulk where i % 3 = 1;"
        ),
    );
    let to_verify = sql(
        &court,
        "select string_agg(fiche_id::text, ',') from court.fiche where status = 'soumise' and number % 2 = 0 and number > 10",
    );
    court.psql_as(
        SECRETAIRE,
        &format!(
            "select count(juris.verify_fiche(id)) from unnest('{{{to_verify}}}'::bigint[]) id"
        ),
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
        // The signed fiches of Kobila, among the register's names.
        let names = tr(lang, "Noms", "Names");
        type_into(&mut app, names, "kobila");
        click(&mut app, find);
        wait_for(&mut app, "the search", |a| {
            let c = &a.state().state.chercher;
            !c.searching() && c.rows.iter().any(|r| r.status == 3)
        });
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
            "select fiche_id from court.fiche where status = 'verifiee' and given_names = 'Françoise'",
        );
        let verified: i64 = verified.parse().expect("id");
        click(&mut app, search);
        replace(&mut app, names, "mbida françoise");
        click(&mut app, find);
        wait_for(&mut app, "the search", |a| {
            let c = &a.state().state.chercher;
            !c.searching() && c.rows.iter().any(|r| r.fiche_id == verified)
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

        // Chercher through many results: two years of convictions, sorted by date, page 2.
        click(&mut app, search);
        click(
            &mut app,
            tr(lang, "Effacer les critères", "Clear the criteria"),
        );
        type_into(
            &mut app,
            tr(lang, "Condamné(e) du", "Convicted from"),
            "01012020",
        );
        type_into(&mut app, tr(lang, "au", "to"), "31122021");
        click(&mut app, find);
        wait_for(&mut app, "the search", |a| {
            let c = &a.state().state.chercher;
            c.searched && !c.searching()
        });
        click(&mut app, tr(lang, "Condamnation", "Convicted"));
        wait_for(&mut app, "sorted", |a| {
            !a.state().state.chercher.searching()
        });
        click(&mut app, tr(lang, "Suivant", "Next"));
        wait_for(&mut app, "page 2", |a| {
            let c = &a.state().state.chercher;
            c.page == 1 && !c.searching()
        });
        shot(&mut app, lang, "16-chercher-pages");
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

    // At 125 % scaling on a 1366×768 screen (1092.8×614.4 points): Chercher with a fiche's
    // history, and Saisie.
    let dir = tempfile::tempdir().expect("tempdir");
    remember_server(dir.path(), court.port(), Lang::Fr);
    let paths = AppPaths::in_dir(dir.path());
    let mut app: App = Harness::builder()
        .with_size(egui::vec2(1366.0 / 1.25, 768.0 / 1.25))
        .with_pixels_per_point(1.25)
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
        });
    login(&mut app, GREFFIER, PASSWORD);
    wait_for(&mut app, "the categories", |a| {
        !a.state().state.categories.is_empty()
    });
    shot(&mut app, Lang::Fr, "17-saisie-125");
    click(&mut app, "Chercher");
    type_into(&mut app, "Noms", "kobila");
    click(&mut app, "Rechercher");
    wait_for(&mut app, "the search", |a| {
        let c = &a.state().state.chercher;
        c.searched && !c.searching()
    });
    let first = app.state().state.chercher.rows[0].clone();
    {
        use egui_kittest::kittest::Queryable as _;
        app.get_by_label(&format!(
            "{} {}",
            first.surname.unwrap_or_default(),
            first.given_names.unwrap_or_default()
        ))
        .click();
    }
    settle(&mut app);
    wait_for(&mut app, "the history", |a| {
        !a.state().state.chercher.history.is_empty()
    });
    shot(&mut app, Lang::Fr, "18-chercher-125");
    std::mem::forget(app);
}
