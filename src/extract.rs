//! `xmjuris verify-extract`: checks a printed extract's seal offline, from
//! its QR text, a scan or photo (PNG, JPEG) or its PDF; and the conversion of
//! the CJN's answer into the data of a bulletin for `xmjuris print extract`.
//!
//! Exit status: 0 only for a genuine extract (and, with `--content`, a
//! content that is the one sealed); 1 when it is not genuine; 2 when it
//! could not be checked (no QR code found, trust bundle unreadable...).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail};
use protocol::extract::{ContentField, VerifiedExtract, bulletin_number};
use protocol::pki::files;
use protocol::{ExtractAnswer, Reason, TrustStore};
use serde_json::Value;

/// Exit status of an extract that is not genuine.
const EXIT_NOT_GENUINE: i32 = 1;
/// Exit status when the extract could not be checked at all.
const EXIT_CANNOT_CHECK: i32 = 2;
/// Largest image looked at, in pixels (a page at 600 dpi is about 35 million).
const MAX_PIXELS: u64 = 80_000_000;
/// Most PDF pages looked at.
const MAX_PDF_PAGES: u32 = 50;

/// `xmjuris verify-extract`.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// The extract: its QR text (`XMJ1:...`), or an image of it (PNG, JPEG:
    /// scan or photo), or its PDF (read with poppler's `pdftoppm`).
    #[arg(value_name = "QR|IMAGE|PDF")]
    input: String,
    /// What to trust: the bundle of `xmjuris pki verification-bundle` (PEM),
    /// or a PKI directory (CJN's or a court's).
    #[arg(long, value_name = "BUNDLE|DIR", env = "XMJURIS_TRUST")]
    trust: PathBuf,
    /// A newer revocation list (PEM) than the one in the bundle.
    #[arg(long, value_name = "FILE")]
    crl: Option<PathBuf>,
    /// The CJN's answer as stored (JSON): check that it is the very content sealed
    /// and list its convictions to compare with the paper.
    #[arg(long, value_name = "ANSWER.json")]
    content: Option<PathBuf>,
    /// The verification code printed on the paper, to compare with the seal's.
    #[arg(long, value_name = "XXXX-XXXX-XXXX")]
    code: Option<String>,
}

pub fn run_verify(args: VerifyArgs) -> anyhow::Result<()> {
    match verify(&args) {
        Ok(genuine) => {
            std::io::stdout().flush().ok();
            if genuine {
                Ok(())
            } else {
                std::process::exit(EXIT_NOT_GENUINE)
            }
        }
        Err(error) => {
            std::io::stdout().flush().ok();
            eprintln!("Vérification impossible : {error:#}");
            std::process::exit(EXIT_CANNOT_CHECK)
        }
    }
}

