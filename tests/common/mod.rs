//! Shared set-up of the end-to-end tests: a throw-away cluster holding a migrated, initialised
//! court with its staff, reached over TCP with real passwords.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub const PASSWORD: &str = "motdepasse-test";
pub const COURT_CODE: &str = "12345";

pub struct Court {
    pub cluster: sandbox::PgCluster,
    pub db: String,
}

impl Court {
    /// A cluster with one court database, migrated and initialised by the `xmjuris` CLI, with
    /// the greffier `kamdem`, the secrétaire `zambo` and the agents `mbarga`, `essomba`.
    pub fn new() -> Court {
        let cluster = sandbox::PgCluster::start().expect("start PostgreSQL");
        cluster.create_database("court").expect("create database");
        let court = Court {
            cluster,
            db: "court".into(),
        };
        court.xmjuris(&["migrate", "--court", &court.admin_conninfo()]);
        court.xmjuris(&[
            "court",
            "init",
            "--db",
            &court.admin_conninfo(),
            "--code",
            COURT_CODE,
            "--name",
            "Tribunal de première instance de Garoua-Boulaï",
            "--region",
            "ADAMAOUA",
            "--departement",
            "FARO ET DEO",
            "--arrondissement",
            "Biyouha",
            "--greffier",
            "kamdem",
            "--greffier-name",
            "Kamdem Jean",
        ]);
        for (login, name, privilege) in [
            ("zambo", "Zambo Kenneth", "2"),
            ("mbarga", "Mbarga Paul", "1"),
            ("essomba", "Essomba Rose", "1"),
        ] {
            court.xmjuris(&[
                "court",
                "add-user",
                "--db",
                &court.url("kamdem"),
                "--login",
                login,
                "--name",
                name,
                "--privilege",
                privilege,
            ]);
        }
        court
    }

    /// The superuser's connection string, with its password: for this process only.
    pub fn admin_url(&self) -> String {
        self.cluster.admin_url(&self.db)
    }

    /// The superuser's connection string without the password, for the `xmjuris` CLI's command
    /// line: [`Court::xmjuris`] gives it the password in its environment.
    pub fn admin_conninfo(&self) -> String {
        self.cluster.admin_conninfo(&self.db)
    }

    /// Connection string of a staff member, over TCP with the password.
    pub fn url(&self, login: &str) -> String {
        self.cluster.user_url(login, PASSWORD, &self.db)
    }

    /// Runs the `xmjuris` CLI (the superuser's password in its environment), asserting success;
    /// returns its standard output.
    pub fn xmjuris(&self, args: &[&str]) -> String {
        let out = self.xmjuris_cmd(args).output().expect("run xmjuris");
        assert!(
            out.status.success(),
            "xmjuris {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The `xmjuris` CLI with the superuser's password file in its environment (`PGPASSFILE`).
    pub fn xmjuris_cmd(&self, args: &[&str]) -> Command {
        let mut cmd = xmjuris_cmd(args);
        self.cluster.client_env(&mut cmd);
        cmd
    }

    pub async fn connect(&self, login: &str) -> tokio_postgres::Client {
        db::connect(&self.url(login)).await.expect("connect")
    }

    pub async fn admin(&self) -> tokio_postgres::Client {
        db::connect(&self.admin_url())
            .await
            .expect("connect as admin")
    }
}

pub fn xmjuris_cmd(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xmjuris"));
    cmd.args(args).env("XMJURIS_PASSWORD", PASSWORD);
    cmd
}

/// A complete, valid fiche as `juris.save_fiche` takes it.
pub fn sample_fiche(surname: &str, given_names: &str) -> serde_json::Value {
    serde_json::json!({
        "reference": "103/SD/Just/2018",
        "justiciable": {
            "surname": surname, "given_names": given_names, "birth_date": "1987-04-17",
            "birth_place": "Ekouk", "sex": "M", "father": "Bikoula Mendomo", "mother": "Atouba Fabienne",
            "profession": "Agriculteur", "civil_status": "celibataire", "domicile": "Tsinga",
            "nationality": "Camerounaise"
        },
        "condamnation": {
            "conviction_date": "2018-06-18", "offence_date": "2017-09-15",
            "offence_nature": "Détournement de fonds publics", "offence_category": "ATT_BIENS_PUBLICS",
            "offence_class": "delit", "warrants": "Aucun", "sentence_type": "emprisonnement",
            "sentence_months": 24, "suspended_months": 12
        }
    })
}

/// Saves, submits and verifies a fiche (agent, then secrétaire); returns its id.
pub async fn verified_fiche(
    agent: &tokio_postgres::Client,
    secretaire: &tokio_postgres::Client,
    surname: &str,
) -> i64 {
    let id: i64 = agent
        .query_one(
            "select juris.save_fiche($1)",
            &[&sample_fiche(surname, "Mangué")],
        )
        .await
        .expect("save")
        .get(0);
    agent
        .execute("select juris.submit_fiche($1)", &[&id])
        .await
        .expect("submit");
    secretaire
        .execute("select juris.verify_fiche($1)", &[&id])
        .await
        .expect("verify");
    id
}

/// A path as the `&str` a command line takes.
pub fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// The text of a PDF (`pdftotext`, poppler-utils), whitespace folded to single spaces.
pub fn pdf_text(pdf: &Path) -> String {
    let out = Command::new("pdftotext")
        .args(["-enc", "UTF-8"])
        .arg(pdf)
        .arg("-")
        .output()
        .expect("run pdftotext (Debian package poppler-utils)");
    assert!(
        out.status.success(),
        "pdftotext failed on {}",
        pdf.display()
    );
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The last page of `pdf` as a PNG at `dpi` (`pdftoppm`, poppler-utils).
pub fn page_png(pdf: &Path, dpi: u32) -> PathBuf {
    let root = pdf.with_file_name(format!("page-{dpi}"));
    let status = Command::new("pdftoppm")
        .args(["-r", &dpi.to_string(), "-png", "-singlefile"])
        .arg(pdf)
        .arg(&root)
        .status()
        .expect("run pdftoppm (Debian package poppler-utils)");
    assert!(status.success());
    root.with_extension("png")
}

/// The text of the QR code in an image (`zbarimg`, zbar-tools).
pub fn zbarimg(png: &Path) -> String {
    let out = Command::new("zbarimg")
        .args(["--quiet", "--raw"])
        .arg(png)
        .output()
        .expect("run zbarimg (Debian package zbar-tools)");
    assert!(
        out.status.success(),
        "no QR code found in {}",
        png.display()
    );
    String::from_utf8_lossy(&out.stdout).trim_end().to_owned()
}

/// Ingests a court's outbox message at the CJN, as cjn-ingest does after opening it.
pub async fn ingest(
    cjn: &tokio_postgres::Client,
    payload: &serde_json::Value,
) -> serde_json::Value {
    cjn.query_one(
        "select cjn.ingest(($1::jsonb ->> 'message_id')::uuid, $1::jsonb ->> 'court_code', \
         ($1::jsonb ->> 'seq')::bigint, $1::jsonb ->> 'kind', ($1::jsonb ->> 'created_at')::timestamptz, \
         $1::jsonb, $2::bytea)",
        &[payload, &format!("signed {}", payload["seq"]).into_bytes()],
    )
    .await
    .expect("ingest")
    .get(0)
}
