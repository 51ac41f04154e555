//! CJN ingest benchmark: fiches per second through the real `cjn-ingest` binary (open + verify +
//! store + sealed receipt), its memory, and the CPU it and PostgreSQL use, with N registered
//! courts of which `--senders` send.
//!
//! ```sh
//! CARGO_TARGET_DIR=/work/target-release cargo build --release -p cjn-ingest -p bench
//! CARGO_TARGET_DIR=/work/target-release cargo run --release -p bench --bin ingest -- \
//!     [--registered 1000,99999] [--senders 1000] [--runs 3] [--workers 2] [--connections 8]
//! ```
//!
//! Real parts only: a durable PostgreSQL (fsync and synchronous_commit on: a receipt means
//! stored), migrated; the courts registered with `cjn.register_court` and their certificates —
//! real P-256 keys, CSRs issued by `CjnPki::issue` (cached in `--cache`, default
//! `$TMPDIR/xmjuris-bench-ingest`, since 100 000 take a minute or two) — recorded with
//! `cjn.record_certificate`; a sandbox Mosquitto; the release `cjn-ingest` as a child process
//! (its peak RSS is /proc/<pid>/status VmHWM).
//!
//! Each sending court publishes envelopes sealed before the clock starts, as its listener would
//! (realistic fiches from `protocol::samples`, distinct NIUs and people): in batches of
//! `--batch-size` (what a listener sends when a backlog exists) and one fiche per envelope.
//! The courts are spread over `--connections` MQTT connections of gateway accounts (the broker's
//! role for a bridge: every court's `up` and `down`, so the ACL is not per court; the envelopes
//! are still sealed and signed per court).
//! A burst is timed from the first publish to the last answer received on the courts' `down`
//! topics; every answer is then opened with the court's key and must be a receipt for exactly
//! the envelope's messages, and `registry.fiche` must hold every fiche. Latency is also measured
//! at a fixed offered load (`--paced-rate` single-fiche envelopes per second).
//!
//! The floor, in the same run (issue 14): the first run's envelopes of each scenario opened by
//! OpenSSL alone — CMS decryption and the signature checked with the court's certificate, on as
//! many threads as there are cores, no chain, no decoding, no database, no MQTT — in fiches a
//! second, and the daemon's rate as a share of it.

use std::collections::{BTreeMap, HashMap};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::x509::{X509, X509NameBuilder, X509ReqBuilder};
use protocol::pki::{self, CjnPki};
use protocol::{
    Body, CourtCode, FicheEventKind, Identity, Message, Niu, OutboxPayload, Party, TrustStore,
    samples, topics,
};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use tokio::sync::mpsc;
use uuid::Uuid;

const INGEST_PASSWORD: &str = "bench-ingest";
const CJN_BROKER_PASSWORD: &str = "bench-cjn";
const GATEWAY_PASSWORD: &str = "bench-gateway";

const SURNAMES: &[&str] = &[
    "Kobila",
    "Mbarga",
    "Essomba",
    "Ngono",
    "Atangana",
    "Mvondo",
    "Bikoula",
    "Ndzi",
    "Fouda",
    "Onana",
    "Abena",
    "Tchatchoua",
    "Nkoulou",
    "Kamdem",
    "Nguemo",
    "Moukoko",
    "Ebogo",
    "Zambo",
    "Manga",
    "Mendomo",
    "Owona",
    "Ayissi",
    "Ekambi",
    "Djoumessi",
    "Tchakounté",
    "Nana",
    "Fotso",
    "Kengne",
    "Ewane",
    "Yondo",
    "Belinga",
    "Ngah",
    "Mballa",
    "Ondoua",
    "Oyono",
    "Mbia",
    "Ngadjui",
    "Tagne",
    "Wandji",
    "Simo",
    "Kuété",
    "Nkengfack",
    "Hamadou",
    "Bello",
    "Oumarou",
    "Aboubakar",
];
const GIVEN: &[&str] = &[
    "Mangué",
    "Jean",
    "Paul",
    "Rose",
    "Alice",
    "Étienne",
    "François",
    "Fabienne",
    "Hélène",
    "Joseph",
    "Marie",
    "Thérèse",
    "Samuel",
    "Brice",
    "Cédric",
    "Aïcha",
    "Aminatou",
    "Ibrahim",
    "Cécile",
    "Jean-Marie",
    "Béatrice",
    "Clarisse",
    "Pierre",
    "Germaine",
    "Moussa",
    "Hadja",
    "Emmanuel",
];
const PLACES: &[&str] = &[
    "Ekouk",
    "Garoua",
    "Bertoua",
    "Ngaoundéré",
    "Maroua",
    "Kribi",
    "Yaoundé",
    "Douala",
    "Bafoussam",
    "Ebolowa",
    "Bamenda",
    "Limbé",
    "Edéa",
    "Mbalmayo",
    "Sangmélima",
    "Kousseri",
];

// ---------------------------------------------------------------------------------------------
// Options

struct Opts {
    registered: Vec<u32>,
    senders: u32,
    connections: usize,
    runs: usize,
    batch_size: usize,
    batch_envelopes: usize,
    single_envelopes: usize,
    paced_rate: f64,
    paced_secs: u64,
    workers: usize,
    instances: usize,
    receive_maximum: u16,
    cache: PathBuf,
    ingest_bin: PathBuf,
    pg_stat_statements: bool,
    prepare_only: bool,
}

