//! Short notifications: a success or a background event, shown a few seconds in the corner.
//! A visible notification asks for one repaint when it expires, nothing more.

use std::time::{Duration, Instant};

use egui::{Color32, RichText};

use crate::theme;

/// The kind of a notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToastKind {
    Success,
    Info,
    Error,
}

#[derive(Debug, Clone)]
struct Toast {
    kind: ToastKind,
    text: String,
    until: Instant,
}

/// The notifications on screen.
#[derive(Debug, Default)]
pub struct Toasts {
    items: Vec<Toast>,
}

impl Toasts {
    pub fn success(&mut self, text: impl Into<String>) {
        self.push(ToastKind::Success, text.into(), Duration::from_secs(4));
    }

    pub fn info(&mut self, text: impl Into<String>) {
        self.push(ToastKind::Info, text.into(), Duration::from_secs(5));
    }

    pub fn error(&mut self, text: impl Into<String>) {
        self.push(ToastKind::Error, text.into(), Duration::from_secs(8));
    }

    fn push(&mut self, kind: ToastKind, text: String, how_long: Duration) {
        self.items.retain(|t| t.text != text);
        self.items.push(Toast {
            kind,
            text,
            until: Instant::now() + how_long,
        });
        if self.items.len() > 4 {
            self.items.remove(0);
        }
    }

    /// The texts on screen (for tests and accessibility).
    pub fn texts(&self) -> Vec<&str> {
        self.items.iter().map(|t| t.text.as_str()).collect()
    }

    /// Draws the notifications in the bottom-right corner; schedules the repaint that removes
    /// the next one to expire.
    pub fn show(&mut self, ctx: &egui::Context) {
        let now = Instant::now();
        self.items.retain(|t| t.until > now);
        if let Some(next) = self.items.iter().map(|t| t.until).min() {
            ctx.request_repaint_after(next - now);
        }
        if self.items.is_empty() {
            return;
        }
        egui::Area::new(egui::Id::unique("toasts"))
            .anchor(egui::Align2::RIGHT_BOTTOM, egui::vec2(-16.0, -16.0))
            .order(egui::Order::Foreground)
            .interactable(false)
            .show(ctx, |ui| {
                ui.set_max_width(380.0);
                for t in &self.items {
                    let (fg, bg) = match t.kind {
                        ToastKind::Success => (theme::SUCCESS, theme::SUCCESS_BG),
                        ToastKind::Info => (theme::ACCENT, theme::INFO_BG),
                        ToastKind::Error => (theme::ERROR, theme::ERROR_BG),
                    };
                    egui::Frame::new()
                        .fill(bg)
                        .stroke(egui::Stroke::new(1.0, fg))
                        .corner_radius(egui::CornerRadius::same(6))
                        .inner_margin(egui::Margin::symmetric(14, 10))
                        .shadow(egui::Shadow {
                            offset: [0, 2],
                            blur: 8,
                            spread: 0,
                            color: Color32::from_black_alpha(40),
                        })
                        .show(ui, |ui| {
                            ui.add(egui::Label::new(RichText::new(&t.text).color(fg)).wrap());
                        });
                    ui.add_space(6.0);
                }
            });
    }
}
