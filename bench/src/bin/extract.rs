//! Extract latency at the CJN on a national-size registry: fills a throw-away CJN database with
//! `people` people and about twice as many fiches (set-based SQL, `bench/cjn-fill.sql`), then
//! times `cjn.extract` — the call cjn-ingest makes for each request, which finds the person,
//! computes the bulletin and writes the consultation log — as cjn-ingest's login, one commit per
//! call with fsync on, for several kinds of requests, and prints median, 95th percentile and
//! maximum in ms.
//!
//! `cargo run --release -p bench --bin extract -- [people=5000000] [calls=300] [dir=/work/bench-data/cjn-extract] [seed=0]`
//! (another seed asks for other people: pages no earlier run brought into the caches).
//!
//! The cluster lives in `dir` (kept between runs: a filled database of the same size is reused;
//! delete the folder when done — about 20 GB at 5 000 000 people). Settings for a 24 GB machine
//! are written to its postgresql.conf (see `SETTINGS`). It writes to the registry: never point it
//! at a real CJN.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context as _;
use tokio_postgres::Client;

const FILL_SQL: &str = include_str!("../../cjn-fill.sql");
const PASSWORD: &str = "bench-ingest";
const MARK: &str = "# --- XMJuris extract benchmark settings ---";

/// PostgreSQL settings for a 24 GB machine shared with other work: a quarter of the memory
/// for shared buffers, the planner told the rest is cache, SSD costs, enough work and
/// maintenance memory for the fill's sorts and index builds; WAL kept minimal for the bulk fill
/// (the tables are filled in the transaction that truncates them, so they skip the WAL).
const SETTINGS: &str = "shared_buffers = 6GB
effective_cache_size = 16GB
work_mem = 32MB
maintenance_work_mem = 2GB
max_parallel_maintenance_workers = 2
max_parallel_workers_per_gather = 2
random_page_cost = 1.1
effective_io_concurrency = 200
wal_level = minimal
max_wal_senders = 0
max_wal_size = 16GB
checkpoint_timeout = 30min
wal_compression = on
";

struct Args {
    people: u64,
    calls: usize,
    dir: PathBuf,
    seed: i64,
}

fn args() -> anyhow::Result<Args> {
    let a: Vec<String> = std::env::args().skip(1).collect();
    Ok(Args {
        people: a
            .first()
            .map(|v| v.parse())
            .transpose()
            .context("people: a number")?
            .unwrap_or(5_000_000),
        calls: a
            .get(1)
            .map(|v| v.parse())
            .transpose()
            .context("calls: a number")?
            .unwrap_or(300),
        dir: a
            .get(2)
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/work/bench-data/cjn-extract")),
        seed: a
            .get(3)
            .map(|v| v.parse())
            .transpose()
            .context("seed: a number")?
            .unwrap_or(0),
    })
}

fn main() -> anyhow::Result<()> {
    let args = args()?;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run(args))
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// Starts (or restarts) the cluster in `dir`, with the benchmark's settings; `durable`: fsync on.
fn start(dir: &std::path::Path, durable: bool) -> anyhow::Result<sandbox::PgCluster> {
    let options = sandbox::PgOptions {
        dir: Some(dir.to_path_buf()),
        durable,
        ..Default::default()
    };
    let cluster = sandbox::PgCluster::start_with(options.clone())?;
    let conf = cluster.data_dir().join("postgresql.conf");
    let text = std::fs::read_to_string(&conf)?;
    if text.contains(MARK) {
        return Ok(cluster);
    }
    std::fs::write(&conf, format!("{text}\n{MARK}\n{SETTINGS}"))?;
    cluster.stop()?;
    drop(cluster);
    Ok(sandbox::PgCluster::start_with(options)?)
}

/// The steps of `cjn-fill.sql`, by name.
fn steps() -> Vec<(&'static str, &'static str)> {
    FILL_SQL
        .split("-- @step ")
        .skip(1)
        .map(|s| {
            let (name, body) = s.split_once('\n').unwrap_or((s, ""));
            (name.trim(), body)
        })
        .collect()
}