/// Prints the verdict; `Ok(true)` only for a genuine extract.
fn verify(args: &VerifyArgs) -> anyhow::Result<bool> {
    let trust = load_trust(&args.trust, args.crl.as_deref())?;
    let qr_text = read_input(&args.input)?;
    let verified = match protocol::verify_extract(&qr_text, &trust) {
        Ok(v) => v,
        Err(error) => {
            println!("Extrait NON AUTHENTIQUE : {}", refusal_fr(error.reason()));
            println!("  (motif technique : {error})");
            return Ok(false);
        }
    };
    let mut problems = Vec::new();
    if let Some(code) = &args.code {
        match protocol::extract::normalize_verification_code(code) {
            Some(c) if c == verified.verification_code => {}
            _ => problems.push(format!(
                "le code de vérification imprimé ({}) n'est pas celui du sceau ({})",
                code.trim(),
                verified.verification_code
            )),
        }
    }
    let content = match &args.content {
        Some(path) => {
            let answer = read_answer(path)?;
            let mismatches = verified
                .content_mismatches(&answer.content())
                .context("cannot compute the content's digest")?;
            if !mismatches.is_empty() {
                problems.push(format!(
                    "le contenu de {} ne correspond pas au sceau du CJN ({})",
                    path.display(),
                    mismatches
                        .iter()
                        .map(|f| field_fr(*f))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            Some((answer, mismatches.is_empty()))
        }
        None => None,
    };
    if problems.is_empty() {
        println!("Extrait AUTHENTIQUE");
    } else {
        println!("Extrait NON AUTHENTIQUE : {}", problems.join(" ; "));
        println!("Ce que le CJN a réellement scellé :");
    }
    print_sealed(&verified);
    if let Some((answer, matches)) = content {
        if matches {
            println!(
                "Contenu complet :      CONFORME au sceau (empreinte SHA-256 {})",
                verified.content_digest.to_hex()
            );
            print_entries(&answer);
        } else {
            println!("Contenu complet :      NON CONFORME au sceau");
        }
    }
    if problems.is_empty() {
        println!(
            "Comparez ces informations avec le papier : numéro, date, identité, \
             « Néant » ou nombre de condamnations, et le code de vérification."
        );
    }
    Ok(problems.is_empty())
}

fn print_sealed(v: &VerifiedExtract) {
    let p = &v.person;
    println!("Bulletin :             n° {}", bulletin_number(v.bulletin));
    println!("Extrait n° :           {}", v.extract_number);
    println!("Délivré le :           {}", datetime_fr(v.issued_at));
    let born = match &p.birth_place {
        Some(place) if !place.is_empty() => {
            format!("né(e) le {} à {place}", date_fr(p.birth_date))
        }
        _ => format!("né(e) le {}", date_fr(p.birth_date)),
    };
    println!(
        "Personne :             {} {}, {born}",
        p.surname.to_uppercase(),
        p.given_names
    );
    if v.is_neant() {
        println!("Condamnations :        Néant");
    } else {
        println!(
            "Condamnations :        {} condamnation{}",
            v.entry_count,
            if v.entry_count > 1 { "s" } else { "" }
        );
    }
    println!("Code de vérification : {}", v.verification_code);
    println!(
        "Signé par :            le casier judiciaire national (certificat {})",
        v.signer_serial
    );
}

fn print_entries(answer: &ExtractAnswer) {
    for (i, e) in answer.entries.iter().enumerate() {
        let c = &e.fiche.condamnation;
        let court = e
            .court_name
            .clone()
            .unwrap_or_else(|| format!("juridiction {}", e.niu.court()));
        println!(
            "  {}. {} — {} — NIU {} — {} — {}",
            i + 1,
            date_fr(c.conviction_date),
            court,
            e.niu,
            c.offence_nature,
            sentence_fr(c)
        );
    }
}

fn sentence_fr(c: &protocol::Condamnation) -> String {
    let mut parts = Vec::new();
    if let Some(m) = c.sentence_months {
        let mut s = format!("{m} mois d'emprisonnement");
        if let Some(sursis) = c.suspended_months.filter(|s| *s > 0) {
            s.push_str(&format!(" dont {sursis} avec sursis"));
        }
        parts.push(s);
    }
    if let Some(f) = c.fine_amount {
        parts.push(format!("amende de {f}"));
    }
    if let Some(ban) = &c.ban {
        parts.push(ban.clone());
    }
    if parts.is_empty() {
        format!("{:?}", c.sentence_type).to_lowercase()
    } else {
        parts.join(", ")
    }
}

fn refusal_fr(reason: Reason) -> &'static str {
    match reason {
        Reason::BadSignature => {
            "la signature ne correspond pas au contenu du sceau (extrait falsifié ou modifié)"
        }
        Reason::UnknownSigner => {
            "signé par une clé que le casier judiciaire national ne connaît pas (faux sceau)"
        }
        Reason::SignerMismatch => {
            "signé par une juridiction, pas par le casier judiciaire national (faux sceau)"
        }
        Reason::UntrustedCertificate => {
            "le certificat du signataire ne dépend pas de l'autorité de certification XMJuris"
        }
        Reason::CertificateExpired => "le certificat du CJN était expiré à la date de délivrance",
        Reason::CertificateNotYetValid => {
            "le certificat du CJN n'était pas encore valide à la date de délivrance"
        }
        Reason::CertificateRevoked => {
            "le certificat du CJN qui l'a signé est révoqué : faites confirmer l'extrait par le CJN \
             avec son code de vérification"
        }
        Reason::SigningTimeInFuture => "la date de délivrance est dans le futur",
        Reason::UnsupportedFormat => "format de sceau inconnu de cette version d'XMJuris",
        Reason::TooLarge => "le code QR est trop long pour être un sceau d'extrait",
        _ => "le code QR n'est pas un sceau d'extrait XMJuris lisible",
    }
}

fn field_fr(f: ContentField) -> &'static str {
    match f {
        ContentField::ExtractNumber => "numéro d'extrait",
        ContentField::Bulletin => "numéro de bulletin",
        ContentField::IssuedAt => "date de délivrance",
        ContentField::Person => "identité de la personne",
        ContentField::EntryCount => "nombre de condamnations",
        ContentField::Digest => "empreinte du contenu",
    }
}

const MONTHS: [&str; 12] = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
];

