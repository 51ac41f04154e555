//! The reads and writes of the screens Transmission, Extraits and Impression, run by the
//! database thread ([`crate::backend`]): the court's transmissions and their status, the
//! requests for extracts and the CJN's answers, and the data of printed documents (through
//! `forms::court`, what `xmjuris print` reads too). Only `juris.*` functions are called.

use serde_json::Value;
use time::OffsetDateTime;
use tokio_postgres::Client;

/// Which transmissions to list (`juris.transmissions(which, ...)`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TransmissionFilter {
    #[default]
    All,
    /// Still waiting for the CJN: waiting, sent or blocked (the backlog).
    Pending,
    Refused,
    Blocked,
    Archived,
}

impl TransmissionFilter {
    pub const ALL: [TransmissionFilter; 5] = [
        TransmissionFilter::All,
        TransmissionFilter::Pending,
        TransmissionFilter::Refused,
        TransmissionFilter::Blocked,
        TransmissionFilter::Archived,
    ];

    /// Its name in `juris.transmissions`.
    pub fn sql(self) -> &'static str {
        match self {
            TransmissionFilter::All => "all",
            TransmissionFilter::Pending => "pending",
            TransmissionFilter::Refused => "refused",
            TransmissionFilter::Blocked => "blocked",
            TransmissionFilter::Archived => "archived",
        }
    }
}

/// A page of transmissions: newest first, below `before_seq` when given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransmissionQuery {
    pub filter: TransmissionFilter,
    pub before_seq: Option<i64>,
    pub max_rows: i32,
    /// Also read `juris.transmission_status()` (the greffier's).
    pub with_status: bool,
}

/// One message to the CJN (`juris.transmissions`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransmissionRow {
    pub seq: i64,
    pub kind: String,
    pub fiche_id: i64,
    pub fiche_number: i64,
    pub niu: String,
    pub version: i32,
    pub surname: Option<String>,
    pub given_names: Option<String>,
    /// waiting, sent, archived, refused or blocked.
    pub state: String,
    /// The state in French, as the database says it.
    pub state_label: String,
    pub created_at: OffsetDateTime,
    pub sent_at: Option<OffsetDateTime>,
    pub attempts: i32,
    pub acknowledged_at: Option<OffsetDateTime>,
    pub rejection_code: Option<String>,
    pub rejection_reason: Option<String>,
    pub defect: Option<String>,
}

/// The court's transmission status (`juris.transmission_status()`, the greffier's).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TransmissionStatus {
    /// Not sent yet.
    pub pending: i64,
    /// Sent, waiting for the CJN's receipt.
    pub sent: i64,
    pub acknowledged: i64,
    pub rejected: i64,
    /// Pending messages the listener cannot send as they stand.
    pub defective: i64,
    pub quarantined: i64,
    pub last_contact: Option<OffsetDateTime>,
    pub oldest_pending: Option<OffsetDateTime>,
    pub extract_requests_pending: i64,
}

/// What the Transmission screen shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransmissionPage {
    pub rows: Vec<TransmissionRow>,
    /// `None` when not asked for (not the greffier).
    pub status: Option<TransmissionStatus>,
}

/// One request for an extract (`juris.extract_requests`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtractRow {
    pub id: i64,
    pub bulletin: i16,
    pub surname: String,
    pub given_names: String,
    pub birth_date: Option<time::Date>,
    pub purpose: String,
    pub requested_by: String,
    pub requested_at: OffsetDateTime,
    /// pending, answered or rejected.
    pub state: String,
    pub sent_at: Option<OffsetDateTime>,
    pub answered_at: Option<OffsetDateTime>,
    pub extract_number: Option<String>,
    pub entries_count: Option<i32>,
    pub near_matches_count: Option<i32>,
    pub rejection_reason: Option<String>,
}

/// A bulletin the court may ask for (`juris.extract_permissions`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permission {
    pub bulletin: i16,
    pub delivered_to: String,
    /// The session's user may ask for (and read) it.
    pub allowed: bool,
}

/// One request read whole (`juris.get_extract`), with the CJN's answer once received.
#[derive(Debug, Clone, PartialEq)]
pub struct ExtractDetail {
    pub id: i64,
    pub json: Value,
    /// The CJN's answer, when received and readable.
    pub answer: Option<protocol::ExtractAnswer>,
}

/// What the Extraits screen shows.
#[derive(Debug, Clone, PartialEq)]
pub struct ExtractsPage {
    pub rows: Vec<ExtractRow>,
    pub permissions: Vec<Permission>,
    /// The request selected, read whole.
    pub detail: Option<ExtractDetail>,
}

/// Something a screen keeps fresh: read again on every NOTIFY and on the slow poll, and
/// sent to the screen only when it changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Watched {
    Transmissions(TransmissionQuery),
    /// The requests, and the one selected read whole.
    Extracts {
        selected: Option<i64>,
    },
}

