//! The fiche as the Saisie screen edits it, and its JSON for `juris.save_fiche` /
//! `juris.get_fiche` (shapes in `db/functions/court/30_fiche.sql`).
//!
//! Every field is kept as the user typed it (dates as `JJ/MM/AAAA`, numbers as text): what is
//! typed is never lost or rewritten behind the user's back, and the database says what is wrong.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::admin::Rectification;
use crate::dates::{self, DateInput};

/// The values of an enumeration of the court schema, in the database's order (their labels are
/// in the catalogues, `enum.<name>.<value>`).
pub const SEX: &[&str] = &["M", "F"];
pub const CIVIL_STATUS: &[&str] = &["celibataire", "marie", "divorce", "veuf", "union_libre"];
pub const OFFENCE_CLASS: &[&str] = &["crime", "delit", "contravention"];
pub const SENTENCE_TYPE: &[&str] = &[
    "emprisonnement",
    "amende",
    "emprisonnement_amende",
    "travaux_interet_general",
    "perpetuite",
    "mort",
    "autre",
];

/// The editable content of a fiche.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FicheForm {
    pub reference: String,
    // Sur le justiciable
    pub surname: String,
    pub given_names: String,
    pub birth_date: String,
    pub birth_place: String,
    pub sex: Option<String>,
    pub father: String,
    pub mother: String,
    pub profession: String,
    pub civil_status: Option<String>,
    pub domicile: String,
    pub nationality: String,
    // Condamnation
    pub conviction_date: String,
    pub offence_date: String,
    pub offence_nature: String,
    pub offence_category: Option<String>,
    pub offence_class: Option<String>,
    pub warrants: String,
    pub road_traffic: String,
    pub sentence_type: Option<String>,
    pub sentence_months: String,
    pub suspended_months: String,
    pub fine_amount: String,
    pub legal_recidivism: bool,
    pub minor: bool,
    pub excluded_b2: bool,
    pub excluded_b3: bool,
    pub b3_ordered: bool,
    pub ban: String,
    pub ban_months: String,
    pub ban_suspended: bool,
    pub revoked_suspension_niu: String,
    /// The court decided the minority itself (the dates cannot show it).
    pub minor_decided: bool,
    /// The bans' own start and end (JJ/MM/AAAA), or a duration counted from the release.
    pub ban_start: String,
    pub ban_end: String,
    pub ban_from_release: bool,
}

/// The date fields, by their database name.
pub const DATE_FIELDS: &[&str] = &[
    "birth_date",
    "conviction_date",
    "offence_date",
    "ban_start",
    "ban_end",
];

impl FicheForm {
    /// The text of a date field.
    pub fn date(&self, field: &str) -> &str {
        match field {
            "birth_date" => &self.birth_date,
            "conviction_date" => &self.conviction_date,
            "offence_date" => &self.offence_date,
            "ban_start" => &self.ban_start,
            "ban_end" => &self.ban_end,
            _ => "",
        }
    }

