//! Failure codes → `event.reason` words: the NTSTATUS codes of 4625 (Status, SubStatus) and
//! 4776, and the Kerberos result codes of 4768, 4769 and 4771. One word per meaning, the
//! words the Linux decoders already use where the meaning is the same (docs/EVENTS.md).

use logward_core::Outcome;

/// An NTSTATUS code as Windows writes it (`0xc000006a`, `0xC000006A`), as a number.
fn hex(code: &str) -> Option<u32> {
    let digits = code
        .trim()
        .strip_prefix("0x")
        .or_else(|| code.trim().strip_prefix("0X"))?;
    u32::from_str_radix(digits, 16).ok()
}

/// The reason of one NTSTATUS logon failure code; `None` for codes that only say "failed"
/// (0xC000006D, 0xC000006E: the SubStatus says why) and for codes logward does not know.
fn ntstatus_word(code: u32) -> Option<&'static str> {
    Some(match code {
        0xC000_006A => "bad-password",
        0xC000_0064 => "invalid-user",
        0xC000_0234 => "locked-out",
        0xC000_0072 => "disabled",
        0xC000_006F => "outside-hours",
        0xC000_0070 => "host-not-allowed",
        0xC000_0193 => "account-expired",
        0xC000_0071 => "password-expired",
        0xC000_0224 => "password-must-change",
        // The account lacks the logon right for this logon type; the authentication
        // firewall refused the account.
        0xC000_015B | 0xC000_0413 => "not-allowed",
        0xC000_0133 => "clock-skew",
        _ => return None,
    })
}

/// 4625's `event.reason` from Status and SubStatus: the more specific of the two, then
/// `auth-failed` for a failure Windows gives no known cause for.
pub(super) fn logon_failure(status: Option<&str>, sub_status: Option<&str>) -> &'static str {
    let word = |c: Option<&str>| c.and_then(hex).and_then(ntstatus_word);
    word(sub_status)
        .or_else(|| word(status))
        .unwrap_or("auth-failed")
}

/// 4776 (NTLM credential validation): success when Status is 0, else a failure and its
/// reason; unknown when there is no Status to read.
pub(super) fn ntlm(status: Option<&str>) -> (Outcome, Option<&'static str>) {
    match status.and_then(hex) {
        None => (Outcome::Unknown, None),
        Some(0) => (Outcome::Success, None),
        Some(code) => (
            Outcome::Failure,
            Some(ntstatus_word(code).unwrap_or("auth-failed")),
        ),
    }
}

/// 4768/4769/4771 (Kerberos): success for 0x0, else a failure and its reason from the KDC
/// error code (RFC 4120 §7.5.9); unknown when there is no Status to read.
pub(super) fn kerberos(status: Option<&str>) -> (Outcome, Option<&'static str>) {
    let word = match status.and_then(hex) {
        None => return (Outcome::Unknown, None),
        Some(0) => return (Outcome::Success, None),
        // KDC_ERR_C_PRINCIPAL_UNKNOWN
        Some(0x6) => "invalid-user",
        // KDC_ERR_PREAUTH_FAILED: the wrong password
        Some(0x18) => "bad-password",
        // KDC_ERR_CLIENT_REVOKED (disabled, expired or locked out: the KDC does not say
        // which); KDC_ERR_POLICY (a logon-hours or workstation restriction)
        Some(0x12 | 0xC) => "not-allowed",
        // KDC_ERR_KEY_EXPIRED
        Some(0x17) => "password-expired",
        // KRB_AP_ERR_SKEW
        Some(0x25) => "clock-skew",
        // KDC_ERR_ETYPE_NOSUPP
        Some(0xE) => "negotiation-failed",
        Some(_) => "auth-failed",
    };
    (Outcome::Failure, Some(word))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_substatus_says_why() {
        // smb-password-guessing-security.evtx: 0xc000006d with 0xc000006a / 0xc0000064.
        assert_eq!(
            logon_failure(Some("0xc000006d"), Some("0xc000006a")),
            "bad-password"
        );
        assert_eq!(
            logon_failure(Some("0xc000006d"), Some("0xc0000064")),
            "invalid-user"
        );
        assert_eq!(logon_failure(Some("0xC0000234"), Some("0x0")), "locked-out");
        assert_eq!(
            logon_failure(Some("0xc000006e"), Some("0xc0000072")),
            "disabled"
        );
        assert_eq!(logon_failure(Some("0xc000006d"), None), "auth-failed");
        assert_eq!(logon_failure(None, None), "auth-failed");
        assert_eq!(logon_failure(Some("garbage"), Some("0x")), "auth-failed");
        assert_eq!(
            logon_failure(Some("0xc000015b"), Some("0x0")),
            "not-allowed"
        );
    }

    #[test]
    fn ntlm_and_kerberos_codes() {
        use Outcome::{Failure, Success, Unknown};
        assert_eq!(ntlm(Some("0x0")), (Success, None));
        assert_eq!(ntlm(Some("0xc000006a")), (Failure, Some("bad-password")));
        assert_eq!(ntlm(Some("0xc0000371")), (Failure, Some("auth-failed")));
        assert_eq!(ntlm(None), (Unknown, None));
        assert_eq!(kerberos(Some("0x0")), (Success, None));
        assert_eq!(kerberos(Some("0x18")), (Failure, Some("bad-password")));
        assert_eq!(kerberos(Some("0x6")), (Failure, Some("invalid-user")));
        assert_eq!(kerberos(Some("0x1F")), (Failure, Some("auth-failed")));
        assert_eq!(kerberos(Some("-")), (Unknown, None));
    }
}
