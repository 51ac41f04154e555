//! Extraits: ask the CJN for a person's bulletin n°1, 2 or 3 (those the user's privilege
//! allows: `juris.extract_permissions`; the database decides, `juris.request_extract`), follow
//! the requests, read the CJN's answer — each conviction with the reason the CJN gives for it
//! being on that bulletin, the near matches listed apart, or the refusal and its reason — and
//! print it. The list and the request selected are watched ([`Watched::Extracts`]): an answer
//! stored by the listener shows without a click.

use std::collections::BTreeMap;

use egui::{RichText, Ui};
use egui_extras::{Column, TableBuilder};
use serde_json::{Value, json};

use crate::backend::{Failure, Reply, Request};
use crate::dates::{self, DateInput};
use crate::i18n::Tr;
use crate::queries::{
    DocumentSource, ExtractDetail, ExtractRow, ExtractsPage, WatchResult, Watched,
};
use crate::screens::saisie::format_niu;
use crate::screens::{Env, Goto};
use crate::theme::{self, spacing};
use crate::widgets::{self, BannerKind, FieldOpts};

/// The request form, as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestForm {
    /// "1", "2" or "3".
    pub bulletin: Option<String>,
    pub surname: String,
    pub given_names: String,
    pub birth_date: String,
    pub birth_place: String,
    pub father: String,
    pub mother: String,
    pub niu: String,
    pub purpose: String,
}

impl RequestForm {
    /// The person as `juris.request_extract` takes it; `Err` names a date field that is not a
    /// calendar date.
    fn person(&self) -> Result<Value, &'static str> {
        let opt = |s: &str| {
            let t = s.trim();
            (!t.is_empty()).then(|| t.to_owned())
        };
        let birth_date = match dates::parse(&self.birth_date) {
            DateInput::Empty => None,
            DateInput::Valid(d) => Some(dates::iso(d)),
            _ => return Err("birth_date"),
        };
        let niu: String = self.niu.chars().filter(|c| !c.is_whitespace()).collect();
        Ok(json!({
            "surname": opt(&self.surname),
            "given_names": opt(&self.given_names),
            "birth_date": birth_date,
            "birth_place": opt(&self.birth_place),
            "father": opt(&self.father),
            "mother": opt(&self.mother),
            "niu": opt(&niu),
        }))
    }
}

/// The state of the Extraits screen.
#[derive(Debug, Default)]
pub struct ExtraitsScreen {
    pub form: RequestForm,
    /// The database's refusals, by field (`surname`, `birth_date`, `purpose`, `bulletin`...;
    /// `""` for one without a field).
    pub errors: BTreeMap<String, String>,
    pub page: Option<ExtractsPage>,
    pub selected: Option<i64>,
    watch_tag: Option<u64>,
    submit_tag: Option<u64>,
    focus_first: bool,
}

impl ExtraitsScreen {
    /// The screen is opened: watch the requests, focus on the first field.
    pub fn opened(&mut self, env: &mut Env<'_>) {
        self.focus_first = true;
        self.watch(env);
    }

    fn watch(&mut self, env: &mut Env<'_>) {
        self.watch_tag = Some(env.backend.send(Request::Watch(Some(Watched::Extracts {
            selected: self.selected,
        }))));
    }

    pub fn submitting(&self) -> bool {
        self.submit_tag.is_some()
    }

    /// The request selected, as last read.
    pub fn detail(&self) -> Option<&ExtractDetail> {
        self.page
            .as_ref()
            .and_then(|p| p.detail.as_ref())
            .filter(|d| Some(d.id) == self.selected)
    }

    /// The requests listed.
    pub fn rows(&self) -> &[ExtractRow] {
        self.page.as_ref().map(|p| p.rows.as_slice()).unwrap_or(&[])
    }

