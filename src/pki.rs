//! `xmjuris pki ...`: the CJN's certificate authority, enrollment codes, revocation.

use std::path::PathBuf;

use anyhow::Context as _;
use protocol::CourtCode;
use protocol::pki::{self, CjnPki};

#[derive(Debug, clap::Subcommand)]
pub enum PkiCommand {
    /// Create the CJN's CA (root and issuing) and the CJN's own certificate.
    Init {
        /// The CJN's PKI directory (created; refused if it already holds a CA).
        #[arg(long, env = "XMJURIS_PKI_DIR")]
        dir: PathBuf,
    },
    /// Create a one-time, expiring enrollment code for one court.
    EnrollmentCode {
        /// The CJN's PKI directory.
        #[arg(long, env = "XMJURIS_PKI_DIR")]
        dir: PathBuf,
        /// The court's code (5 digits).
        #[arg(long)]
        court: CourtCode,
        /// Hours before the code expires.
        #[arg(long, default_value_t = pki::DEFAULT_CODE_HOURS)]
        valid_hours: u32,
    },
    /// Revoke every certificate of a court and write the new revocation list.
    Revoke {
        /// The CJN's PKI directory.
        #[arg(long, env = "XMJURIS_PKI_DIR")]
        dir: PathBuf,
        /// The court's code (5 digits).
        #[arg(long)]
        court: CourtCode,
    },
    /// Re-sign the revocation list (before its next update date).
    Crl {
        /// The CJN's PKI directory.
        #[arg(long, env = "XMJURIS_PKI_DIR")]
        dir: PathBuf,
    },
    /// Write what a verifier of extracts needs, in one PEM file: the root and
    /// issuing CA, the CJN's certificate and the current revocation list (public; no secret).
    VerificationBundle {
        /// The CJN's PKI directory.
        #[arg(long, env = "XMJURIS_PKI_DIR")]
        dir: PathBuf,
        /// The bundle to write.
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
    },
    /// Show the CA's fingerprint and the issued and revoked certificates.
    Show {
        /// The CJN's PKI directory.
        #[arg(long, env = "XMJURIS_PKI_DIR")]
        dir: PathBuf,
    },
}

pub async fn run(cmd: PkiCommand) -> anyhow::Result<()> {
    // File and OpenSSL work only; quick, so done inline.
    match cmd {
        PkiCommand::Init { dir } => {
            let pki = CjnPki::init(&dir)
                .with_context(|| format!("cannot create the PKI in {}", dir.display()))?;
            println!("PKI created in {}", dir.display());
            println!("CA fingerprint (SHA-256): {}", pki.ca_fingerprint()?);
            println!(
                "The root key {} is needed only to create the PKI: keep it offline.",
                dir.join(pki::files::ROOT_KEY).display()
            );
        }
        PkiCommand::EnrollmentCode {
            dir,
            court,
            valid_hours,
        } => {
            let pki = open(&dir)?;
            let code = pki.new_enrollment_code(court, valid_hours)?;
            println!("Court:          {}", code.court);
            println!("Code:           {}", code.code);
            println!("Expires:        {}", code.expires_rfc3339());
            println!("CA fingerprint: {}", code.ca_fingerprint);
            println!(
                "Give both the code and the fingerprint to the court's greffier; the code works once."
            );
        }
        PkiCommand::Revoke { dir, court } => {
            let pki = open(&dir)?;
            pki.revoke(court)?;
            let n = pki.revoked()?.iter().filter(|r| r.court == court).count();
            if n == 0 {
                println!("Court {court}: no certificate issued; revocation list re-signed.");
            } else {
                println!("Court {court}: {n} certificate(s) revoked; revocation list written.");
            }
        }
        PkiCommand::Crl { dir } => {
            open(&dir)?.write_crl()?;
            println!("Revocation list re-signed (valid {} days).", pki::CRL_DAYS);
        }
        PkiCommand::VerificationBundle { dir, output } => {
            let pki = open(&dir)?;
            let bundle = protocol::extract::verification_bundle(&pki)?;
            pki::write_atomic(&output, bundle.as_bytes(), 0o644)
                .with_context(|| format!("cannot write {}", output.display()))?;
            println!("Verification bundle written to {}", output.display());
            println!("CA fingerprint (SHA-256): {}", pki.ca_fingerprint()?);
            println!(
                "Publish it: with it anyone checks an extract offline (xmjuris verify-extract --trust)."
            );
        }
        PkiCommand::Show { dir } => {
            let pki = open(&dir)?;
            println!("CA fingerprint (SHA-256): {}", pki.ca_fingerprint()?);
            let trust = pki.trust_store()?;
            println!("Valid court certificates: {}", trust.peer_count());
            for r in pki.revoked()? {
                println!("revoked {} court {} at {}", r.serial, r.court, r.revoked_at);
            }
        }
    }
    Ok(())
}

fn open(dir: &std::path::Path) -> anyhow::Result<CjnPki> {
    CjnPki::open(dir).with_context(|| format!("cannot open the PKI in {}", dir.display()))
}
