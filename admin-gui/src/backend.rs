//! The database, off the UI thread.
//!
//! A thread of its own runs a tokio runtime holding the session's one connection to the court
//! database. The UI sends [`Request`]s over a channel, each with a tag; answers come back as
//! [`Event`]s over another channel, followed by `ctx.request_repaint()`, so the UI repaints only
//! when there is something new. The UI keeps the tag of the answer it waits for in each place
//! (the search, the open fiche…) and drops any other: a stale search answer never overwrites a
//! newer one.
//!
//! Requests are handled one at a time, in order, so "save then submit" needs no locking; a
//! write that changes a fiche answers with the fiche read back and the actions the database now
//! allows on it. Only `juris.*` functions are called; the database's refusals come back as
//! [`Failure::Refused`], with the field at fault.
//!
//! A lost connection is noticed (the connection task ends, or a query fails on a closed
//! connection), reported as [`ConnState::Reconnecting`] and retried with a growing delay; a
//! request made meanwhile fails with [`Failure::Lost`] and the UI keeps what the user typed.

use std::sync::mpsc as std_mpsc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::mpsc;
use tokio_postgres::{Client, Config, NoTls};

use crate::admin::{self, EventRow, Statistics, UsersPage};
use crate::config::{ServerSettings, TlsMode};
use crate::fiche::{FicheForm, FicheMeta};
use crate::live::{self, LiveEvent};
use crate::queries::{self, DocumentFailure, DocumentSource, WatchResult, Watched};

/// A password kept in memory for reconnecting, never printed.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// The court, as `juris.whoami()` describes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CourtInfo {
    pub code: String,
    pub name: String,
    pub region: String,
    pub departement: String,
    pub arrondissement: String,
}

/// Who is logged in (`juris.whoami()`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Session {
    pub login: String,
    pub full_name: String,
    /// 1 agent, 2 secrétaire, 3 greffier.
    pub privilege: i32,
    pub court: CourtInfo,
}

impl Session {
    fn from_whoami(v: &Value) -> Session {
        let s = |v: &Value| v.as_str().unwrap_or_default().to_owned();
        let c = &v["court"];
        Session {
            login: s(&v["login"]),
            full_name: s(&v["full_name"]),
            privilege: v["privilege"].as_i64().unwrap_or_default() as i32,
            court: CourtInfo {
                code: s(&c["code"]),
                name: s(&c["name"]),
                region: s(&c["region"]),
                departement: s(&c["departement"]),
                arrondissement: s(&c["arrondissement"]),
            },
        }
    }
}

/// Why a login failed, for the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectErrorKind {
    /// Wrong login or password (PostgreSQL does not tell which).
    WrongPassword,
    /// The account is suspended (privilege 0: its role lost the LOGIN right).
    Suspended,
    /// The login is not staff of this court (`juris.whoami` refuses it).
    NotStaff,
    /// No such database on the server.
    NoDatabase,
    /// The role may not connect to this database.
    NoAccess,
    /// The server cannot be reached (address, port, network, server stopped).
    Unreachable,
    /// The TLS connection failed (certificate, or the server does not offer TLS).
    Tls,
    /// The database is not a court database, or not initialised.
    NotCourt,
    /// Anything else.
    Other,
}

impl ConnectErrorKind {
    /// The catalogue key of the message.
    pub fn key(self) -> &'static str {
        match self {
            ConnectErrorKind::WrongPassword => "login.error.wrong_password",
            ConnectErrorKind::Suspended => "login.error.suspended",
            ConnectErrorKind::NotStaff => "login.error.not_staff",
            ConnectErrorKind::NoDatabase => "login.error.no_database",
            ConnectErrorKind::NoAccess => "login.error.no_access",
            ConnectErrorKind::Unreachable => "login.error.unreachable",
            ConnectErrorKind::Tls => "login.error.tls",
            ConnectErrorKind::NotCourt => "login.error.not_court",
            ConnectErrorKind::Other => "login.error.other",
        }
    }
}

/// A failed login: what kind, and the server's own words for the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectError {
    pub kind: ConnectErrorKind,
    pub detail: String,
}

/// Why a request failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The database refused by one of XMJuris's rules: its French message, and the field at
    /// fault when the rule names one.
    Refused {
        kind: db::ErrorKind,
        message: String,
        field: Option<String>,
    },
    /// The connection is lost; whether a write reached the server is unknown until it is back.
    Lost,
    /// Anything else (a defect, or an unexpected server error), for the operator.
    Other(String),
}

/// A workflow action on a fiche, as `juris.fiche_actions` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Save,
    Submit,
    Verify,
    Return,
    Sign,
    Print,
    Withdraw,
    Rectify,
    VerifyRectification,
    ReturnRectification,
    ApplyRectification,
    Erase,
    /// Record a dated event after signature (the greffier).
    RecordEvent,
}

impl Action {
    pub const ALL: [Action; 13] = [
        Action::Save,
        Action::Submit,
        Action::Verify,
        Action::Return,
        Action::Sign,
        Action::Print,
        Action::Withdraw,
        Action::Rectify,
        Action::VerifyRectification,
        Action::ReturnRectification,
        Action::ApplyRectification,
        Action::Erase,
        Action::RecordEvent,
    ];

