//! The court's documents as the templates take them, read from the court database through the
//! `juris` API only: what `xmjuris print` and the desktop application print, computed in one
//! place (fiche, list of fiches, bulletin, receipt). The database checks who may read what (a fiche for any staff member, a bulletin for
//! those who may ask for it); a refusal comes back as [`db::DbError::Refused`] with its French
//! message.

use std::str::FromStr;

use protocol::ExtractAnswer;
use protocol::extract::bulletin_number;
use serde_json::{Map, Value, json};

/// Why a document cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    /// The database refused or failed (its French message for a refusal).
    #[error(transparent)]
    Db(#[from] db::DbError),
    /// The request for an extract has no answer to print yet, or was refused.
    #[error("la demande n° {id} n'a pas d'extrait à imprimer : {state}")]
    NotAnswered {
        /// The request.
        id: i64,
        /// Its state in French, with the CJN's reason if refused.
        state: String,
    },
    /// What should be a CJN answer is not one.
    #[error("`answer` is not an extract answer of the CJN: {0}")]
    NotAnAnswer(String),
    /// Neither a fiche id nor a NIU.
    #[error("`{0}` is neither a fiche id nor a 17-digit NIU")]
    BadFicheRef(String),
    /// The database gave nothing (a function returned null).
    #[error("no {0} in this court")]
    Missing(String),
}

/// A fiche, by its id or its NIU (17 digits).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FicheRef {
    /// The court's id of the fiche.
    Id(i64),
    /// Its NIU (checked by the database: a mistyped NIU is refused, never matched).
    Niu(String),
}

impl FromStr for FicheRef {
    type Err = DocumentError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.len() == 17 && s.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(FicheRef::Niu(s.to_owned()));
        }
        s.parse()
            .map(FicheRef::Id)
            .map_err(|_| DocumentError::BadFicheRef(s.to_owned()))
    }
}

impl std::fmt::Display for FicheRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FicheRef::Id(id) => write!(f, "{id}"),
            FicheRef::Niu(niu) => f.write_str(niu),
        }
    }
}

/// The data of the printed fiche (`juris.fiche_document`).
pub async fn fiche(
    client: &tokio_postgres::Client,
    fiche: &FicheRef,
) -> Result<Value, DocumentError> {
    let row = match fiche {
        FicheRef::Niu(niu) => {
            client
                .query_one(
                    "select juris.fiche_document(juris.fiche_id_by_niu($1::text))",
                    &[niu],
                )
                .await
        }
        FicheRef::Id(id) => {
            client
                .query_one("select juris.fiche_document($1::bigint)", &[id])
                .await
        }
    }
    .map_err(|e| db::DbError::query(&format!("reading fiche {fiche}"), e))?;
    let document: Option<Value> = row.get(0);
    document.ok_or_else(|| DocumentError::Missing(format!("fiche {fiche}")))
}

/// The data of the list of the court's fiches convicted between two dates (YYYY-MM-DD,
/// checked by the database), `juris.fiche_list_document`.
pub async fn fiche_list(
    client: &tokio_postgres::Client,
    from: &str,
    to: &str,
) -> Result<Value, DocumentError> {
    let row = client
        .query_one(
            "select juris.fiche_list_document($1::text::date, $2::text::date)",
            &[&from, &to],
        )
        .await
        .map_err(|e| db::DbError::query("reading the list of fiches", e))?;
    let document: Option<Value> = row.get(0);
    document.ok_or_else(|| DocumentError::Missing("list".into()))
}

/// The CJN's receipt of the court's message `seq` (its number in `juris.transmissions`), once
/// stored: `juris.receipt_document`, refused before the receipt.
pub async fn receipt(client: &tokio_postgres::Client, seq: i64) -> Result<Value, DocumentError> {
    let row = client
        .query_one("select juris.receipt_document($1)", &[&seq])
        .await
        .map_err(|e| db::DbError::query(&format!("reading the receipt of message {seq}"), e))?;
    let document: Option<Value> = row.get(0);
    document.ok_or_else(|| DocumentError::Missing(format!("receipt of message {seq}")))
}

/// The bulletin of a request this court made, once the CJN's answer is stored: the answer,
/// with the court that asked and the purpose (`juris.get_extract`, `juris.whoami`).
pub async fn extract(client: &tokio_postgres::Client, id: i64) -> Result<Value, DocumentError> {
    let request: Value = client
        .query_one("select juris.get_extract($1)", &[&id])
        .await
        .map_err(|e| db::DbError::query(&format!("reading the request for an extract n° {id}"), e))?
        .get(0);
    if request["state"] != "answered" {
        return Err(DocumentError::NotAnswered {
            id,
            state: format!(
                "{}{}",
                request["state_label"].as_str().unwrap_or("état inconnu"),
                request["rejection_reason"]
                    .as_str()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default()
            ),
        });
    }
    let me: Value = client
        .query_one("select juris.whoami()", &[])
        .await
        .map_err(|e| db::DbError::query("reading the court's identity", e))?
        .get(0);
    bulletin_from_answer(json!({
        "bulletin": {"purpose": request["purpose"]},
        "requested_by": me["court"],
        "person": {"father": request["person"]["father"], "mother": request["person"]["mother"]},
        "answer": request["answer"],
    }))
}

