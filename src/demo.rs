//! `xmjuris demo`: starts XMJuris on this one machine, as far as it is built — a court's
//! PostgreSQL cluster in a folder of its own, migrated, initialised, with staff (passwords
//! generated and written to a file only the operator can read) and sample fiches.

use std::io::Read as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Args;

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Folder of the demo's clusters, keys and credentials.
    #[arg(long, default_value = ".xmjuris")]
    dir: PathBuf,
}

const COURT_CODE: &str = "10001";
const STAFF: &[(&str, &str, i32)] = &[
    ("zambo", "Zambo Kenneth", 2),
    ("ngono", "Ngono Alice", 2),
    ("mbarga", "Mbarga Paul", 1),
    ("essomba", "Essomba Rose", 1),
];

pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("creating {}", args.dir.display()))?;
    let dir = args.dir.canonicalize()?;
    let port_file = dir.join("court-port");
    let port = std::fs::read_to_string(&port_file)
        .ok()
        .and_then(|p| p.trim().parse().ok());
    let fresh = !dir.join("court-pg/data/PG_VERSION").exists();
    eprintln!(
        "Starting the court's PostgreSQL cluster in {}...",
        dir.join("court-pg").display()
    );
    let cluster = sandbox::PgCluster::start_with(sandbox::PgOptions {
        dir: Some(dir.join("court-pg")),
        durable: true,
        keep_running: true,
        port,
    })
    .context("starting the court's PostgreSQL")?;
    std::fs::write(&port_file, cluster.port().to_string())?;
    if fresh {
        cluster.create_database("court")?;
    }
    let admin_url = cluster.admin_url("court");
    let report = db::migrate(&admin_url, db::Schema::Court).await?;
    eprintln!("{report}");

    let credentials = dir.join("credentials.txt");
    if fresh || !credentials.exists() {
        let mut lines = vec![
            "# XMJuris demo: staff logins and passwords (generated; keep this file private)."
                .to_owned(),
        ];
        let admin = db::connect(&admin_url).await?;
        let greffier_password = random_password()?;
        admin
            .execute(
                "select juris.init_court($1, 'Tribunal de première instance de Garoua-Boulaï', 'ADAMAOUA',
                        'FARO ET DEO', 'Biyouha', 'kamdem', 'Kamdem Jean', $2)",
                &[&COURT_CODE, &crate::court::scram_verifier(&greffier_password)],
            )
            .await
            .map_err(|e| db::DbError::query("initialising the court", e))?;
        lines.push(format!("kamdem {greffier_password} (greffier)"));
        let greffier =
            db::connect(&cluster.user_url("kamdem", &greffier_password, "court")).await?;
        let mut passwords = std::collections::HashMap::new();
        for (login, name, privilege) in STAFF {
            let password = random_password()?;
            greffier
                .execute(
                    "select juris.create_user($1, $2, $3, $4)",
                    &[
                        login,
                        name,
                        &crate::court::scram_verifier(&password),
                        privilege,
                    ],
                )
                .await
                .map_err(|e| db::DbError::query("creating a user", e))?;
            lines.push(format!("{login} {password} (privilège {privilege})"));
            passwords.insert(*login, password);
        }
        write_private(&credentials, &(lines.join("\n") + "\n"))?;
        let agent = db::connect(&cluster.user_url("mbarga", &passwords["mbarga"], "court")).await?;
        let secretaire =
            db::connect(&cluster.user_url("zambo", &passwords["zambo"], "court")).await?;
        sample_fiches(&agent, &secretaire, &greffier).await?;
    }

    println!("XMJuris demo is running.");
    println!(
        "  Court {COURT_CODE} database: {}",
        cluster.user_url("<login>", "<password>", "court")
    );
    println!(
        "  Administrator (psql): psql -h {} -p {} -U postgres court",
        cluster.socket_dir().display(),
        cluster.port()
    );
    println!("  Staff logins and passwords: {}", credentials.display());
    println!("  Stop it: {}", stop_hint(&dir));
    Ok(())
}

