//! A minimal, bounds-checked DER reader: just enough to read the signing time
//! of a CMS SignedData, which the `openssl` crate does not expose. Never panics.

/// One TLV: tag byte, content.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tlv<'a> {
    pub tag: u8,
    pub content: &'a [u8],
}

/// Reads one TLV at the start of `input`; returns it and the rest.
/// Only definite lengths and single-byte tags (all CMS needs here).
pub(crate) fn read(input: &[u8]) -> Option<(Tlv<'_>, &[u8])> {
    let (&tag, rest) = input.split_first()?;
    if tag & 0x1f == 0x1f {
        return None;
    }
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None; // indefinite length or absurd size
        }
        let bytes = rest.get(..n)?;
        let mut len = 0usize;
        for &b in bytes {
            len = len.checked_mul(256)?.checked_add(usize::from(b))?;
        }
        (len, rest.get(n..)?)
    };
    let content = rest.get(..len)?;
    Some((Tlv { tag, content }, rest.get(len..)?))
}

/// Iterates over the TLVs of a constructed value's content.
pub(crate) fn children(mut content: &[u8]) -> impl Iterator<Item = Option<Tlv<'_>>> {
    std::iter::from_fn(move || {
        if content.is_empty() {
            return None;
        }
        match read(content) {
            Some((tlv, rest)) => {
                content = rest;
                Some(Some(tlv))
            }
            None => {
                content = &[];
                Some(None)
            }
        }
    })
}

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const OID: u8 = 0x06;
const UTC_TIME: u8 = 0x17;
const GENERALIZED_TIME: u8 = 0x18;
/// 1.2.840.113549.1.7.2 signedData
const OID_SIGNED_DATA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02];
/// 1.2.840.113549.1.9.5 signingTime
const OID_SIGNING_TIME: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x05];

/// Why the signer could not be read.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum SigningTimeError {
    /// Not a SignedData with exactly one SignerInfo.
    Malformed,
}

/// How a SignerInfo names its certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SignerId {
    /// subjectKeyIdentifier.
    KeyId(Vec<u8>),
    /// Issuer name (DER) and serial number (big-endian, no leading zeros).
    IssuerSerial(Vec<u8>, Vec<u8>),
}

/// What the single SignerInfo of a SignedData says about its signer.
#[derive(Debug)]
pub(crate) struct SignerFacts {
    pub sid: SignerId,
    /// Unix seconds; `None` when there is no signingTime attribute.
    pub signing_time: Option<i64>,
}

