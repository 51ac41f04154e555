//! `cjn-ingest`: the CJN's daemon between the MQTT broker and the CJN database.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use cjn_ingest::Config;
use clap::{Parser, Subcommand};

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
    /// Create this instance's persistent session on the broker, subscribed to every court's
    /// topics, and exit. Run it at set-up, before any court's listener starts: the broker then
    /// keeps what the courts send for this instance, even before it first runs.
    Subscribe,
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
    daemon::process::init_tracing();
    daemon::process::block_on("cjn-ingest", None, real_main(cli))
}

async fn real_main(cli: Cli) -> anyhow::Result<ExitCode> {
    let config =
        Config::load(&cli.config).with_context(|| format!("loading {}", cli.config.display()))?;
    if let Some(Command::Subscribe) = cli.command {
        cjn_ingest::create_session(&config)
            .await
            .context("creating the session on the broker")?;
        println!(
            "Session `{}` ready on the broker {}:{}: the courts' messages wait for cjn-ingest.",
            config.broker.client_id(),
            config.broker.host,
            config.broker.port
        );
        return Ok(ExitCode::SUCCESS);
    }
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
                "courts {}, certificates {} ({} revoked), messages {} ({} waiting for an earlier one), quarantined {}, open alarms {}, open gaps {} ({} court(s) in gap alarm); last message {}",
                n("courts"),
                n("certificates"),
                n("revoked_certificates"),
                n("messages"),
                n("waiting_for_order"),
                n("quarantined"),
                n("open_alarms"),
                n("open_gaps"),
                n("gap_alarms"),
                t("last_message_at"),
            );
            if n("gap_alarms") > 0 {
                println!(
                    "ALARM: {} court(s) with a sequence gap open for more than {} s: their later messages are held unapplied (select * from cjn.gap_alarms()).",
                    n("gap_alarms"),
                    n("gap_alarm_after_secs")
                );
            }
        }
        // An alarm needs an operator: a non-zero exit lets monitoring see it.
        if s.get("gap_alarms").and_then(|v| v.as_i64()).unwrap_or(0) > 0 {
            return Ok(ExitCode::from(3));
        }
        return Ok(ExitCode::SUCCESS);
    }
    let shutdown =
        daemon::process::shutdown_on_signals("Signal received; finishing the messages at hand.");
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
