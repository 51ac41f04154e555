//! The court database through the `xmjuris` CLI and real logins: set-up, idempotent migration,
//! concurrency (racing signatures, concurrent audit appends), suspension, outbox wake-ups.

mod common;

use common::{Court, verified_fiche};
use futures_util::StreamExt as _;

#[test]
fn migrate_twice_is_a_noop_and_init_gives_a_working_court() {
    let court = Court::new();
    let second = court.xmjuris(&["migrate", "--court", &court.admin_conninfo()]);
    assert!(
        second.contains("Schema up to date"),
        "second migrate should do nothing, said: {second}"
    );
    let schema_before = court
        .cluster
        .psql("court", "select count(*) from pg_proc p join pg_namespace n on n.oid = p.pronamespace where n.nspname = 'juris'")
        .expect("psql");
    assert!(schema_before.trim().parse::<i64>().expect("count") > 20);

    // The greffier logs in with the password set by `court init` (over TCP, SCRAM).
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let greffier = court.connect("kamdem").await;
        let me: serde_json::Value = greffier
            .query_one("select juris.whoami()", &[])
            .await
            .expect("whoami")
            .get(0);
        assert_eq!(me["privilege"], 3);
        assert_eq!(me["court"]["code"], common::COURT_CODE);
        assert_eq!(me["full_name"], "Kamdem Jean");
        let users: Vec<String> = greffier
            .query("select login from juris.list_users()", &[])
            .await
            .expect("list users")
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(users, ["kamdem", "zambo", "essomba", "mbarga"]);
    });

    // A wrong password is refused.
    let bad = court.cluster.user_url("mbarga", "wrong-password", "court");
    assert!(rt.block_on(db::connect(&bad)).is_err());
    // The audit chain is intact after all this, as the CLI checks.
    let out = court.xmjuris(&["court", "audit-verify", "--db", &court.url("kamdem")]);
    assert!(out.contains("intact"), "{out}");
}