/// The signer of a DER ContentInfo(SignedData) that has exactly one SignerInfo.
pub(crate) fn signer_facts(content_info: &[u8]) -> Result<SignerFacts, SigningTimeError> {
    use SigningTimeError::Malformed;
    let (ci, rest) = read(content_info).ok_or(Malformed)?;
    if ci.tag != SEQUENCE || !rest.is_empty() {
        return Err(Malformed);
    }
    let mut it = children(ci.content);
    let oid = it.next().flatten().ok_or(Malformed)?;
    if oid.tag != OID || oid.content != OID_SIGNED_DATA {
        return Err(Malformed);
    }
    let explicit = it.next().flatten().ok_or(Malformed)?;
    if explicit.tag != 0xa0 {
        return Err(Malformed);
    }
    let (sd, _) = read(explicit.content).ok_or(Malformed)?;
    if sd.tag != SEQUENCE {
        return Err(Malformed);
    }
    // version, digestAlgorithms, encapContentInfo, [0] certificates?, [1] crls?, signerInfos
    let signer_infos = children(sd.content)
        .map(|t| t.ok_or(Malformed))
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .last()
        .ok_or(Malformed)?;
    if signer_infos.tag != SET {
        return Err(Malformed);
    }
    let infos: Vec<_> = children(signer_infos.content)
        .collect::<Option<Vec<_>>>()
        .ok_or(Malformed)?;
    let [info] = infos.as_slice() else {
        return Err(Malformed);
    };
    if info.tag != SEQUENCE {
        return Err(Malformed);
    }
    // version, sid, digestAlgorithm, [0] IMPLICIT signedAttrs
    let parts: Vec<_> = children(info.content)
        .collect::<Option<Vec<_>>>()
        .ok_or(Malformed)?;
    let sid_tlv = parts.get(1).ok_or(Malformed)?;
    let sid = match sid_tlv.tag {
        0x80 => SignerId::KeyId(sid_tlv.content.to_vec()),
        SEQUENCE => {
            let mut it = children(sid_tlv.content);
            let issuer = it
                .next()
                .flatten()
                .filter(|t| t.tag == SEQUENCE)
                .ok_or(Malformed)?;
            let serial = it
                .next()
                .flatten()
                .filter(|t| t.tag == 0x02)
                .ok_or(Malformed)?;
            let (issuer_der, _) = sid_tlv
                .content
                .split_at(sid_tlv.content.len() - rest_len(sid_tlv.content, issuer)?);
            SignerId::IssuerSerial(issuer_der.to_vec(), strip_zeros(serial.content))
        }
        _ => return Err(Malformed),
    };
    let Some(signed_attrs) = parts.get(3).filter(|t| t.tag == 0xa0) else {
        return Ok(SignerFacts {
            sid,
            signing_time: None,
        });
    };
    let mut found = None;
    for attr in children(signed_attrs.content) {
        let attr = attr.ok_or(Malformed)?;
        let mut parts = children(attr.content);
        let oid = parts.next().flatten().ok_or(Malformed)?;
        if oid.tag != OID || oid.content != OID_SIGNING_TIME {
            continue;
        }
        if found.is_some() {
            return Err(Malformed);
        }
        let values = parts
            .next()
            .flatten()
            .filter(|t| t.tag == SET)
            .ok_or(Malformed)?;
        let (value, rest) = read(values.content).ok_or(Malformed)?;
        if !rest.is_empty() {
            return Err(Malformed);
        }
        found = Some(parse_time(value).ok_or(Malformed)?);
    }
    Ok(SignerFacts {
        sid,
        signing_time: found,
    })
}

/// Length of what follows the first TLV of `content` (which is `first`).
fn rest_len(content: &[u8], first: Tlv<'_>) -> Result<usize, SigningTimeError> {
    let (tlv, rest) = read(content).ok_or(SigningTimeError::Malformed)?;
    if tlv.content.len() != first.content.len() {
        return Err(SigningTimeError::Malformed);
    }
    Ok(rest.len())
}

/// Big-endian integer bytes without leading zeros.
pub(crate) fn strip_zeros(b: &[u8]) -> Vec<u8> {
    let start = b.iter().position(|&x| x != 0).unwrap_or(b.len());
    b.get(start..).unwrap_or_default().to_vec()
}

/// The content-type OID of a DER ContentInfo, and whether nothing trails it.
pub(crate) fn content_type(content_info: &[u8]) -> Option<(&[u8], bool)> {
    let (ci, rest) = read(content_info)?;
    if ci.tag != SEQUENCE {
        return None;
    }
    let oid = children(ci.content)
        .next()
        .flatten()
        .filter(|t| t.tag == OID)?;
    Some((oid.content, rest.is_empty()))
}

/// The encapsulated content of a DER ContentInfo(SignedData), unverified.
pub(crate) fn signed_content(content_info: &[u8]) -> Option<Vec<u8>> {
    let (ci, _) = read(content_info)?;
    let mut it = children(ci.content);
    let oid = it.next().flatten()?;
    if oid.tag != OID || oid.content != OID_SIGNED_DATA {
        return None;
    }
    let (sd, _) = read(it.next().flatten().filter(|t| t.tag == 0xa0)?.content)?;
    let encap = children(sd.content)
        .nth(2)
        .flatten()
        .filter(|t| t.tag == SEQUENCE)?;
    let explicit = children(encap.content)
        .nth(1)
        .flatten()
        .filter(|t| t.tag == 0xa0)?;
    let (octets, _) = read(explicit.content)?;
    (octets.tag == 0x04).then(|| octets.content.to_vec())
}

