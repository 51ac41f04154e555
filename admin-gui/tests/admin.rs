//! The greffier's Utilisateurs screen, the Statistiques screen, and what Saisie does after a
//! signature (the four-eyes rectification, the dated events of the sentence), driven end to end
//! with egui_kittest: the same `XmApp` as `xmjuris-gui`, against a real throw-away court
//! database. Outcomes are checked in the database itself.

mod common;

use admin_gui::backend::ConnectErrorKind;
use admin_gui::i18n::Lang;
use common::*;

/// A fiche taken to signed through the SQL API (agent, secrétaire, greffier); `edit` changes
/// its JSON (SQL expression over `f`, the sample fiche).
fn signed_fiche(court: &Court, edit: &str) -> i64 {
    let fiche = testkit::sample_fiche_json("Kobila", "Mangué").replace('\'', "''");
    let id: i64 = court
        .psql_as(
            AGENT,
            &format!(
                "select juris.save_fiche(x) from (select {edit} as x from (select '{fiche}'::jsonb as f) s) t"
            ),
        )
        .lines()
        .find_map(|l| l.trim().parse().ok())
        .expect("fiche id");
    court.psql_as(AGENT, &format!("select juris.submit_fiche({id})"));
    court.psql_as(SECRETAIRE, &format!("select juris.verify_fiche({id})"));
    court.psql_as(GREFFIER, &format!("select juris.sign_fiche({id})"));
    id
}

/// A new app of its own (own workstation files), logged in.
fn logged_in(court: &Court, login_name: &str, password: &str) -> (App, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    remember_server(dir.path(), court.port(), Lang::Fr);
    let mut app = app(dir.path());
    login(&mut app, login_name, password);
    (app, dir)
}

/// Opens a fiche in Saisie and waits for it.
fn open(app: &mut App, id: i64) {
    app.state_mut().open_fiche(id);
    wait_for(app, "the fiche opened", |a| {
        a.state()
            .state
            .saisie
            .meta
            .as_ref()
            .is_some_and(|m| m.id == id)
            && !a.state().state.saisie.busy()
    });
}

