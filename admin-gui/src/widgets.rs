//! The form's building blocks: a label tied to its input (`labelled_by`: screen readers and
//! kittest find the input by its visible label), the field's error in red just under it, date
//! fields that put the separators in, combo boxes for enumerations, the status chip and the
//! buttons. Every screen uses these, so every form looks and behaves the same.

use egui::text::{CCursor, CCursorRange};
use egui::{Color32, Response, RichText, Stroke, TextEdit, Ui, Vec2};

use crate::dates::{self, DateInput};
use crate::i18n::Tr;
use crate::theme;

/// How a field is shown.
#[derive(Debug, Clone, Copy)]
pub struct FieldOpts<'a> {
    pub width: f32,
    pub editable: bool,
    /// The database's (or the date check's) message for this field, shown in red under it.
    pub error: Option<&'a str>,
}

/// The height of a single-line text field (font row and margins): labels are centred on it.
const FIELD_HEIGHT: f32 = 30.0;

/// A label of the form's label column (fixed width, so labels and fields align).
pub fn label_cell(ui: &mut Ui, text: &str, width: f32) -> Response {
    let (rect, _) = ui.allocate_exact_size(Vec2::new(width, FIELD_HEIGHT), egui::Sense::hover());
    let mut child = ui.new_child(
        egui::UiBuilder::new()
            .max_rect(rect)
            .layout(egui::Layout::left_to_right(egui::Align::Center)),
    );
    child.add(egui::Label::new(RichText::new(text).color(theme::TEXT_MUTED)).truncate())
}

/// A text field with its label.
pub fn text_field(
    ui: &mut Ui,
    label: Response,
    value: &mut String,
    opts: FieldOpts<'_>,
) -> Response {
    text_field_limited(ui, label, value, opts, None)
}

/// A text field that takes at most `limit` characters (the database's limit of the field,
/// `juris.field_limits`): what would go beyond is not inserted.
pub fn text_field_limited(
    ui: &mut Ui,
    label: Response,
    value: &mut String,
    opts: FieldOpts<'_>,
    limit: Option<usize>,
) -> Response {
    field_frame(ui, opts, |ui| {
        let edit = TextEdit::singleline(value)
            .char_limit(limit.unwrap_or(usize::MAX))
            .desired_width(opts.width)
            .interactive(opts.editable)
            .background_color(if opts.editable {
                Color32::WHITE
            } else {
                theme::READ_ONLY_BG
            });
        ui.add(edit)
    })
    .labelled_by(label.id)
}

/// A password field with its label (the characters hidden).
pub fn password_field(
    ui: &mut Ui,
    label: Response,
    value: &mut String,
    opts: FieldOpts<'_>,
) -> Response {
    field_frame(ui, opts, |ui| {
        ui.add(
            TextEdit::singleline(value)
                .password(true)
                .desired_width(opts.width)
                .interactive(opts.editable),
        )
    })
    .labelled_by(label.id)
}

/// A multi-line text field with its label.
pub fn text_area(
    ui: &mut Ui,
    label: Response,
    value: &mut String,
    rows: usize,
    opts: FieldOpts<'_>,
) -> Response {
    text_area_limited(ui, label, value, rows, opts, None)
}

/// A multi-line text field that takes at most `limit` characters.
pub fn text_area_limited(
    ui: &mut Ui,
    label: Response,
    value: &mut String,
    rows: usize,
    opts: FieldOpts<'_>,
    limit: Option<usize>,
) -> Response {
    field_frame(ui, opts, |ui| {
        let edit = TextEdit::multiline(value)
            .char_limit(limit.unwrap_or(usize::MAX))
            .desired_width(opts.width)
            .desired_rows(rows)
            .interactive(opts.editable)
            .background_color(if opts.editable {
                Color32::WHITE
            } else {
                theme::READ_ONLY_BG
            });
        ui.add(edit)
    })
    .labelled_by(label.id)
}

/// A field that takes digits only (months, amounts): other characters are not inserted.
pub fn number_field(
    ui: &mut Ui,
    label: Response,
    value: &mut String,
    opts: FieldOpts<'_>,
) -> Response {
    let before = value.clone();
    let r = text_field(ui, label, value, opts);
    if r.changed() {
        let cleaned: String = value
            .chars()
            .filter(|c| c.is_ascii_digit() || matches!(c, ' ' | ',' | '.' | '\u{202F}' | '\u{A0}'))
            .collect();
        if cleaned != *value {
            *value = if cleaned.is_empty() && !before.is_empty() {
                String::new()
            } else {
                cleaned
            };
        }
    }
    r
}

