//! Impression: a preview of the printed page before printing it or saving the PDF, for a
//! fiche, the list of the court's fiches over a period, a bulletin received from the CJN and a
//! CJN receipt; in French or English; with the court's own templates when the workstation has
//! their folder. The data is read by the database thread through `forms::court` (what
//! `xmjuris print` reads), the page rendered by the printing thread ([`crate::printing`]):
//! nothing of it runs on the UI thread.

use std::path::PathBuf;

use egui::{RichText, TextureHandle, Ui};

use crate::backend::{Failure, Reply, Request};
use crate::config::PrintSettings;
use crate::dates::{self, DateInput};
use crate::i18n::Tr;
use crate::printing::{Job, Outcome, Printing, Rendered};
use crate::queries::DocumentSource;
use crate::screens::Env;
use crate::theme::{self, spacing};
use crate::widgets::{self, BannerKind, FieldOpts};

/// The kinds of documents the screen prints.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum DocKind {
    #[default]
    Fiche,
    FicheList,
    Bulletin,
    Receipt,
}

impl DocKind {
    pub const ALL: [DocKind; 4] = [
        DocKind::Fiche,
        DocKind::FicheList,
        DocKind::Bulletin,
        DocKind::Receipt,
    ];

    fn key(self) -> &'static str {
        match self {
            DocKind::Fiche => "impression.kind.fiche",
            DocKind::FicheList => "impression.kind.list",
            DocKind::Bulletin => "impression.kind.bulletin",
            DocKind::Receipt => "impression.kind.receipt",
        }
    }
}

/// The state of the Impression screen.
#[derive(Default)]
pub struct ImpressionScreen {
    pub kind: DocKind,
    /// A fiche: its NIU or its number.
    pub fiche: String,
    pub from: String,
    pub to: String,
    /// A bulletin: the request's number.
    pub request: String,
    /// A receipt: the message's number.
    pub message: String,
    pub lang: forms::Lang,
    /// The court's folder of templates, as typed (applied to the workstation on "Appliquer").
    pub forms_dir: String,
    pub printer: String,
    pub save_path: String,
    /// What is previewed.
    pub source: Option<DocumentSource>,
    pub rendered: Option<Rendered>,
    pub page: usize,
    /// Refusals and failures, by field (`""` for the screen).
    pub error: Option<(Option<String>, String)>,
    textures: Vec<TextureHandle>,
    doc_tag: Option<u64>,
    render_tag: Option<u64>,
    save_tag: Option<u64>,
    print_tag: Option<u64>,
    started: bool,
}

impl std::fmt::Debug for ImpressionScreen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImpressionScreen")
            .field("kind", &self.kind)
            .field("source", &self.source)
            .field("page", &self.page)
            .finish_non_exhaustive()
    }
}

impl ImpressionScreen {
    /// Takes the workstation's settings and the language of documents: the court's (its
    /// letterhead file) if it set one, else the interface's.
    pub fn start(&mut self, settings: &PrintSettings, app_lang: crate::i18n::Lang) {
        if self.started {
            return;
        }
        self.started = true;
        self.forms_dir = settings
            .forms_dir
            .as_ref()
            .map(|d| d.display().to_string())
            .unwrap_or_default();
        self.printer = settings.printer.clone().unwrap_or_default();
        self.lang = crate::printing::court_language(settings.forms_dir.as_deref()).unwrap_or(
            match app_lang {
                crate::i18n::Lang::Fr => forms::Lang::Fr,
                crate::i18n::Lang::En => forms::Lang::En,
            },
        );
    }

    /// True while the data is read or the page rendered.
    pub fn busy(&self) -> bool {
        self.doc_tag.is_some() || self.render_tag.is_some()
    }

