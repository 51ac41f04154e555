//! A court restored from a backup asks for its own messages after the last sequence number it
//! holds ([`protocol::RecoveryRequest`]): the CJN is the court's off-site copy. The answer
//! ([`protocol::RecoveryAnswer`]) carries the signed envelopes exactly as the court sent them
//! (`registry.message.signed`, `cjn.court_recovery`), in sequence order, up to
//! [`MAX_ANSWER_BYTES`], with the court's certificates; the court verifies its own signature on
//! each and asks again after the highest number it got until the answer says `complete`.

use protocol::{
    Body, CertificateDer, Header, Message, Reason, RecoveryAnswer, RecoveryRequest, SignedEnvelope,
};
use tracing::info;

use crate::Error;
use crate::handle::{Ctx, cjn_header};
use crate::store::db;

/// Signed bytes in one answer (at least one envelope): well under the broker's packet limit.
pub(crate) const MAX_ANSWER_BYTES: i32 = 128 * 1024;

/// The court's envelopes above `after_seq`, as one answer.
pub(crate) async fn answer(
    ctx: &Ctx<'_>,
    h: &Header,
    r: &RecoveryRequest,
) -> Result<Vec<Message>, Error> {
    let Ok(after_seq) = i64::try_from(r.after_seq) else {
        return ctx
            .refuse(h, Reason::InvalidContent, "sequence number out of range")
            .await;
    };
    let rows = ctx
        .tx
        .query(
            "select signed, max_seq, last_seq, complete from cjn.court_recovery($1, $2, $3)",
            &[&ctx.court_code, &after_seq, &MAX_ANSWER_BYTES],
        )
        .await
        .map_err(db("reading the court's messages for its recovery"))?;
    let certificates = ctx
        .tx
        .query(
            "select der from cjn.court_certificates($1)",
            &[&ctx.court_code],
        )
        .await
        .map_err(db("reading the court certificates"))?
        .iter()
        .map(|row| CertificateDer { der: row.get(0) })
        .collect();
    let mut envelopes = Vec::new();
    let (mut last_seq, mut complete) = (r.after_seq, true);
    for row in &rows {
        if let Some(signed) = row.get::<_, Option<Vec<u8>>>(0) {
            envelopes.push(SignedEnvelope { signed_der: signed });
        }
        last_seq = u64::try_from(row.get::<_, i64>(2)).unwrap_or(0);
        complete = row.get(3);
    }
    info!(court = %ctx.court, after_seq = r.after_seq, envelopes = envelopes.len(), last_seq, complete, "Recovery request answered.");
    Ok(vec![Message {
        header: cjn_header(ctx.court),
        body: Body::RecoveryAnswer(RecoveryAnswer {
            request_id: h.message_id,
            after_seq: r.after_seq,
            envelopes,
            certificates,
            last_seq,
            complete,
        }),
    }])
}
