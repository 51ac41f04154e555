//! Identifiers that cross the wire: court codes, NIU, parties, audit hashes.

use std::fmt;
use std::str::FromStr;

use minicbor::{Decode, Encode};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why an identifier was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// A court code is exactly 5 ASCII digits.
    #[error("a court code is 5 digits")]
    CourtCode,
    /// A NIU is 17 digits whose ISO 7064 MOD 97-10 check holds.
    #[error("a NIU is 17 digits with a valid MOD 97-10 check")]
    Niu,
    /// An audit hash is 64 hexadecimal characters (SHA-256).
    #[error("an audit hash is 64 hexadecimal characters")]
    AuditHash,
}

/// A court's code: 5 digits, leading zeros allowed (`"01234"`).
///
/// JSON: the 5-digit string. Wire: an unsigned integer (3 bytes in CBOR).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Encode, Decode)]
#[cbor(transparent)]
pub struct CourtCode(#[n(0)] u32);

impl CourtCode {
    /// The largest code, `99999`.
    pub const MAX: u32 = 99_999;

    /// A court code from its number (0..=99999).
    pub fn new(code: u32) -> Result<Self, IdError> {
        if code <= Self::MAX {
            Ok(Self(code))
        } else {
            Err(IdError::CourtCode)
        }
    }

    pub(crate) const fn from_raw(code: u32) -> Self {
        Self(code)
    }

    /// The numeric value.
    pub fn get(self) -> u32 {
        self.0
    }

    /// Checks a value decoded from the wire (where any `u32` can arrive).
    pub fn is_valid(self) -> bool {
        self.0 <= Self::MAX
    }
}

impl fmt::Display for CourtCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:05}", self.0)
    }
}

impl FromStr for CourtCode {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        if s.len() != 5 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(IdError::CourtCode);
        }
        s.parse::<u32>().map(Self).map_err(|_| IdError::CourtCode)
    }
}

impl Serialize for CourtCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for CourtCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Numéro d'Identification Unique: court code (5) + year (4) + sequence (6) +
/// ISO 7064 MOD 97-10 check (2) = 17 digits; the whole number mod 97 is 1.
///
/// JSON: the 17-digit string. Wire: an unsigned integer (9 bytes in CBOR).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Encode, Decode)]
#[cbor(transparent)]
pub struct Niu(#[n(0)] u64);

impl Niu {
    /// Builds the NIU of `court`, `year` and `sequence`, computing the check digits.
    pub fn build(court: CourtCode, year: u16, sequence: u32) -> Result<Self, IdError> {
        if year > 9999 || sequence > 999_999 {
            return Err(IdError::Niu);
        }
        let base = u64::from(court.get()) * 10_000_000_000
            + u64::from(year) * 1_000_000
            + u64::from(sequence);
        let check = 98 - ((u128::from(base) * 100) % 97) as u64;
        Ok(Self(base * 100 + check))
    }

    /// True for 17 digits (leading zeros allowed) whose MOD 97-10 check holds.
    pub fn is_valid(self) -> bool {
        self.0 < 100_000_000_000_000_000 && self.0 % 97 == 1
    }

    /// The court that gave this NIU.
    pub fn court(self) -> CourtCode {
        CourtCode((self.0 / 1_000_000_000_000) as u32 % 100_000)
    }

    pub(crate) const fn from_raw(niu: u64) -> Self {
        Self(niu)
    }

    /// The numeric value.
    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for Niu {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:017}", self.0)
    }
}

impl FromStr for Niu {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        if s.len() != 17 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(IdError::Niu);
        }
        let n = Self(s.parse::<u64>().map_err(|_| IdError::Niu)?);
        if n.is_valid() {
            Ok(n)
        } else {
            Err(IdError::Niu)
        }
    }
}

