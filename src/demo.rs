//! `xmjuris demo`: starts XMJuris on this one machine, as far as it is built.
//!
//! - The CJN: its PostgreSQL cluster (migrated; the daemon's, an operator's and a
//!   statistician's logins), its PKI, and `cjn-ingest`.
//! - Two courts, each with its database (one cluster on this machine stands for their local
//!   servers), staff and sample fiches at every step of the workflow, a certificate and its
//!   `xmjuris-listener`. Each court enrolls itself over MQTT once cjn-ingest runs, as a real
//!   one does (`xmjuris court enroll`, with the code and the fingerprint only).
//! - A Mosquitto broker with an account per court.
//!
//! The broker is started, then cjn-ingest's persistent session is created on it
//! (`cjn-ingest subscribe`) before any listener starts, so that nothing a court sends can be
//! missed. The signed fiches travel to the CJN and come back archived; court 10002 then asks
//! the CJN for the bulletin n°1 of a person judged at both courts, and the sealed extract is
//! printed. The demo waits for that result and checks it (every signed fiche archived, the
//! bulletin showing both convictions): otherwise it says what is missing and fails.
//! Passwords are generated (`credentials.txt`, mode 0600); everything lives in one folder and
//! keeps running after this command; `xmjuris demo --stop` stops it, and running the demo again
//! starts what is not running.
//!
//! Everything the demo writes is its owner's only: it runs with the file mode creation mask
//! 0077 (which its daemons and broker inherit), so files are 0600 and folders 0700; the folder
//! itself is 0700, or, when run as root, 0710 with the group of the `postgres` system user that
//! runs the databases (it may pass through, not list). The databases' superuser has a password
//! (`<cluster>/superuser.pgpass`); see the `sandbox` crate.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Args;
use protocol::pki::{self, CjnPki};
use serde::{Deserialize, Serialize};

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Folder of the demo's clusters, keys, configurations, logs and credentials.
    #[arg(long, default_value = ".xmjuris")]
    dir: PathBuf,
    /// Stop the demo's daemons, broker and databases (their data stays in the folder).
    #[arg(long)]
    stop: bool,
}

/// A court of the demo: code, name, region, département, arrondissement, greffier (login,
/// name), other staff (login, name, privilege), sample fiches.
struct DemoCourt {
    code: &'static str,
    name: &'static str,
    region: &'static str,
    departement: &'static str,
    arrondissement: &'static str,
    greffier: (&'static str, &'static str),
    staff: &'static [(&'static str, &'static str, i32)],
    people: &'static [Person],
}

/// A sample justiciable and conviction, and how far its fiche goes in the workflow
/// (0 draft, 1 submitted, 2 verified, 3 signed).
struct Person {
    surname: &'static str,
    given_names: &'static str,
    birth: &'static str,
    place: &'static str,
    sex: &'static str,
    nature: &'static str,
    category: &'static str,
    class: &'static str,
    convicted: &'static str,
    months: Option<i32>,
    state: u8,
}

const fn person(
    (surname, given_names, birth, place, sex): (
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        &'static str,
    ),
    (nature, category, class, convicted, months): (
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        Option<i32>,
    ),
    state: u8,
) -> Person {
    Person {
        surname,
        given_names,
        birth,
        place,
        sex,
        nature,
        category,
        class,
        convicted,
        months,
        state,
    }
}

