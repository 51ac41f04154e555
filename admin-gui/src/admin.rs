//! The reads and writes of the screens Utilisateurs and Statistiques, and what Saisie reads
//! besides the fiche (its proposal of rectification, its dated events after signature, the
//! number of fiches of its person, the fields' length limits). Run by the database thread
//! ([`crate::backend`]); only `juris.*` functions are called.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::{Date, OffsetDateTime};
use tokio_postgres::Client;

/// A staff member (`juris.list_users`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    pub login: String,
    pub full_name: String,
    /// 0 suspended, 1 agent, 2 secrétaire, 3 greffier.
    pub privilege: i32,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// The court's staff at one privilege and its limit (`juris.user_quotas`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaRow {
    pub privilege: i32,
    pub active: i32,
    /// `None`: no limit (the suspended).
    pub maximum: Option<i32>,
}

/// What the Utilisateurs screen shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UsersPage {
    pub users: Vec<UserRow>,
    pub quotas: Vec<QuotaRow>,
}

impl UsersPage {
    /// The limit of a privilege: (active, maximum).
    pub fn quota(&self, privilege: i32) -> Option<(i32, Option<i32>)> {
        self.quotas
            .iter()
            .find(|q| q.privilege == privilege)
            .map(|q| (q.active, q.maximum))
    }
}

/// The staff list and limits.
pub async fn users(c: &Client) -> Result<UsersPage, tokio_postgres::Error> {
    let users = c
        .query(
            "select login, full_name, privilege, created_at, updated_at from juris.list_users()",
            &[],
        )
        .await?
        .iter()
        .map(|r| {
            Ok(UserRow {
                login: r.try_get(0)?,
                full_name: r.try_get(1)?,
                privilege: r.try_get(2)?,
                created_at: r.try_get(3)?,
                updated_at: r.try_get(4)?,
            })
        })
        .collect::<Result<Vec<_>, tokio_postgres::Error>>()?;
    let quotas = c
        .query(
            "select privilege, active, maximum from juris.user_quotas()",
            &[],
        )
        .await?
        .iter()
        .map(|r| {
            Ok(QuotaRow {
                privilege: r.try_get(0)?,
                active: r.try_get(1)?,
                maximum: r.try_get(2)?,
            })
        })
        .collect::<Result<Vec<_>, tokio_postgres::Error>>()?;
    Ok(UsersPage { users, quotas })
}

/// Creates a staff member; the password travels as its SCRAM-SHA-256 verifier, computed here
/// (the clear password never reaches the server, nor its logs).
pub async fn create_user(
    c: &Client,
    login: &str,
    full_name: &str,
    password: &str,
    privilege: i32,
) -> Result<UsersPage, tokio_postgres::Error> {
    let verifier = db::scram_verifier(password);
    c.execute(
        "select juris.create_user($1, $2, $3, $4)",
        &[&login.trim(), &full_name, &verifier, &privilege],
    )
    .await?;
    users(c).await
}

/// Changes a staff member's privilege (0 suspends).
pub async fn set_privilege(
    c: &Client,
    login: &str,
    privilege: i32,
) -> Result<UsersPage, tokio_postgres::Error> {
    c.execute("select juris.set_privilege($1, $2)", &[&login, &privilege])
        .await?;
    users(c).await
}

/// Fiches created in one month with one status now (`juris.stat_fiches_by_month`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonthCount {
    pub month: Date,
    pub status: i32,
    pub fiches: i64,
}

/// Signed convictions of an offence category and class (`juris.stat_offences`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffenceCount {
    pub category: Option<String>,
    pub category_label: Option<String>,
    pub class: Option<String>,
    pub fiches: i64,
}

/// The delays of the fiches signed in one month (`juris.stat_delays`).
#[derive(Debug, Clone, PartialEq)]
pub struct MonthDelays {
    pub month: Date,
    pub fiches: i64,
    /// From the conviction to the signature, in days: median and 90th percentile.
    pub to_signature_median_days: Option<f64>,
    pub to_signature_p90_days: Option<f64>,
    /// From the signature to the CJN's receipt, in hours.
    pub to_cjn_median_hours: Option<f64>,
    pub to_cjn_p90_hours: Option<f64>,
    /// Signed, the CJN's receipt not come yet.
    pub awaiting_cjn: i64,
}

/// What the Statistiques screen shows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Statistics {
    /// The first month of the period.
    pub from_month: Option<Date>,
    pub by_month: Vec<MonthCount>,
    pub offences: Vec<OffenceCount>,
    pub delays: Vec<MonthDelays>,
}

impl Statistics {
    /// The fiches created in the period.
    pub fn fiches_created(&self) -> i64 {
        self.by_month.iter().map(|m| m.fiches).sum()
    }
}

