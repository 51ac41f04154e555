//! The application: its state ([`AppState`]), the shell around the screens (top bar, left
//! navigation, notifications), and the routing of the database's answers to the screens.

use std::time::Duration;

use egui::{RichText, Ui};

use crate::backend::{Backend, ConnState, ConnectError, Event, Reply, Request, Session};
use crate::config::{self, AppPaths, StartLogin, Workstation};
use crate::draft::DraftStore;
use crate::i18n::Tr;
use crate::notify::Toasts;
use crate::printing::Printing;
use crate::screens::chercher::ChercherScreen;
use crate::screens::extraits::ExtraitsScreen;
use crate::screens::impression::ImpressionScreen;
use crate::screens::login::{LoginOutcome, LoginScreen};
use crate::screens::saisie::SaisieScreen;
use crate::screens::statistiques::StatistiquesScreen;
use crate::screens::transmission::TransmissionScreen;
use crate::screens::utilisateurs::UtilisateursScreen;
use crate::screens::{Env, Goto, Screen};
use crate::theme::{self, spacing};

/// How the app is started.
#[derive(Debug, Clone)]
pub struct AppOptions {
    /// Where the workstation file and the drafts are.
    pub paths: AppPaths,
    /// How often what a screen watches (Transmission, Extraits) is read again when no
    /// notification came: the fallback of LISTEN/NOTIFY.
    pub refresh_poll: Duration,
    /// Whom to log in at start (`--server`, `--login`), if anyone.
    pub start: Option<StartLogin>,
}

impl Default for AppOptions {
    fn default() -> Self {
        AppOptions {
            paths: AppPaths::for_user(),
            refresh_poll: Duration::from_secs(60),
            start: None,
        }
    }
}

/// Everything the app knows, apart from how it is drawn.
pub struct AppState {
    pub paths: AppPaths,
    pub workstation: Workstation,
    pub tr: Tr,
    /// Who is logged in; `None` on the login screen.
    pub session: Option<Session>,
    pub conn: ConnState,
    pub screen: Screen,
    pub login: LoginScreen,
    pub saisie: SaisieScreen,
    pub chercher: ChercherScreen,
    pub transmission: TransmissionScreen,
    pub extraits: ExtraitsScreen,
    pub impression: ImpressionScreen,
    pub utilisateurs: UtilisateursScreen,
    pub statistiques: StatistiquesScreen,
    /// The listening connection is up: watched screens refresh at once.
    pub live: bool,
    pub toasts: Toasts,
    /// The court's offence categories (code, label).
    pub categories: Vec<(String, String)>,
    categories_tag: Option<u64>,
    limits_tag: Option<u64>,
}

/// The screens that do something when they are opened or left.
struct Screens<'a> {
    chercher: &'a mut ChercherScreen,
    transmission: &'a mut TransmissionScreen,
    extraits: &'a mut ExtraitsScreen,
    utilisateurs: &'a mut UtilisateursScreen,
    statistiques: &'a mut StatistiquesScreen,
}

/// The [`Screens`] of an [`AppState`], borrowed apart from its other fields.
macro_rules! screens {
    ($s:expr) => {
        Screens {
            chercher: &mut $s.chercher,
            transmission: &mut $s.transmission,
            extraits: &mut $s.extraits,
            utilisateurs: &mut $s.utilisateurs,
            statistiques: &mut $s.statistiques,
        }
    };
}

/// The XMJuris desktop application: what `xmjuris-gui` runs and what the tests drive.
pub struct XmApp {
    pub state: AppState,
    backend: Backend,
    printing: Printing,
}

