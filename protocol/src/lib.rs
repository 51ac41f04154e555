//! Message types, compact encoding, CMS seal/open, MQTT topics and PKI helpers of XMJuris.
//!
//! # Layers of a message on the wire
//!
//! 1. [`Message`] = [`Header`] (message id, sender, recipient, per-sender
//!    sequence number, creation time, format version) + [`Body`] (one variant
//!    per exchange). A batch (1 to [`codec::MAX_BATCH`] messages) travels in
//!    one envelope when a backlog builds up.
//! 2. [`codec`]: CBOR with integer keys (minicbor), then raw DEFLATE primed with
//!    a fixed dictionary (a fiche's CBOR skeleton and frequent words); one
//!    codec byte in front; the smaller of plain and compressed is kept.
//! 3. [`mod@seal`]: CMS SignedData (ECDSA P-256/SHA-256, no certificates, signer
//!    by subject key id, signing time as the only optional signed attribute)
//!    inside CMS AuthEnvelopedData (AES-256-GCM, ephemeral-static ECDH P-256,
//!    AES-256 key wrap, recipient by subject key id), DER. It opens with the
//!    stock `openssl cms -decrypt` then `openssl cms -verify` (tested).
//!
//! [`open`] checks, before returning anything: size ([`MAX_SEALED_BYTES`]),
//! DER and the fields GCM does not authenticate (versions, content type, GCM
//! parameters, key agreement scheme; so no byte can change unnoticed), that I
//! am a recipient, decryption and tag, signer known by key id, signer is the
//! expected party (from the topic), signature, signing time present and not
//! in the future (10 min skew), the signer's chain to the XMJuris root and its
//! validity at signing time, and revocation at signing time (CRL).
//! [`open_messages`] then decodes and checks each header's sender and
//! recipient. Every failure is an [`Error`] with a stable [`Reason`] code.
//!
//! # Algorithm choices (measured)
//!
//! P-256 everywhere rather than RSA: a P-256 signature is 72 bytes and the ECDH
//! key agreement about 180 bytes, where RSA-2048 costs 256 bytes for each.
//! AES-256-GCM in AuthEnvelopedData: authenticated, 16 bytes of tag. No
//! certificates in messages (the peer has them). The fixed CMS cost is about
//! 580 bytes (envelope ~280, SignedData ~300); batching amortises it: ten
//! different fiches in one envelope cost a fraction of ten envelopes. `open` is
//! dominated by the ECDH, the signature check and the chain check at signing
//! time.
//!
//! Sizes of the sample fiches in [`samples`] at each layer:
//! `cargo test -p protocol --test round_trip -- --nocapture`. Seal and open
//! rates, and fiches a minute at 15 kbit/s: `cargo run --release -p bench --bin
//! seal` (source `bench/src/bin/seal.rs`). The figures measured are in
//! `bench/RESULTS.md` (§ Message sizes, § Sealing and opening).
//!
//! # Fuzzing
//!
//! `bench/fuzz-open.sh [seconds]` (nightly + cargo-fuzz, not in CI) fuzzes
//! `open_messages`, `verify_signed` on near-valid signed content, and
//! `codec::decode` (results: `bench/RESULTS.md` § Fuzzing).
//!
//! # PKI
//!
//! See [`pki`]: root CA (offline key) → issuing CA → court and CJN
//! certificates; one-time enrollment codes bound to a court; revocation by an
//! X.509 CRL signed by the issuing CA (published by the CJN on
//! [`topics::REVOCATIONS`], applied with [`TrustStore::set_crl`] or
//! [`pki::court_apply_crl`]); renewal with a [`RenewalRequest`] sealed with
//! the current certificate ([`pki::court_prepare_renewal`],
//! [`pki::CjnPki::renew`], [`pki::court_complete_renewal`], crash-safe with
//! [`pki::court_finish_renewal`]). The listener applies the CRL and asks for
//! renewal before expiry; cjn-ingest publishes the CRL and renews.
//!
//! Enrollment over MQTT, as the daemons wire it:
//! 1. CJN operator: `xmjuris pki enrollment-code --dir DIR --court 12345` prints the code
//!    and the root CA's SHA-256 fingerprint, given to the court out of band.
//! 2. Court: [`pki::court_prepare_enrollment`] (key generated here, 0600) →
//!    publish on [`topics::enroll_request`].
//! 3. CJN: [`pki::CjnPki::handle_enrollment`] with the topic's court → publish
//!    the returned bytes on [`topics::enroll_answer`].
//! 4. Court: [`pki::court_complete_enrollment`] with the fingerprint → the
//!    identity and trust store, installed in its directory.
//!
//! # Extracts
//!
//! [`extract`]: the seal a printed bulletin carries as a QR code
//! ([`seal_extract`] at the CJN, [`verify_extract`] by anyone, offline, with
//! [`trust_from_pem`] over the bundle of `xmjuris pki verification-bundle`).
//!
//! # Not done yet
//!
//! - `xmjuris pki revoke` revokes courts' certificates only: revoking the
//!   CJN's own certificate (which invalidates every extract seal it made) has
//!   no command yet, and goes with the CJN certificate's renewal below.
//! - Renewal of the CJN's own certificate and rotation of the issuing CA
//!   (their validities are 2 and 10 years); `pki init` makes them once.
//! - Revocation is checked against the signing time claimed in the signed
//!   attributes: a stolen key can backdate. Revoke early and have cjn-ingest
//!   compare signing times with the per-court sequence numbers it already holds.
//! - The ECDH key derivation is OpenSSL's CMS default
//!   (`dhSinglePass-stdDH-sha1kdf`, X9.63 KDF with SHA-1; safe as a KDF): the
//!   `openssl` crate gives no hook to choose the SHA-256 variant; `open` accepts
//!   both.
//! - The compression dictionary is hand-made; a dictionary trained on real
//!   fiches (a new codec byte) would shrink payloads further.

mod der;

pub mod broker;
pub mod codec;
pub mod error;
pub mod extract;
pub mod ids;
pub mod message;
pub mod pki;
pub mod samples;
pub mod seal;
pub mod topics;

pub use error::{Error, Reason, Result};
pub use extract::{
    ExtractContent, SealedExtract, VerifiedExtract, seal_extract, trust_from_pem, verify_extract,
};
pub use ids::{CourtCode, Niu, Party, Sha256Hash};
pub use message::*;
pub use seal::{
    Identity, MAX_SEALED_BYTES, Opened, TrustStore, open, open_from_topic, open_messages, party_of,
    seal, seal_messages, sign, verify_signed,
};