#[test]
fn a_greffier_creates_an_agent_and_suspends_it_and_the_suspended_agent_cannot_log_in() {
    let court = Court::start();
    let (mut app, _dir) = logged_in(&court, GREFFIER, PASSWORD);
    click(&mut app, "Utilisateurs");
    wait_for(&mut app, "the staff", |a| {
        a.state().state.utilisateurs.page.is_some()
    });
    // The seed's limits and their use: 2 agents of 19, 1 secrétaire of 19, one greffier.
    assert!(shows(&app, "2 sur 19"), "the agents' limit is shown");
    assert!(shows(&app, "1 sur 19"), "the secrétaires' limit is shown");
    assert!(shows(&app, "au plus 19 secrétaires et 19 agents"));
    assert!(shows(&app, "Ngono Alice"), "the staff is listed");

    // A login the database refuses: its French message at the field.
    type_into(&mut app, "Identifiant de connexion", "Atangana Marie");
    type_into(&mut app, "Nom et prénoms", "Atangana Marie");
    choose(&mut app, "Privilège accordé", "Agent (2 sur 19)");
    type_into(&mut app, "Mot de passe initial", "premier-mot-de-passe");
    type_into(
        &mut app,
        "Confirmer le mot de passe",
        "premier-mot-de-passe",
    );
    click(&mut app, "Créer l'utilisateur");
    wait_for(&mut app, "the refusal", |a| {
        a.state().state.utilisateurs.errors.contains_key("login")
    });
    assert!(shows(&app, "Nom d'utilisateur invalide"));
    replace(&mut app, "Identifiant de connexion", "atangana");
    click(&mut app, "Créer l'utilisateur");
    wait_for(&mut app, "the user created", |a| {
        a.state().state.utilisateurs.user("atangana").is_some()
    });
    assert_eq!(
        sql(
            &court,
            "select privilege || '|' || full_name from court.app_user where login = 'atangana'"
        ),
        "1|Atangana Marie"
    );
    assert!(shows(&app, "3 sur 19"), "the new agent counts");

    // The new agent can log in...
    let (agent, _d) = logged_in(&court, "atangana", "premier-mot-de-passe");
    assert_eq!(
        agent.state().state.session.as_ref().map(|s| s.privilege),
        Some(1)
    );
    drop(agent);

    // ...until the greffier suspends it (selected after its creation), with confirmation.
    click(&mut app, "Suspendre…");
    assert!(shows(&app, "ne pourra plus se connecter"));
    click(&mut app, "Suspendre");
    wait_for(&mut app, "the suspension", |a| {
        a.state()
            .state
            .utilisateurs
            .user("atangana")
            .is_some_and(|u| u.privilege == 0)
    });
    assert_eq!(
        sql(
            &court,
            "select privilege from court.app_user where login = 'atangana'"
        ),
        "0"
    );
    assert!(shows(&app, "2 sur 19"), "a suspended agent frees its place");

    let dir = tempfile::tempdir().expect("tempdir");
    remember_server(dir.path(), court.port(), Lang::Fr);
    let mut refused = common::app(dir.path());
    type_into(&mut refused, "Utilisateur", "atangana");
    type_into(&mut refused, "Mot de passe", "premier-mot-de-passe");
    click(&mut refused, "Se connecter");
    wait_for(&mut refused, "the refusal", |a| {
        a.state()
            .state
            .login
            .error
            .as_ref()
            .is_some_and(|e| e.kind == ConnectErrorKind::Suspended)
    });
    assert!(shows(&refused, "Ce compte est suspendu"));
    assert!(refused.state().state.session.is_none());

    // Reactivated as an agent, it logs in again.
    click(&mut app, "Réactiver");
    wait_for(&mut app, "the reactivation", |a| {
        a.state()
            .state
            .utilisateurs
            .user("atangana")
            .is_some_and(|u| u.privilege == 1)
    });
    let (again, _d) = logged_in(&court, "atangana", "premier-mot-de-passe");
    assert!(again.state().state.session.is_some());

    // A limit reached is the database's refusal too, shown at the privilege.
    court.psql("update court.setting set max_agents = 3");
    replace(&mut app, "Identifiant de connexion", "owona");
    replace(&mut app, "Nom et prénoms", "Owona Paul");
    choose(&mut app, "Privilège accordé", "Agent (3 sur 19)");
    type_into(&mut app, "Mot de passe initial", "autre-mot-de-passe");
    type_into(&mut app, "Confirmer le mot de passe", "autre-mot-de-passe");
    click(&mut app, "Créer l'utilisateur");
    wait_for(&mut app, "the refusal", |a| {
        a.state()
            .state
            .utilisateurs
            .errors
            .contains_key("privilege")
    });
    assert!(shows(
        &app,
        "La juridiction compte déjà 3 agents : c'est le maximum."
    ));
    assert_eq!(
        sql(
            &court,
            "select count(*) from court.app_user where login = 'owona'"
        ),
        "0"
    );
}

