//! Backups and recovery with the real daemons (docs/backup.md): a court restored from a dump
//! taken before 20 signatures takes back from the CJN, over MQTT, what it signed since (its own
//! signed envelopes, its signature verified), and ends with every fiche archived, the CJN
//! holding each message once, value for value; a court restored by hand, which signs again with
//! a number the CJN holds, is refused precisely and stops signing; and after the CJN lost the
//! court's last messages, `resend --from-seq` sends them again.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use common::real_cjn::{self, PASSWORD, count, court_db};
use serde_json::{Value, json};

const A: &str = "12345";

async fn login(w: &real_cjn::World, who: &str) -> tokio_postgres::Client {
    db::connect(
        &w.court_cluster
            .user_url(&format!("{who}{A}"), PASSWORD, &court_db(A)),
    )
    .await
    .unwrap()
}

/// The PostgreSQL client programs of the court's cluster, with its superuser's password file.
fn pg_program(w: &real_cjn::World) -> impl Fn(&str) -> Command + '_ {
    move |name: &str| {
        let mut cmd = Command::new(w.court_cluster.client_program(name));
        w.court_cluster.client_env(&mut cmd);
        cmd
    }
}

/// Each fiche with a NIU at the court: NIU → (status, version, content, signature).
async fn court_fiches(w: &real_cjn::World) -> BTreeMap<String, (String, i32, Value, Value)> {
    w.court_admin(A)
        .await
        .query(
            "select f.niu, f.status::text, f.version, juris._fiche_content(f), \
             jsonb_build_object('signed_by', f.signed_by, 'signed_at', juris._iso(f.signed_at)) \
             from court.fiche f where f.niu is not null",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), (r.get(1), r.get(2), r.get(3), r.get(4))))
        .collect()
}

/// The latest version of each fiche at the CJN: NIU → (state, version, content, signature).
async fn cjn_fiches(cjn: &tokio_postgres::Client) -> BTreeMap<String, (String, i32, Value, Value)> {
    cjn.query(
        "select distinct on (niu) niu, state::text, version, content - 'signed_by' - 'signed_by_name' - 'signed_at', \
         jsonb_build_object('signed_by', content -> 'signed_by', \
                            'signed_at', to_char((content ->> 'signed_at')::timestamptz at time zone 'UTC', \
                                                 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')) \
         from registry.fiche order by niu, version desc",
        &[],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get(0), (r.get(1), r.get(2), r.get(3), r.get(4))))
    .collect()
}

/// The CJN's messages of court A: seq → (message id, kind, SHA-256 of the signed bytes).
async fn cjn_messages(cjn: &tokio_postgres::Client) -> BTreeMap<i64, (String, String, String)> {
    cjn.query(
        "select seq, message_id::text, kind, encode(signed_hash, 'hex') from registry.message \
         where court_code = $1",
        &[&A],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get(0), (r.get(1), r.get(2), r.get(3))))
    .collect()
}

/// The court's messages: seq → (message id, kind, state, the digest its receipt names).
async fn court_messages(
    w: &real_cjn::World,
) -> BTreeMap<i64, (String, String, String, Option<String>)> {
    w.court_admin(A)
        .await
        .query(
            "select seq, message_id::text, kind, state, receipt ->> 'signed_hash' from court.outbox",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), (r.get(1), r.get(2), r.get(3), r.get(4))))
        .collect()
}

async fn wait_all_receipted(w: &real_cjn::World, secs: u64) {
    real_cjn::eventually(secs, "every message receipted at the court", || async {
        count(
            &w.court_admin(A).await,
            "select count(*) from court.outbox where state <> 'acknowledged'",
        )
        .await
            == 0
    })
    .await;
}

/// Restores the court database from `dump` as `xmjuris backup restore-court` does: the sessions
/// closed, `pg_restore --create --clean`, migrate; `open_recovery` as that command does.
async fn restore_court(w: &real_cjn::World, dump: &std::path::Path, open_recovery: bool) {
    let admin = db::connect(&w.court_cluster.admin_url("postgres"))
        .await
        .unwrap();
    admin
        .execute(
            "select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()",
            &[&court_db(A)],
        )
        .await
        .unwrap();
    let maintenance = w.court_cluster.admin_conninfo("postgres");
    db::backup::restore_database(&pg_program(w), &maintenance, dump).expect("pg_restore");
    let url = w.court_cluster.admin_url(&court_db(A));
    db::migrate(&url, db::Schema::Court).await.unwrap();
    if open_recovery {
        db::connect(&url)
            .await
            .unwrap()
            .execute(
                "select juris.begin_recovery('Base restaurée depuis une sauvegarde.')",
                &[],
            )
            .await
            .unwrap();
    }
}

