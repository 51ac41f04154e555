//! The court's desktop application driven end to end with egui_kittest: the same `XmApp` as
//! `xmjuris-gui`, no display, no GPU, against a real throw-away court database. Widgets are
//! found by their visible labels; outcomes are checked in the database itself.

mod common;

use admin_gui::i18n::Lang;
use common::*;
use egui_kittest::kittest::Queryable;

/// Saves and submits a fiche as an agent through SQL (for tests about what comes after).
fn submitted_fiche(court: &Court, surname: &str) -> i64 {
    let fiche = testkit::sample_fiche_json(surname, "Mangué").replace('\'', "''");
    let id: i64 = court
        .psql_as(AGENT, &format!("select juris.save_fiche('{fiche}'::jsonb)"))
        .lines()
        .find_map(|l| l.trim().parse().ok())
        .expect("fiche id");
    court.psql_as(AGENT, &format!("select juris.submit_fiche({id})"));
    id
}

fn status_of(court: &Court, id: i64) -> String {
    sql(
        court,
        &format!("select status from court.fiche where fiche_id = {id}"),
    )
}

#[test]
fn an_agent_enters_a_fiche_and_submits_it() {
    let court = Court::start();
    let dir = tempfile::tempdir().expect("tempdir");
    remember_server(dir.path(), court.port(), Lang::Fr);
    let mut app = app(dir.path());
    login(&mut app, AGENT, PASSWORD);
    assert!(shows(&app, "Mbarga Paul"), "the top bar names the user");
    assert!(
        shows(&app, testkit::COURT_NAME),
        "the top bar names the court"
    );
    // The focus is on the first field of the form when the screen opens.
    assert!(app.get_by_label("Référence du jugement").is_focused());
    fill_fiche(&mut app, "Kobila");
    assert!(app.state().state.saisie.modified());
    click(&mut app, "Enregistrer");
    wait_for(&mut app, "the fiche saved", |a| {
        a.state().state.saisie.meta.is_some()
    });
    let id = app
        .state()
        .state
        .saisie
        .meta
        .as_ref()
        .map(|m| m.id)
        .expect("id");
    assert_eq!(status_of(&court, id), "brouillon");
    assert_eq!(
        sql(
            &court,
            &format!(
                "select surname || '|' || given_names || '|' || birth_date || '|' || offence_category from court.fiche where fiche_id = {id}"
            )
        ),
        "Kobila|Mangué|1987-04-17|ATT_BIENS_PUBLICS"
    );
    assert!(enabled(&app, "Soumettre"));
    click(&mut app, "Soumettre");
    wait_for(&mut app, "the fiche submitted", |a| {
        a.state()
            .state
            .saisie
            .meta
            .as_ref()
            .is_some_and(|m| m.status == 1)
    });
    assert_eq!(status_of(&court, id), "soumise");
    // Submitted, the fiche is no longer the agent's to change.
    assert!(!enabled(&app, "Enregistrer"));
    assert!(!enabled(&app, "Soumettre"));
}

