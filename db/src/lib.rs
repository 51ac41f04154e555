//! XMJuris database schemas: embedded court and CJN migrations, SQL functions re-applied on every migrate.
//!
//! Stateful objects (roles, tables, constraints, indexes) are immutable numbered refinery
//! migrations (`db/migrations/<schema>/V{n}__name.sql`). Functions, triggers and grants live in
//! an API schema (`juris` at a court) that [`migrate`] drops and rebuilds from one explicit,
//! ordered list of files, in one transaction, under an advisory lock — and only when the files
//! changed, so that a second `migrate` is a no-op.

pub mod backup;
mod error;
mod passfile;

pub use error::{DbError, ErrorKind};

use std::fmt;

use tokio_postgres::{Client, NoTls};

mod court_migrations {
    refinery::embed_migrations!("migrations/court");
}

mod cjn_migrations {
    refinery::embed_migrations!("migrations/cjn");
}

/// A function file of `db/functions/`, by its path there, with its text.
macro_rules! function_file {
    ($path:literal) => {
        ($path, include_str!(concat!("../functions/", $path)))
    };
}

/// The court API's function files, in the order they are applied.
const COURT_FUNCTIONS: &[(&str, &str)] = &[
    function_file!("court/00_helpers.sql"),
    function_file!("court/10_fiche_rules.sql"),
    function_file!("court/20_users.sql"),
    function_file!("court/30_fiche.sql"),
    function_file!("court/35_sentence_events.sql"),
    function_file!("court/40_search_audit.sql"),
    function_file!("court/45_extract.sql"),
    function_file!("court/50_transmission.sql"),
    function_file!("court/55_reconcile.sql"),
    function_file!("court/57_recovery.sql"),
    function_file!("court/60_statistics.sql"),
    function_file!("court/60_app.sql"),
    function_file!("court/62_gui_admin.sql"),
    function_file!("court/90_grants.sql"),
];

/// The CJN API's function files, in the order they are applied.
const CJN_FUNCTIONS: &[(&str, &str)] = &[
    function_file!("cjn/10_ingest.sql"),
    function_file!("cjn/15_daemon.sql"),
    function_file!("cjn/20_views.sql"),
    function_file!("cjn/30_bulletins.sql"),
    function_file!("cjn/35_extract_seal.sql"),
    function_file!("cjn/40_reconcile.sql"),
    function_file!("cjn/45_recovery.sql"),
    function_file!("cjn/50_broker.sql"),
    function_file!("cjn/50_statistics.sql"),
    function_file!("cjn/90_grants.sql"),
];

/// Which database a migration is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schema {
    /// A court's database (schemas `court` and `juris`).
    Court,
    /// The CJN's database (schemas `registry` and `cjn`).
    Cjn,
}

impl Schema {
    fn data_schema(self) -> &'static str {
        match self {
            Schema::Court => "court",
            Schema::Cjn => "registry",
        }
    }
    fn api_schema(self) -> &'static str {
        match self {
            Schema::Court => "juris",
            Schema::Cjn => "cjn",
        }
    }
    /// Further schemas rebuilt with the API schema from its function files: the CJN's
    /// statisticians' `stat` (views and functions over the registry, no table of its own).
    fn rebuilt_schemas(self) -> &'static [&'static str] {
        match self {
            Schema::Court => &[],
            Schema::Cjn => &["stat"],
        }
    }
    fn owner(self) -> &'static str {
        match self {
            Schema::Court => "juris_owner",
            Schema::Cjn => "cjn_owner",
        }
    }
    fn functions(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Schema::Court => COURT_FUNCTIONS,
            Schema::Cjn => CJN_FUNCTIONS,
        }
    }
}

/// What a migration did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationReport {
    /// Names of the migrations applied now (empty when the schema was up to date).
    pub applied: Vec<String>,
    /// True when the API functions were rebuilt (their files changed, or the schema is new).
    pub functions_rebuilt: bool,
}

impl MigrationReport {
    /// True when nothing changed.
    pub fn is_noop(&self) -> bool {
        self.applied.is_empty() && !self.functions_rebuilt
    }
}

