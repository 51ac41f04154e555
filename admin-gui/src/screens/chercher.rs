//! Chercher: fiches by NIU, référence, names (spelling variants and any word order, as the
//! database searches them), birth date and status; a results table that sorts and pages; a
//! fiche opened from it in Saisie; its history and the proof that the audit chain is intact.

use egui::{RichText, Ui};
use egui_extras::{Column, TableBuilder};

use crate::backend::{AuditCheck, Failure, HistoryRow, Reply, Request, SearchCriteria, SearchRow};
use crate::dates::{self, DateInput};
use crate::i18n::Tr;
use crate::screens::saisie::{format_niu, status_text};
use crate::screens::{Env, Goto};
use crate::theme::{self, spacing};
use crate::widgets::{self, BannerKind, FieldOpts};

/// Rows per page of results.
pub const PAGE_SIZE: usize = 25;
/// At most this many fiches are fetched for one search.
pub const MAX_ROWS: i32 = 1000;

/// A column the results can be sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    Relevance,
    Number,
    Status,
    Name,
    BirthDate,
    ConvictionDate,
}

/// The state of the Chercher screen.
#[derive(Debug)]
pub struct ChercherScreen {
    pub name: String,
    pub niu: String,
    pub reference: String,
    pub birth_date: String,
    pub status: Option<String>,
    pub rows: Vec<SearchRow>,
    /// True once a search answered (an empty table then means "nothing found").
    pub searched: bool,
    pub sort: SortKey,
    pub ascending: bool,
    pub page: usize,
    pub selected: Option<i64>,
    pub history: Vec<HistoryRow>,
    pub audit: Option<AuditCheck>,
    pub error: Option<(Option<String>, String)>,
    /// The tag of the newest search: any other search answer is stale and dropped.
    search_tag: Option<u64>,
    history_tag: Option<u64>,
    audit_tag: Option<u64>,
    focus_first: bool,
}

impl Default for ChercherScreen {
    fn default() -> Self {
        ChercherScreen {
            name: String::new(),
            niu: String::new(),
            reference: String::new(),
            birth_date: String::new(),
            status: None,
            rows: Vec::new(),
            searched: false,
            sort: SortKey::Relevance,
            ascending: false,
            page: 0,
            selected: None,
            history: Vec::new(),
            audit: None,
            error: None,
            search_tag: None,
            history_tag: None,
            audit_tag: None,
            focus_first: true,
        }
    }
}

impl ChercherScreen {
    /// The screen is opened: focus on its first field.
    pub fn opened(&mut self) {
        self.focus_first = true;
    }

    pub fn searching(&self) -> bool {
        self.search_tag.is_some()
    }

    /// Sends the search; a newer search makes the answer of this one stale.
    pub fn search(&mut self, env: &mut Env<'_>) {
        let birth_date = match dates::parse(&self.birth_date) {
            DateInput::Empty => None,
            DateInput::Valid(d) => Some(d),
            _ => {
                self.error = Some((
                    Some("birth_date".into()),
                    env.tr.t("date.impossible").to_owned(),
                ));
                return;
            }
        };
        self.error = None;
        let criteria = SearchCriteria {
            name: self.name.clone(),
            niu: self.niu.chars().filter(|c| !c.is_whitespace()).collect(),
            reference: self.reference.clone(),
            birth_date,
            status: self.status.as_deref().and_then(|s| s.parse().ok()),
            max_rows: MAX_ROWS,
        };
        self.search_tag = Some(env.backend.send(Request::Search(criteria)));
    }

    fn select(&mut self, id: i64, env: &mut Env<'_>) {
        self.selected = Some(id);
        self.history.clear();
        self.audit = None;
        self.history_tag = Some(env.backend.send(Request::History { id }));
    }