fn stop_hint(dir: &Path) -> String {
    let data = dir.join("court-pg/data");
    if sandbox::running_as_root() {
        format!("runuser -u postgres -- pg_ctl stop -D {}", data.display())
    } else {
        format!("pg_ctl stop -D {}", data.display())
    }
}

/// Sample fiches at every step of the workflow.
async fn sample_fiches(
    agent: &tokio_postgres::Client,
    secretaire: &tokio_postgres::Client,
    greffier: &tokio_postgres::Client,
) -> anyhow::Result<()> {
    let people = [
        (
            "Kobila",
            "Mangué",
            "1987-04-17",
            "Ekouk",
            "M",
            "Détournement de fonds publics",
            "ATT_BIENS_PUBLICS",
            "delit",
        ),
        (
            "Atouba",
            "Fabienne",
            "1990-11-02",
            "Yaoundé",
            "F",
            "Abus de confiance",
            "ESCROQUERIE",
            "delit",
        ),
        (
            "Essono",
            "Jean-Baptiste",
            "1979-01-23",
            "Ebolowa",
            "M",
            "Vol aggravé",
            "VOL",
            "crime",
        ),
        (
            "Ndzi",
            "Hélène",
            "1995-06-30",
            "Bamenda",
            "F",
            "Blessures involontaires",
            "HOMICIDE_INVOL",
            "delit",
        ),
        (
            "Oumarou",
            "Hamadou",
            "1983-08-14",
            "Garoua",
            "M",
            "Trafic de stupéfiants",
            "STUPEFIANTS",
            "crime",
        ),
        (
            "Mvondo",
            "Étienne",
            "2001-03-09",
            "Sangmélima",
            "M",
            "Conduite sans permis",
            "CIRCULATION",
            "contravention",
        ),
    ];
    for (n, (surname, given, birth, place, sex, nature, category, class)) in
        people.iter().enumerate()
    {
        let doc = serde_json::json!({
            "reference": format!("{}/SD/Just/2025", 100 + n),
            "justiciable": {"surname": surname, "given_names": given, "birth_date": birth, "birth_place": place,
                "sex": sex, "father": "Bikoula Mendomo", "mother": "Atouba Fabienne", "profession": "Agriculteur",
                "civil_status": "celibataire", "domicile": "Tsinga", "nationality": "Camerounaise"},
            "condamnation": {"conviction_date": "2025-06-18", "offence_date": "2024-09-15", "offence_nature": nature,
                "offence_category": category, "offence_class": class, "warrants": "Aucun",
                "sentence_type": if *class == "contravention" { "amende" } else { "emprisonnement" },
                "sentence_months": if *class == "contravention" { None } else { Some(12 + 6 * n as i32) },
                "fine_amount": if *class == "contravention" { Some(50000) } else { None }}
        });
        let id: i64 = agent
            .query_one("select juris.save_fiche($1)", &[&doc])
            .await
            .map_err(|e| db::DbError::query("saving a sample fiche", e))?
            .get(0);
        // Fiches 0..=2 signed, 3 verified, 4 submitted, 5 left as a draft.
        if n <= 4 {
            agent
                .execute("select juris.submit_fiche($1)", &[&id])
                .await?;
        }
        if n <= 3 {
            secretaire
                .execute("select juris.verify_fiche($1)", &[&id])
                .await?;
        }
        if n <= 2 {
            greffier
                .execute("select juris.sign_fiche($1)", &[&id])
                .await?;
        }
    }
    Ok(())
}

/// A random password (16 characters from /dev/urandom).
fn random_password() -> anyhow::Result<String> {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .context("reading /dev/urandom")?;
    Ok(bytes
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect())
}

/// Writes a file that only its owner can read (mode 0600).
fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    f.write_all(text.as_bytes())?;
    Ok(())
}
