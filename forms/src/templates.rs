//! The built-in templates and samples, and the catalogue of documents once a
//! user's folder is laid over them.

use std::path::{Path, PathBuf};

use crate::data::{DataKind, Lang};
use crate::error::FormsError;

/// Every file of `forms/templates/`, compiled into the program.
/// Files whose name starts with `_` are modules that documents import.
const BUILTIN_FILES: &[(&str, &str)] = &[
    ("_commun.typ", include_str!("../templates/_commun.typ")),
    ("_bulletin.typ", include_str!("../templates/_bulletin.typ")),
    ("fiche.typ", include_str!("../templates/fiche.typ")),
    (
        "liste-fiches.typ",
        include_str!("../templates/liste-fiches.typ"),
    ),
    (
        "bulletin-1.typ",
        include_str!("../templates/bulletin-1.typ"),
    ),
    (
        "bulletin-2.typ",
        include_str!("../templates/bulletin-2.typ"),
    ),
    (
        "bulletin-3.typ",
        include_str!("../templates/bulletin-3.typ"),
    ),
    ("recu-cjn.typ", include_str!("../templates/recu-cjn.typ")),
    // The English documents: `<name>-en`, chosen by `Forms::localized`.
    (
        "_common-en.typ",
        include_str!("../templates/_common-en.typ"),
    ),
    (
        "_bulletin-en.typ",
        include_str!("../templates/_bulletin-en.typ"),
    ),
    ("fiche-en.typ", include_str!("../templates/fiche-en.typ")),
    (
        "liste-fiches-en.typ",
        include_str!("../templates/liste-fiches-en.typ"),
    ),
    (
        "bulletin-1-en.typ",
        include_str!("../templates/bulletin-1-en.typ"),
    ),
    (
        "bulletin-2-en.typ",
        include_str!("../templates/bulletin-2-en.typ"),
    ),
    (
        "bulletin-3-en.typ",
        include_str!("../templates/bulletin-3-en.typ"),
    ),
    (
        "recu-cjn-en.typ",
        include_str!("../templates/recu-cjn-en.typ"),
    ),
];

/// The sample data of `forms/samples/`, by kind, used by `forms check` and the tests.
const SAMPLES: &[(&str, &str)] = &[
    ("fiche.json", include_str!("../samples/fiche.json")),
    (
        "fiche-brouillon.json",
        include_str!("../samples/fiche-brouillon.json"),
    ),
    (
        "liste-fiches.json",
        include_str!("../samples/liste-fiches.json"),
    ),
    (
        "bulletin-1.json",
        include_str!("../samples/bulletin-1.json"),
    ),
    (
        "bulletin-2.json",
        include_str!("../samples/bulletin-2.json"),
    ),
    (
        "bulletin-3.json",
        include_str!("../samples/bulletin-3.json"),
    ),
    (
        "bulletin-3-neant.json",
        include_str!("../samples/bulletin-3-neant.json"),
    ),
    ("recu-cjn.json", include_str!("../samples/recu-cjn.json")),
];

/// The text of a built-in file, by its name in the template folder.
pub(crate) fn builtin_file(name: &str) -> Option<&'static str> {
    BUILTIN_FILES
        .iter()
        .find(|(file, _)| *file == name)
        .map(|(_, text)| *text)
}

/// The names of all built-in files (documents and modules), to copy them out.
pub fn builtin_files() -> impl Iterator<Item = (&'static str, &'static str)> {
    BUILTIN_FILES.iter().copied()
}

/// A sample data file shipped with the program, by file name (`fiche.json`).
pub fn sample(file: &str) -> Option<serde_json::Value> {
    SAMPLES
        .iter()
        .find(|(name, _)| *name == file)
        .and_then(|(_, text)| serde_json::from_str(text).ok())
}

/// All sample data files, by name.
pub fn samples() -> impl Iterator<Item = (&'static str, serde_json::Value)> {
    SAMPLES
        .iter()
        .filter_map(|(name, text)| Some((*name, serde_json::from_str(text).ok()?)))
}

/// The sample to check a template of this kind against (for a bulletin, the
/// one of the template's number when there is one).
pub fn sample_for(kind: DataKind, template: &str) -> serde_json::Value {
    let file = match kind {
        DataKind::Fiche => "fiche.json",
        DataKind::FicheList => "liste-fiches.json",
        DataKind::Bulletin if template.contains('1') => "bulletin-1.json",
        DataKind::Bulletin if template.contains('2') => "bulletin-2.json",
        DataKind::Bulletin => "bulletin-3.json",
        DataKind::Receipt => "recu-cjn.json",
    };
    sample(file).unwrap_or(serde_json::Value::Null)
}

