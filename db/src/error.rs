//! Typed database errors: the project's SQLSTATE class `XJ` mapped to kinds, with the French
//! message that the database wrote for the user.

use std::fmt;

/// What kind of refusal the database gave (SQLSTATE `XJ001`..`XJ007`), or another failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// XJ001: the data is invalid (a date in the future, a missing field, a mistyped NIU...).
    InvalidData,
    /// XJ002: the caller may not do this (privilege, suspended account, own fiche...).
    NotAllowed,
    /// XJ003: the fiche is not in a state that allows this transition.
    WrongState,
    /// XJ004: no such fiche or user.
    NotFound,
    /// XJ005: a limit is reached (number of agents, one greffier...).
    LimitReached,
    /// XJ006: the record is immutable (signed fiche, audit trail).
    Immutable,
    /// XJ007: the court is not initialised.
    NotInitialised,
    /// PostgreSQL refused the permission itself (42501): the role lacks the grant.
    PermissionDenied,
    /// Any other database error.
    Other,
}

impl ErrorKind {
    /// The kind of a SQLSTATE code.
    pub fn from_sqlstate(code: &str) -> ErrorKind {
        match code {
            "XJ001" => ErrorKind::InvalidData,
            "XJ002" => ErrorKind::NotAllowed,
            "XJ003" => ErrorKind::WrongState,
            "XJ004" => ErrorKind::NotFound,
            "XJ005" => ErrorKind::LimitReached,
            "XJ006" => ErrorKind::Immutable,
            "XJ007" => ErrorKind::NotInitialised,
            "42501" => ErrorKind::PermissionDenied,
            _ => ErrorKind::Other,
        }
    }
}

/// An error from the database layer, with the context of what was being done.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The server could not be reached, or refused the login.
    #[error("cannot connect to the database ({target}): {message}")]
    Connect { target: String, message: String },
    /// A rule of XMJuris refused the action; `message` is the database's French text for the user.
    #[error("{message}")]
    Refused {
        kind: ErrorKind,
        message: String,
        /// The field at fault, when the rule names one (e.g. `birth_date`).
        field: Option<String>,
    },
    /// Another query failure.
    #[error("{what}: {message}")]
    Query { what: String, message: String },
    /// A migration failed.
    #[error("migration failed: {0}")]
    Migration(String),
    /// A function file failed to apply.
    #[error("function file {file} failed: {message}")]
    Function { file: String, message: String },
}

impl DbError {
    pub(crate) fn connect(url: &str, e: tokio_postgres::Error) -> DbError {
        DbError::Connect {
            target: redact(url),
            message: describe(&e),
        }
    }

    /// Wraps a query error: XMJuris refusals keep their French message, the rest get context.
    pub fn query(what: &str, e: tokio_postgres::Error) -> DbError {
        if let Some(db) = e.as_db_error() {
            let kind = ErrorKind::from_sqlstate(db.code().code());
            if kind != ErrorKind::Other {
                return DbError::Refused {
                    kind,
                    message: db.message().to_owned(),
                    field: db.column().map(str::to_owned),
                };
            }
        }
        DbError::Query {
            what: what.to_owned(),
            message: describe(&e),
        }
    }

    /// The kind of refusal, if the database refused by one of XMJuris's rules.
    pub fn kind(&self) -> ErrorKind {
        match self {
            DbError::Refused { kind, .. } => *kind,
            _ => ErrorKind::Other,
        }
    }
}

/// The full text of a PostgreSQL error: message, detail, hint, position.
pub(crate) fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let mut s = format!("{} ({})", db.message(), db.code().code());
            if let Some(d) = db.detail() {
                s.push_str(&format!("; detail: {d}"));
            }
            if let Some(h) = db.hint() {
                s.push_str(&format!("; hint: {h}"));
            }
            if let Some(w) = db.where_() {
                s.push_str(&format!("; where: {w}"));
            }
            s
        }
        None => {
            let mut s = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(inner) = source {
                s.push_str(&format!(": {inner}"));
                source = inner.source();
            }
            s
        }
    }
}

/// A connection string without its password, for messages.
fn redact(url: &str) -> String {
    struct Redacted<'a>(&'a str);
    impl fmt::Display for Redacted<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            let mut first = true;
            for part in self.0.split_whitespace() {
                if !first {
                    f.write_str(" ")?;
                }
                first = false;
                if part.starts_with("password=") {
                    f.write_str("password=***")?;
                } else {
                    f.write_str(part)?;
                }
            }
            Ok(())
        }
    }
    if url.contains("://") {
        // postgresql://user:password@host/db
        match (url.find("://"), url.rfind('@')) {
            (Some(s), Some(at)) if at > s => {
                let creds = &url[s + 3..at];
                let user = creds.split(':').next().unwrap_or("");
                format!("{}{}:***{}", &url[..s + 3], user, &url[at..])
            }
            _ => url.to_owned(),
        }
    } else {
        Redacted(url).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact("host=x user=a password='s3cret' dbname=d"),
            "host=x user=a password=*** dbname=d"
        );
        assert_eq!(
            redact("postgresql://alice:s3cret@localhost/court"),
            "postgresql://alice:***@localhost/court"
        );
    }

    #[test]
    fn maps_project_sqlstates() {
        assert_eq!(ErrorKind::from_sqlstate("XJ003"), ErrorKind::WrongState);
        assert_eq!(ErrorKind::from_sqlstate("23505"), ErrorKind::Other);
    }
}
