//! One module per screen. Each screen keeps its own state (what the user typed, what it waits
//! for from the database) apart from the drawing, takes the database's answers in `on_reply`,
//! and draws itself in `show`, sending requests through the [`Env`] it is given.

pub mod chercher;
pub mod extraits;
pub mod impression;
pub mod login;
pub mod saisie;
pub mod statistiques;
pub mod transmission;
pub mod utilisateurs;

use crate::backend::{Backend, Session};
use crate::i18n::Tr;
use crate::notify::Toasts;
use crate::queries::DocumentSource;

/// The screens of the shell, in the order of the navigation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    Saisie,
    Chercher,
    Transmission,
    Extraits,
    Impression,
    Utilisateurs,
    Statistiques,
}

impl Screen {
    pub const ALL: [Screen; 7] = [
        Screen::Saisie,
        Screen::Chercher,
        Screen::Transmission,
        Screen::Extraits,
        Screen::Impression,
        Screen::Utilisateurs,
        Screen::Statistiques,
    ];

    /// The catalogue key of its name.
    pub fn key(self) -> &'static str {
        match self {
            Screen::Saisie => "nav.saisie",
            Screen::Chercher => "nav.chercher",
            Screen::Transmission => "nav.transmission",
            Screen::Extraits => "nav.extraits",
            Screen::Impression => "nav.impression",
            Screen::Utilisateurs => "nav.utilisateurs",
            Screen::Statistiques => "nav.statistiques",
        }
    }

    /// Whether the navigation offers it to a user of this privilege. This only trims the
    /// navigation: the database refuses what the user may not do whatever the screen.
    pub fn offered_to(self, privilege: i32) -> bool {
        match self {
            Screen::Utilisateurs => privilege >= 3,
            _ => true,
        }
    }
}

/// What a screen may use while drawing: the database, the translator, the notifications, the
/// session, and a way to ask for another screen.
pub struct Env<'a> {
    pub backend: &'a mut Backend,
    pub tr: &'a Tr,
    pub toasts: &'a mut Toasts,
    pub session: &'a Session,
    /// The offence categories of the court (code, label).
    pub categories: &'a [(String, String)],
    /// Set by a screen to move to another (e.g. Chercher opening a fiche in Saisie).
    pub goto: &'a mut Option<Goto>,
}

/// A request to move between screens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Goto {
    /// Open this fiche in Saisie.
    OpenFiche(i64),
    /// Open the preview of this document in Impression.
    Print(DocumentSource),
}