    /// Its name in `juris.fiche_actions`.
    pub fn name(self) -> &'static str {
        match self {
            Action::Save => "save",
            Action::Submit => "submit",
            Action::Verify => "verify",
            Action::Return => "return",
            Action::Sign => "sign",
            Action::Print => "print",
            Action::Withdraw => "withdraw",
            Action::Rectify => "rectify",
            Action::VerifyRectification => "verify_rectification",
            Action::ReturnRectification => "return_rectification",
            Action::ApplyRectification => "apply_rectification",
            Action::Erase => "erase",
            Action::RecordEvent => "record_event",
        }
    }

    pub fn from_name(name: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.name() == name)
    }
}

/// One row of `juris.fiche_actions`: may the session's user do this now, and if not, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionRow {
    pub action: Action,
    pub allowed: bool,
    pub reason: Option<String>,
}

/// A fiche read back: content, workflow, and what the user may do with it.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedFiche {
    pub form: FicheForm,
    pub meta: FicheMeta,
    pub actions: Vec<ActionRow>,
    /// Its dated events after signature (fine paid, sentence served...).
    pub events: Vec<EventRow>,
}

/// What a write did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Done {
    Saved,
    Submitted,
    Verified,
    Returned,
    Signed {
        niu: String,
    },
    Withdrawn,
    /// A rectification was proposed (another person verifies it, the greffier applies it).
    RectificationProposed,
    /// The proposal was verified by another person (the greffier may apply it).
    RectificationVerified,
    /// The proposal was refused, with a comment.
    RectificationReturned,
    /// The proposal became this new version, signed and transmitted.
    RectificationApplied {
        version: i32,
    },
    /// A dated event after signature was recorded.
    EventRecorded,
    Erased,
}

/// A column the results of a search are sorted by (`sort_by` of `juris.search_fiches_page`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortKey {
    /// Name likeness, then newest first (newest first without names).
    #[default]
    Relevance,
    Number,
    Status,
    Name,
    BirthDate,
    ConvictionDate,
}

impl SortKey {
    /// The name `juris.search_fiches_page` takes.
    pub fn sql(self) -> &'static str {
        match self {
            SortKey::Relevance => "relevance",
            SortKey::Number => "number",
            SortKey::Status => "status",
            SortKey::Name => "name",
            SortKey::BirthDate => "birth_date",
            SortKey::ConvictionDate => "conviction_date",
        }
    }
}

/// A search and the page of its results wanted (`juris.search_fiches_page`); empty criteria
/// are left out. The database sorts and pages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchCriteria {
    pub name: String,
    pub niu: String,
    pub reference: String,
    pub birth_date: Option<time::Date>,
    pub status: Option<i32>,
    /// The range of conviction dates, both ends included.
    pub convicted_from: Option<time::Date>,
    pub convicted_to: Option<time::Date>,
    pub sort: SortKey,
    pub descending: bool,
    pub page_size: i32,
    pub offset: i32,
}

/// One page of the fiches a search found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchPage {
    pub rows: Vec<SearchRow>,
    /// How many fiches the search found, counted up to 10 000 ...
    pub total: i64,
    /// ... and false when there are more.
    pub total_exact: bool,
}

/// One fiche found.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchRow {
    pub fiche_id: i64,
    pub number: i64,
    pub status: i32,
    pub status_label: String,
    pub niu: Option<String>,
    pub reference: Option<String>,
    pub surname: Option<String>,
    pub given_names: Option<String>,
    pub birth_date: Option<time::Date>,
    pub birth_place: Option<String>,
    pub conviction_date: Option<time::Date>,
    pub score: f32,
}

/// One change of a fiche (`juris.fiche_history`).
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryRow {
    pub seq: i64,
    pub at: time::OffsetDateTime,
    pub actor: String,
    pub actor_name: Option<String>,
    pub action: String,
    pub status: Option<i32>,
    pub status_label: Option<String>,
    pub version: Option<i32>,
    pub detail: Option<String>,
}

/// The audit chain's check (`juris.audit_verify`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditCheck {
    pub ok: bool,
    pub rows_checked: i64,
    pub first_broken_seq: Option<i64>,
    pub problem: Option<String>,
}

/// What the UI asks.
#[derive(Debug, Clone)]
pub enum Request {
    /// Log in (and remember how, to reconnect).
    Connect {
        server: ServerSettings,
        login: String,
        password: Secret,
    },
    /// Log out: close the connection and forget the password.
    Disconnect,
    OffenceCategories,
    /// Read a fiche with its actions.
    LoadFiche {
        id: i64,
    },
    /// The actions allowed on a fiche, or on a new one (`None`).
    Actions {
        id: Option<i64>,
    },
    /// Create or update a draft.
    Save {
        fiche: Value,
    },
    /// A workflow transition; `save_first` saves the draft in the same transaction.
    Transition {
        id: i64,
        action: Action,
        argument: Option<String>,
        save_first: Option<Value>,
    },
    /// A signed fiche's new version, with a motive.
    Rectify {
        id: i64,
        fiche: Value,
        motive: String,
    },
    Search(SearchCriteria),
    History {
        id: i64,
    },
    AuditVerify,
    /// Keep this fresh (read again on every notification and on the slow poll, answered with
    /// this request's tag whenever it changed), instead of what was watched before; `None`
    /// stops watching.
    Watch(Option<Watched>),
    /// Ask the CJN for a bulletin (`juris.request_extract`).
    RequestExtract {
        person: Value,
        bulletin: i32,
        purpose: String,
    },
    /// The data of a printed document.
    Document(DocumentSource),
    /// The court's staff and its limits (greffier).
    Users,
    /// Create a staff member (the password is sent as its SCRAM verifier).
    CreateUser {
        login: String,
        full_name: String,
        password: Secret,
        privilege: i32,
    },
    /// Change a staff member's privilege (0 suspends).
    SetPrivilege {
        login: String,
        privilege: i32,
    },
    /// The court's statistics of the last `months` months.
    Statistics {
        months: i32,
    },
    /// The length limits of the fiche's text fields.
    FieldLimits,
    /// Record a dated event of a signed fiche (`juris.record_sentence_event`'s JSON).
    RecordEvent {
        id: i64,
        event: Value,
    },
}

