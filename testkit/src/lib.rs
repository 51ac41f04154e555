//! Test kit shared by the crates' tests: a throw-away court database, migrated and initialised, with its staff.
//!
//! [`Court::start`] gives a real PostgreSQL cluster (crate `sandbox`) holding one court database
//! migrated by `db::migrate`, initialised with `juris.init_court`, and staffed through the SQL
//! API itself (`juris.create_user`, run as the greffier), so the roles are exactly what a
//! court has in production. Staff log in over TCP with [`PASSWORD`]. Assertions on database
//! state go through [`Court::psql`] (superuser) or [`Court::psql_as`] (a staff member, by
//! `set session authorization`, so `session_user` is who the API checks).
//!
//! Everything here is blocking: the GUI's tests drive an app whose database work runs on its own
//! thread, and the other tests may call it before starting their own runtime.

/// The password of every staff member of a test court.
pub const PASSWORD: &str = "motdepasse-test";
/// The court's code.
pub const COURT_CODE: &str = "12345";
/// The court's name.
pub const COURT_NAME: &str = "Tribunal de première instance de Garoua-Boulaï";
/// The name of the court database in the cluster.
pub const DB: &str = "court";

/// The greffier (privilege 3).
pub const GREFFIER: &str = "kamdem";
/// A secrétaire (privilege 2).
pub const SECRETAIRE: &str = "zambo";
/// An agent (privilege 1).
pub const AGENT: &str = "mbarga";
/// Another agent (privilege 1).
pub const AGENT2: &str = "essomba";
/// A suspended user (privilege 0: no LOGIN right).
pub const SUSPENDED: &str = "ngono";

/// A running court database with its staff (see the crate docs).
pub struct Court {
    pub cluster: sandbox::PgCluster,
}

impl Court {
    /// Starts a cluster and sets up the court: greffier `kamdem` (Kamdem Jean), secrétaire
    /// `zambo` (Zambo Kenneth), agents `mbarga` (Mbarga Paul) and `essomba` (Essomba Rose), and
    /// `ngono` (Ngono Alice), an agent suspended by the greffier.
    ///
    /// # Panics
    /// When PostgreSQL cannot be started or the set-up fails: this is for tests.
    pub fn start() -> Court {
        let cluster = sandbox::PgCluster::start().expect("start PostgreSQL");
        cluster
            .create_database(DB)
            .expect("create the court database");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        runtime
            .block_on(db::migrate(&cluster.admin_url(DB), db::Schema::Court))
            .expect("migrate the court database");
        let court = Court { cluster };
        court.psql(&format!(
            "select juris.init_court('{COURT_CODE}', '{}', 'ADAMAOUA', 'FARO ET DEO', 'Biyouha', \
             '{GREFFIER}', 'Kamdem Jean', '{PASSWORD}')",
            COURT_NAME.replace('\'', "''")
        ));
        court.psql_as(
            GREFFIER,
            &format!(
                "select juris.create_user('{SECRETAIRE}', 'Zambo Kenneth', '{PASSWORD}', 2); \
                 select juris.create_user('{AGENT}', 'Mbarga Paul', '{PASSWORD}', 1); \
                 select juris.create_user('{AGENT2}', 'Essomba Rose', '{PASSWORD}', 1); \
                 select juris.create_user('{SUSPENDED}', 'Ngono Alice', '{PASSWORD}', 1); \
                 select juris.set_privilege('{SUSPENDED}', 0);"
            ),
        );
        court
    }

    /// The TCP port staff connect to (on 127.0.0.1).
    pub fn port(&self) -> u16 {
        self.cluster.port()
    }

    /// Runs SQL as the superuser, panicking on error; returns `psql`'s unaligned output.
    pub fn psql(&self, sql: &str) -> String {
        self.cluster
            .psql(DB, sql)
            .unwrap_or_else(|e| panic!("psql failed: {e}\n{sql}"))
    }

    /// Runs SQL as a staff member (`set session authorization`), panicking on error.
    pub fn psql_as(&self, login: &str, sql: &str) -> String {
        self.psql(&format!(
            "set session authorization {login}; {sql}; reset session authorization"
        ))
    }

    /// Like [`Court::psql_as`], but returns the database's error message instead of panicking.
    pub fn try_psql_as(&self, login: &str, sql: &str) -> Result<String, String> {
        self.cluster
            .psql(
                DB,
                &format!("set session authorization {login}; {sql}; reset session authorization"),
            )
            .map_err(|e| e.to_string())
    }

    /// Ends every session of a login (as an administrator would, or a cut network cable).
    pub fn terminate_sessions(&self, login: &str) {
        self.psql(&format!(
            "select pg_terminate_backend(pid) from pg_stat_activity where usename = '{login}'"
        ));
    }
}

/// A complete, valid fiche as `juris.save_fiche` takes it (JSON text).
pub fn sample_fiche_json(surname: &str, given_names: &str) -> String {
    format!(
        r#"{{"reference": "103/SD/Just/2018",
  "justiciable": {{"surname": "{surname}", "given_names": "{given_names}", "birth_date": "1987-04-17",
    "birth_place": "Ekouk", "sex": "M", "father": "Bikoula Mendomo", "mother": "Atouba Fabienne",
    "profession": "Agriculteur", "civil_status": "celibataire", "domicile": "Tsinga",
    "nationality": "Camerounaise"}},
  "condamnation": {{"conviction_date": "2018-06-18", "offence_date": "2017-09-15",
    "offence_nature": "Détournement de fonds publics", "offence_category": "ATT_BIENS_PUBLICS",
    "offence_class": "delit", "warrants": "Aucun", "sentence_type": "emprisonnement",
    "sentence_months": 24, "suspended_months": 12}}}}"#
    )
}