    /// Takes an answer.
    pub fn on_reply(&mut self, tag: u64, reply: Reply, env: &mut Env<'_>) {
        match reply {
            Reply::Watch(result) if self.watch_tag == Some(tag) => match result {
                Ok(WatchResult::Extracts(page)) => {
                    self.errors.remove("");
                    self.page = Some(*page);
                }
                Ok(_) => {}
                Err(f) => {
                    self.errors.insert(String::new(), failure_text(env.tr, f));
                }
            },
            Reply::ExtractRequested(result) if self.submit_tag == Some(tag) => {
                self.submit_tag = None;
                match result {
                    Ok(id) => {
                        env.toasts
                            .success(env.tr.f("extraits.requested", &[("id", &id.to_string())]));
                        let bulletin = self.form.bulletin.clone();
                        self.form = RequestForm {
                            bulletin,
                            ..RequestForm::default()
                        };
                        self.errors.clear();
                        self.selected = Some(id);
                        self.watch(env);
                    }
                    Err(Failure::Refused { message, field, .. }) => {
                        self.errors.insert(field.unwrap_or_default(), message);
                    }
                    Err(f) => {
                        self.errors.insert(String::new(), failure_text(env.tr, f));
                    }
                }
            }
            _ => {}
        }
    }

    fn submit(&mut self, env: &mut Env<'_>) {
        self.errors.clear();
        let person = match self.form.person() {
            Ok(p) => p,
            Err(field) => {
                self.errors
                    .insert(field.into(), env.tr.t("date.impossible").to_owned());
                return;
            }
        };
        let Some(bulletin) = self
            .form
            .bulletin
            .as_deref()
            .and_then(|b| b.parse::<i32>().ok())
        else {
            self.errors.insert(
                "bulletin".into(),
                env.tr.t("extraits.choose_bulletin").to_owned(),
            );
            return;
        };
        self.submit_tag = Some(env.backend.send(Request::RequestExtract {
            person,
            bulletin,
            purpose: self.form.purpose.clone(),
        }));
    }

    /// Draws the screen.
    pub fn show(&mut self, ui: &mut Ui, env: &mut Env<'_>) {
        egui::CentralPanel::default()
            .frame(egui::Frame::new().inner_margin(egui::Margin::same(16)))
            .show(ui, |ui| {
                let full = ui.available_height();
                // The request form narrows on small screens (1366×768 at 125 %) so that the
                // requests' table keeps its columns.
                let form_w = (ui.available_width() * 0.36).clamp(330.0, 440.0);
                ui.horizontal_top(|ui| {
                    ui.allocate_ui_with_layout(
                        egui::vec2(form_w, full),
                        egui::Layout::top_down(egui::Align::Min),
                        |ui| {
                            theme::card().show(ui, |ui| {
                                ui.set_width(form_w - 2.0 * spacing::SECTION_INNER);
                                ui.set_min_height(
                                    (full - 2.0 * spacing::SECTION_INNER - 2.0).max(0.0),
                                );
                                self.request_form(ui, env);
                            });
                        },
                    );
                    ui.add_space(spacing::SECTION_GAP - 8.0);
                    ui.vertical(|ui| {
                        let list_h = if self.selected.is_some() {
                            230.0
                        } else {
                            full - 2.0
                        };
                        theme::card().show(ui, |ui| {
                            ui.set_width(ui.available_width());
                            ui.set_height(list_h - 2.0 * spacing::SECTION_INNER);
                            self.list(ui, env);
                        });
                        if self.selected.is_some() {
                            ui.add_space(spacing::SECTION_GAP);
                            theme::card().show(ui, |ui| {
                                ui.set_width(ui.available_width());
                                ui.set_min_height(
                                    (ui.available_height() - 2.0 * spacing::SECTION_INNER - 2.0)
                                        .max(0.0),
                                );
                                self.answer(ui, env);
                            });
                        }
                    });
                });
            });
    }