    /// Takes an answer; answers to older searches are dropped.
    pub fn on_reply(&mut self, tag: u64, reply: Reply) {
        match reply {
            Reply::Search(result) if self.search_tag == Some(tag) => {
                self.search_tag = None;
                self.searched = true;
                match result {
                    Ok(rows) => {
                        self.rows = rows;
                        self.page = 0;
                        self.sort_rows();
                    }
                    Err(f) => self.error = Some(failure_text(f)),
                }
            }
            Reply::History(result) if self.history_tag == Some(tag) => {
                self.history_tag = None;
                match result {
                    Ok(rows) => self.history = rows,
                    Err(f) => self.error = Some(failure_text(f)),
                }
            }
            Reply::Audit(result) if self.audit_tag == Some(tag) => {
                self.audit_tag = None;
                match result {
                    Ok(a) => self.audit = Some(a),
                    Err(f) => self.error = Some(failure_text(f)),
                }
            }
            _ => tracing::debug!(tag, "Stale search answer dropped."),
        }
    }

    fn sort_rows(&mut self) {
        let key = self.sort;
        self.rows.sort_by(|a, b| {
            let o = match key {
                SortKey::Relevance => a.score.total_cmp(&b.score).then(a.number.cmp(&b.number)),
                SortKey::Number => a.number.cmp(&b.number),
                SortKey::Status => a.status.cmp(&b.status),
                SortKey::Name => name_key(a).cmp(&name_key(b)),
                SortKey::BirthDate => a.birth_date.cmp(&b.birth_date),
                SortKey::ConvictionDate => a.conviction_date.cmp(&b.conviction_date),
            };
            if self.ascending { o } else { o.reverse() }
        });
    }

    fn set_sort(&mut self, key: SortKey) {
        if self.sort == key {
            self.ascending = !self.ascending;
        } else {
            self.sort = key;
            self.ascending = !matches!(key, SortKey::Relevance);
        }
        self.page = 0;
        self.sort_rows();
    }

    /// Draws the screen.
    pub fn show(&mut self, ui: &mut Ui, env: &mut Env<'_>) {
        egui::CentralPanel::default()
            .frame(egui::Frame::new().inner_margin(egui::Margin::same(16)))
            .show(ui, |ui| {
                self.criteria(ui, env);
                ui.add_space(spacing::SECTION_GAP);
                if let Some(e @ (None, _)) = &self.error {
                    widgets::banner(ui, BannerKind::Error, &failure_message(env.tr, e));
                    ui.add_space(spacing::SECTION_GAP);
                }
                let detail_h = if self.selected.is_some() { 230.0 } else { 0.0 };
                let results_h = (ui.available_height() - detail_h - 12.0).max(200.0);
                theme::card().show(ui, |ui| {
                    ui.set_width(ui.available_width());
                    ui.set_height(results_h - 2.0 * spacing::SECTION_INNER);
                    self.results(ui, env);
                });
                if self.selected.is_some() {
                    ui.add_space(spacing::SECTION_GAP);
                    theme::card().show(ui, |ui| {
                        ui.set_width(ui.available_width());
                        self.detail(ui, env);
                    });
                }
            });
    }