/// What comes back.
#[derive(Debug, Clone)]
pub enum Reply {
    Connected(Result<Session, ConnectError>),
    Disconnected,
    OffenceCategories(Result<Vec<(String, String)>, Failure>),
    Fiche(Result<LoadedFiche, Failure>),
    Actions(Result<Vec<ActionRow>, Failure>),
    /// A write: what it did, and the fiche read back (`None` once erased).
    Written(Result<(Done, Option<LoadedFiche>), Failure>),
    Search(Result<SearchPage, Failure>),
    History(Result<Vec<HistoryRow>, Failure>),
    Audit(Result<AuditCheck, Failure>),
    /// What is watched, read again (first answer, then each change).
    Watch(Result<WatchResult, Failure>),
    /// The new request's id.
    ExtractRequested(Result<i64, Failure>),
    Document(Result<Value, Failure>),
    Users(Result<UsersPage, Failure>),
    /// A user created or changed: the staff read again.
    UserWritten(Result<UsersPage, Failure>),
    Statistics(Result<Statistics, Failure>),
    FieldLimits(Result<Vec<(String, usize)>, Failure>),
}

/// The state of the session's connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnState {
    Connected,
    /// Lost; trying again.
    Reconnecting,
    Disconnected,
}

/// What the UI receives.
#[derive(Debug, Clone)]
pub enum Event {
    /// The answer to the request with this tag.
    Reply { tag: u64, reply: Box<Reply> },
    /// The connection changed state.
    Connection(ConnState),
    /// The session ended from the server's side and cannot come back by itself (the account
    /// was suspended, its password changed): back to the login screen with this reason.
    SessionEnded(ConnectError),
    /// The listening connection is up (screens refresh by themselves) or lost (they refresh
    /// on the slow poll until it is back).
    Live(bool),
}

/// The UI's handle on the database thread.
pub struct Backend {
    requests: mpsc::UnboundedSender<(u64, Request)>,
    events: std_mpsc::Receiver<Event>,
    next_tag: u64,
}

impl Backend {
    /// Starts the database thread; `ctx` is woken whenever an event arrives. What a screen
    /// watches is also read again every `poll` (the fallback of the notifications).
    pub fn start(ctx: egui::Context, poll: Duration) -> Backend {
        let (req_tx, req_rx) = mpsc::unbounded_channel();
        let (ev_tx, ev_rx) = std_mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name("xmjuris-db".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(r) => r,
                    Err(e) => {
                        tracing::error!(error = %e, "Cannot start the database runtime.");
                        return;
                    }
                };
                runtime.block_on(Worker::new(ctx, ev_tx, poll).run(req_rx));
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "Cannot start the database thread.");
        }
        Backend {
            requests: req_tx,
            events: ev_rx,
            next_tag: 1,
        }
    }

    /// Sends a request; returns its tag, which its answer will carry.
    pub fn send(&mut self, request: Request) -> u64 {
        let tag = self.next_tag;
        self.next_tag += 1;
        if self.requests.send((tag, request)).is_err() {
            tracing::error!("The database thread has stopped.");
        }
        tag
    }

    /// The events that arrived since the last call.
    pub fn poll(&self) -> Vec<Event> {
        self.events.try_iter().collect()
    }
}

struct Credentials {
    server: ServerSettings,
    login: String,
    password: Secret,
}

struct Worker {
    ctx: egui::Context,
    events: std_mpsc::Sender<Event>,
    client: Option<Client>,
    credentials: Option<Credentials>,
    /// Bumped at each new connection, so the end of an old one is not mistaken for a loss.
    generation: u64,
    lost_tx: mpsc::UnboundedSender<u64>,
    lost_rx: mpsc::UnboundedReceiver<u64>,
    retry_at: Option<tokio::time::Instant>,
    retry_delay: Duration,
    /// The listening connection of the session ([`live`]).
    live: Option<tokio::task::JoinHandle<()>>,
    live_tx: mpsc::UnboundedSender<LiveEvent>,
    live_rx: mpsc::UnboundedReceiver<LiveEvent>,
    /// What a screen keeps fresh, the tag its answers carry, and the last value sent.
    watch: Option<(u64, Watched)>,
    watch_last: Option<Result<WatchResult, Failure>>,
    /// When to read it again: soon after a notification (several fold into one read)...
    refresh_at: Option<tokio::time::Instant>,
    /// ...and at the latest after `poll`.
    poll: Duration,
    poll_at: Option<tokio::time::Instant>,
}

