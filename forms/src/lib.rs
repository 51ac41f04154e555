//! Typst form templates of XMJuris and their renderer to PDF and PNG.
//!
//! [`court`] reads a court's documents (fiche, list, bulletin) from its database, shaped for the
//! templates: the CLI and the desktop application print the same data.
//!
//! A document (fiche, list of fiches, bulletin n°1/2/3, CJN receipt) is a
//! Typst template that reads its data from `data.json` (and, for extracts,
//! its QR code from `qr.svg`). [`Forms`] holds the built-in templates, laid
//! under an optional user folder whose files replace the built-in ones of the
//! same name and add new documents. Rendering is in-process, with the fonts
//! embedded in the program: no system fonts, no network.
//!
//! ```no_run
//! let forms = forms::Forms::builtin();
//! let data = forms::sample("fiche.json").unwrap_or_default();
//! let pdf: Vec<u8> = forms.render_pdf("fiche", &data)?;
//! # Ok::<(), forms::FormsError>(())
//! ```

pub mod court;
mod data;
mod error;
mod qr;
mod templates;
mod world;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use typst::diag::{Severity, SourceDiagnostic};
use typst::foundations::Bytes;
use typst::utils::LazyHash;
use typst::{Library, LibraryExt as _, World as _, WorldExt as _};
use typst_layout::PagedDocument;

pub use data::{
    BulletinDocument, BulletinEntry, BulletinInfo, Condamnation, Court, DataKind, FicheDocument,
    FicheInfo, FicheListDocument, FicheListRow, Justiciable, Lang, Letterhead, LetterheadText,
    Period, Person, ReceiptDocument, ReceiptInfo, Staff,
};
pub use error::{Diagnostic, FormsError};
pub use qr::qr_svg;
pub use templates::{Origin, TemplateInfo, builtin_files, sample, sample_for, samples};

use world::FormsWorld;

/// The name of the file, in a template folder, that configures the letterhead.
pub const LETTERHEAD_FILE: &str = "letterhead.toml";

/// An example letterhead file (`forms/samples/letterhead.toml`).
pub const SAMPLE_LETTERHEAD: &str = include_str!("../samples/letterhead.toml");

/// The set of printable documents: built-in templates, optionally laid under
/// a user's folder, and the letterhead to print on them.
#[derive(Clone)]
pub struct Forms {
    user_dir: Option<PathBuf>,
    letterhead: Letterhead,
    library: Arc<LazyHash<Library>>,
}

impl std::fmt::Debug for Forms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Forms")
            .field("user_dir", &self.user_dir)
            .field("letterhead", &self.letterhead)
            .finish_non_exhaustive()
    }
}

impl Forms {
    /// Only the templates compiled into the program, with the default letterhead.
    pub fn builtin() -> Self {
        Forms {
            user_dir: None,
            letterhead: Letterhead::default(),
            library: Arc::new(LazyHash::new(Library::builder().build())),
        }
    }

