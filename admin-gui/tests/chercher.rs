//! Chercher driven with egui_kittest against a real court database: a range of conviction
//! dates, pages and sorts done by the database (`juris.search_fiches_page`), and a results table
//! that fits the smallest screen of a court (1366×768, and at 125 % scaling).

mod common;

use admin_gui::i18n::Lang;
use common::*;
use egui::accesskit::Role;
use egui_kittest::kittest::Queryable;

/// `n` drafts of the agent, convicted a month apart from 10/01/2018 (the i-th on
/// 2018-01-10 + 31·i days), named "Essomba NN" in the reverse order of their dates.
fn register(court: &Court, n: usize) {
    let fiche = testkit::sample_fiche_json("X", "Rose").replace('\'', "''");
    court.psql_as(
        AGENT,
        &format!(
            "select count(juris.save_fiche(
                 jsonb_set(jsonb_set('{fiche}'::jsonb, '{{justiciable,surname}}',
                                     to_jsonb(format('Essomba %s', lpad(({n} - i)::text, 2, '0')))),
                           '{{condamnation,conviction_date}}', to_jsonb((date '2018-01-10' + i * 31)::text))))
               from generate_series(0, {n} - 1) i"
        ),
    );
}

/// The Chercher screen of a logged-in secrétaire.
fn chercher(court: &Court, dir: &std::path::Path) -> App {
    remember_server(dir, court.port(), Lang::Fr);
    let mut app = app(dir);
    login(&mut app, SECRETAIRE, PASSWORD);
    click(&mut app, "Chercher");
    app
}

fn search(app: &mut App) {
    click(app, "Rechercher");
    wait_for(app, "the search", |a| {
        let c = &a.state().state.chercher;
        c.searched && !c.searching()
    });
}

fn numbers(app: &App) -> Vec<i64> {
    app.state()
        .state
        .chercher
        .rows
        .iter()
        .map(|r| r.number)
        .collect()
}

#[test]
fn a_range_of_conviction_dates_finds_only_the_fiches_convicted_within_it() {
    let court = Court::start();
    register(&court, 40);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut app = chercher(&court, dir.path());
    type_into(&mut app, "Condamné(e) du", "01012019");
    type_into(&mut app, "au", "31122019");
    assert_eq!(value(&app, "Condamné(e) du"), "01/01/2019");
    search(&mut app);
    let expected: Vec<i64> = sql(
        &court,
        "select number from court.fiche where conviction_date between '2019-01-01' and '2019-12-31' order by number desc",
    )
    .lines()
    .map(|l| l.parse().expect("number"))
    .collect();
    assert_eq!(
        expected.len(),
        12,
        "the register holds 12 fiches convicted in 2019"
    );
    assert_eq!(numbers(&app), expected, "exactly those, newest first");
    let (from, to) = (
        time::macros::date!(2019 - 01 - 01),
        time::macros::date!(2019 - 12 - 31),
    );
    assert!(
        app.state()
            .state
            .chercher
            .rows
            .iter()
            .all(|r| r.conviction_date.is_some_and(|d| from <= d && d <= to))
    );
    assert!(shows(&app, "12 fiche(s)"));
    // A range that ends before it starts: the database says so at the field.
    replace(&mut app, "au", "31122018");
    search(&mut app);
    let error = app.state().state.chercher.error.clone();
    assert!(
        matches!(&error, Some((Some(f), m)) if f == "convicted_to" && m.contains("inversée")),
        "{error:?}"
    );
}

#[test]
fn the_next_page_comes_from_the_database_with_the_total_found() {
    let court = Court::start();
    register(&court, 60);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut app = chercher(&court, dir.path());
    search(&mut app);
    assert_eq!(app.state().state.chercher.total, 60);
    assert!(shows(&app, "60 fiche(s)"));
    assert!(shows(&app, "Page 1 sur 3"));
    assert_eq!(numbers(&app), (36..=60).rev().collect::<Vec<i64>>());
    assert!(!enabled(&app, "Précédent"));
    click(&mut app, "Suivant");
    wait_for(&mut app, "the second page", |a| {
        let c = &a.state().state.chercher;
        c.page == 1 && !c.searching()
    });
    assert_eq!(numbers(&app), (11..=35).rev().collect::<Vec<i64>>());
    assert!(shows(&app, "Page 2 sur 3"));
    assert!(shows(&app, "fiches 26 à 50"));
    assert!(shows(&app, "60 fiche(s)"), "the total stays");
    click(&mut app, "Suivant");
    wait_for(&mut app, "the last page", |a| {
        let c = &a.state().state.chercher;
        c.page == 2 && !c.searching()
    });
    assert_eq!(numbers(&app), (1..=10).rev().collect::<Vec<i64>>());
    assert!(!enabled(&app, "Suivant"));
    click(&mut app, "Précédent");
    wait_for(&mut app, "back to the second page", |a| {
        let c = &a.state().state.chercher;
        c.page == 1 && !c.searching()
    });
    assert_eq!(numbers(&app)[0], 35);
}