fn date_fr(d: time::Date) -> String {
    let month = MONTHS
        .get(usize::from(u8::from(d.month())).saturating_sub(1))
        .copied()
        .unwrap_or("?");
    let day = if d.day() == 1 {
        "1er".to_owned()
    } else {
        d.day().to_string()
    };
    format!("{day} {month} {}", d.year())
}

fn datetime_fr(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{} à {:02}:{:02} UTC",
        date_fr(t.date()),
        t.hour(),
        t.minute()
    )
}

/// The trust store from a PEM bundle or a PKI directory, with an optional newer CRL.
fn load_trust(path: &Path, crl: Option<&Path>) -> anyhow::Result<TrustStore> {
    let mut pem = Vec::new();
    if path.is_dir() {
        for name in [
            files::ROOT_CRT,
            files::ISSUING_CRT,
            files::CJN_CRT,
            files::CRL,
        ] {
            let file = path.join(name);
            if name == files::CRL && !file.exists() {
                continue;
            }
            pem.extend(
                std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?,
            );
            pem.push(b'\n');
        }
    } else {
        pem = std::fs::read(path)
            .with_context(|| format!("cannot read the trust bundle {}", path.display()))?;
    }
    if let Some(crl) = crl {
        pem.push(b'\n');
        pem.extend(
            std::fs::read(crl)
                .with_context(|| format!("cannot read the revocation list {}", crl.display()))?,
        );
    }
    protocol::trust_from_pem(&pem)
        .with_context(|| format!("{} is not a usable trust bundle", path.display()))
}

fn read_answer(path: &Path) -> anyhow::Result<ExtractAnswer> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let value: Value = serde_json::from_str(&text)
        .with_context(|| format!("{} is not valid JSON", path.display()))?;
    // The bare answer, or a bulletin document holding it under `answer`.
    let answer = value.get("answer").cloned().unwrap_or(value);
    serde_json::from_value(answer)
        .with_context(|| format!("{} is not an extract answer of the CJN", path.display()))
}

/// The QR text of the input: given as text, or read from an image or a PDF.
fn read_input(input: &str) -> anyhow::Result<String> {
    let trimmed = input.trim();
    if trimmed.starts_with("XMJ") {
        return Ok(trimmed.to_owned());
    }
    let path = Path::new(input);
    if !path.exists() {
        if protocol::extract::normalize_verification_code(trimmed).is_some() {
            bail!(
                "{trimmed} est un code de vérification : il se vérifie auprès du casier \
                 judiciaire national (par téléphone ou au guichet), pas hors ligne. \
                 Donnez ici le texte du QR code, une image ou le PDF de l'extrait."
            );
        }
        bail!("{input} : ni un texte de QR code XMJuris (XMJ1:...), ni un fichier");
    }
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    if bytes.starts_with(b"%PDF") {
        return qr_from_pdf(path);
    }
    if let Ok(format) = image::guess_format(&bytes) {
        return qr_from_image(&bytes, format)
            .with_context(|| format!("in the image {}", path.display()));
    }
    match std::str::from_utf8(&bytes) {
        Ok(text) if text.trim().starts_with("XMJ") => Ok(text.trim().to_owned()),
        _ => bail!(
            "{} : ni une image PNG ou JPEG, ni un PDF, ni un texte de QR code",
            path.display()
        ),
    }
}