#[test]
fn an_agent_sees_no_utilisateurs_and_the_statistiques_count_the_fiches_created() {
    let court = Court::start();
    // Three fiches created this month, one of them signed (convicted ten days ago).
    signed_fiche(
        &court,
        "jsonb_set(f, '{condamnation,conviction_date}', to_jsonb(current_date - 10))",
    );
    for surname in ["Essomba", "Mballa"] {
        let fiche = testkit::sample_fiche_json(surname, "Rose").replace('\'', "''");
        court.psql_as(AGENT, &format!("select juris.save_fiche('{fiche}'::jsonb)"));
    }
    let (mut app, _dir) = logged_in(&court, AGENT, PASSWORD);
    assert!(!shows(&app, "Utilisateurs"), "an agent has no Utilisateurs");
    assert!(shows(&app, "Statistiques"));

    // The form takes no more characters than the database allows in a field.
    wait_for(&mut app, "the field limits", |a| {
        a.state().state.saisie.limit("surname").is_some()
    });
    let limit = app.state().state.saisie.limit("surname").expect("limit");
    let db_limit: usize = sql(
        &court,
        "select max_length from juris.field_limits() where field = 'surname'",
    )
    .parse()
    .expect("number");
    assert_eq!(limit, db_limit);
    type_into(&mut app, "Nom", &"K".repeat(limit + 25));
    assert_eq!(value(&app, "Nom").chars().count(), limit);

    click(&mut app, "Statistiques");
    wait_for(&mut app, "the statistics", |a| {
        a.state().state.statistiques.stats.is_some()
    });
    let stats = app.state().state.statistiques.stats.clone().expect("stats");
    assert_eq!(stats.fiches_created(), 3);
    assert!(shows(&app, "Fiches créées sur la période : 3"));
    assert!(shows(
        &app,
        "Condamnations prononcées sur la période, signées : 1"
    ));
    // The figures under the charts: the signed conviction's category, and its delay.
    assert!(shows(
        &app,
        "Atteintes aux biens publics, détournement de fonds publics"
    ));
    assert_eq!(stats.delays.len(), 1);
    assert_eq!(stats.delays[0].to_signature_median_days, Some(10.0));
    assert!(shows(&app, "10,0 j"));
}

#[test]
fn a_rectification_proposed_by_one_is_verified_by_another_and_applied_by_the_greffier() {
    let court = Court::start();
    let id = signed_fiche(&court, "f");
    // Another fiche of the same person (names in another order).
    let other = testkit::sample_fiche_json("Mangué", "Kobila").replace('\'', "''");
    court.psql_as(AGENT, &format!("select juris.save_fiche('{other}'::jsonb)"));
    court.psql_as(
        GREFFIER,
        &format!(
            "select juris.create_user('bello', 'Bello Aïssatou', '{}', 2)",
            db::scram_verifier(PASSWORD)
        ),
    );

    // A secrétaire proposes it.
    let (mut sec, _d1) = logged_in(&court, SECRETAIRE, PASSWORD);
    open(&mut sec, id);
    assert!(shows(&sec, "Fiches de la personne : 2"));
    click(&mut sec, "Rectifier…");
    replace(&mut sec, "Lieu de naissance", "Ekok");
    click(&mut sec, "Proposer la rectification…");
    type_into(
        &mut sec,
        "Motif",
        "Le lieu de naissance est Ekok (acte de naissance n° 412).",
    );
    click(&mut sec, "Proposer la rectification");
    wait_for(&mut sec, "the proposal", |a| {
        a.state()
            .state
            .saisie
            .meta
            .as_ref()
            .is_some_and(|m| m.rectification.is_some())
    });
    assert!(shows(&sec, "Rectification proposée"));
    assert!(shows(&sec, "À vérifier"));
    // The proposal shows what it changes; the signed record is unchanged until applied.
    assert!(shows(&sec, "Ekouk") && shows(&sec, "Ekok"));
    assert_eq!(
        sql(
            &court,
            &format!("select birth_place || '|' || version from court.fiche where fiche_id = {id}")
        ),
        "Ekouk|1"
    );
    assert!(
        !enabled(&sec, "Vérifier la rectification"),
        "the proposer cannot verify his own proposal"
    );
    assert!(!enabled(&sec, "Appliquer la rectification…"));
    assert!(
        court
            .try_psql_as(
                SECRETAIRE,
                &format!("select juris.verify_rectification({id})")
            )
            .is_err(),
        "nor through the database"
    );

    // Another secrétaire verifies it.
    let (mut other_sec, _d2) = logged_in(&court, "bello", PASSWORD);
    open(&mut other_sec, id);
    assert!(enabled(&other_sec, "Vérifier la rectification"));
    assert!(!enabled(&other_sec, "Appliquer la rectification…"));
    click(&mut other_sec, "Vérifier la rectification");
    wait_for(&mut other_sec, "the verification", |a| {
        a.state()
            .state
            .saisie
            .meta
            .as_ref()
            .and_then(|m| m.rectification.as_ref())
            .is_some_and(|r| r.state == "verifiee")
    });
    assert!(shows(&other_sec, "Vérifiée par bello."));

    // The greffier applies it: version 2, signed and transmitted.
    let (mut greffier, _d3) = logged_in(&court, GREFFIER, PASSWORD);
    open(&mut greffier, id);
    assert!(enabled(&greffier, "Appliquer la rectification…"));
    click(&mut greffier, "Appliquer la rectification…");
    assert!(shows(&greffier, "version 2"));
    click(&mut greffier, "Appliquer et signer");
    wait_for(&mut greffier, "the rectification applied", |a| {
        a.state()
            .state
            .saisie
            .meta
            .as_ref()
            .is_some_and(|m| m.version == 2 && m.rectification.is_none())
    });
    assert_eq!(value(&greffier, "Lieu de naissance"), "Ekok");
    assert_eq!(
        sql(
            &court,
            &format!(
                "select birth_place || '|' || version || '|' || signed_by from court.fiche where fiche_id = {id}"
            )
        ),
        format!("Ekok|2|{GREFFIER}")
    );
    assert_eq!(
        sql(
            &court,
            &format!(
                "select count(*) from court.outbox where fiche_id = {id} and kind = 'fiche_rectified'"
            )
        ),
        "1"
    );
    assert_eq!(
        sql(
            &court,
            &format!(
                "select proposed_by || '|' || verified_by || '|' || applied_by from court.rectification where fiche_id = {id}"
            )
        ),
        format!("{SECRETAIRE}|bello|{GREFFIER}")
    );
}