#[test]
fn a_secretaire_returns_a_fiche_with_a_reason_then_verifies_it_after_the_agents_correction() {
    let court = Court::start();
    let id = submitted_fiche(&court, "Kobila");
    let dir = tempfile::tempdir().expect("tempdir");
    remember_server(dir.path(), court.port(), Lang::Fr);

    // The secrétaire finds it and returns it, with a reason.
    let mut sec = app(dir.path());
    login(&mut sec, SECRETAIRE, PASSWORD);
    click(&mut sec, "Chercher");
    type_into(&mut sec, "Noms", "kobila");
    click(&mut sec, "Rechercher");
    wait_for(&mut sec, "the search", |a| {
        !a.state().state.chercher.rows.is_empty()
    });
    click(&mut sec, "Ouvrir");
    wait_for(&mut sec, "the fiche opened", |a| {
        a.state()
            .state
            .saisie
            .meta
            .as_ref()
            .is_some_and(|m| m.id == id)
    });
    assert!(enabled(&sec, "Vérifier"));
    click(&mut sec, "Renvoyer…");
    // Without a reason, the database refuses, and says so in the dialog.
    click(&mut sec, "Renvoyer");
    wait_for(&mut sec, "the refusal", |a| {
        a.state().state.saisie.errors.contains_key("comment")
    });
    assert_eq!(status_of(&court, id), "soumise");
    type_into(
        &mut sec,
        "Motif du renvoi",
        "Le lieu de naissance est « Ekok », pas « Ekouk ».",
    );
    click(&mut sec, "Renvoyer");
    wait_for(&mut sec, "the fiche returned", |a| {
        a.state()
            .state
            .saisie
            .meta
            .as_ref()
            .is_some_and(|m| m.status == 0)
    });
    assert_eq!(status_of(&court, id), "brouillon");
    assert_eq!(
        sql(
            &court,
            &format!("select return_comment from court.fiche where fiche_id = {id}")
        ),
        "Le lieu de naissance est « Ekok », pas « Ekouk »."
    );

    // The agent opens it, reads the reason, corrects and submits again.
    let agent_dir = tempfile::tempdir().expect("tempdir");
    remember_server(agent_dir.path(), court.port(), Lang::Fr);
    let mut agent = app(agent_dir.path());
    login(&mut agent, AGENT, PASSWORD);
    click(&mut agent, "Chercher");
    type_into(&mut agent, "Noms", "kobila");
    click(&mut agent, "Rechercher");
    wait_for(&mut agent, "the search", |a| {
        !a.state().state.chercher.rows.is_empty()
    });
    click(&mut agent, "Ouvrir");
    wait_for(&mut agent, "the fiche opened", |a| {
        a.state()
            .state
            .saisie
            .meta
            .as_ref()
            .is_some_and(|m| m.id == id)
    });
    assert!(
        shows(&agent, "pas « Ekouk »"),
        "the agent sees why the fiche came back"
    );
    replace(&mut agent, "Lieu de naissance", "Ekok");
    click(&mut agent, "Soumettre");
    wait_for(&mut agent, "the fiche submitted", |a| {
        a.state()
            .state
            .saisie
            .meta
            .as_ref()
            .is_some_and(|m| m.status == 1)
    });
    assert_eq!(
        sql(
            &court,
            &format!("select birth_place from court.fiche where fiche_id = {id}")
        ),
        "Ekok"
    );

    // The secrétaire opens it again and verifies it.
    click(&mut sec, "Chercher");
    click(&mut sec, "Rechercher");
    wait_for(&mut sec, "the search", |a| {
        !a.state().state.chercher.searching()
    });
    click(&mut sec, "Ouvrir");
    wait_for(&mut sec, "the fiche reopened", |a| {
        a.state()
            .state
            .saisie
            .meta
            .as_ref()
            .is_some_and(|m| m.status == 1)
    });
    assert_eq!(value(&sec, "Lieu de naissance"), "Ekok");
    click(&mut sec, "Vérifier");
    wait_for(&mut sec, "the fiche verified", |a| {
        a.state()
            .state
            .saisie
            .meta
            .as_ref()
            .is_some_and(|m| m.status == 2)
    });
    assert_eq!(status_of(&court, id), "verifiee");
}