    /// The date fields that hold something that is not a date (they are not sent).
    pub fn impossible_dates(&self) -> Vec<&'static str> {
        DATE_FIELDS
            .iter()
            .copied()
            .filter(|f| {
                matches!(
                    dates::parse(self.date(f)),
                    DateInput::Impossible | DateInput::Partial
                )
            })
            .collect()
    }

    /// True when nothing has been typed.
    pub fn is_empty(&self) -> bool {
        *self == FicheForm::default()
    }

    /// The JSON that `juris.save_fiche` takes (with the fiche's id when it exists). Fails with
    /// the date fields that are not complete, real dates: those are never sent.
    pub fn to_json(&self, id: Option<i64>) -> Result<Value, Vec<&'static str>> {
        let bad = self.impossible_dates();
        if !bad.is_empty() {
            return Err(bad);
        }
        let date = |s: &str| match dates::parse(s) {
            DateInput::Valid(d) => Value::String(dates::iso(d)),
            _ => Value::Null,
        };
        let mut doc = Map::new();
        if let Some(id) = id {
            doc.insert("id".into(), json!(id));
        }
        doc.insert("reference".into(), text(&self.reference));
        doc.insert(
            "justiciable".into(),
            json!({
                "surname": text(&self.surname),
                "given_names": text(&self.given_names),
                "birth_date": date(&self.birth_date),
                "birth_place": text(&self.birth_place),
                "sex": self.sex,
                "father": text(&self.father),
                "mother": text(&self.mother),
                "profession": text(&self.profession),
                "civil_status": self.civil_status,
                "domicile": text(&self.domicile),
                "nationality": text(&self.nationality),
            }),
        );
        doc.insert(
            "condamnation".into(),
            json!({
                "conviction_date": date(&self.conviction_date),
                "offence_date": date(&self.offence_date),
                "offence_nature": text(&self.offence_nature),
                "offence_category": self.offence_category,
                "offence_class": self.offence_class,
                "warrants": text(&self.warrants),
                "road_traffic": text(&self.road_traffic),
                "sentence_type": self.sentence_type,
                "sentence_months": number(&self.sentence_months),
                "suspended_months": number(&self.suspended_months),
                "fine_amount": number(&self.fine_amount),
                "legal_recidivism": self.legal_recidivism,
                "minor": self.minor,
                "excluded_b2": self.excluded_b2,
                "excluded_b3": self.excluded_b3,
                "b3_ordered": self.b3_ordered,
                "ban": text(&self.ban),
                "ban_months": number(&self.ban_months),
                "ban_suspended": self.ban_suspended,
                "revoked_suspension_niu": text(&self.revoked_suspension_niu),
                "minor_decided": self.minor_decided,
                "ban_start": date(&self.ban_start),
                "ban_end": date(&self.ban_end),
                "ban_from_release": self.ban_from_release,
            }),
        );
        Ok(Value::Object(doc))
    }

    /// The form of a fiche read with `juris.get_fiche`.
    pub fn from_json(doc: &Value) -> FicheForm {
        let j = &doc["justiciable"];
        let c = &doc["condamnation"];
        FicheForm {
            reference: s(&doc["reference"]),
            surname: s(&j["surname"]),
            given_names: s(&j["given_names"]),
            birth_date: dates::from_iso(&s(&j["birth_date"])),
            birth_place: s(&j["birth_place"]),
            sex: opt(&j["sex"]),
            father: s(&j["father"]),
            mother: s(&j["mother"]),
            profession: s(&j["profession"]),
            civil_status: opt(&j["civil_status"]),
            domicile: s(&j["domicile"]),
            nationality: s(&j["nationality"]),
            conviction_date: dates::from_iso(&s(&c["conviction_date"])),
            offence_date: dates::from_iso(&s(&c["offence_date"])),
            offence_nature: s(&c["offence_nature"]),
            offence_category: opt(&c["offence_category"]),
            offence_class: opt(&c["offence_class"]),
            warrants: s(&c["warrants"]),
            road_traffic: s(&c["road_traffic"]),
            sentence_type: opt(&c["sentence_type"]),
            sentence_months: s(&c["sentence_months"]),
            suspended_months: s(&c["suspended_months"]),
            fine_amount: s(&c["fine_amount"]),
            legal_recidivism: c["legal_recidivism"].as_bool().unwrap_or(false),
            minor: c["minor"].as_bool().unwrap_or(false),
            excluded_b2: c["excluded_b2"].as_bool().unwrap_or(false),
            excluded_b3: c["excluded_b3"].as_bool().unwrap_or(false),
            b3_ordered: c["b3_ordered"].as_bool().unwrap_or(false),
            ban: s(&c["ban"]),
            ban_months: s(&c["ban_months"]),
            ban_suspended: c["ban_suspended"].as_bool().unwrap_or(false),
            revoked_suspension_niu: s(&c["revoked_suspension_niu"]),
            minor_decided: c["minor_decided"].as_bool().unwrap_or(false),
            ban_start: dates::from_iso(&s(&c["ban_start"])),
            ban_end: dates::from_iso(&s(&c["ban_end"])),
            ban_from_release: c["ban_from_release"].as_bool().unwrap_or(false),
        }
    }
}