const HELP: &str = "options: --registered 1000,99999  --senders 1000  --connections 8  --runs 3
  --batch-size 10  --batch-envelopes 2 (per sender and run)  --single-envelopes 3 (per sender and run)
  --paced-rate 100 (single-fiche envelopes/s)  --paced-secs 10  --workers 4  --receive-maximum 64
  --instances 1 (cjn-ingest processes sharing the broker's shared subscription, accounts cjn-1..)
  --cache DIR  --ingest-bin PATH (default: cjn-ingest beside this program)  --pg-stat-statements
  --prepare-only (issue the certificates into the cache, and stop)";

fn parse_opts() -> anyhow::Result<Opts> {
    let exe = std::env::current_exe().context("current_exe")?;
    let mut o = Opts {
        registered: vec![1000, 99_999],
        senders: 1000,
        connections: 8,
        runs: 3,
        batch_size: 10,
        batch_envelopes: 2,
        single_envelopes: 3,
        paced_rate: 100.0,
        paced_secs: 10,
        workers: 4,
        instances: 1,
        receive_maximum: 64,
        cache: std::env::temp_dir().join("xmjuris-bench-ingest"),
        ingest_bin: exe.with_file_name("cjn-ingest"),
        pg_stat_statements: false,
        prepare_only: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--help" || a == "-h" {
            println!("{HELP}");
            std::process::exit(0);
        }
        if a == "--pg-stat-statements" {
            o.pg_stat_statements = true;
            continue;
        }
        if a == "--prepare-only" {
            o.prepare_only = true;
            continue;
        }
        let v = args
            .next()
            .with_context(|| format!("{a} needs a value\n{HELP}"))?;
        let num = |v: &str| v.parse::<u64>().with_context(|| format!("{a} {v}"));
        match a.as_str() {
            "--registered" => {
                o.registered = v
                    .split(',')
                    .map(|x| x.trim().parse::<u32>().context("--registered"))
                    .collect::<anyhow::Result<_>>()?
            }
            "--senders" => o.senders = num(&v)? as u32,
            "--connections" => o.connections = num(&v)?.max(1) as usize,
            "--runs" => o.runs = num(&v)?.max(1) as usize,
            "--batch-size" => o.batch_size = num(&v)?.max(1) as usize,
            "--batch-envelopes" => o.batch_envelopes = num(&v)? as usize,
            "--single-envelopes" => o.single_envelopes = num(&v)? as usize,
            "--paced-rate" => o.paced_rate = v.parse().context("--paced-rate")?,
            "--paced-secs" => o.paced_secs = num(&v)?,
            "--workers" => o.workers = num(&v)?.max(1) as usize,
            "--instances" => o.instances = num(&v)?.clamp(1, 8) as usize,
            "--receive-maximum" => o.receive_maximum = num(&v)?.clamp(1, 65535) as u16,
            "--cache" => o.cache = PathBuf::from(v),
            "--ingest-bin" => o.ingest_bin = PathBuf::from(v),
            _ => bail!("unknown option {a}\n{HELP}"),
        }
    }
    for r in &o.registered {
        if *r < o.senders || *r > 99_999 {
            bail!(
                "--registered {r}: between --senders ({}) and 99999 (5-digit court codes)",
                o.senders
            );
        }
    }
    if !o.ingest_bin.is_file() {
        bail!(
            "{} not found: build it first (CARGO_TARGET_DIR=/work/target-release cargo build --release -p cjn-ingest) or pass --ingest-bin",
            o.ingest_bin.display()
        );
    }
    Ok(o)
}

// ---------------------------------------------------------------------------------------------
// Certificates, issued once and cached

/// One issued court certificate, as the cache's index lists it.
#[derive(Clone)]
struct CertEntry {
    serial: String,
    ski: String,
    not_before: i64,
    not_after: i64,
    file: String,
}

struct Cache {
    pki_dir: PathBuf,
    pki: CjnPki,
    index: BTreeMap<u32, CertEntry>,
    keys_dir: PathBuf,
}

fn csr_der(
    court: CourtCode,
    key: &openssl::pkey::PKey<openssl::pkey::Private>,
) -> anyhow::Result<Vec<u8>> {
    let mut name = X509NameBuilder::new()?;
    name.append_entry_by_nid(Nid::COMMONNAME, &court.to_string())?;
    let name = name.build();
    let mut b = X509ReqBuilder::new()?;
    b.set_subject_name(&name)?;
    b.set_pubkey(key)?;
    b.sign(key, MessageDigest::sha256())?;
    Ok(b.build().to_der()?)
}

/// Issues (or finds in the cache) a real certificate for every court 1..=n; keeps the keys of
/// the first `senders` courts.
fn ensure_certificates(cache_dir: &Path, n: u32, senders: u32) -> anyhow::Result<Cache> {
    let pki_dir = cache_dir.join("pki");
    let keys_dir = cache_dir.join("keys");
    std::fs::create_dir_all(&keys_dir)?;
    let pki = if pki_dir.join(pki::files::ROOT_CRT).exists() {
        CjnPki::open(&pki_dir)?
    } else {
        CjnPki::init(&pki_dir)?
    };
    let index_path = cache_dir.join("index.tsv");
    let mut index = BTreeMap::new();
    if let Ok(text) = std::fs::read_to_string(&index_path) {
        for line in text.lines() {
            let f: Vec<&str> = line.split('\t').collect();
            if f.len() != 6 {
                continue;
            }
            let Ok(code) = f[0].parse::<u32>() else {
                continue;
            };
            if code <= senders && !keys_dir.join(format!("{code:05}.key")).exists() {
                continue;
            }
            index.insert(
                code,
                CertEntry {
                    serial: f[1].into(),
                    ski: f[2].into(),
                    not_before: f[3].parse()?,
                    not_after: f[4].parse()?,
                    file: f[5].into(),
                },
            );
        }
    }
    let missing: Vec<u32> = (1..=n).filter(|c| !index.contains_key(c)).collect();
    if missing.is_empty() {
        eprintln!(
            "certificates: {n} courts found in the cache {}",
            cache_dir.display()
        );
        return Ok(Cache {
            pki_dir,
            pki,
            index,
            keys_dir,
        });
    }
    eprintln!(
        "certificates: issuing {} (key, CSR, CjnPki::issue), cached in {} ...",
        missing.len(),
        cache_dir.display()
    );
    let started = Instant::now();
    let out = Mutex::new((
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&index_path)?,
        Vec::<(u32, CertEntry)>::new(),
    ));
    let threads = 2;
    std::thread::scope(|s| -> anyhow::Result<()> {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (pki, missing, out, keys_dir) = (&pki, &missing, &out, &keys_dir);
                s.spawn(move || -> anyhow::Result<()> {
                    let mut lines = String::new();
                    let mut entries = Vec::new();
                    let flush = |lines: &mut String,
                                 entries: &mut Vec<(u32, CertEntry)>|
                     -> anyhow::Result<()> {
                        let mut g = out.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
                        g.0.write_all(lines.as_bytes())?;
                        g.1.append(entries);
                        lines.clear();
                        Ok(())
                    };
                    for &code in missing.iter().skip(t).step_by(threads) {
                        let court = CourtCode::new(code)?;
                        let key = pki::generate_key()?;
                        let cert = pki.issue(court, &csr_der(court, &key)?)?;
                        let info = cjn_ingest::trust::cert_info(&cert)?;
                        if code <= senders {
                            pki::write_key(&keys_dir.join(format!("{code:05}.key")), &key)?;
                        }
                        let e = CertEntry {
                            file: format!("{court}-{}.crt", info.serial),
                            serial: info.serial,
                            ski: info.subject_key_id,
                            not_before: info.not_before.unix_timestamp(),
                            not_after: info.not_after.unix_timestamp(),
                        };
                        lines.push_str(&format!(
                            "{code}\t{}\t{}\t{}\t{}\t{}\n",
                            e.serial, e.ski, e.not_before, e.not_after, e.file
                        ));
                        entries.push((code, e));
                        if entries.len() >= 500 {
                            flush(&mut lines, &mut entries)?;
                        }
                    }
                    flush(&mut lines, &mut entries)
                })
            })
            .collect();
        for h in handles {
            h.join()
                .map_err(|_| anyhow::anyhow!("issuing thread panicked"))??;
        }
        Ok(())
    })?;
    let (_, entries) = out.into_inner().map_err(|_| anyhow::anyhow!("poisoned"))?;
    index.extend(entries);
    eprintln!(
        "certificates: {} issued in {:.1} s ({:.2} ms each on {threads} threads)",
        missing.len(),
        started.elapsed().as_secs_f64(),
        started.elapsed().as_secs_f64() * 1000.0 / missing.len() as f64
    );
    Ok(Cache {
        pki_dir,
        pki,
        index,
        keys_dir,
    })
}