impl fmt::Display for MigrationReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_noop() {
            return write!(f, "Schema up to date: nothing to do.");
        }
        if self.applied.is_empty() {
            write!(f, "No new migration")?;
        } else {
            write!(
                f,
                "Applied {} migration(s): {}",
                self.applied.len(),
                self.applied.join(", ")
            )?;
        }
        if self.functions_rebuilt {
            write!(f, "; API functions rebuilt.")
        } else {
            write!(f, "; API functions unchanged.")
        }
    }
}

/// The SCRAM-SHA-256 verifier of a password, computed by the client so that the clear password
/// never reaches the server (nor its logs): the court API (`juris.create_user`,
/// `juris.init_court`, `juris.create_listener_login`) accepts nothing else.
pub fn scram_verifier(password: &str) -> String {
    postgres_protocol::password::scram_sha_256(password.as_bytes())
}

/// The password libpq (`psql`) would use for `config`: `PGPASSWORD`, then the password file
/// `PGPASSFILE` or `~/.pgpass` (ignored when others may read it). `None` when there is none.
pub fn stored_password(config: &tokio_postgres::Config) -> Option<String> {
    passfile::password_for(config)
}

/// Connects to PostgreSQL (no TLS: the court database is reached on the LAN or a local socket),
/// driving the connection on a background task. A connection string without a password takes it
/// where `psql` would: `PGPASSWORD`, then the password file `PGPASSFILE` or `~/.pgpass`.
pub async fn connect(url: &str) -> Result<Client, DbError> {
    let mut config: tokio_postgres::Config = url.parse().map_err(|e| DbError::connect(url, e))?;
    if config.get_password().is_none()
        && let Some(password) = passfile::password_for(&config)
    {
        config.password(password);
    }
    let (client, connection) = config
        .connect(NoTls)
        .await
        .map_err(|e| DbError::connect(url, e))?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "PostgreSQL connection closed.");
        }
    });
    Ok(client)
}

/// Advisory lock key held while migrating, so that two `migrate` never interleave.
const MIGRATE_LOCK: i64 = 7_036_582_000;

/// Creates or upgrades a schema; a second run changes nothing. Must run as a superuser (it
/// creates roles and extensions).
pub async fn migrate(url: &str, schema: Schema) -> Result<MigrationReport, DbError> {
    let mut client = connect(url).await?;
    client
        .execute("select pg_advisory_lock($1)", &[&MIGRATE_LOCK])
        .await
        .map_err(|e| DbError::query("taking the migration lock", e))?;
    let result = migrate_locked(&mut client, schema).await;
    // The lock ends with the session anyway; release it explicitly when we can.
    let _ = client
        .execute("select pg_advisory_unlock($1)", &[&MIGRATE_LOCK])
        .await;
    result
}

/// The text of a migration error with its causes: refinery's own message says only which
/// migration failed; the database's message (the French refusal a migration raises, naming the
/// records to correct) is in the causes.
fn migration_error(e: refinery::Error) -> DbError {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(inner) = source {
        match inner.downcast_ref::<tokio_postgres::Error>() {
            Some(pg) => text.push_str(&format!(": {}", error::describe(pg))),
            None => text.push_str(&format!(": {inner}")),
        }
        source = inner.source();
    }
    DbError::Migration(text)
}

/// Applies the numbered migrations of `schema` up to `version` included, and not the API
/// functions: the state of a database created by an older release, for upgrade tests.
#[doc(hidden)]
pub async fn migrate_until(url: &str, schema: Schema, version: i32) -> Result<(), DbError> {
    let mut client = connect(url).await?;
    // SchemaVersion is i32, or i64 with refinery's `int8-versions` feature.
    #[allow(clippy::useless_conversion)]
    let target = refinery::Target::Version(version.into());
    match schema {
        Schema::Court => court_migrations::migrations::runner()
            .set_grouped(true)
            .set_target(target)
            .run_async(&mut client)
            .await
            .map_err(migration_error)?,
        Schema::Cjn => cjn_migrations::migrations::runner()
            .set_grouped(true)
            .set_target(target)
            .run_async(&mut client)
            .await
            .map_err(migration_error)?,
    };
    Ok(())
}

