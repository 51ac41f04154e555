//! XMJuris desktop application of a court: staff enter, verify, sign and search fiches through the juris.* SQL API (egui, French and English).
//!
//! The library holds the whole application ([`XmApp`]); the `xmjuris-gui` binary is a thin
//! `main` around it, so the tests drive the very app users run (egui_kittest, through the
//! widgets' accessible labels).
//!
//! **Invariants.**
//! - The app calls only the `juris.*` SQL API and re-implements none of its rules: what a user
//!   may do on a fiche is `juris.fiche_actions`, what is wrong with a field is the database's
//!   refusal (SQLSTATE class `XJ`, the column naming the field), shown at that field.
//! - The database is never used on the UI thread ([`backend`]): requests and answers travel
//!   over channels, an answer wakes the UI, a stale answer (an older search) is dropped, and
//!   nothing repaints while idle.
//! - Nothing typed is lost: an unsaved fiche is kept in a local draft ([`draft`]) and offered
//!   back after a crash or a lost connection.
//! - Every string the user reads is in the catalogues ([`i18n`]), French and English, with the
//!   same keys; every input has a visible label tied to it.
//!
//! Map: [`app`] (state, shell, routing), [`screens`] (one module per screen, the [`Screen`]
//! enum), [`backend`] (the database thread), [`live`] (its listening connection),
//! [`queries`] (what Transmission, Extraits and Impression read), [`printing`] (the printing
//! thread), [`fiche`] (the form and its JSON), [`dates`]
//! (JJ/MM/AAAA input), [`draft`], [`config`] (the workstation file), [`theme`], [`widgets`],
//! [`notify`], [`i18n`].

pub mod admin;
pub mod app;
pub mod backend;
pub mod config;
pub mod dates;
pub mod draft;
pub mod fiche;
pub mod i18n;
pub mod live;
pub mod notify;
pub mod printing;
pub mod queries;
pub mod screens;
pub mod theme;
pub mod widgets;

pub use app::{AppOptions, XmApp};
pub use screens::Screen;

/// The window of the application: 1366×768 to start (the smallest screen of a court's
/// workstations), the glow (OpenGL) renderer.
pub fn native_options() -> eframe::NativeOptions {
    eframe::NativeOptions {
        renderer: eframe::Renderer::Glow,
        viewport: egui::ViewportBuilder::default()
            .with_title("XMJuris")
            .with_app_id("xmjuris-gui")
            .with_inner_size([1366.0, 768.0])
            .with_min_inner_size([1024.0, 640.0]),
        ..Default::default()
    }
}