impl XmApp {
    /// Creates the app: fonts and style installed, the database thread started, the
    /// workstation's remembered server read.
    pub fn new(cc: &eframe::CreationContext<'_>, options: AppOptions) -> XmApp {
        theme::apply(&cc.egui_ctx);
        let workstation = Workstation::load(&options.paths.workstation);
        let tr = Tr::new(workstation.language);
        let mut app = XmApp {
            backend: Backend::start(cc.egui_ctx.clone(), options.refresh_poll),
            printing: Printing::start(cc.egui_ctx.clone()),
            state: AppState {
                login: LoginScreen::new(&workstation),
                paths: options.paths,
                workstation,
                tr,
                session: None,
                conn: ConnState::Disconnected,
                screen: Screen::Saisie,
                saisie: SaisieScreen::default(),
                chercher: ChercherScreen::default(),
                transmission: TransmissionScreen::default(),
                extraits: ExtraitsScreen::default(),
                impression: ImpressionScreen::default(),
                utilisateurs: UtilisateursScreen::default(),
                statistiques: StatistiquesScreen::default(),
                live: false,
                toasts: Toasts::default(),
                categories: Vec::new(),
                categories_tag: None,
                limits_tag: None,
            },
        };
        if let Some(start) = &options.start {
            app.start_login(start);
        }
        app
    }

    /// Logs in as the command line asks, with the password from libpq's places.
    fn start_login(&mut self, start: &StartLogin) {
        let s = &mut self.state;
        let server = match start
            .server
            .as_deref()
            .map(|t| config::parse_server(t, &s.workstation.server))
        {
            Some(Ok(server)) => Some(server),
            Some(Err(e)) => {
                tracing::warn!(error = %e, "Server of the command line ignored.");
                None
            }
            None => None,
        };
        let target = server.as_ref().unwrap_or(&s.workstation.server);
        let mut pg = tokio_postgres::Config::new();
        pg.host(&target.host)
            .port(target.port)
            .dbname(&target.database)
            .user(&start.login);
        let password = (!start.login.is_empty())
            .then(|| db::stored_password(&pg))
            .flatten();
        s.login
            .start_with(server, &start.login, password, &mut self.backend, &s.tr);
    }

    /// Opens a fiche in Saisie, as Chercher's "Ouvrir" does (tests and demonstrations drive the
    /// app to a fiche with it); nothing happens before login.
    pub fn open_fiche(&mut self, id: i64) {
        let (s, backend) = (&mut self.state, &mut self.backend);
        let Some(session) = s.session.clone() else {
            return;
        };
        let mut goto = None;
        let mut env = Env {
            backend,
            tr: &s.tr,
            toasts: &mut s.toasts,
            session: &session,
            categories: &s.categories,
            goto: &mut goto,
        };
        switch_screen(screens!(s), &mut s.screen, Screen::Saisie, &mut env);
        s.saisie.request_open(id, &mut env);
    }

    fn handle(&mut self, event: Event) {
        let s = &mut self.state;
        match event {
            Event::Connection(state) => {
                let was = s.conn;
                s.conn = state;
                if s.session.is_some() {
                    match (was, state) {
                        (ConnState::Connected, ConnState::Reconnecting) => {
                            s.toasts.error(s.tr.t("conn.lost_toast"))
                        }
                        (ConnState::Reconnecting, ConnState::Connected) => {
                            s.toasts.success(s.tr.t("conn.back_toast"))
                        }
                        _ => {}
                    }
                }
            }
            Event::SessionEnded(e) => self.end_session(Some(e)),
            Event::Live(up) => self.state.live = up,
            Event::Reply { tag, reply } => self.route(tag, *reply),
        }
    }

