//! `xmjuris-listener`: the court's daemon between its database and the MQTT broker.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use listener::Config;

#[derive(Parser)]
#[command(
    name = "xmjuris-listener",
    version,
    about = "Sends the court's signed fiches to the CJN and stores its receipts."
)]
struct Cli {
    /// Configuration file (TOML; XMJURIS__SECTION__KEY variables override it).
    #[arg(
        long,
        short,
        env = "XMJURIS_LISTENER_CONFIG",
        default_value = "listener.toml"
    )]
    config: PathBuf,
    /// Send what is pending, wait for the receipts, and exit (for cron and tests).
    #[arg(long)]
    once: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Print a commented default configuration.
    GenerateConfig,
    /// Print the transmission status: pending, sent, archived, last contact with the broker.
    Status {
        /// Print the JSON of juris.transmission_status().
        #[arg(long)]
        json: bool,
    },
    /// Send again the messages from this number on that the CJN had receipted (after the CJN
    /// was restored from its backup and lost them: `xmjuris reconcile` names the first).
    Resend {
        /// The first message number to send again.
        #[arg(long, value_name = "N")]
        from_seq: i64,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::GenerateConfig) = cli.command {
        print!("{}", listener::config::DEFAULT_TOML);
        return ExitCode::SUCCESS;
    }
    daemon::process::init_tracing();
    daemon::process::block_on("xmjuris-listener", Some(2), real_main(cli))
}

async fn real_main(cli: Cli) -> anyhow::Result<ExitCode> {
    let config =
        Config::load(&cli.config).with_context(|| format!("loading {}", cli.config.display()))?;
    if let Some(Command::Resend { from_seq }) = cli.command {
        let n = listener::resend_from(&config, from_seq)
            .await
            .context("queuing the messages again")?;
        println!(
            "{n} message(s) from number {from_seq} on will be sent again by the running listener."
        );
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(Command::Status { json }) = cli.command {
        let s = listener::status(&config)
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
                "pending {}, sent {}, acknowledged {}, rejected {}, defective {}, quarantined {}; last contact with the broker {}; oldest pending {}",
                n("pending"),
                n("sent"),
                n("acknowledged"),
                n("rejected"),
                n("defective"),
                n("quarantined"),
                t("last_contact"),
                t("oldest_pending")
            );
            if n("defective") > 0 {
                println!(
                    "ALARM: {} message(s) cannot be transmitted as they stand (see juris.fiche_transmissions): the CJN applies none of the later ones until they are sent.",
                    n("defective")
                );
            }
        }
        // Defective messages need an operator: a non-zero exit lets monitoring see it.
        if s.get("defective").and_then(|v| v.as_i64()).unwrap_or(0) > 0 {
            return Ok(ExitCode::from(3));
        }
        return Ok(ExitCode::SUCCESS);
    }
    let shutdown =
        daemon::process::shutdown_on_signals("Signal received; finishing the message at hand.");
    if cli.once {
        let report = listener::run_once(config, shutdown)
            .await
            .context("sending the outbox")?;
        if report.pending > 0 {
            eprintln!(
                "xmjuris-listener: {} message(s) still wait for the CJN's receipt",
                report.pending
            );
            return Ok(ExitCode::from(2));
        }
        return Ok(ExitCode::SUCCESS);
    }
    listener::run(config, shutdown).await.context("listener")?;
    Ok(ExitCode::SUCCESS)
}
