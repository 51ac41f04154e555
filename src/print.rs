//! `xmjuris print ...` and `xmjuris forms ...`: printed documents.
//!
//! `print <document>` fills a template of `forms/` with data, read from the
//! court database (`--db`) or from a JSON file (`--data`), and writes a PDF
//! (or PNG pages when the output ends in `.png`). `forms` checks, lists and
//! exports the templates.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use clap::Args;
use forms::{DataKind, Forms, FormsError, Origin};

/// `xmjuris print <document>`: the built-in documents are below; any other
/// template name (one of yours) is accepted too, with the same options as its kind.
#[derive(Debug, clap::Subcommand)]
pub enum PrintCommand {
    /// A fiche, from the court database (`--fiche <id|NIU> --db <URL>`) or a JSON file.
    Fiche(DocumentArgs),
    /// The court's fiches over a period (`--from --to --db <URL>`) or from a JSON file.
    #[command(name = "liste-fiches")]
    ListeFiches(DocumentArgs),
    /// A CJN extract (bulletin n°1, 2 or 3): the answer to a request of this
    /// court (`--request <id> --db <URL>`), or a JSON file (the bulletin's data,
    /// or the CJN's answer itself); the template is `bulletin-<number>` unless
    /// `--template` says otherwise.
    Extract(DocumentArgs),
    /// The CJN's receipt for a transmitted message, from the court database (`--message <seq>
    /// --db <URL>`, once the receipt is stored) or its JSON file.
    #[command(name = "recu-cjn")]
    RecuCjn(DocumentArgs),
    /// Any other document, by its template's name: `xmjuris print <name> [options]`.
    #[command(external_subcommand)]
    Other(Vec<String>),
}

/// Options shared by every document.
#[derive(Debug, Clone, Args)]
pub struct DocumentArgs {
    /// The fiche to print: its id, or its 17-digit NIU.
    #[arg(long, value_name = "ID|NIU", requires = "db")]
    fiche: Option<String>,
    /// The request for an extract whose answer to print (`juris.extract_requests()` lists them).
    #[arg(long, value_name = "ID", requires = "db")]
    request: Option<i64>,
    /// The message whose CJN receipt to print: its number (`seq` in `juris.transmissions()`).
    #[arg(long, value_name = "SEQ", requires = "db")]
    message: Option<i64>,
    /// First day of the period (YYYY-MM-DD), for a list of fiches.
    #[arg(long, value_name = "DATE", requires_all = ["to", "db"])]
    from: Option<String>,
    /// Last day of the period (YYYY-MM-DD), for a list of fiches.
    #[arg(long, value_name = "DATE", requires = "from")]
    to: Option<String>,
    /// Connection string of the court database (as a court staff member).
    #[arg(long, value_name = "URL", env = "XMJURIS_DB")]
    db: Option<String>,
    /// Read the document's data from this JSON file instead of the database.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["fiche", "from", "request", "message"])]
    data: Option<PathBuf>,
    /// Where to write the document: a `.pdf`, or a `.png` for page images.
    #[arg(short, long, value_name = "FILE")]
    output: PathBuf,
    /// Use this template instead of the document's own (a new document of yours).
    #[arg(long, value_name = "NAME")]
    template: Option<String>,
    /// Your template folder: its templates replace the built-in ones of the same name.
    #[arg(long, value_name = "DIR", env = "XMJURIS_FORMS_DIR")]
    templates: Option<PathBuf>,
    /// The document's language: `fr` or `en` (the `-en` template). By default the court's
    /// (`language` in the folder's letterhead.toml), else French.
    #[arg(long, value_name = "fr|en")]
    lang: Option<forms::Lang>,
    /// Print with the built-in template even if the folder has one of the same name.
    #[arg(long)]
    builtin: bool,
    /// Letterhead (country header) file, TOML; defaults to `letterhead.toml` of the template folder.
    #[arg(long, value_name = "FILE", env = "XMJURIS_LETTERHEAD")]
    letterhead: Option<PathBuf>,
}

/// `xmjuris forms ...`.
#[derive(Debug, clap::Subcommand)]
pub enum FormsCommand {
    /// Compile every template of a folder (and the built-in ones it leaves) against sample data.
    Check {
        /// The template folder.
        folder: PathBuf,
    },
    /// List the printable documents, their data and where their template comes from.
    List {
        /// Your template folder.
        #[arg(long, value_name = "DIR", env = "XMJURIS_FORMS_DIR")]
        templates: Option<PathBuf>,
    },
    /// Copy the built-in templates, the sample data and a letterhead into a
    /// folder, as the starting point of your own forms.
    Export {
        /// The folder to create or fill.
        folder: PathBuf,
        /// Overwrite files that are already there.
        #[arg(long)]
        force: bool,
    },
}

