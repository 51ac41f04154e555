//! Typed errors, each with a stable reason code that can travel in a [`Rejection`](crate::Rejection).

use minicbor::{Decode, Encode};
use serde::{Deserialize, Serialize};

macro_rules! reasons {
    ($( $(#[$doc:meta])* $name:ident = $code:literal, $text:literal; )*) => {
        /// Why a message, an enrollment or a certificate was refused.
        ///
        /// The numeric code is stable and travels on the wire; the snake-case
        /// name is for JSON and logs. 1xx: sealing and opening; 2xx: PKI and
        /// enrollment; 3xx: the receiving application.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Reason {
            $( $(#[$doc])* $name, )*
            /// A code this version does not know.
            Unknown(u16),
        }

        impl Reason {
            /// The stable numeric code.
            pub fn code(self) -> u16 {
                match self { $( Reason::$name => $code, )* Reason::Unknown(c) => c }
            }

            /// The reason for a code.
            pub fn from_code(code: u16) -> Self {
                match code { $( $code => Reason::$name, )* c => Reason::Unknown(c) }
            }

            /// The snake-case name.
            pub fn name(self) -> &'static str {
                match self { $( Reason::$name => $text, )* Reason::Unknown(_) => "unknown" }
            }

            fn from_name(name: &str) -> Option<Self> {
                match name { $( $text => Some(Reason::$name), )* _ => None }
            }
        }
    };
}

reasons! {
    /// The sealed message is larger than [`MAX_SEALED_BYTES`](crate::MAX_SEALED_BYTES), or its content would decompress past the limit.
    TooLarge = 100, "too_large";
    /// Not a well-formed CMS message of the expected kind.
    Malformed = 101, "malformed";
    /// The message is not encrypted for this recipient's certificate.
    WrongRecipient = 102, "wrong_recipient";
    /// Decryption or its authentication tag failed (tampered or corrupted).
    DecryptionFailed = 103, "decryption_failed";
    /// The content is not signed by the expected sender's key, or the signature is invalid.
    BadSignature = 104, "bad_signature";
    /// No certificate is known for the expected sender.
    UnknownSigner = 105, "unknown_signer";
    /// The signer's certificate does not chain to the XMJuris CA.
    UntrustedCertificate = 106, "untrusted_certificate";
    /// A certificate in the chain had expired at signing time.
    CertificateExpired = 107, "certificate_expired";
    /// A certificate in the chain was not yet valid at signing time.
    CertificateNotYetValid = 108, "certificate_not_yet_valid";
    /// The signer's certificate was revoked at signing time.
    CertificateRevoked = 109, "certificate_revoked";
    /// The signer's certificate names another party than the claimed sender.
    SignerMismatch = 110, "signer_mismatch";
    /// The header's sender or recipient is not the expected one (topic, opener).
    PartyMismatch = 111, "party_mismatch";
    /// The signature carries no signing time.
    SigningTimeMissing = 112, "signing_time_missing";
    /// The signing time is in the future beyond the allowed clock skew.
    SigningTimeInFuture = 113, "signing_time_in_future";
    /// A payload format or message version this version does not know.
    UnsupportedFormat = 114, "unsupported_format";
    /// The payload does not decompress or decode.
    DecodeFailed = 115, "decode_failed";
    /// The topic is not an XMJuris topic.
    BadTopic = 116, "bad_topic";
    /// An OpenSSL operation failed while sealing.
    SealFailed = 117, "seal_failed";
    /// Reading or writing a PKI file failed.
    Io = 200, "io";
    /// A PKI file or certificate is malformed or inconsistent.
    BadCertificate = 201, "bad_certificate";
    /// No such enrollment code, or a MAC that does not match it: the CJN answers every MAC
    /// failure so, whatever the code's state, so that nobody without the secret learns it.
    CodeUnknown = 202, "code_unknown";
    /// The enrollment code was already used.
    CodeUsed = 203, "code_used";
    /// The enrollment code has expired.
    CodeExpired = 204, "code_expired";
    /// The enrollment code was issued for another court.
    CodeOtherCourt = 205, "code_other_court";
    /// The enrollment request's MAC does not match the code. No longer sent: such a request
    /// is answered [`Reason::CodeUnknown`]; kept so that the number is never reused.
    CodeMacInvalid = 206, "code_mac_invalid";
    /// The CSR is malformed, badly signed, or names another court.
    CsrInvalid = 207, "csr_invalid";
    /// The CA received does not have the fingerprint given with the code.
    CaFingerprintMismatch = 208, "ca_fingerprint_mismatch";
    /// The certificate received does not match the local key or court.
    CertificateMismatch = 209, "certificate_mismatch";
    /// The court is revoked; renewal refused.
    CourtRevoked = 210, "court_revoked";
    /// The court is not in the CJN's registry (not registered, or no longer active).
    CourtUnknown = 211, "court_unknown";
    /// The fiche is invalid for the CJN.
    InvalidContent = 300, "invalid_content";
    /// A version conflict with what the CJN holds.
    Conflict = 301, "conflict";
    /// The CJN could not store it now; the sender retries.
    RetryLater = 302, "retry_later";
    /// The receiver does not handle this kind of message (from this sender, or not yet).
    UnsupportedKind = 303, "unsupported_kind";
    /// Several people match the identity of a request for an extract: no bulletin is issued
    /// until the court gives the birth place and parents.
    IdentityAmbiguous = 304, "identity_ambiguous";
    /// The CJN holds another message under this sequence number of the court: the court reused
    /// it (restored from an old backup?). It stops signing until it recovers its messages.
    SequenceReused = 305, "sequence_reused";
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.name(), self.code())
    }
}