    /// Opens the preview of a document (from another screen's "Imprimer").
    pub fn preview(&mut self, source: DocumentSource, env: &mut Env<'_>) {
        match &source {
            DocumentSource::Fiche(_) | DocumentSource::FicheTyped(_) => self.kind = DocKind::Fiche,
            DocumentSource::FicheList { from, to } => {
                self.kind = DocKind::FicheList;
                self.from = dates::format(*from);
                self.to = dates::format(*to);
            }
            DocumentSource::Extract(id) => {
                self.kind = DocKind::Bulletin;
                self.request = id.to_string();
            }
            DocumentSource::Receipt(seq) => {
                self.kind = DocKind::Receipt;
                self.message = seq.to_string();
            }
        }
        if let DocumentSource::FicheTyped(t) = &source {
            self.fiche = t.clone();
        }
        self.error = None;
        self.source = Some(source.clone());
        self.render_tag = None;
        self.doc_tag = Some(env.backend.send(Request::Document(source)));
    }

    /// The document the fields describe, or the field in error.
    fn typed_source(&self, tr: &Tr) -> Result<DocumentSource, (Option<String>, String)> {
        let need = |field: &str| {
            (
                Some(field.to_owned()),
                tr.t("impression.required").to_owned(),
            )
        };
        match self.kind {
            DocKind::Fiche => {
                if self.fiche.trim().is_empty() {
                    // The fiche opened from Saisie stays the one shown.
                    return match &self.source {
                        Some(s @ DocumentSource::Fiche(_)) => Ok(s.clone()),
                        _ => Err(need("fiche")),
                    };
                }
                Ok(DocumentSource::FicheTyped(self.fiche.trim().to_owned()))
            }
            DocKind::FicheList => {
                let date = |s: &str, field: &str| match dates::parse(s) {
                    DateInput::Valid(d) => Ok(d),
                    DateInput::Empty => Err(need(field)),
                    _ => Err((Some(field.to_owned()), tr.t("date.impossible").to_owned())),
                };
                Ok(DocumentSource::FicheList {
                    from: date(&self.from, "from")?,
                    to: date(&self.to, "to")?,
                })
            }
            DocKind::Bulletin => self
                .request
                .trim()
                .parse()
                .map(DocumentSource::Extract)
                .map_err(|_| need("request")),
            DocKind::Receipt => self
                .message
                .trim()
                .parse()
                .map(DocumentSource::Receipt)
                .map_err(|_| need("message")),
        }
    }

    /// Takes the database's answer: the document's data, rendered next.
    pub fn on_reply(&mut self, tag: u64, reply: Reply, env: &mut Env<'_>, printing: &mut Printing) {
        let Reply::Document(result) = reply else {
            return;
        };
        if self.doc_tag != Some(tag) {
            return;
        }
        self.doc_tag = None;
        match result {
            Ok(data) => {
                let template = self
                    .source
                    .as_ref()
                    .and_then(|s| s.template())
                    .map(str::to_owned);
                self.render_tag = Some(printing.send(Job::Render {
                    template,
                    lang: self.lang,
                    data,
                    forms_dir: self.forms_dir_path(),
                }));
            }
            Err(Failure::Refused { message, field, .. }) => {
                let field = field.map(|f| match f.as_str() {
                    "seq" => "message".to_owned(),
                    "niu" | "id" => "fiche".to_owned(),
                    _ => f,
                });
                self.error = Some((field, message));
            }
            Err(Failure::Lost) => self.error = Some((None, env.tr.t("saisie.lost").to_owned())),
            Err(Failure::Other(d)) => self.error = Some((None, d)),
        }
    }

