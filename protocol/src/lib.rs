//! Message types, compact encoding, CMS seal/open, MQTT topics and PKI helpers of XMJuris.
//!
//! (Design notes and measured figures: see the end of this page.)

mod der;

pub mod codec;
pub mod error;
pub mod ids;
pub mod message;
pub mod pki;
pub mod samples;
pub mod seal;
pub mod topics;

pub use error::{Error, Reason, Result};
pub use ids::{CourtCode, Niu, Party, Sha256Hash};
pub use message::*;
pub use seal::{Identity, MAX_SEALED_BYTES, Opened, TrustStore, open, open_messages, seal, seal_messages, sign, verify_signed};
