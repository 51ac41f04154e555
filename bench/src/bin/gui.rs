//! The court's desktop application on a register of 1 000 000 fiches: the time from opening
//! the app to the Saisie screen (connection, login, first frame of Saisie), the time from a
//! search typed to its results shown (median and 95th percentile over varied names, then a
//! range of conviction dates sorted by date, then the next page), and the app's memory (RSS).
//!
//! The app is the real `XmApp`, driven by egui_kittest (no window, no GPU: the frames are laid
//! out and tessellated, not rasterised), in a process of its own (this program run again with
//! `--measure`), so that its memory is the app's alone and its start is a cold one. The
//! register is filled with set-based SQL (`court_data::fill`); a floor is measured on the same
//! database in the same run (a bare B-tree lookup; the same search called from SQL without the
//! app) and the ratios printed.
//!
//! `cargo run --release -p bench --features gui --bin gui -- [total=1000000] [searches=40] [cluster folder]`
//!
//! With a cluster folder, the register is kept there and reused by the next run (filled only
//! up to `total`).

#[path = "../court_data.rs"]
mod court_data;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::Context as _;

const PASSWORD: &str = "bench-password";
const AGENT: &str = "mbarga";

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--measure") {
        return measure::run(&args[1..]);
    }
    let total: u64 = match args.first() {
        Some(a) => a.parse().context("total: a number of fiches")?,
        None => 1_000_000,
    };
    let searches: usize = match args.get(1) {
        Some(a) => a.parse().context("searches: a number")?,
        None => 40,
    };
    let dir = args.get(2).map(PathBuf::from);
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run(total, searches.max(20), dir))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A name as staff type it: the given names first, the surname with one letter missing.
fn variant(surname: &str, given: &str, n: usize) -> String {
    let count = surname.chars().count();
    let surname: String = if count > 4 {
        let cut = n % (count - 1) + 1;
        surname
            .chars()
            .enumerate()
            .filter(|(i, _)| *i != cut)
            .map(|(_, c)| c)
            .collect()
    } else {
        surname.to_owned()
    };
    format!("{given} {surname}")
}

