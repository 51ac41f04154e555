//! Saisie: the fiche laid out like the printed one (Juridiction, Sur le justiciable,
//! Condamnation, Établissement de la fiche), and its workflow actions, each enabled only when the
//! database says so (`juris.fiche_actions`).
//!
//! The screen's state ([`SaisieScreen`]) is apart from its drawing: the answers of the database
//! are taken in [`SaisieScreen::on_reply`], the local draft is kept in [`SaisieScreen::tick`].

use std::collections::BTreeMap;

use egui::{Key, KeyboardShortcut, Modifiers, RichText, Ui};

use crate::admin::{self, EventRow};
use crate::backend::{Action, ActionRow, Done, Failure, LoadedFiche, Reply, Request};
use crate::dates::{self, DateInput};
use crate::draft::{self, Draft, DraftStore};
use crate::fiche::{self, FicheForm, FicheMeta};
use crate::i18n::Tr;
use crate::queries::DocumentSource;
use crate::screens::{Env, Goto};
use crate::theme::{self, spacing};
use crate::widgets::{self, BannerKind, FieldOpts};

/// A dialog of the screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dialog {
    /// Renvoyer: the reason is required (the database says so if it is missing).
    Return { reason: String },
    /// Signer: confirmation, since a signature cannot be undone.
    Sign,
    /// The NIU the signature gave.
    Signed { niu: String },
    /// Déclasser: the motive.
    Withdraw { motive: String },
    /// Valider la rectification: the motive.
    Rectify { motive: String },
    /// Effacer: confirmation.
    Erase,
    /// Renvoyer la rectification: the comment is required (the database says so).
    ReturnRectification { comment: String },
    /// Appliquer la rectification: confirmation (a new version is signed and transmitted).
    ApplyRectification,
    /// Enregistrer un événement: confirmation (it is signed and transmitted, never changed).
    RecordEvent,
    /// Unsaved changes would be dropped by what the user asked (new fiche, open another).
    Discard { then: AfterDiscard },
}

/// What to do once unsaved changes are dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterDiscard {
    New,
    Open(i64),
}

/// The state of the Saisie screen.
#[derive(Debug, Default)]
pub struct SaisieScreen {
    /// What the user sees and types.
    pub form: FicheForm,
    /// The fiche as stored, when it exists.
    pub meta: Option<FicheMeta>,
    /// The content as the database holds it (empty for a new fiche): the form is "modified"
    /// when it differs.
    saved: FicheForm,
    /// What the database allows now on this fiche, for this user.
    pub actions: Vec<ActionRow>,
    /// Messages by field (the database's name of the field).
    pub errors: BTreeMap<String, String>,
    /// A message not tied to a field.
    pub message: Option<(BannerKind, String)>,
    pub dialog: Option<Dialog>,
    /// Editing a signed fiche's content, to validate as a rectification.
    pub rectifying: bool,
    /// The draft left by an earlier session, offered back.
    pub offered: Option<Draft>,
    draft: Option<DraftStore>,
    /// The tag of the load or write in progress.
    waiting: Option<u64>,
    actions_tag: Option<u64>,
    /// The content sent by the write in progress.
    sent: Option<FicheForm>,
    /// A draft to put back over the fiche being loaded.
    resume_after_load: Option<FicheForm>,
    focus_first: bool,
    /// Which field to give the focus to (after a refusal that names one).
    focus_field: Option<String>,
    /// The longest text of each field, as the database allows (`juris.field_limits`).
    limits: BTreeMap<String, usize>,
    /// The fiche's dated events after signature.
    pub events: Vec<EventRow>,
    /// The event being entered.
    pub event: EventForm,
    /// The write in progress records an event: its refusal goes to the event's fields.
    sending_event: bool,
}

/// A dated event after signature, as the greffier enters it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventForm {
    pub kind: Option<String>,
    pub date: String,
    pub reference: String,
    pub remitted_months: String,
    pub total: bool,
    pub note: String,
}

impl EventForm {
    /// The JSON of `juris.record_sentence_event`; fails when the date is not a complete, real
    /// date (it is not sent).
    fn to_json(&self) -> Result<serde_json::Value, &'static str> {
        let date = match dates::parse(&self.date) {
            DateInput::Valid(d) => serde_json::Value::String(dates::iso(d)),
            DateInput::Empty => serde_json::Value::Null,
            DateInput::Partial => return Err("date.incomplete"),
            DateInput::Impossible => return Err("date.impossible"),
        };
        let text = |s: &str| {
            let t = s.trim();
            (!t.is_empty()).then(|| t.to_owned())
        };
        let months: String = self
            .remitted_months
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        Ok(serde_json::json!({
            "kind": self.kind,
            "date": date,
            "reference": text(&self.reference),
            "note": text(&self.note),
            "remitted_months": text(&months),
            "total": self.total,
        }))
    }
}

impl SaisieScreen {
    /// A new session: an empty fiche, the user's local draft offered back if there is one.
    pub fn start(&mut self, draft: DraftStore) {
        let limits = std::mem::take(&mut self.limits);
        *self = SaisieScreen::default();
        self.limits = limits;
        if let Some(d) = draft.load().filter(|d| !d.form.is_empty()) {
            self.offered = Some(d);
        }
        self.draft = Some(draft);
        self.new_fiche();
    }

    /// True while a load or a write is in progress.
    pub fn busy(&self) -> bool {
        self.waiting.is_some()
    }

    /// True when the form holds changes the database does not have.
    pub fn modified(&self) -> bool {
        self.form != self.saved
    }

    fn id(&self) -> Option<i64> {
        self.meta.as_ref().map(|m| m.id)
    }

    /// Whether the database allows an action, and why not.
    pub fn allowed(&self, action: Action) -> (bool, Option<&str>) {
        match self.actions.iter().find(|r| r.action == action) {
            Some(r) => (r.allowed, r.reason.as_deref()),
            None => (false, None),
        }
    }

    fn editable(&self) -> bool {
        !self.busy() && (self.rectifying || self.allowed(Action::Save).0)
    }

    /// The database's length limits of the fiche's text fields (`juris.field_limits`).
    pub fn set_limits(&mut self, limits: Vec<(String, usize)>) {
        self.limits = limits.into_iter().collect();
    }

    /// The longest text the database takes in a field.
    pub fn limit(&self, field: &str) -> Option<usize> {
        self.limits.get(field).copied()
    }

    /// Empties the form for a new fiche.
    pub fn new_fiche(&mut self) {
        self.events.clear();
        self.event = EventForm::default();
        self.form = FicheForm::default();
        self.saved = FicheForm::default();
        self.meta = None;
        self.errors.clear();
        self.message = None;
        self.rectifying = false;
        self.focus_first = true;
        // A fiche that does not exist yet can only be saved (by any staff member, as
        // juris.save_fiche allows); everything else waits for it to exist, and then
        // juris.fiche_actions says.
        self.actions = vec![ActionRow {
            action: Action::Save,
            allowed: true,
            reason: None,
        }];
        self.actions_tag = None;
    }

    /// Opens a fiche (asking first if unsaved changes would be lost).
    pub fn request_open(&mut self, id: i64, env: &mut Env<'_>) {
        if self.modified() {
            self.dialog = Some(Dialog::Discard {
                then: AfterDiscard::Open(id),
            });
        } else {
            self.open(id, env);
        }
    }

    fn open(&mut self, id: i64, env: &mut Env<'_>) {
        self.errors.clear();
        self.message = None;
        self.rectifying = false;
        self.waiting = Some(env.backend.send(Request::LoadFiche { id }));
    }

    fn apply_loaded(&mut self, loaded: LoadedFiche) {
        self.form = loaded.form.clone();
        self.saved = loaded.form;
        self.meta = Some(loaded.meta);
        self.actions = loaded.actions;
        self.events = loaded.events;
        self.actions_tag = None;
        self.rectifying = false;
        self.focus_first = true;
    }