pub async fn run_print(cmd: PrintCommand) -> anyhow::Result<()> {
    let (name, args, kind_hint) = match cmd {
        PrintCommand::Fiche(args) => ("fiche".to_owned(), args, Some(DataKind::Fiche)),
        PrintCommand::ListeFiches(args) => {
            ("liste-fiches".to_owned(), args, Some(DataKind::FicheList))
        }
        PrintCommand::Extract(args) => (String::new(), args, Some(DataKind::Bulletin)),
        PrintCommand::RecuCjn(args) => ("recu-cjn".to_owned(), args, Some(DataKind::Receipt)),
        PrintCommand::Other(words) => {
            let Some((name, rest)) = words.split_first() else {
                bail!("name the document to print (xmjuris forms list shows them)");
            };
            #[derive(Debug, clap::Parser)]
            struct Other {
                #[command(flatten)]
                args: DocumentArgs,
            }
            let bin = format!("xmjuris print {name}");
            let parsed = <Other as clap::Parser>::try_parse_from(
                std::iter::once(bin.as_str()).chain(rest.iter().map(String::as_str)),
            )
            .unwrap_or_else(|e| e.exit());
            (name.clone(), parsed.args, None)
        }
    };
    let forms = load_forms(
        args.templates.as_deref(),
        args.letterhead.as_deref(),
        args.builtin,
    )?;
    let mut name = args.template.clone().unwrap_or(name);
    let kind = match kind_hint {
        Some(kind) => kind,
        None => forms
            .templates()?
            .into_iter()
            .find(|t| t.name == name)
            .and_then(|t| t.kind)
            .with_context(|| {
                format!("no document `{name}` that says which data it takes (xmjuris forms list)")
            })?,
    };

    let data = load_data(kind, &args).await?;
    if name.is_empty() {
        let number = data
            .pointer("/bulletin/number")
            .and_then(|n| n.as_u64())
            .context("the extract has no bulletin.number (1, 2 or 3)")?;
        name = format!("bulletin-{number}");
    }
    // A template named with --template prints as it is; a document in the language asked for.
    if args.template.is_none() {
        let lang = args.lang.or(forms.language()).unwrap_or_default();
        name = forms.localized(&name, lang)?;
    }

    let compiled = match forms.compile(&name, &data) {
        Ok(compiled) => compiled,
        Err(error @ FormsError::Template { .. })
        | Err(error @ FormsError::BlankDocument { .. }) => {
            let hint = if forms.user_dir().is_some() && !args.builtin {
                "\nThe built-in template is still available: add --builtin."
            } else {
                ""
            };
            bail!("{error}{hint}");
        }
        Err(error) => return Err(error.into()),
    };
    for warning in compiled.warnings() {
        eprintln!("{warning}");
    }
    write_output(&compiled, &args.output)?;
    let origin = match compiled.origin() {
        Origin::BuiltIn => "built-in template".to_owned(),
        Origin::User(path) => format!("template {}", path.display()),
    };
    println!(
        "{}: {} ({} page(s), {origin})",
        name,
        args.output.display(),
        compiled.page_count()
    );
    Ok(())
}

fn load_forms(
    dir: Option<&Path>,
    letterhead: Option<&Path>,
    builtin: bool,
) -> anyhow::Result<Forms> {
    let mut forms = match dir {
        Some(dir) => Forms::with_user_dir(dir)?,
        None => Forms::builtin(),
    };
    if let Some(path) = letterhead {
        forms = forms.with_letterhead(forms::load_letterhead(path)?);
    }
    Ok(if builtin { forms.builtin_only() } else { forms })
}

async fn load_data(kind: DataKind, args: &DocumentArgs) -> anyhow::Result<serde_json::Value> {
    if let Some(path) = &args.data {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let data = serde_json::from_str(&text)
            .with_context(|| format!("{} is not valid JSON", path.display()))?;
        // An extract may be given as the CJN's answer itself.
        return match kind {
            DataKind::Bulletin => forms::court::bulletin_from_answer(data)
                .with_context(|| format!("in {}", path.display())),
            _ => Ok(data),
        };
    }
    let Some(url) = &args.db else {
        bail!(
            "give the data: --data <FILE>, or --db <URL> with --fiche, --from/--to, --request or --message"
        );
    };
    match kind {
        DataKind::Fiche => {
            let Some(fiche) = &args.fiche else {
                bail!("which fiche? --fiche <id|NIU>");
            };
            fiche_document(url, fiche).await
        }
        DataKind::FicheList => {
            let (Some(from), Some(to)) = (&args.from, &args.to) else {
                bail!("which period? --from YYYY-MM-DD --to YYYY-MM-DD");
            };
            fiche_list_document(url, from, to).await
        }
        DataKind::Bulletin => {
            let Some(id) = args.request else {
                bail!("which extract? --request <id> (the court's request), or --data <FILE>");
            };
            extract_document(url, id).await
        }
        DataKind::Receipt => {
            let Some(seq) = args.message else {
                bail!(
                    "which receipt? --message <seq> (juris.transmissions() lists them), or --data <FILE>"
                );
            };
            let client = connect(url).await?;
            Ok(forms::court::receipt(&client, seq).await?)
        }
    }
}

/// Through `db::connect`: a connection string without a password takes it from `PGPASSWORD` or
/// the password file, as `psql` does.
async fn connect(url: &str) -> anyhow::Result<tokio_postgres::Client> {
    db::connect(url)
        .await
        .context("cannot connect to the court database")
}