#[test]
fn the_greffier_signs_and_sees_the_niu_an_agent_never_sees_signer_enabled() {
    let court = Court::start();
    let id = submitted_fiche(&court, "Kobila");
    court.psql_as(SECRETAIRE, &format!("select juris.verify_fiche({id})"));
    let dir = tempfile::tempdir().expect("tempdir");
    remember_server(dir.path(), court.port(), Lang::Fr);

    // An agent opening the verified fiche: Signer is there, never enabled.
    let mut agent = app(dir.path());
    login(&mut agent, AGENT2, PASSWORD);
    assert!(!enabled(&agent, "Signer…"));
    click(&mut agent, "Chercher");
    click(&mut agent, "Rechercher");
    wait_for(&mut agent, "the search", |a| {
        !a.state().state.chercher.rows.is_empty()
    });
    click(&mut agent, "Ouvrir");
    wait_for(&mut agent, "the fiche opened", |a| {
        a.state()
            .state
            .saisie
            .meta
            .as_ref()
            .is_some_and(|m| m.id == id)
    });
    assert!(!enabled(&agent, "Signer…"), "an agent may not sign");
    // Nor by its shortcut.
    agent.key_press_modifiers(
        egui::Modifiers::COMMAND | egui::Modifiers::SHIFT,
        egui::Key::G,
    );
    settle(&mut agent);
    assert!(agent.state().state.saisie.dialog.is_none());

    let gdir = tempfile::tempdir().expect("tempdir");
    remember_server(gdir.path(), court.port(), Lang::Fr);
    let mut greffier = app(gdir.path());
    login(&mut greffier, GREFFIER, PASSWORD);
    assert!(
        shows(&greffier, "Utilisateurs"),
        "the greffier's navigation offers Utilisateurs"
    );
    click(&mut greffier, "Chercher");
    click(&mut greffier, "Rechercher");
    wait_for(&mut greffier, "the search", |a| {
        !a.state().state.chercher.rows.is_empty()
    });
    click(&mut greffier, "Ouvrir");
    wait_for(&mut greffier, "the fiche opened", |a| {
        a.state()
            .state
            .saisie
            .meta
            .as_ref()
            .is_some_and(|m| m.id == id)
    });
    assert!(enabled(&greffier, "Signer…"));
    click(&mut greffier, "Signer…");
    assert!(
        shows(&greffier, "ne peut pas être annulée"),
        "signing asks for confirmation"
    );
    click(&mut greffier, "Signer");
    wait_for(&mut greffier, "the signature", |a| {
        a.state()
            .state
            .saisie
            .meta
            .as_ref()
            .is_some_and(|m| m.status == 3)
    });
    let niu = sql(
        &court,
        &format!("select niu from court.fiche where fiche_id = {id}"),
    );
    assert_eq!(niu.len(), 17, "{niu}");
    let shown = admin_gui::screens::saisie::format_niu(&niu);
    assert!(shows(&greffier, &shown), "the NIU {shown} is shown");
    assert!(
        !shows(&agent, "Utilisateurs"),
        "an agent's navigation has no Utilisateurs"
    );
}

#[test]
fn an_impossible_date_cannot_be_entered_and_a_date_the_database_refuses_is_shown_at_its_field() {
    let court = Court::start();
    let dir = tempfile::tempdir().expect("tempdir");
    remember_server(dir.path(), court.port(), Lang::Fr);
    let mut app = app(dir.path());
    login(&mut app, AGENT, PASSWORD);
    type_into(&mut app, "Nom", "Kobila");
    // Typed digit by digit, the separators are put in.
    app.get_by_label("Date de naissance").focus();
    app.step();
    for c in "31022020".chars() {
        app.get_by_label("Date de naissance")
            .type_text(&c.to_string());
        app.step();
    }
    settle(&mut app);
    assert_eq!(value(&app, "Date de naissance"), "31/02/2020");
    assert!(
        shows(&app, "Cette date n'existe pas."),
        "the field says the date is impossible"
    );
    click(&mut app, "Enregistrer");
    assert!(app.state().state.saisie.meta.is_none(), "nothing was sent");
    assert_eq!(sql(&court, "select count(*) from court.fiche"), "0");
    assert!(app.state().state.saisie.errors.contains_key("birth_date"));

    // A real date the database refuses: born after the offences.
    replace(&mut app, "Date de naissance", "01012019");
    type_into(&mut app, "Date des infractions", "15092017");
    click(&mut app, "Enregistrer");
    wait_for(&mut app, "the refusal", |a| {
        a.state().state.saisie.errors.contains_key("birth_date")
    });
    let message = app
        .state()
        .state
        .saisie
        .errors
        .get("birth_date")
        .cloned()
        .unwrap_or_default();
    assert!(message.contains("doit précéder"), "{message}");
    assert!(
        shows(&app, "doit précéder"),
        "the message is shown under the field"
    );
    assert_eq!(sql(&court, "select count(*) from court.fiche"), "0");
    // What was typed is still there.
    assert_eq!(value(&app, "Nom"), "Kobila");
    assert_eq!(value(&app, "Date de naissance"), "01/01/2019");
}