/// Decodes every QR code of an image and keeps the first XMJuris seal.
pub fn qr_from_image(bytes: &[u8], format: image::ImageFormat) -> anyhow::Result<String> {
    if !matches!(format, image::ImageFormat::Png | image::ImageFormat::Jpeg) {
        bail!("image format {format:?} not supported: give a PNG or a JPEG");
    }
    let mut reader = image::ImageReader::with_format(std::io::Cursor::new(bytes), format);
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(512 * 1024 * 1024);
    reader.limits(limits);
    let (w, h) = reader
        .into_dimensions()
        .context("cannot read the image's size")?;
    if u64::from(w) * u64::from(h) > MAX_PIXELS {
        bail!("image of {w}×{h} pixels: too large (scan at 300 dpi)");
    }
    let img = image::load_from_memory_with_format(bytes, format)
        .context("cannot decode the image")?
        .into_luma8();
    let (found, other) = qr_texts(&img);
    if let Some(text) = found {
        return Ok(text);
    }
    // Modules of 2 or 3 pixels (a 150 dpi scan) are often missed: try again larger, smoothed,
    // then each also in pure black and white (the grey edges of small modules confuse the
    // detector's own threshold).
    for factor in [2u32, 3] {
        if u64::from(img.width()) * u64::from(img.height()) * u64::from(factor * factor)
            > MAX_PIXELS
        {
            break;
        }
        let larger = image::imageops::resize(
            &img,
            img.width() * factor,
            img.height() * factor,
            image::imageops::FilterType::CatmullRom,
        );
        if let (Some(text), _) = qr_texts(&larger) {
            return Ok(text);
        }
        if let (Some(text), _) = qr_texts(&black_and_white(larger)) {
            return Ok(text);
        }
    }
    if other > 0 {
        bail!("{other} QR code(s) found, none is an XMJuris extract seal");
    }
    bail!("no QR code found (scan or photograph the whole code, flat and sharp)")
}

/// The image in black and white, cut halfway between its darkest and lightest grey.
fn black_and_white(mut img: image::GrayImage) -> image::GrayImage {
    let (lo, hi) = img
        .pixels()
        .fold((255u8, 0u8), |(lo, hi), p| (lo.min(p.0[0]), hi.max(p.0[0])));
    let cut = lo / 2 + hi / 2;
    for p in img.pixels_mut() {
        p.0[0] = if p.0[0] > cut { 255 } else { 0 };
    }
    img
}

/// The first XMJuris seal among the QR codes of `img`, and how many other codes it holds.
fn qr_texts(img: &image::GrayImage) -> (Option<String>, usize) {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let raw = img.as_raw();
    let mut prepared = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| {
        raw.get(y * w + x).copied().unwrap_or(255)
    });
    let mut other = 0;
    for grid in prepared.detect_grids() {
        match grid.decode() {
            Ok((_, text)) if text.starts_with("XMJ") => return (Some(text), other),
            _ => other += 1,
        }
    }
    (None, other)
}

/// Renders the pages of a PDF with `pdftoppm` (poppler-utils), last page
/// first (the seal is at the end), and reads their QR codes.
fn qr_from_pdf(path: &Path) -> anyhow::Result<String> {
    let pages = pdf_pages(path).unwrap_or(1).clamp(1, MAX_PDF_PAGES);
    let mut last_error = None;
    for page in (1..=pages).rev() {
        let p = page.to_string();
        let out = Command::new("pdftoppm")
            .args([
                "-r",
                "200",
                "-gray",
                "-png",
                "-singlefile",
                "-f",
                &p,
                "-l",
                &p,
            ])
            .arg(path)
            .output()
            .context("cannot run pdftoppm (Debian package poppler-utils) to read the PDF")?;
        if !out.status.success() {
            bail!(
                "pdftoppm could not render {}: {}",
                path.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        match qr_from_image(&out.stdout, image::ImageFormat::Png) {
            Ok(text) => return Ok(text),
            Err(e) => last_error = Some(e),
        }
    }
    Err(last_error
        .unwrap_or_else(|| anyhow::anyhow!("empty PDF"))
        .context(format!("in the PDF {}", path.display())))
}

fn pdf_pages(path: &Path) -> Option<u32> {
    let out = Command::new("pdfinfo").arg(path).output().ok()?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .and_then(|n| n.trim().parse().ok())
}
