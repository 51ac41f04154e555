//! Utilisateurs (the greffier's): the court's staff with their privilege and state, the limits
//! of the seed (one greffier, up to 19 secrétaires and 19 agents: `juris.user_quotas`, from the
//! court's settings) and how many use them; creating a user (the password leaves the
//! workstation as a SCRAM verifier only), changing a privilege, suspending and reactivating.
//! The database enforces every rule (`juris.create_user`, `juris.set_privilege`); its refusals
//! are shown in French at the field they name.

use std::collections::BTreeMap;

use egui::{RichText, Ui};

use crate::admin::{UserRow, UsersPage};
use crate::backend::{Failure, Reply, Request, Secret};
use crate::i18n::Tr;
use crate::notify::Toasts;
use crate::screens::Env;
use crate::theme::{self, spacing};
use crate::widgets::{self, BannerKind, FieldOpts};

/// The user being created, as typed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct NewUserForm {
    pub login: String,
    pub full_name: String,
    /// "1" agent or "2" secrétaire.
    pub privilege: Option<String>,
    pub password: String,
    pub confirm: String,
}

/// What the write in progress does, to tell the user once it is done.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Pending {
    Create { login: String, privilege: i32 },
    Change { login: String, privilege: i32 },
}

/// The state of the Utilisateurs screen.
#[derive(Debug, Default)]
pub struct UtilisateursScreen {
    pub page: Option<UsersPage>,
    /// A message not tied to a field.
    pub message: Option<String>,
    pub form: NewUserForm,
    /// Messages by field: `login`, `full_name`, `privilege`, `password`, `confirm` of the new
    /// user; `change` for the selected user's privilege.
    pub errors: BTreeMap<String, String>,
    /// The login selected in the list.
    pub selected: Option<String>,
    /// The privilege chosen for the selected user ("0", "1", "2").
    pub new_privilege: Option<String>,
    /// Asking to confirm the suspension of this login.
    pub confirm_suspend: Option<String>,
    read_tag: Option<u64>,
    write_tag: Option<u64>,
    pending: Option<Pending>,
}

impl UtilisateursScreen {
    /// The screen is opened: read the staff.
    pub fn opened(&mut self, env: &mut Env<'_>) {
        self.read_tag = Some(env.backend.send(Request::Users));
    }

    /// True while a write is in progress.
    pub fn busy(&self) -> bool {
        self.write_tag.is_some()
    }

    /// The user of a login, as last read.
    pub fn user(&self, login: &str) -> Option<&UserRow> {
        self.page
            .as_ref()
            .and_then(|p| p.users.iter().find(|u| u.login == login))
    }

    /// Takes an answer of the database; others are dropped.
    pub fn on_reply(&mut self, tag: u64, reply: Reply, tr: &Tr, toasts: &mut Toasts) {
        match reply {
            Reply::Users(result) if self.read_tag == Some(tag) => {
                self.read_tag = None;
                match result {
                    Ok(page) => {
                        self.page = Some(page);
                        self.message = None;
                    }
                    Err(f) => self.message = Some(failure_text(f, tr)),
                }
            }
            Reply::UserWritten(result) if self.write_tag == Some(tag) => {
                self.write_tag = None;
                let pending = self.pending.take();
                match result {
                    Ok(page) => {
                        self.page = Some(page);
                        self.message = None;
                        match pending {
                            Some(Pending::Create { login, privilege }) => {
                                toasts.success(tr.f(
                                    "users.done.created",
                                    &[
                                        ("login", &login),
                                        ("privilege", privilege_text(tr, privilege)),
                                    ],
                                ));
                                self.form = NewUserForm::default();
                                self.selected = Some(login);
                                self.new_privilege = Some(privilege.to_string());
                            }
                            Some(Pending::Change { login, privilege }) => {
                                toasts.success(tr.f(
                                    "users.done.changed",
                                    &[
                                        ("login", &login),
                                        ("privilege", privilege_text(tr, privilege)),
                                    ],
                                ));
                                self.new_privilege = Some(privilege.to_string());
                            }
                            None => {}
                        }
                    }
                    Err(Failure::Refused { message, field, .. }) => {
                        let creating = matches!(pending, Some(Pending::Create { .. }));
                        let key = match field.as_deref() {
                            Some(f @ ("login" | "full_name" | "password")) if creating => f,
                            // A limit reached (no field) or a privilege refused: at the privilege.
                            _ if creating => "privilege",
                            _ => "change",
                        };
                        self.errors.insert(key.to_owned(), message);
                    }
                    Err(f) => self.message = Some(failure_text(f, tr)),
                }
            }
            _ => {}
        }
    }