/// How long after a notification the watched data is read (the notifications of a burst of
/// receipts fold into one read).
const NOTIFY_DEBOUNCE: Duration = Duration::from_millis(150);

const FIRST_RETRY: Duration = Duration::from_millis(500);
const MAX_RETRY: Duration = Duration::from_secs(15);

impl Worker {
    fn new(ctx: egui::Context, events: std_mpsc::Sender<Event>, poll: Duration) -> Worker {
        let (lost_tx, lost_rx) = mpsc::unbounded_channel();
        let (live_tx, live_rx) = mpsc::unbounded_channel();
        Worker {
            ctx,
            events,
            client: None,
            credentials: None,
            generation: 0,
            lost_tx,
            lost_rx,
            retry_at: None,
            retry_delay: FIRST_RETRY,
            live: None,
            live_tx,
            live_rx,
            watch: None,
            watch_last: None,
            refresh_at: None,
            poll,
            poll_at: None,
        }
    }

    fn emit(&self, event: Event) {
        let _ = self.events.send(event);
        self.ctx.request_repaint();
    }

    async fn run(mut self, mut requests: mpsc::UnboundedReceiver<(u64, Request)>) {
        loop {
            let retry_at = self.retry_at;
            tokio::select! {
                request = requests.recv() => match request {
                    Some((tag, request)) => {
                        let reply = self.handle(tag, request).await;
                        self.emit(Event::Reply {
                            tag,
                            reply: Box::new(reply),
                        });
                    }
                    None => break,
                },
                Some(generation) = self.lost_rx.recv() => {
                    if generation == self.generation && self.client.is_some() {
                        self.connection_lost();
                    }
                }
                () = sleep_until(retry_at), if retry_at.is_some() => {
                    self.retry_at = None;
                    self.reconnect().await;
                }
                Some(event) = self.live_rx.recv() => self.on_live(event),
                () = sleep_until(self.refresh_at), if self.refresh_at.is_some() => {
                    self.refresh().await;
                }
                () = sleep_until(self.poll_at), if self.poll_at.is_some() => {
                    self.refresh().await;
                }
            }
        }
        if let Some(live) = self.live.take() {
            live.abort();
        }
    }

    fn on_live(&mut self, event: LiveEvent) {
        match event {
            LiveEvent::Up => {
                // Notifications sent while nobody listened are lost: read again.
                self.emit(Event::Live(true));
                self.schedule_refresh();
            }
            LiveEvent::Notified => self.schedule_refresh(),
            LiveEvent::Down => self.emit(Event::Live(false)),
        }
    }

    fn schedule_refresh(&mut self) {
        if self.watch.is_some() && self.refresh_at.is_none() {
            self.refresh_at = Some(tokio::time::Instant::now() + NOTIFY_DEBOUNCE);
        }
    }

    /// Reads what is watched again and sends it to the UI only if it changed: an idle screen
    /// is not repainted.
    async fn refresh(&mut self) {
        self.refresh_at = None;
        let Some((tag, what)) = self.watch.clone() else {
            self.poll_at = None;
            return;
        };
        self.poll_at = Some(tokio::time::Instant::now() + self.poll);
        if self.client.is_none() {
            // Reconnecting: the reconnection reads it again.
            return;
        }
        let result = self
            .read(move |c| Box::pin(async move { queries::watched(c, &what).await }))
            .await;
        if self.watch.as_ref().map(|(t, _)| *t) == Some(tag)
            && self.watch_last.as_ref() != Some(&result)
        {
            self.watch_last = Some(result.clone());
            self.emit(Event::Reply {
                tag,
                reply: Box::new(Reply::Watch(result)),
            });
        }
    }

    fn stop_live(&mut self) {
        if let Some(live) = self.live.take() {
            live.abort();
        }
    }

    fn connection_lost(&mut self) {
        tracing::warn!("Connection to the court database lost; reconnecting.");
        self.client = None;
        if self.credentials.is_some() {
            self.retry_delay = FIRST_RETRY;
            self.retry_at = Some(tokio::time::Instant::now() + self.retry_delay);
            self.emit(Event::Connection(ConnState::Reconnecting));
        } else {
            self.emit(Event::Connection(ConnState::Disconnected));
        }
    }

    /// One attempt to connect again with the remembered credentials.
    async fn reconnect(&mut self) {
        let Some(c) = &self.credentials else {
            return;
        };
        self.generation += 1;
        match connect(
            &c.server,
            &c.login,
            &c.password,
            self.generation,
            &self.lost_tx,
        )
        .await
        {
            Ok((client, _session)) => {
                tracing::info!("Reconnected to the court database.");
                self.client = Some(client);
                self.retry_delay = FIRST_RETRY;
                self.emit(Event::Connection(ConnState::Connected));
                self.schedule_refresh();
            }
            Err(e)
                if matches!(
                    e.kind,
                    ConnectErrorKind::Unreachable | ConnectErrorKind::Other
                ) =>
            {
                self.retry_delay = (self.retry_delay * 2).min(MAX_RETRY);
                self.retry_at = Some(tokio::time::Instant::now() + self.retry_delay);
                tracing::debug!(
                    delay_ms = self.retry_delay.as_millis() as u64,
                    "Reconnection failed; will retry."
                );
            }
            Err(e) => {
                // The server answered but refuses this login now: no point in retrying.
                tracing::warn!(kind = ?e.kind, "The server refuses the session now.");
                self.credentials = None;
                self.stop_live();
                self.emit(Event::SessionEnded(e));
            }
        }
    }