// ---------------------------------------------------------------------------------------------
// /proc: CPU and memory

fn stat_fields(pid: u32) -> Option<Vec<u64>> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 2..];
    // Fields from `state` (3rd) on; numbers only (state is skipped as 0).
    Some(
        rest.split_whitespace()
            .map(|f| f.parse().unwrap_or(0))
            .collect(),
    )
}

/// utime + stime of a process, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    stat_fields(pid).map(|f| f[11] + f[12]).unwrap_or(0)
}

/// CPU of a PostgreSQL cluster by kind of process: the postmaster (with its reaped children,
/// e.g. autovacuum workers that exited) and its children, by process title.
fn pg_cpu_by_kind(postmaster: u32) -> BTreeMap<String, u64> {
    let mut by = BTreeMap::new();
    if let Some(f) = stat_fields(postmaster) {
        *by.entry("postmaster and exited workers".to_owned())
            .or_default() += f[11] + f[12] + f[13] + f[14];
    }
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            if let Some(f) = stat_fields(pid)
                && f[1] == u64::from(postmaster)
            {
                let title = std::fs::read(format!("/proc/{pid}/cmdline"))
                    .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
                    .unwrap_or_default();
                let t = title.trim_start_matches("postgres: ").trim();
                let kind = if t.starts_with("ingest ") {
                    "cjn-ingest sessions"
                } else if t.starts_with("autovacuum worker") {
                    "autovacuum"
                } else if t.starts_with("postgres ") {
                    "bench session"
                } else {
                    t.split_whitespace().next().unwrap_or("other")
                };
                *by.entry(kind.to_owned()).or_default() += f[11] + f[12];
            }
        }
    }
    by
}

/// The pid of the process whose command line mentions `needle`.
fn find_pid(needle: &str) -> Option<u32> {
    for e in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if let Ok(cmd) = std::fs::read(format!("/proc/{pid}/cmdline"))
            && String::from_utf8_lossy(&cmd).contains(needle)
            && pid != std::process::id()
        {
            return Some(pid);
        }
    }
    None
}

fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn clock_ticks() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100)
}

#[derive(Clone, Default)]
struct Cpu {
    ingest: u64,
    pg: u64,
    broker: u64,
    bench: u64,
    pg_by_kind: BTreeMap<String, u64>,
}

struct Pids {
    /// Every cjn-ingest process.
    ingest: Vec<u32>,
    postmaster: u32,
    broker: Option<u32>,
}

fn cpu_now(p: &Pids) -> Cpu {
    let pg_by_kind = pg_cpu_by_kind(p.postmaster);
    Cpu {
        ingest: p.ingest.iter().map(|&pid| cpu_ticks(pid)).sum(),
        pg: pg_by_kind.values().sum(),
        pg_by_kind,
        broker: p.broker.map(cpu_ticks).unwrap_or(0),
        bench: cpu_ticks(std::process::id()),
    }
}

// ---------------------------------------------------------------------------------------------
// Fiches and envelopes

struct Court {
    code: CourtCode,
    identity: Identity,
    next_seq: u64,
}

struct Envelope {
    court: usize,
    topic: String,
    payload: Vec<u8>,
    ids: Vec<Uuid>,
}

struct Templates {
    typical: OutboxPayload,
    long: OutboxPayload,
}

/// The `g`-th fiche of the benchmark: a distinct person, a distinct NIU (court, 2026, seq).
fn fiche_message(t: &Templates, court: CourtCode, seq: u64, g: u64) -> anyhow::Result<Message> {
    let mut p = if g % 5 == 4 {
        t.long.clone()
    } else {
        t.typical.clone()
    };
    let now = time::OffsetDateTime::now_utc();
    p.message_id = protocol::new_message_id();
    p.kind = FicheEventKind::FicheSigned;
    p.version = 1;
    p.motive = None;
    p.court_code = court;
    p.seq = seq;
    p.created_at = now;
    p.niu = Niu::build(court, 2026, u32::try_from(seq)?)?;
    p.audit_head.seq = seq * 4;
    p.fiche.number = seq;
    p.fiche.reference = format!("{seq}/COR/{court}/2026");
    p.fiche.signed_at = now;
    let n = |list: &[&str], k: u64| list[((g / k) % list.len() as u64) as usize].to_owned();
    let j = &mut p.fiche.justiciable;
    j.surname = format!("{} {}", n(SURNAMES, 1), n(SURNAMES, SURNAMES.len() as u64));
    j.given_names = format!("{} {}", n(GIVEN, 3), n(GIVEN, 7));
    j.birth_date = time::Date::from_calendar_date(1950, time::Month::January, 1)?
        + time::Duration::days(((g * 7919) % 19_000) as i64);
    j.birth_place = n(PLACES, 5);
    j.father = Some(format!("{} {}", n(SURNAMES, 11), n(GIVEN, 13)));
    j.mother = Some(format!("{} {}", n(GIVEN, 17), n(SURNAMES, 19)));
    Ok(p.into_message())
}

/// Seals, for each court (round after round), `per_court` envelopes of `size` fiches, on two
/// threads (before the clock starts).
fn seal_envelopes(
    courts: &mut [Court],
    cjn_cert: &X509,
    t: &Templates,
    per_court: usize,
    size: usize,
    next_g: &mut u64,
) -> anyhow::Result<Vec<Envelope>> {
    // Messages first (sequence numbers in order per court), then sealing in parallel.
    let mut plan: Vec<(usize, Vec<Message>)> = Vec::new();
    for _round in 0..per_court {
        for (i, c) in courts.iter_mut().enumerate() {
            let mut msgs = Vec::with_capacity(size);
            for _ in 0..size {
                c.next_seq += 1;
                msgs.push(fiche_message(t, c.code, c.next_seq, *next_g)?);
                *next_g += 1;
            }
            plan.push((i, msgs));
        }
    }
    let courts: &[Court] = courts;
    let threads = 2;
    let mut out: Vec<Option<Envelope>> = (0..plan.len()).map(|_| None).collect();
    std::thread::scope(|s| -> anyhow::Result<()> {
        let handles: Vec<_> = (0..threads)
            .map(|k| {
                let plan = &plan;
                s.spawn(move || -> anyhow::Result<Vec<(usize, Envelope)>> {
                    let mut v = Vec::new();
                    for (n, (i, msgs)) in plan.iter().enumerate().skip(k).step_by(threads) {
                        let c = &courts[*i];
                        let payload = protocol::seal_messages(msgs, &c.identity, cjn_cert)?;
                        v.push((
                            n,
                            Envelope {
                                court: *i,
                                topic: topics::up(c.code),
                                payload,
                                ids: msgs.iter().map(|m| m.header.message_id).collect(),
                            },
                        ));
                    }
                    Ok(v)
                })
            })
            .collect();
        for h in handles {
            for (n, e) in h
                .join()
                .map_err(|_| anyhow::anyhow!("sealing thread panicked"))??
            {
                out[n] = Some(e);
            }
        }
        Ok(())
    })?;
    Ok(out.into_iter().flatten().collect())
}

