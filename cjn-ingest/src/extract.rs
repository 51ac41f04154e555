//! Requests for extracts (bulletins n°1, n°2, n°3): not computed by this CJN yet.
//!
//! [`request`] is what the envelope dispatch calls for each `extract_request` message, inside
//! the envelope's transaction; it returns the answers to seal for the court. Until extracts are
//! built, every request is answered with a rejection (`unsupported_kind`), and nothing is stored.

use protocol::{ExtractRequest, Header, Message, Reason};
use tracing::warn;

use crate::Error;
use crate::handle::{Ctx, rejection};

/// Answers a court's request for an extract.
pub(crate) async fn request(
    ctx: &Ctx<'_>,
    h: &Header,
    _request: &ExtractRequest,
) -> Result<Vec<Message>, Error> {
    warn!(court = %ctx.court, message_id = %h.message_id, "Extract requested; not handled by this CJN yet.");
    Ok(vec![rejection(
        ctx.court,
        h.message_id,
        Reason::UnsupportedKind,
        "extract_request: extracts are not handled by this CJN yet",
    )])
}