/// Where a document's template comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Compiled into the program.
    BuiltIn,
    /// A file in the user's template folder.
    User(PathBuf),
}

/// One document that can be printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateInfo {
    /// The name to print it by (`fiche`, `bulletin-3`, ...): the file name without `.typ`.
    pub name: String,
    /// The data it expects; `None` when a user template does not say.
    pub kind: Option<DataKind>,
    pub origin: Origin,
    /// A user template that replaces the built-in one of the same name.
    pub overrides_builtin: bool,
    /// The language it prints in: its `// lang:` line, else English for a name ending in
    /// `-en`, else French. The English letterhead goes with English documents.
    pub lang: Lang,
    /// The first comment lines of the template, which describe it.
    pub description: String,
}

/// Reads the `// data: <kind>` line and the leading comment of a template.
pub(crate) fn header(text: &str) -> (Option<Result<DataKind, String>>, String) {
    let mut kind = None;
    let mut description = Vec::new();
    for line in text
        .lines()
        .take_while(|l| l.trim_start().starts_with("//"))
    {
        let comment = line.trim_start().trim_start_matches('/').trim();
        if let Some(rest) = comment.strip_prefix("data:") {
            kind = Some(rest.parse::<DataKind>());
        } else if comment.starts_with("lang:") {
            // Read by `header_lang`.
        } else if !comment.is_empty() {
            description.push(comment.to_owned());
        }
    }
    (kind, description.join(" "))
}

/// Is this file name a document (not a module, not another file)?
fn document_name(file_name: &str) -> Option<&str> {
    let name = file_name.strip_suffix(".typ")?;
    (!name.starts_with('_') && !name.is_empty()).then_some(name)
}

fn info(name: &str, text: &str, origin: Origin, overrides_builtin: bool) -> TemplateInfo {
    let (kind, description) = header(text);
    let lang = header_lang(text).unwrap_or(if name.ends_with("-en") {
        Lang::En
    } else {
        Lang::Fr
    });
    let kind = match kind {
        Some(parsed) => parsed.ok(),
        None => DataKind::from_template_name(name),
    };
    TemplateInfo {
        name: name.to_owned(),
        kind,
        origin,
        overrides_builtin,
        description,
        lang,
    }
}

/// The `// lang: <fr|en>` line of a template's leading comment, if any.
fn header_lang(text: &str) -> Option<Lang> {
    text.lines()
        .take_while(|l| l.trim_start().starts_with("//"))
        .find_map(|line| {
            let comment = line.trim_start().trim_start_matches('/').trim();
            comment.strip_prefix("lang:")?.parse().ok()
        })
}

/// The documents: built-ins, replaced or completed by the user's folder.
pub(crate) fn catalogue(user_dir: Option<&Path>) -> Result<Vec<TemplateInfo>, FormsError> {
    let mut list: Vec<TemplateInfo> = BUILTIN_FILES
        .iter()
        .filter_map(|(file, text)| Some(info(document_name(file)?, text, Origin::BuiltIn, false)))
        .collect();
    if let Some(dir) = user_dir {
        let io = |source| FormsError::Io {
            path: dir.to_owned(),
            source,
        };
        let mut entries = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io)? {
            let path = entry.map_err(io)?.path();
            if path.is_file() {
                entries.push(path);
            }
        }
        entries.sort();
        for path in entries {
            let Some(name) = path
                .file_name()
                .and_then(|f| f.to_str())
                .and_then(document_name)
            else {
                continue;
            };
            let text = std::fs::read_to_string(&path).map_err(|source| FormsError::Io {
                path: path.clone(),
                source,
            })?;
            let position = list.iter().position(|t| t.name == name);
            let user = info(name, &text, Origin::User(path.clone()), position.is_some());
            match position {
                Some(i) => list[i] = user,
                None => list.push(user),
            }
        }
    }
    list.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(list)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_document_declares_its_kind() {
        for (file, text) in BUILTIN_FILES {
            if document_name(file).is_some() {
                let (kind, description) = header(text);
                assert!(matches!(kind, Some(Ok(_))), "{file} lacks `// data:`");
                assert!(!description.is_empty(), "{file} lacks a description");
            }
        }
    }

    #[test]
    fn every_sample_parses() {
        assert_eq!(samples().count(), SAMPLES.len());
    }
}