/// The fresh value of what is watched.
#[derive(Debug, Clone, PartialEq)]
pub enum WatchResult {
    Transmissions(TransmissionPage),
    Extracts(Box<ExtractsPage>),
}

/// The data of a printed document, and where it comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DocumentSource {
    /// A fiche, by its id.
    Fiche(i64),
    /// A fiche, by its NIU or its number as the user typed it.
    FicheTyped(String),
    /// The court's fiches convicted between two dates.
    FicheList { from: time::Date, to: time::Date },
    /// The bulletin of an answered request for an extract.
    Extract(i64),
    /// The CJN's receipt of a message.
    Receipt(i64),
}

impl DocumentSource {
    /// The template's name (in French; the language picks `<name>-en`), or `None` for a
    /// bulletin, whose number is in its data.
    pub fn template(&self) -> Option<&'static str> {
        match self {
            DocumentSource::Fiche(_) | DocumentSource::FicheTyped(_) => Some("fiche"),
            DocumentSource::FicheList { .. } => Some("liste-fiches"),
            DocumentSource::Extract(_) => None,
            DocumentSource::Receipt(_) => Some("recu-cjn"),
        }
    }
}

/// Reads what is watched.
pub async fn watched(c: &Client, what: &Watched) -> Result<WatchResult, tokio_postgres::Error> {
    Ok(match what {
        Watched::Transmissions(q) => WatchResult::Transmissions(transmissions(c, q).await?),
        Watched::Extracts { selected } => WatchResult::Extracts(Box::new(ExtractsPage {
            rows: extract_requests(c).await?,
            permissions: permissions(c).await?,
            detail: match selected {
                Some(id) => Some(extract_detail(c, *id).await?),
                None => None,
            },
        })),
    })
}

async fn transmissions(
    c: &Client,
    q: &TransmissionQuery,
) -> Result<TransmissionPage, tokio_postgres::Error> {
    let rows = c
        .query(
            "select seq, kind, fiche_id, fiche_number, niu, version, surname, given_names, state,
                    state_label, created_at, sent_at, attempts, acknowledged_at, rejection_code,
                    rejection_reason, defect
               from juris.transmissions($1, $2, $3)",
            &[&q.filter.sql(), &q.before_seq, &q.max_rows.max(1)],
        )
        .await?;
    let rows = rows
        .iter()
        .map(|r| {
            Ok(TransmissionRow {
                seq: r.try_get(0)?,
                kind: r.try_get(1)?,
                fiche_id: r.try_get(2)?,
                fiche_number: r.try_get(3)?,
                niu: r.try_get(4)?,
                version: r.try_get(5)?,
                surname: r.try_get(6)?,
                given_names: r.try_get(7)?,
                state: r.try_get(8)?,
                state_label: r.try_get(9)?,
                created_at: r.try_get(10)?,
                sent_at: r.try_get(11)?,
                attempts: r.try_get(12)?,
                acknowledged_at: r.try_get(13)?,
                rejection_code: r.try_get(14)?,
                rejection_reason: r.try_get(15)?,
                defect: r.try_get(16)?,
            })
        })
        .collect::<Result<Vec<_>, tokio_postgres::Error>>()?;
    let status = if q.with_status {
        let v: Value = c
            .query_one("select juris.transmission_status()", &[])
            .await?
            .try_get(0)?;
        Some(status_from_json(&v))
    } else {
        None
    };
    Ok(TransmissionPage { rows, status })
}

fn status_from_json(v: &Value) -> TransmissionStatus {
    let n = |k: &str| v[k].as_i64().unwrap_or_default();
    let t = |k: &str| {
        v[k].as_str().and_then(|s| {
            OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
        })
    };
    TransmissionStatus {
        pending: n("pending"),
        sent: n("sent"),
        acknowledged: n("acknowledged"),
        rejected: n("rejected"),
        defective: n("defective"),
        quarantined: n("quarantined"),
        last_contact: t("last_contact"),
        oldest_pending: t("oldest_pending"),
        extract_requests_pending: n("extract_requests_pending"),
    }
}

