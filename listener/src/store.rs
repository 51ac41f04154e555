//! The court database as the listener sees it: the transmission functions of `juris`, and the
//! `xmjuris_outbox` wake-ups. Message ids travel as text and are cast in SQL.

use std::future::poll_fn;

use tokio::sync::mpsc;
use tokio_postgres::{AsyncMessage, Client, NoTls};

use crate::Error;
use crate::config::DatabaseConfig;

/// The NOTIFY channel the outbox wakes the listener on.
pub const CHANNEL: &str = "xmjuris_outbox";

/// One pending outbox row.
#[derive(Debug, Clone)]
pub struct PendingRow {
    /// Message id (uuid, as text).
    pub message_id: String,
    /// Per-court sequence number (fiche events and requests for extracts count apart).
    pub seq: i64,
    /// `fiche_signed`, `fiche_rectified`, `fiche_withdrawn`, `sentence_event` or `extract_request`.
    pub kind: String,
    /// The payload's JSON text.
    pub payload: String,
}

/// A session on the court database that LISTENs to the outbox.
pub struct Store {
    client: Client,
    wake: mpsc::UnboundedReceiver<()>,
}

/// A driver error as ours: the database's own refusals (SQLSTATE class `XJ`) are not retried.
fn db(what: &'static str) -> impl FnOnce(tokio_postgres::Error) -> Error {
    move |source| match source.as_db_error() {
        Some(e) if e.code().code().starts_with("XJ") => Error::Refused {
            what,
            message: e.message().to_owned(),
        },
        _ => Error::Db { what, source },
    }
}

