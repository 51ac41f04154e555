//! `xmjuris`: the operator's command line (set up, migrate, courts, PKI, printing, demo).

mod backup;
mod broker;
mod court;
mod demo;
mod extract;
mod pki;
mod print;
mod reconcile;
mod replica;
mod setup;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

/// XMJuris operator command line.
#[derive(Debug, Parser)]
#[command(name = "xmjuris", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create or upgrade a database schema (a court's or the CJN's); running it twice changes nothing.
    #[command(group(clap::ArgGroup::new("target").required(true).args(["court", "cjn"])))]
    Migrate {
        /// Connection string of a court database, as a superuser.
        #[arg(long, value_name = "DATABASE_URL")]
        court: Option<String>,
        /// Connection string of the CJN database, as a superuser.
        #[arg(long, value_name = "DATABASE_URL")]
        cjn: Option<String>,
    },
    /// A court's identity and staff.
    #[command(subcommand)]
    Court(court::CourtCommand),
    /// Set up a court server or the CJN on Debian/Ubuntu; running it again changes nothing.
    #[command(subcommand)]
    Setup(setup::SetupCommand),
    /// The MQTT broker's configuration, generated from the registry of courts.
    #[command(subcommand)]
    Broker(broker::BrokerCommand),
    /// The public-key infrastructure: CA, enrollment, revocation.
    #[command(subcommand)]
    Pki(pki::PkiCommand),
    /// Print a document to PDF.
    #[command(subcommand)]
    Print(print::PrintCommand),
    /// Check and list the form templates.
    #[command(subcommand)]
    Forms(print::FormsCommand),
    /// Check a printed extract offline: genuine, forged or altered (QR text, image or PDF).
    VerifyExtract(extract::VerifyArgs),
    /// Compare what a court signed and transmitted with what the CJN holds of it.
    Reconcile(reconcile::ReconcileArgs),
    /// Backups: a court's dump and restore (with the recovery from the CJN), the CJN's base backups.
    #[command(subcommand)]
    Backup(backup::BackupCommand),
    /// Start XMJuris on this machine, as far as it is built, with sample users and fiches.
    Demo(demo::DemoArgs),
    /// Make a streaming replica of the CJN's database (pg_basebackup), where statisticians and
    /// heavy reports run instead of the primary.
    Replica(replica::ReplicaArgs),
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(run(cli))
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Migrate { court, cjn } => {
            let (url, schema) = match (court, cjn) {
                (Some(url), _) => (url, db::Schema::Court),
                (None, Some(url)) => (url, db::Schema::Cjn),
                (None, None) => anyhow::bail!("--court or --cjn is required"),
            };
            let report = db::migrate(&url, schema).await?;
            println!("{report}");
            Ok(())
        }
        Command::Court(cmd) => court::run(cmd).await,
        Command::Pki(cmd) => pki::run(cmd).await,
        Command::Broker(cmd) => broker::run(cmd).await,
        Command::Setup(cmd) => setup::run(cmd).await,
        Command::Print(cmd) => print::run_print(cmd).await,
        Command::Forms(cmd) => print::run_forms(cmd).await,
        Command::VerifyExtract(args) => extract::run_verify(args),
        Command::Demo(args) => demo::run(args).await,
        Command::Reconcile(args) => reconcile::run(args).await,
        Command::Replica(args) => replica::run(args).await,
        Command::Backup(cmd) => backup::run(cmd).await,
    }
}