    fn create(&mut self, env: &mut Env<'_>) {
        self.errors.clear();
        let tr = env.tr;
        if self.form.password.is_empty() {
            self.errors.insert(
                "password".into(),
                tr.t("users.password_required").to_owned(),
            );
        } else if self.form.password != self.form.confirm {
            self.errors
                .insert("confirm".into(), tr.t("users.password_mismatch").to_owned());
        }
        if !self.errors.is_empty() {
            return;
        }
        // An unchosen privilege is sent as such: the database names what is wrong.
        let privilege = self
            .form
            .privilege
            .as_deref()
            .and_then(|p| p.parse().ok())
            .unwrap_or(-1);
        let login = self.form.login.trim().to_owned();
        self.pending = Some(Pending::Create {
            login: login.clone(),
            privilege,
        });
        self.write_tag = Some(env.backend.send(Request::CreateUser {
            login,
            full_name: self.form.full_name.clone(),
            password: Secret::new(self.form.password.clone()),
            privilege,
        }));
    }

    fn set_privilege(&mut self, login: String, privilege: i32, env: &mut Env<'_>) {
        self.errors.remove("change");
        self.pending = Some(Pending::Change {
            login: login.clone(),
            privilege,
        });
        self.write_tag = Some(env.backend.send(Request::SetPrivilege { login, privilege }));
    }

    /// Draws the screen.
    pub fn show(&mut self, ui: &mut Ui, env: &mut Env<'_>) {
        egui::CentralPanel::default()
            .frame(egui::Frame::new().inner_margin(egui::Margin::same(16)))
            .show(ui, |ui| {
                egui::ScrollArea::vertical()
                    .auto_shrink([false, false])
                    .show(ui, |ui| self.body(ui, env));
            });
        self.suspend_dialog(ui, env);
    }