#[test]
fn a_click_on_a_column_sorts_the_whole_register_by_it() {
    let court = Court::start();
    register(&court, 30);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut app = chercher(&court, dir.path());
    search(&mut app);
    // Newest first by default: the fiche number 30 ("Essomba 01"), then 29...
    assert_eq!(numbers(&app)[..3], [30, 29, 28]);
    click(&mut app, "Noms et prénoms");
    wait_for(&mut app, "sorted by name", |a| {
        !a.state().state.chercher.searching()
    });
    let surnames = |app: &App| -> Vec<String> {
        app.state()
            .state
            .chercher
            .rows
            .iter()
            .map(|r| r.surname.clone().unwrap_or_default())
            .collect()
    };
    assert_eq!(
        surnames(&app)[..3],
        ["Essomba 01", "Essomba 02", "Essomba 03"]
    );
    click(&mut app, "Noms et prénoms");
    wait_for(&mut app, "sorted by name, the other way", |a| {
        !a.state().state.chercher.searching()
    });
    assert_eq!(
        surnames(&app)[..3],
        ["Essomba 30", "Essomba 29", "Essomba 28"]
    );
    // The sort is the database's, over every fiche found, not the page's: the oldest
    // conviction of the 30 comes first when sorted by conviction date.
    click(&mut app, "Condamnation");
    wait_for(&mut app, "sorted by conviction date", |a| {
        !a.state().state.chercher.searching()
    });
    let dates: Vec<_> = app
        .state()
        .state
        .chercher
        .rows
        .iter()
        .filter_map(|r| r.conviction_date)
        .collect();
    assert_eq!(dates[0], time::macros::date!(2018 - 01 - 10));
    assert!(dates.windows(2).all(|w| w[0] <= w[1]));
}

/// Every header and every row's "Ouvrir" lies inside the window.
fn assert_table_fits(app: &App, width: f32, height: f32) {
    for header in [
        "N°",
        "Statut",
        "NIU",
        "Noms et prénoms",
        "Naissance",
        "Condamnation",
    ] {
        let r = app
            .get_all_by_label(header)
            .last()
            .unwrap_or_else(|| panic!("the header {header}"))
            .rect();
        assert!(
            r.max.x <= width && r.max.y <= height,
            "the header {header} at {r:?} is outside the {width}×{height} window"
        );
    }
    let open: Vec<_> = app
        .get_all_by_role_and_label(Role::Button, "Ouvrir")
        .map(|n| n.rect())
        .collect();
    assert!(!open.is_empty());
    for r in open {
        assert!(
            r.max.x <= width,
            "a row's Ouvrir at {r:?} is past the right edge ({width})"
        );
    }
    for label in ["Rechercher", "Effacer les critères", "Suivant"] {
        let r = app.get_by_role_and_label(Role::Button, label).rect();
        assert!(
            r.max.x <= width && r.max.y <= height,
            "{label} at {r:?} is outside the window"
        );
    }
    let r = app.get_by_label("au").rect();
    assert!(
        r.max.x <= width,
        "the last criterion at {r:?} is past the right edge"
    );
}

#[test]
fn the_results_table_fits_1366_by_768_and_125_percent_scaling() {
    let court = Court::start();
    register(&court, 30);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut app = chercher(&court, dir.path());
    search(&mut app);
    assert_table_fits(&app, 1366.0, 768.0);
    assert!(
        shows(&app, "103/SD/Just/2018"),
        "the reference column is shown"
    );
    std::mem::forget(app);

    // 1366×768 pixels at 125 %: a window of 1092.8×614.4 points.
    let (w, h) = (1366.0 / 1.25, 768.0 / 1.25);
    let dir = tempfile::tempdir().expect("tempdir");
    remember_server(dir.path(), court.port(), Lang::Fr);
    let paths = admin_gui::config::AppPaths::in_dir(dir.path());
    let mut app: App = egui_kittest::Harness::builder()
        .with_size(egui::vec2(w, h))
        .with_pixels_per_point(1.25)
        .with_max_steps(32)
        .build_eframe(move |cc| {
            admin_gui::XmApp::new(
                cc,
                admin_gui::AppOptions {
                    paths,
                    ..Default::default()
                },
            )
        });
    login(&mut app, SECRETAIRE, PASSWORD);
    click(&mut app, "Chercher");
    search(&mut app);
    assert_table_fits(&app, w, h);
    // A row selected: its history shares the height with the table.
    let first = app.state().state.chercher.rows[0].clone();
    app.get_by_label(&format!(
        "{} {}",
        first.surname.unwrap_or_default(),
        first.given_names.unwrap_or_default()
    ))
    .click();
    settle(&mut app);
    wait_for(&mut app, "the history", |a| {
        !a.state().state.chercher.history.is_empty()
    });
    assert_table_fits(&app, w, h);
    let r = app
        .get_by_role_and_label(Role::Button, "Vérifier le journal d'audit")
        .rect();
    assert!(r.max.x <= w && r.max.y <= h, "{r:?}");
    std::mem::forget(app);
}