    /// The connection, reconnecting once at once if it was lost.
    async fn client(&mut self) -> Result<&Client, Failure> {
        if self.client.is_none() && self.credentials.is_some() {
            self.retry_at = None;
            self.reconnect().await;
        }
        self.client.as_ref().ok_or(Failure::Lost)
    }

    async fn handle(&mut self, tag: u64, request: Request) -> Reply {
        match request {
            Request::Connect {
                server,
                login,
                password,
            } => {
                self.client = None;
                self.retry_at = None;
                self.generation += 1;
                let result =
                    connect(&server, &login, &password, self.generation, &self.lost_tx).await;
                match result {
                    Ok((client, session)) => {
                        self.client = Some(client);
                        self.stop_live();
                        self.live = Some(live::spawn(
                            server.clone(),
                            login.clone(),
                            password.clone(),
                            self.live_tx.clone(),
                        ));
                        self.credentials = Some(Credentials {
                            server,
                            login,
                            password,
                        });
                        self.emit(Event::Connection(ConnState::Connected));
                        Reply::Connected(Ok(session))
                    }
                    Err(e) => {
                        self.credentials = None;
                        Reply::Connected(Err(e))
                    }
                }
            }
            Request::Disconnect => {
                self.stop_live();
                self.watch = None;
                self.watch_last = None;
                self.refresh_at = None;
                self.poll_at = None;
                self.credentials = None;
                self.retry_at = None;
                self.generation += 1;
                self.client = None;
                self.emit(Event::Connection(ConnState::Disconnected));
                Reply::Disconnected
            }
            Request::OffenceCategories => {
                let r = self.read(|c| Box::pin(offence_categories(c))).await;
                Reply::OffenceCategories(r)
            }
            Request::LoadFiche { id } => {
                Reply::Fiche(self.read(move |c| Box::pin(load(c, id))).await)
            }
            Request::Actions { id } => {
                Reply::Actions(self.read(move |c| Box::pin(actions(c, id))).await)
            }
            Request::Save { fiche } => {
                let r = self
                    .write(move |c| {
                        Box::pin(async move {
                            let id: i64 = c
                                .query_one("select juris.save_fiche($1::jsonb)", &[&fiche])
                                .await?
                                .try_get(0)?;
                            Ok((Done::Saved, Some(load(c, id).await?)))
                        })
                    })
                    .await;
                Reply::Written(r)
            }
            Request::Transition {
                id,
                action,
                argument,
                save_first,
            } => {
                let r = self
                    .write(move |c| Box::pin(transition(c, id, action, argument, save_first)))
                    .await;
                Reply::Written(r)
            }
            Request::Rectify { id, fiche, motive } => {
                let r = self
                    .write(move |c| {
                        Box::pin(async move {
                            c.query_one(
                                "select juris.propose_rectification($1, $2::jsonb, $3)",
                                &[&id, &fiche, &motive],
                            )
                            .await?;
                            Ok((Done::RectificationProposed, Some(load(c, id).await?)))
                        })
                    })
                    .await;
                Reply::Written(r)
            }
            Request::Search(criteria) => {
                Reply::Search(self.read(move |c| Box::pin(search(c, criteria))).await)
            }
            Request::History { id } => {
                Reply::History(self.read(move |c| Box::pin(history(c, id))).await)
            }
            Request::AuditVerify => Reply::Audit(self.read(|c| Box::pin(audit(c))).await),
            Request::Watch(what) => {
                self.refresh_at = None;
                match what {
                    None => {
                        self.watch = None;
                        self.watch_last = None;
                        self.poll_at = None;
                        Reply::Watch(Err(Failure::Other("no longer watched".into())))
                    }
                    Some(what) => {
                        let w = what.clone();
                        let result = self
                            .read(move |c| Box::pin(async move { queries::watched(c, &w).await }))
                            .await;
                        self.watch = Some((tag, what));
                        self.watch_last = Some(result.clone());
                        self.poll_at = Some(tokio::time::Instant::now() + self.poll);
                        Reply::Watch(result)
                    }
                }
            }
            Request::RequestExtract {
                person,
                bulletin,
                purpose,
            } => {
                let r = self
                    .read(move |c| {
                        Box::pin(async move {
                            queries::request_extract(c, &person, bulletin, &purpose).await
                        })
                    })
                    .await;
                Reply::ExtractRequested(r)
            }
            Request::Users => Reply::Users(self.read(|c| Box::pin(admin::users(c))).await),
            Request::CreateUser {
                login,
                full_name,
                password,
                privilege,
            } => {
                let r = self
                    .read(move |c| {
                        Box::pin(async move {
                            admin::create_user(c, &login, &full_name, password.expose(), privilege)
                                .await
                        })
                    })
                    .await;
                Reply::UserWritten(r)
            }
            Request::SetPrivilege { login, privilege } => {
                let r = self
                    .read(move |c| {
                        Box::pin(async move { admin::set_privilege(c, &login, privilege).await })
                    })
                    .await;
                Reply::UserWritten(r)
            }
            Request::Statistics { months } => Reply::Statistics(
                self.read(move |c| Box::pin(admin::statistics(c, months)))
                    .await,
            ),
            Request::FieldLimits => {
                Reply::FieldLimits(self.read(|c| Box::pin(admin::field_limits(c))).await)
            }
            Request::RecordEvent { id, event } => {
                let r = self
                    .read(move |c| {
                        Box::pin(async move {
                            admin::record_event(c, id, &event).await?;
                            Ok((Done::EventRecorded, Some(load(c, id).await?)))
                        })
                    })
                    .await;
                Reply::Written(r)
            }
            Request::Document(source) => {
                let client = match self.client().await {
                    Ok(c) => c,
                    Err(f) => return Reply::Document(Err(f)),
                };
                match queries::document(client, &source).await {
                    Ok(v) => Reply::Document(Ok(v)),
                    Err(DocumentFailure::Db(e)) => Reply::Document(Err(self.failure(e))),
                    Err(DocumentFailure::Refused {
                        kind,
                        message,
                        field,
                    }) => Reply::Document(Err(Failure::Refused {
                        kind,
                        message,
                        field,
                    })),
                    Err(DocumentFailure::Other(detail)) => {
                        tracing::warn!(error = %detail, "A document could not be read.");
                        Reply::Document(Err(Failure::Other(detail)))
                    }
                }
            }
        }
    }