#[test]
fn a_fine_paid_recorded_by_the_greffier_shows_in_the_fiches_list_of_events() {
    let court = Court::start();
    let id = signed_fiche(
        &court,
        "jsonb_set(jsonb_set(f, '{condamnation,sentence_type}', '\"emprisonnement_amende\"'), \
         '{condamnation,fine_amount}', '500000')",
    );
    let (mut app, _dir) = logged_in(&court, GREFFIER, PASSWORD);
    open(&mut app, id);
    assert!(shows(&app, "Exécution de la peine"));
    assert!(shows(&app, "Aucun événement d'exécution"));
    choose(&mut app, "Type d'événement", "Amende payée");
    type_into(&mut app, "Date de l'événement", "03022020");
    assert_eq!(value(&app, "Date de l'événement"), "03/02/2020");
    // Without the document's reference, the database refuses at that field.
    click(&mut app, "Enregistrer l'événement…");
    assert!(
        shows(&app, "ne change plus"),
        "recording asks for confirmation"
    );
    click(&mut app, "Enregistrer et signer");
    wait_for(&mut app, "the refusal", |a| {
        a.state()
            .state
            .saisie
            .errors
            .contains_key("event.reference")
    });
    assert!(shows(&app, "La référence de la pièce"));
    type_into(
        &mut app,
        "Pièce (quittance, décision…)",
        "Quittance du Trésor n° 2020-114",
    );
    click(&mut app, "Enregistrer l'événement…");
    click(&mut app, "Enregistrer et signer");
    wait_for(&mut app, "the event recorded", |a| {
        a.state().state.saisie.events.len() == 1
    });
    assert!(shows(&app, "Amende payée"));
    assert!(shows(&app, "Quittance du Trésor n° 2020-114"));
    assert!(shows(&app, "03/02/2020"));
    assert_eq!(
        sql(
            &court,
            &format!(
                "select event_kind || '|' || event_date || '|' || recorded_by from court.sentence_event where fiche_id = {id}"
            )
        ),
        format!("fine_paid|2020-02-03|{GREFFIER}")
    );
    assert_eq!(
        sql(
            &court,
            "select count(*) from court.outbox where kind = 'sentence_event'"
        ),
        "1"
    );
}
