//! `xmjuris replica`: a PostgreSQL streaming replica of the CJN's database, where statisticians
//! and heavy reports run, never on the primary that cjn-ingest writes to.
//!
//! PostgreSQL's own machinery, nothing home-made: a role with `REPLICATION`, a physical
//! replication slot (the primary keeps the WAL the replica has not received), `pg_basebackup`,
//! then the replica streams (`primary_conninfo`, `standby.signal`). Long statistics queries get
//! `hot_standby_feedback` and a generous `max_standby_streaming_delay`, so the primary's
//! vacuum does not cancel them. The replica is read-only: every role and grant comes from the
//! primary, so `cjn_statistician` reads `stat` there as it would on the primary.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::Args;

/// The primary's role the replica streams as.
pub const REPLICATION_ROLE: &str = "cjn_replication";

#[derive(Debug, Args)]
pub struct ReplicaArgs {
    /// The primary CJN database, as a superuser (creates the replication role and slot).
    #[arg(long, value_name = "DATABASE_URL")]
    primary: String,
    /// The primary's address as the replica reaches it (its pg_hba.conf must admit
    /// `host replication cjn_replication <replica> scram-sha-256`).
    #[arg(long, value_name = "HOST")]
    primary_host: String,
    /// The primary's port.
    #[arg(long, value_name = "PORT", default_value_t = 5432)]
    primary_port: u16,
    /// The replica's data directory (created; must not hold a cluster yet).
    #[arg(long, value_name = "DIR")]
    pgdata: PathBuf,
    /// The replica's port.
    #[arg(long, value_name = "PORT", default_value_t = 5433)]
    port: u16,
    /// The replica's Unix socket directory (default: PostgreSQL's).
    #[arg(long, value_name = "DIR")]
    socket_dir: Option<PathBuf>,
    /// The replication slot on the primary (one per replica).
    #[arg(long, value_name = "NAME", default_value = "cjn_replica")]
    slot: String,
    /// The system user that runs the replica's server, when this command runs as root.
    #[arg(long, value_name = "USER", default_value = "postgres")]
    os_user: String,
    /// Start the replica (`pg_ctl start`) and wait until it streams; without it, start it with
    /// the system's service (`pg_ctlcluster`, systemd).
    #[arg(long)]
    start: bool,
}