    /// Takes the printing thread's outcome.
    pub fn on_outcome(
        &mut self,
        tag: u64,
        outcome: Outcome,
        ctx: &egui::Context,
        env: &mut Env<'_>,
    ) {
        let tr = env.tr;
        match outcome {
            Outcome::Rendered(result) if self.render_tag == Some(tag) => {
                self.render_tag = None;
                match result {
                    Ok(r) => {
                        self.textures = r
                            .pages
                            .iter()
                            .enumerate()
                            .map(|(i, p)| {
                                let image = egui::ColorImage::from_rgba_premultiplied(
                                    [p.width as usize, p.height as usize],
                                    &p.rgba,
                                );
                                ctx.load_texture(
                                    format!("preview-{tag}-{i}"),
                                    image,
                                    egui::TextureOptions::LINEAR,
                                )
                            })
                            .collect();
                        self.page = 0;
                        self.save_path = self.default_path(&r);
                        self.rendered = Some(r);
                    }
                    Err(e) => self.error = Some((None, e)),
                }
            }
            Outcome::Saved(result) if self.save_tag == Some(tag) => {
                self.save_tag = None;
                match result {
                    Ok(path) => env.toasts.success(
                        tr.f("impression.saved", &[("path", &path.display().to_string())]),
                    ),
                    Err(e) => self.error = Some((Some("save_path".into()), e)),
                }
            }
            Outcome::Printed(result) if self.print_tag == Some(tag) => {
                self.print_tag = None;
                match result {
                    Ok(job) => env
                        .toasts
                        .success(tr.f("impression.printed", &[("job", &job)])),
                    Err(e) => {
                        self.error = Some((None, tr.f("impression.print_failed", &[("error", &e)])))
                    }
                }
            }
            _ => {}
        }
    }

    fn forms_dir_path(&self) -> Option<PathBuf> {
        let t = self.forms_dir.trim();
        (!t.is_empty()).then(|| PathBuf::from(t))
    }

    fn default_path(&self, r: &Rendered) -> String {
        let dir = dirs::document_dir()
            .or_else(dirs::home_dir)
            .unwrap_or_else(std::env::temp_dir);
        let id = match &self.source {
            Some(DocumentSource::Fiche(id)) => id.to_string(),
            Some(DocumentSource::FicheTyped(t)) => t.clone(),
            Some(DocumentSource::FicheList { from, to }) => {
                format!("{}_{}", dates::iso(*from), dates::iso(*to))
            }
            Some(DocumentSource::Extract(id)) | Some(DocumentSource::Receipt(id)) => id.to_string(),
            None => String::new(),
        };
        dir.join(format!("{}-{id}.pdf", r.template))
            .display()
            .to_string()
    }

    /// Draws the screen; `settings` are the workstation's, changed here and saved by the app.
    pub fn show(
        &mut self,
        ui: &mut Ui,
        env: &mut Env<'_>,
        printing: &mut Printing,
        settings: &mut PrintSettings,
    ) -> bool {
        let mut settings_changed = false;
        egui::CentralPanel::default()
            .frame(egui::Frame::new().inner_margin(egui::Margin::same(16)))
            .show(ui, |ui| {
                let full = ui.available_height();
                ui.horizontal_top(|ui| {
                    ui.allocate_ui_with_layout(
                        egui::vec2(400.0, full),
                        egui::Layout::top_down(egui::Align::Min),
                        |ui| {
                            theme::card().show(ui, |ui| {
                                ui.set_width(400.0 - 2.0 * spacing::SECTION_INNER);
                                ui.set_min_height(
                                    (full - 2.0 * spacing::SECTION_INNER - 2.0).max(0.0),
                                );
                                settings_changed = self.controls(ui, env, printing, settings);
                            });
                        },
                    );
                    ui.add_space(spacing::SECTION_GAP - 8.0);
                    theme::card().show(ui, |ui| {
                        ui.set_width(ui.available_width());
                        ui.set_min_height((full - 2.0 * spacing::SECTION_INNER - 2.0).max(0.0));
                        self.preview_area(ui, env.tr);
                    });
                });
            });
        settings_changed
    }