    /// Takes an answer of the database; answers this screen does not wait for are dropped.
    pub fn on_reply(
        &mut self,
        tag: u64,
        reply: Reply,
        tr: &Tr,
        toasts: &mut crate::notify::Toasts,
    ) {
        match reply {
            Reply::Actions(result) if self.actions_tag == Some(tag) => {
                self.actions_tag = None;
                match result {
                    Ok(rows) => self.actions = rows,
                    Err(f) => self.failed(f, tr),
                }
            }
            Reply::Fiche(result) if self.waiting == Some(tag) => {
                self.waiting = None;
                match result {
                    Ok(loaded) => {
                        self.apply_loaded(loaded);
                        if let Some(form) = self.resume_after_load.take() {
                            self.form = form;
                            if let Some(d) = &mut self.draft {
                                d.touch();
                            }
                        }
                    }
                    Err(f) => {
                        self.resume_after_load = None;
                        self.failed(f, tr);
                    }
                }
            }
            Reply::Written(result) if self.waiting == Some(tag) => {
                self.waiting = None;
                let sent = self.sent.take();
                let was_event = std::mem::take(&mut self.sending_event);
                match result {
                    Ok((done, loaded)) => {
                        self.errors.clear();
                        self.message = None;
                        if !matches!(self.dialog, Some(Dialog::Discard { .. })) {
                            self.dialog = None;
                        }
                        let typed_since = sent.as_ref().is_some_and(|s| *s != self.form);
                        let form_now = self.form.clone();
                        match loaded {
                            Some(l) => self.apply_loaded(l),
                            None => {
                                self.form = FicheForm::default();
                                self.saved = FicheForm::default();
                                self.meta = None;
                                self.actions.clear();
                            }
                        }
                        self.focus_first = false;
                        if done == Done::EventRecorded {
                            self.event = EventForm::default();
                        }
                        if typed_since && done == Done::Saved {
                            // The user kept typing while it was saved: nothing of it is lost.
                            self.form = form_now;
                        } else if let Some(d) = &mut self.draft {
                            d.clear();
                        }
                        self.announce(done, tr, toasts);
                    }
                    Err(f) if was_event => {
                        self.dialog = None;
                        self.event_failed(f, tr);
                    }
                    Err(f) => {
                        self.failed(f, tr);
                        // A refusal of the dialog's own field keeps it open, with the message
                        // there; any other is shown on the screen, the dialog closed.
                        if !self.errors.contains_key("comment")
                            && !self.errors.contains_key("motive")
                        {
                            self.dialog = None;
                        }
                    }
                }
            }
            _ => {
                tracing::debug!(tag, "Stale or unexpected answer dropped.");
            }
        }
    }

    fn announce(&mut self, done: Done, tr: &Tr, toasts: &mut crate::notify::Toasts) {
        let number = self
            .meta
            .as_ref()
            .and_then(|m| m.number)
            .map(|n| n.to_string())
            .unwrap_or_default();
        let args = [("number", number.as_str())];
        match done {
            Done::Saved => toasts.success(tr.f("saisie.done.saved", &args)),
            Done::Submitted => toasts.success(tr.f("saisie.done.submitted", &args)),
            Done::Verified => toasts.success(tr.f("saisie.done.verified", &args)),
            Done::Returned => toasts.success(tr.f("saisie.done.returned", &args)),
            Done::Signed { niu } => {
                toasts.success(tr.f(
                    "saisie.done.signed",
                    &[("number", number.as_str()), ("niu", &niu)],
                ));
                self.dialog = Some(Dialog::Signed { niu });
            }
            Done::Withdrawn => toasts.success(tr.f("saisie.done.withdrawn", &args)),
            Done::RectificationProposed => {
                toasts.success(tr.f("saisie.done.rectification_proposed", &args))
            }
            Done::RectificationVerified => {
                toasts.success(tr.f("saisie.done.rectification_verified", &args))
            }
            Done::RectificationReturned => {
                toasts.success(tr.f("saisie.done.rectification_returned", &args))
            }
            Done::RectificationApplied { version } => toasts.success(tr.f(
                "saisie.done.rectification_applied",
                &[
                    ("number", number.as_str()),
                    ("version", &version.to_string()),
                ],
            )),
            Done::EventRecorded => toasts.success(tr.f("saisie.done.event_recorded", &args)),
            Done::Erased => {
                toasts.success(tr.t("saisie.done.erased"));
                self.focus_first = true;
            }
        }
    }

    fn failed(&mut self, f: Failure, tr: &Tr) {
        match f {
            Failure::Refused { message, field, .. } => {
                let in_dialog = matches!(field.as_deref(), Some("comment") | Some("motive"));
                match field {
                    Some(field) if !in_dialog && self.is_form_field(&field) => {
                        self.focus_field = Some(field.clone());
                        self.errors.insert(field, message);
                        self.message =
                            Some((BannerKind::Error, tr.t("saisie.fix_fields").to_owned()));
                    }
                    Some(field) if in_dialog => {
                        self.errors.insert(field, message);
                    }
                    _ => self.message = Some((BannerKind::Error, message)),
                }
            }
            Failure::Lost => {
                self.message = Some((BannerKind::Error, tr.t("saisie.lost").to_owned()));
            }
            Failure::Other(detail) => {
                self.message = Some((
                    BannerKind::Error,
                    tr.f("saisie.other_error", &[("detail", &detail)]),
                ));
            }
        }
    }

    /// A refusal of the event being recorded: at the event's field it names.
    fn event_failed(&mut self, f: Failure, tr: &Tr) {
        match f {
            Failure::Refused {
                message,
                field: Some(field),
                ..
            } if ["kind", "date", "reference", "note", "remitted_months"]
                .contains(&field.as_str()) =>
            {
                self.errors.insert(format!("event.{field}"), message);
            }
            Failure::Refused { message, .. } => {
                self.errors.insert("event.kind".to_owned(), message);
            }
            other => self.failed(other, tr),
        }
    }

    fn is_form_field(&self, field: &str) -> bool {
        FORM_FIELDS.contains(&field)
    }

    /// Writes the local draft when it is due, and asks for the repaint that will write it.
    pub fn tick(&mut self, ctx: &egui::Context) {
        let (id, number) = (self.id(), self.meta.as_ref().and_then(|m| m.number));
        let modified = self.modified();
        if let Some(d) = &mut self.draft
            && let Some(due) = d.due_in()
        {
            if due.is_zero() {
                if modified {
                    d.write(id, number, &self.form);
                } else {
                    d.clear();
                }
            } else {
                ctx.request_repaint_after(due);
            }
        }
    }

    /// Writes the local draft now, if a change waits (the window is closing).
    pub fn flush_draft(&mut self) {
        let (id, number) = (self.id(), self.meta.as_ref().and_then(|m| m.number));
        if self.modified()
            && let Some(d) = &mut self.draft
            && d.pending()
        {
            d.write(id, number, &self.form);
        }
    }

    fn save(&mut self, env: &mut Env<'_>) {
        match self.form.to_json(self.id()) {
            Err(bad) => self.mark_bad_dates(&bad, env.tr),
            Ok(doc) => {
                self.errors.clear();
                self.message = None;
                self.sent = Some(self.form.clone());
                self.waiting = Some(env.backend.send(Request::Save { fiche: doc }));
            }
        }
    }