    fn body(&mut self, ui: &mut Ui, env: &mut Env<'_>) {
        let tr = env.tr;
        if let Some(m) = &self.message {
            widgets::banner(ui, BannerKind::Error, m);
            ui.add_space(spacing::SECTION_GAP);
        }
        let Some(page) = self.page.clone() else {
            theme::card().show(ui, |ui| {
                ui.set_width(ui.available_width());
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label(tr.t("users.loading"));
                });
            });
            return;
        };
        let width = ui.available_width().min(1100.0);
        theme::card().show(ui, |ui| {
            ui.set_width(width - 2.0 * spacing::SECTION_INNER);
            widgets::section_title(ui, tr.t("users.limits"));
            self.limits(ui, tr, &page);
        });
        ui.add_space(spacing::SECTION_GAP);
        theme::card().show(ui, |ui| {
            ui.set_width(width - 2.0 * spacing::SECTION_INNER);
            widgets::section_title(ui, tr.t("users.list"));
            self.list(ui, tr, &page);
        });
        ui.add_space(spacing::SECTION_GAP);
        let half = (width - spacing::SECTION_GAP) / 2.0;
        ui.horizontal_top(|ui| {
            ui.spacing_mut().item_spacing.x = spacing::SECTION_GAP;
            // Each card top-down (a frame inside a row would lay its content out in a row).
            theme::card().show(ui, |ui| {
                ui.set_width(half - 2.0 * spacing::SECTION_INNER);
                ui.vertical(|ui| {
                    widgets::section_title(ui, tr.t("users.selected"));
                    self.selected_user(ui, env);
                });
            });
            theme::card().show(ui, |ui| {
                ui.set_width(half - 2.0 * spacing::SECTION_INNER);
                ui.vertical(|ui| {
                    widgets::section_title(ui, tr.t("users.new"));
                    self.new_user(ui, env, &page);
                });
            });
        });
    }

    fn limits(&self, ui: &mut Ui, tr: &Tr, page: &UsersPage) {
        ui.horizontal_wrapped(|ui| {
            ui.spacing_mut().item_spacing.x = 28.0;
            for q in &page.quotas {
                let text = match q.maximum {
                    Some(max) => tr.f(
                        "users.quota",
                        &[("active", &q.active.to_string()), ("max", &max.to_string())],
                    ),
                    None => tr.f("users.quota_open", &[("active", &q.active.to_string())]),
                };
                let full = q.maximum.is_some_and(|m| q.active >= m) && q.privilege != 3;
                ui.vertical(|ui| {
                    ui.label(
                        RichText::new(privilege_plural(tr, q.privilege)).color(theme::TEXT_MUTED),
                    );
                    ui.label(theme::bold(text, 20.0).color(if full {
                        theme::WARNING
                    } else {
                        theme::ACCENT
                    }));
                    if full {
                        ui.label(
                            RichText::new(tr.t("users.full"))
                                .color(theme::WARNING)
                                .size(12.5),
                        );
                    }
                });
            }
        });
        ui.add_space(4.0);
        let max = |p| {
            page.quota(p)
                .and_then(|(_, m)| m)
                .map(|m| m.to_string())
                .unwrap_or_default()
        };
        ui.label(
            RichText::new(tr.f(
                "users.limit_note",
                &[("agents", &max(1)), ("secretaires", &max(2))],
            ))
            .color(theme::TEXT_MUTED)
            .size(13.0),
        );
    }

    fn list(&mut self, ui: &mut Ui, tr: &Tr, page: &UsersPage) {
        egui::Grid::new("users_list")
            .num_columns(5)
            .striped(true)
            .min_col_width(120.0)
            .spacing([24.0, 6.0])
            .show(ui, |ui| {
                for key in [
                    "users.col.login",
                    "users.col.name",
                    "users.col.privilege",
                    "users.col.state",
                    "users.col.created",
                ] {
                    ui.label(theme::bold(tr.t(key), 13.5));
                }
                ui.end_row();
                for u in &page.users {
                    let selected = self.selected.as_deref() == Some(u.login.as_str());
                    if ui
                        .add(egui::Button::selectable(selected, &u.login))
                        .clicked()
                    {
                        self.selected = Some(u.login.clone());
                        self.new_privilege = Some(u.privilege.max(1).to_string());
                        self.errors.remove("change");
                    }
                    ui.label(&u.full_name);
                    ui.label(privilege_text(tr, u.privilege));
                    if u.privilege == 0 {
                        widgets::chip(ui, theme::ERROR, tr.t("users.state.suspended"));
                    } else {
                        widgets::chip(ui, theme::SUCCESS, tr.t("users.state.active"));
                    }
                    ui.label(date_text(u.created_at));
                    ui.end_row();
                }
            });
    }

    fn selected_user(&mut self, ui: &mut Ui, env: &mut Env<'_>) {
        let tr = env.tr;
        let Some(user) = self.selected.as_deref().and_then(|l| self.user(l)).cloned() else {
            ui.add(
                egui::Label::new(RichText::new(tr.t("users.select_hint")).color(theme::TEXT_MUTED))
                    .wrap(),
            );
            return;
        };
        ui.label(theme::bold(
            format!("{} — {}", user.login, user.full_name),
            15.0,
        ));
        ui.add_space(6.0);
        if user.login == env.session.login || user.privilege == 3 {
            ui.add(
                egui::Label::new(RichText::new(tr.t("users.self")).color(theme::TEXT_MUTED)).wrap(),
            );
            return;
        }
        if user.privilege == 0 {
            ui.label(RichText::new(tr.t("users.suspended_note")).color(theme::ERROR));
            ui.add_space(4.0);
        }
        let lw = 150.0;
        let options = privilege_options(tr);
        let editable = !self.busy();
        ui.horizontal(|ui| {
            let l = widgets::label_cell(ui, tr.t("users.new_privilege"), lw);
            let opts = FieldOpts {
                width: 200.0,
                editable,
                error: self.errors.get("change").map(String::as_str),
            };
            widgets::combo_field(
                ui,
                "user_new_privilege",
                l,
                &mut self.new_privilege,
                &options,
                tr.t("field.choose"),
                opts,
            );
        });
        ui.add_space(6.0);
        let chosen: Option<i32> = self.new_privilege.as_deref().and_then(|p| p.parse().ok());
        ui.horizontal(|ui| {
            ui.add_space(lw + 8.0);
            if user.privilege == 0 {
                let target = chosen.filter(|p| *p > 0).unwrap_or(1);
                if widgets::primary_button(ui, editable, tr.t("users.reactivate")).clicked() {
                    self.set_privilege(user.login.clone(), target, env);
                }
            } else {
                let can_change = editable && chosen.is_some_and(|p| p != user.privilege && p > 0);
                if widgets::primary_button(ui, can_change, tr.t("users.change")).clicked()
                    && let Some(p) = chosen
                {
                    self.set_privilege(user.login.clone(), p, env);
                }
                if widgets::action_button(ui, editable, tr.t("users.suspend")).clicked() {
                    self.confirm_suspend = Some(user.login.clone());
                }
            }
        });
    }

    fn new_user(&mut self, ui: &mut Ui, env: &mut Env<'_>, page: &UsersPage) {
        let tr = env.tr;
        let lw = 170.0;
        let width = (ui.available_width() - lw - 16.0).max(160.0);
        let editable = !self.busy();
        let mut changed = Vec::new();
        egui::Grid::new("users_new")
            .num_columns(2)
            .spacing([12.0, 8.0])
            .show(ui, |ui| {
                let err = |k: &str| self.errors.get(k).cloned();
                let l = widgets::label_cell(ui, tr.t("users.login"), lw);
                let e = err("login");
                let o = FieldOpts {
                    width,
                    editable,
                    error: e.as_deref(),
                };
                let r = widgets::text_field_limited(ui, l, &mut self.form.login, o, Some(63));
                let r = r.on_hover_text(tr.t("users.login_hint"));
                if r.changed() {
                    changed.push("login");
                }
                ui.end_row();
                let l = widgets::label_cell(ui, tr.t("users.full_name"), lw);
                let e = err("full_name");
                let o = FieldOpts {
                    width,
                    editable,
                    error: e.as_deref(),
                };
                if widgets::text_field_limited(ui, l, &mut self.form.full_name, o, Some(200))
                    .changed()
                {
                    changed.push("full_name");
                }
                ui.end_row();
                let l = widgets::label_cell(ui, tr.t("users.privilege"), lw);
                let e = err("privilege");
                let o = FieldOpts {
                    width,
                    editable,
                    error: e.as_deref(),
                };
                let options: Vec<(String, String)> = privilege_options(tr)
                    .into_iter()
                    .filter(|(p, _)| p != "0")
                    .map(|(p, label)| {
                        let n: i32 = p.parse().unwrap_or_default();
                        let label = match page.quota(n) {
                            Some((active, Some(max))) => format!(
                                "{label} ({})",
                                tr.f(
                                    "users.quota",
                                    &[("active", &active.to_string()), ("max", &max.to_string())]
                                )
                            ),
                            _ => label,
                        };
                        (p, label)
                    })
                    .collect();
                if widgets::combo_field(
                    ui,
                    "user_privilege",
                    l,
                    &mut self.form.privilege,
                    &options,
                    tr.t("field.choose"),
                    o,
                )
                .changed()
                {
                    changed.push("privilege");
                }
                ui.end_row();
                for (key, field) in [("password", 0), ("confirm", 1)] {
                    let l = widgets::label_cell(ui, tr.t(&format!("users.{key}")), lw);
                    let e = err(key);
                    let value = if field == 0 {
                        &mut self.form.password
                    } else {
                        &mut self.form.confirm
                    };
                    let r = widgets::password_field(
                        ui,
                        l,
                        value,
                        FieldOpts {
                            width,
                            editable,
                            error: e.as_deref(),
                        },
                    );
                    if r.changed() {
                        changed.push(key);
                    }
                    ui.end_row();
                }
            });
        for k in changed {
            self.errors.remove(k);
        }
        ui.add_space(6.0);
        ui.horizontal(|ui| {
            ui.add_space(lw + 12.0);
            if widgets::primary_button(ui, editable, tr.t("users.create")).clicked() {
                self.create(env);
            }
            if self.busy() {
                ui.spinner();
            }
        });
    }

    fn suspend_dialog(&mut self, ui: &mut Ui, env: &mut Env<'_>) {
        let Some(login) = self.confirm_suspend.clone() else {
            return;
        };
        let tr = env.tr;
        let name = self
            .user(&login)
            .map(|u| u.full_name.clone())
            .unwrap_or_default();
        let mut close = false;
        let modal = egui::Modal::new(egui::Id::unique("users_suspend")).show(ui.ctx(), |ui| {
            ui.set_width(440.0);
            ui.label(theme::bold(
                tr.f("dialog.suspend.title", &[("login", &login)]),
                17.0,
            ));
            ui.add_space(6.0);
            ui.add(egui::Label::new(tr.f("dialog.suspend.text", &[("name", &name)])).wrap());
            ui.add_space(10.0);
            ui.horizontal(|ui| {
                let confirm = egui::Button::new(
                    RichText::new(tr.t("dialog.suspend.confirm")).color(egui::Color32::WHITE),
                )
                .fill(theme::ERROR);
                if ui.add_enabled(!self.busy(), confirm).clicked() {
                    self.set_privilege(login.clone(), 0, env);
                    close = true;
                }
                if widgets::action_button(ui, true, tr.t("dialog.cancel")).clicked() {
                    close = true;
                }
            });
        });
        if close || modal.should_close() {
            self.confirm_suspend = None;
        }
    }
}

