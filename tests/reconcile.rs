//! `xmjuris reconcile` on a real court database and a real CJN database: messages in transit,
//! receipted, and a message the CJN holds in the court's name that the court never signed.

mod common;

use common::{Court, PASSWORD, ingest, verified_fiche, xmjuris_cmd};

#[tokio::test(flavor = "multi_thread")]
async fn reconcile_tells_in_transit_from_lost_and_unknown() {
    let court = Court::new();
    court
        .cluster
        .create_database("cjn")
        .expect("create the CJN database");
    let cjn_admin_url = court.cluster.admin_url("cjn");
    court.xmjuris(&["migrate", "--cjn", &court.cluster.admin_conninfo("cjn")]);
    let cjn = db::connect(&cjn_admin_url)
        .await
        .expect("connect to the CJN");
    cjn.batch_execute(&format!(
        "select cjn.register_court('12345', 'Tribunal de Garoua-Boulaï', 'ADAMAOUA', 'FARO ET DEO', 'Biyouha'); \
         create role tg_operator login password '{PASSWORD}' in role cjn_operator;"
    ))
    .await
    .expect("register the court and an operator");
    let cjn_url = court.cluster.user_url("tg_operator", PASSWORD, "cjn");

    let agent = court.connect("mbarga").await;
    let secretaire = court.connect("zambo").await;
    let greffier = court.connect("kamdem").await;
    for name in ["Kobila", "Atangana", "Ngo Bassong"] {
        let id = verified_fiche(&agent, &secretaire, name).await;
        greffier
            .execute("select juris.sign_fiche($1)", &[&id])
            .await
            .expect("sign");
    }
    let admin = court.admin().await;
    let payloads: Vec<serde_json::Value> = admin
        .query("select payload from court.outbox order by seq", &[])
        .await
        .expect("outbox")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(payloads.len(), 3);

    // 1 receipted; 2 received by the CJN, its receipt not yet back; 3 still on its way.
    let receipt = ingest(&cjn, &payloads[0]).await;
    admin
        .execute(
            "select juris.store_receipt(($1::jsonb ->> 'message_id')::uuid, $1::jsonb, '\\x3082'::bytea)",
            &[&receipt],
        )
        .await
        .expect("store the receipt");
    ingest(&cjn, &payloads[1]).await;

    let greffier_url = court.url("kamdem");
    let out = court.xmjuris(&["reconcile", "--court", &greffier_url, "--cjn", &cjn_url]);
    assert!(
        out.contains("3 message(s) signed at the court, 2 held by the CJN, 2 matching"),
        "{out}"
    );
    assert!(out.contains("in transit to the CJN: 1"), "{out}");
    assert!(out.contains("receipt in transit to the court: 1"), "{out}");
    assert!(
        out.contains("Reconciled: nothing lost, altered or unknown."),
        "{out}"
    );

    // The same through a manifest exported at the court.
    let dir = tempfile::tempdir().expect("tempdir");
    let manifest = dir.path().join("manifest-12345.json");
    let manifest = manifest.to_str().expect("utf-8 path");
    court.xmjuris(&["reconcile", "--court", &greffier_url, "--export", manifest]);
    let out = court.xmjuris(&[
        "reconcile",
        "--manifest",
        manifest,
        "--cjn",
        &cjn_url,
        "--json",
    ]);
    let report: serde_json::Value = serde_json::from_str(&out).expect("a JSON report");
    assert_eq!(report["matched"], 2, "{report}");
    assert_eq!(report["in_transit"][0]["seq"], 3, "{report}");

    // A message in the court's name that the court never signed: an alarm, exit status 1.
    let mut forged = payloads[2].clone();
    forged["seq"] = 4.into();
    forged["message_id"] = "6f1c1f0e-0000-4000-8000-000000000004".into();
    ingest(&cjn, &forged).await;
    let out = xmjuris_cmd(&["reconcile", "--court", &greffier_url, "--cjn", &cjn_url])
        .output()
        .expect("run reconcile");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "a discrepancy must fail: {stdout}");
    assert!(stdout.contains("UNKNOWN to the court: 1"), "{stdout}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("do not reconcile: 1 discrepancy"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The court's side is the greffier's: an agent may not even call the function.
    let out = xmjuris_cmd(&[
        "reconcile",
        "--court",
        &court.url("mbarga"),
        "--cjn",
        &cjn_url,
    ])
    .output()
    .expect("run reconcile");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("permission denied for function transmission_manifest"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A signed fiche changed at the court behind the triggers (a superuser with
/// `session_replication_role = replica`: no audit row, no outbox message) is caught by
/// `xmjuris reconcile`, which compares each fiche's content with the CJN's.
#[tokio::test(flavor = "multi_thread")]
async fn reconcile_detects_a_signed_fiche_changed_behind_the_triggers() {
    let court = Court::new();
    court
        .cluster
        .create_database("cjn")
        .expect("create the CJN database");
    let cjn_admin_url = court.cluster.admin_url("cjn");
    court.xmjuris(&["migrate", "--cjn", &cjn_admin_url]);
    let cjn = db::connect(&cjn_admin_url)
        .await
        .expect("connect to the CJN");
    cjn.batch_execute(&format!(
        "select cjn.register_court('12345', 'Tribunal de Garoua-Boulaï', 'ADAMAOUA', 'FARO ET DEO', 'Biyouha'); \
         create role tg_operator login password '{PASSWORD}' in role cjn_operator;"
    ))
    .await
    .expect("register the court and an operator");
    let cjn_url = court.cluster.user_url("tg_operator", PASSWORD, "cjn");
    let agent = court.connect("mbarga").await;
    let secretaire = court.connect("zambo").await;
    let greffier = court.connect("kamdem").await;
    let id = verified_fiche(&agent, &secretaire, "Kobila").await;
    greffier
        .execute("select juris.sign_fiche($1)", &[&id])
        .await
        .expect("sign");
    let admin = court.admin().await;
    let payload: serde_json::Value = admin
        .query_one("select payload from court.outbox", &[])
        .await
        .expect("outbox")
        .get(0);
    let receipt = ingest(&cjn, &payload).await;
    admin
        .execute(
            "select juris.store_receipt(($1::jsonb ->> 'message_id')::uuid, $1::jsonb, '\\x3082'::bytea)",
            &[&receipt],
        )
        .await
        .expect("store the receipt");
    let greffier_url = court.url("kamdem");
    let out = court.xmjuris(&["reconcile", "--court", &greffier_url, "--cjn", &cjn_url]);
    assert!(
        out.contains("Reconciled: nothing lost, altered or unknown."),
        "{out}"
    );

    // Behind the triggers: the archived fiche's surname is changed in place.
    admin
        .batch_execute(&format!(
            "set session_replication_role = replica; \
             update court.fiche set surname = 'Autre' where fiche_id = {id}; \
             set session_replication_role = origin;"
        ))
        .await
        .expect("tamper as a superuser");
    let out = xmjuris_cmd(&["reconcile", "--court", &greffier_url, "--cjn", &cjn_url])
        .output()
        .expect("run reconcile");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "tampering must fail: {stdout}");
    assert!(
        stdout.contains("FICHE DIFFERS between the court and the CJN: 1"),
        "{stdout}"
    );
    assert!(stdout.contains("the content differs"), "{stdout}");
}
