//! Connexion: the court's server (remembered per workstation), the user's own PostgreSQL login
//! and password, the language; a clear message for a wrong password, a suspended account, an
//! unreachable server.

use egui::{RichText, Ui};

use crate::backend::{Backend, ConnectError, Request, Secret, Session};
use crate::config::{ServerSettings, TlsMode, Workstation};
use crate::i18n::{Lang, Tr};
use crate::theme;
use crate::widgets::{self, BannerKind, FieldOpts};

/// The state of the login screen.
#[derive(Debug, Default)]
pub struct LoginScreen {
    pub server: ServerSettings,
    pub port_text: String,
    pub ca_file_text: String,
    pub login: String,
    pub password: String,
    pub lang: Lang,
    /// The tag of the login in progress.
    waiting: Option<u64>,
    pub error: Option<ConnectError>,
    /// Why the previous session ended, shown above the form.
    pub ended: Option<ConnectError>,
    focus_pending: bool,
}

/// What the login screen tells the app.
pub enum LoginOutcome {
    /// Logged in: the session, and the server to remember.
    LoggedIn(Session),
}

impl LoginScreen {
    pub fn new(w: &Workstation) -> LoginScreen {
        LoginScreen {
            server: w.server.clone(),
            port_text: w.server.port.to_string(),
            ca_file_text: w
                .server
                .ca_file
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            login: w.last_login.clone().unwrap_or_default(),
            lang: w.language,
            focus_pending: true,
            ..Default::default()
        }
    }

    /// Back to the login screen (logout, or the session ended), the password forgotten.
    pub fn reset(&mut self, ended: Option<ConnectError>) {
        self.password.clear();
        self.waiting = None;
        self.error = None;
        self.ended = ended;
        self.focus_pending = true;
    }

    pub fn busy(&self) -> bool {
        self.waiting.is_some()
    }

    /// Takes the answer to a login.
    pub fn on_connected(
        &mut self,
        tag: u64,
        result: Result<Session, ConnectError>,
    ) -> Option<LoginOutcome> {
        if self.waiting != Some(tag) {
            return None;
        }
        self.waiting = None;
        match result {
            Ok(session) => {
                self.password.clear();
                self.error = None;
                self.ended = None;
                Some(LoginOutcome::LoggedIn(session))
            }
            Err(e) => {
                self.password.clear();
                self.error = Some(e);
                self.focus_pending = true;
                None
            }
        }
    }

    /// Fills the form as the command line asks (`--server`, `--login`); with a password
    /// (found where libpq finds one), logs in at once.
    pub fn start_with(
        &mut self,
        server: Option<ServerSettings>,
        login: &str,
        password: Option<String>,
        backend: &mut Backend,
        tr: &Tr,
    ) {
        if let Some(server) = server {
            self.port_text = server.port.to_string();
            self.server = server;
        }
        if !login.is_empty() {
            self.login = login.to_owned();
        }
        if let Some(password) = password {
            self.password = password;
            self.submit(backend, tr);
            self.password.clear();
        } else {
            self.focus_pending = true;
        }
    }

    fn submit(&mut self, backend: &mut Backend, tr: &Tr) {
        self.error = None;
        let Ok(port) = self.port_text.trim().parse::<u16>() else {
            self.error = Some(ConnectError {
                kind: crate::backend::ConnectErrorKind::Unreachable,
                detail: tr.f("login.bad_port", &[("port", self.port_text.trim())]),
            });
            return;
        };
        self.server.port = port;
        self.server.ca_file = Some(self.ca_file_text.trim())
            .filter(|s| !s.is_empty())
            .map(Into::into);
        self.waiting = Some(backend.send(Request::Connect {
            server: self.server.clone(),
            login: self.login.trim().to_owned(),
            password: Secret::new(self.password.clone()),
        }));
    }

    /// Draws the screen (the whole window).
    pub fn show(&mut self, ui: &mut Ui, backend: &mut Backend, tr: &Tr) {
        egui::CentralPanel::default()
            .frame(egui::Frame::new().fill(theme::PAGE))
            .show(ui, |ui| {
                let card_width = 460.0;
                ui.add_space(((ui.available_height() - 560.0) / 2.0).max(16.0));
                ui.vertical_centered(|ui| {
                    ui.set_max_width(card_width);
                    theme::card()
                        .inner_margin(egui::Margin::same(24))
                        .show(ui, |ui| {
                            ui.set_width(card_width - 48.0);
                            self.form(ui, backend, tr);
                        });
                    ui.add_space(8.0);
                    ui.label(
                        RichText::new(tr.t("login.footer"))
                            .color(theme::TEXT_MUTED)
                            .size(12.0),
                    );
                });
            });
    }