#[test]
fn english_at_login_shows_english_labels() {
    let court = Court::start();
    let dir = tempfile::tempdir().expect("tempdir");
    remember_server(dir.path(), court.port(), Lang::Fr);
    let mut app = app(dir.path());
    choose(&mut app, "Langue", "English");
    assert!(
        app.query_by_label("User name").is_some(),
        "the login screen is in English at once"
    );
    type_into(&mut app, "User name", AGENT);
    type_into(&mut app, "Password", PASSWORD);
    click(&mut app, "Log in");
    wait_for(&mut app, "the login", |a| a.state().state.session.is_some());
    settle(&mut app);
    for label in [
        "Surname",
        "Date of birth",
        "Judgment reference",
        "Offence category",
    ] {
        assert!(app.query_by_label(label).is_some(), "{label} is shown");
    }
    for button in ["Save", "Submit", "Search", "Log out"] {
        assert!(app.query_by_label(button).is_some(), "{button} is shown");
    }
    assert!(app.query_by_label("Enregistrer").is_none());
    // The choice is remembered on the workstation.
    let w = admin_gui::config::Workstation::load(&dir.path().join("workstation.toml"));
    assert_eq!(w.language, Lang::En);
    assert_eq!(w.last_login.as_deref(), Some(AGENT));
}

#[test]
fn login_errors_are_told_apart_wrong_password_suspended_unreachable() {
    let court = Court::start();
    let dir = tempfile::tempdir().expect("tempdir");
    remember_server(dir.path(), court.port(), Lang::Fr);
    let mut app = app(dir.path());

    type_into(&mut app, "Utilisateur", AGENT);
    type_into(&mut app, "Mot de passe", "pas-le-bon");
    click(&mut app, "Se connecter");
    wait_for(&mut app, "the refusal", |a| {
        a.state().state.login.error.is_some()
    });
    assert!(shows(&app, "Nom d'utilisateur ou mot de passe incorrect."));
    assert_eq!(value(&app, "Mot de passe"), "", "the password is not kept");

    replace(&mut app, "Utilisateur", SUSPENDED);
    type_into(&mut app, "Mot de passe", PASSWORD);
    click(&mut app, "Se connecter");
    wait_for(&mut app, "the refusal", |a| {
        a.state()
            .state
            .login
            .error
            .as_ref()
            .is_some_and(|e| e.kind == admin_gui::backend::ConnectErrorKind::Suspended)
    });
    assert!(shows(&app, "Ce compte est suspendu"));

    // A port where nothing listens.
    let closed = sandbox::free_port().expect("port");
    replace(&mut app, "Port", &closed.to_string());
    replace(&mut app, "Utilisateur", AGENT);
    type_into(&mut app, "Mot de passe", PASSWORD);
    click(&mut app, "Se connecter");
    wait_for(&mut app, "the refusal", |a| {
        a.state()
            .state
            .login
            .error
            .as_ref()
            .is_some_and(|e| e.kind == admin_gui::backend::ConnectErrorKind::Unreachable)
    });
    assert!(shows(&app, "Le serveur ne répond pas"));
}

