//! The CJN database as cjn-ingest sees it: the functions of `cjn` granted to `cjn_ingest`.
//! Message ids travel as text and are cast in SQL.

use time::OffsetDateTime;
use tokio_postgres::{Client, GenericClient, NoTls, Statement};

use crate::Error;
use crate::config::DatabaseConfig;

/// A driver error as ours: the database's refusals of the data (SQLSTATE class `XJ`, data
/// exceptions `22`, integrity violations `23`) are final; anything else may pass (outage).
pub fn db(what: &'static str) -> impl FnOnce(tokio_postgres::Error) -> Error {
    move |source| match source.as_db_error() {
        Some(e) if is_refusal(e.code().code()) => Error::Refused {
            what,
            message: e.message().to_owned(),
            code: e.code().code().to_owned(),
        },
        _ => Error::Db { what, source },
    }
}

fn is_refusal(sqlstate: &str) -> bool {
    sqlstate.starts_with("XJ") || sqlstate.starts_with("22") || sqlstate.starts_with("23")
}

/// A certificate as the registry keeps it.
#[derive(Debug, Clone)]
pub struct CertRow {
    /// Serial number, hex.
    pub serial: String,
    /// The court it was issued to.
    pub court_code: String,
    /// DER.
    pub der: Vec<u8>,
}

/// What describes a certificate for `cjn.record_certificate`.
#[derive(Debug, Clone)]
pub struct CertInfo {
    /// The court.
    pub court_code: String,
    /// Serial number, hex.
    pub serial: String,
    /// Subject key identifier, hex.
    pub subject_key_id: String,
    /// Validity.
    pub not_before: OffsetDateTime,
    /// Validity.
    pub not_after: OffsetDateTime,
    /// DER.
    pub der: Vec<u8>,
}

/// A session on the CJN database.
pub struct Store {
    client: Client,
    /// `cjn.ingest(...)` and `cjn.ingest_envelope(...)`, prepared once per session: no parsing
    /// nor planning per call (measurable at a thousand fiches a second).
    statements: IngestStatements,
}

/// The session's prepared statements for storing messages (cheap to clone).
#[derive(Clone)]
pub struct IngestStatements {
    /// One message (under a savepoint): [`ingest`].
    pub one: Statement,
    /// The messages of one envelope at once: [`ingest_envelope`].
    pub envelope: Statement,
}

/// The statements [`Store::ingest_statements`] prepares.
const INGEST_SQL: &str = "select cjn.ingest(($1::text)::uuid, $2, $3, $4, $5, $6, $7)";
const INGEST_ENVELOPE_SQL: &str = "select cjn.ingest_envelope($1, $2, $3)";

impl Store {
    /// Connects (the connection is driven on a background task).
    pub async fn connect(cfg: &DatabaseConfig) -> Result<Store, Error> {
        let mut pg: tokio_postgres::Config = cfg.url.parse().map_err(db("database url"))?;
        if let Some(p) = &cfg.password {
            pg.password(p.expose());
        }
        pg.application_name("cjn-ingest");
        let (client, connection) = pg.connect(NoTls).await.map_err(db("connecting"))?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "Database connection closed.");
            }
        });
        let one = client
            .prepare(INGEST_SQL)
            .await
            .map_err(db("preparing cjn.ingest"))?;
        let envelope = client
            .prepare(INGEST_ENVELOPE_SQL)
            .await
            .map_err(db("preparing cjn.ingest_envelope"))?;
        Ok(Store {
            client,
            statements: IngestStatements { one, envelope },
        })
    }

    /// The prepared statements of this session, for [`ingest`] and [`ingest_envelope`].
    pub fn ingest_statements(&self) -> IngestStatements {
        self.statements.clone()
    }

    /// Whether the connection is gone.
    pub fn is_closed(&self) -> bool {
        self.client.is_closed()
    }

    /// A transaction (one per envelope).
    pub async fn transaction(&mut self) -> Result<tokio_postgres::Transaction<'_>, Error> {
        self.client
            .transaction()
            .await
            .map_err(db("starting a transaction"))
    }

    /// The session itself, for single calls.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Whether a court is registered and active.
    pub async fn court_registered(&self, code: &str) -> Result<bool, Error> {
        let row = self
            .client
            .query_one("select cjn.court_registered($1)", &[&code])
            .await
            .map_err(db("looking up a court"))?;
        Ok(row.get::<_, Option<bool>>(0).unwrap_or(false))
    }

    /// The certificates of one court, or of all (`None`).
    pub async fn court_certificates(&self, court: Option<&str>) -> Result<Vec<CertRow>, Error> {
        let rows = self
            .client
            .query(
                "select serial, court_code, der from cjn.court_certificates($1)",
                &[&court],
            )
            .await
            .map_err(db("reading the court certificates"))?;
        Ok(rows
            .iter()
            .map(|r| CertRow {
                serial: r.get(0),
                court_code: r.get(1),
                der: r.get(2),
            })
            .collect())
    }

    /// Marks these certificates (serial, revocation time) revoked; returns how many changed.
    pub async fn record_revocations(
        &self,
        revoked: &[(String, OffsetDateTime)],
    ) -> Result<i32, Error> {
        let serials: Vec<&str> = revoked.iter().map(|(s, _)| s.as_str()).collect();
        let times: Vec<OffsetDateTime> = revoked.iter().map(|(_, t)| *t).collect();
        let row = self
            .client
            .query_one(
                "select cjn.record_revocations($1::text[], $2::timestamptz[])",
                &[&serials, &times],
            )
            .await
            .map_err(db("recording revocations"))?;
        Ok(row.get::<_, Option<i32>>(0).unwrap_or(0))
    }

    /// The courts in gap alarm (`cjn.gap_alarms()`): code, missing sequence numbers, messages
    /// held behind them.
    pub async fn gap_alarms(&self) -> Result<Vec<(String, Vec<i64>, i64)>, Error> {
        let rows = self
            .client
            .query(
                "select court_code, missing_seqs, held_messages from cjn.gap_alarms()",
                &[],
            )
            .await
            .map_err(db("reading the sequence gap alarms"))?;
        Ok(rows
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect())
    }

    /// The counts of `cjn.ingest_status()`.
    pub async fn status(&self) -> Result<serde_json::Value, Error> {
        let row = self
            .client
            .query_one("select cjn.ingest_status()", &[])
            .await
            .map_err(db("reading the status"))?;
        Ok(row.get(0))
    }
}