    /// Runs a read on the connection, turning errors into [`Failure`]s (and noticing a loss).
    async fn read<T>(
        &mut self,
        f: impl for<'c> FnOnce(&'c Client) -> BoxFuture<'c, Result<T, tokio_postgres::Error>>,
    ) -> Result<T, Failure> {
        let client = self.client().await?;
        match f(client).await {
            Ok(v) => Ok(v),
            Err(e) => Err(self.failure(e)),
        }
    }

    /// Like [`Worker::read`], for writes that use a transaction.
    async fn write<T>(
        &mut self,
        f: impl for<'c> FnOnce(&'c mut Client) -> BoxFuture<'c, Result<T, tokio_postgres::Error>>,
    ) -> Result<T, Failure> {
        self.client().await?;
        let Some(client) = self.client.as_mut() else {
            return Err(Failure::Lost);
        };
        match f(client).await {
            Ok(v) => Ok(v),
            Err(e) => Err(self.failure(e)),
        }
    }

    fn failure(&mut self, e: tokio_postgres::Error) -> Failure {
        let io = std::error::Error::source(&e).is_some_and(|s| s.is::<std::io::Error>());
        if e.is_closed() || (e.as_db_error().is_none() && io) {
            if self.client.is_some() {
                self.connection_lost();
            }
            return Failure::Lost;
        }
        if let Some(db) = e.as_db_error()
            && matches!(
                db.code().code(),
                "57P01" | "57P02" | "57P03" | "08006" | "08003"
            )
        {
            if self.client.is_some() {
                self.connection_lost();
            }
            return Failure::Lost;
        }
        match db::DbError::query("", e) {
            db::DbError::Refused {
                kind,
                message,
                field,
            } => Failure::Refused {
                kind,
                message,
                field,
            },
            other => {
                tracing::warn!(error = %other, "Database request failed.");
                Failure::Other(other.to_string())
            }
        }
    }
}

type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Connects and asks `juris.whoami()`; the connection is watched so that its end is reported
/// on `lost` with its generation.
async fn connect(
    server: &ServerSettings,
    login: &str,
    password: &Secret,
    generation: u64,
    lost: &mpsc::UnboundedSender<u64>,
) -> Result<(Client, Session), ConnectError> {
    let mut config = pg_config(server, login, password);
    let client = match server.tls {
        TlsMode::Disable => {
            config.ssl_mode(tokio_postgres::config::SslMode::Disable);
            let (client, connection) = config.connect(NoTls).await.map_err(connect_error)?;
            watch(connection, generation, lost.clone());
            client
        }
        TlsMode::Require | TlsMode::VerifyFull => {
            config.ssl_mode(tokio_postgres::config::SslMode::Require);
            let tls = tls_connector(server)?;
            let (client, connection) = config.connect(tls).await.map_err(connect_error)?;
            watch(connection, generation, lost.clone());
            client
        }
    };
    let whoami: Value = client
        .query_one("select juris.whoami()", &[])
        .await
        .map_err(whoami_error)?
        .try_get(0)
        .map_err(whoami_error)?;
    Ok((client, Session::from_whoami(&whoami)))
}

/// How the app connects to the court's server (both of its connections).
pub(crate) fn pg_config(server: &ServerSettings, login: &str, password: &Secret) -> Config {
    let mut config = Config::new();
    config
        .host(server.host.trim())
        .port(server.port)
        .dbname(server.database.trim())
        .user(login.trim())
        .password(password.expose())
        .application_name("xmjuris-gui")
        .connect_timeout(Duration::from_secs(5))
        .keepalives(true)
        .keepalives_idle(Duration::from_secs(20))
        .keepalives_interval(Duration::from_secs(5))
        .keepalives_retries(3);
    config
}