    fn mark_bad_dates(&mut self, bad: &[&'static str], tr: &Tr) {
        for f in bad {
            let key = match dates::parse(self.form.date(f)) {
                DateInput::Partial => "date.incomplete",
                _ => "date.impossible",
            };
            self.errors.insert((*f).to_owned(), tr.t(key).to_owned());
        }
        self.focus_field = bad.first().map(|f| (*f).to_owned());
        self.message = Some((BannerKind::Error, tr.t("saisie.fix_fields").to_owned()));
    }

    fn transition(&mut self, action: Action, argument: Option<String>, env: &mut Env<'_>) {
        let Some(id) = self.id() else { return };
        let save_first = if self.modified() && self.allowed(Action::Save).0 {
            match self.form.to_json(Some(id)) {
                Ok(doc) => Some(doc),
                Err(bad) => {
                    self.mark_bad_dates(&bad, env.tr);
                    return;
                }
            }
        } else {
            None
        };
        self.errors.retain(|k, _| k != "comment" && k != "motive");
        self.message = None;
        self.sent = Some(self.form.clone());
        self.waiting = Some(env.backend.send(Request::Transition {
            id,
            action,
            argument,
            save_first,
        }));
    }

    fn rectify(&mut self, motive: String, env: &mut Env<'_>) {
        let Some(id) = self.id() else { return };
        match self.form.to_json(None) {
            Err(bad) => self.mark_bad_dates(&bad, env.tr),
            Ok(doc) => {
                self.errors.retain(|k, _| k != "motive");
                self.message = None;
                self.sent = Some(self.form.clone());
                self.waiting = Some(env.backend.send(Request::Rectify {
                    id,
                    fiche: doc,
                    motive,
                }));
            }
        }
    }

    /// The action the status calls for: the one strong button.
    fn primary(&self) -> Option<Action> {
        if self.rectifying {
            return Some(Action::Rectify);
        }
        let status = self.meta.as_ref().map(|m| m.status);
        let candidate = match status {
            None => Action::Save,
            Some(0) if self.modified() || !self.allowed(Action::Submit).0 => Action::Save,
            Some(0) => Action::Submit,
            Some(1) => Action::Verify,
            Some(2) => Action::Sign,
            _ => return None,
        };
        self.allowed(candidate).0.then_some(candidate)
    }

    /// Draws the screen.
    pub fn show(&mut self, ui: &mut Ui, env: &mut Env<'_>) {
        self.shortcuts(ui, env);
        egui::Panel::bottom("saisie_actions")
            .frame(
                egui::Frame::new()
                    .fill(theme::PANEL)
                    .stroke(egui::Stroke::new(1.0, theme::BORDER))
                    .inner_margin(egui::Margin::symmetric(16, 10)),
            )
            .show(ui, |ui| self.action_bar(ui, env));
        egui::CentralPanel::default()
            .frame(egui::Frame::new().inner_margin(egui::Margin::same(16)))
            .show(ui, |ui| {
                egui::ScrollArea::vertical()
                    .auto_shrink([false, false])
                    .show(ui, |ui| {
                        self.body(ui, env);
                    });
            });
        self.dialogs(ui, env);
    }

    fn shortcuts(&mut self, ui: &mut Ui, env: &mut Env<'_>) {
        if self.dialog.is_some() || self.busy() {
            return;
        }
        let cs = Modifiers::COMMAND | Modifiers::SHIFT;
        let pressed = |ui: &mut Ui, m: Modifiers, k: Key| {
            ui.input_mut(|i| i.consume_shortcut(&KeyboardShortcut::new(m, k)))
        };
        let wanted = if pressed(ui, cs, Key::S) {
            Some(Action::Submit)
        } else if pressed(ui, cs, Key::V) {
            Some(Action::Verify)
        } else if pressed(ui, cs, Key::R) {
            Some(Action::Return)
        } else if pressed(ui, cs, Key::G) {
            Some(Action::Sign)
        } else if pressed(ui, cs, Key::D) {
            Some(Action::Withdraw)
        } else if pressed(ui, Modifiers::COMMAND, Key::S) {
            Some(Action::Save)
        } else if pressed(ui, Modifiers::COMMAND, Key::N) {
            self.ask_new();
            None
        } else {
            None
        };
        if let Some(a) = wanted {
            self.trigger(a, env);
        }
    }

    fn ask_new(&mut self) {
        if self.modified() {
            self.dialog = Some(Dialog::Discard {
                then: AfterDiscard::New,
            });
        } else {
            self.new_fiche();
        }
    }

    /// An action asked by a button or a shortcut, if the database allows it now.
    fn trigger(&mut self, action: Action, env: &mut Env<'_>) {
        if self.busy() {
            return;
        }
        if action == Action::Rectify && self.rectifying {
            self.dialog = Some(Dialog::Rectify {
                motive: String::new(),
            });
            return;
        }
        if !self.allowed(action).0 {
            return;
        }
        match action {
            Action::Save => self.save(env),
            Action::Submit | Action::Verify => self.transition(action, None, env),
            Action::Return => {
                self.dialog = Some(Dialog::Return {
                    reason: String::new(),
                })
            }
            Action::Sign => self.dialog = Some(Dialog::Sign),
            Action::Withdraw => {
                self.dialog = Some(Dialog::Withdraw {
                    motive: String::new(),
                })
            }
            Action::Rectify => {
                self.rectifying = true;
                self.focus_first = true;
            }
            Action::Erase => self.dialog = Some(Dialog::Erase),
            Action::VerifyRectification => self.transition(action, None, env),
            Action::ReturnRectification => {
                self.dialog = Some(Dialog::ReturnRectification {
                    comment: String::new(),
                })
            }
            Action::ApplyRectification => self.dialog = Some(Dialog::ApplyRectification),
            // Recorded from its own form (Exécution de la peine).
            Action::RecordEvent => {}
            Action::Print => {
                if let Some(id) = self.id() {
                    *env.goto = Some(Goto::Print(DocumentSource::Fiche(id)));
                }
            }
        }
    }

    fn action_bar(&mut self, ui: &mut Ui, env: &mut Env<'_>) {
        let tr = env.tr;
        let primary = self.primary();
        ui.horizontal_wrapped(|ui| {
            ui.spacing_mut().item_spacing.x = 8.0;
            if widgets::action_button(ui, !self.busy(), tr.t("action.new"))
                .on_hover_text(tr.t("action.new_hint"))
                .clicked()
            {
                self.ask_new();
            }
            ui.separator();
            let buttons: &[(Action, &str, &str)] = &[
                (Action::Save, "action.save", "action.save_hint"),
                (Action::Submit, "action.submit", "action.submit_hint"),
                (Action::Verify, "action.verify", "action.verify_hint"),
                (Action::Return, "action.return", "action.return_hint"),
                (Action::Sign, "action.sign", "action.sign_hint"),
            ];
            for &(action, key, hint) in buttons {
                if self.button(ui, action, primary, tr.t(key), tr.t(hint)) {
                    self.trigger(action, env);
                }
            }
            ui.separator();
            if self.rectifying {
                if widgets::primary_button(ui, !self.busy(), tr.t("action.rectify_validate"))
                    .clicked()
                {
                    self.trigger(Action::Rectify, env);
                }
                if widgets::action_button(ui, !self.busy(), tr.t("action.rectify_cancel")).clicked()
                {
                    self.rectifying = false;
                    self.form = self.saved.clone();
                    self.errors.clear();
                }
            } else if self.button(
                ui,
                Action::Rectify,
                primary,
                tr.t("action.rectify"),
                tr.t("action.rectify_hint"),
            ) {
                self.trigger(Action::Rectify, env);
            }
            for &(action, key, hint) in &[
                (Action::Withdraw, "action.withdraw", "action.withdraw_hint"),
                (Action::Erase, "action.erase", "action.erase_hint"),
            ] {
                if self.button(ui, action, primary, tr.t(key), tr.t(hint)) {
                    self.trigger(action, env);
                }
            }
            // A fiche prints once saved (a new one has nothing to print yet).
            if self.id().is_some()
                && self.button(
                    ui,
                    Action::Print,
                    primary,
                    tr.t("action.print"),
                    tr.t("action.print_hint"),
                )
            {
                self.trigger(Action::Print, env);
            }
            if self.busy() {
                ui.spinner();
            }
        });
    }

    /// A button of an action: strong if it is the primary one, enabled only when the database
    /// allows it (its reason shown on hover when not).
    fn button(
        &self,
        ui: &mut Ui,
        action: Action,
        primary: Option<Action>,
        text: &str,
        hint: &str,
    ) -> bool {
        let (allowed, reason) = self.allowed(action);
        let enabled = allowed && !self.busy() && !self.rectifying;
        let r = if primary == Some(action) && !self.rectifying {
            widgets::primary_button(ui, enabled, text)
        } else {
            widgets::action_button(ui, enabled, text)
        };
        let r = r.on_hover_text(hint);
        let r = match reason {
            Some(reason) if !allowed => r.on_disabled_hover_text(reason),
            _ => r,
        };
        r.clicked()
    }

    fn body(&mut self, ui: &mut Ui, env: &mut Env<'_>) {
        let tr = env.tr;
        if let Some(d) = self.offered.clone() {
            self.offer(ui, &d, env);
            ui.add_space(spacing::SECTION_GAP);
        }
        if let Some((kind, text)) = &self.message {
            widgets::banner(ui, *kind, text);
            ui.add_space(spacing::SECTION_GAP);
        }
        if let Some(m) = &self.meta
            && m.status == 0
            && let Some(comment) = &m.return_comment
        {
            widgets::banner(
                ui,
                BannerKind::Warning,
                &tr.f(
                    "saisie.returned",
                    &[
                        ("by", m.returned_by.as_deref().unwrap_or("")),
                        ("comment", comment),
                    ],
                ),
            );
            ui.add_space(spacing::SECTION_GAP);
        }
        if self.rectifying {
            widgets::banner(ui, BannerKind::Info, tr.t("saisie.rectifying"));
            ui.add_space(spacing::SECTION_GAP);
        }
        let before = self.form.clone();
        let width = ui.available_width().min(1100.0);
        let lay = Lay::new(width);
        if let Some(r) = self.meta.as_ref().and_then(|m| m.rectification.clone()) {
            self.rectification_card(ui, env, width, &r);
            ui.add_space(spacing::SECTION_GAP);
        }
        self.header(ui, env, &lay);
        ui.add_space(spacing::SECTION_GAP);
        section(ui, width, tr.t("section.juridiction"), |ui| {
            self.juridiction(ui, env, &lay)
        });
        ui.add_space(spacing::SECTION_GAP);
        section(ui, width, tr.t("section.justiciable"), |ui| {
            self.justiciable(ui, env, &lay)
        });
        ui.add_space(spacing::SECTION_GAP);
        section(ui, width, tr.t("section.condamnation"), |ui| {
            self.condamnation(ui, env, &lay)
        });
        let signed = self
            .meta
            .as_ref()
            .is_some_and(|m| matches!(m.status, 3 | 4));
        if signed || !self.events.is_empty() {
            ui.add_space(spacing::SECTION_GAP);
            section(ui, width, tr.t("section.execution"), |ui| {
                self.execution(ui, env, &lay)
            });
        }
        ui.add_space(spacing::SECTION_GAP);
        section(ui, width, tr.t("section.etablissement"), |ui| {
            self.etablissement(ui, env, &lay)
        });
        ui.add_space(24.0);
        if self.form != before
            && let Some(d) = &mut self.draft
        {
            d.touch();
        }
        // A fiche the user may not change has no field to focus.
        if self.focus_first && !self.busy() && self.actions_tag.is_none() && !self.editable() {
            self.focus_first = false;
        }
    }

    fn offer(&mut self, ui: &mut Ui, d: &Draft, env: &mut Env<'_>) {
        let tr = env.tr;
        let which = match d.fiche_number {
            Some(n) => tr.f("draft.of_fiche", &[("number", &n.to_string())]),
            None => tr.t("draft.of_new").to_owned(),
        };
        let text = tr.f(
            "draft.found",
            &[
                ("when", &draft::written_at_text(&d.written_at)),
                ("which", &which),
            ],
        );
        egui::Frame::new()
            .fill(theme::WARNING_BG)
            .stroke(egui::Stroke::new(1.0, theme::WARNING))
            .corner_radius(egui::CornerRadius::same(4))
            .inner_margin(egui::Margin::symmetric(12, 8))
            .show(ui, |ui| {
                ui.set_width(ui.available_width());
                ui.horizontal_wrapped(|ui| {
                    ui.label(RichText::new(text).color(theme::WARNING));
                    if widgets::primary_button(ui, !self.busy(), tr.t("draft.resume")).clicked() {
                        self.offered = None;
                        match d.fiche_id {
                            Some(id) => {
                                self.resume_after_load = Some(d.form.clone());
                                self.open(id, env);
                            }
                            None => {
                                self.new_fiche();
                                self.form = d.form.clone();
                                if let Some(store) = &mut self.draft {
                                    store.touch();
                                }
                            }
                        }
                    }
                    if widgets::action_button(ui, true, tr.t("draft.discard")).clicked() {
                        self.offered = None;
                        if let Some(store) = &mut self.draft {
                            store.clear();
                        }
                    }
                });
            });
    }

    fn header(&mut self, ui: &mut Ui, env: &mut Env<'_>, lay: &Lay) {
        let tr = env.tr;
        theme::card().show(ui, |ui| {
            ui.set_width(lay.width - 2.0 * spacing::SECTION_INNER);
            ui.horizontal(|ui| {
                match &self.meta {
                    Some(m) => {
                        let n = m.number.map(|n| n.to_string()).unwrap_or_default();
                        ui.label(theme::bold(
                            tr.f("saisie.fiche_number", &[("number", &n)]),
                            19.0,
                        ));
                        widgets::status_chip(ui, m.status, &status_text(tr, m.status));
                        if m.version > 1 {
                            ui.label(
                                RichText::new(
                                    tr.f("saisie.version", &[("version", &m.version.to_string())]),
                                )
                                .color(theme::TEXT_MUTED),
                            );
                        }
                        if let Some(n) = m.person_fiches {
                            ui.label(
                                RichText::new(
                                    tr.f("saisie.person_fiches", &[("count", &n.to_string())]),
                                )
                                .color(if n > 1 {
                                    theme::WARNING
                                } else {
                                    theme::TEXT_MUTED
                                }),
                            );
                        }
                    }
                    None => {
                        ui.label(theme::bold(tr.t("saisie.new_fiche"), 19.0));
                        widgets::status_chip(ui, -1, tr.t("saisie.not_saved"));
                    }
                }
                if self.modified() && !self.busy() {
                    ui.label(
                        RichText::new(tr.t("saisie.modified"))
                            .color(theme::WARNING)
                            .italics(),
                    );
                }
                ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                    let niu = self.meta.as_ref().and_then(|m| m.niu.clone());
                    let text = match &niu {
                        Some(n) => format_niu(n),
                        None => "—".to_owned(),
                    };
                    ui.label(theme::bold(text, 17.0).color(if niu.is_some() {
                        theme::ACCENT
                    } else {
                        theme::TEXT_MUTED
                    }));
                    ui.label(RichText::new(tr.t("field.niu")).color(theme::TEXT_MUTED));
                });
            });
            ui.add_space(10.0);
            egui::Grid::new("fiche_reference")
                .num_columns(2)
                .spacing([12.0, 8.0])
                .show(ui, |ui| {
                    let editable = self.editable();
                    let l = widgets::label_cell(ui, tr.t("field.reference"), spacing::LABEL_WIDTH);
                    let error = self.errors.get("reference").cloned();
                    let opts = FieldOpts {
                        width: lay.field,
                        editable,
                        error: error.as_deref(),
                    };
                    let lim = self.limits.get("reference").copied();
                    let r = widgets::text_field_limited(ui, l, &mut self.form.reference, opts, lim);
                    self.after(ui, &r, "reference", env);
                    if self.focus_first && editable {
                        r.request_focus();
                        self.focus_first = false;
                    }
                    ui.end_row();
                });
        });
    }

    /// After a field: a change clears its error; Enter in it saves; a refusal naming it focuses it.
    fn after(&mut self, ui: &Ui, r: &egui::Response, field: &str, env: &mut Env<'_>) {
        if r.changed() {
            self.errors.remove(field);
        }
        if self.focus_field.as_deref() == Some(field) {
            r.request_focus();
            r.scroll_to_me(Some(egui::Align::Center));
            self.focus_field = None;
        }
        if r.lost_focus() && ui.input(|i| i.key_pressed(Key::Enter)) && !self.rectifying {
            self.trigger(Action::Save, env);
        }
    }

    fn juridiction(&mut self, ui: &mut Ui, env: &mut Env<'_>, lay: &Lay) {
        let tr = env.tr;
        let c = &env.session.court;
        let mut values = [
            c.region.clone(),
            c.departement.clone(),
            c.arrondissement.clone(),
            c.name.clone(),
        ];
        egui::Grid::new("fiche_juridiction")
            .num_columns(4)
            .spacing([12.0, 8.0])
            .show(ui, |ui| {
                let [region, departement, arrondissement, name] = &mut values;
                let ro = FieldOpts {
                    width: lay.field,
                    editable: false,
                    error: None,
                };
                let l = widgets::label_cell(ui, tr.t("field.region"), spacing::LABEL_WIDTH);
                widgets::text_field(ui, l, region, ro);
                let l = widgets::label_cell(ui, tr.t("field.departement"), spacing::LABEL_WIDTH);
                widgets::text_field(ui, l, departement, ro);
                ui.end_row();
                let l = widgets::label_cell(ui, tr.t("field.arrondissement"), spacing::LABEL_WIDTH);
                widgets::text_field(ui, l, arrondissement, ro);
                let l = widgets::label_cell(ui, tr.t("field.juridiction"), spacing::LABEL_WIDTH);
                widgets::text_field(ui, l, name, ro);
                ui.end_row();
            });
    }

    fn justiciable(&mut self, ui: &mut Ui, env: &mut Env<'_>, lay: &Lay) {
        let tr = env.tr;
        let editable = self.editable();
        let lw = spacing::LABEL_WIDTH;
        egui::Grid::new("fiche_justiciable")
            .num_columns(4)
            .spacing([12.0, 8.0])
            .show(ui, |ui| {
                macro_rules! text {
                    ($key:literal, $field:ident) => {{
                        let l = widgets::label_cell(ui, tr.t(concat!("field.", $key)), lw);
                        let o = opts(&self.errors, stringify!($field), lay.field, editable);
                        let lim = self.limits.get(stringify!($field)).copied();
                        let r = widgets::text_field_limited(ui, l, &mut self.form.$field, o, lim);
                        self.after(ui, &r, stringify!($field), env);
                    }};
                }
                text!("surname", surname);
                text!("given_names", given_names);
                ui.end_row();
                let l = widgets::label_cell(ui, tr.t("field.birth_date"), lw);
                let o = opts(&self.errors, "birth_date", lay.field, editable);
                let r = widgets::date_field(ui, tr, l, &mut self.form.birth_date, o);
                self.after(ui, &r, "birth_date", env);
                text!("birth_place", birth_place);
                ui.end_row();
                let l = widgets::label_cell(ui, tr.t("field.sex"), lw);
                let o = opts(&self.errors, "sex", lay.field, editable);
                let r = widgets::combo_field(
                    ui,
                    "sex",
                    l,
                    &mut self.form.sex,
                    &enum_options(tr, "sex", fiche::SEX),
                    tr.t("field.choose"),
                    o,
                );
                self.after(ui, &r, "sex", env);
                let l = widgets::label_cell(ui, tr.t("field.civil_status"), lw);
                let o = opts(&self.errors, "civil_status", lay.field, editable);
                let r = widgets::combo_field(
                    ui,
                    "civil_status",
                    l,
                    &mut self.form.civil_status,
                    &enum_options(tr, "civil_status", fiche::CIVIL_STATUS),
                    tr.t("field.choose"),
                    o,
                );
                self.after(ui, &r, "civil_status", env);
                ui.end_row();
                text!("father", father);
                text!("mother", mother);
                ui.end_row();
                text!("profession", profession);
                text!("nationality", nationality);
                ui.end_row();
                text!("domicile", domicile);
                ui.end_row();
            });
    }

    fn condamnation(&mut self, ui: &mut Ui, env: &mut Env<'_>, lay: &Lay) {
        let tr = env.tr;
        let editable = self.editable();
        let lw = spacing::LABEL_WIDTH;
        egui::Grid::new("fiche_condamnation_dates")
            .num_columns(4)
            .spacing([12.0, 8.0])
            .show(ui, |ui| {
                for (key, field) in [("conviction_date", 0), ("offence_date", 1)] {
                    let l = widgets::label_cell(ui, tr.t(&format!("field.{key}")), lw);
                    let o = opts(&self.errors, key, lay.field, editable);
                    let value = if field == 0 {
                        &mut self.form.conviction_date
                    } else {
                        &mut self.form.offence_date
                    };
                    let r = widgets::date_field(ui, tr, l, value, o);
                    self.after(ui, &r, key, env);
                }
                ui.end_row();
            });
        ui.add_space(8.0);
        egui::Grid::new("fiche_condamnation_wide")
            .num_columns(2)
            .spacing([12.0, 8.0])
            .show(ui, |ui| {
                let l = widgets::label_cell(ui, tr.t("field.offence_nature"), lw);
                let o = opts(&self.errors, "offence_nature", lay.wide, editable);
                let lim = self.limits.get("offence_nature").copied();
                let r = widgets::text_area_limited(ui, l, &mut self.form.offence_nature, 2, o, lim);
                self.after_multiline(&r, "offence_nature");
                ui.end_row();
                let l = widgets::label_cell(ui, tr.t("field.offence_category"), lw);
                let o = opts(&self.errors, "offence_category", lay.wide, editable);
                let r = widgets::combo_field(
                    ui,
                    "offence_category",
                    l,
                    &mut self.form.offence_category,
                    env.categories,
                    tr.t("field.choose"),
                    o,
                );
                self.after(ui, &r, "offence_category", env);
                ui.end_row();
            });
        ui.add_space(8.0);
        egui::Grid::new("fiche_condamnation_pairs")
            .num_columns(4)
            .spacing([12.0, 8.0])
            .show(ui, |ui| {
                let l = widgets::label_cell(ui, tr.t("field.offence_class"), lw);
                let o = opts(&self.errors, "offence_class", lay.field, editable);
                let r = widgets::combo_field(
                    ui,
                    "offence_class",
                    l,
                    &mut self.form.offence_class,
                    &enum_options(tr, "offence_class", fiche::OFFENCE_CLASS),
                    tr.t("field.choose"),
                    o,
                );
                self.after(ui, &r, "offence_class", env);
                let l = widgets::label_cell(ui, tr.t("field.sentence_type"), lw);
                let o = opts(&self.errors, "sentence_type", lay.field, editable);
                let r = widgets::combo_field(
                    ui,
                    "sentence_type",
                    l,
                    &mut self.form.sentence_type,
                    &enum_options(tr, "sentence_type", fiche::SENTENCE_TYPE),
                    tr.t("field.choose"),
                    o,
                );
                self.after(ui, &r, "sentence_type", env);
                ui.end_row();
                macro_rules! number {
                    ($key:literal, $field:ident) => {{
                        let l = widgets::label_cell(ui, tr.t(concat!("field.", $key)), lw);
                        let o = opts(&self.errors, stringify!($field), lay.field, editable);
                        let r = widgets::number_field(ui, l, &mut self.form.$field, o);
                        self.after(ui, &r, stringify!($field), env);
                    }};
                }
                number!("sentence_months", sentence_months);
                number!("suspended_months", suspended_months);
                ui.end_row();
                number!("fine_amount", fine_amount);
                ui.label("");
                ui.label("");
                ui.end_row();
            });
        ui.add_space(8.0);
        egui::Grid::new("fiche_condamnation_text")
            .num_columns(2)
            .spacing([12.0, 8.0])
            .show(ui, |ui| {
                macro_rules! wide {
                    ($key:literal, $field:ident) => {{
                        let l = widgets::label_cell(ui, tr.t(concat!("field.", $key)), lw);
                        let o = opts(&self.errors, stringify!($field), lay.wide, editable);
                        let lim = self.limits.get(stringify!($field)).copied();
                        let r = widgets::text_field_limited(ui, l, &mut self.form.$field, o, lim);
                        self.after(ui, &r, stringify!($field), env);
                    }};
                }
                wide!("warrants", warrants);
                ui.end_row();
                wide!("road_traffic", road_traffic);
                ui.end_row();
                wide!("ban", ban);
                ui.end_row();
            });
        ui.add_space(8.0);
        egui::Grid::new("fiche_condamnation_ban")
            .num_columns(4)
            .spacing([12.0, 8.0])
            .show(ui, |ui| {
                let l = widgets::label_cell(ui, tr.t("field.ban_months"), lw);
                let o = opts(&self.errors, "ban_months", lay.field, editable);
                let r = widgets::number_field(ui, l, &mut self.form.ban_months, o);
                self.after(ui, &r, "ban_months", env);
                let l = widgets::label_cell(ui, tr.t("field.revoked_suspension_niu"), lw);
                let o = opts(&self.errors, "revoked_suspension_niu", lay.field, editable);
                let lim = self.limits.get("revoked_suspension_niu").copied();
                let r = widgets::text_field_limited(
                    ui,
                    l,
                    &mut self.form.revoked_suspension_niu,
                    o,
                    lim,
                );
                self.after(ui, &r, "revoked_suspension_niu", env);
                ui.end_row();
                for (key, field) in [("ban_start", 0), ("ban_end", 1)] {
                    let l = widgets::label_cell(ui, tr.t(&format!("field.{key}")), lw);
                    let o = opts(&self.errors, key, lay.field, editable);
                    let value = if field == 0 {
                        &mut self.form.ban_start
                    } else {
                        &mut self.form.ban_end
                    };
                    let r = widgets::date_field(ui, tr, l, value, o);
                    self.after(ui, &r, key, env);
                }
                ui.end_row();
            });
        ui.add_space(10.0);
        ui.horizontal_wrapped(|ui| {
            ui.add_space(lw + 12.0);
            ui.spacing_mut().item_spacing.x = 20.0;
            let checks: [(&str, &mut bool); 8] = [
                ("field.legal_recidivism", &mut self.form.legal_recidivism),
                ("field.minor", &mut self.form.minor),
                ("field.minor_decided", &mut self.form.minor_decided),
                ("field.excluded_b2", &mut self.form.excluded_b2),
                ("field.excluded_b3", &mut self.form.excluded_b3),
                ("field.b3_ordered", &mut self.form.b3_ordered),
                ("field.ban_suspended", &mut self.form.ban_suspended),
                ("field.ban_from_release", &mut self.form.ban_from_release),
            ];
            let mut changed = Vec::new();
            for (key, value) in checks {
                if ui
                    .add_enabled(editable, egui::Checkbox::new(value, tr.t(key)))
                    .changed()
                {
                    changed.push(key.trim_start_matches("field.").to_owned());
                }
            }
            for f in changed {
                self.errors.remove(&f);
            }
        });
        for f in [
            "legal_recidivism",
            "minor",
            "minor_decided",
            "excluded_b2",
            "excluded_b3",
            "b3_ordered",
            "ban_suspended",
            "ban_from_release",
        ] {
            if let Some(msg) = self.errors.get(f) {
                ui.horizontal(|ui| {
                    ui.add_space(lw + 12.0);
                    ui.label(RichText::new(msg).color(theme::ERROR).size(12.5));
                });
            }
        }
    }

    fn after_multiline(&mut self, r: &egui::Response, field: &str) {
        if r.changed() {
            self.errors.remove(field);
        }
        if self.focus_field.as_deref() == Some(field) {
            r.request_focus();
            self.focus_field = None;
        }
    }

    /// The proposal of rectification in progress: who proposed what and why, the fields it
    /// changes, and the next step (verify, return, apply) as the database allows it.
    fn rectification_card(
        &mut self,
        ui: &mut Ui,
        env: &mut Env<'_>,
        width: f32,
        r: &admin::Rectification,
    ) {
        let tr = env.tr;
        let proposed = FicheForm::from_json(&r.content);
        let changes = changed_fields(&self.saved, &proposed, tr, env.categories);
        theme::card().show(ui, |ui| {
            ui.set_width(width - 2.0 * spacing::SECTION_INNER);
            ui.horizontal(|ui| {
                ui.label(theme::bold(tr.t("rectification.title"), 15.5).color(theme::ACCENT));
                let (color, key) = if r.state == "verifiee" {
                    (theme::status_color(2), "rectification.state.verifiee")
                } else {
                    (theme::WARNING, "rectification.state.proposee")
                };
                widgets::chip(ui, color, tr.t(key));
            });
            ui.add_space(4.0);
            ui.label(tr.f(
                "rectification.proposed_by",
                &[
                    ("by", &r.proposed_by),
                    ("at", &timestamp_text(&r.proposed_at)),
                ],
            ));
            if let Some(by) = &r.verified_by {
                ui.label(tr.f("rectification.verified_by", &[("by", by)]));
            }
            ui.add(egui::Label::new(tr.f("rectification.motive", &[("motive", &r.motive)])).wrap());
            ui.add_space(6.0);
            egui::Grid::new("rectification_changes")
                .num_columns(3)
                .striped(true)
                .spacing([16.0, 4.0])
                .show(ui, |ui| {
                    for key in [
                        "rectification.col.field",
                        "rectification.col.now",
                        "rectification.col.proposed",
                    ] {
                        ui.label(theme::bold(tr.t(key), 13.5));
                    }
                    ui.end_row();
                    for (label, before, after) in &changes {
                        ui.label(label);
                        ui.label(RichText::new(before).color(theme::TEXT_MUTED));
                        ui.label(RichText::new(after).color(theme::ACCENT));
                        ui.end_row();
                    }
                });
            ui.add_space(8.0);
            ui.horizontal_wrapped(|ui| {
                ui.spacing_mut().item_spacing.x = 8.0;
                let buttons = [
                    (Action::VerifyRectification, "action.verify_rectification"),
                    (Action::ReturnRectification, "action.return_rectification"),
                    (Action::ApplyRectification, "action.apply_rectification"),
                ];
                let primary = if self.allowed(Action::ApplyRectification).0 {
                    Action::ApplyRectification
                } else {
                    Action::VerifyRectification
                };
                for (action, key) in buttons {
                    let (allowed, reason) = self.allowed(action);
                    let enabled = allowed && !self.busy() && !self.rectifying;
                    let b = if action == primary {
                        widgets::primary_button(ui, enabled, tr.t(key))
                    } else {
                        widgets::action_button(ui, enabled, tr.t(key))
                    };
                    let b = match reason {
                        Some(reason) if !allowed => b.on_disabled_hover_text(reason),
                        _ => b,
                    };
                    if b.clicked() {
                        self.trigger(action, env);
                    }
                }
            });
        });
    }

    /// Exécution de la peine: the fiche's dated events, and the greffier's entry of a new one.
    fn execution(&mut self, ui: &mut Ui, env: &mut Env<'_>, lay: &Lay) {
        let tr = env.tr;
        if self.events.is_empty() {
            ui.label(RichText::new(tr.t("event.none")).color(theme::TEXT_MUTED));
        } else {
            egui::Grid::new("fiche_events")
                .num_columns(5)
                .striped(true)
                .spacing([16.0, 6.0])
                .show(ui, |ui| {
                    for key in [
                        "event.col.date",
                        "event.col.kind",
                        "event.col.reference",
                        "event.col.recorded_by",
                        "event.col.transmission",
                    ] {
                        ui.label(theme::bold(tr.t(key), 13.5));
                    }
                    ui.end_row();
                    for e in &self.events {
                        ui.label(dates::from_iso(&dates::iso(e.date)));
                        let mut kind = tr.t(&format!("event.kind.{}", e.kind)).to_owned();
                        if let Some(m) = e.remitted_months {
                            kind.push_str(&tr.f("event.remitted", &[("months", &m.to_string())]));
                        }
                        if e.total {
                            kind.push_str(tr.t("event.total_suffix"));
                        }
                        if e.cancelled {
                            kind.push_str(tr.t("event.cancelled_suffix"));
                        }
                        let text = RichText::new(kind);
                        ui.label(if e.cancelled {
                            text.strikethrough().color(theme::TEXT_MUTED)
                        } else {
                            text
                        });
                        ui.label(&e.reference);
                        ui.label(&e.recorded_by);
                        ui.label(
                            RichText::new(e.transmission.as_deref().unwrap_or("—"))
                                .color(theme::TEXT_MUTED),
                        );
                        ui.end_row();
                    }
                });
        }
        if !self.allowed(Action::RecordEvent).0 {
            return;
        }
        ui.add_space(10.0);
        ui.label(theme::bold(tr.t("event.new"), 14.5));
        ui.add_space(4.0);
        let lw = spacing::LABEL_WIDTH;
        let editable = !self.busy();
        let kinds: Vec<(String, String)> = admin::EVENT_KINDS
            .iter()
            .map(|k| ((*k).to_owned(), tr.t(&format!("event.kind.{k}")).to_owned()))
            .collect();
        let mut changed = Vec::new();
        egui::Grid::new("fiche_event_new")
            .num_columns(4)
            .spacing([12.0, 8.0])
            .show(ui, |ui| {
                let l = widgets::label_cell(ui, tr.t("event.field.kind"), lw);
                let o = opts(&self.errors, "event.kind", lay.field, editable);
                let r = widgets::combo_field(
                    ui,
                    "event_kind",
                    l,
                    &mut self.event.kind,
                    &kinds,
                    tr.t("field.choose"),
                    o,
                );
                if r.changed() {
                    changed.push("event.kind");
                }
                let l = widgets::label_cell(ui, tr.t("event.field.date"), lw);
                let o = opts(&self.errors, "event.date", lay.field, editable);
                if widgets::date_field(ui, tr, l, &mut self.event.date, o).changed() {
                    changed.push("event.date");
                }
                ui.end_row();
                let l = widgets::label_cell(ui, tr.t("event.field.reference"), lw);
                let o = opts(&self.errors, "event.reference", lay.field, editable);
                let r = widgets::text_field_limited(ui, l, &mut self.event.reference, o, Some(200));
                if r.changed() {
                    changed.push("event.reference");
                }
                let l = widgets::label_cell(ui, tr.t("event.field.remitted_months"), lw);
                let o = opts(&self.errors, "event.remitted_months", lay.field, editable);
                if widgets::number_field(ui, l, &mut self.event.remitted_months, o).changed() {
                    changed.push("event.remitted_months");
                }
                ui.end_row();
                let l = widgets::label_cell(ui, tr.t("event.field.note"), lw);
                let o = opts(&self.errors, "event.note", lay.field, editable);
                if widgets::text_field_limited(ui, l, &mut self.event.note, o, Some(2000)).changed()
                {
                    changed.push("event.note");
                }
                ui.label("");
                if ui
                    .add_enabled(
                        editable,
                        egui::Checkbox::new(&mut self.event.total, tr.t("event.field.total")),
                    )
                    .changed()
                {
                    changed.push("event.remitted_months");
                }
                ui.end_row();
            });
        for f in changed {
            self.errors.remove(f);
        }
        ui.add_space(6.0);
        ui.horizontal(|ui| {
            ui.add_space(lw + 12.0);
            if widgets::primary_button(ui, editable, tr.t("event.record")).clicked() {
                match self.event.to_json() {
                    Ok(_) => self.dialog = Some(Dialog::RecordEvent),
                    Err(key) => {
                        self.errors
                            .insert("event.date".to_owned(), tr.t(key).to_owned());
                    }
                }
            }
        });
    }

    fn record_event(&mut self, env: &mut Env<'_>) {
        let Some(id) = self.id() else { return };
        match self.event.to_json() {
            Ok(event) => {
                self.errors.retain(|k, _| !k.starts_with("event."));
                self.message = None;
                self.sending_event = true;
                self.waiting = Some(env.backend.send(Request::RecordEvent { id, event }));
            }
            Err(key) => {
                self.dialog = None;
                self.errors
                    .insert("event.date".to_owned(), env.tr.t(key).to_owned());
            }
        }
    }

    fn etablissement(&mut self, ui: &mut Ui, env: &mut Env<'_>, lay: &Lay) {
        let tr = env.tr;
        let m = self.meta.clone().unwrap_or_default();
        let lw = spacing::LABEL_WIDTH;
        let ro = FieldOpts {
            width: lay.field,
            editable: false,
            error: None,
        };
        let v = |s: &Option<String>| s.clone().unwrap_or_default();
        let mut values = [
            v(&m.author),
            m.niu.as_deref().map(format_niu).unwrap_or_default(),
            v(&m.secretaire_initial),
            v(&m.greffier_initial),
            v(&m.secretaire),
            v(&m.greffier),
        ];
        let keys = [
            "field.author",
            "field.niu",
            "field.secretaire_initial",
            "field.greffier_initial",
            "field.secretaire",
            "field.greffier",
        ];
        egui::Grid::new("fiche_etablissement")
            .num_columns(4)
            .spacing([12.0, 8.0])
            .show(ui, |ui| {
                for (i, (key, value)) in keys.iter().zip(values.iter_mut()).enumerate() {
                    let l = widgets::label_cell(ui, tr.t(key), lw);
                    widgets::text_field(ui, l, value, ro);
                    if i % 2 == 1 {
                        ui.end_row();
                    }
                }
            });
    }

    fn dialogs(&mut self, ui: &mut Ui, env: &mut Env<'_>) {
        let Some(dialog) = self.dialog.clone() else {
            return;
        };
        let tr = env.tr;
        let number = self
            .meta
            .as_ref()
            .and_then(|m| m.number)
            .map(|n| n.to_string())
            .unwrap_or_default();
        let mut close = false;
        let modal = egui::Modal::new(egui::Id::unique("saisie_dialog")).show(ui.ctx(), |ui| {
            ui.set_width(460.0);
            match dialog {
                Dialog::Return { mut reason } => {
                    ui.label(theme::bold(
                        tr.f("dialog.return.title", &[("number", &number)]),
                        17.0,
                    ));
                    ui.add_space(6.0);
                    ui.label(tr.t("dialog.return.text"));
                    ui.add_space(6.0);
                    let l = ui.label(tr.t("dialog.return.reason"));
                    let opts = FieldOpts {
                        width: 430.0,
                        editable: !self.busy(),
                        error: self.errors.get("comment").map(String::as_str),
                    };
                    let r = widgets::text_area(ui, l, &mut reason, 3, opts);
                    r.request_focus();
                    ui.add_space(8.0);
                    ui.horizontal(|ui| {
                        if widgets::primary_button(ui, !self.busy(), tr.t("dialog.return.confirm"))
                            .clicked()
                        {
                            self.transition(Action::Return, Some(reason.clone()), env);
                        }
                        if widgets::action_button(ui, true, tr.t("dialog.cancel")).clicked() {
                            close = true;
                        }
                    });
                    if !close {
                        self.dialog = Some(Dialog::Return { reason });
                    }
                }
                Dialog::Sign => {
                    ui.label(theme::bold(
                        tr.f("dialog.sign.title", &[("number", &number)]),
                        17.0,
                    ));
                    ui.add_space(6.0);
                    ui.add(egui::Label::new(tr.t("dialog.sign.text")).wrap());
                    ui.add_space(10.0);
                    ui.horizontal(|ui| {
                        if widgets::primary_button(ui, !self.busy(), tr.t("dialog.sign.confirm"))
                            .clicked()
                        {
                            self.transition(Action::Sign, None, env);
                        }
                        if widgets::action_button(ui, true, tr.t("dialog.cancel")).clicked() {
                            close = true;
                        }
                    });
                }
                Dialog::Signed { niu } => {
                    ui.label(theme::bold(
                        tr.f("dialog.signed.title", &[("number", &number)]),
                        17.0,
                    ));
                    ui.add_space(8.0);
                    ui.label(tr.t("dialog.signed.text"));
                    ui.add_space(4.0);
                    ui.label(theme::bold(format_niu(&niu), 24.0).color(theme::status_color(3)));
                    ui.add_space(10.0);
                    if widgets::primary_button(ui, true, tr.t("dialog.ok")).clicked() {
                        close = true;
                    }
                }
                Dialog::Withdraw { mut motive } | Dialog::Rectify { mut motive } => {
                    let withdraw = matches!(self.dialog, Some(Dialog::Withdraw { .. }));
                    let k = if withdraw { "withdraw" } else { "rectify" };
                    ui.label(theme::bold(
                        tr.f(&format!("dialog.{k}.title"), &[("number", &number)]),
                        17.0,
                    ));
                    ui.add_space(6.0);
                    ui.add(egui::Label::new(tr.t(&format!("dialog.{k}.text"))).wrap());
                    ui.add_space(6.0);
                    let l = ui.label(tr.t("dialog.motive"));
                    let opts = FieldOpts {
                        width: 430.0,
                        editable: !self.busy(),
                        error: self.errors.get("motive").map(String::as_str),
                    };
                    let r = widgets::text_area(ui, l, &mut motive, 3, opts);
                    r.request_focus();
                    ui.add_space(8.0);
                    ui.horizontal(|ui| {
                        if widgets::primary_button(
                            ui,
                            !self.busy(),
                            tr.t(&format!("dialog.{k}.confirm")),
                        )
                        .clicked()
                        {
                            if withdraw {
                                self.transition(Action::Withdraw, Some(motive.clone()), env);
                            } else {
                                self.rectify(motive.clone(), env);
                            }
                        }
                        if widgets::action_button(ui, true, tr.t("dialog.cancel")).clicked() {
                            close = true;
                        }
                    });
                    if !close {
                        self.dialog = Some(if withdraw {
                            Dialog::Withdraw { motive }
                        } else {
                            Dialog::Rectify { motive }
                        });
                    }
                }
                Dialog::Erase => {
                    ui.label(theme::bold(
                        tr.f("dialog.erase.title", &[("number", &number)]),
                        17.0,
                    ));
                    ui.add_space(6.0);
                    ui.add(egui::Label::new(tr.t("dialog.erase.text")).wrap());
                    ui.add_space(10.0);
                    ui.horizontal(|ui| {
                        if ui
                            .add_enabled(
                                !self.busy(),
                                egui::Button::new(
                                    RichText::new(tr.t("dialog.erase.confirm"))
                                        .color(egui::Color32::WHITE),
                                )
                                .fill(theme::ERROR),
                            )
                            .clicked()
                        {
                            self.transition(Action::Erase, None, env);
                        }
                        if widgets::action_button(ui, true, tr.t("dialog.cancel")).clicked() {
                            close = true;
                        }
                    });
                }
                Dialog::ReturnRectification { mut comment } => {
                    ui.label(theme::bold(
                        tr.f("dialog.return_rectification.title", &[("number", &number)]),
                        17.0,
                    ));
                    ui.add_space(6.0);
                    ui.add(egui::Label::new(tr.t("dialog.return_rectification.text")).wrap());
                    ui.add_space(6.0);
                    let l = ui.label(tr.t("dialog.return_rectification.reason"));
                    let opts = FieldOpts {
                        width: 430.0,
                        editable: !self.busy(),
                        error: self.errors.get("comment").map(String::as_str),
                    };
                    let r = widgets::text_area(ui, l, &mut comment, 3, opts);
                    r.request_focus();
                    ui.add_space(8.0);
                    ui.horizontal(|ui| {
                        if widgets::primary_button(
                            ui,
                            !self.busy(),
                            tr.t("dialog.return_rectification.confirm"),
                        )
                        .clicked()
                        {
                            self.transition(
                                Action::ReturnRectification,
                                Some(comment.clone()),
                                env,
                            );
                        }
                        if widgets::action_button(ui, true, tr.t("dialog.cancel")).clicked() {
                            close = true;
                        }
                    });
                    if !close {
                        self.dialog = Some(Dialog::ReturnRectification { comment });
                    }
                }
                Dialog::ApplyRectification => {
                    let next = self.meta.as_ref().map_or(2, |m| m.version + 1).to_string();
                    ui.label(theme::bold(
                        tr.f("dialog.apply_rectification.title", &[("number", &number)]),
                        17.0,
                    ));
                    ui.add_space(6.0);
                    ui.add(
                        egui::Label::new(
                            tr.f("dialog.apply_rectification.text", &[("version", &next)]),
                        )
                        .wrap(),
                    );
                    ui.add_space(10.0);
                    ui.horizontal(|ui| {
                        if widgets::primary_button(
                            ui,
                            !self.busy(),
                            tr.t("dialog.apply_rectification.confirm"),
                        )
                        .clicked()
                        {
                            self.transition(Action::ApplyRectification, None, env);
                        }
                        if widgets::action_button(ui, true, tr.t("dialog.cancel")).clicked() {
                            close = true;
                        }
                    });
                }
                Dialog::RecordEvent => {
                    let kind = self
                        .event
                        .kind
                        .as_deref()
                        .map(|k| tr.t(&format!("event.kind.{k}")).to_owned())
                        .unwrap_or_default();
                    ui.label(theme::bold(
                        tr.f("dialog.record_event.title", &[("kind", &kind)]),
                        17.0,
                    ));
                    ui.add_space(6.0);
                    ui.add(egui::Label::new(tr.t("dialog.record_event.text")).wrap());
                    ui.add_space(10.0);
                    ui.horizontal(|ui| {
                        if widgets::primary_button(
                            ui,
                            !self.busy(),
                            tr.t("dialog.record_event.confirm"),
                        )
                        .clicked()
                        {
                            self.record_event(env);
                        }
                        if widgets::action_button(ui, true, tr.t("dialog.cancel")).clicked() {
                            close = true;
                        }
                    });
                }
                Dialog::Discard { then } => {
                    ui.label(theme::bold(tr.t("dialog.discard.title"), 17.0));
                    ui.add_space(6.0);
                    ui.add(egui::Label::new(tr.t("dialog.discard.text")).wrap());
                    ui.add_space(10.0);
                    ui.horizontal(|ui| {
                        if widgets::action_button(ui, true, tr.t("dialog.discard.confirm"))
                            .clicked()
                        {
                            self.dialog = None;
                            if let Some(d) = &mut self.draft {
                                d.clear();
                            }
                            match then {
                                AfterDiscard::New => self.new_fiche(),
                                AfterDiscard::Open(id) => {
                                    self.form = self.saved.clone();
                                    self.open(id, env);
                                }
                            }
                            close = true;
                        }
                        if widgets::primary_button(ui, true, tr.t("dialog.cancel")).clicked() {
                            close = true;
                        }
                    });
                }
            }
        });
        if modal.should_close() {
            close = true;
        }
        // A transition that went through closes its dialog; a refusal keeps it open with the
        // message at its field.
        if close {
            self.dialog = None;
            self.errors.retain(|k, _| k != "comment" && k != "motive");
        }
    }
}

