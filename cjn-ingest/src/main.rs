//! `cjn-ingest`: the CJN's daemon between the MQTT broker and the CJN database.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use cjn_ingest::Config;
use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(
    name = "cjn-ingest",
    version,
    about = "Receives the courts' signed messages, stores them in the CJN database and answers with signed receipts."
)]
struct Cli {
    /// Configuration file (TOML; XMJURIS__SECTION__KEY variables override it).
    #[arg(
        long,
        short,
        env = "XMJURIS_CJN_INGEST_CONFIG",
        default_value = "cjn-ingest.toml"
    )]
    config: PathBuf,
    /// Handle what the broker holds, and exit once nothing came for `once_idle_secs`.
    #[arg(long)]
    once: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Print a commented default configuration.
    GenerateConfig,
    /// Print the CJN's counts: courts, certificates, messages, quarantine, alarms, gaps.
    Status {
        /// Print the JSON of cjn.ingest_status().
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::GenerateConfig) = cli.command {
        print!("{}", cjn_ingest::config::DEFAULT_TOML);
        return ExitCode::SUCCESS;
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cjn-ingest: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(real_main(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("cjn-ingest: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn real_main(cli: Cli) -> anyhow::Result<ExitCode> {
    let config =
        Config::load(&cli.config).with_context(|| format!("loading {}", cli.config.display()))?;
    if let Some(Command::Status { json }) = cli.command {
        let s = cjn_ingest::status(&config)
            .await
            .context("reading the status")?;
        if json {
            println!("{}", serde_json::to_string_pretty(&s)?);
        } else {
            let n = |k: &str| s.get(k).and_then(|v| v.as_i64()).unwrap_or(0);
            let t = |k: &str| {
                s.get(k)
                    .and_then(|v| v.as_str())
                    .map(str::to_owned)
                    .unwrap_or_else(|| "-".into())
            };
            println!(
                "courts {}, certificates {} ({} revoked), messages {} ({} waiting for an earlier one), quarantined {}, open alarms {}, open gaps {}; last message {}",
                n("courts"),
                n("certificates"),
                n("revoked_certificates"),
                n("messages"),
                n("waiting_for_order"),
                n("quarantined"),
                n("open_alarms"),
                n("open_gaps"),
                t("last_message_at"),
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    let shutdown = CancellationToken::new();
    let signals = shutdown.clone();
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            tracing::error!("Cannot install the signal handlers.");
            return;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        tracing::info!("Signal received; finishing the messages at hand.");
        signals.cancel();
    });
    if cli.once {
        cjn_ingest::run_once(config, shutdown)
            .await
            .context("cjn-ingest")?;
        return Ok(ExitCode::SUCCESS);
    }
    cjn_ingest::run(config, shutdown)
        .await
        .context("cjn-ingest")?;
    Ok(ExitCode::SUCCESS)
}
