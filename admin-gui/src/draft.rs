//! Nothing typed is lost: the fiche being typed is kept in a local file, one per user and
//! server, written shortly after each change (debounced), removed once the database holds the
//! same content, and offered back at the next login after a crash or a lost connection.
//!
//! The file holds personal data: it is readable by its owner only, lives in the user's own
//! local data folder, and is written atomically (never half a file).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::config::{ServerSettings, write_atomically};
use crate::fiche::FicheForm;

/// How long after the last keystroke the draft is written.
pub const DEBOUNCE: Duration = Duration::from_millis(400);

/// What is kept of an unsaved fiche.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Draft {
    /// The fiche it belongs to, when it was already saved once.
    pub fiche_id: Option<i64>,
    /// Its number, to tell the user which fiche it was.
    pub fiche_number: Option<i64>,
    pub form: FicheForm,
    /// When it was written (RFC 3339, local time of the workstation).
    pub written_at: String,
}

/// The draft file of one user on one server.
#[derive(Debug, Clone)]
pub struct DraftStore {
    path: PathBuf,
    /// When the form last changed, if it was not written since.
    dirty_since: Option<Instant>,
}

impl DraftStore {
    pub fn new(dir: &Path, server: &ServerSettings, login: &str) -> DraftStore {
        let name: String = format!(
            "{}_{}_{}_{}",
            server.host, server.port, server.database, login
        )
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
        DraftStore {
            path: dir.join(format!("{name}.json")),
            dirty_since: None,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The draft left by an earlier session, if any.
    pub fn load(&self) -> Option<Draft> {
        let text = std::fs::read_to_string(&self.path).ok()?;
        match serde_json::from_str(&text) {
            Ok(d) => Some(d),
            Err(e) => {
                tracing::warn!(path = %self.path.display(), error = %e, "Draft file unreadable; kept aside.");
                let _ = std::fs::rename(&self.path, self.path.with_extension("unreadable"));
                None
            }
        }
    }

    /// Notes a change of the form; [`DraftStore::due`] tells when to write.
    pub fn touch(&mut self) {
        self.dirty_since = Some(Instant::now());
    }

    /// True when a change waits to be written.
    pub fn pending(&self) -> bool {
        self.dirty_since.is_some()
    }

    /// How long until the pending change is due, or `None` if nothing is pending.
    pub fn due_in(&self) -> Option<Duration> {
        self.dirty_since
            .map(|t| DEBOUNCE.saturating_sub(t.elapsed()))
    }

    /// Writes the draft now.
    pub fn write(&mut self, fiche_id: Option<i64>, fiche_number: Option<i64>, form: &FicheForm) {
        self.dirty_since = None;
        let draft = Draft {
            fiche_id,
            fiche_number,
            form: form.clone(),
            written_at: now_text(),
        };
        let result = serde_json::to_vec_pretty(&draft)
            .map_err(std::io::Error::other)
            .and_then(|bytes| write_atomically(&self.path, &bytes));
        if let Err(e) = result {
            tracing::error!(path = %self.path.display(), error = %e, "Cannot write the local draft.");
        }
    }

    /// Removes the draft (the database holds its content, or the user discarded it).
    pub fn clear(&mut self) {
        self.dirty_since = None;
        match std::fs::remove_file(&self.path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(path = %self.path.display(), error = %e, "Cannot remove the local draft.")
            }
        }
    }
}

fn now_text() -> String {
    let now = time::OffsetDateTime::now_local().unwrap_or_else(|_| time::OffsetDateTime::now_utc());
    now.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// `JJ/MM/AAAA HH:MM` of a draft's time.
pub fn written_at_text(rfc3339: &str) -> String {
    match time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339) {
        Ok(t) => format!(
            "{:02}/{:02}/{:04} {:02}:{:02}",
            t.day(),
            u8::from(t.month()),
            t.year(),
            t.hour(),
            t.minute()
        ),
        Err(_) => rfc3339.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_draft_survives_and_is_cleared() {
        let dir = tempfile::tempdir().expect("tempdir");
        let server = ServerSettings::default();
        let mut store = DraftStore::new(dir.path(), &server, "mbarga");
        assert!(store.load().is_none());
        let form = FicheForm {
            surname: "Kobila".into(),
            given_names: "Mangué « Jo » œuvre".into(),
            ..Default::default()
        };
        store.touch();
        assert!(store.pending());
        store.write(None, None, &form);
        assert!(!store.pending());
        let again = DraftStore::new(dir.path(), &server, "mbarga");
        assert_eq!(again.load().expect("draft").form, form);
        // Another user on the same workstation does not see it.
        assert!(
            DraftStore::new(dir.path(), &server, "essomba")
                .load()
                .is_none()
        );
        store.clear();
        assert!(again.load().is_none());
    }

    #[cfg(unix)]
    #[test]
    fn the_draft_is_private_to_its_owner() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = DraftStore::new(dir.path(), &ServerSettings::default(), "mbarga");
        store.write(None, None, &FicheForm::default());
        let mode = std::fs::metadata(store.path())
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "mode {mode:o}");
    }
}