/// Records a certificate issued to a court; false if it was already known.
pub async fn record_certificate(c: &impl GenericClient, cert: &CertInfo) -> Result<bool, Error> {
    let row = c
        .query_one(
            "select cjn.record_certificate($1, $2, $3, $4, $5, $6)",
            &[
                &cert.court_code,
                &cert.serial,
                &cert.subject_key_id,
                &cert.not_before,
                &cert.not_after,
                &cert.der,
            ],
        )
        .await
        .map_err(db("recording a certificate"))?;
    Ok(row.get::<_, Option<bool>>(0).unwrap_or(false))
}

/// Keeps a refused message with its reason.
pub async fn quarantine(
    c: &impl GenericClient,
    topic: &str,
    claimed_court: Option<&str>,
    reason_code: &str,
    detail: &str,
    payload: &[u8],
) -> Result<(), Error> {
    c.execute(
        "select cjn.quarantine($1, $2, $3, $4, $5)",
        &[&topic, &claimed_court, &reason_code, &detail, &payload],
    )
    .await
    .map_err(db("quarantining a message"))?;
    Ok(())
}

/// One verified fiche message for `cjn.ingest`.
#[derive(Debug)]
pub struct IngestArgs<'a> {
    /// Message id (uuid, as text).
    pub message_id: String,
    /// Court code.
    pub court_code: &'a str,
    /// Court's sequence number.
    pub seq: i64,
    /// `fiche_signed`, `fiche_rectified`, `fiche_withdrawn`, `sentence_event`.
    pub kind: &'a str,
    /// When the court created it.
    pub created_at: OffsetDateTime,
    /// The payload, as the court's outbox wrote it.
    pub payload: &'a serde_json::Value,
    /// The verified SignedData it came in.
    pub signed: &'a [u8],
}

/// Stores a verified message once; the receipt JSON, or `{"conflict": true, ...}`.
pub async fn ingest(
    c: &impl GenericClient,
    statement: &Statement,
    a: &IngestArgs<'_>,
) -> Result<serde_json::Value, Error> {
    let row = c
        .query_one(
            statement,
            &[
                &a.message_id,
                &a.court_code,
                &a.seq,
                &a.kind,
                &a.created_at,
                a.payload,
                &a.signed,
            ],
        )
        .await
        .map_err(db("storing a message"))?;
    Ok(row.get(0))
}

/// Stores the messages of one envelope at once (`cjn.ingest_envelope`): `messages` is a JSON
/// array of `{message_id, seq, kind, created_at, payload}`; the answer, one JSON value per
/// message in the same order (a receipt, or `{"conflict": true, ...}`).
pub async fn ingest_envelope(
    c: &impl GenericClient,
    statement: &Statement,
    court_code: &str,
    signed: &[u8],
    messages: &serde_json::Value,
) -> Result<Vec<serde_json::Value>, Error> {
    let row = c
        .query_one(statement, &[&court_code, &signed, messages])
        .await
        .map_err(db("storing an envelope"))?;
    match row.get::<_, serde_json::Value>(0) {
        serde_json::Value::Array(answers) => Ok(answers),
        other => Err(Error::Internal(format!(
            "cjn.ingest_envelope answered {other} instead of an array"
        ))),
    }
}

/// Records a court's audit checkpoint; the function's verdict as JSON.
pub async fn record_audit_checkpoint(
    c: &impl GenericClient,
    court_code: &str,
    message_id: &str,
    audit_seq: i64,
    audit_hash: &str,
    at: OffsetDateTime,
) -> Result<serde_json::Value, Error> {
    let row = c
        .query_one(
            "select cjn.record_audit_checkpoint($1, ($2::text)::uuid, $3, $4, $5)",
            &[&court_code, &message_id, &audit_seq, &audit_hash, &at],
        )
        .await
        .map_err(db("recording an audit checkpoint"))?;
    Ok(row.get(0))
}
