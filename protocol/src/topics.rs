//! MQTT topics. A court publishes and subscribes only on its own topics under
//! `xmjuris/v1/<court>/`, and reads the revocation topic; the broker's accounts
//! and ACLs are generated from these functions ([`crate::broker`]).

use crate::ids::CourtCode;

/// Prefix of every XMJuris topic.
pub const PREFIX: &str = "xmjuris/v1";
/// Retained CRL (as [`RevocationList`](crate::RevocationList) DER CRL bytes), published by the CJN.
pub const REVOCATIONS: &str = "xmjuris/v1/revocations";
/// What cjn-ingest instances subscribe to, sharing the load.
pub const CJN_UP_SHARED: &str = "$share/cjn/xmjuris/v1/+/up";
/// Enrollment requests of all courts, for the CJN.
pub const CJN_ENROLL_REQUESTS: &str = "xmjuris/v1/+/enroll/request";
/// What cjn-ingest instances subscribe to for enrollment requests, sharing the load.
pub const CJN_ENROLL_SHARED: &str = "$share/cjn/xmjuris/v1/+/enroll/request";

/// Court → CJN: sealed messages.
pub fn up(court: CourtCode) -> String {
    format!("{PREFIX}/{court}/up")
}

/// CJN → court: sealed messages.
pub fn down(court: CourtCode) -> String {
    format!("{PREFIX}/{court}/down")
}

/// Court → CJN: the enrollment request (not sealed: the court has no certificate yet).
pub fn enroll_request(court: CourtCode) -> String {
    format!("{PREFIX}/{court}/enroll/request")
}

/// CJN → court: the enrollment answer (signed by the CJN).
pub fn enroll_answer(court: CourtCode) -> String {
    format!("{PREFIX}/{court}/enroll/answer")
}

/// Which of a court's topics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopicKind {
    /// `.../up`
    Up,
    /// `.../down`
    Down,
    /// `.../enroll/request`
    EnrollRequest,
    /// `.../enroll/answer`
    EnrollAnswer,
}

/// The court and kind of a court topic; `None` for anything else.
pub fn parse(topic: &str) -> Option<(CourtCode, TopicKind)> {
    let rest = topic.strip_prefix(PREFIX)?.strip_prefix('/')?;
    let (court, kind) = rest.split_once('/')?;
    let court: CourtCode = court.parse().ok()?;
    let kind = match kind {
        "up" => TopicKind::Up,
        "down" => TopicKind::Down,
        "enroll/request" => TopicKind::EnrollRequest,
        "enroll/answer" => TopicKind::EnrollAnswer,
        _ => return None,
    };
    Some((court, kind))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let c: CourtCode = "01234".parse().unwrap();
        assert_eq!(up(c), "xmjuris/v1/01234/up");
        assert_eq!(parse(&up(c)), Some((c, TopicKind::Up)));
        assert_eq!(parse(&down(c)), Some((c, TopicKind::Down)));
        assert_eq!(
            parse(&enroll_request(c)),
            Some((c, TopicKind::EnrollRequest))
        );
        assert_eq!(parse(&enroll_answer(c)), Some((c, TopicKind::EnrollAnswer)));
        assert_eq!(parse("xmjuris/v1/1234/up"), None);
        assert_eq!(parse(REVOCATIONS), None);
    }
}
