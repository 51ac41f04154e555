//! Chercher: fiches by NIU, référence, names (spelling variants and any word order, as the
//! database searches them), birth date, status and a range of conviction dates; a results
//! table sorted and paged by the database (`juris.search_fiches_page`: a page of 25 rows and
//! the number found, whatever the size of the register); a fiche opened from it in Saisie; its
//! history and the proof that the audit chain is intact.

use egui::{RichText, Ui};
use egui_extras::{Column, TableBuilder};

pub use crate::backend::SortKey;
use crate::backend::{
    AuditCheck, Failure, HistoryRow, Reply, Request, SearchCriteria, SearchPage, SearchRow,
};
use crate::dates::{self, DateInput};
use crate::i18n::Tr;
use crate::screens::saisie::{format_niu, status_text};
use crate::screens::{Env, Goto};
use crate::theme::{self, spacing};
use crate::widgets::{self, BannerKind, FieldOpts};

/// Rows per page of results.
pub const PAGE_SIZE: usize = 25;

/// The state of the Chercher screen.
#[derive(Debug)]
pub struct ChercherScreen {
    pub name: String,
    pub niu: String,
    pub reference: String,
    pub birth_date: String,
    pub status: Option<String>,
    /// The range of conviction dates, as typed (JJ/MM/AAAA).
    pub convicted_from: String,
    pub convicted_to: String,
    /// The page shown.
    pub rows: Vec<SearchRow>,
    /// How many fiches the search found (counted up to 10 000), and whether there are more.
    pub total: i64,
    pub total_exact: bool,
    /// True once a search answered (an empty table then means "nothing found").
    pub searched: bool,
    pub sort: SortKey,
    /// Descending order (relevance: best first).
    pub descending: bool,
    /// The page shown, from 0.
    pub page: usize,
    pub selected: Option<i64>,
    selected_number: Option<i64>,
    pub history: Vec<HistoryRow>,
    pub audit: Option<AuditCheck>,
    pub error: Option<(Option<String>, String)>,
    /// The criteria of the search shown: paging and sorting ask the database again with them
    /// (not with what is typed since).
    shown: Option<SearchCriteria>,
    /// The tag of the newest search: any other search answer is stale and dropped.
    search_tag: Option<u64>,
    /// The page and order that search asks for.
    pending: Option<(usize, SortKey, bool)>,
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
            convicted_from: String::new(),
            convicted_to: String::new(),
            rows: Vec::new(),
            total: 0,
            total_exact: true,
            searched: false,
            sort: SortKey::Relevance,
            descending: true,
            page: 0,
            selected: None,
            selected_number: None,
            history: Vec::new(),
            audit: None,
            error: None,
            shown: None,
            search_tag: None,
            pending: None,
            history_tag: None,
            audit_tag: None,
            focus_first: true,
        }
    }
}