    fn request_form(&mut self, ui: &mut Ui, env: &mut Env<'_>) {
        let tr = env.tr;
        widgets::section_title(ui, tr.t("extraits.new"));
        let permissions = self
            .page
            .as_ref()
            .map(|p| p.permissions.clone())
            .unwrap_or_default();
        let options: Vec<(String, String)> = permissions
            .iter()
            .filter(|p| p.allowed)
            .map(|p| {
                (
                    p.bulletin.to_string(),
                    tr.f("extraits.bulletin_n", &[("n", &p.bulletin.to_string())]),
                )
            })
            .collect();
        if self.form.bulletin.is_none() && options.len() == 1 {
            self.form.bulletin = Some(options[0].0.clone());
        }
        let lw = 140.0;
        let fw = 250.0;
        let mut go = false;
        let busy = self.submitting();
        let errors = self.errors.clone();
        let err = |f: &str| errors.get(f).map(String::as_str);
        egui::Grid::new("extract_form")
            .num_columns(2)
            .spacing([10.0, 8.0])
            .show(ui, |ui| {
                let l = widgets::label_cell(ui, tr.t("extraits.bulletin"), lw);
                widgets::combo_field(
                    ui,
                    "extract_bulletin",
                    l,
                    &mut self.form.bulletin,
                    &options,
                    tr.t("extraits.choose"),
                    FieldOpts {
                        width: fw,
                        editable: !busy,
                        error: err("bulletin"),
                    },
                );
                ui.end_row();
                if let Some(p) = permissions
                    .iter()
                    .find(|p| Some(p.bulletin.to_string()) == self.form.bulletin)
                {
                    ui.label("");
                    ui.add(
                        egui::Label::new(
                            RichText::new(
                                tr.f("extraits.delivered_to", &[("whom", &p.delivered_to)]),
                            )
                            .color(theme::TEXT_MUTED)
                            .size(12.5),
                        )
                        .wrap(),
                    );
                    ui.end_row();
                }
                let fields: [(&str, &str, bool); 8] = [
                    ("surname", "extraits.surname", false),
                    ("given_names", "extraits.given_names", false),
                    ("birth_date", "extraits.birth_date", true),
                    ("birth_place", "extraits.birth_place", false),
                    ("father", "extraits.father", false),
                    ("mother", "extraits.mother", false),
                    ("niu", "extraits.niu", false),
                    ("purpose", "extraits.purpose", false),
                ];
                for (field, key, is_date) in fields {
                    let l = widgets::label_cell(ui, tr.t(key), lw);
                    let value = match field {
                        "surname" => &mut self.form.surname,
                        "given_names" => &mut self.form.given_names,
                        "birth_date" => &mut self.form.birth_date,
                        "birth_place" => &mut self.form.birth_place,
                        "father" => &mut self.form.father,
                        "mother" => &mut self.form.mother,
                        "niu" => &mut self.form.niu,
                        _ => &mut self.form.purpose,
                    };
                    let opts = FieldOpts {
                        width: fw,
                        editable: !busy,
                        error: err(field),
                    };
                    let r = if is_date {
                        widgets::date_field(ui, tr, l, value, opts)
                    } else {
                        widgets::text_field(ui, l, value, opts)
                    };
                    if field == "surname" && self.focus_first {
                        r.request_focus();
                        self.focus_first = false;
                    }
                    go |= r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
                    ui.end_row();
                }
            });
        ui.add_space(4.0);
        ui.label(
            RichText::new(tr.t("extraits.required_hint"))
                .color(theme::TEXT_MUTED)
                .size(12.5),
        );
        ui.add_space(8.0);
        ui.horizontal(|ui| {
            go |= widgets::primary_button(ui, !self.submitting(), tr.t("extraits.ask")).clicked();
            if self.submitting() {
                ui.spinner();
            }
        });
        if let Some(e) = self.errors.get("") {
            ui.add_space(6.0);
            widgets::banner(ui, BannerKind::Error, e);
        }
        if go && !self.submitting() {
            self.submit(env);
        }
    }