/// A date field: `JJ/MM/AAAA` with the separators put in while typing; an impossible date is
/// marked at the field (and the form refuses to send it).
pub fn date_field(
    ui: &mut Ui,
    tr: &Tr,
    label: Response,
    value: &mut String,
    opts: FieldOpts<'_>,
) -> Response {
    let before = value.clone();
    let state = dates::parse(value);
    let own_error = match state {
        DateInput::Impossible => Some(tr.t("date.impossible")),
        _ => None,
    };
    let error = opts.error.or(own_error);
    let opts = FieldOpts { error, ..opts };
    let hint = tr.t("date.hint").to_owned();
    let mut output = None;
    let response = field_frame(ui, opts, |ui| {
        let out = TextEdit::singleline(value)
            .desired_width(opts.width.min(130.0))
            .hint_text(hint)
            .char_limit(10)
            .interactive(opts.editable)
            .background_color(if opts.editable {
                Color32::WHITE
            } else {
                theme::READ_ONLY_BG
            })
            .show(ui);
        let r = out.response.response.clone();
        output = Some(out);
        r
    })
    .labelled_by(label.id);
    if response.changed() {
        let deleting = value.chars().count() < before.chars().count();
        let masked = dates::mask(value, deleting);
        if masked != *value {
            *value = masked;
            if let Some(mut out) = output {
                let end = CCursor::new(value.chars().count());
                out.state
                    .cursor
                    .set_char_range(Some(CCursorRange::one(end)));
                out.state.store(ui.ctx(), response.id);
            }
        }
    }
    response
}

/// A combo box over `(value, label)` options, with an empty choice; `None` is "not given".
pub fn combo_field(
    ui: &mut Ui,
    id_salt: &str,
    label: Response,
    value: &mut Option<String>,
    options: &[(String, String)],
    empty_label: &str,
    opts: FieldOpts<'_>,
) -> Response {
    let selected = value
        .as_deref()
        .and_then(|v| options.iter().find(|(code, _)| code == v))
        .map(|(_, l)| l.clone())
        .or_else(|| value.clone())
        .unwrap_or_else(|| empty_label.to_owned());
    let mut changed = false;
    let response = field_frame(ui, opts, |ui| {
        ui.add_enabled_ui(opts.editable, |ui| {
            let inner = egui::ComboBox::from_id_salt(id_salt)
                .selected_text(selected)
                .width(opts.width)
                .truncate()
                .show_ui(ui, |ui| {
                    if ui.selectable_label(value.is_none(), empty_label).clicked()
                        && value.is_some()
                    {
                        *value = None;
                        changed = true;
                    }
                    for (code, l) in options {
                        let is = value.as_deref() == Some(code.as_str());
                        if ui.selectable_label(is, l).clicked() && !is {
                            *value = Some(code.clone());
                            changed = true;
                        }
                    }
                });
            inner.response
        })
        .inner
    });
    let mut response = response.labelled_by(label.id);
    if changed {
        response.mark_changed();
    }
    response
}

/// The frame of a field: a red border and the message under it when it is in error.
fn field_frame(
    ui: &mut Ui,
    opts: FieldOpts<'_>,
    add: impl FnOnce(&mut Ui) -> Response,
) -> Response {
    // Exactly the field's width, whatever the layout around it remembers: the columns of a
    // form stay aligned from the first frame.
    // With a message, room for two lines of it under the field, from the first frame.
    let height = if opts.error.is_some() {
        FIELD_HEIGHT + 36.0
    } else {
        FIELD_HEIGHT
    };
    let size = egui::vec2(opts.width, height);
    ui.allocate_ui_with_layout(size, egui::Layout::top_down(egui::Align::Min), |ui| {
        ui.set_width(opts.width);
        ui.set_min_height(height);
        ui.spacing_mut().item_spacing.y = 2.0;
        // Always inside the same scope, error or not: the field's id (and so its focus and
        // cursor) must not change when its message appears.
        let r = ui
            .scope(|ui| {
                if opts.error.is_some() {
                    let w = &mut ui.visuals_mut().widgets;
                    for v in [
                        &mut w.inactive,
                        &mut w.hovered,
                        &mut w.active,
                        &mut w.noninteractive,
                    ] {
                        v.bg_stroke = Stroke::new(1.5, theme::ERROR);
                    }
                    ui.visuals_mut().selection.stroke = Stroke::new(1.5, theme::ERROR);
                }
                add(ui)
            })
            .inner;
        if let Some(msg) = opts.error {
            ui.add(egui::Label::new(RichText::new(msg).color(theme::ERROR).size(12.5)).wrap());
        }
        r
    })
    .inner
}