/// A date criterion as typed: none, a date, or the error to show at its field.
fn date_criterion(
    text: &str,
    field: &str,
    tr: &Tr,
) -> Result<Option<time::Date>, (Option<String>, String)> {
    match dates::parse(text) {
        DateInput::Empty => Ok(None),
        DateInput::Valid(d) => Ok(Some(d)),
        DateInput::Impossible => Err((Some(field.into()), tr.t("date.impossible").to_owned())),
        _ => Err((Some(field.into()), tr.t("date.incomplete").to_owned())),
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

    /// The number of pages of the search shown (at least 1; a lower bound when the count
    /// stopped at its limit).
    pub fn pages(&self) -> usize {
        (self.total.max(0) as usize).div_ceil(PAGE_SIZE).max(1)
    }

    /// The search as typed, or the error to show at a date field.
    fn typed_criteria(&self, tr: &Tr) -> Result<SearchCriteria, (Option<String>, String)> {
        Ok(SearchCriteria {
            name: self.name.clone(),
            niu: self.niu.chars().filter(|c| !c.is_whitespace()).collect(),
            reference: self.reference.clone(),
            birth_date: date_criterion(&self.birth_date, "birth_date", tr)?,
            status: self.status.as_deref().and_then(|s| s.parse().ok()),
            convicted_from: date_criterion(&self.convicted_from, "convicted_from", tr)?,
            convicted_to: date_criterion(&self.convicted_to, "convicted_to", tr)?,
            sort: self.sort,
            descending: self.descending,
            page_size: PAGE_SIZE as i32,
            offset: 0,
        })
    }

    /// Sends a new search with what is typed, from its first page; a newer search makes the
    /// answer of this one stale.
    pub fn search(&mut self, env: &mut Env<'_>) {
        match self.typed_criteria(env.tr) {
            Ok(c) => {
                self.error = None;
                self.shown = Some(c.clone());
                self.fetch(c, 0, env);
            }
            Err(e) => self.error = Some(e),
        }
    }

    /// Asks for a page of the search shown, in the order chosen.
    fn fetch(&mut self, mut c: SearchCriteria, page: usize, env: &mut Env<'_>) {
        c.sort = self.sort;
        c.descending = self.descending;
        c.offset = (page * PAGE_SIZE) as i32;
        self.pending = Some((page, c.sort, c.descending));
        self.search_tag = Some(env.backend.send(Request::Search(c)));
    }

    /// Another page of the search shown.
    pub fn go_to_page(&mut self, page: usize, env: &mut Env<'_>) {
        if let Some(c) = self.shown.clone() {
            self.fetch(c, page, env);
        }
    }

    /// Sorts by `key` (again: the other way), from the first page.
    pub fn sort_by(&mut self, key: SortKey, env: &mut Env<'_>) {
        if self.sort == key {
            self.descending = !self.descending;
        } else {
            self.sort = key;
            // Best first, newest first; names and dates from the start.
            self.descending = matches!(key, SortKey::Relevance | SortKey::Number);
        }
        if let Some(c) = self.shown.clone() {
            self.fetch(c, 0, env);
        }
    }

    fn select(&mut self, id: i64, number: i64, env: &mut Env<'_>) {
        self.selected = Some(id);
        self.selected_number = Some(number);
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
                    Ok(SearchPage {
                        rows,
                        total,
                        total_exact,
                    }) => {
                        self.rows = rows;
                        self.total = total;
                        self.total_exact = total_exact;
                        if let Some((page, _, _)) = self.pending.take() {
                            self.page = page;
                        }
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
                // The history takes a third of what is left, the table the rest (at least a
                // few rows: the page then scrolls inside the table).
                let detail_h = if self.selected.is_some() {
                    (ui.available_height() * 0.36).clamp(150.0, 260.0)
                } else {
                    0.0
                };
                let results_h =
                    (ui.available_height() - detail_h - spacing::SECTION_GAP).max(180.0);
                theme::card().show(ui, |ui| {
                    ui.set_width(ui.available_width());
                    ui.set_height(results_h - 2.0 * spacing::SECTION_INNER - 2.0);
                    self.results(ui, env);
                });
                if self.selected.is_some() {
                    ui.add_space(spacing::SECTION_GAP);
                    theme::card().show(ui, |ui| {
                        ui.set_width(ui.available_width());
                        ui.set_height(
                            (ui.available_height() - 2.0 * spacing::SECTION_INNER - 2.0).max(100.0),
                        );
                        self.detail(ui, env);
                    });
                }
            });
    }

    fn criteria(&mut self, ui: &mut Ui, env: &mut Env<'_>) {
        let tr = env.tr;
        let mut go = false;
        let mut clear = false;
        theme::card().show(ui, |ui| {
            ui.set_width(ui.available_width());
            ui.horizontal(|ui| {
                widgets::section_title(ui, tr.t("search.title"));
                ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                    if self.searching() {
                        ui.spinner();
                    }
                    clear = widgets::action_button(ui, true, tr.t("search.clear")).clicked();
                    go |= widgets::primary_button(ui, true, tr.t("search.go")).clicked();
                });
            });
            ui.add_space(2.0);
            let err = |field: &str| match &self.error {
                Some((Some(f), m)) if f == field => Some(m.clone()),
                _ => None,
            };
            let (niu_err, name_err, reference_err) = (err("niu"), err("name"), err("reference"));
            let (birth_err, from_err, to_err) = (
                err("birth_date"),
                err("convicted_from"),
                err("convicted_to"),
            );
            // Three criteria a row on a wide window, two on a narrow one (125 % scaling).
            let gap = 12.0;
            // (Some slack: a field's frame and a combo box's arrow add a few points.)
            let lw = 110.0;
            let slack = 24.0;
            let room = ui.available_width() - slack;
            let per_row = if room >= 3.0 * (lw + 220.0) + 5.0 * gap {
                3
            } else {
                2
            };
            let fw =
                ((room - (2 * per_row - 1) as f32 * gap) / per_row as f32 - lw).clamp(200.0, 260.0);
            fn field(width: f32, error: Option<&str>) -> FieldOpts<'_> {
                FieldOpts {
                    width,
                    editable: true,
                    error,
                }
            }
            let mut cell = 0;
            let mut next_cell = |ui: &mut Ui| {
                cell += 1;
                if cell % per_row == 0 {
                    ui.end_row();
                }
            };
            egui::Grid::new("search_grid")
                .num_columns(2 * per_row)
                .spacing([gap, 8.0])
                .show(ui, |ui| {
                    let l = widgets::label_cell(ui, tr.t("search.name"), lw);
                    let r =
                        widgets::text_field(ui, l, &mut self.name, field(fw, name_err.as_deref()));
                    if self.focus_first {
                        r.request_focus();
                        self.focus_first = false;
                    }
                    go |= entered(ui, &r);
                    next_cell(ui);
                    let l = widgets::label_cell(ui, tr.t("search.niu"), lw);
                    let r =
                        widgets::text_field(ui, l, &mut self.niu, field(fw, niu_err.as_deref()));
                    go |= entered(ui, &r);
                    next_cell(ui);
                    let l = widgets::label_cell(ui, tr.t("search.reference"), lw);
                    let r = widgets::text_field(
                        ui,
                        l,
                        &mut self.reference,
                        field(fw, reference_err.as_deref()),
                    );
                    go |= entered(ui, &r);
                    next_cell(ui);
                    let l = widgets::label_cell(ui, tr.t("search.birth_date"), lw);
                    let r = widgets::date_field(
                        ui,
                        tr,
                        l,
                        &mut self.birth_date,
                        field(fw, birth_err.as_deref()),
                    );
                    go |= entered(ui, &r);
                    next_cell(ui);
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
                        field(fw, None),
                    );
                    next_cell(ui);
                    // The range of conviction dates: "Condamné(e) du [ ] au [ ]".
                    let l = widgets::label_cell(ui, tr.t("search.convicted_from"), lw);
                    ui.horizontal_top(|ui| {
                        let date_w = (fw - 40.0) / 2.0;
                        let r = widgets::date_field(
                            ui,
                            tr,
                            l,
                            &mut self.convicted_from,
                            FieldOpts {
                                width: date_w,
                                ..field(fw, from_err.as_deref())
                            },
                        );
                        go |= entered(ui, &r);
                        let l = widgets::label_cell(ui, tr.t("search.convicted_to"), 20.0);
                        let r = widgets::date_field(
                            ui,
                            tr,
                            l,
                            &mut self.convicted_to,
                            FieldOpts {
                                width: date_w,
                                ..field(fw, to_err.as_deref())
                            },
                        );
                        go |= entered(ui, &r);
                    });
                    next_cell(ui);
                });
        });
        if clear {
            *self = ChercherScreen::default();
        } else if go {
            self.search(env);
        }
    }

    fn results(&mut self, ui: &mut Ui, env: &mut Env<'_>) {
        let tr = env.tr;
        let pages = self.pages();
        ui.horizontal(|ui| {
            widgets::section_title(ui, tr.t("search.results"));
            if self.searched {
                let count = tr.number(self.total);
                let text = if self.total_exact {
                    tr.f("search.count", &[("count", &count)])
                } else {
                    tr.f("search.count_max", &[("count", &count)])
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
        let mut open = None;
        let mut select = None;
        let mut sort = None;
        let mut go_page = None;
        // The columns fit the window: at 1366×768 every one; narrower (125 % scaling), the
        // reference gives way (it is on the fiche) and the others shrink.
        let width = ui.available_width();
        let wide = width >= 1000.0;
        let table_h = ui.available_height() - 44.0;
        // A click on a row's text selects the row, it does not start a text selection.
        ui.style_mut().interaction.selectable_labels = false;
        let mut columns: Vec<(Option<SortKey>, &str, Column)> = vec![
            (
                Some(SortKey::Number),
                "search.col.number",
                Column::exact(58.0),
            ),
            (
                Some(SortKey::Status),
                "search.col.status",
                Column::exact(104.0),
            ),
            (None, "search.col.niu", Column::exact(158.0)),
        ];
        if wide {
            columns.push((None, "search.col.reference", Column::exact(140.0)));
        }
        columns.extend([
            (
                Some(SortKey::Name),
                "search.col.name",
                Column::remainder().at_least(160.0).clip(true),
            ),
            (
                Some(SortKey::BirthDate),
                "search.col.birth_date",
                Column::exact(104.0),
            ),
            (
                Some(SortKey::ConvictionDate),
                "search.col.conviction_date",
                Column::exact(124.0),
            ),
            (None, "", Column::exact(76.0)),
        ]);
        let mut table = TableBuilder::new(ui)
            .id_salt("search_results")
            .striped(true)
            .resizable(false)
            .sense(egui::Sense::click())
            .max_scroll_height(table_h)
            .min_scrolled_height(0.0)
            .cell_layout(egui::Layout::left_to_right(egui::Align::Center));
        for (_, _, c) in &columns {
            table = table.column(*c);
        }
        table
            .header(28.0, |mut header| {
                for (key, label, _) in &columns {
                    header.col(|ui| {
                        let text = if label.is_empty() {
                            String::new()
                        } else {
                            tr.t(label).to_owned()
                        };
                        match key {
                            Some(k) => {
                                let b = egui::Button::new(theme::bold(text, 13.5)).frame(false);
                                if ui.add(b).clicked() {
                                    sort = Some(*k);
                                }
                                if *k == self.sort {
                                    sort_arrow(ui, !self.descending);
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
                for row in &self.rows {
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
                        if wide {
                            r.col(|ui| {
                                ui.add(
                                    egui::Label::new(row.reference.clone().unwrap_or_default())
                                        .truncate(),
                                );
                            });
                        }
                        r.col(|ui| {
                            ui.add(egui::Label::new(full_name(row)).truncate());
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
                            select = Some((row.fiche_id, row.number));
                        }
                    });
                }
            });
        ui.add_space(6.0);
        ui.horizontal(|ui| {
            let busy = self.searching();
            if widgets::action_button(ui, self.page > 0 && !busy, tr.t("search.previous")).clicked()
            {
                go_page = Some(self.page - 1);
            }
            let page = (self.page + 1).to_string();
            let of = tr.number(pages as i64);
            ui.label(if self.total_exact {
                tr.f("search.page", &[("page", &page), ("pages", &of)])
            } else {
                tr.f("search.page_many", &[("page", &page), ("pages", &of)])
            });
            let more = self.page + 1 < pages;
            if widgets::action_button(ui, more && !busy, tr.t("search.next")).clicked() {
                go_page = Some(self.page + 1);
            }
            let first = self.page * PAGE_SIZE + 1;
            let last = first + self.rows.len() - 1;
            ui.add_space(8.0);
            ui.label(
                RichText::new(tr.f(
                    "search.shown",
                    &[
                        ("first", &tr.number(first as i64)),
                        ("last", &tr.number(last as i64)),
                    ],
                ))
                .color(theme::TEXT_MUTED),
            );
        });
        if let Some(k) = sort {
            self.sort_by(k, env);
        }
        if let Some(p) = go_page {
            self.go_to_page(p, env);
        }
        if let Some((id, number)) = select {
            self.select(id, number, env);
        }
        if let Some(id) = open {
            *env.goto = Some(Goto::OpenFiche(id));
        }
    }

    fn detail(&mut self, ui: &mut Ui, env: &mut Env<'_>) {
        let tr = env.tr;
        let Some(id) = self.selected else { return };
        let number = self
            .selected_number
            .map(|n| n.to_string())
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
            .max_height(ui.available_height())
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
