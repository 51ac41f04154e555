//! `xmjuris-gui`: the court's desktop application (see the `admin_gui` library).

use std::path::PathBuf;

use admin_gui::config::{AppPaths, StartLogin};
use admin_gui::{AppOptions, XmApp};

const USAGE: &str = "\
xmjuris-gui: the court's desktop application of XMJuris.

Usage: xmjuris-gui [--dir FOLDER] [--server HOST:PORT/DATABASE] [--login LOGIN]

  --dir FOLDER        keep the workstation file and the drafts in FOLDER (a portable install)
                      instead of the user's configuration and data folders
  --server ADDRESS    the court's server, HOST[:PORT][/DATABASE] (else the one remembered)
  --login LOGIN       log in as LOGIN at start, with the password found where psql finds it
                      (PGPASSWORD, the password file PGPASSFILE or ~/.pgpass); without one,
                      the login screen opens filled in. Never a password on the command line.
  -h, --help          this help
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
    let (mut server, mut login) = (None, None);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--dir" => {
                let dir = args
                    .next()
                    .ok_or_else(|| anyhow::anyhow!("--dir needs a folder\n\n{USAGE}"))?;
                options.paths = AppPaths::in_dir(&PathBuf::from(dir));
            }
            "--server" => {
                server = Some(args.next().ok_or_else(|| {
                    anyhow::anyhow!("--server needs HOST:PORT/DATABASE\n\n{USAGE}")
                })?);
            }
            "--login" => {
                login = Some(
                    args.next()
                        .ok_or_else(|| anyhow::anyhow!("--login needs a login\n\n{USAGE}"))?,
                );
            }
            "-h" | "--help" => {
                print!("{USAGE}");
                return Ok(());
            }
            other => anyhow::bail!("unknown argument: {other}\n\n{USAGE}"),
        }
    }
    match (server, login) {
        (server, Some(login)) => options.start = Some(StartLogin { server, login }),
        (Some(server), None) => {
            options.start = Some(StartLogin {
                server: Some(server),
                login: String::new(),
            })
        }
        (None, None) => {}
    }
    eframe::run_native(
        "xmjuris-gui",
        admin_gui::native_options(),
        Box::new(move |cc| Ok(Box::new(XmApp::new(cc, options)))),
    )
    .map_err(|e| anyhow::anyhow!("cannot open the window: {e}"))
}
