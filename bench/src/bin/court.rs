//! Court database benchmark: saves N fiches through the SQL API and takes them through
//! submission, verification and signature; then fills the table to a total (as a DBA restoring
//! data would) and measures search latency. Prints its figures (medians and 95th percentiles).
//!
//! `cargo run --release -p bench --bin court -- [fiches=100000] [total=1000000] [queries=300]`

use std::time::{Duration, Instant};

use anyhow::Context as _;
use tokio_postgres::Client;

const PASSWORD: &str = "bench-password";

// The fill of `court_data` is the gui benchmark's; this one fills its own way (below).
#[allow(dead_code)]
#[path = "../court_data.rs"]
mod court_data;
use court_data::{GIVEN, SURNAMES};

fn main() -> anyhow::Result<()> {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .map(|a| {
            a.parse()
                .context("arguments are numbers: fiches total queries")
        })
        .collect::<anyhow::Result<_>>()?;
    let fiches = args.first().copied().unwrap_or(100_000);
    let total = args.get(1).copied().unwrap_or(1_000_000).max(fiches);
    let queries = args.get(2).copied().unwrap_or(300) as usize;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run(fiches, total, queries))
}

/// A small deterministic generator (xorshift), so that runs are comparable.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, list: &[&'a str]) -> &'a str {
        list[(self.next() % list.len() as u64) as usize]
    }
}