/// The data of a bulletin from the CJN's answer: either the bare answer (JSON of
/// [`ExtractAnswer`]), or a bulletin document with the answer under `answer` and what the answer
/// does not say (`requested_by`, `bulletin.purpose`, `bulletin.officer`, the person's other
/// fields, `letterhead`). What the CJN sealed always comes from the answer. Other data is
/// returned unchanged.
pub fn bulletin_from_answer(data: Value) -> Result<Value, DocumentError> {
    let (mut doc, answer) = match data {
        Value::Object(mut doc) if doc.contains_key("answer") => {
            let answer = doc.remove("answer").unwrap_or(Value::Null);
            (doc, answer)
        }
        Value::Object(doc) if doc.contains_key("qr_text") && doc.contains_key("entries") => {
            (Map::new(), Value::Object(doc))
        }
        other => return Ok(other),
    };
    let answer: ExtractAnswer =
        serde_json::from_value(answer).map_err(|e| DocumentError::NotAnAnswer(e.to_string()))?;
    let iso = |d: time::Date| format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day());

    let mut bulletin = take_object(&mut doc, "bulletin");
    bulletin.insert("number".into(), json!(bulletin_number(answer.bulletin)));
    bulletin.insert("extract_number".into(), json!(answer.extract_number));
    bulletin.insert(
        "issued_at".into(),
        json!(
            answer
                .issued_at
                .format(&time::format_description::well_known::Rfc3339)
                .map_err(|e| DocumentError::NotAnAnswer(format!("issue time: {e}")))?
        ),
    );
    bulletin.insert("verification_code".into(), json!(answer.verification_code));
    bulletin.insert("qr_payload".into(), json!(answer.qr_text));
    doc.insert("bulletin".into(), Value::Object(bulletin));

    let first = answer.entries.first().map(|e| &e.fiche.justiciable);
    let mut person = take_object(&mut doc, "person");
    person.insert("surname".into(), json!(answer.person.surname));
    person.insert("given_names".into(), json!(answer.person.given_names));
    person.insert("birth_date".into(), json!(iso(answer.person.birth_date)));
    person.insert("birth_place".into(), json!(answer.person.birth_place));
    if let Some(j) = first {
        for (key, value) in [
            ("sex", json!(j.sex)),
            ("father", json!(j.father)),
            ("mother", json!(j.mother)),
            ("nationality", json!(j.nationality)),
        ] {
            if person.get(key).is_none_or(Value::is_null) {
                person.insert(key.into(), value);
            }
        }
    }
    doc.insert("person".into(), Value::Object(person));

    let entries: Vec<Value> = answer
        .entries
        .iter()
        .map(|e| {
            let c = &e.fiche.condamnation;
            json!({
                "court": e.court_name,
                "court_code": e.niu.court().to_string(),
                "conviction_date": iso(c.conviction_date),
                "offence_date": iso(c.offence_date),
                "reference": e.fiche.reference,
                "niu": e.niu.to_string(),
                "offence_nature": c.offence_nature,
                "sentence_type": c.sentence_type,
                "sentence_months": c.sentence_months,
                "suspended_months": c.suspended_months,
                "fine_amount": c.fine_amount,
            })
        })
        .collect();
    doc.insert("entries".into(), Value::Array(entries));
    Ok(Value::Object(doc))
}

/// Takes `key` out of `doc` as an object (a new one if absent or not an object).
fn take_object(doc: &mut Map<String, Value>, key: &str) -> Map<String, Value> {
    match doc.remove(key) {
        Some(Value::Object(map)) => map,
        _ => Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fiche_is_named_by_its_id_or_its_niu() {
        assert_eq!("42".parse::<FicheRef>().ok(), Some(FicheRef::Id(42)));
        assert_eq!(
            " 12345201800000143 ".parse::<FicheRef>().ok(),
            Some(FicheRef::Niu("12345201800000143".into()))
        );
        assert!("12345A".parse::<FicheRef>().is_err());
        assert!("Kobila".parse::<FicheRef>().is_err());
    }

    #[test]
    fn data_that_is_not_an_answer_is_left_as_it_is() {
        let data = json!({"bulletin": {"number": 3}, "entries": []});
        assert_eq!(bulletin_from_answer(data.clone()).ok(), Some(data));
        assert!(bulletin_from_answer(json!({"answer": {"entries": 1}})).is_err());
    }
}
