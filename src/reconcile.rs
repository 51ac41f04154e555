//! `xmjuris reconcile`: compares what a court signed and transmitted with what the CJN holds of
//! it, message by message (sequence number, message id, kind, NIU, version, and the digest of
//! the signed bytes that the CJN's receipt names).
//!
//! Then fiche by fiche: the latest version each side holds and the digest of its content
//! (`juris.fiche_manifest()` at the court, `cjn.court_fiches(code)` at the CJN), so that a signed
//! fiche changed at the court by a path that bypassed the triggers (a superuser, replication
//! role) is reported even though its messages all reconcile.
//!
//! After the CJN was restored from an older backup, the messages it receipted and lost are
//! `missing_at_cjn`, and the report names the first (`resend_from`): at the court,
//! `xmjuris-listener resend --from-seq N` sends them again (`juris.requeue_messages`).
//!
//! The court's side comes from its database (`juris.transmission_manifest()`, as the greffier)
//! or from a manifest file exported there (`--export`), for a court whose database the CJN
//! cannot reach; the CJN's side from `cjn.court_manifest(code)` (operator or auditor).

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use serde::{Deserialize, Serialize};

#[derive(Debug, Args)]
pub struct ReconcileArgs {
    /// Connection string of the court database, as its greffier.
    #[arg(long, value_name = "DATABASE_URL", conflicts_with = "manifest")]
    court: Option<String>,
    /// A manifest exported at the court with `--export`, instead of `--court`.
    #[arg(long, value_name = "FILE")]
    manifest: Option<PathBuf>,
    /// Connection string of the CJN database, as an operator or auditor.
    #[arg(long, value_name = "DATABASE_URL", required_unless_present = "export")]
    cjn: Option<String>,
    /// Write the court's manifest to this file (JSON) instead of comparing.
    #[arg(long, value_name = "FILE", requires = "court", conflicts_with = "cjn")]
    export: Option<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// What a court transmitted: one entry per fiche event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub court_code: String,
    pub messages: Vec<CourtMessage>,
    /// Each signed fiche as the court holds it now (absent from manifests of older versions).
    #[serde(default)]
    pub fiches: Vec<FicheDigest>,
}

/// A fiche's latest version on one side, and the SHA-256 of its content (no personal data).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FicheDigest {
    pub niu: String,
    pub version: i32,
    /// At the court: signee, archivee, declassee. At the CJN: active, superseded, withdrawn.
    pub state: String,
    pub content_digest: String,
    /// At the court: a message about this fiche is still on its way to the CJN.
    #[serde(default)]
    pub in_transit: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CourtMessage {
    pub seq: i64,
    pub message_id: String,
    pub kind: String,
    pub niu: String,
    pub version: i32,
    /// `pending`, `acknowledged` or `rejected`.
    pub state: String,
    pub created_at: String,
    /// The digest named by the CJN's receipt, once acknowledged.
    pub receipt_signed_hash: Option<String>,
}

/// What the CJN holds of one court's messages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CjnMessage {
    pub seq: i64,
    pub message_id: String,
    pub kind: String,
    pub niu: Option<String>,
    pub version: Option<i32>,
    pub signed_hash: String,
    pub applied: bool,
}

/// One message on which the two sides disagree, or that is still on its way.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub seq: i64,
    pub message_id: String,
    pub niu: Option<String>,
    pub detail: String,
}

/// The comparison of a court's manifest with the CJN's.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Report {
    pub court_code: String,
    pub signed_at_court: usize,
    pub held_at_cjn: usize,
    pub matched: usize,
    /// Receipted by the CJN (the court holds its receipt) but absent from the CJN: data lost there.
    pub missing_at_cjn: Vec<Finding>,
    /// Not yet receipted and absent from the CJN: still on its way (the listener resends it).
    pub in_transit: Vec<Finding>,
    /// Held by the CJN, its receipt not yet at the court: the receipt is on its way.
    pub receipt_in_transit: Vec<Finding>,
    /// Refused by the CJN (reason at the court), absent from the CJN: for the greffier to act on.
    pub rejected: Vec<Finding>,
    /// Held at the CJN, waiting for an earlier message of the court (a gap).
    pub waiting_for_order: Vec<Finding>,
    /// Same sequence number, different message, fiche or digest on the two sides.
    pub mismatched: Vec<Finding>,
    /// Held by the CJN in the court's name, unknown to the court.
    pub unknown_to_court: Vec<Finding>,
    /// A signed fiche whose content or version differs between the court and the CJN although
    /// nothing is in transit: changed on one side outside the workflow.
    pub fiche_mismatched: Vec<Finding>,
    /// The first message the CJN lost (receipted, absent: the CJN was restored from an older
    /// backup): the court sends them again with `xmjuris-listener resend --from-seq N`.
    pub resend_from: Option<i64>,
}