#[test]
fn the_connection_cut_while_the_agent_types_loses_nothing() {
    let court = Court::start();
    let dir = tempfile::tempdir().expect("tempdir");
    remember_server(dir.path(), court.port(), Lang::Fr);
    let mut app = app(dir.path());
    login(&mut app, AGENT, PASSWORD);
    type_into(&mut app, "Référence du jugement", "12/SD/Just/2024");
    type_into(&mut app, "Nom", "Ndongo");
    type_into(&mut app, "Prénoms", "Épiphanie Françoise « Fanny »");

    // The server goes away while the agent types.
    court.cluster.stop().expect("stop PostgreSQL");
    type_into(&mut app, "Profession", "Cœur de métier : ébéniste");
    click(&mut app, "Enregistrer");
    wait_for(&mut app, "the failure", |a| {
        a.state().state.saisie.message.is_some() && !a.state().state.saisie.busy()
    });
    assert!(shows(&app, "votre saisie est conservée"));
    assert_eq!(value(&app, "Prénoms"), "Épiphanie Françoise « Fanny »");
    // The local draft holds everything typed (written shortly after the last keystroke).
    let draft_dir = dir.path().join("drafts");
    wait_for(&mut app, "the local draft", |_| {
        std::fs::read_dir(&draft_dir)
            .ok()
            .and_then(|mut d| d.next())
            .and_then(|e| e.ok())
            .and_then(|e| std::fs::read_to_string(e.path()).ok())
            .is_some_and(|t| t.contains("ébéniste"))
    });

    // The workstation crashes: the app is gone without closing.
    std::mem::forget(app);

    // The server is back; the agent starts the app again and gets the draft back.
    court.cluster.start_again().expect("restart PostgreSQL");
    let mut app = common::app(dir.path());
    login(&mut app, AGENT, PASSWORD);
    assert!(
        shows(&app, "Une saisie non enregistrée"),
        "the draft is offered back"
    );
    click(&mut app, "Reprendre la saisie");
    assert_eq!(value(&app, "Prénoms"), "Épiphanie Françoise « Fanny »");
    assert_eq!(value(&app, "Profession"), "Cœur de métier : ébéniste");
    click(&mut app, "Enregistrer");
    wait_for(&mut app, "the fiche saved", |a| {
        a.state().state.saisie.meta.is_some()
    });
    assert_eq!(
        sql(
            &court,
            "select given_names || '|' || profession from court.fiche"
        ),
        "Épiphanie Françoise « Fanny »|Cœur de métier : ébéniste"
    );
    // Saved: the draft is gone, and not offered again.
    assert!(
        std::fs::read_dir(dir.path().join("drafts"))
            .expect("drafts")
            .next()
            .is_none()
    );
}

#[test]
fn the_same_session_reconnects_after_a_cut_and_saves_what_was_typed() {
    let court = Court::start();
    let dir = tempfile::tempdir().expect("tempdir");
    remember_server(dir.path(), court.port(), Lang::Fr);
    let mut app = app(dir.path());
    login(&mut app, AGENT, PASSWORD);
    type_into(&mut app, "Nom", "Ekotto");
    // An administrator (or the network) ends the agent's session.
    court.terminate_sessions(AGENT);
    wait_for(&mut app, "the loss noticed", |a| {
        a.state().state.conn != admin_gui::backend::ConnState::Connected
    });
    type_into(&mut app, "Prénoms", "Jean-Noël");
    wait_for(&mut app, "the reconnection", |a| {
        a.state().state.conn == admin_gui::backend::ConnState::Connected
    });
    click(&mut app, "Enregistrer");
    wait_for(&mut app, "the fiche saved", |a| {
        a.state().state.saisie.meta.is_some()
    });
    assert_eq!(
        sql(
            &court,
            "select surname || ' ' || given_names from court.fiche"
        ),
        "Ekotto Jean-Noël"
    );
}

#[test]
fn a_search_finds_a_misspelled_name_in_another_word_order_and_shows_its_history() {
    let court = Court::start();
    let id = submitted_fiche(&court, "Kobila");
    submitted_fiche(&court, "Atangana");
    let dir = tempfile::tempdir().expect("tempdir");
    remember_server(dir.path(), court.port(), Lang::Fr);
    let mut app = app(dir.path());
    login(&mut app, SECRETAIRE, PASSWORD);
    click(&mut app, "Chercher");
    assert!(
        app.get_by_label("Noms").is_focused(),
        "the first field has the focus"
    );
    type_into(&mut app, "Noms", "mangue kobilla");
    app.key_press(egui::Key::Enter);
    wait_for(&mut app, "the search", |a| {
        a.state().state.chercher.searched && !a.state().state.chercher.searching()
    });
    let rows = &app.state().state.chercher.rows;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].fiche_id, id);
    // Its history: created, submitted.
    app.get_by_label("Kobila Mangué").click();
    settle(&mut app);
    wait_for(&mut app, "the history", |a| {
        a.state().state.chercher.history.len() >= 2
    });
    assert!(shows(&app, "Création") && shows(&app, "Soumission"));
}