#[test]
fn court_init_refuses_a_bad_code_and_keeps_the_password_off_the_command_line() {
    let court = Court::new();
    let out = court
        .xmjuris_cmd(&[
            "court",
            "init",
            "--db",
            &court.admin_conninfo(),
            "--code",
            "12A45",
            "--name",
            "X",
            "--region",
            "R",
            "--departement",
            "D",
            "--arrondissement",
            "A",
            "--greffier",
            "kamdem",
        ])
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Code de juridiction invalide"), "{err}");
    let help = common::xmjuris_cmd(&["court", "init", "--help"])
        .output()
        .expect("run");
    assert!(!String::from_utf8_lossy(&help.stdout).contains("--password"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_sessions_racing_to_sign_the_same_fiche_exactly_one_wins() {
    let court = Court::new();
    let agent = court.connect("mbarga").await;
    let secretaire = court.connect("zambo").await;
    for round in 0..5 {
        let id = verified_fiche(&agent, &secretaire, &format!("Course{round}")).await;
        let a = court.connect("kamdem").await;
        let b = court.connect("kamdem").await;
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&id];
        let (ra, rb) = tokio::join!(
            a.query_one("select juris.sign_fiche($1)", &params),
            b.query_one("select juris.sign_fiche($1)", &params)
        );
        let wins = [ra.is_ok(), rb.is_ok()].iter().filter(|x| **x).count();
        assert_eq!(wins, 1, "round {round}: exactly one signature must succeed");
        let loser = if ra.is_err() { ra } else { rb }.expect_err("one failed");
        assert_eq!(
            db::DbError::query("sign", loser).kind(),
            db::ErrorKind::WrongState
        );
        let outbox: i64 = court
            .admin()
            .await
            .query_one(
                "select count(*) from court.outbox where fiche_id = $1",
                &[&id],
            )
            .await
            .expect("count")
            .get(0);
        assert_eq!(outbox, 1, "one message for one signature");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_never_fork_the_audit_chain() {
    let court = Court::new();
    let mut tasks = Vec::new();
    for (i, login) in ["mbarga", "essomba", "zambo", "kamdem"].iter().enumerate() {
        let client = court.connect(login).await;
        tasks.push(tokio::spawn(async move {
            for n in 0..25 {
                client
                    .query_one(
                        "select juris.save_fiche($1)",
                        &[&common::sample_fiche(&format!("Writer{i}n{n}"), "Test")],
                    )
                    .await
                    .expect("save");
            }
        }));
    }
    for t in tasks {
        t.await.expect("writer");
    }
    let greffier = court.connect("kamdem").await;
    let row = greffier
        .query_one("select ok, rows_checked from juris.audit_verify()", &[])
        .await
        .expect("verify");
    assert!(row.get::<_, bool>(0), "the chain must verify");
    let admin = court.admin().await;
    let gaps: i64 = admin
        .query_one(
            "select count(*) from (select seq - lag(seq) over (order by seq) as step from court.audit) s where step <> 1",
            &[],
        )
        .await
        .expect("gaps")
        .get(0);
    assert_eq!(gaps, 0);
    let fiches: i64 = admin
        .query_one(
            "select count(*) from court.audit where action = 'create'",
            &[],
        )
        .await
        .expect("count")
        .get(0);
    assert_eq!(fiches, 100);
    let numbers: i64 = admin
        .query_one(
            "select max(number) - min(number) + 1 - count(*) from court.fiche",
            &[],
        )
        .await
        .expect("numbers")
        .get(0);
    assert_eq!(numbers, 0, "fiche numbers are gapless under concurrency");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suspending_a_user_ends_their_sessions_and_refuses_new_logins() {
    let court = Court::new();
    let agent = court.connect("mbarga").await;
    agent
        .query_one("select juris.whoami()", &[])
        .await
        .expect("agent works");
    let greffier = court.connect("kamdem").await;
    greffier
        .execute("select juris.set_privilege('mbarga', 0)", &[])
        .await
        .expect("suspend");
    let after = agent.query_one("select juris.whoami()", &[]).await;
    assert!(after.is_err(), "the open session must have been ended");
    assert!(
        db::connect(&court.url("mbarga")).await.is_err(),
        "a suspended user cannot log in"
    );
    // Reinstated, the user can log in again.
    greffier
        .execute("select juris.set_privilege('mbarga', 1)", &[])
        .await
        .expect("reinstate");
    let again = court.connect("mbarga").await;
    again
        .query_one("select juris.whoami()", &[])
        .await
        .expect("works again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_signatures_in_one_transaction_write_fifty_messages_and_one_wake_up() {
    let court = Court::new();
    let agent = court.connect("mbarga").await;
    let secretaire = court.connect("zambo").await;
    let mut ids = Vec::new();
    for n in 0..50 {
        ids.push(verified_fiche(&agent, &secretaire, &format!("Lot{n}")).await);
    }

    // A listener on the outbox channel, with its connection's messages forwarded.
    let (listener, mut connection) =
        tokio_postgres::connect(&court.admin_url(), tokio_postgres::NoTls)
            .await
            .expect("connect listener");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
    tokio::spawn(async move {
        while let Some(Ok(m)) = messages.next().await {
            if let tokio_postgres::AsyncMessage::Notification(n) = m {
                let _ = tx.send(n.channel().to_owned());
            }
        }
    });
    listener
        .batch_execute("listen xmjuris_outbox")
        .await
        .expect("listen");

    let mut greffier = court.connect("kamdem").await;
    let tx_sign = greffier.transaction().await.expect("begin");
    for id in &ids {
        tx_sign
            .query_one("select juris.sign_fiche($1)", &[id])
            .await
            .expect("sign");
    }
    tx_sign.commit().await.expect("commit");

    let first = tokio::time::timeout(std::time::Duration::from_secs(10), rx.recv())
        .await
        .expect("a NOTIFY arrives")
        .expect("channel open");
    assert_eq!(first, "xmjuris_outbox");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        rx.try_recv().is_err(),
        "one wake-up per transaction, not one per fiche"
    );

    let row = listener
        .query_one("select count(*), min(seq), max(seq) from court.outbox", &[])
        .await
        .expect("outbox");
    assert_eq!(row.get::<_, i64>(0), 50);
    assert_eq!(
        row.get::<_, i64>(2) - row.get::<_, i64>(1) + 1,
        50,
        "gapless sequence"
    );
    let nius: i64 = listener
        .query_one(
            "select count(distinct niu) from court.fiche where niu is not null",
            &[],
        )
        .await
        .expect("nius")
        .get(0);
    assert_eq!(nius, 50);
}