pub async fn run(args: ReplicaArgs) -> anyhow::Result<()> {
    check_name("--slot", &args.slot)?;
    let pgdata = std::path::absolute(&args.pgdata)?;
    if pgdata.join("standby.signal").exists() && pgdata.join("PG_VERSION").exists() {
        eprintln!(
            "{} already holds a replica: nothing changed.",
            pgdata.display()
        );
        if args.start {
            start_and_wait(&args, &pgdata).await?;
        }
        return Ok(());
    }
    if pgdata.join("PG_VERSION").exists() {
        bail!(
            "{} holds a cluster that is not a replica: choose another --pgdata",
            pgdata.display()
        );
    }

    let primary = db::connect(&args.primary).await?;
    let show = |name: &'static str| {
        let primary = &primary;
        async move {
            primary
                .query_one(&format!("show {name}"), &[])
                .await
                .map(|r| r.get::<_, String>(0))
                .with_context(|| format!("reading the primary's {name}"))
        }
    };
    let wal_level = show("wal_level").await?;
    if wal_level == "minimal" {
        bail!("the primary's wal_level is minimal: set it to replica and restart the primary");
    }
    let senders: u32 = show("max_wal_senders").await?.parse().unwrap_or(0);
    if senders == 0 {
        bail!("the primary's max_wal_senders is 0: set it to 10 and restart the primary");
    }
    let hba_ok: bool = primary
        .query_one(
            "select exists (select from pg_hba_file_rules
                              where 'replication' = any (database)
                                and (user_name && array[$1, 'all'])
                                and auth_method = 'scram-sha-256' and error is null)",
            &[&REPLICATION_ROLE],
        )
        .await
        .context("reading the primary's pg_hba.conf (pg_hba_file_rules)")?
        .get(0);
    if !hba_ok {
        bail!(
            "the primary's pg_hba.conf admits no replication connection for {REPLICATION_ROLE}: add\n  \
             host replication {REPLICATION_ROLE} <the replica's address>/32 scram-sha-256\n\
             then `select pg_reload_conf()` on the primary, and run this again"
        );
    }

    // The role, with a new password only the replica's password file holds.
    let password = protocol::broker::generate_password()?;
    let verifier = db::scram_verifier(&password);
    primary
        .batch_execute(&format!(
            "do $$ begin
                 if not exists (select from pg_roles where rolname = '{REPLICATION_ROLE}') then
                     create role {REPLICATION_ROLE} login replication;
                 end if;
             end $$;
             alter role {REPLICATION_ROLE} login replication password '{verifier}';"
        ))
        .await
        .context("creating the replication role on the primary")?;
    let slot_exists: bool = primary
        .query_one(
            "select exists (select from pg_replication_slots where slot_name = $1)",
            &[&args.slot],
        )
        .await?
        .get(0);
    if slot_exists {
        bail!(
            "the primary already has a replication slot « {} » (another replica, or one that was \
             removed: `select pg_drop_replication_slot('{}')` on the primary if it is gone)",
            args.slot,
            args.slot
        );
    }
    primary
        .execute(
            "select pg_create_physical_replication_slot($1, true)",
            &[&args.slot],
        )
        .await
        .context("creating the replication slot")?;

    // The data directory and the password file, private to the server's system user.
    let owner = owner(&args.os_user)?;
    let parent = pgdata
        .parent()
        .context("--pgdata has no parent folder")?
        .to_path_buf();
    std::fs::create_dir_all(&pgdata).with_context(|| format!("creating {}", pgdata.display()))?;
    set_private(&pgdata, 0o700, owner)?;
    let passfile = parent.join(format!("{}.pgpass", args.slot));
    std::fs::write(
        &passfile,
        format!(
            "{}:{}:replication:{REPLICATION_ROLE}:{}\n",
            args.primary_host, args.primary_port, password
        ),
    )
    .with_context(|| format!("writing {}", passfile.display()))?;
    set_private(&passfile, 0o600, owner)?;

    eprintln!(
        "Copying the primary ({}:{}) into {} with pg_basebackup…",
        args.primary_host,
        args.primary_port,
        pgdata.display()
    );
    let mut basebackup = server_command("pg_basebackup", owner.is_some().then_some(&args.os_user))?;
    basebackup
        .env("PGPASSFILE", &passfile)
        .env_remove("PGPASSWORD")
        .arg("-D")
        .arg(&pgdata)
        .args(["-h", &args.primary_host])
        .args(["-p", &args.primary_port.to_string()])
        .args(["-U", REPLICATION_ROLE, "-w"])
        .args(["-X", "stream", "-S", &args.slot])
        .args(["--checkpoint=fast", "--progress"]);
    let status = basebackup.status().context("running pg_basebackup")?;
    if !status.success() {
        bail!("pg_basebackup failed ({status}); see its message above");
    }

    // The replica's own settings, after the primary's (the later line wins).
    let mut settings = format!(
        "\n# Written by `xmjuris replica`: a streaming replica of the CJN, for statistics.\n\
         port = {port}\n\
         hot_standby = on\n\
         hot_standby_feedback = on\n\
         max_standby_streaming_delay = '15min'\n\
         cluster_name = '{slot}'\n\
         primary_conninfo = 'host={host} port={pport} user={REPLICATION_ROLE} passfile={passfile} application_name={slot}'\n\
         primary_slot_name = '{slot}'\n",
        port = args.port,
        slot = args.slot,
        host = args.primary_host,
        pport = args.primary_port,
        passfile = passfile.display(),
    );
    if let Some(dir) = &args.socket_dir {
        settings.push_str(&format!(
            "unix_socket_directories = '{}'\n",
            std::path::absolute(dir)?.display()
        ));
    }
    let auto = pgdata.join("postgresql.auto.conf");
    let mut text = std::fs::read_to_string(&auto).unwrap_or_default();
    text.push_str(&settings);
    std::fs::write(&auto, text).with_context(|| format!("writing {}", auto.display()))?;
    let signal = pgdata.join("standby.signal");
    std::fs::write(&signal, "").with_context(|| format!("writing {}", signal.display()))?;
    for f in [&auto, &signal] {
        set_private(f, 0o600, owner)?;
    }
    eprintln!(
        "Replica made in {} (port {}, slot « {} » on the primary).",
        pgdata.display(),
        args.port,
        args.slot
    );
    if args.start {
        start_and_wait(&args, &pgdata).await?;
    } else {
        eprintln!(
            "Start it with the system's service, or: pg_ctl start -D {}",
            pgdata.display()
        );
    }
    Ok(())
}