async fn fiche_document(url: &str, fiche: &str) -> anyhow::Result<serde_json::Value> {
    let fiche: forms::court::FicheRef = fiche.parse()?;
    let client = connect(url).await?;
    forms::court::fiche(&client, &fiche)
        .await
        .with_context(|| format!("cannot read fiche {fiche}"))
}

async fn fiche_list_document(url: &str, from: &str, to: &str) -> anyhow::Result<serde_json::Value> {
    let client = connect(url).await?;
    forms::court::fiche_list(&client, from, to)
        .await
        .context("cannot read the list of fiches")
}

/// The bulletin of a request this court made, once the CJN's answer is stored.
pub(crate) async fn extract_document(url: &str, id: i64) -> anyhow::Result<serde_json::Value> {
    let client = connect(url).await?;
    Ok(forms::court::extract(&client, id).await?)
}

fn write_output(compiled: &forms::Compiled, output: &Path) -> anyhow::Result<()> {
    let is_png = output
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("png"));
    if !is_png {
        let pdf = compiled.pdf()?;
        return std::fs::write(output, pdf)
            .with_context(|| format!("cannot write {}", output.display()));
    }
    let count = compiled.page_count();
    for page in 0..count {
        let image = compiled.image(page, 2.0)?;
        let path = if count == 1 {
            output.to_owned()
        } else {
            let stem = output
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("page");
            output.with_file_name(format!("{stem}-{}.png", page + 1))
        };
        std::fs::write(&path, &image.png)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

pub async fn run_forms(cmd: FormsCommand) -> anyhow::Result<()> {
    match cmd {
        FormsCommand::Check { folder } => check(&folder),
        FormsCommand::List { templates } => list(templates.as_deref()),
        FormsCommand::Export { folder, force } => export(&folder, force),
    }
}

fn check(folder: &Path) -> anyhow::Result<()> {
    let forms = Forms::with_user_dir(folder)?;
    let outcomes = forms.check()?;
    let mut failed = 0;
    for outcome in &outcomes {
        let t = &outcome.template;
        let origin = match (&t.origin, t.overrides_builtin) {
            (Origin::BuiltIn, _) => "built-in".to_owned(),
            (Origin::User(path), true) => format!("{} (replaces the built-in one)", path.display()),
            (Origin::User(path), false) => format!("{} (new document)", path.display()),
        };
        match &outcome.result {
            Ok(compiled) => {
                println!(
                    "ok    {:<16} {:<10} {} page(s)  {origin}",
                    t.name,
                    t.kind.map(|k| k.to_string()).unwrap_or_default(),
                    compiled.page_count()
                );
                for warning in compiled.warnings() {
                    println!("      {}", warning.to_string().replace('\n', "\n      "));
                }
            }
            Err(error) => {
                failed += 1;
                println!("FAIL  {:<16} {origin}", t.name);
                println!("      {}", error.to_string().replace('\n', "\n      "));
            }
        }
    }
    if failed > 0 {
        bail!("{failed} of {} templates do not compile", outcomes.len());
    }
    println!("{} templates compile.", outcomes.len());
    Ok(())
}

fn list(dir: Option<&Path>) -> anyhow::Result<()> {
    let forms = match dir {
        Some(dir) => Forms::with_user_dir(dir)?,
        None => Forms::builtin(),
    };
    for t in forms.templates()? {
        let origin = match (&t.origin, t.overrides_builtin) {
            (Origin::BuiltIn, _) => "built-in".to_owned(),
            (Origin::User(path), true) => format!("{} (replaces the built-in one)", path.display()),
            (Origin::User(path), false) => path.display().to_string(),
        };
        let kind = t
            .kind
            .map(|k| k.to_string())
            .unwrap_or_else(|| "?".to_owned());
        println!(
            "{:<16} {:<10} {origin}\n    {}",
            t.name, kind, t.description
        );
    }
    Ok(())
}

fn export(folder: &Path, force: bool) -> anyhow::Result<()> {
    std::fs::create_dir_all(folder)
        .with_context(|| format!("cannot create {}", folder.display()))?;
    let samples: Vec<(String, String)> = forms::samples()
        .map(|(name, value)| {
            let text = serde_json::to_string_pretty(&value).unwrap_or_default();
            (format!("samples/{name}"), text)
        })
        .collect();
    let files = forms::builtin_files()
        .map(|(name, text)| (name.to_owned(), text.to_owned()))
        .chain(std::iter::once((
            forms::LETTERHEAD_FILE.to_owned(),
            forms::SAMPLE_LETTERHEAD.to_owned(),
        )))
        .chain(samples);
    let (mut written, mut kept) = (0, 0);
    for (name, text) in files {
        let path = folder.join(&name);
        if path.exists() && !force {
            kept += 1;
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
        written += 1;
    }
    println!(
        "{written} files written in {}{}",
        folder.display(),
        if kept > 0 {
            format!(", {kept} kept (use --force to overwrite)")
        } else {
            String::new()
        }
    );
    Ok(())
}