impl Report {
    /// No message lost, altered or invented: what remains is in transit or refused.
    pub fn consistent(&self) -> bool {
        self.missing_at_cjn.is_empty()
            && self.mismatched.is_empty()
            && self.unknown_to_court.is_empty()
            && self.fiche_mismatched.is_empty()
    }

    fn discrepancies(&self) -> usize {
        self.missing_at_cjn.len()
            + self.mismatched.len()
            + self.unknown_to_court.len()
            + self.fiche_mismatched.len()
    }
}

/// Compares fiche by fiche: the latest version each side holds, and its content's digest. A
/// fiche only signed at the court (its receipt not stored) may be ahead of the CJN: in transit.
fn compare_fiches(court: &[FicheDigest], cjn: &[FicheDigest], report: &mut Report) {
    let held: BTreeMap<&str, &FicheDigest> = cjn.iter().map(|f| (f.niu.as_str(), f)).collect();
    let finding = |f: &FicheDigest, detail: String| Finding {
        seq: 0,
        message_id: String::new(),
        niu: Some(f.niu.clone()),
        detail,
    };
    for f in court {
        // A message about it still on its way (or a signature not yet receipted): the CJN may be
        // behind; nothing to compare yet.
        if f.in_transit || f.state == "signee" {
            continue;
        }
        let Some(c) = held.get(f.niu.as_str()) else {
            report.fiche_mismatched.push(finding(
                f,
                format!(
                    "{} v{} at the court, absent from the CJN",
                    f.state, f.version
                ),
            ));
            continue;
        };
        if c.version != f.version {
            report.fiche_mismatched.push(finding(
                f,
                format!(
                    "version {} ({}) at the court, version {} ({}) at the CJN",
                    f.version, f.state, c.version, c.state
                ),
            ));
        } else if !c.content_digest.eq_ignore_ascii_case(&f.content_digest) {
            report.fiche_mismatched.push(finding(
                f,
                format!(
                    "version {}: the content differs (digest {} at the court, {} at the CJN): changed outside the workflow",
                    f.version, f.content_digest, c.content_digest
                ),
            ));
        } else {
            let expected = match f.state.as_str() {
                "archivee" => "active",
                "declassee" => "withdrawn",
                _ => c.state.as_str(),
            };
            if c.state != expected {
                report.fiche_mismatched.push(finding(
                    f,
                    format!(
                        "{} at the court, {} at the CJN (nothing in transit): changed outside the workflow",
                        f.state, c.state
                    ),
                ));
            }
        }
    }
}

