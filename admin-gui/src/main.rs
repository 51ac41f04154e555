//! `xmjuris-gui`: the court's desktop application (see the `admin_gui` library).

use std::path::PathBuf;

use admin_gui::{AppOptions, XmApp, config::AppPaths};

const USAGE: &str = "\
xmjuris-gui: the court's desktop application of XMJuris.

Usage: xmjuris-gui [--dir FOLDER]

  --dir FOLDER  keep the workstation file and the drafts in FOLDER (a portable install)
                instead of the user's configuration and data folders
  -h, --help    this help
";

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,admin_gui=info")),
        )
        .init();
    let mut options = AppOptions::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--dir" => {
                let dir = args
                    .next()
                    .ok_or_else(|| anyhow::anyhow!("--dir needs a folder\n\n{USAGE}"))?;
                options.paths = AppPaths::in_dir(&PathBuf::from(dir));
            }
            "-h" | "--help" => {
                print!("{USAGE}");
                return Ok(());
            }
            other => anyhow::bail!("unknown argument: {other}\n\n{USAGE}"),
        }
    }
    eframe::run_native(
        "xmjuris-gui",
        admin_gui::native_options(),
        Box::new(move |cc| Ok(Box::new(XmApp::new(cc, options)))),
    )
    .map_err(|e| anyhow::anyhow!("cannot open the window: {e}"))
}