/// The coloured chip of a fiche status, the same on every screen.
pub fn status_chip(ui: &mut Ui, status: i32, label: &str) -> Response {
    let color = theme::status_color(status);
    egui::Frame::new()
        .fill(color)
        .corner_radius(egui::CornerRadius::same(10))
        .inner_margin(egui::Margin::symmetric(10, 2))
        .show(ui, |ui| {
            ui.label(RichText::new(label).color(Color32::WHITE).size(13.0));
        })
        .response
}

/// A coloured chip with a label (a state), the same shape as the status chip.
pub fn chip(ui: &mut Ui, color: Color32, label: &str) -> Response {
    egui::Frame::new()
        .fill(color)
        .corner_radius(egui::CornerRadius::same(10))
        .inner_margin(egui::Margin::symmetric(10, 2))
        .show(ui, |ui| {
            ui.add(
                egui::Label::new(RichText::new(label).color(Color32::WHITE).size(13.0)).truncate(),
            );
        })
        .response
}

/// The one strong button of a screen (its primary action).
pub fn primary_button(ui: &mut Ui, enabled: bool, text: &str) -> Response {
    let button = egui::Button::new(theme::bold(text, 14.5).color(Color32::WHITE))
        .fill(if enabled {
            theme::ACCENT
        } else {
            Color32::from_rgb(0x9F, 0xB3, 0xC8)
        })
        .min_size(Vec2::new(0.0, 30.0));
    ui.add_enabled(enabled, button)
}

/// An ordinary action button.
pub fn action_button(ui: &mut Ui, enabled: bool, text: &str) -> Response {
    ui.add_enabled(
        enabled,
        egui::Button::new(text).min_size(Vec2::new(0.0, 30.0)),
    )
}

/// A section title of a form.
pub fn section_title(ui: &mut Ui, text: &str) {
    ui.label(theme::bold(text, 15.5).color(theme::ACCENT));
    ui.add_space(4.0);
}

/// A message box (error, success, information) across a screen.
pub fn banner(ui: &mut Ui, kind: BannerKind, text: &str) -> Response {
    banner_with_detail(ui, kind, text, None)
}

/// A message box with, under it, a detail for the operator (the server's own words).
pub fn banner_with_detail(
    ui: &mut Ui,
    kind: BannerKind,
    text: &str,
    detail: Option<&str>,
) -> Response {
    let (fg, bg) = match kind {
        BannerKind::Error => (theme::ERROR, theme::ERROR_BG),
        BannerKind::Success => (theme::SUCCESS, theme::SUCCESS_BG),
        BannerKind::Info => (theme::ACCENT, theme::INFO_BG),
        BannerKind::Warning => (theme::WARNING, theme::WARNING_BG),
    };
    egui::Frame::new()
        .fill(bg)
        .stroke(Stroke::new(1.0, fg.gamma_multiply(0.5)))
        .corner_radius(egui::CornerRadius::same(4))
        .inner_margin(egui::Margin::symmetric(12, 8))
        .show(ui, |ui| {
            ui.set_width(ui.available_width());
            ui.with_layout(egui::Layout::top_down(egui::Align::Min), |ui| {
                ui.add(egui::Label::new(RichText::new(text).color(fg)).wrap());
                if let Some(detail) = detail.filter(|d| !d.is_empty()) {
                    ui.add(
                        egui::Label::new(RichText::new(detail).color(theme::TEXT_MUTED).size(12.0))
                            .wrap(),
                    );
                }
            });
        })
        .response
}

/// The kind of a banner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BannerKind {
    Error,
    Success,
    Info,
    Warning,
}