    fn controls(
        &mut self,
        ui: &mut Ui,
        env: &mut Env<'_>,
        printing: &mut Printing,
        settings: &mut PrintSettings,
    ) -> bool {
        let tr = env.tr;
        let mut changed = false;
        widgets::section_title(ui, tr.t("impression.document"));
        let error = self.error.clone();
        let err = |field: &str| match &error {
            Some((Some(f), m)) if f == field => Some(m.clone()),
            _ => None,
        };
        let lw = 130.0;
        let fw = 220.0;
        let mut go = false;
        egui::Grid::new("print_choice")
            .num_columns(2)
            .spacing([10.0, 8.0])
            .show(ui, |ui| {
                let l = widgets::label_cell(ui, tr.t("impression.kind_label"), lw);
                let kinds: Vec<(String, String)> = DocKind::ALL
                    .iter()
                    .map(|k| (format!("{k:?}"), tr.t(k.key()).to_owned()))
                    .collect();
                let mut kind = Some(format!("{:?}", self.kind));
                let r = widgets::combo_field(
                    ui,
                    "print_kind",
                    l,
                    &mut kind,
                    &kinds,
                    tr.t("extraits.choose"),
                    FieldOpts {
                        width: fw,
                        editable: true,
                        error: None,
                    },
                );
                if r.changed()
                    && let Some(k) = DocKind::ALL
                        .into_iter()
                        .find(|k| Some(format!("{k:?}")) == kind)
                {
                    self.kind = k;
                    self.error = None;
                }
                ui.end_row();
                let field_err = match self.kind {
                    DocKind::Fiche => err("fiche"),
                    DocKind::FicheList => err("from"),
                    DocKind::Bulletin => err("request"),
                    DocKind::Receipt => err("message"),
                };
                match self.kind {
                    DocKind::Fiche => {
                        let l = widgets::label_cell(ui, tr.t("impression.fiche"), lw);
                        let r = widgets::text_field(
                            ui,
                            l,
                            &mut self.fiche,
                            FieldOpts {
                                width: fw,
                                editable: true,
                                error: field_err.as_deref(),
                            },
                        );
                        go |= entered(ui, &r);
                        ui.end_row();
                    }
                    DocKind::FicheList => {
                        let l = widgets::label_cell(ui, tr.t("impression.from"), lw);
                        let r = widgets::date_field(
                            ui,
                            tr,
                            l,
                            &mut self.from,
                            FieldOpts {
                                width: fw,
                                editable: true,
                                error: field_err.as_deref(),
                            },
                        );
                        go |= entered(ui, &r);
                        ui.end_row();
                        let to_err = err("to");
                        let l = widgets::label_cell(ui, tr.t("impression.to"), lw);
                        let r = widgets::date_field(
                            ui,
                            tr,
                            l,
                            &mut self.to,
                            FieldOpts {
                                width: fw,
                                editable: true,
                                error: to_err.as_deref(),
                            },
                        );
                        go |= entered(ui, &r);
                        ui.end_row();
                    }
                    DocKind::Bulletin => {
                        let l = widgets::label_cell(ui, tr.t("impression.request"), lw);
                        let r = widgets::number_field(
                            ui,
                            l,
                            &mut self.request,
                            FieldOpts {
                                width: fw,
                                editable: true,
                                error: field_err.as_deref(),
                            },
                        );
                        go |= entered(ui, &r);
                        ui.end_row();
                    }
                    DocKind::Receipt => {
                        let l = widgets::label_cell(ui, tr.t("impression.message"), lw);
                        let r = widgets::number_field(
                            ui,
                            l,
                            &mut self.message,
                            FieldOpts {
                                width: fw,
                                editable: true,
                                error: field_err.as_deref(),
                            },
                        );
                        go |= entered(ui, &r);
                        ui.end_row();
                    }
                }
                let l = widgets::label_cell(ui, tr.t("impression.lang"), lw);
                let langs: Vec<(String, String)> = forms::Lang::ALL
                    .iter()
                    .map(|l| {
                        (
                            l.code().to_owned(),
                            match l {
                                forms::Lang::Fr => "Français".to_owned(),
                                forms::Lang::En => "English".to_owned(),
                            },
                        )
                    })
                    .collect();
                let mut lang = Some(self.lang.code().to_owned());
                let r = widgets::combo_field(
                    ui,
                    "print_lang",
                    l,
                    &mut lang,
                    &langs,
                    tr.t("extraits.choose"),
                    FieldOpts {
                        width: fw,
                        editable: true,
                        error: None,
                    },
                );
                if r.changed()
                    && let Some(l) = lang.and_then(|l| l.parse().ok())
                {
                    self.lang = l;
                    // The page shown follows the language chosen.
                    if self.source.is_some() && !self.busy() {
                        go = true;
                    }
                }
                ui.end_row();
            });
        ui.add_space(8.0);
        ui.horizontal(|ui| {
            go |= widgets::primary_button(ui, !self.busy(), tr.t("impression.preview")).clicked();
            if self.busy() {
                ui.spinner();
            }
        });
        if go && !self.busy() {
            match self.typed_source(tr) {
                Ok(source) => self.preview(source, env),
                Err(e) => self.error = Some(e),
            }
        }
        if let Some((None, message)) = &self.error {
            ui.add_space(6.0);
            widgets::banner(ui, BannerKind::Error, message);
        }

        // Saving and printing what is shown.
        ui.add_space(spacing::SECTION_GAP);
        ui.separator();
        widgets::section_title(ui, tr.t("impression.output"));
        let ready = self.rendered.is_some() && !self.busy();
        let save_err = err("save_path");
        egui::Grid::new("print_output")
            .num_columns(2)
            .spacing([10.0, 8.0])
            .show(ui, |ui| {
                let l = widgets::label_cell(ui, tr.t("impression.save_path"), lw);
                widgets::text_field(
                    ui,
                    l,
                    &mut self.save_path,
                    FieldOpts {
                        width: fw,
                        editable: true,
                        error: save_err.as_deref(),
                    },
                );
                ui.end_row();
                let l = widgets::label_cell(ui, tr.t("impression.printer"), lw);
                let r = widgets::text_field(
                    ui,
                    l,
                    &mut self.printer,
                    FieldOpts {
                        width: fw,
                        editable: true,
                        error: None,
                    },
                );
                if r.lost_focus() {
                    let p = self.printer.trim();
                    let p = (!p.is_empty()).then(|| p.to_owned());
                    if settings.printer != p {
                        settings.printer = p;
                        changed = true;
                    }
                }
                ui.end_row();
            });
        ui.horizontal(|ui| {
            if widgets::action_button(
                ui,
                ready && self.save_tag.is_none(),
                tr.t("impression.save"),
            )
            .clicked()
                && let Some(r) = &self.rendered
            {
                let path = PathBuf::from(self.save_path.trim());
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    let dir = dir.to_owned();
                    if settings.save_dir.as_ref() != Some(&dir) {
                        settings.save_dir = Some(dir);
                        changed = true;
                    }
                }
                self.error = None;
                self.save_tag = Some(printing.send(Job::Save {
                    pdf: r.pdf.clone(),
                    path,
                }));
            }
            if widgets::action_button(
                ui,
                ready && self.print_tag.is_none(),
                tr.t("impression.print"),
            )
            .on_hover_text(tr.t("impression.print_hint"))
            .clicked()
                && let Some(r) = &self.rendered
            {
                self.error = None;
                self.print_tag = Some(printing.send(Job::Print {
                    pdf: r.pdf.clone(),
                    printer: settings.printer.clone(),
                    title: format!("XMJuris {}", r.template),
                }));
            }
        });

