//! Errors of the renderer, with template diagnostics located by file and line.

use std::fmt;
use std::path::PathBuf;

use crate::data::DataKind;

/// Everything that can go wrong while preparing or rendering a document.
#[derive(Debug, thiserror::Error)]
pub enum FormsError {
    /// No built-in or user template has this name.
    #[error("unknown document `{name}` (known: {known})")]
    UnknownTemplate { name: String, known: String },

    /// The template does not compile: each diagnostic names a file and a line.
    #[error("template `{template}` does not compile:\n{}", DiagnosticList(.diagnostics))]
    Template {
        template: String,
        diagnostics: Vec<Diagnostic>,
    },

    /// The template compiled to pages without any content.
    #[error("template `{template}` produced only blank pages")]
    BlankDocument { template: String },

    /// The data does not have the structure the template's kind expects.
    #[error("the data given to `{template}` is not a valid {kind} document: {source}")]
    Data {
        template: String,
        kind: DataKind,
        #[source]
        source: serde_json::Error,
    },

    /// A user template does not say which data it expects and its name does
    /// not tell either.
    #[error(
        "template {path} does not say which data it takes: add a first line `// data: fiche` (or fiche-list, bulletin, receipt)"
    )]
    UnknownKind { path: PathBuf },

    /// The `// data:` line names no known kind.
    #[error("template {path}: {message}")]
    BadKind { path: PathBuf, message: String },

    /// The template folder or one of its files cannot be read.
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// `letterhead.toml` in the template folder is not valid.
    #[error("invalid letterhead {path}: {message}")]
    Letterhead { path: PathBuf, message: String },

    /// The QR payload cannot be encoded (too long for a QR code).
    #[error("the QR payload cannot be encoded: {0}")]
    Qr(String),

    /// The PDF or PNG export failed.
    #[error("cannot export the document: {0}")]
    Export(String),

    /// A page number past the end of the document.
    #[error("page {page} does not exist (the document has {count} pages)")]
    NoSuchPage { page: usize, count: usize },
}

/// One message of the Typst compiler, located in a template file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// `true` for an error, `false` for a warning.
    pub is_error: bool,
    /// The file, as a real path for a user template or `<built-in>/name.typ`.
    pub file: Option<String>,
    /// 1-based line and column (in characters), when the message has a location.
    pub line: Option<usize>,
    pub column: Option<usize>,
    /// The source line the message points at, trimmed.
    pub excerpt: Option<String>,
    pub message: String,
    pub hints: Vec<String>,
    /// Where the failing code was called from (outermost last), already located.
    pub trace: Vec<String>,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let severity = if self.is_error { "error" } else { "warning" };
        match (&self.file, self.line, self.column) {
            (Some(file), Some(line), Some(column)) => write!(f, "{file}:{line}:{column}: ")?,
            (Some(file), _, _) => write!(f, "{file}: ")?,
            _ => {}
        }
        write!(f, "{severity}: {}", self.message)?;
        if let Some(excerpt) = &self.excerpt {
            write!(f, "\n    | {excerpt}")?;
        }
        for hint in &self.hints {
            write!(f, "\n  hint: {hint}")?;
        }
        for call in &self.trace {
            write!(f, "\n  {call}")?;
        }
        Ok(())
    }
}

struct DiagnosticList<'a>(&'a [Diagnostic]);

impl fmt::Display for DiagnosticList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, diagnostic) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{diagnostic}")?;
        }
        Ok(())
    }
}