async fn run(total: u64, searches: usize, dir: Option<PathBuf>) -> anyhow::Result<()> {
    eprintln!("Starting PostgreSQL (fsync on)...");
    let cluster = sandbox::PgCluster::start_with(sandbox::PgOptions {
        dir,
        durable: true,
        ..Default::default()
    })?;
    let exists = cluster.psql(
        "postgres",
        "select count(*) from pg_database where datname = 'court'",
    )?;
    if exists.trim() == "0" {
        cluster.create_database("court")?;
    }
    let admin_url = cluster.admin_url("court");
    db::migrate(&admin_url, db::Schema::Court).await?;
    let admin = db::connect(&admin_url).await?;
    let initialised: i64 = admin
        .query_one("select count(*) from court.app_user", &[])
        .await?
        .get(0);
    if initialised == 0 {
        admin
            .execute(
                "select juris.init_court('12345', 'Tribunal de première instance de Garoua', 'NORD', 'BENOUE', 'Garoua I', 'kamdem', 'Kamdem Jean', $1)",
                &[&db::scram_verifier(PASSWORD)],
            )
            .await?;
        let greffier = db::connect(&cluster.user_url("kamdem", PASSWORD, "court")).await?;
        greffier
            .execute(
                "select juris.create_user($1, 'Mbarga Paul', $2, 1)",
                &[&AGENT, &db::scram_verifier(PASSWORD)],
            )
            .await?;
    }
    let have: i64 = admin
        .query_one("select count(*) from court.fiche", &[])
        .await?
        .get(0);
    if (have as u64) < total {
        let count = total - have as u64;
        eprintln!("Filling the register with {count} fiches (set-based SQL)...");
        let start = Instant::now();
        court_data::fill(&admin, count).await?;
        eprintln!("  filled in {:.1} s", start.elapsed().as_secs_f64());
    }
    let fiches: i64 = admin
        .query_one("select count(*) from court.fiche", &[])
        .await?
        .get(0);

    // The names searched: people of the register, as staff type them.
    let people = admin
        .query(
            &format!(
                "select surname, given_names from court.fiche tablesample system (1) repeatable (42) limit {searches}"
            ),
            &[],
        )
        .await?;
    let names: Vec<String> = people
        .iter()
        .enumerate()
        .map(|(n, r)| variant(r.get(0), r.get(1), n))
        .collect();

    // Floors, on the same database in the same run: a bare B-tree lookup, and the app's search
    // called from SQL (the database's share of a search).
    let agent = db::connect(&cluster.user_url(AGENT, PASSWORD, "court")).await?;
    // The floor: the app's own way to the database (TCP, the agent's login, a juris function
    // that checks the caller) around a bare B-tree lookup of a fiche by its number.
    let lookup = agent.prepare("select juris.fiche_id_by_number($1)").await?;
    let mut t_lookup = Vec::new();
    for i in 0..200i64 {
        let number = 1 + (i * 4999) % fiches.max(1);
        let s = Instant::now();
        agent.query_one(&lookup, &[&number]).await?;
        t_lookup.push(s.elapsed());
    }
    t_lookup.sort();
    let mut t_sql = Vec::new();
    for name in &names {
        let s = Instant::now();
        admin_gui::backend::search(
            &agent,
            admin_gui::backend::SearchCriteria {
                name: name.clone(),
                page_size: 25,
                descending: true,
                ..Default::default()
            },
        )
        .await?;
        t_sql.push(s.elapsed());
    }
    t_sql.sort();

    // The app, in a process of its own; the password through a password file, as the demo does.
    let tmp = tempfile::tempdir()?;
    let passfile = tmp.path().join("pgpass");
    {
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&passfile)?;
        writeln!(f, "127.0.0.1:{}:court:{AGENT}:{PASSWORD}", cluster.port())?;
    }
    eprintln!("Measuring the app ({} searches)...", names.len());
    let out = Command::new(std::env::current_exe()?)
        .arg("--measure")
        .arg(format!("127.0.0.1:{}/court", cluster.port()))
        .arg(tmp.path())
        .args(&names)
        .env("PGPASSFILE", &passfile)
        .env_remove("PGPASSWORD")
        .output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    anyhow::ensure!(
        out.status.success(),
        "the app's measure failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let figure = |key: &str| -> anyhow::Result<f64> {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(key)?.trim().parse().ok())
            .with_context(|| format!("the app's measure printed no {key}:\n{stdout}"))
    };
    let floor = ms(percentile(&t_lookup, 0.5));
    println!(
        "XMJuris desktop application on a court register ({} cores, load average {})",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split_whitespace()
            .next()
            .unwrap_or("?")
    );
    println!("  register: {fiches} fiches");
    println!(
        "  floor: a fiche's id by its number (juris.fiche_id_by_number: a B-tree lookup, as the agent over TCP), median {:.2} ms, p95 {:.2} ms (200 queries)",
        floor,
        ms(percentile(&t_lookup, 0.95))
    );
    println!(
        "  the search from SQL (juris.search_fiches_page, a page of 25 and the count), names: median {:.2} ms, p95 {:.2} ms",
        ms(percentile(&t_sql, 0.5)),
        ms(percentile(&t_sql, 0.95))
    );
    let start_ms = figure("start_ms")?;
    println!(
        "  start: opening the app to the Saisie screen (connect, log in, first frame): {start_ms:.0} ms (target < 1000 ms)"
    );
    for (label, key, target) in [
        (
            "names, a spelling variant in another word order",
            "names",
            Some(150.0),
        ),
        ("a year of conviction dates, sorted by date", "range", None),
        ("the next page of a name search", "next", None),
    ] {
        let p50 = figure(&format!("{key}_p50_ms"))?;
        let p95 = figure(&format!("{key}_p95_ms"))?;
        let n = figure(&format!("{key}_count"))?;
        println!(
            "  search typed to results shown, {label}: median {p50:.1} ms, p95 {p95:.1} ms ({n} searches; {:.0}× the floor{})",
            p50 / floor,
            target.map_or(String::new(), |t| format!("; target p95 < {t} ms"))
        );
    }
    println!(
        "  memory of the app: RSS {:.0} MB after the searches, peak {:.0} MB (target < 150 MB)",
        figure("rss_kb")? / 1024.0,
        figure("hwm_kb")? / 1024.0
    );
    Ok(())
}

/// The app's side: `--measure HOST:PORT/DATABASE FOLDER NAME...` (the password in PGPASSFILE).
mod measure {
    use std::path::Path;
    use std::time::{Duration, Instant};

    use admin_gui::config::{AppPaths, StartLogin};
    use admin_gui::{AppOptions, XmApp};
    use egui::accesskit::Role;
    use egui_kittest::Harness;
    use egui_kittest::kittest::Queryable as _;

    type App = Harness<'static, XmApp>;

    const PATIENCE: Duration = Duration::from_secs(60);