/// Stops a listener and waits until its database session is gone.
async fn stop_listener(w: &real_cjn::World, token: tokio_util::sync::CancellationToken) {
    token.cancel();
    real_cjn::eventually(20, "the listener's session closed", || async {
        count(
            &w.court_admin(A).await,
            &format!("select count(*) from pg_stat_activity where usename = 'l{A}'"),
        )
        .await
            == 0
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_court_restored_from_a_backup_taken_before_20_signatures_takes_them_back_from_the_cjn() {
    let w = real_cjn::World::new(&[A], &[]).await;
    w.enroll_in_process(A);
    let (stop_cjn, daemon) = real_cjn::spawn_ingest(w.ingest_config("cjn-1")).await;
    let cjn = w.cjn().await;
    let agent = login(&w, "a").await;
    let secretaire = login(&w, "s").await;
    let greffier = login(&w, "g").await;

    // Before the backup: 5 fiches signed and archived; 2 signed while the link was down (their
    // messages in the outbox, not yet at the CJN); 8 verified, to be signed after the backup.
    let listener = real_cjn::spawn_listener(w.listener_config(A));
    let early = real_cjn::verify_fiches(&agent, &secretaire, 5).await;
    w.sign(A, &early).await;
    w.wait_archived(A, &early, 60).await;
    stop_listener(&w, listener).await;
    let mut unsent = Vec::new();
    for i in 5..7 {
        unsent.push(real_cjn::verify_fiche(&agent, &secretaire, &real_cjn::varied_fiche(i)).await);
    }
    w.sign(A, &unsent).await;
    let mut later = Vec::new();
    for i in 7..15 {
        later.push(real_cjn::verify_fiche(&agent, &secretaire, &real_cjn::varied_fiche(i)).await);
    }
    let dumps = w.tmp.path().join("court-dumps");
    let dump = db::backup::dump_database(
        &pg_program(&w),
        &w.court_cluster.admin_conninfo(&court_db(A)),
        &dumps,
        "court-12345",
        3,
    )
    .expect("pg_dump");
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(
        std::fs::metadata(&dump).unwrap().permissions().mode() & 0o777,
        0o600,
        "the dump is private"
    );

    // After the backup: 20 signatures (the 8 verified fiches, 12 new ones), a rectification, a
    // withdrawal and a dated event; all reach the CJN and are archived at the court.
    let listener = real_cjn::spawn_listener(w.listener_config(A));
    let mut signed_after = later.clone();
    for i in 15..27 {
        signed_after
            .push(real_cjn::verify_fiche(&agent, &secretaire, &real_cjn::varied_fiche(i)).await);
    }
    w.sign(A, &signed_after).await;
    assert_eq!(signed_after.len(), 20);
    w.wait_archived(A, &signed_after, 90).await;
    let (rectified, withdrawn, with_event) = (signed_after[8], signed_after[9], signed_after[10]);
    let mut new_content = real_cjn::varied_fiche(23);
    new_content["justiciable"]["surname"] = "Owona Rectifié".into();
    greffier
        .execute(
            "select juris.propose_rectification($1, $2, $3)",
            &[&rectified, &new_content, &"Erreur sur le nom"],
        )
        .await
        .unwrap();
    secretaire
        .execute("select juris.verify_rectification($1)", &[&rectified])
        .await
        .unwrap();
    greffier
        .execute("select juris.apply_rectification($1)", &[&rectified])
        .await
        .unwrap();
    greffier
        .execute(
            "select juris.withdraw_fiche($1, $2)",
            &[&withdrawn, &"Condamnation annulée en appel"],
        )
        .await
        .unwrap();
    greffier
        .execute(
            "select juris.record_sentence_event($1, $2)",
            &[
                &with_event,
                &json!({"kind": "sentence_served", "date": "2022-06-01",
                        "reference": "Billet de sortie n° 412/PCY/2022"}),
            ],
        )
        .await
        .unwrap();
    wait_all_receipted(&w, 90).await;
    let before_messages = cjn_messages(&cjn).await;
    let before_fiches = cjn_fiches(&cjn).await;
    let before_events = count(&cjn, "select count(*) from registry.sentence_event").await;
    assert_eq!(before_messages.len(), 5 + 2 + 20 + 3);
    assert_eq!(before_fiches.len(), 27);
    let receipts_before = court_messages(&w).await;

    // The court's server is lost; the court is restored from the dump.
    stop_listener(&w, listener).await;
    drop((agent, secretaire, greffier));
    restore_court(&w, &dump, true).await;
    let greffier = login(&w, "g").await;
    let at_backup = court_fiches(&w).await;
    assert_eq!(
        at_backup.len(),
        7,
        "the backup holds the 7 fiches signed before it"
    );
    let refused = greffier
        .execute("select juris.sign_fiche($1)", &[&later[0]])
        .await
        .unwrap_err();
    let refused = db::DbError::query("signing", refused);
    assert_eq!(refused.kind(), db::ErrorKind::WrongState, "{refused}");
    assert!(
        refused.to_string().contains("Restauration en cours"),
        "{refused}"
    );

    // The listener takes back from the CJN what the court signed since, and sends again what
    // the CJN may lack: the CJN answers each duplicate with the receipt it gave.
    let listener = real_cjn::spawn_listener(w.listener_config(A));
    real_cjn::wait_for(
        90,
        "the recovery finished",
        || async {
            let s: Value = greffier
                .query_one("select juris.recovery_state()", &[])
                .await
                .unwrap()
                .get(0);
            s
        },
        |s| s["recovering"] == false,
    )
    .await;
    wait_all_receipted(&w, 90).await;

    // Nothing lost, nothing doubled: the CJN holds the same messages (same signed bytes, no
    // new one), the court every fiche archived (or withdrawn) as the CJN holds it, value for
    // value, and the receipts the CJN gave the first time.
    assert_eq!(cjn_messages(&cjn).await, before_messages);
    assert_eq!(cjn_fiches(&cjn).await, before_fiches);
    assert_eq!(
        count(&cjn, "select count(*) from registry.sentence_event").await,
        before_events
    );
    assert_eq!(
        count(
            &cjn,
            "select count(*) from registry.alarm where kind in ('conflicting_duplicate', 'reused_sequence')"
        )
        .await,
        0
    );
    let court = court_fiches(&w).await;
    assert_eq!(court.len(), 27);
    for (niu, (status, version, content, signature)) in &court {
        let (state, v, c, s) = &before_fiches[niu];
        let expected = if state == "withdrawn" {
            "declassee"
        } else {
            "archivee"
        };
        assert_eq!(status, expected, "status of {niu}");
        assert_eq!(v, version, "version of {niu}");
        assert_eq!(c, content, "content of {niu}");
        assert_eq!(s, signature, "signature of {niu}");
    }
    let receipts_after = court_messages(&w).await;
    assert_eq!(
        receipts_after, receipts_before,
        "the same messages and receipts"
    );
    let restored = count(
        &w.court_admin(A).await,
        "select count(*) from court.audit where action = 'restore' and data ->> 'note' = 'restaurée depuis le CJN'",
    )
    .await;
    assert_eq!(
        restored, 23,
        "20 signatures, a rectification, a withdrawal, an event"
    );
    let events = count(
        &w.court_admin(A).await,
        "select count(*) from court.sentence_event",
    )
    .await;
    assert_eq!(events, 1);
    let chain: Value = greffier
        .query_one("select to_jsonb(v) from juris.audit_verify() v", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(chain["ok"], true, "{chain}");

    // The court signs again, with the next numbers: nothing reused.
    let agent = login(&w, "a").await;
    let secretaire = login(&w, "s").await;
    let next = real_cjn::verify_fiche(&agent, &secretaire, &real_cjn::varied_fiche(40)).await;
    let niu = w.sign(A, &[next]).await.remove(0);
    assert!(!before_fiches.contains_key(&niu), "NIU {niu} is new");
    w.wait_archived(A, &[next], 60).await;
    let after = cjn_messages(&cjn).await;
    assert_eq!(after.len(), before_messages.len() + 1);
    assert_eq!(
        *after.keys().last().unwrap(),
        *before_messages.keys().last().unwrap() + 1
    );

    listener.cancel();
    stop_cjn.cancel();
    daemon.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_court_restored_by_hand_that_reuses_a_number_is_refused_precisely_and_stops_signing() {
    let w = real_cjn::World::new(&[A], &[]).await;
    w.enroll_in_process(A);
    let (stop_cjn, daemon) = real_cjn::spawn_ingest(w.ingest_config("cjn-1")).await;
    let agent = login(&w, "a").await;
    let secretaire = login(&w, "s").await;
    let ids = real_cjn::verify_fiches(&agent, &secretaire, 4).await;
    let dump = db::backup::dump_database(
        &pg_program(&w),
        &w.court_cluster.admin_conninfo(&court_db(A)),
        &w.tmp.path().join("dumps"),
        "court-12345",
        0,
    )
    .unwrap();
    let listener = real_cjn::spawn_listener(w.listener_config(A));
    w.sign(A, &ids[..2]).await;
    w.wait_archived(A, &ids[..2], 60).await;
    stop_listener(&w, listener).await;
    drop((agent, secretaire));

    // Restored without `xmjuris backup restore-court`: no recovery opened; the greffier signs
    // another fiche, which takes message number 1 again.
    restore_court(&w, &dump, false).await;
    let greffier = login(&w, "g").await;
    w.sign(A, &ids[3..4]).await;
    let listener = real_cjn::spawn_listener(w.listener_config(A));
    let rejection = real_cjn::wait_for(
        60,
        "the CJN's refusal stored",
        || async {
            greffier
                .query(
                    "select rejection_code, rejection_reason from juris.fiche_transmissions($1)",
                    &[&ids[3]],
                )
                .await
                .unwrap()
                .iter()
                .map(|r| (r.get::<_, Option<String>>(0), r.get::<_, Option<String>>(1)))
                .collect::<Vec<_>>()
        },
        |v| v.first().is_some_and(|(code, _)| code.is_some()),
    )
    .await;
    assert_eq!(rejection[0].0.as_deref(), Some("sequence_reused"));
    let reason = rejection[0].1.clone().unwrap();
    assert!(reason.contains("déjà pris au CJN"), "{reason}");
    assert!(
        reason.contains("sequence number 1 already holds message"),
        "{reason}"
    );

    // The court stops signing; the recovery cannot take message 1 back (the court holds
    // another under that number): it waits for an operator, and says why.
    let state = real_cjn::wait_for(
        60,
        "the recovery blocked",
        || async {
            let s: Value = greffier
                .query_one("select juris.recovery_state()", &[])
                .await
                .unwrap()
                .get(0);
            s
        },
        |s| s["recovering"] == true && !s["problem"].is_null(),
    )
    .await;
    assert!(
        state["problem"]
            .as_str()
            .unwrap()
            .contains("déjà pris à la juridiction"),
        "{state}"
    );
    let refused = greffier
        .execute("select juris.sign_fiche($1)", &[&ids[2]])
        .await
        .unwrap_err();
    assert!(
        db::DbError::query("signing", refused)
            .to_string()
            .contains("Restauration en cours"),
        "signing is suspended"
    );
    let cjn = w.cjn().await;
    assert_eq!(
        count(
            &cjn,
            "select count(*) from registry.alarm where kind = 'reused_sequence'"
        )
        .await,
        1
    );
    assert_eq!(
        count(&cjn, "select count(*) from registry.message").await,
        2
    );

    listener.cancel();
    stop_cjn.cancel();
    daemon.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_cjn_lost_the_last_messages_resend_from_seq_sends_them_again() {
    let w = real_cjn::World::new(&[A], &[]).await;
    w.enroll_in_process(A);
    let (stop_cjn, daemon) = real_cjn::spawn_ingest(w.ingest_config("cjn-1")).await;
    let cjn = w.cjn().await;
    let ids = w.verified_fiches(A, 5).await;
    let listener = real_cjn::spawn_listener(w.listener_config(A));
    w.sign(A, &ids).await;
    w.wait_archived(A, &ids, 60).await;
    let before = cjn_fiches(&cjn).await;
    stop_listener(&w, listener).await;
    stop_cjn.cancel();
    daemon.await.unwrap().unwrap();

    // The CJN comes back from a restore that lacks the court's messages 4 and 5 (the
    // point-in-time restore itself is tested in tests/backup.rs).
    cjn.batch_execute(&format!(
        "delete from registry.fiche_event where message_id in (select message_id from registry.message where court_code = '{A}' and seq >= 4); \
         delete from registry.fiche where message_id in (select message_id from registry.message where court_code = '{A}' and seq >= 4); \
         delete from registry.message where court_code = '{A}' and seq >= 4; \
         update registry.court set last_seq = 3, applied_seq = 3 where code = '{A}';"
    ))
    .await
    .unwrap();
    assert_eq!(cjn_fiches(&cjn).await.len(), 3);

    // What `xmjuris-listener resend --from-seq 4` does, then the running listener sends them.
    let config = w.listener_config(A);
    assert_eq!(listener::resend_from(&config, 4).await.unwrap(), 2);
    let (stop_cjn, daemon) = real_cjn::spawn_ingest(w.ingest_config("cjn-1")).await;
    let listener = real_cjn::spawn_listener(config);
    wait_all_receipted(&w, 60).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        cjn_fiches(&cjn).await,
        before,
        "the CJN holds the 5 fiches again"
    );
    assert_eq!(
        count(&cjn, "select count(*) from registry.message").await,
        5
    );
    assert_eq!(w.statuses(A, &ids).await, vec!["archivee"; 5]);
    let resent = count(
        &w.court_admin(A).await,
        "select count(*) from court.audit where action = 'resend'",
    )
    .await;
    assert_eq!(resent, 1);

    listener.cancel();
    stop_cjn.cancel();
    daemon.await.unwrap().unwrap();
}