/// The fields of the form, in its reading order (the database's names).
const FORM_FIELDS: &[&str] = &[
    "reference",
    "surname",
    "given_names",
    "birth_date",
    "birth_place",
    "sex",
    "father",
    "mother",
    "profession",
    "civil_status",
    "domicile",
    "nationality",
    "conviction_date",
    "offence_date",
    "offence_nature",
    "offence_category",
    "offence_class",
    "warrants",
    "road_traffic",
    "sentence_type",
    "sentence_months",
    "suspended_months",
    "fine_amount",
    "legal_recidivism",
    "minor",
    "excluded_b2",
    "excluded_b3",
    "b3_ordered",
    "ban",
    "ban_months",
    "ban_suspended",
    "revoked_suspension_niu",
    "minor_decided",
    "ban_start",
    "ban_end",
    "ban_from_release",
];

/// How a field of the form is shown: its width, whether it can be typed in, its message.
fn opts<'a>(
    errors: &'a BTreeMap<String, String>,
    field: &str,
    width: f32,
    editable: bool,
) -> FieldOpts<'a> {
    FieldOpts {
        width,
        editable,
        error: errors.get(field).map(String::as_str),
    }
}

/// Widths of the form's columns.
struct Lay {
    width: f32,
    /// A field of a two-column row.
    field: f32,
    /// A field across the section.
    wide: f32,
}