fn fiche(rng: &mut Rng) -> serde_json::Value {
    let year = 1950 + rng.next() % 50;
    let birth = format!(
        "{year}-{:02}-{:02}",
        1 + rng.next() % 12,
        1 + rng.next() % 28
    );
    serde_json::json!({
        "reference": format!("{}/SD/Just/2024", rng.next() % 1000),
        "justiciable": {
            "surname": rng.pick(SURNAMES), "given_names": format!("{} {}", rng.pick(GIVEN), rng.pick(GIVEN)),
            "birth_date": birth, "birth_place": "Garoua", "sex": if rng.next().is_multiple_of(2) { "M" } else { "F" },
            "father": format!("{} {}", rng.pick(SURNAMES), rng.pick(GIVEN)),
            "mother": format!("{} {}", rng.pick(SURNAMES), rng.pick(GIVEN)),
            "profession": "Commerçant", "civil_status": "marie", "domicile": "Bonabéri, Douala",
            "nationality": "Camerounaise"
        },
        "condamnation": {
            "conviction_date": "2024-03-12", "offence_date": "2023-11-02",
            "offence_nature": "Vol aggravé commis en réunion, avec effraction, au préjudice d'un commerçant",
            "offence_category": "VOL", "offence_class": "delit", "warrants": "Mandat de dépôt du 03/11/2023",
            "sentence_type": "emprisonnement_amende", "sentence_months": 18, "suspended_months": 6,
            "fine_amount": 250000
        }
    })
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

async fn connect(url: &str) -> anyhow::Result<Client> {
    Ok(db::connect(url).await?)
}

/// Runs `sql` with each id in `ids` over one connection, `window` statements in flight.
async fn pipeline(
    client: &Client,
    sql: &str,
    ids: &[i64],
    label: &str,
) -> anyhow::Result<Duration> {
    let stmt = client.prepare(sql).await?;
    let start = Instant::now();
    for (n, chunk) in ids.chunks(256).enumerate() {
        let futures = chunk
            .iter()
            .map(|id| async { client.query_one(&stmt, &[id]).await });
        for r in futures_join(futures).await {
            r.with_context(|| format!("{label} failed"))?;
        }
        if n % 40 == 39 {
            eprintln!("  {label}: {} / {}", (n + 1) * 256, ids.len());
        }
    }
    Ok(start.elapsed())
}

/// Polls the futures together: tokio-postgres then pipelines their queries on one connection.
async fn futures_join<F: std::future::Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output> {
    futures_util::future::join_all(futures).await
}

async fn run(fiches: u64, total: u64, queries: usize) -> anyhow::Result<()> {
    eprintln!("Starting a durable PostgreSQL cluster (fsync on)...");
    let cluster = sandbox::PgCluster::start_with(sandbox::PgOptions {
        durable: true,
        ..Default::default()
    })?;
    cluster.create_database("court")?;
    let admin_url = cluster.admin_url("court");
    db::migrate(&admin_url, db::Schema::Court).await?;
    let admin = connect(&admin_url).await?;
    admin
        .execute(
            "select juris.init_court('12345', 'Tribunal de Garoua', 'NORD', 'BENOUE', 'Garoua I', 'kamdem', 'Kamdem Jean', $1)",
            &[&db::scram_verifier(PASSWORD)],
        )
        .await?;
    let greffier = connect(&cluster.user_url("kamdem", PASSWORD, "court")).await?;
    let verifier = db::scram_verifier(PASSWORD);
    greffier
        .batch_execute(&format!(
            "select juris.create_user('mbarga', 'Mbarga Paul', '{verifier}', 1);
             select juris.create_user('zambo', 'Zambo Kenneth', '{verifier}', 2);"
        ))
        .await?;
    let agent = connect(&cluster.user_url("mbarga", PASSWORD, "court")).await?;
    let secretaire = connect(&cluster.user_url("zambo", PASSWORD, "court")).await?;

    eprintln!("Saving {fiches} fiches through juris.save_fiche...");
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let save = agent.prepare("select juris.save_fiche($1)").await?;
    let mut ids = Vec::with_capacity(fiches as usize);
    let start = Instant::now();
    let docs: Vec<serde_json::Value> = (0..fiches).map(|_| fiche(&mut rng)).collect();
    for (n, chunk) in docs.chunks(256).enumerate() {
        let futures = chunk
            .iter()
            .map(|d| async { agent.query_one(&save, &[d]).await });
        for r in futures_join(futures).await {
            ids.push(r?.get::<_, i64>(0));
        }
        if n % 40 == 39 {
            eprintln!("  saved {}", ids.len());
        }
    }
    let saved = start.elapsed();
    let submitted = pipeline(
        &agent,
        "select juris.submit_fiche($1)::text",
        &ids,
        "submit",
    )
    .await?;
    let verified = pipeline(
        &secretaire,
        "select juris.verify_fiche($1)::text",
        &ids,
        "verify",
    )
    .await?;
    eprintln!("Signing {fiches} fiches, one transaction each (NIU, outbox message, audit row)...");
    let signed = pipeline(&greffier, "select juris.sign_fiche($1)", &ids, "sign").await?;
    let rate = |d: Duration| fiches as f64 / d.as_secs_f64();
    println!(
        "XMJuris court database benchmark ({} cores)",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!("  fiches through the API: {fiches}");
    println!("  save_fiche:   {:>8.0} fiches/s", rate(saved));
    println!("  submit_fiche: {:>8.0} fiches/s", rate(submitted));
    println!("  verify_fiche: {:>8.0} fiches/s", rate(verified));
    println!(
        "  sign_fiche:   {:>8.0} fiches/s (each: NIU, outbox message, audit row; fsync on)",
        rate(signed)
    );

    let fill = total - fiches;
    eprintln!(
        "Filling the table with {fill} more fiches (bulk, triggers off, as a DBA restore)..."
    );
    let start = Instant::now();
    admin
        .batch_execute(&format!(
            "set session_replication_role = replica;
             with s as (select g, ('{{{surnames}}}'::text[])[1 + (g * 7919) % {ns}] as surname,
                        ('{{{given}}}'::text[])[1 + (g * 104729) % {ng}] || ' ' || ('{{{given}}}'::text[])[1 + (g * 13) % {ng}] as given
                        from generate_series(1::bigint, {fill}) g)
             insert into court.fiche (number, reference, surname, given_names, name_norm, name_tokens, birth_date, birth_place, sex,
                 conviction_date, offence_date, offence_nature, offence_category, offence_class, sentence_type,
                 sentence_months, created_by, updated_by, content_by, content_editors)
             select 10000000 + g, (g % 1000) || '/SD/Just/2023', surname, given,
                    juris._norm(surname || ' ' || given), string_to_array(juris._norm(surname || ' ' || given), ' '),
                    date '1950-01-01' + (g % 18000)::integer, 'Maroua', 'M',
                    date '2023-05-01', date '2023-01-01', 'Vol simple', 'VOL', 'delit', 'emprisonnement', 6,
                    'mbarga', 'mbarga', 'mbarga', '{{mbarga}}'
               from s;
             insert into court.name_token (token)
             select distinct unnest(name_tokens) from court.fiche on conflict do nothing;
             set session_replication_role = origin;
             analyze court.fiche; analyze court.name_token;",
            surnames = SURNAMES.join(",").replace('\'', "''"),
            given = GIVEN.join(","),
            ns = SURNAMES.len(),
            ng = GIVEN.len(),
        ))
        .await?;
    eprintln!("  filled in {:.1} s", start.elapsed().as_secs_f64());
    let count: i64 = admin
        .query_one("select count(*) from court.fiche", &[])
        .await?
        .get(0);

    // Search latencies, as the staff's GUI asks them.
    let nius: Vec<String> = admin
        .query(&format!("select niu from court.fiche where niu is not null order by random() limit {queries}"), &[])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let people: Vec<(String, String, String)> = admin
        .query(
            &format!("select surname, given_names, birth_date::text from court.fiche order by random() limit {queries}"),
            &[],
        )
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let by_niu = agent
        .prepare("select count(*) from juris.search_fiches(by_niu => $1)")
        .await?;
    let by_name = agent
        .prepare("select count(*) from juris.search_fiches(by_name => $1)")
        .await?;
    let by_name_date = agent
        .prepare("select count(*) from juris.search_fiches(by_name => $1, by_birth_date => $2::text::date)")
        .await?;
    let mut t_niu = Vec::new();
    for niu in &nius {
        let s = Instant::now();
        agent.query_one(&by_niu, &[niu]).await?;
        t_niu.push(s.elapsed());
    }
    let mut t_name = Vec::new();
    let mut t_name_date = Vec::new();
    for (n, (surname, given, date)) in people.iter().enumerate() {
        // A spelling variant: drop one letter of the surname, swap the word order.
        let mut variant: String = surname.clone();
        if variant.chars().count() > 4 {
            let cut = n % (variant.chars().count() - 1) + 1;
            variant = variant
                .chars()
                .enumerate()
                .filter(|(i, _)| *i != cut)
                .map(|(_, c)| c)
                .collect();
        }
        let query = format!("{given} {variant}");
        let s = Instant::now();
        agent.query_one(&by_name, &[&query]).await?;
        t_name.push(s.elapsed());
        let s = Instant::now();
        agent.query_one(&by_name_date, &[&query, date]).await?;
        t_name_date.push(s.elapsed());
    }
    for v in [&mut t_niu, &mut t_name, &mut t_name_date] {
        v.sort();
    }
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!("  table size for the searches: {count} fiches");
    for (label, v) in [
        ("search by NIU", &t_niu),
        ("search by names (variant)", &t_name),
        ("search by names + birth date", &t_name_date),
    ] {
        println!(
            "  {label:<30} median {:>7.2} ms   p95 {:>7.2} ms   ({} queries)",
            ms(percentile(v, 0.5)),
            ms(percentile(v, 0.95)),
            v.len()
        );
    }
    Ok(())
}
