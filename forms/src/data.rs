//! The data each kind of document receives, as typed serde structures.
//!
//! Every field is optional (`null` in JSON) unless said otherwise: a draft
//! fiche has holes, and the templates print a dash for a missing value. The
//! renderer checks the JSON against these structures, then hands the
//! templates a copy where every documented key is present (so a template can
//! write `data.fiche.niu` without testing that the key exists), keeping any
//! extra key the caller added. `forms/README.md` documents them field by
//! field for the people who edit templates.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Which data structure a template expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DataKind {
    /// One fiche of the court: [`FicheDocument`].
    Fiche,
    /// The court's fiches over a period: [`FicheListDocument`].
    FicheList,
    /// A bulletin n°1, n°2 or n°3 issued by the CJN: [`BulletinDocument`].
    Bulletin,
    /// The CJN's receipt for a transmitted fiche: [`ReceiptDocument`].
    Receipt,
}

impl DataKind {
    /// All kinds, in a stable order.
    pub const ALL: [DataKind; 4] = [
        DataKind::Fiche,
        DataKind::FicheList,
        DataKind::Bulletin,
        DataKind::Receipt,
    ];

    /// The keyword used in a template's `// data: <kind>` line.
    pub fn keyword(self) -> &'static str {
        match self {
            DataKind::Fiche => "fiche",
            DataKind::FicheList => "fiche-list",
            DataKind::Bulletin => "bulletin",
            DataKind::Receipt => "receipt",
        }
    }

    /// Guesses the kind from a template's name when it has no `// data:` line
    /// (`fiche-simple` is a fiche, `bulletin-3-court` a bulletin, ...).
    pub fn from_template_name(name: &str) -> Option<DataKind> {
        if name.starts_with("liste") {
            Some(DataKind::FicheList)
        } else if name.starts_with("fiche") {
            Some(DataKind::Fiche)
        } else if name.starts_with("bulletin") {
            Some(DataKind::Bulletin)
        } else if name.starts_with("recu") {
            Some(DataKind::Receipt)
        } else {
            None
        }
    }
}

impl fmt::Display for DataKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.keyword())
    }
}

impl FromStr for DataKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DataKind::ALL
            .into_iter()
            .find(|kind| kind.keyword() == s.trim())
            .ok_or_else(|| {
                format!(
                    "unknown data kind `{}` (expected one of: fiche, fiche-list, bulletin, receipt)",
                    s.trim()
                )
            })
    }
}

/// The country's header printed at the top of every document. Configured per
/// installation (`letterhead.toml` in the template folder), never hard-coded
/// to one country.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Letterhead {
    /// "République du ...", printed in capitals at the top left.
    pub country: String,
    /// The national motto under the country ("Paix – Travail – Patrie").
    pub motto: Option<String>,
    /// The ministry ("Ministère de la Justice"; printed in capitals).
    pub ministry: Option<String>,
    /// The national registry's name ("Casier judiciaire national").
    pub registry: String,
    /// The city where the CJN sits, for "Fait à ..." on extracts.
    pub registry_city: Option<String>,
    /// The currency written after fines ("FCFA").
    pub currency: String,
    /// The language of the court's documents when a print does not choose one (`language =
    /// "en"` in letterhead.toml); French when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<Lang>,
    /// The header of English documents (`[en]` in letterhead.toml): each field given replaces
    /// the one above; a field left out keeps its value, or its English wording when it is the
    /// default one ("RÉPUBLIQUE" becomes "REPUBLIC").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub en: Option<LetterheadText>,
}

/// The header's words in another language; absent fields are kept from the main header.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LetterheadText {
    pub country: Option<String>,
    pub motto: Option<String>,
    pub ministry: Option<String>,
    pub registry: Option<String>,
    pub registry_city: Option<String>,
    pub currency: Option<String>,
}

