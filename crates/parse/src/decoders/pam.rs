//! PAM messages from any service (`pam_unix(svc:auth): authentication failure; … rhost=…`).

use super::Decoded;

/// `service` is the program (or the service named in an old `svc(pam_unix)` tag); `module`
/// is set when the tag already named the PAM module.
pub fn decode<'a>(service: &str, module: Option<&str>, message: &'a str) -> Option<Decoded<'a>> {
    let _ = (service, module, message);
    None
}