impl Lay {
    fn new(width: f32) -> Lay {
        let inner = width - 2.0 * spacing::SECTION_INNER - 2.0;
        let field = ((inner - 2.0 * spacing::LABEL_WIDTH - 3.0 * 12.0) / 2.0).clamp(150.0, 340.0);
        Lay {
            width,
            field,
            wide: field * 2.0 + spacing::LABEL_WIDTH + 24.0,
        }
    }
}

fn section(ui: &mut Ui, width: f32, title: &str, add: impl FnOnce(&mut Ui)) {
    theme::card().show(ui, |ui| {
        ui.set_width(width - 2.0 * spacing::SECTION_INNER);
        widgets::section_title(ui, title);
        add(ui);
    });
}

/// The labels of an enumeration's values, from the catalogue.
fn enum_options(tr: &Tr, name: &str, values: &[&str]) -> Vec<(String, String)> {
    values
        .iter()
        .map(|v| {
            (
                (*v).to_owned(),
                tr.t(&format!("enum.{name}.{v}")).to_owned(),
            )
        })
        .collect()
}

/// The label of a status number, from the catalogue.
pub fn status_text(tr: &Tr, status: i32) -> String {
    tr.t(&format!("status.{status}")).to_owned()
}

/// A NIU in groups, as printed: court (5), year (4), sequence (6), key (2).
pub fn format_niu(niu: &str) -> String {
    if niu.len() == 17 && niu.chars().all(|c| c.is_ascii_digit()) {
        format!(
            "{} {} {} {}",
            &niu[..5],
            &niu[5..9],
            &niu[9..15],
            &niu[15..]
        )
    } else {
        niu.to_owned()
    }
}