impl Letterhead {
    /// Reads a letterhead from TOML text (the fields above; missing ones keep their default).
    pub fn from_toml(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    /// The header printed on a document in `lang`: for English, the `[en]` words over the main
    /// header, the default French words translated.
    pub fn for_lang(&self, lang: Lang) -> Letterhead {
        let mut out = Letterhead {
            language: None,
            en: None,
            ..self.clone()
        };
        if lang == Lang::Fr {
            return out;
        }
        let default = Letterhead::default();
        if out.country == default.country {
            out.country = "REPUBLIC".to_owned();
        }
        if out.ministry == default.ministry {
            out.ministry = Some("Ministry of Justice".to_owned());
        }
        if out.registry == default.registry {
            out.registry = "National Criminal Record".to_owned();
        }
        if let Some(en) = &self.en {
            let take = |v: &Option<String>, into: &mut String| {
                if let Some(v) = v {
                    *into = v.clone();
                }
            };
            take(&en.country, &mut out.country);
            take(&en.registry, &mut out.registry);
            take(&en.currency, &mut out.currency);
            if en.motto.is_some() {
                out.motto = en.motto.clone();
            }
            if en.ministry.is_some() {
                out.ministry = en.ministry.clone();
            }
            if en.registry_city.is_some() {
                out.registry_city = en.registry_city.clone();
            }
        }
        out
    }
}

/// The language of a printed document: French (the built-in documents), or English (the
/// built-in `<name>-en` documents).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    #[default]
    Fr,
    En,
}

impl Lang {
    /// Both languages.
    pub const ALL: [Lang; 2] = [Lang::Fr, Lang::En];

    /// `fr` or `en`.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Fr => "fr",
            Lang::En => "en",
        }
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Lang {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "fr" | "français" | "francais" | "french" => Ok(Lang::Fr),
            "en" | "english" | "anglais" => Ok(Lang::En),
            other => Err(format!("unknown language `{other}` (fr or en)")),
        }
    }
}

impl Default for Letterhead {
    fn default() -> Self {
        Letterhead {
            country: "RÉPUBLIQUE".to_owned(),
            motto: None,
            ministry: Some("Ministère de la Justice".to_owned()),
            registry: "Casier judiciaire national".to_owned(),
            registry_city: None,
            currency: String::new(),
            language: None,
            en: None,
        }
    }
}

/// A court's identity, as the court database gives it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Court {
    /// The court's 5-digit code (the first digits of its NIUs).
    pub code: Option<String>,
    /// "Tribunal de première instance de Garoua-Boulaï".
    pub name: Option<String>,
    pub region: Option<String>,
    pub departement: Option<String>,
    pub arrondissement: Option<String>,
}

/// `juris.fiche_document(fiche_id)`: one fiche with its court and staff.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FicheDocument {
    /// Filled by the renderer from the configuration when absent.
    pub letterhead: Option<Letterhead>,
    pub court: Court,
    pub fiche: FicheInfo,
    pub justiciable: Justiciable,
    pub condamnation: Condamnation,
    pub staff: Staff,
}

/// The fiche's own identity and workflow state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FicheInfo {
    pub id: Option<i64>,
    /// The fiche's number in the court ("Fiche N° 19").
    pub number: Option<i64>,
    /// 0 brouillon, 1 soumise, 2 vérifiée, 3 signée, 4 archivée, 5 déclassée.
    pub status: Option<i64>,
    pub status_label: Option<String>,
    /// The 17-digit NIU, given at signature.
    pub niu: Option<String>,
    pub version: Option<i64>,
    /// The court's reference of the judgment, e.g. `103/SD/Just/2018`.
    pub reference: Option<String>,
    /// ISO timestamps.
    pub created_at: Option<String>,
    pub signed_at: Option<String>,
}

/// The convicted person.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Justiciable {
    pub surname: Option<String>,
    pub given_names: Option<String>,
    /// ISO date `YYYY-MM-DD`.
    pub birth_date: Option<String>,
    pub birth_place: Option<String>,
    /// `M` or `F`.
    pub sex: Option<String>,
    pub father: Option<String>,
    pub mother: Option<String>,
    pub profession: Option<String>,
    /// `celibataire`, `marie`, `divorce`, `veuf` or `union_libre`.
    pub civil_status: Option<String>,
    pub domicile: Option<String>,
    pub nationality: Option<String>,
}

