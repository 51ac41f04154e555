//! Transmission: each message of the court to the CJN (a fiche signed, rectified, withdrawn)
//! and its state — waiting, sent, archived at the CJN with the date, refused with the CJN's
//! reason, blocked with the listener's defect —, the listener's last contact and the backlog
//! (the greffier's: `juris.transmission_status`). The screen refreshes by itself: it watches
//! its page ([`Watched::Transmissions`]), which the database thread reads again on every
//! notification and on a slow poll, and repaints only when it changed.

use egui::{RichText, Ui};
use egui_extras::{Column, TableBuilder};

use crate::backend::{Failure, Reply, Request};
use crate::dates;
use crate::i18n::Tr;
use crate::queries::{
    DocumentSource, TransmissionFilter, TransmissionPage, TransmissionQuery, TransmissionRow,
    TransmissionStatus, WatchResult, Watched,
};
use crate::screens::saisie::format_niu;
use crate::screens::{Env, Goto};
use crate::theme::{self, spacing};
use crate::widgets::{self, BannerKind};

/// Messages per page.
pub const PAGE_SIZE: i32 = 25;

/// The state of the Transmission screen.
#[derive(Debug, Default)]
pub struct TransmissionScreen {
    pub filter: TransmissionFilter,
    /// What the database last said (one row more than a page: there is an older page).
    pub page: Option<TransmissionPage>,
    pub error: Option<String>,
    /// The message selected (its `seq`).
    pub selected: Option<i64>,
    /// The `before_seq` of each page shown since the newest (the last is the current page).
    cursor: Vec<i64>,
    watch_tag: Option<u64>,
}

impl TransmissionScreen {
    /// The screen is opened: watch its page.
    pub fn opened(&mut self, env: &mut Env<'_>) {
        self.watch(env);
    }

    /// True while the first answer is awaited.
    pub fn loading(&self) -> bool {
        self.watch_tag.is_some() && self.page.is_none() && self.error.is_none()
    }

    fn watch(&mut self, env: &mut Env<'_>) {
        let q = TransmissionQuery {
            filter: self.filter,
            before_seq: self.cursor.last().copied(),
            max_rows: PAGE_SIZE + 1,
            with_status: env.session.privilege >= 3,
        };
        self.watch_tag = Some(
            env.backend
                .send(Request::Watch(Some(Watched::Transmissions(q)))),
        );
    }

    /// Takes an answer (the first reading of the page, then each change).
    pub fn on_reply(&mut self, tag: u64, reply: Reply) {
        if self.watch_tag != Some(tag) {
            return;
        }
        match reply {
            Reply::Watch(Ok(WatchResult::Transmissions(page))) => {
                self.page = Some(page);
                self.error = None;
            }
            Reply::Watch(Err(f)) => {
                self.error = Some(match f {
                    Failure::Refused { message, .. } => message,
                    Failure::Lost => "lost".into(),
                    Failure::Other(d) => d,
                })
            }
            _ => {}
        }
    }

    /// The rows of the current page.
    pub fn rows(&self) -> &[TransmissionRow] {
        match &self.page {
            Some(p) => &p.rows[..p.rows.len().min(PAGE_SIZE as usize)],
            None => &[],
        }
    }

    fn has_older(&self) -> bool {
        self.page
            .as_ref()
            .is_some_and(|p| p.rows.len() > PAGE_SIZE as usize)
    }