const COURTS: &[DemoCourt] = &[
    DemoCourt {
        code: "10001",
        name: "Tribunal de première instance de Garoua-Boulaï",
        region: "ADAMAOUA",
        departement: "FARO ET DEO",
        arrondissement: "Biyouha",
        greffier: ("kamdem", "Kamdem Jean"),
        staff: &[
            ("zambo", "Zambo Kenneth", 2),
            ("ngono", "Ngono Alice", 2),
            ("mbarga", "Mbarga Paul", 1),
            ("essomba", "Essomba Rose", 1),
        ],
        people: &[
            person(
                ("Kobila", "Mangué", "1987-04-17", "Ekouk", "M"),
                (
                    "Détournement de fonds publics",
                    "ATT_BIENS_PUBLICS",
                    "delit",
                    "2025-06-18",
                    Some(12),
                ),
                3,
            ),
            person(
                ("Atouba", "Fabienne", "1990-11-02", "Yaoundé", "F"),
                (
                    "Abus de confiance",
                    "ESCROQUERIE",
                    "delit",
                    "2025-06-18",
                    Some(18),
                ),
                3,
            ),
            person(
                ("Essono", "Jean-Baptiste", "1979-01-23", "Ebolowa", "M"),
                ("Vol aggravé", "VOL", "crime", "2025-06-18", Some(60)),
                3,
            ),
            person(
                ("Ndzi", "Hélène", "1995-06-30", "Bamenda", "F"),
                (
                    "Blessures involontaires",
                    "HOMICIDE_INVOL",
                    "delit",
                    "2025-06-18",
                    Some(6),
                ),
                2,
            ),
            person(
                ("Oumarou", "Hamadou", "1983-08-14", "Garoua", "M"),
                (
                    "Trafic de stupéfiants",
                    "STUPEFIANTS",
                    "crime",
                    "2025-06-18",
                    Some(120),
                ),
                1,
            ),
            person(
                ("Mvondo", "Étienne", "2001-03-09", "Sangmélima", "M"),
                (
                    "Conduite sans permis",
                    "CIRCULATION",
                    "contravention",
                    "2025-06-18",
                    None,
                ),
                0,
            ),
        ],
    },
    DemoCourt {
        code: "10002",
        name: "Tribunal de grande instance du Mfoundi",
        region: "CENTRE",
        departement: "MFOUNDI",
        arrondissement: "Yaoundé I",
        greffier: ("abessolo", "Abessolo Pierre-Claver"),
        staff: &[("fouda", "Fouda Marcel", 2), ("tchoua", "Tchoua Esther", 1)],
        people: &[
            person(
                ("KOBILA", "Mangue", "1987-04-17", "Ekouk", "M"),
                (
                    "Recel de biens publics",
                    "ATT_BIENS_PUBLICS",
                    "delit",
                    "2026-02-03",
                    Some(30),
                ),
                3,
            ),
            person(
                ("Ngo Nlend", "Esther", "1992-09-12", "Édéa", "F"),
                (
                    "Faux et usage de faux",
                    "FAUX",
                    "delit",
                    "2026-03-10",
                    Some(8),
                ),
                3,
            ),
            person(
                ("Bilong", "Serge", "1985-05-05", "Douala", "M"),
                (
                    "Escroquerie",
                    "ESCROQUERIE",
                    "delit",
                    "2026-04-01",
                    Some(24),
                ),
                1,
            ),
        ],
    },
];

/// What the demo keeps between runs: ports and generated passwords (mode 0600).
#[derive(Debug, Default, Serialize, Deserialize)]
struct State {
    cjn_port: Option<u16>,
    courts_port: Option<u16>,
    broker_port: Option<u16>,
    secrets: BTreeMap<String, String>,
}