    fn form(&mut self, ui: &mut Ui, backend: &mut Backend, tr: &Tr) {
        ui.vertical_centered(|ui| {
            ui.label(theme::bold("XMJuris", 26.0).color(theme::ACCENT));
            ui.label(RichText::new(tr.t("login.subtitle")).color(theme::TEXT_MUTED));
        });
        ui.add_space(14.0);
        if let Some(e) = &self.ended {
            widgets::banner(
                ui,
                BannerKind::Warning,
                &tr.f("login.session_ended", &[("reason", tr.t(e.kind.key()))]),
            );
            ui.add_space(8.0);
        }
        let label_w = 150.0;
        let field_w = ui.available_width() - label_w - 8.0;
        let opts = FieldOpts {
            width: field_w,
            editable: !self.busy(),
            error: None,
        };
        let mut enter = false;
        ui.with_layout(egui::Layout::top_down(egui::Align::Min), |ui| {
            ui.label(theme::bold(tr.t("login.server_caption"), 13.0).color(theme::TEXT_MUTED));
        });
        ui.add_space(4.0);
        egui::Grid::new("login_grid")
            .num_columns(2)
            .spacing([8.0, 8.0])
            .show(ui, |ui| {
                let l = widgets::label_cell(ui, tr.t("login.host"), label_w);
                let r = widgets::text_field(ui, l, &mut self.server.host, opts);
                enter |= submitted(ui, &r);
                ui.end_row();
                let l = widgets::label_cell(ui, tr.t("login.port"), label_w);
                let r = widgets::number_field(
                    ui,
                    l,
                    &mut self.port_text,
                    FieldOpts {
                        width: 90.0,
                        ..opts
                    },
                );
                enter |= submitted(ui, &r);
                ui.end_row();
                let l = widgets::label_cell(ui, tr.t("login.database"), label_w);
                let r = widgets::text_field(ui, l, &mut self.server.database, opts);
                enter |= submitted(ui, &r);
                ui.end_row();
                let l = widgets::label_cell(ui, tr.t("login.tls"), label_w);
                let tls_options: Vec<(String, String)> = TlsMode::ALL
                    .iter()
                    .map(|m| (format!("{m:?}"), tr.t(m.key()).to_owned()))
                    .collect();
                let mut tls = Some(format!("{:?}", self.server.tls));
                let r = widgets::combo_field(
                    ui,
                    "login_tls",
                    l,
                    &mut tls,
                    &tls_options,
                    tr.t(TlsMode::Disable.key()),
                    opts,
                );
                if r.changed() {
                    self.server.tls = TlsMode::ALL
                        .into_iter()
                        .find(|m| Some(format!("{m:?}")) == tls)
                        .unwrap_or_default();
                }
                ui.end_row();
                if self.server.tls == TlsMode::VerifyFull {
                    let l = widgets::label_cell(ui, tr.t("login.ca_file"), label_w);
                    widgets::text_field(ui, l, &mut self.ca_file_text, opts);
                    ui.end_row();
                }
                ui.end_row();
                ui.label(theme::bold(tr.t("login.account_caption"), 13.0).color(theme::TEXT_MUTED));
                ui.end_row();
                let l = widgets::label_cell(ui, tr.t("login.user"), label_w);
                let r = widgets::text_field(ui, l, &mut self.login, opts);
                enter |= submitted(ui, &r);
                if self.focus_pending && !self.login.is_empty() {
                    // The login is remembered: the password is what is left to type.
                } else if self.focus_pending {
                    r.request_focus();
                    self.focus_pending = false;
                }
                ui.end_row();
                let l = widgets::label_cell(ui, tr.t("login.password"), label_w);
                let busy = self.busy();
                let r = ui
                    .add(
                        egui::TextEdit::singleline(&mut self.password)
                            .password(true)
                            .desired_width(field_w)
                            .interactive(!busy),
                    )
                    .labelled_by(l.id);
                if self.focus_pending {
                    r.request_focus();
                    self.focus_pending = false;
                }
                enter |= submitted(ui, &r);
                ui.end_row();
                let l = widgets::label_cell(ui, tr.t("login.language"), label_w);
                let langs: Vec<(String, String)> = Lang::ALL
                    .iter()
                    .map(|l| (format!("{l:?}"), l.native_name().to_owned()))
                    .collect();
                let mut lang = Some(format!("{:?}", self.lang));
                let r = widgets::combo_field(
                    ui,
                    "login_lang",
                    l,
                    &mut lang,
                    &langs,
                    Lang::Fr.native_name(),
                    opts,
                );
                if r.changed() {
                    self.lang = Lang::ALL
                        .into_iter()
                        .find(|l| Some(format!("{l:?}")) == lang)
                        .unwrap_or_default();
                }
                ui.end_row();
            });
        ui.add_space(12.0);
        if let Some(e) = &self.error {
            widgets::banner_with_detail(ui, BannerKind::Error, tr.t(e.kind.key()), Some(&e.detail));
            ui.add_space(8.0);
        }
        ui.horizontal(|ui| {
            let ready = !self.busy() && !self.login.trim().is_empty() && !self.password.is_empty();
            let clicked = widgets::primary_button(ui, ready, tr.t("login.connect")).clicked();
            if self.busy() {
                ui.spinner();
                ui.label(RichText::new(tr.t("login.connecting")).color(theme::TEXT_MUTED));
            }
            if (clicked || enter) && ready {
                self.submit(backend, tr);
            }
        });
    }
}

/// True when Enter was pressed in this single-line field.
fn submitted(ui: &Ui, r: &egui::Response) -> bool {
    r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter))
}
