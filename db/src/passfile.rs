//! The password of a connection string that carries none, found where libpq (`psql`) finds it:
//! `PGPASSWORD`, then the password file named by `PGPASSFILE` (by default `~/.pgpass`), so that
//! an operator never has to put a password on a command line, where `ps` shows it.
//!
//! The password file has libpq's format: `host:port:database:user:password` lines, `*` matching
//! anything, `\` escaping `:` and `\`, `#` starting a comment. Like libpq, a file that its group
//! or others may read is ignored; a Unix socket folder is matched by its path (`localhost` for
//! the default folder).

use std::path::{Path, PathBuf};

use tokio_postgres::config::Host;

/// Where libpq keeps Unix sockets by default: matched as `localhost`.
const DEFAULT_SOCKET_DIRS: [&str; 2] = ["/var/run/postgresql", "/run/postgresql"];

/// The password for `config` from the environment or the password file, if any.
pub(crate) fn password_for(config: &tokio_postgres::Config) -> Option<String> {
    if let Some(pw) = std::env::var_os("PGPASSWORD") {
        return pw.into_string().ok();
    }
    let file = match std::env::var_os("PGPASSFILE") {
        Some(f) => PathBuf::from(f),
        None => PathBuf::from(std::env::var_os("HOME")?).join(".pgpass"),
    };
    let text = read_private(&file)?;
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(h)) => h.clone(),
        Some(Host::Unix(dir)) => {
            let dir = dir.to_string_lossy().into_owned();
            if DEFAULT_SOCKET_DIRS.contains(&dir.as_str()) {
                "localhost".to_owned()
            } else {
                dir
            }
        }
        None => "localhost".to_owned(),
    };
    let port = config
        .get_ports()
        .first()
        .copied()
        .unwrap_or(5432)
        .to_string();
    let user = config.get_user()?;
    let dbname = config.get_dbname().unwrap_or(user);
    lookup(&text, [host.as_str(), port.as_str(), dbname, user])
}

/// The file's text, unless it is missing or readable by others than its owner.
fn read_private(file: &Path) -> Option<String> {
    use std::os::unix::fs::PermissionsExt as _;
    let meta = std::fs::metadata(file).ok()?;
    if !meta.is_file() {
        return None;
    }
    if meta.permissions().mode() & 0o077 != 0 {
        tracing::warn!(file = %file.display(), "Password file ignored: its group or others may read it (chmod 0600).");
        return None;
    }
    std::fs::read_to_string(file).ok()
}

/// The password of the first line whose four first fields match `wanted`.
fn lookup(text: &str, wanted: [&str; 4]) -> Option<String> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .find_map(|line| {
            let fields = split(line);
            let [host, port, db, user, password] = fields.as_slice() else {
                return None;
            };
            let matches = [host, port, db, user]
                .iter()
                .zip(wanted)
                .all(|(field, want)| field.as_str() == "*" || field.as_str() == want);
            matches.then(|| password.clone())
        })
}

/// The fields of a line: split on unescaped `:`, the fifth (the password) running to the end.
fn split(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.trim_end_matches('\r').chars();
    while let Some(c) = chars.next() {
        let last = fields.len() - 1;
        match c {
            '\\' => {
                if let Some(next) = chars.next() {
                    fields[last].push(next);
                }
            }
            ':' if fields.len() < 5 => fields.push(String::new()),
            c => fields[last].push(c),
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_like_libpq() {
        let text = "# comment\n\
                    127.0.0.1:5432:court:kamdem:first\n\
                    *:*:*:postgres:s3cr\\:et\\\\x\n\
                    /tmp/sock:6000:*:alice:socket-pw\n";
        assert_eq!(
            lookup(text, ["127.0.0.1", "5432", "court", "kamdem"]).as_deref(),
            Some("first")
        );
        assert_eq!(lookup(text, ["127.0.0.1", "5433", "court", "kamdem"]), None);
        assert_eq!(
            lookup(text, ["/anywhere", "1", "cjn", "postgres"]).as_deref(),
            Some("s3cr:et\\x")
        );
        assert_eq!(
            lookup(text, ["/tmp/sock", "6000", "x", "alice"]).as_deref(),
            Some("socket-pw")
        );
        assert_eq!(lookup(text, ["/tmp/sock", "6000", "x", "bob"]), None);
        assert_eq!(lookup("a:b:c\n", ["a", "b", "c", "d"]), None);
    }

    #[test]
    fn ignores_a_file_others_may_read() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("pgpass");
        std::fs::write(&file, "*:*:*:*:pw\n").expect("write");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        assert_eq!(read_private(&file), None);
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        assert_eq!(read_private(&file).as_deref(), Some("*:*:*:*:pw\n"));
    }
}