impl State {
    fn load(path: &Path) -> anyhow::Result<State> {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .with_context(|| format!("{} is not the demo's state", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    fn save(&self, path: &Path) -> anyhow::Result<()> {
        write_private(path, &serde_json::to_string_pretty(self)?)
    }

    /// The password named `name`, generated on first use.
    fn secret(&mut self, name: &str) -> anyhow::Result<String> {
        if let Some(s) = self.secrets.get(name) {
            return Ok(s.clone());
        }
        let s = random_password()?;
        self.secrets.insert(name.to_owned(), s.clone());
        Ok(s)
    }
}

pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    // Whatever the demo, its daemons and its broker create: their owner's only.
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    std::fs::create_dir_all(args.dir.join("logs"))
        .with_context(|| format!("creating {}", args.dir.display()))?;
    let dir = args.dir.canonicalize()?;
    make_private_folder(&dir)?;
    let state_path = dir.join("state.json");
    let mut state = State::load(&state_path)?;
    if args.stop {
        return stop(&dir, &state);
    }

    // The CJN's database.
    eprintln!(
        "Starting the CJN's PostgreSQL in {}...",
        dir.join("cjn-pg").display()
    );
    let cjn_fresh = !dir.join("cjn-pg/data/PG_VERSION").exists();
    let cjn = start_cluster(&dir.join("cjn-pg"), state.cjn_port)?;
    state.cjn_port = Some(cjn.port());
    if cjn_fresh {
        cjn.create_database("cjn")?;
    }
    let cjn_admin_url = cjn.admin_url("cjn");
    eprintln!("{}", db::migrate(&cjn_admin_url, db::Schema::Cjn).await?);
    let cjn_admin = db::connect(&cjn_admin_url).await?;
    for (login, role) in [
        ("ingest", "cjn_ingest"),
        ("operateur", "cjn_operator"),
        ("statisticien", "cjn_statistician"),
    ] {
        let password = state.secret(&format!("cjn/{login}"))?;
        ensure_login(&cjn_admin, login, &password, role).await?;
    }
    for c in COURTS {
        cjn_admin
            .execute(
                "select cjn.register_court($1, $2, $3, $4, $5)",
                &[
                    &c.code,
                    &c.name,
                    &c.region,
                    &c.departement,
                    &c.arrondissement,
                ],
            )
            .await
            .map_err(|e| db::DbError::query("registering a court", e))?;
    }

    // The PKI: the CJN's CA and certificate; each court enrolled with a one-time code.
    let pki_dir = dir.join("pki");
    let cjn_pki = if pki_dir.join("root.crt").exists() || pki_dir.join("issuing.crt").exists() {
        CjnPki::open(&pki_dir)
    } else {
        eprintln!(
            "Creating the CJN's certificate authority in {}...",
            pki_dir.display()
        );
        CjnPki::init(&pki_dir)
    }
    .with_context(|| format!("the CJN's PKI in {}", pki_dir.display()))?;

    // The courts' databases (one cluster on this machine for the demo).
    eprintln!(
        "Starting the courts' PostgreSQL in {}...",
        dir.join("courts-pg").display()
    );
    let courts = start_cluster(&dir.join("courts-pg"), state.courts_port)?;
    state.courts_port = Some(courts.port());
    let mut credentials = vec![
        "# XMJuris demo: logins and passwords (generated; keep this file private).".to_owned(),
    ];
    for c in COURTS {
        let db_name = format!("court_{}", c.code);
        let fresh = !database_exists(&courts, &db_name).await?;
        if fresh {
            courts.create_database(&db_name)?;
        }
        let admin_url = courts.admin_url(&db_name);
        db::migrate(&admin_url, db::Schema::Court).await?;
        let greffier_password = state.secret(&format!("{}/{}", c.code, c.greffier.0))?;
        let listener_password = state.secret(&format!("{}/listener", c.code))?;
        credentials.push(format!("\n# Court {} — {}", c.code, c.name));
        credentials.push(format!("{} {greffier_password} (greffier)", c.greffier.0));
        let mut staff_passwords = BTreeMap::new();
        for (login, _, privilege) in c.staff {
            let password = state.secret(&format!("{}/{login}", c.code))?;
            credentials.push(format!("{login} {password} (privilège {privilege})"));
            staff_passwords.insert(*login, password);
        }
        if fresh {
            eprintln!("Setting up court {} ({})...", c.code, c.name);
            setup_court(
                &courts,
                c,
                &greffier_password,
                &listener_password,
                &staff_passwords,
            )
            .await
            .with_context(|| format!("setting up court {}", c.code))?;
        }
    }
    credentials.push("\n# The CJN".to_owned());
    for login in ["operateur", "statisticien", "ingest"] {
        credentials.push(format!(
            "{login} {}",
            state.secret(&format!("cjn/{login}"))?
        ));
    }

    // The broker.
    let mut users: Vec<sandbox::BrokerUser> = Vec::new();
    for c in COURTS {
        users.push(sandbox::BrokerUser::court(
            c.code,
            &state.secret(&format!("broker/{}", c.code))?,
        ));
    }
    users.push(sandbox::BrokerUser::cjn(
        CJN_BROKER_ACCOUNT,
        &state.secret("broker/cjn")?,
    ));
    let broker_dir = dir.join("broker");
    let broker_port = match (state.broker_port, alive(&broker_dir.join("mosquitto.pid"))) {
        (Some(port), true) => port,
        (port, _) => {
            eprintln!("Starting the MQTT broker (Mosquitto)...");
            let broker = sandbox::Broker::start_with(
                &users,
                sandbox::BrokerOptions {
                    dir: Some(broker_dir.clone()),
                    port,
                    keep_running: true,
                },
            )
            .context("starting Mosquitto")?;
            broker.port()
        }
    };
    state.broker_port = Some(broker_port);
    state.save(&state_path)?;
    write_private(
        &dir.join("credentials.txt"),
        &(credentials.join("\n") + "\n"),
    )?;
    // The desktop application's way in: a password file in libpq's format (mode 0600) for
    // every staff login, and the server and login `scripts/demo` opens it with.
    let mut gui_passwords = Vec::new();
    for c in COURTS {
        let logins = std::iter::once(c.greffier.0).chain(c.staff.iter().map(|s| s.0));
        for login in logins {
            gui_passwords.push(format!(
                "127.0.0.1:{}:court_{}:{login}:{}",
                courts.port(),
                c.code,
                state.secret(&format!("{}/{login}", c.code))?
            ));
        }
    }
    write_private(&dir.join("gui.pgpass"), &(gui_passwords.join("\n") + "\n"))?;
    write_private(
        &dir.join("gui.env"),
        &format!(
            "XMJURIS_GUI_SERVER=127.0.0.1:{}/court_{}\nXMJURIS_GUI_LOGIN={}\n",
            courts.port(),
            COURTS[0].code,
            COURTS[0].greffier.0
        ),
    )?;

    // The daemons, with their configurations.
    let ingest_toml = dir.join("cjn-ingest.toml");
    write_private(
        &ingest_toml,
        &format!(
            "# cjn-ingest of the demo (xmjuris demo); passwords generated.\n\
             [database]\nurl = \"host=127.0.0.1 port={pg} dbname=cjn user=ingest\"\npassword = \"{pw}\"\n\n\
             [broker]\nhost = \"127.0.0.1\"\nport = {mqtt}\n\
             username = \"{CJN_BROKER_ACCOUNT}\"\npassword = \"{bpw}\"\n\n\
             [pki]\ndir = \"{pki}\"\n",
            pg = cjn.port(),
            pw = state.secret("cjn/ingest")?,
            mqtt = broker_port,
            bpw = state.secret("broker/cjn")?,
            pki = pki_dir.display(),
        ),
    )?;
    // cjn-ingest's session exists, subscribed, before any court's listener starts: what the
    // courts send is kept for it by the broker even before the daemon first runs (a fresh
    // shared subscription made later would not get it).
    if !alive(&dir.join("cjn-ingest.pid")) {
        create_ingest_session(&dir, &ingest_toml)?;
    }
    spawn_daemon(&dir, "cjn-ingest", "cjn-ingest", &ingest_toml)?;
    for c in COURTS {
        let toml = dir.join(format!("listener-{}.toml", c.code));
        write_private(
            &toml,
            &format!(
                "# xmjuris-listener of court {code} (xmjuris demo); passwords generated.\n\
                 [court]\ncode = \"{code}\"\npki_dir = \"{pki}\"\n\n\
                 [database]\nurl = \"host=127.0.0.1 port={pg} dbname=court_{code} user=listener_{code}\"\n\
                 password = \"{pw}\"\n\n\
                 [broker]\nhost = \"127.0.0.1\"\nport = {mqtt}\npassword = \"{bpw}\"\n",
                code = c.code,
                pki = dir.join(format!("court-{}-pki", c.code)).display(),
                pg = courts.port(),
                pw = state.secret(&format!("{}/listener", c.code))?,
                mqtt = broker_port,
                bpw = state.secret(&format!("broker/{}", c.code))?,
            ),
        )?;
        // The court enrolls itself over MQTT, as a real one does (`xmjuris court enroll`): the
        // CJN's operator makes the code; the court gets only the code and the fingerprint.
        let court_pki = dir.join(format!("court-{}-pki", c.code));
        if pki::court_load(&court_pki).is_err() {
            let enrollment = cjn_pki.new_enrollment_code(c.code.parse()?, 1)?;
            let outcome = crate::court::enroll(&crate::court::EnrollArgs {
                code: Some(enrollment.code.clone()),
                fingerprint: enrollment.ca_fingerprint.clone(),
                config: Some(toml.clone()),
                broker: None,
                broker_user: None,
                broker_ca: None,
                state_dir: court_pki.clone(),
                resend_secs: 5,
                timeout_secs: RESULT_WITHIN.as_secs(),
                owner: None,
            })
            .await
            .with_context(|| format!("enrolling court {} over MQTT", c.code))?;
            eprintln!("Court {}: {outcome}", c.code);
        }
        spawn_daemon(
            &dir,
            &format!("listener-{}", c.code),
            "xmjuris-listener",
            &toml,
        )?;
    }

    // The signed fiches reach the CJN; court 10002 asks for a bulletin n°1. The demo checks its
    // own result and says so when it is not reached.
    eprintln!("Waiting for the CJN's receipts...");
    let mut failures = Vec::new();
    for c in COURTS {
        let db_name = format!("court_{}", c.code);
        let admin = db::connect(&courts.admin_url(&db_name)).await?;
        let greffier = db::connect(&courts.user_url(
            c.greffier.0,
            &state.secret(&format!("{}/{}", c.code, c.greffier.0))?,
            &db_name,
        ))
        .await?;
        let (archived, signed) = wait_archived(&admin, RESULT_WITHIN).await?;
        let status: serde_json::Value = greffier
            .query_one("select juris.transmission_status()", &[])
            .await?
            .get(0);
        let n = |k: &str| status[k].as_i64().unwrap_or(0);
        eprintln!(
            "Court {}: {archived} of {signed} signed fiche(s) archived at the CJN (messages: {} receipted, \
             {} sent and awaiting a receipt, {} not sent yet, {} refused).",
            c.code,
            n("acknowledged"),
            n("sent"),
            n("pending"),
            n("rejected")
        );
        if archived < signed {
            failures.push(format!(
                "court {}: {} of {signed} signed fiche(s) not archived after {} s",
                c.code,
                signed - archived,
                RESULT_WITHIN.as_secs()
            ));
        }
    }
    let example = dir.join("extrait-exemple.pdf");
    if failures.is_empty()
        && !example.exists()
        && let Err(e) = sample_extract(&courts, &mut state, &example).await
    {
        failures.push(format!("{e:#}"));
    }
    if !failures.is_empty() {
        anyhow::bail!(
            "the demo did NOT reach its result: {}. Its processes are left running: see the logs in {}.",
            failures.join("; "),
            dir.join("logs").display()
        );
    }

    println!("XMJuris demo is running.");
    println!(
        "  CJN database: {} (logins in credentials.txt: operateur, statisticien)",
        cjn.user_url("<login>", "<password>", "cjn")
    );
    for c in COURTS {
        println!(
            "  Court {} ({}): {}",
            c.code,
            c.name,
            courts.user_url("<login>", "<password>", &format!("court_{}", c.code))
        );
    }
    println!(
        "  Administrators (psql, as {}): PGPASSFILE={} psql \"{}\"   |   PGPASSFILE={} psql \"{}\"",
        if sandbox::running_as_root() {
            "root"
        } else {
            "this user"
        },
        cjn.passfile().display(),
        cjn.admin_conninfo("cjn"),
        courts.passfile().display(),
        courts.admin_conninfo("court_10001"),
    );
    println!("  MQTT broker: 127.0.0.1:{broker_port}");
    println!(
        "  Logins and passwords: {}",
        dir.join("credentials.txt").display()
    );
    println!(
        "  Desktop application (xmjuris-gui): PGPASSFILE={} xmjuris-gui --dir {} --server 127.0.0.1:{}/court_{} --login {}",
        dir.join("gui.pgpass").display(),
        dir.join("gui").display(),
        courts.port(),
        COURTS[0].code,
        COURTS[0].greffier.0
    );
    println!("  Logs of the daemons: {}", dir.join("logs").display());
    if example.exists() {
        println!("  A sealed extract, as printed: {}", example.display());
    }
    println!("  Stop it: xmjuris demo --stop --dir {}", dir.display());
    Ok(())
}

fn start_cluster(dir: &Path, port: Option<u16>) -> anyhow::Result<sandbox::PgCluster> {
    sandbox::PgCluster::start_with(sandbox::PgOptions {
        dir: Some(dir.to_owned()),
        durable: true,
        keep_running: true,
        port,
    })
    .with_context(|| format!("starting PostgreSQL in {}", dir.display()))
}

async fn database_exists(cluster: &sandbox::PgCluster, name: &str) -> anyhow::Result<bool> {
    let admin = db::connect(&cluster.admin_url("postgres")).await?;
    let row = admin
        .query_one(
            "select exists (select from pg_database where datname = $1)",
            &[&name],
        )
        .await?;
    Ok(row.get(0))
}

/// A login in `role` with this password (created, or its password set again).
async fn ensure_login(
    admin: &tokio_postgres::Client,
    login: &str,
    password: &str,
    role: &str,
) -> anyhow::Result<()> {
    let verifier = crate::court::scram_verifier(password);
    let exists: bool = admin
        .query_one(
            "select exists (select from pg_roles where rolname = $1)",
            &[&login],
        )
        .await?
        .get(0);
    let verb = if exists { "alter" } else { "create" };
    admin
        .batch_execute(&format!(
            "{verb} role \"{login}\" login password '{verifier}'; grant {role} to \"{login}\";"
        ))
        .await
        .with_context(|| format!("the login {login}"))?;
    Ok(())
}

/// Initialises a court: identity and greffier, staff, the listener's login, sample fiches.
async fn setup_court(
    cluster: &sandbox::PgCluster,
    c: &DemoCourt,
    greffier_password: &str,
    listener_password: &str,
    staff_passwords: &BTreeMap<&str, String>,
) -> anyhow::Result<()> {
    let db_name = format!("court_{}", c.code);
    let admin = db::connect(&cluster.admin_url(&db_name)).await?;
    admin
        .execute(
            "select juris.init_court($1, $2, $3, $4, $5, $6, $7, $8)",
            &[
                &c.code,
                &c.name,
                &c.region,
                &c.departement,
                &c.arrondissement,
                &c.greffier.0,
                &c.greffier.1,
                &crate::court::scram_verifier(greffier_password),
            ],
        )
        .await
        .map_err(|e| db::DbError::query("initialising the court", e))?;
    admin
        .execute(
            "select juris.create_listener_login($1, $2)",
            &[
                &format!("listener_{}", c.code),
                &crate::court::scram_verifier(listener_password),
            ],
        )
        .await
        .map_err(|e| db::DbError::query("creating the listener's login", e))?;
    let greffier =
        db::connect(&cluster.user_url(c.greffier.0, greffier_password, &db_name)).await?;
    for (login, name, privilege) in c.staff {
        greffier
            .execute(
                "select juris.create_user($1, $2, $3, $4)",
                &[
                    login,
                    name,
                    &crate::court::scram_verifier(&staff_passwords[login]),
                    privilege,
                ],
            )
            .await
            .map_err(|e| db::DbError::query("creating a user", e))?;
    }
    let agent_login = c
        .staff
        .iter()
        .find(|s| s.2 == 1)
        .map(|s| s.0)
        .context("no agent")?;
    let secretaire_login = c
        .staff
        .iter()
        .find(|s| s.2 == 2)
        .map(|s| s.0)
        .context("no secrétaire")?;
    let agent =
        db::connect(&cluster.user_url(agent_login, &staff_passwords[agent_login], &db_name))
            .await?;
    let secretaire = db::connect(&cluster.user_url(
        secretaire_login,
        &staff_passwords[secretaire_login],
        &db_name,
    ))
    .await?;
    sample_fiches(c, &agent, &secretaire, &greffier).await
}

/// Sample fiches at every step of the workflow.
async fn sample_fiches(
    c: &DemoCourt,
    agent: &tokio_postgres::Client,
    secretaire: &tokio_postgres::Client,
    greffier: &tokio_postgres::Client,
) -> anyhow::Result<()> {
    for (n, p) in c.people.iter().enumerate() {
        let fine = p.class == "contravention";
        let doc = serde_json::json!({
            "reference": format!("{}/COR/{}/2026", 100 + n, c.code),
            "justiciable": {"surname": p.surname, "given_names": p.given_names, "birth_date": p.birth,
                "birth_place": p.place, "sex": p.sex, "father": "Bikoula Mendomo", "mother": "Atouba Fabienne",
                "profession": "Agriculteur", "civil_status": "celibataire", "domicile": "Tsinga",
                "nationality": "Camerounaise"},
            "condamnation": {"conviction_date": p.convicted, "offence_date": "2024-09-15",
                "offence_nature": p.nature, "offence_category": p.category, "offence_class": p.class,
                "warrants": "Aucun", "sentence_type": if fine { "amende" } else { "emprisonnement" },
                "sentence_months": p.months, "fine_amount": if fine { Some(50000) } else { None }}
        });
        let id: i64 = agent
            .query_one("select juris.save_fiche($1)", &[&doc])
            .await
            .map_err(|e| db::DbError::query("saving a sample fiche", e))?
            .get(0);
        if p.state >= 1 {
            agent
                .execute("select juris.submit_fiche($1)", &[&id])
                .await?;
        }
        if p.state >= 2 {
            secretaire
                .execute("select juris.verify_fiche($1)", &[&id])
                .await?;
        }
        if p.state >= 3 {
            greffier
                .execute("select juris.sign_fiche($1)", &[&id])
                .await?;
        }
    }
    Ok(())
}

/// How long the demo waits for its result (every signed fiche archived; the extract).
const RESULT_WITHIN: Duration = Duration::from_secs(120);

/// cjn-ingest's broker account in the demo (one instance).
const CJN_BROKER_ACCOUNT: &str = "cjn-1";

/// Waits until every signed fiche of the court is archived (the CJN's receipt stored), or
/// `within` passed; (archived, signed).
async fn wait_archived(
    admin: &tokio_postgres::Client,
    within: Duration,
) -> anyhow::Result<(i64, i64)> {
    let start = Instant::now();
    loop {
        let row = admin
            .query_one(
                "select count(*) filter (where status = 'archivee'), \
                        count(*) filter (where status in ('signee', 'archivee')) \
                   from court.fiche",
                &[],
            )
            .await?;
        let (archived, signed): (i64, i64) = (row.get(0), row.get(1));
        if archived == signed || start.elapsed() > within {
            return Ok((archived, signed));
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Runs `cjn-ingest subscribe`: its persistent session, subscribed, on the broker.
fn create_ingest_session(dir: &Path, config: &Path) -> anyhow::Result<()> {
    let exe = std::env::current_exe()?
        .parent()
        .map(|d| d.join("cjn-ingest"))
        .filter(|p| p.exists())
        .context("cjn-ingest is not built next to xmjuris (cargo build -p cjn-ingest)")?;
    let log_path = dir.join("logs").join("cjn-ingest.log");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)?;
    let status = std::process::Command::new(exe)
        .arg("--config")
        .arg(config)
        .arg("subscribe")
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .status()
        .context("running cjn-ingest subscribe")?;
    if !status.success() {
        anyhow::bail!(
            "cjn-ingest could not create its session on the broker ({status}); see {}",
            log_path.display()
        );
    }
    eprintln!("cjn-ingest's session is ready on the broker: the courts' messages wait for it.");
    Ok(())
}

/// Court 10002's greffier asks the CJN for the bulletin n°1 of Kobila Mangué (judged at both
/// courts) and prints the sealed answer; an error unless it shows both convictions.
async fn sample_extract(
    courts: &sandbox::PgCluster,
    state: &mut State,
    out: &Path,
) -> anyhow::Result<()> {
    let url = courts.user_url("abessolo", &state.secret("10002/abessolo")?, "court_10002");
    let greffier = db::connect(&url).await?;
    let id: i64 = greffier
        .query_one(
            "select juris.request_extract($1, 1, 'Information judiciaire n° 17/2026 (démonstration)')",
            &[&serde_json::json!({"surname": "Kobila", "given_names": "Mangué", "birth_date": "1987-04-17",
                                  "birth_place": "Ekouk", "father": "Bikoula Mendomo"})],
        )
        .await
        .map_err(|e| db::DbError::query("requesting an extract", e))?
        .get(0);
    eprintln!("Court 10002 asked the CJN for a bulletin n°1 (request {id})...");
    let start = Instant::now();
    let answer = loop {
        let r: serde_json::Value = greffier
            .query_one("select juris.get_extract($1)", &[&id])
            .await?
            .get(0);
        if r["state"] == "answered" {
            break r;
        }
        if r["state"] == "rejected" {
            anyhow::bail!(
                "the CJN refused the request for a bulletin n°1: {} {}",
                r["rejection_code"],
                r["rejection_reason"]
            );
        }
        if start.elapsed() > RESULT_WITHIN {
            anyhow::bail!(
                "no answer to the request for a bulletin n°1 after {} s ({})",
                RESULT_WITHIN.as_secs(),
                r["state_label"]
            );
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let entries = answer["entries_count"].as_i64().unwrap_or(0);
    if entries < 2 {
        anyhow::bail!(
            "the bulletin n°1 of Kobila Mangué, judged at both courts, came back with {} \
             (expected the 2 convictions)",
            if entries == 0 {
                "« néant »".to_owned()
            } else {
                format!("{entries} conviction")
            }
        );
    }
    let data = crate::print::extract_document(&url, id).await?;
    let pdf = forms::Forms::builtin().render_pdf("bulletin-1", &data)?;
    write_private(out, &pdf)?;
    eprintln!(
        "The CJN answered: bulletin n°1 of Kobila Mangué, {entries} condamnations; the sealed \
         extract is printed: {}.",
        out.display()
    );
    Ok(())
}

/// Starts a daemon of the demo unless it runs already (its PID file names a live process): in
/// its own process group, its output in `logs/<name>.log`.
fn spawn_daemon(dir: &Path, name: &str, program: &str, config: &Path) -> anyhow::Result<()> {
    let pid_file = dir.join(format!("{name}.pid"));
    if alive(&pid_file) {
        return Ok(());
    }
    let exe = std::env::current_exe()?
        .parent()
        .map(|d| d.join(program))
        .filter(|p| p.exists())
        .with_context(|| {
            format!(
                "{program} is not built next to xmjuris (cargo build -p cjn-ingest -p listener)"
            )
        })?;
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(dir.join("logs").join(format!("{name}.log")))?;
    log.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    let mut command = std::process::Command::new(exe);
    command
        .arg("--config")
        .arg(config)
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let child = command
        .spawn()
        .with_context(|| format!("starting {program}"))?;
    write_private(&pid_file, &child.id().to_string())?;
    eprintln!("Started {name} (PID {}).", child.id());
    Ok(())
}

/// True when the PID file names a live process.
fn alive(pid_file: &Path) -> bool {
    std::fs::read_to_string(pid_file)
        .ok()
        .and_then(|p| p.trim().parse::<u32>().ok())
        .is_some_and(|pid| Path::new(&format!("/proc/{pid}")).exists())
}

/// Sends SIGTERM to the process named by a PID file, and waits (10 s at most) for it to end.
fn terminate(pid_file: &Path, what: &str) -> anyhow::Result<()> {
    if !alive(pid_file) {
        return Ok(());
    }
    let pid = std::fs::read_to_string(pid_file)?.trim().to_owned();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .with_context(|| format!("stopping {what}"))?;
    let start = Instant::now();
    while alive(pid_file) && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!("Stopped {what}.");
    Ok(())
}

fn stop(dir: &Path, state: &State) -> anyhow::Result<()> {
    for c in COURTS {
        terminate(
            &dir.join(format!("listener-{}.pid", c.code)),
            &format!("the listener of court {}", c.code),
        )?;
    }
    terminate(&dir.join("cjn-ingest.pid"), "cjn-ingest")?;
    terminate(&dir.join("broker/mosquitto.pid"), "the broker")?;
    for (name, port) in [("cjn-pg", state.cjn_port), ("courts-pg", state.courts_port)] {
        let path = dir.join(name);
        // Only a running cluster (its postmaster.pid) is opened, then stopped.
        if !path.join("data/postmaster.pid").exists() {
            continue;
        }
        let cluster = start_cluster(&path, port)?;
        cluster.stop()?;
        eprintln!("Stopped PostgreSQL in {}.", path.display());
    }
    println!("XMJuris demo stopped; its data stays in {}.", dir.display());
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

/// Writes a file that only its owner can read (mode 0600, also when it was there before).
fn write_private(path: &Path, data: &(impl AsRef<[u8]> + ?Sized)) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    f.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    f.write_all(data.as_ref())?;
    Ok(())
}

/// Makes the demo's folder and its `logs/` private: 0700; when root, 0710 with the group of the
/// `postgres` system user, which runs the databases kept inside and must pass through.
fn make_private_folder(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = if sandbox::running_as_root() {
        let (_, gid) = sandbox::system_user("postgres")?;
        std::os::unix::fs::chown(dir, None, Some(gid))
            .with_context(|| format!("chown {}", dir.display()))?;
        0o710
    } else {
        0o700
    };
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("chmod {}", dir.display()))?;
    let logs = dir.join("logs");
    std::fs::set_permissions(&logs, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("chmod {}", logs.display()))?;
    Ok(())
}