    fn criteria(&mut self, ui: &mut Ui, env: &mut Env<'_>) {
        let tr = env.tr;
        let mut go = false;
        theme::card().show(ui, |ui| {
            ui.set_width(ui.available_width());
            widgets::section_title(ui, tr.t("search.title"));
            let lw = 150.0;
            let fw = 230.0;
            let err = |field: &str| match &self.error {
                Some((Some(f), m)) if f == field => Some(m.clone()),
                _ => None,
            };
            let niu_err = err("niu");
            let date_err = err("birth_date");
            egui::Grid::new("search_grid")
                .num_columns(6)
                .spacing([12.0, 8.0])
                .show(ui, |ui| {
                    let l = widgets::label_cell(ui, tr.t("search.name"), lw);
                    let r = widgets::text_field(
                        ui,
                        l,
                        &mut self.name,
                        FieldOpts {
                            width: fw,
                            editable: true,
                            error: None,
                        },
                    );
                    if self.focus_first {
                        r.request_focus();
                        self.focus_first = false;
                    }
                    go |= entered(ui, &r);
                    let l = widgets::label_cell(ui, tr.t("search.niu"), lw);
                    let r = widgets::text_field(
                        ui,
                        l,
                        &mut self.niu,
                        FieldOpts {
                            width: fw,
                            editable: true,
                            error: niu_err.as_deref(),
                        },
                    );
                    go |= entered(ui, &r);
                    let l = widgets::label_cell(ui, tr.t("search.reference"), lw);
                    let r = widgets::text_field(
                        ui,
                        l,
                        &mut self.reference,
                        FieldOpts {
                            width: fw,
                            editable: true,
                            error: None,
                        },
                    );
                    go |= entered(ui, &r);
                    ui.end_row();
                    let l = widgets::label_cell(ui, tr.t("search.birth_date"), lw);
                    let r = widgets::date_field(
                        ui,
                        tr,
                        l,
                        &mut self.birth_date,
                        FieldOpts {
                            width: fw,
                            editable: true,
                            error: date_err.as_deref(),
                        },
                    );
                    go |= entered(ui, &r);
                    let l = widgets::label_cell(ui, tr.t("search.status"), lw);
                    let statuses: Vec<(String, String)> = (0..=5)
                        .map(|s| (s.to_string(), status_text(tr, s)))
                        .collect();
                    widgets::combo_field(
                        ui,
                        "search_status",
                        l,
                        &mut self.status,
                        &statuses,
                        tr.t("search.any_status"),
                        FieldOpts {
                            width: fw,
                            editable: true,
                            error: None,
                        },
                    );
                    ui.label("");
                    ui.horizontal(|ui| {
                        go |= widgets::primary_button(ui, true, tr.t("search.go")).clicked();
                        if widgets::action_button(ui, true, tr.t("search.clear")).clicked() {
                            let keep = std::mem::take(&mut self.rows);
                            drop(keep);
                            *self = ChercherScreen::default();
                        }
                        if self.searching() {
                            ui.spinner();
                        }
                    });
                    ui.end_row();
                });
        });
        if go {
            self.search(env);
        }
    }