/// Compares message by message (keyed by the court's sequence number), then fiche by fiche.
pub fn compare(court: &Manifest, cjn: &[CjnMessage], cjn_fiches: &[FicheDigest]) -> Report {
    let held: BTreeMap<i64, &CjnMessage> = cjn.iter().map(|m| (m.seq, m)).collect();
    let mut report = Report {
        court_code: court.court_code.clone(),
        signed_at_court: court.messages.len(),
        held_at_cjn: cjn.len(),
        ..Report::default()
    };
    let finding = |m: &CourtMessage, detail: String| Finding {
        seq: m.seq,
        message_id: m.message_id.clone(),
        niu: Some(m.niu.clone()),
        detail,
    };
    let mut seen = std::collections::BTreeSet::new();
    for m in &court.messages {
        seen.insert(m.seq);
        let Some(c) = held.get(&m.seq) else {
            match m.state.as_str() {
                "acknowledged" => report.missing_at_cjn.push(finding(
                    m,
                    "receipted by the CJN, absent from its registry".into(),
                )),
                "rejected" => report.rejected.push(finding(
                    m,
                    "refused by the CJN (reason at the court)".into(),
                )),
                _ => report
                    .in_transit
                    .push(finding(m, format!("{} not yet received", m.kind))),
            }
            continue;
        };
        let mut differences = Vec::new();
        if c.message_id != m.message_id {
            differences.push(format!(
                "message id {} at the court, {} at the CJN",
                m.message_id, c.message_id
            ));
        }
        if c.kind != m.kind {
            differences.push(format!(
                "kind {} at the court, {} at the CJN",
                m.kind, c.kind
            ));
        }
        if c.niu.as_deref() != Some(m.niu.as_str()) || c.version != Some(m.version) {
            differences.push(format!(
                "fiche {} v{} at the court, {} v{} at the CJN",
                m.niu,
                m.version,
                c.niu.as_deref().unwrap_or("-"),
                c.version
                    .map(|v| v.to_string())
                    .unwrap_or_else(|| "-".into())
            ));
        }
        if let Some(h) = &m.receipt_signed_hash
            && !h.eq_ignore_ascii_case(&c.signed_hash)
        {
            differences.push(format!(
                "the receipt names digest {h}, the CJN holds {}",
                c.signed_hash
            ));
        }
        if m.state == "rejected" {
            differences.push("refused by the CJN, yet held in its registry".into());
        }
        if !differences.is_empty() {
            report.mismatched.push(finding(m, differences.join("; ")));
            continue;
        }
        report.matched += 1;
        if m.state == "pending" {
            report.receipt_in_transit.push(finding(
                m,
                "held by the CJN, receipt not yet stored at the court".into(),
            ));
        }
        if !c.applied {
            report
                .waiting_for_order
                .push(finding(m, "held, waiting for an earlier message".into()));
        }
    }
    for c in cjn.iter().filter(|c| !seen.contains(&c.seq)) {
        report.unknown_to_court.push(Finding {
            seq: c.seq,
            message_id: c.message_id.clone(),
            niu: c.niu.clone(),
            detail: format!(
                "{} held by the CJN in this court's name, unknown to the court",
                c.kind
            ),
        });
    }
    compare_fiches(&court.fiches, cjn_fiches, &mut report);
    report.resend_from = report.missing_at_cjn.iter().map(|f| f.seq).min();
    report
}

async fn court_manifest(url: &str) -> anyhow::Result<Manifest> {
    let client = db::connect(url).await?;
    let rows = client
        .query(
            "select court_code, seq, message_id::text, kind, niu, version, state, created_at::text, \
             receipt_signed_hash from juris.transmission_manifest()",
            &[],
        )
        .await
        .map_err(|e| db::DbError::query("reading the court's manifest (juris.transmission_manifest, as the greffier)", e))?;
    let court_code = match rows.first() {
        Some(r) => r.get::<_, String>(0),
        None => {
            let me: serde_json::Value = client
                .query_one("select juris.whoami()", &[])
                .await
                .map_err(|e| db::DbError::query("reading the court's identity", e))?
                .get(0);
            me["court"]["code"]
                .as_str()
                .context("the court database has no court code (run `xmjuris court init`)")?
                .to_owned()
        }
    };
    let fiches = client
        .query(
            "select niu, version, status, content_digest, in_transit from juris.fiche_manifest()",
            &[],
        )
        .await
        .map_err(|e| {
            db::DbError::query(
                "reading the court's fiches (juris.fiche_manifest, as the greffier)",
                e,
            )
        })?
        .iter()
        .map(fiche_digest)
        .collect();
    Ok(Manifest {
        court_code,
        fiches,
        messages: rows
            .iter()
            .map(|r| CourtMessage {
                seq: r.get(1),
                message_id: r.get(2),
                kind: r.get(3),
                niu: r.get(4),
                version: r.get(5),
                state: r.get(6),
                created_at: r.get(7),
                receipt_signed_hash: r.get(8),
            })
            .collect(),
    })
}

fn fiche_digest(r: &tokio_postgres::Row) -> FicheDigest {
    FicheDigest {
        niu: r.get(0),
        version: r.get(1),
        state: r.get(2),
        content_digest: r.get(3),
        in_transit: r.len() > 4 && r.get::<_, bool>(4),
    }
}

async fn cjn_manifest(
    url: &str,
    court_code: &str,
) -> anyhow::Result<(Vec<CjnMessage>, Vec<FicheDigest>)> {
    let client = db::connect(url).await?;
    let fiches = client
        .query(
            "select niu, version, state, content_digest from cjn.court_fiches($1)",
            &[&court_code],
        )
        .await
        .map_err(|e| {
            db::DbError::query(
                &format!("reading the fiches the CJN holds of court {court_code}"),
                e,
            )
        })?
        .iter()
        .map(fiche_digest)
        .collect();
    let rows = client
        .query(
            "select seq, message_id::text, kind, niu, version, signed_hash, applied \
             from cjn.court_manifest($1)",
            &[&court_code],
        )
        .await
        .map_err(|e| {
            db::DbError::query(
                &format!("reading what the CJN holds of court {court_code}"),
                e,
            )
        })?;
    let messages = rows
        .iter()
        .map(|r| CjnMessage {
            seq: r.get(0),
            message_id: r.get(1),
            kind: r.get(2),
            niu: r.get(3),
            version: r.get(4),
            signed_hash: r.get(5),
            applied: r.get(6),
        })
        .collect();
    Ok((messages, fiches))
}