fn step(name: &str) -> anyhow::Result<&'static str> {
    steps()
        .into_iter()
        .find(|(n, _)| *n == name)
        .map(|(_, b)| b)
        .with_context(|| format!("no step {name} in cjn-fill.sql"))
}

async fn session(url: &str, people: u64) -> anyhow::Result<Client> {
    let c = db::connect(url).await?;
    c.batch_execute(&format!(
        "select set_config('bench.people', '{people}', false); set search_path = public; set jit = off"
    ))
    .await?;
    Ok(c)
}

/// Runs two steps at once in two sessions.
async fn both(url: &str, people: u64, a: &str, b: &str) -> anyhow::Result<()> {
    let (ca, cb) = (session(url, people).await?, session(url, people).await?);
    let (sa, sb) = (step(a)?, step(b)?);
    let (ra, rb) = tokio::join!(ca.batch_execute(sa), cb.batch_execute(sb));
    ra.with_context(|| format!("step {a}"))?;
    rb.with_context(|| format!("step {b}"))?;
    Ok(())
}

async fn fill(cluster: &sandbox::PgCluster, people: u64) -> anyhow::Result<()> {
    let admin = db::connect(&cluster.admin_url("postgres")).await?;
    admin.batch_execute("drop database if exists cjn").await?;
    drop(admin);
    cluster.create_database("cjn")?;
    let url = cluster.admin_url("cjn");
    db::migrate(&url, db::Schema::Cjn).await?;
    let t = Instant::now();
    let c = session(&url, people).await?;
    eprintln!("fill: setup");
    c.batch_execute(step("setup")?)
        .await
        .context("step setup")?;
    eprintln!("fill: people and fiches (two sessions)...");
    let t1 = Instant::now();
    both(&url, people, "person", "fiche").await?;
    eprintln!("fill: rows in {:.0} s", t1.elapsed().as_secs_f64());
    let t1 = Instant::now();
    let merged = c
        .simple_query(step("dedupe")?)
        .await
        .context("step dedupe")?;
    let merged = merged
        .iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => r
                .try_get("duplicates_merged")
                .ok()
                .flatten()
                .map(str::to_owned),
            _ => None,
        })
        .next()
        .unwrap_or_default();
    eprintln!(
        "fill: {merged} identical identities merged ({:.0} s)",
        t1.elapsed().as_secs_f64()
    );
    let t1 = Instant::now();
    both(&url, people, "person_indexes", "fiche_indexes").await?;
    eprintln!("fill: indexes in {:.0} s", t1.elapsed().as_secs_f64());
    let t1 = Instant::now();
    c.batch_execute(step("foreign_keys")?)
        .await
        .context("step foreign_keys")?;
    eprintln!(
        "fill: foreign keys checked in {:.0} s",
        t1.elapsed().as_secs_f64()
    );
    let t1 = Instant::now();
    // VACUUM refuses a multi-statement batch: one statement at a time.
    for statement in step("analyze")?
        .split(";\n")
        .filter(|s| !s.trim().is_empty())
    {
        c.batch_execute(statement).await.context("step analyze")?;
    }
    eprintln!(
        "fill: vacuum analyze in {:.0} s",
        t1.elapsed().as_secs_f64()
    );
    c.batch_execute(&format!(
        "create table benchgen.done (people bigint not null, fill_secs double precision not null);
         insert into benchgen.done values ({people}, {});
         create role bench_ingest login password '{PASSWORD}' in role cjn_ingest",
        t.elapsed().as_secs_f64()
    ))
    .await?;
    Ok(())
}