    fn results(&mut self, ui: &mut Ui, env: &mut Env<'_>) {
        let tr = env.tr;
        ui.horizontal(|ui| {
            widgets::section_title(ui, tr.t("search.results"));
            if self.searched {
                let n = self.rows.len() as i64;
                let text = if self.rows.len() as i32 >= MAX_ROWS {
                    tr.f("search.count_max", &[("count", &tr.number(n))])
                } else {
                    tr.f("search.count", &[("count", &tr.number(n))])
                };
                ui.label(RichText::new(text).color(theme::TEXT_MUTED));
            }
        });
        if self.rows.is_empty() {
            ui.add_space(20.0);
            ui.label(
                RichText::new(if self.searched {
                    tr.t("search.none")
                } else {
                    tr.t("search.hint")
                })
                .color(theme::TEXT_MUTED),
            );
            return;
        }
        let pages = self.rows.len().div_ceil(PAGE_SIZE);
        self.page = self.page.min(pages.saturating_sub(1));
        let start = self.page * PAGE_SIZE;
        let end = (start + PAGE_SIZE).min(self.rows.len());
        let mut open = None;
        let mut select = None;
        let mut sort = None;
        let table_h = ui.available_height() - 40.0;
        // A click on a row's text selects the row, it does not start a text selection.
        ui.style_mut().interaction.selectable_labels = false;
        TableBuilder::new(ui)
            .id_salt("search_results")
            .striped(true)
            .resizable(false)
            .sense(egui::Sense::click())
            .max_scroll_height(table_h)
            .cell_layout(egui::Layout::left_to_right(egui::Align::Center))
            .column(Column::exact(70.0))
            .column(Column::exact(110.0))
            .column(Column::exact(190.0))
            .column(Column::exact(150.0))
            .column(Column::remainder().at_least(200.0))
            .column(Column::exact(120.0))
            .column(Column::exact(130.0))
            .column(Column::exact(90.0))
            .header(28.0, |mut header| {
                let heads = [
                    (Some(SortKey::Number), "search.col.number"),
                    (Some(SortKey::Status), "search.col.status"),
                    (None, "search.col.niu"),
                    (None, "search.col.reference"),
                    (Some(SortKey::Name), "search.col.name"),
                    (Some(SortKey::BirthDate), "search.col.birth_date"),
                    (Some(SortKey::ConvictionDate), "search.col.conviction_date"),
                    (None, ""),
                ];
                for (key, label) in heads {
                    header.col(|ui| {
                        let text = if label.is_empty() {
                            String::new()
                        } else {
                            tr.t(label).to_owned()
                        };
                        match key {
                            Some(k) => {
                                if ui
                                    .add(egui::Button::new(theme::bold(text, 13.5)).frame(false))
                                    .clicked()
                                {
                                    sort = Some(k);
                                }
                                if key == Some(self.sort) {
                                    sort_arrow(ui, self.ascending);
                                }
                            }
                            None => {
                                ui.label(theme::bold(text, 13.5));
                            }
                        }
                    });
                }
            })
            .body(|mut body| {
                for row in &self.rows[start..end] {
                    body.row(28.0, |mut r| {
                        r.set_selected(self.selected == Some(row.fiche_id));
                        r.col(|ui| {
                            ui.label(row.number.to_string());
                        });
                        r.col(|ui| {
                            widgets::status_chip(ui, row.status, &status_text(tr, row.status));
                        });
                        r.col(|ui| {
                            ui.label(row.niu.as_deref().map(format_niu).unwrap_or_default());
                        });
                        r.col(|ui| {
                            ui.label(row.reference.clone().unwrap_or_default());
                        });
                        r.col(|ui| {
                            ui.label(full_name(row));
                        });
                        r.col(|ui| {
                            ui.label(row.birth_date.map(dates::format).unwrap_or_default());
                        });
                        r.col(|ui| {
                            ui.label(row.conviction_date.map(dates::format).unwrap_or_default());
                        });
                        r.col(|ui| {
                            if ui.button(tr.t("search.open")).clicked() {
                                open = Some(row.fiche_id);
                            }
                        });
                        let resp = r.response();
                        if resp.double_clicked() {
                            open = Some(row.fiche_id);
                        } else if resp.clicked() {
                            select = Some(row.fiche_id);
                        }
                    });
                }
            });
        ui.add_space(6.0);
        ui.horizontal(|ui| {
            if widgets::action_button(ui, self.page > 0, tr.t("search.previous")).clicked() {
                self.page -= 1;
            }
            ui.label(tr.f(
                "search.page",
                &[
                    ("page", &(self.page + 1).to_string()),
                    ("pages", &pages.to_string()),
                ],
            ));
            if widgets::action_button(ui, self.page + 1 < pages, tr.t("search.next")).clicked() {
                self.page += 1;
            }
        });
        if let Some(k) = sort {
            self.set_sort(k);
        }
        if let Some(id) = select {
            self.select(id, env);
        }
        if let Some(id) = open {
            *env.goto = Some(Goto::OpenFiche(id));
        }
    }

