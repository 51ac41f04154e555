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
        // The API takes SCRAM verifiers only (a clear password would reach the server's logs).
        let verifier = db::scram_verifier(PASSWORD);
        court.psql(&format!(
            "select juris.init_court('{COURT_CODE}', '{}', 'ADAMAOUA', 'FARO ET DEO', 'Biyouha', \
             '{GREFFIER}', 'Kamdem Jean', '{verifier}')",
            COURT_NAME.replace('\'', "''")
        ));
        court.psql_as(
            GREFFIER,
            &format!(
                "select juris.create_user('{SECRETAIRE}', 'Zambo Kenneth', '{verifier}', 2); \
                 select juris.create_user('{AGENT}', 'Mbarga Paul', '{verifier}', 1); \
                 select juris.create_user('{AGENT2}', 'Essomba Rose', '{verifier}', 1); \
                 select juris.create_user('{SUSPENDED}', 'Ngono Alice', '{verifier}', 1); \
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

    /// The CJN's receipt for an outbox message, as the listener stores it once verified (JSON
    /// text; the database checks that it names the message: number, NIU, version, digest).
    pub fn receipt_for(&self, message_id: &str) -> String {
        self.psql(&format!(
            "select jsonb_build_object('message_id', message_id, 'seq', seq, 'niu', niu, 'version', version, \
             'stored_at', '2026-05-04T10:15:00Z', 'signed_hash', repeat('ab', 32)) \
             from court.outbox where message_id = '{message_id}'"
        ))
        .trim()
        .to_owned()
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

    /// Turns TLS on in the server (a self-signed certificate for 127.0.0.1, which is also its
    /// own authority); returns the certificate's PEM file, for clients that verify it.
    pub fn enable_tls(&self) -> std::path::PathBuf {
        let (cert, key) = self_signed_localhost();
        let root = self.cluster.root();
        let cert_path = root.join("server.crt");
        let key_path = root.join("server.key");
        std::fs::write(&cert_path, &cert).expect("write the certificate");
        std::fs::write(&key_path, &key).expect("write the key");
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o600))
                .expect("chmod the key");
        }
        if sandbox::running_as_root() {
            let (uid, gid) = sandbox::system_user("postgres").expect("the postgres user");
            for p in [&cert_path, &key_path] {
                std::os::unix::fs::chown(p, Some(uid), Some(gid)).expect("chown");
            }
        }
        // ALTER SYSTEM refuses to run in a transaction: one statement per call.
        for sql in [
            format!("alter system set ssl_cert_file = '{}'", cert_path.display()),
            format!("alter system set ssl_key_file = '{}'", key_path.display()),
            "alter system set ssl = on".to_owned(),
            "select pg_reload_conf()".to_owned(),
        ] {
            self.psql(&sql);
        }
        let ca = root.join("client-ca.pem");
        std::fs::write(&ca, &cert).expect("write the client's copy");
        ca
    }

    /// Ends every session of a login (as an administrator would, or a cut network cable).
    pub fn terminate_sessions(&self, login: &str) {
        self.psql(&format!(
            "select pg_terminate_backend(pid) from pg_stat_activity where usename = '{login}'"
        ));
    }
}

/// A self-signed P-256 certificate for 127.0.0.1 and localhost (PEM certificate, PEM key).
pub fn self_signed_localhost() -> (Vec<u8>, Vec<u8>) {
    use openssl::asn1::Asn1Time;
    use openssl::bn::BigNum;
    use openssl::ec::{EcGroup, EcKey};
    use openssl::hash::MessageDigest;
    use openssl::nid::Nid;
    use openssl::pkey::PKey;
    use openssl::x509::extension::{BasicConstraints, SubjectAlternativeName};
    use openssl::x509::{X509Builder, X509NameBuilder};
    let build = || -> Result<(Vec<u8>, Vec<u8>), openssl::error::ErrorStack> {
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1)?;
        let key = PKey::from_ec_key(EcKey::generate(&group)?)?;
        let mut name = X509NameBuilder::new()?;
        name.append_entry_by_text("CN", "127.0.0.1")?;
        let name = name.build();
        let mut b = X509Builder::new()?;
        b.set_version(2)?;
        let serial = BigNum::from_u32(1)?.to_asn1_integer()?;
        b.set_serial_number(&serial)?;
        b.set_subject_name(&name)?;
        b.set_issuer_name(&name)?;
        b.set_pubkey(&key)?;
        let not_before = Asn1Time::days_from_now(0)?;
        b.set_not_before(&not_before)?;
        let not_after = Asn1Time::days_from_now(2)?;
        b.set_not_after(&not_after)?;
        let san = SubjectAlternativeName::new()
            .ip("127.0.0.1")
            .dns("localhost")
            .build(&b.x509v3_context(None, None))?;
        b.append_extension(san)?;
        b.append_extension(BasicConstraints::new().critical().ca().build()?)?;
        b.sign(&key, MessageDigest::sha256())?;
        Ok((b.build().to_pem()?, key.private_key_to_pem_pkcs8()?))
    };
    build().expect("a self-signed certificate")
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