    fn list(&mut self, ui: &mut Ui, env: &mut Env<'_>) {
        let tr = env.tr;
        widgets::section_title(ui, tr.t("extraits.requests"));
        let rows = self.rows().to_vec();
        if rows.is_empty() {
            if self.page.is_some() {
                ui.add_space(12.0);
                ui.label(RichText::new(tr.t("extraits.none")).color(theme::TEXT_MUTED));
            } else {
                ui.spinner();
            }
            return;
        }
        let mut select = None;
        ui.style_mut().interaction.selectable_labels = false;
        let h = ui.available_height();
        TableBuilder::new(ui)
            .id_salt("extract_requests")
            .striped(true)
            .resizable(false)
            .sense(egui::Sense::click())
            .max_scroll_height(h - 30.0)
            .cell_layout(egui::Layout::left_to_right(egui::Align::Center))
            .column(Column::exact(34.0))
            .column(Column::exact(38.0))
            .column(Column::remainder().at_least(110.0).clip(true))
            .column(Column::exact(84.0))
            .column(Column::exact(122.0))
            .column(Column::exact(178.0))
            .header(26.0, |mut header| {
                for key in [
                    "extraits.col.id",
                    "extraits.col.bulletin",
                    "extraits.col.person",
                    "extraits.col.birth_date",
                    "extraits.col.requested_at",
                    "extraits.col.state",
                ] {
                    header.col(|ui| {
                        ui.label(theme::bold(tr.t(key), 13.5));
                    });
                }
            })
            .body(|mut body| {
                for row in &rows {
                    body.row(28.0, |mut r| {
                        r.set_selected(self.selected == Some(row.id));
                        r.col(|ui| {
                            ui.label(row.id.to_string());
                        });
                        r.col(|ui| {
                            ui.label(format!("n°{}", row.bulletin));
                        });
                        r.col(|ui| {
                            ui.add(
                                egui::Label::new(format!(
                                    "{} {}",
                                    row.surname.to_uppercase(),
                                    row.given_names
                                ))
                                .truncate(),
                            );
                        });
                        r.col(|ui| {
                            ui.label(row.birth_date.map(dates::format).unwrap_or_default());
                        });
                        r.col(|ui| {
                            ui.label(dates::format_date_time(row.requested_at));
                        });
                        r.col(|ui| {
                            widgets::chip(
                                ui,
                                theme::extract_color(&row.state),
                                &state_label(tr, row),
                            );
                        });
                        if r.response().clicked() {
                            select = Some(row.id);
                        }
                    });
                }
            });
        if let Some(id) = select
            && self.selected != Some(id)
        {
            self.selected = Some(id);
            self.watch(env);
        }
    }