// ---------------------------------------------------------------------------------------------
// MQTT

/// The gateway account (and client id) of publishing connection `k`, or of the answers'
/// subscriber.
fn gateway_client(k: Option<usize>) -> String {
    match k {
        Some(k) => format!("bench-courts-{k}"),
        None => "bench-answers".into(),
    }
}

fn mqtt_options(id: &str, port: u16) -> MqttOptions {
    let mut o = MqttOptions::new(id, "127.0.0.1", port);
    o.set_credentials(id, GATEWAY_PASSWORD);
    o.set_keep_alive(Duration::from_secs(30));
    o.set_max_packet_size(2 << 20, 2 << 20);
    o
}

/// Connects and drives the event loop in a task; returns once connected (and subscribed).
async fn mqtt_connect(
    options: MqttOptions,
    subscribe: Option<&str>,
    received: Option<mpsc::UnboundedSender<(String, Instant, bytes::Bytes)>>,
) -> anyhow::Result<AsyncClient> {
    let (client, mut eventloop) = AsyncClient::new(options, 4096);
    if let Some(t) = subscribe {
        client.subscribe(t, QoS::AtLeastOnce).await?;
    }
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match eventloop.poll().await? {
                Event::Incoming(Packet::SubAck(_)) => return Ok::<(), anyhow::Error>(()),
                Event::Incoming(Packet::ConnAck(_)) if subscribe.is_none() => return Ok(()),
                _ => {}
            }
        }
    })
    .await
    .context("MQTT connection")??;
    tokio::spawn(async move {
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    if let Some(tx) = &received {
                        let topic = p.topic.clone();
                        let _ = tx.send((topic, Instant::now(), p.payload));
                    }
                }
                Ok(_) => {}
                // The broker is gone (the phase ended, or a failure: the run then times out).
                Err(_) => break,
            }
        }
    });
    Ok(client)
}

// ---------------------------------------------------------------------------------------------
// One measured run

struct RunResult {
    fiches: usize,
    envelopes: usize,
    secs: f64,
    latencies_ms: Vec<f64>,
    cpu: Cpu,
    load: String,
}

struct Bench {
    courts: Vec<Court>,
    court_trust: TrustStore,
    cjn_cert: X509,
    /// The CJN's key, for the OpenSSL floor.
    cjn_key: openssl::pkey::PKey<openssl::pkey::Private>,
    templates: Templates,
    next_g: u64,
    publishers: Vec<AsyncClient>,
    answers: mpsc::UnboundedReceiver<(String, Instant, bytes::Bytes)>,
    index_of: HashMap<String, usize>,
    admin: tokio_postgres::Client,
    pids: Pids,
    fiches_sent: i64,
}