fn watch<S, T>(
    connection: tokio_postgres::Connection<S, T>,
    generation: u64,
    lost: mpsc::UnboundedSender<u64>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "Connection ended.");
        }
        let _ = lost.send(generation);
    });
}

pub(crate) fn tls_connector(
    server: &ServerSettings,
) -> Result<postgres_openssl::MakeTlsConnector, ConnectError> {
    use openssl::ssl::{SslConnector, SslMethod, SslVerifyMode};
    let tls_error = |e: openssl::error::ErrorStack| ConnectError {
        kind: ConnectErrorKind::Tls,
        detail: e.to_string(),
    };
    let mut builder = SslConnector::builder(SslMethod::tls_client()).map_err(tls_error)?;
    let verify = server.tls == TlsMode::VerifyFull;
    if verify {
        match &server.ca_file {
            Some(ca) => builder.set_ca_file(ca).map_err(|e| ConnectError {
                kind: ConnectErrorKind::Tls,
                detail: format!("{}: {e}", ca.display()),
            })?,
            None => builder.set_default_verify_paths().map_err(tls_error)?,
        }
        builder.set_verify(SslVerifyMode::PEER);
    } else {
        builder.set_verify(SslVerifyMode::NONE);
    }
    let mut connector = postgres_openssl::MakeTlsConnector::new(builder.build());
    if !verify {
        connector.set_callback(|config, _| {
            config.set_verify_hostname(false);
            Ok(())
        });
    }
    Ok(connector)
}

/// Classifies a failed connection. PostgreSQL answers a wrong password and an unknown login
/// alike (28P01); a role without LOGIN — a suspended user — is refused after authentication
/// with 28000 ("role … is not permitted to log in").
fn connect_error(e: tokio_postgres::Error) -> ConnectError {
    let detail = error_text(&e);
    let kind = match e
        .as_db_error()
        .map(|d| d.code().code().to_owned())
        .as_deref()
    {
        Some("28P01") => ConnectErrorKind::WrongPassword,
        Some("28000") if detail.contains("pg_hba") => ConnectErrorKind::NoAccess,
        Some("28000") => ConnectErrorKind::Suspended,
        Some("3D000") => ConnectErrorKind::NoDatabase,
        Some("42501") => ConnectErrorKind::NoAccess,
        Some("57P03") | Some("53300") => ConnectErrorKind::Unreachable,
        Some(_) => ConnectErrorKind::Other,
        None => {
            let lower = detail.to_lowercase();
            if lower.contains("tls") || lower.contains("ssl") || lower.contains("certificate") {
                ConnectErrorKind::Tls
            } else {
                ConnectErrorKind::Unreachable
            }
        }
    };
    ConnectError { kind, detail }
}

/// `juris.whoami()` refuses a login that is not staff of this court, or whose account is
/// suspended in the court's register (XJ002, with the reason in French).
fn whoami_error(e: tokio_postgres::Error) -> ConnectError {
    let detail = error_text(&e);
    let kind = match e
        .as_db_error()
        .map(|d| d.code().code().to_owned())
        .as_deref()
    {
        Some("XJ002") if detail.contains("suspendu") => ConnectErrorKind::Suspended,
        Some("XJ002") => ConnectErrorKind::NotStaff,
        Some("42501") | Some("42883") | Some("3F000") | Some("XJ007") => ConnectErrorKind::NotCourt,
        Some(_) => ConnectErrorKind::Other,
        None => ConnectErrorKind::Unreachable,
    };
    ConnectError { kind, detail }
}

fn error_text(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => db.message().to_owned(),
        None => {
            let mut s = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(inner) = source {
                s.push_str(": ");
                s.push_str(&inner.to_string());
                source = inner.source();
            }
            s
        }
    }
}

async fn offence_categories(c: &Client) -> Result<Vec<(String, String)>, tokio_postgres::Error> {
    c.query("select code, label from juris.offence_categories()", &[])
        .await?
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect()
}

async fn actions(c: &Client, id: Option<i64>) -> Result<Vec<ActionRow>, tokio_postgres::Error> {
    c.query(
        "select action, allowed, reason from juris.fiche_actions($1)",
        &[&id],
    )
    .await?
    .iter()
    .map(|r| {
        let name: String = r.try_get(0)?;
        // An action this version does not know is left out; a null `allowed` is a "no".
        Ok(Action::from_name(&name).map(|action| ActionRow {
            action,
            allowed: r
                .try_get::<_, Option<bool>>(1)
                .ok()
                .flatten()
                .unwrap_or(false),
            reason: r.try_get(2).ok().flatten(),
        }))
    })
    .filter_map(Result::transpose)
    .collect()
}

async fn load(c: &Client, id: i64) -> Result<LoadedFiche, tokio_postgres::Error> {
    let row = c
        .query_one(
            "select juris.get_fiche($1), juris.fiche_document($1) -> 'staff'",
            &[&id],
        )
        .await?;
    let doc: Value = row.try_get(0)?;
    let staff: Option<Value> = row.try_get(1)?;
    let mut meta = FicheMeta::from_json(&doc, &staff.unwrap_or(Value::Null));
    meta.person_fiches = admin::person_fiches(c, id).await?;
    Ok(LoadedFiche {
        form: FicheForm::from_json(&doc),
        meta,
        actions: actions(c, Some(id)).await?,
        events: admin::events(c, id).await?,
    })
}