impl Store {
    /// Connects, then LISTENs (before anything is read from the outbox).
    pub async fn connect(cfg: &DatabaseConfig) -> Result<Store, Error> {
        let mut pg: tokio_postgres::Config = cfg.url.parse().map_err(db("database url"))?;
        if let Some(p) = &cfg.password {
            pg.password(p.expose());
        }
        pg.application_name("xmjuris-listener");
        let (client, mut connection) = pg.connect(NoTls).await.map_err(db("connecting"))?;
        let (tx, wake) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            loop {
                match poll_fn(|cx| connection.poll_message(cx)).await {
                    Some(Ok(AsyncMessage::Notification(_))) => {
                        if tx.send(()).is_err() {
                            break;
                        }
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => {
                        tracing::debug!(error = %e, "Database connection lost.");
                        break;
                    }
                    None => break,
                }
            }
        });
        client
            .batch_execute(&format!("listen {CHANNEL}"))
            .await
            .map_err(db("listen"))?;
        Ok(Store { client, wake })
    }

    /// Waits for a wake-up; `None` when the connection is gone.
    pub async fn woken(&mut self) -> Option<()> {
        let first = self.wake.recv().await;
        // Fold the wake-ups already queued: one drain serves them all.
        while self.wake.try_recv().is_ok() {}
        first
    }

    /// Unacknowledged, unrejected messages, oldest first.
    pub async fn pending(&self, max_rows: i32) -> Result<Vec<PendingRow>, Error> {
        let rows = self
            .client
            .query(
                "select message_id::text, seq, kind, payload::text from juris.outbox_pending($1)",
                &[&max_rows],
            )
            .await
            .map_err(db("reading the outbox"))?;
        Ok(rows
            .iter()
            .map(|r| PendingRow {
                message_id: r.get(0),
                seq: r.get(1),
                kind: r.get(2),
                payload: r.get(3),
            })
            .collect())
    }

    /// Records that these messages were published (once more).
    pub async fn mark_sent(&self, ids: &[String]) -> Result<(), Error> {
        self.client
            .execute("select juris.outbox_mark_sent($1::text[]::uuid[])", &[&ids])
            .await
            .map_err(db("marking messages sent"))?;
        Ok(())
    }

    /// Records why a pending message cannot be transmitted as it stands (it stays pending for a
    /// fiche event, so that its sequence number still reaches the CJN; a request for an extract
    /// is refused). `defect` is French, for the greffier. True when newly recorded.
    pub async fn mark_defective(&self, message_id: &str, defect: &str) -> Result<bool, Error> {
        let row = self
            .client
            .query_one(
                "select juris.outbox_mark_defective(($1::text)::uuid, $2)",
                &[&message_id, &defect],
            )
            .await
            .map_err(db("recording a message's defect"))?;
        Ok(row.get::<_, Option<bool>>(0).unwrap_or(false))
    }

    /// Stores a verified receipt; false if it was already stored.
    pub async fn store_receipt(
        &self,
        message_id: &str,
        receipt: &serde_json::Value,
        sealed: &[u8],
    ) -> Result<bool, Error> {
        let row = self
            .client
            .query_one(
                "select juris.store_receipt(($1::text)::uuid, $2::jsonb, $3::bytea)",
                &[&message_id, receipt, &sealed],
            )
            .await
            .map_err(db("storing a receipt"))?;
        Ok(row.get::<_, Option<bool>>(0).unwrap_or(false))
    }

    /// Stores the CJN's verified answer to a request for an extract; false if it was already stored.
    pub async fn store_extract_answer(
        &self,
        request_id: &str,
        answer: &serde_json::Value,
        sealed: &[u8],
    ) -> Result<bool, Error> {
        let row = self
            .client
            .query_one(
                "select juris.store_extract_answer(($1::text)::uuid, $2::jsonb, $3::bytea)",
                &[&request_id, answer, &sealed],
            )
            .await
            .map_err(db("storing an extract"))?;
        Ok(row.get::<_, Option<bool>>(0).unwrap_or(false))
    }

    /// Stores a verified rejection; false if it was already stored.
    pub async fn store_rejection(
        &self,
        message_id: &str,
        reason_code: &str,
        reason: &str,
        sealed: &[u8],
    ) -> Result<bool, Error> {
        let row = self
            .client
            .query_one(
                "select juris.store_rejection(($1::text)::uuid, $2::text, $3::text, $4::bytea)",
                &[&message_id, &reason_code, &reason, &sealed],
            )
            .await
            .map_err(db("storing a rejection"))?;
        Ok(row.get::<_, Option<bool>>(0).unwrap_or(false))
    }

    /// Keeps something that did not open (or is of an unknown kind), with why.
    pub async fn quarantine(&self, topic: &str, payload: &[u8], reason: &str) -> Result<(), Error> {
        self.client
            .execute(
                "select juris.quarantine($1::text, $2::bytea, $3::text)",
                &[&topic, &payload, &reason],
            )
            .await
            .map_err(db("quarantining a message"))?;
        Ok(())
    }

    /// The broker acknowledged a connection.
    pub async fn record_broker_contact(&self) -> Result<(), Error> {
        self.client
            .execute("select juris.record_broker_contact()", &[])
            .await
            .map_err(db("recording the broker contact"))?;
        Ok(())
    }

    /// Counts for the operator's status line.
    pub async fn transmission_status(&self) -> Result<serde_json::Value, Error> {
        let row = self
            .client
            .query_one("select juris.transmission_status()", &[])
            .await
            .map_err(db("reading the transmission status"))?;
        Ok(row.get(0))
    }

    /// The number after which to ask the CJN for the court's messages, when a recovery is open
    /// (`juris.recovery_request()`; the request's time is recorded).
    pub async fn recovery_request(&self) -> Result<Option<i64>, Error> {
        let row = self
            .client
            .query_one("select juris.recovery_request()", &[])
            .await
            .map_err(db("reading the recovery state"))?;
        Ok(row.get(0))
    }

    /// Re-creates one of the court's own messages the CJN sent back (already verified).
    pub async fn recovery_restore(&self, message: &serde_json::Value) -> Result<String, Error> {
        let row = self
            .client
            .query_one("select juris.recovery_restore($1::jsonb)", &[message])
            .await
            .map_err(db("restoring a message from the CJN"))?;
        Ok(row.get(0))
    }

    /// Records the CJN's answer to a recovery request; the recovery's state after it.
    pub async fn recovery_answered(
        &self,
        cjn_last_seq: i64,
        complete: bool,
        problem: Option<&str>,
    ) -> Result<serde_json::Value, Error> {
        let row = self
            .client
            .query_one(
                "select juris.recovery_answered($1::bigint, $2::boolean, $3::text)",
                &[&cjn_last_seq, &complete, &problem],
            )
            .await
            .map_err(db("recording the CJN's recovery answer"))?;
        Ok(row.get(0))
    }

    /// Makes the messages from `from_seq` on that the CJN had receipted pending again (after a
    /// restore of the CJN); how many.
    pub async fn requeue_messages(&self, from_seq: i64) -> Result<i32, Error> {
        let row = self
            .client
            .query_one("select juris.requeue_messages($1::bigint)", &[&from_seq])
            .await
            .map_err(db("queuing messages again"))?;
        Ok(row.get(0))
    }
}