impl Serialize for Niu {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Niu {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// One end of an exchange: a court, or the CJN.
///
/// JSON and text: `"12345"` or `"cjn"`. Wire: the court code, or `-1` for the CJN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Party {
    /// A court (juridiction).
    Court(CourtCode),
    /// The national registry.
    Cjn,
}

impl Party {
    /// The court code, if this party is a court.
    pub fn court(self) -> Option<CourtCode> {
        match self {
            Party::Court(c) => Some(c),
            Party::Cjn => None,
        }
    }
}

impl fmt::Display for Party {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Party::Court(c) => c.fmt(f),
            Party::Cjn => f.write_str("cjn"),
        }
    }
}

impl FromStr for Party {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        if s == "cjn" {
            Ok(Party::Cjn)
        } else {
            s.parse().map(Party::Court)
        }
    }
}

impl Serialize for Party {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Party {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl<C> Encode<C> for Party {
    fn encode<W: minicbor::encode::Write>(
        &self,
        e: &mut minicbor::Encoder<W>,
        _: &mut C,
    ) -> Result<(), minicbor::encode::Error<W::Error>> {
        match self {
            Party::Court(c) => e.u32(c.get())?,
            Party::Cjn => e.i8(-1)?,
        };
        Ok(())
    }
}

impl<'b, C> Decode<'b, C> for Party {
    fn decode(d: &mut minicbor::Decoder<'b>, _: &mut C) -> Result<Self, minicbor::decode::Error> {
        let v = d.i64()?;
        if v == -1 {
            return Ok(Party::Cjn);
        }
        u32::try_from(v)
            .ok()
            .and_then(|v| CourtCode::new(v).ok())
            .map(Party::Court)
            .ok_or_else(|| minicbor::decode::Error::message("bad party"))
    }
}

/// A SHA-256 hash: 64 hex characters in JSON, 32 bytes on the wire.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Encode, Decode)]
#[cbor(transparent)]
pub struct Sha256Hash(#[n(0)] minicbor::bytes::ByteArray<32>);

impl Sha256Hash {
    /// From the 32 raw bytes.
    pub fn from_bytes(b: [u8; 32]) -> Self {
        Self(b.into())
    }

    /// The 32 raw bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lower-case hexadecimal.
    pub fn to_hex(&self) -> String {
        hex(self.as_bytes())
    }
}

impl fmt::Debug for Sha256Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256Hash({})", self.to_hex())
    }
}

impl FromStr for Sha256Hash {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        let v = unhex(s).ok_or(IdError::AuditHash)?;
        let b: [u8; 32] = v.try_into().map_err(|_| IdError::AuditHash)?;
        Ok(Self::from_bytes(b))
    }
}

impl Serialize for Sha256Hash {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Sha256Hash {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Lower-case hexadecimal of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    s
}

/// Bytes from hexadecimal (either case); `None` if malformed.
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    s.as_bytes()
        .chunks(2)
        .map(|p| {
            let hi = char::from(p[0]).to_digit(16)?;
            let lo = char::from(p[1]).to_digit(16)?;
            u8::try_from(hi * 16 + lo).ok()
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn niu_check_matches_sql() {
        let court: CourtCode = "12345".parse().unwrap();
        let niu = Niu::build(court, 2026, 17).unwrap();
        assert_eq!(niu.to_string(), "12345202600001726");
        assert!("12345202600001726".parse::<Niu>().is_ok());
        assert!("12345202600001735".parse::<Niu>().is_err());
        assert_eq!(niu.court(), court);
        let zero = Niu::build("00042".parse().unwrap(), 2026, 1).unwrap();
        assert_eq!(zero.to_string().len(), 17);
        assert_eq!(zero.to_string().parse::<Niu>().unwrap(), zero);
    }

    #[test]
    fn court_code_keeps_leading_zeros() {
        let c: CourtCode = "01234".parse().unwrap();
        assert_eq!(c.to_string(), "01234");
        assert!("1234".parse::<CourtCode>().is_err());
        assert!("123456".parse::<CourtCode>().is_err());
        assert!("12a45".parse::<CourtCode>().is_err());
    }
}