    fn route(&mut self, tag: u64, reply: Reply) {
        match reply {
            Reply::Connected(result) => {
                if let Some(LoginOutcome::LoggedIn(session)) =
                    self.state.login.on_connected(tag, result)
                {
                    self.logged_in(session);
                }
            }
            Reply::Disconnected => {}
            Reply::OffenceCategories(result) => {
                if self.state.categories_tag == Some(tag) {
                    self.state.categories_tag = None;
                    match result {
                        Ok(c) => self.state.categories = c,
                        Err(e) => tracing::warn!(error = ?e, "Offence categories not read."),
                    }
                }
            }
            Reply::FieldLimits(result) => {
                if self.state.limits_tag == Some(tag) {
                    self.state.limits_tag = None;
                    match result {
                        Ok(l) => self.state.saisie.set_limits(l),
                        Err(e) => tracing::warn!(error = ?e, "Field limits not read."),
                    }
                }
            }
            r @ (Reply::Users(_) | Reply::UserWritten(_)) => {
                let s = &mut self.state;
                s.utilisateurs.on_reply(tag, r, &s.tr, &mut s.toasts);
            }
            r @ Reply::Statistics(_) => {
                let s = &mut self.state;
                s.statistiques.on_reply(tag, r, &s.tr);
            }
            r @ (Reply::Fiche(_) | Reply::Actions(_) | Reply::Written(_)) => {
                let s = &mut self.state;
                s.saisie.on_reply(tag, r, &s.tr, &mut s.toasts);
            }
            r @ (Reply::Search(_) | Reply::History(_) | Reply::Audit(_)) => {
                self.state.chercher.on_reply(tag, r)
            }
            r @ (Reply::Watch(_) | Reply::ExtractRequested(_) | Reply::Document(_)) => {
                let (s, backend) = (&mut self.state, &mut self.backend);
                let Some(session) = s.session.clone() else {
                    return;
                };
                let mut goto = None;
                let mut env = Env {
                    backend,
                    tr: &s.tr,
                    toasts: &mut s.toasts,
                    session: &session,
                    categories: &s.categories,
                    goto: &mut goto,
                };
                match r {
                    r @ Reply::Watch(_) => {
                        s.transmission.on_reply(tag, r.clone());
                        s.extraits.on_reply(tag, r, &mut env);
                    }
                    r @ Reply::ExtractRequested(_) => s.extraits.on_reply(tag, r, &mut env),
                    r => s.impression.on_reply(tag, r, &mut env, &mut self.printing),
                }
            }
        }
    }

    /// What the printing thread finished.
    fn printed(&mut self, ctx: &egui::Context) {
        for (tag, outcome) in self.printing.poll() {
            let (s, backend) = (&mut self.state, &mut self.backend);
            let Some(session) = s.session.clone() else {
                continue;
            };
            let mut goto = None;
            let mut env = Env {
                backend,
                tr: &s.tr,
                toasts: &mut s.toasts,
                session: &session,
                categories: &s.categories,
                goto: &mut goto,
            };
            s.impression.on_outcome(tag, outcome, ctx, &mut env);
        }
    }

    fn logged_in(&mut self, session: Session) {
        let s = &mut self.state;
        tracing::info!(login = %session.login, privilege = session.privilege, "Logged in.");
        // Remember the server, the login and the language on this workstation.
        s.workstation.server = s.login.server.clone();
        s.workstation.last_login = Some(session.login.clone());
        s.workstation.language = s.login.lang;
        if let Err(e) = s.workstation.save(&s.paths.workstation) {
            tracing::warn!(error = %e, "Cannot write the workstation file.");
        }
        let draft = DraftStore::new(&s.paths.drafts, &s.workstation.server, &session.login);
        s.session = Some(session);
        s.screen = Screen::Saisie;
        s.chercher = ChercherScreen::default();
        s.transmission = TransmissionScreen::default();
        s.extraits = ExtraitsScreen::default();
        s.impression = ImpressionScreen::default();
        s.impression
            .start(&s.workstation.printing, s.workstation.language);
        s.utilisateurs = UtilisateursScreen::default();
        s.statistiques = StatistiquesScreen::default();
        s.categories_tag = Some(self.backend.send(Request::OffenceCategories));
        s.limits_tag = Some(self.backend.send(Request::FieldLimits));
        s.saisie.start(draft);
    }