async fn extract_requests(c: &Client) -> Result<Vec<ExtractRow>, tokio_postgres::Error> {
    let rows = c
        .query(
            "select id, bulletin, surname, given_names, birth_date, purpose, requested_by,
                    requested_at, state, sent_at, answered_at, extract_number,
                    entries_count, near_matches_count, rejection_reason
               from juris.extract_requests(200)",
            &[],
        )
        .await?;
    rows.iter()
        .map(|r| {
            Ok(ExtractRow {
                id: r.try_get(0)?,
                bulletin: r.try_get(1)?,
                surname: r.try_get::<_, Option<String>>(2)?.unwrap_or_default(),
                given_names: r.try_get::<_, Option<String>>(3)?.unwrap_or_default(),
                birth_date: r.try_get(4)?,
                purpose: r.try_get(5)?,
                requested_by: r.try_get(6)?,
                requested_at: r.try_get(7)?,
                state: r.try_get(8)?,
                sent_at: r.try_get(9)?,
                answered_at: r.try_get(10)?,
                extract_number: r.try_get(11)?,
                entries_count: r.try_get(12)?,
                near_matches_count: r.try_get(13)?,
                rejection_reason: r.try_get(14)?,
            })
        })
        .collect()
}

async fn permissions(c: &Client) -> Result<Vec<Permission>, tokio_postgres::Error> {
    let rows = c
        .query(
            "select bulletin, delivered_to, allowed from juris.extract_permissions()",
            &[],
        )
        .await?;
    rows.iter()
        .map(|r| {
            Ok(Permission {
                bulletin: r.try_get(0)?,
                delivered_to: r.try_get(1)?,
                allowed: r.try_get(2)?,
            })
        })
        .collect()
}

async fn extract_detail(c: &Client, id: i64) -> Result<ExtractDetail, tokio_postgres::Error> {
    let json: Value = c
        .query_one("select juris.get_extract($1)", &[&id])
        .await?
        .try_get(0)?;
    let answer = match json.get("answer") {
        Some(a) if !a.is_null() => match serde_json::from_value(a.clone()) {
            Ok(answer) => Some(answer),
            Err(e) => {
                tracing::warn!(request = id, error = %e, "The stored answer does not read as an extract answer.");
                None
            }
        },
        _ => None,
    };
    Ok(ExtractDetail { id, json, answer })
}

/// Asks the CJN for a bulletin (`juris.request_extract`); the new request's id.
pub async fn request_extract(
    c: &Client,
    person: &Value,
    bulletin: i32,
    purpose: &str,
) -> Result<i64, tokio_postgres::Error> {
    c.query_one(
        "select juris.request_extract($1::jsonb, $2, $3)",
        &[person, &bulletin, &purpose],
    )
    .await?
    .try_get(0)
}

/// Why a document cannot be read: the database's refusal, or another failure.
pub enum DocumentFailure {
    Db(tokio_postgres::Error),
    Refused {
        kind: db::ErrorKind,
        message: String,
        field: Option<String>,
    },
    Other(String),
}

/// The data of a printed document (`forms::court`).
pub async fn document(c: &Client, source: &DocumentSource) -> Result<Value, DocumentFailure> {
    use forms::court::{self, DocumentError, FicheRef};
    let iso = |d: time::Date| format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day());
    let result = match source {
        DocumentSource::Fiche(id) => court::fiche(c, &FicheRef::Id(*id)).await,
        DocumentSource::FicheTyped(typed) => {
            let typed: String = typed.chars().filter(|c| !c.is_whitespace()).collect();
            if typed.len() == 17 && typed.bytes().all(|b| b.is_ascii_digit()) {
                court::fiche(c, &FicheRef::Niu(typed)).await
            } else {
                let Ok(number) = typed.parse::<i64>() else {
                    return Err(DocumentFailure::Refused {
                        kind: db::ErrorKind::InvalidData,
                        message: "Un NIU (17 chiffres) ou un numéro de fiche est attendu.".into(),
                        field: Some("fiche".into()),
                    });
                };
                let id: Option<i64> = c
                    .query_one("select juris.fiche_id_by_number($1)", &[&number])
                    .await
                    .map_err(DocumentFailure::Db)?
                    .try_get(0)
                    .map_err(DocumentFailure::Db)?;
                match id {
                    Some(id) => court::fiche(c, &FicheRef::Id(id)).await,
                    None => {
                        return Err(DocumentFailure::Refused {
                            kind: db::ErrorKind::NotFound,
                            message: format!("Aucune fiche n° {number} dans cette juridiction."),
                            field: Some("fiche".into()),
                        });
                    }
                }
            }
        }
        DocumentSource::FicheList { from, to } => {
            court::fiche_list(c, &iso(*from), &iso(*to)).await
        }
        DocumentSource::Extract(id) => court::extract(c, *id).await,
        DocumentSource::Receipt(seq) => court::receipt(c, *seq).await,
    };
    result.map_err(|e| match e {
        DocumentError::Db(db::DbError::Refused {
            kind,
            message,
            field,
        }) => DocumentFailure::Refused {
            kind,
            message,
            field,
        },
        not_answered @ DocumentError::NotAnswered { .. } => DocumentFailure::Refused {
            kind: db::ErrorKind::WrongState,
            message: not_answered.to_string(),
            field: None,
        },
        other => DocumentFailure::Other(other.to_string()),
    })
}