impl Bench {
    /// Publishes the envelopes (each court's in order, on its connection), paced at `rate`
    /// envelopes per second if given, and waits for every answer; checks them and the registry.
    async fn run(
        &mut self,
        envelopes: Vec<Envelope>,
        rate: Option<f64>,
    ) -> anyhow::Result<RunResult> {
        let conns = self.publishers.len();
        let total = envelopes.len();
        let fiches: usize = envelopes.iter().map(|e| e.ids.len()).sum();
        // Per connection, in order; remember each envelope's position.
        let mut per_conn: Vec<Vec<(usize, String, Vec<u8>)>> = vec![Vec::new(); conns];
        let mut meta: Vec<(usize, Vec<Uuid>)> = Vec::with_capacity(total);
        for (n, e) in envelopes.into_iter().enumerate() {
            per_conn[e.court % conns].push((n, e.topic, e.payload));
            meta.push((e.court, e.ids));
        }
        while let Ok(stray) = self.answers.try_recv() {
            eprintln!("warning: a stray answer on {} before the run", stray.0);
        }
        let load = loadavg();
        let cpu_before = cpu_now(&self.pids);
        let started = Instant::now();
        let mut tasks = Vec::new();
        for (k, list) in per_conn.into_iter().enumerate() {
            let client = self.publishers[k].clone();
            let interval = rate.map(|r| Duration::from_secs_f64(conns as f64 / r));
            tasks.push(tokio::spawn(async move {
                let mut times = Vec::with_capacity(list.len());
                let mut tick = interval.map(|i| {
                    let mut t = tokio::time::interval(i);
                    t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
                    t
                });
                for (n, topic, payload) in list {
                    if let Some(t) = tick.as_mut() {
                        t.tick().await;
                    }
                    let at = Instant::now();
                    client
                        .publish(topic, QoS::AtLeastOnce, false, payload)
                        .await?;
                    times.push((n, at));
                }
                Ok::<_, anyhow::Error>(times)
            }));
        }
        // Answers, per court in arrival order.
        let mut got: Vec<Vec<(Instant, bytes::Bytes)>> = vec![Vec::new(); self.courts.len()];
        let mut received = 0usize;
        let mut last = started;
        let deadline = Duration::from_secs(600);
        while received < total {
            let left = deadline.saturating_sub(started.elapsed());
            match tokio::time::timeout(left, self.answers.recv()).await {
                Ok(Some((topic, at, payload))) => {
                    let Some(&i) = self.index_of.get(&topic) else {
                        bail!("answer on an unexpected topic {topic}");
                    };
                    got[i].push((at, payload));
                    received += 1;
                    last = at;
                }
                Ok(None) => bail!("the answer channel closed"),
                Err(_) => bail!(
                    "{received} answers of {total} after {} s",
                    deadline.as_secs()
                ),
            }
        }
        let secs = (last - started).as_secs_f64();
        let cpu_after = cpu_now(&self.pids);
        let mut published: Vec<Option<Instant>> = vec![None; total];
        for t in tasks {
            for (n, at) in t.await.context("publisher task")?? {
                published[n] = Some(at);
            }
        }
        // Match each answer to its envelope by the message ids it receipts (opened and checked
        // after the clock): with several workers or instances a court's answers may come in
        // another order than its envelopes.
        let answers: Vec<(usize, Instant, bytes::Bytes)> = got
            .into_iter()
            .enumerate()
            .flat_map(|(court, list)| list.into_iter().map(move |(at, p)| (court, at, p)))
            .collect();
        let receipted = self.verify(&answers)?;
        let mut envelope_of: HashMap<Vec<Uuid>, usize> = HashMap::with_capacity(total);
        for (n, (_, ids)) in meta.iter().enumerate() {
            let mut ids = ids.clone();
            ids.sort();
            envelope_of.insert(ids, n);
        }
        let mut pairs: Vec<(usize, usize, Instant)> = Vec::with_capacity(total);
        for ((court, at, _), ids) in answers.iter().zip(receipted) {
            let n = envelope_of.remove(&ids).with_context(|| {
                format!(
                    "court {}: an answer whose receipts match no envelope sent (or one answered twice)",
                    self.courts[*court].code
                )
            })?;
            if meta[n].0 != *court {
                bail!(
                    "an answer on court {}'s topic for another court's envelope",
                    self.courts[*court].code
                );
            }
            pairs.push((n, *court, *at));
        }
        let latencies_ms: Vec<f64> = pairs
            .iter()
            .map(|(n, _, at)| {
                published[*n]
                    .map(|p| (*at - p).as_secs_f64() * 1000.0)
                    .unwrap_or(f64::NAN)
            })
            .collect();
        self.fiches_sent += fiches as i64;
        let in_registry: i64 = self
            .admin
            .query_one("select count(*) from registry.fiche", &[])
            .await?
            .get(0);
        if in_registry != self.fiches_sent {
            bail!(
                "registry.fiche holds {in_registry} fiches, {} sent",
                self.fiches_sent
            );
        }
        Ok(RunResult {
            fiches,
            envelopes: total,
            secs,
            latencies_ms,
            cpu: Cpu {
                ingest: cpu_after.ingest - cpu_before.ingest,
                pg: cpu_after.pg.saturating_sub(cpu_before.pg),
                broker: cpu_after.broker - cpu_before.broker,
                bench: cpu_after.bench - cpu_before.bench,
                pg_by_kind: cpu_after
                    .pg_by_kind
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.clone(),
                            v.saturating_sub(cpu_before.pg_by_kind.get(k).copied().unwrap_or(0)),
                        )
                    })
                    .filter(|(_, v)| *v > 0)
                    .collect(),
            },
            load,
        })
    }

    /// Every answer opens with the court's key, comes from the CJN, and holds receipts only (on
    /// two threads); the ids each receipts, sorted.
    fn verify(&self, answers: &[(usize, Instant, bytes::Bytes)]) -> anyhow::Result<Vec<Vec<Uuid>>> {
        let threads = 2;
        std::thread::scope(|s| -> anyhow::Result<Vec<Vec<Uuid>>> {
            let hs: Vec<_> = (0..threads)
                .map(|k| {
                    s.spawn(move || -> anyhow::Result<Vec<(usize, Vec<Uuid>)>> {
                        let mut out = Vec::new();
                        for (i, (court, _, payload)) in
                            answers.iter().enumerate().skip(k).step_by(threads)
                        {
                            let c = &self.courts[*court];
                            let (_, msgs) = protocol::open_messages(
                                payload,
                                &c.identity,
                                &self.court_trust,
                                Party::Cjn,
                            )
                            .with_context(|| format!("opening an answer to court {}", c.code))?;
                            let mut ids: Vec<Uuid> = Vec::new();
                            for m in msgs {
                                match m.body {
                                    Body::Receipt(r) => ids.push(r.message_id),
                                    other => bail!(
                                        "court {}: answer {} instead of a receipt: {other:?}",
                                        c.code,
                                        other.kind()
                                    ),
                                }
                            }
                            ids.sort();
                            out.push((i, ids));
                        }
                        Ok(out)
                    })
                })
                .collect();
            let mut all = vec![Vec::new(); answers.len()];
            for h in hs {
                for (i, ids) in h
                    .join()
                    .map_err(|_| anyhow::anyhow!("verify thread panicked"))??
                {
                    all[i] = ids;
                }
            }
            Ok(all)
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Figures

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    percentile(&v, 0.5)
}

struct Row {
    registered: u32,
    scenario: String,
    fiches_per_sec: f64,
    envelopes_per_sec: f64,
    runs: Vec<f64>,
    p50_ms: f64,
    p95_ms: f64,
    cpu_ingest_ms_per_fiche: f64,
    cpu_pg_ms_per_fiche: f64,
    cpu_split: String,
    load: String,
    /// The same envelopes opened by OpenSSL alone, fiches a second (see [`openssl_floor`]).
    floor_fiches_per_sec: Option<f64>,
}

fn summarize(registered: u32, scenario: &str, results: &[RunResult], ticks: u64) -> Row {
    let rates: Vec<f64> = results.iter().map(|r| r.fiches as f64 / r.secs).collect();
    let env_rates: Vec<f64> = results
        .iter()
        .map(|r| r.envelopes as f64 / r.secs)
        .collect();
    // Latency of the median run (by throughput).
    let mut order: Vec<usize> = (0..results.len()).collect();
    order.sort_by(|a, b| rates[*a].total_cmp(&rates[*b]));
    let mid = &results[order[order.len() / 2]];
    let mut lat = mid.latencies_ms.clone();
    lat.sort_by(f64::total_cmp);
    let per_fiche = |t: u64| t as f64 * 1000.0 / ticks as f64 / mid.fiches as f64;
    let wall = mid.secs;
    let share = |t: u64| t as f64 / ticks as f64 / wall * 100.0;
    Row {
        registered,
        scenario: scenario.to_owned(),
        fiches_per_sec: median(rates.clone()),
        envelopes_per_sec: median(env_rates),
        runs: rates,
        p50_ms: percentile(&lat, 0.5),
        p95_ms: percentile(&lat, 0.95),
        cpu_ingest_ms_per_fiche: per_fiche(mid.cpu.ingest),
        cpu_pg_ms_per_fiche: per_fiche(mid.cpu.pg),
        cpu_split: format!(
            "ingest {:.0}%, postgres {:.0}%, mosquitto {:.0}%, bench {:.0}% of one core",
            share(mid.cpu.ingest),
            share(mid.cpu.pg),
            share(mid.cpu.broker),
            share(mid.cpu.bench)
        ),
        load: mid.load.clone(),
        floor_fiches_per_sec: None,
    }
}

/// The floor of a scenario: `envelopes` (sealed bytes, sending court, fiches) opened by
/// OpenSSL alone — `CmsContentInfo::decrypt` with the CJN's key, then `verify` with the
/// court's certificate (no chain, no decoding) — on as many threads as the machine has cores,
/// wall clock; fiches a second.
fn openssl_floor(
    envelopes: &[(Vec<u8>, usize, usize)],
    courts: &[Court],
    cjn_key: &openssl::pkey::PKeyRef<openssl::pkey::Private>,
    cjn_cert: &X509,
) -> anyhow::Result<f64> {
    use openssl::cms::{CMSOptions, CmsContentInfo};
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let start = Instant::now();
    std::thread::scope(|s| -> anyhow::Result<()> {
        let handles: Vec<_> = (0..threads)
            .map(|k| {
                s.spawn(move || -> anyhow::Result<()> {
                    for (sealed, court, _) in envelopes.iter().skip(k).step_by(threads) {
                        let signed =
                            CmsContentInfo::from_der(sealed)?.decrypt(cjn_key, cjn_cert)?;
                        let mut certs = openssl::stack::Stack::new()?;
                        certs.push(courts[*court].identity.cert().clone())?;
                        let mut content = Vec::new();
                        CmsContentInfo::from_der(&signed)?.verify(
                            Some(&certs),
                            None,
                            None,
                            Some(&mut content),
                            CMSOptions::BINARY
                                | CMSOptions::NOINTERN
                                | CMSOptions::NO_SIGNER_CERT_VERIFY,
                        )?;
                    }
                    Ok(())
                })
            })
            .collect();
        for h in handles {
            h.join()
                .map_err(|_| anyhow::anyhow!("floor thread panicked"))??;
        }
        Ok(())
    })?;
    let fiches: usize = envelopes.iter().map(|e| e.2).sum();
    Ok(fiches as f64 / start.elapsed().as_secs_f64())
}

fn print_row(r: &Row) {
    let (floor, share) = match r.floor_fiches_per_sec {
        Some(f) => (
            format!("{f:.0}"),
            format!("{:.0} %", r.fiches_per_sec / f * 100.0),
        ),
        None => (String::new(), String::new()),
    };
    println!(
        "{:>10} | {:<22} | {:>8.0} | {:>8.0} | {:>7.0} | {:>7.0} | {:>9.2} | {:>9.2} | {:>9} | {:>8} | {}",
        r.registered,
        r.scenario,
        r.fiches_per_sec,
        r.envelopes_per_sec,
        r.p50_ms,
        r.p95_ms,
        r.cpu_ingest_ms_per_fiche,
        r.cpu_pg_ms_per_fiche,
        floor,
        share,
        r.load
    );
}

fn print_header() {
    println!(
        "{:>10} | {:<22} | {:>8} | {:>8} | {:>7} | {:>7} | {:>9} | {:>9} | {:>9} | {:>8} | load avg at start",
        "registered",
        "scenario",
        "fiches/s",
        "env/s",
        "p50 ms",
        "p95 ms",
        "ingest ms",
        "pg ms",
        "floor f/s",
        "of floor"
    );
    println!("{}", "-".repeat(142));
}

// ---------------------------------------------------------------------------------------------
// A phase: one CJN with `registered` courts

struct PhaseReport {
    rows: Vec<Row>,
    start_line: String,
}

async fn phase(
    opts: &Opts,
    cache: &Cache,
    registered: u32,
    ticks: u64,
) -> anyhow::Result<PhaseReport> {
    eprintln!(
        "== {registered} registered courts, {} sending",
        opts.senders
    );
    let tmp = tempfile::Builder::new()
        .prefix("xmjuris-bench-ingest-")
        .tempdir()?;
    // PostgreSQL, durable.
    let started = Instant::now();
    let pg_dir = tmp.path().join("pg");
    let cluster = if opts.pg_stat_statements {
        let first = sandbox::PgCluster::start_with(sandbox::PgOptions {
            dir: Some(pg_dir.clone()),
            durable: true,
            keep_running: true,
            ..Default::default()
        })?;
        first.stop()?;
        let conf = first.data_dir().join("postgresql.conf");
        let mut f = std::fs::OpenOptions::new().append(true).open(&conf)?;
        writeln!(
            f,
            "shared_preload_libraries = 'pg_stat_statements'\npg_stat_statements.track = all"
        )?;
        drop(first);
        sandbox::PgCluster::start_with(sandbox::PgOptions {
            dir: Some(pg_dir.clone()),
            durable: true,
            keep_running: false,
            ..Default::default()
        })?
    } else {
        sandbox::PgCluster::start_with(sandbox::PgOptions {
            dir: Some(pg_dir.clone()),
            durable: true,
            keep_running: false,
            ..Default::default()
        })?
    };
    cluster.create_database("cjn")?;
    db::migrate(&cluster.admin_url("cjn"), db::Schema::Cjn).await?;
    let admin = db::connect(&cluster.admin_url("cjn")).await?;
    admin
        .batch_execute(&format!(
            "create role ingest login password '{INGEST_PASSWORD}' in role cjn_ingest;
             select count(cjn.register_court(lpad(g::text, 5, '0'), 'Tribunal de première instance n° ' || g,
                    'REGION ' || (g % 10), 'DEPARTEMENT ' || (g % 58), 'ARRONDISSEMENT ' || (g % 360)))
               from generate_series(1, {registered}) g;"
        ))
        .await?;
    // Their certificates, recorded as cjn-ingest records what it issues.
    let entries: Vec<(u32, &CertEntry)> = cache
        .index
        .range(1..=registered)
        .map(|(c, e)| (*c, e))
        .collect();
    let issued = cache.pki_dir.join(pki::files::ISSUED_DIR);
    for chunk in entries.chunks(5000) {
        let mut codes = Vec::new();
        let mut serials = Vec::new();
        let mut skis = Vec::new();
        let mut nbs = Vec::new();
        let mut nas = Vec::new();
        let mut ders = Vec::new();
        for (code, e) in chunk {
            codes.push(format!("{code:05}"));
            serials.push(e.serial.clone());
            skis.push(e.ski.clone());
            nbs.push(time::OffsetDateTime::from_unix_timestamp(e.not_before)?);
            nas.push(time::OffsetDateTime::from_unix_timestamp(e.not_after)?);
            ders.push(pki::read_cert(&issued.join(&e.file))?.to_der()?);
        }
        admin
            .execute(
                "select count(cjn.record_certificate(c, s, k, nb, na, d)) \
                   from unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[], $6::bytea[]) \
                     as u(c, s, k, nb, na, d)",
                &[&codes, &serials, &skis, &nbs, &nas, &ders],
            )
            .await?;
    }
    admin.batch_execute("vacuum analyze").await?;
    eprintln!(
        "CJN database: {registered} courts and certificates in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // The broker; cjn-ingest's PKI directory (the cached CA; no court certificate in issued/:
    // the registry holds them all).
    // One gateway account per connection: the broker binds each account to one client id.
    let mut users: Vec<sandbox::BrokerUser> = (1..=opts.instances)
        .map(|k| sandbox::BrokerUser::cjn(&format!("cjn-{k}"), CJN_BROKER_PASSWORD))
        .collect();
    for k in 0..opts.connections {
        users.push(sandbox::BrokerUser::gateway(
            &gateway_client(Some(k)),
            GATEWAY_PASSWORD,
        ));
    }
    users.push(sandbox::BrokerUser::gateway(
        &gateway_client(None),
        GATEWAY_PASSWORD,
    ));
    let broker = sandbox::Broker::start(&users)?;
    let pki_dir = tmp.path().join("cjn-pki");
    std::fs::create_dir_all(pki_dir.join(pki::files::ISSUED_DIR))?;
    std::fs::create_dir_all(pki_dir.join(pki::files::CODES_DIR))?;
    for f in [
        pki::files::ROOT_CRT,
        pki::files::ISSUING_CRT,
        pki::files::ISSUING_KEY,
        pki::files::CJN_CRT,
        pki::files::CJN_KEY,
        pki::files::CRL,
        pki::files::REVOKED,
    ] {
        std::fs::copy(cache.pki_dir.join(f), pki_dir.join(f))?;
    }
    // One process per instance (accounts cjn-1, cjn-2, ...), sharing the broker's shared
    // subscription as the CJN's instances do.
    let mut children = Vec::new();
    let mut ingest_pids = Vec::new();
    let mut log_paths = Vec::new();
    let spawned = Instant::now();
    for k in 1..=opts.instances {
        let config = tmp.path().join(format!("cjn-ingest-{k}.toml"));
        std::fs::write(
            &config,
            format!(
                r#"[database]
url = "host=127.0.0.1 port={pg} dbname=cjn user=ingest"
password = "{INGEST_PASSWORD}"

[broker]
host = "127.0.0.1"
port = {mqtt}
username = "cjn-{k}"
password = "{CJN_BROKER_PASSWORD}"
receive_maximum = {rm}

[pki]
dir = "{pki}"

[ingest]
workers = {workers}
"#,
                pg = cluster.port(),
                mqtt = broker.port(),
                rm = opts.receive_maximum,
                pki = pki_dir.display(),
                workers = opts.workers,
            ),
        )?;
        let log_path = tmp.path().join(format!("cjn-ingest-{k}.log"));
        let child = std::process::Command::new(&opts.ingest_bin)
            .arg("--config")
            .arg(&config)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&log_path)?)
            .spawn()
            .context("starting cjn-ingest")?;
        ingest_pids.push(child.id());
        children.push(KillOnDrop(child));
        log_paths.push(log_path);
    }
    let log_path = log_paths[0].clone();
    let ingest_pid = ingest_pids[0];
    let wait_log = |path: &Path, needle: &'static str, secs: u64| -> anyhow::Result<f64> {
        let t = Instant::now();
        loop {
            let log = std::fs::read_to_string(path).unwrap_or_default();
            if log.contains(needle) {
                return Ok(spawned.elapsed().as_secs_f64());
            }
            if t.elapsed() > Duration::from_secs(secs) {
                bail!("cjn-ingest: no \"{needle}\" after {secs} s; log:\n{log}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let mut serving = 0.0f64;
    for path in &log_paths {
        serving = serving.max(wait_log(path, "Subscribed to the courts' topics.", 300)?);
    }
    let rss_serving = status_kib(ingest_pid, "VmRSS:");
    // Certificates are parsed per court on its first message (trust.rs): no background parsing
    // to wait for.
    let start_line = format!(
        "{registered} courts: {} cjn-ingest instance(s) of {} workers serving {serving:.1} s after start \
         (RSS of the first {} MiB)",
        opts.instances,
        opts.workers,
        rss_serving / 1024
    );
    eprintln!("{start_line}");

    // The sending courts.
    let cjn_cert = cache.pki.identity().cert().clone();
    let mut court_trust =
        TrustStore::new(cache.pki.root().clone(), vec![cache.pki.issuing().clone()]);
    court_trust.add_peer(cjn_cert.clone())?;
    court_trust.set_crl(cache.pki.crl()?)?;
    let mut courts = Vec::new();
    let mut index_of = HashMap::new();
    for code in 1..=opts.senders {
        let e = &cache.index[&code];
        let key = pki::read_key(&cache.keys_dir.join(format!("{code:05}.key")))?;
        let cert = pki::read_cert(&issued.join(&e.file))?;
        let court = CourtCode::new(code)?;
        index_of.insert(topics::down(court), courts.len());
        courts.push(Court {
            code: court,
            identity: Identity::new(key, cert)?,
            next_seq: 0,
        });
    }
    let (tx, rx) = mpsc::unbounded_channel();
    mqtt_connect(
        mqtt_options(&gateway_client(None), broker.port()),
        Some("xmjuris/v1/+/down"),
        Some(tx),
    )
    .await?;
    let mut publishers = Vec::new();
    for k in 0..opts.connections {
        publishers.push(
            mqtt_connect(
                mqtt_options(&gateway_client(Some(k)), broker.port()),
                None,
                None,
            )
            .await?,
        );
    }
    let postmaster: u32 = std::fs::read_to_string(cluster.data_dir().join("postmaster.pid"))?
        .lines()
        .next()
        .context("postmaster.pid")?
        .trim()
        .parse()?;
    let broker_pid = find_pid(&broker.dir().display().to_string());
    let mut bench = Bench {
        courts,
        court_trust,
        cjn_cert,
        cjn_key: pki::read_key(&cache.pki_dir.join(pki::files::CJN_KEY))?,
        templates: Templates {
            typical: OutboxPayload::from_json(samples::TYPICAL_OUTBOX_JSON.as_bytes())?,
            long: OutboxPayload::from_json(samples::LONG_OUTBOX_JSON.as_bytes())?,
        },
        next_g: u64::from(registered) * 1_000_000,
        publishers,
        answers: rx,
        index_of,
        admin,
        pids: Pids {
            ingest: ingest_pids.clone(),
            postmaster,
            broker: broker_pid,
        },
        fiches_sent: 0,
    };

    // Warm-up (not counted): one single-fiche envelope per court (each court's certificate
    // parsed, sessions and caches warm).
    let envs = seal_envelopes(
        &mut bench.courts,
        &bench.cjn_cert,
        &bench.templates,
        1,
        1,
        &mut bench.next_g,
    )?;
    let w = bench.run(envs, None).await?;
    eprintln!("warm-up: {} envelopes in {:.1} s", w.envelopes, w.secs);
    // Statistics of non-empty tables, as autovacuum keeps them in service (plans cached by
    // cjn-ingest's sessions while the tables were empty are made again).
    bench.admin.batch_execute("analyze").await?;
    if opts.pg_stat_statements {
        bench.admin.batch_execute("create extension if not exists pg_stat_statements; select pg_stat_statements_reset()").await?;
    }

    let mut rows = Vec::new();
    let scenarios = [
        (
            format!("burst, {} per envelope", opts.batch_size),
            opts.batch_envelopes,
            opts.batch_size,
        ),
        ("burst, 1 per envelope".to_owned(), opts.single_envelopes, 1),
    ];
    for (name, per_court, size) in scenarios {
        if per_court == 0 {
            continue;
        }
        let mut results = Vec::new();
        let mut floor_envelopes = Vec::new();
        for r in 0..opts.runs {
            let envs = seal_envelopes(
                &mut bench.courts,
                &bench.cjn_cert,
                &bench.templates,
                per_court,
                size,
                &mut bench.next_g,
            )?;
            if r == 0 {
                floor_envelopes = envs
                    .iter()
                    .map(|e| (e.payload.clone(), e.court, e.ids.len()))
                    .collect();
            }
            let res = bench.run(envs, None).await?;
            eprintln!(
                "{name}, run {}: {} fiches in {} envelopes, {:.2} s: {:.0} fiches/s; cpu ingest {:.1} s, postgres {:.1} s, mosquitto {:.1} s, bench {:.1} s; load {}",
                r + 1,
                res.fiches,
                res.envelopes,
                res.secs,
                res.fiches as f64 / res.secs,
                res.cpu.ingest as f64 / ticks as f64,
                res.cpu.pg as f64 / ticks as f64,
                res.cpu.broker as f64 / ticks as f64,
                res.cpu.bench as f64 / ticks as f64,
                res.load
            );
            let kinds: Vec<String> = res
                .cpu
                .pg_by_kind
                .iter()
                .map(|(k, v)| format!("{k} {:.1} s", *v as f64 / ticks as f64))
                .collect();
            eprintln!("  postgres: {}", kinds.join(", "));
            results.push(res);
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        let mut row = summarize(registered, &name, &results, ticks);
        eprintln!("  {}", row.cpu_split);
        let floor = openssl_floor(
            &floor_envelopes,
            &bench.courts,
            &bench.cjn_key,
            &bench.cjn_cert,
        )?;
        eprintln!(
            "  floor: the first run's {} envelopes opened by OpenSSL alone: {floor:.0} fiches/s; the daemon does {:.0} % of it",
            floor_envelopes.len(),
            row.fiches_per_sec / floor * 100.0
        );
        row.floor_fiches_per_sec = Some(floor);
        rows.push(row);
    }
    if opts.paced_secs > 0 && opts.paced_rate > 0.0 {
        let n = (opts.paced_rate * opts.paced_secs as f64).round() as usize;
        let per_court = n.div_ceil(bench.courts.len()).max(1);
        let mut envs = seal_envelopes(
            &mut bench.courts,
            &bench.cjn_cert,
            &bench.templates,
            per_court,
            1,
            &mut bench.next_g,
        )?;
        // Whole rounds only (each court's envelopes in sequence order).
        envs.truncate(per_court * bench.courts.len());
        let name = format!("paced {:.0} env/s, 1 per", opts.paced_rate);
        let res = bench.run(envs, Some(opts.paced_rate)).await?;
        eprintln!("{name}: {} envelopes in {:.2} s", res.envelopes, res.secs);
        rows.push(summarize(registered, &name, &[res], ticks));
    }
    if opts.pg_stat_statements {
        let rows = bench
            .admin
            .query(
                "select calls, round(total_exec_time)::bigint, round(mean_exec_time::numeric, 3)::float8, left(regexp_replace(query, '\\s+', ' ', 'g'), 110) \
                   from pg_stat_statements order by total_exec_time desc limit 25",
                &[],
            )
            .await?;
        println!("pg_stat_statements (after the warm-up), by total time:");
        for r in rows {
            let (calls, total, mean, q): (i64, i64, f64, String) =
                (r.get(0), r.get(1), r.get(2), r.get(3));
            println!("{calls:>9} {total:>8} ms {mean:>8.3} ms  {q}");
        }
    }
    if let Some(secs) = std::env::var("XMJURIS_BENCH_PAUSE_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        // To look at the database by hand: `psql "<url>"`.
        eprintln!(
            "pausing {secs} s; CJN database: {}",
            cluster.admin_url("cjn")
        );
        tokio::time::sleep(Duration::from_secs(secs)).await;
    }
    let hwm = status_kib(ingest_pid, "VmHWM:");
    let rss = status_kib(ingest_pid, "VmRSS:");
    for (pid, mut child) in ingest_pids.iter().zip(children) {
        let _ = std::process::Command::new("kill")
            .arg("-TERM")
            .arg(pid.to_string())
            .status();
        let _ = child.0.wait();
    }
    let start_line = format!(
        "{start_line}; at the end RSS {} MiB, peak (VmHWM) {} MiB",
        rss / 1024,
        hwm / 1024
    );
    if std::env::var_os("XMJURIS_BENCH_KEEP_LOG").is_some() {
        let keep = std::env::temp_dir().join(format!("cjn-ingest-bench-{registered}.log"));
        std::fs::copy(&log_path, &keep)?;
        eprintln!("log kept in {}", keep.display());
    }
    drop(broker);
    drop(cluster);
    Ok(PhaseReport { rows, start_line })
}

/// The daemon, stopped if the benchmark fails.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn main() -> anyhow::Result<()> {
    let opts = parse_opts()?;
    let ticks = clock_ticks();
    let max = opts.registered.iter().copied().max().unwrap_or(1000);
    let cache = ensure_certificates(&opts.cache, max, opts.senders)?;
    if opts.prepare_only {
        return Ok(());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let mut reports = Vec::new();
    for &registered in &opts.registered {
        reports.push(runtime.block_on(phase(&opts, &cache, registered, ticks))?);
    }
    println!();
    println!(
        "cjn-ingest {} (workers {}, receive_maximum {}), {} sending courts over {} MQTT connections, durable PostgreSQL, {} runs (median); {} cores",
        opts.ingest_bin.display(),
        opts.workers,
        opts.receive_maximum,
        opts.senders,
        opts.connections,
        opts.runs,
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0)
    );
    println!(
        "fiches/s, env/s: median of the runs; p50/p95: publish → receipt received, in the median run; ingest ms, pg ms: CPU per fiche; floor: the same envelopes opened by OpenSSL alone on every core (fiches/s), and the daemon's share of it"
    );
    print_header();
    for r in &reports {
        for row in &r.rows {
            print_row(row);
        }
    }
    println!();
    for r in &reports {
        println!("{}", r.start_line);
        for row in &r.rows {
            let runs: Vec<String> = row.runs.iter().map(|x| format!("{x:.0}")).collect();
            println!(
                "  {} / {}: runs {} fiches/s; {}",
                row.registered,
                row.scenario,
                runs.join(", "),
                row.cpu_split
            );
        }
    }
    Ok(())
}