    /// Draws the screen.
    pub fn show(&mut self, ui: &mut Ui, env: &mut Env<'_>, live: bool) {
        egui::CentralPanel::default()
            .frame(egui::Frame::new().inner_margin(egui::Margin::same(16)))
            .show(ui, |ui| {
                let tr = env.tr;
                self.status_card(ui, tr, live);
                ui.add_space(spacing::SECTION_GAP);
                if let Some(e) = &self.error {
                    let text = if e == "lost" { tr.t("saisie.lost") } else { e };
                    widgets::banner(ui, BannerKind::Error, text);
                    ui.add_space(spacing::SECTION_GAP);
                }
                let detail_h = if self.selected.is_some() { 150.0 } else { 0.0 };
                let list_h = (ui.available_height() - detail_h - 12.0).max(220.0);
                theme::card().show(ui, |ui| {
                    ui.set_width(ui.available_width());
                    ui.set_height(list_h - 2.0 * spacing::SECTION_INNER);
                    self.list(ui, env);
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

    fn status_card(&self, ui: &mut Ui, tr: &Tr, live: bool) {
        theme::card().show(ui, |ui| {
            ui.set_width(ui.available_width());
            ui.horizontal(|ui| {
                widgets::section_title(ui, tr.t("transmission.title"));
                ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                    let (color, key) = if live {
                        (theme::SUCCESS, "transmission.live")
                    } else {
                        (theme::WARNING, "transmission.polling")
                    };
                    ui.label(RichText::new(tr.t(key)).color(theme::TEXT_MUTED).size(13.0));
                    let (rect, _) =
                        ui.allocate_exact_size(egui::vec2(10.0, 10.0), egui::Sense::hover());
                    ui.painter().circle_filled(rect.center(), 4.5, color);
                });
            });
            match self.page.as_ref().and_then(|p| p.status.as_ref()) {
                Some(status) => status_tiles(ui, tr, status),
                None if self.page.is_some() => {
                    ui.label(
                        RichText::new(tr.t("transmission.status_greffier"))
                            .color(theme::TEXT_MUTED),
                    );
                }
                None => {
                    ui.spinner();
                }
            }
        });
    }

    fn list(&mut self, ui: &mut Ui, env: &mut Env<'_>) {
        let tr = env.tr;
        let mut refilter = None;
        ui.horizontal(|ui| {
            widgets::section_title(ui, tr.t("transmission.messages"));
            ui.add_space(12.0);
            for f in TransmissionFilter::ALL {
                let key = match f {
                    TransmissionFilter::All => "transmission.filter.all",
                    TransmissionFilter::Pending => "transmission.filter.pending",
                    TransmissionFilter::Refused => "transmission.filter.refused",
                    TransmissionFilter::Blocked => "transmission.filter.blocked",
                    TransmissionFilter::Archived => "transmission.filter.archived",
                };
                if ui
                    .add(egui::Button::selectable(self.filter == f, tr.t(key)))
                    .clicked()
                    && self.filter != f
                {
                    refilter = Some(f);
                }
            }
            if self.loading() {
                ui.spinner();
            }
        });
        if let Some(f) = refilter {
            self.filter = f;
            self.cursor.clear();
            self.selected = None;
            self.page = None;
            self.watch(env);
            return;
        }
        ui.add_space(4.0);
        let rows: Vec<TransmissionRow> = self.rows().to_vec();
        if rows.is_empty() {
            if self.page.is_some() {
                ui.add_space(16.0);
                ui.label(RichText::new(tr.t("transmission.none")).color(theme::TEXT_MUTED));
            }
            self.pager(ui, env);
            return;
        }
        let mut select = None;
        let table_h = ui.available_height() - 40.0;
        ui.style_mut().interaction.selectable_labels = false;
        TableBuilder::new(ui)
            .id_salt("transmissions")
            .striped(true)
            .resizable(false)
            .sense(egui::Sense::click())
            .max_scroll_height(table_h)
            .cell_layout(egui::Layout::left_to_right(egui::Align::Center))
            .column(Column::exact(60.0))
            .column(Column::exact(60.0))
            .column(Column::exact(180.0))
            .column(Column::exact(190.0))
            .column(Column::exact(130.0))
            .column(Column::exact(160.0))
            .column(Column::exact(125.0))
            .column(Column::remainder().at_least(150.0))
            .header(28.0, |mut header| {
                for key in [
                    "transmission.col.seq",
                    "transmission.col.fiche",
                    "transmission.col.niu",
                    "transmission.col.person",
                    "transmission.col.kind",
                    "transmission.col.state",
                    "transmission.col.sent",
                    "transmission.col.answer",
                ] {
                    header.col(|ui| {
                        ui.label(theme::bold(tr.t(key), 13.5));
                    });
                }
            })
            .body(|mut body| {
                for row in &rows {
                    body.row(28.0, |mut r| {
                        r.set_selected(self.selected == Some(row.seq));
                        r.col(|ui| {
                            ui.label(row.seq.to_string());
                        });
                        r.col(|ui| {
                            ui.label(row.fiche_number.to_string());
                        });
                        r.col(|ui| {
                            ui.label(format_niu(&row.niu));
                        });
                        r.col(|ui| {
                            ui.add(egui::Label::new(person(row)).truncate());
                        });
                        r.col(|ui| {
                            ui.label(kind_text(tr, &row.kind, row.version));
                        });
                        r.col(|ui| {
                            widgets::chip(
                                ui,
                                theme::transmission_color(&row.state),
                                tr.t(&format!("transmission.state.{}", row.state)),
                            )
                            .on_hover_text(row.state_label.as_str());
                        });
                        r.col(|ui| {
                            ui.label(match row.sent_at {
                                Some(t) if row.attempts > 1 => {
                                    format!("{} (×{})", dates::format_date_time(t), row.attempts)
                                }
                                Some(t) => dates::format_date_time(t),
                                None => "—".into(),
                            });
                        });
                        r.col(|ui| {
                            ui.add(egui::Label::new(answer_text(tr, row)).truncate());
                        });
                        if r.response().clicked() {
                            select = Some(row.seq);
                        }
                    });
                }
            });
        if let Some(seq) = select {
            self.selected = Some(seq);
        }
        self.pager(ui, env);
    }

    fn pager(&mut self, ui: &mut Ui, env: &mut Env<'_>) {
        let tr = env.tr;
        let mut go = None;
        ui.add_space(6.0);
        ui.horizontal(|ui| {
            if widgets::action_button(ui, !self.cursor.is_empty(), tr.t("transmission.newer"))
                .clicked()
            {
                go = Some(false);
            }
            if widgets::action_button(ui, self.has_older(), tr.t("transmission.older")).clicked() {
                go = Some(true);
            }
        });
        match go {
            Some(true) => {
                if let Some(last) = self.rows().last() {
                    self.cursor.push(last.seq);
                    self.watch(env);
                }
            }
            Some(false) => {
                self.cursor.pop();
                self.watch(env);
            }
            None => {}
        }
    }

    fn detail(&mut self, ui: &mut Ui, env: &mut Env<'_>) {
        let tr = env.tr;
        let Some(row) = self
            .rows()
            .iter()
            .find(|r| Some(r.seq) == self.selected)
            .cloned()
        else {
            self.selected = None;
            return;
        };
        ui.horizontal(|ui| {
            widgets::section_title(
                ui,
                &tr.f(
                    "transmission.detail",
                    &[
                        ("seq", &row.seq.to_string()),
                        ("number", &row.fiche_number.to_string()),
                    ],
                ),
            );
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                if row.state == "archived"
                    && widgets::primary_button(ui, true, tr.t("transmission.print_receipt"))
                        .clicked()
                {
                    *env.goto = Some(Goto::Print(DocumentSource::Receipt(row.seq)));
                }
                if widgets::action_button(ui, true, tr.t("transmission.open_fiche")).clicked() {
                    *env.goto = Some(Goto::OpenFiche(row.fiche_id));
                }
            });
        });
        egui::Grid::new("transmission_detail")
            .num_columns(2)
            .spacing([16.0, 6.0])
            .show(ui, |ui| {
                ui.label(RichText::new(tr.t("transmission.state_label")).color(theme::TEXT_MUTED));
                ui.label(&row.state_label);
                ui.end_row();
                ui.label(RichText::new(tr.t("transmission.created")).color(theme::TEXT_MUTED));
                ui.label(dates::format_date_time(row.created_at));
                ui.end_row();
                if let Some(t) = row.acknowledged_at {
                    ui.label(
                        RichText::new(tr.t("transmission.acknowledged")).color(theme::TEXT_MUTED),
                    );
                    ui.label(dates::format_date_time(t));
                    ui.end_row();
                }
            });
        if let Some(reason) = &row.rejection_reason {
            widgets::banner_with_detail(
                ui,
                BannerKind::Error,
                &tr.f("transmission.refused_because", &[("reason", reason)]),
                row.rejection_code.as_deref(),
            );
        }
        if let Some(defect) = &row.defect {
            widgets::banner(
                ui,
                BannerKind::Warning,
                &tr.f("transmission.blocked_because", &[("defect", defect)]),
            );
        }
    }
}

fn status_tiles(ui: &mut Ui, tr: &Tr, s: &TransmissionStatus) {
    ui.horizontal_wrapped(|ui| {
        ui.spacing_mut().item_spacing.x = 10.0;
        let tiles: [(&str, i64, egui::Color32); 7] = [
            (
                "transmission.count.pending",
                s.pending,
                theme::status_color(0),
            ),
            ("transmission.count.sent", s.sent, theme::status_color(1)),
            ("transmission.count.blocked", s.defective, theme::WARNING),
            (
                "transmission.count.refused",
                s.rejected,
                theme::status_color(5),
            ),
            (
                "transmission.count.archived",
                s.acknowledged,
                theme::status_color(4),
            ),
            (
                "transmission.count.quarantined",
                s.quarantined,
                theme::TEXT_MUTED,
            ),
            (
                "transmission.count.extracts",
                s.extract_requests_pending,
                theme::ACCENT,
            ),
        ];
        for (key, n, color) in tiles {
            tile(ui, tr, key, n, color);
        }
    });
    ui.add_space(6.0);
    ui.horizontal_wrapped(|ui| {
        let contact = match s.last_contact {
            Some(t) => tr.f(
                "transmission.last_contact",
                &[("when", &dates::format_date_time(t)), ("ago", &ago(tr, t))],
            ),
            None => tr.t("transmission.never_contacted").to_owned(),
        };
        ui.label(contact);
        if let Some(t) = s.oldest_pending {
            ui.label(RichText::new("·").color(theme::TEXT_MUTED));
            ui.label(tr.f(
                "transmission.oldest_pending",
                &[("when", &dates::format_date_time(t))],
            ));
        }
    });
}

fn tile(ui: &mut Ui, tr: &Tr, key: &str, n: i64, color: egui::Color32) {
    egui::Frame::new()
        .fill(theme::PAGE)
        .stroke(egui::Stroke::new(1.0, theme::BORDER))
        .corner_radius(egui::CornerRadius::same(4))
        .inner_margin(egui::Margin {
            left: 10,
            right: 12,
            top: 6,
            bottom: 6,
        })
        .show(ui, |ui| {
            ui.set_min_width(118.0);
            ui.vertical(|ui| {
                ui.spacing_mut().item_spacing.y = 0.0;
                ui.label(theme::bold(tr.number(n), 20.0).color(if n > 0 {
                    color
                } else {
                    theme::TEXT_MUTED
                }));
                ui.label(RichText::new(tr.t(key)).color(theme::TEXT_MUTED).size(12.5));
            });
        });
}

/// How long ago, in words.
fn ago(tr: &Tr, t: time::OffsetDateTime) -> String {
    let minutes = (time::OffsetDateTime::now_utc() - t).whole_minutes().max(0);
    if minutes < 1 {
        tr.t("transmission.ago_now").to_owned()
    } else if minutes < 120 {
        tr.f("transmission.ago_minutes", &[("n", &minutes.to_string())])
    } else if minutes < 48 * 60 {
        tr.f(
            "transmission.ago_hours",
            &[("n", &(minutes / 60).to_string())],
        )
    } else {
        tr.f(
            "transmission.ago_days",
            &[("n", &(minutes / (24 * 60)).to_string())],
        )
    }
}

fn person(r: &TransmissionRow) -> String {
    [r.surname.as_deref(), r.given_names.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ")
}

fn kind_text(tr: &Tr, kind: &str, version: i32) -> String {
    let key = match kind {
        "fiche_signed" => "transmission.kind.signed",
        "fiche_rectified" => "transmission.kind.rectified",
        _ => "transmission.kind.withdrawn",
    };
    tr.f(key, &[("version", &version.to_string())])
}

fn answer_text(tr: &Tr, r: &TransmissionRow) -> String {
    if let Some(t) = r.acknowledged_at {
        tr.f(
            "transmission.answer.archived",
            &[("when", &dates::format_date_time(t))],
        )
    } else if let Some(reason) = &r.rejection_reason {
        reason.clone()
    } else if let Some(defect) = &r.defect {
        defect.clone()
    } else {
        String::new()
    }
}