    /// Steps the app (as its window would, when woken) until `done`.
    fn until(app: &mut App, what: &str, done: impl Fn(&App) -> bool) -> anyhow::Result<()> {
        let start = Instant::now();
        loop {
            app.step();
            if done(app) {
                return Ok(());
            }
            anyhow::ensure!(start.elapsed() < PATIENCE, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_micros(300));
        }
    }

    fn status_kb(key: &str) -> f64 {
        std::fs::read_to_string("/proc/self/status")
            .unwrap_or_default()
            .lines()
            .find_map(|l| {
                l.strip_prefix(key)?
                    .trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse()
                    .ok()
            })
            .unwrap_or(0.0)
    }

    fn report(key: &str, mut times: Vec<Duration>) {
        times.sort();
        println!("{key}_count {}", times.len());
        println!(
            "{key}_p50_ms {:.3}",
            super::ms(super::percentile(&times, 0.5))
        );
        println!(
            "{key}_p95_ms {:.3}",
            super::ms(super::percentile(&times, 0.95))
        );
    }

    /// Clicks a button and times the search it sends until its results are drawn.
    fn timed_search(app: &mut App, button: &str) -> anyhow::Result<Duration> {
        let start = Instant::now();
        app.get_by_role_and_label(Role::Button, button)
            .click_accesskit();
        until(app, "the search sent", |a| {
            a.state().state.chercher.searching()
        })?;
        until(app, "the results", |a| {
            !a.state().state.chercher.searching()
        })?;
        Ok(start.elapsed())
    }

    pub fn run(args: &[String]) -> anyhow::Result<()> {
        let [server, dir, names @ ..] = args else {
            anyhow::bail!("--measure HOST:PORT/DATABASE FOLDER NAME...");
        };
        let paths = AppPaths::in_dir(Path::new(dir));
        let start = Instant::now();
        let server = server.clone();
        let mut app: App = Harness::builder()
            .with_size(egui::vec2(1366.0, 768.0))
            .with_max_steps(8)
            .build_eframe(move |cc| {
                XmApp::new(
                    cc,
                    AppOptions {
                        paths,
                        start: Some(StartLogin {
                            server: Some(server),
                            login: super::AGENT.into(),
                        }),
                        ..AppOptions::default()
                    },
                )
            });
        until(&mut app, "the Saisie screen", |a| {
            let s = &a.state().state;
            s.session.is_some() && !s.saisie.actions.is_empty() && !s.categories.is_empty()
        })?;
        println!("start_ms {:.3}", super::ms(start.elapsed()));

        app.get_by_role_and_label(Role::Button, "Chercher")
            .click_accesskit();
        app.step();
        app.step();
        let mut by_name = Vec::new();
        for name in names {
            // As typed: the name field holds the name, then Rechercher.
            let c = &mut app.state_mut().state.chercher;
            c.name = name.clone();
            c.convicted_from.clear();
            c.convicted_to.clear();
            by_name.push(timed_search(&mut app, "Rechercher")?);
            anyhow::ensure!(
                app.state().state.chercher.error.is_none(),
                "the search {name:?} failed: {:?}",
                app.state().state.chercher.error
            );
        }
        let mut range = Vec::new();
        let mut next = Vec::new();
        for year in 2005..2025 {
            let c = &mut app.state_mut().state.chercher;
            c.name.clear();
            c.convicted_from = format!("01/01/{year}");
            c.convicted_to = format!("31/12/{year}");
            c.sort = admin_gui::screens::chercher::SortKey::ConvictionDate;
            c.descending = false;
            range.push(timed_search(&mut app, "Rechercher")?);
            anyhow::ensure!(
                app.state().state.chercher.rows.len() == 25,
                "a year of convictions fills a page"
            );
        }
        for name in names.iter().take(20) {
            let c = &mut app.state_mut().state.chercher;
            c.name = name.clone();
            c.convicted_from.clear();
            c.convicted_to.clear();
            c.sort = admin_gui::screens::chercher::SortKey::Relevance;
            c.descending = true;
            timed_search(&mut app, "Rechercher")?;
            if app.state().state.chercher.pages() > 1 {
                next.push(timed_search(&mut app, "Suivant")?);
            }
        }
        report("names", by_name);
        report("range", range);
        report("next", next);
        println!("rss_kb {}", status_kb("VmRSS:"));
        println!("hwm_kb {}", status_kb("VmHWM:"));
        // The harness is not dropped: the process ends here.
        std::mem::forget(app);
        Ok(())
    }
}