/// The court's statistics of the last `months` months (this one included).
pub async fn statistics(c: &Client, months: i32) -> Result<Statistics, tokio_postgres::Error> {
    let from: Date = c
        .query_one(
            "select (date_trunc('month', current_date) - make_interval(months => $1 - 1))::date",
            &[&months.clamp(1, 120)],
        )
        .await?
        .try_get(0)?;
    let by_month = c
        .query(
            "select month, status, fiches from juris.stat_fiches_by_month($1, null)",
            &[&from],
        )
        .await?
        .iter()
        .map(|r| {
            Ok(MonthCount {
                month: r.try_get(0)?,
                status: r.try_get(1)?,
                fiches: r.try_get(2)?,
            })
        })
        .collect::<Result<Vec<_>, tokio_postgres::Error>>()?;
    let offences = c
        .query(
            "select offence_category, category_label, offence_class, fiches
               from juris.stat_offences($1, null)",
            &[&from],
        )
        .await?
        .iter()
        .map(|r| {
            Ok(OffenceCount {
                category: r.try_get(0)?,
                category_label: r.try_get(1)?,
                class: r.try_get(2)?,
                fiches: r.try_get(3)?,
            })
        })
        .collect::<Result<Vec<_>, tokio_postgres::Error>>()?;
    let delays = c
        .query(
            "select month, fiches, conviction_to_signature_median_days::float8,
                    conviction_to_signature_p90_days::float8, signature_to_cjn_median_hours::float8,
                    signature_to_cjn_p90_hours::float8, awaiting_cjn
               from juris.stat_delays($1, null)",
            &[&from],
        )
        .await?
        .iter()
        .map(|r| {
            Ok(MonthDelays {
                month: r.try_get(0)?,
                fiches: r.try_get(1)?,
                to_signature_median_days: r.try_get(2)?,
                to_signature_p90_days: r.try_get(3)?,
                to_cjn_median_hours: r.try_get(4)?,
                to_cjn_p90_hours: r.try_get(5)?,
                awaiting_cjn: r.try_get(6)?,
            })
        })
        .collect::<Result<Vec<_>, tokio_postgres::Error>>()?;
    Ok(Statistics {
        from_month: Some(from),
        by_month,
        offences,
        delays,
    })
}

/// The longest text of each field of a fiche (`juris.field_limits`), in characters.
pub async fn field_limits(c: &Client) -> Result<Vec<(String, usize)>, tokio_postgres::Error> {
    c.query("select field, max_length from juris.field_limits()", &[])
        .await?
        .iter()
        .map(|r| {
            let n: i32 = r.try_get(1)?;
            Ok((r.try_get(0)?, usize::try_from(n).unwrap_or(0)))
        })
        .collect()
}

/// A proposal of rectification in progress (`juris.get_fiche`'s `rectification`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Rectification {
    /// `proposee` (to verify) or `verifiee` (to apply).
    pub state: String,
    pub motive: String,
    pub proposed_by: String,
    pub proposed_at: String,
    pub verified_by: Option<String>,
    /// The proposed content, in `juris.get_fiche`'s shape.
    pub content: Value,
}

impl Rectification {
    /// From `juris.get_fiche`'s `rectification` (null when none is in progress).
    pub fn from_json(v: &Value) -> Option<Rectification> {
        if !v.is_object() {
            return None;
        }
        let s = |k: &str| v[k].as_str().unwrap_or_default().to_owned();
        Some(Rectification {
            state: s("state"),
            motive: s("motive"),
            proposed_by: s("proposed_by"),
            proposed_at: s("proposed_at"),
            verified_by: v["verified_by"].as_str().map(str::to_owned),
            content: v["content"].clone(),
        })
    }
}

/// A dated event after signature (`juris.sentence_events`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRow {
    pub event_id: String,
    /// fine_paid, sentence_served, suspension_revoked, ban_lifted, pardon, cancellation.
    pub kind: String,
    pub date: Date,
    pub remitted_months: Option<i32>,
    pub total: bool,
    pub reference: String,
    pub note: Option<String>,
    pub recorded_by: String,
    pub recorded_at: OffsetDateTime,
    /// A later event cancelled it.
    pub cancelled: bool,
    /// Its transmission to the CJN, in French as the database says it.
    pub transmission: Option<String>,
}

/// The kinds of event the Saisie screen records (a cancellation names the event it cancels).
pub const EVENT_KINDS: &[&str] = &[
    "fine_paid",
    "sentence_served",
    "suspension_revoked",
    "ban_lifted",
    "pardon",
];

/// The events of a fiche.
pub async fn events(c: &Client, id: i64) -> Result<Vec<EventRow>, tokio_postgres::Error> {
    c.query(
        "select event_id::text, kind, event_date, remitted_months, total, reference, note,
                recorded_by, recorded_at, cancelled_by is not null, transmission
           from juris.sentence_events($1)",
        &[&id],
    )
    .await?
    .iter()
    .map(|r| {
        Ok(EventRow {
            event_id: r.try_get(0)?,
            kind: r.try_get(1)?,
            date: r.try_get(2)?,
            remitted_months: r.try_get(3)?,
            total: r.try_get(4)?,
            reference: r.try_get(5)?,
            note: r.try_get(6)?,
            recorded_by: r.try_get(7)?,
            recorded_at: r.try_get(8)?,
            cancelled: r.try_get(9)?,
            transmission: r.try_get(10)?,
        })
    })
    .collect()
}

/// How many fiches of the court concern the person of a fiche (`juris.person_fiche_count`).
pub async fn person_fiches(c: &Client, id: i64) -> Result<Option<i32>, tokio_postgres::Error> {
    c.query_one("select juris.person_fiche_count($1)", &[&id])
        .await?
        .try_get(0)
}

/// Records a dated event of a signed fiche (`juris.record_sentence_event`).
pub async fn record_event(c: &Client, id: i64, event: &Value) -> Result<(), tokio_postgres::Error> {
    c.execute(
        "select juris.record_sentence_event($1, $2::jsonb)",
        &[&id, event],
    )
    .await?;
    Ok(())
}
