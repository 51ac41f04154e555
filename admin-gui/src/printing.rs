//! Printing, off the UI thread: a thread of its own renders documents with `forms` (the same
//! templates as `xmjuris print`; the court's folder of templates when the workstation has one),
//! writes PDF files and sends them to the printer. Like the database thread, it takes jobs over
//! a channel, each with a tag, and answers over another followed by `ctx.request_repaint()`.
//!
//! Printing sends the PDF to the system's spooler: `lp` on Linux (CUPS; the workstation's
//! printer, or the default one), reading the document on its standard input. On Windows the
//! PDF is written to a temporary file and handed to the program registered to print PDF files
//! (`Start-Process -Verb Print`), which prints it on the default printer — not tested on
//! Windows yet.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc;

use forms::{Forms, Lang, Origin, PageImage};
use serde_json::Value;

/// Pixels per point of the preview's pages (1 pt = 1/72 inch): 1.5 is 108 dpi, an A4 page of
/// 893 × 1263 pixels, sharp at the preview's size.
pub const PREVIEW_SCALE: f32 = 1.5;

/// What the printing thread is asked.
#[derive(Debug, Clone)]
pub enum Job {
    /// Render a document: its data, its template (`None`: `bulletin-<number>` of the data), in
    /// this language, with the templates of `forms_dir` when given.
    Render {
        template: Option<String>,
        lang: Lang,
        data: Value,
        forms_dir: Option<PathBuf>,
    },
    /// Write the PDF to this file.
    Save { pdf: Arc<Vec<u8>>, path: PathBuf },
    /// Send the PDF to the printer (`None`: the default one).
    Print {
        pdf: Arc<Vec<u8>>,
        printer: Option<String>,
        title: String,
    },
}

/// A rendered document.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// The template that made it (`fiche-en`...).
    pub template: String,
    pub origin: Origin,
    pub pages: Vec<PageImage>,
    pub pdf: Arc<Vec<u8>>,
    /// The court's template failed and the built-in one printed: its error, for the user.
    pub court_template_error: Option<String>,
    /// The compiler's warnings.
    pub warnings: Vec<String>,
}

/// What comes back.
#[derive(Debug, Clone)]
pub enum Outcome {
    Rendered(Result<Rendered, String>),
    Saved(Result<PathBuf, String>),
    /// The spooler's answer (its job id), or why printing failed.
    Printed(Result<String, String>),
}

/// The UI's handle on the printing thread.
pub struct Printing {
    jobs: mpsc::Sender<(u64, Job)>,
    outcomes: mpsc::Receiver<(u64, Outcome)>,
    next_tag: u64,
}

impl Printing {
    /// Starts the thread; `ctx` is woken when a job is done.
    pub fn start(ctx: egui::Context) -> Printing {
        let (job_tx, job_rx) = mpsc::channel::<(u64, Job)>();
        let (out_tx, out_rx) = mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name("xmjuris-print".into())
            .spawn(move || {
                let mut cache: Option<(Option<PathBuf>, Forms)> = None;
                for (tag, job) in job_rx {
                    let outcome = run(job, &mut cache);
                    if out_tx.send((tag, outcome)).is_err() {
                        return;
                    }
                    ctx.request_repaint();
                }
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "Cannot start the printing thread.");
        }
        Printing {
            jobs: job_tx,
            outcomes: out_rx,
            next_tag: 1,
        }
    }

    /// Sends a job; its tag comes back with its outcome.
    pub fn send(&mut self, job: Job) -> u64 {
        let tag = self.next_tag;
        self.next_tag += 1;
        if self.jobs.send((tag, job)).is_err() {
            tracing::error!("The printing thread has stopped.");
        }
        tag
    }

    /// The outcomes that arrived since the last call.
    pub fn poll(&self) -> Vec<(u64, Outcome)> {
        self.outcomes.try_iter().collect()
    }
}

/// The court's language of documents (`language` in the folder's letterhead.toml), if any.
pub fn court_language(forms_dir: Option<&Path>) -> Option<Lang> {
    forms_dir
        .and_then(|dir| Forms::with_user_dir(dir).ok())
        .and_then(|f| f.language())
}