    /// The built-in templates under the user's folder `dir`: a file there
    /// replaces the built-in one of the same name, a new `.typ` file is a new
    /// document, and `letterhead.toml` (if present) sets the letterhead.
    pub fn with_user_dir(dir: impl Into<PathBuf>) -> Result<Self, FormsError> {
        let dir = dir.into();
        if !dir.is_dir() {
            return Err(FormsError::Io {
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "not a folder of templates",
                ),
                path: dir,
            });
        }
        let mut forms = Forms::builtin();
        let letterhead_path = dir.join(LETTERHEAD_FILE);
        if letterhead_path.is_file() {
            forms.letterhead = load_letterhead(&letterhead_path)?;
        }
        forms.user_dir = Some(dir);
        Ok(forms)
    }

    /// The same documents without the user's folder: the built-in templates,
    /// always available when a user template is broken.
    pub fn builtin_only(&self) -> Self {
        Forms {
            user_dir: None,
            ..self.clone()
        }
    }

    /// Replaces the letterhead (the country's header) printed on documents
    /// whose data carries none.
    pub fn with_letterhead(mut self, letterhead: Letterhead) -> Self {
        self.letterhead = letterhead;
        self
    }

    /// The letterhead in force.
    pub fn letterhead(&self) -> &Letterhead {
        &self.letterhead
    }

    /// The user's folder, if any.
    pub fn user_dir(&self) -> Option<&Path> {
        self.user_dir.as_deref()
    }

    /// The language the court chose for its documents (`language` in its letterhead file), if
    /// any: what a print uses when it does not choose.
    pub fn language(&self) -> Option<Lang> {
        self.letterhead.language
    }

    /// The template that prints document `name` in `lang`: `<name>-en` for English when there
    /// is one (the court's or the built-in), else `name` itself (a court's own document that
    /// exists in one language only prints in that one).
    pub fn localized(&self, name: &str, lang: Lang) -> Result<String, FormsError> {
        if lang == Lang::Fr {
            return Ok(name.to_owned());
        }
        let english = format!("{name}-{}", lang.code());
        Ok(if self.templates()?.iter().any(|t| t.name == english) {
            english
        } else {
            name.to_owned()
        })
    }

    /// Every printable document, sorted by name.
    pub fn templates(&self) -> Result<Vec<TemplateInfo>, FormsError> {
        templates::catalogue(self.user_dir.as_deref())
    }

    /// The documents that take this kind of data (e.g. every bulletin template).
    pub fn templates_for(&self, kind: DataKind) -> Result<Vec<TemplateInfo>, FormsError> {
        Ok(self
            .templates()?
            .into_iter()
            .filter(|t| t.kind == Some(kind))
            .collect())
    }

    /// Compiles document `name` with `data` (JSON of the document's kind).
    pub fn compile(&self, name: &str, data: &serde_json::Value) -> Result<Compiled, FormsError> {
        let template = self.find(name)?;
        let kind = match template.kind {
            Some(kind) => kind,
            None => return Err(self.kind_error(&template)),
        };
        let mut data = data::normalize(kind, data).map_err(|source| FormsError::Data {
            template: template.name.clone(),
            kind,
            source,
        })?;
        if let Some(object) = data.as_object_mut()
            && object.get("letterhead").is_none_or(|v| v.is_null())
        {
            let letterhead = serde_json::to_value(self.letterhead.for_lang(template.lang))
                .map_err(|e| FormsError::Export(e.to_string()))?;
            object.insert("letterhead".to_owned(), letterhead);
        }

        let mut generated = HashMap::new();
        let json =
            serde_json::to_string_pretty(&data).map_err(|e| FormsError::Export(e.to_string()))?;
        generated.insert("/data.json".to_owned(), Bytes::from_string(json));
        if let Some(payload) = qr_payload(&data) {
            generated.insert("/qr.svg".to_owned(), Bytes::from_string(qr_svg(payload)?));
        }

        let world = FormsWorld::new(
            self.library.clone(),
            &format!("{name}.typ"),
            self.user_dir.clone(),
            generated,
        )
        .map_err(|message| FormsError::UnknownTemplate {
            name: format!("{name} ({message})"),
            known: String::new(),
        })?;
        let warned = typst::compile::<PagedDocument>(&world);
        let warnings = warned
            .warnings
            .iter()
            .map(|d| diagnostic(&world, d))
            .collect();
        let result = match warned.output {
            Ok(document) => {
                let blank = document
                    .pages()
                    .iter()
                    .all(|p| p.frame.items().next().is_none());
                if blank {
                    Err(FormsError::BlankDocument {
                        template: template.name.clone(),
                    })
                } else {
                    Ok(Compiled {
                        name: template.name.clone(),
                        origin: template.origin.clone(),
                        document,
                        warnings,
                    })
                }
            }
            Err(errors) => Err(FormsError::Template {
                template: template.name.clone(),
                diagnostics: errors.iter().map(|d| diagnostic(&world, d)).collect(),
            }),
        };
        // Keep the compiler's memo cache from growing in a long-running GUI.
        typst::comemo::evict(10);
        result
    }

    /// Compiles with the user's template and, if that one fails, with the
    /// built-in one of the same name. Returns the document and, when the
    /// built-in one was used, the user template's error to show.
    pub fn compile_or_builtin(
        &self,
        name: &str,
        data: &serde_json::Value,
    ) -> Result<(Compiled, Option<FormsError>), FormsError> {
        match self.compile(name, data) {
            Ok(compiled) => Ok((compiled, None)),
            Err(error) => {
                let builtin = self.builtin_only();
                let overridden =
                    self.user_dir.is_some() && builtin.templates()?.iter().any(|t| t.name == name);
                if overridden && !matches!(error, FormsError::Data { .. }) {
                    let compiled = builtin.compile(name, data)?;
                    Ok((compiled, Some(error)))
                } else {
                    Err(error)
                }
            }
        }
    }

    /// Renders document `name` with `data` to PDF bytes.
    pub fn render_pdf(&self, name: &str, data: &serde_json::Value) -> Result<Vec<u8>, FormsError> {
        self.compile(name, data)?.pdf()
    }

    /// Compiles every document against the sample data of its kind; one
    /// outcome per document, errors included (nothing stops at the first).
    pub fn check(&self) -> Result<Vec<CheckOutcome>, FormsError> {
        Ok(self
            .templates()?
            .into_iter()
            .map(|template| {
                let result = match template.kind {
                    None => Err(self.kind_error(&template)),
                    Some(kind) => {
                        let sample = sample_for(kind, &template.name);
                        self.compile(&template.name, &sample).and_then(|compiled| {
                            compiled.pdf()?;
                            Ok(compiled)
                        })
                    }
                };
                CheckOutcome { template, result }
            })
            .collect())
    }

    fn find(&self, name: &str) -> Result<TemplateInfo, FormsError> {
        let list = self.templates()?;
        match list.iter().find(|t| t.name == name) {
            Some(template) => Ok(template.clone()),
            None => Err(FormsError::UnknownTemplate {
                name: name.to_owned(),
                known: list
                    .iter()
                    .map(|t| t.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        }
    }

    fn kind_error(&self, template: &TemplateInfo) -> FormsError {
        let path = match &template.origin {
            Origin::User(path) => path.clone(),
            Origin::BuiltIn => PathBuf::from(format!("<built-in>/{}.typ", template.name)),
        };
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        match templates::header(&text).0 {
            Some(Err(message)) => FormsError::BadKind { path, message },
            _ => FormsError::UnknownKind { path },
        }
    }
}

/// The result of checking one template.
#[derive(Debug)]
pub struct CheckOutcome {
    pub template: TemplateInfo,
    pub result: Result<Compiled, FormsError>,
}

/// A compiled document, ready to export to PDF or to preview as images.
#[derive(Debug)]
pub struct Compiled {
    name: String,
    origin: Origin,
    document: PagedDocument,
    warnings: Vec<Diagnostic>,
}

impl Compiled {
    /// The document's name (its template's).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the built-in or a user template made it.
    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    /// The compiler's warnings (unknown font, ...), located in the templates.
    pub fn warnings(&self) -> &[Diagnostic] {
        &self.warnings
    }

    /// The number of pages.
    pub fn page_count(&self) -> usize {
        self.document.pages().len()
    }

    /// The PDF bytes.
    pub fn pdf(&self) -> Result<Vec<u8>, FormsError> {
        typst_pdf::pdf(&self.document, &typst_pdf::PdfOptions::default()).map_err(|errors| {
            FormsError::Export(
                errors
                    .iter()
                    .map(|e| e.message.to_string())
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        })
    }

    /// Page `page` (from 0) as an image, `pixel_per_pt` pixels per point
    /// (1 pt = 1/72 inch; 2.0 is 144 dpi).
    pub fn image(&self, page: usize, pixel_per_pt: f32) -> Result<PageImage, FormsError> {
        let pages = self.document.pages();
        let Some(page_ref) = pages.get(page) else {
            return Err(FormsError::NoSuchPage {
                page,
                count: pages.len(),
            });
        };
        let options = typst_render::RenderOptions {
            pixel_per_pt: f64::from(pixel_per_pt).into(),
            ..Default::default()
        };
        let pixmap = typst_render::render(page_ref, &options);
        Ok(PageImage {
            width: pixmap.width(),
            height: pixmap.height(),
            png: pixmap
                .encode_png()
                .map_err(|e| FormsError::Export(e.to_string()))?,
            rgba: pixmap.data().to_vec(),
        })
    }
}

/// One rendered page, for a preview.
#[derive(Debug, Clone)]
pub struct PageImage {
    pub width: u32,
    pub height: u32,
    /// Premultiplied RGBA, row by row (what `egui::ColorImage::from_rgba_premultiplied` takes).
    pub rgba: Vec<u8>,
    /// The same page as a PNG file.
    pub png: Vec<u8>,
}

/// The string to print as a QR code, if the data has one.
fn qr_payload(data: &serde_json::Value) -> Option<&str> {
    ["/bulletin/qr_payload", "/receipt/qr_payload", "/qr_payload"]
        .iter()
        .find_map(|pointer| data.pointer(pointer).and_then(|v| v.as_str()))
        .filter(|s| !s.is_empty())
}

/// The size of the fonts embedded in the program, in bytes.
pub fn embedded_font_bytes() -> usize {
    typst_assets::fonts().map(<[u8]>::len).sum()
}

/// Reads a letterhead file (TOML, the fields of [`Letterhead`]).
pub fn load_letterhead(path: &Path) -> Result<Letterhead, FormsError> {
    let text = std::fs::read_to_string(path).map_err(|source| FormsError::Io {
        path: path.to_owned(),
        source,
    })?;
    Letterhead::from_toml(&text).map_err(|message| FormsError::Letterhead {
        path: path.to_owned(),
        message,
    })
}

/// Turns a compiler message into one located by file, line and column.
fn diagnostic(world: &FormsWorld, d: &SourceDiagnostic) -> Diagnostic {
    let (file, line, column, excerpt) = locate(world, d.span);
    Diagnostic {
        is_error: d.severity == Severity::Error,
        file,
        line,
        column,
        excerpt,
        message: d.message.to_string(),
        hints: d.hints.iter().map(|h| h.v.to_string()).collect(),
        trace: d
            .trace
            .iter()
            .map(|point| {
                let (file, line, column, _) = locate(world, point.span.into());
                match (file, line, column) {
                    (Some(f), Some(l), Some(c)) => format!("at {f}:{l}:{c}: {}", point.v),
                    _ => format!("{}", point.v),
                }
            })
            .collect(),
    }
}

type Location = (Option<String>, Option<usize>, Option<usize>, Option<String>);

fn locate(world: &FormsWorld, span: typst::syntax::DiagSpan) -> Location {
    let Some(id) = span.id() else {
        return (None, None, None, None);
    };
    let file = Some(world.display_name(id));
    let (Some(range), Ok(bytes)) = (world.range(span), world.file(id)) else {
        return (file, None, None, None);
    };
    let text = String::from_utf8_lossy(bytes.as_slice());
    let start = range.start.min(text.len());
    let before = text.get(..start).unwrap_or_default();
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    let excerpt = text[line_start..]
        .lines()
        .next()
        .map(|l| l.trim().chars().take(120).collect::<String>());
    (file, Some(line), Some(column), excerpt)
}