/// The judgment's content.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Condamnation {
    pub conviction_date: Option<String>,
    pub offence_date: Option<String>,
    pub offence_nature: Option<String>,
    pub offence_category: Option<String>,
    pub offence_category_label: Option<String>,
    /// `crime`, `delit` or `contravention`.
    pub offence_class: Option<String>,
    /// "Date et nature des mandats".
    pub warrants: Option<String>,
    /// "Circulation routière".
    pub road_traffic: Option<String>,
    /// `emprisonnement`, `amende`, `emprisonnement_amende`,
    /// `travaux_interet_general`, `perpetuite`, `mort` or `autre`.
    pub sentence_type: Option<String>,
    pub sentence_months: Option<i64>,
    pub suspended_months: Option<i64>,
    /// Any JSON number (SQL `numeric` may carry decimals).
    pub fine_amount: Option<serde_json::Number>,
    pub legal_recidivism: Option<bool>,
    pub minor: Option<bool>,
    pub excluded_b2: Option<bool>,
    pub excluded_b3: Option<bool>,
    /// The court ordered the conviction onto bulletin n° 3.
    pub b3_ordered: Option<bool>,
    /// "Interdictions, déchéances ou incapacités", in the court's words.
    pub ban: Option<String>,
    /// Their duration in months (none with a ban: à titre définitif).
    pub ban_months: Option<i64>,
    /// The bans were ordered with a suspension.
    pub ban_suspended: Option<bool>,
    /// NIU of the earlier conviction whose suspension this one revokes.
    pub revoked_suspension_niu: Option<String>,
    /// The court decided minority itself (the flag is its decision, not the dates').
    pub minor_decided: Option<bool>,
    /// The bans start on this date (ISO `YYYY-MM-DD`) rather than on the conviction's.
    pub ban_start: Option<String>,
    /// The bans end on this date (ISO), instead of a duration.
    pub ban_end: Option<String>,
    /// The bans' duration runs from the release.
    pub ban_from_release: Option<bool>,
}

/// Who entered, verified and signed the fiche.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Staff {
    pub author: Option<String>,
    pub secretaire_initial: Option<String>,
    pub greffier_initial: Option<String>,
    pub secretaire: Option<String>,
    pub greffier: Option<String>,
}

/// `juris.fiche_list_document(from, to)`: a court's fiches over a period.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FicheListDocument {
    pub letterhead: Option<Letterhead>,
    pub court: Court,
    pub period: Period,
    pub fiches: Vec<FicheListRow>,
}

/// A closed period of ISO dates.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Period {
    pub from: Option<String>,
    pub to: Option<String>,
}

/// One line of the list of fiches.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FicheListRow {
    pub number: Option<i64>,
    pub niu: Option<String>,
    pub reference: Option<String>,
    pub surname: Option<String>,
    pub given_names: Option<String>,
    pub birth_date: Option<String>,
    pub conviction_date: Option<String>,
    pub offence_nature: Option<String>,
    pub status: Option<i64>,
    pub status_label: Option<String>,
}

/// A bulletin n°1, n°2 or n°3, as the CJN issues it (issue 6 produces it).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BulletinDocument {
    pub letterhead: Option<Letterhead>,
    pub bulletin: BulletinInfo,
    /// The court that asked for the extract and prints it.
    pub requested_by: Court,
    pub person: Person,
    /// The convictions shown on this bulletin; empty prints "Néant".
    pub entries: Vec<BulletinEntry>,
}

/// The extract's identity and proof of origin.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BulletinInfo {
    /// 1, 2 or 3.
    pub number: Option<u8>,
    /// The CJN's number of this extract, e.g. `B3-2026-000123`.
    pub extract_number: Option<String>,
    /// ISO timestamp of issue at the CJN.
    pub issued_at: Option<String>,
    /// Why the extract was requested (free text, optional).
    pub purpose: Option<String>,
    /// A short code a person types to check the extract.
    pub verification_code: Option<String>,
    /// Opaque string printed as a QR code, exactly as given.
    pub qr_payload: Option<String>,
    /// Name and title of the CJN officer who issues the extract.
    pub officer: Option<String>,
}

/// The person the extract is about.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Person {
    pub surname: Option<String>,
    pub given_names: Option<String>,
    pub birth_date: Option<String>,
    pub birth_place: Option<String>,
    pub sex: Option<String>,
    pub father: Option<String>,
    pub mother: Option<String>,
    pub nationality: Option<String>,
    pub domicile: Option<String>,
    pub profession: Option<String>,
}