        // The court's templates.
        ui.add_space(spacing::SECTION_GAP);
        ui.separator();
        widgets::section_title(ui, tr.t("impression.templates"));
        ui.horizontal(|ui| {
            let l = widgets::label_cell(ui, tr.t("impression.forms_dir"), lw);
            widgets::text_field(
                ui,
                l,
                &mut self.forms_dir,
                FieldOpts {
                    width: fw - 90.0,
                    editable: true,
                    error: err("forms_dir").as_deref(),
                },
            );
            if widgets::action_button(ui, true, tr.t("impression.apply")).clicked() {
                let dir = self.forms_dir_path();
                match &dir {
                    Some(d) if !d.is_dir() => {
                        self.error = Some((
                            Some("forms_dir".into()),
                            tr.t("impression.not_a_folder").to_owned(),
                        ));
                    }
                    _ => {
                        self.error = None;
                        if let Some(l) = crate::printing::court_language(dir.as_deref()) {
                            self.lang = l;
                        }
                        if settings.forms_dir != dir {
                            settings.forms_dir = dir;
                            changed = true;
                        }
                    }
                }
            }
        });
        let origin = match self.rendered.as_ref().map(|r| &r.origin) {
            Some(forms::Origin::User(path)) => tr.f(
                "impression.origin_court",
                &[("path", &path.display().to_string())],
            ),
            Some(forms::Origin::BuiltIn) => tr.t("impression.origin_builtin").to_owned(),
            None if self.forms_dir.trim().is_empty() => tr.t("impression.no_folder").to_owned(),
            None => String::new(),
        };
        ui.add(egui::Label::new(RichText::new(origin).color(theme::TEXT_MUTED).size(12.5)).wrap());
        if let Some(e) = self
            .rendered
            .as_ref()
            .and_then(|r| r.court_template_error.as_ref())
        {
            ui.add_space(4.0);
            widgets::banner_with_detail(
                ui,
                BannerKind::Warning,
                tr.t("impression.court_template_failed"),
                Some(e),
            );
        }
        changed
    }

    fn preview_area(&mut self, ui: &mut Ui, tr: &Tr) {
        ui.horizontal(|ui| {
            let title = match &self.rendered {
                Some(r) => tr.f("impression.preview_of", &[("template", &r.template)]),
                None => tr.t("impression.preview_title").to_owned(),
            };
            widgets::section_title(ui, &title);
            let pages = self.textures.len();
            if pages > 1 {
                ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                    if widgets::action_button(
                        ui,
                        self.page + 1 < pages,
                        tr.t("impression.next_page"),
                    )
                    .clicked()
                    {
                        self.page += 1;
                    }
                    ui.label(tr.f(
                        "impression.page",
                        &[
                            ("page", &(self.page + 1).to_string()),
                            ("pages", &pages.to_string()),
                        ],
                    ));
                    if widgets::action_button(ui, self.page > 0, tr.t("impression.previous_page"))
                        .clicked()
                    {
                        self.page -= 1;
                    }
                });
            }
        });
        let Some(texture) = self.textures.get(self.page) else {
            ui.add_space(30.0);
            ui.vertical_centered(|ui| {
                if self.busy() {
                    ui.spinner();
                    ui.label(RichText::new(tr.t("impression.rendering")).color(theme::TEXT_MUTED));
                } else {
                    ui.label(RichText::new(tr.t("impression.hint")).color(theme::TEXT_MUTED));
                }
            });
            return;
        };
        let size = texture.size_vec2();
        egui::ScrollArea::both()
            .id_salt("print_preview")
            .auto_shrink([false, false])
            .show(ui, |ui| {
                let width = (ui.available_width() - 24.0).min(size.x).max(200.0);
                let scaled = egui::vec2(width, size.y * width / size.x);
                ui.vertical_centered(|ui| {
                    egui::Frame::new()
                        .stroke(egui::Stroke::new(1.0, theme::BORDER))
                        .shadow(egui::Shadow {
                            offset: [0, 2],
                            blur: 8,
                            spread: 0,
                            color: egui::Color32::from_black_alpha(30),
                        })
                        .show(ui, |ui| {
                            ui.add(
                                egui::Image::new((texture.id(), scaled))
                                    .alt_text(tr.t("impression.page_image")),
                            );
                        });
                });
            });
    }
}

fn entered(ui: &Ui, r: &egui::Response) -> bool {
    r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter))
}