/// The privileges a user may be given here (the court has one greffier).
fn privilege_options(tr: &Tr) -> Vec<(String, String)> {
    ["1", "2", "0"]
        .iter()
        .map(|p| ((*p).to_owned(), tr.t(&format!("privilege.{p}")).to_owned()))
        .collect()
}

/// The name of a privilege.
pub fn privilege_text(tr: &Tr, privilege: i32) -> &str {
    tr.t(match privilege {
        3 => "privilege.3",
        2 => "privilege.2",
        1 => "privilege.1",
        _ => "privilege.0",
    })
}

fn privilege_plural(tr: &Tr, privilege: i32) -> &str {
    tr.t(match privilege {
        3 => "users.plural.3",
        2 => "users.plural.2",
        1 => "users.plural.1",
        _ => "users.plural.0",
    })
}

fn date_text(t: time::OffsetDateTime) -> String {
    let t = time::UtcOffset::current_local_offset().map_or(t, |o| t.to_offset(o));
    format!("{:02}/{:02}/{}", t.day(), u8::from(t.month()), t.year())
}

fn failure_text(f: Failure, tr: &Tr) -> String {
    match f {
        Failure::Refused { message, .. } => message,
        Failure::Lost => tr.t("users.lost").to_owned(),
        Failure::Other(detail) => tr.f("users.other_error", &[("detail", &detail)]),
    }
}