#[test]
fn the_keyboard_moves_in_reading_order_and_enter_saves() {
    let court = Court::start();
    let dir = tempfile::tempdir().expect("tempdir");
    remember_server(dir.path(), court.port(), Lang::Fr);
    let mut app = app(dir.path());
    login(&mut app, AGENT, PASSWORD);
    assert!(app.get_by_label("Référence du jugement").is_focused());
    app.get_by_label("Référence du jugement")
        .type_text("7/CO/2024");
    // Tab goes through the form as it reads: Nom, Prénoms, Date de naissance, Lieu de naissance.
    for (label, text) in [
        ("Nom", "Ngo Biyong"),
        ("Prénoms", "Hélène Œillet « Lili »"),
        ("Date de naissance", "02031990"),
        ("Lieu de naissance", "Édéa"),
    ] {
        app.key_press(egui::Key::Tab);
        settle(&mut app);
        assert!(
            app.get_by_label(label).is_focused(),
            "Tab should reach {label}"
        );
        app.get_by_label(label).type_text(text);
        settle(&mut app);
    }
    assert_eq!(value(&app, "Date de naissance"), "02/03/1990");
    // Enter in a field saves.
    app.key_press(egui::Key::Enter);
    wait_for(&mut app, "the fiche saved", |a| {
        a.state().state.saisie.meta.is_some()
    });
    assert_eq!(
        sql(
            &court,
            "select reference || '|' || surname || '|' || given_names || '|' || birth_date || '|' || birth_place from court.fiche"
        ),
        "7/CO/2024|Ngo Biyong|Hélène Œillet « Lili »|1990-03-02|Édéa"
    );
    // Ctrl+S saves a change too.
    replace(&mut app, "Lieu de naissance", "Douala");
    app.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::S);
    wait_for(&mut app, "the change saved", |a| {
        !a.state().state.saisie.modified() && !a.state().state.saisie.busy()
    });
    assert_eq!(sql(&court, "select birth_place from court.fiche"), "Douala");
    // Idle, the app asks for no more frames.
    assert!(app.try_run().is_ok(), "the app keeps repainting while idle");
}

#[test]
fn tls_when_configured_required_and_verified() {
    let court = Court::start();
    let dir = tempfile::tempdir().expect("tempdir");
    remember_server(dir.path(), court.port(), Lang::Fr);
    let mut app = app(dir.path());
    // Required while the server offers no TLS: refused, and said so.
    choose(&mut app, "Chiffrement (TLS)", "Exigé");
    type_into(&mut app, "Utilisateur", AGENT);
    type_into(&mut app, "Mot de passe", PASSWORD);
    click(&mut app, "Se connecter");
    wait_for(&mut app, "the refusal", |a| {
        a.state().state.login.error.is_some()
    });
    assert_eq!(
        app.state().state.login.error.as_ref().map(|e| e.kind),
        Some(admin_gui::backend::ConnectErrorKind::Tls)
    );
    // The server turns TLS on; checked against the court's certificate, the login works and the
    // session is encrypted.
    let ca = court.enable_tls();
    choose(&mut app, "Chiffrement (TLS)", "Exigé, certificat vérifié");
    type_into(
        &mut app,
        "Certificat de l'autorité (PEM)",
        ca.to_str().expect("utf-8"),
    );
    type_into(&mut app, "Mot de passe", PASSWORD);
    click(&mut app, "Se connecter");
    wait_for(&mut app, "the login", |a| a.state().state.session.is_some());
    assert_eq!(
        sql(
            &court,
            &format!(
                "select bool_and(ssl) from pg_stat_ssl join pg_stat_activity using (pid) where usename = '{AGENT}'"
            )
        ),
        "t"
    );
    let w = admin_gui::config::Workstation::load(&dir.path().join("workstation.toml"));
    assert_eq!(w.server.tls, admin_gui::config::TlsMode::VerifyFull);
    assert_eq!(w.server.ca_file.as_deref(), Some(ca.as_path()));
}