/// The fields a rectification changes: (label, now, proposed), in the form's order.
fn changed_fields(
    now: &FicheForm,
    proposed: &FicheForm,
    tr: &Tr,
    categories: &[(String, String)],
) -> Vec<(String, String, String)> {
    let (a, b) = (
        serde_json::to_value(now).unwrap_or_default(),
        serde_json::to_value(proposed).unwrap_or_default(),
    );
    let shown = |key: &str, v: &serde_json::Value| -> String {
        match v {
            serde_json::Value::Bool(true) => tr.t("common.yes").to_owned(),
            serde_json::Value::Bool(false) => tr.t("common.no").to_owned(),
            serde_json::Value::String(s) if s.is_empty() => "—".to_owned(),
            serde_json::Value::String(s) => match key {
                "sex" | "civil_status" | "offence_class" | "sentence_type" => {
                    tr.t(&format!("enum.{key}.{s}")).to_owned()
                }
                "offence_category" => categories
                    .iter()
                    .find(|(code, _)| code == s)
                    .map_or_else(|| s.clone(), |(_, l)| l.clone()),
                _ => s.clone(),
            },
            _ => "—".to_owned(),
        }
    };
    FORM_FIELDS
        .iter()
        .filter(|k| a[**k] != b[**k])
        .map(|k| {
            (
                tr.t(&format!("field.{k}")).to_owned(),
                shown(k, &a[*k]),
                shown(k, &b[*k]),
            )
        })
        .collect()
}

/// A timestamp of the database's JSON (`2026-05-04T10:15:00.123+00:00`) as `JJ/MM/AAAA HH:MM`.
fn timestamp_text(s: &str) -> String {
    match time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339) {
        Ok(t) => {
            let t = time::UtcOffset::current_local_offset().map_or(t, |o| t.to_offset(o));
            format!(
                "{:02}/{:02}/{} {:02}:{:02}",
                t.day(),
                u8::from(t.month()),
                t.year(),
                t.hour(),
                t.minute()
            )
        }
        Err(_) => s.to_owned(),
    }
}