async fn transition(
    c: &mut Client,
    id: i64,
    action: Action,
    argument: Option<String>,
    save_first: Option<Value>,
) -> Result<(Done, Option<LoadedFiche>), tokio_postgres::Error> {
    let tx = c.transaction().await?;
    if let Some(fiche) = save_first {
        tx.execute("select juris.save_fiche($1::jsonb)", &[&fiche])
            .await?;
    }
    let done = match action {
        Action::Submit => {
            tx.execute("select juris.submit_fiche($1)", &[&id]).await?;
            Done::Submitted
        }
        Action::Verify => {
            tx.execute("select juris.verify_fiche($1)", &[&id]).await?;
            Done::Verified
        }
        Action::Return => {
            tx.execute("select juris.return_fiche($1, $2)", &[&id, &argument])
                .await?;
            Done::Returned
        }
        Action::Sign => {
            let niu: String = tx
                .query_one("select juris.sign_fiche($1)", &[&id])
                .await?
                .try_get(0)?;
            Done::Signed { niu }
        }
        Action::Withdraw => {
            tx.execute("select juris.withdraw_fiche($1, $2)", &[&id, &argument])
                .await?;
            Done::Withdrawn
        }
        Action::Erase => {
            tx.execute("select juris.erase_fiche($1)", &[&id]).await?;
            Done::Erased
        }
        Action::VerifyRectification => {
            tx.execute("select juris.verify_rectification($1)", &[&id])
                .await?;
            Done::RectificationVerified
        }
        Action::ReturnRectification => {
            tx.execute(
                "select juris.return_rectification($1, $2)",
                &[&id, &argument],
            )
            .await?;
            Done::RectificationReturned
        }
        Action::ApplyRectification => {
            let version: i32 = tx
                .query_one("select juris.apply_rectification($1)", &[&id])
                .await?
                .try_get(0)?;
            Done::RectificationApplied { version }
        }
        Action::Save | Action::Print | Action::Rectify | Action::RecordEvent => Done::Saved,
    };
    tx.commit().await?;
    let fiche = if done == Done::Erased {
        None
    } else {
        Some(load(c, id).await?)
    };
    Ok((done, fiche))
}

/// A page of a search's results, sorted and paged by the database.
pub async fn search(c: &Client, q: SearchCriteria) -> Result<SearchPage, tokio_postgres::Error> {
    let opt = |s: &str| {
        let t = s.trim();
        (!t.is_empty()).then(|| t.to_owned())
    };
    let rows = c
        .query(
            "select fiche_id, number, status, status_label, niu, reference, surname, given_names,
                    birth_date, birth_place, conviction_date, score, total, total_exact
               from juris.search_fiches_page(by_name => $1, by_niu => $2, by_reference => $3,
                                             by_birth_date => $4, by_status => $5,
                                             convicted_from => $6, convicted_to => $7,
                                             sort_by => $8, descending => $9,
                                             page_size => $10, page_offset => $11)",
            &[
                &opt(&q.name),
                &opt(&q.niu),
                &opt(&q.reference),
                &q.birth_date,
                &q.status,
                &q.convicted_from,
                &q.convicted_to,
                &q.sort.sql(),
                &q.descending,
                &q.page_size.max(1),
                &q.offset.max(0),
            ],
        )
        .await?;
    let mut page = SearchPage {
        total_exact: true,
        ..SearchPage::default()
    };
    for r in &rows {
        page.total = r.try_get(12)?;
        page.total_exact = r.try_get(13)?;
        page.rows.push(SearchRow {
            fiche_id: r.try_get(0)?,
            number: r.try_get(1)?,
            status: r.try_get(2)?,
            status_label: r.try_get(3)?,
            niu: r.try_get(4)?,
            reference: r.try_get(5)?,
            surname: r.try_get(6)?,
            given_names: r.try_get(7)?,
            birth_date: r.try_get(8)?,
            birth_place: r.try_get(9)?,
            conviction_date: r.try_get(10)?,
            score: r.try_get(11)?,
        });
    }
    Ok(page)
}

async fn history(c: &Client, id: i64) -> Result<Vec<HistoryRow>, tokio_postgres::Error> {
    let rows = c
        .query(
            "select seq, at, actor, actor_name, action, status, status_label, version, detail
               from juris.fiche_history($1)",
            &[&id],
        )
        .await?;
    rows.iter()
        .map(|r| {
            Ok(HistoryRow {
                seq: r.try_get(0)?,
                at: r.try_get(1)?,
                actor: r.try_get(2)?,
                actor_name: r.try_get(3)?,
                action: r.try_get(4)?,
                status: r.try_get(5)?,
                status_label: r.try_get(6)?,
                version: r.try_get(7)?,
                detail: r.try_get(8)?,
            })
        })
        .collect()
}

async fn audit(c: &Client) -> Result<AuditCheck, tokio_postgres::Error> {
    let r = c
        .query_one(
            "select ok, rows_checked, first_broken_seq, problem from juris.audit_verify()",
            &[],
        )
        .await?;
    Ok(AuditCheck {
        ok: r.try_get(0)?,
        rows_checked: r.try_get(1)?,
        first_broken_seq: r.try_get(2)?,
        problem: r.try_get(3)?,
    })
}