/// The people the requests name: `(kind, identity)`.
async fn requests(
    c: &Client,
    people: u64,
    calls: usize,
    seed: i64,
) -> anyhow::Result<Vec<(&'static str, serde_json::Value)>> {
    let n = calls as i64;
    // Existing people, spread over the registry (a deterministic sample), with their identity.
    let sample = format!(
        "select jsonb_build_object('surname', p.surname, 'given_names', p.given_names, 'birth_date', p.birth_date,
                'birth_place', p.birth_place, 'father', p.father, 'mother', p.mother)
           from generate_series(1, $1::bigint) i
           join registry.person p on p.person_id = 1 + (hashint8(i * 7919 + $2) & 2147483647) % {people}"
    );
    let rows = |salt: i64| {
        let sample = sample.clone();
        async move {
            c.query(&sample, &[&n, &salt]).await.map(|rows| {
                rows.iter()
                    .map(|r| r.get::<_, serde_json::Value>(0))
                    .collect::<Vec<_>>()
            })
        }
    };
    let mut out = Vec::new();
    for id in rows(1 + 10 * seed).await? {
        out.push(("full identity", id));
    }
    for mut id in rows(2 + 10 * seed).await? {
        // Given names first, surname last, no birth place nor parents.
        let (s, g) = (id["surname"].clone(), id["given_names"].clone());
        id = serde_json::json!({"surname": g, "given_names": s, "birth_date": id["birth_date"]});
        out.push(("names in another order, no place or parents", id));
    }
    for mut id in rows(3 + 10 * seed).await? {
        // One letter of the surname doubled, dropped or changed (a spelling variant).
        let s: Vec<char> = id["surname"].as_str().unwrap_or_default().chars().collect();
        let k = (s.len() / 2).max(1);
        let variant: String = match out.len() % 3 {
            0 => s[..k].iter().chain(&s[k - 1..]).collect(),
            1 => s[..k]
                .iter()
                .chain(s.get(k + 1..).unwrap_or_default())
                .collect(),
            _ => s[..k]
                .iter()
                .chain(std::iter::once(&'y'))
                .chain(s.get(k + 1..).unwrap_or_default())
                .collect(),
        };
        id["surname"] = variant.into();
        out.push(("spelling variant of the surname", id));
    }
    // Names and dates drawn as the registry's are, of people never convicted.
    let unknown = c
        .query(
            "select jsonb_build_object('surname', p.surname, 'given_names', p.given_names, 'birth_date', p.birth_date,
                    'birth_place', p.birth_place, 'father', p.father, 'mother', p.mother)
               from generate_series(1, $1::bigint) i cross join lateral benchgen.person($2 + i) p",
            &[&n, &(people as i64 + 1_000_000 + 10_000 * seed)],
        )
        .await?;
    for r in unknown {
        out.push(("unknown person (no record)", r.get(0)));
    }
    // People born on 1 January (the densest days of the registry).
    let jan = c
        .query(
            "select jsonb_build_object('surname', p.surname, 'given_names', p.given_names, 'birth_date', p.birth_date,
                    'birth_place', p.birth_place, 'father', p.father, 'mother', p.mother)
               from registry.person p
              where p.birth_date in (select make_date(y, 1, 1) from generate_series(1960, 2000) y)
                and p.person_id % 997 = 1 + $2::bigint % 996
              limit $1",
            &[&n, &seed],
        )
        .await?;
    for r in jan {
        out.push(("full identity, born on 1 January", r.get(0)));
    }
    Ok(out)
}

/// Per kind of request: the times (ms), the outcomes counted, the near matches listed.
type Kind = (Vec<f64>, std::collections::BTreeMap<String, usize>, usize);

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[(((sorted.len() - 1) as f64) * p).round() as usize]
}