/// Starts the replica and waits until it streams from the primary.
async fn start_and_wait(args: &ReplicaArgs, pgdata: &Path) -> anyhow::Result<()> {
    let owner = owner(&args.os_user)?;
    let log = pgdata
        .parent()
        .unwrap_or(pgdata)
        .join(format!("{}.log", args.slot));
    let running = pgdata.join("postmaster.pid").exists();
    if !running {
        if owner.is_some() && !log.exists() {
            std::fs::write(&log, "")?;
            set_private(&log, 0o600, owner)?;
        }
        let mut pg_ctl = server_command("pg_ctl", owner.is_some().then_some(&args.os_user))?;
        pg_ctl
            .args(["start", "-w", "-t", "120", "-D"])
            .arg(pgdata)
            .arg("-l")
            .arg(&log);
        let out = pg_ctl.output().context("running pg_ctl start")?;
        if !out.status.success() {
            bail!(
                "the replica did not start: {}\n(log: {})",
                String::from_utf8_lossy(&out.stderr).trim(),
                log.display()
            );
        }
    }
    // Streaming: the primary lists the slot as active.
    let primary = db::connect(&args.primary).await?;
    let start = Instant::now();
    loop {
        let row = primary
            .query_opt(
                "select s.state, pg_wal_lsn_diff(pg_current_wal_lsn(), s.replay_lsn)::bigint
                   from pg_stat_replication s where s.application_name = $1",
                &[&args.slot],
            )
            .await
            .context("reading pg_stat_replication on the primary")?;
        if let Some(row) = row {
            let state: String = row.get(0);
            if state == "streaming" {
                let lag: Option<i64> = row.get(1);
                eprintln!(
                    "The replica streams from the primary (replay {} bytes behind). Statisticians \
                     connect to it on port {}.",
                    lag.unwrap_or(0),
                    args.port
                );
                return Ok(());
            }
        }
        if start.elapsed() > Duration::from_secs(120) {
            bail!(
                "the replica started but does not stream after 120 s: see {}",
                log.display()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A PostgreSQL server program (pg_basebackup, pg_ctl) of the installed version, run as
/// `os_user` when given (this process being root).
fn server_command(program: &str, os_user: Option<&String>) -> anyhow::Result<Command> {
    let path = pg_bindir()
        .map(|d| d.join(program))
        .filter(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from(program));
    Ok(match os_user {
        Some(user) => {
            let mut c = Command::new("runuser");
            c.args(["-u", user, "--"]).arg(path);
            c
        }
        None => Command::new(path),
    })
}

/// The newest installed PostgreSQL's programs (Debian: /usr/lib/postgresql/<major>/bin).
fn pg_bindir() -> Option<PathBuf> {
    let mut dirs: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| {
            let e = e.ok()?;
            let major = e.file_name().to_str()?.parse().ok()?;
            Some((major, e.path().join("bin")))
        })
        .collect();
    dirs.sort();
    dirs.pop().map(|(_, d)| d)
}

/// The system user's ids when running as root (files are given to it), else none.
fn owner(os_user: &str) -> anyhow::Result<Option<(u32, u32)>> {
    if !sandbox::running_as_root() {
        return Ok(None);
    }
    sandbox::system_user(os_user)
        .map(Some)
        .with_context(|| format!("the system user « {os_user} »"))
}

fn set_private(path: &Path, mode: u32, owner: Option<(u32, u32)>) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("setting the mode of {}", path.display()))?;
    if let Some((uid, gid)) = owner {
        std::os::unix::fs::chown(path, Some(uid), Some(gid))
            .with_context(|| format!("giving {} to uid {uid}", path.display()))?;
    }
    Ok(())
}

/// A slot name: what PostgreSQL takes (lower-case letters, digits, underscore).
fn check_name(what: &str, v: &str) -> anyhow::Result<()> {
    if v.is_empty()
        || v.len() > 63
        || !v
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        bail!("{what} « {v} »: 1 to 63 lower-case letters, digits and '_'");
    }
    Ok(())
}
