//! The pieces of a daemon's thin `main`: tracing to stderr, the runtime, SIGTERM/SIGINT to a
//! cancellation token. Arguments, configuration and the daemon itself are the caller's.

use std::fmt::Display;
use std::future::Future;
use std::process::ExitCode;

use tokio_util::sync::CancellationToken;

/// Logs to stderr, filtered by `RUST_LOG` (`info` when unset or unreadable).
pub fn init_tracing() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
}

/// Runs `main` on a multi-threaded runtime (`worker_threads`, or one per core), and turns its
/// outcome into the exit code: its own, or a failure with the error (`{:#}`, so an
/// `anyhow::Error` shows its causes) on stderr after `name: `.
pub fn block_on<E: Display>(
    name: &str,
    worker_threads: Option<usize>,
    main: impl Future<Output = Result<ExitCode, E>>,
) -> ExitCode {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = worker_threads {
        builder.worker_threads(n);
    }
    let runtime = match builder.enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{name}: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(main) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{name}: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// A token cancelled at the first SIGTERM or SIGINT, which is logged (INFO) with `message`
/// (what the daemon does before it stops). Call inside the runtime.
pub fn shutdown_on_signals(message: &'static str) -> CancellationToken {
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
        tracing::info!("{message}");
        signals.cancel();
    });
    shutdown
}