    fn answer(&mut self, ui: &mut Ui, env: &mut Env<'_>) {
        let tr = env.tr;
        let Some(id) = self.selected else { return };
        let Some(row) = self.rows().iter().find(|r| r.id == id).cloned() else {
            ui.spinner();
            return;
        };
        ui.horizontal(|ui| {
            widgets::section_title(
                ui,
                &tr.f(
                    "extraits.request_title",
                    &[
                        ("id", &row.id.to_string()),
                        ("n", &row.bulletin.to_string()),
                        (
                            "person",
                            &format!("{} {}", row.surname.to_uppercase(), row.given_names),
                        ),
                    ],
                ),
            );
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                if row.state == "answered"
                    && widgets::primary_button(ui, true, tr.t("extraits.print")).clicked()
                {
                    *env.goto = Some(Goto::Print(DocumentSource::Extract(row.id)));
                }
            });
        });
        ui.label(
            RichText::new(tr.f(
                "extraits.asked_by",
                &[
                    ("who", &row.requested_by),
                    ("when", &dates::format_date_time(row.requested_at)),
                    ("purpose", &row.purpose),
                ],
            ))
            .color(theme::TEXT_MUTED),
        );
        ui.add_space(6.0);
        match row.state.as_str() {
            "rejected" => {
                widgets::banner(
                    ui,
                    BannerKind::Error,
                    &tr.f(
                        "extraits.rejected",
                        &[("reason", row.rejection_reason.as_deref().unwrap_or(""))],
                    ),
                );
            }
            "pending" => {
                widgets::banner(ui, BannerKind::Info, &state_label(tr, &row));
            }
            _ => {
                let Some(detail) = self.detail() else {
                    ui.spinner();
                    return;
                };
                let Some(answer) = &detail.answer else {
                    widgets::banner(ui, BannerKind::Warning, tr.t("extraits.unreadable"));
                    return;
                };
                ui.label(tr.f(
                    "extraits.issued",
                    &[
                        ("number", &answer.extract_number),
                        ("when", &dates::format_date_time(answer.issued_at)),
                        ("code", &answer.verification_code),
                    ],
                ));
                ui.add_space(6.0);
                if answer.entries.is_empty() {
                    widgets::banner(ui, BannerKind::Success, tr.t("extraits.neant"));
                } else {
                    entries_table(ui, tr, answer);
                }
                if !answer.near_matches.is_empty() {
                    ui.add_space(6.0);
                    let names: Vec<String> = answer
                        .near_matches
                        .iter()
                        .map(|n| {
                            format!(
                                "{} {} ({})",
                                n.surname.to_uppercase(),
                                n.given_names,
                                dates::format(n.birth_date)
                            )
                        })
                        .collect();
                    widgets::banner(
                        ui,
                        BannerKind::Warning,
                        &tr.f("extraits.near_matches", &[("names", &names.join(", "))]),
                    );
                }
            }
        }
    }
}

fn entries_table(ui: &mut Ui, tr: &Tr, answer: &protocol::ExtractAnswer) {
    // Columns of bounded width, the long texts wrapped inside them: the table never runs off the
    // right edge (1366×768 at 125 %), whatever the offence's or the reason's length.
    const SPACING: f32 = 14.0;
    let free = (ui.available_width() - 4.0 * SPACING - 16.0).max(480.0);
    let (court_w, date_w, sentence_w) = (free * 0.2, 84.0, free * 0.16);
    let rest = free - court_w - date_w - sentence_w;
    let (offence_w, why_w) = (rest * 0.45, rest * 0.55);
    let cell = |ui: &mut Ui, width: f32, add: &mut dyn FnMut(&mut Ui)| {
        ui.vertical(|ui| {
            ui.set_width(width);
            ui.spacing_mut().item_spacing.y = 0.0;
            add(ui);
        });
    };
    egui::ScrollArea::vertical()
        .id_salt("extract_entries")
        .max_height(ui.available_height() - 50.0)
        .show(ui, |ui| {
            egui::Grid::new("extract_entries_grid")
                .num_columns(5)
                .striped(true)
                .spacing([SPACING, 6.0])
                .show(ui, |ui| {
                    for (key, width) in [
                        ("extraits.col.court", court_w),
                        ("extraits.col.date", date_w),
                        ("extraits.col.offence", offence_w),
                        ("extraits.col.sentence", sentence_w),
                        ("extraits.col.why", why_w),
                    ] {
                        cell(ui, width, &mut |ui| {
                            ui.label(theme::bold(tr.t(key), 13.5));
                        });
                    }
                    ui.end_row();
                    for e in &answer.entries {
                        let c = &e.fiche.condamnation;
                        cell(ui, court_w, &mut |ui| {
                            ui.add(
                                egui::Label::new(e.court_name.clone().unwrap_or_default()).wrap(),
                            );
                            ui.label(
                                RichText::new(format_niu(&e.niu.to_string()))
                                    .color(theme::TEXT_MUTED)
                                    .size(12.5),
                            );
                        });
                        cell(ui, date_w, &mut |ui| {
                            ui.label(dates::format(c.conviction_date));
                        });
                        cell(ui, offence_w, &mut |ui| {
                            ui.add(egui::Label::new(c.offence_nature.as_str()).wrap());
                        });
                        cell(ui, sentence_w, &mut |ui| {
                            ui.add(egui::Label::new(sentence(tr, c)).wrap());
                        });
                        cell(ui, why_w, &mut |ui| {
                            ui.add(
                                egui::Label::new(
                                    e.reason
                                        .clone()
                                        .unwrap_or_else(|| tr.t("extraits.no_reason").to_owned()),
                                )
                                .wrap(),
                            );
                            if let Some(rule) = &e.rule {
                                ui.add(
                                    egui::Label::new(
                                        RichText::new(tr.f("extraits.rule", &[("rule", rule)]))
                                            .color(theme::TEXT_MUTED)
                                            .size(12.0),
                                    )
                                    .wrap(),
                                );
                            }
                        });
                        ui.end_row();
                    }
                });
        });
}