async fn run(args: Args) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.dir)?;
    eprintln!(
        "cluster in {} (load average {})",
        args.dir.display(),
        loadavg()
    );
    let cluster = start(&args.dir, false)?;
    let admin = db::connect(&cluster.admin_url("postgres")).await?;
    let exists = admin
        .query_opt("select from pg_database where datname = 'cjn'", &[])
        .await?
        .is_some();
    drop(admin);
    let filled = if exists {
        let c = db::connect(&cluster.admin_url("cjn")).await?;
        c.query_opt(
            "select fill_secs from benchgen.done where people = $1",
            &[&(args.people as i64)],
        )
        .await
        .ok()
        .flatten()
        .map(|r| r.get::<_, f64>(0))
    } else {
        None
    };
    let fill_secs = match filled {
        Some(s) => {
            eprintln!(
                "reusing the database filled with {} people; migrating it",
                args.people
            );
            db::migrate(&cluster.admin_url("cjn"), db::Schema::Cjn).await?;
            s
        }
        None => {
            let t = Instant::now();
            fill(&cluster, args.people).await?;
            t.elapsed().as_secs_f64()
        }
    };
    // Measure with fsync on, as a CJN runs.
    cluster.stop()?;
    drop(cluster);
    let cluster = start(&args.dir, true)?;
    let admin = db::connect(&cluster.admin_url("cjn")).await?;
    let facts = admin
        .query_one(
            "select (select count(*) from registry.person), (select count(*) from registry.fiche),
                    (select count(*) from registry.fiche where state = 'active'),
                    (select count(distinct court_code) from registry.fiche),
                    pg_size_pretty(pg_database_size(current_database())),
                    (select count(*) from registry.consultation),
                    current_setting('shared_buffers'), current_setting('work_mem'), current_setting('fsync'),
                    current_setting('synchronous_commit'), version()",
            &[],
        )
        .await?;
    let (persons, fiches, active): (i64, i64, i64) = (facts.get(0), facts.get(1), facts.get(2));
    println!(
        "CJN registry: {persons} people, {fiches} fiche versions ({active} active), {} courts; database {}; \
         filled in {:.0} s; {} consultations logged before this run",
        facts.get::<_, i64>(3),
        facts.get::<_, String>(4),
        fill_secs,
        facts.get::<_, i64>(5)
    );
    println!(
        "settings: shared_buffers {}, work_mem {}, fsync {}, synchronous_commit {} ({})",
        facts.get::<_, String>(6),
        facts.get::<_, String>(7),
        facts.get::<_, String>(8),
        facts.get::<_, String>(9),
        facts
            .get::<_, String>(10)
            .split(" on ")
            .next()
            .unwrap_or_default()
    );
    let courts: Vec<String> = admin
        .query(
            "select code from registry.court order by code limit 50",
            &[],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut reqs = requests(&admin, args.people, args.calls, args.seed).await?;
    // Interleave the kinds, so that a change of load touches them alike.
    reqs.sort_by_key(|(_, id)| {
        let s = id.to_string();
        s.bytes().fold(0u64, |h, b| {
            h.wrapping_mul(1_000_003).wrapping_add(u64::from(b))
        })
    });
    // As cjn-ingest: its login, one statement per request, committed.
    let ingest = db::connect(&cluster.user_url("bench_ingest", PASSWORD, "cjn")).await?;
    let stmt = ingest
        .prepare("select cjn.extract($1, $2, $3::jsonb, $4, $5, current_date, $6)")
        .await?;
    // A few calls first: connection, plans and the hottest pages.
    for (i, (_, id)) in reqs.iter().take(10).enumerate() {
        ingest
            .query_one(
                &stmt,
                &[
                    &courts[i % courts.len()],
                    &"bench",
                    id,
                    &3i32,
                    &"Échauffement",
                    &format!("warm-{}-{i}", std::process::id()),
                ],
            )
            .await?;
    }
    // The floors, measured in the same run, just before each extract (issue 14): the same
    // person looked up by a bare B-tree (the identity's name key and birth date, the index
    // person_name_key), and a durable commit of one row (what the consultation log's commit
    // costs at least), both as the superuser.
    admin
        .batch_execute(
            "create table if not exists benchgen.commit_floor (id bigserial primary key, note text not null)",
        )
        .await?;
    let lookup = admin
        .prepare(
            "select p.person_id from registry.person p
              where registry.name_key(p.surname, p.given_names) = registry.name_key($1::jsonb ->> 'surname', $1::jsonb ->> 'given_names')
                and p.birth_date = ($1::jsonb ->> 'birth_date')::date",
        )
        .await?;
    let commit = admin
        .prepare("insert into benchgen.commit_floor (note) values ($1)")
        .await?;
    let mut floor_lookup = Vec::with_capacity(reqs.len());
    let mut floor_commit = Vec::with_capacity(reqs.len());
    let load_before = loadavg();
    let mut results: std::collections::BTreeMap<&str, Kind> = Default::default();
    let started = Instant::now();
    for (i, (kind, id)) in reqs.iter().enumerate() {
        let t = Instant::now();
        admin.query(&lookup, &[id]).await?;
        floor_lookup.push(t.elapsed().as_secs_f64() * 1000.0);
        let t = Instant::now();
        admin.execute(&commit, &[&format!("{i}")]).await?;
        floor_commit.push(t.elapsed().as_secs_f64() * 1000.0);
        let bulletin = 1 + (i % 3) as i32;
        let request_id = format!("bench-{}-{i}", std::process::id());
        let t = Instant::now();
        let row = ingest
            .query_one(
                &stmt,
                &[
                    &courts[i % courts.len()],
                    &"greffier",
                    id,
                    &bulletin,
                    &"Demande de l'intéressé",
                    &request_id,
                ],
            )
            .await
            .with_context(|| format!("cjn.extract for {id}"))?;
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        let answer: serde_json::Value = row.get(0);
        let e = results.entry(kind).or_default();
        e.0.push(ms);
        *e.1.entry(answer["outcome"].as_str().unwrap_or("?").to_owned())
            .or_default() += 1;
        e.2 += answer["near_matches"].as_array().map_or(0, Vec::len);
    }
    let secs = started.elapsed();
    println!(
        "cjn.extract, {} calls as cjn-ingest's login (bulletins 1, 2, 3 in turn), one commit each, in {:.0} s; \
         load average {load_before} before, {} after:",
        reqs.len(),
        secs.as_secs_f64(),
        loadavg()
    );
    println!(
        "{:<46} {:>5} {:>8} {:>8} {:>8}  outcomes; near matches listed",
        "request", "calls", "median", "p95", "max"
    );
    let mut all = Vec::new();
    for (kind, (mut ms, outcomes, near)) in results {
        ms.sort_by(f64::total_cmp);
        all.extend_from_slice(&ms);
        let o: Vec<String> = outcomes.iter().map(|(k, v)| format!("{k} {v}")).collect();
        println!(
            "{kind:<46} {:>5} {:>6.1}ms {:>6.1}ms {:>6.1}ms  {}; {near}",
            ms.len(),
            percentile(&ms, 0.5),
            percentile(&ms, 0.95),
            ms.last().copied().unwrap_or(f64::NAN),
            o.join(", ")
        );
    }
    all.sort_by(f64::total_cmp);
    println!(
        "{:<46} {:>5} {:>6.1}ms {:>6.1}ms {:>6.1}ms",
        "all",
        all.len(),
        percentile(&all, 0.5),
        percentile(&all, 0.95),
        all.last().copied().unwrap_or(f64::NAN)
    );
    for (name, mut ms) in [
        (
            "floor: the same people by a bare B-tree lookup",
            floor_lookup,
        ),
        ("floor: a durable commit of one row", floor_commit),
    ] {
        ms.sort_by(f64::total_cmp);
        println!(
            "{name:<46} {:>5} {:>6.2}ms {:>6.2}ms {:>6.1}ms  all extracts ÷ floor: median {:.1}, p95 {:.1}",
            ms.len(),
            percentile(&ms, 0.5),
            percentile(&ms, 0.95),
            ms.last().copied().unwrap_or(f64::NAN),
            percentile(&all, 0.5) / percentile(&ms, 0.5),
            percentile(&all, 0.95) / percentile(&ms, 0.95)
        );
    }
    Ok(())
}
