//! A sentence event (issue 15): a dated event of a signed conviction — fine paid, sentence
//! served, suspension revoked, ban lifted, pardon, cancellation of an earlier event — recorded
//! and signed by the court's greffier. It belongs to the court's sequence like a fiche event:
//! `cjn.ingest` stores it (idempotent, in order, gaps detected) and applies it to
//! `registry.sentence_event`, where the bulletin rules read its date.

use protocol::{Header, Message, SentenceEvent};
use tracing::debug;

use crate::Error;
use crate::handle::{Ctx, ingest_payload};

/// `cjn.ingest` of the event, then a receipt (or a rejection).
pub(crate) async fn store(
    ctx: &Ctx<'_>,
    h: &Header,
    event: &SentenceEvent,
) -> Result<Vec<Message>, Error> {
    let payload = serde_json::to_value(event)
        .map_err(|e| Error::Internal(format!("sentence event as JSON: {e}")))?;
    let answers = ingest_payload(ctx, h, "sentence_event", payload).await?;
    debug!(court = %ctx.court, message_id = %h.message_id, seq = h.seq, niu = %event.niu, event_id = %event.event_id, "Handled.");
    Ok(answers)
}