/// A request's state in the user's language (`juris.extract_requests`' `state_label` is French,
/// for psql).
fn state_label(tr: &Tr, row: &crate::queries::ExtractRow) -> String {
    match (row.state.as_str(), row.entries_count) {
        ("answered", Some(0) | None) => tr.t("extraits.state.answered_none").to_owned(),
        ("answered", Some(n)) => tr.f("extraits.state.answered", &[("n", &n.to_string())]),
        ("rejected", _) => tr.t("extraits.state.rejected").to_owned(),
        _ if row.sent_at.is_none() => tr.t("extraits.state.waiting").to_owned(),
        _ => tr.t("extraits.state.sent").to_owned(),
    }
}

/// The sentence in a few words (the bulletin prints it in full).
fn sentence(tr: &Tr, c: &protocol::Condamnation) -> String {
    let mut parts = Vec::new();
    if let Some(m) = c.sentence_months {
        let mut p = tr.f("extraits.months", &[("n", &m.to_string())]);
        if let Some(s) = c.suspended_months.filter(|s| *s > 0) {
            p.push_str(&tr.f("extraits.suspended", &[("n", &s.to_string())]));
        }
        parts.push(p);
    }
    if let Some(f) = c.fine_amount.filter(|f| *f > 0) {
        parts.push(tr.f(
            "extraits.fine",
            &[("amount", &tr.number(i64::try_from(f).unwrap_or(i64::MAX)))],
        ));
    }
    if parts.is_empty() {
        "—".into()
    } else {
        parts.join(", ")
    }
}

fn failure_text(tr: &Tr, f: Failure) -> String {
    match f {
        Failure::Refused { message, .. } => message,
        Failure::Lost => tr.t("saisie.lost").to_owned(),
        Failure::Other(d) => d,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Lang;

    fn row(state: &str, sent: bool, entries: Option<i32>) -> crate::queries::ExtractRow {
        let now = time::OffsetDateTime::now_utc();
        crate::queries::ExtractRow {
            id: 1,
            bulletin: 3,
            surname: "Kobila".into(),
            given_names: "Mangué".into(),
            birth_date: None,
            purpose: "x".into(),
            requested_by: "a".into(),
            requested_at: now,
            state: state.into(),
            sent_at: sent.then_some(now),
            answered_at: None,
            extract_number: None,
            entries_count: entries,
            near_matches_count: None,
            rejection_reason: None,
        }
    }

    #[test]
    fn a_requests_state_is_told_in_the_users_language() {
        let (fr, en) = (Tr::new(Lang::Fr), Tr::new(Lang::En));
        let answered = row("answered", true, Some(2));
        assert_eq!(state_label(&fr, &answered), "reçu : 2 condamnation(s)");
        assert_eq!(state_label(&en, &answered), "received: 2 conviction(s)");
        assert_eq!(
            state_label(&en, &row("answered", true, Some(0))),
            "received: no record"
        );
        assert_eq!(
            state_label(&en, &row("pending", false, None)),
            "waiting to be sent"
        );
        assert_eq!(
            state_label(&en, &row("pending", true, None)),
            "sent, awaiting the CJN's answer"
        );
        assert_eq!(
            state_label(&fr, &row("rejected", true, None)),
            "refusé par le CJN"
        );
    }
}