/// 1.2.840.113549.1.9.16.1.23 id-ct-authEnvelopedData
pub(crate) const OID_AUTH_ENVELOPED_DATA: &[u8] = &[
    0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x10, 0x01, 0x17,
];
/// 1.2.840.113549.1.7.2 id-signedData
pub(crate) const OID_SIGNED: &[u8] = OID_SIGNED_DATA;

/// UTCTime `YYMMDDHHMMSSZ` or GeneralizedTime `YYYYMMDDHHMMSSZ` → Unix seconds.
fn parse_time(t: Tlv<'_>) -> Option<i64> {
    let s = t.content;
    let (year, rest) = match t.tag {
        UTC_TIME if s.len() == 13 => {
            let yy = digits(s.get(..2)?)?;
            (if yy < 50 { 2000 + yy } else { 1900 + yy }, s.get(2..)?)
        }
        GENERALIZED_TIME if s.len() == 15 => (digits(s.get(..4)?)?, s.get(4..)?),
        _ => return None,
    };
    if rest.get(10) != Some(&b'Z') {
        return None;
    }
    let month = u8::try_from(digits(rest.get(0..2)?)?).ok()?;
    let day = u8::try_from(digits(rest.get(2..4)?)?).ok()?;
    let hour = u8::try_from(digits(rest.get(4..6)?)?).ok()?;
    let minute = u8::try_from(digits(rest.get(6..8)?)?).ok()?;
    let second = u8::try_from(digits(rest.get(8..10)?)?).ok()?;
    let date = time::Date::from_calendar_date(
        i32::try_from(year).ok()?,
        time::Month::try_from(month).ok()?,
        day,
    )
    .ok()?;
    let t = time::Time::from_hms(hour, minute, second).ok()?;
    Some(
        time::PrimitiveDateTime::new(date, t)
            .assume_utc()
            .unix_timestamp(),
    )
}

fn digits(s: &[u8]) -> Option<i64> {
    s.iter().try_fold(0i64, |acc, &b| {
        b.is_ascii_digit().then(|| acc * 10 + i64::from(b - b'0'))
    })
}

/// 1.2.840.113549.1.7.1 id-data
const OID_DATA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01];
/// 2.16.840.1.101.3.4.1.46 aes256-GCM
const OID_AES256_GCM: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x2e];
/// Key agreement schemes accepted: dhSinglePass-stdDH-sha1kdf (OpenSSL's
/// default) and dhSinglePass-stdDH-sha224/256/384/512kdf.
const OIDS_KDF: &[&[u8]] = &[
    &[0x2b, 0x81, 0x05, 0x10, 0x86, 0x48, 0x3f, 0x00, 0x02],
    &[0x2b, 0x81, 0x04, 0x01, 0x0b, 0x00],
    &[0x2b, 0x81, 0x04, 0x01, 0x0b, 0x01],
    &[0x2b, 0x81, 0x04, 0x01, 0x0b, 0x02],
    &[0x2b, 0x81, 0x04, 0x01, 0x0b, 0x03],
];