    fn end_session(&mut self, reason: Option<ConnectError>) {
        self.state.saisie.flush_draft();
        if self.state.session.take().is_some() {
            self.backend.send(Request::Disconnect);
        }
        self.state.login.reset(reason);
        self.state.saisie = SaisieScreen::default();
        self.state.chercher = ChercherScreen::default();
        self.state.transmission = TransmissionScreen::default();
        self.state.extraits = ExtraitsScreen::default();
        self.state.impression = ImpressionScreen::default();
        self.state.utilisateurs = UtilisateursScreen::default();
        self.state.statistiques = StatistiquesScreen::default();
        self.state.live = false;
    }

    /// The shell: top bar, navigation, the current screen, notifications.
    fn shell(&mut self, ui: &mut Ui) {
        let (s, backend, printing) = (&mut self.state, &mut self.backend, &mut self.printing);
        let Some(session) = s.session.clone() else {
            return;
        };
        let mut logout = false;
        egui::Panel::top("top_bar")
            .frame(
                egui::Frame::new()
                    .fill(theme::TOP_BAR)
                    .inner_margin(egui::Margin::symmetric(16, 8)),
            )
            .show(ui, |ui| {
                top_bar(ui, &s.tr, &session, s.conn, &mut logout);
            });
        let mut go = None;
        egui::Panel::left("navigation")
            .exact_size(spacing::NAV_WIDTH)
            .resizable(false)
            .frame(
                egui::Frame::new()
                    .fill(theme::NAV)
                    .inner_margin(egui::Margin::symmetric(10, 14)),
            )
            .show(ui, |ui| {
                go = navigation(ui, &s.tr, s.screen, session.privilege);
            });
        let mut goto = None;
        if let Some(screen) = go
            && screen != s.screen
        {
            let mut env = Env {
                backend,
                tr: &s.tr,
                toasts: &mut s.toasts,
                session: &session,
                categories: &s.categories,
                goto: &mut goto,
            };
            switch_screen(screens!(s), &mut s.screen, screen, &mut env);
        }
        let mut settings_changed = false;
        {
            let mut env = Env {
                backend,
                tr: &s.tr,
                toasts: &mut s.toasts,
                session: &session,
                categories: &s.categories,
                goto: &mut goto,
            };
            match s.screen {
                Screen::Saisie => s.saisie.show(ui, &mut env),
                Screen::Chercher => s.chercher.show(ui, &mut env),
                Screen::Transmission => s.transmission.show(ui, &mut env, s.live),
                Screen::Extraits => s.extraits.show(ui, &mut env),
                Screen::Impression => {
                    settings_changed =
                        s.impression
                            .show(ui, &mut env, printing, &mut s.workstation.printing);
                }
                Screen::Utilisateurs => s.utilisateurs.show(ui, &mut env),
                Screen::Statistiques => s.statistiques.show(ui, &mut env),
            }
        }
        if settings_changed && let Err(e) = s.workstation.save(&s.paths.workstation) {
            tracing::warn!(error = %e, "Cannot write the workstation file.");
        }
        if let Some(target) = goto {
            let mut goto = None;
            let mut env = Env {
                backend,
                tr: &s.tr,
                toasts: &mut s.toasts,
                session: &session,
                categories: &s.categories,
                goto: &mut goto,
            };
            match target {
                Goto::OpenFiche(id) => {
                    switch_screen(screens!(s), &mut s.screen, Screen::Saisie, &mut env);
                    s.saisie.request_open(id, &mut env);
                }
                Goto::Print(source) => {
                    switch_screen(screens!(s), &mut s.screen, Screen::Impression, &mut env);
                    s.impression.preview(source, &mut env);
                }
            }
        }
        if logout {
            self.end_session(None);
        }
    }
}

/// Moves to another screen: a watched screen stops being watched when left, and the new one
/// says what it needs.
fn switch_screen(s: Screens<'_>, current: &mut Screen, to: Screen, env: &mut Env<'_>) {
    if *current == to {
        return;
    }
    let watched = |screen| matches!(screen, Screen::Transmission | Screen::Extraits);
    *current = to;
    match to {
        Screen::Chercher => s.chercher.opened(),
        Screen::Transmission => s.transmission.opened(env),
        Screen::Extraits => s.extraits.opened(env),
        Screen::Utilisateurs => s.utilisateurs.opened(env),
        Screen::Statistiques => s.statistiques.opened(env),
        _ => {}
    }
    if !watched(to) {
        env.backend.send(Request::Watch(None));
    }
}