fn forms_for(
    dir: Option<PathBuf>,
    cache: &mut Option<(Option<PathBuf>, Forms)>,
) -> Result<&Forms, String> {
    let fresh = !matches!(cache, Some((d, _)) if *d == dir);
    if fresh {
        let forms = match &dir {
            Some(d) => Forms::with_user_dir(d).map_err(|e| e.to_string())?,
            None => Forms::builtin(),
        };
        *cache = Some((dir, forms));
    }
    match cache {
        Some((_, forms)) => Ok(forms),
        None => Err("no forms".into()),
    }
}

fn run(job: Job, cache: &mut Option<(Option<PathBuf>, Forms)>) -> Outcome {
    match job {
        Job::Render {
            template,
            lang,
            data,
            forms_dir,
        } => Outcome::Rendered(render(template, lang, &data, forms_dir, cache)),
        Job::Save { pdf, path } => Outcome::Saved(
            crate::config::write_atomically(&path, &pdf)
                .map(|()| path.clone())
                .map_err(|e| format!("{} : {e}", path.display())),
        ),
        Job::Print {
            pdf,
            printer,
            title,
        } => Outcome::Printed(print(&pdf, printer.as_deref(), &title)),
    }
}

fn render(
    template: Option<String>,
    lang: Lang,
    data: &Value,
    forms_dir: Option<PathBuf>,
    cache: &mut Option<(Option<PathBuf>, Forms)>,
) -> Result<Rendered, String> {
    let forms = forms_for(forms_dir, cache)?;
    let base = match template {
        Some(t) => t,
        None => {
            let number = data
                .pointer("/bulletin/number")
                .and_then(Value::as_u64)
                .ok_or("le bulletin n'a pas de numéro (1, 2 ou 3)")?;
            format!("bulletin-{number}")
        }
    };
    let name = forms.localized(&base, lang).map_err(|e| e.to_string())?;
    let (compiled, court_error) = forms
        .compile_or_builtin(&name, data)
        .map_err(|e| e.to_string())?;
    let pdf = Arc::new(compiled.pdf().map_err(|e| e.to_string())?);
    let pages = (0..compiled.page_count())
        .map(|p| compiled.image(p, PREVIEW_SCALE))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    tracing::debug!(template = %name, pages = pages.len(), "Document rendered.");
    Ok(Rendered {
        template: name,
        origin: compiled.origin().clone(),
        pages,
        pdf,
        court_template_error: court_error.map(|e| e.to_string()),
        warnings: compiled.warnings().iter().map(|w| w.to_string()).collect(),
    })
}

#[cfg(not(windows))]
fn print(pdf: &[u8], printer: Option<&str>, title: &str) -> Result<String, String> {
    use std::io::Write as _;
    use std::process::{Command, Stdio};
    let mut cmd = Command::new("lp");
    if let Some(p) = printer.filter(|p| !p.trim().is_empty()) {
        cmd.args(["-d", p.trim()]);
    }
    cmd.args(["-t", title]);
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("lp : {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(pdf).map_err(|e| format!("lp : {e}"))?;
    }
    let out = child.wait_with_output().map_err(|e| format!("lp : {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
    }
}

#[cfg(windows)]
fn print(pdf: &[u8], _printer: Option<&str>, title: &str) -> Result<String, String> {
    let safe: String = title
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == '-')
        .collect();
    let path = std::env::temp_dir().join(format!("xmjuris-{safe}-{}.pdf", std::process::id()));
    std::fs::write(&path, pdf).map_err(|e| format!("{} : {e}", path.display()))?;
    let status = std::process::Command::new("powershell")
        .args(["-NoProfile", "-Command", "Start-Process", "-FilePath"])
        .arg(&path)
        .args(["-Verb", "Print"])
        .status()
        .map_err(|e| format!("powershell : {e}"))?;
    if status.success() {
        Ok(path.display().to_string())
    } else {
        Err(format!("powershell : {status}"))
    }
}