fn print_report(r: &Report) {
    println!(
        "Court {}: {} message(s) signed at the court, {} held by the CJN, {} matching.",
        r.court_code, r.signed_at_court, r.held_at_cjn, r.matched
    );
    for (title, list) in [
        ("LOST at the CJN (receipted, absent)", &r.missing_at_cjn),
        ("MISMATCHED", &r.mismatched),
        ("UNKNOWN to the court", &r.unknown_to_court),
        (
            "FICHE DIFFERS between the court and the CJN",
            &r.fiche_mismatched,
        ),
        ("in transit to the CJN", &r.in_transit),
        ("receipt in transit to the court", &r.receipt_in_transit),
        ("refused by the CJN", &r.rejected),
        ("held, waiting for an earlier message", &r.waiting_for_order),
    ] {
        if list.is_empty() {
            continue;
        }
        println!("{title}: {}", list.len());
        for f in list.iter().take(50) {
            println!(
                "  seq {} message {} NIU {}: {}",
                f.seq,
                f.message_id,
                f.niu.as_deref().unwrap_or("-"),
                f.detail
            );
        }
        if list.len() > 50 {
            println!("  ... and {} more (--json lists them all)", list.len() - 50);
        }
    }
    if let Some(n) = r.resend_from {
        println!(
            "To send again what the CJN lost, at the court: xmjuris-listener resend --from-seq {n}"
        );
    }
    if r.consistent() {
        println!("Reconciled: nothing lost, altered or unknown.");
    }
}