fn top_bar(ui: &mut Ui, tr: &Tr, session: &Session, conn: ConnState, logout: &mut bool) {
    ui.horizontal(|ui| {
        ui.label(theme::bold("XMJuris", 18.0).color(egui::Color32::WHITE));
        ui.add_space(10.0);
        ui.label(
            RichText::new(&session.court.name)
                .color(egui::Color32::WHITE)
                .size(15.5),
        );
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            let button =
                egui::Button::new(RichText::new(tr.t("shell.logout")).color(egui::Color32::WHITE))
                    .fill(theme::ACCENT_HOVER)
                    .stroke(egui::Stroke::new(1.0, egui::Color32::from_white_alpha(80)));
            if ui.add(button).clicked() {
                *logout = true;
            }
            ui.add_space(12.0);
            let role = tr.t(match session.privilege {
                3 => "role.greffier",
                2 => "role.secretaire",
                _ => "role.agent",
            });
            ui.label(
                RichText::new(format!("{} — {}", session.full_name, role))
                    .color(egui::Color32::WHITE),
            );
            ui.add_space(12.0);
            let (color, key) = match conn {
                ConnState::Connected => {
                    (egui::Color32::from_rgb(0x7C, 0xD9, 0x92), "conn.connected")
                }
                ConnState::Reconnecting => (
                    egui::Color32::from_rgb(0xF5, 0xC2, 0x6B),
                    "conn.reconnecting",
                ),
                ConnState::Disconnected => (
                    egui::Color32::from_rgb(0xF2, 0x8B, 0x82),
                    "conn.disconnected",
                ),
            };
            ui.label(RichText::new(tr.t(key)).color(egui::Color32::WHITE));
            let (rect, _) = ui.allocate_exact_size(egui::vec2(10.0, 10.0), egui::Sense::hover());
            ui.painter().circle_filled(rect.center(), 5.0, color);
        });
    });
}

fn navigation(ui: &mut Ui, tr: &Tr, current: Screen, privilege: i32) -> Option<Screen> {
    let mut go = None;
    ui.spacing_mut().item_spacing.y = 4.0;
    for screen in Screen::ALL.into_iter().filter(|s| s.offered_to(privilege)) {
        let selected = screen == current;
        let text = if selected {
            theme::bold(tr.t(screen.key()), 15.0).color(theme::ACCENT)
        } else {
            RichText::new(tr.t(screen.key()))
                .size(15.0)
                .color(theme::TEXT)
        };
        let button = egui::Button::selectable(selected, text)
            .min_size(egui::vec2(ui.available_width(), 34.0));
        if ui.add(button).clicked() {
            go = Some(screen);
        }
    }
    go
}

impl eframe::App for XmApp {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        for event in self.backend.poll() {
            self.handle(event);
        }
        // The language chosen on the login screen applies at once.
        if self.state.session.is_none() && self.state.tr.lang() != self.state.login.lang {
            self.state.tr = Tr::new(self.state.login.lang);
        }
        self.printed(ctx);
        self.state.saisie.tick(ctx);
        if ctx.input(|i| i.viewport().close_requested()) {
            self.state.saisie.flush_draft();
        }
    }

    fn ui(&mut self, ui: &mut Ui, _frame: &mut eframe::Frame) {
        if self.state.session.is_none() {
            let (s, backend) = (&mut self.state, &mut self.backend);
            s.login.show(ui, backend, &s.tr);
        } else {
            self.shell(ui);
        }
        self.state.toasts.show(ui.ctx());
    }

    fn on_exit(&mut self, _gl: Option<&eframe::glow::Context>) {
        self.state.saisie.flush_draft();
    }
}