/// A fiche as stored: its identity and workflow, beside its content.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FicheMeta {
    pub id: i64,
    pub number: Option<i64>,
    pub status: i32,
    pub status_label: String,
    pub niu: Option<String>,
    pub version: i32,
    /// The comment of the last return for correction, if any.
    pub return_comment: Option<String>,
    pub returned_by: Option<String>,
    /// Staff names, as the printed fiche shows them (`juris.fiche_document`'s `staff`).
    pub author: Option<String>,
    pub secretaire_initial: Option<String>,
    pub greffier_initial: Option<String>,
    pub secretaire: Option<String>,
    pub greffier: Option<String>,
    /// The proposal of rectification in progress, if any.
    pub rectification: Option<Rectification>,
    /// How many fiches of the court concern the same person (`juris.person_fiche_count`);
    /// `None` while it cannot be told (no birth date or names yet).
    pub person_fiches: Option<i32>,
}

impl FicheMeta {
    /// From `juris.get_fiche` and the `staff` object of `juris.fiche_document`.
    pub fn from_json(doc: &Value, staff: &Value) -> FicheMeta {
        let w = &doc["workflow"];
        FicheMeta {
            id: doc["id"].as_i64().unwrap_or_default(),
            number: doc["number"].as_i64(),
            status: doc["status"].as_i64().unwrap_or_default() as i32,
            status_label: s(&doc["status_label"]),
            niu: opt(&doc["niu"]),
            version: doc["version"].as_i64().unwrap_or(1) as i32,
            return_comment: opt(&w["return_comment"]),
            returned_by: opt(&w["returned_by"]),
            author: opt(&staff["author"]),
            secretaire_initial: opt(&staff["secretaire_initial"]),
            greffier_initial: opt(&staff["greffier_initial"]),
            secretaire: opt(&staff["secretaire"]),
            greffier: opt(&staff["greffier"]),
            rectification: Rectification::from_json(&doc["rectification"]),
            person_fiches: None,
        }
    }
}

fn text(s: &str) -> Value {
    let t = s.trim();
    if t.is_empty() {
        Value::Null
    } else {
        Value::String(t.to_owned())
    }
}

/// A number as typed, for the database to read: spaces (thousands) dropped, a decimal comma
/// made a point. Anything else is sent as it is and refused by the database at its field.
fn number(s: &str) -> Value {
    let t: String = s
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '\u{202F}' && *c != '\u{A0}')
        .map(|c| if c == ',' { '.' } else { c })
        .collect();
    if t.is_empty() {
        Value::Null
    } else {
        Value::String(t)
    }
}

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    }
}

fn opt(v: &Value) -> Option<String> {
    let s = s(v);
    if s.is_empty() { None } else { Some(s) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> FicheForm {
        FicheForm {
            reference: "103/SD/Just/2018".into(),
            surname: "Kobila".into(),
            given_names: "Mangué".into(),
            birth_date: "17/04/1987".into(),
            sex: Some("M".into()),
            conviction_date: "18/06/2018".into(),
            offence_date: "15/09/2017".into(),
            fine_amount: "500 000".into(),
            sentence_months: "24".into(),
            ..Default::default()
        }
    }

    #[test]
    fn json_round_trips() {
        let form = sample();
        let doc = form.to_json(Some(7)).expect("valid");
        assert_eq!(doc["id"], 7);
        assert_eq!(doc["justiciable"]["birth_date"], "1987-04-17");
        assert_eq!(doc["condamnation"]["fine_amount"], "500000");
        assert_eq!(doc["justiciable"]["father"], Value::Null);
        let mut back = FicheForm::from_json(&doc);
        back.fine_amount = "500 000".into();
        assert_eq!(back, form);
    }

    #[test]
    fn an_impossible_date_is_not_sent() {
        let mut form = sample();
        form.birth_date = "31/02/2020".into();
        assert_eq!(form.to_json(None), Err(vec!["birth_date"]));
        form.birth_date = "31/0".into();
        assert_eq!(form.to_json(None), Err(vec!["birth_date"]));
        form.birth_date = String::new();
        assert!(form.to_json(None).is_ok());
    }
}
