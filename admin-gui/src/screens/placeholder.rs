//! The screens not built yet: a plain page that says so.

use egui::{RichText, Ui};

use crate::i18n::Tr;
use crate::screens::Screen;
use crate::theme;

/// Draws the "à venir" page of a screen.
pub fn show(ui: &mut Ui, tr: &Tr, screen: Screen) {
    egui::CentralPanel::default()
        .frame(egui::Frame::new().inner_margin(egui::Margin::same(16)))
        .show(ui, |ui| {
            theme::card().show(ui, |ui| {
                ui.set_width(ui.available_width());
                ui.label(theme::bold(tr.t(screen.key()), 20.0).color(theme::ACCENT));
                ui.add_space(8.0);
                ui.label(RichText::new(tr.t("placeholder.text")).color(theme::TEXT_MUTED));
            });
        });
}