/// One conviction on a bulletin.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BulletinEntry {
    /// Name of the court that judged.
    pub court: Option<String>,
    pub court_code: Option<String>,
    pub conviction_date: Option<String>,
    pub offence_date: Option<String>,
    pub reference: Option<String>,
    pub niu: Option<String>,
    pub offence_nature: Option<String>,
    /// Same codes as the fiche's `sentence_type`.
    pub sentence_type: Option<String>,
    pub sentence_months: Option<i64>,
    pub suspended_months: Option<i64>,
    pub fine_amount: Option<serde_json::Number>,
    /// When given, printed instead of the sentence composed from the fields above.
    pub sentence_text: Option<String>,
}

/// The CJN's signed receipt of a transmitted fiche.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ReceiptDocument {
    pub letterhead: Option<Letterhead>,
    pub court: Court,
    pub receipt: ReceiptInfo,
}

/// What the CJN acknowledged.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ReceiptInfo {
    pub message_id: Option<String>,
    pub niu: Option<String>,
    pub version: Option<i64>,
    /// What was transmitted: `fiche`, `rectification` or `declassement`.
    pub subject: Option<String>,
    pub reference: Option<String>,
    /// ISO timestamp when the CJN stored the message.
    pub received_at: Option<String>,
    /// Hex digest of the CJN's signature over the receipt.
    pub signature_digest: Option<String>,
    /// Algorithm of that digest, e.g. `SHA-256`.
    pub digest_algorithm: Option<String>,
}

/// Checks `data` against the structure of `kind`, and returns the JSON the
/// templates receive: every documented key present, extra keys kept.
pub(crate) fn normalize(
    kind: DataKind,
    data: &serde_json::Value,
) -> Result<serde_json::Value, serde_json::Error> {
    fn typed<T: serde::de::DeserializeOwned + Serialize>(
        data: &serde_json::Value,
    ) -> Result<serde_json::Value, serde_json::Error> {
        let value: T = serde_json::from_value(data.clone())?;
        serde_json::to_value(value)
    }
    let mut normalized = match kind {
        DataKind::Fiche => typed::<FicheDocument>(data)?,
        DataKind::FicheList => typed::<FicheListDocument>(data)?,
        DataKind::Bulletin => typed::<BulletinDocument>(data)?,
        DataKind::Receipt => typed::<ReceiptDocument>(data)?,
    };
    keep_extra_keys(&mut normalized, data);
    Ok(normalized)
}

/// Copies into `target` the keys of `source` it lacks, recursively.
fn keep_extra_keys(target: &mut serde_json::Value, source: &serde_json::Value) {
    use serde_json::Value;
    match (target, source) {
        (Value::Object(target), Value::Object(source)) => {
            for (key, value) in source {
                match target.get_mut(key) {
                    Some(existing) => keep_extra_keys(existing, value),
                    None => {
                        target.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (Value::Array(target), Value::Array(source)) => {
            for (existing, value) in target.iter_mut().zip(source) {
                keep_extra_keys(existing, value);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_fills_missing_keys_and_keeps_extra_ones() {
        let data = serde_json::json!({
            "fiche": {"number": 3, "custom": "x"},
            "extra": {"a": 1}
        });
        let out = normalize(DataKind::Fiche, &data).expect("valid");
        assert_eq!(out["fiche"]["number"], 3);
        assert!(out["fiche"]["niu"].is_null());
        assert!(out["justiciable"]["surname"].is_null());
        assert_eq!(out["fiche"]["custom"], "x");
        assert_eq!(out["extra"]["a"], 1);
    }

    #[test]
    fn normalize_rejects_a_wrong_type() {
        let data = serde_json::json!({"fiche": {"number": "dix-neuf"}});
        assert!(normalize(DataKind::Fiche, &data).is_err());
    }

    #[test]
    fn kind_from_name_and_keyword() {
        assert_eq!(
            DataKind::from_template_name("bulletin-3"),
            Some(DataKind::Bulletin)
        );
        assert_eq!(
            DataKind::from_template_name("liste-fiches"),
            Some(DataKind::FicheList)
        );
        assert_eq!("receipt".parse::<DataKind>(), Ok(DataKind::Receipt));
        assert!("nope".parse::<DataKind>().is_err());
    }
}