/// Checks the fields of an AuthEnvelopedData that decryption does not
/// authenticate (versions, content type, parameters), so that no byte of a
/// sealed message can change unnoticed. Returns the recipients' identifiers.
pub(crate) fn check_envelope(content_info: &[u8]) -> Option<Vec<SignerId>> {
    let (ci, rest) = read(content_info)?;
    if ci.tag != SEQUENCE || !rest.is_empty() {
        return None;
    }
    let ci_parts: Vec<_> = children(ci.content).collect::<Option<_>>()?;
    let [oid, explicit] = ci_parts.as_slice() else {
        return None;
    };
    if oid.tag != OID || oid.content != OID_AUTH_ENVELOPED_DATA || explicit.tag != 0xa0 {
        return None;
    }
    let (aed, rest) = read(explicit.content)?;
    if aed.tag != SEQUENCE || !rest.is_empty() {
        return None;
    }
    let parts: Vec<_> = children(aed.content).collect::<Option<_>>()?;
    let [version, recipients, eci, mac] = parts.as_slice() else {
        return None;
    };
    if version.tag != 0x02
        || version.content != [0]
        || recipients.tag != SET
        || mac.tag != 0x04
        || mac.content.len() != 16
    {
        return None;
    }
    let mut ids = Vec::new();
    for ri in children(recipients.content) {
        ids.extend(check_kari(ri?)?);
    }
    // authEncryptedContentInfo: data, AES-256-GCM (nonce 12, ICV 16), [0] ciphertext.
    let eci_parts: Vec<_> = children(eci.content).collect::<Option<_>>()?;
    let [ctype, alg, ciphertext] = eci_parts.as_slice() else {
        return None;
    };
    if eci.tag != SEQUENCE
        || ctype.tag != OID
        || ctype.content != OID_DATA
        || ciphertext.tag != 0x80
    {
        return None;
    }
    let alg_parts: Vec<_> = children(alg.content).collect::<Option<_>>()?;
    let [alg_oid, params] = alg_parts.as_slice() else {
        return None;
    };
    if alg.tag != SEQUENCE
        || alg_oid.tag != OID
        || alg_oid.content != OID_AES256_GCM
        || params.tag != SEQUENCE
    {
        return None;
    }
    let p: Vec<_> = children(params.content).collect::<Option<_>>()?;
    let [nonce, icv] = p.as_slice() else {
        return None;
    };
    if nonce.tag != 0x04 || nonce.content.len() != 12 || icv.tag != 0x02 || icv.content != [16] {
        return None;
    }
    Some(ids)
}

fn check_kari(ri: Tlv<'_>) -> Option<Vec<SignerId>> {
    if ri.tag != 0xa1 {
        return None; // only KeyAgreeRecipientInfo (ECDH)
    }
    let parts: Vec<_> = children(ri.content).collect::<Option<_>>()?;
    let (version, originator, rest) = match parts.as_slice() {
        [v, o, rest @ ..] => (v, o, rest),
        _ => return None,
    };
    if version.tag != 0x02 || version.content != [3] || originator.tag != 0xa0 {
        return None;
    }
    // originator [0] { [1] OriginatorPublicKey { algorithm, BIT STRING } }
    let (okey, r) = read(originator.content)?;
    if okey.tag != 0xa1 || !r.is_empty() {
        return None;
    }
    let ok: Vec<_> = children(okey.content).collect::<Option<_>>()?;
    let [oalg, bits] = ok.as_slice() else {
        return None;
    };
    if oalg.tag != SEQUENCE || bits.tag != 0x03 || bits.content.first() != Some(&0) {
        return None;
    }
    let rest = match rest {
        [ukm, rest @ ..] if ukm.tag == 0xa1 => rest,
        rest => rest,
    };
    let [kea, keys] = rest else { return None };
    if kea.tag != SEQUENCE || keys.tag != SEQUENCE {
        return None;
    }
    let kdf = children(kea.content).next().flatten()?;
    if kdf.tag != OID || !OIDS_KDF.contains(&kdf.content) {
        return None;
    }
    let mut ids = Vec::new();
    for rek in children(keys.content) {
        let rek = rek?;
        let mut it = children(rek.content);
        let rid = it.next().flatten()?;
        match rid.tag {
            0xa0 => {
                let ski = children(rid.content)
                    .next()
                    .flatten()
                    .filter(|t| t.tag == 0x04)?;
                ids.push(SignerId::KeyId(ski.content.to_vec()));
            }
            SEQUENCE => {
                let mut p = children(rid.content);
                let issuer = p.next().flatten().filter(|t| t.tag == SEQUENCE)?;
                let serial = p.next().flatten().filter(|t| t.tag == 0x02)?;
                let issuer_len = rid.content.len() - rest_len(rid.content, issuer).ok()?;
                ids.push(SignerId::IssuerSerial(
                    rid.content.get(..issuer_len)?.to_vec(),
                    strip_zeros(serial.content),
                ));
            }
            _ => return None,
        }
    }
    Some(ids)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn garbage_never_panics() {
        for len in 0..64 {
            let v: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            let _ = signer_facts(&v);
            let _ = content_type(&v);
        }
        assert!(signer_facts(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]).is_err());
    }
}