impl Serialize for Reason {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Reason::Unknown(c) => s.serialize_u16(*c),
            r => s.serialize_str(r.name()),
        }
    }
}

impl<'de> Deserialize<'de> for Reason {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Repr<'a> {
            Code(u16),
            Name(&'a str),
        }
        match Repr::deserialize(d)? {
            Repr::Code(c) => Ok(Reason::from_code(c)),
            Repr::Name(n) => {
                Reason::from_name(n).ok_or_else(|| serde::de::Error::custom("unknown reason"))
            }
        }
    }
}

impl<C> Encode<C> for Reason {
    fn encode<W: minicbor::encode::Write>(
        &self,
        e: &mut minicbor::Encoder<W>,
        _: &mut C,
    ) -> Result<(), minicbor::encode::Error<W::Error>> {
        e.u16(self.code())?;
        Ok(())
    }
}

impl<'b, C> Decode<'b, C> for Reason {
    fn decode(d: &mut minicbor::Decoder<'b>, _: &mut C) -> Result<Self, minicbor::decode::Error> {
        Ok(Reason::from_code(d.u16()?))
    }
}

/// An error of this crate: a reason code, and what happened (no personal data, no secret).
#[derive(Debug, thiserror::Error)]
#[error("{reason}: {detail}")]
pub struct Error {
    reason: Reason,
    detail: String,
}

impl Error {
    /// An error for `reason`, with a detail for the operator.
    pub fn new(reason: Reason, detail: impl Into<String>) -> Self {
        Self {
            reason,
            detail: detail.into(),
        }
    }

    /// The reason code.
    pub fn reason(&self) -> Reason {
        self.reason
    }

    /// What happened.
    pub fn detail(&self) -> &str {
        &self.detail
    }

    pub(crate) fn ssl(reason: Reason, what: &str, e: &openssl::error::ErrorStack) -> Self {
        Self::new(reason, format!("{what}: {e}"))
    }

    pub(crate) fn io(what: impl std::fmt::Display, e: &std::io::Error) -> Self {
        Self::new(Reason::Io, format!("{what}: {e}"))
    }
}

/// Result of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
