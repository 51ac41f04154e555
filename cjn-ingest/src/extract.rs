//! Requests for extracts (bulletins n°1, n°2, n°3).
//!
//! [`request`] is what the envelope dispatch calls for each `extract_request` message, inside
//! the envelope's transaction: `cjn.extract(...)` finds the person, computes the bulletin from
//! every court's fiches and logs the consultation (the same request sent again gets the same
//! answer); the answer is then sealed with the CJN's key (`protocol::seal_extract`: the QR code
//! and the verification code printed on the extract), the seal recorded with the consultation
//! (`cjn.record_extract_seal`: a re-sent request gets the first seal again), and the
//! `ExtractAnswer` returned to be sealed for the court with the envelope's other answers.
//!
//! An identity the CJN cannot tell apart (namesakes with the same birth date) gets no bulletin:
//! a rejection `identity_ambiguous` with the CJN's French message, asking for the birth place
//! and parents. A request the database refuses (an inactive court, a missing purpose) gets a
//! rejection `invalid_content` with the database's message.

use protocol::extract::bulletin_number;
use protocol::{
    Body, ExtractAnswer, ExtractContent, ExtractEntry, ExtractNearMatch, ExtractPerson,
    ExtractRequest, Fiche, Header, Message, Niu, Reason, seal_extract,
};
use serde::Deserialize;
use time::{Date, OffsetDateTime};
use tracing::{info, warn};

use crate::Error;
use crate::handle::{Ctx, cjn_header, rejection};

/// What `cjn.extract` answers (the fields used here).
#[derive(Debug, Deserialize)]
struct SqlAnswer {
    extract_number: String,
    outcome: String,
    message: String,
    #[serde(with = "time::serde::rfc3339")]
    issued_at: OffsetDateTime,
    entries: Vec<SqlEntry>,
    near_matches: Vec<SqlNearMatch>,
}

#[derive(Debug, Deserialize)]
struct SqlEntry {
    niu: Niu,
    version: u32,
    court_name: Option<String>,
    fiche: Fiche,
    /// Why the fiche is on the bulletin (`cjn._bulletin`); absent from consultations logged
    /// before the CJN gave it, which a re-sent request gets again as they were.
    #[serde(default)]
    rule: Option<String>,
    #[serde(default)]
    reason: Option<String>,
}

time::serde::format_description!(iso_date, Date, "[year]-[month]-[day]");

#[derive(Debug, Deserialize)]
struct SqlNearMatch {
    surname: String,
    given_names: String,
    #[serde(with = "iso_date")]
    birth_date: Date,
    birth_place: Option<String>,
    father: Option<String>,
    mother: Option<String>,
}

/// Answers a court's request for an extract.
pub(crate) async fn request(
    ctx: &Ctx<'_>,
    h: &Header,
    request: &ExtractRequest,
) -> Result<Vec<Message>, Error> {
    let bulletin = i32::from(bulletin_number(request.bulletin));
    let identity = serde_json::json!({
        "surname": request.surname,
        "given_names": request.given_names,
        "birth_date": request.birth_date.to_string(),
        "birth_place": request.birth_place,
        "father": request.father,
        "mother": request.mother,
    });
    ctx.savepoint().await?;
    let row = ctx
        .tx
        .query_one(
            "select cjn.extract($1, $2, $3::jsonb, $4, $5, current_date, $6)",
            &[
                &ctx.court_code,
                &request.requested_by,
                &identity,
                &bulletin,
                &request.purpose,
                &h.message_id.to_string(),
            ],
        )
        .await;
    let answer: serde_json::Value = match row {
        Ok(r) => r.get(0),
        // Any error the database gives on this request's own content (a rule of XMJuris, or
        // data it cannot compute with: class 22) refuses this one message; the envelope's other
        // messages go on. Only an outage (connection, serialisation) is retried.
        Err(e) => match e.as_db_error() {
            Some(db)
                if db.code().code().starts_with("XJ") || db.code().code().starts_with("22") =>
            {
                ctx.rollback().await?;
                warn!(court = %ctx.court, message_id = %h.message_id, sqlstate = db.code().code(), "Extract request refused by the database.");
                let message = if db.code().code().starts_with("XJ") {
                    db.message().to_owned()
                } else {
                    format!(
                        "Demande impossible à traiter ({}) : vérifiez l'identité demandée.",
                        db.code().code()
                    )
                };
                return Ok(vec![rejection(
                    ctx.court,
                    h.message_id,
                    Reason::InvalidContent,
                    &message,
                )]);
            }
            _ => return Err(crate::store::db("computing an extract")(e)),
        },
    };
    let answer: SqlAnswer = serde_json::from_value(answer)
        .map_err(|e| Error::Internal(format!("cjn.extract's answer: {e}")))?;
    if answer.outcome == "identite_a_preciser" {
        ctx.release().await?;
        info!(court = %ctx.court, message_id = %h.message_id, extract_number = %answer.extract_number, "Extract refused: identity to be specified.");
        return Ok(vec![rejection(
            ctx.court,
            h.message_id,
            Reason::IdentityAmbiguous,
            answer.message,
        )]);
    }
    let content = ExtractContent {
        extract_number: answer.extract_number.clone(),
        bulletin: request.bulletin,
        issued_at: answer.issued_at,
        person: ExtractPerson {
            surname: request.surname.clone(),
            given_names: request.given_names.clone(),
            birth_date: request.birth_date,
            birth_place: request.birth_place.clone(),
        },
        entries: answer
            .entries
            .into_iter()
            .map(|e| ExtractEntry {
                niu: e.niu,
                version: e.version,
                fiche: e.fiche,
                court_name: e.court_name,
                rule: e.rule,
                reason: e.reason,
            })
            .collect(),
    };
    let near_matches: Vec<ExtractNearMatch> = answer
        .near_matches
        .into_iter()
        .map(|n| ExtractNearMatch {
            surname: n.surname,
            given_names: n.given_names,
            birth_date: n.birth_date,
            birth_place: n.birth_place,
            father: n.father,
            mother: n.mother,
        })
        .collect();
    let sealed = seal_extract(&ctx.shared.identity, &content)
        .map_err(|e| Error::Pki(format!("sealing extract {}: {e}", content.extract_number)))?;
    // A re-sent request got the logged answer again: the first seal stands.
    let stored = ctx
        .tx
        .query_one(
            "select stored_code, stored_qr_text from cjn.record_extract_seal($1, $2, $3, $4)",
            &[
                &content.extract_number,
                &sealed.verification_code,
                &sealed.qr_text,
                &sealed.content_digest.to_hex(),
            ],
        )
        .await
        .map_err(crate::store::db("recording an extract's seal"))?;
    ctx.release().await?;
    let mut extract = ExtractAnswer::new(h.message_id, content, near_matches, &sealed);
    extract.verification_code = stored.get(0);
    extract.qr_text = stored.get(1);
    info!(
        court = %ctx.court,
        message_id = %h.message_id,
        extract_number = %extract.extract_number,
        bulletin,
        entries = extract.entries.len(),
        near_matches = extract.near_matches.len(),
        "Extract issued."
    );
    Ok(vec![Message {
        header: cjn_header(ctx.court),
        body: Body::ExtractAnswer(extract),
    }])
}