pub async fn run(args: ReconcileArgs) -> anyhow::Result<()> {
    let manifest = match (&args.court, &args.manifest) {
        (Some(url), _) => court_manifest(url).await?,
        (None, Some(path)) => {
            let text = std::fs::read(path)
                .with_context(|| format!("cannot read the manifest {}", path.display()))?;
            serde_json::from_slice(&text).with_context(|| {
                format!(
                    "{} is not a manifest of `xmjuris reconcile --export`",
                    path.display()
                )
            })?
        }
        (None, None) => anyhow::bail!("--court or --manifest is required"),
    };
    if let Some(path) = &args.export {
        let json = serde_json::to_vec_pretty(&manifest)?;
        std::fs::write(path, json).with_context(|| format!("cannot write {}", path.display()))?;
        println!(
            "Manifest of court {} written to {} ({} message(s), {} fiche(s)).",
            manifest.court_code,
            path.display(),
            manifest.messages.len(),
            manifest.fiches.len()
        );
        return Ok(());
    }
    let cjn_url = args.cjn.as_deref().context("--cjn is required")?;
    let (held, held_fiches) = cjn_manifest(cjn_url, &manifest.court_code).await?;
    let report = compare(&manifest, &held, &held_fiches);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(&report);
    }
    if !report.consistent() {
        anyhow::bail!(
            "court {} and the CJN do not reconcile: {} discrepancy(ies)",
            report.court_code,
            report.discrepancies()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn court_msg(seq: i64, state: &str, hash: Option<&str>) -> CourtMessage {
        CourtMessage {
            seq,
            message_id: format!("m{seq}"),
            kind: "fiche_signed".into(),
            niu: format!("niu{seq}"),
            version: 1,
            state: state.into(),
            created_at: String::new(),
            receipt_signed_hash: hash.map(str::to_owned),
        }
    }

    fn cjn_msg(seq: i64, hash: &str) -> CjnMessage {
        CjnMessage {
            seq,
            message_id: format!("m{seq}"),
            kind: "fiche_signed".into(),
            niu: Some(format!("niu{seq}")),
            version: Some(1),
            signed_hash: hash.into(),
            applied: true,
        }
    }

    #[test]
    fn every_category_is_told_apart() {
        let court = Manifest {
            court_code: "12345".into(),
            fiches: Vec::new(),
            messages: vec![
                court_msg(1, "acknowledged", Some("aa")), // matched
                court_msg(2, "acknowledged", Some("bb")), // lost at the CJN
                court_msg(3, "pending", None),            // in transit
                court_msg(4, "pending", None),            // receipt in transit
                court_msg(5, "rejected", None),           // refused
                court_msg(6, "acknowledged", Some("cc")), // digest differs
            ],
        };
        let cjn = vec![
            cjn_msg(1, "AA"),
            cjn_msg(4, "dd"),
            cjn_msg(6, "ee"),
            cjn_msg(9, "ff"),
        ];
        let r = compare(&court, &cjn, &[]);
        let seqs = |l: &Vec<Finding>| l.iter().map(|f| f.seq).collect::<Vec<_>>();
        assert_eq!(r.matched, 2);
        assert_eq!(seqs(&r.missing_at_cjn), [2]);
        assert_eq!(seqs(&r.in_transit), [3]);
        assert_eq!(seqs(&r.receipt_in_transit), [4]);
        assert_eq!(seqs(&r.rejected), [5]);
        assert_eq!(seqs(&r.mismatched), [6]);
        assert_eq!(seqs(&r.unknown_to_court), [9]);
        assert_eq!(r.resend_from, Some(2));
        assert!(!r.consistent());
    }

    #[test]
    fn in_transit_and_refused_messages_still_reconcile() {
        let court = Manifest {
            court_code: "12345".into(),
            fiches: Vec::new(),
            messages: vec![
                court_msg(1, "acknowledged", Some("aa")),
                court_msg(2, "pending", None),
                court_msg(3, "rejected", None),
            ],
        };
        let r = compare(&court, &[cjn_msg(1, "aa")], &[]);
        assert!(r.consistent(), "{r:?}");
        assert_eq!(r.in_transit.len(), 1);
        assert_eq!(r.rejected.len(), 1);
    }

    #[test]
    fn a_different_fiche_under_the_same_number_is_a_mismatch() {
        let court = Manifest {
            court_code: "12345".into(),
            fiches: Vec::new(),
            messages: vec![court_msg(1, "acknowledged", Some("aa"))],
        };
        let mut other = cjn_msg(1, "aa");
        other.niu = Some("niu7".into());
        let r = compare(&court, &[other], &[]);
        assert_eq!(r.mismatched.len(), 1);
        assert!(
            r.mismatched[0].detail.contains("niu7"),
            "{:?}",
            r.mismatched
        );
    }

    fn fiche(niu: &str, version: i32, state: &str, digest: &str) -> FicheDigest {
        FicheDigest {
            niu: niu.into(),
            version,
            state: state.into(),
            content_digest: digest.into(),
            in_transit: false,
        }
    }

    #[test]
    fn a_fiche_changed_outside_the_workflow_is_reported_and_one_in_transit_is_not() {
        let court = Manifest {
            court_code: "12345".into(),
            messages: Vec::new(),
            fiches: vec![
                fiche("a", 1, "archivee", "11"), // same on both sides
                fiche("b", 1, "archivee", "22"), // content edited at the court
                fiche("c", 2, "signee", "33"),   // rectification in transit
                fiche("d", 3, "archivee", "44"), // version bumped without message
                fiche("e", 1, "signee", "55"),   // signature in transit
                fiche("f", 1, "archivee", "66"), // archived, unknown to the CJN
                FicheDigest {
                    in_transit: true,
                    ..fiche("g", 1, "declassee", "77") // withdrawal in transit
                },
                fiche("h", 1, "declassee", "88"), // withdrawn at the court only, nothing in transit
                fiche("i", 1, "archivee", "99"),  // withdrawn at the CJN only
            ],
        };
        let cjn = [
            fiche("a", 1, "active", "11"),
            fiche("b", 1, "active", "99"),
            fiche("c", 1, "active", "30"),
            fiche("d", 2, "active", "40"),
            fiche("g", 1, "active", "77"),
            fiche("h", 1, "active", "88"),
            fiche("i", 1, "withdrawn", "99"),
        ];
        let r = compare(&court, &[], &cjn);
        let nius: Vec<_> = r
            .fiche_mismatched
            .iter()
            .map(|f| f.niu.clone().unwrap_or_default())
            .collect();
        assert_eq!(nius, ["b", "d", "f", "h", "i"], "{:?}", r.fiche_mismatched);
        assert!(r.fiche_mismatched[0].detail.contains("content differs"));
        assert!(!r.consistent());
    }
}