async fn migrate_locked(client: &mut Client, schema: Schema) -> Result<MigrationReport, DbError> {
    let report = match schema {
        Schema::Court => court_migrations::migrations::runner()
            .set_grouped(true)
            .run_async(client)
            .await
            .map_err(migration_error)?,
        Schema::Cjn => cjn_migrations::migrations::runner()
            .set_grouped(true)
            .run_async(client)
            .await
            .map_err(migration_error)?,
    };
    let applied: Vec<String> = report
        .applied_migrations()
        .iter()
        .map(|m| m.to_string())
        .collect();
    for name in &applied {
        tracing::info!(migration = %name, "Migration applied.");
    }
    let functions_rebuilt = apply_functions(client, schema).await?;
    Ok(MigrationReport {
        applied,
        functions_rebuilt,
    })
}

/// The digest of a schema's function files (their names and contents, in order).
async fn functions_digest(client: &Client, schema: Schema) -> Result<String, DbError> {
    let mut all = String::new();
    for (name, sql) in schema.functions() {
        all.push_str("\n-- file: ");
        all.push_str(name);
        all.push('\n');
        all.push_str(sql);
    }
    let row = client
        .query_one(
            "select encode(sha256(convert_to($1, 'UTF8')), 'hex')",
            &[&all],
        )
        .await
        .map_err(|e| DbError::query("computing the functions' digest", e))?;
    Ok(row.get(0))
}

/// Drops and rebuilds the API schema (and the schemas rebuilt with it) from its files, in one
/// transaction, if they changed.
async fn apply_functions(client: &mut Client, schema: Schema) -> Result<bool, DbError> {
    let digest = functions_digest(client, schema).await?;
    let data = schema.data_schema();
    let current: Option<String> = client
        .query_opt(&format!("select digest from {data}.functions_applied"), &[])
        .await
        .map_err(|e| DbError::query("reading the functions' state", e))?
        .map(|row| row.get(0));
    if current.as_deref() == Some(digest.as_str()) {
        return Ok(false);
    }
    let api = schema.api_schema();
    let owner = schema.owner();
    let tx = client
        .transaction()
        .await
        .map_err(|e| DbError::query("starting the functions' transaction", e))?;
    let mut rebuild = String::new();
    for name in std::iter::once(api).chain(schema.rebuilt_schemas().iter().copied()) {
        rebuild.push_str(&format!(
            "drop schema if exists {name} cascade;\n\
             create schema {name} authorization {owner};\n\
             revoke all on schema {name} from public;\n"
        ));
    }
    tx.batch_execute(&format!(
        "{rebuild}\
         set local role {owner};\n\
         set local check_function_bodies = on;"
    ))
    .await
    .map_err(|e| DbError::query("recreating the API schema", e))?;
    for (name, sql) in schema.functions() {
        tx.batch_execute(sql).await.map_err(|e| DbError::Function {
            file: (*name).to_owned(),
            message: error::describe(&e),
        })?;
    }
    tx.batch_execute("reset role")
        .await
        .map_err(|e| DbError::query("resetting the role", e))?;
    tx.execute(
        &format!(
            "insert into {data}.functions_applied (digest) values ($1)
             on conflict (functions_applied_id) do update set digest = excluded.digest, applied_at = now()"
        ),
        &[&digest],
    )
    .await
    .map_err(|e| DbError::query("recording the functions' state", e))?;
    tx.commit()
        .await
        .map_err(|e| DbError::query("committing the API functions", e))?;
    tracing::info!(schema = api, "API functions rebuilt.");
    Ok(true)
}

#[cfg(test)]
mod tests {
    /// Every file of `db/functions/<schema>/` is in the ordered list (a forgotten file would
    /// silently be missing from the database).
    #[test]
    fn every_function_file_is_applied() {
        check("court", super::COURT_FUNCTIONS);
        check("cjn", super::CJN_FUNCTIONS);
    }

    fn check(schema: &str, list: &[(&str, &str)]) {
        let dir = format!("{}/functions/{schema}", env!("CARGO_MANIFEST_DIR"));
        let mut on_disk: Vec<String> = std::fs::read_dir(dir)
            .expect("read functions/court")
            .filter_map(|e| e.ok())
            .map(|e| format!("{schema}/{}", e.file_name().to_string_lossy()))
            .filter(|n| n.ends_with(".sql"))
            .collect();
        on_disk.sort();
        let mut listed: Vec<String> = list.iter().map(|(n, _)| (*n).to_owned()).collect();
        listed.sort();
        assert_eq!(on_disk, listed);
    }
}