    fn detail(&mut self, ui: &mut Ui, env: &mut Env<'_>) {
        let tr = env.tr;
        let Some(id) = self.selected else { return };
        let number = self
            .rows
            .iter()
            .find(|r| r.fiche_id == id)
            .map(|r| r.number.to_string())
            .unwrap_or_default();
        ui.horizontal(|ui| {
            widgets::section_title(ui, &tr.f("search.history_of", &[("number", &number)]));
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                if widgets::action_button(ui, self.audit_tag.is_none(), tr.t("search.audit_verify"))
                    .clicked()
                {
                    self.audit_tag = Some(env.backend.send(Request::AuditVerify));
                }
                if widgets::action_button(ui, true, tr.t("search.open")).clicked() {
                    *env.goto = Some(Goto::OpenFiche(id));
                }
            });
        });
        if let Some(a) = &self.audit {
            let (kind, text) = if a.ok {
                (
                    BannerKind::Success,
                    tr.f("search.audit_ok", &[("rows", &tr.number(a.rows_checked))]),
                )
            } else {
                (
                    BannerKind::Error,
                    tr.f(
                        "search.audit_broken",
                        &[
                            (
                                "seq",
                                &a.first_broken_seq
                                    .map(|s| s.to_string())
                                    .unwrap_or_default(),
                            ),
                            ("problem", a.problem.as_deref().unwrap_or("")),
                        ],
                    ),
                )
            };
            widgets::banner(ui, kind, &text);
            ui.add_space(6.0);
        }
        egui::ScrollArea::vertical()
            .id_salt("history")
            .max_height(150.0)
            .show(ui, |ui| {
                egui::Grid::new("history_grid")
                    .num_columns(5)
                    .striped(true)
                    .spacing([16.0, 6.0])
                    .show(ui, |ui| {
                        for key in [
                            "history.when",
                            "history.who",
                            "history.what",
                            "history.status",
                            "history.detail",
                        ] {
                            ui.label(theme::bold(tr.t(key), 13.5));
                        }
                        ui.end_row();
                        for h in &self.history {
                            ui.label(date_time(h.at));
                            ui.label(h.actor_name.clone().unwrap_or_else(|| h.actor.clone()));
                            ui.label(tr.t(&format!("history.action.{}", h.action)));
                            match h.status {
                                Some(s) => {
                                    widgets::status_chip(ui, s, &status_text(tr, s));
                                }
                                None => {
                                    ui.label("");
                                }
                            }
                            ui.label(h.detail.clone().unwrap_or_default());
                            ui.end_row();
                        }
                    });
            });
    }
}

/// A small triangle telling the sort order (the font has no arrow glyphs).
fn sort_arrow(ui: &mut Ui, ascending: bool) {
    let (rect, _) = ui.allocate_exact_size(egui::vec2(10.0, 10.0), egui::Sense::hover());
    let c = rect.center();
    let points = if ascending {
        vec![
            c + egui::vec2(-4.0, 3.0),
            c + egui::vec2(4.0, 3.0),
            c + egui::vec2(0.0, -3.0),
        ]
    } else {
        vec![
            c + egui::vec2(-4.0, -3.0),
            c + egui::vec2(4.0, -3.0),
            c + egui::vec2(0.0, 3.0),
        ]
    };
    ui.painter().add(egui::Shape::convex_polygon(
        points,
        theme::ACCENT,
        egui::Stroke::NONE,
    ));
}

fn entered(ui: &Ui, r: &egui::Response) -> bool {
    r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter))
}

fn name_key(r: &SearchRow) -> String {
    full_name(r).to_lowercase()
}

fn full_name(r: &SearchRow) -> String {
    [r.surname.as_deref(), r.given_names.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ")
}

fn date_time(t: time::OffsetDateTime) -> String {
    let t = match time::UtcOffset::current_local_offset() {
        Ok(offset) => t.to_offset(offset),
        Err(_) => t,
    };
    format!(
        "{:02}/{:02}/{:04} {:02}:{:02}",
        t.day(),
        u8::from(t.month()),
        t.year(),
        t.hour(),
        t.minute()
    )
}

fn failure_text(f: Failure) -> (Option<String>, String) {
    match f {
        Failure::Refused { message, field, .. } => (field, message),
        Failure::Lost => (None, "lost".to_owned()),
        Failure::Other(detail) => (None, detail),
    }
}

/// The catalogue text of a failure without a field.
pub fn failure_message(tr: &Tr, f: &(Option<String>, String)) -> String {
    if f.1 == "lost" {
        tr.t("saisie.lost").to_owned()
    } else {
        f.1.clone()
    }
}
